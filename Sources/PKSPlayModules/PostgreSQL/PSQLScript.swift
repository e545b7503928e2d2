import Foundation

/// What psql reads on its standard input for one run: its settings, the bound variables, the
/// statements, and a marker line after each statement so that their outputs can be told apart.
///
/// Values travel as psql variables set with `\set name '...'` on stdin and are used in SQL as
/// `:'name'` (a literal) or `:"name"` (an identifier); psql quotes them itself when it interpolates,
/// so no value is ever part of SQL text this program builds, and none is ever in an argv.
struct PSQLScript: Sendable {
    enum Transaction: Sendable {
        /// Each statement commits on its own (psql's autocommit).
        case none
        /// `BEGIN` ... `COMMIT`: all or nothing.
        case single
        /// `BEGIN TRANSACTION READ ONLY` ... `ROLLBACK`: what check mode runs.
        case readOnly
    }

    var statements: [String]
    var variables: [(name: String, value: String)]
    var transaction: Transaction
    /// Random per run, so no value in the data can pass for a marker or for NULL.
    let marker: String

    init(statements: [String], variables: [(name: String, value: String)] = [], transaction: Transaction = .none) {
        self.statements = statements
        self.variables = variables
        self.transaction = transaction
        var rng = SystemRandomNumberGenerator()
        marker = "pksplay-" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    var nullMarker: String { marker + "-null" }

    func text() throws -> String {
        var lines = [
            "\\set ON_ERROR_STOP on",
            "\\set QUIET on",
            "\\encoding UTF8",
            "\\pset format csv",
            "\\pset tuples_only off",
            "\\pset null '\(nullMarker)'",
        ]
        for (name, value) in variables {
            try Self.checkVariableName(name)
            lines.append("\\set \(name) \(try Self.quote(value))")
        }
        switch transaction {
        case .none: break
        case .single: lines.append("BEGIN;")
        case .readOnly: lines.append("BEGIN TRANSACTION READ ONLY;")
        }
        for statement in statements {
            // The semicolon goes on a line of its own: a statement may end in a `--` comment.
            lines.append(statement)
            lines.append(";")
            lines.append("\\echo \(marker) :ROW_COUNT")
        }
        switch transaction {
        case .none: break
        case .single: lines.append("COMMIT;")
        case .readOnly: lines.append("ROLLBACK;")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A psql meta-command argument holding `value` exactly: single quotes doubled, backslash,
    /// newline, carriage return and tab escaped, other control characters in octal.
    static func quote(_ value: String) throws -> String {
        var out = "'"
        for u in value.unicodeScalars {
            switch u {
            case "'": out += "''"
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": throw PostgreSQLError.invalidArgument("a value holds a NUL character, which PostgreSQL text cannot store")
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += "\\" + String(format: "%03o", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "'"
    }

    /// psql variable names: a letter or underscore, then letters, digits, underscores. All-capital
    /// names are psql's own settings (`QUIET`, `AUTOCOMMIT`, `ON_ERROR_STOP` ...), so they are refused.
    static func checkVariableName(_ name: String) throws {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first),
              scalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw PostgreSQLError.invalidArgument("'\(name)' is not a usable parameter name: use letters, digits and underscores, starting with a letter")
        }
        if !scalars.contains(where: { ("a"..."z").contains($0) }) {
            throw PostgreSQLError.invalidArgument("parameter name '\(name)' is all capitals, which psql reserves for its own settings: write it in lower case")
        }
    }

    /// Splits psql's standard output into one result per statement.
    func parse(_ stdout: Data) throws -> [PSQLResult] {
        var results: [PSQLResult] = []
        var block: [[CSVField]] = []
        for record in Self.csvRecords(stdout) {
            if record.count == 1, !record[0].quoted, record[0].text.hasPrefix(marker + " "),
               let count = Int(record[0].text.dropFirst(marker.count + 1)) {
                results.append(try result(of: block, rowCount: count))
                block = []
            } else {
                block.append(record)
            }
        }
        guard block.isEmpty, results.count == statements.count else {
            throw PostgreSQLError.unexpectedOutput(
                "psql gave \(results.count) result(s) for \(statements.count) statement(s)"
                    + (block.isEmpty ? "" : " and \(block.count) stray line(s)"))
        }
        return results
    }

    private func result(of block: [[CSVField]], rowCount: Int) throws -> PSQLResult {
        guard let header = block.first else { return PSQLResult(columns: [], rows: [], returnedRows: false, rowCount: rowCount) }
        // A result without columns (`SELECT;`) prints an empty header line and empty rows.
        let columns = header.count == 1 && header[0].text.isEmpty && !header[0].quoted ? [] : header.map(\.text)
        var rows: [[String?]] = []
        for record in block.dropFirst() {
            if columns.isEmpty { rows.append([]); continue }
            guard record.count == columns.count else {
                throw PostgreSQLError.unexpectedOutput("a row of \(record.count) field(s) under \(columns.count) column(s)")
            }
            rows.append(record.map { !$0.quoted && $0.text == nullMarker ? nil : $0.text })
        }
        return PSQLResult(columns: columns, rows: rows, returnedRows: true, rowCount: rowCount)
    }

    struct CSVField: Equatable {
        var text: String
        var quoted: Bool
    }

    /// psql's CSV: `,` between fields, `\n` between records, a field in double quotes (doubled
    /// inside) when it holds a comma, quote, newline or carriage return.
    static func csvRecords(_ data: Data) -> [[CSVField]] {
        let bytes = [UInt8](data)
        var records: [[CSVField]] = []
        var record: [CSVField] = []
        var field: [UInt8] = []
        var quoted = false
        var inQuotes = false
        var i = 0
        func endField() {
            record.append(CSVField(text: String(decoding: field, as: UTF8.self), quoted: quoted))
            field = []
            quoted = false
        }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 2; continue }
                    inQuotes = false
                } else {
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "\"") where field.isEmpty && !quoted:
                inQuotes = true
                quoted = true
            case UInt8(ascii: ","):
                endField()
            case UInt8(ascii: "\n"):
                endField()
                records.append(record)
                record = []
            case UInt8(ascii: "\r") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n"):
                break
            default:
                field.append(b)
            }
            i += 1
        }
        if !field.isEmpty || quoted || !record.isEmpty {
            endField()
            records.append(record)
        }
        return records
    }
}

/// One statement's outcome: its rows when it returned any (even zero), and psql's `ROW_COUNT`.
struct PSQLResult: Equatable, Sendable {
    var columns: [String]
    var rows: [[String?]]
    /// Whether the statement produced a result set (a `SELECT`, a `RETURNING`), as opposed to a
    /// command that only reports a count or nothing.
    var returnedRows: Bool
    /// Rows returned or affected, as psql's `ROW_COUNT` variable has it.
    var rowCount: Int

    /// Rows as ordered dictionaries, values as text or null.
    var dictionaries: [PSQLRow] {
        rows.map { row in PSQLRow(zip(columns, row).map { ($0, $1) }) }
    }
}

/// A row as ordered (column, value) pairs.
struct PSQLRow: Equatable, Sendable {
    var pairs: [(String, String?)]
    init(_ pairs: [(String, String?)]) { self.pairs = pairs }
    subscript(_ column: String) -> String? { pairs.last { $0.0 == column }?.1 ?? nil }
    static func == (a: PSQLRow, b: PSQLRow) -> Bool {
        a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
