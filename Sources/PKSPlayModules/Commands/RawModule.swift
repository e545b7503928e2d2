import Foundation
import PKSPlayCore

/// `raw`: sends the text to the target's shell as is, nothing added (no chdir, no creates).
///
/// Meant for bootstrapping a host that has nothing installed yet. With `executable`, the text runs
/// as `EXECUTABLE -c TEXT`. Always reports `changed`; skipped in check mode, as Ansible does.
public enum RawModule: Module {
    public static let name = "raw"

    public static let arguments = ArgumentSpec(
        [
            Argument("cmd", .string, required: true, aliases: ["_raw_params"], help: "The command line, run by the target's shell as written."),
            Argument("executable", .string, help: "Run the text with this shell (`EXECUTABLE -c TEXT`)."),
        ],
        freeForm: "cmd"
    )

    public static let documentation = ModuleDocumentation(
        summary: "Run a command line through the target's shell, as is.",
        example: """
            - name: Bootstrap Python on a fresh host
              ansible.builtin.raw: test -e /usr/bin/python3 || (apt-get update && apt-get install -y python3-minimal)
            """,
        notes: ["Skipped in check mode.", "Output is returned as is; trailing newlines are kept."])

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        var text = context.string("cmd") ?? ""
        var executable = context.string("executable")
        var warnings: [String] = []
        let (command, options) = FreeFormOptions.extract(from: text)
        text = command
        for (key, value) in options {
            if key == "executable" {
                executable = value
            } else {
                warnings.append("raw does not take '\(key)'; it was ignored (use command or shell for it)")
            }
        }
        if context.checkMode {
            return ModuleResult(skipped: true, warnings: warnings)
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return ModuleResult(failed: true, msg: "no command given", warnings: warnings)
        }
        let line = executable.map { "exec \(shellQuote($0)) -c \(shellQuote(text))" } ?? text
        let result = try await context.connection.exec(ExecRequest(line))
        let failed = result.exitStatus != 0
        return ModuleResult(
            changed: true, failed: failed, msg: failed ? "non-zero return code" : nil, values: lowLevelValues(result),
            warnings: warnings)
    }
}
