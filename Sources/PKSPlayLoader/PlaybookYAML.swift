import Foundation
import PKSPlayCore

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

/// Playbook files read through ``YAMLValue`` (limits, aliases, PyYAML scalar types, located
/// diagnostics), turned into ``YNode``s for the playbook loader.
enum YAMLReader {
    /// Reads and parses a YAML file; every failure is a Diagnostic, warnings (duplicate keys) come back.
    static func load(file: String) throws -> (YNode?, [Diagnostic]) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: file, isDirectory: &isDir), isDir.boolValue {
            throw Diagnostic("\(file) is a directory, not a YAML file", at: SourceLocation(file: file, line: 0, column: 0))
        }
        guard FileManager.default.fileExists(atPath: file) else {
            throw Diagnostic("file not found: \(file)", at: SourceLocation(file: file, line: 0, column: 0),
                             hint: "check the path; relative paths are taken from the folder of the file that names them")
        }
        let doc: YAMLDocument
        do { doc = try YAMLValue.loadFile(file) } catch let d as Diagnostic { throw unquotedTemplate(d) ?? d }
        return (doc.isEmpty ? nil : node(doc.root), doc.warnings)
    }

    /// `msg: {{ x }}` reads as a flow mapping inside a mapping, which YAML reports in its own
    /// terms; say what Ansible says instead: the template must be quoted.
    static func unquotedTemplate(_ d: Diagnostic) -> Diagnostic? {
        guard let loc = d.location, loc.line > 0, !d.message.contains("{{"),
              let handle = FileHandle(forReadingAtPath: loc.file) else { return nil }
        defer { try? handle.close() }
        // Only the start of the file is read: the line is near a nesting error, and files can be large.
        let head = (try? handle.read(upToCount: 1 << 20)) ?? Data()
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard loc.line <= lines.count else { return nil }
        let line = lines[loc.line - 1]
        guard let open = line.range(of: #"(:|^\s*-)\s+\{\{"#, options: .regularExpression),
              let braces = line.range(of: "{{", range: open) else { return nil }
        let column = line.distance(from: line.startIndex, to: braces.lowerBound) + 1
        return Diagnostic("a value starting with '{{' must be quoted", at: SourceLocation(file: loc.file, line: loc.line, column: column),
                          hint: "YAML reads an unquoted {{ as a mapping; write it in quotes: \"{{ ... }}\"")
    }

    static func parse(_ text: String, file: String) throws -> YNode? {
        let doc = try YAMLValue.parseDocument(text, file: file)
        return doc.isEmpty ? nil : node(doc.root)
    }

    static func node(_ n: YAMLNode) -> YNode {
        switch n.kind {
        case .scalar: return YNode(kind: .scalar(n.value), location: n.location)
        case .sequence: return YNode(kind: .sequence(n.items.map(node)), location: n.location)
        case .mapping: return YNode(kind: .mapping(n.entries.map { ($0.name, $0.key.location, node($0.value)) }), location: n.location)
        }
    }
}
