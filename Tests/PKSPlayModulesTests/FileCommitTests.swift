import Foundation
import PKSPlayCore
import Synchronization
import Testing

@testable import PKSPlayModules

/// The local connection with every call written down, and a rename that can be made to fail.
final class CommitRecordingConnection: Connection {
    let inner = FilesTestLocalConnection()
    private let log = Mutex<[String]>([])
    let failRename: Bool
    let failStatuses: Bool

    init(failRename: Bool = false, failStatuses: Bool = false) {
        self.failRename = failRename
        self.failStatuses = failStatuses
    }

    var hostName: String { inner.hostName }
    var calls: [String] { log.withLock { $0 } }
    private func note(_ call: String) { log.withLock { $0.append(call) } }

    func exec(_ request: ExecRequest) async throws -> ExecResult {
        note("exec " + request.command)
        return try await inner.exec(request)
    }

    func put(_ data: Data, to path: String, mode: Int?) async throws {
        note("put \(path) \(mode.map { String($0, radix: 8) } ?? "-")")
        try await inner.put(data, to: path, mode: mode)
    }

    func get(_ path: String) async throws -> Data {
        note("get \(path)")
        return try await inner.get(path)
    }

    func fileStatuses(_ paths: [String]) async throws -> [FileStatus?]? {
        note("lstat " + paths.joined(separator: " "))
        if failStatuses { throw ConnectionError.fileTransfer(path: paths[0], reason: "cannot inspect it: injected") }
        return try await inner.fileStatuses(paths)
    }

    var sessionMemo: SessionMemo? { inner.sessionMemo }

    func rename(_ source: String, to destination: String) async throws {
        note("rename \(source) \(destination)")
        if failRename { throw ConnectionError.fileTransfer(path: destination, reason: "cannot rename \(source) to it: injected") }
        try await inner.rename(source, to: destination)
    }

    func close() async {}
}

@Suite("How a file edit is committed: the common case costs one command on the host, none once the session is known")
struct FileCommitTests {
    @Test("an edit with nothing but content to change: inspect, read, write the temporary file in its final mode, rename")
    func commonEditIsOneCommandAndARename() async throws {
        let s = try FilesScratch()
        try s.write("conf", "a\n", mode: 0o640)
        let connection = CommitRecordingConnection()
        let r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": "b"], through: connection)
        #expect(r.changed && !r.failed, "\(r.summary)")
        #expect(s.read("conf") == "a\nb\n" && s.mode("conf") == 0o640)
        let calls = connection.calls
        #expect(calls.filter { $0.hasPrefix("exec ") }.count == 1, "\(calls)")
        #expect(calls.dropFirst().first == "get \(s.path("conf"))")
        let put = try #require(calls.first { $0.hasPrefix("put ") })
        #expect(put.hasSuffix(" 640"), "the temporary file is written in the file's mode: \(put)")
        let tmp = String(put.dropFirst(4).dropLast(4))
        #expect(calls.last == "rename \(tmp) \(s.path("conf"))")
        #expect(!s.exists(String(tmp.dropFirst(s.root.count + 1))))
    }

    @Test("a read-only file (0444) is edited and stays read-only")
    func readOnlyFileKeepsItsMode() async throws {
        let s = try FilesScratch()
        try s.write("ro", "a\n", mode: 0o444)
        let r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("ro")), "line": "b"], through: CommitRecordingConnection())
        #expect(r.changed && !r.failed, "\(r.summary)")
        #expect(s.read("ro") == "a\nb\n" && s.mode("ro") == 0o444)
    }

    @Test("a backup, a validation or an owner to set takes the longer way, through the shell")
    func otherEditsGoThroughTheShell() async throws {
        let s = try FilesScratch()
        try s.write("conf", "a\n", mode: 0o644)
        let connection = CommitRecordingConnection()
        let r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": "b", "backup": true], through: connection)
        #expect(r.changed && !r.failed, "\(r.summary)")
        #expect(!connection.calls.contains { $0.hasPrefix("rename ") })
        #expect(connection.calls.last?.contains("mv -f --") == true, "\(connection.calls)")
        #expect(s.read("conf") == "a\nb\n")
        let backup = try #require(r.values["backup_file"]?.stringValue)
        #expect(FileManager.default.contents(atPath: backup) == Data("a\n".utf8))
    }

    @Test("when the rename fails the task fails saying why, the file is untouched and no temporary file is left")
    func failedRenameChangesNothing() async throws {
        let s = try FilesScratch()
        try s.write("conf", "a\n", mode: 0o644)
        let before = s.tree()
        let log = FilesUndoLog()
        // Like a failed transfer, it reaches the engine as a ConnectionError, which fails the task
        // with this text (the host stays reachable).
        let error = await #expect(throws: ConnectionError.self) {
            try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": "b"], log: log,
                                      through: CommitRecordingConnection(failRename: true))
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.hasPrefix("file transfer of \(s.path("conf")) failed: cannot rename \(s.root)/.pksplay-"), "\(text)")
        #expect(text.hasSuffix(" to it: injected"), "\(text)")
        #expect(s.tree() == before, "the file and its directory are as they were")
        // The journal named the change before it was tried; undoing it changes nothing now.
        #expect(log.records.count == 1)
        let undone = try await FilesRunner.undoAll(log)
        #expect(undone.allSatisfy { !$0.failed })
        #expect(s.tree() == before)
    }

    @Test("once a shell has told the session's umask and ids, an edit starts no process: lstat, read, write, rename")
    func laterEditsStartNoProcess() async throws {
        let s = try FilesScratch()
        try s.write("conf", "a\n", mode: 0o640)
        let connection = CommitRecordingConnection()
        let first = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": "b"], through: connection)
        #expect(first.changed && !first.failed, "\(first.summary)")
        #expect(connection.calls.first?.hasPrefix("exec ") == true, "the first inspection asks a shell: \(connection.calls)")
        let before = connection.calls.count
        let second = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": "c"], through: connection)
        #expect(second.changed && !second.failed, "\(second.summary)")
        let calls = Array(connection.calls[before...])
        #expect(!calls.contains { $0.hasPrefix("exec ") }, "\(calls)")
        #expect(calls.first == "lstat \(s.path("conf")) \(s.root)", "the file and its directory, in one request: \(calls)")
        #expect(calls.dropFirst().first == "get \(s.path("conf"))")
        #expect(calls.contains { $0.hasPrefix("put ") && $0.hasSuffix(" 640") } && calls.last?.hasPrefix("rename ") == true, "\(calls)")
        #expect(s.read("conf") == "a\nb\nc\n" && s.mode("conf") == 0o640)

        // Unchanged, it is one lstat and one read; the same result as through the shell.
        let mark = connection.calls.count
        let again = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": "c"], through: connection)
        #expect(!again.changed && !again.failed, "\(again.summary)")
        #expect(Array(connection.calls[mark...]) == ["lstat \(s.path("conf")) \(s.root)", "get \(s.path("conf"))"])
    }

    @Test("a file created without a process gets the mode and owner a shell inspection would have given it")
    func newFileWithoutAProcessMatchesTheShell() async throws {
        let s = try FilesScratch()
        try s.create([("dir", .directory(mode: 0o755))])
        // Through the shell (a fresh connection), then without it (the same connection again).
        let connection = CommitRecordingConnection()
        let viaShell = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("dir/one")), "line": "x", "create": true], through: connection)
        let mark = connection.calls.count
        let viaStatus = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("dir/two")), "line": "x", "create": true], through: connection)
        #expect(viaShell.changed && viaStatus.changed && !viaStatus.failed, "\(viaStatus.summary)")
        #expect(!connection.calls[mark...].contains { $0.hasPrefix("exec ") }, "\(connection.calls[mark...])")
        let tree = s.tree()
        #expect(s.read("dir/two") == "x\n" && tree["dir/two"] != nil && tree["dir/two"] == tree["dir/one"], "kind, mode, owner, content: \(tree)")
    }

    @Test("a link, a backup or an owner asks the shell again, and check mode writes nothing either way")
    func linksBackupsAndOwnersStillAskTheShell() async throws {
        let s = try FilesScratch()
        try s.write("real", "a\n", mode: 0o644)
        try s.create([("link", .link("real"))])
        let connection = CommitRecordingConnection()
        _ = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("real")), "line": "a"], through: connection)
        for args: ValueDict in [["path": .string(s.path("link")), "line": "b"],
                                ["path": .string(s.path("real")), "line": "c", "backup": true],
                                ["path": .string(s.path("real")), "line": "d", "owner": .string("\(getuid())")]] {
            let mark = connection.calls.count
            let r = try await FilesRunner.run(LineInFileModule.self, args, through: connection)
            #expect(r.changed && !r.failed, "\(r.summary)")
            #expect(connection.calls[mark...].contains { $0.hasPrefix("exec ") }, "\(args): \(connection.calls[mark...])")
        }
        #expect(s.read("real") == "a\nb\nc\nd\n" && s.entry("link") == .link("real"))
        let before = s.tree()
        let mark = connection.calls.count
        let checked = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("real")), "line": "e"], check: true, diff: true, through: connection)
        #expect(checked.changed && !checked.failed && s.tree() == before)
        #expect(connection.calls[mark...].allSatisfy { $0.hasPrefix("lstat ") || $0.hasPrefix("get ") }, "\(connection.calls[mark...])")
    }

    @Test("when the connection cannot stat, the edit asks the shell instead and does the same")
    func failedStatusesFallBackToTheShell() async throws {
        let s = try FilesScratch()
        try s.write("conf", "a\n", mode: 0o600)
        let connection = CommitRecordingConnection(failStatuses: true)
        for line in ["b", "c"] {
            let mark = connection.calls.count
            let r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(s.path("conf")), "line": .string(line)], through: connection)
            #expect(r.changed && !r.failed, "\(r.summary)")
            #expect(connection.calls[mark...].filter { $0.hasPrefix("exec ") }.count == 1, "\(connection.calls[mark...])")
        }
        #expect(s.read("conf") == "a\nb\nc\n" && s.mode("conf") == 0o600)
    }
}
