import Foundation
import PKSPlayCore
import Testing

@testable import PKSPlaySSH

@Suite("SSH put and get, over SFTP and through cat")
struct SSHFileTransferTests {
    /// The three ways files travel: SFTP on the session's own pipelined channel, libssh2's SFTP
    /// (servers without `posix-rename@openssh.com`), `cat` (servers without SFTP). The results
    /// must be the same.
    enum Transport: String, CaseIterable, CustomTestStringConvertible {
        case pipelined, libssh2, cat
        var testDescription: String { rawValue }
        var options: TestSSHD.Options {
            var options = TestSSHD.Options()
            options.sftp = self != .cat
            return options
        }
        func connect(_ sshd: TestSSHD) async throws -> SSHConnection {
            var config = sshd.config()
            config.requestChannel = self == .pipelined
            return try await SSHConnection.connect(config)
        }
    }
    static let transports = Transport.allCases

    @Test(arguments: transports)
    func roundTripsEveryByteValue(transport: Transport) async throws {
        let options = transport.options
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let path = sshd.directory + "/bytes.bin"
        let bytes = allByteValues(times: 300)
        try await connection.put(bytes, to: path, mode: nil)
        #expect(FileManager.default.contents(atPath: path) == bytes)
        #expect(try await connection.get(path) == bytes)
        // The host's own checksum agrees with ours on what arrived.
        let remote = try await connection.run("sha256sum < \(shellQuote(path))").stdoutText.prefix(64)
        let local = try TestSSHD.run(["/usr/bin/sha256sum", path]).stdout.prefix(64)
        #expect(remote == local)
        // An empty file is a file, not an error.
        try await connection.put(Data(), to: path, mode: nil)
        #expect(FileManager.default.contents(atPath: path) == Data())
        #expect(try await connection.get(path) == Data())
        await connection.close()
    }

    @Test(arguments: transports)
    func setsTheModeBeforeWritingAndKeepsItWhenNotGiven(transport: Transport) async throws {
        let options = transport.options
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let secret = sshd.directory + "/secret"
        try await connection.put(Data("pw".utf8), to: secret, mode: 0o600)
        #expect(permissions(secret) == 0o600)
        try await connection.put(Data("script".utf8), to: secret, mode: 0o755)
        #expect(permissions(secret) == 0o755)
        #expect(FileManager.default.contents(atPath: secret) == Data("script".utf8))
        // Shorter content with a mode over a longer file: nothing of the old one is left.
        try await connection.put(Data("pw".utf8), to: secret, mode: 0o750)
        #expect(FileManager.default.contents(atPath: secret) == Data("pw".utf8))
        #expect(permissions(secret) == 0o750)
        try await connection.put(Data("script".utf8), to: secret, mode: 0o755)
        // No mode: an existing file keeps its mode, a new one gets 0644 (umask 022 on the host).
        try await connection.put(Data("again".utf8), to: secret, mode: nil)
        #expect(permissions(secret) == 0o755)
        let fresh = sshd.directory + "/fresh"
        try await connection.put(Data("new".utf8), to: fresh, mode: nil)
        #expect(permissions(fresh) == 0o644)
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2)))
    func transfersTwentyMegabytes() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let data = randomData(20 << 20)
        let path = sshd.directory + "/big.bin"
        let (_, up) = try await measure { try await connection.put(data, to: path, mode: 0o640) }
        let (back, down) = try await measure { try await connection.get(path) }
        #expect(back == data)
        #expect(FileManager.default.contents(atPath: path) == data)
        print("SFTP 20 MB: put \(String(format: "%.2f", up)) s, get \(String(format: "%.2f", down)) s")
        await connection.close()
    }

    @Test(arguments: transports)
    func reportsMissingFilesAndDirectories(transport: Transport) async throws {
        let options = transport.options
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let missing = sshd.directory + "/no-such-file"
        let readError = await #expect(throws: ConnectionError.self) { try await connection.get(missing) }
        guard case .fileTransfer(let path, let reason)? = readError else {
            Issue.record("expected a file transfer error, got \(String(describing: readError))")
            return
        }
        #expect(path == missing)
        #expect(reason.lowercased().contains("no such file"))
        let orphan = sshd.directory + "/no-such-dir/file"
        let writeError = await #expect(throws: ConnectionError.self) { try await connection.put(Data("x".utf8), to: orphan, mode: nil) }
        guard case .fileTransfer(let writePath, _)? = writeError else {
            Issue.record("expected a file transfer error, got \(String(describing: writeError))")
            return
        }
        #expect(writePath == orphan)
        // The session survives a failed transfer.
        #expect(try await connection.run("echo ok").stdoutText == "ok\n")
        await connection.close()
    }

    /// Around libssh2's first read (8 KiB) and the pipelined reads (32 KiB, two at first).
    @Test("files around the first reads' sizes come back whole",
          arguments: [Transport.pipelined, .libssh2], [1, 8191, 8192, 8193, 32_768, 32_769, 65_536, 65_537, 300_000, 1_048_576])
    func getsFilesAroundTheFirstReadSize(transport: Transport, size: Int) async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let path = sshd.directory + "/sized.bin"
        let data = randomData(size)
        #expect(FileManager.default.createFile(atPath: path, contents: data))
        #expect(try await connection.get(path) == data)
        await connection.close()
    }

    @Test("a mode without the owner's write bit still gets its content", arguments: transports)
    func writesReadOnlyModes(transport: Transport) async throws {
        let options = transport.options
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let path = sshd.directory + "/read-only"
        try await connection.put(Data("ro".utf8), to: path, mode: 0o444)
        #expect(permissions(path) == 0o444)
        #expect(FileManager.default.contents(atPath: path) == Data("ro".utf8))
        await connection.close()
    }

    /// The SFTP subsystems a rename may meet: OpenSSH's, none, and one that answers nonsense
    /// (`cat` sends the greeting back).
    static let subsystems = ["internal-sftp", "none", "/bin/cat"]

    @Test("rename replaces the target in one step (posix-rename over SFTP, mv otherwise) and reports refusals", arguments: subsystems)
    func renamesOverAnExistingFile(subsystem: String) async throws {
        var options = TestSSHD.Options()
        options.sftp = subsystem == "internal-sftp"
        if subsystem.hasPrefix("/") { options.extraConfig = ["Subsystem sftp \(subsystem)"] }
        let sftp = options.sftp
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let source = sshd.directory + "/.new file", target = sshd.directory + "/conf 'x'"
        for round in 1...3 {
            #expect(FileManager.default.createFile(atPath: target, contents: Data("old \(round)".utf8)))
            #expect(FileManager.default.createFile(atPath: source, contents: Data("new \(round)".utf8)))
            let inode = try #require(FileManager.default.attributesOfItem(atPath: source)[.systemFileNumber] as? Int)
            try await connection.rename(source, to: target)
            #expect(FileManager.default.contents(atPath: target) == Data("new \(round)".utf8))
            #expect(try FileManager.default.attributesOfItem(atPath: target)[.systemFileNumber] as? Int == inode)
            #expect(!FileManager.default.fileExists(atPath: source))
        }
        // Onto a directory, or from nothing: refused, with the destination named; nothing moves.
        let directory = sshd.directory + "/dir"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        #expect(FileManager.default.createFile(atPath: source, contents: Data("x".utf8)))
        for (from, to) in [(source, directory), (sshd.directory + "/missing", target)] {
            let error = await #expect(throws: ConnectionError.self) { try await connection.rename(from, to: to) }
            guard case .fileTransfer(let path, let reason)? = error else {
                Issue.record("expected a file transfer error, got \(String(describing: error))")
                continue
            }
            #expect(path == to && reason.hasPrefix("cannot rename \(from) to it: "), "\(reason)")
            // Which way it went: the SFTP server's status, or mv's own words.
            #expect(reason.contains("mv: ") == !sftp, "\(reason)")
        }
        #expect(FileManager.default.contents(atPath: source) == Data("x".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        // The session, and the rename channel, go on working after a refusal.
        try await connection.rename(source, to: target)
        #expect(FileManager.default.contents(atPath: target) == Data("x".utf8))
        #expect(try await connection.run("echo ok").stdoutText == "ok\n")
        await connection.close()
    }

    /// An sshd whose SFTP server refuses `request` (`-P`: OpenSSH's list of requests it denies).
    static func sftpDenying(_ request: String) -> TestSSHD.Options {
        var options = TestSSHD.Options()
        options.sftp = false
        options.extraConfig = ["Subsystem sftp internal-sftp -P \(request)"]
        return options
    }

    @Test("a refused mode: an existing file keeps its content, a new one reports it, and the session goes on")
    func refusedModeSendsNoContentToAnExistingFile() async throws {
        let sshd = try await TestSSHD.start(Self.sftpDenying("fsetstat"))
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let existing = sshd.directory + "/existing"
        #expect(FileManager.default.createFile(atPath: existing, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644]))
        for (path, created) in [(existing, false), (sshd.directory + "/fresh", true)] {
            let error = await #expect(throws: ConnectionError.self) { try await connection.put(Data("secret".utf8), to: path, mode: 0o600) }
            guard case .fileTransfer(let failedPath, let reason)? = error else {
                Issue.record("expected a file transfer error, got \(String(describing: error))")
                continue
            }
            #expect(failedPath == path && reason.hasPrefix("cannot set its mode to 600: "), "\(reason)")
            if created {
                // Created by this request with 0600 less the umask: never wider than asked.
                #expect((permissions(path) ?? -1) & ~0o600 == 0)
            } else {
                // Neither emptied nor written: the file is as it was.
                #expect(FileManager.default.contents(atPath: path) == Data("old".utf8))
                #expect(permissions(path) == 0o644)
            }
        }
        // Without a mode nothing is denied; the request channel still answers.
        let plain = sshd.directory + "/plain"
        try await connection.put(Data("fine".utf8), to: plain, mode: nil)
        #expect(FileManager.default.contents(atPath: plain) == Data("fine".utf8))
        try await connection.rename(plain, to: existing)
        #expect(FileManager.default.contents(atPath: existing) == Data("fine".utf8))
        await connection.close()
    }

    @Test("a refused write is reported, the handle is closed, and the session goes on")
    func refusedWriteIsReported() async throws {
        let sshd = try await TestSSHD.start(Self.sftpDenying("write"))
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let path = sshd.directory + "/big"
        // More than the 64 writes of 32 KiB kept in flight: refusals arrive while writes still go out.
        let data = randomData(3 << 20)
        let error = await #expect(throws: ConnectionError.self) { try await connection.put(data, to: path, mode: 0o640) }
        guard case .fileTransfer(_, let reason)? = error else {
            Issue.record("expected a file transfer error, got \(String(describing: error))")
            return
        }
        #expect(reason.hasPrefix("cannot write it: "), "\(reason)")
        #expect(FileManager.default.contents(atPath: path) == Data())
        // An empty file needs no WRITE: it goes through, on the same channel.
        try await connection.put(Data(), to: sshd.directory + "/empty", mode: 0o600)
        #expect(permissions(sshd.directory + "/empty") == 0o600)
        #expect(try await connection.run("echo ok").stdoutText == "ok\n")
        await connection.close()
    }

    /// After each command the session starts opening the next command's channel without waiting
    /// for the answer; SFTP channels opened meanwhile, failures and renames must not upset it.
    @Test("commands and file transfers interleave on one session", arguments: transports)
    func commandsAndTransfersInterleave(transport: Transport) async throws {
        let options = transport.options
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let path = sshd.directory + "/f", moved = sshd.directory + "/g"
        for round in 1...3 {
            #expect(try await connection.run("echo \(round)").stdoutText == "\(round)\n")
            try await connection.put(Data("r\(round)".utf8), to: path, mode: 0o600)
            #expect(try await connection.run("cat \(shellQuote(path))").stdoutText == "r\(round)")
            #expect(try await connection.get(path) == Data("r\(round)".utf8))
            try await connection.rename(path, to: moved)
            let failed = try await connection.run("exit 3")
            #expect(failed.exitStatus == 3)
            #expect(try await connection.get(moved) == Data("r\(round)".utf8))
        }
        await connection.close()
    }

    @Test("a refused read is reported, and the session goes on")
    func refusedReadIsReported() async throws {
        let sshd = try await TestSSHD.start(Self.sftpDenying("read"))
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let path = sshd.directory + "/denied"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        for _ in 1...2 {
            let error = await #expect(throws: ConnectionError.self) { try await connection.get(path) }
            guard case .fileTransfer(let failedPath, let reason)? = error else {
                Issue.record("expected a file transfer error, got \(String(describing: error))")
                continue
            }
            #expect(failedPath == path && reason.hasPrefix("cannot read it: "), "\(reason)")
            // The unanswered CLOSE of the failed read does not confuse the next request.
            try await connection.put(Data("y".utf8), to: path, mode: nil)
            #expect(FileManager.default.contents(atPath: path) == Data("y".utf8))
        }
        await connection.close()
    }

    @Test("file statuses come from SFTP LSTATs: what stat(1) prints, nil where nothing is, links not followed; none without the request channel",
          arguments: transports)
    func fileStatusesAgreeWithStat(transport: Transport) async throws {
        let sshd = try await TestSSHD.start(transport.options)
        defer { sshd.stop() }
        let connection = try await transport.connect(sshd)
        let dir = sshd.directory + "/st"
        let setup = try await connection.run("""
            mkdir \(shellQuote(dir)) && cd \(shellQuote(dir)) && printf 12345 > f && chmod 640 f && touch -d @1000000000 f &&
            mkdir d && chmod 2750 d && ln -s f l && mkfifo p && for i in $(seq 1 100); do : > "n$i"; done
            """)
        #expect(setup.exitStatus == 0, "\(setup.stderrText)")
        // More paths than requests kept in flight (64), with the absent ones among them.
        let names = ["f", "d", "l", "p", "missing", "f/under-a-file"] + (1...100).map { "n\($0)" }
        let statuses = try await connection.fileStatuses(names.map { dir + "/" + $0 })
        guard transport == .pipelined else {
            #expect(statuses == nil, "without the request channel the caller asks a shell")
            await connection.close()
            return
        }
        let got = try #require(statuses)
        #expect(got.count == names.count)
        #expect(got[4] == nil && got[5] == nil)
        let printed = try await connection.run("cd \(shellQuote(dir)) && stat -c '%f %u %g %s %X %Y' -- f d l p " + (1...100).map { "n\($0)" }.joined(separator: " "))
        let lines = printed.stdoutText.split(separator: "\n")
        for (index, line) in lines.enumerated() {
            let f = line.split(separator: " ").map(String.init)
            let expected = FileStatus(mode: Int(f[0], radix: 16)!, uid: Int(f[1])!, gid: Int(f[2])!, size: Int(f[3])!, atime: Int(f[4])!, mtime: Int(f[5])!)
            #expect(got[index < 4 ? index : index + 2] == expected, "\(line)")
        }
        #expect(lines.count == 104)
        #expect(got[0]?.mode == 0o100640 && got[0]?.size == 5 && got[0]?.mtime == 1_000_000_000)
        #expect(got[1]?.mode == 0o042750 && got[2].map { $0.mode & 0o170000 } == 0o120000)
        #expect(try await connection.fileStatuses([]) == [])
        await connection.close()
    }

    @Test("a refused LSTAT fails the whole request with the server's reason, and the session goes on")
    func refusedLstatIsReported() async throws {
        let sshd = try await TestSSHD.start(Self.sftpDenying("lstat"))
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let path = sshd.directory + "/here"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        for _ in 1...2 {
            let error = await #expect(throws: ConnectionError.self) { try await connection.fileStatuses([path, sshd.directory]) }
            guard case .fileTransfer(let failedPath, let reason)? = error else {
                Issue.record("expected a file transfer error, got \(String(describing: error))")
                continue
            }
            #expect(failedPath == path && reason.hasPrefix("cannot inspect \(path): "), "\(reason)")
            #expect(try await connection.get(path) == Data("x".utf8))
        }
        await connection.close()
    }

    @Test func environmentTravelsThroughCatWithoutSFTP() async throws {
        var options = TestSSHD.Options()
        options.sftp = false
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let secret = "no-sftp-\(UInt64.random(in: 1...UInt64.max))"
        let result = try await connection.run("printf %s \"$TOKEN\"", environment: ["TOKEN": secret])
        #expect(result.stdoutText == secret)
        await connection.close()
    }

    @Test func rejectsAModeOutOfRange() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        await #expect(throws: SSHRequestError.self) {
            try await connection.put(Data(), to: sshd.directory + "/x", mode: 0o17777)
        }
        await connection.close()
    }
}
