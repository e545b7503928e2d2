import Foundation
import PKSPlayCore

/// INI inventory values as Ansible reads them: Python's `ast.literal_eval`, falling back to the text.
///
/// `5` → 5, `0x1f` → 31, `0o17` → 15, `1e3` → 1000.0, `True` → true, `None` → null, `'a b'` → "a b",
/// `[1, 2]` → a list, `{'a': 1}` → a mapping; `true`, `yes`, `0644`, `hello world` are not Python
/// literals and stay strings, exactly as in Ansible (where `0644` is a string, not 420).
enum InventoryPythonLiteral {
    /// `text` as `literal_eval` reads it, or `text` itself when it is not a Python literal.
    static func value(_ text: String) -> Value {
        var parser = Parser(Array(text.unicodeScalars))
        if let value = try? parser.parseWhole() { return value }
        return .string(text)
    }

    private struct NotLiteral: Error {}

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        var depth = 0

        init(_ scalars: [Unicode.Scalar]) { s = scalars }

        mutating func parseWhole() throws -> Value {
            // literal_eval strips leading spaces and tabs; the tokenizer takes care of the rest.
            skipSpace()
            let value = try parseExpression()
            skipSpace()
            guard i == s.count else { throw NotLiteral() }
            return value
        }

        mutating func skipSpace() {
            while i < s.count {
                if s[i] == " " || s[i] == "\t" || s[i] == "\u{0C}" {
                    i += 1
                } else if s[i] == "#" {
                    i = s.count
                } else {
                    break
                }
            }
        }

        func peek(_ offset: Int = 0) -> Unicode.Scalar? { i + offset < s.count ? s[i + offset] : nil }

        /// A literal, or a complex number written `a+bj`, which Ansible turns back into text.
        mutating func parseExpression() throws -> Value {
            let start = i
            let first = try parseUnary()
            skipSpace()
            if let op = peek(), op == "+" || op == "-", first.isNumber {
                i += 1
                skipSpace()
                let second = try parseUnary()
                guard second.isImaginary else { throw NotLiteral() }
                return .string("(" + String(String.UnicodeScalarView(s[start..<i])).replacingOccurrences(of: " ", with: "") + ")")
            }
            return first.value
        }

        struct Parsed {
            var value: Value
            var isNumber = false
            var isImaginary = false
        }

        mutating func parseUnary() throws -> Parsed {
            if let c = peek(), c == "-" || c == "+" {
                i += 1
                skipSpace()
                var number = try parseAtom()
                guard number.isNumber else { throw NotLiteral() }
                if c == "-" {
                    switch number.value {
                    case .int(let n):
                        guard n != Int.min else { throw NotLiteral() }
                        number.value = .int(-n)
                    case .double(let d): number.value = .double(-d)
                    default: break
                    }
                }
                return number
            }
            return try parseAtom()
        }

        mutating func parseAtom() throws -> Parsed {
            skipSpace()
            guard let c = peek() else { throw NotLiteral() }
            switch c {
            case "[", "(", "{":
                depth += 1
                defer { depth -= 1 }
                // Python's own parser gives up on deep nesting; so do we, without recursing further.
                guard depth <= 100 else { throw NotLiteral() }
                i += 1
                return Parsed(value: try parseContainer(opening: c))
            case "'", "\"":
                return Parsed(value: .string(try parseStrings()))
            case ".":
                if peek(1) == ".", peek(2) == "." {
                    i += 3
                    return Parsed(value: .string("..."))
                }
                return try parseNumber()
            case "0"..."9":
                return try parseNumber()
            default:
                if c.properties.isAlphabetic || c == "_" {
                    let word = identifier()
                    switch word {
                    case "True": return Parsed(value: .bool(true))
                    case "False": return Parsed(value: .bool(false))
                    case "None": return Parsed(value: .null)
                    default:
                        // String prefixes: r, b, u and their mixes (f-strings are not literals).
                        let lower = word.lowercased()
                        if ["r", "u", "b", "br", "rb"].contains(lower), let q = peek(), q == "'" || q == "\"" {
                            i -= word.unicodeScalars.count
                            return Parsed(value: .string(try parseStrings()))
                        }
                        throw NotLiteral()
                    }
                }
                throw NotLiteral()
            }
        }

        mutating func identifier() -> String {
            let start = i
            while let c = peek(), c.properties.isAlphabetic || c == "_" || ("0"..."9").contains(c) { i += 1 }
            return String(String.UnicodeScalarView(s[start..<i]))
        }

        mutating func parseContainer(opening: Unicode.Scalar) throws -> Value {
            let closing: Unicode.Scalar = opening == "[" ? "]" : opening == "(" ? ")" : "}"
            var items: [Value] = []
            var dict = ValueDict()
            var isDict = false
            var sawComma = false
            while true {
                skipSpace()
                guard let c = peek() else { throw NotLiteral() }
                if c == closing {
                    i += 1
                    break
                }
                let element = try parseExpression()
                skipSpace()
                if opening == "{" && peek() == ":" {
                    guard items.isEmpty else { throw NotLiteral() }
                    isDict = true
                    i += 1
                    skipSpace()
                    let value = try parseExpression()
                    guard element.isHashable else { throw NotLiteral() }
                    dict[element.stringified] = value
                } else {
                    guard !isDict, opening != "{" || element.isHashable else { throw NotLiteral() }
                    items.append(element)
                }
                skipSpace()
                if peek() == "," {
                    i += 1
                    sawComma = true
                    continue
                }
                guard peek() == closing else { throw NotLiteral() }
            }
            if isDict { return .dict(dict) }
            if opening == "{" {
                if items.isEmpty { return .dict([:]) }
                var seen = Set<Value>()
                return .list(items.filter { seen.insert($0).inserted })
            }
            // `(x)` is just x; `(x,)` and `()` are tuples, which Ansible turns into lists.
            if opening == "(" && items.count == 1 && !sawComma { return items[0] }
            return .list(items)
        }

        /// One or more adjacent string literals (Python concatenates them); bytes are decoded as UTF-8.
        mutating func parseStrings() throws -> String {
            var out = ""
            var kind: Bool?  // true: bytes
            while true {
                skipSpace()
                let start = i
                var raw = false, bytes = false
                while let c = peek(), "rRbBuU".unicodeScalars.contains(c) {
                    if c == "r" || c == "R" { raw = true }
                    if c == "b" || c == "B" { bytes = true }
                    i += 1
                }
                guard let q = peek(), q == "'" || q == "\"", i - start <= 2 else {
                    i = start
                    break
                }
                if let kind, kind != bytes { throw NotLiteral() }
                kind = bytes
                out += try parseOneString(quote: q, raw: raw, bytes: bytes)
            }
            guard kind != nil else { throw NotLiteral() }
            return out
        }

        mutating func parseOneString(quote q: Unicode.Scalar, raw: Bool, bytes: Bool) throws -> String {
            let triple = peek(1) == q && peek(2) == q
            i += triple ? 3 : 1
            var out = String.UnicodeScalarView()
            while true {
                guard let c = peek() else { throw NotLiteral() }
                if c == q {
                    if !triple {
                        i += 1
                        return String(out)
                    }
                    if peek(1) == q && peek(2) == q {
                        i += 3
                        return String(out)
                    }
                }
                if (c == "\n" || c == "\r") && !triple { throw NotLiteral() }
                if bytes && c.value > 127 { throw NotLiteral() }
                if c == "\\" {
                    guard let next = peek(1) else { throw NotLiteral() }
                    if raw {
                        out.append(c)
                        out.append(next)
                        i += 2
                        continue
                    }
                    i += 2
                    switch next {
                    case "\n": break
                    case "\\", "'", "\"": out.append(next)
                    case "a": out.append("\u{07}")
                    case "b": out.append("\u{08}")
                    case "f": out.append("\u{0C}")
                    case "n": out.append("\n")
                    case "r": out.append("\r")
                    case "t": out.append("\t")
                    case "v": out.append("\u{0B}")
                    case "0"..."7":
                        var code = Int(next.value - 48)
                        var n = 1
                        while n < 3, let d = peek(), ("0"..."7").contains(d) {
                            code = code * 8 + Int(d.value - 48)
                            i += 1
                            n += 1
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw NotLiteral() }
                        out.append(scalar)
                    case "x", "u", "U":
                        if bytes && next != "x" {
                            out.append("\\")
                            out.append(next)
                            continue
                        }
                        let count = next == "x" ? 2 : next == "u" ? 4 : 8
                        guard i + count <= s.count,
                            let code = UInt32(String(String.UnicodeScalarView(s[i..<(i + count)])), radix: 16),
                            let scalar = Unicode.Scalar(code)
                        else { throw NotLiteral() }
                        i += count
                        out.append(scalar)
                    default:
                        // Unknown escapes keep their backslash in Python.
                        out.append("\\")
                        out.append(next)
                    }
                    continue
                }
                out.append(c)
                i += 1
            }
        }

        /// Python 3 numbers: decimal (no leading zeros), 0x/0o/0b, floats, underscores between digits,
        /// and imaginary `j` numbers (flagged so the caller can turn them back into text).
        mutating func parseNumber() throws -> Parsed {
            let start = i
            while let c = peek(), c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "." {
                if (c == "e" || c == "E"), let sign = peek(1), sign == "+" || sign == "-" {
                    i += 2
                    continue
                }
                i += 1
            }
            var text = String(String.UnicodeScalarView(s[start..<i]))
            guard !text.contains("__"), !text.hasSuffix("_"), !text.contains("_."), !text.contains("._") else {
                throw NotLiteral()
            }
            var imaginary = false
            if text.hasSuffix("j") || text.hasSuffix("J") {
                imaginary = true
                text.removeLast()
            }
            let digits = text.replacingOccurrences(of: "_", with: "")
            let lower = digits.lowercased()
            if !imaginary {
                for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) {
                    let body = lower.dropFirst(2)
                    guard !body.isEmpty, body.allSatisfy({ $0.hexDigitValue.map { $0 < radix } ?? false }) else {
                        throw NotLiteral()
                    }
                    // Beyond 64 bits Python still has an int; keep the text rather than lose digits.
                    return Parsed(value: Int(body, radix: radix).map(Value.int) ?? .string(text), isNumber: true)
                }
            }
            let isFloat = lower.contains(".") || lower.contains("e")
            guard lower.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || $0 == "." || $0 == "e" || $0 == "+" || $0 == "-" }),
                lower.filter({ $0 == "." }).count <= 1
            else { throw NotLiteral() }
            if !isFloat {
                // Python 3 refuses leading zeros in a decimal integer (`0644` is a syntax error), except all zeros.
                if lower.count > 1 && lower.hasPrefix("0") && lower.contains(where: { $0 != "0" }) { throw NotLiteral() }
                if imaginary { return Parsed(value: .string(text + "j"), isNumber: true, isImaginary: true) }
                if let n = Int(lower) { return Parsed(value: .int(n), isNumber: true) }
                return Parsed(value: .string(text), isNumber: true)
            }
            var normalized = lower
            if normalized.hasPrefix(".") { normalized = "0" + normalized }
            normalized = normalized.replacingOccurrences(of: ".e", with: ".0e")
            if normalized.hasSuffix(".") { normalized += "0" }
            guard let d = Double(normalized) else { throw NotLiteral() }
            if imaginary { return Parsed(value: .string(text + "j"), isNumber: true, isImaginary: true) }
            return Parsed(value: .double(d), isNumber: true)
        }
    }
}

extension Value {
    /// Whether Python could use the value as a dict key or set member (lists and dicts cannot).
    fileprivate var isHashable: Bool {
        switch self {
        case .list, .dict: return false
        default: return true
        }
    }
}
