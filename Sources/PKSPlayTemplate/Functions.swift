import Foundation
import PKSPlayCore

/// Global functions callable in templates: `range()`, `lookup()`, `query()`/`q()`, `dict()`, `namespace()`, `now()`, `undef()`.
enum Functions {
    typealias Function = @Sendable (Arguments, Renderer) throws -> Operand

    /// Jinja's sandbox bound on `range()`.
    static let maxRange = 100_000

    static let table: [String: Function] = [
        "range": range,
        "lookup": { args, r in try callLookup(args, r, wantList: false) },
        "query": { args, r in try callLookup(args, r, wantList: true) },
        "q": { args, r in try callLookup(args, r, wantList: true) },
        "dict": makeDict,
        "namespace": makeDict,
        "now": now,
        "undef": { args, _ in
            let hint = try args.values(["hint"])[0]
            return .undefined(Undefined(name: nil, message: hint.map(Py.str) ?? "an undefined value was used"))
        },
    ]

    private static func range(_ args: Arguments, _ r: Renderer) throws -> Operand {
        try args.rejectKeywords()
        let ints = try args.positional.map { op -> Int in
            let v = try op.get()
            guard let i = Py.asInt(v) else { throw args.failure("'\(Py.typeName(v))' object cannot be interpreted as an integer") }
            return i
        }
        let (start, stop, step): (Int, Int, Int)
        switch ints.count {
        case 1: (start, stop, step) = (0, ints[0], 1)
        case 2: (start, stop, step) = (ints[0], ints[1], 1)
        case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
        default: throw args.failure("expected 1 to 3 arguments, got \(ints.count)")
        }
        guard step != 0 else { throw args.failure("arg 3 must not be zero") }
        let count: Int
        if step > 0 {
            count = stop > start ? (stop.subtractingReportingOverflow(start).partialValue - 1) / step + 1 : 0
        } else {
            count = start > stop ? (start.subtractingReportingOverflow(stop).partialValue - 1) / (-step) + 1 : 0
        }
        guard count >= 0, count <= maxRange else {
            throw TemplateError(.limit, "range() would produce more than \(maxRange) items", name: "range")
        }
        return .value(.list((0..<count).map { .int(start + $0 * step) }))
    }

    private static func makeDict(_ args: Arguments, _ r: Renderer) throws -> Operand {
        var d = ValueDict()
        guard args.positional.count <= 1 else { throw args.failure("expected at most 1 positional argument") }
        if let first = args.positional.first {
            switch try first.get() {
            case .dict(let given): d = given
            case .list(let pairs):
                for pair in pairs {
                    guard case .list(let kv) = pair, kv.count == 2 else {
                        throw args.failure("each item must be a [key, value] pair")
                    }
                    d[Py.str(kv[0])] = kv[1]
                }
            case let other: throw args.failure("cannot build a dict from \(Py.typeName(other))")
            }
        }
        for (k, v) in args.keywords { d[k] = try v.get() }
        return .value(.dict(d))
    }

    private static func now(_ args: Arguments, _ r: Renderer) throws -> Operand {
        let p = try args.values(["utc", "fmt"])
        let utc = try args.bool(p[0], "utc") ?? false
        let format = try args.string(p[1], "fmt") ?? "%Y-%m-%d %H:%M:%S.%f"
        return .value(.string(Strftime.format(Date(), format, utc: utc)))
    }

    private static func callLookup(_ args: Arguments, _ r: Renderer, wantList forced: Bool) throws -> Operand {
        guard let first = args.positional.first else { throw args.failure("missing the lookup plugin name") }
        guard case .string(let name) = try first.get() else { throw args.failure("the lookup name must be a string") }
        let plugin = Parser.canonicalPluginName(name)
        var kwargs = ValueDict()
        var wantList = forced
        var errors = "strict"
        for (k, v) in args.keywords {
            let value = try v.get()
            switch k {
            case "wantlist": wantList = forced || value.isTruthy
            case "errors": errors = Py.str(value)
            default: kwargs[k] = value
            }
        }
        let terms = try args.positional.dropFirst().map { try $0.get() }
        guard let provider = r.lookups else {
            throw TemplateError(.lookup, "lookup('\(plugin)') is not available here: no lookup plugins were configured", name: plugin)
        }
        let result: Value
        do {
            result = try provider.lookup(plugin, terms, kwargs, r.currentScope)
        } catch let error as TemplateError {
            if errors == "ignore" || errors == "warn" { return .value(wantList ? .list([]) : .null) }
            if error.kind == .lookup || error.kind == .undefined { throw error }
            throw TemplateError(.lookup, "lookup('\(plugin)') failed: \(error.message)", name: plugin, hint: error.hint)
        } catch {
            if errors == "ignore" || errors == "warn" { return .value(wantList ? .list([]) : .null) }
            throw TemplateError(.lookup, "lookup('\(plugin)') failed: \(error)", name: plugin)
        }
        let list = result.listValue ?? [result]
        if wantList { return .value(.list(list)) }
        if list.isEmpty { return .value(.list([])) }
        if list.count == 1 { return .value(list[0]) }
        let strings = list.compactMap(\.stringValue)
        return .value(strings.count == list.count ? .string(strings.joined(separator: ",")) : .list(list))
    }
}

/// Methods on values that playbooks call: `d.items()`, `s.split(',')`, `s.startswith('x')`, ...
enum Methods {
    static func call(_ target: Value, _ name: String, _ args: Arguments) throws -> Value {
        switch target {
        case .dict(let d):
            if let v = try dictMethod(d, name, args) { return v }
        case .list(let l):
            if let v = try listMethod(l, name, args) { return v }
        case .string(let s):
            if let v = try stringMethod(s, name, args) { return v }
        default:
            break
        }
        if case .dict(let d) = target, d.contains(name) {
            throw TemplateError.type("'\(Py.typeName(d[name]!))' object is not callable")
        }
        let known: [String]
        switch target {
        case .dict: known = dictMethods
        case .list: known = listMethods
        case .string: known = stringMethods
        default: known = []
        }
        let hint = closestMatch(to: name, in: known).map { "did you mean '\($0)()'?" }
        throw TemplateError(.unknownFunction, "object of type '\(Py.typeName(target))' has no method '\(name)'", name: name, hint: hint)
    }

    static let dictMethods = ["items", "keys", "values", "get", "copy"]
    static let listMethods = ["index", "count", "copy"]
    static let stringMethods = [
        "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip", "startswith", "endswith", "lower", "upper", "title",
        "capitalize", "replace", "find", "rfind", "index", "count", "join", "isdigit", "isalpha", "isalnum", "isspace",
        "islower", "isupper", "zfill", "ljust", "rjust", "center", "casefold", "swapcase", "removeprefix", "removesuffix",
        "partition", "rpartition", "format",
    ]

    private static func dictMethod(_ d: ValueDict, _ name: String, _ args: Arguments) throws -> Value? {
        switch name {
        case "items":
            _ = try args.bind([])
            return .list(d.map { .list([.string($0.key), $0.value]) })
        case "keys":
            _ = try args.bind([])
            return .list(d.keys.map(Value.string))
        case "values":
            _ = try args.bind([])
            return .list(d.values)
        case "get":
            let p = try args.values(["key", "default"], required: 1)
            return d[Py.str(p[0]!)] ?? p[1] ?? .null
        case "copy":
            _ = try args.bind([])
            return .dict(d)
        case "cycle":
            // `loop.cycle('odd', 'even')`: the loop variable is a dict, so its one method lives here.
            guard case .int(let index)? = d["index0"], d["length"] != nil else { return nil }
            try args.rejectKeywords()
            guard !args.positional.isEmpty else { throw args.failure("no items for cycling given") }
            return try args.positional[index % args.positional.count].get()
        default: return nil
        }
    }

    private static func listMethod(_ l: [Value], _ name: String, _ args: Arguments) throws -> Value? {
        switch name {
        case "index":
            let p = try args.values(["value"], required: 1)
            guard let i = l.firstIndex(where: { Py.equals($0, p[0]!) }) else {
                throw TemplateError.type("\(p[0]!.pythonRepr) is not in list")
            }
            return .int(i)
        case "count":
            let p = try args.values(["value"], required: 1)
            return .int(l.filter { Py.equals($0, p[0]!) }.count)
        case "copy":
            return .list(l)
        default: return nil
        }
    }

    private static func stringMethod(_ s: String, _ name: String, _ args: Arguments) throws -> Value? {
        switch name {
        case "split", "rsplit":
            let p = try args.values(["sep", "maxsplit"])
            let sep = p[0].flatMap { $0.isNull ? nil : Py.str($0) }
            let maxsplit = try args.int(p[1], "maxsplit") ?? -1
            if sep == "" { throw args.failure("empty separator") }
            return .list(StringOps.split(s, separator: sep, maxSplit: maxsplit, fromRight: name == "rsplit").map(Value.string))
        case "splitlines":
            let p = try args.values(["keepends"])
            return .list(StringOps.splitLines(s, keepEnds: p[0]?.isTruthy ?? false).map(Value.string))
        case "strip", "lstrip", "rstrip":
            let p = try args.values(["chars"])
            let chars = p[0].flatMap { $0.isNull ? nil : Py.str($0) }
            return .string(StringOps.strip(s, chars: chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "startswith", "endswith":
            let p = try args.values(["prefix", "start", "end"], required: 1)
            let candidates: [String]
            switch p[0]! {
            case .string(let x): candidates = [x]
            case .list(let xs): candidates = xs.map(Py.str)
            case let other: throw args.failure("argument must be str or a list of str, not \(Py.typeName(other))")
            }
            let u = Py.scalars(s)
            let idx = try Py.sliceIndices(count: u.count, start: try args.int(p[1], "start"), stop: try args.int(p[2], "end"), step: 1)
            let sub = Py.string(idx.map { u[$0] })
            return .bool(candidates.contains { name == "startswith" ? sub.unicodeScalars.starts(with: $0.unicodeScalars) : Array(sub.unicodeScalars).reversed().starts(with: Array($0.unicodeScalars).reversed()) })
        case "lower", "casefold": _ = try args.bind([]); return .string(s.lowercased())
        case "upper": _ = try args.bind([]); return .string(s.uppercased())
        case "swapcase":
            _ = try args.bind([])
            return .string(String(s.map { c in c.isUppercase ? Character(c.lowercased()) : Character(c.uppercased()) }))
        case "title": _ = try args.bind([]); return .string(StringOps.pythonTitle(s))
        case "capitalize": _ = try args.bind([]); return .string(StringOps.capitalize(s))
        case "replace":
            let p = try args.values(["old", "new", "count"], required: 2)
            return .string(StringOps.replace(s, Py.str(p[0]!), Py.str(p[1]!), count: try args.int(p[2], "count") ?? -1))
        case "find", "rfind", "index":
            let p = try args.values(["sub"], required: 1)
            let found = StringOps.find(s, Py.str(p[0]!), fromRight: name == "rfind")
            if name == "index", found < 0 { throw TemplateError.type("substring not found") }
            return .int(found)
        case "count":
            let p = try args.values(["sub"], required: 1)
            let sub = Py.str(p[0]!)
            if sub.isEmpty { return .int(s.unicodeScalars.count + 1) }
            return .int(s.components(separatedBy: sub).count - 1)
        case "join":
            let p = try args.values(["iterable"], required: 1)
            let items = try Py.iterate(p[0]!)
            for item in items where item.stringValue == nil {
                throw TemplateError.type("sequence item: expected str instance, \(Py.typeName(item)) found")
            }
            return .string(items.map(Py.str).joined(separator: s))
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isWhitespace })
        case "islower": return .bool(s.contains { $0.isCased } && !s.contains { $0.isUppercase })
        case "isupper": return .bool(s.contains { $0.isCased } && !s.contains { $0.isLowercase })
        case "zfill":
            let p = try args.values(["width"], required: 1)
            let width = try args.int(p[0], "width") ?? 0
            let u = Py.scalars(s)
            guard u.count < width else { return .string(s) }
            let pad = String(repeating: "0", count: min(width - u.count, Py.maxBuiltSize))
            if let first = u.first, first == "-" || first == "+" { return .string(String(first) + pad + Py.string(u.dropFirst())) }
            return .string(pad + s)
        case "ljust", "rjust", "center":
            let p = try args.values(["width", "fillchar"], required: 1)
            let width = min(try args.int(p[0], "width") ?? 0, Py.maxBuiltSize)
            let fill = p[1].map(Py.str) ?? " "
            let n = s.unicodeScalars.count
            guard n < width else { return .string(s) }
            let total = width - n
            switch name {
            case "ljust": return .string(s + String(repeating: fill, count: total))
            case "rjust": return .string(String(repeating: fill, count: total) + s)
            default:
                let left = total / 2 + (total & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: total - left))
            }
        case "removeprefix":
            let p = try args.values(["prefix"], required: 1)
            let x = Py.str(p[0]!)
            return .string(s.hasPrefix(x) ? String(s.dropFirst(x.count)) : s)
        case "removesuffix":
            let p = try args.values(["suffix"], required: 1)
            let x = Py.str(p[0]!)
            return .string(s.hasSuffix(x) && !x.isEmpty ? String(s.dropLast(x.count)) : s)
        case "partition", "rpartition":
            let p = try args.values(["sep"], required: 1)
            let sep = Py.str(p[0]!)
            guard !sep.isEmpty else { throw args.failure("empty separator") }
            let range = name == "partition" ? s.range(of: sep) : s.range(of: sep, options: .backwards)
            guard let range else {
                return name == "partition" ? .list([.string(s), "", ""]) : .list(["", "", .string(s)])
            }
            return .list([.string(String(s[..<range.lowerBound])), .string(sep), .string(String(s[range.upperBound...]))])
        case "format":
            throw TemplateError(.unknownFunction, "str.format() is not supported", name: "format",
                                hint: "use the ~ operator or the format filter: '%s-%s' | format(a, b)")
        default: return nil
        }
    }
}
