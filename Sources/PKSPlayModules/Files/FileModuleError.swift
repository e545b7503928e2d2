import PKSPlayCore

/// Why a file module could not do what the task asked, in words a person can act on.
///
/// Modules turn these into a failed ``ModuleResult`` (never a crash); connection failures are
/// thrown on as ``ConnectionError`` so the engine can tell an unreachable host from a failed task.
enum FileModuleError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidMode(String, String)
    case invalidArgument(String)
    case invalidRegex(String, String)
    /// A shell step on the target failed: what was attempted, its exit status and stderr.
    case commandFailed(String, Int32, String)
    case unexpectedOutput(String)
    case notUTF8(String)

    var description: String {
        switch self {
        case .invalidMode(let mode, let why): return "mode must be in octal or symbolic form: '\(mode)': \(why)"
        case .invalidArgument(let msg): return msg
        case .invalidRegex(let pattern, let why): return "invalid regular expression '\(pattern)': \(why)"
        case .commandFailed(let what, let status, let stderr):
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(what) (exit \(status))" + (detail.isEmpty ? "" : ": \(detail)")
        case .unexpectedOutput(let what): return "unexpected output from the target while \(what); is this a POSIX system with GNU or BusyBox coreutils?"
        case .notUTF8(let path): return "\(path) is not UTF-8 text; this module edits text files only"
        }
    }
}

extension ModuleResult {
    static func failure(_ error: FileModuleError, values: ValueDict = [:]) -> ModuleResult {
        ModuleResult(failed: true, msg: error.description, values: values)
    }
}
