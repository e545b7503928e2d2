import CLibSSH2
import Foundation
import PKSPlayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SSHSession {
    /// Runs one command on a new channel and returns its whole result.
    ///
    /// The command is preceded by a line that prints the shell's PID, framed, as the first bytes
    /// of stderr; the frame is stripped before anyone sees stderr. sshd makes that shell a process
    /// group leader, so on timeout or cancellation the whole group can be killed.
    func exec(_ request: ExecRequest) throws -> ExecResult {
        try ensureAlive()
        let deadline = try SSHSession.deadline(afterSeconds: request.timeout)
        var envFile: String?
        if !request.environment.isEmpty {
            let path = SSHSession.environmentFilePath()
            do {
                try writeEnvironmentFile(request.environment, to: path, deadline: deadline)
            } catch SessionFailure.timedOut {
                killRemote(pid: nil, cleanup: path)
                throw SessionFailure.timedOut
            } catch SessionFailure.cancelled {
                killRemote(pid: nil, cleanup: path)
                throw SessionFailure.cancelled
            }
            envFile = path
        }
        let command = SSHSession.wrap(request.command, environmentFile: envFile)
        return try runCommand(command, stdin: request.stdin ?? Data(), deadline: deadline, cleanup: envFile, onOutput: request.onOutput)
    }

    /// The instant `seconds` from now; nil for no limit (nil or infinity).
    static func deadline(afterSeconds seconds: Double?) throws -> ContinuousClock.Instant? {
        guard let seconds, seconds != .infinity else { return nil }
        guard !seconds.isNaN else { throw SessionFailure.invalidRequest("the command timeout is not a number") }
        // Beyond a year is no limit in practice, and would overflow the clock arithmetic.
        guard seconds < 31_536_000 else { return nil }
        return ContinuousClock.now + .milliseconds(Int(max(seconds, 0) * 1000))
    }

    static let pidFramePrefix = "printf '\\036pks%d\\036' \"$$\" >&2\n"

    /// The command line sent to sshd: the PID frame, the environment file sourced and removed,
    /// then the caller's command, verbatim, on its own line.
    static func wrap(_ command: String, environmentFile: String?) -> String {
        var script = pidFramePrefix
        if let file = environmentFile {
            let quoted = shellQuote(file)
            script += ". \(quoted) && rm -f \(quoted) || { rm -f \(quoted); "
                + "echo 'pksplay: cannot read the environment file \(file)' >&2; exit 125; }\n"
        }
        return script + command
    }

    /// Opens a channel, runs `command`, feeds `stdin` then EOF, drains stdout and stderr in one
    /// loop, and returns the exit status. On timeout or cancellation the channel is closed, the
    /// remote process group killed and `cleanup` (a remote file) removed.
    func runCommand(
        _ command: String, stdin: Data, deadline: ContinuousClock.Instant?, cleanup: String? = nil,
        onOutput: (@Sendable (ExecRequest.OutputStream, Data) -> Void)?
    ) throws -> ExecResult {
        try ensureAlive()
        var state = CommandState(onOutput: onOutput)
        guard let channel = try openChannel(deadline: deadline) else {
            throw failure("opening a session channel").asTransport
        }
        do {
            let bytes = Array(command.utf8)
            let rc = try retry(until: deadline) {
                bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { pks_channel_exec(channel, $0.baseAddress, UInt32($0.count)) }
                }
            }
            if rc != 0 { throw failure("starting the command", code: rc).asTransport }
            // While the command runs, the server's answer to the next channel's open comes in.
            prepareSpareChannel()
            try pump(channel, stdin: stdin, state: &state, deadline: deadline)
            let status = try finish(channel, deadline: deadline, sawEOF: state.remoteEOF)
            return ExecResult(exitStatus: status, stdout: state.stdout, stderr: state.collectedStderr)
        } catch let error as SessionFailure {
            switch error {
            case .timedOut, .cancelled:
                // Kill first: the server closes the channel only once the command's output ends.
                if !state.remoteEOF || cleanup != nil { killRemote(pid: state.remoteEOF ? nil : state.frame.pid, cleanup: cleanup) }
                abandon(channel)
            default:
                if deadReason == nil { abandon(channel) }
            }
            throw error
        }
    }

    /// The channel for a command: the spare one opened while the last command ran, or a new one.
    /// A spare open still under way is finished by the same call, which libssh2 resumes.
    private func openChannel(deadline: ContinuousClock.Instant?) throws -> OpaquePointer? {
        if let spareChannel {
            self.spareChannel = nil
            return spareChannel
        }
        spareOpenPending = false
        return try retryPointer(until: deadline) { pks_channel_open_session(session) }
    }

    /// Starts opening the next command's channel, without waiting for the server's answer, which
    /// arrives while the current command runs: the next command finds its channel open and saves
    /// a round trip. Best effort: when it cannot start, the next command opens a channel as before
    /// and reports what goes wrong.
    func prepareSpareChannel() {
        guard spareChannel == nil, !spareOpenPending, deadReason == nil, session != nil, !outboundPending else { return }
        if let channel = pks_channel_open_session(session) {
            spareChannel = channel
            return
        }
        guard libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN else { return }
        spareOpenPending = true
        // A partly sent open must be finished before any other packet goes out.
        if outboundPending { _ = try? settleSpareChannel() }
    }

    /// Finishes an open started by ``prepareSpareChannel()``, keeping the channel as the spare.
    /// Called before opening any other channel: libssh2 has one open in progress per session, and
    /// a new call would resume that one.
    func settleSpareChannel() throws {
        guard spareOpenPending else { return }
        spareOpenPending = false
        spareChannel = try retryPointer(until: channelSetupDeadline()) { pks_channel_open_session(session) }
    }

    /// The calls that can leave a packet half-sent; the same call must be repeated to finish it.
    private enum PendingSend { case write, eof, read }

    private func pump(_ channel: OpaquePointer, stdin: Data, state: inout CommandState, deadline: ContinuousClock.Instant?) throws {
        var offset = 0
        var eofSent = false
        var pending: PendingSend?
        let chunkSize = 64 * 1024
        while true {
            var progressed = false

            if !eofSent && (pending == nil || pending == .write || pending == .eof) {
                if offset < stdin.count && pending != .eof {
                    let length = min(stdin.count - offset, chunkSize)
                    let rc = stdin.withUnsafeBytes { raw in
                        pks_channel_write(channel, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), length)
                    }
                    if rc > 0 {
                        offset += rc
                        progressed = true
                        pending = nil
                    } else if rc == LIBSSH2_ERROR_EAGAIN {
                        pending = outboundPending ? .write : nil
                    } else if rc < 0 {
                        if LibSSH2.isFatal(Int32(rc)) { throw failure("sending the command's input", code: Int32(rc)) }
                        // The command closed its input (it exited or never reads): drop the rest, as a pipe would.
                        offset = stdin.count
                        eofSent = true
                        pending = nil
                    }
                } else {
                    let rc = libssh2_channel_send_eof(channel)
                    if rc == 0 {
                        eofSent = true
                        progressed = true
                        pending = nil
                    } else if rc == LIBSSH2_ERROR_EAGAIN {
                        pending = outboundPending ? .eof : nil
                    } else {
                        if LibSSH2.isFatal(rc) { throw failure("closing the command's input", code: rc) }
                        eofSent = true
                        pending = nil
                    }
                }
            }

            var streamsAtEnd = 0
            if pending == nil || pending == .read {
                streams: for stream in [Int32(0), Int32(SSH_EXTENDED_DATA_STDERR)] {
                    while true {
                        let rc = pks_channel_read(channel, stream, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
                        if rc > 0 {
                            state.deliver(Data(bytes: buffer.baseAddress!, count: rc), stderr: stream != 0)
                            progressed = true
                            pending = nil
                            continue
                        }
                        if rc == 0 {
                            streamsAtEnd += 1
                            break
                        }
                        if rc == LIBSSH2_ERROR_EAGAIN {
                            if outboundPending {
                                pending = .read
                                break streams
                            }
                            break
                        }
                        throw failure("reading the command's output", code: Int32(rc))
                    }
                }
            }

            if pending == nil && (libssh2_channel_eof(channel) == 1 || streamsAtEnd == 2) {
                state.remoteEOF = libssh2_channel_eof(channel) == 1
                state.finishStderr()
                return
            }
            if !progressed {
                do {
                    try waitSocket(until: deadline)
                } catch SessionFailure.timedOut {
                    finishPending(pending, channel, stdin: stdin, offset: offset)
                    throw SessionFailure.timedOut
                } catch SessionFailure.cancelled {
                    finishPending(pending, channel, stdin: stdin, offset: offset)
                    throw SessionFailure.cancelled
                }
            }
        }
    }

    /// Completes a half-sent packet before giving up on a command, so the calls that follow (the
    /// kill, the channel close) are not refused by libssh2. Bounded; on failure the session is
    /// left to report what broke.
    private func finishPending(_ pending: PendingSend?, _ channel: OpaquePointer, stdin: Data, offset: Int) {
        guard let pending else { return }
        let saved = cancelFlag
        cancelFlag = nil
        defer { cancelFlag = saved }
        let bound = ContinuousClock.now + .seconds(2)
        _ = try? retry(until: bound) {
            switch pending {
            case .write:
                let length = min(stdin.count - offset, 64 * 1024)
                return Int32(clamping: stdin.withUnsafeBytes { raw in
                    pks_channel_write(channel, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), length)
                })
            case .eof:
                return libssh2_channel_send_eof(channel)
            case .read:
                return Int32(clamping: pks_channel_read(channel, 0, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count))
            }
        }
    }

    /// Closes the channel after the command ended and reads its exit status: 128+n for a command
    /// killed by signal n (Linux numbering), as a shell reports it.
    private func finish(_ channel: OpaquePointer, deadline: ContinuousClock.Instant?, sawEOF: Bool) throws -> Int32 {
        var rc = try retry(until: deadline) { libssh2_channel_close(channel) }
        if rc != 0 && LibSSH2.isFatal(rc) { throw failure("closing the channel", code: rc) }
        if sawEOF {
            rc = try retry(until: deadline) { libssh2_channel_wait_closed(channel) }
            if rc != 0 && LibSSH2.isFatal(rc) { throw failure("waiting for the channel to close", code: rc) }
        }
        var status = libssh2_channel_get_exit_status(channel)
        var signal: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        if libssh2_channel_get_exit_signal(channel, &signal, &signalLength, nil, nil, nil, nil) == 0, let signal {
            let name = String(decoding: UnsafeRawBufferPointer(start: signal, count: signalLength), as: UTF8.self)
            libssh2_free(session, signal)
            status = 128 + (SSHSession.signalNumbers[name] ?? 127)
        }
        _ = try retry(until: deadline) { libssh2_channel_free(channel) }
        return status
    }

    /// Linux signal numbers by the names sshd reports (RFC 4254 section 6.10, without "SIG").
    static let signalNumbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10,
        "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19,
        "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
        "IO": 29, "PWR": 30, "SYS": 31,
    ]

    /// Gives up on a channel: closes and frees it within a short bound, ignoring what the server
    /// still sends on it.
    private func abandon(_ channel: OpaquePointer) {
        let saved = cancelFlag
        cancelFlag = nil
        defer { cancelFlag = saved }
        let bound = ContinuousClock.now + .seconds(2)
        _ = try? retry(until: bound) { libssh2_channel_close(channel) }
        if deadReason == nil { _ = try? retry(until: bound) { libssh2_channel_free(channel) } }
    }

    /// Kills the process group of a command we gave up on (TERM, then KILL after 2 s) and removes
    /// a leftover file. Best effort on a fresh channel: the caller reports the timeout either way.
    func killRemote(pid: Int32?, cleanup: String?) {
        // The kill runs as a command itself; if it times out too, it must not try to kill itself.
        guard deadReason == nil, !killingRemote else { return }
        killingRemote = true
        defer { killingRemote = false }
        var script = ""
        if let pid, pid > 1 {
            script += "kill -TERM -- -\(pid) 2>/dev/null || kill -TERM \(pid) 2>/dev/null; n=0; "
                + "while kill -0 -- -\(pid) 2>/dev/null && [ $n -lt 20 ]; do sleep 0.1; n=$((n+1)); done; "
                + "kill -KILL -- -\(pid) 2>/dev/null; "
        }
        if let cleanup { script += "rm -f \(shellQuote(cleanup)); " }
        guard !script.isEmpty else { return }
        let saved = cancelFlag
        cancelFlag = nil
        defer { cancelFlag = saved }
        _ = try? runCommand(script + "true", stdin: Data(), deadline: ContinuousClock.now + .seconds(5), onOutput: nil)
    }
}

/// Output collected from one command, with the PID frame taken off the front of stderr.
struct CommandState {
    var stdout = Data()
    private var stderr = Data()
    var frame = PIDFrame()
    var remoteEOF = false
    let onOutput: (@Sendable (ExecRequest.OutputStream, Data) -> Void)?

    init(onOutput: (@Sendable (ExecRequest.OutputStream, Data) -> Void)?) { self.onOutput = onOutput }

    var collectedStderr: Data { stderr }

    mutating func deliver(_ chunk: Data, stderr isStderr: Bool) {
        if !isStderr {
            stdout.append(chunk)
            onOutput?(.stdout, chunk)
            return
        }
        let passed = frame.feed(chunk)
        if !passed.isEmpty {
            stderr.append(passed)
            onOutput?(.stderr, passed)
        }
    }

    /// Releases stderr held back while the frame was incomplete (a command that never printed it).
    mutating func finishStderr() {
        let rest = frame.flush()
        if !rest.isEmpty {
            stderr.append(rest)
            onOutput?(.stderr, rest)
        }
    }
}

/// Takes `\x1Epks<digits>\x1E` out of stderr. The shell prints it before the command runs, so it
/// is usually the first bytes; but a login shell may write to stderr first (a warning from root's
/// `.bashrc`, bash's `shell-init: error retrieving current directory`), so the frame is looked for
/// in the first ``searchLimit`` bytes, not only at the start. Everything else passes through, in
/// order; at most the bytes of a frame still incomplete at the end of a chunk are held back.
struct PIDFrame {
    /// Stderr a shell's start-up may print before the frame.
    static let searchLimit = 65_536
    private static let longestFrame = 16
    private(set) var pid: Int32?
    private var held = Data()
    private var scanned = 0
    private var done = false

    /// Takes the next stderr chunk; returns the bytes that belong to the command.
    mutating func feed(_ chunk: Data) -> Data {
        if done { return chunk }
        held.append(chunk)
        let bytes = [UInt8](held)
        var index = 0
        while let start = bytes[index...].firstIndex(of: 0x1E) {
            // A frame starting past the limit is the command's own output.
            if scanned + start >= PIDFrame.searchLimit { return release() }
            switch PIDFrame.match(bytes[start...]) {
            case .complete(let value, let length):
                pid = value
                done = true
                held = Data()
                return Data(bytes[..<start]) + Data(bytes[(start + length)...])
            case .partial:
                // Keep the possible frame; pass what comes before it.
                scanned += start
                held = Data(bytes[start...])
                return Data(bytes[..<start])
            case .no:
                index = start + 1
            }
        }
        scanned += bytes.count
        if scanned >= PIDFrame.searchLimit { done = true }
        held = Data()
        return Data(bytes)
    }

    mutating func flush() -> Data { release() }

    private enum Match { case complete(pid: Int32, length: Int), partial, no }

    /// Whether `bytes` (starting at a 0x1E) begin with a frame, a frame cut off by the end of the
    /// chunk, or neither.
    private static func match(_ bytes: ArraySlice<UInt8>) -> Match {
        let tag = Array("pks".utf8)
        var i = bytes.startIndex + 1
        for expected in tag {
            guard i < bytes.endIndex else { return .partial }
            guard bytes[i] == expected else { return .no }
            i += 1
        }
        let digitsStart = i
        while i < bytes.endIndex, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            i += 1
            if i - bytes.startIndex > longestFrame { return .no }
        }
        guard i < bytes.endIndex else { return .partial }
        guard bytes[i] == 0x1E, i > digitsStart, let value = Int32(String(decoding: bytes[digitsStart..<i], as: UTF8.self)) else {
            return .no
        }
        return .complete(pid: value, length: i + 1 - bytes.startIndex)
    }

    private mutating func release() -> Data {
        done = true
        defer { held = Data() }
        return held
    }
}
