import Foundation

/// A YAML/JSON-shaped value: what variables, module arguments and results are made of.
///
/// Dictionaries keep insertion order (``ValueDict``) so output reads in the order a user wrote it.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case dict(ValueDict)
}

/// An insertion-ordered dictionary of ``Value``s keyed by string.
public struct ValueDict: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var keys: [String] = []
    private var storage: [String: Value] = [:]

    public init() {}
    public init(dictionaryLiteral elements: (String, Value)...) {
        for (k, v) in elements { self[k] = v }
    }
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, Value) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
    public var values: [Value] { keys.map { storage[$0]! } }
    public func contains(_ key: String) -> Bool { storage[key] != nil }

    public func makeIterator() -> Iterator { Iterator(keys: keys, storage: storage) }

    /// The entries in insertion order. A struct, not `AnyIterator`: every variable merge and
    /// lookup walks dictionaries, and a boxed closure per step showed in the engine's profile.
    public struct Iterator: IteratorProtocol {
        let keys: [String]
        let storage: [String: Value]
        var index = 0

        public mutating func next() -> (key: String, value: Value)? {
            guard index < keys.count else { return nil }
            let key = keys[index]
            index += 1
            return (key, storage[key]!)
        }
    }

    /// Values of `other` win; keys new to `self` are appended in `other`'s order.
    public func merging(_ other: ValueDict) -> ValueDict {
        var out = self
        for (k, v) in other { out[k] = v }
        return out
    }

    public mutating func merge(_ other: ValueDict) {
        // Merging into nothing is a copy, which shares the other's storage until written.
        if keys.isEmpty {
            self = other
            return
        }
        for k in other.keys where storage.updateValue(other.storage[k]!, forKey: k) == nil { keys.append(k) }
    }

    /// Recursive merge as Ansible's `combine(recursive=True)`: nested dictionaries merge, other values replace.
    public func mergingRecursively(_ other: ValueDict) -> ValueDict {
        var out = self
        for (k, v) in other {
            if case .dict(let mine)? = out[k], case .dict(let theirs) = v {
                out[k] = .dict(mine.mergingRecursively(theirs))
            } else {
                out[k] = v
            }
        }
        return out
    }

    public static func == (a: ValueDict, b: ValueDict) -> Bool { a.storage == b.storage }
    public func hash(into hasher: inout Hasher) { hasher.combine(storage) }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: Value...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) { self = .dict(ValueDict(elements.map { ($0.0, $0.1) })) }
    public init(nilLiteral: ()) { self = .null }
}

extension Value {
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9e18: return Int(d)
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var listValue: [Value]? { if case .list(let l) = self { return l } else { return nil } }
    public var dictValue: ValueDict? { if case .dict(let d) = self { return d } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// Python-style truthiness, as Jinja and Ansible use it.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .dict(let d): return !d.isEmpty
        }
    }

    /// Ansible's boolean coercion for module arguments and keywords (`yes`, `on`, `1`, `true`...).
    public var asBool: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let i) where i == 0 || i == 1: return i == 1
        case .double(let d) where d == 0 || d == 1: return d == 1
        case .string(let s):
            switch s.lowercased() {
            case "yes", "on", "1", "true", "t", "y": return true
            case "no", "off", "0", "false", "f", "n", "": return false
            default: return nil
            }
        default: return nil
        }
    }

    /// The name of this value's type in the words of a YAML user.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .dict: return "dict"
        }
    }

    /// Text of a scalar as Jinja's `string` filter would give it; collections as Python reprs.
    public var stringified: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Value.formatDouble(d)
        case .string(let s): return s
        case .list, .dict: return pythonRepr
        }
    }

    /// Python's `repr` of the value (what Jinja prints for a list or dict).
    public var pythonRepr: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Value.formatDouble(d)
        case .string(let s):
            let useDouble = s.contains("'") && !s.contains("\"")
            let q: Character = useDouble ? "\"" : "'"
            var out = String(q)
            for c in s {
                switch c {
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                case q: out += "\\\(q)"
                default: out.append(c)
                }
            }
            out.append(q)
            return out
        case .list(let l): return "[" + l.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.map { "\(Value.string($0.key).pythonRepr): \($0.value.pythonRepr)" }.joined(separator: ", ") + "}"
        }
    }

    public static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded() && abs(d) < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    /// Look up a dotted path (`a.b.0.c`) inside the value.
    public subscript(path path: String) -> Value? {
        var cur: Value? = self
        for part in path.split(separator: ".") {
            switch cur {
            case .dict(let d)?: cur = d[String(part)]
            case .list(let l)?:
                guard let i = Int(part), l.indices.contains(i) else { return nil }
                cur = l[i]
            default: return nil
            }
        }
        return cur
    }
}

// MARK: - JSON

extension Value {
    /// Parses JSON text into a value, keeping object key order.
    public static func parseJSON(_ text: String) throws -> Value {
        var parser = JSONParser(Array(text.utf8))
        return try parser.parseDocument()
    }

    /// Compact or indented JSON, keys in insertion order (or sorted when `sortKeys`). Without an
    /// indent, items are separated as Python's `json.dumps` does (`", "`, `": "`), or with no
    /// space at all when `tight` (as `JSONEncoder` writes).
    public func jsonString(indent: Int? = nil, sortKeys: Bool = false, tight: Bool = false) -> String {
        var out = ""
        writeJSON(into: &out, indent: indent, level: 0, sortKeys: sortKeys, tight: tight)
        return out
    }

    private func writeJSON(into out: inout String, indent: Int?, level: Int, sortKeys: Bool, tight: Bool) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? (d == d.rounded() && abs(d) < 1e16 ? String(format: "%.1f", d) : "\(d)") : "null"
        case .string(let s): out += Value.jsonQuote(s)
        case .list(let l):
            if l.isEmpty { out += "[]"; return }
            out += "["
            for (i, v) in l.enumerated() {
                if i > 0 { out += indent == nil && !tight ? ", " : "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                v.writeJSON(into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, tight: tight)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "]"
        case .dict(let d):
            if d.isEmpty { out += "{}"; return }
            out += "{"
            let keys = sortKeys ? d.keys.sorted() : d.keys
            for (i, k) in keys.enumerated() {
                if i > 0 { out += indent == nil && !tight ? ", " : "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                out += Value.jsonQuote(k) + (tight ? ":" : ": ")
                d[k]!.writeJSON(into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, tight: tight)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "}"
        }
    }

    public static func jsonQuote(_ s: String) -> String {
        // Most strings need no escape: copied whole, not a scalar at a time.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// Errors from ``Value/parseJSON(_:)``, with the byte offset where the text went wrong.
public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at offset \(offset): \(reason)" }
}

private struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    var depth = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> Value {
        let v = try parseValue()
        skipWS()
        guard i == bytes.count else { throw fail("unexpected trailing characters") }
        return v
    }

    func fail(_ r: String) -> JSONParseError { JSONParseError(offset: i, reason: r) }

    mutating func skipWS() {
        while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
    }

    mutating func parseValue() throws -> Value {
        skipWS()
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth < 512 else { throw fail("nesting deeper than 512") }
            defer { depth -= 1 }
            i += 1
            var d = ValueDict()
            skipWS()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(d) }
            while true {
                skipWS()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let k = try parseString()
                skipWS()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                d[k] = try parseValue()
                skipWS()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(d) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth < 512 else { throw fail("nesting deeper than 512") }
            defer { depth -= 1 }
            i += 1
            var l: [Value] = []
            skipWS()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(l) }
            while true {
                l.append(try parseValue())
                skipWS()
                guard i < bytes.count else { throw fail("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .list(l) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try parseNumber()
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("unexpected character") }
        i += w.count
    }

    mutating func parseNumber() throws -> Value {
        let start = i
        while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
        guard i > start, let text = String(bytes: bytes[start..<i], encoding: .utf8) else { throw fail("unexpected character") }
        if let n = Int(text) { return .int(n) }
        if let d = Double(text) { return .double(d) }
        i = start
        throw fail("invalid number")
    }

    mutating func parseString() throws -> String {
        i += 1
        var out = [UInt8]()
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                guard let s = String(bytes: out, encoding: .utf8) else { throw fail("invalid UTF-8 in string") }
                return s
            }
            if b == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let low = try hex4()
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(UnicodeScalar(code).map(Character.init) ?? "\u{FFFD}").utf8))
                default: out.append(e)
                }
                continue
            }
            out.append(b)
            i += 1
        }
        throw fail("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let s = String(bytes: bytes[i..<i + 4], encoding: .ascii), let v = UInt32(s, radix: 16) else {
            throw fail("invalid \\u escape")
        }
        i += 4
        return v
    }
}
