import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

@Suite("postgresql_set against a real server", .postgres, .serialized, .enabled(if: TestPostgres.isAvailable))
struct PostgresSetTests {
    let pg: TestPostgres
    init() throws { pg = try TestPostgres.required() }

    func set(_ args: ValueDict, check: Bool = false) async throws -> ModuleRun {
        try await ModuleRunner.run(PostgreSQLSetModule.self, pg.loginArgs.merging(args), on: pg.connection, check: check)
    }

    func undo(_ record: UndoRecord) async throws -> ModuleResult {
        try await ModuleRunner.undo(PostgreSQLSetModule.self, record, on: pg.connection)
    }

    func autoConf() async throws -> String {
        try await pg.connection.get(pg.dataDirectory + "/postgresql.auto.conf").base64EncodedString()
    }

    @Test("wal_keep_size is applied by a reload; units compare; undo resets it")
    func reloadable() async throws {
        let autoBefore = try await autoConf()
        let preview = try await set(["name": "wal_keep_size", "value": "1GB"], check: true)
        #expect(preview.result.changed && preview.undo.isEmpty)
        #expect(preview.result.diffs.first?.before == "wal_keep_size = 0\n" && preview.result.diffs.first?.after == "wal_keep_size = 1GB\n")
        #expect(try await pg.sql("SHOW wal_keep_size") == "0")

        let r = try await set(["name": "wal_keep_size", "value": "1GB"])
        #expect(r.result.changed && !r.result.failed, "\(r.result.msg ?? "")")
        #expect(r.result.values["restart_required"] == false)
        #expect(r.result.values["value_pretty"] == "1GB")
        #expect(r.result.values["prev_val_pretty"] == "0")
        #expect(r.result.values["context"] == "sighup")
        #expect(try await pg.sql("SHOW wal_keep_size") == "1GB")

        for same in ["1GB", "1024MB", "1024", "1048576kB"] {
            let again = try await set(["name": "wal_keep_size", "value": .string(same)])
            #expect(!again.result.changed, "\(same)")
        }

        let undone = try await undo(try #require(r.undo.first))
        #expect(undone.changed && !undone.failed, "\(undone.msg ?? "")")
        #expect(try await pg.sql("SHOW wal_keep_size") == "0")
        #expect(try await autoConf() == autoBefore)
        #expect(try await !undo(r.undo[0]).changed)
    }

    @Test("max_wal_senders needs a restart: reported, idempotent before the restart, cleared by undo")
    func restartRequired() async throws {
        let r = try await set(["name": "max_wal_senders", "value": 20])
        #expect(r.result.changed)
        #expect(r.result.values["restart_required"] == true)
        #expect(r.result.values["context"] == "postmaster")
        #expect(try await pg.sql("SHOW max_wal_senders") == "10")

        let again = try await set(["name": "max_wal_senders", "value": "20"])
        #expect(!again.result.changed)
        #expect(again.result.values["restart_required"] == true)

        let undone = try await undo(try #require(r.undo.first))
        #expect(undone.changed)
        #expect(undone.values["restart_required"] == false)
        #expect(try await pg.sql("SELECT pending_restart FROM pg_settings WHERE name = 'max_wal_senders'") == "f")
    }

    @Test("undo puts back the ALTER SYSTEM value that was there before")
    func restoresPreviousAlterSystemValue() async throws {
        try await pg.sql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (old_standby)'")
        try await pg.sql("SELECT pg_reload_conf()")
        let autoBefore = try await autoConf()
        let r = try await set(["name": "synchronous_standby_names", "value": "*"])
        #expect(r.result.changed)
        #expect(try await !set(["name": "synchronous_standby_names", "value": "*"]).result.changed)
        _ = try await undo(try #require(r.undo.first))
        #expect(try await autoConf() == autoBefore)
        let reset = try await set(["name": "synchronous_standby_names", "reset": true])
        #expect(reset.result.changed)
        #expect(try await !set(["name": "synchronous_standby_names", "reset": true]).result.changed)
        _ = try await undo(try #require(reset.undo.first))
        #expect(try await autoConf() == autoBefore)
        try await pg.sql("ALTER SYSTEM RESET synchronous_standby_names")
        try await pg.sql("SELECT pg_reload_conf()")
    }

    @Test("booleans and times compare by meaning", arguments: [
        ("wal_sender_timeout", "1min"), ("wal_sender_timeout", "60000ms"), ("wal_sender_timeout", "60s"),
        ("hot_standby", "true"), ("hot_standby", "yes"), ("hot_standby", "ON"), ("hot_standby", "1"),
        ("wal_level", "REPLICA"), ("archive_mode", "false"), ("archive_mode", "OFF"),
    ])
    func equivalentValues(name: String, value: String) async throws {
        let r = try await set(["name": .string(name), "value": .string(value)])
        #expect(!r.result.changed && !r.result.failed, "\(name)=\(value): \(r.result.msg ?? "")")
    }

    @Test("a YAML boolean is on/off, also for enums that take booleans")
    func yamlBooleans() async throws {
        #expect(try await !set(["name": "archive_mode", "value": false]).result.changed)
        #expect(try await !set(["name": "hot_standby", "value": true]).result.changed)
    }

    @Test("bad names and values fail with a message", arguments: [
        (["name": "no_such_setting", "value": "1"] as ValueDict, "no setting named"),
        (["name": "max_wal_senders", "value": "lots"] as ValueDict, "not a valid value"),
        (["name": "wal_keep_size", "value": "5 parsecs"] as ValueDict, "not a valid value"),
        (["name": "hot_standby", "value": "maybe"] as ValueDict, "not a valid value"),
        (["name": "x; DROP TABLE y", "value": "1"] as ValueDict, "not a setting name"),
        (["name": "wal_keep_size"] as ValueDict, "give a value"),
    ])
    func refused(args: ValueDict, message: String) async throws {
        let before = try await autoConf()
        let r = try await set(args)
        #expect(r.result.failed)
        #expect(r.result.msg?.contains(message) == true, "\(r.result.msg ?? "")")
        #expect(try await autoConf() == before)
    }

    @Test("SettingValue normalises units as the server does")
    func normalisation() {
        #expect(SettingValue("16MB", vartype: "integer", unit: "8kB") == SettingValue("2048", vartype: "integer", unit: "8kB"))
        #expect(SettingValue("16", vartype: "integer", unit: "MB") == SettingValue("16MB", vartype: "integer", unit: "MB"))
        #expect(SettingValue("16", vartype: "integer", unit: "MB") != SettingValue("16kB", vartype: "integer", unit: "MB"))
        #expect(SettingValue("1.5GB", vartype: "integer", unit: "MB") == SettingValue("1536", vartype: "integer", unit: "MB"))
        #expect(SettingValue("-1", vartype: "integer", unit: "MB") == SettingValue("-1", vartype: "integer", unit: "MB"))
        #expect(SettingValue("10", vartype: "integer", unit: nil) == SettingValue("10", vartype: "integer", unit: nil))
        #expect(SettingValue("5min", vartype: "integer", unit: "s") == SettingValue("300", vartype: "integer", unit: "s"))
        #expect(SettingValue("off", vartype: "bool", unit: nil) == SettingValue("FALSE", vartype: "bool", unit: nil))
        #expect(SettingValue("o", vartype: "bool", unit: nil) == nil)
        #expect(SettingValue("0.1", vartype: "real", unit: nil)!.matches(SettingValue("0.10000000000000001", vartype: "real", unit: nil)!))
        #expect(SettingValue("16XB", vartype: "integer", unit: "MB") == nil)
    }
}
