import Foundation

/// How one task ended on one host, as the recap counts it.
public enum TaskStatus: String, Sendable, Hashable, Codable {
    case ok, changed, failed, skipped, unreachable, rescued, ignored
}

/// One host's result for one task (or one loop item), as reporters show it.
public struct HostTaskResult: Sendable {
    public var host: String
    /// `pks1 -> pks2` style target when delegated.
    public var delegatedTo: String?
    public var status: TaskStatus
    /// The loop item's label when this is one item of a loop.
    public var itemLabel: String?
    /// The registered result (`rc`, `stdout`, `msg`, `changed` ...), already stripped when `no_log`.
    public var result: Value
    public var diffs: [FileDiff]
    public var ignored: Bool
    public var noLog: Bool
    /// A loop's summary line (`ok: [host]` after its items) rather than one item.
    public var isLoopSummary: Bool

    public init(
        host: String, delegatedTo: String? = nil, status: TaskStatus, itemLabel: String? = nil, result: Value = .dict([:]),
        diffs: [FileDiff] = [], ignored: Bool = false, noLog: Bool = false, isLoopSummary: Bool = false
    ) {
        self.host = host
        self.delegatedTo = delegatedTo
        self.status = status
        self.itemLabel = itemLabel
        self.result = result
        self.diffs = diffs
        self.ignored = ignored
        self.noLog = noLog
        self.isLoopSummary = isLoopSummary
    }
}

/// The per-host counters of `PLAY RECAP`.
public struct HostStats: Sendable, Hashable, Codable {
    public var host: String
    public var ok = 0, changed = 0, unreachable = 0, failed = 0, skipped = 0, rescued = 0, ignored = 0
    public init(host: String) { self.host = host }
}

/// Everything a run tells the outside world. Reporters turn these into text or JSON lines;
/// they never change what happens.
public enum RunEvent: Sendable {
    case playbookStart(path: String, checkMode: Bool)
    case playStart(name: String, hosts: [String])
    case taskStart(name: String, location: SourceLocation?, isHandler: Bool)
    case hostResult(HostTaskResult)
    /// A line of live output from a long step (progress of a clone).
    case progress(host: String, line: String)
    case warning(String)
    case diagnostic(Diagnostic)
    case noHostsMatched(pattern: String)
    case recap([HostStats])
    case rollbackStart(runID: String, checkMode: Bool)
    case rollbackStep(host: String, summary: String, status: TaskStatus, msg: String?)
    case message(String)
}

/// The seam between the engine and what users see.
public protocol Reporter: Sendable {
    func report(_ event: RunEvent)
}
