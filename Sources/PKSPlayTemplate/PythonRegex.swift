import Foundation
import PKSPlayCore

/// Python `re` patterns and replacement templates on top of NSRegularExpression (ICU).
///
/// Translates what differs: `(?P<name>...)`, `(?P=name)`, `\Z`, `{,m}`, literal braces and `[` inside
/// classes; replacement templates use Python's `\1`, `\g<1>`, `\g<name>` rather than `$1`.
struct PythonRegex: @unchecked Sendable {
    let regex: NSRegularExpression
    let groupNames: [String: Int]
    let pattern: String

    var groupCount: Int { regex.numberOfCaptureGroups }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [String: PythonRegex] = [:]

    /// Compiles (or fetches from the cache) a Python pattern; a bad pattern is an error naming it.
    static func compile(_ pattern: String, ignoreCase: Bool = false, multiline: Bool = false, dotAll: Bool = false) throws -> PythonRegex {
        let key = "\(ignoreCase ? 1 : 0)\(multiline ? 1 : 0)\(dotAll ? 1 : 0)\(pattern)"
        if let hit = cacheLock.withLock({ cache[key] }) { return hit }
        let (translated, names) = translate(pattern)
        var options: NSRegularExpression.Options = []
        if ignoreCase { options.insert(.caseInsensitive) }
        if multiline { options.insert(.anchorsMatchLines) }
        if dotAll { options.insert(.dotMatchesLineSeparators) }
        let regex: NSRegularExpression
        do {
            regex = try NSRegularExpression(pattern: translated, options: options)
        } catch {
            // Reported as a type error so the filter or test using the pattern is named in the message.
            throw TemplateError(.type, "invalid regular expression \(Value.string(pattern).pythonRepr)",
                                hint: "check brackets, parentheses and escapes in the pattern")
        }
        let compiled = PythonRegex(regex: regex, groupNames: names, pattern: pattern)
        cacheLock.withLock {
            if cache.count > 1024 { cache.removeAll() }
            cache[key] = compiled
        }
        return compiled
    }

    static func translate(_ pattern: String) -> (String, [String: Int]) {
        let u = Py.scalars(pattern)
        var out = String.UnicodeScalarView()
        var names: [String: Int] = [:]
        var groups = 0
        var k = 0
        var inClass = false
        var classStart = 0
        func appendString(_ s: String) { out.append(contentsOf: s.unicodeScalars) }
        while k < u.count {
            let c = u[k]
            if c == "\\", k + 1 < u.count {
                let n = u[k + 1]
                if !inClass, n == "Z" {
                    appendString("\\z")
                } else {
                    out.append(c)
                    out.append(n)
                }
                k += 2
                continue
            }
            if inClass {
                if c == "]", k > classStart {
                    inClass = false
                    out.append(c)
                } else if c == "[" || c == "&" {
                    out.append("\\")
                    out.append(c)
                } else {
                    out.append(c)
                }
                k += 1
                continue
            }
            switch c {
            case "[":
                inClass = true
                out.append(c)
                k += 1
                if k < u.count, u[k] == "^" { out.append("^"); k += 1 }
                // A ']' right after '[' or '[^' is a literal in Python.
                if k < u.count, u[k] == "]" { appendString("\\]"); k += 1 }
                classStart = k
                continue
            case "(":
                if k + 1 < u.count, u[k + 1] == "?" {
                    if k + 2 < u.count, u[k + 2] == "P", k + 3 < u.count {
                        if u[k + 3] == "<", let close = u[(k + 4)...].firstIndex(of: ">") {
                            groups += 1
                            let name = Py.string(u[(k + 4)..<close])
                            names[name] = groups
                            appendString("(?<\(name)>")
                            k = close + 1
                            continue
                        }
                        if u[k + 3] == "=", let close = u[(k + 4)...].firstIndex(of: ")") {
                            let name = Py.string(u[(k + 4)..<close])
                            appendString("\\k<\(name)>")
                            k = close + 1
                            continue
                        }
                    }
                    if k + 2 < u.count, u[k + 2] == "<", k + 3 < u.count, u[k + 3] != "=", u[k + 3] != "!",
                       let close = u[(k + 3)...].firstIndex(of: ">") {
                        groups += 1
                        names[Py.string(u[(k + 3)..<close])] = groups
                    }
                } else {
                    groups += 1
                }
                out.append(c)
                k += 1
            case "{":
                if let (text, length) = quantifier(u, at: k) {
                    appendString(text)
                    k += length
                } else {
                    appendString("\\{")
                    k += 1
                }
            case "}":
                appendString("\\}")
                k += 1
            default:
                out.append(c)
                k += 1
            }
        }
        return (String(out), names)
    }

    /// A `{m}`, `{m,}`, `{,n}` or `{m,n}` quantifier at `k`, in ICU spelling, with its length in the pattern.
    private static func quantifier(_ u: [Unicode.Scalar], at k: Int) -> (String, Int)? {
        guard let close = u[k...].firstIndex(of: "}") else { return nil }
        let body = Py.string(u[(k + 1)..<close])
        let parts = body.split(separator: ",", omittingEmptySubsequences: false)
        let isNumber: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
        switch parts.count {
        case 1 where isNumber(parts[0]): return ("{\(body)}", close - k + 1)
        case 2 where (parts[0].isEmpty || isNumber(parts[0])) && (parts[1].isEmpty || isNumber(parts[1])):
            if parts[0].isEmpty && parts[1].isEmpty { return nil }
            return ("{\(parts[0].isEmpty ? "0" : String(parts[0])),\(parts[1])}", close - k + 1)
        default: return nil
        }
    }

    // MARK: Matching

    struct Match {
        let result: NSTextCheckingResult
        let text: String

        func group(_ i: Int) -> String? {
            guard i <= result.numberOfRanges - 1 else { return nil }
            let r = result.range(at: i)
            guard r.location != NSNotFound, let range = Range(r, in: text) else { return nil }
            return String(text[range])
        }
    }

    func firstMatch(in s: String, anchored: Bool = false) -> Match? {
        let options: NSRegularExpression.MatchingOptions = anchored ? [.anchored] : []
        guard let r = regex.firstMatch(in: s, options: options, range: NSRange(s.startIndex..., in: s)) else { return nil }
        return Match(result: r, text: s)
    }

    func fullMatch(_ s: String) -> Bool {
        guard let m = firstMatch(in: s, anchored: true) else { return false }
        return m.result.range.location == 0 && m.result.range.length == NSRange(s.startIndex..., in: s).length
    }

    func matches(in s: String) -> [Match] {
        regex.matches(in: s, options: [], range: NSRange(s.startIndex..., in: s)).map { Match(result: $0, text: s) }
    }

    /// Resolves a group reference written as a number or a name.
    func groupIndex(_ ref: String) throws -> Int {
        if let i = Int(ref) {
            guard i >= 0, i <= groupCount else { throw TemplateError(.type, "invalid group reference \(i) in pattern \(Value.string(pattern).pythonRepr)") }
            return i
        }
        guard let i = groupNames[ref] else { throw TemplateError(.type, "unknown group name '\(ref)' in pattern \(Value.string(pattern).pythonRepr)") }
        return i
    }

    private enum Piece {
        case literal(String)
        case group(Int)
    }

    /// Parses a Python `re.sub` replacement template.
    private func parseTemplate(_ template: String) throws -> [Piece] {
        let u = Py.scalars(template)
        var pieces: [Piece] = []
        var literal = String.UnicodeScalarView()
        func flush() {
            if !literal.isEmpty { pieces.append(.literal(String(literal))); literal = String.UnicodeScalarView() }
        }
        var k = 0
        while k < u.count {
            let c = u[k]
            guard c == "\\", k + 1 < u.count else {
                literal.append(c)
                k += 1
                continue
            }
            let n = u[k + 1]
            switch n {
            case "g":
                guard k + 2 < u.count, u[k + 2] == "<", let close = u[(k + 3)...].firstIndex(of: ">") else {
                    throw TemplateError(.type, "missing '<' after \\g in the replacement")
                }
                flush()
                pieces.append(.group(try groupIndex(Py.string(u[(k + 3)..<close]))))
                k = close + 1
            case "0"..."9":
                // Three octal digits (or a leading 0) are an octal escape; otherwise up to two digits are a group.
                var digits = String(n)
                var j = k + 2
                if n == "0" || (j + 1 < u.count && ("0"..."7").contains(n) && ("0"..."7").contains(u[j]) && ("0"..."7").contains(u[j + 1])) {
                    while j < u.count, digits.count < 3, ("0"..."7").contains(u[j]) { digits.unicodeScalars.append(u[j]); j += 1 }
                    literal.append(Unicode.Scalar(UInt32(digits, radix: 8) ?? 0) ?? "\u{0}")
                    k = j
                    continue
                }
                if j < u.count, ("0"..."9").contains(u[j]) { digits.unicodeScalars.append(u[j]); j += 1 }
                flush()
                pieces.append(.group(try groupIndex(digits)))
                k = j
            case "n": literal.append("\n"); k += 2
            case "t": literal.append("\t"); k += 2
            case "r": literal.append("\r"); k += 2
            case "f": literal.append("\u{0C}"); k += 2
            case "v": literal.append("\u{0B}"); k += 2
            case "a": literal.append("\u{07}"); k += 2
            case "b": literal.append("\u{08}"); k += 2
            case "\\": literal.append("\\"); k += 2
            default:
                if n.isASCII, n.properties.isAlphabetic {
                    throw TemplateError(.type, "bad escape \\\(Character(n)) in the replacement")
                }
                literal.append(c)
                literal.append(n)
                k += 2
            }
        }
        flush()
        return pieces
    }

    /// Python `re.subn(pattern, template, s, count)`.
    func substitute(in s: String, template: String, count: Int = 0) throws -> (String, Int) {
        let pieces = try parseTemplate(template)
        var out = ""
        var last = s.startIndex
        var n = 0
        for m in matches(in: s) {
            if count > 0, n >= count { break }
            guard let range = Range(m.result.range, in: s) else { continue }
            out += s[last..<range.lowerBound]
            for piece in pieces {
                switch piece {
                case .literal(let t): out += t
                case .group(let i): out += m.group(i) ?? ""
                }
            }
            last = range.upperBound
            n += 1
            if out.utf8.count > Py.maxBuiltSize { throw Py.tooLarge() }
        }
        out += s[last...]
        return (out, n)
    }

    /// Python `re.findall`: whole matches, the single group, or lists of all groups.
    func findAll(in s: String) -> [Value] {
        matches(in: s).map { m in
            switch groupCount {
            case 0: return .string(m.group(0) ?? "")
            case 1: return .string(m.group(1) ?? "")
            default: return .list((1...groupCount).map { .string(m.group($0) ?? "") })
            }
        }
    }

    /// Python `re.escape`.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if "()[]{}?*+-|^$\\.&~# \t\n\r\u{0B}\u{0C}".unicodeScalars.contains(c) { out += "\\" }
            out.unicodeScalars.append(c)
        }
        return out
    }
}
