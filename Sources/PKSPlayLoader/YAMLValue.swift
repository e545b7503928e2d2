import Foundation
import PKSPlayCore
import Yams

/// One node of a parsed YAML document: its ``Value``, where it was written, and its children with theirs.
///
/// Scalars are typed as Ansible's PyYAML loader types them (YAML 1.1: `yes`/`off` are booleans, `0644`
/// is the octal integer 420, `1e3` is a string). Mappings keep key order; a key written twice keeps its
/// first position and its last value, as Python dicts do; `<<` merge keys are expanded in place the way
/// PyYAML does, so ``entries`` and ``value`` always agree. An alias is the very node it refers to.
public final class YAMLNode: Sendable {
    public enum Kind: Sendable, Hashable { case scalar, sequence, mapping }

    /// How a scalar was written; a quoted or block scalar is always a string.
    public enum ScalarStyle: Sendable, Hashable { case plain, singleQuoted, doubleQuoted, literal, folded }

    public let kind: Kind
    /// The node as a value (the same value ``YAMLValue/toValue(_:)`` returns).
    public let value: Value
    /// Line and column where the node starts (a block mapping or list starts at its first entry).
    public let location: SourceLocation
    /// The explicit tag as libyaml reports it (`!unsafe`, `tag:yaml.org,2002:str`), nil when none was written.
    public let tag: String?
    /// For scalars: how the scalar was written.
    public let style: ScalarStyle?
    /// For scalars: the text before type resolution (`0644`, `yes`).
    public let text: String?
    /// For sequences: the elements.
    public let items: [YAMLNode]
    /// For mappings: the entries, in order, merge keys expanded, each key once.
    public let entries: [YAMLMappingEntry]
    /// Written under `!unsafe` (directly or inside a collection so tagged): Ansible never templates such
    /// strings. ``value`` cannot carry the mark, so consumers that template must look here.
    public let isUnsafe: Bool
    /// Nesting below this node (0 for a scalar); bounds what an alias adds to the depth where it is used.
    let height: Int
    /// Nodes in the expansion of this node, aliases counted each time they are used (saturating).
    let weight: Int

    init(
        kind: Kind, value: Value, location: SourceLocation, tag: String?, style: ScalarStyle?, text: String?,
        items: [YAMLNode], entries: [YAMLMappingEntry], isUnsafe: Bool, height: Int, weight: Int
    ) {
        self.kind = kind
        self.value = value
        self.location = location
        self.tag = tag
        self.style = style
        self.text = text
        self.items = items
        self.entries = entries
        self.isUnsafe = isUnsafe
        self.height = height
        self.weight = weight
    }

    /// The value node for `key` in a mapping, nil when absent or when this is not a mapping.
    public subscript(key: String) -> YAMLNode? {
        entries.first { $0.name == key }?.value
    }

    /// The entry for `key` in a mapping (gives the key's own location).
    public func entry(_ key: String) -> YAMLMappingEntry? {
        entries.first { $0.name == key }
    }

    /// A null scalar at `location`: what an empty document or an empty value parses to.
    public static func null(at location: SourceLocation) -> YAMLNode {
        YAMLNode(
            kind: .scalar, value: .null, location: location, tag: nil, style: .plain, text: "", items: [], entries: [],
            isUnsafe: false, height: 0, weight: 1)
    }

    /// The node's kind in the words of a YAML user, for messages: "a mapping", "a list", "a string"...
    public var kindDescription: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch value {
            case .null: return "an empty value"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .double: return "a number"
            default: return "a string"
            }
        }
    }
}

/// One key of a YAML mapping with its value node.
public struct YAMLMappingEntry: Sendable {
    /// The key as a string: the text for string keys, Python's `str()` of other scalars (`True`, `1`).
    public let name: String
    /// The key node (its location is the key's).
    public let key: YAMLNode
    public let value: YAMLNode
}

/// A parsed YAML file: the root node and the warnings met on the way (duplicate keys).
public struct YAMLDocument: Sendable {
    public let root: YAMLNode
    public let warnings: [Diagnostic]
    /// True when the file held no document at all (empty, or comments only); ``root`` is then null.
    public let isEmpty: Bool
}

/// Bounds that keep hostile input from exhausting the machine.
public struct YAMLLimits: Sendable {
    /// Largest text accepted.
    public var maxBytes: Int
    /// Deepest nesting of lists and mappings accepted, aliases included.
    public var maxDepth: Int
    /// How many nodes aliases may add to the document when expanded (the "billion laughs" guard).
    public var maxAliasExpansion: Int

    public init(maxBytes: Int = 50 * 1024 * 1024, maxDepth: Int = 200, maxAliasExpansion: Int = 10_000_000) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxAliasExpansion = maxAliasExpansion
    }

    public static let `default` = YAMLLimits()
}

/// YAML text to ``YAMLNode``s and ``Value``s, as Ansible reads YAML, with a ``Diagnostic`` for every bad input.
public enum YAMLValue {
    /// Parses one YAML document. Throws a ``Diagnostic`` (file:line:column, hint) for syntax errors,
    /// vaulted values, unknown tags, non-scalar keys, nesting deeper than the limit and oversized text.
    /// Duplicate keys are not errors (Ansible only warns); use ``parseDocument(_:file:limits:)`` to see them.
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        try parseDocument(text, file: file).root
    }

    /// The node's value (``YAMLNode/value``), for callers that do not need locations.
    public static func toValue(_ node: YAMLNode) -> Value {
        node.value
    }

    /// Parses one YAML document and returns it with its warnings. Throws a ``Diagnostic``.
    public static func parseDocument(_ text: String, file: String, limits: YAMLLimits = .default) throws -> YAMLDocument {
        let size = text.utf8.count
        guard size <= limits.maxBytes else {
            throw Diagnostic(
                "the file is \(size / (1024 * 1024)) MB, more than the \(limits.maxBytes / (1024 * 1024)) MB a YAML file may have",
                at: SourceLocation(file: file, line: 0, column: 0),
                hint: "split it into smaller files, or check that this is the file you meant")
        }
        if let problem = YAMLPreflight.check(text) {
            throw Diagnostic(
                problem.message, at: SourceLocation(file: file, line: problem.line, column: problem.column),
                hint: problem.hint)
        }
        // Yams builds its tree recursively, one frame per level (libyaml stops at 1000 levels); a thread
        // with a large stack keeps that off the caller's stack, whatever thread it runs on.
        return try runWithLargeStack { () throws(Diagnostic) in try compose(text, file: file, limits: limits) }.get()
    }

    /// Reads a YAML (or JSON) file as text: a ``Diagnostic`` when it is missing, unreadable, larger than
    /// the limit, or not UTF-8 (binary files included).
    public static func readFile(_ path: String, limits: YAMLLimits = .default) throws -> String {
        let data = try readBytes(path, maxBytes: limits.maxBytes)
        if data.starts(with: [0xEF, 0xBB, 0xBF]) {
            return try decodeUTF8(data.dropFirst(3), path: path)
        }
        return try decodeUTF8(data, path: path)
    }

    /// Reads and parses a YAML file (``readFile(_:limits:)`` then ``parseDocument(_:file:limits:)``).
    /// A file encrypted whole with ansible-vault is refused with a clear message.
    public static func loadFile(_ path: String, limits: YAMLLimits = .default) throws -> YAMLDocument {
        let text = try readFile(path, limits: limits)
        if text.hasPrefix("$ANSIBLE_VAULT;") {
            throw Diagnostic(
                "this file is encrypted with ansible-vault, which pksplay does not read",
                at: SourceLocation(file: path, line: 1, column: 1),
                hint: "decrypt it (`ansible-vault decrypt FILE`) and keep the secrets out of the repository")
        }
        return try parseDocument(text, file: path, limits: limits)
    }

    /// The bytes of a file, refusing more than `maxBytes` (also for pipes, whose size is unknown ahead).
    static func readBytes(_ path: String, maxBytes: Int) throws -> Data {
        let whole = SourceLocation(file: path, line: 0, column: 0)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Diagnostic("file not found", at: whole, hint: "check the path; relative paths start from the current directory")
        }
        guard !isDirectory.boolValue else {
            throw Diagnostic("this is a directory, not a file", at: whole, hint: "name a file inside it")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > maxBytes {
            throw Diagnostic(
                "the file is \(size / (1024 * 1024)) MB, more than the \(maxBytes / (1024 * 1024)) MB allowed", at: whole,
                hint: "split it into smaller files, or check that this is the file you meant")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Diagnostic("cannot read the file", at: whole, hint: "check its permissions")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw Diagnostic("cannot read the file: \(error.localizedDescription)", at: whole, hint: "check its permissions")
        }
        guard data.count <= maxBytes else {
            throw Diagnostic(
                "the file is larger than the \(maxBytes / (1024 * 1024)) MB allowed", at: whole,
                hint: "split it into smaller files, or check that this is the file you meant")
        }
        return data
    }

    static func decodeUTF8(_ data: Data, path: String) throws -> String {
        if let text = String(data: data, encoding: .utf8) { return text }
        // Point at the first bad byte so the user can find it.
        var line = 1, column = 1
        var iterator = data.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput: break loop
            case .error: break loop
            }
        }
        let binary = data.prefix(8192).contains(0)
        throw Diagnostic(
            binary ? "this is a binary file, not text" : "the file is not valid UTF-8 text",
            at: SourceLocation(file: path, line: line, column: column),
            hint: binary
                ? "check that the path names the file you meant"
                : "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")
    }

    // MARK: - Scalars as PyYAML resolves them

    /// The value of a plain (unquoted, untagged) scalar as PyYAML's YAML 1.1 resolver types it.
    ///
    /// `~`/`null`/empty → null; `yes|no|true|false|on|off` in lower, Capitalised or UPPER case → bool
    /// (`y`/`n` stay strings); `0b101`, `0x1F`, `0644` (octal, = 420), `1_000`, `190:20:30` (base 60) →
    /// int; `1.5`, `1.`, `.5`, `1.0e+3`, `.inf`, `.nan` → float, but `1e3` and `-.5` stay strings, as in
    /// PyYAML; dates stay strings. Integers beyond 64 bits stay strings rather than losing digits.
    public static func resolvePlainScalar(_ text: String) -> Value {
        guard let first = text.utf8.first else { return .null }
        // Most scalars are words; one look at the first byte settles them (PyYAML keys its resolvers
        // on the first character the same way).
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "y"), UInt8(ascii: "Y"),
            UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "o"),
            UInt8(ascii: "O"):
            switch text {
            case "~", "null", "Null", "NULL": return .null
            case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
            case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
            default: return .string(text)
            }
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let resolve = { (bytes: UnsafeBufferPointer<UInt8>) -> Value in
                if YAML11Number.isFloat(bytes) { return YAML11Number.float(text).map(Value.double) ?? .string(text) }
                if YAML11Number.isInt(bytes) { return YAML11Number.int(text).map(Value.int) ?? .string(text) }
                return .string(text)
            }
            return text.utf8.withContiguousStorageIfAvailable(resolve) ?? Array(text.utf8).withUnsafeBufferPointer(resolve)
        default:
            return .string(text)
        }
    }

    // MARK: - Composition

    /// Runs `body` on a thread with a 64 MB stack and waits for it; runs it in place if no thread can
    /// be made, rather than wait forever.
    private static func runWithLargeStack(
        _ body: @escaping () throws(Diagnostic) -> YAMLDocument
    ) -> Result<YAMLDocument, Diagnostic> {
        let job = LargeStackJob {
            do throws(Diagnostic) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 64 << 20)
        let retained = Unmanaged.passRetained(job)
        #if canImport(Darwin)
            var thread: pthread_t?
        #else
            var thread = pthread_t()
        #endif
        let created = pthread_create(&thread, &attributes, { raw in
            #if canImport(Darwin)
                let pointer: UnsafeMutableRawPointer? = raw
            #else
                let pointer = raw
            #endif
            if let pointer { Unmanaged<LargeStackJob>.fromOpaque(pointer).takeRetainedValue().run() }
            return nil
        }, retained.toOpaque())
        guard created == 0 else {
            retained.release()
            job.run()
            return job.outcome ?? .failure(Diagnostic("the YAML parser stopped unexpectedly", at: nil))
        }
        #if canImport(Darwin)
            if let thread { pthread_join(thread, nil) }
        #else
            pthread_join(thread, nil)
        #endif
        return job.outcome ?? .failure(Diagnostic("the YAML parser stopped unexpectedly", at: nil))
    }

    /// No implicit typing in Yams: we type scalars ourselves, as PyYAML does. Yams still tags the keys
    /// it hashes to find duplicates, as `str`; key conversion knows.
    private static let resolver = Resolver.basic

    /// The text inserted before an earlier duplicate key so Yams accepts the mapping; stripped again
    /// when keys are named. U+F8FF is a private-use character, so it is refused if the text has one.
    static let duplicateMarker: Unicode.Scalar = "\u{F8FF}"
    private static let maxDuplicateRenames = 200

    private static func compose(_ original: String, file: String, limits: YAMLLimits) throws(Diagnostic) -> YAMLDocument {
        var text = original
        var renames: [YAMLRename] = []
        let canRename = !original.unicodeScalars.contains(duplicateMarker)
        while true {
            do {
                let parser = try Parser(yaml: text, resolver: Self.resolver, constructor: .default, encoding: .utf8)
                guard let root = try parser.singleRoot() else {
                    return YAMLDocument(root: .null(at: SourceLocation(file: file, line: 1, column: 1)), warnings: [], isEmpty: true)
                }
                // `parser` must outlive the conversion: Yams holds anchors weakly and the parser owns them.
                let converter = YAMLConverter(file: file, limits: limits, renames: renames, json: isJSON(original))
                let node = try converter.convert(root, depth: 0, unsafe: false)
                withExtendedLifetime(parser) {}
                return YAMLDocument(root: node, warnings: converter.warnings, isEmpty: false)
            } catch let error as YamlError {
                if case .duplicatedKeysInMapping(let keys, let context) = error {
                    if canRename, renames.count < maxDuplicateRenames,
                        let rename = YAMLRename.insert(into: &text, at: context.mark, number: renames.count)
                    {
                        renames.append(rename)
                        continue
                    }
                    throw Diagnostic(
                        "duplicate key \(keys.map { "'\($0)'" }.joined(separator: ", ")) in a mapping",
                        at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                        hint: "write each key once in a mapping")
                }
                throw diagnostic(for: error, file: file, limits: limits, renames: renames)
            } catch let error as Diagnostic {
                throw error
            } catch {
                throw Diagnostic("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 0, column: 0))
            }
        }
    }

    /// Whether the text is one JSON document (what Ansible's loader tries first).
    private static func isJSON(_ text: String) -> Bool {
        guard let first = text.utf8.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        else { return false }
        return (try? Value.parseJSON(text)) != nil
    }

    private static func diagnostic(for error: YamlError, file: String, limits: YAMLLimits, renames: [YAMLRename]) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation {
            YAMLRename.location(of: mark, file: file, renames: renames)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            if problem.contains("Maximum nesting level") {
                return Diagnostic(
                    "YAML nested deeper than \(limits.maxDepth) levels", at: at(mark),
                    hint: "flatten the data; nesting this deep is almost always generated or hostile input")
            }
            var message = "YAML syntax error: \(problem)"
            if let context, !context.text.isEmpty {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return Diagnostic(message, at: at(mark), hint: syntaxHint(problem: problem, context: context?.text ?? ""))
        case .reader(let problem, let offset, let value, let yaml):
            var line = 1, column = 1
            if let offset {
                for character in yaml.prefix(offset) {
                    if character == "\n" || character == "\r\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            let what = value >= 0 ? String(format: " (U+%04X)", value) : ""
            return Diagnostic(
                "the text has a character YAML does not allow\(what): \(problem)",
                at: SourceLocation(file: file, line: line, column: column),
                hint: "remove the control character; if this is a binary file, it is not YAML")
        case .memory:
            return Diagnostic("out of memory while parsing YAML", at: SourceLocation(file: file, line: 0, column: 0))
        default:
            return Diagnostic("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 0, column: 0))
        }
    }

    private static func syntaxHint(problem: String, context: String) -> String {
        let p = problem.lowercased()
        if p.contains("cannot start any token") {
            return "YAML indents with spaces, never tabs, and a value starting with '@', '`' or '%' must be quoted"
        }
        if p.contains("mapping values are not allowed") {
            return "a value that contains ': ' must be quoted, and a nested mapping must start on its own line"
        }
        if p.contains("undefined alias") { return "define the anchor (&name) before the alias (*name) that uses it" }
        if p.contains("another document") { return "keep one document per file (remove the extra '---')" }
        if p.contains("end of stream") && context.contains("quoted") { return "a quoted string is never closed" }
        if p.contains("expected ':'") || p.contains("expected key") {
            return "check the indentation of this line and the line above; values starting with '{' or '[' must be quoted or closed"
        }
        if p.contains("expected <block end>") {
            return "the indentation of this line does not match any level above it"
        }
        return "check the indentation and quoting around this line"
    }
}

/// A marker inserted before an earlier duplicate key so Yams (which refuses duplicates) parses the
/// rest; Ansible only warns and keeps the last value, and so do we.
struct YAMLRename {
    var line: Int
    var column: Int
    var length: Int

    /// Inserts the marker at the key that starts at `mark`; nil when the text there is not a scalar key.
    static func insert(into text: inout String, at mark: Mark, number: Int) -> YAMLRename? {
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        var line = 1
        while line < mark.line, index < scalars.endIndex {
            if scalars[index] == "\n" { line += 1 }
            index = scalars.index(after: index)
        }
        guard line == mark.line, let lineStart = Optional(index),
            let start = scalars.index(lineStart, offsetBy: mark.column - 1, limitedBy: scalars.endIndex)
        else { return nil }
        var position = start
        var column = mark.column
        func advance() {
            position = scalars.index(after: position)
            column += 1
        }
        // Skip `&anchor` and `!tag` properties in front of the key.
        while position < scalars.endIndex, scalars[position] == "&" || scalars[position] == "!" {
            while position < scalars.endIndex, scalars[position] != " ", scalars[position] != "\t", scalars[position] != "\n" {
                advance()
            }
            while position < scalars.endIndex, scalars[position] == " " || scalars[position] == "\t" { advance() }
        }
        guard position < scalars.endIndex else { return nil }
        let first = scalars[position]
        if first == "'" || first == "\"" {
            advance()
        } else if "*?[]{}-|>#\n".unicodeScalars.contains(first) {
            return nil
        }
        let marker = "\(YAMLValue.duplicateMarker)\(number)\(YAMLValue.duplicateMarker)"
        text.unicodeScalars.insert(contentsOf: marker.unicodeScalars, at: position)
        return YAMLRename(line: mark.line, column: column, length: marker.unicodeScalars.count)
    }

    /// The location in the original text of a mark in the renamed text.
    static func location(of mark: Mark, file: String, renames: [YAMLRename]) -> SourceLocation {
        var column = mark.column
        for rename in renames where rename.line == mark.line && rename.column < mark.column {
            column -= rename.length
        }
        return SourceLocation(file: file, line: mark.line, column: column)
    }

    /// A key without the marker.
    static func strip(_ key: String) -> String {
        guard key.unicodeScalars.first == YAMLValue.duplicateMarker else { return key }
        let rest = key.unicodeScalars.dropFirst()
        guard let end = rest.firstIndex(of: YAMLValue.duplicateMarker) else { return key }
        return String(rest[rest.index(after: end)...])
    }
}

/// The work handed to the large-stack thread; `pthread_join` orders its write before the caller's read.
private final class LargeStackJob: @unchecked Sendable {
    private let body: () -> Result<YAMLDocument, Diagnostic>
    private(set) var outcome: Result<YAMLDocument, Diagnostic>?

    init(_ body: @escaping () -> Result<YAMLDocument, Diagnostic>) {
        self.body = body
    }

    func run() {
        outcome = body()
    }
}

/// Turns Yams' tree into ``YAMLNode``s with PyYAML's typing, checking depth, tags, keys and alias growth.
private final class YAMLConverter {
    let file: String
    let limits: YAMLLimits
    let renames: [YAMLRename]
    /// The text is a JSON document: Ansible reads it with `json.loads` before trying YAML, so its plain
    /// scalars are JSON numbers (`1e3` is 1000.0, not the string PyYAML would make of it).
    let json: Bool
    var warnings: [Diagnostic] = []
    private var converted: [ObjectIdentifier: YAMLNode] = [:]
    private var distinctNodes = 0

    init(file: String, limits: YAMLLimits, renames: [YAMLRename], json: Bool) {
        self.json = json
        self.file = file
        self.limits = limits
        self.renames = renames
    }

    private static let str = "tag:yaml.org,2002:str"
    private static let yamlTagPrefix = "tag:yaml.org,2002:"

    func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return SourceLocation(file: file, line: 0, column: 0) }
        return YAMLRename.location(of: mark, file: file, renames: renames)
    }

    private func tooDeep(_ mark: Mark?) -> Diagnostic {
        Diagnostic(
            "YAML nested deeper than \(limits.maxDepth) levels", at: location(mark),
            hint: "flatten the data; nesting this deep is almost always generated or hostile input")
    }

    func convert(_ node: Node, depth: Int, unsafe: Bool, isKey: Bool = false) throws(Diagnostic) -> YAMLNode {
        guard depth <= limits.maxDepth else { throw tooDeep(node.mark) }
        if let anchor = node.anchor, let done = converted[ObjectIdentifier(anchor)] {
            guard depth + done.height <= limits.maxDepth else { throw tooDeep(node.mark) }
            return done
        }
        distinctNodes += 1
        let result: YAMLNode
        switch node {
        case .scalar(let scalar):
            result = try convertScalar(scalar, unsafe: unsafe, isKey: isKey)
        case .sequence(let sequence):
            result = try convertSequence(sequence, depth: depth, unsafe: unsafe)
        case .mapping(let mapping):
            result = try convertMapping(mapping, depth: depth, unsafe: unsafe)
        case .alias(let alias):
            throw Diagnostic(
                "found undefined alias '*\(alias.anchor.rawValue)'", at: location(alias.mark),
                hint: "define the anchor (&\(alias.anchor.rawValue)) before the alias that uses it")
        }
        guard result.weight <= distinctNodes + limits.maxAliasExpansion else {
            throw Diagnostic(
                "aliases expand this YAML to more than \(limits.maxAliasExpansion) nodes", at: location(node.mark),
                hint: "an alias repeated inside other repeated aliases grows exponentially; write the data out or use fewer levels")
        }
        if let anchor = node.anchor { converted[ObjectIdentifier(anchor)] = result }
        return result
    }

    /// The tag written by the user, or nil when the node's tag is only implied by its syntax.
    ///
    /// Yams tags quoted scalars `str`, and also plain keys once it has hashed them for its duplicate
    /// check, so `str` on a plain key is taken as implied (an explicit `!!str` there is lost; harmless,
    /// keys become strings anyway).
    private func explicitTag(_ name: String, plain: Bool, isKey: Bool = false) -> String? {
        if name.isEmpty { return nil }
        if name == YAMLConverter.str && (!plain || isKey) { return nil }
        return name
    }

    private func convertScalar(_ scalar: Node.Scalar, unsafe inherited: Bool, isKey: Bool) throws(Diagnostic) -> YAMLNode {
        let text = scalar.string
        let style: YAMLNode.ScalarStyle
        switch scalar.style {
        case .singleQuoted: style = .singleQuoted
        case .doubleQuoted: style = .doubleQuoted
        case .literal: style = .literal
        case .folded: style = .folded
        case .plain, .any: style = .plain
        }
        let plain = style == .plain
        let tag = explicitTag(scalar.tag.description, plain: plain, isKey: isKey)
        var unsafe = inherited
        let value: Value
        let here = location(scalar.mark)
        func typed(_ v: Value?, _ what: String) throws(Diagnostic) -> Value {
            guard let v else {
                throw Diagnostic(
                    "'\(text)' is not \(what), as its tag \(tag ?? "") requires", at: here,
                    hint: "remove the tag or fix the value")
            }
            return v
        }
        switch tag {
        case nil where json && plain:
            value = YAMLConverter.jsonScalar(text)
        case nil:
            value = plain ? YAMLValue.resolvePlainScalar(text) : .string(text)
        case "!":
            value = .string(text)
        case "!unsafe":
            // Ansible re-resolves the scalar as if untagged and marks the result as never to be templated.
            unsafe = true
            value = plain ? YAMLValue.resolvePlainScalar(text) : .string(text)
        case "!vault", "!vault-encrypted":
            throw Diagnostic(
                "vaulted values are not supported", at: here,
                hint: "decrypt it (`ansible-vault decrypt_string`) and keep the secret out of the repository, e.g. pass it with -e @secrets.yml")
        case YAMLConverter.yamlTagPrefix + "str", YAMLConverter.yamlTagPrefix + "binary",
            YAMLConverter.yamlTagPrefix + "timestamp", YAMLConverter.yamlTagPrefix + "value",
            YAMLConverter.yamlTagPrefix + "merge":
            value = .string(text)
        case YAMLConverter.yamlTagPrefix + "int":
            value = try typed(YAML11Number.int(text).map(Value.int), "an integer")
        case YAMLConverter.yamlTagPrefix + "float":
            let resolved = YAML11Number.float(text) ?? YAML11Number.int(text).map(Double.init)
            value = try typed(resolved.map(Value.double), "a number")
        case YAMLConverter.yamlTagPrefix + "bool":
            let resolved = YAMLValue.resolvePlainScalar(text)
            value = try typed(resolved.boolValue.map(Value.bool), "a boolean")
        case YAMLConverter.yamlTagPrefix + "null":
            value = .null
        case let other?:
            throw unknownTag(other, at: here)
        }
        return YAMLNode(
            kind: .scalar, value: value, location: here, tag: tag, style: style, text: text, items: [], entries: [],
            isUnsafe: unsafe, height: 0, weight: 1)
    }

    /// A plain scalar of a JSON document: `true`, `false`, `null` or a JSON number.
    static func jsonScalar(_ text: String) -> Value {
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null": return .null
        default:
            if let i = Int(text) { return .int(i) }
            if let d = Double(text) { return .double(d) }
            return .string(text)
        }
    }

    private func unknownTag(_ tag: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(
            "unknown YAML tag '\(tag)'", at: location,
            hint: "Ansible YAML knows !unsafe, !vault and the standard !!str, !!int, !!float, !!bool, !!null tags; remove the tag or quote the value")
    }

    private func convertSequence(_ sequence: Node.Sequence, depth: Int, unsafe inherited: Bool) throws(Diagnostic) -> YAMLNode {
        let here = location(sequence.mark)
        let tag = explicitTag(sequence.tag.description, plain: true)
        var unsafe = inherited
        switch tag {
        case nil, "!", YAMLConverter.yamlTagPrefix + "seq", YAMLConverter.yamlTagPrefix + "omap",
            YAMLConverter.yamlTagPrefix + "pairs":
            break
        case "!unsafe": unsafe = true
        case "!vault", "!vault-encrypted":
            throw Diagnostic(
                "vaulted values are not supported (and a vaulted value is a string, not a list)", at: here,
                hint: "decrypt the value and keep the secret out of the repository, e.g. pass it with -e @secrets.yml")
        case let other?: throw unknownTag(other, at: here)
        }
        var items: [YAMLNode] = []
        items.reserveCapacity(sequence.count)
        var height = 0
        var weight = 1
        for element in sequence {
            let item = try convert(element, depth: depth + 1, unsafe: unsafe)
            items.append(item)
            height = max(height, item.height + 1)
            weight = YAMLConverter.add(weight, item.weight)
        }
        return YAMLNode(
            kind: .sequence, value: .list(items.map(\.value)), location: here, tag: tag, style: nil, text: nil, items: items,
            entries: [], isUnsafe: unsafe, height: height, weight: weight)
    }

    private static func add(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max / 2 : min(sum, Int.max / 2)
    }

    private func isMergeKey(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.string == "<<", scalar.style == .plain || scalar.style == .any else {
            return false
        }
        return explicitTag(scalar.tag.description, plain: true, isKey: true) == nil
    }

    private func convertMapping(_ mapping: Node.Mapping, depth: Int, unsafe inherited: Bool) throws(Diagnostic) -> YAMLNode {
        let here = location(mapping.mark)
        let tag = explicitTag(mapping.tag.description, plain: true)
        var unsafe = inherited
        var isSet = false
        switch tag {
        case nil, "!", YAMLConverter.yamlTagPrefix + "map": break
        case YAMLConverter.yamlTagPrefix + "set": isSet = true
        case "!unsafe": unsafe = true
        case "!vault", "!vault-encrypted":
            throw Diagnostic(
                "vaulted values are not supported (and a vaulted value is a string, not a mapping)", at: here,
                hint: "decrypt the value and keep the secret out of the repository, e.g. pass it with -e @secrets.yml")
        case let other?: throw unknownTag(other, at: here)
        }
        var merged: [YAMLMappingEntry] = []
        var explicit: [YAMLMappingEntry] = []
        explicit.reserveCapacity(mapping.count)
        var height = 0
        var weight = 1
        for (keyNode, valueNode) in mapping {
            let value = try convert(valueNode, depth: depth + 1, unsafe: unsafe)
            height = max(height, value.height + 1)
            weight = YAMLConverter.add(weight, value.weight)
            if isMergeKey(keyNode) {
                merged += try mergeEntries(value)
                continue
            }
            let key = try convert(keyNode, depth: depth + 1, unsafe: unsafe, isKey: true)
            guard key.kind == .scalar else {
                throw Diagnostic(
                    "a mapping key must be a string or a number, not \(key.kindDescription)", at: key.location,
                    hint: "Ansible cannot use a list or mapping as a key; quote the key if it is meant as text")
            }
            weight = YAMLConverter.add(weight, 1)
            explicit.append(YAMLMappingEntry(name: YAMLConverter.keyName(key), key: key, value: value))
        }
        // First position, last value: what a Python dict built from these pairs holds. Ansible warns
        // about a key written twice (and also about one overriding a merged key; we do not).
        var entries: [YAMLMappingEntry] = []
        entries.reserveCapacity(merged.count + explicit.count)
        var position: [String: Int] = [:]
        for entry in merged {
            if let at = position[entry.name] { entries[at] = entry } else {
                position[entry.name] = entries.count
                entries.append(entry)
            }
        }
        var written: [String: SourceLocation] = [:]
        for entry in explicit {
            if let first = written.updateValue(entry.key.location, forKey: entry.name) {
                warnings.append(Diagnostic(
                    "duplicate key '\(entry.name)' (first at line \(first.line)); the last value is used", at: entry.key.location,
                    hint: "remove one of them; Ansible also keeps only the last", severity: .warning))
                written[entry.name] = first
            }
            if let at = position[entry.name] { entries[at] = entry } else {
                position[entry.name] = entries.count
                entries.append(entry)
            }
        }
        let value: Value
        if isSet {
            value = .list(entries.map { $0.key.value })
        } else {
            var dict = ValueDict()
            for entry in entries { dict[entry.name] = entry.value.value }
            value = .dict(dict)
        }
        return YAMLNode(
            kind: .mapping, value: value, location: here, tag: tag, style: nil, text: nil, items: [], entries: entries,
            isUnsafe: unsafe, height: height, weight: weight)
    }

    /// PyYAML's merge: a mapping's entries, or a list of mappings where earlier ones win.
    private func mergeEntries(_ node: YAMLNode) throws(Diagnostic) -> [YAMLMappingEntry] {
        switch node.kind {
        case .mapping:
            return node.entries
        case .sequence:
            var out: [YAMLMappingEntry] = []
            for item in node.items.reversed() {
                guard item.kind == .mapping else {
                    throw Diagnostic(
                        "a merge key '<<' takes a mapping or a list of mappings, and this list holds \(item.kindDescription)",
                        at: item.location, hint: "merge anchored mappings only: `<<: [*defaults, *more]`")
                }
                out += item.entries
            }
            return out
        case .scalar:
            throw Diagnostic(
                "a merge key '<<' takes a mapping or a list of mappings, not \(node.kindDescription)", at: node.location,
                hint: "write `<<: *anchor` where the anchor names a mapping, or quote '<<' if it is meant as a key")
        }
    }

    /// A scalar key as a string: its text when a string, else Python's `str()` of its value.
    static func keyName(_ key: YAMLNode) -> String {
        switch key.value {
        case .string(let s): return YAMLRename.strip(s)
        default: return key.value.stringified
        }
    }
}

/// PyYAML's YAML 1.1 integer and float syntax and construction.
enum YAML11Number {
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isOctal(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x37 }
    private static func isHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }
    private static let underscore = UInt8(ascii: "_")

    /// Matches `:[0-5]?[0-9]` groups (one or more) from `i` to the end.
    private static func sexagesimalTail(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var i = start
        var groups = 0
        while i < b.count, b[i] == UInt8(ascii: ":") {
            i += 1
            guard i < b.count, isDigit(b[i]) else { return nil }
            if i + 1 < b.count, isDigit(b[i + 1]) {
                guard b[i] <= UInt8(ascii: "5") else { return nil }
                i += 2
            } else {
                i += 1
            }
            groups += 1
        }
        return groups > 0 ? i : nil
    }

    /// `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
    static func isInt(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
        guard i < b.count else { return false }
        let rest = b[i...]
        if rest.starts(with: "0b".utf8) {
            return rest.count > 2 && rest.dropFirst(2).allSatisfy { $0 == 0x30 || $0 == 0x31 || $0 == underscore }
        }
        if rest.starts(with: "0x".utf8) {
            return rest.count > 2 && rest.dropFirst(2).allSatisfy { isHex($0) || $0 == underscore }
        }
        if rest.first == 0x30 {
            return rest.count == 1 || rest.dropFirst().allSatisfy { isOctal($0) || $0 == underscore }
        }
        guard let first = rest.first, isDigit(first) else { return false }
        var j = i + 1
        while j < b.count, isDigit(b[j]) || b[j] == underscore { j += 1 }
        if j == b.count { return true }
        return sexagesimalTail(b, j) == b.count
    }

    /// PyYAML's float forms (a dot is required, an exponent needs its sign), plus `.inf` and `.nan`.
    static func isFloat(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let s = String(decoding: b, as: UTF8.self)
        if [".nan", ".NaN", ".NAN"].contains(s) { return true }
        var i = 0
        let signed = i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+"))
        if signed { i += 1 }
        if [".inf", ".Inf", ".INF"].contains(String(decoding: b[i...], as: UTF8.self)) { return true }
        func exponent(_ k: Int) -> Bool {
            // `([eE][-+][0-9]+)?` up to the end
            if k == b.count { return true }
            guard b[k] == UInt8(ascii: "e") || b[k] == UInt8(ascii: "E"), k + 2 < b.count,
                b[k + 1] == UInt8(ascii: "-") || b[k + 1] == UInt8(ascii: "+")
            else { return false }
            return b[(k + 2)...].allSatisfy(isDigit)
        }
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: ".") {
            // `\.[0-9][0-9_]*(exp)?` — unsigned only
            guard !signed, i + 1 < b.count, isDigit(b[i + 1]) else { return false }
            var k = i + 2
            while k < b.count, isDigit(b[k]) || b[k] == underscore { k += 1 }
            return exponent(k)
        }
        guard isDigit(b[i]) else { return false }
        var k = i + 1
        while k < b.count, isDigit(b[k]) || b[k] == underscore { k += 1 }
        if k < b.count, b[k] == UInt8(ascii: ".") {
            k += 1
            while k < b.count, isDigit(b[k]) || b[k] == underscore { k += 1 }
            return exponent(k)
        }
        // base 60: `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`
        guard let afterGroups = sexagesimalTail(b, k), afterGroups < b.count, b[afterGroups] == UInt8(ascii: ".") else {
            return false
        }
        return b[(afterGroups + 1)...].allSatisfy { isDigit($0) || $0 == underscore }
    }

    /// PyYAML's `construct_yaml_int` (nil when the digits do not fit in 64 bits or are empty).
    static func int(_ text: String) -> Int? {
        var s = text.utf8.contains(UInt8(ascii: "_")) ? Substring(text.replacingOccurrences(of: "_", with: "")) : Substring(text)
        var negative = false
        if s.first == "-" { negative = true }
        if s.first == "-" || s.first == "+" { s = s.dropFirst() }
        let magnitude: Int?
        if s == "0" {
            magnitude = 0
        } else if s.hasPrefix("0b") {
            magnitude = Int(s.dropFirst(2), radix: 2)
        } else if s.hasPrefix("0x") {
            magnitude = Int(s.dropFirst(2), radix: 16)
        } else if s.hasPrefix("0") {
            magnitude = Int(s, radix: 8)
        } else if s.contains(":") {
            var total = 0
            for part in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard let digit = Int(part) else { return nil }
                let (shifted, o1) = total.multipliedReportingOverflow(by: 60)
                let (sum, o2) = shifted.addingReportingOverflow(digit)
                guard !o1, !o2 else { return nil }
                total = sum
            }
            magnitude = total
        } else {
            magnitude = Int(s, radix: 10)
        }
        guard let magnitude else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// PyYAML's `construct_yaml_float`.
    static func float(_ text: String) -> Double? {
        var s = Substring(text.replacingOccurrences(of: "_", with: "").lowercased())
        var sign = 1.0
        if s.first == "-" { sign = -1 }
        if s.first == "-" || s.first == "+" { s = s.dropFirst() }
        if s == ".inf" { return sign * .infinity }
        if s == ".nan" { return .nan }
        if s.contains(":") {
            var total = 0.0
            for part in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard let digit = Double(normalized(part)) else { return nil }
                total = total * 60 + digit
            }
            return sign * total
        }
        return Double(normalized(s)).map { sign * $0 }
    }

    /// `1.` and `1.e+3` as strtod-style parsers accept them everywhere: `1.0`, `1.0e+3`.
    private static func normalized(_ s: Substring) -> String {
        var out = String(s)
        if out.hasSuffix(".") { out += "0" }
        out = out.replacingOccurrences(of: ".e", with: ".0e")
        if out.hasPrefix(".") { out = "0" + out }
        return out
    }
}

/// A fast pass over the raw text that spots alias keys which would make Yams hash an exponentially
/// large structure (Yams hashes every mapping key while composing, before we see the tree).
///
/// Nesting depth needs no such pass: libyaml refuses more than 1000 levels, and Yams' recursion over
/// those runs on a thread with a large stack. The pass tracks quoting, block scalars and comments so
/// that text inside strings is not mistaken for structure.
enum YAMLPreflight {
    struct Problem {
        var line: Int
        var column: Int
        var message: String
        var hint: String
    }

    private enum State { case expectNode, inPlain, afterNode }

    static func check(_ text: String) -> Problem? {
        let run = { (bytes: UnsafeBufferPointer<UInt8>) -> Problem? in
            // Without an alias there is nothing to find.
            guard let base = bytes.baseAddress, memchr(base, Int32(UInt8(ascii: "*")), bytes.count) != nil else { return nil }
            var scanner = Scanner(bytes: bytes)
            return scanner.run()
        }
        if let result = text.utf8.withContiguousStorageIfAvailable(run) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(run)
    }

    private struct Scanner {
        let b: UnsafeBufferPointer<UInt8>
        var line = 0
        var flowDepth = 0
        var quote: UInt8 = 0
        var state = State.expectNode
        var blockScalarThreshold: Int?
        var plainParentIndent: Int?
        var collectionAnchors: [String: Bool] = [:]
        var sawAlias = false
        var complexKeyLine = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            b = bytes
        }

        static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), cr = UInt8(ascii: "\r")
        static let newline = UInt8(ascii: "\n"), hash = UInt8(ascii: "#")

        func isBlank(_ c: UInt8) -> Bool { c == Scanner.space || c == Scanner.tab || c == Scanner.cr }

        mutating func run() -> Problem? {
            var start = 0
            while start <= b.count {
                var end = start
                while end < b.count, b[end] != Scanner.newline { end += 1 }
                line += 1
                if let problem = scanLine(start, end) { return problem }
                start = end + 1
            }
            if sawAlias && complexKeyLine > 0 {
                return Problem(
                    line: complexKeyLine, column: 1, message: "a list or mapping used as a mapping key, in a file with aliases",
                    hint: "Ansible cannot use a list or mapping as a key; write the key as a string")
            }
            return nil
        }

        /// Index after the closing quote, or nil when the quoted scalar goes on past the line.
        func closeQuote(_ q: UInt8, from: Int, _ end: Int) -> Int? {
            var i = from
            while i < end {
                let c = b[i]
                if q == UInt8(ascii: "\"") && c == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if c == q {
                    if q == UInt8(ascii: "'") && i + 1 < end && b[i + 1] == q {
                        i += 2
                        continue
                    }
                    return i + 1
                }
                i += 1
            }
            return nil
        }

        func word(_ from: Int, _ end: Int) -> (String, Int) {
            var i = from
            while i < end, !isBlank(b[i]), !",[]{}".utf8.contains(b[i]) { i += 1 }
            return (String(decoding: b[from..<i], as: UTF8.self), i)
        }

        func indicatorFollows(_ i: Int, _ end: Int) -> Bool {
            i + 1 >= end || isBlank(b[i + 1]) || (flowDepth > 0 && ",[]{}".utf8.contains(b[i + 1]))
        }

        mutating func scanLine(_ start: Int, _ end: Int) -> Problem? {
            var i = start
            if quote != 0 {
                guard let after = closeQuote(quote, from: i, end) else { return nil }
                quote = 0
                state = .afterNode
                i = after
            }
            var indent = 0
            while i < end, b[i] == Scanner.space { i += 1; indent += 1 }
            var k = i
            while k < end, isBlank(b[k]) { k += 1 }
            if k == end { return nil }
            // Inside a block scalar: opaque text.
            if let threshold = blockScalarThreshold {
                if indent > threshold { return nil }
                blockScalarThreshold = nil
            }
            if flowDepth == 0 {
                if b[k] == Scanner.hash { return nil }
                let atDocumentMarker =
                    indent == 0 && end - i >= 3
                    && (b[i..<(i + 3)].elementsEqual("---".utf8) || b[i..<(i + 3)].elementsEqual("...".utf8))
                    && (end - i == 3 || isBlank(b[i + 3]))
                if atDocumentMarker { i += 3 }
                // A line that may continue a multi-line plain scalar: a quote at its start is text.
                if let parent = plainParentIndent, indent > parent {
                    state = .inPlain
                } else {
                    state = .expectNode
                }
                plainParentIndent = nil
            }
            return scanTokens(from: i, end, lineIndent: indent)
        }

        mutating func scanTokens(from start: Int, _ end: Int, lineIndent: Int) -> Problem? {
            var i = start
            var nodeColumn = lineIndent
            var keyColumn: Int?
            func column(_ index: Int) -> Int { index - start + lineIndent }
            func isFlowBracket(_ c: UInt8) -> Bool { "[]{}".utf8.contains(c) }
            while i < end {
                let c = b[i]
                if isBlank(c) {
                    i += 1
                    continue
                }
                switch state {
                case .expectNode:
                    if c == Scanner.hash { return nil }
                    if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                        if flowDepth == 0 && keyColumn == nil { keyColumn = column(i) }
                        guard let after = closeQuote(c, from: i + 1, end) else {
                            quote = c
                            return nil
                        }
                        i = after
                        state = .afterNode
                    } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                        flowDepth += 1
                        i += 1
                    } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                        flowDepth = max(0, flowDepth - 1)
                        i += 1
                        state = .afterNode
                    } else if c == UInt8(ascii: ",") && flowDepth > 0 {
                        i += 1
                    } else if c == UInt8(ascii: "*") {
                        let (name, after) = word(i + 1, end)
                        sawAlias = true
                        var j = after
                        while j < end, isBlank(b[j]) { j += 1 }
                        if j < end, b[j] == UInt8(ascii: ":"), collectionAnchors[name] == true {
                            return Problem(
                                line: line, column: column(i) + 1,
                                message: "the alias *\(name) names a list or mapping and is used as a mapping key",
                                hint: "Ansible cannot use a list or mapping as a key; write the key as a string")
                        }
                        i = after
                        state = .afterNode
                    } else if c == UInt8(ascii: "&") {
                        let (name, after) = word(i + 1, end)
                        var j = after
                        while j < end, isBlank(b[j]) { j += 1 }
                        collectionAnchors[name] =
                            j == end || b[j] == Scanner.hash || b[j] == UInt8(ascii: "[") || b[j] == UInt8(ascii: "{")
                        i = after
                    } else if c == UInt8(ascii: "!") {
                        i = word(i, end).1
                    } else if (c == UInt8(ascii: "|") || c == UInt8(ascii: ">")) && flowDepth == 0 {
                        // A block scalar: its content is every following line indented past its parent.
                        blockScalarThreshold = keyColumn ?? nodeColumn
                        return nil
                    } else if (c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":"))
                        && indicatorFollows(i, end)
                    {
                        if c == UInt8(ascii: "?") && complexKeyLine == 0 { complexKeyLine = line }
                        if flowDepth == 0 && c != UInt8(ascii: ":") {
                            nodeColumn = column(i)
                            keyColumn = nil
                        }
                        i += 1
                    } else {
                        state = .inPlain
                        if flowDepth == 0 && keyColumn == nil { keyColumn = column(i) }
                        i += 1
                    }
                case .inPlain:
                    if c == Scanner.hash && i > start && isBlank(b[i - 1]) { return nil }
                    if c == UInt8(ascii: ":") && indicatorFollows(i, end) {
                        state = .expectNode
                    } else if flowDepth > 0 {
                        if c == UInt8(ascii: ",") {
                            state = .expectNode
                        } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                            flowDepth -= 1
                            state = .afterNode
                        } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                            flowDepth += 1
                        }
                    }
                    i += 1
                case .afterNode:
                    if c == Scanner.hash { return nil }
                    if c == UInt8(ascii: ":") {
                        var back = i - 1
                        while back >= start, isBlank(b[back]) { back -= 1 }
                        if back >= start, isFlowBracket(b[back]), b[back] != UInt8(ascii: "["), b[back] != UInt8(ascii: "{"),
                            complexKeyLine == 0
                        {
                            complexKeyLine = line
                        }
                        state = .expectNode
                    } else if c == UInt8(ascii: ",") {
                        state = .expectNode
                    } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                        flowDepth = max(0, flowDepth - 1)
                    } else {
                        state = .inPlain
                    }
                    i += 1
                }
            }
            if state == .inPlain && flowDepth == 0 {
                // The plain scalar may go on over the next lines indented past its parent collection.
                plainParentIndent = keyColumn ?? nodeColumn
            }
            return nil
        }
    }
}
