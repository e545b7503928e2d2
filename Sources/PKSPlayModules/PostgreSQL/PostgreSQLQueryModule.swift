import Foundation
import PKSPlayCore

/// `postgresql_query`: runs SQL through psql and returns the rows, with parameters bound safely.
public enum PostgreSQLQueryModule: Module {
    public static let name = "postgresql_query"
    public static let aliases = ["postgresql_sql"]

    public static let arguments = ArgumentSpec(
        [
            Argument("query", required: true, help: "SQL: one statement or several separated by ';'"),
            Argument("positional_args", .list(.raw), help: "values for %s placeholders, in order (also :'p1', :'p2' ...)"),
            Argument("named_args", .dict, help: "values for %(name)s placeholders (also :'name')"),
            Argument("autocommit", .bool, default: true, help: "commit each statement on its own; false runs all in one transaction"),
        ] + PSQL.arguments,
        mutuallyExclusive: [["positional_args", "named_args"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Run SQL with psql on the host or in a container; rows come back as a list of dictionaries.",
        example: """
            - name: Is the primary in recovery?
              postgresql_query:
                container: pks-db
                container_user: postgres
                query: SELECT pg_is_in_recovery() AS in_recovery, current_setting('server_version_num') AS version
              register: primary_state

            - name: Write a marker the standby must replay
              postgresql_query:
                container: pks-db
                db: pks
                query: INSERT INTO pksplay_marker (run, note) VALUES (%s, %s)
                positional_args: ["{{ run_id }}", "standby check"]

            - name: Look up a role by name (psql variable syntax)
              postgresql_query:
                container: pks-db
                query: SELECT rolname, rolreplication FROM pg_roles WHERE rolname = :'role'
                named_args: {role: repuser}
            """,
        notes: [
            "Parameters never become SQL text or command-line words: each value is set as a psql variable on psql's standard input and interpolated by psql as a quoted literal (`%s` and `%(name)s` are rewritten to `:'p1'` and `:'name'`; write `%%` for a literal % when parameters are given). null binds as NULL; lists and dictionaries bind as JSON text.",
            "Results: query_result (rows of the last statement, values as strings or null), query_all_results (one list per statement), query_list, rowcount (rows returned or affected, summed), statusmessage (the last statement's command tag, rebuilt from its leading words and row count).",
            "changed: false for statements that only read (as check mode judges them, below) and for INSERT/UPDATE/DELETE/MERGE that touched no row; true for anything else, DDL included, as in Ansible. Use changed_when to refine.",
            "Check mode runs the query only when every statement reads (and then inside a READ ONLY transaction that is rolled back); a SELECT calling a function with side effects (pg_create_*, pg_drop_*, pg_reload_conf, nextval ...) counts as a write. Anything else is reported as a change ('would run in normal mode') and not run.",
            "autocommit defaults to true (unlike Ansible's module): statements such as ALTER SYSTEM, CREATE DATABASE and VACUUM cannot run inside a transaction.",
            "The query is SQL only: a backslash outside quotes (a psql meta-command) is refused, and so is COPY FROM STDIN / TO STDOUT.",
            "No automatic undo: SQL has no general inverse. Give the task an `undo:` when the query changes something that rollback must reverse.",
        ]
    )

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withPostgreSQLErrors {
            let psql = try PSQL(context)
            guard let query = context.string("query"), !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .failure("query is empty: give the SQL to run")
            }
            let bound = try QueryParameters.bind(query, positional: context.list("positional_args"), named: context.args["named_args"]?.dictValue)
            let statements: [SQLStatement]
            do {
                statements = try SQLStatement.split(bound.sql)
            } catch let error as SQLSyntaxError {
                return .failure(error.description)
            }
            guard !statements.isEmpty else { return .failure("query holds no SQL statement (only comments or blanks)") }
            // psql would read COPY data from this module's own script, or print it among the rows.
            if let copy = statements.first(where: { $0.firstWord == "COPY" && ($0.words.contains("STDIN") || $0.words.contains("STDOUT")) }) {
                return .failure("COPY ... FROM STDIN / TO STDOUT cannot run through postgresql_query (\(copy.text.prefix(60))); copy to or from a file on the server, or use container_exec with psql \\copy")
            }

            var values: ValueDict = ["query": .string(query), "query_list": .list(statements.map { .string($0.text) })]
            let readsOnly = statements.allSatisfy(\.isReadOnly)
            if context.checkMode && !readsOnly {
                values["query_result"] = .list([])
                values["query_all_results"] = .list([])
                values["rowcount"] = .int(0)
                values["statusmessage"] = .string("")
                return ModuleResult(changed: true, msg: "would run in normal mode", values: values)
            }
            let transaction: PSQLScript.Transaction = context.checkMode ? .readOnly : (context.bool("autocommit") ?? true ? .none : .single)
            let results = try await psql.execute(statements.map(\.text), variables: bound.variables, transaction: transaction, on: context.connection)

            var changed = false
            var rowcount = 0
            for (statement, result) in zip(statements, results) {
                let count = result.returnedRows ? result.rows.count : result.rowCount
                rowcount += count
                if statement.modifiesRows { changed = changed || count > 0 } else if !statement.isReadOnly { changed = true }
            }
            let rows: (PSQLResult) -> Value = { result in
                .list(result.dictionaries.map { row in .dict(ValueDict(row.pairs.map { ($0.0, $0.1.map(Value.string) ?? .null) })) })
            }
            values["query_result"] = results.last.map(rows) ?? .list([])
            values["query_all_results"] = .list(results.map(rows))
            values["rowcount"] = .int(rowcount)
            if let last = statements.last, let result = results.last {
                values["statusmessage"] = .string(last.statusMessage(rowCount: result.returnedRows ? result.rows.count : result.rowCount))
            }
            return ModuleResult(changed: changed, values: values)
        }
    }
}

/// Rewrites Ansible-style placeholders into psql variables and lists the variables to set.
enum QueryParameters {
    struct Bound {
        var sql: String
        var variables: [(name: String, value: String)]
    }

    /// `%s` takes the next positional value (`:'p1'` ...), `%(name)s` the named one, `%%` is a
    /// literal `%`; other `%` signs stay as they are. Without parameters the query is left alone.
    static func bind(_ query: String, positional: [Value]?, named: ValueDict?) throws -> Bound {
        var variables: [(name: String, value: String)] = []
        if let positional {
            for (i, v) in positional.enumerated() where !v.isNull { variables.append(("p\(i + 1)", try text(of: v))) }
        }
        if let named {
            for (k, v) in named where !v.isNull {
                try PSQLScript.checkVariableName(k)
                variables.append((k, try text(of: v)))
            }
        }
        guard positional != nil || named != nil else { return Bound(sql: query, variables: []) }

        var out = ""
        var used = 0
        var chars = Substring(query)
        while let percent = chars.firstIndex(of: "%") {
            out += chars[..<percent]
            let rest = chars[chars.index(after: percent)...]
            if rest.hasPrefix("%") {
                out += "%"
                chars = rest.dropFirst()
            } else if rest.hasPrefix("s"), let positional {
                guard used < positional.count else {
                    throw PostgreSQLError.invalidArgument("the query has more %s placeholders than the \(positional.count) positional_args")
                }
                out += positional[used].isNull ? "NULL" : ":'p\(used + 1)'"
                used += 1
                chars = rest.dropFirst()
            } else if rest.hasPrefix("("), let named, let close = rest.firstIndex(of: ")"), rest[rest.index(after: close)...].hasPrefix("s") {
                let name = String(rest[rest.index(after: rest.startIndex)..<close])
                guard let value = named[name] else {
                    throw PostgreSQLError.invalidArgument("the query uses %(\(name))s but named_args has no '\(name)'")
                }
                out += value.isNull ? "NULL" : ":'\(name)'"
                chars = rest[rest.index(close, offsetBy: 2)...]
            } else {
                out += "%"
                chars = rest
            }
        }
        out += chars
        if let positional, used != positional.count, used > 0 {
            throw PostgreSQLError.invalidArgument("the query has \(used) %s placeholder(s) but \(positional.count) positional_args were given")
        }
        return Bound(sql: out, variables: variables)
    }

    private static func text(of value: Value) throws -> String {
        switch value {
        case .bool(let b): return b ? "true" : "false"
        case .list, .dict: return value.jsonString()
        default: return value.stringified
        }
    }
}
