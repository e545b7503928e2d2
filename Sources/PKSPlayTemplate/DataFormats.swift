import Foundation
import PKSPlayCore
import Yams

/// JSON and YAML text for the `to_json`, `to_nice_json`, `to_yaml`, `to_nice_yaml`, `from_yaml` filters,
/// spelled as Python's `json` and PyYAML spell them.
enum DataFormats {
    // MARK: JSON

    /// Python `json.dumps`: `", "`/`": "` separators (`","` when indenting), ASCII-only escapes by default.
    static func json(_ v: Value, indent: Int?, sortKeys: Bool, ensureASCII: Bool = true) -> String {
        var out = ""
        writeJSON(v, into: &out, indent: indent, level: 0, sortKeys: sortKeys, ascii: ensureASCII)
        return out
    }

    private static func writeJSON(_ v: Value, into out: inout String, indent: Int?, level: Int, sortKeys: Bool, ascii: Bool) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d > 0 ? "Infinity" : "-Infinity" } else { out += Value.formatDouble(d) }
        case .string(let s): out += quote(s, ascii: ascii)
        case .list(let l):
            if l.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in l.enumerated() {
                if i > 0 { out += indent == nil ? ", " : "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                writeJSON(item, into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, ascii: ascii)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "]"
        case .dict(let d):
            if d.isEmpty { out += "{}"; return }
            out += "{"
            let keys = sortKeys ? d.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : d.keys
            for (i, k) in keys.enumerated() {
                if i > 0 { out += indent == nil ? ", " : "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                out += quote(k, ascii: ascii) + ": "
                writeJSON(d[k] ?? .null, into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, ascii: ascii)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "}"
        }
    }

    static func quote(_ s: String, ascii: Bool) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ascii && u.value > 0x7E) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    // MARK: YAML out

    /// PyYAML `dump` as Ansible calls it: keys sorted, unicode allowed; `flowStyle == nil` means
    /// PyYAML's default (collections of scalars only are written inline).
    static func yaml(_ v: Value, indent: Int, flowStyle: Bool?, sortKeys: Bool = true, width: Int = 80) throws -> String {
        let node = yamlNode(v, flowStyle: flowStyle, sortKeys: sortKeys)
        var text = try Yams.serialize(node: node, indent: indent, width: width, allowUnicode: true)
        // libyaml closes an open-ended top-level plain scalar with a document end marker; PyYAML output through Ansible does not show it.
        if text.hasSuffix("\n...\n") { text.removeLast(4) }
        return text
    }

    private static func yamlNode(_ v: Value, flowStyle: Bool?, sortKeys: Bool) -> Node {
        switch v {
        case .null: return .scalar(.init("null", Tag(.null), .plain))
        case .bool(let b): return .scalar(.init(b ? "true" : "false", Tag(.bool), .plain))
        case .int(let i): return .scalar(.init(String(i), Tag(.int), .plain))
        case .double(let d): return .scalar(.init(yamlFloat(d), Tag(.float), .plain))
        case .string(let s): return yamlString(s)
        case .list(let l):
            let style: Node.Sequence.Style = isFlow(l, flowStyle) ? .flow : .block
            return .sequence(.init(l.map { yamlNode($0, flowStyle: flowStyle, sortKeys: sortKeys) }, Tag(.seq), style))
        case .dict(let d):
            let style: Node.Mapping.Style = isFlow(d.values, flowStyle) ? .flow : .block
            let keys = sortKeys ? d.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : d.keys
            let pairs = keys.map { (yamlString($0), yamlNode(d[$0] ?? .null, flowStyle: flowStyle, sortKeys: sortKeys)) }
            return .mapping(.init(pairs, Tag(.map), style))
        }
    }

    private static func isFlow(_ items: [Value], _ flowStyle: Bool?) -> Bool {
        if let flowStyle { return flowStyle }
        return items.allSatisfy { v in
            switch v {
            case .list, .dict: return false
            default: return true
            }
        }
    }

    /// A string that would read back as another type (`yes`, `1.0`, `null`, a date) is quoted.
    private static func yamlString(_ s: String) -> Node {
        let plainResolvesToString = Resolver.default.resolveTag(of: Node(s)) == .str
        return .scalar(.init(s, Tag(.str), plainResolvesToString ? .any : .singleQuoted))
    }

    /// PyYAML's float spelling: `repr`, with `.0` before an exponent and `.inf`/`.nan`.
    private static func yamlFloat(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d > 0 ? ".inf" : "-.inf" }
        var s = Value.formatDouble(d).lowercased()
        if !s.contains("."), let e = s.firstIndex(of: "e") { s.insert(contentsOf: ".0", at: e) }
        return s
    }

    // MARK: YAML in

    /// Most nodes `from_yaml` will build, so aliases cannot expand into an enormous value.
    static let maxYAMLNodes = 1_000_000

    static func parseYAML(_ text: String, all: Bool) throws -> Value {
        var budget = maxYAMLNodes
        if all {
            var docs: [Value] = []
            for node in try Yams.compose_all(yaml: text) {
                docs.append(try value(of: node, budget: &budget, depth: 0))
            }
            return .list(docs)
        }
        guard let node = try Yams.compose(yaml: text) else { return .null }
        return try value(of: node, budget: &budget, depth: 0)
    }

    /// The YAML 1.1 type of a scalar: explicit tag, quoted means string, else resolved from the plain text.
    private static func resolvedTag(_ scalar: Node.Scalar) -> Tag.Name {
        switch scalar.tag.rawValue {
        case "":
            switch scalar.style {
            case .singleQuoted, .doubleQuoted, .literal, .folded: return .str
            default: return Resolver.default.resolveTag(of: .scalar(scalar))
            }
        case "!": return .str
        case let raw: return Tag.Name(rawValue: raw)
        }
    }

    private static func value(of node: Node, budget: inout Int, depth: Int) throws -> Value {
        budget -= 1
        guard budget >= 0 else { throw TemplateError(.limit, "YAML document expands to more than \(maxYAMLNodes) nodes") }
        guard depth < 512 else { throw TemplateError(.limit, "YAML document nested more than 512 levels") }
        switch node {
        case .scalar(let scalar):
            switch resolvedTag(scalar) {
            case .null: return .null
            case .bool: return Bool.construct(from: scalar).map(Value.bool) ?? .string(scalar.string)
            case .int:
                if let i = Int.construct(from: scalar) { return .int(i) }
                return Double.construct(from: scalar).map(Value.double) ?? .string(scalar.string)
            case .float: return Double.construct(from: scalar).map(Value.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let seq):
            return .list(try seq.map { try value(of: $0, budget: &budget, depth: depth + 1) })
        case .mapping(let mapping):
            var d = ValueDict()
            var merged = ValueDict()
            for (k, v) in mapping {
                if case .scalar(let ks) = k, resolvedTag(ks) == .merge {
                    // `<<: *anchor` (or a list of anchors) supplies keys the mapping does not set itself.
                    let source = try value(of: v, budget: &budget, depth: depth + 1)
                    for case .dict(let m) in source.listValue ?? [source] {
                        for (mk, mv) in m where !merged.contains(mk) { merged[mk] = mv }
                    }
                    continue
                }
                let key = try value(of: k, budget: &budget, depth: depth + 1)
                d[Py.str(key)] = try value(of: v, budget: &budget, depth: depth + 1)
            }
            // PyYAML puts merged keys first; the mapping's own keys override them.
            return .dict(merged.merging(d))
        case .alias:
            throw TemplateError(.type, "unresolved YAML alias")
        }
    }
}
