import Foundation

/// The type an argument takes; values are coerced the way Ansible coerces module arguments.
public indirect enum ArgumentType: Sendable, Hashable, CustomStringConvertible {
    case string, int, float, bool, path, raw, dict
    /// A file mode: octal string (`"0644"`), int, or symbolic (`u+rwx,g-w`). Kept as given.
    case mode
    /// A list; a comma-separated string is split, as Ansible does.
    case list(ArgumentType)
    /// A string or a list of strings (`command`'s `argv`, `notify`).
    case stringOrList

    public var description: String {
        switch self {
        case .string: return "str"
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .path: return "path"
        case .raw: return "raw"
        case .dict: return "dict"
        case .mode: return "mode"
        case .list(let e): return "list of \(e)"
        case .stringOrList: return "str or list"
        }
    }
}

/// One argument of a module.
public struct Argument: Sendable {
    public var name: String
    public var type: ArgumentType
    public var required: Bool
    public var defaultValue: Value?
    public var choices: [String]?
    public var aliases: [String]
    /// Never printed, never journaled (passwords).
    public var noLog: Bool
    public var help: String

    public init(
        _ name: String, _ type: ArgumentType = .string, required: Bool = false, default defaultValue: Value? = nil,
        choices: [String]? = nil, aliases: [String] = [], noLog: Bool = false, help: String = ""
    ) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.choices = choices
        self.aliases = aliases
        self.noLog = noLog
        self.help = help
    }
}

/// A module's arguments and the rules between them.
public struct ArgumentSpec: Sendable {
    public var arguments: [Argument]
    /// The argument that receives the free-form text (`command: ls -l` → `cmd`), if any.
    public var freeForm: String?
    public var mutuallyExclusive: [[String]]
    public var requiredOneOf: [[String]]
    public var requiredTogether: [[String]]
    /// (argument, value, then these are required): `state=link` needs `src`.
    public var requiredIf: [(String, Value, [String])]
    /// Accept unknown arguments (set_fact, include_vars take any name).
    public var acceptsAnyArgument: Bool

    public init(
        _ arguments: [Argument], freeForm: String? = nil, mutuallyExclusive: [[String]] = [],
        requiredOneOf: [[String]] = [], requiredTogether: [[String]] = [], requiredIf: [(String, Value, [String])] = [],
        acceptsAnyArgument: Bool = false
    ) {
        self.arguments = arguments
        self.freeForm = freeForm
        self.mutuallyExclusive = mutuallyExclusive
        self.requiredOneOf = requiredOneOf
        self.requiredTogether = requiredTogether
        self.requiredIf = requiredIf
        self.acceptsAnyArgument = acceptsAnyArgument
    }

    public func argument(named name: String) -> Argument? {
        arguments.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// Names of the arguments whose values must never be shown.
    public var secretNames: Set<String> { Set(arguments.filter(\.noLog).map(\.name)) }

    /// One problem with a set of arguments; `argument` is `nil` for a rule between several.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var argument: String?
        public var message: String
        public var hint: String?
        public var description: String { message }
    }

    /// Checks and coerces `args`. With `partial`, values still holding `{{ }}` are left for later
    /// (at load time) and `required` is judged on presence alone.
    public func validate(_ args: ValueDict, partial: Bool = false) -> (ValueDict, [Problem]) {
        var out = ValueDict()
        var problems: [Problem] = []
        for (key, value) in args {
            guard let arg = argument(named: key) else {
                if acceptsAnyArgument { out[key] = value; continue }
                let names = arguments.flatMap { [$0.name] + $0.aliases }
                let suggestion = closestMatch(to: key, in: names)
                problems.append(Problem(
                    argument: key, message: "unsupported argument '\(key)'",
                    hint: suggestion.map { "did you mean '\($0)'?" } ?? "supported: \(arguments.map(\.name).sorted().joined(separator: ", "))"))
                continue
            }
            if out.contains(arg.name) {
                problems.append(Problem(argument: key, message: "argument '\(arg.name)' given twice (as '\(key)')", hint: "keep one of them"))
                continue
            }
            if partial && Self.isTemplated(value) { out[arg.name] = value; continue }
            switch Self.coerce(value, to: arg.type) {
            case .success(let v):
                if let choices = arg.choices, !v.isNull, !choices.contains(v.stringified) {
                    problems.append(Problem(
                        argument: arg.name, message: "value of '\(arg.name)' must be one of: \(choices.joined(separator: ", ")); got '\(arg.noLog ? "********" : v.stringified)'",
                        hint: closestMatch(to: v.stringified, in: choices).map { "did you mean '\($0)'?" }))
                } else {
                    out[arg.name] = v
                }
            case .failure(let p):
                problems.append(Problem(argument: arg.name, message: "argument '\(arg.name)' is of type \(value.typeName) and cannot be converted to \(arg.type): \(p)", hint: "write a \(arg.type) value"))
            }
        }
        for arg in arguments where !out.contains(arg.name) {
            if arg.required {
                problems.append(Problem(argument: arg.name, message: "missing required argument '\(arg.name)'", hint: "add '\(arg.name): ...' to the task"))
            } else if let d = arg.defaultValue {
                out[arg.name] = d
            }
        }
        let given = Set(args.keys.compactMap { argument(named: $0)?.name })
        for group in mutuallyExclusive {
            let both = group.filter(given.contains)
            if both.count > 1 { problems.append(Problem(argument: nil, message: "arguments are mutually exclusive: \(both.joined(separator: ", "))", hint: "keep one of them")) }
        }
        for group in requiredOneOf where !group.contains(where: given.contains) {
            problems.append(Problem(argument: nil, message: "one of the following is required: \(group.joined(separator: ", "))", hint: nil))
        }
        for group in requiredTogether {
            let present = group.filter(given.contains)
            if !present.isEmpty && present.count != group.count {
                problems.append(Problem(argument: nil, message: "arguments must be given together: \(group.joined(separator: ", "))", hint: nil))
            }
        }
        for (name, value, needed) in requiredIf {
            guard let v = out[name], !(partial && Self.isTemplated(v)), v.stringified == value.stringified else { continue }
            let missing = needed.filter { !given.contains($0) }
            if !missing.isEmpty {
                problems.append(Problem(argument: nil, message: "\(name) is \(value.stringified) but the following are missing: \(missing.joined(separator: ", "))", hint: nil))
            }
        }
        return (out, problems)
    }

    static func isTemplated(_ v: Value) -> Bool {
        switch v {
        case .string(let s): return s.contains("{{") || s.contains("{%")
        case .list(let l): return l.contains(where: isTemplated)
        case .dict(let d): return d.values.contains(where: isTemplated)
        default: return false
        }
    }

    public struct CoercionError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Converts a value the way Ansible's argument spec does: `"5"` to 5 for an int, `yes` to true.
    public static func coerce(_ value: Value, to type: ArgumentType) -> Result<Value, CoercionError> {
        func fail(_ s: String) -> Result<Value, CoercionError> { .failure(CoercionError(description: s)) }
        if value.isNull { return .success(.null) }
        switch type {
        case .raw: return .success(value)
        case .string, .path:
            switch value {
            case .string, .int, .double, .bool: return .success(.string(value.stringified))
            default: return fail("a \(value.typeName) is not a string")
            }
        case .mode:
            switch value {
            case .string, .int: return .success(value)
            default: return fail("a mode is an octal string such as '0644' or symbolic such as 'u+rw'")
            }
        case .int:
            switch value {
            case .int: return .success(value)
            case .double(let d) where d == d.rounded(): return .success(.int(Int(d)))
            case .string(let s):
                if let i = Int(s.trimmingCharacters(in: .whitespaces)) { return .success(.int(i)) }
                return fail("'\(s)' is not a whole number")
            default: return fail("not a whole number")
            }
        case .float:
            switch value {
            case .int(let i): return .success(.double(Double(i)))
            case .double: return .success(value)
            case .string(let s):
                if let d = Double(s.trimmingCharacters(in: .whitespaces)) { return .success(.double(d)) }
                return fail("'\(s)' is not a number")
            default: return fail("not a number")
            }
        case .bool:
            if let b = value.asBool { return .success(.bool(b)) }
            return fail("'\(value.stringified)' is not a boolean (use true or false)")
        case .dict:
            switch value {
            case .dict: return .success(value)
            case .string(let s):
                // Ansible accepts k=v,k2=v2 and JSON text for dict arguments.
                if let j = try? Value.parseJSON(s), case .dict = j { return .success(j) }
                var d = ValueDict()
                for part in s.split(separator: ",") {
                    let kv = part.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { return fail("'\(s)' is not a dictionary") }
                    d[kv[0].trimmingCharacters(in: .whitespaces)] = .string(kv[1].trimmingCharacters(in: .whitespaces))
                }
                return .success(.dict(d))
            default: return fail("not a dictionary")
            }
        case .list(let elem):
            let items: [Value]
            switch value {
            case .list(let l): items = l
            case .string(let s): items = s.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }
            case .int, .double, .bool: items = [value]
            case .dict: return fail("a dictionary is not a list")
            case .null: items = []
            }
            var out: [Value] = []
            for it in items {
                switch coerce(it, to: elem) {
                case .success(let v): out.append(v)
                case .failure(let e): return fail("item '\(it.stringified)': \(e)")
                }
            }
            return .success(.list(out))
        case .stringOrList:
            switch value {
            case .list(let l): return .success(.list(l.map { .string($0.stringified) }))
            case .dict: return fail("a dictionary is neither a string nor a list")
            default: return .success(.string(value.stringified))
            }
        }
    }
}
