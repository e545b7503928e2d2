import Foundation
import PKSPlayCore

/// `postgresql_pg_hba`: one marked rule in pg_hba.conf, validated by the server, then reloaded.
public enum PostgreSQLPgHBAModule: Module {
    public static let name = "postgresql_pg_hba"

    public static let arguments = ArgumentSpec(
        [
            Argument("dest", .path, required: true, aliases: ["path"], help: "pg_hba.conf on the target host (in PKS: /srv/pks/db/pg_hba.conf)"),
            Argument("contype", default: "host", choices: ["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"]),
            Argument("databases", default: "all", help: "database field: all, replication, a name or a comma list"),
            Argument("users", default: "all", help: "user field: all, a role name or a comma list"),
            Argument("source", aliases: ["address", "src"], help: "client address; an IP without a mask means that one host (/32 or /128)"),
            Argument("method", choices: ["trust", "reject", "scram-sha-256", "md5", "password", "gss", "sspi", "ident", "peer", "ldap", "radius", "cert", "pam", "bsd"],
                     help: "authentication method (default scram-sha-256)"),
            Argument("options", help: "name=value options after the method, separated by spaces"),
            Argument("comment", default: "managed", help: "text of the marker comment: '# pksplay: <comment>'"),
            Argument("state", default: "present", choices: ["present", "absent"]),
            Argument("backup", .bool, default: false, help: "copy the file to <dest>.<time>.pksplay.bak before changing it"),
            Argument("validate", .bool, default: true, help: "check the new file with pg_hba_file_rules (restoring it on errors) and reload"),
        ] + PSQL.arguments
    )

    public static let documentation = ModuleDocumentation(
        summary: "Add or remove one pg_hba.conf rule, marked with a comment; the server validates the file before it is reloaded.",
        example: """
            - name: Let the standby replicate (its address only)
              postgresql_pg_hba:
                dest: /srv/pks/db/pg_hba.conf
                contype: host
                databases: replication
                users: repuser
                source: 10.0.3.11
                method: scram-sha-256
                comment: standby pks2
                container: pks-db
                container_user: postgres
            """,
        notes: [
            "The file is edited on the host through the connection (not inside the container); it keeps its mode and numeric owner (the container's postgres uid), and is replaced atomically (temporary file + mv in the same directory).",
            "present: nothing changes when an equivalent rule is already there, wherever it is and however it is spaced (an address with a separate netmask counts as its CIDR). A line this module marked with the same comment and the same type/database/user/address is updated in place; otherwise the rule is appended at the end. Existing lines are never reordered. pg_hba.conf is first-match: an earlier line for the same client is reported as a warning.",
            "absent: removes the lines with this type/database/user/address (and method, when given).",
            "With validate (the default), the new file is checked with SELECT ... FROM pg_hba_file_rules WHERE error IS NOT NULL (through the container or login arguments); on any error the previous file is put back byte for byte and the task fails with the server's errors. Then pg_reload_conf() applies it. validate: false only writes the file (for a server that is down).",
            "Undo writes the previous file back byte for byte (content, mode, owner) and reloads.",
        ]
    )

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            let psql = try PSQL(context)
            guard let dest = context.string("dest"), !dest.isEmpty else { return .failure("dest is empty: give the path of pg_hba.conf") }
            let contype = context.string("contype") ?? "host"
            let state = context.string("state") ?? "present"
            let comment = context.string("comment") ?? "managed"
            guard !comment.contains("\n"), !comment.contains("\r") else { return .failure("comment must be one line") }
            let marker = "pksplay: " + comment
            let source = context.string("source").flatMap { $0.isEmpty ? nil : $0 }
            if contype == "local" {
                if source != nil { return .failure("a local rule has no address: drop source, or use contype host") }
            } else {
                guard let source else { return .failure("contype \(contype) needs source (the client address, e.g. 10.0.3.11)") }
                if let problem = HBARule.validate(address: source) { return .failure("source: \(problem)") }
            }
            for (field, value) in [("databases", context.string("databases") ?? "all"), ("users", context.string("users") ?? "all")] {
                if value.isEmpty || value.contains(where: { $0.isWhitespace || $0 == "#" }) {
                    return .failure("\(field) '\(value)' must be one pg_hba field: no spaces or '#' (use commas between names)")
                }
            }
            let options = (context.string("options") ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if options.contains(where: { $0.contains("#") }) { return .failure("options must not contain '#'") }
            let rule = HBARule(
                type: contype, databases: context.string("databases") ?? "all", users: context.string("users") ?? "all",
                address: source, method: context.string("method") ?? "scram-sha-256", options: options)
            let methodGiven = context.string("method") != nil

            guard let original = try await OwnedFile.read(dest, on: context.connection) else {
                return .failure("\(dest) does not exist; give the pg_hba.conf of the data directory (in PKS: /srv/pks/db/pg_hba.conf)")
            }
            guard let text = String(data: original.content, encoding: .utf8) else { return .failure("\(dest) is not UTF-8 text") }
            var file = PGHBAFile(text)
            var warnings: [String] = []
            var msg: String

            if state == "present" {
                if let i = file.lines.firstIndex(where: { PGHBAFile.parse($0)?.rule == rule }) {
                    return ModuleResult(msg: "the rule is already on line \(i + 1)", values: ["dest": .string(dest)])
                }
                let newLine = rule.line(marker: marker)
                if let i = file.lines.firstIndex(where: { line in
                    guard let parsed = PGHBAFile.parse(line) else { return false }
                    return parsed.comment == marker && parsed.rule.sameTarget(as: rule)
                }) {
                    file.lines[i] = newLine
                    msg = "updated line \(i + 1)"
                } else {
                    if let i = file.lines.firstIndex(where: { PGHBAFile.parse($0)?.rule.sameTarget(as: rule) == true }) {
                        warnings.append("line \(i + 1) of \(dest) matches the same connections first, so the new rule will not apply to them")
                    }
                    file.lines.append(newLine)
                    file.endsWithNewline = true
                    msg = "added the rule at line \(file.lines.count)"
                }
            } else {
                let before = file.lines.count
                file.lines.removeAll { line in
                    guard let parsed = PGHBAFile.parse(line) else { return false }
                    return parsed.rule.sameTarget(as: rule) && (!methodGiven || parsed.rule.method == rule.method)
                }
                let removed = before - file.lines.count
                if removed == 0 { return ModuleResult(msg: "no such rule", values: ["dest": .string(dest)]) }
                msg = "removed \(removed) line(s)"
            }

            let diff = FileDiff(beforeHeader: dest + " (before)", afterHeader: dest + " (after)", before: text, after: file.text)
            var values: ValueDict = ["dest": .string(dest)]
            if context.checkMode {
                return ModuleResult(changed: true, msg: "would have " + msg, values: values, diffs: [diff], warnings: warnings)
            }

            try await context.willChange(UndoRecord(
                module: Self.name, summary: "restore \(dest) (\(original.content.count) bytes)",
                data: ["file": original.journalValue, "connection": psql.journalValue]))
            if context.bool("backup") == true {
                let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                let backup = "\(dest).\(stamp).pksplay.bak"
                let copy = try await context.connection.exec(ExecRequest("cp -p -- \(shellQuote(dest)) \(shellQuote(backup))"))
                guard copy.exitStatus == 0 else { return .failure("cannot back up \(dest): \(copy.stderrText)") }
                values["backup_file"] = .string(backup)
            }
            var updated = original
            updated.content = Data(file.text.utf8)
            try await updated.write(on: context.connection)

            if context.bool("validate") ?? true {
                let errors: PSQLResult
                do {
                    errors = try await psql.query("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number", on: context.connection)
                } catch {
                    try await original.write(on: context.connection)
                    return .failure("could not validate the new \(dest), so it was put back as it was: \(error) (use validate: false while the server is down)", values: values)
                }
                if !errors.rows.isEmpty {
                    try await original.write(on: context.connection)
                    let list = errors.dictionaries.map { "line \($0["line_number"] ?? "?"): \($0["error"] ?? "")" }.joined(separator: "; ")
                    return .failure("PostgreSQL rejects the new \(dest) (\(list)); the previous file was put back", values: values)
                }
                _ = try await psql.query("SELECT pg_reload_conf()", on: context.connection)
                values["reloaded"] = true
            }
            return ModuleResult(changed: true, msg: msg, values: values, diffs: [diff], warnings: warnings)
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            guard let data = record.data.dictValue, let original = OwnedFile(journal: data["file"]) else {
                return .failure("postgresql_pg_hba: undo record '\(record.summary)' holds no file")
            }
            if try await original.isCurrent(on: context.connection) {
                return ModuleResult(msg: "\(original.path) is already as it was")
            }
            if context.checkMode { return ModuleResult(changed: true, msg: "would restore \(original.path)") }
            try await original.write(on: context.connection)
            let psql = try PSQL(journal: data["connection"], context: context)
            do {
                _ = try await psql.query("SELECT pg_reload_conf()", on: context.connection)
            } catch let error as PostgreSQLError {
                return ModuleResult(changed: true, msg: "restored \(original.path)", warnings: ["could not reload the server (it reads the file when it starts): \(error)"])
            }
            return ModuleResult(changed: true, msg: "restored \(original.path) and reloaded")
        }
    }
}
