import Foundation
import PKSPlayCore

/// Python `str` operations with Python's exact semantics (code points, whitespace rules, counts).
enum StringOps {
    static func isPythonSpace(_ u: Unicode.Scalar) -> Bool {
        switch u {
        case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{1F}", "\u{85}": return true
        default: return u.value > 127 && u.properties.isWhitespace
        }
    }

    /// `str.split(sep, maxsplit)`; `sep == nil` splits on runs of whitespace and drops empty pieces.
    static func split(_ s: String, separator: String?, maxSplit: Int, fromRight: Bool = false) -> [String] {
        let u = Py.scalars(s)
        guard let separator else {
            var words: [[Unicode.Scalar]] = []
            var current: [Unicode.Scalar] = []
            var inWord = false
            let seq: [Unicode.Scalar] = fromRight ? u.reversed() : u
            var k = 0
            while k < seq.count {
                let c = seq[k]
                if isPythonSpace(c) {
                    if inWord {
                        words.append(current)
                        current = []
                        inWord = false
                        if maxSplit >= 0, words.count == maxSplit {
                            // The rest, minus leading whitespace, is the last piece.
                            var rest = Array(seq[k...])
                            while let f = rest.first, isPythonSpace(f) { rest.removeFirst() }
                            if !rest.isEmpty { words.append(rest) }
                            break
                        }
                    }
                } else {
                    current.append(c)
                    inWord = true
                }
                k += 1
            }
            if inWord { words.append(current) }
            let pieces = words.map { Py.string(fromRight ? $0.reversed() : $0) }
            return fromRight ? pieces.reversed() : pieces
        }
        let sep = Py.scalars(separator)
        var pieces: [String] = []
        if fromRight {
            var end = u.count
            var k = u.count - sep.count
            var splits = 0
            while k >= 0, maxSplit < 0 || splits < maxSplit {
                if Array(u[k..<(k + sep.count)]) == sep {
                    pieces.append(Py.string(u[(k + sep.count)..<end]))
                    end = k
                    k -= sep.count
                    splits += 1
                } else {
                    k -= 1
                }
            }
            pieces.append(Py.string(u[0..<end]))
            return pieces.reversed()
        }
        var start = 0
        var k = 0
        var splits = 0
        while k + sep.count <= u.count, maxSplit < 0 || splits < maxSplit {
            if u[k] == sep[0], Array(u[k..<(k + sep.count)]) == sep {
                pieces.append(Py.string(u[start..<k]))
                k += sep.count
                start = k
                splits += 1
            } else {
                k += 1
            }
        }
        pieces.append(Py.string(u[start...]))
        return pieces
    }

    static func splitLines(_ s: String, keepEnds: Bool) -> [String] {
        var lines: [String] = []
        let u = Py.scalars(s)
        var start = 0
        var k = 0
        while k < u.count {
            let c = u[k]
            let isBreak = c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" || c == "\u{1C}" || c == "\u{1D}" || c == "\u{1E}" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}"
            if isBreak {
                var end = k + 1
                if c == "\r", k + 1 < u.count, u[k + 1] == "\n" { end = k + 2 }
                lines.append(Py.string(u[start..<(keepEnds ? end : k)]))
                start = end
                k = end
            } else {
                k += 1
            }
        }
        if start < u.count { lines.append(Py.string(u[start...])) }
        return lines
    }

    static func strip(_ s: String, chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let u = Py.scalars(s)
        let set = chars.map { Set($0.unicodeScalars) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isPythonSpace(c) }
        var a = 0
        var b = u.count
        if leading { while a < b, strippable(u[a]) { a += 1 } }
        if trailing { while b > a, strippable(u[b - 1]) { b -= 1 } }
        return Py.string(u[a..<b])
    }

    /// Python `str.capitalize()` and Jinja's `capitalize`: first character upper, the rest lower.
    static func capitalize(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst().lowercased()
    }

    /// Python `str.title()`: a letter after a non-letter starts a word.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s {
            if c.isLetter {
                out += previousCased ? c.lowercased() : c.uppercased()
                previousCased = true
            } else {
                out.append(c)
                previousCased = false
            }
        }
        return out
    }

    /// Jinja's `title` filter: words start after whitespace, `-`, or an opening bracket.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s {
            if c.isWhitespace || "-({[<".contains(c) {
                out.append(c)
                atWordStart = true
            } else if atWordStart {
                out += c.uppercased()
                atWordStart = false
            } else {
                out += c.lowercased()
            }
        }
        return out
    }

    /// `str.replace(old, new, count)`; an empty `old` inserts `new` between characters, as Python does.
    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1) -> String {
        if old.isEmpty {
            var out = ""
            var n = 0
            for c in s.unicodeScalars {
                if count < 0 || n < count { out += new; n += 1 }
                out.unicodeScalars.append(c)
            }
            if count < 0 || n < count { out += new }
            return out
        }
        if count < 0 { return s.replacingOccurrences(of: old, with: new) }
        var out = ""
        var rest = Substring(s)
        var n = 0
        while n < count, let r = rest.range(of: old) {
            out += rest[..<r.lowerBound]
            out += new
            rest = rest[r.upperBound...]
            n += 1
        }
        return out + rest
    }

    /// Code-point index of `needle`, or -1.
    static func find(_ s: String, _ needle: String, fromRight: Bool = false) -> Int {
        let u = Py.scalars(s)
        let n = Py.scalars(needle)
        guard n.count <= u.count else { return -1 }
        let candidates = fromRight ? Array((0...(u.count - n.count)).reversed()) : Array(0...(u.count - n.count))
        for k in candidates where Array(u[k..<(k + n.count)]) == n { return k }
        return -1
    }
}

/// Python `%`-formatting, as used by `"%s-%s" % (a, b)` and Jinja's `format` filter.
enum PrintfFormat {
    static func format(_ template: String, _ args: [Value]) throws -> String {
        let u = Py.scalars(template)
        var out = ""
        var argIndex = 0
        var k = 0
        var mapping: ValueDict?
        if args.count == 1, case .dict(let d) = args[0] { mapping = d }
        func nextArg() throws -> Value {
            guard argIndex < args.count else { throw TemplateError.type("not enough arguments for format string") }
            defer { argIndex += 1 }
            return args[argIndex]
        }
        while k < u.count {
            let c = u[k]
            guard c == "%" else {
                out.unicodeScalars.append(c)
                k += 1
                continue
            }
            k += 1
            guard k < u.count else { throw TemplateError.type("incomplete format") }
            var key: String?
            if u[k] == "(" {
                guard let close = u[k...].firstIndex(of: ")") else { throw TemplateError.type("incomplete format key") }
                key = Py.string(u[(k + 1)..<close])
                k = close + 1
            }
            var flags = ""
            while k < u.count, "-+ 0#".unicodeScalars.contains(u[k]) { flags.unicodeScalars.append(u[k]); k += 1 }
            var width = ""
            while k < u.count, ("0"..."9").contains(u[k]) { width.unicodeScalars.append(u[k]); k += 1 }
            var precision: Int?
            if k < u.count, u[k] == "." {
                k += 1
                var p = ""
                while k < u.count, ("0"..."9").contains(u[k]) { p.unicodeScalars.append(u[k]); k += 1 }
                precision = Int(p) ?? 0
            }
            guard k < u.count else { throw TemplateError.type("incomplete format") }
            let conversion = u[k]
            k += 1
            if conversion == "%" {
                out += "%"
                continue
            }
            let arg: Value
            if let key {
                guard let mapping else { throw TemplateError.type("format requires a mapping") }
                guard let v = mapping[key] else { throw TemplateError(.undefined, "format key '\(key)' is missing", name: key) }
                arg = v
            } else {
                arg = try nextArg()
            }
            var body: String
            switch conversion {
            case "s": body = Py.str(arg); if let precision { body = String(body.prefix(precision)) }
            case "r", "a": body = arg.pythonRepr
            case "d", "i", "u":
                guard let d = Py.asDouble(arg) else { throw TemplateError.type("%\(conversion) format: a number is required, not \(Py.typeName(arg))") }
                body = String(Py.asInt(arg) ?? Int(d.rounded(.towardZero)))
                if flags.contains("+"), !body.hasPrefix("-") { body = "+" + body }
            case "f", "F", "e", "E", "g", "G":
                guard let d = Py.asDouble(arg) else { throw TemplateError.type("%\(conversion) format: a number is required, not \(Py.typeName(arg))") }
                body = String(format: "%\(flags.contains("+") ? "+" : "").\(precision ?? 6)\(Character(conversion))", d)
            case "x", "X", "o":
                guard let i = Py.asInt(arg) else { throw TemplateError.type("%\(conversion) format: an integer is required, not \(Py.typeName(arg))") }
                body = String(i.magnitude, radix: conversion == "o" ? 8 : 16, uppercase: conversion == "X")
                if flags.contains("#") { body = (conversion == "o" ? "0o" : (conversion == "X" ? "0X" : "0x")) + body }
                if i < 0 { body = "-" + body }
            case "c":
                if let i = Py.asInt(arg), let s = Unicode.Scalar(UInt32(clamping: i)) { body = String(s) } else { body = Py.str(arg) }
            default:
                throw TemplateError.type("unsupported format character '\(Character(conversion))'")
            }
            if let w = Int(width), w > body.unicodeScalars.count {
                let pad = min(w, Py.maxBuiltSize) - body.unicodeScalars.count
                if flags.contains("-") {
                    body += String(repeating: " ", count: pad)
                } else if flags.contains("0"), "dfFeEgGxXoiu".unicodeScalars.contains(conversion) {
                    let negative = body.hasPrefix("-") || body.hasPrefix("+")
                    body = negative ? String(body.first!) + String(repeating: "0", count: pad) + body.dropFirst() : String(repeating: "0", count: pad) + body
                } else {
                    body = String(repeating: " ", count: pad) + body
                }
            }
            out += body
        }
        if mapping == nil, argIndex < args.count {
            throw TemplateError.type("not all arguments converted during string formatting")
        }
        return out
    }
}

/// `strftime` formatting for `now()`, with Python's `%f` (microseconds).
enum Strftime {
    static func format(_ date: Date, _ format: String, utc: Bool) -> String {
        let seconds = date.timeIntervalSince1970
        var t = time_t(seconds.rounded(.down))
        var parts = tm()
        if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        let micro = Int((seconds - seconds.rounded(.down)) * 1_000_000)
        let fmt = format.replacingOccurrences(of: "%f", with: String(format: "%06d", micro))
        var buffer = [Int8](repeating: 0, count: 512)
        let n = strftime(&buffer, buffer.count, fmt, &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
