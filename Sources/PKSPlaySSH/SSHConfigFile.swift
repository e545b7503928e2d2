import Foundation
import PKSPlayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an OpenSSH client config file says about one host, for the settings pksplay uses.
public struct SSHHostSettings: Sendable, Hashable {
    public var hostName: String?
    public var port: Int?
    public var user: String?
    /// Every matching `IdentityFile`, in file order, with `~` and `%` tokens expanded.
    public var identityFiles: [String] = []
    public var userKnownHostsFile: String?
    public var strictHostKeyChecking: SSHConfig.HostKeyPolicy?

    public init() {}
}

/// The subset of `~/.ssh/config` pksplay honours: `Host` blocks (patterns with `*`, `?` and `!`),
/// `HostName`, `Port`, `User`, `IdentityFile`, `UserKnownHostsFile` and `StrictHostKeyChecking`.
///
/// As in OpenSSH, the first value found for a keyword wins, except `IdentityFile`, which
/// accumulates. `Match`, `Include`, `ProxyJump` and `ProxyCommand` are not supported: they are
/// reported in ``warnings`` and their settings ignored (pksplay connects directly). Other keywords
/// are ignored silently, as they do not concern pksplay.
public struct SSHConfigFile: Sendable {
    public let path: String
    /// Things in the file pksplay does not honour, with where they are.
    public private(set) var warnings: [Diagnostic] = []

    private enum Setting: Sendable {
        case hostName(String), port(Int), user(String), identityFile(String), userKnownHostsFile(String)
        case strictHostKeyChecking(SSHConfig.HostKeyPolicy)
    }

    private struct Pattern: Sendable {
        var text: String
        var negated: Bool
    }

    private struct Block: Sendable {
        /// Empty for the lines before the first `Host`, which apply to every host.
        var patterns: [Pattern]
        /// A `Match` block: never applies.
        var ignored = false
        var settings: [Setting] = []
    }

    private var blocks: [Block] = [Block(patterns: [])]

    /// Reads `path` (`~` expanded). A missing file is an empty configuration.
    /// Throws a ``DiagnosticList`` naming each bad line.
    public static func load(_ path: String = "~/.ssh/config") throws -> SSHConfigFile {
        let expanded = expandTilde(path)
        guard FileManager.default.fileExists(atPath: expanded) else { return try SSHConfigFile(contents: "", path: expanded) }
        guard let data = FileManager.default.contents(atPath: expanded) else {
            throw DiagnosticList([Diagnostic("cannot read the SSH config file", at: SourceLocation(file: expanded, line: 0, column: 0),
                                             hint: "check its permissions")])
        }
        return try SSHConfigFile(contents: String(decoding: data, as: UTF8.self), path: expanded)
    }

    /// Parses `contents`; `path` is used in diagnostics. Throws a ``DiagnosticList`` naming each bad line.
    public init(contents: String, path: String) throws {
        self.path = path
        var errors: [Diagnostic] = []
        for (index, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let location = SourceLocation(file: path, line: index + 1, column: 1)
            let line = rawLine.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words: [String]
            do {
                words = try SSHConfigFile.split(line)
            } catch let problem as SSHConfigFile.SplitProblem {
                errors.append(Diagnostic(problem.message, at: location, hint: "close the quote"))
                continue
            }
            guard let keyword = words.first?.lowercased() else { continue }
            let arguments = Array(words.dropFirst())
            if let error = apply(keyword: keyword, original: words[0], arguments: arguments, at: location) { errors.append(error) }
        }
        if !errors.isEmpty { throw DiagnosticList(errors) }
    }

    private mutating func apply(keyword: String, original: String, arguments: [String], at location: SourceLocation) -> Diagnostic? {
        func single() -> String? { arguments.first }
        switch keyword {
        case "host":
            guard !arguments.isEmpty else { return Diagnostic("Host needs at least one pattern", at: location, hint: "for example: Host db*") }
            blocks.append(Block(patterns: arguments.map { word in
                word.hasPrefix("!") ? Pattern(text: String(word.dropFirst()).lowercased(), negated: true) : Pattern(text: word.lowercased(), negated: false)
            }))
        case "match":
            blocks.append(Block(patterns: [], ignored: true))
            warnings.append(Diagnostic("Match blocks are not supported; the settings under this one are ignored", at: location, severity: .warning))
        case "include", "proxyjump", "proxycommand":
            warnings.append(Diagnostic("\(original) is not supported by pksplay and is ignored", at: location, severity: .warning))
        case "hostname":
            guard let value = single() else { return missing(original, location) }
            add(.hostName(value))
        case "port":
            guard let value = single() else { return missing(original, location) }
            guard let port = Int(value), (1...65535).contains(port) else {
                return Diagnostic("Port '\(value)' is not a number between 1 and 65535", at: location, hint: "for example: Port 2222")
            }
            add(.port(port))
        case "user":
            guard let value = single() else { return missing(original, location) }
            add(.user(value))
        case "identityfile":
            guard let value = single() else { return missing(original, location) }
            add(.identityFile(value))
        case "userknownhostsfile":
            guard let value = single() else { return missing(original, location) }
            add(.userKnownHostsFile(value))
        case "stricthostkeychecking":
            guard let value = single() else { return missing(original, location) }
            switch value.lowercased() {
            case "yes", "true", "ask": add(.strictHostKeyChecking(.strict))
            case "accept-new": add(.strictHostKeyChecking(.acceptNew))
            case "no", "off", "false": add(.strictHostKeyChecking(.insecureOff))
            default:
                return Diagnostic("StrictHostKeyChecking '\(value)' is not one of yes, accept-new, no", at: location,
                                  hint: "pksplay treats ask as yes, since it never prompts")
            }
        default:
            break
        }
        return nil
    }

    private func missing(_ keyword: String, _ location: SourceLocation) -> Diagnostic {
        Diagnostic("\(keyword) needs a value", at: location)
    }

    private mutating func add(_ setting: Setting) {
        blocks[blocks.count - 1].settings.append(setting)
    }

    /// The settings that apply to `host` (an inventory name, matched as OpenSSH matches the name
    /// typed on its command line).
    public func settings(for host: String) -> SSHHostSettings {
        var result = SSHHostSettings()
        var rawIdentityFiles: [String] = []
        var rawKnownHosts: String?
        let name = host.lowercased()
        for block in blocks where !block.ignored && SSHConfigFile.matches(name, block.patterns) {
            for setting in block.settings {
                switch setting {
                case .hostName(let value): if result.hostName == nil { result.hostName = value }
                case .port(let value): if result.port == nil { result.port = value }
                case .user(let value): if result.user == nil { result.user = value }
                case .identityFile(let value): rawIdentityFiles.append(value)
                case .userKnownHostsFile(let value): if rawKnownHosts == nil { rawKnownHosts = value }
                case .strictHostKeyChecking(let value): if result.strictHostKeyChecking == nil { result.strictHostKeyChecking = value }
                }
            }
        }
        if let hostName = result.hostName { result.hostName = SSHConfigFile.expand(hostName, tokens: ["h": host]) }
        let tokens: [Character: String] = [
            "h": result.hostName ?? host, "n": host, "p": String(result.port ?? 22), "r": result.user ?? LocalUser.name,
            "u": LocalUser.name, "d": LocalUser.home, "i": String(getuid()),
        ]
        result.identityFiles = rawIdentityFiles.map { expandTilde(SSHConfigFile.expand($0, tokens: tokens)) }
        result.userKnownHostsFile = rawKnownHosts.map { expandTilde(SSHConfigFile.expand($0, tokens: tokens)) }
        return result
    }

    /// An ``SSHConfig`` for `host` built from this file; the caller then overrides what the
    /// inventory sets (`ansible_host`, `ansible_port`, `ansible_user`, …).
    public func config(for host: String) -> SSHConfig {
        let settings = settings(for: host)
        var config = SSHConfig(
            host: host, address: settings.hostName, port: settings.port ?? 22, user: settings.user,
            identityFiles: settings.identityFiles)
        if let file = settings.userKnownHostsFile { config.knownHostsFile = file }
        if let policy = settings.strictHostKeyChecking { config.hostKeyPolicy = policy }
        return config
    }

    // MARK: Matching and lexing

    /// True when a positive pattern matches and no negated one does; an empty list matches all.
    private static func matches(_ host: String, _ patterns: [Pattern]) -> Bool {
        if patterns.isEmpty { return true }
        var positive = false
        for pattern in patterns where wildcardMatch(host, pattern.text) {
            if pattern.negated { return false }
            positive = true
        }
        return positive
    }

    /// `*` and `?` globbing in linear passes with one backtrack point (no recursion).
    static func wildcardMatch(_ text: String, _ pattern: String) -> Bool {
        let t = Array(text), p = Array(pattern)
        var ti = 0, pi = 0
        var star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                ti += 1
                pi += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Replaces `%x` tokens; `%%` is a percent sign; unknown tokens stay as written.
    private static func expand(_ value: String, tokens: [Character: String]) -> String {
        var result = ""
        var iterator = value.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else {
                result.append(c)
                continue
            }
            guard let token = iterator.next() else {
                result.append("%")
                break
            }
            if token == "%" {
                result.append("%")
            } else if let replacement = tokens[token] {
                result += replacement
            } else {
                result += "%\(token)"
            }
        }
        return result
    }

    struct SplitProblem: Error { var message: String }

    /// Splits a line into keyword and arguments: whitespace separates, one `=` may separate the
    /// keyword from its value, double quotes group.
    private static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inQuotes = false
        var hasWord = false
        var keywordDone = false
        for c in line {
            if inQuotes {
                if c == "\"" { inQuotes = false } else { current.append(c) }
                continue
            }
            if c == "\"" {
                inQuotes = true
                hasWord = true
            } else if c == " " || c == "\t" || (c == "=" && !keywordDone && (words.isEmpty || (words.count == 1 && !hasWord))) {
                if hasWord {
                    words.append(current)
                    current = ""
                    hasWord = false
                }
                if c == "=" { keywordDone = true }
            } else {
                current.append(c)
                hasWord = true
            }
        }
        if inQuotes { throw SplitProblem(message: "unterminated quote") }
        if hasWord { words.append(current) }
        return words
    }
}
