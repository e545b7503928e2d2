import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

/// A ``Connection`` that passes everything to another one and keeps a copy of every request, so a
/// test can prove that a secret never reached an argv (or anything else it should not).
final class RecordingConnection: Connection, @unchecked Sendable {
    struct Request: Sendable {
        var command: String
        var stdin: String
        var environment: [String: String]
    }

    let inner: any Connection
    private let lock = NSLock()
    private var _requests: [Request] = []
    private var _puts: [(path: String, data: Data)] = []

    init(_ inner: any Connection) { self.inner = inner }

    var hostName: String { inner.hostName }
    var requests: [Request] { lock.withLock { _requests } }
    var puts: [(path: String, data: Data)] { lock.withLock { _puts } }

    func exec(_ request: ExecRequest) async throws -> ExecResult {
        lock.withLock {
            _requests.append(Request(command: request.command, stdin: String(decoding: request.stdin ?? Data(), as: UTF8.self), environment: request.environment))
        }
        return try await inner.exec(request)
    }

    func put(_ data: Data, to path: String, mode: Int?) async throws {
        lock.withLock { _puts.append((path, data)) }
        try await inner.put(data, to: path, mode: mode)
    }

    func get(_ path: String) async throws -> Data { try await inner.get(path) }
    func close() async { await inner.close() }
}

/// Arguments a test wrote that the module's spec refuses.
struct ArgumentProblems: Error, CustomStringConvertible {
    var problems: [ArgumentSpec.Problem]
    var description: String { problems.map(\.message).joined(separator: "; ") }
}

/// One module run as the engine would do it: arguments validated and defaulted, undo records
/// collected (and sent through JSON, as the journal stores them).
struct ModuleRun {
    var result: ModuleResult
    var undo: [UndoRecord]

    /// Everything the run handed back, as one value, for secret scans.
    var everything: Value {
        .dict([
            "msg": .string(result.msg ?? ""), "values": .dict(result.values),
            "diffs": .list(result.diffs.map(\.asValue)), "warnings": .list(result.warnings.map(Value.string)),
            "undo": .list(undo.map { .dict(["summary": .string($0.summary), "data": $0.data]) }),
        ])
    }
}

enum ModuleRunner {
    static func context(_ args: ValueDict, _ connection: any Connection, check: Bool, spec: ArgumentSpec,
                        records: UndoCollector) throws -> ModuleContext {
        let (validated, problems) = spec.validate(args)
        if !problems.isEmpty { throw ArgumentProblems(problems: problems) }
        return ModuleContext(
            args: validated, connection: connection, host: connection.hostName, checkMode: check, diffMode: true,
            willChange: { record in records.append(record) })
    }

    static func run<M: Module>(_ module: M.Type, _ args: ValueDict, on connection: any Connection, check: Bool = false) async throws -> ModuleRun {
        let records = UndoCollector()
        let ctx = try context(args, connection, check: check, spec: M.arguments, records: records)
        let result = try await M.run(ctx)
        return ModuleRun(result: result, undo: try records.all.map(journalRoundTrip))
    }

    /// Runs the module's undo for one record, with the record's module arguments as context.
    static func undo<M: Module>(_ module: M.Type, _ record: UndoRecord, args: ValueDict = [:], on connection: any Connection, check: Bool = false) async throws -> ModuleResult {
        let records = UndoCollector()
        let ctx = ModuleContext(args: args, connection: connection, host: connection.hostName, checkMode: check, diffMode: true,
                                willChange: { records.append($0) })
        return try await M.undo(record, ctx)
    }

    static func journalRoundTrip(_ record: UndoRecord) throws -> UndoRecord {
        try JSONDecoder().decode(UndoRecord.self, from: JSONEncoder().encode(record))
    }
}

final class UndoCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [UndoRecord] = []
    func append(_ r: UndoRecord) { lock.withLock { records.append(r) } }
    var all: [UndoRecord] { lock.withLock { records } }
}

/// Whether `secret` occurs anywhere in `value` (keys included).
func valueContains(_ value: Value, _ secret: String) -> Bool {
    switch value {
    case .string(let s): return s.contains(secret)
    case .list(let l): return l.contains { valueContains($0, secret) }
    case .dict(let d): return d.contains { $0.key.contains(secret) || valueContains($0.value, secret) }
    default: return value.stringified.contains(secret)
    }
}

extension ModuleResult {
    /// `query_result` rows as plain dictionaries, NULL as `nil`.
    var rows: [[String: String?]] {
        (values["query_result"]?.listValue ?? []).map { row in
            var out: [String: String?] = [:]
            for (k, v) in row.dictValue ?? [:] { out[k] = v.isNull ? String?.none : v.stringified }
            return out
        }
    }
}
