import PKSPlayCore

/// One example of a file module at work, declared beside the module (SwiftLint's triggering /
/// non-triggering examples are the model): the tree before, the arguments, the tree after and
/// what the result says. A single parameterized test runs every example through a real
/// connection, and also checks check mode, a second run and undo.
///
/// Paths are relative to a scratch directory; in `args` and `msg` the word `ROOT` stands for it.
public struct FileModuleExample: Sendable, CustomStringConvertible {
    /// What is at one path.
    public enum Entry: Sendable, Hashable {
        case file(String, mode: Int = 0o644)
        case directory(mode: Int = 0o755)
        case link(String)
        case absent
    }

    public var title: String
    public var before: [(String, Entry)]
    public var args: ValueDict
    /// Paths to check afterwards; paths not listed are not checked.
    public var after: [(String, Entry)]
    public var changed: Bool
    public var failed: Bool
    /// The result's `msg`, when the example pins it (`ROOT` replaced).
    public var msg: String?
    /// Whether a second run reports no change (false for `state: touch`, as in Ansible).
    public var idempotent: Bool
    /// What check mode predicts when it cannot know the outcome (a `validate` command that will
    /// reject the change is not run in check mode, as in Ansible): `changed`, not failed.
    public var checkModeChanged: Bool?

    public init(_ title: String, before: [(String, Entry)] = [], args: ValueDict, after: [(String, Entry)] = [],
                changed: Bool, failed: Bool = false, msg: String? = nil, idempotent: Bool = true, checkModeChanged: Bool? = nil) {
        self.checkModeChanged = checkModeChanged
        self.title = title
        self.before = before
        self.args = args
        self.after = after
        self.changed = changed
        self.failed = failed
        self.msg = msg
        self.idempotent = idempotent
    }

    public var description: String { title }
}

/// A module that declares examples of itself.
public protocol HasFileModuleExamples: Module {
    static var examples: [FileModuleExample] { get }
}
