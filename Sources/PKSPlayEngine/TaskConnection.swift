import Foundation
import PKSPlayCore

/// How a task asked to change user on the target (`become`).
struct BecomeSettings: Sendable, Hashable {
    var user: String
    var method: String
    var password: String?
    var flags: String?
}

/// A connection as one task sees it: `environment` added to every command and `become` applied,
/// so modules stay unaware of both.
final class TaskConnection: Connection {
    let inner: any Connection
    let environment: [String: String]
    let become: BecomeSettings?

    init(_ inner: any Connection, environment: [String: String], become: BecomeSettings?) {
        self.inner = inner
        self.environment = environment
        self.become = become
    }

    var hostName: String { inner.hostName }

    func exec(_ request: ExecRequest) async throws -> ExecResult {
        var r = request
        r.environment = environment.merging(request.environment) { _, task in task }
        guard let become else { return try await inner.exec(r) }
        r.command = wrap(r.command, keeping: Array(r.environment.keys).sorted())
        if let pw = become.password {
            // sudo -S reads the password from stdin first; the command's own stdin follows it.
            r.stdin = Data((pw + "\n").utf8) + (request.stdin ?? Data())
        }
        var result = try await inner.exec(r)
        if result.exitStatus == 1, result.stderrText.contains("a password is required") {
            result.stderr = Data("become (sudo) needs a password for \(hostName): set ansible_become_password or use --ask-become-pass\n".utf8) + result.stderr
        }
        return result
    }

    private func wrap(_ command: String, keeping names: [String]) -> String {
        guard let become else { return command }
        switch become.method {
        case "su":
            return "su \(shellQuote(become.user)) -c \(shellQuote(command))"
        default:
            var argv = ["sudo", "-H", become.password == nil ? "-n" : "-S", "-p", ""]
            if !names.isEmpty { argv.append("--preserve-env=" + names.joined(separator: ",")) }
            argv += ["-u", become.user]
            let flags = become.flags.map { " " + $0 } ?? ""
            return shellJoin(argv) + flags + " /bin/sh -c " + shellQuote(command)
        }
    }

    func put(_ data: Data, to path: String, mode: Int?) async throws {
        guard become != nil else { return try await inner.put(data, to: path, mode: mode) }
        // Write as the login user, then move into place as the become user.
        let tmp = "/tmp/.pksplay-put-\(UUID().uuidString)"
        try await inner.put(data, to: tmp, mode: 0o600)
        var cmd = "cat \(shellQuote(tmp)) > \(shellQuote(path))"
        if let mode { cmd = "umask 077; " + cmd + " && chmod \(String(mode, radix: 8)) \(shellQuote(path))" }
        let r = try await exec(ExecRequest(cmd))
        _ = try? await inner.exec(ExecRequest("rm -f \(shellQuote(tmp))"))
        guard r.exitStatus == 0 else { throw ConnectionError.fileTransfer(path: path, reason: r.stderrText) }
    }

    func get(_ path: String) async throws -> Data {
        guard become != nil else { return try await inner.get(path) }
        let r = try await exec(ExecRequest("cat \(shellQuote(path))"))
        guard r.exitStatus == 0 else { throw ConnectionError.fileTransfer(path: path, reason: r.stderrText) }
        return r.stdout
    }

    func rename(_ source: String, to destination: String) async throws {
        // As the become user when there is one: the login user may not write that directory.
        guard become != nil else { return try await inner.rename(source, to: destination) }
        try await renameWithMove(source, to: destination)
    }

    /// Only for the login user: under `become` the target user's view (and umask) may differ, so
    /// modules ask a shell that runs as that user.
    func fileStatuses(_ paths: [String]) async throws -> [FileStatus?]? {
        guard become == nil else { return nil }
        return try await inner.fileStatuses(paths)
    }

    var sessionMemo: SessionMemo? { become == nil ? inner.sessionMemo : nil }

    func close() async {}
}
