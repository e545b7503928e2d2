import PKSPlayCore

/// Recursive-descent parser for Jinja statements and expressions, with Jinja's operator precedence.
///
/// Nesting is bounded (``Parser/maxDepth``) so hostile input gets an error, never a stack overflow.
struct Parser {
    static let maxDepth = 200
    static let maxBlockDepth = 100

    private let tokens: [Token]
    private let source: SourceText
    private var p = 0
    private var depth = 0
    private var blockDepth = 0
    /// Deepest expression tree and block nesting seen, so rendering knows whether it needs a large stack.
    private(set) var deepestExpression = 0
    private(set) var deepestBlock = 0

    init(tokens: [Token], source: SourceText) {
        self.tokens = tokens + [Token(kind: .end, offset: source.scalars.count)]
        self.source = source
    }

    // MARK: Entry points

    static func parseTemplate(_ text: SourceText, options: LexerOptions) throws -> CompiledTemplate {
        let tokens = try Lexer.tokenize(text, options: options)
        return try LargeStack.run(if: nestingEstimate(tokens) > LargeStack.shallowDepth) {
            var parser = Parser(tokens: tokens, source: text)
            let (body, _) = try parser.parseBody(until: [], opener: nil)
            return CompiledTemplate(body: body, depth: parser.deepestExpression + 4 * parser.deepestBlock)
        }
    }

    /// An upper bound on how deep parsing these tokens can recurse or nest the tree: every token
    /// outside text can add at most one level. Counting is cheap and needs no recursion.
    static func nestingEstimate(_ tokens: [Token]) -> Int {
        var count = 0
        for token in tokens {
            if case .text = token.kind { continue }
            count += 1
        }
        return count
    }

    /// Parses a bare expression (a `when:` condition); the text has no delimiters.
    static func parseBareExpression(_ text: SourceText) throws -> CompiledExpression {
        let tokens = try Lexer.tokenizeExpression(text)
        return try LargeStack.run(if: nestingEstimate(tokens) > LargeStack.shallowDepth) {
            var parser = Parser(tokens: tokens, source: text)
            if case .end = parser.current.kind {
                throw TemplateError.syntax("the expression is empty", at: 0, in: text, hint: "write a condition such as `result is succeeded`")
            }
            let e = try parser.parseTupleOrExpression()
            guard case .end = parser.current.kind else {
                throw parser.unexpected("at the end of the expression")
            }
            return CompiledExpression(expression: e, depth: parser.deepestExpression)
        }
    }

    // MARK: Token helpers

    private var current: Token { tokens[p] }
    private var nextKind: TokenKind { p + 1 < tokens.count ? tokens[p + 1].kind : .end }

    private mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    private func isName(_ n: String) -> Bool {
        if case .name(let s) = current.kind { return s == n }
        return false
    }

    private func isOp(_ o: String) -> Bool {
        if case .op(let s) = current.kind { return s == o }
        return false
    }

    private func describe(_ kind: TokenKind) -> String {
        switch kind {
        case .text: return "text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string \(Value.string(s).pythonRepr)"
        case .integer(let i): return "number \(i)"
        case .float(let d): return "number \(Value.formatDouble(d))"
        case .op(let o): return "'\(o)'"
        case .end: return "the end of the text"
        }
    }

    private func error(_ message: String, at offset: Int? = nil, hint: String? = nil) -> TemplateError {
        TemplateError.syntax(message, at: offset ?? current.offset, in: source, hint: hint)
    }

    private func unexpected(_ context: String, hint: String? = nil) -> TemplateError {
        error("unexpected \(describe(current.kind)) \(context)", hint: hint)
    }

    private mutating func expectOp(_ o: String, _ context: String) throws {
        guard isOp(o) else { throw unexpected(context, hint: "expected '\(o)'") }
        advance()
    }

    private mutating func expectName(_ what: String = "a name") throws -> String {
        guard case .name(let n) = current.kind else {
            throw error("expected \(what) but found \(describe(current.kind))")
        }
        advance()
        return n
    }

    private mutating func expectBlockEnd(_ tag: String) throws {
        guard case .blockEnd = current.kind else {
            throw unexpected("in '{% \(tag) %}'", hint: "expected '%}'")
        }
        advance()
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Parser.maxDepth {
            throw error("expression nested too deeply (more than \(Parser.maxDepth) levels)", hint: "split it into smaller expressions with {% set %}")
        }
    }

    // MARK: Statements

    /// Parses statements until a block tag named in `enders`; returns them and that tag's name,
    /// leaving the parser just after the name.
    private mutating func parseBody(until enders: Set<String>, opener: (String, Int)?) throws -> ([Statement], String?) {
        var body: [Statement] = []
        while true {
            let token = current
            switch token.kind {
            case .text(let s):
                body.append(.text(s))
                advance()
            case .variableBegin:
                advance()
                if case .variableEnd = current.kind {
                    throw error("empty expression in '{{ }}'", hint: "put a variable or expression between the braces")
                }
                let e = try parseTupleOrExpression()
                guard case .variableEnd = current.kind else { throw unexpected("in '{{ }}'", hint: "expected '}}'") }
                advance()
                body.append(.output(e))
            case .blockBegin:
                advance()
                let tagOffset = current.offset
                let tag = try expectName("a tag name such as if, for or set")
                if enders.contains(tag) { return (body, tag) }
                body.append(try parseStatement(tag, at: tagOffset))
            case .end:
                if let opener {
                    let expected = enders.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw error("'{% \(opener.0) %}' is never closed", at: opener.1, hint: "expected \(expected) before the end of the template")
                }
                return (body, nil)
            default:
                throw unexpected("outside '{{ }}' or '{% %}'")
            }
        }
    }

    private static let unsupportedTags: Set<String> = [
        "macro", "call", "filter", "include", "import", "from", "extends", "block", "with", "autoescape", "do", "break", "continue",
    ]

    private mutating func parseStatement(_ tag: String, at offset: Int) throws -> Statement {
        blockDepth += 1
        deepestBlock = max(deepestBlock, blockDepth)
        defer { blockDepth -= 1 }
        if blockDepth > Parser.maxBlockDepth {
            throw error("blocks nested too deeply (more than \(Parser.maxBlockDepth) levels)", at: offset)
        }
        switch tag {
        case "if": return try parseIf(at: offset)
        case "for": return try parseFor(at: offset)
        case "set": return try parseSet(at: offset)
        default:
            if Parser.unsupportedTags.contains(tag) {
                throw error("'{% \(tag) %}' is not supported", at: offset, hint: "pksplay templates support if, for, set and raw")
            }
            if ["elif", "else", "endif", "endfor", "endset", "endraw"].contains(tag) {
                throw error("'{% \(tag) %}' without a matching opening tag", at: offset)
            }
            let known = ["if", "for", "set", "raw"]
            let hint = closestMatch(to: tag, in: known).map { "did you mean '\($0)'?" }
            throw error("unknown tag '\(tag)'", at: offset, hint: hint)
        }
    }

    private mutating func parseIf(at offset: Int) throws -> Statement {
        var branches: [(Expr, [Statement])] = []
        var condition = try parseExpression()
        var tag = "if"
        try expectBlockEnd(tag)
        while true {
            let (body, ender) = try parseBody(until: ["elif", "else", "endif"], opener: (tag, offset))
            branches.append((condition, body))
            switch ender {
            case "elif":
                condition = try parseExpression()
                tag = "elif"
                try expectBlockEnd(tag)
            case "else":
                try expectBlockEnd("else")
                let (otherwise, _) = try parseBody(until: ["endif"], opener: ("if", offset))
                try expectBlockEnd("endif")
                return .ifChain(branches, otherwise: otherwise)
            default:
                try expectBlockEnd("endif")
                return .ifChain(branches, otherwise: nil)
            }
        }
    }

    private mutating func parseFor(at offset: Int) throws -> Statement {
        var targets: [String] = []
        let parenthesised = isOp("(")
        if parenthesised { advance() }
        if isName("in") { throw error("expected a loop variable name before 'in'", hint: "write `{% for item in items %}`") }
        targets.append(try expectName("a loop variable name"))
        while isOp(",") {
            advance()
            targets.append(try expectName("a loop variable name"))
        }
        if parenthesised { try expectOp(")", "in the loop variables") }
        guard isName("in") else { throw unexpected("in '{% for %}'", hint: "write `{% for item in items %}`") }
        advance()
        let iterable = try parseExpression(withConditional: false)
        var filter: Expr?
        if isName("if") {
            advance()
            filter = try parseExpression()
        }
        if isName("recursive") { throw error("recursive loops are not supported") }
        try expectBlockEnd("for")
        let (body, ender) = try parseBody(until: ["else", "endfor"], opener: ("for", offset))
        var otherwise: [Statement]?
        if ender == "else" {
            try expectBlockEnd("else")
            otherwise = try parseBody(until: ["endfor"], opener: ("for", offset)).0
        }
        try expectBlockEnd("endfor")
        return .forLoop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, offset: offset)
    }

    private mutating func parseSet(at offset: Int) throws -> Statement {
        let first = try expectName("a variable name")
        var target = SetTarget.name(first)
        if isOp(".") {
            advance()
            target = .attribute(first, try expectName("an attribute name"))
        } else if isOp(",") {
            var names = [first]
            while isOp(",") {
                advance()
                names.append(try expectName("a variable name"))
            }
            target = .names(names)
        }
        if isOp("=") {
            advance()
            let value = try parseTupleOrExpression()
            try expectBlockEnd("set")
            return .set(target, value, offset: offset)
        }
        guard case .name(let name) = target else { throw unexpected("in '{% set %}'", hint: "expected '='") }
        try expectBlockEnd("set")
        let (body, _) = try parseBody(until: ["endset"], opener: ("set", offset))
        try expectBlockEnd("endset")
        return .setBlock(name, body)
    }

    // MARK: Expressions

    /// An expression, or a bare tuple `a, b` (Jinja allows it in `{{ }}` and `{% set %}`), as a list.
    private mutating func parseTupleOrExpression() throws -> Expr {
        let first = try parseExpression()
        guard isOp(",") else { return first }
        var items = [first]
        while isOp(",") {
            advance()
            if case .variableEnd = current.kind { break }
            if case .blockEnd = current.kind { break }
            if case .end = current.kind { break }
            items.append(try parseExpression())
        }
        return .list(items)
    }

    mutating func parseExpression(withConditional: Bool = true) throws -> Expr {
        try enter()
        defer { depth -= 1 }
        let start = current.offset
        var e = try parseBinary(1)
        if withConditional {
            while isName("if") {
                advance()
                let test = try parseBinary(1)
                var otherwise: Expr?
                if isName("else") {
                    advance()
                    otherwise = try parseExpression()
                }
                e = .conditional(test: test, then: e, otherwise: otherwise)
            }
        }
        if depth == 1 {
            guard let d = Parser.treeDepth(e, limit: Parser.maxDepth) else {
                throw error("expression nested too deeply (more than \(Parser.maxDepth) levels)", at: start, hint: "split it into smaller expressions with {% set %}")
            }
            deepestExpression = max(deepestExpression, d)
        }
        return e
    }

    /// Depth of an expression tree, or nil beyond `limit`; iterative, because long operator or
    /// filter chains nest without parser recursion.
    static func treeDepth(_ e: Expr, limit: Int) -> Int? {
        var stack: [(Expr, Int)] = [(e, 1)]
        var deepest = 0
        while let (x, d) = stack.popLast() {
            if d > limit { return nil }
            deepest = max(deepest, d)
            for c in x.children { stack.append((c, d + 1)) }
        }
        return deepest
    }

    private enum BinaryKind { case or, and, compare, additive(BinaryOperator), concat, multiplicative(BinaryOperator), power }

    private func binaryAhead() -> (Int, BinaryKind)? {
        switch current.kind {
        case .name("or"): return (1, .or)
        case .name("and"): return (2, .and)
        case .name("in"): return (4, .compare)
        case .name("not"):
            if case .name("in") = nextKind { return (4, .compare) }
            return nil
        case .op(let o):
            switch o {
            case "==", "!=", "<", ">", "<=", ">=": return (4, .compare)
            case "+": return (5, .additive(.add))
            case "-": return (5, .additive(.sub))
            case "~": return (6, .concat)
            case "*": return (7, .multiplicative(.mul))
            case "/": return (7, .multiplicative(.div))
            case "//": return (7, .multiplicative(.floorDiv))
            case "%": return (7, .multiplicative(.mod))
            case "**": return (8, .power)
            default: return nil
            }
        default: return nil
        }
    }

    private mutating func compareAhead() -> CompareOperator? {
        switch current.kind {
        case .name("in"):
            advance()
            return .in
        case .name("not"):
            if case .name("in") = nextKind {
                advance()
                advance()
                return .notIn
            }
            return nil
        case .op(let o):
            guard let op = CompareOperator(rawValue: o), op != .in, op != .notIn else { return nil }
            advance()
            return op
        default: return nil
        }
    }

    private mutating func parseBinary(_ minPrecedence: Int) throws -> Expr {
        var left: Expr
        if minPrecedence <= 3, isName("not") {
            advance()
            try enter()
            defer { depth -= 1 }
            left = .not(try parseBinary(3))
        } else {
            left = try parseUnary(withFilter: true)
        }
        while let (precedence, kind) = binaryAhead(), precedence >= minPrecedence {
            switch kind {
            case .or:
                advance()
                left = .or(left, try parseBinary(2))
            case .and:
                advance()
                left = .and(left, try parseBinary(3))
            case .compare:
                var ops: [(CompareOperator, Expr)] = []
                while let op = compareAhead() { ops.append((op, try parseBinary(5))) }
                left = .compare(left, ops)
            case .additive(let op):
                advance()
                left = .binary(op, left, try parseBinary(6))
            case .concat:
                var items = [left]
                while isOp("~") {
                    advance()
                    items.append(try parseBinary(7))
                }
                left = .concat(items)
            case .multiplicative(let op):
                advance()
                left = .binary(op, left, try parseBinary(8))
            case .power:
                advance()
                left = .binary(.pow, left, try parseUnary(withFilter: true))
            }
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool) throws -> Expr {
        var node: Expr
        if isOp("-") || isOp("+") {
            let minus = isOp("-")
            advance()
            try enter()
            defer { depth -= 1 }
            let operand = try parseUnary(withFilter: false)
            switch (minus, operand) {
            case (true, .literal(.int(let i))) where i != Int.min: node = .literal(.int(-i))
            case (true, .literal(.double(let d))): node = .literal(.double(-d))
            case (true, _): node = .negate(operand)
            case (false, _): node = .plus(operand)
            }
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private static let keywords: Set<String> = ["and", "or", "not", "in", "is", "if", "else"]

    private mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let n):
            switch n {
            case "true", "True": advance(); return .literal(.bool(true))
            case "false", "False": advance(); return .literal(.bool(false))
            case "none", "None": advance(); return .literal(.null)
            default:
                if Parser.keywords.contains(n) { throw unexpected("where a value was expected") }
                advance()
                return .name(n, offset: token.offset)
            }
        case .string(var s):
            advance()
            while case .string(let more) = current.kind {
                s += more
                advance()
            }
            return .literal(.string(s))
        case .integer(let i):
            advance()
            return .literal(.int(i))
        case .float(let d):
            advance()
            return .literal(.double(d))
        case .op("("):
            advance()
            if isOp(")") {
                advance()
                return .list([])
            }
            let first = try parseExpression()
            if isOp(",") {
                var items = [first]
                while isOp(",") {
                    advance()
                    if isOp(")") { break }
                    items.append(try parseExpression())
                }
                try expectOp(")", "in the tuple")
                return .list(items)
            }
            try expectOp(")", "inside the parentheses")
            return first
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                items.append(try parseExpression())
                if isOp(",") { advance() } else if !isOp("]") { throw unexpected("in the list", hint: "separate items with ',' and end with ']'") }
            }
            advance()
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                let key = try parseExpression()
                try expectOp(":", "in the dictionary")
                let value = try parseExpression()
                pairs.append((key, value))
                if isOp(",") { advance() } else if !isOp("}") { throw unexpected("in the dictionary", hint: "separate entries with ',' and end with '}'") }
            }
            advance()
            return .dict(pairs)
        default:
            throw error("expected a value but found \(describe(token.kind))",
                        hint: "write a variable, a literal such as 'text', 42 or [1, 2], or an expression in parentheses")
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp(".") {
                let offset = current.offset
                advance()
                switch current.kind {
                case .name(let n):
                    advance()
                    node = .attribute(node, n, offset: offset)
                case .integer(let i):
                    advance()
                    node = .item(node, .literal(.int(i)), offset: offset)
                default:
                    throw unexpected("after '.'", hint: "expected an attribute name")
                }
            } else if isOp("[") {
                let offset = current.offset
                advance()
                node = try parseSubscript(node, offset: offset)
            } else if isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ target: Expr, offset: Int) throws -> Expr {
        var parts: [Expr?] = []
        var current: Expr?
        var sawColon = false
        while !isOp("]") {
            if isOp(":") {
                advance()
                parts.append(current)
                current = nil
                sawColon = true
                guard parts.count <= 2 else { throw unexpected("in the slice") }
                continue
            }
            guard current == nil else { throw unexpected("in the subscript", hint: "expected ']'") }
            current = try parseExpression()
        }
        advance()
        if !sawColon {
            guard let index = current else { throw error("empty subscript '[]'", at: offset) }
            return .item(target, index, offset: offset)
        }
        parts.append(current)
        while parts.count < 3 { parts.append(nil) }
        return .slice(target, start: parts[0], stop: parts[1], step: parts[2], offset: offset)
    }

    private mutating func parseCallArguments() throws -> CallArguments {
        try expectOp("(", "before the arguments")
        var args = CallArguments()
        while !isOp(")") {
            if case .name(let n) = current.kind, case .op("=") = nextKind {
                advance()
                advance()
                args.keywords.append((n, try parseExpression()))
            } else {
                if !args.keywords.isEmpty { throw error("a positional argument follows a keyword argument") }
                args.positional.append(try parseExpression())
            }
            if isOp(",") { advance() } else if !isOp(")") { throw unexpected("in the arguments", hint: "separate arguments with ',' and end with ')'") }
        }
        advance()
        return args
    }

    private mutating func parseCall(_ callee: Expr) throws -> Expr {
        let offset = current.offset
        let args = try parseCallArguments()
        return .call(callee, args, offset: offset)
    }

    /// `ansible.builtin.default` is the same filter as `default`.
    static func canonicalPluginName(_ name: String) -> String {
        for prefix in ["ansible.builtin.", "ansible.legacy."] where name.hasPrefix(prefix) {
            return String(name.dropFirst(prefix.count))
        }
        return name
    }

    private mutating func dottedName(_ what: String) throws -> String {
        var name = try expectName(what)
        while isOp("."), case .name = nextKind {
            advance()
            name += "." + (try expectName(what))
        }
        return Parser.canonicalPluginName(name)
    }

    private mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") {
                advance()
                let offset = current.offset
                let name = try dottedName("a filter name after '|'")
                guard Filters.table[name] != nil else {
                    let hint = closestMatch(to: name, in: Filters.table.keys).map { "did you mean '\($0)'?" }
                    throw TemplateError(.unknownFilter, "no filter named '\(name)'", name: name,
                                        line: source.lineAndColumn(of: offset).0, column: source.lineAndColumn(of: offset).1, hint: hint)
                }
                let args = isOp("(") ? try parseCallArguments() : CallArguments()
                node = .filter(node, name: name, args, offset: offset)
            } else if isName("is") {
                advance()
                var negated = false
                if isName("not") {
                    negated = true
                    advance()
                }
                let offset = current.offset
                guard case .name = current.kind else {
                    throw unexpected("after 'is'", hint: "expected a test name such as 'defined'; compare with '==' instead")
                }
                let name = try dottedName("a test name after 'is'")
                guard Tests.table[name] != nil else {
                    let hint = closestMatch(to: name, in: Tests.table.keys).map { "did you mean '\($0)'?" }
                    throw TemplateError(.unknownTest, "no test named '\(name)'", name: name,
                                        line: source.lineAndColumn(of: offset).0, column: source.lineAndColumn(of: offset).1, hint: hint)
                }
                var args = CallArguments()
                if isOp("(") {
                    args = try parseCallArguments()
                } else if startsBareTestArgument() {
                    if isName("is") { throw error("tests cannot be chained with 'is'", hint: "combine them with 'and'") }
                    try enter()
                    defer { depth -= 1 }
                    args.positional = [try parsePostfix(try parsePrimary())]
                }
                node = .test(node, name: name, args, negated: negated, offset: offset)
            } else if isOp("(") {
                node = try parseCall(node)
            } else {
                return node
            }
        }
    }

    private func startsBareTestArgument() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and", "if"].contains(n)
        case .string, .integer, .float: return true
        case .op(let o): return o == "[" || o == "{" || o == "("
        default: return false
        }
    }
}
