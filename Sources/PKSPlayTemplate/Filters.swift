import Foundation
import PKSPlayCore

/// The filter library: Jinja's built-in filters plus Ansible's, with their Python semantics.
enum Filters {
    typealias Filter = @Sendable (Operand, Arguments, Renderer) throws -> Operand

    static let table: [String: Filter] = {
        var t: [String: Filter] = [:]
        for group in [core, strings, collections, data, paths] {
            t.merge(group) { first, _ in first }
        }
        return t
    }()

    /// A filter whose input must be defined; `params` are bound Python-style and must be defined too.
    static func plain(_ params: [String] = [], required: Int = 0,
                      _ body: @escaping @Sendable (Value, [Value?], Arguments) throws -> Value) -> Filter {
        { input, args, _ in
            let v = try input.get()
            return .value(try body(v, try args.values(params, required: required), args))
        }
    }

    /// A filter on the string form of its input (Ansible's filters call `to_text` first).
    static func text(_ params: [String] = [], required: Int = 0,
                     _ body: @escaping @Sendable (String, [Value?], Arguments) throws -> Value) -> Filter {
        plain(params, required: required) { v, p, a in try body(Py.str(v), p, a) }
    }

    // MARK: Core

    static let core: [String: Filter] = [
        "default": defaultFilter,
        "d": defaultFilter,
        "mandatory": { input, args, _ in
            let p = try args.values(["msg"])
            if case .undefined(let u) = input {
                let message = p[0].map(Py.str) ?? "Mandatory variable \(u.name.map { "'\($0)'" } ?? "") not defined."
                throw TemplateError(.undefined, message, name: u.name)
            }
            return input
        },
        "bool": plain { v, _, _ in .bool(v.asBool ?? false) },
        "int": plain(["default", "base"]) { v, p, a in
            let fallback = p[0] ?? .int(0)
            let base = try a.int(p[1], "base") ?? 10
            return Conversions.int(v, base: base) ?? fallback
        },
        "float": plain(["default"]) { v, p, _ in Conversions.float(v).map(Value.double) ?? p[0] ?? .double(0) },
        "string": plain { v, _, _ in .string(Py.str(v)) },
        "ternary": plain(["true_val", "false_val", "none_val"], required: 2) { v, p, _ in
            if case .null = v, let none = p[2], !none.isNull { return none }
            return v.isTruthy ? p[0]! : p[1]!
        },
        "type_debug": { input, args, _ in
            _ = try args.bind([])
            return .value(.string(Py.typeName(try input.get())))
        },
        "abs": plain { v, _, _ in
            switch v {
            case .int(let i):
                guard i != Int.min else { throw TemplateError(.arithmetic, "integer overflow") }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw TemplateError.type("bad operand type for abs(): '\(Py.typeName(v))'")
            }
        },
        "round": plain(["precision", "method"]) { v, p, a in
            let precision = try a.int(p[0], "precision") ?? 0
            let method = try a.string(p[1], "method") ?? "common"
            return try Conversions.round(v, precision: precision, method: method, args: a)
        },
        "log": plain(["base"]) { v, p, a in
            guard let x = Py.asDouble(v), let base = p[0].map({ Py.asDouble($0) }) ?? M_E else {
                throw a.failure("needs numbers")
            }
            guard x > 0, base > 0, base != 1 else { throw a.failure("math domain error") }
            return .double(base == 10 ? log10(x) : Foundation.log(x) / Foundation.log(base))
        },
        "pow": plain(["y"], required: 1) { v, p, a in
            guard let x = Py.asDouble(v), let y = Py.asDouble(p[0]!) else { throw a.failure("needs numbers") }
            return .double(Foundation.pow(x, y))
        },
        "root": plain(["base"]) { v, p, a in
            guard let x = Py.asDouble(v), let base = p[0].map({ Py.asDouble($0) }) ?? 2 else { throw a.failure("needs numbers") }
            if base == 2 { return .double(x.squareRoot()) }
            return .double(Foundation.pow(x, 1 / base))
        },
        "format": { input, args, _ in
            let v = try input.get()
            let positional = try args.positional.map { try $0.get() }
            if !args.keywords.isEmpty {
                let mapping = ValueDict(try args.keywords.map { ($0.0, try $0.1.get()) })
                return .value(.string(try PrintfFormat.format(Py.str(v), [.dict(mapping)])))
            }
            return .value(.string(try PrintfFormat.format(Py.str(v), positional)))
        },
        "extract": { input, args, _ in
            let p = try args.values(["container", "morekeys"], required: 1)
            var current = try Renderer.item(of: p[0]!, try input.get())
            if let more = p[1] {
                for key in more.listValue ?? [more] {
                    current = try Renderer.item(of: try current.get(), key)
                }
            }
            return current
        },
    ]

    /// Ansible's `comment`: wraps text in comment markers of a style (`ansible_managed | comment`).
    private static let comment: Filter = { input, args, _ in
        let text = Py.str(try input.get())
        let p = try args.values(["style", "decoration", "beginning", "prefix", "prefix_count", "postfix", "postfix_count", "end", "newline"])
        let styles: [String: (beginning: String, decoration: String, end: String)] = [
            "plain": ("", "# ", ""), "erlang": ("", "% ", ""), "c": ("", "// ", ""),
            "cblock": ("/*", " * ", " */"), "xml": ("<!--", " - ", "-->"),
        ]
        let styleName = try args.string(p[0], "style") ?? "plain"
        guard let style = styles[styleName] else {
            throw args.failure("invalid style '\(styleName)'; available styles: \(styles.keys.sorted().joined(separator: ", "))")
        }
        let prepostfix = p[1].map(Py.str) ?? style.decoration
        let trimmed = StringOps.strip(prepostfix, chars: nil, leading: false, trailing: true)
        let newline = p[8].map(Py.str) ?? "\n"
        let beginning = p[2].map(Py.str) ?? style.beginning
        let decoration = p[1].map(Py.str) ?? style.decoration
        let prefix = p[3].map(Py.str) ?? trimmed
        let postfix = p[5].map(Py.str) ?? trimmed
        let end = p[7].map(Py.str) ?? style.end
        let prefixCount = max(0, min(try args.int(p[4], "prefix_count") ?? 1, 1000))
        let postfixCount = max(0, min(try args.int(p[6], "postfix_count") ?? 1, 1000))
        var out = beginning.isEmpty ? "" : beginning + newline
        if !prefix.isEmpty {
            out += String(repeating: prefix == newline ? newline : prefix + newline, count: prefixCount)
        }
        let decoratedLines = decoration + text.replacingOccurrences(of: newline, with: newline + decoration)
        let decorationTrimmed = StringOps.strip(decoration, chars: nil, leading: false, trailing: true)
        out += decoratedLines.replacingOccurrences(of: decoration + newline, with: decorationTrimmed + newline)
        out += String(repeating: newline + postfix, count: postfixCount)
        if !end.isEmpty { out += newline + end }
        return .value(.string(out))
    }

    private static let defaultFilter: Filter = { input, args, _ in
        let p = try args.bind(["default_value", "boolean"])
        let fallback = p[0] ?? .value(.string(""))
        switch input {
        case .undefined: return fallback
        case .value(let v):
            if let boolean = p[1], try boolean.get().isTruthy, !v.isTruthy { return fallback }
            return input
        }
    }

    // MARK: Strings

    static let strings: [String: Filter] = [
        "lower": text { s, _, _ in .string(s.lowercased()) },
        "upper": text { s, _, _ in .string(s.uppercased()) },
        "capitalize": text { s, _, _ in .string(StringOps.capitalize(s)) },
        "title": text { s, _, _ in .string(StringOps.jinjaTitle(s)) },
        "trim": text(["chars"]) { s, p, _ in .string(StringOps.strip(s, chars: p[0].map(Py.str))) },
        "center": text(["width"]) { s, p, a in
            let width = min(try a.int(p[0], "width") ?? 80, Py.maxBuiltSize)
            let n = s.unicodeScalars.count
            guard n < width else { return .string(s) }
            let total = width - n
            let left = total / 2 + (total & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: total - left))
        },
        "replace": text(["old", "new", "count"], required: 2) { s, p, a in
            .string(StringOps.replace(s, Py.str(p[0]!), Py.str(p[1]!), count: try a.int(p[2], "count") ?? -1))
        },
        "split": text(["sep", "maxsplit"]) { s, p, a in
            let sep = p[0].flatMap { $0.isNull ? nil : Py.str($0) }
            if sep == "" { throw a.failure("empty separator") }
            return .list(StringOps.split(s, separator: sep, maxSplit: try a.int(p[1], "maxsplit") ?? -1).map(Value.string))
        },
        "indent": text(["width", "first", "blank"]) { s, p, a in
            let indentation: String
            if case .string(let w)? = p[0] { indentation = w } else { indentation = String(repeating: " ", count: min(max(try a.int(p[0], "width") ?? 4, 0), 1000)) }
            let lines = StringOps.splitLines(s + "\n", keepEnds: false)
            var out: String
            if p[2]?.isTruthy ?? false {
                out = lines.joined(separator: "\n" + indentation)
            } else {
                out = lines.first ?? ""
                if lines.count > 1 {
                    out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            if p[1]?.isTruthy ?? false { out = indentation + out }
            return .string(out)
        },
        "quote": { input, args, _ in
            _ = try args.bind([])
            let v = try input.get()
            return .value(.string(Conversions.shellQuote(v.isNull ? "" : Py.str(v))))
        },
        "urlencode": plain { v, _, _ in
            switch v {
            case .dict(let d):
                return .string(d.map { "\(Conversions.urlQuote($0.key, forQuery: true))=\(Conversions.urlQuote(Py.str($0.value), forQuery: true))" }.joined(separator: "&"))
            default:
                return .string(Conversions.urlQuote(Py.str(v), forQuery: false))
            }
        },
        "escape": text { s, _, _ in .string(Conversions.htmlEscape(s)) },
        "e": text { s, _, _ in .string(Conversions.htmlEscape(s)) },
        "regex_replace": text(["pattern", "replacement", "ignorecase", "multiline", "count", "mandatory_count"]) { s, p, a in
            let pattern = Py.str(p[0] ?? "")
            let regex = try PythonRegex.compile(pattern, ignoreCase: p[2]?.isTruthy ?? false, multiline: p[3]?.isTruthy ?? false)
            let (out, n) = try regex.substitute(in: s, template: Py.str(p[1] ?? ""), count: try a.int(p[4], "count") ?? 0)
            if let mandatory = try a.int(p[5], "mandatory_count"), mandatory != 0, mandatory != n {
                throw a.failure("\(Value.string(pattern).pythonRepr) should match \(mandatory) times, but matches \(n) times in \(Value.string(s).pythonRepr)")
            }
            return .string(out)
        },
        "regex_search": { input, args, _ in
            var args = args
            let options = args.takeKeywords(["ignorecase", "multiline"])
            try args.rejectKeywords()
            guard let patternOperand = args.positional.first else { throw args.failure("missing required argument 'regex'") }
            let s = Py.str(try input.get())
            let regex = try PythonRegex.compile(Py.str(try patternOperand.get()),
                                                ignoreCase: try options["ignorecase"]?.get().isTruthy ?? false,
                                                multiline: try options["multiline"]?.get().isTruthy ?? false)
            var groups: [Int] = []
            for ref in args.positional.dropFirst() {
                let r = Py.str(try ref.get())
                if r.hasPrefix("\\g<"), r.hasSuffix(">") {
                    groups.append(try regex.groupIndex(String(r.dropFirst(3).dropLast())))
                } else if r.hasPrefix("\\"), let n = Int(r.dropFirst()) {
                    groups.append(try regex.groupIndex(String(n)))
                } else {
                    throw args.failure("unknown argument \(Value.string(r).pythonRepr); use '\\1' or '\\g<name>'")
                }
            }
            guard let m = regex.firstMatch(in: s) else { return .value(.null) }
            if groups.isEmpty { return .value(.string(m.group(0) ?? "")) }
            return .value(.list(groups.map { m.group($0).map(Value.string) ?? .null }))
        },
        "regex_findall": text(["regex", "multiline", "ignorecase"], required: 1) { s, p, _ in
            let regex = try PythonRegex.compile(Py.str(p[0]!), ignoreCase: p[2]?.isTruthy ?? false, multiline: p[1]?.isTruthy ?? false)
            return .list(regex.findAll(in: s))
        },
        "regex_escape": text(["re_type"]) { s, p, a in
            switch try a.string(p[0], "re_type") ?? "python" {
            case "python": return .string(PythonRegex.escape(s))
            case "posix_basic":
                var out = ""
                for c in s.unicodeScalars {
                    if "].[^$*\\".unicodeScalars.contains(c) { out += "\\" }
                    out.unicodeScalars.append(c)
                }
                return .string(out)
            case let other: throw a.failure("regex type '\(other)' is not supported; use python or posix_basic")
            }
        },
        "b64encode": text(["encoding"]) { s, _, _ in .string(Data(s.utf8).base64EncodedString()) },
        "b64decode": text(["encoding"]) { s, _, a in
            guard let data = Conversions.base64Decode(s) else { throw a.failure("incorrect base64 padding or characters") }
            guard let text = String(data: data, encoding: .utf8) else { throw a.failure("the decoded bytes are not valid UTF-8") }
            return .string(text)
        },
        "hash": text(["hashtype"]) { s, p, a in
            let algorithm = try a.string(p[0], "hashtype") ?? "sha1"
            guard let kind = Digest.Algorithm(rawValue: algorithm) else {
                let names = Digest.Algorithm.allCases.map(\.rawValue)
                throw a.failure("unsupported hash type \(algorithm); use one of \(names.joined(separator: ", "))")
            }
            return .string(Digest.hex(Digest.hash(kind, Array(s.utf8))))
        },
        "comment": comment,
        "checksum": text { s, _, _ in .string(Digest.hex(Digest.sha1(Array(s.utf8)))) },
        "sha1": text { s, _, _ in .string(Digest.hex(Digest.sha1(Array(s.utf8)))) },
        "md5": text { s, _, _ in .string(Digest.hex(Digest.md5(Array(s.utf8)))) },
    ]
}

/// Conversions the filters share.
enum Conversions {
    /// Jinja's `int` filter: Python `int(s, base)`, else `int(float(s))`, else nil.
    static func int(_ v: Value, base: Int) -> Value? {
        switch v {
        case .int: return v
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return nil }
            return .int(Int(d.rounded(.towardZero)))
        case .string(let s):
            if let i = parseInt(s, base: base) { return .int(i) }
            if let d = parseFloat(s), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d.rounded(.towardZero))) }
            return nil
        default: return nil
        }
    }

    /// Python `int(text, base)`: surrounding whitespace, sign, underscores between digits, prefixes for base 0/2/8/16.
    static func parseInt(_ text: String, base: Int) -> Int? {
        var s = Substring(StringOps.strip(text, chars: nil))
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        var radix = base
        let lower = s.lowercased()
        for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) && (base == 0 || base == r) {
            radix = r
            s = s.dropFirst(2)
            if s.hasPrefix("_") { s = s.dropFirst() }
            break
        }
        if radix == 0 {
            radix = 10
            if s.count > 1, s.hasPrefix("0"), s.contains(where: { $0 != "0" && $0 != "_" }) { return nil }
        }
        guard radix >= 2, radix <= 36, !s.isEmpty, !s.hasPrefix("_"), !s.hasSuffix("_"), !s.contains("__") else { return nil }
        guard let magnitude = Int(s.replacingOccurrences(of: "_", with: ""), radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// Python `float(text)`: whitespace, underscores, `inf`/`nan`, exponents.
    static func parseFloat(_ text: String) -> Double? {
        let s = StringOps.strip(text, chars: nil).lowercased()
        switch s {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: break
        }
        guard !s.isEmpty, !s.hasPrefix("_"), !s.hasSuffix("_"), !s.contains("__"),
              s.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.e_".contains($0)) }) else { return nil }
        return Double(s.replacingOccurrences(of: "_", with: ""))
    }

    static func float(_ v: Value) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return d
        case .string(let s): return parseFloat(s)
        default: return nil
        }
    }

    /// Jinja's `round`: Python `round()` for "common" (half to even, exact decimal), else ceil/floor as a float.
    static func round(_ v: Value, precision: Int, method: String, args: Arguments) throws -> Value {
        guard ["common", "ceil", "floor"].contains(method) else { throw args.failure("method must be common, ceil or floor") }
        guard Py.isNumber(v), let x = Py.asDouble(v) else { throw TemplateError.type("type \(Py.typeName(v)) doesn't define __round__ method") }
        let p = max(min(precision, 300), -300)
        if method != "common" {
            let scale = Foundation.pow(10.0, Double(p))
            let y = method == "ceil" ? (x * scale).rounded(.up) : (x * scale).rounded(.down)
            return .double(y / scale)
        }
        if let i = Py.asInt(v) {
            guard p < 0 else { return .int(i) }
            let scale = Foundation.pow(10.0, Double(-p))
            return .int(Int((Double(i) / scale).rounded(.toNearestOrEven) * scale))
        }
        guard x.isFinite else { return .double(x) }
        if p >= 0 {
            // printf rounds the exact binary value half-to-even, as Python's round does.
            return .double(Double(String(format: "%.\(min(p, 100))f", x)) ?? x)
        }
        let scale = Foundation.pow(10.0, Double(-p))
        return .double((x / scale).rounded(.toNearestOrEven) * scale)
    }

    /// Python `shlex.quote`.
    static func shellQuote(_ s: String) -> String {
        if s.isEmpty { return "''" }
        let safe = s.unicodeScalars.allSatisfy { u in
            (u.isASCII && (u.properties.isAlphabetic || ("0"..."9").contains(u))) || "@%+=:,./-_".unicodeScalars.contains(u)
        }
        if safe { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }

    /// Jinja's `url_quote`: UTF-8 percent-encoding; `/` stays unless in a query, where spaces become `+`.
    static func urlQuote(_ s: String, forQuery: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if (b < 128 && (c.isLetter || c.isNumber)) || "_.-~".contains(c) || (!forQuery && c == "/") {
                out.append(c)
            } else if forQuery, c == " " {
                out += "+"
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Python `base64.b64decode`: padding required, characters outside the alphabet ignored.
    static func base64Decode(_ s: String) -> Data? {
        let filtered = s.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0)) }
        guard filtered.count % 4 == 0 else { return nil }
        return Data(base64Encoded: filtered)
    }
}
