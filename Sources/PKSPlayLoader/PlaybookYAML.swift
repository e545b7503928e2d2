import Foundation
import PKSPlayCore
import Yams

/// A YAML node with where it was written: what the playbook loader walks.
struct YNode: Sendable {
    enum Kind: Sendable {
        case scalar(Value)
        case sequence([YNode])
        /// Keys in written order, each with its own location.
        case mapping([(key: String, keyLocation: SourceLocation, value: YNode)])
    }

    var kind: Kind
    var location: SourceLocation

    var value: Value {
        switch kind {
        case .scalar(let v): return v
        case .sequence(let l): return .list(l.map(\.value))
        case .mapping(let pairs): return .dict(ValueDict(pairs.map { ($0.key, $0.value.value) }))
        }
    }

    var mapping: [(key: String, keyLocation: SourceLocation, value: YNode)]? {
        if case .mapping(let m) = kind { return m }
        return nil
    }

    var sequence: [YNode]? {
        if case .sequence(let s) = kind { return s }
        return nil
    }

    var isNull: Bool { if case .scalar(.null) = kind { return true } else { return false } }

    var kindName: String {
        switch kind {
        case .scalar(let v): return v.typeName == "str" ? "string" : v.typeName
        case .sequence: return "list"
        case .mapping: return "mapping"
        }
    }
}

/// Limits that keep hostile files from exhausting memory or the stack.
enum YAMLLimits {
    static let maxBytes = 32 * 1024 * 1024
    static let maxDepth = 200
}

enum YAMLReader {
    /// Reads and parses a YAML file into located nodes; every failure is a Diagnostic.
    static func load(file: String) throws -> YNode? {
        guard let data = FileManager.default.contents(atPath: file) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: file, isDirectory: &isDir), isDir.boolValue {
                throw Diagnostic("\(file) is a directory, not a YAML file", at: SourceLocation(file: file, line: 0, column: 0))
            }
            throw Diagnostic("file not found: \(file)", at: SourceLocation(file: file, line: 0, column: 0),
                             hint: "check the path; relative paths are taken from the folder of the file that names them")
        }
        guard data.count <= YAMLLimits.maxBytes else {
            throw Diagnostic("\(file) is \(data.count / 1_048_576) MiB; pksplay reads YAML files up to \(YAMLLimits.maxBytes / 1_048_576) MiB",
                             at: SourceLocation(file: file, line: 0, column: 0), hint: "split it into smaller files")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let offset = firstInvalidUTF8(data)
            let (line, col) = lineColumn(of: offset, in: data)
            throw Diagnostic("\(file) is not UTF-8 text (invalid byte at offset \(offset))", at: SourceLocation(file: file, line: line, column: col),
                             hint: "is this a binary file? playbooks and inventories are UTF-8 YAML")
        }
        return try parse(text, file: file)
    }

    static func parse(_ text: String, file: String) throws -> YNode? {
        if text.contains("\u{0}") {
            throw Diagnostic("\(file) contains a NUL byte", at: SourceLocation(file: file, line: 1, column: 1), hint: "is this a binary file?")
        }
        try checkNesting(text, file: file)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw diagnostic(e, file: file)
        } catch {
            throw Diagnostic("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 0, column: 0))
        }
        guard let node else { return nil }
        return try convert(node, file: file, depth: 0)
    }

    /// Flow collections nested deeper than the limit would recurse too deep later: refuse them first.
    static func checkNesting(_ text: String, file: String) throws {
        var depth = 0
        var line = 1, col = 0
        var quote: Character?
        for ch in text {
            col += 1
            if ch == "\n" { line += 1; col = 0 }
            if let q = quote {
                if ch == q { quote = nil }
                continue
            }
            switch ch {
            case "\"", "'":
                // Only a quote that opens a scalar counts; apostrophes inside words do not.
                quote = nil
            case "[", "{":
                depth += 1
                if depth > YAMLLimits.maxDepth {
                    throw Diagnostic("YAML nested deeper than \(YAMLLimits.maxDepth) levels", at: SourceLocation(file: file, line: line, column: col),
                                     hint: "flatten the structure")
                }
            case "]", "}": depth = max(0, depth - 1)
            default: break
            }
        }
        // Block nesting shows as indentation.
        var ln = 0
        for l in text.split(separator: "\n", omittingEmptySubsequences: false) {
            ln += 1
            let indent = l.prefix { $0 == " " || $0 == "-" }.count
            if indent > YAMLLimits.maxDepth * 4 {
                throw Diagnostic("YAML indented deeper than pksplay reads (\(indent) columns)", at: SourceLocation(file: file, line: ln, column: 1),
                                 hint: "flatten the structure")
            }
        }
    }

    static func diagnostic(_ e: YamlError, file: String) -> Diagnostic {
        func loc(_ m: Mark) -> SourceLocation { SourceLocation(file: file, line: m.line, column: m.column) }
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            var msg = "YAML syntax error: \(problem)"
            if let context { msg += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            var hint = "check indentation and quoting near this point"
            if problem.contains("mapping values are not allowed") {
                hint = "a value holding ': ' must be quoted, or a key is indented wrongly"
            } else if problem.contains("found character that cannot start any token") {
                hint = "tabs cannot indent YAML, and '@' or '`' cannot start a plain value: quote it"
            } else if problem.contains("did not find expected") {
                hint = "an item is not aligned with its siblings, or a quote or bracket is not closed"
            } else if problem.contains("could not find expected ':'") {
                hint = "a key is missing its ':' or a multi-line value needs quoting"
            } else if problem.contains("found undefined alias") || problem.contains("undefined alias") {
                hint = "define the &anchor before using *alias"
            }
            if problem.contains("{{") || context?.text.contains("{") == true {
                hint = "a value that starts with {{ must be quoted: \"{{ var }}\""
            }
            return Diagnostic(msg, at: loc(mark), hint: hint)
        case .reader(let problem, let offset, _, _):
            return Diagnostic("cannot read YAML: \(problem)", at: SourceLocation(file: file, line: 0, column: offset ?? 0), hint: "is the file UTF-8 text?")
        default:
            return Diagnostic("cannot parse YAML: \(e)", at: SourceLocation(file: file, line: 0, column: 0))
        }
    }

    static func convert(_ node: Node, file: String, depth: Int) throws -> YNode {
        let loc = SourceLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
        guard depth < YAMLLimits.maxDepth else {
            throw Diagnostic("YAML nested deeper than \(YAMLLimits.maxDepth) levels", at: loc, hint: "flatten the structure")
        }
        switch node {
        case .scalar(let s):
            if s.tag.description.contains("vault") {
                throw Diagnostic("vaulted values (!vault) are not supported", at: loc, hint: "pass secrets as extra vars or environment variables")
            }
            if s.style != .plain || s.tag.description.contains("unsafe") || s.tag.description == "tag:yaml.org,2002:str" {
                return YNode(kind: .scalar(.string(s.string)), location: loc)
            }
            return YNode(kind: .scalar(resolvePlain(s.string)), location: loc)
        case .sequence(let seq):
            return YNode(kind: .sequence(try seq.map { try convert($0, file: file, depth: depth + 1) }), location: loc)
        case .mapping(let map):
            var pairs: [(key: String, keyLocation: SourceLocation, value: YNode)] = []
            var seen: [String: SourceLocation] = [:]
            for (k, v) in map {
                let kn = try convert(k, file: file, depth: depth + 1)
                let key: String
                switch kn.kind {
                case .scalar(let sv): key = sv == .null ? "null" : sv.stringified == "True" && sv.boolValue == true ? "true" : sv.boolValue == false ? "false" : sv.stringified
                default: throw Diagnostic("a mapping key must be a plain value, not a \(kn.kindName)", at: kn.location, hint: "quote the key or fix the indentation")
                }
                if key == "<<", case .mapping(let merged) = try convert(v, file: file, depth: depth + 1).kind {
                    for m in merged where seen[m.key] == nil {
                        seen[m.key] = m.keyLocation
                        pairs.append(m)
                    }
                    continue
                }
                if let first = seen[key] {
                    throw Diagnostic("duplicate key '\(key)' (first at line \(first.line))", at: kn.location, hint: "remove one of them; YAML keeps only the last")
                }
                seen[key] = kn.location
                pairs.append((key, kn.location, try convert(v, file: file, depth: depth + 1)))
            }
            return YNode(kind: .mapping(pairs), location: loc)
        case .alias:
            throw Diagnostic("unresolved YAML alias", at: loc, hint: "define the &anchor before using *alias")
        }
    }

    /// Resolves a plain scalar as PyYAML (YAML 1.1) does, since Ansible playbooks are written for it.
    static func resolvePlain(_ s: String) -> Value {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        let t = s.replacingOccurrences(of: "_", with: "")
        var sign = 1
        var body = Substring(t)
        if body.first == "-" { sign = -1; body = body.dropFirst() } else if body.first == "+" { body = body.dropFirst() }
        if !body.isEmpty, body.allSatisfy(\.isNumber), body.allSatisfy(\.isASCII) {
            if body.count > 1 && body.first == "0" {
                if let v = Int(body, radix: 8) { return .int(sign * v) }
                return .string(s)
            }
            if let v = Int(body) { return .int(sign * v) }
            return .string(s)
        }
        if body.hasPrefix("0x"), let v = Int(body.dropFirst(2), radix: 16) { return .int(sign * v) }
        if body.hasPrefix("0o"), let v = Int(body.dropFirst(2), radix: 8) { return .int(sign * v) }
        if body.hasPrefix("0b"), let v = Int(body.dropFirst(2), radix: 2) { return .int(sign * v) }
        if [".inf", ".Inf", ".INF"].contains(body) { return .double(Double(sign) * .infinity) }
        if [".nan", ".NaN", ".NAN"].contains(s) { return .double(.nan) }
        // PyYAML floats need a dot: 1.5, 1.0e+3, .5
        if body.contains("."), body.range(of: #"^([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$"#, options: .regularExpression) != nil, let d = Double(t) {
            return .double(d)
        }
        return .string(s)
    }

    static func firstInvalidUTF8(_ data: Data) -> Int {
        var i = 0
        let b = [UInt8](data)
        while i < b.count {
            let c = b[i]
            let n = c < 0x80 ? 1 : c >> 5 == 0b110 ? 2 : c >> 4 == 0b1110 ? 3 : c >> 3 == 0b11110 ? 4 : 0
            if n == 0 || i + n > b.count { return i }
            for k in 1..<n where b[i + k] >> 6 != 0b10 { return i }
            i += n
        }
        return i
    }

    static func lineColumn(of offset: Int, in data: Data) -> (Int, Int) {
        var line = 1, col = 1
        for (i, b) in data.enumerated() {
            if i == offset { break }
            if b == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return (line, col)
    }
}
