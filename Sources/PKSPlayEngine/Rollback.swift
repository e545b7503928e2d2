import Foundation
import PKSPlayCore
import PKSPlayLoader

/// How a rollback ended.
public struct RollbackSummary: Sendable {
    public var undone = 0
    public var unchanged = 0
    public var failed = 0
    /// Steps with no undo (a module that cannot reverse its change): reported, never passed over.
    public var notUndoable = 0
    public var exitCode: Int32 { failed > 0 || notUndoable > 0 ? 2 : 0 }
}

/// Undoes a run's recorded changes in reverse order, on every host it touched.
public struct Rollback: Sendable {
    let registry: ModuleRegistry
    let connections: ConnectionPool
    let reporter: any Reporter

    public init(registry: ModuleRegistry, connections: ConnectionPool, reporter: any Reporter) {
        self.registry = registry
        self.connections = connections
        self.reporter = reporter
    }

    public func run(_ run: JournalReader.Run, checkMode: Bool) async -> RollbackSummary {
        reporter.report(.rollbackStart(runID: run.id, checkMode: checkMode))
        var summary = RollbackSummary()
        if run.unreadableLines > 0 {
            reporter.report(.warning("\(run.unreadableLines) line(s) of the journal could not be read (a run stopped mid-write); the readable changes are undone"))
        }
        if run.header?.checkMode == true {
            reporter.report(.message("run \(run.id) was a check-mode run: it changed nothing, there is nothing to undo"))
            return summary
        }
        let changes = run.changes
        if changes.isEmpty {
            let reversed = run.allChanges.count
            reporter.report(.message(reversed > 0
                ? "run \(run.id): its \(reversed) change(s) were already rolled back; nothing left to undo"
                : "run \(run.id) recorded no change: nothing to undo"))
        }
        // PlaybookTask-level undos whose task ended without a change need no undo.
        var unchangedTokens: Set<String> = []
        for e in run.entries where e.kind == .taskEnd {
            if let t = e.task, let s = e.status, s == TaskStatus.ok.rawValue || s == TaskStatus.skipped.rawValue { unchangedTokens.insert(t) }
        }
        for entry in changes.reversed() {
            guard let host = entry.host, let undo = entry.undo else { continue }
            if undo.module == TaskUndo.moduleName, let token = undo.data.dictValue?["token"]?.stringValue, unchangedTokens.contains(token) { continue }
            // Record each reversed step so a second rollback never repeats it.
            let markDone = { [reporter] in
                guard !checkMode else { return }
                do { try JournalReader.markUndone(run, seq: entry.seq) } catch { reporter.report(.warning("\(error)")) }
            }
            let label = "\(undo.summary)" + (entry.task.map { " (task: \($0))" } ?? "")
            do {
                let vars = entry.connection?.dictValue ?? [:]
                let result: ModuleResult
                do {
                    let connection = try await connections.connection(for: host, variables: vars)
                    result = try await apply(undo, host: host, connection: connection, checkMode: checkMode)
                } catch let error as ConnectionError {
                    // A host that came back (sshd restarted) or a connect that failed once is tried
                    // again on a fresh connection before the step is reported failed.
                    guard case .unreachable = error else { throw error }
                    await connections.reset(host)
                    let connection = try await connections.connection(for: host, variables: vars)
                    result = try await apply(undo, host: host, connection: connection, checkMode: checkMode)
                }
                if result.failed {
                    let cannot = (result.msg ?? "").contains("cannot undo")
                    if cannot { summary.notUndoable += 1 } else { summary.failed += 1 }
                    reporter.report(.rollbackStep(host: host, summary: label, status: .failed, msg: result.msg))
                } else if result.changed {
                    summary.undone += 1
                    markDone()
                    reporter.report(.rollbackStep(host: host, summary: label, status: .changed, msg: checkMode ? "would undo" : nil))
                } else {
                    summary.unchanged += 1
                    markDone()
                    reporter.report(.rollbackStep(host: host, summary: label, status: .ok, msg: "already as before"))
                }
            } catch {
                summary.failed += 1
                reporter.report(.rollbackStep(host: host, summary: label, status: .failed, msg: "\(error)"))
            }
        }
        await connections.closeAll()
        reporter.report(.message("\nROLLBACK RECAP: undone=\(summary.undone) unchanged=\(summary.unchanged) failed=\(summary.failed) not_undoable=\(summary.notUndoable)"))
        return summary
    }

    func context(_ connection: any Connection, host: String, args: ValueDict, checkMode: Bool) -> ModuleContext {
        let reporter = self.reporter
        return ModuleContext(args: args, connection: connection, host: host, checkMode: checkMode, diffMode: false,
                             progress: { reporter.report(.progress(host: host, line: $0)) })
    }

    func apply(_ undo: UndoRecord, host: String, connection: any Connection, checkMode: Bool) async throws -> ModuleResult {
        if undo.module == NoUndo.moduleName {
            return .failure("cannot undo: \(undo.summary); give the task an `undo:` or reverse it by hand")
        }
        if undo.module == TaskUndo.moduleName {
            return try await runUndoTasks(undo, host: host, connection: connection, checkMode: checkMode)
        }
        guard let module = registry.module(named: undo.module) else {
            return .failure("no module named '\(undo.module)' to undo this change; it cannot undo it")
        }
        return try await module.undo(undo, context(connection, host: host, args: [:], checkMode: checkMode))
    }

    /// A task's own `undo:` tasks, recorded with their arguments already rendered.
    func runUndoTasks(_ undo: UndoRecord, host: String, connection: any Connection, checkMode: Bool) async throws -> ModuleResult {
        var changed = false
        for step in undo.data.dictValue?["steps"]?.listValue ?? [] {
            guard let d = step.dictValue, let action = d["action"]?.stringValue, let module = registry.module(named: action) else {
                return .failure("an undo step names no known module: \(step.stringified)")
            }
            var args = ValueDict()
            switch d["args"] {
            case .dict(let a)?: args = a
            case .string(let s)?:
                if let ff = module.arguments.freeForm { args[ff] = .string(s) }
                else {
                    for w in (try? FreeForm.split(s)) ?? [] {
                        let kv = w.split(separator: "=", maxSplits: 1).map(String.init)
                        if kv.count == 2 { args[kv[0]] = .string(FreeForm.unquote(kv[1])) }
                    }
                }
            default: break
            }
            let (validated, problems) = module.arguments.validate(args)
            if !problems.isEmpty { return .failure("undo step \(action): " + problems.map(\.message).joined(separator: "; ")) }
            let r = try await module.run(context(connection, host: host, args: validated, checkMode: checkMode))
            if r.failed && !(checkMode && r.skipped) { return ModuleResult(failed: true, msg: "undo step \(action) failed: \(r.msg ?? r.values["stderr"]?.stringified ?? "")") }
            if r.changed || (checkMode && r.skipped) { changed = true }
        }
        return ModuleResult(changed: changed)
    }
}

/// A task-level `undo:` recorded in the journal.
public enum TaskUndo {
    public static let moduleName = "tasks"
}

/// A change that was made with no way to undo it, journaled so rollback says so.
public enum NoUndo {
    public static let moduleName = "none"
}
