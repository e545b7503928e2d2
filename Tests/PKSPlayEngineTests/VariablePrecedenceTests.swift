import Foundation
import PKSPlayCore
import PKSPlayEngine
import Testing

/// Variable precedence, one layer per row, lowest first. The fixture defines `v<k>` at every layer
/// up to `k` (value `L<layer>`), so `v<k>` must read `L<k>`: layer k beats all the layers below it.
/// The same fixture run through ansible-core 2.19 prints `L1 … L15`.
@Suite("Variable precedence")
struct VariablePrecedenceTests {
    static let layers = [
        "role defaults", "inventory group all", "inventory parent group", "inventory child group",
        "group_vars/child.yml beside the playbook", "inventory host vars", "host_vars/h1.yml beside the playbook",
        "play vars", "vars_files", "role vars", "block vars", "task vars", "set_fact", "include params", "extra vars",
    ]
    static var count: Int { layers.count }

    /// `v<k>: L<layer>` for every k at or above `layer`, as YAML lines indented by `indent`.
    static func defined(at layer: Int, indent: Int) -> String {
        (layer...count).map { String(repeating: " ", count: indent) + "v\($0): L\(layer)" }.joined(separator: "\n")
    }

    static func fixture() -> (playbook: String, files: [String: String]) {
        let d = defined
        let files = [
            "inv/hosts.yml": """
                all:
                  vars:
                \(d(2, 4))
                  children:
                    parent:
                      vars:
                \(d(3, 8))
                      children:
                        child:
                          vars:
                \(d(4, 12))
                          hosts:
                            h1:
                \(d(6, 14))
                """,
            "group_vars/child.yml": d(5, 0),
            "host_vars/h1.yml": d(7, 0),
            "vf.yml": d(9, 0),
            "roles/r/defaults/main.yml": d(1, 0),
            "roles/r/vars/main.yml": d(10, 0),
            "roles/r/tasks/main.yml": """
                - set_fact:
                \(d(13, 4))
                - block:
                    - include_tasks: inner.yml
                      vars:
                \(d(14, 8))
                  vars:
                \(d(11, 4))
                """,
            "roles/r/tasks/inner.yml": """
                - name: show
                  debug:
                    msg: "\((1...count).map { "{{ v\($0) }}" }.joined(separator: " "))"
                  vars:
                \(d(12, 4))
                """,
        ]
        let playbook = """
            - hosts: h1
              gather_facts: false
              vars:
            \(d(8, 4))
              vars_files: [vf.yml]
              roles: [r]
            """
        return (playbook, files)
    }

    @Test("each layer beats the one below it", arguments: 1...15)
    func layer(_ k: Int) async throws {
        let (playbook, files) = Self.fixture()
        let run = try await EngineHarness.run(playbook, hosts: "inv/hosts.yml", files: files) { $0.extraVars = ["v15": "L15"] }
        let shown = (run.message(of: "r : show", on: "h1") ?? run.message(of: "show", on: "h1") ?? "").split(separator: " ").map(String.init)
        try #require(shown.count == Self.count, "the show task printed \(shown)")
        #expect(shown[k - 1] == "L\(k)", "v\(k): \(Self.layers[k - 1]) should win, got \(shown[k - 1])")
    }

    @Test("a templated variable follows the highest-precedence definition of what it names")
    func lazyTemplating() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              vars:
                a: "{{ b }}-{{ c }}"
                b: play
                c: play
              tasks:
                - name: task vars
                  debug:
                    msg: "{{ a }}"
                  vars:
                    b: task
                - set_fact:
                    c: fact
                - name: after set_fact
                  debug:
                    msg: "{{ a }}"
                - name: extra
                  debug:
                    msg: "{{ d }}"
                  vars:
                    d: "{{ e }}"
            """) { $0.extraVars = ["e": "cli"] }
        #expect(run.message(of: "task vars") == "task-play")
        #expect(run.message(of: "after set_fact") == "play-fact")
        #expect(run.message(of: "extra") == "cli")
    }

    @Test("magic variables: inventory_hostname, groups, group_names, hostvars, play_hosts, ansible_check_mode")
    func magicVariables() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: magic
                  debug:
                    msg: "{{ inventory_hostname }}|{{ groups['web'] | join(',') }}|{{ group_names | join(',') }}|{{ hostvars['db1'].port }}|{{ play_hosts | join(',') }}|{{ ansible_check_mode }}"
                - name: set on db1
                  set_fact:
                    marker: "from-{{ inventory_hostname }}"
                  when: inventory_hostname == 'db1'
                - name: read other host's fact
                  debug:
                    msg: "{{ hostvars['db1'].marker }}"
                  when: inventory_hostname == 'web1'
            """, hosts: "inv.ini", files: ["inv.ini": """
                [web]
                web1 port=80
                [db]
                db1 port=5432
                [prod:children]
                web
                """]) { $0.checkMode = true }
        #expect(run.message(of: "magic", on: "web1") == "web1|web1|prod,web|5432|db1,web1|True"
            || run.message(of: "magic", on: "web1") == "web1|web1|prod,web|5432|web1,db1|True")
        #expect(run.message(of: "read other host's fact", on: "web1") == "from-db1")
    }

    @Test("magic host lists follow the run: a failed host leaves play_hosts, each host keeps its own group_names")
    func magicHostListsFollowTheRun() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: before
                  debug:
                    msg: "{{ play_hosts | sort | join(',') }}|{{ ansible_play_batch | sort | join(',') }}|{{ group_names | join(',') }}"
                - name: db1 fails
                  fail:
                    msg: down
                  when: inventory_hostname == 'db1'
                - name: after
                  debug:
                    msg: "{{ play_hosts | join(',') }}|{{ ansible_play_hosts_all | sort | join(',') }}|{{ ansible_play_batch | join(',') }}|{{ group_names | join(',') }}|{{ groups['db'] | join(',') }}"
            """, hosts: "inv.ini", files: ["inv.ini": """
                [web]
                web1
                [db]
                db1
                """])
        #expect(run.message(of: "before", on: "web1") == "db1,web1|db1,web1|web")
        #expect(run.message(of: "before", on: "db1") == "db1,web1|db1,web1|db")
        #expect(run.message(of: "after", on: "web1") == "web1|db1,web1|web1|web|db1")
    }

    @Test("omit drops an argument")
    func omit() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: omitted chdir
                  shell: pwd
                  args:
                    chdir: "{{ nowhere | default(omit) }}"
                  register: r
                - name: omitted mode
                  copy:
                    content: hi
                    dest: $TMP/omitted
                    mode: "{{ nomode | default(omit) }}"
            """)
        #expect(run.summary.exitCode == 0)
        #expect(run.read("omitted") == "hi")
        #expect(!String(describing: run.recorder.events).contains("__omit_place_holder__"))
    }
}
