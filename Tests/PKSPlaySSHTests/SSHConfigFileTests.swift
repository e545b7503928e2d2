import Foundation
import PKSPlayCore
@testable import PKSPlaySSH
import Testing

@Suite("~/.ssh/config subset")
struct SSHConfigFileTests {
    static let sample = """
        # global defaults come last in OpenSSH files, but may come first too
        IdentityFile ~/.ssh/global_key

        Host db-* !db-legacy
            HostName %h.internal.example
            User postgres
            Port 2222
            IdentityFile ~/.ssh/db_key
            StrictHostKeyChecking accept-new

        Host db-primary
            # first obtained value wins: Port 2222 from above, not 2200
            Port 2200
            UserKnownHostsFile=%d/.ssh/known_hosts_db
            IdentityFile "/keys/with space/%r_key"

        Host web?
            HostName = 10.0.3.20
            StrictHostKeyChecking no

        Host *
            User admin
            StrictHostKeyChecking yes
        """

    @Test func resolvesPatternsInOrderFirstValueWinning() throws {
        let file = try SSHConfigFile(contents: Self.sample, path: "ssh_config")
        let primary = file.settings(for: "db-primary")
        #expect(primary.hostName == "db-primary.internal.example")
        #expect(primary.user == "postgres")
        #expect(primary.port == 2222)
        #expect(primary.strictHostKeyChecking == .acceptNew)
        #expect(primary.userKnownHostsFile == ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.ssh/known_hosts_db" })
        let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
        #expect(primary.identityFiles == [home + "/.ssh/global_key", home + "/.ssh/db_key", "/keys/with space/postgres_key"])
    }

    @Test func negatedPatternExcludesAHost() throws {
        let file = try SSHConfigFile(contents: Self.sample, path: "ssh_config")
        let legacy = file.settings(for: "db-legacy")
        #expect(legacy.hostName == nil)
        #expect(legacy.user == "admin")
        #expect(legacy.port == nil)
        #expect(legacy.strictHostKeyChecking == .strict)
    }

    @Test(arguments: [("web1", true), ("web12", false), ("WEB2", true)])
    func questionMarkMatchesOneCharacterCaseInsensitively(host: String, matches: Bool) throws {
        let file = try SSHConfigFile(contents: Self.sample, path: "ssh_config")
        let settings = file.settings(for: host)
        #expect((settings.hostName == "10.0.3.20") == matches)
        #expect(settings.strictHostKeyChecking == (matches ? .insecureOff : .strict))
    }

    @Test func buildsAnSSHConfigTheInventoryCanOverride() throws {
        let file = try SSHConfigFile(contents: Self.sample, path: "ssh_config")
        var config = file.config(for: "db-replica")
        #expect(config.host == "db-replica")
        #expect(config.address == "db-replica.internal.example")
        #expect(config.port == 2222)
        #expect(config.user == "postgres")
        #expect(config.hostKeyPolicy == .acceptNew)
        config.address = "10.0.3.11"
        #expect(config.address == "10.0.3.11")
        let plain = file.config(for: "unlisted")
        #expect(plain.address == "unlisted")
        #expect(plain.port == 22)
        #expect(plain.user == "admin")
    }

    @Test func badValuesAreReportedWithTheirLine() throws {
        let text = "Host a\n  Port abc\n  StrictHostKeyChecking maybe\nHost\n  User \"unclosed\n"
        let error = #expect(throws: DiagnosticList.self) { try SSHConfigFile(contents: text, path: "cfg") }
        let diagnostics = try #require(error?.diagnostics)
        #expect(diagnostics.map { $0.location?.line } == [2, 3, 4, 5])
        #expect(diagnostics[0].message.contains("Port 'abc' is not a number between 1 and 65535"))
        #expect(diagnostics[1].message.contains("StrictHostKeyChecking 'maybe'"))
        #expect(diagnostics[0].description.hasPrefix("cfg:2:1: error:"))
    }

    @Test func unsupportedFeaturesAreWarnedAboutAndIgnored() throws {
        let text = "Include ~/.ssh/conf.d/*\nHost jump\n  ProxyJump bastion\nMatch host x\n  User ignored\nHost x\n  User used\n"
        let file = try SSHConfigFile(contents: text, path: "cfg")
        #expect(file.warnings.map { $0.location?.line } == [1, 3, 4])
        #expect(file.warnings.allSatisfy { $0.severity == .warning })
        #expect(file.settings(for: "x").user == "used")
    }

    @Test func missingFileIsEmpty() throws {
        let file = try SSHConfigFile.load("/nonexistent/pksplay/ssh_config")
        #expect(file.settings(for: "anything") == SSHHostSettings())
    }

    @Test(arguments: [
        ("db1", "db*", true), ("db1", "d?1", true), ("db1", "*", true), ("db1", "*1", true), ("db", "db?", false),
        ("a.b.c", "*.c", true), ("abcabc", "*abc", true), ("abc", "a*b*c*", true), ("ab", "a*c", false),
    ])
    func wildcardMatching(text: String, pattern: String, expected: Bool) {
        #expect(SSHConfigFile.wildcardMatch(text, pattern) == expected)
    }

    @Test func passwordNeverShowsInDescriptions() {
        let config = SSHConfig(host: "h", user: "u", password: "hunter2-secret", passphrase: .given("also-secret"))
        #expect(!config.description.contains("hunter2"))
        #expect(!config.description.contains("also-secret"))
        var dumped = ""
        dump(config, to: &dumped)
        #expect(!dumped.contains("hunter2") && !dumped.contains("also-secret"))
        #expect(!String(reflecting: config).contains("hunter2"))
    }
}
