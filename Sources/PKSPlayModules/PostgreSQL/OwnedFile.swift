import Foundation
import PKSPlayCore

/// A file on the target whose content, mode and numeric owner are kept across a rewrite: what a
/// file in a PostgreSQL data directory needs (it belongs to the database container's uid, which
/// may have no name on the host).
///
/// A rewrite goes to a temporary file in the same directory, gets the old mode and owner, then
/// replaces the file with `mv`, so the server never reads a half-written file.
struct OwnedFile {
    var path: String
    var content: Data
    /// Permission bits, as `stat -c %a` prints them (octal text, e.g. `600`).
    var mode: String
    var uid: Int
    var gid: Int

    var journalValue: Value {
        .dict(["path": .string(path), "content": .string(content.base64EncodedString()), "mode": .string(mode),
               "uid": .int(uid), "gid": .int(gid)])
    }

    init(path: String, content: Data, mode: String, uid: Int, gid: Int) {
        self.path = path
        self.content = content
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    init?(journal: Value?) {
        guard let d = journal?.dictValue, let path = d["path"]?.stringValue, let b64 = d["content"]?.stringValue,
              let content = Data(base64Encoded: b64), let mode = d["mode"]?.stringValue, let uid = d["uid"]?.intValue,
              let gid = d["gid"]?.intValue
        else { return nil }
        self.init(path: path, content: content, mode: mode, uid: uid, gid: gid)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads the file, its mode and owner; `nil` when it does not exist.
    static func read(_ path: String, on connection: any Connection) async throws -> OwnedFile? {
        let stat = try await connection.exec(ExecRequest("stat -c '%F|%a|%u|%g' -- \(shellQuote(path))"))
        guard stat.exitStatus == 0 else {
            if stat.stderrText.contains("No such file") { return nil }
            throw Failure(description: "cannot stat \(path): \(stat.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let fields = stat.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map(String.init)
        guard fields.count == 4, let uid = Int(fields[2]), let gid = Int(fields[3]) else {
            throw Failure(description: "cannot read the mode and owner of \(path) from stat: \(stat.stdoutText)")
        }
        guard fields[0].hasPrefix("regular") else { throw Failure(description: "\(path) is not a regular file (\(fields[0]))") }
        let content = try await connection.get(path)
        return OwnedFile(path: path, content: content, mode: fields[1], uid: uid, gid: gid)
    }

    /// Replaces the file on the target with this content, mode and owner.
    func write(on connection: any Connection) async throws {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let temp = (dir.isEmpty ? "." : dir) + "/.\(base).pksplay-\(UUID().uuidString.prefix(8)).tmp"
        guard let modeBits = Int(mode, radix: 8) else { throw Failure(description: "'\(mode)' is not an octal mode") }
        try await connection.put(content, to: temp, mode: modeBits & 0o777)
        let move = try await connection.exec(ExecRequest(
            "chown \(uid):\(gid) -- \(shellQuote(temp)) && chmod \(mode) -- \(shellQuote(temp)) && mv -f -- \(shellQuote(temp)) \(shellQuote(path))"))
        guard move.exitStatus == 0 else {
            _ = try? await connection.exec(ExecRequest("rm -f -- \(shellQuote(temp))"))
            throw Failure(description: "cannot replace \(path): \(move.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Whether the file on the target is exactly this (content, mode and owner).
    func isCurrent(on connection: any Connection) async throws -> Bool {
        guard let now = try await OwnedFile.read(path, on: connection) else { return false }
        return now.content == content && now.mode == mode && now.uid == uid && now.gid == gid
    }
}
