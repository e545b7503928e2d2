import Foundation
import PKSPlayCore

/// `shell`: runs a script through a shell on the target (`/bin/sh` unless `executable` says otherwise).
///
/// The text is handed to the shell whole, so pipes, redirections and variables work; quote any
/// value that comes from a variable (`{{ path | quote }}`). Same results as `command`, with `cmd`
/// as the script text.
public enum ShellModule: Module {
    public static let name = "shell"

    public static let arguments = ArgumentSpec(
        [
            Argument("cmd", .string, aliases: ["_raw_params"], help: "The shell script to run."),
            Argument("chdir", .path, help: "Change into this directory on the target first."),
            Argument("progress", .bool, default: false, help: "pksplay: show the output live, line by line, while the command runs (a long clone)."),
            Argument("creates", .path, help: "A path or glob on the target; when it exists the script does not run."),
            Argument("removes", .path, help: "A path or glob on the target; when it does not exist the script does not run."),
            Argument("executable", .string, help: "The shell to run the script with (default /bin/sh)."),
            Argument("stdin", .string, help: "Text fed to the script's standard input."),
            Argument("stdin_add_newline", .bool, default: true, help: "Append a newline to stdin."),
            Argument("strip_empty_ends", .bool, default: true, help: "Strip trailing newlines from stdout and stderr."),
        ],
        freeForm: "cmd",
        requiredOneOf: [["cmd"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Run a shell script on the target.",
        example: """
            - name: Count connections
              ansible.builtin.shell: ss -tn state established '( dport = :5432 )' | tail -n +2 | wc -l
              register: connections
              changed_when: false

            - name: Use bash features
              ansible.builtin.shell:
                cmd: set -o pipefail && pg_dumpall | gzip > /srv/backup/all.sql.gz
                executable: /bin/bash
                creates: /srv/backup/all.sql.gz
            """,
        notes: [
            "Reports changed whenever it runs; use creates/removes or changed_when to make it idempotent.",
            "In check mode it is skipped unless creates/removes decide.",
        ])

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await CommandRunner.run(context, usesShell: true)
    }
}
