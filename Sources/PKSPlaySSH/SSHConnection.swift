import Foundation
import PKSPlayCore

/// A ``Connection`` to one host over one SSH session (libssh2), opened once and reused: each
/// `exec` is a new channel on it, `put` and `get` share one SFTP channel.
///
/// The session lives on its own thread; calls from any task queue up there and run one at a
/// time. Errors: ``ConnectionError/unreachable(host:reason:)`` when the connection cannot be made
/// or breaks (after which every call fails the same way at once),
/// ``ConnectionError/timeout(command:seconds:)``, ``ConnectionError/fileTransfer(path:reason:)``,
/// ``ConnectionError/interrupted`` when the calling task is cancelled, and ``SSHRequestError`` for
/// a request that cannot be sent as given.
///
/// Commands run through the target user's login shell, as sshd runs them (`$SHELL -c`), which for
/// the usual users is a POSIX shell. Before the command the shell prints its PID into a frame on
/// stderr that is stripped here; it lets a timeout kill the command's whole process group.
public final class SSHConnection: Connection {
    public let hostName: String
    /// The settings this connection was made with.
    public let config: SSHConfig
    /// The host key the server proved it holds.
    public let hostKey: SSHHostKey
    /// True when the key was unknown and has just been recorded (policy `acceptNew`).
    public let hostKeyRecorded: Bool
    /// How authentication succeeded: `publickey /path`, `ssh-agent key …`, `password`.
    public let authentication: String
    /// Lines of the known_hosts file libssh2 could not parse and that were ignored (1-based).
    public let skippedKnownHostsLines: [Int]

    private let worker: SessionWorker

    private init(config: SSHConfig, worker: SessionWorker, info: ConnectInfo) {
        hostName = config.host
        self.config = config
        self.worker = worker
        hostKey = info.hostKey
        hostKeyRecorded = info.hostKeyRecorded
        authentication = info.authentication
        skippedKnownHostsLines = info.skippedKnownHostsLines
    }

    deinit { worker.shutdown() }

    /// Connects, checks the host key against known_hosts under `config.hostKeyPolicy`, and
    /// authenticates (key files, then ssh-agent, then password).
    ///
    /// Throws ``ConnectionError/unreachable(host:reason:)`` whose reason says precisely why: the
    /// name did not resolve, the connection was refused or timed out, the host key is unknown or
    /// changed (with its `SHA256:` fingerprint), or every authentication attempt failed (each one
    /// listed). Safe to call for many hosts at once: each connection gets its own thread.
    public static func connect(_ config: SSHConfig) async throws -> SSHConnection {
        let worker: SessionWorker
        do {
            worker = try SessionWorker(config: config)
        } catch {
            throw ConnectionError.unreachable(host: config.host, reason: "\(error)")
        }
        worker.start()
        do {
            let info = try await worker.perform { session in
                try translate(host: config.host, command: nil, path: nil, timeout: nil) { try session.connect() }
            }
            return SSHConnection(config: config, worker: worker, info: info)
        } catch {
            worker.shutdown()
            throw error
        }
    }

    public func exec(_ request: ExecRequest) async throws -> ExecResult {
        let host = hostName
        return try await worker.perform { session in
            try translate(host: host, command: request.command, path: nil, timeout: request.timeout) { try session.exec(request) }
        }
    }

    public func put(_ data: Data, to path: String, mode: Int?) async throws {
        let host = hostName
        try await worker.perform { session in
            try translate(host: host, command: nil, path: path, timeout: nil) { try session.put(data, to: path, mode: mode) }
        }
    }

    public func get(_ path: String) async throws -> Data {
        let host = hostName
        return try await worker.perform { session in
            try translate(host: host, command: nil, path: path, timeout: nil) { try session.get(path) }
        }
    }

    public func rename(_ source: String, to destination: String) async throws {
        let host = hostName
        try await worker.perform { session in
            try translate(host: host, command: nil, path: destination, timeout: nil) { try session.rename(source, to: destination) }
        }
    }

    /// LSTAT over the session's SFTP request channel: no process on the host.
    public func fileStatuses(_ paths: [String]) async throws -> [FileStatus?]? {
        let host = hostName
        return try await worker.perform { session in
            try translate(host: host, command: nil, path: paths.first ?? "", timeout: nil) { try session.statusesPipelined(paths) }
        }
    }

    public let sessionMemo: SessionMemo? = SessionMemo()

    /// Ends the session (SFTP, then an SSH disconnect) and its thread. Calls made after this fail
    /// with ``ConnectionError/unreachable(host:reason:)``; calling it again does nothing.
    public func close() async {
        _ = try? await worker.perform { session in session.terminate() }
        worker.shutdown()
    }
}

/// A request that cannot be sent as given (an invalid environment variable name, a file mode out
/// of range). Nothing was run on the host.
public struct SSHRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs `body` and turns a ``SessionFailure`` into the error the ``Connection`` contract names.
private func translate<T>(host: String, command: String?, path: String?, timeout: Double?, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as SessionFailure {
        switch failure {
        case .transport(let reason):
            throw ConnectionError.unreachable(host: host, reason: reason)
        case .refused(let reason), .sftp(_, let reason):
            if let path { throw ConnectionError.fileTransfer(path: path, reason: reason) }
            throw ConnectionError.unreachable(host: host, reason: reason)
        case .fileTransfer(let path, let reason):
            throw ConnectionError.fileTransfer(path: path, reason: reason)
        case .invalidRequest(let message):
            throw SSHRequestError(message)
        case .timedOut:
            throw ConnectionError.timeout(command: command ?? path ?? "SSH operation", seconds: timeout ?? 0)
        case .cancelled:
            throw ConnectionError.interrupted
        }
    }
}
