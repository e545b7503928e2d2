import Foundation

/// SHA-256, HMAC-SHA-256, PBKDF2 and MD5: just enough to read and write PostgreSQL password
/// verifiers without a dependency.
///
/// These are only used to compare a password with a stored verifier and to build a new one, so
/// speed matters little; correctness is checked against the RFC test vectors in the tests.
enum PGCrypto {
    // MARK: SHA-256 (FIPS 180-4)

    /// An incremental SHA-256; copyable, so an HMAC can keep its keyed inner and outer states.
    struct SHA256State {
        private var h: [UInt32] = [
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
        ]
        private var buffer: [UInt8] = []
        private var length: UInt64 = 0

        private static let k: [UInt32] = [
            0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
            0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
            0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
            0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
            0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
            0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
            0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
            0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
        ]

        init() {}

        mutating func update(_ bytes: some Sequence<UInt8>) {
            let input = Array(bytes)
            length &+= UInt64(input.count)
            var offset = 0
            while offset < input.count {
                let take = min(64 - buffer.count, input.count - offset)
                buffer.append(contentsOf: input[offset..<offset + take])
                offset += take
                if buffer.count == 64 {
                    compress(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        }

        func finalize() -> [UInt8] {
            var copy = self
            let bitLength = length &* 8
            var tail: [UInt8] = [0x80]
            tail += [UInt8](repeating: 0, count: (buffer.count < 56 ? 55 : 119) - buffer.count)
            tail += (0..<8).reversed().map { UInt8(truncatingIfNeeded: bitLength >> (UInt64($0) * 8)) }
            copy.update(tail)
            var out = [UInt8]()
            out.reserveCapacity(32)
            for word in copy.h {
                out += [UInt8(truncatingIfNeeded: word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
            }
            return out
        }

        private mutating func compress(_ block: [UInt8]) {
            @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                block.withUnsafeBufferPointer { m in
                    for i in 0..<16 {
                        w[i] = UInt32(m[i * 4]) << 24 | UInt32(m[i * 4 + 1]) << 16 | UInt32(m[i * 4 + 2]) << 8 | UInt32(m[i * 4 + 3])
                    }
                }
                for i in 16..<64 {
                    let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                    let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                    w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                }
                Self.k.withUnsafeBufferPointer { k in
                    for i in 0..<64 {
                        let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                        let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                    }
                }
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
    }

    static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var s = SHA256State()
        s.update(bytes)
        return s.finalize()
    }

    // MARK: HMAC-SHA-256 (RFC 2104) and PBKDF2 (RFC 8018)

    /// An HMAC key with its inner and outer states precomputed, so PBKDF2's thousands of rounds
    /// each cost two compressions per state instead of rehashing the key.
    struct HMACKey {
        let inner: SHA256State
        let outer: SHA256State

        init(_ key: [UInt8]) {
            var k = key.count > 64 ? PGCrypto.sha256(key) : key
            k += [UInt8](repeating: 0, count: 64 - k.count)
            var i = SHA256State(), o = SHA256State()
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

    // MARK: MD5 (RFC 1321), for PostgreSQL's legacy `md5` verifiers only

    static func md5(_ message: [UInt8]) -> [UInt8] {
        let s: [UInt32] = [
            7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
        ]
        let k: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296)) }
        var a0: UInt32 = 0x6745_2301, b0: UInt32 = 0xefcd_ab89, c0: UInt32 = 0x98ba_dcfe, d0: UInt32 = 0x1032_5476
        var msg = message
        let bitLength = UInt64(message.count) &* 8
        msg.append(0x80)
        while msg.count % 64 != 56 { msg.append(0) }
        msg += (0..<8).map { UInt8(truncatingIfNeeded: bitLength >> (UInt64($0) * 8)) }
        for chunk in stride(from: 0, to: msg.count, by: 64) {
            let m: [UInt32] = (0..<16).map { i in
                let o = chunk + i * 4
                return UInt32(msg[o]) | UInt32(msg[o + 1]) << 8 | UInt32(msg[o + 2]) << 16 | UInt32(msg[o + 3]) << 24
            }
            var a = a0, b = b0, c = c0, d = d0
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ k[i] &+ m[g]
                a = d; d = c; c = b
                b = b &+ ((f << s[i]) | (f >> (32 - s[i])))
            }
            a0 &+= a; b0 &+= b; c0 &+= c; d0 &+= d
        }
        return [a0, b0, c0, d0].flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (UInt32($0) * 8)) } }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
