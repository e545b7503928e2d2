import Foundation
import PKSPlayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How to reach and trust one host over SSH.
///
/// The password and a given passphrase are never printed: `description` and `dump` redact them.
public struct SSHConfig: Sendable, CustomStringConvertible, CustomReflectable {
    /// Whether a host key not yet in `knownHostsFile` is trusted.
    public enum HostKeyPolicy: String, Sendable, Hashable, CaseIterable {
        /// Only keys already in the known-hosts file are accepted (OpenSSH `StrictHostKeyChecking yes`).
        case strict
        /// An unknown host's key is recorded in the known-hosts file and trusted; a changed key is
        /// still refused (OpenSSH `accept-new`).
        case acceptNew
        /// No check at all: anyone on the path can impersonate the host. The caller must warn.
        case insecureOff
    }

    /// Where the passphrase of an encrypted private key comes from.
    public enum PassphraseSource: Sendable, Hashable {
        /// Read from this environment variable of the pksplay process when a key needs it.
        case environment(String)
        /// This passphrase.
        case given(String)
        /// Keys must be unencrypted.
        case none

        /// `PKSPLAY_SSH_PASSPHRASE`, the default.
        public static let defaultEnvironment = PassphraseSource.environment("PKSPLAY_SSH_PASSPHRASE")

        func resolve() -> String? {
            switch self {
            case .environment(let name): return Environment.value(name)
            case .given(let value): return value
            case .none: return nil
            }
        }
    }

    /// The host's inventory name, used in messages and checked in known_hosts besides `address`.
    public var host: String
    /// The name or IP address to connect to (`ansible_host`); defaults to `host`.
    public var address: String
    public var port: Int
    public var user: String
    /// Private key files tried in order. Empty means the defaults that exist:
    /// `~/.ssh/id_ed25519`, `~/.ssh/id_ecdsa`, `~/.ssh/id_rsa`.
    public var identityFiles: [String]
    /// Tried last, after keys and the agent, by `password` or `keyboard-interactive` authentication.
    public var password: String?
    public var passphrase: PassphraseSource
    /// An OpenSSH known_hosts file; `~` is expanded.
    public var knownHostsFile: String
    public var hostKeyPolicy: HostKeyPolicy
    /// Seconds allowed for each connection phase: TCP connect, then SSH handshake with
    /// authentication.
    public var connectTimeout: Double
    /// Seconds between keepalive messages while the session waits; 0 disables them. A server that
    /// stops acknowledging for three intervals is declared gone (Linux: `TCP_USER_TIMEOUT`).
    public var keepaliveInterval: Int
    /// Whether ssh-agent (`SSH_AUTH_SOCK`) is tried after the key files.
    public var useAgent: Bool
    /// Whether SFTP goes through the session's own pipelined channel when the server allows; off
    /// only in tests, to reach the libssh2 SFTP that servers without it get.
    var requestChannel = true

    public init(
        host: String, address: String? = nil, port: Int = 22, user: String? = nil, identityFiles: [String] = [],
        password: String? = nil, passphrase: PassphraseSource = .defaultEnvironment,
        knownHostsFile: String = "~/.ssh/known_hosts", hostKeyPolicy: HostKeyPolicy = .strict,
        connectTimeout: Double = 10, keepaliveInterval: Int = 15, useAgent: Bool = true
    ) {
        self.host = host
        self.address = address ?? host
        self.port = port
        self.user = user ?? LocalUser.name
        self.identityFiles = identityFiles
        self.password = password
        self.passphrase = passphrase
        self.knownHostsFile = knownHostsFile
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
        self.useAgent = useAgent
    }

    public var description: String {
        var parts = ["\(user)@\(address):\(port)"]
        if address != host { parts.append("host \(host)") }
        if !identityFiles.isEmpty { parts.append("keys \(identityFiles.joined(separator: ","))") }
        if password != nil { parts.append("password <redacted>") }
        parts.append("known_hosts \(knownHostsFile) (\(hostKeyPolicy.rawValue))")
        return "SSHConfig(" + parts.joined(separator: ", ") + ")"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["description": description], displayStyle: .struct)
    }

    /// The first problem that makes these settings unusable, in words, or nil.
    func validationProblem() -> String? {
        if address.isEmpty { return "the SSH address is empty" }
        if !(1...65535).contains(port) { return "port \(port) is not between 1 and 65535" }
        if user.isEmpty { return "the SSH user is empty" }
        if !(connectTimeout > 0 && connectTimeout <= 86_400) {
            return "the connect timeout must be between 0 and 86400 seconds, not \(connectTimeout)"
        }
        if !(0...86_400).contains(keepaliveInterval) {
            return "the keepalive interval must be 0 (off) to 86400 seconds, not \(keepaliveInterval)"
        }
        if address.contains("\0") || user.contains("\0") { return "the address or user contains a NUL byte" }
        return nil
    }

    /// The key files to try: the configured ones, else the default ones that exist.
    func keyFilesToTry() -> [String] {
        if !identityFiles.isEmpty { return identityFiles.map(expandTilde) }
        return ["id_ed25519", "id_ecdsa", "id_rsa"]
            .map { LocalUser.home + "/.ssh/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }
}

/// The user running pksplay: the defaults for the remote user and `~`.
enum LocalUser {
    static var name: String {
        passwordEntry { String(cString: $0.pw_name) } ?? Environment.value("USER") ?? "root"
    }

    static var home: String {
        if let home = Environment.value("HOME"), !home.isEmpty { return home }
        return passwordEntry { String(cString: $0.pw_dir) } ?? "/"
    }

    /// Reads this user's passwd entry with `getpwuid_r`: many sessions may ask at once, and
    /// `getpwuid` shares one static buffer between threads.
    private static func passwordEntry<T>(_ read: (passwd) -> T) -> T? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(getuid(), &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return read(entry)
    }
}

/// `~` and `~/x` become the local user's home; other paths are returned unchanged.
func expandTilde(_ path: String) -> String {
    if path == "~" { return LocalUser.home }
    if path.hasPrefix("~/") { return LocalUser.home + path.dropFirst() }
    return path
}
