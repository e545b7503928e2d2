import Foundation
import PKSPlayCore
import PKSPlaySSH
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Authentication and connection failures")
struct SSHAuthenticationTests {
    @Test func wrongKeyListsEverythingTried() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let missing = sshd.directory + "/no_such_key"
        let config = sshd.config(keys: [sshd.strangerKey, missing])
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("authentication failed for root@127.0.0.1 port \(sshd.port)"))
        #expect(reason.contains("key \(sshd.strangerKey) (rejected by the server"))
        #expect(reason.contains("key \(missing) (no such file)"))
        #expect(reason.contains("ssh-agent (disabled)"))
        #expect(reason.contains("password (none given)"))
        #expect(reason.contains("The server accepts: publickey"))
    }

    @Test func triesKeysInOrderUntilOneIsAccepted() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config(keys: [sshd.strangerKey, sshd.clientKey]))
        #expect(connection.authentication == "publickey \(sshd.clientKey)")
        await connection.close()
    }

    @Test func encryptedKeyNeedsItsPassphrase() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let key = sshd.directory + "/locked_ed25519"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", key])
        try sshd.authorize(key + ".pub")
        var config = sshd.config(keys: [key])
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(error)?.contains("key \(key) (encrypted and no passphrase: set PKSPLAY_SSH_PASSPHRASE)") == true)

        config.passphrase = .given("wrong")
        let wrong = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(wrong)?.contains("key \(key) (wrong passphrase)") == true, "\(String(describing: wrong))")

        config.passphrase = .given("open sesame")
        let connection = try await SSHConnection.connect(config)
        #expect(connection.authentication == "publickey \(key)")
        await connection.close()
    }

    @Test func ecdsaClientKeyWorks() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let key = sshd.directory + "/client_ecdsa"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", key])
        try sshd.authorize(key + ".pub")
        let connection = try await SSHConnection.connect(sshd.config(keys: [key]))
        #expect(try await connection.run("echo ecdsa").stdoutText == "ecdsa\n")
        await connection.close()
    }

    @Test func rsaClientKeyRejectionExplainsWhy() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let key = sshd.directory + "/client_rsa"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key])
        try sshd.authorize(key + ".pub")
        // libssh2 1.10 signs with ssh-rsa (SHA-1), which OpenSSH 9.2 refuses by default.
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(sshd.config(keys: [key])) }
        #expect(unreachableReason(error)?.contains("use an ed25519 or ECDSA key") == true)
    }

    @Test func rsaClientKeyWorksWhereTheServerStillAcceptsSHA1() async throws {
        var options = TestSSHD.Options()
        options.extraConfig = ["PubkeyAcceptedAlgorithms +ssh-rsa"]
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let key = sshd.directory + "/client_rsa"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key])
        try sshd.authorize(key + ".pub")
        let connection = try await SSHConnection.connect(sshd.config(keys: [key]))
        #expect(connection.authentication == "publickey \(key)")
        await connection.close()
    }

    @Test(.enabled(if: TestSSHD.mountNamespaceWorks, "root's password can only be set in sshd's own mount namespace"))
    func passwordAuthenticationWorksAfterKeysFail() async throws {
        var options = TestSSHD.Options()
        options.passwordAuthentication = true
        options.rootPassword = "pksplay-test-pw"
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        var config = sshd.config(keys: [sshd.strangerKey])
        config.password = "pksplay-test-pw"
        let connection = try await SSHConnection.connect(config)
        #expect(connection.authentication == "password")
        #expect(try await connection.run("id -un").stdoutText == "root\n")
        await connection.close()

        config.password = "not-the-password"
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("password (rejected by the server)"))
        #expect(!reason.contains("not-the-password"))
    }

    @Test func aKeyLoginAsksNoMethodListFirst() async throws {
        // A "none" request is a failed attempt to sshd, answered only after its failure delay.
        var options = TestSSHD.Options()
        options.logLevel = "DEBUG"
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config(keys: [sshd.clientKey]))
        #expect(connection.authentication == "publickey \(sshd.clientKey)")
        await connection.close()
        #expect(sshd.log.contains("method publickey"), "\(sshd.log)")
        #expect(!sshd.log.contains("method none"), "\(sshd.log)")

        // A refused key: the method list is asked once, before the next key is offered.
        let next = try await SSHConnection.connect(sshd.config(keys: [sshd.strangerKey, sshd.clientKey]))
        #expect(next.authentication == "publickey \(sshd.clientKey)")
        await next.close()
        #expect(sshd.log.components(separatedBy: "method none").count == 2, "\(sshd.log)")
    }

    @Test(.enabled(if: TestSSHD.mountNamespaceWorks, "root's password can only be set in sshd's own mount namespace"))
    func keysOnAServerWithoutPublickeyCostOneAttempt() async throws {
        var options = TestSSHD.Options()
        options.passwordAuthentication = true
        options.publicKeyAuthentication = false
        options.rootPassword = "pksplay-test-pw"
        options.logLevel = "DEBUG"
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        var config = sshd.config(keys: [sshd.clientKey, sshd.strangerKey])
        config.password = "pksplay-test-pw"
        let connection = try await SSHConnection.connect(config)
        #expect(connection.authentication == "password")
        await connection.close()
        #expect(sshd.log.components(separatedBy: "method publickey").count == 2, "only the first key is offered: \(sshd.log)")

        config.password = "not-the-password"
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("key \(sshd.clientKey) (the server does not accept publickey)"), "\(reason)")
        #expect(reason.contains("key \(sshd.strangerKey) (the server does not accept publickey)"), "\(reason)")
        #expect(reason.contains("password (rejected by the server)"))
        #expect(!reason.contains("publickey,") && reason.contains("The server accepts: password"), "\(reason)")
    }

    @Test func passwordIsNotTriedWhenTheServerRefusesPasswords() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var config = sshd.config(keys: [sshd.strangerKey])
        config.password = "whatever-secret"
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("password (the server does not accept password authentication)"))
        #expect(!reason.contains("whatever-secret"))
        #expect(!"\(config)".contains("whatever-secret"))
    }

    @Test func refusedConnectionSaysSo() async throws {
        let port = try TestSSHD.freePort()
        let config = SSHConfig(host: "nobody", address: "127.0.0.1", port: port, user: "root", connectTimeout: 3, useAgent: false)
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(error)?.contains("connection refused by 127.0.0.1 port \(port)") == true)
    }

    @Test func unknownHostNameSaysItCannotResolve() async throws {
        let config = SSHConfig(host: "ghost", address: "no-such-host.invalid", user: "root", connectTimeout: 3, useAgent: false)
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(error)?.contains("cannot resolve host name 'no-such-host.invalid'") == true)
    }

    @Test(.timeLimit(.minutes(1)))
    func silentServerTimesOutTheHandshake() async throws {
        // A listener that accepts and never speaks: TCP succeeds, the SSH banner never comes.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let config = SSHConfig(host: "mute", address: "127.0.0.1", port: port, user: "root", connectTimeout: 1, useAgent: false)
        let (error, seconds) = await measure { await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) } }
        #expect(unreachableReason(error)?.contains("SSH handshake with 127.0.0.1 port \(port) timed out after 1 s") == true)
        #expect(seconds < 4)
    }

    @Test func invalidSettingsAreReportedNotTrapped() async throws {
        let config = SSHConfig(host: "bad", address: "127.0.0.1", port: 70000, user: "root", useAgent: false)
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(error)?.contains("port 70000 is not between 1 and 65535") == true)
    }
}
