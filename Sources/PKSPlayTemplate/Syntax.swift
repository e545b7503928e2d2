import PKSPlayCore

enum BinaryOperator: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", floorDiv = "//", mod = "%", pow = "**"
}

enum CompareOperator: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", gt = ">", le = "<=", ge = ">=", `in` = "in", notIn = "not in"
}

/// Arguments written at a call site: `f(a, b, key=c)`.
struct CallArguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(String, Expr)] = []
}

/// An expression; `offset` fields are scalar offsets into the template, for error positions.
indirect enum Expr: Sendable {
    case literal(Value)
    case name(String, offset: Int)
    case list([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String, offset: Int)
    case item(Expr, Expr, offset: Int)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, offset: Int)
    case negate(Expr)
    case plus(Expr)
    case not(Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case binary(BinaryOperator, Expr, Expr)
    case concat([Expr])
    case compare(Expr, [(CompareOperator, Expr)])
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
    case filter(Expr, name: String, CallArguments, offset: Int)
    case test(Expr, name: String, CallArguments, negated: Bool, offset: Int)
    case call(Expr, CallArguments, offset: Int)

    /// Direct subexpressions, for the depth check that keeps evaluation off deep recursion.
    var children: [Expr] {
        switch self {
        case .literal, .name: return []
        case .list(let items): return items
        case .dict(let pairs): return pairs.flatMap { [$0.0, $0.1] }
        case .attribute(let e, _, _): return [e]
        case .item(let e, let i, _): return [e, i]
        case .slice(let e, let a, let b, let c, _): return [e] + [a, b, c].compactMap { $0 }
        case .negate(let e), .plus(let e), .not(let e): return [e]
        case .and(let a, let b), .or(let a, let b), .binary(_, let a, let b): return [a, b]
        case .concat(let items): return items
        case .compare(let e, let rest): return [e] + rest.map(\.1)
        case .conditional(let t, let a, let b): return [t, a] + (b.map { [$0] } ?? [])
        case .filter(let e, _, let args, _), .test(let e, _, let args, _, _), .call(let e, let args, _):
            return [e] + args.positional + args.keywords.map(\.1)
        }
    }
}

/// Assignment target of `{% set %}`: a name, or an attribute of a namespace (`ns.count`).
enum SetTarget: Sendable {
    case name(String)
    case attribute(String, String)
    case names([String])
}

indirect enum Statement: Sendable {
    case text(String)
    case output(Expr)
    case ifChain([(Expr, [Statement])], otherwise: [Statement]?)
    case forLoop(targets: [String], iterable: Expr, filter: Expr?, body: [Statement], otherwise: [Statement]?, offset: Int)
    case set(SetTarget, Expr, offset: Int)
    case setBlock(String, [Statement])
}

/// A parsed template, cached by text.
struct CompiledTemplate: Sendable {
    let body: [Statement]
    /// How deep rendering recurses (expression depth plus block nesting).
    let depth: Int
}

/// A parsed bare expression (`when:`), cached by text.
struct CompiledExpression: Sendable {
    let expression: Expr
    let depth: Int
}

