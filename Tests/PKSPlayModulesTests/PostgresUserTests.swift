import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

@Suite("postgresql_user against a real server", .postgres, .serialized, .enabled(if: TestPostgres.isAvailable))
struct PostgresUserTests {
    let pg: TestPostgres
    init() throws { pg = try TestPostgres.required() }

    func user(_ args: ValueDict, check: Bool = false, on connection: (any Connection)? = nil) async throws -> ModuleRun {
        try await ModuleRunner.run(PostgreSQLUserModule.self, pg.loginArgs.merging(args), on: connection ?? pg.connection, check: check)
    }

    func undo(_ record: UndoRecord, check: Bool = false) async throws -> ModuleResult {
        try await ModuleRunner.undo(PostgreSQLUserModule.self, record, on: pg.connection, check: check)
    }

    func attributes(_ role: String) async throws -> String {
        try await pg.sql("SELECT rolcanlogin, rolreplication, rolconnlimit FROM pg_authid WHERE rolname = '\(role)'")
    }

    func verifier(_ role: String) async throws -> String {
        try await pg.sql("SELECT coalesce(rolpassword, '<null>') FROM pg_authid WHERE rolname = '\(role)'")
    }

    @Test("create a replication role; a second run changes nothing; the password logs in over SCRAM")
    func createThenIdempotent() async throws {
        let password = "Rep'l $(pass) \\ \"word\" ✓"
        let args: ValueDict = ["name": "rep_create", "password": .string(password), "login": true, "replication": true, "conn_limit": 5]

        let preview = try await user(args, check: true)
        #expect(preview.result.changed && preview.undo.isEmpty)
        #expect(try await attributes("rep_create") == "")

        let first = try await user(args)
        #expect(first.result.changed && !first.result.failed, "\(first.result.msg ?? "")")
        #expect(try await attributes("rep_create") == "t|t|5")
        #expect(try await verifier("rep_create").hasPrefix("SCRAM-SHA-256$4096:"))
        #expect(try await pg.canLogIn(user: "rep_create", password: password))
        #expect(try await !pg.canLogIn(user: "rep_create", password: password + "x"))
        #expect(first.undo.count == 1)

        let second = try await user(args)
        #expect(!second.result.changed && !second.result.failed, "\(second.result.msg ?? "")")
        #expect(second.undo.isEmpty)

        // Undo of a creation drops the role; undoing again changes nothing.
        let undone = try await undo(first.undo[0])
        #expect(undone.changed && !undone.failed, "\(undone.msg ?? "")")
        #expect(try await attributes("rep_create") == "")
        let again = try await undo(first.undo[0])
        #expect(!again.changed && !again.failed)
    }

    @Test("a password PostgreSQL hashed itself is recognised; a new one is set and undone to the exact old verifier")
    func alterPasswordAndUndo() async throws {
        try await pg.sql("SET password_encryption = 'scram-sha-256'; CREATE ROLE rep_alter LOGIN PASSWORD 'old-secret'")
        let before = try await verifier("rep_alter")

        let same = try await user(["name": "rep_alter", "password": "old-secret"])
        #expect(!same.result.changed, "\(same.result.msg ?? "")")

        let changed = try await user(["name": "rep_alter", "password": "new-secret", "replication": true, "conn_limit": 3])
        #expect(changed.result.changed)
        #expect(try await pg.canLogIn(user: "rep_alter", password: "new-secret"))
        #expect(try await !pg.canLogIn(user: "rep_alter", password: "old-secret"))
        #expect(try await attributes("rep_alter") == "t|t|3")
        let diff = try #require(changed.result.diffs.first)
        #expect(diff.before.contains("replication: false") && diff.after.contains("replication: true") && diff.after.contains("password: (changed)"))

        let preview = try await undo(changed.undo[0], check: true)
        #expect(preview.changed)
        #expect(try await attributes("rep_alter") == "t|t|3")

        let undone = try await undo(changed.undo[0])
        #expect(undone.changed && !undone.failed, "\(undone.msg ?? "")")
        #expect(try await verifier("rep_alter") == before)
        #expect(try await attributes("rep_alter") == "t|f|-1")
        #expect(try await pg.canLogIn(user: "rep_alter", password: "old-secret"))
        #expect(try await !undo(changed.undo[0]).changed)
        try await pg.sql("DROP ROLE rep_alter")
    }

    @Test("a password stored as md5 is recognised and rewritten as SCRAM")
    func md5Upgrade() async throws {
        try await pg.sql("SET password_encryption = 'md5'; CREATE ROLE rep_md5 LOGIN PASSWORD 'legacy'")
        #expect(try await verifier("rep_md5").hasPrefix("md5"))
        let r = try await user(["name": "rep_md5", "password": "legacy"])
        #expect(r.result.changed)
        #expect(r.result.msg?.contains("rewritten as SCRAM-SHA-256") == true)
        #expect(try await verifier("rep_md5").hasPrefix("SCRAM-SHA-256$"))
        #expect(try await pg.canLogIn(user: "rep_md5", password: "legacy"))
        #expect(try await !user(["name": "rep_md5", "password": "legacy"]).result.changed)
        _ = try await undo(r.undo[0])
        #expect(try await verifier("rep_md5").hasPrefix("md5"))
        try await pg.sql("DROP ROLE rep_md5")
    }

    @Test("absent drops the role; undo creates it again with its attributes and verifier")
    func absentAndUndo() async throws {
        try await pg.sql("CREATE ROLE rep_gone LOGIN REPLICATION CONNECTION LIMIT 2 PASSWORD 'bye'")
        let before = try await verifier("rep_gone")
        let r = try await user(["name": "rep_gone", "state": "absent"])
        #expect(r.result.changed)
        #expect(try await attributes("rep_gone") == "")
        #expect(try await !user(["name": "rep_gone", "state": "absent"]).result.changed)
        let undone = try await undo(r.undo[0])
        #expect(undone.changed, "\(undone.msg ?? "")")
        #expect(try await attributes("rep_gone") == "t|t|2")
        #expect(try await verifier("rep_gone") == before)
        #expect(try await !undo(r.undo[0]).changed)
        try await pg.sql("DROP ROLE rep_gone")
    }

    @Test("\"\" removes the password; attributes not given are left alone")
    func clearPassword() async throws {
        try await pg.sql("CREATE ROLE rep_clear LOGIN REPLICATION PASSWORD 'x'")
        let r = try await user(["name": "rep_clear", "password": ""])
        #expect(r.result.changed)
        #expect(try await verifier("rep_clear") == "<null>")
        #expect(try await attributes("rep_clear") == "t|t|-1")
        #expect(try await !user(["name": "rep_clear", "password": ""]).result.changed)
        try await pg.sql("DROP ROLE rep_clear")
    }

    @Test("the password never reaches a command, stdin, the environment, a result, a diff or the journal")
    func secretNeverLeaks() async throws {
        let secret = "TOP-\(UUID().uuidString)-secret"
        let recorder = RecordingConnection(pg.connection)
        let created = try await user(["name": "rep_secret", "password": .string(secret), "replication": true], on: recorder)
        let altered = try await user(["name": "rep_secret", "password": .string(secret + "2")], on: recorder)
        let unchanged = try await user(["name": "rep_secret", "password": .string(secret + "2")], on: recorder)
        #expect(created.result.changed && altered.result.changed && !unchanged.result.changed)
        #expect(recorder.requests.count >= 5)
        for request in recorder.requests {
            #expect(!request.command.contains(secret))
            #expect(!request.stdin.contains(secret))
            #expect(!request.environment.values.contains { $0.contains(secret) })
        }
        for run in [created, altered, unchanged] {
            #expect(!valueContains(run.everything, secret))
        }
        #expect(try await pg.canLogIn(user: "rep_secret", password: secret + "2"))
        try await pg.sql("DROP ROLE rep_secret")
    }

    @Test("bad names fail with a message")
    func badNames() async throws {
        let long = try await user(["name": .string(String(repeating: "r", count: 64))])
        #expect(long.result.failed && long.result.msg?.contains("63") == true)
        let limit = try await user(["name": "rep_limit", "conn_limit": -5])
        #expect(limit.result.failed && limit.result.msg?.contains("conn_limit") == true)
        #expect(try await attributes("rep_limit") == "")
    }
}
