import Foundation
import PKSPlayCore
import PKSPlayEngine
import Testing

@Suite("Handlers")
struct HandlerTests {
    @Test("handlers run once each, in definition order, at flush_handlers and at the end; listen reaches several")
    func orderAndFlush() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: change one
                  command: /bin/true
                  notify: [h2, h1]
                - name: change two
                  command: /bin/true
                  notify: h1
                - name: mark
                  shell: echo mark >> $TMP/order
                  changed_when: false
                - meta: flush_handlers
                - name: by topic
                  command: /bin/true
                  notify: topic
                - name: unchanged notifies nothing
                  command: /bin/true
                  changed_when: false
                  notify: h1
              handlers:
                - name: h1
                  shell: echo h1 >> $TMP/order
                - name: h2
                  shell: echo h2 >> $TMP/order
                - name: la
                  shell: echo la >> $TMP/order
                  listen: topic
                - name: lb
                  shell: echo lb >> $TMP/order
                  listen: topic
            """)
        #expect(run.lines("order") == ["mark", "h1", "h2", "la", "lb"])
        #expect(run.summary.exitCode == 0)
    }

    @Test("a handler notified by a handler runs in the same flush")
    func handlerNotifiesHandler() async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              tasks:
                - name: change
                  command: /bin/true
                  notify: first
              handlers:
                - name: second
                  shell: echo second >> $TMP/order
                - name: first
                  shell: echo first >> $TMP/order
                  notify: second
            """)
        #expect(run.lines("order") == ["first", "second"])
    }

    @Test("after a failure notified handlers run only with force_handlers", arguments: [
        (keyword: false, option: false, runs: false),
        (keyword: true, option: false, runs: true),
        (keyword: false, option: true, runs: true),
    ])
    func forceHandlers(keyword: Bool, option: Bool, runs: Bool) async throws {
        let run = try await EngineHarness.run("""
            - hosts: all
              gather_facts: false
              force_handlers: \(keyword)
              tasks:
                - name: change
                  command: /bin/true
                  notify: h
                - name: boom
                  command: /bin/false
                - name: never
                  debug: msg=never
              handlers:
                - name: h
                  shell: echo ran >> $TMP/handler
            """) { $0.forceHandlers = option }
        #expect(run.dir.exists("handler") == runs)
        #expect(!run.recorder.taskNames.contains("never"))
        #expect(run.summary.exitCode == 2)
        #expect(run.stats()?.failed == 1)
    }
}
