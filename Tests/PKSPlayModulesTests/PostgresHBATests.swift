import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

@Suite("postgresql_pg_hba against a real server", .postgres, .serialized, .enabled(if: TestPostgres.isAvailable))
struct PostgresHBATests {
    let pg: TestPostgres
    init() throws { pg = try TestPostgres.required() }

    static let standby: ValueDict = [
        "contype": "host", "databases": "replication", "users": "repuser", "source": "10.0.3.11",
        "method": "scram-sha-256", "comment": "standby pks2",
    ]

    func hba(_ args: ValueDict, check: Bool = false) async throws -> ModuleRun {
        try await ModuleRunner.run(PostgreSQLPgHBAModule.self, pg.loginArgs.merging(["dest": .string(pg.hbaPath)]).merging(args),
                                   on: pg.connection, check: check)
    }

    func undo(_ record: UndoRecord) async throws -> ModuleResult {
        try await ModuleRunner.undo(PostgreSQLPgHBAModule.self, record, on: pg.connection)
    }

    /// Content, mode and numeric owner of pg_hba.conf.
    func snapshot() async throws -> (Data, String) {
        let content = try await pg.connection.get(pg.hbaPath)
        let stat = try await pg.connection.exec(ExecRequest("stat -c '%a %u %g' \(shellQuote(pg.hbaPath))"))
        return (content, stat.stdoutText)
    }

    /// Puts the file back as the suite found it, whatever a failed test left.
    func restore(_ saved: (Data, String)) async throws {
        try await pg.connection.put(saved.0, to: pg.hbaPath, mode: 0o600)
        try await pg.sql("SELECT pg_reload_conf()")
    }

    @Test("present appends one marked line, keeps every other byte, mode and owner; reruns and undo behave")
    func appendAndUndo() async throws {
        let original = try await snapshot()
        let originalText = String(decoding: original.0, as: UTF8.self)
        #expect(original.1.hasPrefix("600 "))

        let preview = try await hba(Self.standby, check: true)
        #expect(preview.result.changed && preview.undo.isEmpty)
        #expect(preview.result.diffs.first?.after.hasSuffix("10.0.3.11/32\tscram-sha-256\t# pksplay: standby pks2\n") == true)
        #expect(try await snapshot() == original)

        let added = try await hba(Self.standby)
        #expect(added.result.changed && !added.result.failed, "\(added.result.msg ?? "")")
        #expect(added.result.values["reloaded"] == true)
        let after = try await snapshot()
        let afterText = String(decoding: after.0, as: UTF8.self)
        #expect(afterText == originalText + "host\treplication\trepuser\t10.0.3.11/32\tscram-sha-256\t# pksplay: standby pks2\n")
        #expect(after.1 == original.1)
        // The server read the rule.
        #expect(try await pg.sql("SELECT address, netmask, auth_method FROM pg_hba_file_rules WHERE 'repuser' = ANY(user_name)")
                == "10.0.3.11|255.255.255.255|scram-sha-256")

        #expect(try await !hba(Self.standby).result.changed)

        let undone = try await undo(try #require(added.undo.first))
        #expect(undone.changed && !undone.failed, "\(undone.msg ?? "")")
        #expect(try await snapshot() == original)
        #expect(try await !undo(added.undo[0]).changed)
        #expect(try await snapshot() == original)
    }

    @Test("an equivalent rule written differently counts as present and nothing is written")
    func equivalentRule() async throws {
        let original = try await snapshot()
        let text = String(decoding: original.0, as: UTF8.self) + "host   replication  repuser  10.0.3.11  255.255.255.255   scram-sha-256   # by hand\n"
        try await pg.connection.put(Data(text.utf8), to: pg.hbaPath, mode: 0o600)
        let r = try await hba(Self.standby)
        #expect(!r.result.changed && !r.result.failed, "\(r.result.msg ?? "")")
        #expect(r.undo.isEmpty)
        #expect(try await snapshot().0 == Data(text.utf8))
        try await restore(original)
    }

    @Test("a marked line with the same target is updated in place; lines are never reordered")
    func updateInPlace() async throws {
        let original = try await snapshot()
        let base = String(decoding: original.0, as: UTF8.self)
        let first = try await hba(Self.standby)
        let other = try await hba(["contype": "host", "databases": "all", "users": "monitor", "source": "10.0.3.12/32", "method": "md5", "comment": "monitor"])
        #expect(first.result.changed && other.result.changed)
        let changed = try await hba(Self.standby.merging(["method": "md5"]))
        #expect(changed.result.changed && !changed.result.failed, "\(changed.result.msg ?? "")")
        let text = String(decoding: try await snapshot().0, as: UTF8.self)
        #expect(text == base
                + "host\treplication\trepuser\t10.0.3.11/32\tmd5\t# pksplay: standby pks2\n"
                + "host\tall\tmonitor\t10.0.3.12/32\tmd5\t# pksplay: monitor\n")

        let removed = try await hba(Self.standby.merging(["state": "absent", "method": .null]))
        #expect(removed.result.changed, "\(removed.result.msg ?? "")")
        #expect(String(decoding: try await snapshot().0, as: UTF8.self) == base + "host\tall\tmonitor\t10.0.3.12/32\tmd5\t# pksplay: monitor\n")
        #expect(try await !hba(Self.standby.merging(["state": "absent"])).result.changed)

        // Undo in reverse order brings back the exact original.
        for record in (first.undo + other.undo + changed.undo + removed.undo).reversed() {
            _ = try await undo(record)
        }
        #expect(try await snapshot() == original)
    }

    @Test("a rule the server rejects leaves the file byte-identical and fails with the server's reason")
    func invalidRuleRestored() async throws {
        let original = try await snapshot()
        let r = try await hba(Self.standby.merging(["method": "md5", "options": "ldapserver=ldap.example.com"]))
        #expect(r.result.failed)
        #expect(r.result.msg?.contains("ldapserver") == true && r.result.msg?.contains("put back") == true, "\(r.result.msg ?? "")")
        #expect(try await snapshot() == original)
        #expect(try await pg.sql("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == "0")
    }

    @Test("backup copies the file first")
    func backup() async throws {
        let original = try await snapshot()
        let r = try await hba(Self.standby.merging(["backup": true]))
        let backup = try #require(r.result.values["backup_file"]?.stringValue)
        #expect(try await pg.connection.get(backup) == original.0)
        _ = try await pg.connection.exec(ExecRequest("rm -f \(shellQuote(backup))"))
        _ = try await undo(try #require(r.undo.first))
        #expect(try await snapshot() == original)
    }

    @Test("arguments that cannot make a rule fail before anything is written", arguments: [
        (["contype": "local", "source": "10.0.0.1"] as ValueDict, "local rule has no address"),
        (["contype": "host"] as ValueDict, "needs source"),
        (["source": "10.0.3.11/40"] as ValueDict, "prefix length"),
        (["source": "10.0.3.11 /32"] as ValueDict, "not an IP address"),
        (["source": "10.0.0.1", "users": "a b"] as ValueDict, "no spaces"),
        (["source": "10.0.0.1", "comment": "two\nlines"] as ValueDict, "one line"),
        (["source": "10.0.0.1", "dest": "/nonexistent/pg_hba.conf"] as ValueDict, "does not exist"),
    ])
    func refused(args: ValueDict, message: String) async throws {
        let original = try await snapshot()
        let r = try await hba(args)
        #expect(r.result.failed)
        #expect(r.result.msg?.contains(message) == true, "\(r.result.msg ?? "")")
        #expect(try await snapshot() == original)
    }

    @Test("pg_hba lines parse into comparable rules")
    func parsing() throws {
        let a = try #require(PGHBAFile.parse("host  all  all  192.168.1.0  255.255.255.0  md5  # x"))
        #expect(a.rule == HBARule(type: "host", databases: "all", users: "all", address: "192.168.1.0/24", method: "md5", options: []))
        #expect(a.comment == "x")
        let b = try #require(PGHBAFile.parse("local all \"odd user\" peer map=x"))
        #expect(b.rule.users == "\"odd user\"" && b.rule.options == ["map=x"] && b.rule.address == nil)
        #expect(PGHBAFile.parse("# host all all 0.0.0.0/0 trust") == nil)
        #expect(PGHBAFile.parse("include_dir conf.d") == nil)
        #expect(HBARule.normalise("FE80::1") == "fe80::1/128")
        #expect(HBARule.prefixLength(ofNetmask: "255.0.255.0") == nil)
        for text in ["", "\n", "a", "a\n", "a\r\nb\r\n", "a\n\n"] {
            #expect(PGHBAFile(text).text == text)
        }
    }
}
