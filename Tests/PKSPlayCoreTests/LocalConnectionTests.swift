import Foundation
import PKSPlayCore
import PKSPlayLocal
import PKSPlayTestSupport
import Testing

/// A value tests can set from an output callback running on another thread.
final class Box<T: Sendable>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    var get: T { lock.lock(); defer { lock.unlock() }; return value }
    func update(_ body: (inout T) -> Void) { lock.lock(); body(&value); lock.unlock() }
}

private func monotonic() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Whether a process is gone (or only a zombie no one has reaped yet, which runs nothing).
private func processIsGone(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    // Field 3, after the parenthesised command name.
    guard let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
    return state == "Z" || state == "X"
}

@Suite("LocalConnection")
struct LocalConnectionTests {
    let connection = LocalConnection(hostName: "localhost", killGracePeriod: 0.5)

    @Test func hostNameIsTheInventoryName() {
        #expect(LocalConnection(hostName: "control").hostName == "control")
        #expect(LocalConnection().hostName == "localhost")
    }

    @Test(arguments: [("true", Int32(0)), ("exit 3", 3), ("false", 1), ("exit 255", 255), ("kill -9 $$", 137), ("kill -TERM $$", 143)])
    func exitStatus(command: String, expected: Int32) async throws {
        let result = try await connection.exec(ExecRequest(command))
        #expect(result.exitStatus == expected)
    }

    @Test func stdoutAndStderrAreSeparate() async throws {
        let result = try await connection.exec(ExecRequest("echo out; echo err >&2; echo out2"))
        #expect(result.stdoutText == "out\nout2\n")
        #expect(result.stderrText == "err\n")
    }

    @Test("a command inherits stdin, stdout and stderr only, not descriptors the controller opened without CLOEXEC")
    func onlyTheThreeStandardDescriptorsAreInherited() async throws {
        let leaky = open("/dev/null", O_RDONLY)  // no O_CLOEXEC, on purpose
        #expect(leaky > 2)
        defer { close(leaky) }
        let c = LocalConnection(hostName: "localhost")
        let r = try await c.run("ls /proc/$$/fd")
        let fds = Set(r.stdoutText.split(separator: "\n").compactMap { Int($0) })
        #expect(!fds.contains(Int(leaky)), "inherited: \(fds.sorted())")
        #expect(fds.isSuperset(of: [0, 1, 2]))
    }

    @Test func stdinIsFedThenClosed() async throws {
        let result = try await connection.exec(ExecRequest("cat; echo end", stdin: Data("hello\nworld".utf8)))
        #expect(result.stdoutText == "hello\nworldend\n")
    }

    @Test func noStdinMeansEmptyStdin() async throws {
        let result = try await connection.exec(ExecRequest("wc -c"))
        #expect(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func commandThatIgnoresStdinDoesNotBreakTheWrite() async throws {
        // 8 MB into a command that exits without reading: the write must end in EPIPE, not a signal or a hang.
        let big = Data(repeating: 0x61, count: 8 << 20)
        let result = try await connection.exec(ExecRequest("exit 4", stdin: big))
        #expect(result.exitStatus == 4)
    }

    @Test func largeStdinWithLargeOutputDoesNotDeadlock() async throws {
        var input = Data(count: 32 << 20)
        input.withUnsafeMutableBytes { raw in
            for i in 0..<raw.count { raw[i] = UInt8(truncatingIfNeeded: i &* 31) }
        }
        // cat writes as it reads: with sequential stdin-then-stdout handling this would block on a full pipe.
        let result = try await connection.exec(ExecRequest("cat; cat /dev/null >&2", stdin: input))
        #expect(result.exitStatus == 0)
        #expect(result.stdout.count == input.count)
        #expect(result.stdout == input)
    }

    @Test func binaryOutputIsKeptByteForByte() async throws {
        let result = try await connection.exec(ExecRequest(#"printf '\000\001\377\n\r'"#))
        #expect(Array(result.stdout) == [0, 1, 255, 10, 13])
        let all = Data((0...255).map { UInt8($0) })
        let echoed = try await connection.exec(ExecRequest("cat", stdin: all))
        #expect(echoed.stdout == all)
    }

    @Test func environmentIsMergedIntoTheInheritedOne() async throws {
        let result = try await connection.exec(ExecRequest(
            #"printf '%s|%s|%s' "$PKS_A" "$PKS_B" "${PATH:+path}""#,
            environment: ["PKS_A": "one two", "PKS_B": "$(touch /nonexistent/x) 'q' \"d\""]))
        #expect(result.stdoutText == "one two|$(touch /nonexistent/x) 'q' \"d\"|path")
    }

    @Test func environmentValuesNeverAppearInArgv() async throws {
        let secret = "s3cr3t-\(UUID().uuidString)"
        let seen = Box<(cmdline: String, environ: String)?>(nil)
        let request = ExecRequest("echo $$; sleep 1", environment: ["PKS_SECRET": secret]) { stream, chunk in
            guard stream == .stdout, seen.get == nil,
                let pid = Int32(String(decoding: chunk, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            else { return }
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
            seen.update { $0 = (String(decoding: cmdline, as: UTF8.self), String(decoding: environ, as: UTF8.self)) }
        }
        let result = try await connection.exec(request)
        #expect(result.exitStatus == 0)
        let observed = try #require(seen.get)
        #expect(observed.cmdline.contains("sleep 1"), "read the running shell's argv")
        #expect(!observed.cmdline.contains(secret))
        #expect(observed.environ.contains("PKS_SECRET=\(secret)"))
    }

    @Test func hundredMegabytesOnEachStreamInterleaved() async throws {
        let size = 100 * 1024 * 1024
        let counted = Box((out: 0, err: 0))
        let request = ExecRequest("head -c \(size) /dev/zero & head -c \(size) /dev/zero >&2; wait") { stream, chunk in
            counted.update { if stream == .stdout { $0.out += chunk.count } else { $0.err += chunk.count } }
        }
        let started = monotonic()
        let result = try await connection.exec(request)
        #expect(result.exitStatus == 0)
        #expect(result.stdout.count == size)
        #expect(result.stderr.count == size)
        #expect(counted.get.out == size && counted.get.err == size)
        #expect(monotonic() - started < 60)
    }

    @Test func outputArrivesBeforeTheCommandEnds() async throws {
        let firstChunkAt = Box<Double?>(nil)
        let started = monotonic()
        let request = ExecRequest("echo first; sleep 3; echo second") { _, chunk in
            if String(decoding: chunk, as: UTF8.self).contains("first") {
                firstChunkAt.update { $0 = $0 ?? monotonic() }
            }
        }
        let result = try await connection.exec(request)
        let ended = monotonic()
        #expect(result.stdoutText == "first\nsecond\n")
        let first = try #require(firstChunkAt.get)
        #expect(first - started < 2.0)
        #expect(ended - first >= 2.5)
    }

    @Test func timeoutKillsTheWholeProcessGroup() async throws {
        let pid = Box<Int32?>(nil)
        let request = ExecRequest("sleep 300 & echo $!; wait", timeout: 1) { stream, chunk in
            if stream == .stdout, let p = Int32(String(decoding: chunk, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                pid.update { $0 = p }
            }
        }
        let started = monotonic()
        await #expect(throws: ConnectionError.timeout(command: request.command, seconds: 1)) {
            try await connection.exec(request)
        }
        #expect(monotonic() - started < 5)
        let sleeper = try #require(pid.get)
        #expect(processIsGone(sleeper), "the background sleep of the timed-out command must not survive")
    }

    @Test func timeoutEscalatesToSigkillForCommandsIgnoringSigterm() async throws {
        let pid = Box<Int32?>(nil)
        // Children of a shell that ignores TERM inherit the ignore; only SIGKILL stops them.
        let request = ExecRequest("trap '' TERM; sleep 300 & echo $!; wait; sleep 300", timeout: 0.5) { stream, chunk in
            if stream == .stdout, let p = Int32(String(decoding: chunk, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                pid.update { $0 = p }
            }
        }
        let started = monotonic()
        await #expect(throws: ConnectionError.self) { try await connection.exec(request) }
        let elapsed = monotonic() - started
        #expect(elapsed >= 0.9, "SIGKILL comes only after the grace period")
        #expect(elapsed < 5)
        let sleeper = try #require(pid.get)
        #expect(processIsGone(sleeper))
    }

    @Test func cancellingTheTaskStopsTheCommand() async throws {
        let started = monotonic()
        let task = Task { try await connection.exec(ExecRequest("sleep 300")) }
        try await Task.sleep(nanoseconds: 200_000_000)
        task.cancel()
        await #expect(throws: ConnectionError.interrupted) { try await task.value }
        #expect(monotonic() - started < 5)
    }

    @Test func backgroundProcessHoldingOutputDoesNotHangTheCommand() async throws {
        let started = monotonic()
        let result = try await connection.exec(ExecRequest("sleep 30 & echo started"))
        #expect(result.exitStatus == 0)
        #expect(result.stdoutText == "started\n")
        #expect(monotonic() - started < 12)
    }

    @Test func requestsThatCannotBeRunAreRefused() async throws {
        await #expect(throws: LocalConnection.RequestError.self) { try await connection.exec(ExecRequest("echo a\0b")) }
        await #expect(throws: LocalConnection.RequestError.self) {
            try await connection.exec(ExecRequest("true", environment: ["A=B": "x"]))
        }
    }

    @Test func putThenGetRoundTripsWithMode() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("secret.bin")
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try await connection.put(data, to: path, mode: 0o600)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try await connection.get(path) == data)

        // Replacing keeps the path, takes the new content and the new mode.
        try await connection.put(Data("short".utf8), to: path, mode: 0o640)
        #expect(try await connection.get(path) == Data("short".utf8))
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o640)

        // Without a mode an existing file keeps its own.
        try await connection.put(Data("again".utf8), to: path, mode: nil)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o640)

        // An exact mode, whatever the umask.
        let exec = dir.file("run.sh")
        try await connection.put(Data("#!/bin/sh\necho ran\n".utf8), to: exec, mode: 0o755)
        #expect((try FileManager.default.attributesOfItem(atPath: exec)[.posixPermissions] as? Int) == 0o755)
        #expect(try await connection.exec(ExecRequest(shellQuote(exec))).stdoutText == "ran\n")
    }

    @Test("rename replaces the target in one step, refuses a directory, and says which path failed")
    func renameReplacesAtomically() async throws {
        let dir = try TemporaryDirectory()
        let source = dir.file(".new"), target = dir.file("conf")
        try await connection.put(Data("old".utf8), to: target, mode: 0o644)
        try await connection.put(Data("new".utf8), to: source, mode: 0o600)
        let inode = try #require(FileManager.default.attributesOfItem(atPath: source)[.systemFileNumber] as? Int)
        try await connection.rename(source, to: target)
        #expect(FileManager.default.contents(atPath: target) == Data("new".utf8))
        #expect(try FileManager.default.attributesOfItem(atPath: target)[.systemFileNumber] as? Int == inode, "the same file, renamed, not a copy")
        #expect(!FileManager.default.fileExists(atPath: source))
        try FileManager.default.createDirectory(atPath: dir.file("d"), withIntermediateDirectories: false)
        try await connection.put(Data("x".utf8), to: source, mode: nil)
        let error = await #expect(throws: ConnectionError.self) { try await connection.rename(source, to: dir.file("d")) }
        guard case .fileTransfer(let path, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(path == dir.file("d") && reason.hasPrefix("cannot rename \(source) to it: "))
        #expect(FileManager.default.fileExists(atPath: source), "a refused rename leaves the source where it was")
    }

    @Test("fileStatuses is lstat: the same numbers stat(1) prints, nil where nothing is, a link not followed")
    func fileStatusesAgreeWithStat() async throws {
        let dir = try TemporaryDirectory()
        try await connection.put(Data("12345".utf8), to: dir.file("f"), mode: 0o640)
        let setup = try await connection.exec(ExecRequest("""
            cd \(shellQuote(dir.path)) && mkdir d && chmod 2750 d && ln -s f l && ln -s nowhere dangling && mkfifo p && touch -d @1000000000 f
            """))
        #expect(setup.exitStatus == 0, "\(setup.stderrText)")
        let names = ["f", "d", "l", "dangling", "p"]
        let statuses = try #require(try await connection.fileStatuses(names.map(dir.file) + [dir.file("missing"), dir.file("f/under-a-file")]))
        #expect(statuses.count == names.count + 2)
        #expect(statuses[names.count] == nil && statuses[names.count + 1] == nil)
        for (index, name) in names.enumerated() {
            let printed = try await connection.exec(ExecRequest("stat -c '%f %u %g %s %X %Y' -- \(shellQuote(dir.file(name)))")).stdoutText
            let f = printed.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            let expected = FileStatus(mode: Int(f[0], radix: 16)!, uid: Int(f[1])!, gid: Int(f[2])!, size: Int(f[3])!, atime: Int(f[4])!, mtime: Int(f[5])!)
            #expect(statuses[index] == expected, "\(name)")
        }
        #expect(statuses[0]?.mode == 0o100640 && statuses[0]?.size == 5 && statuses[0]?.mtime == 1_000_000_000)
        #expect(statuses[1]?.mode == 0o042750)
        #expect(statuses[2].map { $0.mode & 0o170000 } == 0o120000, "the link itself")
        let memo = try #require(connection.sessionMemo)
        memo["k"] = .int(1)
        #expect(connection.sessionMemo?["k"] == .int(1), "one memo for the connection's life")
    }

    @Test func fileErrorsNameThePath() async throws {
        let dir = try TemporaryDirectory()
        let missing = dir.file("nope/x")
        await #expect(throws: ConnectionError.self) { try await connection.get(missing) }
        do {
            _ = try await connection.get(missing)
        } catch let error as ConnectionError {
            #expect(error.description.contains(missing))
            #expect(error.description.contains("No such file"))
        }
        await #expect(throws: ConnectionError.self) { try await connection.put(Data(), to: missing, mode: nil) }
    }

    @Test func closedConnectionRefusesWork() async throws {
        let c = LocalConnection()
        await c.close()
        await #expect(throws: ConnectionError.self) { try await c.exec(ExecRequest("true")) }
        await #expect(throws: ConnectionError.self) { try await c.get("/etc/hostname") }
    }

    @Test func manyConcurrentCommands() async throws {
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<24 {
                group.addTask { (i, try await connection.exec(ExecRequest("echo \(i)")).stdoutText) }
            }
            var out: [Int: String] = [:]
            for try await (i, text) in group { out[i] = text }
            return out
        }
        #expect(results.count == 24)
        for (i, text) in results { #expect(text == "\(i)\n") }
    }
}

@Suite("shellQuote through a real shell")
struct ShellQuoteTests {
    static let hostile = [
        "plain", "with space", "it's", "\"double\"", "$(touch /tmp/pksplay-pwned)", "`id`", "a\nb", "-rf", "--", "",
        "ünïcödé ✓", "*", "~", "!x", "a\\b", "tab\there", "${HOME}", "; rm -rf /", "'", "\u{7f}", "%s",
    ]

    @Test(arguments: hostile)
    func wordReachesTheCommandAsIs(word: String) async throws {
        let result = try await LocalConnection().exec(ExecRequest("printf '%s' " + shellQuote(word)))
        #expect(result.stdoutText == word)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pksplay-pwned"))
    }

    @Test func joinKeepsEveryWordSeparate() async throws {
        let words = Self.hostile
        let result = try await LocalConnection().exec(ExecRequest("printf '%s\\0' " + shellJoin(words)))
        let parts = result.stdout.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        #expect(parts == words)
    }
}
