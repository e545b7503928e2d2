import PKSPlayCore

/// `postgresql_slot`: a physical replication slot, present or absent.
public enum PostgreSQLSlotModule: Module {
    public static let name = "postgresql_slot"

    public static let arguments = ArgumentSpec(
        [
            Argument("name", required: true, aliases: ["slot_name"], help: "slot name: lower-case letters, digits and underscores"),
            Argument("slot_type", default: "physical", choices: ["physical", "logical"], help: "only physical slots are supported"),
            Argument("state", default: "present", choices: ["present", "absent"]),
            Argument("immediately_reserve", .bool, default: false, help: "reserve WAL from now rather than from the first client"),
        ] + PSQL.arguments
    )

    public static let documentation = ModuleDocumentation(
        summary: "Create or drop a physical replication slot, so the primary keeps the WAL its standby still needs.",
        example: """
            - name: Slot for the standby
              postgresql_slot:
                container: pks-db
                container_user: postgres
                name: pks_standby
                immediately_reserve: true
            """,
        notes: [
            "Pair a slot with max_slot_wal_keep_size (postgresql_set) so a standby that stays away cannot fill the primary's disk.",
            "An existing slot of the same name is left as it is (immediately_reserve only matters when creating). A logical slot by that name is an error.",
            "Dropping an active slot (a standby streaming through it) fails: stop the standby first.",
            "Undo: a created slot is dropped; a dropped slot is created again (physical, reserving WAL if it did), but the WAL it held is not brought back.",
        ]
    )

    struct Slot {
        var type: String
        var active: Bool
        var reserved: Bool
    }

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            let psql = try PSQL(context)
            let name = context.string("name") ?? ""
            try checkSlotName(name)
            guard context.string("slot_type") != "logical" else {
                return .failure("logical replication slots are not supported by postgresql_slot; use slot_type: physical (or create it with postgresql_query)")
            }
            let reserve = context.bool("immediately_reserve") ?? false
            let current = try await readSlot(name, psql, context.connection)
            if let current, current.type != "physical" {
                return .failure("slot '\(name)' exists as a \(current.type) slot; this module manages physical slots only")
            }
            var values: ValueDict = ["name": .string(name), "slot_type": "physical"]

            if context.string("state") == "absent" {
                guard let current else { return ModuleResult(msg: "slot \(name) does not exist", values: values) }
                values["queries"] = .list([.string("SELECT pg_drop_replication_slot('\(name)')")])
                let diff = FileDiff(beforeHeader: "replication slots", afterHeader: "replication slots", before: "\(name) (physical)\n", after: "")
                if current.active {
                    return .failure("slot \(name) is in use by a connected standby; stop the standby before dropping it", values: values)
                }
                if context.checkMode { return ModuleResult(changed: true, msg: "would drop slot \(name)", values: values, diffs: [diff]) }
                try await context.willChange(UndoRecord(
                    module: Self.name, summary: "create replication slot \(name) again",
                    data: ["action": "create", "name": .string(name), "immediately_reserve": .bool(current.reserved), "connection": psql.journalValue]))
                _ = try await psql.query("SELECT pg_drop_replication_slot(:'slot')", [("slot", name)], on: context.connection)
                return ModuleResult(changed: true, msg: "dropped slot \(name)", values: values, diffs: [diff])
            }

            if current != nil { return ModuleResult(msg: "slot \(name) exists", values: values) }
            values["queries"] = .list([.string("SELECT pg_create_physical_replication_slot('\(name)', \(reserve))")])
            let diff = FileDiff(beforeHeader: "replication slots", afterHeader: "replication slots", before: "", after: "\(name) (physical)\n")
            if context.checkMode { return ModuleResult(changed: true, msg: "would create slot \(name)", values: values, diffs: [diff]) }
            try await context.willChange(UndoRecord(
                module: Self.name, summary: "drop replication slot \(name)",
                data: ["action": "drop", "name": .string(name), "connection": psql.journalValue]))
            _ = try await psql.query("SELECT pg_create_physical_replication_slot(:'slot', \(reserve))", [("slot", name)], on: context.connection)
            return ModuleResult(changed: true, msg: "created slot \(name)", values: values, diffs: [diff])
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            guard let data = record.data.dictValue, let action = data["action"]?.stringValue, let name = data["name"]?.stringValue else {
                return .failure("postgresql_slot: undo record '\(record.summary)' is incomplete")
            }
            try checkSlotName(name)
            let psql = try PSQL(journal: data["connection"], context: context)
            let current = try await readSlot(name, psql, context.connection)
            switch action {
            case "drop":
                guard let current else { return ModuleResult(msg: "slot \(name) is already gone") }
                if current.active { return .failure("slot \(name) is in use by a connected standby; stop the standby, then roll back again") }
                if context.checkMode { return ModuleResult(changed: true, msg: "would drop slot \(name)") }
                _ = try await psql.query("SELECT pg_drop_replication_slot(:'slot')", [("slot", name)], on: context.connection)
                return ModuleResult(changed: true, msg: "dropped slot \(name)")
            case "create":
                if current != nil { return ModuleResult(msg: "slot \(name) exists") }
                if context.checkMode { return ModuleResult(changed: true, msg: "would create slot \(name)") }
                let reserve = data["immediately_reserve"]?.boolValue ?? false
                _ = try await psql.query("SELECT pg_create_physical_replication_slot(:'slot', \(reserve))", [("slot", name)], on: context.connection)
                return ModuleResult(changed: true, msg: "created slot \(name) again (the WAL it held before is not restored)")
            default:
                return .failure("postgresql_slot: unknown undo action '\(action)'")
            }
        }
    }

    /// PostgreSQL's rule for slot names, checked here so a bad name fails before anything runs.
    static func checkSlotName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= 63,
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw PostgreSQLError.invalidArgument("'\(name)' is not a valid replication slot name: use 1 to 63 lower-case letters, digits and underscores")
        }
    }

    static func readSlot(_ name: String, _ psql: PSQL, _ connection: any Connection) async throws -> Slot? {
        let result = try await psql.query(
            "SELECT slot_type, active, restart_lsn IS NOT NULL AS reserved FROM pg_replication_slots WHERE slot_name = :'slot'",
            [("slot", name)], on: connection)
        guard let row = result.dictionaries.first else { return nil }
        return Slot(type: row["slot_type"] ?? "", active: row["active"] == "t", reserved: row["reserved"] == "t")
    }
}
