import Foundation

/// One SQL statement of a query, as psql will send it, with the bare words it contains.
///
/// Splitting follows psql's own lexer (quotes, `E''` escapes, dollar quotes, nested comments,
/// parentheses and `BEGIN ... END` / `CASE ... END` bodies), so each statement here is exactly one
/// statement for psql and its result can be told apart from the next one's.
struct SQLStatement: Equatable, Sendable {
    /// The statement's text without its terminating semicolon.
    var text: String
    /// The unquoted words (keywords and identifiers) outside strings and comments, upper-cased.
    var words: [String]

    var firstWord: String? { words.first }

    /// Whether the statement only reads: what check mode may run.
    ///
    /// `SELECT`, `SHOW`, `TABLE`, `VALUES`, `WITH` and `EXPLAIN` (without `ANALYZE`) read, unless
    /// they also hold a data-modifying word (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, `INTO`, `COPY`
    /// — `SELECT ... FOR UPDATE` and `SELECT INTO` included) or call a function known to change
    /// state outside the transaction (`pg_create_*`, `pg_drop_*`, `pg_reload_conf`, `nextval` ...),
    /// which a read-only transaction would not stop.
    var isReadOnly: Bool {
        guard let first = firstWord else { return true }
        let writes: Set<String> = ["INSERT", "UPDATE", "DELETE", "MERGE", "INTO", "COPY", "CALL", "DO"]
        if words.contains(where: { writes.contains($0) || Self.hasSideEffects($0) }) { return false }
        switch first {
        case "SELECT", "SHOW", "TABLE", "VALUES", "WITH": return true
        case "EXPLAIN": return !words.contains("ANALYZE") && !words.contains("ANALYSE")
        default: return false
        }
    }

    /// Whether a data-modifying statement (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, also under a
    /// `WITH`) — its result counts as a change only when it touched rows, as Ansible decides.
    var modifiesRows: Bool {
        guard let first = firstWord else { return false }
        if ["INSERT", "UPDATE", "DELETE", "MERGE"].contains(first) { return true }
        return first == "WITH" && words.contains { ["INSERT", "UPDATE", "DELETE", "MERGE"].contains($0) }
    }

    private static let sideEffectPrefixes = [
        "PG_CREATE_", "PG_DROP_", "PG_COPY_", "PG_REPLICATION_", "PG_TERMINATE_", "PG_CANCEL_", "PG_SWITCH_",
        "PG_START_", "PG_STOP_", "PG_BACKUP_", "PG_WAL_REPLAY_", "PG_LOGICAL_", "PG_ADVISORY_", "LO_",
    ]
    private static let sideEffectFunctions: Set<String> = [
        "PG_RELOAD_CONF", "PG_ROTATE_LOGFILE", "PG_PROMOTE", "NEXTVAL", "SETVAL", "SET_CONFIG", "DBLINK_EXEC",
        "PG_FILE_WRITE", "PG_LOG_BACKEND_MEMORY_CONTEXTS", "PG_STAT_RESET", "TXID_CURRENT", "PG_CURRENT_XACT_ID",
    ]
    private static func hasSideEffects(_ word: String) -> Bool {
        sideEffectFunctions.contains(word) || sideEffectPrefixes.contains { word.hasPrefix($0) }
            || word.hasPrefix("PG_STAT_RESET")
    }

    /// The command tag PostgreSQL would report (`SELECT 2`, `INSERT 0 1`, `CREATE TABLE`).
    ///
    /// psql does not show tags next to result rows, so the tag is rebuilt from the statement's
    /// leading words and the row count; for DDL it is the verb and the object kind.
    func statusMessage(rowCount: Int) -> String {
        guard let first = firstWord else { return "" }
        let verb = modifiesRows && first == "WITH"
            ? words.first { ["INSERT", "UPDATE", "DELETE", "MERGE"].contains($0) } ?? first : first
        switch verb {
        case "INSERT": return "INSERT 0 \(rowCount)"
        case "UPDATE", "DELETE", "MERGE", "COPY", "FETCH", "MOVE": return "\(verb) \(rowCount)"
        case "SHOW", "EXPLAIN": return verb
        case "SELECT", "TABLE", "VALUES", "WITH": return "SELECT \(rowCount)"
        case "CREATE", "ALTER", "DROP", "COMMENT", "SECURITY":
            let skip: Set<String> = ["OR", "REPLACE", "UNIQUE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "TRUSTED", "PROCEDURAL", "RECURSIVE", "DEFAULT", "ON"]
            let twoWord: Set<String> = ["MATERIALIZED", "FOREIGN", "EVENT", "TEXT", "ACCESS", "USER", "OPERATOR"]
            var rest = words.dropFirst().drop { skip.contains($0) }
            guard var object = rest.first else { return verb }
            rest = rest.dropFirst()
            if object == "USER", let next = rest.first, next == "MAPPING" { object = "USER MAPPING" }
            else if object == "USER" || object == "GROUP" { object = "ROLE" }
            else if twoWord.contains(object), let next = rest.first { object += " " + next }
            return "\(verb) \(object)"
        case "START": return "START TRANSACTION"
        case "END": return "COMMIT"
        case "ABORT": return "ROLLBACK"
        default: return verb
        }
    }
}

/// Why a query cannot be split into statements.
struct SQLSyntaxError: Error, Equatable, CustomStringConvertible {
    var description: String
}

extension SQLStatement {
    /// Splits `sql` into the statements psql would send, dropping empty ones (only comments or blanks).
    ///
    /// Throws on an unterminated quote, comment or parenthesis, and on a backslash outside quotes,
    /// which psql would take as one of its own meta-commands rather than SQL.
    static func split(_ sql: String) throws -> [SQLStatement] {
        let s = Array(sql.unicodeScalars)
        let n = s.count
        var out: [SQLStatement] = []
        var start = 0
        var i = 0
        var parenDepth = 0
        var beginDepth = 0
        var words: [String] = []
        var hasContent = false

        func at(_ j: Int) -> Unicode.Scalar? { j < n ? s[j] : nil }
        func line(of j: Int) -> Int { s[0..<min(j, n)].filter { $0 == "\n" }.count + 1 }
        func finish(upTo end: Int) {
            if hasContent {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: s[start..<end])
                out.append(SQLStatement(text: String(view).trimmingCharacters(in: .whitespacesAndNewlines), words: words))
            }
            words = []
            hasContent = false
            beginDepth = 0
        }
        // A quoted run: returns the index after the closing quote.
        func skipQuoted(from open: Int, quote: Unicode.Scalar, backslashEscapes: Bool) throws -> Int {
            var j = open + 1
            while j < n {
                if backslashEscapes && s[j] == "\\" { j += 2; continue }
                if s[j] == quote {
                    if at(j + 1) == quote { j += 2; continue }
                    return j + 1
                }
                j += 1
            }
            let what = quote == "\"" ? "quoted identifier" : "string"
            throw SQLSyntaxError(description: "unterminated \(what) starting on line \(line(of: open)) of the query")
        }

        while i < n {
            let c = s[i]
            if c == "-" && at(i + 1) == "-" {
                while i < n && s[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && at(i + 1) == "*" {
                let open = i
                var depth = 1
                i += 2
                while i < n && depth > 0 {
                    if s[i] == "/" && at(i + 1) == "*" { depth += 1; i += 2 }
                    else if s[i] == "*" && at(i + 1) == "/" { depth -= 1; i += 2 }
                    else { i += 1 }
                }
                if depth > 0 { throw SQLSyntaxError(description: "unterminated /* comment starting on line \(line(of: open)) of the query") }
                continue
            }
            if c.properties.isWhitespace { i += 1; continue }
            if c != ";" { hasContent = true }
            switch c {
            case "'":
                i = try skipQuoted(from: i, quote: "'", backslashEscapes: false)
            case "\"":
                i = try skipQuoted(from: i, quote: "\"", backslashEscapes: false)
            case "$":
                // $tag$ ... $tag$; `$1` is a parameter, not a quote.
                var j = i + 1
                while j < n, isIdentifierPart(s[j]), s[j] != "$" { j += 1 }
                let tagIsValid = j == i + 1 || !("0"..."9").contains(s[i + 1])
                if j < n, s[j] == "$", tagIsValid {
                    let tag = Array(s[i...j])
                    var k = j + 1
                    var found = false
                    while k + tag.count <= n {
                        if Array(s[k..<k + tag.count]) == tag { found = true; break }
                        k += 1
                    }
                    if !found { throw SQLSyntaxError(description: "unterminated dollar-quoted string starting on line \(line(of: i)) of the query") }
                    i = k + tag.count
                } else {
                    i += 1
                    while i < n && isIdentifierPart(s[i]) { i += 1 }
                }
            case "(":
                parenDepth += 1
                i += 1
            case ")":
                parenDepth = max(0, parenDepth - 1)
                i += 1
            case ";":
                if parenDepth == 0 && beginDepth == 0 {
                    finish(upTo: i)
                    start = i + 1
                }
                i += 1
            case "\\":
                throw SQLSyntaxError(description: "a backslash outside quotes on line \(line(of: i)) of the query would be a psql meta-command; only SQL is run (put backslashes inside string literals)")
            default:
                if isIdentifierStart(c) {
                    let wordStart = i
                    while i < n && isIdentifierPart(s[i]) { i += 1 }
                    var view = String.UnicodeScalarView()
                    view.append(contentsOf: s[wordStart..<i])
                    let word = String(view).uppercased()
                    if at(i) == "'" && ["E", "B", "X", "N"].contains(word) {
                        i = try skipQuoted(from: i, quote: "'", backslashEscapes: word == "E")
                    } else if word == "U" && at(i) == "&" && (at(i + 1) == "'" || at(i + 1) == "\"") {
                        i = try skipQuoted(from: i + 1, quote: s[i + 1], backslashEscapes: false)
                    } else {
                        words.append(word)
                        // psql keeps a semicolon inside BEGIN ... END and CASE ... END in the statement.
                        if (word == "BEGIN" || word == "CASE") && words.count > 1 { beginDepth += 1 }
                        else if word == "END" && beginDepth > 0 { beginDepth -= 1 }
                    }
                } else if ("0"..."9").contains(c) {
                    while i < n && (isIdentifierPart(s[i]) || s[i] == ".") { i += 1 }
                } else {
                    i += 1
                }
            }
        }
        if parenDepth > 0 { throw SQLSyntaxError(description: "unbalanced parentheses in the query: \(parenDepth) '(' not closed") }
        finish(upTo: n)
        return out
    }

    private static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || c.value >= 0x80
    }

    private static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || ("0"..."9").contains(c) || c == "$"
    }
}
