import Foundation

/// A password as PostgreSQL stores it in `pg_authid.rolpassword`: a SCRAM-SHA-256 or md5 verifier.
///
/// The module compares a wanted password with the stored verifier here, on the control machine,
/// and sends the server a new verifier rather than the password, so the plain text never reaches
/// the server (nor its statement log), an argv, or a journal.
enum PasswordVerifier: Equatable {
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5803 layout).
    case scram(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8])
    /// `md5` + hex(md5(password + role name)).
    case md5(hex: String)

    /// PostgreSQL's default for `scram_iterations`.
    static let defaultIterations = 4096

    /// Parses a stored verifier; `nil` for anything else (no password, or a format this does not know).
    init?(_ text: String) {
        if text.hasPrefix("SCRAM-SHA-256$") {
            let body = text.dropFirst("SCRAM-SHA-256$".count)
            let halves = body.split(separator: "$", omittingEmptySubsequences: false)
            guard halves.count == 2 else { return nil }
            let head = halves[0].split(separator: ":", omittingEmptySubsequences: false)
            let keys = halves[1].split(separator: ":", omittingEmptySubsequences: false)
            guard head.count == 2, keys.count == 2, let iterations = Int(head[0]), iterations > 0, iterations <= 10_000_000,
                  let salt = Data(base64Encoded: String(head[1])), let stored = Data(base64Encoded: String(keys[0])),
                  let server = Data(base64Encoded: String(keys[1])), stored.count == 32, server.count == 32
            else { return nil }
            self = .scram(iterations: iterations, salt: [UInt8](salt), storedKey: [UInt8](stored), serverKey: [UInt8](server))
        } else if text.hasPrefix("md5"), text.count == 35,
                  text.dropFirst(3).allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            self = .md5(hex: String(text.dropFirst(3)))
        } else {
            return nil
        }
    }

    /// A fresh SCRAM-SHA-256 verifier for `password` with a random 16-byte salt.
    static func makeSCRAM(password: String, iterations: Int = defaultIterations) -> PasswordVerifier {
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return makeSCRAM(password: password, salt: salt, iterations: iterations)
    }

    static func makeSCRAM(password: String, salt: [UInt8], iterations: Int) -> PasswordVerifier {
        let keys = scramKeys(password: password, salt: salt, iterations: iterations)
        return .scram(iterations: iterations, salt: salt, storedKey: keys.stored, serverKey: keys.server)
    }

    /// Whether `password` is the one this verifier was made from; `role` matters for md5 only.
    func matches(password: String, role: String) -> Bool {
        switch self {
        case .scram(let iterations, let salt, let storedKey, let serverKey):
            let keys = Self.scramKeys(password: password, salt: salt, iterations: iterations)
            return constantTimeEqual(keys.stored, storedKey) && constantTimeEqual(keys.server, serverKey)
        case .md5(let hex):
            return constantTimeEqual(Array(PGCrypto.hex(PGCrypto.md5(Array((password + role).utf8))).utf8), Array(hex.utf8))
        }
    }

    /// The text PostgreSQL stores, which `ALTER ROLE ... PASSWORD '<text>'` accepts as is.
    var text: String {
        switch self {
        case .scram(let iterations, let salt, let storedKey, let serverKey):
            return "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$\(Data(storedKey).base64EncodedString()):\(Data(serverKey).base64EncodedString())"
        case .md5(let hex):
            return "md5" + hex
        }
    }

    var isSCRAM: Bool { if case .scram = self { return true } else { return false } }

    // SaltedPassword = PBKDF2(SASLprep(password), salt, i); StoredKey = H(HMAC(SaltedPassword, "Client Key"));
    // ServerKey = HMAC(SaltedPassword, "Server Key") (RFC 5802 section 3).
    private static func scramKeys(password: String, salt: [UInt8], iterations: Int) -> (stored: [UInt8], server: [UInt8]) {
        let salted = PGCrypto.pbkdf2SHA256(password: saslPrep(password), salt: salt, iterations: iterations)
        let key = PGCrypto.HMACKey(salted)
        let clientKey = key.mac(Array("Client Key".utf8))
        return (PGCrypto.sha256(clientKey), key.mac(Array("Server Key".utf8)))
    }

    /// SASLprep (RFC 4013) as libpq and the server apply it before hashing: non-ASCII spaces become
    /// a space, "mapped to nothing" characters go, then NFKC. As in PostgreSQL, a password whose
    /// prepared form holds a prohibited character is used as its raw bytes instead. (The bidi
    /// rules are not checked; a mixed right-to-left password may hash differently from libpq's.)
    static func saslPrep(_ password: String) -> [UInt8] {
        let raw = Array(password.utf8)
        if raw.allSatisfy({ $0 < 0x80 }) { return raw }
        let nonASCIISpaces = Set<UInt32>([0xA0, 0x1680, 0x202F, 0x205F, 0x3000]).union(0x2000...0x200B)
        let mappedToNothing = Set<UInt32>([0xAD, 0x34F, 0x1806, 0x180B, 0x180C, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF])
            .union(0xFE00...0xFE0F)
        var mapped = String.UnicodeScalarView()
        for u in password.unicodeScalars where !mappedToNothing.contains(u.value) {
            mapped.append(nonASCIISpaces.contains(u.value) ? " " : u)
        }
        let prepared = String(mapped).precomposedStringWithCompatibilityMapping
        let prohibited = prepared.unicodeScalars.contains { u in
            let v = u.value
            return v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || (0xE000...0xF8FF).contains(v)
                || (0xF0000...0x10FFFF).contains(v) || (0xFDD0...0xFDEF).contains(v) || (v & 0xFFFE) == 0xFFFE
                || (0xD800...0xDFFF).contains(v) || (0x2FF0...0x2FFB).contains(v) || (0x206A...0x206F).contains(v)
                || [0x340, 0x341, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0xFFF9, 0xFFFA, 0xFFFB, 0xFFFC, 0xFFFD, 0xE0001].contains(v)
                || (0xE0020...0xE007F).contains(v)
        }
        return prohibited ? raw : Array(prepared.utf8)
    }

    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
