import Foundation
import PKSPlayCore

/// `lineinfile`: makes sure one line is in a file (replacing the last line a regexp matches) or
/// removes every matching line, with Ansible 2.19's exact placement rules.
public enum LineInFileModule: TextFileEditModule, HasFileModuleExamples {
    public static let name = "lineinfile"

    public static let arguments = ArgumentSpec([
        Argument("path", .path, required: true, aliases: ["dest", "destfile", "name"], help: "The file to modify."),
        Argument("state", .string, default: "present", choices: ["absent", "present"]),
        Argument("regexp", .string, aliases: ["regex"], help: "Python regular expression; the last matching line is replaced (first with firstmatch)."),
        Argument("search_string", .string, help: "Literal text; the last line containing it is replaced."),
        Argument("line", .string, aliases: ["value"], help: "The line to put in the file (required with state=present)."),
        Argument("insertafter", .string, help: "Regex, or EOF/BOF: where a new line goes when nothing matched."),
        Argument("insertbefore", .string, help: "Regex, or BOF: where a new line goes when nothing matched."),
        Argument("backrefs", .bool, default: false, help: "Expand \\1 / \\g<name> from regexp in line; no match means no change."),
        Argument("create", .bool, default: false, help: "Create the file if it is missing."),
        Argument("backup", .bool, default: false, help: "Keep a copy of the old file (path.PID.YYYY-MM-DD@HH:MM:SS~)."),
        Argument("firstmatch", .bool, default: false, help: "Use the first match of regexp/insertafter/insertbefore instead of the last."),
        Argument("validate", .string, help: "Command run on the new file before it replaces the old one; %s is its path."),
        Argument("mode", .mode), Argument("owner", .string), Argument("group", .string),
        Argument("unsafe_writes", .bool, default: false, help: "Accepted for Ansible compatibility; writes are always atomic."),
    ], mutuallyExclusive: [["insertbefore", "insertafter"], ["regexp", "search_string"], ["backrefs", "search_string"]])

    public static let documentation = ModuleDocumentation(
        summary: "Ensure a line is in a file (or absent), replacing the line a regular expression matches.",
        example: """
        - name: One marked replication line for the standby in pg_hba.conf
          lineinfile:
            path: /srv/pks/db/pg_hba.conf
            regexp: '^host\\s+replication\\s+repuser\\s+'
            line: host replication repuser 10.0.3.11/32 scram-sha-256
            insertafter: EOF
            backup: true

        - name: Turn SELinux enforcing
          lineinfile:
            path: /etc/selinux/config
            regexp: '^SELINUX='
            line: SELINUX=enforcing

        - name: Drop the wheel group from sudoers, validated before it lands
          lineinfile:
            path: /etc/sudoers
            state: absent
            regexp: '^%wheel'
            validate: /usr/sbin/visudo -cf %s
        """,
        notes: ["regexp is a Python regular expression, run by ICU after translation; named groups (?P<n>...) and \\g<n> work.",
                "msg is 'line added', 'line replaced' or 'N line(s) removed', as in Ansible."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("SELINUX=enforcing replaces the matching line (Ansible example)",
                          before: [("etc/selinux/config", .file("# comment\nSELINUX=disabled\nSELINUXTYPE=targeted\n", mode: 0o644))],
                          args: ["path": "ROOT/etc/selinux/config", "regexp": "^SELINUX=", "line": "SELINUX=enforcing"],
                          after: [("etc/selinux/config", .file("# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n", mode: 0o644))],
                          changed: true, msg: "line replaced"),
        FileModuleExample("remove %wheel from sudoers (Ansible example)",
                          before: [("etc/sudoers", .file("root ALL=(ALL) ALL\n%wheel ALL=(ALL) ALL\n%wheelers x\n", mode: 0o440))],
                          args: ["path": "ROOT/etc/sudoers", "state": "absent", "regexp": "^%wheel"],
                          after: [("etc/sudoers", .file("root ALL=(ALL) ALL\n", mode: 0o440))], changed: true, msg: "2 line(s) removed"),
        FileModuleExample("localhost line in hosts with owner/group/mode (Ansible example, owner as current user)",
                          before: [("etc/hosts", .file("10.0.0.1 other\n127.0.0.1 old\n", mode: 0o600))],
                          args: ["path": "ROOT/etc/hosts", "regexp": "^127\\.0\\.0\\.1", "line": "127.0.0.1 localhost", "mode": "0644"],
                          after: [("etc/hosts", .file("10.0.0.1 other\n127.0.0.1 localhost\n", mode: 0o644))],
                          changed: true, msg: "line replaced and ownership, perms or SE linux context changed"),
        FileModuleExample("search_string replaces the line containing it (Ansible example)",
                          before: [("etc/hosts", .file("127.0.0.1 a\n")), ]
                              , args: ["path": "ROOT/etc/hosts", "search_string": "127.0.0.1", "line": "127.0.0.1 localhost"],
                          after: [("etc/hosts", .file("127.0.0.1 localhost\n"))], changed: true, msg: "line replaced"),
        FileModuleExample("regexp wins over insertafter when it matches (httpd Listen example)",
                          before: [("httpd.conf", .file("ServerRoot /etc\n#Listen 12.34.56.78:80\nListen 80\n"))],
                          args: ["path": "ROOT/httpd.conf", "regexp": "^Listen ", "insertafter": "^#Listen ", "line": "Listen 8080"],
                          after: [("httpd.conf", .file("ServerRoot /etc\n#Listen 12.34.56.78:80\nListen 8080\n"))], changed: true, msg: "line replaced"),
        FileModuleExample("insertafter when regexp does not match",
                          before: [("httpd.conf", .file("ServerRoot /etc\n#Listen 12.34.56.78:80\nUser apache\n"))],
                          args: ["path": "ROOT/httpd.conf", "regexp": "^Listen ", "insertafter": "^#Listen ", "line": "Listen 8080"],
                          after: [("httpd.conf", .file("ServerRoot /etc\n#Listen 12.34.56.78:80\nListen 8080\nUser apache\n"))], changed: true, msg: "line added"),
        FileModuleExample("insertbefore a line (Ansible #Listen example)",
                          before: [("httpd.conf", .file("ServerRoot /etc\n#Listen 80\n"))],
                          args: ["path": "ROOT/httpd.conf", "insertbefore": "^#Listen", "line": "# other listen"],
                          after: [("httpd.conf", .file("ServerRoot /etc\n# other listen\n#Listen 80\n"))], changed: true, msg: "line added"),
        FileModuleExample("line already present: no change",
                          before: [("f", .file("a\nb\n"))], args: ["path": "ROOT/f", "line": "a"], after: [("f", .file("a\nb\n"))], changed: false, msg: ""),
        FileModuleExample("append adds a newline to an unterminated last line",
                          before: [("f", .file("a\nb"))], args: ["path": "ROOT/f", "line": "c"], after: [("f", .file("a\nb\nc\n"))], changed: true, msg: "line added"),
        FileModuleExample("BOF inserts first", before: [("f", .file("a\n"))], args: ["path": "ROOT/f", "line": "top", "insertbefore": "BOF"],
                          after: [("f", .file("top\na\n"))], changed: true, msg: "line added"),
        FileModuleExample("backrefs keep part of the old line (Ansible example)",
                          before: [("etc/sudoers", .file("Defaults    !requiretty\n"))],
                          args: ["path": "ROOT/etc/sudoers", "regexp": "^(\\s*)Defaults(\\s+)!requiretty", "line": "\\1Defaults\\2requiretty", "backrefs": true],
                          after: [("etc/sudoers", .file("Defaults    requiretty\n"))], changed: true, msg: "line replaced"),
        FileModuleExample("backrefs with no match change nothing",
                          before: [("f", .file("x\n"))], args: ["path": "ROOT/f", "regexp": "^nomatch(.*)", "line": "\\1", "backrefs": true],
                          after: [("f", .file("x\n"))], changed: false, msg: ""),
        FileModuleExample("regexp replaces the last match; firstmatch the first",
                          before: [("f", .file("k=1\nk=2\n"))], args: ["path": "ROOT/f", "regexp": "^k=", "line": "k=3", "firstmatch": true],
                          after: [("f", .file("k=3\nk=2\n"))], changed: true, msg: "line replaced"),
        FileModuleExample("create a missing file with a mode (Ansible example)",
                          args: ["path": "ROOT/tmp/testfile", "line": "192.168.1.99 foo.lab.net foo", "create": true, "mode": "0600"],
                          after: [("tmp/testfile", .file("192.168.1.99 foo.lab.net foo\n", mode: 0o600))], changed: true,
                          msg: "line added and ownership, perms or SE linux context changed"),
        FileModuleExample("a link is followed: the real file is edited, the link stays",
                          before: [("real.conf", .file("a=1\n", mode: 0o640)), ("link.conf", .link("real.conf"))],
                          args: ["path": "ROOT/link.conf", "regexp": "^a=", "line": "a=2"],
                          after: [("link.conf", .link("real.conf")), ("real.conf", .file("a=2\n", mode: 0o640))], changed: true, msg: "line replaced"),
        FileModuleExample("missing file without create fails",
                          args: ["path": "ROOT/nope", "line": "x"], after: [("nope", .absent)], changed: false, failed: true,
                          msg: "Destination ROOT/nope does not exist !"),
        FileModuleExample("validate rejects the change",
                          before: [("f", .file("a\n"))], args: ["path": "ROOT/f", "line": "b", "validate": "grep -q nothing-like-this %s"],
                          after: [("f", .file("a\n"))], changed: false, failed: true, checkModeChanged: true),
        FileModuleExample("validate accepts the change",
                          before: [("f", .file("a\n"))], args: ["path": "ROOT/f", "line": "b", "validate": "grep -q b %s"],
                          after: [("f", .file("a\nb\n"))], changed: true, msg: "line added"),
    ]

    public static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard let path = context.string("path"), !path.isEmpty else { return .failure("path is required") }
        let regexp = context.string("regexp"), search = context.string("search_string"), line = context.string("line")
        var warnings: [String] = []
        if regexp == "" || search == "" {
            var msg = "The \(regexp == "" ? "regular expression" : "search string") is an empty string, which will match every line in the file. This may have unintended consequences, such as replacing the last line in the file rather than appending."
            if regexp == "" { msg += " If this is desired, use '^' to match every line in the file and avoid this warning." }
            warnings.append(msg)
        }
        let validate = context.string("validate")
        try FileWriter.checkValidate(validate)
        let requested = try RequestedAttributes.from(context)
        let present = (context.string("state") ?? "present") == "present"
        let backrefs = context.bool("backrefs") ?? false
        if present {
            if backrefs && regexp == nil { return .failure("regexp is required with backrefs=true") }
            if line == nil { return .failure("line is required with state=present") }
        } else if regexp == nil && search == nil && line == nil {
            return .failure("one of line, search_string, or regexp is required with state=absent")
        }
        let re = try regexp.map { try PythonRegex($0) }
        let edit = try await TextFileEdit.load(context, path: path, requested: requested)
        var result: ModuleResult
        if present {
            if !edit.exists && !(context.bool("create") ?? false) {
                return ModuleResult(failed: true, msg: "Destination \(path) does not exist !", values: ["rc": 257])
            }
            var insertBefore = context.string("insertbefore"), insertAfter = context.string("insertafter")
            if insertBefore == nil && insertAfter == nil { insertAfter = "EOF" }
            if insertBefore == "" { insertBefore = nil }
            let (lines, changed, msg) = try placeLine(TextFile.lines(edit.text), line: line ?? "", regexp: re, search: search,
                                                      insertAfter: insertAfter, insertBefore: insertBefore,
                                                      backrefs: backrefs, firstmatch: context.bool("firstmatch") ?? false)
            result = try await edit.finish(context, module: name, newText: lines.joined(), contentChanged: changed, msg: msg,
                                           backup: context.bool("backup") ?? false, validate: validate)
        } else {
            guard edit.exists else { return ModuleResult(msg: "file not present") }
            var found = 0
            let kept = TextFile.lines(edit.text).filter { l in
                let hit: Bool
                if let re { hit = re.matches(l) } else if let search { hit = l.bytesContain(search) } else { hit = TextFile.stripEnding(l).bytesEqual(line ?? "") }
                if hit { found += 1 }
                return !hit
            }
            result = try await edit.finish(context, module: name, newText: kept.joined(), contentChanged: found > 0,
                                           msg: found > 0 ? "\(found) line(s) removed" : "", backup: context.bool("backup") ?? false,
                                           validate: validate, extraValues: ["found": .int(found)])
        }
        result.warnings = warnings + result.warnings
        return result
    }

    /// Ansible's `present()`: where the line goes, or which line it replaces.
    static func placeLine(_ input: [String], line: String, regexp: PythonRegex?, search: String?, insertAfter: String?,
                          insertBefore: String?, backrefs: Bool, firstmatch: Bool) throws -> ([String], Bool, String) {
        var lines = input
        var insertRe: PythonRegex?
        if let a = insertAfter, a != "BOF", a != "EOF" { insertRe = try PythonRegex(a) }
        else if let b = insertBefore, b != "BOF" { insertRe = try PythonRegex(b) }

        var matchIndex = -1, insertIndex = -1
        var match: PythonRegex.Match?
        var matched = false
        var exactLineMatch = false
        if let regexp {
            for (n, l) in lines.enumerated() {
                if let m = regexp.firstMatch(in: l) {
                    matchIndex = n; match = m; matched = true
                    if firstmatch { break }
                }
            }
        }
        if let search {
            for (n, l) in lines.enumerated() where l.bytesContain(search) {
                matchIndex = n; matched = true
                if firstmatch { break }
            }
        }
        if !matched {
            for (n, l) in lines.enumerated() {
                if TextFile.stripEnding(l).bytesEqual(line) {
                    matchIndex = n; exactLineMatch = true
                } else if let insertRe, insertRe.matches(l) {
                    if insertAfter != nil {
                        insertIndex = n + 1
                        if firstmatch { break }
                    }
                    if insertBefore != nil {
                        insertIndex = n
                        if firstmatch { break }
                    }
                }
            }
        }
        _ = exactLineMatch
        let added = "line added"
        if matchIndex != -1 {
            var newLine = line
            if backrefs, let match, let regexp { newLine = try regexp.expand(line, match) }
            if newLine.unicodeScalars.last != "\n" { newLine += "\n" }
            if !lines[matchIndex].bytesEqual(newLine) {
                lines[matchIndex] = newLine
                return (lines, true, "line replaced")
            }
            return (lines, false, "")
        }
        if backrefs { return (lines, false, "") }
        if insertBefore == "BOF" || insertAfter == "BOF" {
            lines.insert(line + "\n", at: 0)
            return (lines, true, added)
        }
        if insertAfter == "EOF" || insertIndex == -1 {
            if let last = lines.last, !last.endsWithLineBreak { lines.append("\n") }
            lines.append(line + "\n")
            return (lines, true, added)
        }
        if insertAfter != nil {
            if lines.count == insertIndex {
                if !TextFile.stripEnding(lines[insertIndex - 1]).bytesEqual(line) {
                    // Ansible would glue the line onto an unterminated last line; end that line first.
                    if !lines[insertIndex - 1].endsWithLineBreak { lines[insertIndex - 1] += "\n" }
                    lines.append(line + "\n")
                    return (lines, true, added)
                }
                return (lines, false, "")
            }
            if !line.bytesEqual(TextFile.stripEnding(lines[insertIndex])) {
                lines.insert(line + "\n", at: insertIndex)
                return (lines, true, added)
            }
            return (lines, false, "")
        }
        lines.insert(line + "\n", at: insertIndex)
        return (lines, true, added)
    }
}
