import Foundation
import PKSPlayCore
import PKSPlaySSH
import Testing

@Suite("Host keys and known_hosts")
struct SSHHostKeyTests {
    /// RSA needs the server to allow `ssh-rsa` (SHA-1) host key signatures, the only RSA ones
    /// libssh2 1.10 can verify; see ``rsaOnlyHostFailsWithAnExplanation()``.
    @Test(arguments: ["ed25519", "ecdsa", "rsa"])
    func acceptsAKnownKeyOfEachType(type: String) async throws {
        var options = TestSSHD.Options()
        options.hostKeyTypes = [type]
        if type == "rsa" { options.extraConfig = ["HostKeyAlgorithms +ssh-rsa"] }
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        #expect(connection.hostKey.fingerprint == sshd.hostKeyFingerprint)
        #expect(sshd.hostPublicKey.hasPrefix(connection.hostKey.type + " "))
        #expect(!connection.hostKeyRecorded)
        #expect(try await connection.run("echo \(type)").stdoutText == "\(type)\n")
        await connection.close()
    }

    /// libssh2 1.10 knows only `ssh-rsa` (SHA-1) for RSA host keys, which OpenSSH 9.2 no longer offers.
    @Test func rsaOnlyHostFailsWithAnExplanation() async throws {
        var options = TestSSHD.Options()
        options.hostKeyTypes = ["rsa"]
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(sshd.config()) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("SSH handshake with 127.0.0.1 port \(sshd.port) failed"))
        #expect(reason.contains("give it an ed25519 host key"))
    }

    @Test func strictRefusesAnUnknownKeyShowingItsFingerprint() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var config = sshd.config()
        config.knownHostsFile = try sshd.writeFile("empty_known_hosts", "")
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("unknown host key"))
        #expect(reason.contains("ED25519 key \(sshd.hostKeyFingerprint)"))
        #expect(reason.contains("[127.0.0.1]:\(sshd.port)"))
        // The fingerprint is OpenSSH's: SHA256, unpadded base64.
        #expect(sshd.hostKeyFingerprint.hasPrefix("SHA256:") && !sshd.hostKeyFingerprint.hasSuffix("="))
    }

    @Test func acceptNewRecordsTheKeyAndTheNextStrictConnectWorks() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let file = sshd.directory + "/new_dir/known_hosts"
        var config = sshd.config(host: "db1", policy: .acceptNew)
        config.knownHostsFile = file
        let first = try await SSHConnection.connect(config)
        #expect(first.hostKeyRecorded)
        await first.close()
        let recorded = try String(contentsOfFile: file, encoding: .utf8)
        #expect(recorded == "[127.0.0.1]:\(sshd.port),[db1]:\(sshd.port) \(sshd.hostPublicKey)\n")
        #expect(permissions(file) == 0o600)
        // OpenSSH agrees with what was written.
        let found = try TestSSHD.run(["/usr/bin/ssh-keygen", "-F", "[127.0.0.1]:\(sshd.port)", "-f", file])
        #expect(found.status == 0)

        config.hostKeyPolicy = .strict
        let second = try await SSHConnection.connect(config)
        #expect(!second.hostKeyRecorded)
        #expect(try await second.run("echo again").stdoutText == "again\n")
        await second.close()
        #expect(try String(contentsOfFile: file, encoding: .utf8) == recorded)
    }

    @Test(arguments: [SSHConfig.HostKeyPolicy.strict, .acceptNew])
    func refusesAChangedKeyWithItsFingerprint(policy: SSHConfig.HostKeyPolicy) async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        // known_hosts holds some other ed25519 key for this host:port.
        let other = sshd.directory + "/other_host_key"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other])
        let otherKey = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        var config = sshd.config(policy: policy)
        config.knownHostsFile = try sshd.writeFile("changed_known_hosts", "[127.0.0.1]:\(sshd.port) \(otherKey)\n")
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        let reason = try #require(unreachableReason(error))
        #expect(reason.contains("HOST KEY MISMATCH"))
        #expect(reason.contains(sshd.hostKeyFingerprint))
        #expect(reason.contains("ssh-keygen -R"))
        // accept-new never overwrites a changed key.
        #expect(try String(contentsOfFile: config.knownHostsFile, encoding: .utf8) == "[127.0.0.1]:\(sshd.port) \(otherKey)\n")
    }

    @Test func matchesHashedEntriesAndSkipsLinesItCannotParse() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let file = try sshd.writeFile("hashed_known_hosts", "[127.0.0.1]:\(sshd.port) \(sshd.hostPublicKey)\n")
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-H", "-f", file])
        let hashed = try String(contentsOfFile: file, encoding: .utf8)
        #expect(hashed.hasPrefix("|1|"))
        #expect(!hashed.contains("127.0.0.1"))
        // Lines libssh2 cannot parse come first: they must not hide the entry after them.
        try ("# a comment\nlonely-token\n@cert-authority *.example ssh-ed25519 AAAA\n" + hashed)
            .write(toFile: file, atomically: true, encoding: .utf8)
        var config = sshd.config()
        config.knownHostsFile = file
        let connection = try await SSHConnection.connect(config)
        #expect(connection.skippedKnownHostsLines == [2])
        await connection.close()
    }

    @Test func checksTheInventoryNameToo() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var config = sshd.config(host: "db-primary")
        config.knownHostsFile = try sshd.writeFile("by_name", "[db-primary]:\(sshd.port) \(sshd.hostPublicKey)\n")
        let connection = try await SSHConnection.connect(config)
        #expect(connection.hostName == "db-primary")
        await connection.close()
        // A different inventory name is not trusted by that entry.
        config.host = "db-replica"
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(error)?.contains("unknown host key") == true)
    }

    @Test func offersTheKeyTypeKnownHostsHoldsFirst() async throws {
        var options = TestSSHD.Options()
        options.hostKeyTypes = ["ed25519", "ecdsa"]
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        // Only the ECDSA key is known; without ordering, ED25519 would be negotiated and reported unknown.
        var config = sshd.config()
        config.knownHostsFile = try sshd.writeFile("ecdsa_only", "[127.0.0.1]:\(sshd.port) \(sshd.hostKeys[1].publicKey)\n")
        let connection = try await SSHConnection.connect(config)
        #expect(connection.hostKey.fingerprint == sshd.hostKeys[1].fingerprint)
        #expect(connection.hostKey.type == "ecdsa-sha2-nistp256")
        await connection.close()
        // With nothing known, the ED25519 key is preferred, as OpenSSH prefers it.
        config.knownHostsFile = sshd.directory + "/fresh_known_hosts"
        config.hostKeyPolicy = .acceptNew
        let fresh = try await SSHConnection.connect(config)
        #expect(fresh.hostKey.type == "ssh-ed25519")
        await fresh.close()
    }

    @Test func refusesARevokedKey() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var config = sshd.config()
        config.knownHostsFile = try sshd.writeFile(
            "revoked", "@revoked * \(sshd.hostPublicKey)\n[127.0.0.1]:\(sshd.port) \(sshd.hostPublicKey)\n")
        let error = await #expect(throws: ConnectionError.self) { try await SSHConnection.connect(config) }
        #expect(unreachableReason(error)?.contains("@revoked") == true)
    }

    @Test func insecureOffSkipsTheCheckButStillReportsTheKey() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var config = sshd.config(policy: .insecureOff)
        config.knownHostsFile = sshd.directory + "/never_written"
        let connection = try await SSHConnection.connect(config)
        #expect(connection.hostKey.fingerprint == sshd.hostKeyFingerprint)
        #expect(!FileManager.default.fileExists(atPath: config.knownHostsFile))
        await connection.close()
    }
}
