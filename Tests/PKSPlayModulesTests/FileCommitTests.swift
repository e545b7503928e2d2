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

    init(failRename: Bool = false) { self.failRename = failRename }

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

    func rename(_ source: String, to destination: String) async throws {
        note("rename \(source) \(destination)")
        if failRename { throw ConnectionError.fileTransfer(path: destination, reason: "cannot rename \(source) to it: injected") }
        try await inner.rename(source, to: destination)
    }

    func close() async {}
}

@Suite("How a file edit is committed: the common case costs one command on the host")
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
}
