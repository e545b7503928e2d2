import Foundation

/// A Python `re` pattern run by NSRegularExpression (ICU), translated where the two dialects
/// differ, with Python's replacement-template rules (`\1`, `\g<1>`, `\g<name>`) applied by hand.
///
/// Translations: `(?P<n>` → `(?<n>`, `(?P=n)` → `\k<n>`, `\Z` → `\z`, `{,n}` → `{0,n}`, a `{`
/// that is not a quantifier and `[`/`&` inside a class are escaped (ICU reads them as syntax),
/// Python-only inline flags (`a`, `L`, `u`) dropped. Only `\n` ends a line, as in Python.
struct PythonRegex: @unchecked Sendable {
    let pattern: String
    let regex: NSRegularExpression
    /// Names of groups in order of their number (nil for unnamed), for `groupdict`.
    let groupNames: [String?]

    struct Flags: OptionSet, Sendable {
        let rawValue: Int
        static let multiline = Flags(rawValue: 1)
        static let dotAll = Flags(rawValue: 2)
    }

    init(_ pattern: String, flags: Flags = []) throws(FileModuleError) {
        self.pattern = pattern
        let (translated, names) = Self.translate(pattern)
        var options: NSRegularExpression.Options = [.useUnixLineSeparators]
        if flags.contains(.multiline) { options.insert(.anchorsMatchLines) }
        if flags.contains(.dotAll) { options.insert(.dotMatchesLineSeparators) }
        do {
            regex = try NSRegularExpression(pattern: translated, options: options)
        } catch {
            throw .invalidRegex(pattern, "not a valid regular expression (after translation to ICU: \(translated))")
        }
        groupNames = names
    }

    /// Whether the pattern turns on MULTILINE itself with a leading `(?m)` (blockinfile looks).
    var hasInlineMultiline: Bool {
        guard pattern.hasPrefix("(?"), let close = pattern.firstIndex(of: ")") else { return false }
        let flags = pattern[pattern.index(pattern.startIndex, offsetBy: 2)..<close]
        return !flags.isEmpty && flags.allSatisfy({ "aiLmsux".contains($0) }) && flags.contains("m")
    }

    /// One match: the whole range and each group's (UTF-16 offsets into the searched text).
    struct Match: Sendable {
        var ranges: [NSRange]
        /// Each group's text; nil for a group that did not take part.
        var groups: [String?]
        var range: NSRange { ranges[0] }
        func group(_ i: Int) -> String? { i < groups.count ? groups[i] : nil }

        init(_ m: NSTextCheckingResult, in text: NSString) {
            ranges = (0..<m.numberOfRanges).map { m.range(at: $0) }
            groups = ranges.map { $0.location == NSNotFound ? nil : text.substring(with: $0) }
        }
    }

    func firstMatch(in text: String, range: NSRange? = nil) -> Match? {
        let ns = text as NSString
        guard let m = regex.firstMatch(in: text, options: [], range: range ?? NSRange(location: 0, length: ns.length)) else { return nil }
        return Match(m, in: ns)
    }

    func matches(_ text: String) -> Bool { firstMatch(in: text) != nil }

    /// Python's `re.subn`: every match replaced by the expanded template; the count of matches.
    func substitute(in text: String, template: String) throws(FileModuleError) -> (String, Int) {
        let parsed = try Self.parseTemplate(template, groupNames: groupNames, groupCount: regex.numberOfCaptureGroups)
        let ns = text as NSString
        let found = regex.matches(in: text, options: [], range: NSRange(location: 0, length: ns.length))
        guard !found.isEmpty else { return (text, 0) }
        var out = ""
        var last = 0
        for m in found {
            out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
            let match = Match(m, in: ns)
            out += Self.expand(parsed, match)
            last = m.range.location + m.range.length
        }
        out += ns.substring(from: last)
        return (out, found.count)
    }

    /// Python's `match.expand(template)`.
    func expand(_ template: String, _ match: Match) throws(FileModuleError) -> String {
        Self.expand(try Self.parseTemplate(template, groupNames: groupNames, groupCount: regex.numberOfCaptureGroups), match)
    }

    /// `groupdict()` of a match.
    func groupDict(_ match: Match) -> [(String, String?)] {
        groupNames.enumerated().compactMap { i, name in name.map { ($0, match.group(i + 1)) } }
    }

    enum TemplatePart: Sendable { case literal(String), group(Int) }

    private static func expand(_ parts: [TemplatePart], _ match: Match) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .literal(let s): out += s
            case .group(let i): out += match.group(i) ?? ""
            }
        }
        return out
    }

    /// Parses a Python replacement template.
    static func parseTemplate(_ template: String, groupNames: [String?], groupCount: Int) throws(FileModuleError) -> [TemplatePart] {
        var parts: [TemplatePart] = []
        var literal = ""
        let chars = Array(template)
        var i = 0
        func group(_ n: Int) throws(FileModuleError) {
            guard n >= 0, n <= groupCount else { throw .invalidRegex(template, "invalid group reference \(n) in the replacement") }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            parts.append(.group(n))
        }
        while i < chars.count {
            let c = chars[i]
            guard c == "\\", i + 1 < chars.count else { literal.append(c); i += 1; continue }
            let n = chars[i + 1]
            switch n {
            case "g":
                guard i + 2 < chars.count, chars[i + 2] == "<", let close = chars[(i + 3)...].firstIndex(of: ">") else {
                    throw .invalidRegex(template, "missing < or > after \\g in the replacement")
                }
                let name = String(chars[(i + 3)..<close])
                if let num = Int(name) {
                    try group(num)
                } else if let idx = groupNames.firstIndex(where: { $0 == name }) {
                    try group(idx + 1)
                } else {
                    throw .invalidRegex(template, "unknown group name '\(name)' in the replacement")
                }
                i = close + 1
            case "0"..."9":
                // Octal escape (\0, or three octal digits), else a one- or two-digit group number.
                var j = i + 1
                var digits = ""
                while j < chars.count, digits.count < 3, chars[j].isASCII, chars[j].isNumber { digits.append(chars[j]); j += 1 }
                if n == "0" || (digits.count == 3 && digits.allSatisfy({ "01234567".contains($0) })) {
                    var oct = ""
                    var k = i + 1
                    while k < chars.count, oct.count < 3, "01234567".contains(chars[k]) { oct.append(chars[k]); k += 1 }
                    literal.unicodeScalars.append(UnicodeScalar(UInt8(Int(oct, radix: 8).map { $0 & 0xFF } ?? 0)))
                    i = k
                } else {
                    let take = String(digits.prefix(2))
                    try group(Int(take) ?? 0)
                    i += 1 + take.count
                }
            case "n": literal.append("\n"); i += 2
            case "t": literal.append("\t"); i += 2
            case "r": literal.append("\r"); i += 2
            case "f": literal.append("\u{0C}"); i += 2
            case "v": literal.append("\u{0B}"); i += 2
            case "a": literal.append("\u{07}"); i += 2
            case "b": literal.append("\u{08}"); i += 2
            case "\\": literal.append("\\"); i += 2
            default:
                if n.isASCII && n.isLetter { throw .invalidRegex(template, "bad escape \\\(n) in the replacement") }
                literal.append(c); literal.append(n); i += 2
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return parts
    }

    /// Python pattern → ICU pattern, and the names of the capture groups in order.
    static func translate(_ pattern: String) -> (String, [String?]) {
        let c = Array(pattern)
        var out = ""
        var names: [String?] = []
        var i = 0
        var inClass = false
        while i < c.count {
            let ch = c[i]
            if ch == "\\" {
                guard i + 1 < c.count else { out.append("\\\\"); i += 1; continue }
                let n = c[i + 1]
                if !inClass && n == "Z" { out += "\\z" } else { out.append(ch); out.append(n) }
                i += 2
                continue
            }
            if inClass {
                if ch == "]" {
                    inClass = false; out.append(ch)
                } else if ch == "[" || ch == "&" || (ch == "-" && i + 1 < c.count && c[i + 1] == "-") {
                    out.append("\\"); out.append(ch)
                } else {
                    out.append(ch)
                }
                i += 1
                continue
            }
            switch ch {
            case "[":
                inClass = true
                out.append(ch)
                i += 1
                if i < c.count, c[i] == "^" { out.append("^"); i += 1 }
                // A `]` right after `[` or `[^` is a literal in Python.
                if i < c.count, c[i] == "]" { out += "\\]"; i += 1 }
            case "(":
                if i + 1 < c.count, c[i + 1] == "?" {
                    let rest = String(c[(i + 2)...])
                    if rest.hasPrefix("P<"), let close = rest.firstIndex(of: ">") {
                        let name = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                        names.append(name)
                        out += "(?<\(name)>"
                        i += 2 + rest.distance(from: rest.startIndex, to: close) + 1
                    } else if rest.hasPrefix("P="), let close = rest.firstIndex(of: ")") {
                        let name = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<close])
                        out += "\\k<\(name)>"
                        i += 2 + rest.distance(from: rest.startIndex, to: close) + 1
                    } else if rest.hasPrefix("<"), !rest.hasPrefix("<="), !rest.hasPrefix("<!"), let close = rest.firstIndex(of: ">") {
                        names.append(String(rest[rest.index(after: rest.startIndex)..<close]))
                        out += "(?"; i += 2
                    } else if let first = rest.first, "aiLmsux-".contains(first) {
                        // Inline flags: drop the ones ICU lacks.
                        var j = i + 2
                        var flags = ""
                        while j < c.count, "aiLmsux-".contains(c[j]) { flags.append(c[j]); j += 1 }
                        let kept = flags.filter { !"aLu".contains($0) }
                        if kept.isEmpty || kept == "-" {
                            if j < c.count, c[j] == ")" { i = j + 1 } else { out += "(?:"; i = j + 1 }
                        } else {
                            out += "(?" + kept; i = j
                        }
                    } else {
                        out += "(?"; i += 2
                    }
                } else {
                    names.append(nil)
                    out.append(ch); i += 1
                }
            case "{":
                // A quantifier is {n}, {n,}, {n,m} or Python's {,m}; anything else is a literal brace.
                var j = i + 1
                var body = ""
                while j < c.count, c[j] != "}", body.count < 20 { body.append(c[j]); j += 1 }
                let isQuantifier = j < c.count && c[j] == "}" && !body.isEmpty
                    && body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ",") }) && body.filter({ $0 == "," }).count <= 1
                    && body != ","
                if isQuantifier {
                    out += "{" + (body.hasPrefix(",") ? "0" + body : body) + "}"
                    i = j + 1
                } else {
                    out += "\\{"; i += 1
                }
            case "}":
                out += "\\}"; i += 1
            default:
                out.append(ch); i += 1
            }
        }
        return (out, names)
    }
}
