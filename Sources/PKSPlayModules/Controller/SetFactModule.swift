import Foundation
import PKSPlayCore

/// `set_fact`: sets variables for the current host, at set_fact precedence, for the rest of the run.
///
/// Every argument is a variable (`cacheable` excepted, accepted and ignored: pksplay keeps no fact
/// cache). As in Ansible, a string value `true`/`false`/`yes`/`no` (any case) becomes a boolean.
/// Reports `changed: false`: nothing changes on the host.
public enum SetFactModule: Module {
    public static let name = "set_fact"
    public static let runsOnController = true

    public static let arguments = ArgumentSpec(
        [Argument("cacheable", .bool, default: false, help: "Accepted for compatibility; pksplay has no fact cache.")],
        acceptsAnyArgument: true
    )

    public static let documentation = ModuleDocumentation(
        summary: "Set variables for the current host.",
        example: """
            - name: Remember which node leads
              ansible.builtin.set_fact:
                pks_primary: "{{ groups['db'] | first }}"
                pks_promoted: false
            """)

    static let pythonKeywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
        "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ]

    /// Whether `name` can be a variable: ASCII letters, digits and `_`, not starting with a digit, not a keyword.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first == "_" || CharacterSet.letters.contains(first) else {
            return false
        }
        let valid = name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || CharacterSet.alphanumerics.contains($0)) }
        return valid && !pythonKeywords.contains(name)
    }

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        var facts = ValueDict()
        for (key, value) in context.args where key != "cacheable" {
            guard isValidName(key) else {
                return .failure("The variable name '\(key)' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores.")
            }
            if case .string(let s) = value, ["true", "false", "yes", "no"].contains(s.lowercased()) {
                facts[key] = .bool(["true", "yes"].contains(s.lowercased()))
            } else {
                facts[key] = value
            }
        }
        guard !facts.isEmpty else {
            return .failure("No key/value pairs provided, at least one is required for this action to succeed")
        }
        return ModuleResult(changed: false, values: ["ansible_facts": .dict(facts)], facts: facts, factsAreSetFact: true)
    }
}
