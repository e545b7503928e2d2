import Foundation
import PKSPlayCore

/// `blockinfile`: keeps a block of lines between two marker lines, inserting, updating or
/// removing it, as Ansible 2.19 does.
public enum BlockInFileModule: TextFileEditModule, HasFileModuleExamples {
    public static let name = "blockinfile"

    public static let arguments = ArgumentSpec([
        Argument("path", .path, required: true, aliases: ["dest", "destfile", "name"], help: "The file to modify."),
        Argument("state", .string, default: "present", choices: ["absent", "present"]),
        Argument("marker", .string, default: "# {mark} ANSIBLE MANAGED BLOCK", help: "Marker line template; {mark} becomes marker_begin/marker_end."),
        Argument("block", .string, default: "", aliases: ["content"], help: "The lines between the markers; empty removes the block."),
        Argument("insertafter", .string, help: "Regex or EOF: where a new block goes (after the last match)."),
        Argument("insertbefore", .string, help: "Regex or BOF: where a new block goes (before the last match)."),
        Argument("create", .bool, default: false),
        Argument("backup", .bool, default: false),
        Argument("marker_begin", .string, default: "BEGIN"),
        Argument("marker_end", .string, default: "END"),
        Argument("append_newline", .bool, default: false, help: "Add a blank line after an inserted block unless one is there."),
        Argument("prepend_newline", .bool, default: false, help: "Add a blank line before an inserted block unless one is there."),
        Argument("validate", .string),
        Argument("mode", .mode), Argument("owner", .string), Argument("group", .string),
        Argument("unsafe_writes", .bool, default: false, help: "Accepted for Ansible compatibility; writes are always atomic."),
    ], mutuallyExclusive: [["insertbefore", "insertafter"]])

    public static let documentation = ModuleDocumentation(
        summary: "Insert, update or remove a block of lines between marker lines.",
        example: """
        - name: Standby settings in postgresql.conf, one managed block
          blockinfile:
            path: /srv/pks/db/postgresql.conf
            marker: "# {mark} PKSPLAY STANDBY"
            block: |
              max_wal_senders = 10
              max_slot_wal_keep_size = 8GB

        - name: Match User block in sshd_config, validated
          blockinfile:
            path: /etc/ssh/sshd_config
            append_newline: true
            prepend_newline: true
            block: |
              Match User ansible-agent
              PasswordAuthentication no
            validate: /usr/sbin/sshd -T -f %s
        """,
        notes: ["An empty block removes the block and its markers, as state=absent does.",
                "msg is 'Block inserted', 'Block removed' or 'File created', as in Ansible."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("insert a block at EOF (Match User example)",
                          before: [("sshd_config", .file("Port 22\n"))],
                          args: ["path": "ROOT/sshd_config", "append_newline": true, "prepend_newline": true,
                                 "block": "Match User ansible-agent\nPasswordAuthentication no\n"],
                          after: [("sshd_config", .file("Port 22\n\n# BEGIN ANSIBLE MANAGED BLOCK\nMatch User ansible-agent\nPasswordAuthentication no\n# END ANSIBLE MANAGED BLOCK\n"))],
                          changed: true, msg: "Block inserted"),
        FileModuleExample("update the block in place (interfaces example)",
                          before: [("interfaces", .file("auto lo\n# BEGIN ANSIBLE MANAGED BLOCK\niface eth0 inet dhcp\n# END ANSIBLE MANAGED BLOCK\nsource x\n"))],
                          args: ["path": "ROOT/interfaces", "block": "iface eth0 inet static\n    address 192.0.2.23\n    netmask 255.255.255.0\n"],
                          after: [("interfaces", .file("auto lo\n# BEGIN ANSIBLE MANAGED BLOCK\niface eth0 inet static\n    address 192.0.2.23\n    netmask 255.255.255.0\n# END ANSIBLE MANAGED BLOCK\nsource x\n"))],
                          changed: true, msg: "Block inserted"),
        FileModuleExample("custom HTML markers after <body>",
                          before: [("index.html", .file("<html>\n<body>\n</body>\n</html>\n"))],
                          args: ["path": "ROOT/index.html", "marker": "<!-- {mark} ANSIBLE MANAGED BLOCK -->", "insertafter": "<body>",
                                 "block": "<h1>Welcome</h1>\n"],
                          after: [("index.html", .file("<html>\n<body>\n<!-- BEGIN ANSIBLE MANAGED BLOCK -->\n<h1>Welcome</h1>\n<!-- END ANSIBLE MANAGED BLOCK -->\n</body>\n</html>\n"))],
                          changed: true, msg: "Block inserted"),
        FileModuleExample("empty block removes it with its markers",
                          before: [("index.html", .file("<body>\n<!-- BEGIN ANSIBLE MANAGED BLOCK -->\n<h1>x</h1>\n<!-- END ANSIBLE MANAGED BLOCK -->\n</body>\n"))],
                          args: ["path": "ROOT/index.html", "marker": "<!-- {mark} ANSIBLE MANAGED BLOCK -->", "block": ""],
                          after: [("index.html", .file("<body>\n</body>\n"))], changed: true, msg: "Block removed"),
        FileModuleExample("block already there: no change",
                          before: [("f", .file("# BEGIN ANSIBLE MANAGED BLOCK\na\n# END ANSIBLE MANAGED BLOCK\n"))],
                          args: ["path": "ROOT/f", "block": "a"], after: [("f", .file("# BEGIN ANSIBLE MANAGED BLOCK\na\n# END ANSIBLE MANAGED BLOCK\n"))],
                          changed: false, msg: ""),
        FileModuleExample("insertbefore BOF",
                          before: [("f", .file("x\n"))], args: ["path": "ROOT/f", "block": "top", "insertbefore": "BOF"],
                          after: [("f", .file("# BEGIN ANSIBLE MANAGED BLOCK\ntop\n# END ANSIBLE MANAGED BLOCK\nx\n"))], changed: true, msg: "Block inserted"),
        FileModuleExample("hosts entries with a per-item marker",
                          before: [("hosts", .file("127.0.0.1 localhost"))],
                          args: ["path": "ROOT/hosts", "block": "10.10.1.10 host1\n", "marker": "# {mark} ANSIBLE MANAGED BLOCK host1"],
                          after: [("hosts", .file("127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK host1\n10.10.1.10 host1\n# END ANSIBLE MANAGED BLOCK host1\n"))],
                          changed: true, msg: "Block inserted"),
        FileModuleExample("create a new file",
                          args: ["path": "ROOT/new/file", "block": "a", "create": true],
                          after: [("new/file", .file("# BEGIN ANSIBLE MANAGED BLOCK\na\n# END ANSIBLE MANAGED BLOCK\n"))], changed: true, msg: "File created"),
        FileModuleExample("absent on a missing file", args: ["path": "ROOT/none", "state": "absent"], after: [("none", .absent)],
                          changed: false, msg: "File ROOT/none not present"),
    ]

    public static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard let path = context.string("path"), !path.isEmpty else { return .failure("path is required") }
        let validate = context.string("validate")
        try FileWriter.checkValidate(validate)
        let requested = try RequestedAttributes.from(context)
        let edit = try await TextFileEdit.load(context, path: path, requested: requested)
        let present = (context.string("state") ?? "present") == "present"
        if !edit.exists {
            if !(context.bool("create") ?? false) && present {
                return ModuleResult(failed: true, msg: "Path \(path) does not exist !", values: ["rc": 257])
            }
            if !present { return ModuleResult(msg: "File \(path) not present") }
        }
        var insertAfter = context.string("insertafter")
        let insertBefore = context.string("insertbefore")
        if insertAfter == nil && insertBefore == nil { insertAfter = "EOF" }
        var insertRe: PythonRegex?
        if let a = insertAfter, a != "EOF" { insertRe = try PythonRegex(a) }
        else if let b = insertBefore, b != "BOF" { insertRe = try PythonRegex(b) }

        let marker = context.string("marker") ?? "# {mark} ANSIBLE MANAGED BLOCK"
        let marker0 = marker.replacingOccurrences(of: "{mark}", with: context.string("marker_begin") ?? "BEGIN") + "\n"
        let marker1 = marker.replacingOccurrences(of: "{mark}", with: context.string("marker_end") ?? "END") + "\n"
        var block = context.string("block") ?? ""
        var blockLines: [String] = []
        if present && !block.isEmpty {
            if block.unicodeScalars.last != "\n" { block += "\n" }
            blockLines = [marker0] + TextFile.splitLinesKeepingEnds(block) + [marker1]
        }
        var lines = TextFile.splitLinesKeepingEnds(edit.text)
        var n0: Int?, n1: Int?
        for (i, l) in lines.enumerated() {
            if l.bytesEqual(marker0) { n0 = i }
            if l.bytesEqual(marker1) { n1 = i }
        }
        var at: Int
        if let b = n0, let e = n1 {
            if b < e { lines.removeSubrange(b...e); at = b } else { lines.removeSubrange(e...b); at = e }
        } else {
            var found: Int?
            if let insertRe {
                if insertRe.hasInlineMultiline {
                    if let m = insertRe.firstMatch(in: edit.text) {
                        let ns = edit.text as NSString
                        let upto = insertAfter != nil ? m.range.location + m.range.length : m.range.location
                        found = ns.substring(to: upto).unicodeScalars.filter { $0 == "\n" }.count
                    }
                } else {
                    for (i, l) in lines.enumerated() where insertRe.matches(l) { found = i }
                }
                if let f = found { at = insertAfter != nil ? f + 1 : f } else { at = lines.count }
            } else if insertBefore != nil {
                at = 0
            } else {
                at = lines.count
            }
        }
        if at > 0, !lines[at - 1].endsWithLineBreak { lines[at - 1] += "\n" }
        if (context.bool("prepend_newline") ?? false) && present, at != 0, !lines[at - 1].bytesEqual("\n") {
            lines.insert("\n", at: at)
            at += 1
        }
        lines.insert(contentsOf: blockLines, at: at)
        if (context.bool("append_newline") ?? false) && present {
            let after = at + blockLines.count
            if after < lines.count, !lines[after].bytesEqual("\n") { lines.insert("\n", at: after) }
        }
        let result = lines.joined()
        let changed: Bool, msg: String
        if let original = edit.original, Data(result.utf8) == original {
            changed = false; msg = ""
        } else if edit.original == nil {
            changed = true; msg = "File created"
        } else if blockLines.isEmpty {
            changed = true; msg = "Block removed"
        } else {
            changed = true; msg = "Block inserted"
        }
        return try await edit.finish(context, module: name, newText: result, contentChanged: changed, msg: msg,
                                     backup: context.bool("backup") ?? false, validate: validate, backupKey: nil)
    }
}
