import Foundation
import PKSPlayCore

/// `command`: runs a program with arguments on the target, with no shell in between.
///
/// The free-form text is split into words as Python's `shlex.split` does; `argv` gives the words
/// directly. Each word reaches the program as is (quoted for the target's `/bin/sh`), so `;`, `|`,
/// `$(...)` and globs are plain characters. With `expand_argument_vars` (the default, as in Ansible)
/// `$NAME`/`${NAME}` and a leading `~` are expanded from the target's environment, nothing else.
/// Reports `changed` whenever it runs; `creates`/`removes` make it idempotent.
public enum CommandModule: Module {
    public static let name = "command"

    public static let arguments = ArgumentSpec(
        [
            Argument("cmd", .string, aliases: ["_raw_params"], help: "The command line, split into words like a shell would, without shell features."),
            Argument("argv", .list(.string), help: "The program and its arguments as a list; instead of cmd."),
            Argument("chdir", .path, help: "Change into this directory on the target first."),
            Argument("progress", .bool, default: false, help: "pksplay: show the output live, line by line, while the command runs (a long clone)."),
            Argument("creates", .path, help: "A path or glob on the target; when it exists the command does not run."),
            Argument("removes", .path, help: "A path or glob on the target; when it does not exist the command does not run."),
            Argument("stdin", .string, help: "Text fed to the command's standard input."),
            Argument("stdin_add_newline", .bool, default: true, help: "Append a newline to stdin."),
            Argument("strip_empty_ends", .bool, default: true, help: "Strip trailing newlines from stdout and stderr."),
            Argument("expand_argument_vars", .bool, default: true, help: "Expand $VARS and ~ in the arguments on the target."),
            Argument("executable", .string, help: "Ignored with a warning, as in Ansible; use shell to pick an interpreter."),
        ],
        freeForm: "cmd",
        mutuallyExclusive: [["cmd", "argv"]],
        requiredOneOf: [["cmd", "argv"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Run a program with arguments on the target, without a shell.",
        example: """
            - name: Initialise the cluster once
              ansible.builtin.command: /usr/lib/postgresql/16/bin/initdb -D /srv/pks/db
              args:
                creates: /srv/pks/db/PG_VERSION

            - name: Words with spaces, no quoting worries
              ansible.builtin.command:
                argv: [psql, -c, "SELECT 1", --no-psqlrc]
              register: probe
            """,
        notes: [
            "Reports changed whenever it runs; use creates/removes or changed_when to make it idempotent.",
            "In check mode it is skipped unless creates/removes decide.",
            "Shell operators (|, >, ;, &&) are passed as plain words; use shell for them.",
        ])

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await CommandRunner.run(context, usesShell: false)
    }
}
