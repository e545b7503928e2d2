import Foundation
import PKSPlayCore

/// `postgresql_set`: one server setting through `ALTER SYSTEM`, reloaded, with restart detection.
public enum PostgreSQLSetModule: Module {
    public static let name = "postgresql_set"

    public static let arguments = ArgumentSpec(
        [
            Argument("name", required: true, help: "setting name (max_wal_senders, wal_keep_size ...)"),
            Argument("value", help: "the wanted value, with or without a unit (16MB, 2048, 5min, on)"),
            Argument("reset", .bool, default: false, help: "remove the ALTER SYSTEM value (postgresql.auto.conf entry) instead"),
        ] + PSQL.arguments,
        mutuallyExclusive: [["value", "reset"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Set a PostgreSQL setting with ALTER SYSTEM and reload; reports whether a restart is still needed.",
        example: """
            - name: Enough WAL senders for the standby
              postgresql_set:
                container: pks-db
                container_user: postgres
                name: max_wal_senders
                value: 10
              register: senders

            - name: Cap what the standby's slot may hold
              postgresql_set:
                container: pks-db
                container_user: postgres
                name: max_slot_wal_keep_size
                value: 8GB

            # later: restart the container only when senders.restart_required
            """,
        notes: [
            "The wanted value is compared with the value ALTER SYSTEM already wrote (postgresql.auto.conf, read through pg_file_settings) or, when there is none, with the running value from pg_settings; units are normalised (16MB equals 2048 for a setting counted in 8kB pages, 1min equals 60s, on equals true).",
            "After a change the configuration is reloaded (pg_reload_conf) and restart_required reports pg_settings.pending_restart; settings with context 'postmaster' (max_wal_senders, archive_mode ...) need a restart, which this module does not do.",
            "Returns name, context, prev_val_pretty, value_pretty (the running value after the reload), restart_required.",
            "reset: true removes the ALTER SYSTEM entry (the value falls back to postgresql.conf or the built-in default).",
            "A list-valued setting (shared_preload_libraries, search_path) is set as one quoted string; give such settings with postgresql_query instead.",
            "Undo puts the previous ALTER SYSTEM value back (or resets the setting when there was none) and reloads.",
        ]
    )

    /// What pg_settings and pg_file_settings say about one setting.
    struct Setting {
        var name: String
        var setting: String
        var unit: String?
        var vartype: String
        var context: String
        var pendingRestart: Bool
        var pretty: String
        /// The value in postgresql.auto.conf, if ALTER SYSTEM set one.
        var autoValue: String?

        /// The value the server will use once reloaded (and restarted): ALTER SYSTEM's if any.
        var configured: SettingValue? {
            if let autoValue { return SettingValue(autoValue, vartype: vartype, unit: unit) }
            return SettingValue(setting, vartype: vartype, unit: unit)
        }
    }

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            let psql = try PSQL(context)
            let name = (context.string("name") ?? "").lowercased()
            try checkSettingName(name)
            let reset = context.bool("reset") ?? false
            guard reset || context.args["value"].map({ !$0.isNull }) == true else {
                return .failure("give a value, or reset: true")
            }
            // A YAML boolean (`value: on`) arrives as a bool: PostgreSQL spells it on/off.
            let value = context.args["value"]?.boolValue.map { $0 ? "on" : "off" } ?? context.string("value") ?? ""
            guard let current = try await readSetting(name, psql, context.connection) else {
                return .failure("PostgreSQL has no setting named '\(name)'")
            }
            var values: ValueDict = [
                "name": .string(name), "context": .string(current.context), "prev_val_pretty": .string(current.pretty),
                "value_pretty": .string(current.pretty), "restart_required": .bool(current.pendingRestart),
            ]

            let needsChange: Bool
            if reset {
                needsChange = current.autoValue != nil
            } else {
                guard let wanted = SettingValue(value, vartype: current.vartype, unit: current.unit) else {
                    return .failure("'\(value)' is not a valid value for \(name) (type \(current.vartype)\(current.unit.map { ", unit \($0)" } ?? ""))", values: values)
                }
                needsChange = !(current.configured.map { $0.matches(wanted) } ?? false)
            }
            guard needsChange else {
                return ModuleResult(msg: reset ? "\(name) has no ALTER SYSTEM value" : "\(name) is already \(value)", values: values)
            }

            let before = "\(name) = \(current.autoValue ?? current.pretty)\n"
            let after = reset ? "" : "\(name) = \(value)\n"
            let diff = FileDiff(beforeHeader: "\(name) (before)", afterHeader: "\(name) (after)", before: before, after: after)
            if context.checkMode {
                let wantedValue = reset ? nil : SettingValue(value, vartype: current.vartype, unit: current.unit)
                let running = SettingValue(current.setting, vartype: current.vartype, unit: current.unit)
                let differsFromRunning = wantedValue.map { w in !(running.map { $0.matches(w) } ?? false) } ?? true
                values["value_pretty"] = .string(reset ? current.pretty : value)
                values["restart_required"] = .bool(current.pendingRestart || (current.context == "postmaster" && differsFromRunning))
                return ModuleResult(changed: true, msg: reset ? "would reset \(name)" : "would set \(name) to \(value)", values: values, diffs: [diff])
            }

            try await context.willChange(UndoRecord(
                module: Self.name,
                summary: current.autoValue.map { "set \(name) back to \($0) (ALTER SYSTEM)" } ?? "reset \(name) (ALTER SYSTEM RESET)",
                data: ["name": .string(name), "auto_value": current.autoValue.map(Value.string) ?? .null, "connection": psql.journalValue]))
            let now = try await apply(name, value: reset ? nil : value, psql, context.connection)
            values["value_pretty"] = .string(now.pretty)
            values["restart_required"] = .bool(now.pendingRestart)
            return ModuleResult(changed: true, msg: reset ? "reset \(name)" : "set \(name) to \(value)", values: values, diffs: [diff])
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            guard let data = record.data.dictValue, let name = data["name"]?.stringValue else {
                return .failure("postgresql_set: undo record '\(record.summary)' has no setting name")
            }
            try checkSettingName(name)
            let previous = data["auto_value"]?.stringValue
            let psql = try PSQL(journal: data["connection"], context: context)
            guard let current = try await readSetting(name, psql, context.connection) else {
                return .failure("PostgreSQL has no setting named '\(name)'")
            }
            guard current.autoValue != previous else {
                return ModuleResult(msg: "\(name) already has its previous ALTER SYSTEM value", values: ["restart_required": .bool(current.pendingRestart)])
            }
            if context.checkMode { return ModuleResult(changed: true, msg: "would restore \(name)") }
            let now = try await apply(name, value: previous, psql, context.connection)
            return ModuleResult(changed: true, msg: previous.map { "set \(name) back to \($0)" } ?? "reset \(name)",
                                values: ["value_pretty": .string(now.pretty), "restart_required": .bool(now.pendingRestart)])
        }
    }

    /// ALTER SYSTEM SET (or RESET when `value` is nil), reload, then read the setting back once
    /// the reload has reached a new session.
    private static func apply(_ name: String, value: String?, _ psql: PSQL, _ connection: any Connection) async throws -> Setting {
        if let value {
            _ = try await psql.query("ALTER SYSTEM SET :\"setting\" TO :'value'", [("setting", name), ("value", value)], on: connection)
        } else {
            _ = try await psql.query("ALTER SYSTEM RESET :\"setting\"", [("setting", name)], on: connection)
        }
        _ = try await psql.query("SELECT pg_reload_conf()", on: connection)
        // pg_reload_conf only signals the postmaster; poll until a new session sees the new file
        // applied (the value changed, or a restart is pending), for at most about five seconds.
        var latest: Setting?
        for attempt in 0..<25 {
            if attempt > 0 { try await Task.sleep(nanoseconds: 200_000_000) }
            guard let s = try await readSetting(name, psql, connection) else { break }
            latest = s
            let target = value.flatMap { SettingValue($0, vartype: s.vartype, unit: s.unit) }
            let running = SettingValue(s.setting, vartype: s.vartype, unit: s.unit)
            if s.pendingRestart { break }
            if let target, let running, running.matches(target) { break }
            if value == nil, s.autoValue == nil, attempt > 0 { break }
        }
        guard let latest else { throw PostgreSQLError.conflict("setting \(name) disappeared after the reload") }
        return latest
    }

    /// Setting names: letters, digits, underscores, and dots for extension settings.
    static func checkSettingName(_ name: String) throws {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || first == "_",
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "." })
        else {
            throw PostgreSQLError.invalidArgument("'\(name)' is not a setting name (letters, digits, underscores and dots)")
        }
    }

    static func readSetting(_ name: String, _ psql: PSQL, _ connection: any Connection) async throws -> Setting? {
        let results = try await psql.execute(
            [
                """
                SELECT name, setting, unit, vartype, context, pending_restart, current_setting(name) AS pretty
                FROM pg_settings WHERE name = :'setting'
                """,
                """
                SELECT setting FROM pg_file_settings
                WHERE name = :'setting' AND sourcefile = current_setting('data_directory') || '/postgresql.auto.conf'
                ORDER BY seqno DESC LIMIT 1
                """,
            ], variables: [("setting", name)], on: connection)
        guard results.count == 2, let row = results[0].dictionaries.first else { return nil }
        return Setting(
            name: name, setting: row["setting"] ?? "", unit: row["unit"], vartype: row["vartype"] ?? "string",
            context: row["context"] ?? "", pendingRestart: row["pending_restart"] == "t", pretty: row["pretty"] ?? "",
            autoValue: results[1].dictionaries.first?["setting"])
    }
}
