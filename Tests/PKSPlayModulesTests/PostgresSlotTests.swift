import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

@Suite("postgresql_slot against a real server", .postgres, .serialized, .enabled(if: TestPostgres.isAvailable))
struct PostgresSlotTests {
    let pg: TestPostgres
    init() throws { pg = try TestPostgres.required() }

    func slot(_ args: ValueDict, check: Bool = false) async throws -> ModuleRun {
        try await ModuleRunner.run(PostgreSQLSlotModule.self, pg.loginArgs.merging(args), on: pg.connection, check: check)
    }

    func slots() async throws -> String {
        try await pg.sql("SELECT string_agg(slot_name || ':' || slot_type || ':' || (restart_lsn IS NOT NULL)::text, ',' ORDER BY slot_name) FROM pg_replication_slots")
    }

    @Test("present creates a physical slot once; undo drops it; undoing again changes nothing")
    func presentAndUndo() async throws {
        let preview = try await slot(["name": "standby_a"], check: true)
        #expect(preview.result.changed && preview.undo.isEmpty)
        #expect(try await slots() == "")

        let created = try await slot(["name": "standby_a", "immediately_reserve": true])
        #expect(created.result.changed && !created.result.failed, "\(created.result.msg ?? "")")
        #expect(try await slots() == "standby_a:physical:true")
        #expect(try await !slot(["name": "standby_a"]).result.changed)

        let undone = try await ModuleRunner.undo(PostgreSQLSlotModule.self, try #require(created.undo.first), on: pg.connection)
        #expect(undone.changed && !undone.failed, "\(undone.msg ?? "")")
        #expect(try await slots() == "")
        #expect(try await !ModuleRunner.undo(PostgreSQLSlotModule.self, created.undo[0], on: pg.connection).changed)
    }

    @Test("absent drops a slot; undo creates it again, reserving WAL as it did")
    func absentAndUndo() async throws {
        try await pg.sql("SELECT pg_create_physical_replication_slot('standby_b', true)")
        let dropped = try await slot(["name": "standby_b", "state": "absent"])
        #expect(dropped.result.changed)
        #expect(try await slots() == "")
        #expect(try await !slot(["name": "standby_b", "state": "absent"]).result.changed)
        let undone = try await ModuleRunner.undo(PostgreSQLSlotModule.self, try #require(dropped.undo.first), on: pg.connection)
        #expect(undone.changed)
        #expect(try await slots() == "standby_b:physical:true")
        try await pg.sql("SELECT pg_drop_replication_slot('standby_b')")
    }

    @Test("logical slots and bad names are refused with a message", arguments: [
        (["name": "ok_name", "slot_type": "logical"] as ValueDict, "logical replication slots are not supported"),
        (["name": "Bad-Name"] as ValueDict, "not a valid replication slot name"),
        (["name": ""] as ValueDict, "not a valid replication slot name"),
    ])
    func refused(args: ValueDict, message: String) async throws {
        let r = try await slot(args)
        #expect(r.result.failed)
        #expect(r.result.msg?.contains(message) == true, "\(r.result.msg ?? "")")
        #expect(try await slots() == "")
    }
}
