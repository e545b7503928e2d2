import Foundation
import PKSPlayCore

/// `replace`: replaces every match of a Python regular expression (MULTILINE) in a file,
/// optionally only between `after` and `before` (DOTALL), as Ansible 2.19 does.
public enum ReplaceModule: TextFileEditModule, HasFileModuleExamples {
    public static let name = "replace"

    public static let arguments = ArgumentSpec([
        Argument("path", .path, required: true, aliases: ["dest", "destfile", "name"], help: "The file to modify."),
        Argument("regexp", .string, required: true, help: "Python regular expression, MULTILINE (^ and $ match at each line)."),
        Argument("replace", .string, default: "", help: "Replacement; \\1 or \\g<1> / \\g<name> insert groups."),
        Argument("after", .string, help: "Only replace after this match (DOTALL)."),
        Argument("before", .string, help: "Only replace before this match (DOTALL)."),
        Argument("backup", .bool, default: false),
        Argument("validate", .string),
        Argument("encoding", .string, default: "utf-8", help: "utf-8 (or ascii, latin-1) text."),
        Argument("mode", .mode), Argument("owner", .string), Argument("group", .string),
        Argument("unsafe_writes", .bool, default: false, help: "Accepted for Ansible compatibility; writes are always atomic."),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Replace every match of a regular expression in a file.",
        example: """
        - name: Synchronous standby off
          replace:
            path: /srv/pks/db/postgresql.conf
            regexp: '^(synchronous_standby_names\\s*=).*$'
            replace: '\\1 '''''

        - name: Replace old hostname with new one, backing the file up
          replace:
            path: /etc/hosts
            regexp: '(\\s+)old\\.host\\.name(\\s+.*)?$'
            replace: '\\1new.host.name\\2'
            backup: true
        """,
        notes: ["msg is 'N replacements made'; no match is no change."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("hostname with backreferences (Ansible example)",
                          before: [("etc/hosts", .file("127.0.0.1 localhost\n10.0.0.2   old.host.name alias\n"))],
                          args: ["path": "ROOT/etc/hosts", "regexp": "(\\s+)old\\.host\\.name(\\s+.*)?$", "replace": "\\1new.host.name\\2"],
                          after: [("etc/hosts", .file("127.0.0.1 localhost\n10.0.0.2   new.host.name alias\n"))], changed: true, msg: "1 replacements made"),
        FileModuleExample("only after a marker (Ansible after example)",
                          before: [("etc/apache2/sites-available/default.conf", .file("Name:Old\n<VirtualHost [*]>\nNameVirtualHost [*]\n"))],
                          args: ["path": "ROOT/etc/apache2/sites-available/default.conf", "after": "NameVirtualHost [*]",
                                 "regexp": "^(.+)$", "replace": "# \\1"],
                          after: [("etc/apache2/sites-available/default.conf", .file("Name:Old\n<VirtualHost [*]>\nNameVirtualHost [*]\n"))],
                          changed: false, msg: "Pattern for before/after params did not match the given file: NameVirtualHost [*](?P<subsection>.*)"),
        FileModuleExample("between after and before (DOTALL)",
                          before: [("f", .file("keep\n<start>\na\nb\n<end>\nkeep\n"))],
                          args: ["path": "ROOT/f", "after": "<start>", "before": "<end>", "regexp": "^(\\w)$", "replace": "# \\g<1>"],
                          after: [("f", .file("keep\n<start>\n# a\n# b\n<end>\nkeep\n"))], changed: true, msg: "2 replacements made"),
        FileModuleExample("remove lines entirely (replace defaults to empty)",
                          before: [("f", .file("a\n# drop me\nb\n"))], args: ["path": "ROOT/f", "regexp": "^# drop me\\n"],
                          after: [("f", .file("a\nb\n"))], changed: true, msg: "1 replacements made"),
        FileModuleExample("named groups", before: [("f", .file("port=80\n"))],
                          args: ["path": "ROOT/f", "regexp": "^port=(?P<p>80)$", "replace": "port=8\\g<p>"],
                          after: [("f", .file("port=880\n"))], changed: true, msg: "1 replacements made"),
        FileModuleExample("no match: no change", before: [("f", .file("x\n"))], args: ["path": "ROOT/f", "regexp": "^y$", "replace": "z"],
                          after: [("f", .file("x\n"))], changed: false, msg: ""),
        FileModuleExample("missing file fails", args: ["path": "ROOT/none", "regexp": "x"], after: [("none", .absent)], changed: false, failed: true,
                          msg: "Path ROOT/none does not exist !"),
    ]

    public static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard let path = context.string("path"), !path.isEmpty else { return .failure("path is required") }
        guard let regexp = context.string("regexp") else { return .failure("missing required argument 'regexp'") }
        let validate = context.string("validate")
        try FileWriter.checkValidate(validate)
        var warnings: [String] = []
        let encoding = (context.string("encoding") ?? "utf-8").lowercased()
        if !["utf-8", "utf8"].contains(encoding) {
            warnings.append("encoding '\(encoding)' is not supported; the file is read and written as UTF-8")
        }
        let requested = try RequestedAttributes.from(context)
        let fs = RemoteFileSystem(connection: context.connection)
        let probe = try await fs.inspect([path]).infos[0]
        if probe.effective?.kind == .directory { return ModuleResult(failed: true, msg: "Path \(path) is a directory !", values: ["rc": 256]) }
        if probe.effective == nil { return ModuleResult(failed: true, msg: "Path \(path) does not exist !", values: ["rc": 257]) }
        let edit = try await TextFileEdit.load(context, path: path, requested: requested)
        let contents = edit.text
        let after = context.string("after").flatMap { $0.isEmpty ? nil : $0 }
        let before = context.string("before").flatMap { $0.isEmpty ? nil : $0 }
        var pattern = ""
        if let after, let before { pattern = "\(after)(?P<subsection>.*?)\(before)" }
        else if let after { pattern = "\(after)(?P<subsection>.*)" }
        else if let before { pattern = "(?P<subsection>.*)\(before)" }

        let ns = contents as NSString
        var section = contents
        var sectionRange = NSRange(location: 0, length: ns.length)
        if !pattern.isEmpty {
            let sectionRe = try PythonRegex(pattern, flags: .dotAll)
            guard let m = sectionRe.firstMatch(in: contents), let idx = sectionRe.groupNames.firstIndex(of: "subsection"),
                  m.ranges[idx + 1].location != NSNotFound else {
                return ModuleResult(msg: "Pattern for before/after params did not match the given file: \(pattern)", values: ["rc": 0], warnings: warnings)
            }
            sectionRange = m.ranges[idx + 1]
            section = ns.substring(with: sectionRange)
        }
        let re = try PythonRegex(regexp, flags: .multiline)
        let (replaced, count) = try re.substitute(in: section, template: context.string("replace") ?? "")
        let changed = count > 0 && !replaced.bytesEqual(section)
        var newText = contents
        if changed && !pattern.isEmpty {
            newText = ns.substring(to: sectionRange.location) + replaced + ns.substring(from: sectionRange.location + sectionRange.length)
        } else if changed {
            newText = replaced
        }
        var result = try await edit.finish(context, module: name, newText: newText, contentChanged: changed,
                                           msg: changed ? "\(count) replacements made" : "", backup: context.bool("backup") ?? false,
                                           validate: validate, extraValues: ["rc": 0], backupKey: nil, contentDiff: changed)
        if context.diffMode, changed, !result.diffs.isEmpty {
            // replace names its headers by the path alone.
            result.diffs[0].beforeHeader = path
            result.diffs[0].afterHeader = path
        }
        result.warnings = warnings + result.warnings
        return result
    }
}
