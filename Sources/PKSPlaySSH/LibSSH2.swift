import CLibSSH2
import Foundation

/// Process-wide libssh2 set-up and the translation of its error codes into words.
enum LibSSH2 {
    /// `libssh2_init` is not thread-safe; a global's lazy initialiser runs exactly once, atomically,
    /// so 50 sessions connecting at once all see one initialisation.
    private static let initResult: Int32 = libssh2_init(0)

    static func ensureInitialized() throws(SessionFailure) {
        if initResult != 0 { throw .transport("libssh2 could not initialise its crypto back end (code \(initResult))") }
    }

    /// The libssh2 version in use, such as `1.10.0`.
    static var version: String { libssh2_version(0).map { String(cString: $0) } ?? "unknown" }

    /// The last error libssh2 recorded on `session`, as its code and message.
    static func lastError(_ session: OpaquePointer?) -> (code: Int32, message: String) {
        guard let session else { return (LIBSSH2_ERROR_SOCKET_NONE, "no session") }
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? ""
        return (code, text.isEmpty ? name(of: code) : text)
    }

    /// Codes after which the session itself is unusable: the transport broke or desynchronised.
    /// Everything else (a refused channel, an SFTP status, a rejected key) leaves it working.
    static func isFatal(_ code: Int32) -> Bool {
        switch code {
        case LIBSSH2_ERROR_CHANNEL_OUTOFORDER, LIBSSH2_ERROR_CHANNEL_FAILURE, LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED,
            LIBSSH2_ERROR_CHANNEL_UNKNOWN, LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED,
            LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED, LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT,
            LIBSSH2_ERROR_SFTP_PROTOCOL, LIBSSH2_ERROR_REQUEST_DENIED, LIBSSH2_ERROR_METHOD_NOT_SUPPORTED,
            LIBSSH2_ERROR_INVAL, LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_AUTHENTICATION_FAILED,
            LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_METHOD_NONE, LIBSSH2_ERROR_PASSWORD_EXPIRED,
            LIBSSH2_ERROR_AGENT_PROTOCOL, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED, LIBSSH2_ERROR_PUBLICKEY_PROTOCOL,
            LIBSSH2_ERROR_KNOWN_HOSTS, LIBSSH2_ERROR_BUFFER_TOO_SMALL, LIBSSH2_ERROR_EAGAIN:
            return false
        default:
            return true
        }
    }

    static func name(of code: Int32) -> String {
        switch code {
        case LIBSSH2_ERROR_SOCKET_NONE: return "socket error"
        case LIBSSH2_ERROR_BANNER_RECV: return "no SSH banner received"
        case LIBSSH2_ERROR_BANNER_SEND: return "cannot send SSH banner"
        case LIBSSH2_ERROR_KEX_FAILURE, LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE: return "key exchange failed"
        case LIBSSH2_ERROR_SOCKET_SEND: return "cannot send on the socket"
        case LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_SOCKET_TIMEOUT: return "timed out"
        case LIBSSH2_ERROR_SOCKET_DISCONNECT: return "the server closed the connection"
        case LIBSSH2_ERROR_SOCKET_RECV: return "cannot receive on the socket"
        case LIBSSH2_ERROR_PROTO: return "SSH protocol error"
        case LIBSSH2_ERROR_DECRYPT: return "decryption failed"
        case LIBSSH2_ERROR_CHANNEL_FAILURE: return "channel failure"
        case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED: return "channel request denied"
        case LIBSSH2_ERROR_CHANNEL_CLOSED: return "channel closed"
        case LIBSSH2_ERROR_SFTP_PROTOCOL: return "SFTP error"
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED: return "authentication failed"
        case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: return "public key not verified"
        case LIBSSH2_ERROR_FILE: return "cannot use the key file"
        case LIBSSH2_ERROR_BAD_USE: return "libssh2 misuse"
        default: return "libssh2 error \(code)"
        }
    }
}

/// Why an operation on the session's thread stopped. Mapped to ``ConnectionError`` at the API edge.
enum SessionFailure: Error {
    /// The connection is broken or was never made; the host is unreachable.
    case transport(String)
    /// The server refused a request on a healthy connection (a channel, an exec, a subsystem).
    case refused(String)
    /// An SFTP status other than OK, with the server's code.
    case sftp(code: UInt, message: String)
    /// Writing a helper file on the host failed (the environment file of an exec).
    case fileTransfer(path: String, reason: String)
    /// The request itself is unusable (a bad variable name, a bad mode); nothing was sent.
    case invalidRequest(String)
    case timedOut
    case cancelled
}

/// The words OpenSSH's sftp-server status codes mean, for file transfer errors.
func sftpStatusText(_ code: UInt) -> String {
    switch code {
    case UInt(LIBSSH2_FX_EOF): return "unexpected end of file"
    case UInt(LIBSSH2_FX_NO_SUCH_FILE): return "no such file or directory"
    case UInt(LIBSSH2_FX_PERMISSION_DENIED): return "permission denied"
    case UInt(LIBSSH2_FX_FAILURE): return "failure (a directory, a full disk or a missing parent directory?)"
    case UInt(LIBSSH2_FX_BAD_MESSAGE): return "bad message"
    case UInt(LIBSSH2_FX_NO_CONNECTION), UInt(LIBSSH2_FX_CONNECTION_LOST): return "connection lost"
    case UInt(LIBSSH2_FX_OP_UNSUPPORTED): return "operation not supported by the server"
    case UInt(LIBSSH2_FX_NO_SUCH_PATH): return "no such path"
    case UInt(LIBSSH2_FX_FILE_ALREADY_EXISTS): return "file already exists"
    case UInt(LIBSSH2_FX_WRITE_PROTECT): return "write protected"
    case UInt(LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM): return "no space left on the file system"
    case UInt(LIBSSH2_FX_QUOTA_EXCEEDED): return "quota exceeded"
    case UInt(LIBSSH2_FX_NOT_A_DIRECTORY): return "not a directory"
    case UInt(LIBSSH2_FX_INVALID_FILENAME): return "invalid file name"
    default: return "SFTP status \(code)"
    }
}
