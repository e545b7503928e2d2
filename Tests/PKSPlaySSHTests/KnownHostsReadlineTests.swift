import CLibSSH2
import Foundation
@testable import PKSPlaySSH
import Testing

@Suite("known_hosts lines as libssh2 reads them")
struct KnownHostsReadlineTests {
    /// An ed25519 public key blob (type string, then 32 key bytes), as the server sends it.
    static let blob: [UInt8] = {
        var b: [UInt8] = [0, 0, 0, 11] + Array("ssh-ed25519".utf8) + [0, 0, 0, 32]
        b += (0..<32).map { UInt8(($0 * 37 + 11) & 0xFF) }
        return b
    }()

    static func verdict(_ hosts: OpaquePointer) -> Int32 {
        blob.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                libssh2_knownhost_checkp(hosts, "host1", -1, $0.baseAddress, $0.count,
                                         LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519, nil)
            }
        }
    }

    /// Reads `bytes[0..<length]` into a fresh collection and checks the key against it.
    static func readThenCheck(_ session: OpaquePointer, _ bytes: [UInt8], length: Int) -> (read: Int32, verdict: Int32) {
        let hosts = libssh2_knownhost_init(session)!
        defer { libssh2_knownhost_free(hosts) }
        let rc = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { libssh2_knownhost_readline(hosts, $0.baseAddress, length, LIBSSH2_KNOWNHOST_FILE_OPENSSH) }
        }
        return (rc, verdict(hosts))
    }

    @Test("libssh2 reads past a line without its newline, and a newline there cuts the key short; lines are given their newline")
    func newlineInsideTheLength() throws {
        try LibSSH2.ensureInitialized()
        let session = try #require(libssh2_session_init_ex(nil, nil, nil, nil))
        defer { libssh2_session_free(session) }
        let line = "host1 ssh-ed25519 " + Data(Self.blob).base64EncodedString()
        // The hazard, made certain: the byte just past the given length is a newline.
        let withNewlineAfter = Array(line.utf8) + [0x0A]
        let hazard = Self.readThenCheck(session, withNewlineAfter, length: withNewlineAfter.count - 1)
        #expect(hazard.read == 0)
        #expect(hazard.verdict == LIBSSH2_KNOWNHOST_CHECK_MISMATCH, "libssh2 no longer reads past the line: the workaround can go")
        // The same byte past the length, but not a newline: the key is whole.
        let withOtherAfter = Array(line.utf8) + [0x41]
        #expect(Self.readThenCheck(session, withOtherAfter, length: withOtherAfter.count - 1).verdict == LIBSSH2_KNOWNHOST_CHECK_MATCH)
        // What KnownHostsStore passes: the newline inside the length, whatever follows in memory.
        let given = KnownHostsStore.readlineBytes(line)
        #expect(given.last == 0x0A)
        #expect(Self.readThenCheck(session, given + [0x0A], length: given.count).verdict == LIBSSH2_KNOWNHOST_CHECK_MATCH)
        #expect(Self.readThenCheck(session, given, length: given.count).verdict == LIBSSH2_KNOWNHOST_CHECK_MATCH)
    }

    @Test("a known_hosts file's blank and indented lines, comments and markers are read as OpenSSH reads them")
    func indentedLinesCommentsAndMarkers() throws {
        try LibSSH2.ensureInitialized()
        let session = try #require(libssh2_session_init_ex(nil, nil, nil, nil))
        defer { libssh2_session_free(session) }
        let key = Data(Self.blob).base64EncodedString()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pksplay-kh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("known_hosts").path
        let lines = [
            "# a comment",
            " \t",
            "",
            "  \t# an indented comment",
            "\t host1 ssh-ed25519 \(key) \t ",
            "  @revoked * ssh-ed25519 AAAArevoked",
            "[host2]:2222 ssh-ed25519 \(key)",
            "not a known_hosts line",
        ]
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let store = try #require(KnownHostsStore(session: session, path: path))
        #expect(store.knownKinds(names: ["host1"], port: 22) == [.ed25519])
        #expect(store.knownKinds(names: ["host2"], port: 2222) == [.ed25519])
        #expect(store.knownKinds(names: ["host3"], port: 22).isEmpty)
        #expect(store.revokedKeys == ["AAAArevoked"])
        #expect(store.skippedLines == [8], "only the line that is no entry")
    }
}
