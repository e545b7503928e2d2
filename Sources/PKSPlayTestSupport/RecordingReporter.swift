import Foundation
import PKSPlayCore

/// A ``Reporter`` that keeps every event, for tests to read back. Safe to use from many tasks.
public final class RecordingReporter: Reporter, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [RunEvent] = []

    public init() {}

    public func report(_ event: RunEvent) {
        lock.lock()
        recorded.append(event)
        lock.unlock()
    }

    /// Every event so far, in the order reported.
    public var events: [RunEvent] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// Forgets what was recorded.
    public func reset() {
        lock.lock()
        recorded.removeAll()
        lock.unlock()
    }

    /// Every host result, loop items and summaries included.
    public var hostResults: [HostTaskResult] {
        events.compactMap { if case .hostResult(let r) = $0 { return r } else { return nil } }
    }

    /// The results for one host, in order.
    public func results(for host: String) -> [HostTaskResult] {
        hostResults.filter { $0.host == host }
    }

    /// `(task name, host, status)` for each host result, pairing each result with the task started before it.
    public var taskStatuses: [(task: String, host: String, status: TaskStatus)] {
        var current = ""
        var out: [(String, String, TaskStatus)] = []
        for event in events {
            switch event {
            case .taskStart(let name, _, _): current = name
            case .hostResult(let r): out.append((current, r.host, r.status))
            default: break
            }
        }
        return out
    }

    /// The status of the last result reported for `task` on `host`, or `nil`.
    public func status(of task: String, on host: String) -> TaskStatus? {
        taskStatuses.last { $0.task == task && $0.host == host }?.status
    }

    /// The names of the tasks started, in order (handlers included).
    public var taskNames: [String] {
        events.compactMap { if case .taskStart(let name, _, _) = $0 { return name } else { return nil } }
    }

    public var warnings: [String] {
        events.compactMap { if case .warning(let w) = $0 { return w } else { return nil } }
    }

    public var messages: [String] {
        events.compactMap { if case .message(let m) = $0 { return m } else { return nil } }
    }

    public var diagnostics: [Diagnostic] {
        events.compactMap { if case .diagnostic(let d) = $0 { return d } else { return nil } }
    }

    /// Progress lines per host, in order.
    public var progressLines: [(host: String, line: String)] {
        events.compactMap { if case .progress(let h, let l) = $0 { return (h, l) } else { return nil } }
    }

    /// The last recap reported, or `nil`.
    public var recap: [HostStats]? {
        for event in events.reversed() { if case .recap(let stats) = event { return stats } }
        return nil
    }

    /// The recap line of one host, or `nil`.
    public func stats(for host: String) -> HostStats? {
        recap?.first { $0.host == host }
    }
}
