import PKSPlayCore

/// HMAC-SHA-256 and PBKDF2 over Core's SHA-256, plus MD5: just enough to read and write PostgreSQL
/// password verifiers without a dependency.
///
/// These are only used to compare a password with a stored verifier and to build a new one, so
/// speed matters little; correctness is checked against the RFC test vectors in the tests.
enum PGCrypto {
    static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Digest.sha256(bytes)
    }

    // MARK: HMAC-SHA-256 (RFC 2104) and PBKDF2 (RFC 8018)

    /// An HMAC key with its inner and outer states precomputed, so PBKDF2's thousands of rounds
    /// each cost two compressions per state instead of rehashing the key.
    struct HMACKey {
        let inner: Digest.SHA256
        let outer: Digest.SHA256

        init(_ key: [UInt8]) {
            var k = key.count > 64 ? PGCrypto.sha256(key) : key
            k += [UInt8](repeating: 0, count: 64 - k.count)
            var i = Digest.SHA256(), o = Digest.SHA256()
            i.update(k.map { $0 ^ 0x36 })
            o.update(k.map { $0 ^ 0x5c })
            inner = i
            outer = o
        }

        func mac(_ message: some Sequence<UInt8>) -> [UInt8] {
            var i = inner
            i.update(message)
            var o = outer
            o.update(i.finalize())
            return o.finalize()
        }
    }

    static func hmacSHA256(key: [UInt8], message: some Sequence<UInt8>) -> [UInt8] {
        HMACKey(key).mac(message)
    }

    /// PBKDF2 with HMAC-SHA-256; `iterations` must be at least 1.
    static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int = 32) -> [UInt8] {
        let key = HMACKey(password)
        var out: [UInt8] = []
        var blockIndex: UInt32 = 1
        while out.count < length {
            var u = key.mac(salt + [UInt8(blockIndex >> 24), UInt8(blockIndex >> 16 & 0xff), UInt8(blockIndex >> 8 & 0xff), UInt8(blockIndex & 0xff)])
            var t = u
            if iterations > 1 {
                for _ in 1..<iterations {
                    u = key.mac(u)
                    for j in 0..<t.count { t[j] ^= u[j] }
                }
            }
            out += t
            blockIndex += 1
        }
        return Array(out.prefix(length))
    }

    /// MD5, for PostgreSQL's legacy `md5` verifiers only.
    static func md5(_ message: [UInt8]) -> [UInt8] {
        Digest.md5(message)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        Digest.hex(bytes)
    }
}
