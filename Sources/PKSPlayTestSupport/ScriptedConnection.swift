import Foundation
import PKSPlayCore

/// A ``Connection`` that answers from a script instead of a host, and records every request.
///
/// Rules are tried in the order they were added; the first whose matcher accepts the command
/// answers it. A rule given `times:` answers that many requests and then steps aside, so a test
/// can script "absent, then present". A command no rule matches gets exit status 127 and a stderr
/// naming the command (or a thrown ``Unscripted`` error with `strict: true`), so a missing rule shows
/// up in the failure rather than as a silent success.
///
/// `put` and `get` work on an in-memory file map (``files``), which tests may read and seed.
public final class ScriptedConnection: Connection, @unchecked Sendable {
    /// Which commands a rule answers.
    public enum Matcher: Sendable, CustomStringConvertible {
        case any
        case exact(String)
        case prefix(String)
        case contains(String)
        /// An `NSRegularExpression` pattern searched anywhere in the command.
        case regex(String)
        case predicate(@Sendable (String) -> Bool)

        public func matches(_ command: String) -> Bool {
            switch self {
            case .any: return true
            case .exact(let s): return command == s
            case .prefix(let s): return command.hasPrefix(s)
            case .contains(let s): return command.contains(s)
            case .regex(let pattern):
                guard let re = try? NSRegularExpression(pattern: pattern) else { return false }
                return re.firstMatch(in: command, range: NSRange(command.startIndex..., in: command)) != nil
            case .predicate(let p): return p(command)
            }
        }

        public var description: String {
            switch self {
            case .any: return "any command"
            case .exact(let s): return "exactly '\(s)'"
            case .prefix(let s): return "starting with '\(s)'"
            case .contains(let s): return "containing '\(s)'"
            case .regex(let s): return "matching /\(s)/"
            case .predicate: return "a predicate"
            }
        }
    }

    /// One request as the connection received it.
    public struct Request: Sendable {
        public var command: String
        public var stdin: Data?
        public var environment: [String: String]
        public var timeout: Double?
        public var stdinText: String? { stdin.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// A stored file of the in-memory map.
    public struct File: Sendable, Hashable {
        public var data: Data
        public var mode: Int?
        public init(_ data: Data, mode: Int? = nil) {
            self.data = data
            self.mode = mode
        }
        public var text: String { String(decoding: data, as: UTF8.self) }
    }

    /// Thrown for an unmatched command when the connection is `strict`.
    public struct Unscripted: Error, CustomStringConvertible, Sendable {
        public var command: String
        public var description: String { "ScriptedConnection has no rule for: \(command)" }
    }

    private struct Rule {
        var matcher: Matcher
        var remaining: Int?
        var respond: @Sendable (ExecRequest) throws -> ExecResult
    }

    public let hostName: String
    /// Throw ``Unscripted`` for an unmatched command instead of answering 127.
    public let strict: Bool
    private let lock = NSLock()
    private var rules: [Rule] = []
    private var recorded: [Request] = []
    private var fileMap: [String: File] = [:]
    private var isClosed = false
    private var transfers: [(kind: String, path: String)] = []

    public init(hostName: String = "scripted", strict: Bool = false) {
        self.hostName = hostName
        self.strict = strict
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Scripting

    /// Answers commands matching `matcher` with `result`, at most `times` times when given.
    public func on(_ matcher: Matcher, times: Int? = nil, reply result: ExecResult) {
        on(matcher, times: times) { _ in result }
    }

    /// Answers commands matching `matcher` with exit status `rc` and the given output.
    public func on(_ matcher: Matcher, times: Int? = nil, rc: Int32 = 0, stdout: String = "", stderr: String = "") {
        on(matcher, times: times, reply: ExecResult(exitStatus: rc, stdout: Data(stdout.utf8), stderr: Data(stderr.utf8)))
    }

    /// Answers commands matching `matcher` by calling `respond`, which may throw (a
    /// ``ConnectionError`` to simulate a lost host).
    public func on(_ matcher: Matcher, times: Int? = nil, respond: @escaping @Sendable (ExecRequest) throws -> ExecResult) {
        locked { rules.append(Rule(matcher: matcher, remaining: times, respond: respond)) }
    }

    // MARK: Reading what happened

    /// Every exec request so far, oldest first.
    public var requests: [Request] { locked { recorded } }
    /// The commands of ``requests``.
    public var commands: [String] { requests.map(\.command) }
    /// The in-memory files, by path.
    public var files: [String: File] {
        get { locked { fileMap } }
        set { locked { fileMap = newValue } }
    }
    /// `put` and `get` calls in order, as ("put" | "get", path).
    public var fileTransfers: [(kind: String, path: String)] { locked { transfers } }
    public var closed: Bool { locked { isClosed } }

    /// Seeds or replaces one in-memory file.
    public func setFile(_ path: String, _ text: String, mode: Int? = nil) {
        locked { fileMap[path] = File(Data(text.utf8), mode: mode) }
    }

    // MARK: Connection

    public func exec(_ request: ExecRequest) async throws -> ExecResult {
        let rule: Rule? = try locked {
            if isClosed { throw ConnectionError.unreachable(host: hostName, reason: "the scripted connection was closed") }
            recorded.append(Request(command: request.command, stdin: request.stdin, environment: request.environment, timeout: request.timeout))
            guard let index = rules.firstIndex(where: { $0.matcher.matches(request.command) && ($0.remaining ?? 1) > 0 }) else {
                return nil
            }
            if let left = rules[index].remaining { rules[index].remaining = left - 1 }
            return rules[index]
        }
        guard let rule else {
            if strict { throw Unscripted(command: request.command) }
            return ExecResult(exitStatus: 127, stderr: Data("ScriptedConnection has no rule for: \(request.command)\n".utf8))
        }
        let result = try rule.respond(request)
        if let onOutput = request.onOutput {
            if !result.stdout.isEmpty { onOutput(.stdout, result.stdout) }
            if !result.stderr.isEmpty { onOutput(.stderr, result.stderr) }
        }
        return result
    }

    public func put(_ data: Data, to path: String, mode: Int?) async throws {
        try locked {
            if isClosed { throw ConnectionError.unreachable(host: hostName, reason: "the scripted connection was closed") }
            transfers.append(("put", path))
            fileMap[path] = File(data, mode: mode ?? fileMap[path]?.mode)
        }
    }

    public func get(_ path: String) async throws -> Data {
        try locked {
            if isClosed { throw ConnectionError.unreachable(host: hostName, reason: "the scripted connection was closed") }
            transfers.append(("get", path))
            guard let file = fileMap[path] else {
                throw ConnectionError.fileTransfer(path: path, reason: "No such file or directory")
            }
            return file.data
        }
    }

    public func close() async {
        locked { isClosed = true }
    }
}
