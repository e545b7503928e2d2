import PKSPlayCore
import Testing

@testable import PKSPlaySSH

@Suite("The SFTP packets the session writes and reads itself (posix-rename, pipelined writes)")
struct SFTPPacketTests {
    @Test func encodesLengthTypeNumbersAndStrings() {
        var packet = SFTPPacket(type: SFTPPacket.extended)
        packet.append(UInt32(7))
        packet.append(string: "é")
        #expect(packet.bytes == [0, 0, 0, 11, 200, 0, 0, 0, 7, 0, 0, 0, 2, 0xC3, 0xA9])
    }

    @Test func encodesOffsetsByteStringsAndPermissions() {
        var packet = SFTPPacket(type: SFTPPacket.write)
        packet.append(UInt32(2))
        packet.append(bytes: [0, 0xFF])
        packet.append(UInt64(0x1_0000_0002))
        packet.appendPermissions(0o100644)
        // The file type bits are no permission: only 0644 (0x1A4) is sent.
        #expect(packet.bytes == [0, 0, 0, 27, 6, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0xFF, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0x01, 0xA4])
    }

    @Test func readsAHandleReplyAsBytes() throws {
        // OpenSSH's handles are binary: a handle with a zero byte and one above 0x7F comes back as is.
        let reply = try #require(SFTPPacket.handle(inReply: [102, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0x80, 7]))
        #expect(reply.0 == 5 && reply.1 == [0, 0x80, 7])
        #expect(SFTPPacket.handle(inReply: [102, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0x80]) == nil, "a handle cut short")
        #expect(SFTPPacket.handle(inReply: [102, 0, 0, 0, 5, 0, 0, 0, 1, 0, 9]) == nil, "bytes after the handle")
        #expect(SFTPPacket.handle(inReply: [101, 0, 0, 0, 5, 0, 0, 0, 0]) == nil, "a status is no handle")
    }

    @Test func readsADataReply() throws {
        let reply = try #require(SFTPPacket.data(inReply: [103, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0xFF]))
        #expect(reply.0 == 9 && reply.1 == [0, 0xFF])
        #expect(SFTPPacket.data(inReply: [103, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0xFF]) == nil, "data cut short")
        #expect(SFTPPacket.data(inReply: [102, 0, 0, 0, 9, 0, 0, 0, 1, 0]) == nil, "a handle is no data")
    }

    @Test("an ATTRS reply: each field where its flag says, extended pairs passed over, nothing missing or extra")
    func readsAnAttributesReply() throws {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        let all: [UInt8] = [105] + be32(4) + be32(0x8000_000F) + be32(1) + be32(5)  // id, flags, size (64 bits)
            + be32(1000) + be32(50) + be32(0o100640) + be32(1_000_000_001) + be32(1_000_000_000)
            + be32(1) + be32(1) + [0x61] + be32(2) + [0x62, 0x63]  // one extended pair: "a" = "bc"
        let reply = try #require(SFTPPacket.attributes(inReply: all))
        #expect(reply.0 == 4)
        #expect(reply.1.fileStatus == FileStatus(mode: 0o100640, uid: 1000, gid: 50, size: (1 << 32) + 5, atime: 1_000_000_001, mtime: 1_000_000_000))
        #expect(SFTPPacket.attributes(inReply: Array(all.dropLast())) == nil, "an extended pair cut short")
        #expect(SFTPPacket.attributes(inReply: all + [0]) == nil, "a byte after the attributes")
        // Without the owner the status is unknown: the caller asks a shell instead.
        let noOwner: [UInt8] = [105] + be32(4) + be32(0x0D) + be32(0) + be32(5) + be32(0o40755) + be32(1) + be32(2)
        let partial = try #require(SFTPPacket.attributes(inReply: noOwner))
        #expect(partial.1.permissions == 0o40755 && partial.1.size == 5 && partial.1.fileStatus == nil)
        #expect(SFTPPacket.attributes(inReply: [101] + be32(4) + be32(0)) == nil, "a status is no ATTRS")
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
