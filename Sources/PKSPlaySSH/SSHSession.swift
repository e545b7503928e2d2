import CLibSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a successful connect learned, handed back to the caller's task.
struct ConnectInfo: Sendable {
    var hostKey: SSHHostKey
    var hostKeyRecorded: Bool
    var authentication: String
    var skippedKnownHostsLines: [Int]
}

/// One libssh2 session and its socket, used only on its ``SessionWorker`` thread.
///
/// The session runs in non-blocking mode: every libssh2 call that would block returns EAGAIN and
/// the thread waits in `poll` on the socket (in the direction libssh2 reports) and on the worker's
/// wake pipe, so deadlines, cancellation and keepalives all work while a call is pending.
final class SSHSession {
    let config: SSHConfig
    private let wakeFD: Int32
    /// The flag of the job being run; set by the worker around each job.
    var cancelFlag: CancelFlag?

    private(set) var session: OpaquePointer?
    private(set) var socket: Int32 = -1
    /// Why the session cannot be used any more, once that is so.
    private(set) var deadReason: String?
    private var keepaliveActive = false
    /// Set while a timed-out command's process group is being killed.
    var killingRemote = false

    var sftp: OpaquePointer?
    /// Why SFTP cannot be used on this server, once known; transfers then go through `cat`.
    var sftpUnavailable: String?
    /// The SFTP channel the session speaks itself (renames, pipelined reads and writes: see
    /// `availableRequestChannel()`), whether the server lacks what it needs, and the last request
    /// id sent on it.
    var requestChannel: OpaquePointer?
    var requestChannelUnavailable = false
    var requestID: UInt32 = 0
    /// Requests on that channel whose answers nobody waits for (a read's CLOSE).
    var unansweredRequests: Set<UInt32> = []

    /// The next command's channel, opened while the last command ran (see
    /// `prepareSpareChannel()`), and whether its open is still under way.
    var spareChannel: OpaquePointer?
    var spareOpenPending = false

    /// One buffer for all reads on this session.
    let buffer: UnsafeMutableRawBufferPointer
    /// Shared with the C callbacks (keyboard-interactive answers, time of the last bytes received).
    let callbackState: UnsafeMutablePointer<pks_session_state>

    init(config: SSHConfig, wakeFD: Int32) {
        self.config = config
        self.wakeFD = wakeFD
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        callbackState = .allocate(capacity: 1)
        callbackState.initialize(to: pks_session_state(password: nil, last_receive_ms: pks_now_ms()))
    }

    deinit {
        buffer.deallocate()
        callbackState.deallocate()
    }

    /// Keepalives that may go unanswered before the server is declared gone (OpenSSH's
    /// `ServerAliveCountMax`).
    static let keepaliveCountMax = 3

    // MARK: Connect

    func connect() throws -> ConnectInfo {
        if let problem = config.validationProblem() { throw SessionFailure.transport(problem) }
        try LibSSH2.ensureInitialized()
        let userTimeout = config.keepaliveInterval > 0 ? config.keepaliveInterval * 3 : 0
        socket = try TCPConnector.connect(
            address: config.address, port: config.port, timeout: config.connectTimeout, userTimeoutSeconds: userTimeout)
        guard let session = pks_session_init(callbackState) else {
            throw markDead("libssh2 could not allocate a session")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)

        let knownHostsPath = expandTilde(config.knownHostsFile)
        let store = KnownHostsStore(session: session, path: knownHostsPath)
        let names = hostNames()
        preferHostKeyTypes(store?.knownKinds(names: names, port: config.port) ?? [])

        let deadline = ContinuousClock.now + .milliseconds(Int(config.connectTimeout * 1000))
        let rc = try retry(until: deadline, phase: "SSH handshake") { libssh2_session_handshake(session, socket) }
        if rc != 0 {
            let (code, message) = LibSSH2.lastError(session)
            var reason = "SSH handshake with \(config.address) port \(config.port) failed: \(message)"
            if code == LIBSSH2_ERROR_KEX_FAILURE || code == LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE {
                reason += " (libssh2 \(LibSSH2.version) verifies host keys of type ed25519, ECDSA and RSA with SHA-1 only; "
                    + "OpenSSH 8.8 and later refuse SHA-1, so a host with only an RSA host key cannot be reached: "
                    + "give it an ed25519 host key, or allow HostKeyAlgorithms +ssh-rsa on it)"
            }
            throw markDead(reason)
        }

        let (hostKey, kind, blob) = try presentedHostKey()
        var recorded = false
        switch config.hostKeyPolicy {
        case .insecureOff:
            break
        case .strict, .acceptNew:
            guard let store else { throw markDead("libssh2 could not allocate a known-hosts store") }
            recorded = try verify(hostKey, kind: kind, blob: blob, store: store, names: names, path: knownHostsPath)
        }

        let authentication = try authenticate(deadline: ContinuousClock.now + .milliseconds(Int(config.connectTimeout * 1000)))
        if config.keepaliveInterval > 0 {
            libssh2_keepalive_config(session, 1, UInt32(config.keepaliveInterval))
            keepaliveActive = true
        }
        return ConnectInfo(
            hostKey: hostKey, hostKeyRecorded: recorded, authentication: authentication,
            skippedKnownHostsLines: store?.skippedLines ?? [])
    }

    /// The names the host is known by: its address, then its inventory name when different.
    private func hostNames() -> [String] {
        config.host == config.address || config.host.isEmpty ? [config.address] : [config.address, config.host]
    }

    /// Offers the host key types known_hosts holds for this host first, so a host recorded with an
    /// ED25519 key is not asked for an ECDSA one it has too (and then reported unknown).
    private func preferHostKeyTypes(_ known: [HostKeyKind]) {
        let order = known + HostKeyKind.preferenceOrder.filter { !known.contains($0) }
        let supported = supportedHostKeyMethods()
        let methods = order.flatMap(\.hostKeyMethods).filter { supported.isEmpty || supported.contains($0) }
        guard !methods.isEmpty else { return }
        _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY, methods.joined(separator: ","))
    }

    private func supportedHostKeyMethods() -> Set<String> {
        var list: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        let count = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &list)
        guard count > 0, let list else { return [] }
        defer { libssh2_free(session, UnsafeMutableRawPointer(list)) }
        return Set((0..<Int(count)).compactMap { list[$0].map { String(cString: $0) } })
    }

    private func presentedHostKey() throws -> (SSHHostKey, HostKeyKind, [UInt8]) {
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &length, &type), length > 0 else {
            throw markDead("the server sent no host key")
        }
        let blob = raw.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        let kind = HostKeyKind(libssh2Type: type)
        var wireName = kind.wireName
        var reader = SSHWireReader(blob)
        if let name = reader.string() { wireName = String(decoding: name, as: UTF8.self) }
        var fingerprint = "unknown"
        if let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) {
            let digest = hash.withMemoryRebound(to: UInt8.self, capacity: 32) { Data(UnsafeBufferPointer(start: $0, count: 32)) }
            fingerprint = "SHA256:" + digest.base64EncodedString().replacingOccurrences(of: "=", with: "")
        }
        return (SSHHostKey(type: wireName, fingerprint: fingerprint, base64: Data(blob).base64EncodedString()), kind, blob)
    }

    /// Checks the host key against known_hosts under the configured policy; true when the key
    /// was new and has been recorded.
    private func verify(
        _ key: SSHHostKey, kind: HostKeyKind, blob: [UInt8], store: KnownHostsStore, names: [String], path: String
    ) throws -> Bool {
        let shownName = KnownHostsStore.entryName(config.address, port: config.port)
        switch store.check(key: key, kind: kind, blob: blob, names: names, port: config.port) {
        case .match:
            return false
        case .revoked:
            throw markDead("the host key of \(shownName) (\(key)) is marked @revoked in \(path); refusing to connect")
        case .mismatch:
            throw markDead(
                "HOST KEY MISMATCH for \(shownName): the server presented \(key), but \(path) holds a different "
                    + "\(key.displayType) key for \(names.map { KnownHostsStore.entryName($0, port: config.port) }.joined(separator: " / ")). "
                    + "Someone may be intercepting the connection, or the host was reinstalled. If you are sure the "
                    + "new key is right, remove the old entry with: ssh-keygen -R '\(shownName)' -f \(path)")
        case .notFound(let otherTypes):
            if config.hostKeyPolicy == .acceptNew, otherTypes.isEmpty {
                try KnownHostsWriter.append(names: names, port: config.port, key: key, to: path)
                return true
            }
            var message = "unknown host key for \(shownName): the server presented \(key), which is not in \(path)"
            if !otherTypes.isEmpty {
                message += " (the file holds \(otherTypes.map(\.displayName).joined(separator: ", ")) keys for this host, "
                    + "but the handshake settled on \(key.displayType): the host may have been reinstalled"
                if otherTypes.contains(.rsa) {
                    message += ", or it refuses the SHA-1 RSA signatures that are all libssh2 \(LibSSH2.version) can verify"
                }
                message += ")"
            }
            message += ". Verify the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_\(kind.fileStem)_key.pub), then add it "
                + "(ssh-keyscan -p \(config.port) -t \(key.type) \(config.address) >> \(path)) or connect with host key policy accept-new"
            throw markDead(message)
        }
    }

    // MARK: Waiting

    /// Repeats `call` while it returns EAGAIN, waiting on the socket in between.
    func retry(until deadline: ContinuousClock.Instant?, phase: String? = nil, _ call: () -> Int32) throws -> Int32 {
        while true {
            let rc = call()
            guard rc == LIBSSH2_ERROR_EAGAIN else { return rc }
            do {
                try waitSocket(until: deadline)
            } catch SessionFailure.timedOut where phase != nil {
                throw markDead("\(phase ?? "") with \(config.address) port \(config.port) timed out after \(formatSeconds(config.connectTimeout)) s")
            }
        }
    }

    /// Repeats a libssh2 call returning a pointer while it fails with EAGAIN.
    func retryPointer(until deadline: ContinuousClock.Instant?, _ call: () -> OpaquePointer?) throws -> OpaquePointer? {
        while true {
            if let pointer = call() { return pointer }
            guard libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN else { return nil }
            try waitSocket(until: deadline)
        }
    }

    /// How long opening a channel (or starting SFTP on it) may take: the connect timeout, at
    /// least 10 s.
    func channelSetupDeadline() -> ContinuousClock.Instant {
        ContinuousClock.now + .milliseconds(Int(max(config.connectTimeout, 10) * 1000))
    }

    /// Whether libssh2 holds a partly sent packet that the call which started it must finish before
    /// any other call sends (libssh2 1.10 answers any other packet with LIBSSH2_ERROR_BAD_USE).
    var outboundPending: Bool {
        libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
    }

    /// Waits until the socket is ready in the direction libssh2 last blocked on, a deadline
    /// passes (`.timedOut`), or the job is cancelled (`.cancelled`). Sends keepalives while waiting.
    func waitSocket(until deadline: ContinuousClock.Instant?) throws {
        if cancelFlag?.isSet == true { throw SessionFailure.cancelled }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        var timeout = -1
        if events == 0 {
            // libssh2 returned EAGAIN without saying why; do not trust a long sleep.
            events = Int16(POLLIN)
            timeout = 20
        }
        if keepaliveActive {
            // Keepalives ask for a reply, so a live server is never silent for long while we wait.
            let silence = Int(pks_now_ms() - callbackState.pointee.last_receive_ms)
            let limit = config.keepaliveInterval * SSHSession.keepaliveCountMax * 1000
            if silence > limit {
                throw markDead(
                    "the server at \(config.address) port \(config.port) stopped answering: nothing received for "
                        + "\(silence / 1000) s despite keepalives every \(config.keepaliveInterval) s")
            }
            if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND == 0 {
                var next: Int32 = 0
                let rc = libssh2_keepalive_send(session, &next)
                if rc != 0 && rc != LIBSSH2_ERROR_EAGAIN { throw failure("sending a keepalive", code: rc) }
                if next > 0 { timeout = timeout < 0 ? Int(next) * 1000 : min(timeout, Int(next) * 1000) }
            }
            let untilLimit = max(limit - silence, 0) + 1
            timeout = timeout < 0 ? untilLimit : min(timeout, untilLimit)
        }
        if let deadline {
            let remaining = (deadline - ContinuousClock.now).milliseconds
            if remaining <= 0 { throw SessionFailure.timedOut }
            timeout = timeout < 0 ? remaining : min(timeout, remaining)
        }
        if events & Int16(POLLIN) != 0 { _ = pks_set_tcp_quickack(socket) }
        var fds = [pollfd(fd: socket, events: events, revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, 2, Int32(clamping: timeout))
        if n < 0 && errno != EINTR { throw markDead("poll on the SSH socket failed: \(String(cString: strerror(errno)))") }
        if fds[1].revents != 0 {
            drainWakePipe()
            if cancelFlag?.isSet == true { throw SessionFailure.cancelled }
        }
    }

    /// Between jobs: sleeps until woken, sending a keepalive whenever one is due.
    func idle() {
        var timeout: Int32 = -1
        if keepaliveActive, deadReason == nil, let session {
            var next: Int32 = 0
            let rc = libssh2_keepalive_send(session, &next)
            if rc != 0 && rc != LIBSSH2_ERROR_EAGAIN {
                _ = failure("sending a keepalive", code: rc)
            } else if next > 0 {
                timeout = next * 1000
            }
        }
        var fd = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        if poll(&fd, 1, timeout) > 0 { drainWakePipe() }
    }

    private func drainWakePipe() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(wakeFD, &bytes, bytes.count) > 0 {}
    }

    // MARK: Errors

    /// Records that the session is unusable and returns the failure to throw. The libssh2 session
    /// is freed later, by ``ensureAlive()`` or ``terminate()``, never under a caller's channel.
    @discardableResult
    func markDead(_ reason: String) -> SessionFailure {
        if deadReason == nil { deadReason = reason }
        return .transport(deadReason ?? reason)
    }

    /// The failure for libssh2 code `code` (or the session's last error), fatal or not.
    func failure(_ what: String, code: Int32? = nil) -> SessionFailure {
        let (lastCode, message) = LibSSH2.lastError(session)
        let effective = code ?? lastCode
        if LibSSH2.isFatal(effective) {
            let text = message.isEmpty || message == "would block" ? LibSSH2.name(of: effective) : message
            return markDead("connection to \(config.address) port \(config.port) lost while \(what): \(text)")
        }
        return .refused("\(what): \(message)")
    }

    /// Throws the reason the session died, releasing it the first time.
    func ensureAlive() throws {
        guard let reason = deadReason else {
            if session == nil { throw SessionFailure.transport("the connection is closed") }
            // Keepalive replies are not read while idle; count silence from the start of this job.
            callbackState.pointee.last_receive_ms = pks_now_ms()
            return
        }
        release(graceful: false)
        throw SessionFailure.transport(reason)
    }

    // MARK: Shutdown

    func terminate() {
        release(graceful: deadReason == nil)
        if deadReason == nil { deadReason = "the connection is closed" }
    }

    /// Frees everything. Blocking mode with a short libssh2 timeout bounds each remaining call;
    /// a dead socket is shut down first so those calls fail at once instead of waiting.
    private func release(graceful: Bool) {
        keepaliveActive = false
        if let session {
            if !graceful, socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
            libssh2_session_set_timeout(session, 2000)
            libssh2_session_set_blocking(session, 1)
            if let sftp { _ = libssh2_sftp_shutdown(sftp) }
            if let requestChannel { _ = libssh2_channel_free(requestChannel) }
            if let spareChannel { _ = libssh2_channel_free(spareChannel) }
            if graceful { _ = pks_session_disconnect(session, "pksplay closing the session") }
            _ = libssh2_session_free(session)
        }
        sftp = nil
        requestChannel = nil
        unansweredRequests = []
        spareChannel = nil
        spareOpenPending = false
        session = nil
        if socket >= 0 {
            close(socket)
            socket = -1
        }
    }
}

extension HostKeyKind {
    /// The `ssh_host_<stem>_key` file name part on a Debian host.
    var fileStem: String {
        switch self {
        case .ed25519: return "ed25519"
        case .ecdsa256, .ecdsa384, .ecdsa521: return "ecdsa"
        case .rsa: return "rsa"
        case .dss: return "dsa"
        case .unknown: return "*"
        }
    }
}
