import Foundation
import PKSPlayCore

/// `template`: renders a template from the control machine with the task's variables and puts
/// the result at `dest` through copy's write path (compare, back up, validate, atomic rename).
public enum TemplateModule: Module, HasFileModuleExamples {
    public static let name = "template"

    public static let arguments = ArgumentSpec([
        Argument("src", .path, required: true, help: "Template on the control machine (templates/ is searched)."),
        Argument("dest", .path, required: true, help: "Target path; a directory gets the template's base name."),
        Argument("backup", .bool, default: false),
        Argument("force", .bool, default: true),
        Argument("validate", .string, help: "Command run on the rendered file first; %s is its path."),
        Argument("follow", .bool, default: false),
        Argument("newline_sequence", .string, default: "\\n", choices: ["\\n", "\\r", "\\r\\n", "\n", "\r", "\r\n"],
                 help: "Line ending of the rendered file."),
        Argument("trim_blocks", .bool, default: true, help: "Accepted; the engine's renderer applies Ansible's defaults."),
        Argument("lstrip_blocks", .bool, default: false, help: "Accepted; the engine's renderer applies Ansible's defaults."),
        Argument("output_encoding", .string, default: "utf-8", help: "Only utf-8 is written."),
        Argument("variable_start_string", .string), Argument("variable_end_string", .string),
        Argument("block_start_string", .string), Argument("block_end_string", .string),
        Argument("comment_start_string", .string), Argument("comment_end_string", .string),
        Argument("mode", .mode, help: "Octal, symbolic, or 'preserve' (the template file's mode)."),
        Argument("owner", .string), Argument("group", .string),
        Argument("unsafe_writes", .bool, default: false, help: "Accepted for Ansible compatibility; writes are always atomic."),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Render a Jinja template from the control machine and write it to the target when it differs.",
        example: """
        - name: pg_hba.conf from a template, validated by a dry parse
          template:
            src: pg_hba.conf.j2
            dest: /srv/pks/db/pg_hba.conf
            owner: "999"
            group: "999"
            mode: "0600"
            backup: true

        - name: Windows line endings for a tool that wants them
          template:
            src: settings.ini.j2
            dest: /srv/app/settings.ini
            newline_sequence: '\\r\\n'
        """,
        notes: ["Custom delimiters (variable_start_string...) are accepted but the engine's renderer uses the standard ones."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("render into place (renderer is the identity in this harness)",
                          before: [("templates/foo.j2", .file("listen {{ port }}\n", mode: 0o640)), ("etc", .directory())],
                          args: ["src": "ROOT/templates/foo.j2", "dest": "ROOT/etc/file.conf", "mode": "0644"],
                          after: [("etc/file.conf", .file("listen {{ port }}\n", mode: 0o644))], changed: true),
        FileModuleExample("mode: preserve takes the template's mode",
                          before: [("templates/foo.j2", .file("x\n", mode: 0o640)), ("etc", .directory())],
                          args: ["src": "ROOT/templates/foo.j2", "dest": "ROOT/etc/", "mode": "preserve"],
                          after: [("etc/foo.j2", .file("x\n", mode: 0o640))], changed: true),
        FileModuleExample("newline_sequence \\r\\n",
                          before: [("t.j2", .file("a\nb\n")), ("out", .directory())],
                          args: ["src": "ROOT/t.j2", "dest": "ROOT/out/t.ini", "newline_sequence": "\\r\\n"],
                          after: [("out/t.ini", .file("a\r\nb\r\n"))], changed: true),
    ]

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        do {
            return try await execute(context)
        } catch let error as FileModuleError {
            return .failure(error, values: ["dest": .string(context.string("dest") ?? "")])
        } catch let v as ValidationFailure {
            return ModuleResult(failed: true, msg: "failed to validate", values: v.values)
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await FileUndo.undo(record, context)
    }

    static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard let src = context.string("src"), !src.isEmpty, let dest = context.string("dest"), !dest.isEmpty else {
            return .failure("src and dest are required")
        }
        guard let found = context.findFile(src, .templates) else {
            return .failure("could not find src=\(src), not found in the templates/ search path of the play or role")
        }
        guard let data = FileManager.default.contents(atPath: found) else { return .failure("could not read the template \(found)") }
        guard let text = String(data: data, encoding: .utf8) else { return .failure("the template \(found) is not UTF-8 text") }
        var rendered: String
        do {
            rendered = try context.render(text)
        } catch {
            return .failure("AnsibleError: template error while templating \(found): \(error)")
        }
        var newline = context.string("newline_sequence") ?? "\\n"
        newline = newline.replacingOccurrences(of: "\\r", with: "\r").replacingOccurrences(of: "\\n", with: "\n")
        if newline != "\n" {
            // Jinja's newline_sequence: every line break of the output becomes the sequence.
            var out = ""
            var previousCR = false
            for scalar in rendered.unicodeScalars {
                if scalar == "\n" {
                    if !previousCR { out += newline }
                    previousCR = false
                } else if scalar == "\r" {
                    out += newline; previousCR = true
                } else {
                    out.unicodeScalars.append(scalar); previousCR = false
                }
            }
            rendered = out
        }
        let mode = (try? FileManager.default.attributesOfItem(atPath: found)[.posixPermissions] as? Int) ?? nil
        let item = CopyModule.Item(relative: RemotePath.basename(found), data: Data(rendered.utf8), sourceLabel: found, sourceMode: mode)
        return try await CopyModule.place([item], dest: dest, directories: [], context: context, srcLabel: found, module: name)
    }
}
