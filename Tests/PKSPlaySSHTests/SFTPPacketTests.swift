import Testing

@testable import PKSPlaySSH

@Suite("The SFTP packets the session writes and reads itself (for posix-rename)")
struct SFTPPacketTests {
    @Test func encodesLengthTypeNumbersAndStrings() {
        var packet = SFTPPacket(type: SFTPPacket.extended)
        packet.append(UInt32(7))
        packet.append(string: "é")
        #expect(packet.bytes == [0, 0, 0, 11, 200, 0, 0, 0, 7, 0, 0, 0, 2, 0xC3, 0xA9])
    }

    @Test func readsTheExtensionsOfAVersionPacket() {
        let version: [UInt8] = [2, 0, 0, 0, 3] + string("posix-rename@openssh.com") + string("1") + string("fsync@openssh.com") + string("1")
        #expect(SFTPPacket.extensions(inVersion: version) == ["posix-rename@openssh.com", "fsync@openssh.com"])
        #expect(SFTPPacket.extensions(inVersion: [2, 0, 0, 0, 3]) == [])
    }

    @Test("a truncated or foreign packet is nil, never a trap", arguments: [
        [UInt8](), [2], [2, 0, 0], [2, 0, 0, 0, 3, 0, 0, 0, 9, 65], [2, 0, 0, 0, 3, 0, 0, 0, 1, 65], [101, 0, 0, 0, 3],
    ])
    func truncatedPacketsAreRefused(_ bytes: [UInt8]) {
        #expect(SFTPPacket.extensions(inVersion: bytes) == nil)
        #expect(SFTPStatus(bytes) == nil)
    }

    @Test func readsAStatusWithOrWithoutItsMessage() throws {
        let full = try #require(SFTPStatus([101, 0, 0, 0, 9, 0, 0, 0, 4] + string("Failure") + string("")))
        #expect(full.id == 9 && full.code == 4 && full.message == "Failure")
        let bare = try #require(SFTPStatus([101, 0, 0, 0, 1, 0, 0, 0, 0]))
        #expect(bare.code == 0 && bare.message == "")
    }

    private func string(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [0, 0, 0, UInt8(utf8.count)] + utf8
    }
}
