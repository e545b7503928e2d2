import Foundation
import PKSPlayCore
import Testing
@testable import PKSPlayModules

@Suite struct FilesBehaviourTests {
    // MARK: diffs

    @Test func lineinfileDiffHasContentHeadersAndAttributeDiff() async throws {
        let s = try FilesScratch()
        try s.write("f", "a\n", mode: 0o600)
        let r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("f")), "line": "b", "mode": "0644"], check: true, diff: true)
        #expect(r.changed)
        #expect(r.msg == "line added and ownership, perms or SE linux context changed")
        #expect(r.diffs.count == 2)
        #expect(r.diffs.first == FileDiff(beforeHeader: s.path("f") + " (content)", afterHeader: s.path("f") + " (content)", before: "a\n", after: "a\nb\n"))
        #expect(r.diffs.last?.beforeHeader == s.path("f") + " (file attributes)")
        #expect(r.diffs.last?.before.contains("\"mode\": \"0600\"") == true)
        #expect(r.diffs.last?.after.contains("\"mode\": \"0644\"") == true)
        #expect(s.read("f") == "a\n" && s.mode("f") == 0o600)
    }

    @Test func fileStateDiffIsAnsibleDictText() async throws {
        let s = try FilesScratch()
        let r = try await FilesRunner.run(FileModule.self, ["path": .string(s.path("d")), "state": "directory"], check: true, diff: true)
        #expect(r.changed)
        let p = Value.string(s.path("d")).jsonString()
        #expect(r.diffs == [FileDiff(beforeHeader: s.path("d"), afterHeader: s.path("d"),
                                     before: "{\n    \"path\": \(p),\n    \"state\": \"absent\"\n}\n",
                                     after: "{\n    \"path\": \(p),\n    \"state\": \"directory\"\n}\n")])
        #expect(!s.exists("d"))
    }

    @Test func removingADirectoryListsItsContentInTheDiff() async throws {
        let s = try FilesScratch()
        try s.create([("d/a", .file("a")), ("d/sub/b", .file("b"))])
        let r = try await FilesRunner.run(FileModule.self, ["path": .string(s.path("d")), "state": "absent"], check: true, diff: true)
        #expect(r.diffs.first?.before.contains("path_content") == true)
        #expect(r.diffs.first?.before.contains(s.path("d/sub/b")) == true)
        #expect(s.exists("d/sub/b"))
    }

    @Test func copyDiffNamesDestAndSource() async throws {
        let s = try FilesScratch()
        try s.write("src.conf", "new\n")
        try s.write("dest.conf", "old\n")
        let r = try await FilesRunner.run(CopyModule.self, ["src": .string(s.path("src.conf")), "dest": .string(s.path("dest.conf"))], diff: true)
        #expect(r.changed)
        #expect(r.diffs == [FileDiff(beforeHeader: s.path("dest.conf"), afterHeader: s.path("src.conf"), before: "old\n", after: "new\n")])
        #expect(r.values["checksum"] == .string(SHA1.hex(Data("new\n".utf8))))
        let c = try await FilesRunner.run(CopyModule.self, ["content": "x\n", "dest": .string(s.path("dest.conf"))], check: true, diff: true)
        #expect(c.diffs.first?.afterHeader == s.path("dest.conf"))
    }

    @Test func templateRendersWithTheContextAndNamesTheTemplate() async throws {
        let s = try FilesScratch()
        try s.write("t.j2", "port {{ port }}\n")
        let render: @Sendable (String) throws -> String = { $0.replacingOccurrences(of: "{{ port }}", with: "5432") }
        let r = try await FilesRunner.run(TemplateModule.self, ["src": "t.j2", "dest": .string(s.path("out.conf"))], diff: true,
                                          findFile: { name, kind in kind == .templates ? s.path(name) : nil }, render: render)
        #expect(r.changed && s.read("out.conf") == "port 5432\n")
        #expect(r.diffs.first?.afterHeader == s.path("t.j2"))
        let again = try await FilesRunner.run(TemplateModule.self, ["src": "t.j2", "dest": .string(s.path("out.conf"))],
                                              findFile: { name, _ in s.path(name) }, render: render)
        #expect(!again.changed)
        let missing = try await FilesRunner.run(TemplateModule.self, ["src": "nope.j2", "dest": .string(s.path("x"))], findFile: { _, _ in nil })
        #expect(missing.failed && missing.msg?.contains("could not find src=nope.j2") == true)
    }

    // MARK: backups

    @Test func backupIsNamedAsAnsibleNamesIt() async throws {
        let s = try FilesScratch()
        try s.write("hosts", "old\n", mode: 0o640)
        let r = try await FilesRunner.run(CopyModule.self, ["content": "new\n", "dest": .string(s.path("hosts")), "backup": true])
        let backup = try #require(r.values["backup_file"]?.stringValue)
        let pattern = try NSRegularExpression(pattern: "^" + NSRegularExpression.escapedPattern(for: s.path("hosts")) + #"\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$"#)
        #expect(pattern.firstMatch(in: backup, range: NSRange(location: 0, length: (backup as NSString).length)) != nil, "\(backup)")
        #expect(FileManager.default.contents(atPath: backup) == Data("old\n".utf8))
        #expect(s.mode(String(backup.dropFirst(s.root.count + 1))) == 0o640)
        let l = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("hosts")), "line": "more", "backup": true])
        #expect(l.values["backup"] == l.values["backup_file"] && l.values["backup"] != "")
    }

    // MARK: modes

    @Test func integerModesAreBitsWithAWarning() async throws {
        let s = try FilesScratch()
        try s.write("f", "")
        let r = try await FilesRunner.run(FileModule.self, ["path": .string(s.path("f")), "mode": 0o600])
        #expect(r.changed && s.mode("f") == 0o600)
        #expect(r.warnings.contains { $0.contains("integer 384") && $0.contains("0600") })
        let (spec, warning) = try FileModeSpec.parse(.int(644))
        #expect(spec == .bits(644))
        #expect(warning?.contains("If you meant '0644'") == true)
    }

    @Test(arguments: [
        ("u=rwX,g=rX,o=", 0o644, false, 0o640), ("u=rwX,g=rX,o=", 0o755, false, 0o750), ("u=rwX,g=rX,o=", 0o600, true, 0o750),
        ("a-w", 0o666, false, 0o444), ("+x", 0o644, false, 0o755), ("g+s", 0o755, true, 0o2755), ("o+t", 0o777, true, 0o1777),
        ("u=g", 0o654, false, 0o554), ("go=", 0o777, false, 0o700), ("u+rw,g-wx,o-rwx", 0o777, false, 0o740), ("=r", 0o777, false, 0o444),
    ])
    func symbolicModes(_ spec: String, _ start: Int, _ dir: Bool, _ expected: Int) throws {
        #expect(try FileModeSpec.applySymbolic(spec, to: start, isDirectory: dir, umask: 0o022) == expected)
    }

    @Test(arguments: ["u=rwq", "z+r", "ua+x", "u", "0o99", "-1"])
    func badModesAreRefused(_ spec: String) {
        #expect(throws: FileModuleError.self) { _ = try FileModeSpec.parse(.string(spec)) }
    }

    @Test func octalStringsParseLikePython() {
        #expect(FileModeSpec.parseOctal("0644") == 0o644)
        #expect(FileModeSpec.parseOctal("644") == 0o644)
        #expect(FileModeSpec.parseOctal("0o2755") == 0o2755)
        #expect(FileModeSpec.parseOctal("u+x") == nil)
    }

    // MARK: owners (the tests run as root)

    @Test("an edit keeps the file's own group in a set-group-ID directory, and our own files need no chown to stay ours")
    func editKeepsGroupInSetGIDDirectory() async throws {
        guard getuid() == 0 else { return }
        let s = try FilesScratch()
        try FileManager.default.createDirectory(atPath: s.path("shared"), withIntermediateDirectories: true)
        #expect(chown(s.path("shared"), 0, 65534) == 0 && chmod(s.path("shared"), 0o2775) == 0)
        try s.write("shared/f", "a\n", mode: 0o644)
        #expect(chown(s.path("shared/f"), 0, 0) == 0)
        try s.write("mine", "a\n", mode: 0o644)
        for path in ["shared/f", "mine"] {
            let r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path(path)), "line": "b"])
            #expect(r.changed && !r.failed, "\(r.summary)")
            var st = stat()
            lstat(s.path(path), &st)
            #expect(st.st_uid == 0 && st.st_gid == 0, "\(path): the file was root:root, it is \(st.st_uid):\(st.st_gid)")
            #expect(s.read(path) == "a\nb\n" && s.mode(path) == 0o644)
        }
    }

    @Test func ownerAndGroupChangeAndUndo() async throws {
        guard getuid() == 0 else { return }
        let s = try FilesScratch()
        try s.write("f", "data\n", mode: 0o640)
        let log = FilesUndoLog()
        let r = try await FilesRunner.run(CopyModule.self, ["content": "data\n", "dest": .string(s.path("f")), "owner": "nobody", "group": "65534"],
                                          diff: true, log: log)
        #expect(r.changed && r.values["owner"] == "nobody" && r.values["gid"] == 65534, "\(r.summary)")
        let again = try await FilesRunner.run(CopyModule.self, ["content": "data\n", "dest": .string(s.path("f")), "owner": "nobody", "group": "65534"])
        #expect(!again.changed)
        let changed = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("f")), "line": "more"], log: log)
        #expect(changed.changed)
        var st = stat()
        lstat(s.path("f"), &st)
        #expect(st.st_uid == 65534 && Int(st.st_mode) & 0o7777 == 0o640, "an edit keeps owner and mode")
        _ = try await FilesRunner.undoAll(log)
        lstat(s.path("f"), &st)
        #expect(st.st_uid == 0 && st.st_gid == 0 && s.read("f") == "data\n" && s.mode("f") == 0o640)
        let unknown = try await FilesRunner.run(FileModule.self, ["path": .string(s.path("f")), "owner": "no-such-user-pks"], check: true)
        #expect(unknown.warnings.contains("failed to look up user no-such-user-pks. Create user up to this point in real play"))
        let fails = try await FilesRunner.run(FileModule.self, ["path": .string(s.path("f")), "owner": "no-such-user-pks"])
        #expect(fails.failed && fails.msg?.contains("chown failed") == true)
    }

    // MARK: undo

    @Test func undoRestoresAfterLaterEditsAndIsIdempotent() async throws {
        let s = try FilesScratch()
        try s.write("conf", "one\ntwo\n", mode: 0o604)
        let before = s.tree()
        let log = FilesUndoLog()
        _ = try await FilesRunner.run(ReplaceModule.self, ["path": .string(s.path("conf")), "regexp": "two", "replace": "2", "mode": "0600"], log: log)
        try s.write("conf", "someone else wrote this\n", mode: 0o777)
        let undone = try await FilesRunner.undoAll(log)
        #expect(undone.allSatisfy { $0.changed && !$0.failed })
        #expect(s.tree() == before)
        #expect(try await FilesRunner.undoAll(log).allSatisfy { !$0.changed })
    }

    @Test func moveUndoPutsBothBack() async throws {
        let s = try FilesScratch()
        try s.create([("db/PG_VERSION", .file("16\n")), ("repl/PG_VERSION", .file("16 clone\n"))])
        let before = s.tree()
        let log = FilesUndoLog()
        let r = try await FilesRunner.run(MoveModule.self, ["src": .string(s.path("repl")), "dest": .string(s.path("db")), "force": true, "backup": true], log: log)
        #expect(r.changed && s.read("db/PG_VERSION") == "16 clone\n")
        let backup = try #require(r.values["backup_file"]?.stringValue)
        #expect(FileManager.default.contents(atPath: backup + "/PG_VERSION") == Data("16\n".utf8))
        let again = try await FilesRunner.run(MoveModule.self, ["src": .string(s.path("repl")), "dest": .string(s.path("db")), "force": true, "backup": true], log: log)
        #expect(!again.changed)
        let check = try await FilesRunner.undoAll(log, check: true)
        #expect(check.contains { $0.changed } && s.read("db/PG_VERSION") == "16 clone\n")
        _ = try await FilesRunner.undoAll(log)
        #expect(s.tree() == before)
        #expect(try await FilesRunner.undoAll(log).allSatisfy { !$0.changed })
    }

    @Test func moveAcrossFileSystemsIsRefused() async throws {
        // /dev/shm is a tmpfs on Linux; skip where it is on the same device as /tmp.
        let s = try FilesScratch()
        try s.write("f", "x")
        var a = stat(), b = stat()
        guard stat(s.root, &a) == 0, stat("/dev/shm", &b) == 0, a.st_dev != b.st_dev else { return }
        let r = try await FilesRunner.run(MoveModule.self, ["src": .string(s.path("f")), "dest": .string("/dev/shm/pksplay-move-test-" + UUID().uuidString)])
        #expect(r.failed && r.msg?.contains("different file systems") == true, "\(r.summary)")
        #expect(s.read("f") == "x")
    }

    @Test func checkModeLeavesNoTemporaryFiles() async throws {
        let s = try FilesScratch()
        try s.write("f", "a\n")
        let before = s.tree(times: true)
        for (m, args) in [(LineInFileModule.self as any Module.Type, ["path": Value.string(s.path("f")), "line": "b", "backup": true]),
                          (CopyModule.self, ["content": "b\n", "dest": .string(s.path("f")), "backup": true, "validate": "false %s"]),
                          (BlockInFileModule.self, ["path": .string(s.path("new/f")), "block": "x", "create": true]),
                          (FileModule.self, ["path": .string(s.path("f")), "state": "absent"]),
                          (MoveModule.self, ["src": .string(s.path("f")), "dest": .string(s.path("g"))])] {
            let r = try await FilesRunner.run(m, ValueDict(args.map { ($0.key, $0.value) }), check: true, diff: true)
            #expect(r.changed && !r.failed, "\(m.name): \(r.summary)")
        }
        #expect(s.tree(times: true) == before)
    }

    @Test func waitForSkipsInCheckModeAndTimesOut() async throws {
        let r = try await FilesRunner.run(WaitForModule.self, ["timeout": 1], check: true)
        #expect(r.skipped && r.msg == "remote module (wait_for) does not support check mode")
        let slept = try await FilesRunner.run(WaitForModule.self, ["timeout": 1])
        #expect(!slept.failed && (slept.values["elapsed"]?.intValue ?? 0) >= 1)
    }

    @Test func waitForPortStartedAndStopped() async throws {
        let listener = try FilesTCPListener()
        let port = listener.port
        let r = try await FilesRunner.run(WaitForModule.self, ["port": .int(port), "timeout": 5, "connect_timeout": 1])
        #expect(!r.failed, "\(r.summary)")
        #expect(r.values["port_probe"] == "bash /dev/tcp")
        listener.close()
        let stopped = try await FilesRunner.run(WaitForModule.self, ["port": .int(port), "state": "stopped", "timeout": 5, "connect_timeout": 1])
        #expect(!stopped.failed, "\(stopped.summary)")
        let timeout = try await FilesRunner.run(WaitForModule.self, ["port": .int(port), "timeout": 1, "connect_timeout": 1])
        #expect(timeout.failed && timeout.msg == "Timeout when waiting for 127.0.0.1:\(port)")
        let drained = try await FilesRunner.run(WaitForModule.self, ["port": .int(port), "state": "drained", "timeout": 2])
        #expect(!drained.failed, "\(drained.summary)")
    }

    @Test func waitForFileWithGroups() async throws {
        let s = try FilesScratch()
        try s.write("log", "x\ncompleted task42\n")
        let r = try await FilesRunner.run(WaitForModule.self, ["path": .string(s.path("log")), "search_regex": "completed (?P<task>\\w+)", "timeout": 2])
        #expect(r.values["match_groupdict"] == ["task": "task42"])
        #expect(r.values["match_groups"] == ["task42"])
    }
}

/// A TCP listener on 127.0.0.1 that accepts nothing: the kernel completes connections from its backlog.
final class FilesTCPListener: @unchecked Sendable {
    private var fd: Int32
    let port: Int

    init() throws {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) } }
        guard bound == 0, listen(sock, 64) == 0 else { throw FilesArgumentError(problems: []) }
        withUnsafeMutablePointer(to: &addr) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(sock, $0, &len) } }
        fd = sock
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func close() { if fd >= 0 { _ = Glibc.close(fd); fd = -1 } }
    deinit { close() }
}
