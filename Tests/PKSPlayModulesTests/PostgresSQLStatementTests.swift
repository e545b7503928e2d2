import Foundation
@testable import PKSPlayModules
import Testing

/// Statement splitting, read-only classification, psql quoting and CSV reading, without a server.
@Suite("SQL statements and psql scripts")
struct PostgresSQLStatementTests {
    @Test("splitting follows psql: quotes, dollar quotes, comments, parentheses and BEGIN ... END bodies")
    func splitting() throws {
        let sql = """
            SELECT 'a;b', E'it\\'s;', "x;y" FROM t; -- c;omment
            /* outer /* nested; */ still; */ INSERT INTO t VALUES ($$;$$, $tag$ $$; $tag$, (SELECT 1; ));
            CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
            ;;
            VALUES (1)
            """
        let statements = try SQLStatement.split(sql)
        #expect(statements.count == 4, "\(statements.map(\.text))")
        #expect(statements[0].text == #"SELECT 'a;b', E'it\'s;', "x;y" FROM t"#)
        #expect(statements[1].firstWord == "INSERT")
        #expect(statements[2].text.hasSuffix("END; END"))
        #expect(statements[3].text == "VALUES (1)")
        #expect(try SQLStatement.split("-- nothing\n/* at all */ ;").isEmpty)
    }

    @Test("what check mode may run", arguments: [
        ("SELECT 1", true), ("select * from pg_stat_replication", true), ("SHOW wal_level", true), ("TABLE pg_roles", true),
        ("VALUES (1)", true), ("WITH x AS (SELECT 1) SELECT * FROM x", true), ("EXPLAIN SELECT 1", true),
        ("EXPLAIN ANALYZE DELETE FROM t", false), ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", false),
        ("SELECT * FROM t FOR UPDATE", false), ("SELECT * INTO t2 FROM t", false), ("SELECT nextval('s')", false),
        ("SELECT pg_reload_conf()", false), ("SELECT pg_create_physical_replication_slot('s')", false),
        ("INSERT INTO t VALUES (1)", false), ("CREATE TABLE t (a int)", false), ("SET work_mem = '1MB'", false),
        ("SELECT 'DELETE FROM t'", true), ("SELECT \"update\" FROM t", true),
    ])
    func readOnly(sql: String, expected: Bool) throws {
        let statement = try #require(try SQLStatement.split(sql).first)
        #expect(statement.isReadOnly == expected)
    }

    @Test("command tags as PostgreSQL reports them", arguments: [
        ("SELECT 1", 1, "SELECT 1"), ("INSERT INTO t VALUES (1)", 1, "INSERT 0 1"), ("UPDATE t SET a = 1", 3, "UPDATE 3"),
        ("WITH x AS (SELECT 1) DELETE FROM t", 2, "DELETE 2"), ("CREATE TABLE t (a int)", 0, "CREATE TABLE"),
        ("CREATE UNIQUE INDEX i ON t (a)", 0, "CREATE INDEX"), ("CREATE OR REPLACE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql", 0, "CREATE FUNCTION"),
        ("ALTER USER x LOGIN", 0, "ALTER ROLE"), ("DROP MATERIALIZED VIEW v", 0, "DROP MATERIALIZED VIEW"), ("ALTER SYSTEM SET a = 1", 0, "ALTER SYSTEM"),
        ("SHOW wal_level", 0, "SHOW"), ("VACUUM", 0, "VACUUM"),
    ] as [(String, Int, String)])
    func tags(sql: String, count: Int, tag: String) throws {
        let statement = try #require(try SQLStatement.split(sql).first)
        #expect(statement.statusMessage(rowCount: count) == tag)
    }

    @Test("bad SQL text is reported with where it went wrong", arguments: [
        ("SELECT 'x", "unterminated string starting on line 1"), ("SELECT \"x", "unterminated quoted identifier"),
        ("SELECT 1;\n/* x", "unterminated /* comment starting on line 2"), ("SELECT $a$ x $b$", "unterminated dollar-quoted"),
        ("SELECT ((1)", "unbalanced parentheses"), ("SELECT 1 \\g", "meta-command"),
    ])
    func syntaxErrors(sql: String, message: String) {
        #expect {
            try SQLStatement.split(sql)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }

    @Test("psql variable quoting escapes exactly what psql would read differently")
    func quoting() throws {
        #expect(try PSQLScript.quote("it's") == "'it''s'")
        #expect(try PSQLScript.quote("a\\b\nc\td\re") == #"'a\\b\nc\td\re'"#)
        #expect(try PSQLScript.quote("\u{1}x\u{7f}") == #"'\001x\177'"#)
        #expect(try PSQLScript.quote("ünï ✓") == "'ünï ✓'")
        #expect(throws: PostgreSQLError.self) { try PSQLScript.quote("a\u{0}b") }
        #expect(throws: PostgreSQLError.self) { try PSQLScript.checkVariableName("AUTOCOMMIT") }
        #expect(throws: PostgreSQLError.self) { try PSQLScript.checkVariableName("1abc") }
        try PSQLScript.checkVariableName("role_name2")
    }

    @Test("psql output splits into one result per statement; NULL, empty and quoted values stay distinct")
    func parsing() throws {
        let script = PSQLScript(statements: ["SELECT ...", "CREATE ...", "SELECT ..."])
        let m = script.marker
        let out = [
            #"a,"b,c",d"#,
            #"1,"x"#,
            #"""y""","# + script.nullMarker,
            #","","# + "\(m) 7",
            "\(m) 2",
            "\(m) 0",
            "n",
            "\(m) 0",
            "",
        ].joined(separator: "\n")
        let results = try script.parse(Data(out.utf8))
        #expect(results.count == 3)
        #expect(results[0].columns == ["a", "b,c", "d"])
        #expect(results[0].rows == [["1", "x\n\"y\"", nil], ["", "", "\(m) 7"]])
        #expect(results[0].rowCount == 2 && results[0].returnedRows)
        #expect(!results[1].returnedRows && results[1].rows.isEmpty)
        #expect(results[2].columns == ["n"] && results[2].rows.isEmpty && results[2].returnedRows)
        #expect(throws: PostgreSQLError.self) { try script.parse(Data("\(m) 1\n".utf8)) }
        #expect(throws: PostgreSQLError.self) { try script.parse(Data("a,b\n1\n\(m) 1\n\(m) 0\n\(m) 0\n".utf8)) }
    }

    @Test("Ansible placeholders become psql variables; other percent signs stay")
    func placeholders() throws {
        let positional = try QueryParameters.bind("SELECT %s, %s, '100%' LIKE 'a%%'", positional: ["x", .null], named: nil)
        #expect(positional.sql == "SELECT :'p1', NULL, '100%' LIKE 'a%'")
        #expect(positional.variables.map(\.name) == ["p1"] && positional.variables.map(\.value) == ["x"])
        let named = try QueryParameters.bind("SELECT %(who)s, %(flag)s, %(obj)s", positional: nil, named: ["who": "me", "flag": true, "obj": ["a": 1]])
        #expect(named.sql == "SELECT :'who', :'flag', :'obj'")
        #expect(named.variables.map(\.value) == ["me", "true", #"{"a": 1}"#])
        #expect(try QueryParameters.bind("SELECT '%s'", positional: nil, named: nil).sql == "SELECT '%s'")
    }
}
