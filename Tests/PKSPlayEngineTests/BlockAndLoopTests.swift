import Foundation
import PKSPlayCore
import PKSPlayEngine
import Testing

@Suite("Blocks, loops and retries")
struct BlockAndLoopTests {
    @Test("rescue sees ansible_failed_task and ansible_failed_result; always runs; the host counts as rescued")
    func rescueAndAlways() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - block:
                    - name: fine
                      debug: msg=hi
                    - name: failing step
                      shell: echo oops; exit 3
                    - name: never
                      debug: msg=never
                  rescue:
                    - name: show failure
                      debug:
                        msg: "{{ ansible_failed_task.name }}|{{ ansible_failed_result.rc }}|{{ ansible_failed_result.stdout }}"
                  always:
                    - name: always step
                      debug: msg=always
                - name: after
                  debug: msg=after
            """)
        #expect(run.message(of: "show failure") == "failing step|3|oops")
        #expect(!run.recorder.taskNames.contains("never"))
        #expect(run.recorder.taskNames.contains("always step"))
        #expect(run.recorder.taskNames.contains("after"))
        #expect(run.stats()?.rescued == 1)
        #expect(run.stats()?.failed == 0)
        #expect(run.summary.exitCode == 0)
    }

    @Test("an unrescued failure still runs always, then the host stops")
    func alwaysWithoutRescue() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - block:
                    - name: failing step
                      command: /bin/false
                  always:
                    - name: always step
                      shell: echo always >> $TMP/log
                - name: after
                  debug: msg=after
            """)
        #expect(run.lines("log") == ["always"])
        #expect(!run.recorder.taskNames.contains("after"))
        #expect(run.summary.exitCode == 2)
        #expect(run.stats()?.failed == 1)
    }

    @Test("a failure in rescue fails the host; always still runs")
    func failingRescue() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - block:
                    - command: /bin/false
                  rescue:
                    - name: rescue fails too
                      command: /bin/false
                  always:
                    - name: always step
                      shell: echo always >> $TMP/log
                - name: after
                  debug: msg=after
            """)
        #expect(run.lines("log") == ["always"])
        #expect(!run.recorder.taskNames.contains("after"))
        #expect(run.summary.exitCode == 2)
    }

    @Test("loop with register collects results; per-item when skips items")
    func loopRegister() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: loop
                  shell: "echo {{ item }}"
                  loop: [a, b, c]
                  when: item != 'b'
                  register: out
                - name: show
                  debug:
                    msg: "{{ out.results | length }}|{{ out.results[0].stdout }}|{{ out.results[1].skipped }}|{{ out.results[2].stdout }}|{{ out.results[2].item }}|{{ out.changed }}"
            """)
        #expect(run.message(of: "show") == "3|a|True|c|c|True")
        let items = run.recorder.results(for: "localhost").filter { $0.itemLabel != nil }
        #expect(items.map(\.status) == [.changed, .skipped, .changed])
    }

    @Test("loop_control: label, index_var and extended ansible_loop")
    func loopControl() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: looped
                  debug:
                    msg: "{{ idx }}:{{ ansible_loop.index }}:{{ ansible_loop.first }}:{{ ansible_loop.last }}:{{ ansible_loop.length }}:{{ ansible_loop.revindex }}:{{ thing.n }}"
                  loop: [{n: x}, {n: y}]
                  loop_control:
                    loop_var: thing
                    label: "{{ thing.n }}"
                    index_var: idx
                    extended: true
                  register: lab
                - name: show
                  debug:
                    msg: "{{ lab.results | map(attribute='msg') | join(';') }}"
            """)
        #expect(run.message(of: "show") == "0:1:True:False:2:2:x;1:2:False:True:2:1:y")
        #expect(run.recorder.hostResults.compactMap(\.itemLabel) == ["x", "y"])
    }

    @Test("until/retries: attempts are counted; exhausted retries fail after retries+1 runs")
    func untilRetries() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: count up
                  shell: "echo x >> $TMP/count; wc -l < $TMP/count"
                  register: c
                  until: c.stdout | int >= 3
                  retries: 5
                  delay: 0
                - name: show
                  debug:
                    msg: "{{ c.attempts }}"
                - name: never succeeds
                  shell: "echo x >> $TMP/never; exit 1"
                  register: n
                  until: n.rc == 0
                  retries: 2
                  delay: 0
                  ignore_errors: true
            """)
        #expect(run.message(of: "show") == "3")
        #expect(run.lines("count").count == 3)
        // Ansible 2.19 runs the first attempt plus `retries` more.
        #expect(run.lines("never").count == 3)
        #expect(run.stats()?.ignored == 1)
    }

    @Test("set_fact in a loop is visible to the later items")
    func setFactInLoop() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - set_fact:
                    acc: "{{ (acc | default([])) + [item] }}"
                  loop: [1, 2, 3]
                - name: show
                  debug:
                    msg: "{{ acc | join(',') }}"
            """)
        #expect(run.message(of: "show") == "1,2,3")
    }

    @Test("include_tasks with a loop and vars runs the file once per item")
    func includeTasksLoop() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - include_tasks: inc.yml
                  loop: [a, b]
                  vars:
                    suffix: x
            """, files: ["inc.yml": """
            - name: inner
              shell: "echo {{ item }}-{{ suffix }} >> $TMP/inc"
            """])
        #expect(run.lines("inc") == ["a-x", "b-x"])
    }

    // ansible-core 2.19 prints "from-play from-task task block" for this playbook.
    @Test("environment reaches the command: play, block and task environments merge, the innermost key wins")
    func environment() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              environment:
                PLAY_VAR: from-play
                SHARED: play
                BLK: play
              tasks:
                - block:
                    - name: env
                      shell: echo "$PLAY_VAR $TASK_VAR $SHARED $BLK"
                      environment:
                        TASK_VAR: "{{ 'from' ~ '-task' }}"
                        SHARED: task
                      register: e
                    - name: show
                      debug:
                        msg: "{{ e.stdout }}"
                  environment:
                    BLK: block
            """)
        #expect(run.message(of: "show") == "from-play from-task task block")
    }
}
