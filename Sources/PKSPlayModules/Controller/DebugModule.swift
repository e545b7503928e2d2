import Foundation
import PKSPlayCore

/// `debug`: shows a message or the value of a variable or expression, on the control machine.
///
/// `var` is evaluated as an expression (`pg.stdout_lines | length`) and reported under its own
/// text as the key, as Ansible does; an undefined one shows `VARIABLE IS NOT DEFINED!`. With
/// `verbosity: N` the task is skipped unless pksplay runs with at least N `-v`.
///
/// A `msg` that is not a string (a list, a dictionary) is returned in `values["msg"]` and
/// ``ModuleResult/msg`` stays `nil`.
public enum DebugModule: Module {
    public static let name = "debug"
    public static let runsOnController = true

    public static let arguments = ArgumentSpec(
        [
            Argument("msg", .raw, default: "Hello world!", help: "The message to show; any value."),
            Argument("var", .string, help: "A variable name or expression whose value to show."),
            Argument("verbosity", .int, default: 0, help: "Show only when run with at least this many -v."),
        ],
        mutuallyExclusive: [["msg", "var"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Show a message or a variable's value.",
        example: """
            - name: What the probe said
              ansible.builtin.debug:
                var: probe.stdout_lines

            - ansible.builtin.debug:
                msg: "Standby {{ inventory_hostname }} lags {{ lag }} bytes"
                verbosity: 1
            """)

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        let threshold = context.int("verbosity") ?? 0
        if threshold > context.verbosity {
            return ModuleResult(skipped: true, values: ["skipped_reason": "Verbosity threshold not met."])
        }
        if let expression = context.string("var"), !expression.isEmpty {
            let shown: Value
            do {
                shown = try context.evaluate(expression)
            } catch {
                guard isUndefinedVariable(error) else {
                    return .failure("Error while resolving `var` expression: \(error)")
                }
                shown = .string("VARIABLE IS NOT DEFINED!" + (context.verbosity > 0 ? ": \(error)" : ""))
            }
            return ModuleResult(values: [expression: shown, "_ansible_verbose_always": true])
        }
        switch context.args["msg"] ?? "Hello world!" {
        // Printing is this module's job: the reporter shows its result at every verbosity, as Ansible does.
        case .string(let text): return ModuleResult(msg: text, values: ["_ansible_verbose_always": true])
        case let other: return ModuleResult(values: ["msg": other, "_ansible_verbose_always": true])
        }
    }

    /// The template engine's error for an undefined name; it is not a type this target can see,
    /// so its text decides (every undefined-variable message says "undefined" or "is not defined").
    static func isUndefinedVariable(_ error: any Error) -> Bool {
        let text = String(describing: error).lowercased()
        return text.contains("undefined") || text.contains("is not defined")
    }
}
