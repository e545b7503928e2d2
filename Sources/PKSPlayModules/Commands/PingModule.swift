import Foundation
import PKSPlayCore

/// `ping`: checks that pksplay can log in to the host and run a command there; returns `ping: pong`.
///
/// Not ICMP. `data` is echoed back as `ping`; `data: crash` makes the module fail on purpose, as
/// Ansible's does, to try out error handling.
public enum PingModule: Module {
    public static let name = "ping"

    public static let arguments = ArgumentSpec([
        Argument("data", .string, default: "pong", help: "What to return as ping; 'crash' fails the module on purpose."),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Check that the host can be reached and can run a command.",
        example: """
            - name: Can we reach the standby?
              ansible.builtin.ping:

            - name: See what a failing module looks like
              ansible.builtin.ping:
                data: crash
            """)

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        let data = context.string("data") ?? "pong"
        // Like Ansible's, the module has to run on the host before it can answer.
        let result = try await context.connection.exec(ExecRequest("echo pong"))
        guard result.exitStatus == 0, result.stdoutText == "pong\n" else {
            return ModuleResult(
                failed: true,
                msg: "the host did not run a test command: exit status \(result.exitStatus)\(result.stderrText.isEmpty ? "" : ": " + result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))",
                values: lowLevelValues(result))
        }
        if data == "crash" {
            return ModuleResult(failed: true, msg: "Module failed: boom", values: ["exception": "Exception: boom"])
        }
        return ModuleResult(values: ["ping": .string(data)])
    }
}
