import Foundation
import PKSPlayCore

/// Opens connections for hosts and keeps one per host for the whole run.
public actor ConnectionPool {
    public typealias Opener = @Sendable (_ host: String, _ variables: ValueDict) async throws -> any Connection
    private let open: Opener
    private var open_: [String: Swift.Task<any Connection, Error>] = [:]

    public init(open: @escaping Opener) { self.open = open }

    /// The host's connection, opened on first use with the host's variables.
    public func connection(for host: String, variables: ValueDict) async throws -> any Connection {
        if let t = open_[host] { return try await t.value }
        let opener = open
        let t = Swift.Task { try await opener(host, variables) }
        open_[host] = t
        do { return try await t.value } catch {
            open_[host] = nil  // a later task may try again (sshd restarted)
            throw error
        }
    }

    /// Forgets a host's connection (`meta: reset_connection`, or after it broke).
    public func reset(_ host: String) async {
        if let t = open_.removeValue(forKey: host), let c = try? await t.value { await c.close() }
    }

    public func closeAll() async {
        for (_, t) in open_ { if let c = try? await t.value { await c.close() } }
        open_.removeAll()
    }
}

/// Write-ahead record of every change (the rollback issue fills it in).
public protocol ChangeJournal: Sendable {
    /// Called before a module applies a change; must be durable when it returns.
    /// `connection` holds the host's connection variables so rollback can reach it; implementations drop secrets.
    func willChange(host: String, task: String, location: SourceLocation?, undo: UndoRecord, connection: ValueDict) async throws
    /// Called after a change that has no undo (a command without `undo:`), so rollback can report
    /// it. The change is already made, so this need not be durable when it returns: the next
    /// `willChange` (or the run's end) makes it so, and keeps it in its place before later changes.
    func changedWithoutUndo(host: String, task: String, location: SourceLocation?, undo: UndoRecord, connection: ValueDict) async throws
    /// Called when a task has ended on a host; like `changedWithoutUndo`, durable with the next change.
    func taskEnded(host: String, task: String, status: TaskStatus) async
}

extension ChangeJournal {
    public func changedWithoutUndo(host: String, task: String, location: SourceLocation?, undo: UndoRecord, connection: ValueDict) async throws {
        try await willChange(host: host, task: task, location: location, undo: undo, connection: connection)
    }
}

/// Set by a signal handler: the first Ctrl-C stops scheduling new tasks.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    public init() {}
    public func stop() { lock.lock(); stopped = true; lock.unlock() }
    public var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
}
