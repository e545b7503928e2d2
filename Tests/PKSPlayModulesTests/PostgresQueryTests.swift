import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

@Suite("postgresql_query against a real server", .postgres, .serialized, .enabled(if: TestPostgres.isAvailable))
struct PostgresQueryTests {
    let pg: TestPostgres
    init() throws { pg = try TestPostgres.required() }

    func query(_ sql: String, _ extra: ValueDict = [:], check: Bool = false, on connection: (any Connection)? = nil) async throws -> ModuleResult {
        try await ModuleRunner.run(PostgreSQLQueryModule.self, pg.loginArgs.merging(["query": .string(sql)]).merging(extra),
                                   on: connection ?? pg.connection, check: check).result
    }

    static let awkwardValues: [String] = [
        "it's", "two '' quotes", #"back\slash"#, #"\\double\\"#, #"trailing\"#, "$(touch /tmp/pksplay-pwned)", "`id`",
        "line1\nline2\n", "\r\n", "tab\there", "ünïcødé ✓ 😀", "", " leading and trailing ", "\u{1}\u{7f}", ":'p1' :\"x\" :y",
        "E'\\x41'", "--not a comment", "/* nor this */", ";", "\\set x y", "%s %(a)s %%",
    ]

    @Test("a positional parameter comes back exactly as given", arguments: awkwardValues)
    func positionalRoundTrip(value: String) async throws {
        let r = try await query("SELECT %s AS v, length(%s) AS n", ["positional_args": .list([.string(value), .string(value)])])
        #expect(!r.failed, "\(r.msg ?? "")")
        #expect(r.rows == [["v": value, "n": String(value.unicodeScalars.count)]])
        #expect(r.changed == false)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pksplay-pwned"))
    }

    @Test("named parameters bind through %(name)s and through psql's :'name'", arguments: awkwardValues)
    func namedRoundTrip(value: String) async throws {
        let r = try await query("SELECT %(a)s AS v, :'a' AS w", ["named_args": .dict(["a": .string(value)])])
        #expect(!r.failed, "\(r.msg ?? "")")
        #expect(r.rows == [["v": value, "w": value]])
    }

    @Test("rows come back as dictionaries with NULL, multiline, comma and quote values intact")
    func rowsAsDictionaries() async throws {
        let r = try await query("""
            SELECT * FROM (VALUES (1, NULL::text, 'a,b'), (2, E'two\\nlines', 'say "hi"'), (3, '', 'NULL')) AS t(id, note, "odd, name")
            ORDER BY id
            """)
        #expect(!r.failed, "\(r.msg ?? "")")
        #expect(r.rows == [
            ["id": "1", "note": nil, "odd, name": "a,b"],
            ["id": "2", "note": "two\nlines", "odd, name": "say \"hi\""],
            ["id": "3", "note": "", "odd, name": "NULL"],
        ])
        #expect(r.values["rowcount"] == .int(3))
        #expect(r.values["statusmessage"] == .string("SELECT 3"))
        // Column order is the query's.
        #expect(r.values["query_result"]?.listValue?.first?.dictValue?.keys == ["id", "note", "odd, name"])
    }

    @Test("an empty result is an empty list, and a NULL parameter binds as NULL")
    func emptyAndNull() async throws {
        let empty = try await query("SELECT 1 AS x WHERE false")
        #expect(empty.values["query_result"] == .list([]))
        #expect(empty.values["rowcount"] == .int(0))
        let null = try await query("SELECT %s IS NULL AS isnull", ["positional_args": .list([.null])])
        #expect(null.rows == [["isnull": "t"]])
    }

    @Test("several statements: results per statement, changed by the writes, tags rebuilt")
    func severalStatements() async throws {
        let r = try await query("""
            CREATE TABLE q_multi (id int, note text); -- a comment; with a semicolon
            INSERT INTO q_multi VALUES (1, 'a;b'), (2, $$dollar ; quoted$$) RETURNING id;
            SELECT count(*) AS n FROM q_multi
            """)
        #expect(!r.failed, "\(r.msg ?? "")")
        #expect(r.changed)
        #expect(r.values["query_list"]?.listValue?.count == 3)
        let all = r.values["query_all_results"]?.listValue ?? []
        #expect(all.count == 3)
        #expect(all[0] == .list([]))
        #expect(all[1] == .list([.dict(["id": "1"]), .dict(["id": "2"])]))
        #expect(r.rows == [["n": "2"]])
        #expect(r.values["rowcount"] == .int(3))
        let insert = try await query("INSERT INTO q_multi VALUES (3, 'c')")
        #expect(insert.changed && insert.values["statusmessage"] == .string("INSERT 0 1"))
        let noRows = try await query("UPDATE q_multi SET note = 'x' WHERE id = 99")
        #expect(!noRows.changed && noRows.values["statusmessage"] == .string("UPDATE 0"))
        let ddl = try await query("DROP TABLE q_multi")
        #expect(ddl.changed && ddl.values["statusmessage"] == .string("DROP TABLE"))
    }

    @Test("statements split exactly as psql splits them, BEGIN ATOMIC bodies and CASE included")
    func splitLikePsql() async throws {
        let r = try await query("""
            CREATE FUNCTION q_atomic(x int) RETURNS text LANGUAGE sql
            BEGIN ATOMIC
              SELECT CASE WHEN x > 0 THEN 'pos;itive' ELSE 'other' END;
            END;;
            SELECT q_atomic(1) AS a, q_atomic(-1) AS b; DROP FUNCTION q_atomic(int)
            """)
        #expect(!r.failed, "\(r.msg ?? "")")
        #expect(r.values["query_list"]?.listValue?.count == 3)
        #expect(r.values["query_all_results"]?.listValue?[1] == .list([.dict(["a": "pos;itive", "b": "other"])]))
    }

    @Test("check mode runs reads and never runs a write")
    func checkMode() async throws {
        try await pg.sql("CREATE TABLE q_check (id int); INSERT INTO q_check VALUES (1);")

        let read = try await query("SELECT count(*) AS n FROM q_check", check: true)
        #expect(!read.failed && !read.changed)
        #expect(read.rows == [["n": "1"]])

        for write in ["INSERT INTO q_check VALUES (2)", "SELECT 1; DELETE FROM q_check", "WITH d AS (DELETE FROM q_check RETURNING *) SELECT * FROM d",
                      "SELECT pg_create_physical_replication_slot('q_check_slot')", "SELECT * INTO q_check_copy FROM q_check", "DROP TABLE q_check"] {
            let r = try await query(write, check: true)
            #expect(r.changed && !r.failed, "\(write)")
            #expect(r.msg == "would run in normal mode", "\(write)")
        }
        #expect(try await pg.sql("SELECT count(*) FROM q_check") == "1")
        #expect(try await pg.sql("SELECT count(*) FROM pg_replication_slots") == "0")
        #expect(try await pg.sql("SELECT to_regclass('q_check_copy') IS NULL") == "t")
        try await pg.sql("DROP TABLE q_check")
    }

    @Test("autocommit false makes the query all or nothing; true commits statement by statement")
    func autocommit() async throws {
        try await pg.sql("CREATE TABLE q_tx (id int PRIMARY KEY)")
        let atomic = try await query("INSERT INTO q_tx VALUES (1); INSERT INTO q_tx VALUES (1)", ["autocommit": false])
        #expect(atomic.failed)
        #expect(atomic.msg?.contains("duplicate key") == true, "\(atomic.msg ?? "")")
        #expect(try await pg.sql("SELECT count(*) FROM q_tx") == "0")
        let stepwise = try await query("INSERT INTO q_tx VALUES (1); INSERT INTO q_tx VALUES (1)")
        #expect(stepwise.failed)
        #expect(try await pg.sql("SELECT count(*) FROM q_tx") == "1")
        try await pg.sql("DROP TABLE q_tx")
    }

    @Test("SQL errors and unusable queries fail with a message, never a crash")
    func errors() async throws {
        let missing = try await query("SELECT * FROM no_such_table")
        #expect(missing.failed)
        #expect(missing.msg?.contains("relation \"no_such_table\" does not exist") == true, "\(missing.msg ?? "")")
        #expect(missing.msg?.contains("psql:") == false)

        let cases: [(String, ValueDict, String)] = [
            ("SELECT 1 \\gexec", [:], "meta-command"),
            ("SELECT 'open", [:], "unterminated string"),
            ("SELECT $x$ open", [:], "unterminated dollar-quoted"),
            ("SELECT (1", [:], "unbalanced parentheses"),
            ("SELECT %s, %s", ["positional_args": .list(["a"])], "more %s placeholders"),
            ("SELECT %s", ["positional_args": .list(["a", "b"])], "1 %s placeholder(s) but 2"),
            ("SELECT %(nope)s", ["named_args": .dict(["a": "1"])], "named_args has no 'nope'"),
            ("SELECT :'QUIET'", ["named_args": .dict(["QUIET": "off"])], "all capitals"),
            ("SELECT 1", ["named_args": .dict(["bad-name": "1"])], "not a usable parameter name"),
            ("-- only a comment", [:], "no SQL statement"),
            ("COPY pg_class TO STDOUT", [:], "COPY ... FROM STDIN / TO STDOUT"),
            ("SELECT %s", ["positional_args": .list(["nul\u{0}byte"])], "NUL"),
        ]
        for (sql, extra, expected) in cases {
            let r = try await query(sql, extra)
            #expect(r.failed, "\(sql)")
            #expect(r.msg?.contains(expected) == true, "\(sql): \(r.msg ?? "")")
        }
    }

    @Test("an unreachable server fails with psql's reason and a hint")
    func unreachable() async throws {
        let r = try await ModuleRunner.run(PostgreSQLQueryModule.self, ["query": "SELECT 1", "login_host": "127.0.0.1", "login_port": 1, "connect_timeout": 2], on: pg.connection).result
        #expect(r.failed)
        #expect(r.msg?.contains("exit 2") == true && r.msg?.contains("login_host") == true, "\(r.msg ?? "")")
    }

    @Test("passwords and parameter values never reach the command line")
    func secretsStayOffTheCommandLine() async throws {
        let recorder = RecordingConnection(pg.connection)
        let password = "pw-\(UUID().uuidString)"
        let param = "param-\(UUID().uuidString)"
        let r = try await query("SELECT %s AS v", ["login_password": .string(password), "positional_args": .list([.string(param)])], on: recorder)
        #expect(r.rows == [["v": param]])
        #expect(!recorder.requests.isEmpty)
        for request in recorder.requests {
            #expect(!request.command.contains(password) && !request.command.contains(param))
            #expect(!request.stdin.contains(password))
            #expect(request.environment["PGPASSWORD"] == password)
        }
        #expect(!valueContains(.dict(r.values), password))
        #expect(r.msg.map { !$0.contains(password) } ?? true)
    }
}
