import Foundation
import PKSPlayCore

/// `postgresql_user`: a role with LOGIN / REPLICATION / CONNECTION LIMIT and a SCRAM password.
public enum PostgreSQLUserModule: Module {
    public static let name = "postgresql_user"

    public static let arguments = ArgumentSpec(
        [
            Argument("name", required: true, aliases: ["user", "role"], help: "role name"),
            Argument("password", noLog: true, help: "password; stored as a SCRAM-SHA-256 verifier; \"\" removes the password"),
            Argument("login", .bool, help: "LOGIN or NOLOGIN (a new role gets LOGIN unless told otherwise)"),
            Argument("replication", .bool, help: "REPLICATION or NOREPLICATION (a new role: NOREPLICATION)"),
            Argument("conn_limit", .int, help: "CONNECTION LIMIT; -1 for none (a new role: -1)"),
            Argument("state", default: "present", choices: ["present", "absent"]),
        ] + PSQL.arguments
    )

    public static let documentation = ModuleDocumentation(
        summary: "Create, alter or drop a PostgreSQL role; the password is compared with the stored SCRAM verifier, never sent in clear.",
        example: """
            - name: Replication role on the primary
              postgresql_user:
                container: pks-db
                container_user: postgres
                name: repuser
                password: "{{ replication_password }}"
                login: true
                replication: true
                conn_limit: 5
              no_log: true
            """,
        notes: [
            "The password is checked against pg_authid.rolpassword on the control machine (PBKDF2/HMAC-SHA-256 per RFC 5802 for SCRAM, md5(password+name) for md5 verifiers). To set it, pksplay computes a SCRAM-SHA-256 verifier itself (random salt, 4096 iterations) and sends that: the plain password is never on a command line, on psql's stdin, in the server's statement log, in a result or in the journal.",
            "A password that matches an md5 verifier is rewritten as SCRAM-SHA-256 (changed), since a pg_hba line with method scram-sha-256 cannot use an md5 verifier.",
            "Reading pg_authid needs a superuser login (login_user, postgres by default).",
            "Attributes not given are left as they are on an existing role. A new role gets LOGIN, NOREPLICATION and no connection limit unless told otherwise.",
            "Undo: a created role is dropped; an altered role gets its previous LOGIN/REPLICATION/CONNECTION LIMIT back and its previous password verifier (the verifier is a salted hash, not the password; it is kept in the journal, which is mode 0600, because nothing else can restore the password); a dropped role is created again with its attributes and verifier (not its grants or owned objects).",
            "Undo connects as the change did (container, host, port, user, database); a login_password is never journaled, so rollback uses the one in the task's arguments when the engine provides it.",
        ]
    )

    /// The columns of pg_authid this module reads and can restore.
    struct Role: Equatable {
        var name: String
        var login: Bool
        var replication: Bool
        var connLimit: Int
        var verifier: String?
        var superuser = false
        var inherit = true
        var createRole = false
        var createDB = false
        var bypassRLS = false
        var validUntil: String?

        var summary: String {
            "role: \(name)\nlogin: \(login)\nreplication: \(replication)\nconn_limit: \(connLimit)\npassword: \(verifier == nil ? "(none)" : "(set)")\n"
        }

        var journalValue: Value {
            .dict([
                "name": .string(name), "login": .bool(login), "replication": .bool(replication), "conn_limit": .int(connLimit),
                "verifier": verifier.map(Value.string) ?? .null, "superuser": .bool(superuser), "inherit": .bool(inherit),
                "createrole": .bool(createRole), "createdb": .bool(createDB), "bypassrls": .bool(bypassRLS),
                "valid_until": validUntil.map(Value.string) ?? .null,
            ])
        }

        init(name: String, login: Bool, replication: Bool, connLimit: Int, verifier: String?) {
            self.name = name
            self.login = login
            self.replication = replication
            self.connLimit = connLimit
            self.verifier = verifier
        }

        init?(journal: Value?) {
            guard let d = journal?.dictValue, let name = d["name"]?.stringValue else { return nil }
            self.name = name
            login = d["login"]?.boolValue ?? false
            replication = d["replication"]?.boolValue ?? false
            connLimit = d["conn_limit"]?.intValue ?? -1
            verifier = d["verifier"]?.stringValue
            superuser = d["superuser"]?.boolValue ?? false
            inherit = d["inherit"]?.boolValue ?? true
            createRole = d["createrole"]?.boolValue ?? false
            createDB = d["createdb"]?.boolValue ?? false
            bypassRLS = d["bypassrls"]?.boolValue ?? false
            validUntil = d["valid_until"]?.stringValue
        }
    }

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            let psql = try PSQL(context)
            let name = context.string("name") ?? ""
            try checkRoleName(name)
            let current = try await readRole(name, psql, context.connection)
            var values: ValueDict = ["user": .string(name), "state": .string(context.string("state") ?? "present")]

            if context.string("state") == "absent" {
                guard let current else { return ModuleResult(msg: "role \(name) does not exist", values: values) }
                let diff = FileDiff(beforeHeader: "role \(name)", afterHeader: "role \(name)", before: current.summary, after: "")
                values["queries"] = .list([.string("DROP ROLE \(quoteIdentifier(name))")])
                if context.checkMode { return ModuleResult(changed: true, msg: "would drop role \(name)", values: values, diffs: [diff]) }
                try await context.willChange(UndoRecord(
                    module: Self.name, summary: "create role \(name) again",
                    data: ["action": "create", "role": current.journalValue, "connection": psql.journalValue]))
                _ = try await psql.query("DROP ROLE :\"role\"", [("role", name)], on: context.connection)
                return ModuleResult(changed: true, msg: "dropped role \(name)", values: values, diffs: [diff])
            }

            // What to do with the password: nothing, set a new verifier, or remove it ("").
            enum PasswordPlan: Equatable { case keep, set(String), clear }
            var plan = PasswordPlan.keep
            var notes: [String] = []
            if let password = context.string("password") {
                if password.isEmpty {
                    if current?.verifier != nil { plan = .clear }
                } else if let stored = current?.verifier.flatMap(PasswordVerifier.init), stored.matches(password: password, role: name) {
                    if !stored.isSCRAM {
                        notes.append("password stored as md5; rewritten as SCRAM-SHA-256")
                        plan = .set(PasswordVerifier.makeSCRAM(password: password).text)
                    }
                } else {
                    plan = .set(PasswordVerifier.makeSCRAM(password: password).text)
                }
            }

            var wanted = current ?? Role(name: name, login: true, replication: false, connLimit: -1, verifier: nil)
            if let login = context.bool("login") { wanted.login = login }
            if let replication = context.bool("replication") { wanted.replication = replication }
            if let limit = context.int("conn_limit") {
                guard limit >= -1 else { return .failure("conn_limit must be -1 (no limit) or more, got \(limit)") }
                wanted.connLimit = limit
            }
            switch plan {
            case .keep: break
            case .set(let v): wanted.verifier = v
            case .clear: wanted.verifier = nil
            }

            let attributesChange = current.map { $0.login != wanted.login || $0.replication != wanted.replication || $0.connLimit != wanted.connLimit } ?? true
            guard attributesChange || plan != .keep else {
                return ModuleResult(msg: "role \(name) is as wanted", values: values)
            }

            var after = wanted.summary
            if case .set = plan { after = after.replacingOccurrences(of: "password: (set)", with: "password: (changed)") }
            let diff = FileDiff(beforeHeader: "role \(name)", afterHeader: "role \(name)", before: current?.summary ?? "", after: after)
            let verb = current == nil ? "CREATE" : "ALTER"
            let options = roleOptions(wanted, includeLogin: current == nil || current?.login != wanted.login,
                                      includeReplication: current == nil || current?.replication != wanted.replication,
                                      includeLimit: current == nil || current?.connLimit != wanted.connLimit)
            let withOptions = options.isEmpty ? "" : " WITH " + options
            var variables: [(name: String, value: String)] = [("role", name)]
            let passwordClause: String, shownPassword: String
            switch plan {
            case .keep: passwordClause = ""; shownPassword = ""
            case .clear: passwordClause = " PASSWORD NULL"; shownPassword = passwordClause
            case .set(let v):
                variables.append(("verifier", v))
                passwordClause = " PASSWORD :'verifier'"
                shownPassword = " PASSWORD '********'"
            }
            values["queries"] = .list([.string("\(verb) ROLE \(quoteIdentifier(name))\(withOptions)\(shownPassword)")])
            let action = current == nil ? "create" : "alter"
            let notesText = notes.map { "; " + $0 }.joined()
            if context.checkMode {
                return ModuleResult(changed: true, msg: "would \(action) role \(name)\(notesText)", values: values, diffs: [diff])
            }

            if let current {
                try await context.willChange(UndoRecord(
                    module: Self.name, summary: "restore role \(name)'s previous attributes and password",
                    data: ["action": "restore", "role": current.journalValue, "connection": psql.journalValue]))
            } else {
                try await context.willChange(UndoRecord(
                    module: Self.name, summary: "drop role \(name)",
                    data: ["action": "drop", "name": .string(name), "connection": psql.journalValue]))
            }
            _ = try await psql.query("\(verb) ROLE :\"role\"\(withOptions)\(passwordClause)", variables, on: context.connection)
            return ModuleResult(changed: true, msg: "\(action)d role \(name)\(notesText)", values: values, diffs: [diff])
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            guard let data = record.data.dictValue, let action = data["action"]?.stringValue else {
                return .failure("postgresql_user: undo record '\(record.summary)' has no action")
            }
            let psql = try PSQL(journal: data["connection"], context: context)
            switch action {
            case "drop":
                guard let name = data["name"]?.stringValue else { return .failure("postgresql_user: undo record has no role name") }
                guard try await readRole(name, psql, context.connection) != nil else {
                    return ModuleResult(msg: "role \(name) is already gone")
                }
                if context.checkMode { return ModuleResult(changed: true, msg: "would drop role \(name)") }
                _ = try await psql.query("DROP ROLE :\"role\"", [("role", name)], on: context.connection)
                return ModuleResult(changed: true, msg: "dropped role \(name)")

            case "restore":
                guard let previous = Role(journal: data["role"]) else { return .failure("postgresql_user: undo record has no role") }
                guard let current = try await readRole(previous.name, psql, context.connection) else {
                    return .failure("role \(previous.name) no longer exists, so its previous attributes cannot be restored")
                }
                let options = roleOptions(previous, includeLogin: current.login != previous.login,
                                          includeReplication: current.replication != previous.replication,
                                          includeLimit: current.connLimit != previous.connLimit)
                let passwordDiffers = current.verifier != previous.verifier
                guard !options.isEmpty || passwordDiffers else {
                    return ModuleResult(msg: "role \(previous.name) already has its previous attributes and password")
                }
                if context.checkMode { return ModuleResult(changed: true, msg: "would restore role \(previous.name)") }
                var variables: [(name: String, value: String)] = [("role", previous.name)]
                var clause = ""
                if passwordDiffers {
                    if let v = previous.verifier { variables.append(("verifier", v)); clause = " PASSWORD :'verifier'" } else { clause = " PASSWORD NULL" }
                }
                _ = try await psql.query("ALTER ROLE :\"role\"\(options.isEmpty ? "" : " WITH " + options)\(clause)", variables, on: context.connection)
                return ModuleResult(changed: true, msg: "restored role \(previous.name)")

            case "create":
                guard let previous = Role(journal: data["role"]) else { return .failure("postgresql_user: undo record has no role") }
                if try await readRole(previous.name, psql, context.connection) != nil {
                    return ModuleResult(msg: "role \(previous.name) exists already")
                }
                if context.checkMode { return ModuleResult(changed: true, msg: "would create role \(previous.name) again") }
                var options = roleOptions(previous, includeLogin: true, includeReplication: true, includeLimit: true)
                options += previous.superuser ? " SUPERUSER" : " NOSUPERUSER"
                options += previous.inherit ? " INHERIT" : " NOINHERIT"
                options += previous.createRole ? " CREATEROLE" : " NOCREATEROLE"
                options += previous.createDB ? " CREATEDB" : " NOCREATEDB"
                options += previous.bypassRLS ? " BYPASSRLS" : " NOBYPASSRLS"
                var variables: [(name: String, value: String)] = [("role", previous.name)]
                if let v = previous.verifier { variables.append(("verifier", v)); options += " PASSWORD :'verifier'" }
                if let until = previous.validUntil { variables.append(("until", until)); options += " VALID UNTIL :'until'" }
                _ = try await psql.query("CREATE ROLE :\"role\" WITH \(options)", variables, on: context.connection)
                return ModuleResult(changed: true, msg: "created role \(previous.name) again (grants and owned objects are not restored)")

            default:
                return .failure("postgresql_user: unknown undo action '\(action)'")
            }
        }
    }

    static func checkRoleName(_ name: String) throws {
        if name.isEmpty { throw PostgreSQLError.invalidArgument("name is empty: give the role's name") }
        if name.utf8.count > 63 {
            throw PostgreSQLError.invalidArgument("role name '\(name)' is \(name.utf8.count) bytes; PostgreSQL would cut it to 63")
        }
        if name.contains("\0") { throw PostgreSQLError.invalidArgument("role name holds a NUL character") }
    }

    static func readRole(_ name: String, _ psql: PSQL, _ connection: any Connection) async throws -> Role? {
        let result: PSQLResult
        do {
            result = try await psql.query(
                """
                SELECT rolname, rolcanlogin, rolreplication, rolconnlimit, rolpassword, rolsuper, rolinherit, rolcreaterole,
                       rolcreatedb, rolbypassrls, rolvaliduntil FROM pg_authid WHERE rolname = :'role'
                """, [("role", name)], on: connection)
        } catch PostgreSQLError.psqlFailed(let place, let status, let message) where message.contains("permission denied") {
            throw PostgreSQLError.psqlFailed(where: place, exitStatus: status, message: message + " (reading pg_authid needs a superuser: set login_user)")
        }
        guard let row = result.dictionaries.first else { return nil }
        var role = Role(name: name, login: row["rolcanlogin"] == "t", replication: row["rolreplication"] == "t",
                        connLimit: Int(row["rolconnlimit"] ?? "") ?? -1, verifier: row["rolpassword"])
        role.superuser = row["rolsuper"] == "t"
        role.inherit = row["rolinherit"] == "t"
        role.createRole = row["rolcreaterole"] == "t"
        role.createDB = row["rolcreatedb"] == "t"
        role.bypassRLS = row["rolbypassrls"] == "t"
        role.validUntil = row["rolvaliduntil"]
        return role
    }

    private static func roleOptions(_ role: Role, includeLogin: Bool, includeReplication: Bool, includeLimit: Bool) -> String {
        var parts: [String] = []
        if includeLogin { parts.append(role.login ? "LOGIN" : "NOLOGIN") }
        if includeReplication { parts.append(role.replication ? "REPLICATION" : "NOREPLICATION") }
        if includeLimit { parts.append("CONNECTION LIMIT \(role.connLimit)") }
        return parts.joined(separator: " ")
    }
}

/// An SQL identifier in double quotes, for messages and shown queries (the SQL that runs binds
/// names as psql variables instead).
func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
