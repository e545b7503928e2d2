import Foundation
import PKSPlayCore

/// Makes a chosen task fail, for proving rollback: `PKSPLAY_INJECT_FAILURE='PATTERN[@HOST]'` fails
/// every task whose name matches the shell pattern (on HOST only, when given) before its module runs.
/// The end-to-end tests fail each step of failover.yml in turn this way. Unset, it costs one lookup.
enum FaultInjection {
    static let spec: (pattern: String, host: String?)? = {
        guard let raw = Environment.value("PKSPLAY_INJECT_FAILURE"), !raw.isEmpty else { return nil }
        if let at = raw.lastIndex(of: "@") { return (String(raw[..<at]), String(raw[raw.index(after: at)...])) }
        return (raw, nil)
    }()

    static func failure(task: String, host: String) -> String? {
        guard let spec, spec.host == nil || spec.host == host, fnmatch(spec.pattern, task, 0) == 0 else { return nil }
        return "injected failure (PKSPLAY_INJECT_FAILURE=\(spec.pattern)\(spec.host.map { "@\($0)" } ?? ""))"
    }
}
