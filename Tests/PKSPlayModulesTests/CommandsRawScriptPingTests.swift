import Foundation
import PKSPlayCore
import PKSPlayLocal
import PKSPlayTestSupport
import Testing

@testable import PKSPlayModules

@Suite("Commands: raw module")
struct CommandsRawModuleTests {
    let local = LocalConnection()

    @Test func runsTheTextAsIsAndKeepsOutputWhole() async throws {
        let r = try await runModule(RawModule.self, args: ["cmd": "echo hi; echo err >&2; echo $((2*3))"], connection: local)
        #expect(r.changed && !r.failed)
        #expect(r.values["stdout"] == "hi\n6\n")
        #expect(r.values["stderr"] == "err\n")
        #expect(lines(r.values["stdout_lines"]) == ["hi", "6"])
        #expect(lines(r.values["stderr_lines"]) == ["err"])
        #expect(r.values["rc"] == 0)
    }

    @Test func exactTextReachesTheTarget() async throws {
        let target = ScriptedConnection()
        target.on(.any)
        _ = try await runModule(RawModule.self, args: ["cmd": "apt-get -y install python3 && echo $HOME"], connection: target)
        #expect(target.commands == ["apt-get -y install python3 && echo $HOME"])
        _ = try await runModule(RawModule.self, args: ["cmd": "echo 'x'", "executable": "/bin/bash"], connection: target)
        #expect(target.commands.last == #"exec /bin/bash -c 'echo '"'"'x'"'"''"#)
    }

    @Test func nonZeroFails() async throws {
        let r = try await runModule(RawModule.self, args: ["cmd": "exit 9"], connection: local)
        #expect(r.failed && r.changed && r.msg == "non-zero return code" && r.values["rc"] == 9)
    }

    @Test func checkModeSkipsWithoutRunning() async throws {
        let target = ScriptedConnection()
        let r = try await runModule(RawModule.self, args: ["cmd": "reboot"], connection: target, checkMode: true)
        #expect(r.skipped && !r.changed)
        #expect(target.commands.isEmpty)
    }

    @Test func freeFormExecutableIsHonouredOtherOptionsWarned() async throws {
        let target = ScriptedConnection()
        target.on(.any)
        let r = try await runModule(RawModule.self, args: ["cmd": "echo x executable=/bin/dash chdir=/tmp"], connection: target)
        #expect(target.commands == [#"exec /bin/dash -c 'echo x'"#])
        #expect(r.warnings.count == 1 && r.warnings[0].contains("chdir"))
    }

    @Test func commandIsRequired() {
        #expect(throws: InvalidArguments.self) { try makeContext(RawModule.self, args: [:], connection: local) }
        #expect(throws: InvalidArguments.self) { try makeContext(RawModule.self, args: ["cmd": "x", "chdir": "/"], connection: local) }
    }
}

@Suite("Commands: script module")
struct CommandsScriptModuleTests {
    let local = LocalConnection()

    /// A script that prints its argument count, each argument and where it ran from.
    static let probe = """
        #!/bin/sh
        echo "argc=$#"
        for a in "$@"; do printf '[%s]\\n' "$a"; done
        echo "self=$0"
        echo "pwd=$(pwd)"
        exit ${PROBE_EXIT:-0}
        """

    func run(_ args: ValueDict, checkMode: Bool = false, on connection: (any Connection)? = nil, files: String? = nil) async throws -> ModuleResult {
        try await runModule(
            ScriptModule.self, args: args, connection: connection ?? local, checkMode: checkMode,
            findFile: { name, kind in
                guard kind == .files, let files else { return nil }
                let path = (files as NSString).appendingPathComponent(name)
                return FileManager.default.fileExists(atPath: path) ? path : nil
            })
    }

    @Test func copiesRunsAndRemovesTheScript() async throws {
        let control = try TemporaryDirectory()
        try control.write("probe.sh", Self.probe)
        let work = try TemporaryDirectory()
        let marker = work.file("pwned")
        let r = try await run(
            ["cmd": .string("probe.sh 'a b' \"$(touch \(marker))\" -x ''"), "chdir": .string(work.path)], files: control.path)
        #expect(r.changed && !r.failed)
        let out = try #require(lines(r.values["stdout_lines"]))
        #expect(Array(out.prefix(5)) == ["argc=4", "[a b]", "[$(touch \(marker))]", "[-x]", "[]"])
        #expect(out.last == "pwd=\(work.path)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let copy = try #require(out.first { $0.hasPrefix("self=") }.map { String($0.dropFirst(5)) })
        #expect(copy.hasSuffix("/probe.sh"))
        #expect(!FileManager.default.fileExists(atPath: (copy as NSString).deletingLastPathComponent), "the temporary folder is gone")
        #expect(r.values["stdout"]?.stringValue?.hasSuffix("\n") == true, "script output is kept whole, like raw")
    }

    @Test func uploadsWithPrivateModeAndCleansUp() async throws {
        let control = try TemporaryDirectory()
        try control.write("files/setup.sh", "echo set up\n")
        let target = ScriptedConnection()
        target.on(.contains("mktemp -d"), stdout: "/tmp/pksplay-script.abc123\n")
        target.on(.any, stdout: "set up\n")
        let r = try await run(["cmd": "files/setup.sh --fast", "executable": "/bin/bash -e"], on: target, files: control.path)
        #expect(r.changed && !r.failed)
        #expect(target.files["/tmp/pksplay-script.abc123/setup.sh"] == ScriptedConnection.File(Data("echo set up\n".utf8), mode: 0o700))
        #expect(target.commands.dropFirst().first == "exec /bin/bash -e /tmp/pksplay-script.abc123/setup.sh --fast")
        #expect(target.commands.last == "rm -rf -- /tmp/pksplay-script.abc123")
    }

    @Test func cleansUpEvenWhenTheRunFails() async throws {
        let control = try TemporaryDirectory()
        try control.write("s.sh", "exit 1\n")
        let target = ScriptedConnection()
        target.on(.contains("mktemp -d"), stdout: "/tmp/pksplay-script.x\n")
        target.on(.prefix("exec ")) { _ in throw ConnectionError.timeout(command: "s.sh", seconds: 5) }
        target.on(.any)
        await #expect(throws: ConnectionError.self) { try await run(["cmd": "s.sh"], on: target, files: control.path) }
        #expect(target.commands.last == "rm -rf -- /tmp/pksplay-script.x")
    }

    @Test func nonZeroExitFails() async throws {
        let control = try TemporaryDirectory()
        let script = try control.write("fail.sh", "echo bad >&2\nexit 3\n")
        let r = try await run(["cmd": .string(script)])
        #expect(r.failed && r.changed && r.msg == "non-zero return code")
        #expect(r.values["rc"] == 3 && r.values["stderr"] == "bad\n")
    }

    @Test func createsAndRemovesSkip() async throws {
        let control = try TemporaryDirectory()
        try control.write("probe.sh", Self.probe)
        let existing = try control.write("exists", "")
        let skipped = try await run(["cmd": "probe.sh", "creates": .string(existing)], files: control.path)
        #expect(skipped.skipped && !skipped.changed)
        #expect(skipped.msg == "\(existing) exists, matching creates option")
        let missing = control.file("missing")
        let skipped2 = try await run(["cmd": .string("probe.sh removes=\(missing)")], files: control.path)
        #expect(skipped2.skipped && skipped2.msg == "\(missing) does not exist, matching removes option")
        let ran = try await run(["cmd": "probe.sh", "removes": .string(existing)], files: control.path)
        #expect(ran.changed && !ran.skipped)
    }

    @Test func checkMode() async throws {
        let control = try TemporaryDirectory()
        try control.write("probe.sh", Self.probe)
        let target = ScriptedConnection()
        target.on(.any, stdout: "creates:0\n")
        let skipped = try await run(["cmd": "probe.sh"], checkMode: true, on: target, files: control.path)
        #expect(skipped.skipped && !skipped.changed && skipped.msg == "Check mode is not supported for this task.")
        #expect(target.commands.isEmpty)
        let would = try await run(["cmd": "probe.sh", "creates": "/srv/done"], checkMode: true, on: target, files: control.path)
        #expect(would.changed && !would.skipped)
        #expect(target.commands.count == 1, "only the creates check ran")
        #expect(target.files.isEmpty)
    }

    @Test func errorsAreClear() async throws {
        let missing = try await run(["cmd": "no-such-script.sh arg"])
        #expect(missing.failed && missing.msg?.contains("Could not find or access 'no-such-script.sh'") == true)
        let control = try TemporaryDirectory()
        try control.write("probe.sh", Self.probe)
        let relative = try await run(["cmd": "probe.sh", "chdir": "relative/dir"], files: control.path)
        #expect(relative.failed && relative.msg == "chdir relative/dir must be an absolute path for a Unix-aware remote node")
        let unclosed = try await run(["cmd": "probe.sh 'unclosed"], files: control.path)
        #expect(unclosed.failed && unclosed.msg?.contains("no closing quotation") == true)
    }
}

@Suite("Commands: ping module")
struct CommandsPingModuleTests {
    @Test func pongThroughARealConnection() async throws {
        let r = try await runModule(PingModule.self, args: [:], connection: LocalConnection())
        #expect(!r.failed && !r.changed)
        #expect(r.values["ping"] == "pong")
        let echoed = try await runModule(PingModule.self, args: ["data": "hello"], connection: LocalConnection(), checkMode: true)
        #expect(echoed.values["ping"] == "hello")
    }

    @Test func crashFailsOnPurpose() async throws {
        let r = try await runModule(PingModule.self, args: ["data": "crash"], connection: LocalConnection())
        #expect(r.failed)
        #expect(r.msg == "Module failed: boom")
    }

    @Test func aHostThatCannotRunCommandsFails() async throws {
        let target = ScriptedConnection()
        target.on(.any, rc: 126, stderr: "/bin/sh: permission denied")
        let r = try await runModule(PingModule.self, args: [:], connection: target)
        #expect(r.failed)
        #expect(r.msg?.contains("permission denied") == true)
        let unreachable = ScriptedConnection()
        unreachable.on(.any) { _ in throw ConnectionError.unreachable(host: "db2", reason: "no route to host") }
        await #expect(throws: ConnectionError.self) { try await runModule(PingModule.self, args: [:], connection: unreachable) }
    }
}
