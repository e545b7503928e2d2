import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The key a server proved it holds during the handshake.
public struct SSHHostKey: Sendable, Hashable, CustomStringConvertible {
    /// The key type as OpenSSH names it on the wire and in known_hosts: `ssh-ed25519`,
    /// `ecdsa-sha2-nistp256`, `ssh-rsa`.
    public var type: String
    /// `SHA256:` and the unpadded base64 of the key's SHA-256, as `ssh-keygen -l` prints it.
    public var fingerprint: String
    /// The key blob, base64-encoded as in a known_hosts line.
    public var base64: String

    /// `ED25519`, `ECDSA`, `RSA`: the short name OpenSSH prints before a fingerprint.
    public var displayType: String { HostKeyKind(wireName: type).displayName }

    public var description: String { "\(displayType) key \(fingerprint)" }
}

/// Host key types as libssh2 numbers them, with their OpenSSH names.
enum HostKeyKind: CaseIterable {
    case ed25519, ecdsa256, ecdsa384, ecdsa521, rsa, dss, unknown

    init(libssh2Type: Int32) {
        switch libssh2Type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: self = .ed25519
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: self = .ecdsa256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: self = .ecdsa384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: self = .ecdsa521
        case LIBSSH2_HOSTKEY_TYPE_RSA: self = .rsa
        case LIBSSH2_HOSTKEY_TYPE_DSS: self = .dss
        default: self = .unknown
        }
    }

    init(wireName: String) {
        self = HostKeyKind.allCases.first { $0.wireName == wireName } ?? .unknown
    }

    var wireName: String {
        switch self {
        case .ed25519: return "ssh-ed25519"
        case .ecdsa256: return "ecdsa-sha2-nistp256"
        case .ecdsa384: return "ecdsa-sha2-nistp384"
        case .ecdsa521: return "ecdsa-sha2-nistp521"
        case .rsa: return "ssh-rsa"
        case .dss: return "ssh-dss"
        case .unknown: return "unknown"
        }
    }

    var displayName: String {
        switch self {
        case .ed25519: return "ED25519"
        case .ecdsa256, .ecdsa384, .ecdsa521: return "ECDSA"
        case .rsa: return "RSA"
        case .dss: return "DSA"
        case .unknown: return "UNKNOWN"
        }
    }

    var knownHostMask: Int32 {
        switch self {
        case .ed25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
        case .ecdsa256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case .ecdsa384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case .ecdsa521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case .rsa: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case .dss: return LIBSSH2_KNOWNHOST_KEY_SSHDSS
        case .unknown: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
    }

    /// The names to offer in the handshake for this key type, best first.
    var hostKeyMethods: [String] {
        switch self {
        case .rsa: return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        case .unknown: return []
        default: return [wireName]
        }
    }

    /// OpenSSH's preference when nothing is known about a host, which is also the type `ssh`
    /// would have recorded, so an entry we add matches one `ssh` adds.
    static let preferenceOrder: [HostKeyKind] = [.ed25519, .ecdsa256, .ecdsa384, .ecdsa521, .rsa]
}

/// What a known_hosts file says about a key a server presented.
enum KnownHostVerdict: Equatable {
    case match
    /// An entry for this host and key type holds a different key.
    case mismatch
    /// Nothing for this key type; `otherTypes` are the types the file does know for the host.
    case notFound(otherTypes: [HostKeyKind])
    /// The key is listed under `@revoked`.
    case revoked
}

/// One known_hosts file loaded into libssh2 for checking: hashed (`|1|salt|hash`) and plain
/// entries, `[host]:port` entries, comma-separated names, all key types libssh2 parses.
///
/// Lines libssh2 cannot parse are skipped rather than failing the whole file (libssh2's own
/// `readfile` stops at the first), so one odd entry cannot hide the rest. Wildcard patterns and
/// `@cert-authority` lines are not supported; `@revoked` lines are honoured.
final class KnownHostsStore {
    private let hosts: OpaquePointer
    private(set) var revokedKeys: Set<String> = []
    private(set) var skippedLines: [Int] = []
    let path: String

    init?(session: OpaquePointer, path: String) {
        guard let hosts = libssh2_knownhost_init(session) else { return nil }
        self.hosts = hosts
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let text = String(decoding: data, as: UTF8.self)
        // Spaces and tabs at either end are trimmed without Foundation (NSString on Linux): a
        // file of 50 hosts is read once per host, on the way to every connection.
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.drop(while: isBlank)
            while let last = line.last, isBlank(last) { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@") {
                let fields = line.split(whereSeparator: isBlank)
                if fields.first == "@revoked", fields.count >= 4 { revokedKeys.insert(String(fields[3])) }
                continue
            }
            let bytes = KnownHostsStore.readlineBytes(String(line))
            let rc = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    libssh2_knownhost_readline(hosts, $0.baseAddress, $0.count, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
                }
            }
            if rc != 0 { skippedLines.append(index + 1) }
        }
    }

    deinit { libssh2_knownhost_free(hosts) }

    /// One known_hosts line as `libssh2_knownhost_readline` must be given it: ending in `\n`,
    /// counted in its length.
    ///
    /// libssh2 (1.10) looks for the line's newline one byte *past* the length it is given when
    /// the line has none: if the byte that happens to follow the buffer in memory is `\n`, it
    /// drops the key's last character. The entry then holds a key one character short, and the
    /// right host key is reported as a MISMATCH: the intermittent "HOST KEY MISMATCH" seen in
    /// the lab's rollbacks, gone on a fresh connection (other memory).
    static func readlineBytes(_ line: String) -> [UInt8] {
        Array(line.utf8) + [0x0A]
    }

    /// The form OpenSSH looks a host up by: `name` on port 22, `[name]:port` otherwise.
    static func entryName(_ name: String, port: Int) -> String {
        port == 22 ? name.lowercased() : "[\(name.lowercased())]:\(port)"
    }

    /// Checks `key` against the entries for every name in `names`. A mismatch under any name wins
    /// over a match under another: a stale or conflicting entry must be resolved, not ignored.
    func check(key: SSHHostKey, kind: HostKeyKind, blob: [UInt8], names: [String], port: Int) -> KnownHostVerdict {
        if revokedKeys.contains(key.base64) { return .revoked }
        var matched = false
        for name in names {
            let result = blob.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    libssh2_knownhost_checkp(
                        hosts, KnownHostsStore.entryName(name, port: port), -1, $0.baseAddress, $0.count,
                        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kind.knownHostMask, nil)
                }
            }
            if result == LIBSSH2_KNOWNHOST_CHECK_MISMATCH { return .mismatch }
            if result == LIBSSH2_KNOWNHOST_CHECK_MATCH { matched = true }
        }
        if matched { return .match }
        return .notFound(otherTypes: knownKinds(names: names, port: port).filter { $0 != kind })
    }

    /// The key types the file holds for any of `names`, in preference order.
    ///
    /// libssh2 has no lookup by name (hashed entries need the HMAC it computes), so this asks it to
    /// check a key that cannot match: "mismatch" then means an entry of that type exists.
    func knownKinds(names: [String], port: Int) -> [HostKeyKind] {
        let probe = Array("pksplay-probe-not-a-key".utf8)
        return HostKeyKind.preferenceOrder.filter { kind in
            names.contains { name in
                probe.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) {
                        libssh2_knownhost_checkp(
                            hosts, KnownHostsStore.entryName(name, port: port), -1, $0.baseAddress, $0.count,
                            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | kind.knownHostMask, nil)
                    } == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
                }
            }
        }
    }
}

/// Appends accepted keys to known_hosts files. One lock for the process: many sessions may
/// accept new keys at once, and each line must land whole.
enum KnownHostsWriter {
    private static let lock = NSLock()

    /// Appends `names keytype base64` to `path`, creating the file (0600) and its directory (0700).
    static func append(names: [String], port: Int, key: SSHHostKey, to path: String) throws(SessionFailure) {
        let entry = names.map { KnownHostsStore.entryName($0, port: port) }
        var seen = Set<String>()
        let unique = entry.filter { seen.insert($0).inserted }
        let line = unique.joined(separator: ",") + " \(key.type) \(key.base64)\n"
        lock.lock()
        defer { lock.unlock() }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw .transport("cannot create \(directory) to record the host key: \(error.localizedDescription)")
            }
        }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .transport("cannot open \(path) to record the host key: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // A file whose last line lacks its newline would glue our entry onto it.
        var needsNewline = false
        var status = stat()
        if fstat(fd, &status) == 0, status.st_size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, off_t(status.st_size - 1)) == 1, last != UInt8(ascii: "\n") { needsNewline = true }
        }
        let bytes = Array(((needsNewline ? "\n" : "") + line).utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw .transport("cannot write the host key to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
