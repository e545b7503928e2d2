/// Template text as Unicode scalars, so that offsets, columns and string indexing follow Python's code points.
struct SourceText {
    let scalars: [Unicode.Scalar]

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    /// 1-based line and column of a scalar offset.
    func lineAndColumn(of offset: Int) -> (Int, Int) {
        var line = 1
        var column = 1
        var i = 0
        let end = min(max(offset, 0), scalars.count)
        while i < end {
            if scalars[i] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i += 1
        }
        return (line, column)
    }
}

enum TokenKind: Equatable {
    case text(String)
    case variableBegin
    case variableEnd
    case blockBegin
    case blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case end
}

struct Token {
    var kind: TokenKind
    var offset: Int
}

struct LexerOptions: Hashable {
    var trimBlocks: Bool
    var lstripBlocks: Bool
    /// Ansible's `escape_backslashes`: string literals inside `{{ }}` keep their backslashes, because
    /// YAML already processed the escapes. `{% %}` statements still interpret them.
    var rawStringsInVariables: Bool
}

/// Splits template text into text chunks and the tokens of `{{ }}` and `{% %}` tags, applying
/// whitespace control (`-`, `+`, trim_blocks, lstrip_blocks), dropping comments and passing raw blocks through.
struct Lexer {
    private let src: [Unicode.Scalar]
    private let source: SourceText
    private let options: LexerOptions
    private var tokens: [Token] = []
    private var i = 0
    private var stripNextLeading = false
    private var trimNextNewline = false
    /// The closer of the tag being lexed, for hints.
    private var closerOfCurrentTag: String?

    init(_ source: SourceText, options: LexerOptions) {
        self.source = source
        self.src = source.scalars
        self.options = options
    }

    static func tokenize(_ source: SourceText, options: LexerOptions) throws -> [Token] {
        var lexer = Lexer(source, options: options)
        try lexer.run()
        return lexer.tokens
    }

    /// Tokenizes a bare expression (no delimiters) to the end of the text; escapes are interpreted.
    static func tokenizeExpression(_ source: SourceText) throws -> [Token] {
        var lexer = Lexer(source, options: LexerOptions(trimBlocks: false, lstripBlocks: false, rawStringsInVariables: false))
        _ = try lexer.lexTagBody(closer: nil, tagStart: 0)
        return lexer.tokens
    }

    private func at(_ k: Int) -> Unicode.Scalar? { k < src.count ? src[k] : nil }

    private func matches(_ s: String, at k: Int) -> Bool {
        var p = k
        for u in s.unicodeScalars {
            guard p < src.count, src[p] == u else { return false }
            p += 1
        }
        return true
    }

    private static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u == " " || u == "\t" || u == "\n" || u == "\r" || u == "\u{0B}" || u == "\u{0C}"
    }

    private func syntax(_ message: String, _ offset: Int, hint: String? = nil) -> TemplateError {
        TemplateError.syntax(message, at: offset, in: source, hint: hint)
    }

    private mutating func run() throws {
        while i < src.count {
            guard let j = nextTagStart(from: i) else {
                emitText(from: i, to: src.count, tagModifier: nil, isBlockLike: false)
                i = src.count
                break
            }
            let kind = src[j + 1]
            let modifier: Unicode.Scalar? = (at(j + 2) == "-" || at(j + 2) == "+") ? src[j + 2] : nil
            emitText(from: i, to: j, tagModifier: modifier, isBlockLike: kind != "{")
            i = j + 2 + (modifier == nil ? 0 : 1)
            switch kind {
            case "#": try lexComment(start: j)
            case "{":
                tokens.append(Token(kind: .variableBegin, offset: j))
                let endModifier = try lexTagBody(closer: "}}", tagStart: j)
                tokens.append(Token(kind: .variableEnd, offset: i - 2))
                stripNextLeading = endModifier == "-"
            default:
                if try lexRawBlock(start: j) { continue }
                tokens.append(Token(kind: .blockBegin, offset: j))
                let endModifier = try lexTagBody(closer: "%}", tagStart: j)
                tokens.append(Token(kind: .blockEnd, offset: i - 2))
                stripNextLeading = endModifier == "-"
                trimNextNewline = options.trimBlocks && endModifier == nil
            }
        }
    }

    private func nextTagStart(from k: Int) -> Int? {
        var p = k
        while p + 1 < src.count {
            if src[p] == "{" {
                let n = src[p + 1]
                if n == "{" || n == "%" || n == "#" { return p }
            }
            p += 1
        }
        return nil
    }

    /// Emits the text `src[from..<to]` after whitespace control from the tags on either side.
    private mutating func emitText(from: Int, to: Int, tagModifier: Unicode.Scalar?, isBlockLike: Bool) {
        var start = from
        var end = to
        if stripNextLeading {
            while start < end, Lexer.isSpace(src[start]) { start += 1 }
        } else if trimNextNewline {
            if start < end, src[start] == "\n" { start += 1 }
        }
        stripNextLeading = false
        trimNextNewline = false
        if tagModifier == "-" {
            while end > start, Lexer.isSpace(src[end - 1]) { end -= 1 }
        } else if options.lstripBlocks, isBlockLike, tagModifier != "+", to < src.count {
            // Only blanks between the start of the line and the tag are removed.
            var k = to
            while k > from, src[k - 1] == " " || src[k - 1] == "\t" { k -= 1 }
            if (k > from && src[k - 1] == "\n") || k == 0 { end = min(end, k) }
        }
        if start < end {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: src[start..<end])
            tokens.append(Token(kind: .text(String(s)), offset: start))
        }
    }

    private mutating func lexComment(start: Int) throws {
        var p = i
        while p + 1 < src.count {
            if src[p] == "#", src[p + 1] == "}" {
                let minus = p > i && src[p - 1] == "-"
                let plus = p > i && src[p - 1] == "+"
                i = p + 2
                stripNextLeading = minus
                trimNextNewline = options.trimBlocks && !minus && !plus
                return
            }
            p += 1
        }
        throw syntax("the comment starting here is never closed", start,
                     hint: "end it with '#}'; for literal text such as a shell ${#var}, wrap it in {% raw %}...{% endraw %}")
    }

    /// Handles `{% raw %}...{% endraw %}`; returns false when the block tag is something else.
    private mutating func lexRawBlock(start: Int) throws -> Bool {
        var p = i
        while let u = at(p), Lexer.isSpace(u) { p += 1 }
        guard matches("raw", at: p) else { return false }
        p += 3
        if let u = at(p), u != "-", u != "%", !Lexer.isSpace(u) { return false }
        while let u = at(p), Lexer.isSpace(u) { p += 1 }
        var stripContentStart = false
        if at(p) == "-" { stripContentStart = true; p += 1 }
        guard matches("%}", at: p) else {
            throw syntax("expected '%}' after 'raw'", p)
        }
        p += 2
        let contentStart = p
        // Find {%[-+]? endraw [-+]?%}
        var q = p
        while q + 1 < src.count {
            if src[q] == "{", src[q + 1] == "%" {
                var r = q + 2
                var stripContentEnd = false
                if at(r) == "-" { stripContentEnd = true; r += 1 } else if at(r) == "+" { r += 1 }
                while let u = at(r), Lexer.isSpace(u) { r += 1 }
                if matches("endraw", at: r) {
                    r += 6
                    while let u = at(r), Lexer.isSpace(u) { r += 1 }
                    var endMinus = false
                    var endPlus = false
                    if at(r) == "-" { endMinus = true; r += 1 } else if at(r) == "+" { endPlus = true; r += 1 }
                    guard matches("%}", at: r) else { throw syntax("expected '%}' after 'endraw'", r) }
                    var a = contentStart
                    var b = q
                    if stripContentStart { while a < b, Lexer.isSpace(src[a]) { a += 1 } }
                    if stripContentEnd { while b > a, Lexer.isSpace(src[b - 1]) { b -= 1 } }
                    if a < b {
                        var s = String.UnicodeScalarView()
                        s.append(contentsOf: src[a..<b])
                        tokens.append(Token(kind: .text(String(s)), offset: a))
                    }
                    i = r + 2
                    stripNextLeading = endMinus
                    trimNextNewline = options.trimBlocks && !endMinus && !endPlus
                    return true
                }
            }
            q += 1
        }
        throw syntax("'{% raw %}' is never closed", start, hint: "end it with '{% endraw %}'")
    }

    /// Tokenizes an expression or statement up to its closing `}}` / `%}` (outside any brackets).
    /// Returns the whitespace-control modifier of the closer.
    private mutating func lexTagBody(closer: String?, tagStart: Int) throws -> Unicode.Scalar? {
        let isVariable = closer == "}}"
        closerOfCurrentTag = closer
        var brackets: [(Unicode.Scalar, Int)] = []
        while true {
            while let u = at(i), Lexer.isSpace(u) { i += 1 }
            guard i < src.count else {
                if let open = brackets.last {
                    throw syntax("'\(open.0)' is never closed", open.1)
                }
                guard let closer else { return nil }
                throw syntax("'\(isVariable ? "{{" : "{%")' is never closed", tagStart, hint: "end it with '\(closer)'")
            }
            if let closer, brackets.isEmpty {
                if src[i] == "-" || src[i] == "+", matches(closer, at: i + 1), src[i] == "-" || !isVariable {
                    let m = src[i]
                    i += 3
                    return m
                }
                if matches(closer, at: i) {
                    i += 2
                    return nil
                }
            }
            let c = src[i]
            let start = i
            if c == "_" || c.properties.isAlphabetic {
                var s = String.UnicodeScalarView()
                while let u = at(i), u == "_" || u.properties.isAlphabetic || u.properties.numericType != nil {
                    s.append(u)
                    i += 1
                }
                tokens.append(Token(kind: .name(String(s)), offset: start))
            } else if ("0"..."9").contains(c) {
                try lexNumber()
            } else if c == "'" || c == "\"" {
                try lexString(quote: c, raw: isVariable && options.rawStringsInVariables)
            } else {
                try lexOperator(&brackets)
            }
        }
    }

    private mutating func lexNumber() throws {
        let start = i
        let afterDot: Bool = {
            if case .op(".")? = tokens.last?.kind { return true }
            return false
        }()
        func digits(_ allowed: (Unicode.Scalar) -> Bool) -> String {
            var s = ""
            while let u = at(i), allowed(u) || (u == "_" && at(i + 1).map(allowed) == true && !s.isEmpty) {
                if u != "_" { s.unicodeScalars.append(u) }
                i += 1
            }
            return s
        }
        let isDigit: (Unicode.Scalar) -> Bool = { ("0"..."9").contains($0) }
        if !afterDot, src[i] == "0", let p = at(i + 1), "bBoOxX".unicodeScalars.contains(p) {
            i += 2
            let radix: Int
            let allowed: (Unicode.Scalar) -> Bool
            switch p {
            case "b", "B": radix = 2; allowed = { $0 == "0" || $0 == "1" }
            case "o", "O": radix = 8; allowed = { ("0"..."7").contains($0) }
            default: radix = 16; allowed = { $0.properties.isASCIIHexDigit }
            }
            let text = digits(allowed)
            guard !text.isEmpty else { throw syntax("invalid number literal", start) }
            guard let v = Int(text, radix: radix) else { throw syntax("integer literal too large", start) }
            tokens.append(Token(kind: .integer(v), offset: start))
            return
        }
        var text = digits(isDigit)
        var isFloat = false
        if !afterDot, at(i) == ".", let d = at(i + 1), isDigit(d) {
            i += 1
            text += "." + digits(isDigit)
            isFloat = true
        }
        if !afterDot, let e = at(i), e == "e" || e == "E" {
            var p = i + 1
            if at(p) == "+" || at(p) == "-" { p += 1 }
            if let d = at(p), isDigit(d) {
                let sign = at(i + 1) == "-" ? "-" : ""
                i = p
                text += "e" + sign + digits(isDigit)
                isFloat = true
            }
        }
        if isFloat {
            guard let d = Double(text) else { throw syntax("invalid number literal", start) }
            tokens.append(Token(kind: .float(d), offset: start))
        } else {
            guard let v = Int(text) else { throw syntax("integer literal too large", start) }
            tokens.append(Token(kind: .integer(v), offset: start))
        }
    }

    private mutating func lexString(quote: Unicode.Scalar, raw: Bool) throws {
        let start = i
        i += 1
        var body: [Unicode.Scalar] = []
        while true {
            guard let u = at(i) else {
                throw syntax("string literal is never closed", start, hint: "add the closing \(quote)")
            }
            if u == quote { i += 1; break }
            if u == "\\", let next = at(i + 1) {
                body.append(u)
                body.append(next)
                i += 2
                continue
            }
            body.append(u)
            i += 1
        }
        let value: String
        if raw {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: body)
            value = String(s)
        } else {
            value = Lexer.unescape(body)
        }
        tokens.append(Token(kind: .string(value), offset: start))
    }

    /// Python string-literal escapes; unknown escapes keep their backslash, as Python does.
    static func unescape(_ body: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        var k = 0
        func hex(_ count: Int) -> Unicode.Scalar? {
            guard k + 1 + count <= body.count else { return nil }
            var v: UInt32 = 0
            for p in (k + 1)..<(k + 1 + count) {
                guard let d = body[p].properties.isASCIIHexDigit ? UInt32(String(body[p]), radix: 16) : nil else { return nil }
                v = v * 16 + d
            }
            return Unicode.Scalar(v)
        }
        while k < body.count {
            let u = body[k]
            guard u == "\\", k + 1 < body.count else {
                out.append(u)
                k += 1
                continue
            }
            k += 1
            let e = body[k]
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break
            case "0"..."7":
                var v: UInt32 = 0
                var n = 0
                while n < 3, k < body.count, ("0"..."7").contains(body[k]) {
                    v = v * 8 + (body[k].value - 48)
                    k += 1
                    n += 1
                }
                out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                continue
            case "x", "u", "U":
                let count = e == "x" ? 2 : (e == "u" ? 4 : 8)
                if let s = hex(count) {
                    out.append(s)
                    k += count + 1
                    continue
                }
                out.append("\\")
                out.append(e)
            default:
                out.append("\\")
                out.append(e)
            }
            k += 1
        }
        return String(out)
    }

    private static let twoCharOperators: Set<String> = ["**", "//", "==", "!=", "<=", ">="]
    private static let oneCharOperators: Set<Unicode.Scalar> = [
        "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", ";",
    ]

    private mutating func lexOperator(_ brackets: inout [(Unicode.Scalar, Int)]) throws {
        let start = i
        let c = src[i]
        if let n = at(i + 1) {
            let pair = String(String.UnicodeScalarView([c, n]))
            if Lexer.twoCharOperators.contains(pair) {
                tokens.append(Token(kind: .op(pair), offset: start))
                i += 2
                return
            }
        }
        guard Lexer.oneCharOperators.contains(c) else {
            throw syntax("unexpected character '\(Character(c))'", start,
                         hint: "put text in quotes; operators are + - * / // % ** ~ == != < > <= >= and, or, not, in, is")
        }
        switch c {
        case "(", "[", "{": brackets.append((c, start))
        case ")", "]", "}":
            let expected: Unicode.Scalar = c == ")" ? "(" : (c == "]" ? "[" : "{")
            guard let open = brackets.last, open.0 == expected else {
                let hint: String
                if let open = brackets.last {
                    hint = "'\(Character(open.0))' is still open"
                } else if c == "}", closerOfCurrentTag == "}}" {
                    hint = "close '{{' with '}}'"
                } else {
                    hint = "there is no matching '\(Character(expected))'"
                }
                throw syntax("unexpected '\(Character(c))'", start, hint: hint)
            }
            brackets.removeLast()
        default: break
        }
        tokens.append(Token(kind: .op(String(Character(c))), offset: start))
        i += 1
    }
}
