import Foundation
import PKSPlayCore

// Shared by command, shell, raw and script: word splitting, free-form options, the remote
// creates/removes/chdir check, and Ansible's result shapes.

/// Splits a command line into words the way Python's `shlex.split` does (POSIX rules, no comments),
/// which is how Ansible's `command` module reads its free-form text.
///
/// Single quotes keep everything; inside double quotes a backslash escapes only `"` and `\`;
/// outside quotes a backslash escapes any character. `''` is an empty word.
public enum ShellWords {
    public struct SplitError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// shlex's whitespace: space, tab, CR and LF only (a no-break space is part of a word).
    static func isSplittingSpace(_ c: Character) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n"
    }

    public static func split(_ text: String) throws -> [String] {
        enum State { case between, word, single, double }
        var words: [String] = []
        var word = ""
        var state = State.between
        var escaping = false
        // A quoted empty word ('') still counts as a word.
        var hasWord = false
        for c in text {
            if escaping {
                escaping = false
                if state == .double && c != "\"" && c != "\\" { word.append("\\") }
                word.append(c)
                hasWord = true
                continue
            }
            switch state {
            case .between, .word:
                if isSplittingSpace(c) {
                    if hasWord { words.append(word); word = ""; hasWord = false }
                    state = .between
                } else if c == "\\" {
                    escaping = true
                    state = .word
                } else if c == "'" {
                    state = .single
                    hasWord = true
                } else if c == "\"" {
                    state = .double
                    hasWord = true
                } else {
                    word.append(c)
                    hasWord = true
                    state = .word
                }
            case .single:
                if c == "'" { state = .word } else { word.append(c) }
            case .double:
                if c == "\"" { state = .word } else if c == "\\" { escaping = true } else { word.append(c) }
            }
        }
        if escaping { throw SplitError(description: "no character after the final backslash") }
        if state == .single || state == .double {
            throw SplitError(description: "no closing quotation (\(state == .single ? "'" : "\""))")
        }
        if hasWord { words.append(word) }
        return words
    }
}

/// The `key=value` options Ansible takes out of a free-form command (`command: touch /x creates=/x`).
enum FreeFormOptions {
    /// The keys Ansible's parser recognises inside a command's free-form text.
    static let commandKeys: Set<String> = ["creates", "removes", "chdir", "executable", "stdin", "stdin_add_newline", "strip_empty_ends"]

    /// Splits `text` into the command and the recognised `key=value` words. Quoted words
    /// (`"creates=x"`) stay in the command; the rest of the text is kept as written.
    static func extract(from text: String, keys: Set<String> = commandKeys) -> (command: String, options: [(String, String)]) {
        var options: [(String, String)] = []
        var removed: [Range<String.Index>] = []
        for range in tokenRanges(text) {
            let token = text[range]
            // Ansible's parse_kv looks for the first unescaped '=' after the first character.
            guard let eq = token.dropFirst().firstIndex(of: "="), token[token.index(before: eq)] != "\\" else { continue }
            let key = String(token[..<eq])
            guard keys.contains(key) else { continue }
            options.append((key, unquote(String(token[token.index(after: eq)...]).trimmingCharacters(in: .whitespaces))))
            removed.append(range)
        }
        guard !removed.isEmpty else { return (text, []) }
        var rest = text
        for range in removed.reversed() { rest.removeSubrange(range) }
        return (rest.trimmingCharacters(in: .whitespacesAndNewlines), options)
    }

    /// Whitespace-separated words, quotes and backslashes respected, as ranges of `text`.
    static func tokenRanges(_ text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var start: String.Index?
        var quote: Character?
        var escaping = false
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if escaping {
                escaping = false
            } else if c == "\\" && quote != "'" {
                escaping = true
                if start == nil { start = i }
            } else if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
                if start == nil { start = i }
            } else if ShellWords.isSplittingSpace(c) {
                if let s = start { ranges.append(s..<i); start = nil }
            } else if start == nil {
                start = i
            }
            i = text.index(after: i)
        }
        if let s = start { ranges.append(s..<text.endIndex) }
        return ranges
    }

    static func unquote(_ s: String) -> String {
        guard s.count >= 2, let first = s.first, first == s.last, first == "\"" || first == "'" else { return s }
        return String(s.dropFirst().dropLast())
    }
}

/// Shell words for paths and arguments, with the expansions Ansible applies on the target.
enum ShellText {
    /// A path as a shell word: a leading `~` or `~/` becomes `$HOME`, everything else literal.
    static func path(_ p: String) -> String {
        if p == "~" { return "\"$HOME\"" }
        if p.hasPrefix("~/") { return "\"$HOME\"" + shellQuote(String(p.dropFirst(1))) }
        return shellQuote(p)
    }

    /// A word for `exec` with Python's `expandvars` then `expanduser` applied on the target, as
    /// Ansible's `run_command` does when `expand_argument_vars` is on: `$NAME` and `${NAME}` take
    /// the variable's value when it is set and stay as written when not; a leading `~` or `~user`
    /// becomes that home. Nothing else (no `$(...)`, no globbing, no splitting) can happen.
    ///
    /// `preamble` receives the shell assignments the word refers to (the literal fallbacks).
    static func expandingWord(_ word: String, preamble: inout [String]) -> String {
        var rest = Substring(word)
        var out = ""
        if rest.hasPrefix("~") {
            let prefixEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            let user = rest[rest.index(after: rest.startIndex)..<prefixEnd]
            if user.isEmpty {
                out = "\"$HOME\""
                rest = rest[prefixEnd...]
            } else if user.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
                out = "~" + user
                rest = rest[prefixEnd...]
                // The slash must stay unquoted or the shell will not expand ~user.
                if rest.hasPrefix("/") { out += "/"; rest = rest.dropFirst() }
            }
        }
        var literal = ""
        func flushLiteral() {
            if !literal.isEmpty { out += shellQuote(literal); literal = "" }
        }
        var i = rest.startIndex
        while i < rest.endIndex {
            if rest[i] == "$", let (name, original, next) = variable(in: rest, at: i) {
                flushLiteral()
                let fallback = "pksplay_lit\(preamble.count)"
                preamble.append("\(fallback)=\(shellQuote(original))")
                out += "\"${\(name)-$\(fallback)}\""
                i = next
                continue
            }
            literal.append(rest[i])
            i = rest.index(after: i)
        }
        flushLiteral()
        return out.isEmpty ? "''" : out
    }

    /// A `$NAME` or `${NAME}` reference at `i` with a name a shell can expand safely.
    private static func variable(in s: Substring, at i: Substring.Index) -> (String, String, Substring.Index)? {
        let afterDollar = s.index(after: i)
        guard afterDollar < s.endIndex else { return nil }
        func isNameChar(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
        if s[afterDollar] == "{" {
            guard let close = s[afterDollar...].firstIndex(of: "}") else { return nil }
            let name = s[s.index(after: afterDollar)..<close]
            guard let first = name.first, !first.isNumber, name.allSatisfy(isNameChar) else { return nil }
            return (String(name), String(s[i...close]), s.index(after: close))
        }
        var end = afterDollar
        while end < s.endIndex, isNameChar(s[end]) { end = s.index(after: end) }
        let name = s[afterDollar..<end]
        guard let first = name.first, !first.isNumber else { return nil }
        return (String(name), String(s[i..<end]), end)
    }
}

/// What the target says about `chdir`, `creates` and `removes` before a command runs.
struct Preflight: Sendable {
    /// Python's OSError text for a failed chdir (`[Errno 2] No such file or directory`), or `nil`.
    var chdirError: String?
    var createsExists: Bool?
    var removesExists: Bool?

    /// Asks the target in one round trip. `glob` matches `creates`/`removes` as shell patterns
    /// (Python's `glob.glob`, what `command` does); without it they are plain paths (`script`).
    /// Relative `creates`/`removes` are taken from inside `chdir`, as Ansible's command module does.
    static func check(
        _ connection: any Connection, chdir: String?, creates: String?, removes: String?, glob: Bool
    ) async throws -> Preflight {
        var lines = ["IFS=", "set +f"]
        if let chdir {
            lines.append("d=\(ShellText.path(chdir))")
            lines.append("if [ ! -e \"$d\" ]; then echo 'chdir:2:No such file or directory'; exit 0; fi")
            lines.append("if [ ! -d \"$d\" ]; then echo 'chdir:20:Not a directory'; exit 0; fi")
            lines.append("cd -- \"$d\" 2>/dev/null || { echo 'chdir:13:Permission denied'; exit 0; }")
        }
        for (key, value) in [("creates", creates), ("removes", removes)] {
            guard let value else { continue }
            lines.append("p=\(ShellText.path(value))")
            // With IFS empty, an unquoted $p is not split, only matched against file names.
            lines.append(glob ? "set -- $p" : "set -- \"$p\"")
            lines.append("if [ -e \"$1\" ] || [ -L \"$1\" ]; then echo '\(key):1'; else echo '\(key):0'; fi")
        }
        let result = try await connection.exec(ExecRequest(lines.joined(separator: "\n")))
        var preflight = Preflight()
        for line in result.stdoutText.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2).map(String.init)
            switch parts.first {
            case "chdir" where parts.count == 3:
                preflight.chdirError = "[Errno \(parts[1])] \(parts[2]): \(Value.string(chdir ?? "").pythonBytesRepr)"
            case "creates" where parts.count == 2: preflight.createsExists = parts[1] == "1"
            case "removes" where parts.count == 2: preflight.removesExists = parts[1] == "1"
            default: break
            }
        }
        let unanswered = preflight.chdirError == nil
            && ((creates != nil && preflight.createsExists == nil) || (removes != nil && preflight.removesExists == nil))
        if result.exitStatus != 0 || unanswered {
            throw PreflightError(detail: result.stderrText.isEmpty ? "exit status \(result.exitStatus)" : result.stderrText)
        }
        return preflight
    }
}

struct PreflightError: Error, CustomStringConvertible {
    var detail: String
    var description: String { "could not check chdir/creates/removes on the host: \(detail.trimmingCharacters(in: .whitespacesAndNewlines))" }
}

extension Value {
    /// Python's repr of the UTF-8 bytes of a string (`b'/nope'`), as Ansible's chdir error shows it.
    var pythonBytesRepr: String { "b" + pythonRepr }
}

/// Ansible's text formats for result fields.
enum AnsibleFormat {
    /// `str(datetime.now())`: `2024-01-01 12:00:00.123456` in local time (no fraction when it is zero).
    static func timestamp(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var seconds = time_t(micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000)
        let fraction = Int(micros - Int64(seconds) * 1_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var text = digits(Int(parts.tm_year) + 1900, 4) + "-" + digits(Int(parts.tm_mon) + 1, 2) + "-" + digits(Int(parts.tm_mday), 2)
            + " " + digits(Int(parts.tm_hour), 2) + ":" + digits(Int(parts.tm_min), 2) + ":" + digits(Int(parts.tm_sec), 2)
        if fraction != 0 { text += "." + digits(fraction, 6) }
        return text
    }

    /// `n` in decimal, zero-padded to `width` (`%0*d`): every command task formats two
    /// timestamps and a delta, and `String(format:)` goes through NSString on Linux.
    static func digits(_ n: Int, _ width: Int) -> String {
        let sign = n < 0 ? "-" : ""
        let text = String(n.magnitude)
        let zeros = width - sign.count - text.count
        return sign + (zeros > 0 ? String(repeating: "0", count: zeros) : "") + text
    }

    /// `str(timedelta)`: `0:00:00.003421`, `1 day, 2:03:04`.
    static func delta(_ interval: TimeInterval) -> String {
        var micros = Int64((interval * 1_000_000).rounded())
        let negative = micros < 0
        if negative { micros = -micros }
        var totalSeconds = micros / 1_000_000
        let fraction = micros % 1_000_000
        let days = totalSeconds / 86_400
        totalSeconds %= 86_400
        var text = String(totalSeconds / 3600) + ":" + digits(Int(totalSeconds % 3600 / 60), 2) + ":" + digits(Int(totalSeconds % 60), 2)
        if fraction != 0 { text += "." + digits(Int(fraction), 6) }
        if days > 0 { text = "\(days) day\(days == 1 ? "" : "s"), " + text }
        return negative ? "-" + text : text
    }

    /// Python's `str.splitlines()`: every line break Python knows, none kept, no empty last line.
    static func splitLines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        var pending = scalars.next()
        while let u = pending {
            pending = scalars.next()
            switch u.value {
            case 0x0D:
                if pending == "\n" { pending = scalars.next() }
                lines.append(String(current)); current = .init()
            case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(String(current)); current = .init()
            default:
                current.append(u)
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    /// Python's `rstrip("\r\n")`.
    static func stripTrailingNewlines(_ s: String) -> String {
        var scalars = s.unicodeScalars
        while let last = scalars.last, last == "\n" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}

/// The fields every command-like module returns, in Ansible's order.
struct CommandOutcome {
    var cmd: Value = .null
    var rc: Value = .null
    var stdout = ""
    var stderr = ""
    var start: Date?
    var end: Date?
    var msg = ""

    func values(strip: Bool) -> ValueDict {
        let out = strip ? AnsibleFormat.stripTrailingNewlines(stdout) : stdout
        let err = strip ? AnsibleFormat.stripTrailingNewlines(stderr) : stderr
        var v: ValueDict = [
            "cmd": cmd, "rc": rc, "stdout": .string(out), "stderr": .string(err),
            "start": start.map { .string(AnsibleFormat.timestamp($0)) } ?? .null,
            "end": end.map { .string(AnsibleFormat.timestamp($0)) } ?? .null,
            "delta": .null,
        ]
        if let start, let end { v["delta"] = .string(AnsibleFormat.delta(end.timeIntervalSince(start))) }
        v["stdout_lines"] = .list(AnsibleFormat.splitLines(out).map(Value.string))
        v["stderr_lines"] = .list(AnsibleFormat.splitLines(err).map(Value.string))
        return v
    }
}

/// The shared body of `command` and `shell`: Ansible runs both through one module.
enum CommandRunner {
    static func run(_ context: ModuleContext, usesShell: Bool) async throws -> ModuleResult {
        var args = context.args
        var warnings: [String] = []
        var text = args["cmd"]?.stringValue ?? ""

        // `command: touch /x creates=/x`: the options written inside the free-form text.
        let (command, options) = FreeFormOptions.extract(from: text)
        text = command
        for (key, raw) in options {
            let type: ArgumentType = key == "stdin_add_newline" || key == "strip_empty_ends" ? .bool : .string
            switch ArgumentSpec.coerce(.string(raw), to: type) {
            case .success(let v): args[key] = v
            case .failure(let e): return .failure("\(key)=\(raw) in the command text: \(e)")
            }
        }
        let strip = args["strip_empty_ends"]?.asBool ?? true
        var outcome = CommandOutcome()
        func fail(_ msg: String, rc: Int = 256) -> ModuleResult {
            outcome.rc = .int(rc)
            outcome.msg = msg
            return ModuleResult(failed: true, msg: msg, values: outcome.values(strip: strip), warnings: warnings)
        }

        var executable = args["executable"]?.stringValue
        if !usesShell, let e = executable {
            warnings.append("As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '\(e)'.")
            executable = nil
        }
        let argv = args["argv"]?.listValue?.map(\.stringified)
        let hasText = !text.allSatisfy(\.isWhitespace)
        if !hasText && (argv ?? []).isEmpty { return fail("no command given") }
        if hasText && argv != nil { return fail("only command or argv can be given, not both") }

        let words: [String]
        if usesShell {
            // The shell module takes its text as a script; an argv is joined for it.
            words = []
            outcome.cmd = .string(hasText ? text : shellJoin(argv ?? []))
        } else if let argv {
            words = argv
            outcome.cmd = .list(argv.map(Value.string))
        } else {
            do {
                words = try ShellWords.split(text)
            } catch {
                return fail("cannot split the command into words: \(error) in: \(text)")
            }
            outcome.cmd = .list(words.map(Value.string))
        }

        let chdir = args["chdir"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let creates = args["creates"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let removes = args["removes"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let should = context.checkMode ? "Would" : "Did"
        if chdir != nil || creates != nil || removes != nil {
            let preflight: Preflight
            do {
                preflight = try await Preflight.check(context.connection, chdir: chdir, creates: creates, removes: removes, glob: true)
            } catch let error as PreflightError {
                return fail(error.description, rc: 1)
            }
            if let error = preflight.chdirError {
                outcome.msg = "Unable to change directory before execution: \(error)"
                outcome.rc = .null
                return ModuleResult(failed: true, msg: outcome.msg, values: outcome.values(strip: strip), warnings: warnings)
            }
            var skipMessage: String?
            if let creates, preflight.createsExists == true {
                skipMessage = "\(should) not run command since '\(creates)' exists"
                outcome.stdout = "skipped, since \(creates) exists"
            } else if let removes, preflight.removesExists == false {
                skipMessage = "\(should) not run command since '\(removes)' does not exist"
                outcome.stdout = "skipped, since \(removes) does not exist"
            }
            if let skipMessage {
                outcome.rc = 0
                outcome.msg = skipMessage
                return ModuleResult(changed: false, msg: skipMessage, values: outcome.values(strip: strip), warnings: warnings)
            }
        }

        if context.checkMode {
            // Ansible's partial check mode: only creates/removes can predict; otherwise skip.
            outcome.rc = 0
            outcome.msg = "Command would have run if not in check mode"
            let decided = creates != nil || removes != nil
            return ModuleResult(
                changed: decided, skipped: !decided, msg: outcome.msg, values: outcome.values(strip: strip), warnings: warnings)
        }

        var line = ""
        if let chdir { line += "cd -- \(ShellText.path(chdir)) && " }
        if usesShell {
            line += "exec \(shellQuote(executable ?? "/bin/sh")) -c \(shellQuote(outcome.cmd.stringValue ?? ""))"
        } else {
            var preamble: [String] = []
            let expand = args["expand_argument_vars"]?.asBool ?? true
            let quoted = words.map { expand ? ShellText.expandingWord($0, preamble: &preamble) : shellQuote($0) }
            // `exec` runs the program itself, never a shell builtin of the same name, as Ansible
            // does; dash's exec takes no `--`, so a name starting with '-' runs without it.
            let execWord = (words.first?.hasPrefix("-") ?? false) ? "" : "exec "
            line = (preamble.isEmpty ? "" : preamble.joined(separator: "; ") + "; ") + line + execWord + quoted.joined(separator: " ")
        }

        var stdin: Data?
        if let s = args["stdin"]?.stringValue, !s.isEmpty {
            let addNewline = args["stdin_add_newline"]?.asBool ?? true
            stdin = Data((addNewline ? s + "\n" : s).utf8)
        }
        outcome.start = Date()
        var request = ExecRequest(line, stdin: stdin)
        if args["progress"]?.asBool == true {
            let lines = ProgressLines(context.progress)
            request.onOutput = { _, data in lines.feed(data) }
        }
        let result = try await context.connection.exec(request)
        outcome.end = Date()
        outcome.rc = .int(Int(result.exitStatus))
        outcome.stdout = result.stdoutText
        outcome.stderr = result.stderrText
        let failed = result.exitStatus != 0
        if failed { outcome.msg = "non-zero return code" }
        return ModuleResult(changed: true, failed: failed, msg: outcome.msg, values: outcome.values(strip: strip), warnings: warnings)
    }
}

/// Fields of `_low_level_execute_command`, what `raw` and `script` return.
func lowLevelValues(_ result: ExecResult) -> ValueDict {
    let out = result.stdoutText, err = result.stderrText
    return [
        "rc": .int(Int(result.exitStatus)),
        "stdout": .string(out), "stdout_lines": .list(AnsibleFormat.splitLines(out).map(Value.string)),
        "stderr": .string(err), "stderr_lines": .list(AnsibleFormat.splitLines(err).map(Value.string)),
    ]
}

/// Turns output chunks into lines for live progress; `\r` ends a line too (pg_basebackup -P redraws with it).
final class ProgressLines: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = Data()
    private let emit: @Sendable (String) -> Void

    init(_ emit: @escaping @Sendable (String) -> Void) { self.emit = emit }

    func feed(_ data: Data) {
        lock.lock()
        pending.append(data)
        var lines: [String] = []
        while let i = pending.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
            let line = String(decoding: pending[pending.startIndex..<i], as: UTF8.self)
            pending.removeSubrange(pending.startIndex...i)
            if !line.trimmingCharacters(in: .whitespaces).isEmpty { lines.append(line) }
        }
        lock.unlock()
        lines.forEach(emit)
    }
}
