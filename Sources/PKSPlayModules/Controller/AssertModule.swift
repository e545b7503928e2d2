import Foundation
import PKSPlayCore

/// `assert`: fails the host unless every expression of `that` is true.
///
/// Each entry is a raw expression as in `when:` (no `{{ }}`), evaluated in order; the first false
/// one fails the task with `fail_msg` (alias `msg`) and reports `assertion` and `evaluated_to`.
/// As in Ansible 2.19, an expression must give a boolean: a string or number is an error, not "truthy".
public enum AssertModule: Module {
    public static let name = "assert"
    public static let runsOnController = true

    public static let arguments = ArgumentSpec(
        [
            Argument("that", .stringOrList, required: true, help: "An expression, or a list of them, that must all be true."),
            Argument("fail_msg", .raw, aliases: ["msg"], help: "The message when an assertion fails: a string or a list of strings."),
            Argument("success_msg", .raw, help: "The message when all pass: a string or a list of strings."),
            Argument("quiet", .bool, default: false, help: "Show less when the assertions pass."),
        ]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Fail unless the given expressions are all true.",
        example: """
            - name: Only a streaming standby may be promoted
              ansible.builtin.assert:
                that:
                  - recovery.stdout == "t"
                  - lag | int < 16777216
                fail_msg: "{{ inventory_hostname }} is not a healthy standby"
                success_msg: standby checked
            """)

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        let failMessage: Value
        let successMessage: Value
        do {
            failMessage = try message(context.args["fail_msg"], default: "Assertion failed", argument: "fail_msg")
            successMessage = try message(context.args["success_msg"], default: "All assertions passed", argument: "success_msg")
        } catch let error as MessageTypeError {
            return .failure(error.description)
        }
        let conditions: [String]
        switch context.args["that"] {
        case .list(let items)?: conditions = items.map(\.stringified)
        case .string(let s)?: conditions = [s]
        default: return .failure("assert needs 'that': an expression or a list of expressions")
        }

        for condition in conditions {
            let outcome: Value
            do {
                outcome = try context.evaluate(condition)
            } catch {
                return ModuleResult(
                    failed: true, msg: "Error while evaluating conditional (\(condition)): \(error)",
                    values: ["assertion": .string(condition)])
            }
            guard case .bool(let passed) = outcome else {
                var shown = outcome.pythonRepr
                if shown.count > 40 { shown = String(shown.prefix(37)) + "..." }
                return ModuleResult(
                    failed: true,
                    msg: "Conditional result was \(shown) of type '\(outcome.typeName)', which evaluates to \(outcome.isTruthy ? "True" : "False"). Conditionals must have a boolean result.",
                    values: ["assertion": .string(condition)])
            }
            if !passed {
                return result(failMessage, failed: true, extra: ["assertion": .string(condition), "evaluated_to": false])
            }
        }
        return result(successMessage, failed: false, extra: [:])
    }

    private static func message(_ value: Value?, default fallback: String, argument: String) throws -> Value {
        switch value {
        case nil, .null?: return .string(fallback)
        case .string(let s)?: return .string(s)
        case .list(let items)? where items.allSatisfy({ $0.stringValue != nil }): return .list(items)
        default: throw MessageTypeError(description: "\(argument) must be a string or a list of strings")
        }
    }

    struct MessageTypeError: Error, CustomStringConvertible {
        var description: String
    }

    private static func result(_ message: Value, failed: Bool, extra: ValueDict) -> ModuleResult {
        var values = extra
        var text: String?
        if case .string(let s) = message { text = s } else { values["msg"] = message }
        return ModuleResult(failed: failed, msg: text, values: values)
    }
}
