import Foundation
import PKSPlayCore

/// `container_exec`: a command inside a running container, as `command`/`shell` run one on a host.
public enum ContainerExecModule: Module {
    public static let name = "container_exec"

    public static let arguments = ArgumentSpec(
        [
            Argument("container", required: true, help: "container name or id"),
            Argument("command", .stringOrList, required: true, aliases: ["cmd", "argv"], help: "a string run with sh -c inside, or an argv list run as is"),
            Argument("user", help: "user inside the container (exec -u)"),
            Argument("env", .dict, help: "variables for the command; values travel in the environment, never on a command line"),
            Argument("workdir", aliases: ["chdir"], help: "working directory inside the container (exec -w)"),
            Argument("stdin", help: "text fed to the command's standard input"),
            Argument("stdin_add_newline", .bool, default: true, help: "end stdin with a newline"),
            Argument("strip_empty_ends", .bool, default: true, help: "drop trailing newlines from stdout and stderr"),
            Argument("creates", help: "a path inside the container; when it exists, the command is not run"),
            Argument("removes", help: "a path inside the container; when it does not exist, the command is not run"),
            Argument("timeout", .float, help: "seconds before the command is stopped and the task fails"),
            ContainerRuntime.argument,
        ],
        freeForm: "command"
    )

    public static let documentation = ModuleDocumentation(
        summary: "Run a command in a running container (docker/podman exec); returns rc, stdout and stderr like command.",
        example: """
            - name: Clone the primary into the staging directory
              container_exec:
                container: pks-db
                user: postgres
                command: >-
                  pg_basebackup -R -D /var/lib/postgresql/repl -Fp -Xs -P
                  -h 10.0.3.10 -p 5432 -U repuser -S pks_standby
                env:
                  PGPASSWORD: "{{ replication_password }}"
                creates: /var/lib/postgresql/repl/standby.signal
              no_log: true

            - name: Reload Kamailio
              container_exec:
                container: pks-sip
                command: [kamcmd, cfg.reload]
            """,
        notes: [
            "A string command runs as `sh -c COMMAND` inside the container; a list runs as that argv, without a shell.",
            "env values never appear on a command line: the exec gets `-e NAME` and the value comes from the environment pksplay gives the runtime.",
            "Like command, it reports changed unless creates/removes (tested with `test -e` inside the container) say there is nothing to do; check mode does not run it (msg 'Command would have run if not in check mode').",
            "No automatic undo: give the task an `undo:` when the command changes something rollback must reverse.",
        ]
    )

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withContainerErrors {
            let runtime = ContainerRuntime(context)
            let container = context.string("container") ?? ""
            try ContainerRuntime.checkName(container, argument: "container")
            guard let command = context.args["command"], !command.isNull else { return .failure("command is required: what to run in the container") }
            let argv: [String]
            switch command {
            case .list(let items):
                argv = items.map(\.stringified)
                guard !argv.isEmpty else { return .failure("command is an empty list") }
            default:
                let text = command.stringified
                guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return .failure("command is empty") }
                argv = ["sh", "-c", text]
            }
            var environment: [String: String] = [:]
            for (key, value) in context.args["env"]?.dictValue ?? [:] {
                guard isEnvironmentName(key) else {
                    return .failure("env: '\(key)' is not a valid variable name (letters, digits and underscores, not starting with a digit)")
                }
                environment[key] = value.stringified
            }
            var values: ValueDict = ["cmd": command, "container": .string(container)]

            for (key, wantsExisting) in [("creates", true), ("removes", false)] {
                guard let path = context.string(key), !path.isEmpty else { continue }
                let exists = try await pathExists(path, in: container, runtime, user: context.string("user"), context.connection)
                if exists == wantsExisting {
                    let verb = wantsExisting ? "exists" : "does not exist"
                    values["rc"] = 0
                    values["stdout"] = .string("skipped, since \(path) \(verb)")
                    values["stdout_lines"] = .list([.string("skipped, since \(path) \(verb)")])
                    values["stderr"] = ""
                    values["stderr_lines"] = .list([])
                    return ModuleResult(msg: "Did not run command since '\(path)' \(verb)", values: values)
                }
            }
            if context.checkMode {
                values["rc"] = 0
                let decided = context.string("creates") != nil || context.string("removes") != nil
                return ModuleResult(changed: decided, skipped: !decided, msg: "Command would have run if not in check mode", values: values)
            }

            var exec = [runtime.program, "exec"]
            if context.string("stdin") != nil { exec.append("-i") }
            if let user = context.string("user"), !user.isEmpty { exec += ["-u", user] }
            if let workdir = context.string("workdir"), !workdir.isEmpty { exec += ["-w", workdir] }
            for name in environment.keys.sorted() { exec += ["-e", name] }
            exec.append(container)
            var stdin: Data?
            if let text = context.string("stdin") {
                stdin = Data((text + ((context.bool("stdin_add_newline") ?? true) && !text.hasSuffix("\n") ? "\n" : "")).utf8)
            }
            let result = try await context.connection.exec(ExecRequest(
                shellJoin(exec + argv), stdin: stdin, environment: environment, timeout: context.double("timeout")))

            let strip = context.bool("strip_empty_ends") ?? true
            let stdout = strip ? trimTrailingNewlines(result.stdoutText) : result.stdoutText
            let stderr = strip ? trimTrailingNewlines(result.stderrText) : result.stderrText
            values["rc"] = .int(Int(result.exitStatus))
            values["stdout"] = .string(stdout)
            values["stderr"] = .string(stderr)
            values["stdout_lines"] = .list(lines(stdout).map(Value.string))
            values["stderr_lines"] = .list(lines(stderr).map(Value.string))
            guard result.exitStatus == 0 else {
                var msg = "non-zero return code"
                let lower = stderr.lowercased()
                if lower.contains("no such container") || lower.contains("no container with name") {
                    msg = "container '\(container)' does not exist"
                } else if lower.contains("is not running") || lower.contains("container state improper") {
                    msg = "container '\(container)' is not running"
                }
                return ModuleResult(changed: true, failed: true, msg: msg, values: values)
            }
            return ModuleResult(changed: true, values: values)
        }
    }

    /// `test -e PATH` inside the container; a container that cannot run it is an error.
    static func pathExists(_ path: String, in container: String, _ runtime: ContainerRuntime, user: String?, _ connection: any Connection) async throws -> Bool {
        var argv = [runtime.program, "exec"]
        if let user, !user.isEmpty { argv += ["-u", user] }
        argv += [container, "test", "-e", path]
        let r = try await connection.exec(ExecRequest(shellJoin(argv)))
        switch r.exitStatus {
        case 0: return true
        case 1: return false
        default:
            throw ContainerError.runtimeFailed(command: shellJoin(argv), exitStatus: r.exitStatus, message: r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private static func trimTrailingNewlines(_ s: String) -> String {
        var out = Substring(s)
        while let last = out.last, last == "\n" || last == "\r\n" || last == "\r" { out = out.dropLast() }
        return String(out)
    }

    private static func lines(_ s: String) -> [String] {
        s.isEmpty ? [] : s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
