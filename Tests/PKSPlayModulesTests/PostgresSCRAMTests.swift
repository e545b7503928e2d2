import Foundation
@testable import PKSPlayModules
import Testing

/// Hash primitives and password verifiers against published vectors (FIPS 180-2 examples,
/// RFC 4231 HMAC cases, RFC 7914 section 11 PBKDF2-HMAC-SHA-256, RFC 1321 MD5, and the RFC 7677
/// SCRAM-SHA-256 example, whose StoredKey/ServerKey were computed once with Python's hashlib).
@Suite("PostgreSQL password verifiers")
struct PostgresSCRAMTests {
    @Test("SHA-256", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (String(repeating: "a", count: 1000), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func sha256(message: String, digest: String) {
        #expect(PGCrypto.hex(PGCrypto.sha256(Array(message.utf8))) == digest)
    }

    @Test("HMAC-SHA-256 (RFC 4231 cases 1, 2 and 6)", arguments: [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ])
    func hmac(key: [UInt8], message: [UInt8], mac: String) {
        #expect(PGCrypto.hex(PGCrypto.hmacSHA256(key: key, message: message)) == mac)
    }

    @Test("PBKDF2-HMAC-SHA-256 (RFC 7914 section 11 and common vectors)")
    func pbkdf2() {
        #expect(PGCrypto.hex(PGCrypto.pbkdf2SHA256(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64))
                == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
        #expect(PGCrypto.hex(PGCrypto.pbkdf2SHA256(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 1))
                == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
        #expect(PGCrypto.hex(PGCrypto.pbkdf2SHA256(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 4096))
                == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }

    @Test("MD5 (RFC 1321 test suite)", arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ])
    func md5(message: String, digest: String) {
        #expect(PGCrypto.hex(PGCrypto.md5(Array(message.utf8))) == digest)
    }

    static let rfc7677 = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

    @Test("a SCRAM verifier matches its password and no other")
    func scramMatches() throws {
        let v = try #require(PasswordVerifier(Self.rfc7677))
        #expect(v.matches(password: "pencil", role: "user"))
        #expect(!v.matches(password: "pencil ", role: "user"))
        #expect(!v.matches(password: "Pencil", role: "user"))
        #expect(v.text == Self.rfc7677)
        // Built with the same salt, a verifier is the published one.
        let salt = [UInt8](Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
        #expect(PasswordVerifier.makeSCRAM(password: "pencil", salt: salt, iterations: 4096).text == Self.rfc7677)
    }

    @Test("an md5 verifier is md5(password + role name)")
    func md5Matches() throws {
        let v = try #require(PasswordVerifier("md516c88833a1b57a01c17884e8c49739f2"))
        #expect(v.matches(password: "pencil", role: "repuser"))
        #expect(!v.matches(password: "pencil", role: "other"))
        #expect(!v.isSCRAM)
    }

    @Test("fresh verifiers use a new salt each time and still match")
    func freshVerifiers() throws {
        let a = PasswordVerifier.makeSCRAM(password: "s3cret")
        let b = PasswordVerifier.makeSCRAM(password: "s3cret")
        #expect(a != b)
        #expect(a.matches(password: "s3cret", role: "x") && b.matches(password: "s3cret", role: "x"))
        #expect(PasswordVerifier(a.text) == a)
    }

    @Test("stored values that are not verifiers are recognised as such", arguments: [
        "", "plain", "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:salt$x:y", "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$99999999999:AAAA$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "md5short", "md5ZZc88833a1b57a01c17884e8c49739f2",
    ])
    func notVerifiers(text: String) {
        #expect(PasswordVerifier(text) == nil)
    }

    @Test("SASLprep: ASCII unchanged, non-ASCII spaces mapped, soft hyphen dropped, NFKC applied")
    func saslPrep() {
        #expect(PasswordVerifier.saslPrep("pencil") == Array("pencil".utf8))
        #expect(PasswordVerifier.saslPrep("a\u{A0}b") == Array("a b".utf8))
        #expect(PasswordVerifier.saslPrep("a\u{AD}b") == Array("ab".utf8))
        #expect(PasswordVerifier.saslPrep("\u{2168}") == Array("IX".utf8))
        // A prohibited character (a control character after mapping) keeps the raw bytes.
        #expect(PasswordVerifier.saslPrep("é\u{7}") == Array("é\u{7}".utf8))
    }
}
