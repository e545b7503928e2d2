import CLibSSH2
import Foundation
import PKSPlayCore

/// The SFTP requests the session speaks itself, on an SFTP channel of its own opened on first use:
///
/// - an overwriting rename: SFTP version 3's own RENAME refuses an existing target, and libssh2
///   1.10 does not expose OpenSSH's `posix-rename@openssh.com` extension;
/// - pipelined writes and reads: libssh2 waits for each request's answer before it sends the next
///   (OPEN, FSETSTAT, WRITE, CLOSE: four round trips for a small file); here, once OPEN has
///   answered with the handle, the rest go out together: two round trips for a new file of any
///   size, and for reading a small one.
///
/// A server without the extension (or without SFTP) gets `mv` for renames and libssh2's SFTP (or
/// `cat`) for reads and writes: same results, more round trips or a process more.
extension SSHSession {
    static let posixRenameExtension = "posix-rename@openssh.com"
    /// The most requests sent and not yet answered: bounds what a large file holds in flight.
    static let maxRequestsInFlight = 64
    /// What one READ asks for, and the most READs of one file in flight.
    static let readChunkSize = 32 * 1024
    static let maxReadsInFlight = 16
    /// The most data one WRITE carries: what fills the 32 KiB channel packet libssh2 sends (a
    /// larger WRITE would take two), and below the 32 KiB every SFTP server must accept.
    static func writeChunkSize(handle: [UInt8]) -> Int {
        // length, type, id, handle (length-prefixed), offset, data length
        32 * 1024 - (4 + 1 + 4 + 4 + handle.count + 8 + 4)
    }

    func rename(_ source: String, to destination: String) throws {
        try ensureAlive()
        guard let channel = try availableRequestChannel() else {
            let command = "mv -f -T -- \(shellQuote(source)) \(shellQuote(destination))"
            let result = try runCommand(SSHSession.wrap(command, environmentFile: nil), stdin: Data(), deadline: nil, onOutput: nil)
            if result.exitStatus != 0 {
                throw SessionFailure.refused("cannot rename \(source) to it: \(result.stderrText.trimmed)")
            }
            return
        }
        requestID &+= 1
        let id = requestID
        var request = SFTPPacket(type: SFTPPacket.extended)
        request.append(id)
        request.append(string: Self.posixRenameExtension)
        request.append(string: source)
        request.append(string: destination)
        let reply: [UInt8]
        do {
            try send(request.bytes, on: channel, what: "renaming \(source)")
            reply = try receivePacket(on: channel, what: "renaming \(source)")
        } catch let error as SessionFailure {
            throw forgetChannel(channel, after: error)
        }
        guard let status = SFTPStatus(reply), status.id == id else {
            throw dropRequestChannel("the SFTP server answered the rename with something else than its status")
        }
        if status.code != 0 {
            throw SessionFailure.refused("cannot rename \(source) to it: \(status.message.isEmpty ? sftpStatusText(UInt(status.code)) : status.message)")
        }
    }

    /// Writes `data` to `path` on the request channel; false when the server has none (the caller
    /// then writes through libssh2's SFTP or `cat`). A new file is created with `mode` (0644 when
    /// nil, less the server's umask); with `mode`, FSETSTAT then gives it exactly that mode before
    /// any content lands, as `put` promises. With `mode`, the file is first opened to be created
    /// (O_EXCL): a file this request created is the session's own, so its FSETSTAT cannot be
    /// refused and goes out with the writes. An existing file is opened again without O_EXCL or
    /// O_TRUNC, and is emptied and written only once the server has accepted the mode: content
    /// meant for a 0600 file never lands in a file that stayed world-readable, and a refusal leaves
    /// the file as it was.
    func putPipelined(_ data: Data, to path: String, mode: Int?) throws -> Bool {
        guard let channel = try availableRequestChannel() else { return false }
        let what = "writing \(path)"
        do {
            func open(exclusive: Bool) throws -> Result<[UInt8], SessionFailure> {
                // An existing file that gets a mode is emptied only once the mode is accepted.
                let last = exclusive ? SFTPPacket.openExclusive : (mode == nil ? SFTPPacket.openTruncate : 0)
                return try openHandle(path, flags: SFTPPacket.openWrite | SFTPPacket.openCreate | last, mode: mode ?? 0o644,
                                      refusal: "cannot open it for writing", on: channel, what: what)
            }
            var created = false
            var opened: Result<[UInt8], SessionFailure>
            if mode != nil {
                opened = try open(exclusive: true)
                if case .success = opened { created = true } else { opened = try open(exclusive: false) }
            } else {
                opened = try open(exclusive: false)
            }
            let handle = try opened.get()

            // Every request below is answered by a status; the first failure is the one reported.
            var pending: [UInt32: String] = [:]
            var failure: SessionFailure?
            func collect() throws {
                guard let status = SFTPStatus(try receivePacket(on: channel, what: what)),
                      let action = pending.removeValue(forKey: status.id) else {
                    throw dropRequestChannel("the SFTP server answered a write with something else than its status")
                }
                if status.code != 0, failure == nil {
                    failure = .sftp(code: UInt(status.code), message: "\(action): \(sftpStatusText(UInt(status.code)))")
                }
            }
            func issue(_ type: UInt8, _ action: String, _ fill: (inout SFTPPacket) -> Void) throws {
                if pending.count >= Self.maxRequestsInFlight { try collect() }
                requestID &+= 1
                var packet = SFTPPacket(type: type)
                packet.append(requestID)
                packet.append(bytes: handle)
                fill(&packet)
                try send(packet.bytes, on: channel, what: what)
                pending[requestID] = action
            }
            if let mode {
                try issue(SFTPPacket.fsetstat, "cannot set its mode to \(String(mode, radix: 8))") { $0.appendPermissions(mode) }
                // Someone else's file may refuse the mode: hear the answer before it is emptied
                // and before any content goes.
                if !created {
                    try collect()
                    if failure == nil { try issue(SFTPPacket.fsetstat, "cannot empty it") { $0.appendSize(0) } }
                }
            }
            var offset = 0
            let chunk = max(Self.writeChunkSize(handle: handle), 1024)
            while offset < data.count, failure == nil {
                let end = min(offset + chunk, data.count)
                try issue(SFTPPacket.write, "cannot write it") { packet in
                    packet.append(UInt64(offset))
                    packet.append(bytes: data[data.startIndex + offset ..< data.startIndex + end])
                }
                offset = end
            }
            // The handle is closed whatever happened before; a failed write stops further ones.
            try issue(SFTPPacket.close, "cannot close it") { _ in }
            while !pending.isEmpty { try collect() }
            if let failure { throw failure }
            return true
        } catch let error as SessionFailure {
            throw forgetChannel(channel, after: error)
        }
    }

    /// Reads the whole file at `path` on the request channel; nil when the server has none (the
    /// caller then reads through libssh2's SFTP or `cat`). Once OPEN has answered, two READs go
    /// out together (a file under 32 KiB is whole after that one round trip), more while the file
    /// keeps coming, up to 16 in flight; the CLOSE is sent without waiting for its answer, which
    /// the next request on the channel passes over.
    func getPipelined(_ path: String) throws -> Data? {
        guard let channel = try availableRequestChannel() else { return nil }
        let what = "reading \(path)"
        do {
            let handle = try openHandle(path, flags: SFTPPacket.openRead, mode: nil, refusal: "cannot open it for reading",
                                        on: channel, what: what).get()

            var content = Data()
            var inFlight: [(id: UInt32, offset: Int)] = []
            var nextOffset = 0
            var ended = false
            var failure: SessionFailure?
            func issueRead() throws {
                requestID &+= 1
                var read = SFTPPacket(type: SFTPPacket.read)
                read.append(requestID)
                read.append(bytes: handle)
                read.append(UInt64(nextOffset))
                read.append(UInt32(Self.readChunkSize))
                try send(read.bytes, on: channel, what: what)
                inFlight.append((requestID, nextOffset))
                nextOffset += Self.readChunkSize
            }
            try issueRead()
            try issueRead()
            while let head = inFlight.first {
                inFlight.removeFirst()
                let packet = try receivePacket(on: channel, what: what)
                if let (id, data) = SFTPPacket.data(inReply: packet), id == head.id {
                    // Regular files come back whole up to their end: a short read is the end, and
                    // data after it means the file changed under the read.
                    if ended || content.count != head.offset {
                        if failure == nil { failure = .sftp(code: UInt(LIBSSH2_FX_FAILURE), message: "it changed while it was read") }
                        continue
                    }
                    content.append(contentsOf: data)
                    if data.count < Self.readChunkSize {
                        ended = true
                    } else if failure == nil {
                        try issueRead()
                        if inFlight.count < Self.maxReadsInFlight { try issueRead() }
                    }
                } else if let status = SFTPStatus(packet), status.id == head.id {
                    if status.code == UInt32(LIBSSH2_FX_EOF) {
                        ended = true
                    } else if failure == nil {
                        failure = .sftp(code: UInt(status.code), message: "cannot read it: \(sftpStatusText(UInt(status.code)))")
                    }
                } else {
                    throw dropRequestChannel("the SFTP server answered a read with something else than its data or status")
                }
            }
            requestID &+= 1
            var close = SFTPPacket(type: SFTPPacket.close)
            close.append(requestID)
            close.append(bytes: handle)
            try send(close.bytes, on: channel, what: what)
            unansweredRequests.insert(requestID)
            if let failure { throw failure }
            return content
        } catch let error as SessionFailure {
            throw forgetChannel(channel, after: error)
        }
    }

    /// LSTAT of every path, sent together (at most 64 in flight): one round trip for a few paths.
    /// `nil` in the list where nothing is at a path; `nil` as a whole when the server has no
    /// request channel (the caller then inspects through a shell). Any other refusal, or attributes
    /// without the owner, mode or times, fails the whole request.
    func statusesPipelined(_ paths: [String]) throws -> [FileStatus?]? {
        try ensureAlive()
        guard !paths.isEmpty else { return [] }
        guard let channel = try availableRequestChannel() else { return nil }
        let what = "inspecting \(paths[0])"
        do {
            var statuses = [FileStatus?](repeating: nil, count: paths.count)
            var pending: [UInt32: Int] = [:]
            var next = 0
            var failure: SessionFailure?
            func issue() throws {
                requestID &+= 1
                var request = SFTPPacket(type: SFTPPacket.lstat)
                request.append(requestID)
                request.append(string: paths[next])
                try send(request.bytes, on: channel, what: what)
                pending[requestID] = next
                next += 1
            }
            while next < paths.count && pending.count < Self.maxRequestsInFlight { try issue() }
            while !pending.isEmpty {
                let packet = try receivePacket(on: channel, what: what)
                if let (id, attributes) = SFTPPacket.attributes(inReply: packet), let index = pending.removeValue(forKey: id) {
                    if let status = attributes.fileStatus {
                        statuses[index] = status
                    } else if failure == nil {
                        failure = .sftp(code: UInt(LIBSSH2_FX_OP_UNSUPPORTED), message: "the SFTP server did not say the owner, mode and times of \(paths[index])")
                    }
                } else if let status = SFTPStatus(packet), let index = pending.removeValue(forKey: status.id) {
                    // No such file, or a path through something that is not a directory (OpenSSH
                    // answers ENOTDIR so): nothing is there, as `[ -e ]` would say.
                    if status.code != UInt32(LIBSSH2_FX_NO_SUCH_FILE) && failure == nil {
                        failure = .sftp(code: UInt(status.code), message: "cannot inspect \(paths[index]): \(sftpStatusText(UInt(status.code)))")
                    }
                } else {
                    throw dropRequestChannel("the SFTP server answered an lstat with something else than attributes or a status")
                }
                if next < paths.count { try issue() }
            }
            if let failure { throw failure }
            return statuses
        } catch let error as SessionFailure {
            throw forgetChannel(channel, after: error)
        }
    }

    /// OPEN with `flags` (and, for a file it creates, `mode`): the handle, or the server's refusal.
    private func openHandle(
        _ path: String, flags: UInt32, mode: Int?, refusal: String, on channel: OpaquePointer, what: String
    ) throws -> Result<[UInt8], SessionFailure> {
        requestID &+= 1
        let openID = requestID
        var request = SFTPPacket(type: SFTPPacket.open)
        request.append(openID)
        request.append(string: path)
        request.append(flags)
        if let mode { request.appendPermissions(mode) } else { request.append(UInt32(0)) }  // ATTRS: none
        try send(request.bytes, on: channel, what: what)
        let reply = try receivePacket(on: channel, what: what)
        if let status = SFTPStatus(reply), status.id == openID {
            return .failure(.sftp(code: UInt(status.code), message: "\(refusal): \(sftpStatusText(UInt(status.code)))"))
        }
        guard let (id, handle) = SFTPPacket.handle(inReply: reply), id == openID else {
            throw dropRequestChannel("the SFTP server answered an open with something else than a handle")
        }
        return .success(handle)
    }

    /// Passes `error` on; unless it is the server's answer to a request, the channel is closed
    /// first: cut short (Ctrl-C, a lost connection, a reply out of place), it may hold answers to
    /// requests nobody waits for any more. A later request opens a fresh one.
    private func forgetChannel(_ channel: OpaquePointer, after error: SessionFailure) -> SessionFailure {
        if case .sftp = error { return error }
        if requestChannel == channel {
            closeChannel(channel)
            requestChannel = nil
        }
        return error
    }

    /// The request channel, started and greeted on first use; nil when the server has no SFTP or
    /// no `posix-rename@openssh.com` (remembered for the session).
    private func availableRequestChannel() throws -> OpaquePointer? {
        if let requestChannel { return requestChannel }
        if requestChannelUnavailable || !config.requestChannel { return nil }
        try settleSpareChannel()
        unansweredRequests = []
        guard let channel = try retryPointer(until: nil, { pks_channel_open_session(session) }) else {
            throw failure("opening a channel for SFTP").asTransport
        }
        let started = try retry(until: nil) { libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4) }
        if started != 0 {
            if LibSSH2.isFatal(started) { throw failure("starting SFTP", code: started) }
            closeChannel(channel)
            requestChannelUnavailable = true
            return nil
        }
        // Held from here on, so that whatever goes wrong in the greeting closes it.
        requestChannel = channel
        var hello = SFTPPacket(type: SFTPPacket.initialize)
        hello.append(UInt32(3))
        do {
            try send(hello.bytes, on: channel, what: "starting SFTP")
            let version = try receivePacket(on: channel, what: "starting SFTP")
            guard SFTPPacket.extensions(inVersion: version)?.contains(Self.posixRenameExtension) == true else {
                _ = dropRequestChannel("no \(Self.posixRenameExtension)")
                return nil
            }
        } catch {
            // No usable greeting: renames go through mv for this session.
            if requestChannel == channel { closeChannel(channel) }
            requestChannel = nil
            requestChannelUnavailable = true
            if case SessionFailure.refused = error { return nil }
            throw error
        }
        return channel
    }

    /// Forgets a channel that said something unexpected (renames then use `mv`, reads and writes
    /// libssh2's SFTP), closing it.
    private func dropRequestChannel(_ reason: String) -> SessionFailure {
        if let requestChannel { closeChannel(requestChannel) }
        requestChannel = nil
        requestChannelUnavailable = true
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
    /// The next SFTP packet (length-prefixed) from the channel, without its length; answers to
    /// requests nobody waits for (a read's CLOSE) are passed over.
    private func receivePacket(on channel: OpaquePointer, what: String) throws -> [UInt8] {
        while true {
            let header = try receive(4, on: channel, what: what)
            let length = header.reduce(0) { $0 << 8 | Int($1) }
            // A DATA reply carries at most one read's length, and reads ask for 32 KiB.
            guard length > 0, length <= 256 * 1024 else {
                throw dropRequestChannel("the SFTP server sent a packet of \(length) bytes while \(what)")
            }
            let packet = try receive(length, on: channel, what: what)
            if !unansweredRequests.isEmpty, let status = SFTPStatus(packet), unansweredRequests.remove(status.id) != nil {
                continue
            }
            return packet
        }
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
                throw dropRequestChannel("the SFTP server closed its channel while \(what)")
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
    static let open: UInt8 = 3
    static let close: UInt8 = 4
    static let read: UInt8 = 5
    static let write: UInt8 = 6
    static let lstat: UInt8 = 7
    static let fsetstat: UInt8 = 10
    static let handle: UInt8 = 102
    static let data: UInt8 = 103
    static let attrs: UInt8 = 105
    static let openRead: UInt32 = 0x01
    static let openWrite: UInt32 = 0x02
    static let openCreate: UInt32 = 0x08
    static let openTruncate: UInt32 = 0x10
    static let openExclusive: UInt32 = 0x20
    /// The flags of an ATTRS block that say which fields follow: size, owner (uid and gid),
    /// permissions, times (atime and mtime), extended pairs.
    static let attributeSize: UInt32 = 0x01
    static let attributeOwner: UInt32 = 0x02
    static let attributePermissions: UInt32 = 0x04
    static let attributeTimes: UInt32 = 0x08
    static let attributeExtended: UInt32 = 0x8000_0000

    /// Length (of what follows), type, fields.
    private var body: [UInt8]

    init(type: UInt8) { body = [0, 0, 0, 1, type] }

    mutating func append(_ value: UInt32) {
        body += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        updateLength()
    }

    /// The length in front counts what follows it; kept true as the packet grows, so that the
    /// packet is sent as it is, never copied (a WRITE holds 32 KiB).
    private mutating func updateLength() {
        let length = UInt32(body.count - 4)
        body[0] = UInt8(length >> 24)
        body[1] = UInt8(length >> 16 & 0xff)
        body[2] = UInt8(length >> 8 & 0xff)
        body[3] = UInt8(length & 0xff)
    }

    mutating func append(_ value: UInt64) {
        append(UInt32(truncatingIfNeeded: value >> 32))
        append(UInt32(truncatingIfNeeded: value))
    }

    mutating func append(string: String) {
        append(bytes: Array(string.utf8))
    }

    /// A length-prefixed byte string (a handle, a write's data).
    mutating func append(bytes: some Collection<UInt8>) {
        append(UInt32(bytes.count))
        body.append(contentsOf: bytes)
        updateLength()
    }

    /// An ATTRS block holding only a size (FSETSTAT with it truncates).
    mutating func appendSize(_ size: UInt64) {
        append(SFTPPacket.attributeSize)
        append(size)
    }

    /// An ATTRS block holding only permissions.
    mutating func appendPermissions(_ mode: Int) {
        append(SFTPPacket.attributePermissions)
        append(UInt32(mode & 0o7777))
    }

    /// The packet as sent: its length, then its body.
    var bytes: [UInt8] { body }

    /// The request id and handle of a HANDLE reply; nil when `packet` is not one.
    static func handle(inReply packet: [UInt8]) -> (UInt32, [UInt8])? {
        var reader = SFTPReader(packet)
        guard reader.byte() == handle, let id = reader.uint32(), let bytes = reader.byteString(), reader.atEnd else { return nil }
        return (id, bytes)
    }

    /// The request id and bytes of a DATA reply; nil when `packet` is not one.
    static func data(inReply packet: [UInt8]) -> (UInt32, [UInt8])? {
        var reader = SFTPReader(packet)
        guard reader.byte() == data, let id = reader.uint32(), let bytes = reader.byteString(), reader.atEnd else { return nil }
        return (id, bytes)
    }

    /// The request id and attributes of an ATTRS reply; nil when `packet` is not one.
    static func attributes(inReply packet: [UInt8]) -> (UInt32, SFTPAttributes)? {
        var reader = SFTPReader(packet)
        guard reader.byte() == attrs, let id = reader.uint32(), let attributes = SFTPAttributes(&reader), reader.atEnd else { return nil }
        return (id, attributes)
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

/// An ATTRS block (SFTP version 3): each field is there only when its flag is.
struct SFTPAttributes {
    var size: UInt64?
    var uid: UInt32?
    var gid: UInt32?
    var permissions: UInt32?
    var atime: UInt32?
    var mtime: UInt32?

    init?(_ reader: inout SFTPReader) {
        guard let flags = reader.uint32() else { return nil }
        if flags & SFTPPacket.attributeSize != 0 {
            guard let size = reader.uint64() else { return nil }
            self.size = size
        }
        if flags & SFTPPacket.attributeOwner != 0 {
            guard let uid = reader.uint32(), let gid = reader.uint32() else { return nil }
            self.uid = uid; self.gid = gid
        }
        if flags & SFTPPacket.attributePermissions != 0 {
            guard let permissions = reader.uint32() else { return nil }
            self.permissions = permissions
        }
        if flags & SFTPPacket.attributeTimes != 0 {
            guard let atime = reader.uint32(), let mtime = reader.uint32() else { return nil }
            self.atime = atime; self.mtime = mtime
        }
        if flags & SFTPPacket.attributeExtended != 0 {
            guard let count = reader.uint32() else { return nil }
            for _ in 0..<count {
                guard reader.byteString() != nil, reader.byteString() != nil else { return nil }
            }
        }
    }

    /// The status these attributes describe; nil when the server left out the mode, owner or
    /// times (the size of a directory may be missing: 0 then).
    var fileStatus: FileStatus? {
        guard let uid, let gid, let permissions, let atime, let mtime else { return nil }
        return FileStatus(mode: Int(permissions), uid: Int(uid), gid: Int(gid), size: Int(clamping: size ?? 0),
                          atime: Int(atime), mtime: Int(mtime))
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

    mutating func uint64() -> UInt64? {
        guard let high = uint32(), let low = uint32() else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    mutating func string() -> String? {
        byteString().map { String(decoding: $0, as: UTF8.self) }
    }

    /// A length-prefixed byte string, as it is.
    mutating func byteString() -> [UInt8]? {
        guard let length = uint32(), bytes.count - offset >= Int(length) else { return nil }
        defer { offset += Int(length) }
        return Array(bytes[offset..<offset + Int(length)])
    }
}
