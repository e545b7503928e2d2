#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process environment, one variable at a time.
///
/// Foundation's `ProcessInfo.processInfo.environment` copies the whole environment into a new
/// dictionary on every read; at start-up, on the way to every run, that showed in perf. A single
/// name needs only `getenv`.
public enum Environment {
    /// The value of `name`, or nil when it is not set.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}
