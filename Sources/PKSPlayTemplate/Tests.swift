import Foundation
import PKSPlayCore

/// The test library (`x is defined`, `r is failed`, `v is version('2.0', '>=')`), Jinja's and Ansible's.
enum Tests {
    typealias Test = @Sendable (Operand, Arguments, Renderer) throws -> Bool

    static let table: [String: Test] = {
        var t: [String: Test] = [:]
        for group in [basic, comparisons, results, patterns, files] {
            t.merge(group) { first, _ in first }
        }
        return t
    }()

    /// A test on a defined value with Python-style parameters.
    static func plain(_ params: [String] = [], required: Int = 0,
                      _ body: @escaping @Sendable (Value, [Value?], Arguments) throws -> Bool) -> Test {
        { input, args, _ in try body(try input.get(), try args.values(params, required: required), args) }
    }

    static func resultDict(_ v: Value, _ args: Arguments) throws -> ValueDict {
        guard case .dict(let d) = v else { throw args.failure("the '\(args.callee)' test expects a dictionary (a registered task result)") }
        return d
    }

    static func failed(_ v: Value, _ a: Arguments) throws -> Bool { try resultDict(v, a)["failed"]?.isTruthy ?? false }

    static let basic: [String: Test] = [
        "defined": { input, args, _ in _ = try args.bind([]); return input.isDefined },
        "undefined": { input, args, _ in _ = try args.bind([]); return !input.isDefined },
        "none": plain { v, _, _ in v.isNull },
        "truthy": plain(["convert_bool"]) { v, p, _ in
            if p[0]?.isTruthy ?? false, let b = v.asBool { return b }
            return v.isTruthy
        },
        "falsy": plain(["convert_bool"]) { v, p, _ in
            if p[0]?.isTruthy ?? false, let b = v.asBool { return !b }
            return !v.isTruthy
        },
        "true": plain { v, _, _ in v == .bool(true) },
        "false": plain { v, _, _ in v == .bool(false) },
        "boolean": plain { v, _, _ in if case .bool = v { return true } else { return false } },
        "string": plain { v, _, _ in if case .string = v { return true } else { return false } },
        "number": plain { v, _, _ in Py.isNumber(v) },
        "integer": plain { v, _, _ in if case .int = v { return true } else { return false } },
        "float": plain { v, _, _ in if case .double = v { return true } else { return false } },
        "mapping": plain { v, _, _ in if case .dict = v { return true } else { return false } },
        "sequence": plain { v, _, _ in
            switch v {
            case .list, .string, .dict: return true
            default: return false
            }
        },
        "iterable": plain { v, _, _ in
            switch v {
            case .list, .string, .dict: return true
            default: return false
            }
        },
        "callable": plain { _, _, _ in false },
        "lower": plain { v, _, _ in
            guard case .string(let s) = v else { return false }
            return s.contains { $0.isCased } && !s.contains { $0.isUppercase }
        },
        "upper": plain { v, _, _ in
            guard case .string(let s) = v else { return false }
            return s.contains { $0.isCased } && !s.contains { $0.isLowercase }
        },
        "even": plain { v, _, a in
            guard let i = Py.asInt(v) else { throw a.failure("expects an integer, got \(Py.typeName(v))") }
            return i % 2 == 0
        },
        "odd": plain { v, _, a in
            guard let i = Py.asInt(v) else { throw a.failure("expects an integer, got \(Py.typeName(v))") }
            return i % 2 != 0
        },
        "divisibleby": plain(["num"], required: 1) { v, p, _ in
            Py.equals(try Py.binary(.mod, v, p[0]!), .int(0))
        },
        "any": plain { v, _, a in try Filters.iterable(v, a).contains { $0.isTruthy } },
        "all": plain { v, _, a in try Filters.iterable(v, a).allSatisfy { $0.isTruthy } },
        "nan": plain { v, _, _ in if case .double(let d) = v { return d.isNaN } else { return false } },
    ]

    private static func compare(_ op: CompareOperator) -> Test {
        plain(["other"], required: 1) { v, p, _ in try Py.compare(op, v, p[0]!) }
    }

    static let comparisons: [String: Test] = [
        "eq": compare(.eq), "equalto": compare(.eq), "==": compare(.eq),
        "ne": compare(.ne), "!=": compare(.ne),
        "lt": compare(.lt), "lessthan": compare(.lt), "<": compare(.lt),
        "gt": compare(.gt), "greaterthan": compare(.gt), ">": compare(.gt),
        "le": compare(.le), "<=": compare(.le),
        "ge": compare(.ge), ">=": compare(.ge),
        "in": plain(["seq"], required: 1) { v, p, _ in try Py.contains(p[0]!, v) },
        "contains": plain(["seq"], required: 1) { v, p, _ in try Py.contains(v, p[0]!) },
        "sameas": plain(["other"], required: 1) { v, p, _ in
            // Python identity: singletons and equal scalars of the same type; containers are never the same object here.
            switch (v, p[0]!) {
            case (.null, .null): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.int(let a), .int(let b)): return a == b
            case (.string(let a), .string(let b)): return a == b
            default: return false
            }
        },
        "subset": plain(["superset"], required: 1) { v, p, a in
            let big = Set(try Filters.iterable(p[0]!, a).map(PyKey.init))
            return try Filters.iterable(v, a).allSatisfy { big.contains(PyKey($0)) }
        },
        "superset": plain(["subset"], required: 1) { v, p, a in
            let big = Set(try Filters.iterable(v, a).map(PyKey.init))
            return try Filters.iterable(p[0]!, a).allSatisfy { big.contains(PyKey($0)) }
        },
        "version": versionTest,
        "version_compare": versionTest,
    ]

    private static let versionTest: Test = plain(["version", "operator", "strict", "version_type"], required: 1) { v, p, a in
        let op = p[1].map(Py.str) ?? "eq"
        var type = p[3].flatMap { $0.isNull ? nil : Py.str($0) } ?? "loose"
        if p[2]?.isTruthy ?? false {
            if p[3] != nil, !(p[3]!.isNull) { throw a.failure("strict and version_type cannot both be given") }
            type = "strict"
        }
        let left = Py.str(v), right = Py.str(p[0]!)
        guard !left.isEmpty else { throw a.failure("input version value cannot be empty") }
        guard !right.isEmpty else { throw a.failure("version value cannot be empty") }
        return try VersionComparison.compare(left, right, op: op, type: type)
    }

    static let results: [String: Test] = [
        "failed": plain { v, _, a in try failed(v, a) },
        "failure": plain { v, _, a in try failed(v, a) },
        "succeeded": plain { v, _, a in !(try failed(v, a)) },
        "success": plain { v, _, a in !(try failed(v, a)) },
        "successful": plain { v, _, a in !(try failed(v, a)) },
        "unreachable": plain { v, _, a in try resultDict(v, a)["unreachable"]?.isTruthy ?? false },
        "reachable": plain { v, _, a in !(try resultDict(v, a)["unreachable"]?.isTruthy ?? false) },
        "changed": plain { v, _, a in try changed(v, a) },
        "change": plain { v, _, a in try changed(v, a) },
        "skipped": plain { v, _, a in try resultDict(v, a)["skipped"]?.isTruthy ?? false },
        "skip": plain { v, _, a in try resultDict(v, a)["skipped"]?.isTruthy ?? false },
        "finished": plain { v, _, a in try resultDict(v, a)["finished"]?.isTruthy ?? true },
        "started": plain { v, _, a in try resultDict(v, a)["started"]?.isTruthy ?? true },
    ]

    /// Ansible's `changed`: the result's flag, or any changed item of a loop's `results`.
    private static func changed(_ v: Value, _ a: Arguments) throws -> Bool {
        let d = try resultDict(v, a)
        if let c = d["changed"] { return c.isTruthy }
        if case .list(let items)? = d["results"], case .dict? = items.first {
            return items.contains { $0.dictValue?["changed"]?.isTruthy ?? false }
        }
        return false
    }

    private static func regexTest(_ defaultType: String) -> Test {
        plain(["pattern", "ignorecase", "multiline", "match_type"]) { v, p, a in
            let s = Py.str(v)
            let regex = try PythonRegex.compile(Py.str(p[0] ?? ""), ignoreCase: p[1]?.isTruthy ?? false, multiline: p[2]?.isTruthy ?? false)
            switch try a.string(p[3], "match_type") ?? defaultType {
            case "match": return regex.firstMatch(in: s, anchored: true) != nil
            case "search": return regex.firstMatch(in: s) != nil
            case "fullmatch": return regex.fullMatch(s)
            case let other: throw a.failure("match_type must be match, search or fullmatch, not '\(other)'")
            }
        }
    }

    static let patterns: [String: Test] = [
        "match": regexTest("match"),
        "search": regexTest("search"),
        "regex": regexTest("search"),
    ]

    private static func fileTest(_ check: @escaping @Sendable (String) -> Bool) -> Test {
        plain { v, _, _ in check(Py.str(v)) }
    }

    static let files: [String: Test] = [
        "exists": fileTest { FileManager.default.fileExists(atPath: $0) },
        "file": fileTest { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        },
        "directory": fileTest { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        },
        "link": fileTest { path in (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil },
        "abs": fileTest { $0.hasPrefix("/") },
        "is_file": fileTest { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        },
        "is_dir": fileTest { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        },
        "is_link": fileTest { path in (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil },
        "is_abs": fileTest { $0.hasPrefix("/") },
    ]
}
