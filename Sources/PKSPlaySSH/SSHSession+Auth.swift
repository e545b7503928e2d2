import CLibSSH2
import Foundation
import PKSPlayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SSHSession {
    /// Authenticates as `config.user`: key files, then ssh-agent, then password. Returns how it
    /// succeeded; when everything fails the error lists each attempt and why it failed.
    ///
    /// The first usable key file is offered before the server is asked which methods it accepts.
    /// That question is a "none" request, which OpenSSH answers as a failed attempt, after a
    /// delay of its own (about 5-15 ms, to hide which users exist); a run that logs in with a key
    /// should not wait for it. After a failure the methods are asked as before, so at most one
    /// attempt more reaches a server that turns out not to accept keys.
    func authenticate(deadline: ContinuousClock.Instant) throws -> String {
        let user = config.user
        let userLength = UInt32(user.utf8.count)
        var tried: [String] = []
        // What the server accepts: unknown until asked, and asked once a key has failed.
        var methods: Set<String>?

        // Key files.
        var offeredBlind = false
        // The entry of a key the server refused before its methods were known, corrected below
        // if the server turns out not to accept keys at all.
        var blindRejection: (index: Int, path: String)?
        let keys = config.keyFilesToTry()
        if keys.isEmpty {
            tried.append("key files (none given and no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)")
        } else {
            let passphrase = config.passphrase.resolve()
            for path in keys {
                let key = PrivateKeyFile(path: path)
                guard key.exists else {
                    tried.append("key \(path) (no such file)")
                    continue
                }
                guard key.readable else {
                    tried.append("key \(path) (not readable)")
                    continue
                }
                if key.encrypted == true && passphrase == nil {
                    tried.append("key \(path) (encrypted and no passphrase: set PKSPLAY_SSH_PASSPHRASE)")
                    continue
                }
                if offeredBlind, methods == nil {
                    guard let listed = try serverMethods(user: user, deadline: deadline) else { return Self.noneAccepted }
                    methods = listed
                }
                if let methods, !methods.contains("publickey") {
                    tried.append("key \(path) (the server does not accept publickey)")
                    continue
                }
                // For an encrypted key, no .pub: libssh2 then decrypts the private key before it talks
                // to the server, so a wrong passphrase shows as such instead of as a rejected key.
                let publicKey = key.encrypted == true ? nil : key.publicKeyPath
                let rc = try retry(until: deadline, phase: "authentication") {
                    pks_userauth_publickey_fromfile(session, user, userLength, publicKey, path, passphrase ?? "")
                }
                if rc == 0 { return "publickey \(path)" }
                try checkStillConnected(rc, tried: tried + ["key \(path)"], offered: methods.map(Self.describe) ?? "")
                if methods == nil {
                    offeredBlind = true
                    if rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED {
                        blindRejection = (tried.count, path)
                    }
                }
                tried.append("key \(path) (\(describeKeyFailure(rc, key: key, hadPassphrase: passphrase != nil)))")
            }
        }
        let accepted: Set<String>
        if let methods {
            accepted = methods
        } else {
            guard let listed = try serverMethods(user: user, deadline: deadline) else { return Self.noneAccepted }
            accepted = listed
        }
        if let blindRejection, !accepted.contains("publickey") {
            tried[blindRejection.index] = "key \(blindRejection.path) (the server does not accept publickey)"
        }
        let offered = Self.describe(accepted)

        // ssh-agent.
        if !config.useAgent {
            tried.append("ssh-agent (disabled)")
        } else if let socketPath = Environment.value("SSH_AUTH_SOCK"), !socketPath.isEmpty {
            if !accepted.contains("publickey") {
                tried.append("ssh-agent (the server does not accept publickey)")
            } else if let used = try authenticateWithAgent(user: user, deadline: deadline, tried: &tried, offered: offered) {
                return used
            }
        } else {
            tried.append("ssh-agent (SSH_AUTH_SOCK not set)")
        }

        // Password.
        if let password = config.password {
            if accepted.contains("password") {
                let rc = try retry(until: deadline, phase: "authentication") {
                    pks_userauth_password(session, user, userLength, password, UInt32(password.utf8.count))
                }
                if rc == 0 { return "password" }
                try checkStillConnected(rc, tried: tried + ["password"], offered: offered)
                tried.append(rc == LIBSSH2_ERROR_PASSWORD_EXPIRED ? "password (expired)" : "password (rejected by the server)")
            } else if accepted.contains("keyboard-interactive") {
                if try keyboardInteractive(user: user, password: password, deadline: deadline) { return "keyboard-interactive" }
                tried.append("password via keyboard-interactive (rejected by the server)")
            } else {
                tried.append("password (the server does not accept password authentication)")
            }
        } else {
            tried.append("password (none given)")
        }

        throw markDead(
            "authentication failed for \(user)@\(config.address) port \(config.port); tried: "
                + tried.joined(separator: "; ") + ". The server accepts: \(offered)")
    }

    private static let noneAccepted = "none (the server asked for no authentication)"

    private static func describe(_ methods: Set<String>) -> String { methods.sorted().joined(separator: ",") }

    /// The methods the server accepts, from a "none" request; nil when that request itself
    /// succeeded (a server that asks for no authentication).
    private func serverMethods(user: String, deadline: ContinuousClock.Instant) throws -> Set<String>? {
        while true {
            if let list = libssh2_userauth_list(session, user, UInt32(user.utf8.count)) {
                return Set(String(cString: list).split(separator: ",").map(String.init))
            }
            if libssh2_userauth_authenticated(session) != 0 { return nil }
            let code = libssh2_session_last_errno(session)
            guard code == LIBSSH2_ERROR_EAGAIN else {
                throw failure("asking which authentication methods the server accepts", code: code).asTransport
            }
            try retryWait(deadline, phase: "authentication")
        }
    }

    private func authenticateWithAgent(
        user: String, deadline: ContinuousClock.Instant, tried: inout [String], offered: String
    ) throws -> String? {
        guard let agent = libssh2_agent_init(session) else {
            tried.append("ssh-agent (libssh2 could not set up an agent client)")
            return nil
        }
        defer {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        if libssh2_agent_connect(agent) != 0 {
            tried.append("ssh-agent (cannot connect to SSH_AUTH_SOCK)")
            return nil
        }
        if libssh2_agent_list_identities(agent) != 0 {
            tried.append("ssh-agent (cannot list its keys)")
            return nil
        }
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var count = 0
        while libssh2_agent_get_identity(agent, &identity, previous) == 0, let current = identity {
            count += 1
            let rc = try retry(until: deadline, phase: "authentication") { libssh2_agent_userauth(agent, user, current) }
            if rc == 0 {
                let comment = current.pointee.comment.map { String(cString: $0) } ?? ""
                return "ssh-agent key \(comment.isEmpty ? "#\(count)" : comment)"
            }
            try checkStillConnected(rc, tried: tried + ["ssh-agent key #\(count)"], offered: offered)
            previous = current
        }
        tried.append(count == 0 ? "ssh-agent (holds no keys)" : "ssh-agent (\(count) key\(count == 1 ? "" : "s"), none accepted)")
        return nil
    }

    private func keyboardInteractive(user: String, password: String, deadline: ContinuousClock.Instant) throws -> Bool {
        // The C callback answers every prompt with the string behind the session's abstract pointer.
        guard let copy = strdup(password) else { return false }
        callbackState.pointee.password = UnsafePointer(copy)
        defer {
            callbackState.pointee.password = nil
            memset(copy, 0, strlen(copy))
            free(copy)
        }
        let rc = try retry(until: deadline, phase: "authentication") {
            pks_userauth_keyboard_interactive(session, user, UInt32(user.utf8.count))
        }
        if rc == 0 { return true }
        try checkStillConnected(rc, tried: ["password via keyboard-interactive"], offered: "")
        return false
    }

    /// After a failed attempt: if the server hung up (too many attempts, `MaxAuthTries`), stop
    /// with what was tried instead of reporting later attempts as rejected.
    private func checkStillConnected(_ rc: Int32, tried: [String], offered: String) throws {
        guard LibSSH2.isFatal(rc) else { return }
        let (_, message) = LibSSH2.lastError(session)
        throw markDead(
            "authentication failed for \(config.user)@\(config.address) port \(config.port): the server closed the "
                + "connection (\(message); too many attempts for its MaxAuthTries?) after: "
                + tried.joined(separator: "; ") + (offered.isEmpty ? "" : ". The server accepts: \(offered)"))
    }

    private func describeKeyFailure(_ rc: Int32, key: PrivateKeyFile, hadPassphrase: Bool) -> String {
        switch rc {
        case LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
            if key.encrypted == true { return hadPassphrase ? "wrong passphrase" : "encrypted and no passphrase: set PKSPLAY_SSH_PASSPHRASE" }
            let (_, message) = LibSSH2.lastError(session)
            return "cannot load it: \(message)"
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
            if key.isRSA {
                return "rejected by the server; libssh2 \(LibSSH2.version) signs RSA keys with SHA-1 (ssh-rsa), which OpenSSH 8.8 "
                    + "and later refuse unless PubkeyAcceptedAlgorithms allows ssh-rsa: use an ed25519 or ECDSA key"
            }
            return "rejected by the server: its public key is not in the user's authorized_keys?"
        default:
            let (_, message) = LibSSH2.lastError(session)
            return "failed: \(message)"
        }
    }

    /// Waits for the socket during authentication, turning a passed deadline into a clear failure.
    private func retryWait(_ deadline: ContinuousClock.Instant, phase: String) throws {
        do {
            try waitSocket(until: deadline)
        } catch SessionFailure.timedOut {
            throw markDead("\(phase) with \(config.address) port \(config.port) timed out after \(formatSeconds(config.connectTimeout)) s")
        }
    }
}

extension SessionFailure {
    /// The same failure as a transport one: during connect every failure makes the host unreachable.
    var asTransport: SessionFailure {
        switch self {
        case .refused(let text): return .transport(text)
        case .sftp(_, let message): return .transport(message)
        default: return self
        }
    }
}
