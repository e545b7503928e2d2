import Foundation
import PKSPlayCore

/// A name, attribute or item that does not exist. It only fails when something uses it, so that
/// `is defined`, `default` and `mandatory` can handle it.
struct Undefined: Sendable {
    var name: String?
    var message: String
    /// Jinja renders the missing `else` of an inline if as nothing; other undefineds fail in output.
    var rendersEmpty = false

    static func variable(_ name: String) -> Undefined { Undefined(name: name, message: "'\(name)' is undefined") }
}

/// What evaluating an expression yields: a value, or an undefined that fails when used.
enum Operand {
    case value(Value)
    case undefined(Undefined)

    /// The value, or the undefined-variable error.
    func get() throws -> Value {
        switch self {
        case .value(let v): return v
        case .undefined(let u): throw TemplateError.undefined(u)
        }
    }

    var isDefined: Bool {
        if case .value = self { return true }
        return false
    }
}

/// Python's behaviour for Jinja's operators, comparisons and conversions over ``Value``.
enum Py {
    /// Largest string or list an operator may build, so `'a' * 10**12` is an error rather than exhausting memory.
    static let maxBuiltSize = 10_000_000

    static func typeName(_ v: Value) -> String {
        switch v {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .dict: return "dict"
        }
    }

    /// Python `str()`: what `{{ }}` prints and `~` concatenates.
    static func str(_ v: Value) -> String { v.stringified }

    static func isNumber(_ v: Value) -> Bool {
        switch v {
        case .int, .double, .bool: return true
        default: return false
        }
    }

    /// Integer view of ints and bools (Python's bool is an int).
    static func asInt(_ v: Value) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    static func asDouble(_ v: Value) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return d
        default: return nil
        }
    }

    // MARK: Equality and ordering

    static func equals(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.list(let x), .list(let y)):
            guard x.count == y.count else { return false }
            return zip(x, y).allSatisfy { equals($0, $1) }
        case (.dict(let x), .dict(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x {
                guard let w = y[k], equals(v, w) else { return false }
            }
            return true
        default:
            if let i = asInt(a), let j = asInt(b) { return i == j }
            if isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) { return x == y }
            return false
        }
    }

    /// `a < b` with Python's rules: numbers with numbers, strings by code point, lists element-wise.
    static func less(_ a: Value, _ b: Value, op: String = "<") throws -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.list(let x), .list(let y)):
            for (p, q) in zip(x, y) where !equals(p, q) {
                return try less(p, q, op: op)
            }
            return x.count < y.count
        default:
            if let i = asInt(a), let j = asInt(b) { return i < j }
            if isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) { return x < y }
            throw TemplateError.type("'\(op)' not supported between instances of '\(typeName(a))' and '\(typeName(b))'")
        }
    }

    static func compare(_ op: CompareOperator, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case .eq: return equals(a, b)
        case .ne: return !equals(a, b)
        case .lt: return try less(a, b, op: "<")
        case .gt: return try less(b, a, op: ">")
        case .le: return try equals(a, b) || less(a, b, op: "<=")
        case .ge: return try equals(a, b) || less(b, a, op: ">=")
        case .in: return try contains(b, a)
        case .notIn: return try !contains(b, a)
        }
    }

    /// Python `item in container`.
    static func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let needle) = item else {
                throw TemplateError.type("'in <string>' requires string as left operand, not \(typeName(item))")
            }
            return needle.isEmpty || s.contains(needle)
        case .list(let l): return l.contains { equals($0, item) }
        case .dict(let d):
            switch item {
            case .string(let k): return d.contains(k)
            case .list, .dict: throw TemplateError.type("unhashable type: '\(typeName(item))'")
            default: return d.contains(str(item))
            }
        default:
            throw TemplateError.type("argument of type '\(typeName(container))' is not iterable")
        }
    }

    // MARK: Collections

    static func length(_ v: Value) throws -> Int {
        switch v {
        case .string(let s): return s.unicodeScalars.count
        case .list(let l): return l.count
        case .dict(let d): return d.count
        default: throw TemplateError.type("object of type '\(typeName(v))' has no len()")
        }
    }

    /// Python iteration: list items, dict keys, string characters.
    static func iterate(_ v: Value) throws -> [Value] {
        switch v {
        case .list(let l): return l
        case .dict(let d): return d.keys.map(Value.string)
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw TemplateError.type("'\(typeName(v))' object is not iterable")
        }
    }

    static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        return String(v)
    }

    /// Indices selected by a Python slice `[start:stop:step]` over `count` items.
    static func sliceIndices(count: Int, start: Int?, stop: Int?, step: Int?) throws -> [Int] {
        let step = step ?? 1
        guard step != 0 else { throw TemplateError(.type, "slice step cannot be zero") }
        func adjust(_ v: Int?, _ dflt: Int, low: Int, high: Int) -> Int {
            guard var v else { return dflt }
            if v < 0 {
                v += count
                if v < 0 { v = low }
            } else if v >= count {
                v = high
            }
            return v
        }
        var out: [Int] = []
        if step > 0 {
            let a = adjust(start, 0, low: 0, high: count)
            let b = adjust(stop, count, low: 0, high: count)
            var k = a
            while k < b { out.append(k); k += step }
        } else {
            let a = adjust(start, count - 1, low: -1, high: count - 1)
            let b = adjust(stop, -1, low: -1, high: count - 1)
            var k = a
            while k > b { out.append(k); k += step }
        }
        return out
    }

    // MARK: Arithmetic

    private static func unsupported(_ op: String, _ a: Value, _ b: Value) -> TemplateError {
        TemplateError.type("unsupported operand type(s) for \(op): '\(typeName(a))' and '\(typeName(b))'")
    }

    private static func overflow() -> TemplateError {
        TemplateError(.arithmetic, "integer overflow: the result does not fit in 64 bits")
    }

    static func add(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            guard x.utf8.count + y.utf8.count <= maxBuiltSize else { throw tooLarge() }
            return .string(x + y)
        case (.list(let x), .list(let y)):
            guard x.count + y.count <= maxBuiltSize else { throw tooLarge() }
            return .list(x + y)
        case (.string, _):
            throw TemplateError.type("can only concatenate str (not \"\(typeName(b))\") to str")
        case (.list, _):
            throw TemplateError.type("can only concatenate list (not \"\(typeName(b))\") to list")
        default:
            if let i = asInt(a), let j = asInt(b) {
                let (r, o) = i.addingReportingOverflow(j)
                if o { throw overflow() }
                return .int(r)
            }
            if isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) { return .double(x + y) }
            throw unsupported("+", a, b)
        }
    }

    static func tooLarge() -> TemplateError {
        TemplateError(.limit, "result too large (more than \(maxBuiltSize) items or bytes)")
    }

    static func binary(_ op: BinaryOperator, _ a: Value, _ b: Value) throws -> Value {
        switch op {
        case .add: return try add(a, b)
        case .sub:
            if let i = asInt(a), let j = asInt(b) {
                let (r, o) = i.subtractingReportingOverflow(j)
                if o { throw overflow() }
                return .int(r)
            }
            if isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) { return .double(x - y) }
            throw unsupported("-", a, b)
        case .mul: return try multiply(a, b)
        case .div:
            guard isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) else { throw unsupported("/", a, b) }
            guard y != 0 else { throw TemplateError(.arithmetic, "division by zero") }
            return .double(x / y)
        case .floorDiv:
            if let i = asInt(a), let j = asInt(b) {
                guard j != 0 else { throw TemplateError(.arithmetic, "integer division or modulo by zero") }
                if i == Int.min, j == -1 { throw overflow() }
                var q = i / j
                if (i % j != 0) && ((i < 0) != (j < 0)) { q -= 1 }
                return .int(q)
            }
            guard isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) else { throw unsupported("//", a, b) }
            guard y != 0 else { throw TemplateError(.arithmetic, "float floor division by zero") }
            return .double((x / y).rounded(.down))
        case .mod:
            if let i = asInt(a), let j = asInt(b) {
                guard j != 0 else { throw TemplateError(.arithmetic, "integer modulo by zero") }
                if j == -1 { return .int(0) }
                var r = i % j
                if r != 0 && ((r < 0) != (j < 0)) { r += j }
                return .int(r)
            }
            if case .string(let format) = a { return .string(try PrintfFormat.format(format, b.listValue ?? [b])) }
            guard isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) else { throw unsupported("%", a, b) }
            guard y != 0 else { throw TemplateError(.arithmetic, "float modulo by zero") }
            var r = fmod(x, y)
            if r != 0 && ((r < 0) != (y < 0)) { r += y }
            return .double(r)
        case .pow: return try power(a, b)
        }
    }

    private static func multiply(_ a: Value, _ b: Value) throws -> Value {
        func repeatString(_ s: String, _ n: Int) throws -> Value {
            guard n > 0 else { return .string("") }
            guard s.utf8.count.multipliedReportingOverflow(by: n).partialValue <= maxBuiltSize,
                  !s.utf8.count.multipliedReportingOverflow(by: n).overflow else { throw tooLarge() }
            // Doubling needs about 2·log2(n) appends rather than n.
            var result = ""
            var chunk = s
            var k = n
            while k > 0 {
                if k & 1 == 1 { result += chunk }
                k >>= 1
                if k > 0 { chunk += chunk }
            }
            return .string(result)
        }
        func repeatList(_ l: [Value], _ n: Int) throws -> Value {
            guard n > 0 else { return .list([]) }
            guard !l.count.multipliedReportingOverflow(by: n).overflow, l.count * n <= maxBuiltSize else { throw tooLarge() }
            var out: [Value] = []
            out.reserveCapacity(l.count * n)
            for _ in 0..<n { out += l }
            return .list(out)
        }
        switch (a, b) {
        case (.string(let s), _) where asInt(b) != nil: return try repeatString(s, asInt(b)!)
        case (_, .string(let s)) where asInt(a) != nil: return try repeatString(s, asInt(a)!)
        case (.list(let l), _) where asInt(b) != nil: return try repeatList(l, asInt(b)!)
        case (_, .list(let l)) where asInt(a) != nil: return try repeatList(l, asInt(a)!)
        default:
            if let i = asInt(a), let j = asInt(b) {
                let (r, o) = i.multipliedReportingOverflow(by: j)
                if o { throw overflow() }
                return .int(r)
            }
            if isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) { return .double(x * y) }
            if case .string = a { throw TemplateError.type("can't multiply sequence by non-int of type '\(typeName(b))'") }
            throw unsupported("*", a, b)
        }
    }

    private static func power(_ a: Value, _ b: Value) throws -> Value {
        if let base = asInt(a), let exp = asInt(b) {
            if exp < 0 {
                guard base != 0 else { throw TemplateError(.arithmetic, "0.0 cannot be raised to a negative power") }
                return .double(Foundation.pow(Double(base), Double(exp)))
            }
            var result = 1
            var factor = base
            var e = exp
            while e > 0 {
                if e & 1 == 1 {
                    let (r, o) = result.multipliedReportingOverflow(by: factor)
                    if o { throw overflow() }
                    result = r
                }
                e >>= 1
                if e > 0 {
                    let (f, o) = factor.multipliedReportingOverflow(by: factor)
                    if o { throw overflow() }
                    factor = f
                }
            }
            return .int(result)
        }
        guard isNumber(a), isNumber(b), let x = asDouble(a), let y = asDouble(b) else { throw unsupported("** or pow()", a, b) }
        if x == 0, y < 0 { throw TemplateError(.arithmetic, "0.0 cannot be raised to a negative power") }
        if x < 0, y != y.rounded() { throw TemplateError(.arithmetic, "a negative number cannot be raised to a fractional power") }
        let r = Foundation.pow(x, y)
        if r.isInfinite { throw TemplateError(.arithmetic, "numerical result out of range") }
        return .double(r)
    }

    static func negate(_ v: Value) throws -> Value {
        switch v {
        case .int(let i):
            guard i != Int.min else { throw overflow() }
            return .int(-i)
        case .bool(let b): return .int(b ? -1 : 0)
        case .double(let d): return .double(-d)
        default: throw TemplateError.type("bad operand type for unary -: '\(typeName(v))'")
        }
    }

    static func plus(_ v: Value) throws -> Value {
        switch v {
        case .int, .double: return v
        case .bool(let b): return .int(b ? 1 : 0)
        default: throw TemplateError.type("bad operand type for unary +: '\(typeName(v))'")
        }
    }
}

/// A hashable view of a value under Python equality (`1 == 1.0 == True`), for unique/union/difference.
struct PyKey: Hashable {
    let value: Value

    init(_ v: Value) { value = PyKey.normalize(v) }

    private static func normalize(_ v: Value) -> Value {
        switch v {
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d) where d == d.rounded() && abs(d) < 9e18: return .int(Int(d))
        case .list(let l): return .list(l.map(normalize))
        case .dict(let d): return .dict(ValueDict(d.map { ($0.key, normalize($0.value)) }))
        default: return v
        }
    }
}
