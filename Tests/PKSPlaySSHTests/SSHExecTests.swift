import Foundation
import PKSPlayCore
import PKSPlaySSH
import Testing

@Suite("SSH exec against a real sshd")
struct SSHExecTests {
    @Test func runsCommandsAndReportsExitStatus() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let hello = try await connection.exec(ExecRequest("echo hello; echo oops >&2; exit 3"))
        #expect(hello.exitStatus == 3)
        #expect(hello.stdoutText == "hello\n")
        #expect(hello.stderrText == "oops\n")
        let ok = try await connection.run("true")
        #expect(ok.exitStatus == 0)
        #expect(ok.stdout.isEmpty && ok.stderr.isEmpty)
        // A syntax error is reported by the shell on stderr, untouched by the PID frame.
        let broken = try await connection.run("if then fi")
        #expect(broken.exitStatus != 0)
        #expect(broken.stderrText.contains("syntax error"))
        #expect(!broken.stderr.contains(0x1E))
        await connection.close()
    }

    @Test("a login shell that writes to stderr before the command: the noise stays, the PID frame does not, timeouts still kill")
    func noisyShellStartup() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        // Debian's bash reads ~/.bashrc for commands run by sshd; sshd's /root is this home.
        try "echo 'warning from .bashrc' >&2\n".write(toFile: sshd.directory + "/home/.bashrc", atomically: true, encoding: .utf8)
        let connection = try await SSHConnection.connect(sshd.config())
        let result = try await connection.exec(ExecRequest("echo out; echo err >&2"))
        #expect(result.stdoutText == "out\n")
        #expect(result.stderrText.hasSuffix("err\n"))
        #expect(!result.stderr.contains(0x1E), "the frame leaked: \(result.stderrText.debugDescription)")
        // The PID was still read: a timed-out command is killed on the host, not left running.
        let marker = "pksplay-noisy-\(UInt32.random(in: 0...UInt32.max))"
        await #expect(throws: ConnectionError.self) {
            _ = try await connection.exec(ExecRequest("sleep 30 # \(marker)", timeout: 1))
        }
        try await Task.sleep(for: .milliseconds(500))
        let left = try await connection.run("pgrep -f '\(marker)' | grep -v $$ || true")
        #expect(left.stdoutText.isEmpty, "still running: \(left.stdoutText)")
        await connection.close()
    }

    @Test(arguments: [("kill -KILL $$", Int32(137)), ("kill -TERM $$", 143), ("sh -c 'kill -SEGV $$'", 139), ("exit 255", 255)])
    func signalledCommandReports128PlusSignal(command: String, expected: Int32) async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let result = try await connection.run(command)
        #expect(result.exitStatus == expected)
        await connection.close()
    }

    @Test func feedsStdinThenEOF() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let counted = try await connection.run("wc -c", stdin: Data("twelve bytes".utf8))
        #expect(counted.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "12")
        // No stdin: the command sees end of file at once instead of waiting.
        let empty = try await connection.exec(ExecRequest("cat; echo done", timeout: 10))
        #expect(empty.stdoutText == "done\n")
        // 8 MB through cat: input and output flow at the same time, each larger than the windows.
        let big = randomData(8 << 20)
        let echoed = try await connection.exec(ExecRequest("cat", stdin: big, timeout: 120))
        #expect(echoed.exitStatus == 0)
        #expect(echoed.stdout == big)
        // A command that exits without reading its input does not hang the writer.
        let ignoring = try await connection.exec(ExecRequest("exit 4", stdin: randomData(4 << 20), timeout: 60))
        #expect(ignoring.exitStatus == 4)
        await connection.close()
    }

    @Test(.timeLimit(.minutes(3)))
    func drainsFiftyMegabytesOfInterleavedStdoutAndStderr() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let half = 25 * 1024 * 1024
        let command = "yes out | head -c \(half) & yes err | head -c \(half) >&2; wait"
        let (result, seconds) = try await measure { try await connection.exec(ExecRequest(command, timeout: 150)) }
        #expect(result.exitStatus == 0)
        #expect(result.stdout.count == half)
        #expect(result.stderr.count == half)
        #expect(result.stdout.prefix(8) == Data("out\nout\n".utf8))
        #expect(result.stderr.prefix(8) == Data("err\nerr\n".utf8))
        #expect(!result.stdout.contains(UInt8(ascii: "e")))
        #expect(!result.stderr.contains(UInt8(ascii: "o")))
        print("50 MB interleaved stdout+stderr: \(String(format: "%.2f", seconds)) s")
        await connection.close()
    }

    @Test func binaryStdoutRoundTrip() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let bytes = allByteValues(times: 64)
        let result = try await connection.run("cat", stdin: bytes)
        #expect(result.stdout == bytes)
        // And generated on the host, not echoed: printf with octal escapes for every value.
        let script = "printf '" + (0..<256).map { "\\" + String($0, radix: 8) }.joined() + "'"
        let printed = try await connection.run(script)
        #expect(printed.stdout == allByteValues())
        await connection.close()
    }

    @Test func streamsOutputToTheCallbackAsItArrives() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let chunks = Collector<(ExecRequest.OutputStream, Data, ContinuousClock.Instant)>()
        let start = ContinuousClock.now
        let request = ExecRequest("echo first; sleep 1; echo second >&2; sleep 1; echo third") { stream, data in
            chunks.append((stream, data, ContinuousClock.now))
        }
        let result = try await connection.exec(request)
        let stdout = chunks.all.filter { $0.0 == .stdout }.reduce(Data()) { $0 + $1.1 }
        let stderr = chunks.all.filter { $0.0 == .stderr }.reduce(Data()) { $0 + $1.1 }
        #expect(stdout == result.stdout)
        #expect(stderr == result.stderr)
        #expect(result.stderrText == "second\n")
        // "first" arrived while the command still ran, not all at the end.
        let first = try #require(chunks.all.first)
        #expect(first.2 - start < .milliseconds(900))
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func timeoutKillsTheCommandAndTheSessionStaysUsable() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        // A compound command: the shell forks sleep, so killing only the shell would leave it.
        let marker = "31.\(Int.random(in: 100_000...999_999))"
        let command = "sleep \(marker); echo never"
        let (error, seconds) = await measure {
            await #expect(throws: ConnectionError.self) { try await connection.exec(ExecRequest(command, timeout: 1)) }
        }
        #expect(error == .timeout(command: command, seconds: 1))
        #expect(seconds < 6)
        // The whole process group is gone, not only the channel.
        var left = processCommandLines(containing: "sleep \(marker)")
        for _ in 0..<30 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            left = processCommandLines(containing: "sleep \(marker)")
        }
        #expect(left.isEmpty, "still running: \(left)")
        let after = try await connection.run("echo still here")
        #expect(after.stdoutText == "still here\n")
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingTheTaskInterruptsTheCommand() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let task = Task { try await connection.run("sleep 30") }
        try await Task.sleep(for: .milliseconds(500))
        let (outcome, seconds) = await measure {
            task.cancel()
            return await task.result
        }
        #expect(throws: ConnectionError.interrupted) { try outcome.get() }
        #expect(seconds < 5)
        #expect(try await connection.run("echo ok").stdoutText == "ok\n")
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func environmentValuesNeverAppearInAnyArgv() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let secret = "s3cr3t-\(UInt64.random(in: 1...UInt64.max))"
        let tricky = "it's \"quoted\" $HOME `id` \\ \n second line"
        let marker = "2.\(Int.random(in: 100_000...999_999))"
        let request = ExecRequest(
            "sleep \(marker); printf '%s|%s' \"$PKS_SECRET\" \"$PKS_TRICKY\"",
            environment: ["PKS_SECRET": secret, "PKS_TRICKY": tricky], timeout: 30)
        // On a thread of its own: a busy cooperative pool must not pause the watch.
        let watcher = ProcessWatcher(secret: secret, command: "sleep \(marker)")
        let result = try await connection.exec(request)
        let (sightings, sawCommandRunning) = watcher.stop()
        #expect(result.exitStatus == 0)
        #expect(result.stdoutText == "\(secret)|\(tricky)")
        #expect(sightings.isEmpty, "secret seen in argv: \(sightings)")
        // The watch overlapped the command: it saw the command's own sleep running.
        #expect(sawCommandRunning)
        // The file that carried the values is gone.
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [])
            .filter { $0.hasPrefix(".pksplay-env-") }
            .filter { (try? String(contentsOfFile: "/tmp/" + $0, encoding: .utf8))?.contains(secret) == true }
        #expect(leftovers.isEmpty)
        await connection.close()
    }

    @Test func rejectsInvalidRequestsWithoutRunningThem() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let error = await #expect(throws: SSHRequestError.self) {
            try await connection.run("true", environment: ["BAD-NAME": "x"])
        }
        #expect(error?.message.contains("BAD-NAME") == true)
        await #expect(throws: SSHRequestError.self) { try await connection.exec(ExecRequest("true", timeout: .nan)) }
        // A zero timeout expires at once; an infinite one is no limit.
        await #expect(throws: ConnectionError.self) { try await connection.exec(ExecRequest("sleep 5", timeout: 0)) }
        #expect(try await connection.exec(ExecRequest("echo forever", timeout: .infinity)).stdoutText == "forever\n")
        #expect(try await connection.run("echo fine").stdoutText == "fine\n")
        await connection.close()
    }

    @Test func queuesConcurrentCallsOnOneSession() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<20 { group.addTask { try await connection.run("echo \(i)").stdoutText } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(outputs == Set((0..<20).map { "\($0)\n" }))
        await connection.close()
    }
}
