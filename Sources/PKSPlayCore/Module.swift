import Foundation
import Logging

/// A task module: declares its arguments, reads state through a ``Connection``, decides, and in
/// check mode stops there; otherwise it records the undo of each change before making it.
///
/// Modules are stateless types: the engine calls the static functions with a fresh context.
public protocol Module: Sendable {
    /// The short name users write (`copy`); `ansible.builtin.copy` and `pksplay.copy` also reach it.
    static var name: String { get }
    /// Other names that reach this module (`shell` has none; `postgresql_query` may take `postgresql_sql`).
    static var aliases: [String] { get }
    /// Arguments, checked when the playbook loads and again after templating.
    static var arguments: ArgumentSpec { get }
    /// One-line summary and an example, for `pksplay modules NAME`.
    static var documentation: ModuleDocumentation { get }
    /// Whether the module runs on the control machine only (debug, set_fact, assert).
    static var runsOnController: Bool { get }
    /// Does the work (or, in check mode, predicts it).
    static func run(_ context: ModuleContext) async throws -> ModuleResult
    /// Reverses one change this module recorded. The default says the change cannot be undone.
    static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult
}

extension Module {
    public static var aliases: [String] { [] }
    public static var runsOnController: Bool { false }
    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        ModuleResult(failed: true, msg: "\(name) cannot undo '\(record.summary)'")
    }
}

/// What `pksplay modules NAME` prints.
public struct ModuleDocumentation: Sendable {
    public var summary: String
    public var example: String
    public var notes: [String]
    public init(summary: String, example: String, notes: [String] = []) {
        self.summary = summary
        self.example = example
        self.notes = notes
    }
}

/// An explicit list of the modules a run knows; no reflection.
public struct ModuleRegistry: Sendable {
    private var byName: [String: any Module.Type] = [:]
    public private(set) var modules: [any Module.Type] = []

    public init(_ modules: [any Module.Type] = []) {
        for m in modules { register(m) }
    }

    public mutating func register(_ module: any Module.Type) {
        modules.append(module)
        for n in [module.name] + module.aliases {
            byName[n] = module
            byName["ansible.builtin.\(n)"] = module
            byName["ansible.legacy.\(n)"] = module
            byName["pksplay.\(n)"] = module
        }
    }

    /// The module for a name as written in a playbook, FQCN or short.
    public func module(named name: String) -> (any Module.Type)? {
        if let m = byName[name] { return m }
        // community.general.x, community.postgresql.postgresql_query ...: the last part decides.
        if name.contains("."), let last = name.split(separator: ".").last { return byName[String(last)] }
        return nil
    }

    public var names: [String] { modules.map { $0.name }.sorted() }
    public var allNames: [String] { Array(byName.keys) }
}

/// Everything a module may use while it runs. Built by the engine per task and host.
public struct ModuleContext: Sendable {
    /// Arguments after templating and validation, defaults filled in, `omit`ted ones gone.
    public var args: ValueDict
    /// The host's connection (after `become`, `delegate_to` and `environment` are applied).
    public var connection: any Connection
    public var host: String
    public var checkMode: Bool
    public var diffMode: Bool
    /// `-v` count.
    public var verbosity: Int
    public var logger: Logger
    /// Evaluates a raw expression (`ansible_os_family == "Debian"`) with the task's variables.
    public var evaluate: @Sendable (String) throws -> Value
    /// Renders a template text (`{{ }}`, `{% %}`) with the task's variables.
    public var render: @Sendable (String) throws -> String
    /// Finds a file named by a task on the control machine (`files/`, `templates/`, role folders,
    /// the playbook's folder), or `nil`.
    public var findFile: @Sendable (_ name: String, _ kind: ControlFileKind) -> String?
    /// Writes the undo of a change to the journal; a module calls it before applying the change,
    /// so a run killed at any instant can be rolled back.
    public var willChange: @Sendable (UndoRecord) async throws -> Void
    /// Shows a line of progress now (a long clone), outside the task's result.
    public var progress: @Sendable (String) -> Void

    public init(
        args: ValueDict, connection: any Connection, host: String, checkMode: Bool = false, diffMode: Bool = false,
        verbosity: Int = 0, logger: Logger = Logger(label: "pksplay"),
        evaluate: @escaping @Sendable (String) throws -> Value = { _ in .null },
        render: @escaping @Sendable (String) throws -> String = { $0 },
        findFile: @escaping @Sendable (String, ControlFileKind) -> String? = { _, _ in nil },
        willChange: @escaping @Sendable (UndoRecord) async throws -> Void = { _ in },
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.args = args
        self.connection = connection
        self.host = host
        self.checkMode = checkMode
        self.diffMode = diffMode
        self.verbosity = verbosity
        self.logger = logger
        self.evaluate = evaluate
        self.render = render
        self.findFile = findFile
        self.willChange = willChange
        self.progress = progress
    }

    // Typed argument access; the spec guarantees the types, so these only read.
    public func string(_ key: String) -> String? {
        switch args[key] {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .double(let d)?: return Value.formatDouble(d)
        case .bool(let b)?: return b ? "True" : "False"
        default: return nil
        }
    }
    public func bool(_ key: String) -> Bool? { args[key]?.asBool }
    public func int(_ key: String) -> Int? {
        if let i = args[key]?.intValue { return i }
        if let s = args[key]?.stringValue { return Int(s) }
        return nil
    }
    public func double(_ key: String) -> Double? {
        switch args[key] {
        case .int(let i)?: return Double(i)
        case .double(let d)?: return d
        case .string(let s)?: return Double(s)
        default: return nil
        }
    }
    public func list(_ key: String) -> [Value]? { args[key]?.listValue }
    public func stringList(_ key: String) -> [String]? { args[key]?.listValue?.map(\.stringified) }
}

public enum ControlFileKind: String, Sendable { case files, templates, vars, tasks }

/// What a module reports: the fields Ansible users read in `register`ed results, plus diffs and undo.
public struct ModuleResult: Sendable {
    public var changed: Bool
    public var failed: Bool
    public var skipped: Bool
    public var msg: String?
    /// Module-specific result fields (`rc`, `stdout`, `path`, `rows` ...), as registered.
    public var values: ValueDict
    public var diffs: [FileDiff]
    public var warnings: [String]
    /// Facts to store for the host: `set_fact`, `include_vars`, gathered facts.
    public var facts: ValueDict?
    /// Whether `facts` come from set_fact/include_vars precedence (true) or are gathered facts.
    public var factsAreSetFact: Bool

    public init(
        changed: Bool = false, failed: Bool = false, skipped: Bool = false, msg: String? = nil,
        values: ValueDict = [:], diffs: [FileDiff] = [], warnings: [String] = [], facts: ValueDict? = nil,
        factsAreSetFact: Bool = true
    ) {
        self.changed = changed
        self.failed = failed
        self.skipped = skipped
        self.msg = msg
        self.values = values
        self.diffs = diffs
        self.warnings = warnings
        self.facts = facts
        self.factsAreSetFact = factsAreSetFact
    }

    public static func failure(_ msg: String, values: ValueDict = [:]) -> ModuleResult {
        ModuleResult(failed: true, msg: msg, values: values)
    }
}

/// A before/after pair for `--diff`: file text, or a one-line state such as a mode or a setting.
public struct FileDiff: Sendable, Hashable {
    public var beforeHeader: String
    public var afterHeader: String
    public var before: String
    public var after: String

    public init(beforeHeader: String, afterHeader: String, before: String, after: String) {
        self.beforeHeader = beforeHeader
        self.afterHeader = afterHeader
        self.before = before
        self.after = after
    }

    public var asValue: Value {
        .dict(["before_header": .string(beforeHeader), "after_header": .string(afterHeader),
               "before": .string(before), "after": .string(after)])
    }
}

/// How to reverse one change, as data: the module that made it reads `data` back at rollback.
/// Never put a secret here; the journal is written to disk.
public struct UndoRecord: Sendable, Hashable, Codable {
    /// The module whose `undo` reverses it (`copy`, `postgresql_user`, or `tasks` for a task-level `undo:`).
    public var module: String
    /// What the undo does, in words (`restore /srv/pks/db/pg_hba.conf (1.2 kB)`).
    public var summary: String
    /// Module-specific: prior content (base64), prior mode, a path to remove, a role to drop ...
    public var data: Value

    public init(module: String, summary: String, data: Value) {
        self.module = module
        self.summary = summary
        self.data = data
    }
}

extension Value: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let l = try? c.decode([Value].self) { self = .list(l) }
        else {
            // Key order is lost through Codable; journals only need the values back.
            let d = try c.decode([String: Value].self)
            self = .dict(ValueDict(d.keys.sorted().map { ($0, d[$0]!) }))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .list(let l): try c.encode(l)
        case .dict(let d): try c.encode(Dictionary(uniqueKeysWithValues: d.map { ($0.key, $0.value) }))
        }
    }
}
