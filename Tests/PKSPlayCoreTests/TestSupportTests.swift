import Foundation
import PKSPlayCore
import PKSPlayTestSupport
import Testing

@Suite("ScriptedConnection")
struct ScriptedConnectionTests {
    @Test func firstMatchingRuleAnswersAndEveryRequestIsRecorded() async throws {
        let c = ScriptedConnection(hostName: "db1")
        c.on(.prefix("psql"), times: 1, rc: 1, stderr: "not yet")
        c.on(.prefix("psql"), stdout: "t\n")
        c.on(.regex(#"^systemctl (start|stop) "#), stdout: "ok")
        let first = try await c.exec(ExecRequest("psql -c 'select 1'", stdin: Data("x".utf8), environment: ["PGPASSWORD": "s"]))
        let second = try await c.exec(ExecRequest("psql -c 'select 1'"))
        let third = try await c.exec(ExecRequest("systemctl stop postgresql"))
        #expect(first.exitStatus == 1 && first.stderrText == "not yet")
        #expect(second.exitStatus == 0 && second.stdoutText == "t\n")
        #expect(third.stdoutText == "ok")
        #expect(c.hostName == "db1")
        #expect(c.commands == ["psql -c 'select 1'", "psql -c 'select 1'", "systemctl stop postgresql"])
        #expect(c.requests[0].stdinText == "x")
        #expect(c.requests[0].environment == ["PGPASSWORD": "s"])
    }

    @Test func unmatchedCommandsAreLoud() async throws {
        let lenient = ScriptedConnection()
        let r = try await lenient.exec(ExecRequest("rm -rf /"))
        #expect(r.exitStatus == 127 && r.stderrText.contains("no rule for: rm -rf /"))
        let strict = ScriptedConnection(strict: true)
        await #expect(throws: ScriptedConnection.Unscripted.self) { try await strict.exec(ExecRequest("rm -rf /")) }
    }

    @Test func respondersSeeTheRequestAndMayThrow() async throws {
        let c = ScriptedConnection()
        c.on(.contains("echo")) { request in ExecResult(exitStatus: 0, stdout: Data(request.command.utf8)) }
        c.on(.any) { _ in throw ConnectionError.unreachable(host: "db1", reason: "gone") }
        let chunks = Box<[String]>([])
        let echoed = try await c.exec(ExecRequest("echo hi") { _, data in chunks.update { $0.append(String(decoding: data, as: UTF8.self)) } })
        #expect(echoed.stdoutText == "echo hi")
        #expect(chunks.get == ["echo hi"], "output is also delivered to onOutput")
        await #expect(throws: ConnectionError.unreachable(host: "db1", reason: "gone")) { try await c.exec(ExecRequest("ls")) }
    }

    @Test func filesLiveInMemory() async throws {
        let c = ScriptedConnection()
        c.setFile("/etc/app.conf", "a=1\n", mode: 0o644)
        #expect(try await c.get("/etc/app.conf") == Data("a=1\n".utf8))
        try await c.put(Data("b".utf8), to: "/etc/app.conf", mode: nil)
        #expect(c.files["/etc/app.conf"] == ScriptedConnection.File(Data("b".utf8), mode: 0o644), "an unchanged mode is kept")
        try await c.put(Data("k".utf8), to: "/root/key", mode: 0o600)
        #expect(c.files["/root/key"]?.mode == 0o600)
        await #expect(throws: ConnectionError.fileTransfer(path: "/missing", reason: "No such file or directory")) {
            try await c.get("/missing")
        }
        #expect(c.fileTransfers.map(\.kind) == ["get", "put", "put", "get"])
        await c.close()
        #expect(c.closed)
        await #expect(throws: ConnectionError.self) { try await c.exec(ExecRequest("true")) }
    }
}

@Suite("RecordingReporter")
struct RecordingReporterTests {
    @Test func recordsFromManyTasksAndReadsBack() async {
        let reporter = RecordingReporter()
        reporter.report(.taskStart(name: "ping", location: nil, isHandler: false))
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                group.addTask {
                    reporter.report(.hostResult(HostTaskResult(host: "h\(i)", status: i % 2 == 0 ? .ok : .changed)))
                }
            }
        }
        reporter.report(.warning("careful"))
        reporter.report(.progress(host: "h1", line: "50%"))
        var stats = HostStats(host: "h1")
        stats.ok = 1
        reporter.report(.recap([stats]))
        #expect(reporter.events.count == 54)
        #expect(reporter.hostResults.count == 50)
        #expect(reporter.results(for: "h3").map(\.status) == [.changed])
        #expect(reporter.status(of: "ping", on: "h4") == .ok)
        #expect(reporter.taskNames == ["ping"])
        #expect(reporter.warnings == ["careful"])
        #expect(reporter.progressLines.map(\.line) == ["50%"])
        #expect(reporter.stats(for: "h1")?.ok == 1)
        reporter.reset()
        #expect(reporter.events.isEmpty && reporter.recap == nil)
    }
}
