import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

@Suite("container_exec with real podman containers", .podmanLab, .serialized, .enabled(if: ContainerTestLab.isAvailable))
struct ContainerExecTests {
    let lab: ContainerTestLab
    init() throws { lab = try ContainerTestLab.required() }

    func exec(_ args: ValueDict, check: Bool = false, on connection: (any Connection)? = nil) async throws -> ModuleRun {
        try await ModuleRunner.run(ContainerExecModule.self, (["runtime": "podman"] as ValueDict).merging(args), on: connection ?? lab.connection, check: check)
    }

    @Test("a string runs through sh -c inside; rc, stdout, stderr and lines come back; rc != 0 fails")
    func shellString() async throws {
        let name = ContainerTestLab.uniqueName("exec")
        try await lab.runContainer(name)
        let r = try await exec(["container": .string(name), "command": "echo hello; echo second; echo oops >&2; exit 3"])
        #expect(r.result.failed && r.result.changed)
        #expect(r.result.msg == "non-zero return code")
        #expect(r.result.values["rc"] == 3)
        #expect(r.result.values["stdout"] == "hello\nsecond")
        #expect(r.result.values["stdout_lines"] == ["hello", "second"])
        #expect(r.result.values["stderr"] == "oops")
        #expect(r.undo.isEmpty)
        let ok = try await exec(["container": .string(name), "command": "true"])
        #expect(ok.result.changed && !ok.result.failed && ok.result.values["rc"] == 0)
    }

    @Test("an argv list reaches the program word for word, without a shell")
    func argvList() async throws {
        let name = ContainerTestLab.uniqueName("argv")
        try await lab.runContainer(name)
        let r = try await exec(["container": .string(name), "command": ["printf", "%s|", "a b", "$(id)", "it's", "*", "x\ny"]])
        #expect(!r.result.failed, "\(r.result.values["stderr"] ?? "")")
        #expect(r.result.values["stdout"] == "a b|$(id)|it's|*|x\ny|")
    }

    @Test("env values reach the command but never the command line; stdin, user and workdir apply")
    func envStdinUserWorkdir() async throws {
        let name = ContainerTestLab.uniqueName("env")
        try await lab.runContainer(name)
        let secret = "s3cr3t 'quoted' $(id) \"x\"\nline2"
        let recorder = RecordingConnection(lab.connection)
        let r = try await exec(["container": .string(name), "command": "printf '%s' \"$PKS_SECRET\"", "env": .dict(["PKS_SECRET": .string(secret)])],
                               on: recorder)
        #expect(r.result.values["stdout"] == .string(secret))
        #expect(recorder.requests.allSatisfy { !$0.command.contains("s3cr3t") && !$0.stdin.contains("s3cr3t") })
        #expect(recorder.requests.last?.command.contains("-e PKS_SECRET") == true)

        let fed = try await exec(["container": .string(name), "command": ["cat"], "stdin": "one\ntwo"])
        #expect(fed.result.values["stdout"] == "one\ntwo")
        let raw = try await exec(["container": .string(name), "command": ["cat"], "stdin": "x", "stdin_add_newline": false, "strip_empty_ends": false])
        #expect(raw.result.values["stdout"] == "x")

        let who = try await exec(["container": .string(name), "command": "id -u; pwd", "user": "65534", "chdir": "/tmp"])
        #expect(who.result.values["stdout_lines"] == ["65534", "/tmp"])
    }

    @Test("creates and removes decide inside the container; check mode runs nothing")
    func createsRemovesCheck() async throws {
        let name = ContainerTestLab.uniqueName("creates")
        try await lab.runContainer(name)
        try await lab.sh("podman exec \(name) touch /tmp/marker")
        let touch: ValueDict = ["container": .string(name), "command": "touch /tmp/ran"]

        let skipped = try await exec(touch.merging(["creates": "/tmp/marker"]))
        #expect(!skipped.result.changed && !skipped.result.failed)
        #expect(skipped.result.msg == "Did not run command since '/tmp/marker' exists")
        let skipped2 = try await exec(touch.merging(["removes": "/tmp/nothing-here"]))
        #expect(!skipped2.result.changed)
        #expect(try await lab.connection.exec(ExecRequest("podman exec \(name) test -e /tmp/ran")).exitStatus == 1)

        let preview = try await exec(touch, check: true)
        #expect(preview.result.skipped && !preview.result.changed)
        #expect(preview.result.msg == "Command would have run if not in check mode")
        let decided = try await exec(touch.merging(["creates": "/tmp/ran"]), check: true)
        #expect(decided.result.changed && !decided.result.skipped)
        #expect(try await lab.connection.exec(ExecRequest("podman exec \(name) test -e /tmp/ran")).exitStatus == 1)

        let ran = try await exec(touch.merging(["creates": "/tmp/ran"]))
        #expect(ran.result.changed)
        #expect(try await lab.connection.exec(ExecRequest("podman exec \(name) test -e /tmp/ran")).exitStatus == 0)
        #expect(try await !exec(touch.merging(["creates": "/tmp/ran"])).result.changed)
    }

    @Test("a missing or stopped container, or a bad env name, fails with a clear message")
    func failures() async throws {
        let missing = try await exec(["container": "no-such-container-here", "command": "true"])
        #expect(missing.result.failed && missing.result.msg == "container 'no-such-container-here' does not exist", "\(missing.result.msg ?? "")")

        let name = ContainerTestLab.uniqueName("stopped")
        try await lab.runContainer(name)
        try await lab.sh("podman stop \(name) >/dev/null")
        let stopped = try await exec(["container": .string(name), "command": "true"])
        #expect(stopped.result.failed && stopped.result.msg == "container '\(name)' is not running", "\(stopped.result.msg ?? "") \(stopped.result.values["stderr"] ?? "")")
        let creates = try await exec(["container": .string(name), "command": "true", "creates": "/x"])
        #expect(creates.result.failed)

        let env = try await exec(["container": .string(name), "command": "true", "env": .dict(["BAD-NAME": "1"])])
        #expect(env.result.failed && env.result.msg?.contains("not a valid variable name") == true)
        let dash = try await exec(["container": "-it", "command": "true"])
        #expect(dash.result.failed && dash.result.msg?.contains("cannot start with '-'") == true)
    }
}

@Suite("container with real podman containers", .podmanLab, .serialized, .enabled(if: ContainerTestLab.isAvailable))
struct ContainerStateTests {
    let lab: ContainerTestLab
    init() throws { lab = try ContainerTestLab.required() }

    func container(_ args: ValueDict, check: Bool = false) async throws -> ModuleRun {
        try await ModuleRunner.run(ContainerModule.self, (["runtime": "podman"] as ValueDict).merging(args), on: lab.connection, check: check)
    }

    func undo(_ record: UndoRecord) async throws -> ModuleResult {
        try await ModuleRunner.undo(ContainerModule.self, record, on: lab.connection)
    }

    @Test("stopped and started change only when needed and undo to the previous state, twice safely")
    func stopStartUndo() async throws {
        let name = ContainerTestLab.uniqueName("state")
        try await lab.runContainer(name)

        let preview = try await container(["name": .string(name), "state": "stopped"], check: true)
        #expect(preview.result.changed && preview.undo.isEmpty)
        #expect(try await lab.state(name) == "running")

        let stopped = try await container(["name": .string(name), "state": "stopped"])
        #expect(stopped.result.changed && !stopped.result.failed, "\(stopped.result.msg ?? "")")
        #expect(try await lab.state(name) == "exited")
        #expect(stopped.result.values["status"] == "exited")
        #expect(try await !container(["name": .string(name), "state": "stopped"]).result.changed)

        let restarted = try await undo(try #require(stopped.undo.first))
        #expect(restarted.changed && !restarted.failed)
        #expect(try await lab.state(name) == "running")
        #expect(try await !undo(stopped.undo[0]).changed)

        try await lab.sh("podman stop \(name) >/dev/null")
        let started = try await container(["name": .string(name)])
        #expect(started.result.changed)
        #expect(try await lab.state(name) == "running")
        #expect(try await !container(["name": .string(name), "state": "started"]).result.changed)
        _ = try await undo(try #require(started.undo.first))
        #expect(try await lab.state(name) == "exited")
        #expect(try await !undo(started.undo[0]).changed)
    }

    @Test("restarted always changes and leaves nothing to undo; absent removes and says undo is impossible")
    func restartAndAbsent() async throws {
        let name = ContainerTestLab.uniqueName("restart")
        try await lab.runContainer(name)
        let pidBefore = try await lab.sh("podman inspect --format '{{.State.Pid}}' \(name)")
        let r = try await container(["name": .string(name), "state": "restarted", "stop_timeout": 1])
        #expect(r.result.changed && !r.result.failed, "\(r.result.msg ?? "")")
        #expect(try await lab.sh("podman inspect --format '{{.State.Pid}}' \(name)") != pidBefore)
        #expect(try await container(["name": .string(name), "state": "restarted"]).result.changed)
        let nothing = try await undo(try #require(r.undo.first))
        #expect(!nothing.changed && !nothing.failed)
        #expect(try await lab.state(name) == "running")

        let removed = try await container(["name": .string(name), "state": "absent"])
        #expect(removed.result.changed)
        #expect(try await !lab.exists(name))
        #expect(try await !container(["name": .string(name), "state": "absent"]).result.changed)
        let impossible = try await undo(try #require(removed.undo.first))
        #expect(impossible.failed)
        #expect(impossible.msg?.contains("cannot create it again") == true)
    }

    @Test("wait_healthy waits for the health check, fails on timeout, and fails when the container exits")
    func waitHealthy() async throws {
        let name = ContainerTestLab.uniqueName("health")
        try await lab.runContainer(name, options: ["--health-cmd", "test -e /tmp/ok", "--health-interval", "1s", "--health-retries", "1"])
        try await lab.sh("podman stop \(name) >/dev/null")

        // Without systemd nothing runs podman's health checks, so this test runs them, as a timer would.
        let checker = Task {
            try await Task.sleep(nanoseconds: 1_000_000_000)
            _ = try? await lab.connection.exec(ExecRequest("podman exec \(name) touch /tmp/ok"))
            for _ in 0..<40 {
                _ = try? await lab.connection.exec(ExecRequest("podman healthcheck run \(name)"))
                try await Task.sleep(nanoseconds: 250_000_000)
            }
        }
        let r = try await container(["name": .string(name), "wait_healthy": true, "timeout": 20])
        checker.cancel()
        #expect(r.result.changed && !r.result.failed, "\(r.result.msg ?? "")")
        #expect(r.result.values["health"] == "healthy")

        try await lab.sh("podman exec \(name) rm /tmp/ok; podman healthcheck run \(name) >/dev/null 2>&1 || true")
        let late = try await container(["name": .string(name), "wait_healthy": true, "timeout": 1])
        #expect(late.result.failed && late.result.msg?.contains("not healthy after 1 s") == true, "\(late.result.msg ?? "")")

        let quitter = ContainerTestLab.uniqueName("quits")
        try await lab.sh(shellJoin(["podman", "create", "--name", quitter, ContainerTestLab.image, "false"]) + " >/dev/null")
        let exited = try await container(["name": .string(quitter), "wait_healthy": true, "timeout": 10])
        #expect(exited.result.failed && exited.result.msg?.contains("instead of healthy") == true, "\(exited.result.msg ?? "")")

        let plain = ContainerTestLab.uniqueName("plain")
        try await lab.runContainer(plain)
        let running = try await container(["name": .string(plain), "wait_healthy": true, "timeout": 5])
        #expect(!running.result.failed && !running.result.changed)
    }

    @Test("a missing container, or a runtime that cannot answer, fails with a message")
    func failures() async throws {
        let missing = try await container(["name": "not-there", "state": "started"])
        #expect(missing.result.failed && missing.result.msg?.contains("does not exist") == true)
        let stopMissing = try await container(["name": "not-there", "state": "stopped"])
        #expect(stopMissing.result.failed)
        // The machine's docker client has no daemon: its error comes through, not a crash.
        let docker = try await ModuleRunner.run(ContainerModule.self, ["name": "pks-db", "runtime": "docker"],
                                                on: DBTestLocalConnection(environment: ["DOCKER_HOST": "unix:///nonexistent.sock"]))
        #expect(docker.result.failed && docker.result.msg?.contains("docker inspect pks-db") == true, "\(docker.result.msg ?? "")")
    }

    @Test("inspect's State reads the same from docker, podman 4.3 and older podman", arguments: [
        (#"{"Status":"running","Running":true,"Paused":false,"ExitCode":0}"#, "running", nil),
        (#"{"Status":"running","Running":true,"Health":{"Status":"","FailingStreak":0,"Log":null}}"#, "running", nil),
        (#"{"Status":"running","Running":true,"Health":{"Status":"healthy"}}"#, "running", "healthy"),
        (#"{"Status":"running","Running":true,"Healthcheck":{"Status":"starting"}}"#, "running", "starting"),
        (#"{"Status":"exited","Running":false,"ExitCode":137}"#, "exited", nil),
    ] as [(String, String, String?)])
    func stateParsing(json: String, status: String, health: String?) throws {
        let state = ContainerState(try #require(try Value.parseJSON(json).dictValue))
        #expect(state.status == status && state.health == health)
    }
}
