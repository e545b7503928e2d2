import PKSPlayCore
import Testing

/// FIPS 180-4 / RFC 1321 example vectors: the empty message, "abc" and the 448-bit message.
private let vectors: [(Digest.Algorithm, String, String)] = {
    let long = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    return [
        (.md5, "", "d41d8cd98f00b204e9800998ecf8427e"),
        (.md5, "abc", "900150983cd24fb0d6963f7d28e17f72"),
        (.md5, long, "8215ef0796a20bcaaae116d3876c664a"),
        (.sha1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (.sha1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (.sha1, long, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        (.sha224, "", "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"),
        (.sha224, "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        (.sha224, long, "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525"),
        (.sha256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (.sha256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (.sha256, long, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (.sha384, "", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"),
        (.sha384, "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        (.sha384, long, "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b"),
        (.sha512, "", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
        (.sha512, "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        (.sha512, long, "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"),
    ]
}()

@Suite struct DigestTests {
    @Test(arguments: vectors)
    func standardVector(_ algorithm: Digest.Algorithm, _ message: String, _ expected: String) {
        #expect(Digest.hex(Digest.hash(algorithm, Array(message.utf8))) == expected)
    }

    @Test func sha256OfAMillionAs() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Digest.hex(Digest.sha256(message)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, fed in uneven pieces, match the one-shot digest.
    @Test(arguments: [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200])
    func incrementalSHA256MatchesOneShot(_ length: Int) {
        let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var state = Digest.SHA256()
        var offset = 0
        var piece = 1
        while offset < message.count {
            let end = min(message.count, offset + piece)
            state.update(message[offset..<end])
            offset = end
            piece = piece * 3 % 70 + 1
        }
        #expect(state.finalize() == Digest.sha256(message))
        #expect(Digest.sha256(message).count == 32)
    }

    @Test func finalizeLeavesTheStateUsable() {
        var state = Digest.SHA256()
        state.update(Array("ab".utf8))
        let early = state.finalize()
        state.update(Array("c".utf8))
        #expect(Digest.hex(early) == Digest.hex(Digest.sha256(Array("ab".utf8))))
        #expect(Digest.hex(state.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func algorithmNamesAreHashlibNames() {
        #expect(Digest.Algorithm.allCases.map(\.rawValue) == ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
        #expect(Digest.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    }
}
