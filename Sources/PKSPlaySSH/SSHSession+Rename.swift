import CLibSSH2
import Foundation
import PKSPlayCore

/// An overwriting rename over SFTP. SFTP version 3's own RENAME refuses an existing target, and
/// libssh2 1.10 does not expose OpenSSH's `posix-rename@openssh.com` extension, so the session
/// speaks that one request itself on an SFTP channel of its own, opened on first use. A server
/// without the extension (or without SFTP) gets `mv` instead: same result, one process more.
extension SSHSession {
    static let posixRenameExtension = "posix-rename@openssh.com"

    func rename(_ source: String, to destination: String) throws {
        try ensureAlive()
        guard let channel = try renameSubsystem() else {
            let command = "mv -f -T -- \(shellQuote(source)) \(shellQuote(destination))"
            let result = try runCommand(SSHSession.wrap(command, environmentFile: nil), stdin: Data(), deadline: nil, onOutput: nil)
            if result.exitStatus != 0 {
                throw SessionFailure.refused("cannot rename \(source) to it: \(result.stderrText.trimmed)")
            }
            return
        }
        renameRequestID &+= 1
        let id = renameRequestID
        var request = SFTPPacket(type: SFTPPacket.extended)
        request.append(id)
        request.append(string: Self.posixRenameExtension)
        request.append(string: source)
        request.append(string: destination)
        let reply: [UInt8]
        do {
            try send(request.bytes, on: channel, what: "renaming \(source)")
            reply = try receivePacket(on: channel, what: "renaming \(source)")
        } catch {
            // Cut short (Ctrl-C, a lost connection): the channel may hold half a reply, which the
            // next rename would take for its own. A later rename opens a fresh one.
            if renameChannel == channel {
                closeChannel(channel)
                renameChannel = nil
            }
            throw error
        }
        guard let status = SFTPStatus(reply), status.id == id else {
            throw dropRenameChannel("the SFTP server answered the rename with something else than its status")
        }
        if status.code != 0 {
            throw SessionFailure.refused("cannot rename \(source) to it: \(status.message.isEmpty ? sftpStatusText(UInt(status.code)) : status.message)")
        }
    }

    /// The channel for renames, started and greeted on first use; nil when the server has no SFTP
    /// or no `posix-rename@openssh.com` (remembered for the session).
    private func renameSubsystem() throws -> OpaquePointer? {
        if let renameChannel { return renameChannel }
        if renameUnavailable { return nil }
        guard let channel = try retryPointer(until: nil, { pks_channel_open_session(session) }) else {
            throw failure("opening a channel for SFTP").asTransport
        }
        let started = try retry(until: nil) { libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4) }
        if started != 0 {
            if LibSSH2.isFatal(started) { throw failure("starting SFTP", code: started) }
            closeChannel(channel)
            renameUnavailable = true
            return nil
        }
        // Held from here on, so that whatever goes wrong in the greeting closes it.
        renameChannel = channel
        var hello = SFTPPacket(type: SFTPPacket.initialize)
        hello.append(UInt32(3))
        do {
            try send(hello.bytes, on: channel, what: "starting SFTP")
            let version = try receivePacket(on: channel, what: "starting SFTP")
            guard SFTPPacket.extensions(inVersion: version)?.contains(Self.posixRenameExtension) == true else {
                _ = dropRenameChannel("no \(Self.posixRenameExtension)")
                return nil
            }
        } catch {
            // No usable greeting: renames go through mv for this session.
            if renameChannel == channel { closeChannel(channel) }
            renameChannel = nil
            renameUnavailable = true
            if case SessionFailure.refused = error { return nil }
            throw error
        }
        return channel
    }

    /// Forgets a channel that said something unexpected (the next rename uses `mv`), closing it.
    private func dropRenameChannel(_ reason: String) -> SessionFailure {
        if let renameChannel { closeChannel(renameChannel) }
        renameChannel = nil
        renameUnavailable = true
        return .refused(reason)
    }

    private func closeChannel(_ channel: OpaquePointer) {
        _ = try? retry(until: ContinuousClock.now + .seconds(2)) { libssh2_channel_close(channel) }
        _ = libssh2_channel_free(channel)
    }

    private func send(_ bytes: [UInt8], on channel: OpaquePointer, what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let rc = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { pks_channel_write(channel, $0.baseAddress! + offset, bytes.count - offset) }
            }
            if rc > 0 {
                offset += rc
            } else if rc == LIBSSH2_ERROR_EAGAIN || rc == 0 {
                try waitSocket(until: nil)
            } else {
                throw failure(what, code: Int32(rc))
            }
        }
    }

    /// One SFTP packet (length-prefixed) from the channel, without its length.
    private func receivePacket(on channel: OpaquePointer, what: String) throws -> [UInt8] {
        let header = try receive(4, on: channel, what: what)
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, length <= 256 * 1024 else {
            throw dropRenameChannel("the SFTP server sent a packet of \(length) bytes while \(what)")
        }
        return try receive(length, on: channel, what: what)
    }

    private func receive(_ count: Int, on channel: OpaquePointer, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let rc = pks_channel_read(channel, 0, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), min(count - bytes.count, buffer.count))
            if rc > 0 {
                bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer.baseAddress!, count: rc))
            } else if rc == LIBSSH2_ERROR_EAGAIN || (rc == 0 && libssh2_channel_eof(channel) == 0) {
                try waitSocket(until: nil)
            } else if rc == 0 {
                throw dropRenameChannel("the SFTP server closed its channel while \(what)")
            } else {
                throw failure(what, code: Int32(rc))
            }
        }
        return bytes
    }
}

/// An SFTP request being built: type, then big-endian numbers and length-prefixed strings.
struct SFTPPacket {
    static let initialize: UInt8 = 1
    static let version: UInt8 = 2
    static let status: UInt8 = 101
    static let extended: UInt8 = 200

    private var body: [UInt8]

    init(type: UInt8) { body = [type] }

    mutating func append(_ value: UInt32) {
        body += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    mutating func append(string: String) {
        let utf8 = Array(string.utf8)
        append(UInt32(utf8.count))
        body += utf8
    }

    /// The packet as sent: its length, then its body.
    var bytes: [UInt8] {
        var length = SFTPPacket(type: 0)
        length.body = []
        length.append(UInt32(body.count))
        return length.body + body
    }

    /// The extension names a VERSION packet lists; nil when `packet` is not one.
    static func extensions(inVersion packet: [UInt8]) -> [String]? {
        var reader = SFTPReader(packet)
        guard reader.byte() == version, reader.uint32() != nil else { return nil }
        var names: [String] = []
        while !reader.atEnd {
            guard let name = reader.string(), reader.string() != nil else { return nil }
            names.append(name)
        }
        return names
    }
}

/// A STATUS reply: request id, code (0 is OK), the server's message.
struct SFTPStatus {
    var id: UInt32
    var code: UInt32
    var message: String

    init?(_ packet: [UInt8]) {
        var reader = SFTPReader(packet)
        guard reader.byte() == SFTPPacket.status, let id = reader.uint32(), let code = reader.uint32() else { return nil }
        self.id = id
        self.code = code
        // The message is optional in version 3 servers that predate it.
        message = reader.string() ?? ""
    }
}

/// Reads an SFTP packet's fields in order; every read fails (nil) past the end instead of trapping.
struct SFTPReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint32() -> UInt32? {
        guard bytes.count - offset >= 4 else { return nil }
        defer { offset += 4 }
        return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() -> String? {
        guard let length = uint32(), bytes.count - offset >= Int(length) else { return nil }
        defer { offset += Int(length) }
        return String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
    }
}
