import Foundation
import PKSPlayCore

/// `fail`: fails the host with a message, on purpose (usually with `when:`).
///
/// A `msg` that is not a string is returned in `values["msg"]`, with ``ModuleResult/msg`` `nil`.
public enum FailModule: Module {
    public static let name = "fail"
    public static let runsOnController = true

    public static let arguments = ArgumentSpec([
        Argument("msg", .raw, default: "Failed as requested from task", help: "Why the task fails."),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Fail with a message.",
        example: """
            - name: Refuse to fail over a primary that still accepts writes
              ansible.builtin.fail:
                msg: "{{ inventory_hostname }} is still primary; stop it first"
              when: is_primary
            """)

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        switch context.args["msg"] ?? .null {
        case .string(let text): return ModuleResult(failed: true, msg: text)
        case .null: return ModuleResult(failed: true, msg: "Failed as requested from task")
        case let other: return ModuleResult(failed: true, values: ["msg": other])
        }
    }
}
