import Foundation

/// One command to run on a target: a POSIX shell command line, run by `/bin/sh -c` locally and by
/// the login user's shell over SSH (as sshd runs commands).
public struct ExecRequest: Sendable {
    /// A POSIX shell command line; callers quote arguments with ``shellQuote(_:)``.
    public var command: String
    /// Bytes fed to the command's standard input, then end of file. `nil` gives an empty stdin.
    public var stdin: Data?
    /// Variables set for the command. Values never appear in any process's argv on the target,
    /// so secrets (a database password) may travel here.
    public var environment: [String: String]
    /// Kill the command and fail with ``ConnectionError/timeout(command:seconds:)`` after this long.
    public var timeout: Double?
    /// Called with each chunk of output as it arrives, for live progress (`pg_basebackup -P`).
    public var onOutput: (@Sendable (OutputStream, Data) -> Void)?

    public enum OutputStream: Sendable { case stdout, stderr }

    public init(
        _ command: String, stdin: Data? = nil, environment: [String: String] = [:], timeout: Double? = nil,
        onOutput: (@Sendable (OutputStream, Data) -> Void)? = nil
    ) {
        self.command = command
        self.stdin = stdin
        self.environment = environment
        self.timeout = timeout
        self.onOutput = onOutput
    }
}

/// What a command left behind: its exit status and both output streams, whole.
public struct ExecResult: Sendable, Hashable {
    public var exitStatus: Int32
    public var stdout: Data
    public var stderr: Data

    public init(exitStatus: Int32, stdout: Data = Data(), stderr: Data = Data()) {
        self.exitStatus = exitStatus
        self.stdout = stdout
        self.stderr = stderr
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Why a connection could not do what was asked. `unreachable` ends the host's run (UNREACHABLE),
/// everything else fails the task.
public enum ConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreachable(host: String, reason: String)
    case timeout(command: String, seconds: Double)
    case fileTransfer(path: String, reason: String)
    case interrupted

    public var description: String {
        switch self {
        case .unreachable(let host, let reason): return "cannot reach \(host): \(reason)"
        case .timeout(let command, let seconds): return "command timed out after \(Value.formatDouble(seconds)) s: \(command)"
        case .fileTransfer(let path, let reason): return "file transfer of \(path) failed: \(reason)"
        case .interrupted: return "interrupted"
        }
    }
}

/// How pksplay reaches one host. A module talks only to this, never to SSH or processes directly.
///
/// A connection belongs to one host and is used by one task at a time; implementations may keep a
/// session open across calls (SSH keeps one per host per run).
public protocol Connection: AnyObject, Sendable {
    /// The inventory name of the host this connection reaches.
    var hostName: String { get }
    /// Runs `request.command` through a POSIX shell on the target.
    func exec(_ request: ExecRequest) async throws -> ExecResult
    /// Writes `data` to `path` on the target, replacing it. With `mode` (for example `0o600`) the
    /// file ends with exactly that mode, and its content is never readable under a looser one
    /// while it is written; a mode without the owner's write bit (`0o444`) still works.
    func put(_ data: Data, to path: String, mode: Int?) async throws
    /// Reads the whole file at `path` on the target.
    func get(_ path: String) async throws -> Data
    /// Renames `source` to `destination` on the target in one step (rename(2)): `destination`, if
    /// it exists and is not a directory, is replaced atomically. Both are on the same file system
    /// (a temporary file beside its target).
    func rename(_ source: String, to destination: String) async throws
    /// The `lstat` of each path, in order (`nil` where nothing is there), found without running a
    /// command on the target (an SFTP request, a system call); `nil` when the transport has no such
    /// way, and then callers ask a shell. Relative paths are taken from where commands start.
    func fileStatuses(_ paths: [String]) async throws -> [FileStatus?]?
    /// Values that hold as long as the session does (the login's umask, uid and gid), kept so each
    /// task need not ask the target again; `nil` when nothing can be kept for this connection.
    var sessionMemo: SessionMemo? { get }
    /// Ends the session. Further calls fail.
    func close() async
}

/// What `lstat` says of one path.
public struct FileStatus: Sendable, Hashable {
    /// `st_mode`: the type bits (`0o100000` a regular file) and the permission bits.
    public var mode: Int
    public var uid: Int
    public var gid: Int
    public var size: Int
    /// Seconds since the epoch.
    public var atime: Int
    public var mtime: Int

    public init(mode: Int, uid: Int, gid: Int, size: Int, atime: Int, mtime: Int) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.size = size; self.atime = atime; self.mtime = mtime
    }
}

/// A small store of values keyed by name, shared by every task on one connection: what a module
/// learnt about the session once (its umask) need not be asked again. Safe from any thread.
public final class SessionMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Value] = [:]

    public init() {}

    public subscript(key: String) -> Value? {
        get { lock.withLock { values[key] } }
        set { lock.withLock { values[key] = newValue } }
    }
}

extension Connection {
    /// Without a cheaper way, callers inspect paths through a shell.
    public func fileStatuses(_ paths: [String]) async throws -> [FileStatus?]? { nil }
    public var sessionMemo: SessionMemo? { nil }

    /// Any connection can rename with `mv -T`, which never moves into a directory; transports
    /// with a cheaper way (a system call, an SFTP request) implement it themselves.
    public func rename(_ source: String, to destination: String) async throws {
        try await renameWithMove(source, to: destination)
    }

    /// `mv -f -T -- source destination` as a lone command: the shell execs `mv` in its place.
    public func renameWithMove(_ source: String, to destination: String) async throws {
        let result = try await exec(ExecRequest("mv -f -T -- \(shellQuote(source)) \(shellQuote(destination))"))
        if result.exitStatus != 0 {
            let reason = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            throw ConnectionError.fileTransfer(path: destination, reason: "cannot rename \(source) to it: \(reason.isEmpty ? "mv exited \(result.exitStatus)" : reason)")
        }
    }

    /// Convenience for `exec(ExecRequest(command))`.
    public func run(_ command: String, stdin: Data? = nil, environment: [String: String] = [:]) async throws -> ExecResult {
        try await exec(ExecRequest(command, stdin: stdin, environment: environment))
    }
}

/// Quotes one word for a POSIX shell so it reaches the command as is, whatever it holds.
public func shellQuote(_ word: String) -> String {
    if !word.isEmpty, word.unicodeScalars.allSatisfy({ CharacterSet.shellSafe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
}

/// Quotes and joins an argv for a POSIX shell.
public func shellJoin(_ argv: [String]) -> String { argv.map(shellQuote).joined(separator: " ") }

extension CharacterSet {
    static let shellSafe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")
}
