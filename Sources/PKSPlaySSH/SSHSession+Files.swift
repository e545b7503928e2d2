import CLibSSH2
import Foundation
import PKSPlayCore

extension SSHSession {
    // MARK: put / get

    /// Writes `data` to `path` over SFTP, pipelined on the request channel where the server allows
    /// (libssh2's SFTP otherwise, `cat` when the server has no SFTP). With `mode`
    /// the file gets exactly that mode before any content is written; without, a new file is
    /// created 0644 (less the server's umask) and an existing one keeps its mode.
    func put(_ data: Data, to path: String, mode: Int?) throws {
        try ensureAlive()
        if let mode, !(0...0o7777).contains(mode) {
            throw SessionFailure.invalidRequest("file mode \(String(mode, radix: 8)) for \(path) is not between 0 and 7777 (octal)")
        }
        if try putPipelined(data, to: path, mode: mode) { return }
        guard let sftp = try sftpChannel() else { return try putWithCat(data, to: path, mode: mode) }
        try sftpWrite(
            sftp, data, to: path, flags: LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
            createMode: mode ?? 0o644, exactMode: mode, deadline: nil)
    }

    /// The first read of a `get`: small enough that libssh2's read-ahead is two requests.
    static let firstReadSize = 8 * 1024

    /// Reads the whole file at `path` over SFTP, pipelined on the request channel where the server
    /// allows (libssh2's SFTP otherwise, `cat` when the server has no SFTP).
    func get(_ path: String) throws -> Data {
        try ensureAlive()
        if let content = try getPipelined(path) { return content }
        guard let sftp = try sftpChannel() else { return try getWithCat(path) }
        guard let handle = try open(sftp, path, flags: LIBSSH2_FXF_READ, mode: 0, deadline: nil) else {
            throw sftpFailure(sftp, "cannot open it for reading")
        }
        var content = Data()
        var failure: SessionFailure?
        // libssh2 asks the server for four times the buffer it is given before it returns (in
        // 30000-byte requests): with the whole 256 KiB buffer that is 35 requests, each answered,
        // for a file of a few lines. Start small, so a small file costs two requests, and grow the
        // ask while the file keeps coming.
        var ask = Self.firstReadSize
        while true {
            let rc = libssh2_sftp_read(handle, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), ask)
            if rc > 0 {
                content.append(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: rc)
                if content.count >= ask { ask = min(ask * 4, buffer.count) }
            } else if rc == 0 {
                break
            } else if rc == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(until: nil)
            } else {
                failure = sftpFailure(sftp, "cannot read it", code: Int32(rc))
                break
            }
        }
        let closed = try retry(until: nil) { pks_sftp_close(handle) }
        if let failure { throw failure }
        if closed != 0 { throw sftpFailure(sftp, "cannot close it", code: closed) }
        return content
    }

    // MARK: Environment

    /// A fresh, unguessable path under /tmp for an environment file.
    static func environmentFilePath() -> String {
        "/tmp/.pksplay-env-" + (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
    }

    /// Writes `export NAME='value'` lines to a new 0600 file at `path` (which must not exist). The
    /// values travel inside the SSH connection (SFTP, or stdin of `cat`), never on a command line.
    func writeEnvironmentFile(_ environment: [String: String], to path: String, deadline: ContinuousClock.Instant?) throws {
        var script = ""
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            guard SSHSession.isValidVariableName(name) else {
                throw SessionFailure.invalidRequest(
                    "environment variable name '\(name)' is not valid: use letters, digits and _, not starting with a digit")
            }
            guard !value.utf8.contains(0) else {
                throw SessionFailure.invalidRequest("the value of environment variable \(name) contains a NUL byte, which no environment can hold")
            }
            script += "export \(name)=\(shellQuote(value))\n"
        }
        do {
            if let sftp = try sftpChannel() {
                try sftpWrite(
                    sftp, Data(script.utf8), to: path, flags: LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
                    createMode: 0o600, exactMode: nil, deadline: deadline)
            } else {
                let result = try runCommand(
                    SSHSession.wrap("umask 077 && set -C && cat > \(shellQuote(path))", environmentFile: nil),
                    stdin: Data(script.utf8), deadline: deadline, onOutput: nil)
                if result.exitStatus != 0 {
                    throw SessionFailure.refused("cannot write it with cat (exit \(result.exitStatus)): \(result.stderrText.trimmed)")
                }
            }
        } catch SessionFailure.sftp(_, let reason), SessionFailure.refused(let reason) {
            throw SessionFailure.fileTransfer(path: path, reason: "cannot write the command's environment file: \(reason)")
        }
    }

    static func isValidVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    // MARK: SFTP plumbing

    /// The session's SFTP channel, opened on first use; nil when the server offers no SFTP.
    private func sftpChannel() throws -> OpaquePointer? {
        if let sftp { return sftp }
        if sftpUnavailable != nil { return nil }
        try settleSpareChannel()
        if let handle = try retryPointer(until: channelSetupDeadline(), { libssh2_sftp_init(session) }) {
            sftp = handle
            return handle
        }
        let (code, message) = LibSSH2.lastError(session)
        switch code {
        case LIBSSH2_ERROR_SOCKET_NONE, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV,
            LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_BAD_SOCKET, LIBSSH2_ERROR_DECRYPT, LIBSSH2_ERROR_BAD_USE:
            throw failure("starting SFTP", code: code)
        default:
            // No sftp subsystem (or it died at once): fall back to cat for the session's lifetime.
            sftpUnavailable = message
            return nil
        }
    }

    private func open(_ sftp: OpaquePointer, _ path: String, flags: Int32, mode: Int, deadline: ContinuousClock.Instant?) throws -> OpaquePointer? {
        let bytes = Array(path.utf8)
        return try retryPointer(until: deadline) {
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    pks_sftp_open(sftp, $0.baseAddress, UInt32($0.count), UInt(flags), mode)
                }
            }
        }
    }

    private func sftpWrite(
        _ sftp: OpaquePointer, _ data: Data, to path: String, flags: Int32, createMode: Int, exactMode: Int?,
        deadline: ContinuousClock.Instant?
    ) throws {
        guard let handle = try open(sftp, path, flags: flags, mode: createMode, deadline: deadline) else {
            throw sftpFailure(sftp, "cannot open it for writing")
        }
        var failure: SessionFailure?
        if let exactMode {
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            attributes.flags = UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS)
            attributes.permissions = UInt(exactMode)
            let rc = try retry(until: deadline) { pks_sftp_fsetstat(handle, &attributes) }
            if rc != 0 { failure = sftpFailure(sftp, "cannot set its mode to \(String(exactMode, radix: 8))", code: rc) }
        }
        var written = 0
        while failure == nil && written < data.count {
            // At most 1 MiB per call: libssh2 turns the whole buffer it is given into packets at once.
            let length = min(data.count - written, 1 << 20)
            let rc = data.withUnsafeBytes { raw in
                libssh2_sftp_write(handle, raw.baseAddress!.advanced(by: written).assumingMemoryBound(to: CChar.self), length)
            }
            if rc > 0 {
                written += rc
            } else if rc == LIBSSH2_ERROR_EAGAIN || rc == 0 {
                try waitSocket(until: deadline)
            } else {
                failure = sftpFailure(sftp, "cannot write it", code: Int32(rc))
            }
        }
        let closed = try retry(until: deadline) { pks_sftp_close(handle) }
        if let failure { throw failure }
        if closed != 0 { throw sftpFailure(sftp, "cannot close it", code: closed) }
    }

    /// The failure for an SFTP call: the server's status when it answered, else the session's error.
    private func sftpFailure(_ sftp: OpaquePointer, _ action: String, code: Int32? = nil) -> SessionFailure {
        let effective = code ?? libssh2_session_last_errno(session)
        if effective == LIBSSH2_ERROR_SFTP_PROTOCOL {
            let status = libssh2_sftp_last_error(sftp)
            return .sftp(code: status, message: "\(action): \(sftpStatusText(status))")
        }
        return failure(action, code: effective)
    }

    // MARK: Without SFTP

    private func putWithCat(_ data: Data, to path: String, mode: Int?) throws {
        let quoted = shellQuote(path)
        // Owner-only while the content goes in, the asked mode after: a mode without the owner's
        // write bit (0444) would otherwise stop `cat` from writing.
        let command = mode.map { "umask 077 && : > \(quoted) && chmod 600 \(quoted) && cat > \(quoted) && chmod \(String($0, radix: 8)) \(quoted)" }
            ?? "cat > \(quoted)"
        let result = try runCommand(SSHSession.wrap(command, environmentFile: nil), stdin: data, deadline: nil, onOutput: nil)
        if result.exitStatus != 0 {
            throw SessionFailure.refused("cannot write it with cat (exit \(result.exitStatus)): \(result.stderrText.trimmed)")
        }
    }

    private func getWithCat(_ path: String) throws -> Data {
        let result = try runCommand(
            SSHSession.wrap("cat -- \(shellQuote(path))", environmentFile: nil), stdin: Data(), deadline: nil, onOutput: nil)
        if result.exitStatus != 0 {
            throw SessionFailure.refused("cannot read it with cat (exit \(result.exitStatus)): \(result.stderrText.trimmed)")
        }
        return result.stdout
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
