import Foundation
import PKSPlayCore

/// Executes parsed templates and evaluates expressions for one render call; not shared between threads.
final class Renderer {
    /// Total loop iterations allowed in one render, so nested loops over large ranges end with an error, not a hang.
    static let maxIterations = 1_000_000
    /// Largest output one render may produce.
    static let maxOutputBytes = 64 * 1024 * 1024

    let scope: any VariableScope
    let lookups: (any LookupProvider)?
    /// Ansible renders template-looking string constants inside conditionals (`when: x == '{{ y }}'`).
    let renderConstantTemplates: Bool
    /// Template locals; `{% set y = x %}` may store an undefined, which fails only when used, as in Jinja.
    private var frames: [[String: Operand]] = [[:]]
    /// The `loop` variable of each frame that is a for-loop body, built only when a template reads it.
    private var loops: [LoopState?] = [nil]
    private var iterations = 0
    private var outputBytes = 0
    private var loopDepth = 0

    init(scope: any VariableScope, lookups: (any LookupProvider)?, renderConstantTemplates: Bool = false) {
        self.scope = scope
        self.lookups = lookups
        self.renderConstantTemplates = renderConstantTemplates
    }

    // MARK: Variables

    func resolve(_ name: String) -> Operand? {
        for k in frames.indices.reversed() {
            if let v = frames[k][name] { return v }
            if name == "loop", let loop = loops[k] { return .value(loop.value) }
        }
        return scope.lookup(name).map(Operand.value)
    }

    private func loopAttribute(_ name: String) -> Value? {
        for k in frames.indices.reversed() {
            if frames[k]["loop"] != nil { return nil }
            if let loop = loops[k] { return loop.attribute(name) }
        }
        return nil
    }

    /// The caller's scope plus template locals, for lookups that read variables.
    var currentScope: any VariableScope {
        var locals: [String: Value] = [:]
        for (k, frame) in frames.enumerated() {
            if let loop = loops[k] { locals["loop"] = loop.value }
            for (name, operand) in frame {
                if case .value(let v) = operand { locals[name] = v } else { locals[name] = nil }
            }
        }
        return locals.isEmpty ? scope : LayeredScope(locals: locals, base: scope)
    }

    struct LoopState {
        let items: [Value]
        var index: Int
        let depth: Int

        /// One attribute without building the whole dict (`loop.index` is read on every iteration).
        func attribute(_ name: String) -> Value? {
            let n = items.count
            switch name {
            case "index": return .int(index + 1)
            case "index0": return .int(index)
            case "revindex": return .int(n - index)
            case "revindex0": return .int(n - index - 1)
            case "first": return .bool(index == 0)
            case "last": return .bool(index == n - 1)
            case "length": return .int(n)
            case "depth": return .int(depth)
            case "depth0": return .int(depth - 1)
            default: return nil
            }
        }

        var value: Value {
            let n = items.count
            var loop: ValueDict = [
                "index": .int(index + 1), "index0": .int(index),
                "revindex": .int(n - index), "revindex0": .int(n - index - 1),
                "first": .bool(index == 0), "last": .bool(index == n - 1),
                "length": .int(n), "depth": .int(depth), "depth0": .int(depth - 1),
            ]
            if index > 0 { loop["previtem"] = items[index - 1] }
            if index < n - 1 { loop["nextitem"] = items[index + 1] }
            return .dict(loop)
        }
    }

    // MARK: Statements

    /// Renders `body`, appending each output chunk: text as strings, `{{ }}` results as native values (nulls dropped).
    func execute(_ body: [Statement], into out: inout [Value]) throws {
        for statement in body {
            switch statement {
            case .text(let s):
                try account(s.utf8.count)
                out.append(.string(s))
            case .output(let e):
                switch try eval(e) {
                case .value(.null): break
                case .value(let v):
                    if case .string(let s) = v { try account(s.utf8.count) }
                    out.append(v)
                case .undefined(let u):
                    if !u.rendersEmpty { throw TemplateError.undefined(u) }
                }
            case .ifChain(let branches, let otherwise):
                var taken = false
                for (condition, branch) in branches where try truthy(condition) {
                    try execute(branch, into: &out)
                    taken = true
                    break
                }
                if !taken, let otherwise { try execute(otherwise, into: &out) }
            case .forLoop(let targets, let iterable, let filter, let body, let otherwise, _):
                try executeFor(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, into: &out)
            case .set(let target, let e, _):
                try assign(target, try eval(e))
            case .setBlock(let name, let body):
                var captured: [Value] = []
                try execute(body, into: &captured)
                frames[frames.count - 1][name] = .value(.string(Renderer.join(captured)))
            }
        }
    }

    private func account(_ bytes: Int) throws {
        outputBytes += bytes
        if outputBytes > Renderer.maxOutputBytes {
            throw TemplateError(.limit, "template output is larger than \(Renderer.maxOutputBytes / 1024 / 1024) MiB")
        }
    }

    static func join(_ chunks: [Value]) -> String {
        var s = ""
        for c in chunks { s += Py.str(c) }
        return s
    }

    private func bind(_ targets: [String], _ item: Value) throws {
        if targets.count == 1 {
            frames[frames.count - 1][targets[0]] = .value(item)
            return
        }
        let parts = try Py.iterate(item)
        guard parts.count == targets.count else {
            throw TemplateError.type(parts.count > targets.count
                ? "too many values to unpack (expected \(targets.count))"
                : "not enough values to unpack (expected \(targets.count), got \(parts.count))")
        }
        for (name, v) in zip(targets, parts) { frames[frames.count - 1][name] = .value(v) }
    }

    private func countIteration() throws {
        iterations += 1
        if iterations > Renderer.maxIterations {
            throw TemplateError(.limit, "template loops ran more than \(Renderer.maxIterations) iterations")
        }
    }

    private func executeFor(targets: [String], iterable: Expr, filter: Expr?, body: [Statement], otherwise: [Statement]?, into out: inout [Value]) throws {
        let items = try Py.iterate(try value(iterable))
        frames.append([:])
        loops.append(nil)
        loopDepth += 1
        defer {
            frames.removeLast()
            loops.removeLast()
            loopDepth -= 1
        }
        var selected = items
        if let filter {
            selected = []
            for item in items {
                try countIteration()
                try bind(targets, item)
                if try truthy(filter) { selected.append(item) }
            }
        }
        if selected.isEmpty {
            if let otherwise { try execute(otherwise, into: &out) }
            return
        }
        let top = loops.count - 1
        loops[top] = LoopState(items: selected, index: 0, depth: loopDepth)
        for (index, item) in selected.enumerated() {
            try countIteration()
            try bind(targets, item)
            loops[top]?.index = index
            try execute(body, into: &out)
        }
    }

    private func assign(_ target: SetTarget, _ operand: Operand) throws {
        switch target {
        case .name(let n):
            frames[frames.count - 1][n] = operand
        case .names(let names):
            try bind(names, try operand.get())
        case .attribute(let n, let attr):
            let v = try operand.get()
            for k in frames.indices.reversed() {
                guard let existing = frames[k][n] else { continue }
                guard case .value(.dict(var d)) = existing else {
                    let type = (try? existing.get()).map(Py.typeName) ?? "undefined value"
                    throw TemplateError.type("cannot set attribute '\(attr)' on '\(n)': it is a \(type), not a namespace()")
                }
                d[attr] = v
                frames[k][n] = .value(.dict(d))
                return
            }
            throw TemplateError(.undefined, "'\(n)' is undefined; create it first with {% set \(n) = namespace() %}", name: n)
        }
    }

    // MARK: Expressions

    func value(_ e: Expr) throws -> Value { try eval(e).get() }

    func truthy(_ e: Expr) throws -> Bool { try value(e).isTruthy }

    func eval(_ e: Expr) throws -> Operand {
        switch e {
        case .literal(let v):
            if renderConstantTemplates, case .string(let s) = v, TemplateEngine.isTemplated(s) {
                return .value(try TemplateEngine(lookups: lookups).render(s, currentScope))
            }
            return .value(v)
        case .name(let n, _):
            if let v = resolve(n) { return v }
            return .undefined(.variable(n))
        case .list(let items):
            return .value(.list(try items.map { try value($0) }))
        case .dict(let pairs):
            return .value(.dict(try evalDict(pairs)))
        case .attribute(let target, let name, _):
            if case .name("loop", _) = target, let v = loopAttribute(name) { return .value(v) }
            let t = try eval(target)
            guard case .value(let v) = t else { return t }
            return Renderer.attribute(of: v, name)
        case .item(let target, let index, _):
            let t = try eval(target)
            guard case .value(let v) = t else { return t }
            return try Renderer.item(of: v, try value(index))
        case .slice(let target, let start, let stop, let step, _):
            return .value(try evalSlice(try value(target), start, stop, step))
        case .negate(let x): return .value(try Py.negate(try value(x)))
        case .plus(let x): return .value(try Py.plus(try value(x)))
        case .not(let x): return .value(.bool(!(try truthy(x))))
        case .and(let a, let b):
            let l = try value(a)
            return l.isTruthy ? try eval(b) : .value(l)
        case .or(let a, let b):
            let l = try value(a)
            return l.isTruthy ? .value(l) : try eval(b)
        case .binary(let op, let a, let b):
            return .value(try Py.binary(op, try value(a), try value(b)))
        case .concat(let items):
            var s = ""
            for item in items { s += Py.str(try value(item)) }
            return .value(.string(s))
        case .compare(let first, let rest):
            return .value(.bool(try evalCompare(first, rest)))
        case .conditional(let test, let then, let otherwise):
            if try truthy(test) { return try eval(then) }
            if let otherwise { return try eval(otherwise) }
            return .undefined(Undefined(name: nil, message: "the inline if-expression is false and has no else branch", rendersEmpty: true))
        case .filter(let input, let name, let args, _):
            return try applyFilter(name, try eval(input), args)
        case .test(let input, let name, let args, let negated, _):
            let result = try applyTest(name, try eval(input), args)
            return .value(.bool(negated ? !result : result))
        case .call(let callee, let args, _):
            return try evalCall(callee, args)
        }
    }

    private func evalDict(_ pairs: [(Expr, Expr)]) throws -> ValueDict {
        var d = ValueDict()
        for (k, v) in pairs {
            let key = try value(k)
            if case .list = key { throw TemplateError.type("unhashable type: 'list'") }
            if case .dict = key { throw TemplateError.type("unhashable type: 'dict'") }
            d[Py.str(key)] = try value(v)
        }
        return d
    }

    private func evalCompare(_ first: Expr, _ rest: [(CompareOperator, Expr)]) throws -> Bool {
        var left = try value(first)
        for (op, e) in rest {
            let right = try value(e)
            guard try Py.compare(op, left, right) else { return false }
            left = right
        }
        return true
    }

    private func evalSlice(_ target: Value, _ start: Expr?, _ stop: Expr?, _ step: Expr?) throws -> Value {
        func bound(_ e: Expr?) throws -> Int? {
            guard let e else { return nil }
            let v = try value(e)
            if case .null = v { return nil }
            guard let i = Py.asInt(v) else { throw TemplateError.type("slice indices must be integers or None, not \(Py.typeName(v))") }
            return i
        }
        let a = try bound(start), b = try bound(stop), c = try bound(step)
        switch target {
        case .list(let l):
            return .list(try Py.sliceIndices(count: l.count, start: a, stop: b, step: c).map { l[$0] })
        case .string(let s):
            let u = Py.scalars(s)
            return .string(Py.string(try Py.sliceIndices(count: u.count, start: a, stop: b, step: c).map { u[$0] }))
        default:
            throw TemplateError.type("'\(Py.typeName(target))' object is not subscriptable")
        }
    }

    /// `obj.name`: a dict key, else undefined with Jinja's message.
    static func attribute(of v: Value, _ name: String) -> Operand {
        if case .dict(let d) = v, let found = d[name] { return .value(found) }
        return .undefined(Undefined(name: name, message: "object of type '\(Py.typeName(v))' has no attribute '\(name)'"))
    }

    /// `obj[key]`: dict key, list or string index (negative from the end), else undefined.
    static func item(of v: Value, _ key: Value) throws -> Operand {
        switch v {
        case .dict(let d):
            if case .list = key { throw TemplateError.type("unhashable type: 'list'") }
            if let found = d[Py.str(key)] { return .value(found) }
            return .undefined(Undefined(name: Py.str(key), message: "object of type 'dict' has no attribute \(key.pythonRepr)"))
        case .list(let l):
            guard let i = Py.asInt(key) else {
                if case .string(let s) = key { return attribute(of: v, s) }
                throw TemplateError.type("list indices must be integers or slices, not \(Py.typeName(key))")
            }
            let k = i < 0 ? i + l.count : i
            guard k >= 0, k < l.count else {
                return .undefined(Undefined(name: String(i), message: "list index \(i) is out of range (the list has \(l.count) item\(l.count == 1 ? "" : "s"))"))
            }
            return .value(l[k])
        case .string(let s):
            guard let i = Py.asInt(key) else {
                if case .string(let name) = key { return attribute(of: v, name) }
                throw TemplateError.type("string indices must be integers, not \(Py.typeName(key))")
            }
            let u = Py.scalars(s)
            let k = i < 0 ? i + u.count : i
            guard k >= 0, k < u.count else {
                return .undefined(Undefined(name: String(i), message: "string index \(i) is out of range"))
            }
            return .value(.string(String(u[k])))
        default:
            if case .string(let name) = key { return attribute(of: v, name) }
            return .undefined(Undefined(name: Py.str(key), message: "object of type '\(Py.typeName(v))' has no attribute \(key.pythonRepr)"))
        }
    }

    // MARK: Calls

    func evaluateArguments(_ args: CallArguments, callee: String, kind: Arguments.CalleeKind) throws -> Arguments {
        Arguments(callee, kind: kind,
                  positional: try args.positional.map { try eval($0) },
                  keywords: try args.keywords.map { ($0.0, try eval($0.1)) })
    }

    func applyFilter(_ name: String, _ input: Operand, _ args: CallArguments) throws -> Operand {
        guard let filter = Filters.table[name] else {
            throw TemplateError(.unknownFilter, "no filter named '\(name)'", name: name)
        }
        let arguments = try evaluateArguments(args, callee: name, kind: .filter)
        return try Renderer.attributing(to: arguments) { try filter(input, arguments, self) }
    }

    func applyTest(_ name: String, _ input: Operand, _ args: CallArguments) throws -> Bool {
        guard let test = Tests.table[name] else {
            throw TemplateError(.unknownTest, "no test named '\(name)'", name: name)
        }
        let arguments = try evaluateArguments(args, callee: name, kind: .test)
        return try Renderer.attributing(to: arguments) { try test(input, arguments, self) }
    }

    /// Filter and test failures name the plugin, as Ansible's "The filter plugin 'x' failed" does.
    static func attributing<T>(to arguments: Arguments, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as TemplateError {
            if error.kind == .type || error.kind == .arithmetic {
                error = arguments.failure(error.message)
            }
            throw error
        } catch {
            throw arguments.failure("\(error)")
        }
    }

    private func evalCall(_ callee: Expr, _ args: CallArguments) throws -> Operand {
        switch callee {
        case .name(let n, _) where resolve(n) == nil:
            guard let function = Functions.table[n] else {
                let hint = closestMatch(to: n, in: Functions.table.keys).map { "did you mean '\($0)()'?" }
                    ?? "functions available: \(Functions.table.keys.sorted().joined(separator: ", "))"
                throw TemplateError(.undefined, "'\(n)' is undefined", name: n, hint: hint)
            }
            let arguments = try evaluateArguments(args, callee: n, kind: .function)
            return try function(arguments, self)
        case .attribute(let target, let method, _):
            let t = try value(target)
            let arguments = try evaluateArguments(args, callee: method, kind: .function)
            return .value(try Methods.call(t, method, arguments))
        default:
            let v = try value(callee)
            throw TemplateError.type("'\(Py.typeName(v))' object is not callable")
        }
    }
}
