import Foundation
import PKSPlayCore
import Testing
@testable import PKSPlayModules

#if canImport(Glibc)
import Glibc
#endif

/// A scratch directory on this machine, filled from example entries and read back for comparison.
final class FilesScratch: @unchecked Sendable {
    let root: String

    init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pksplay-files-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        root = dir
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    func create(_ entries: [(String, FileModuleExample.Entry)]) throws {
        for (rel, entry) in entries.sorted(by: { $0.0.split(separator: "/").count < $1.0.split(separator: "/").count }) {
            let p = path(rel)
            try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            switch entry {
            case .file(let content, let mode):
                try Data(content.utf8).write(to: URL(fileURLWithPath: p))
                chmod(p, mode_t(mode))
            case .directory(let mode):
                try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
                chmod(p, mode_t(mode))
            case .link(let target):
                try FileManager.default.createSymbolicLink(atPath: p, withDestinationPath: target)
            case .absent:
                break
            }
        }
    }

    func write(_ rel: String, _ content: String, mode: Int = 0o644) throws { try create([(rel, .file(content, mode: mode))]) }
    func read(_ rel: String) -> String? { FileManager.default.contents(atPath: path(rel)).map { String(decoding: $0, as: UTF8.self) } }
    func exists(_ rel: String) -> Bool { var st = stat(); return lstat(path(rel), &st) == 0 }
    func mode(_ rel: String) -> Int? {
        var st = stat()
        guard lstat(path(rel), &st) == 0 else { return nil }
        return Int(st.st_mode) & 0o7777
    }

    /// What is at a path, for comparing with an expected entry.
    func entry(_ rel: String) -> FileModuleExample.Entry {
        var st = stat()
        let p = path(rel)
        guard lstat(p, &st) == 0 else { return .absent }
        switch Int(st.st_mode) & Int(S_IFMT) {
        case Int(S_IFLNK): return .link((try? FileManager.default.destinationOfSymbolicLink(atPath: p)) ?? "")
        case Int(S_IFDIR): return .directory(mode: Int(st.st_mode) & 0o7777)
        default: return .file(read(rel) ?? "", mode: Int(st.st_mode) & 0o7777)
        }
    }

    /// Every path under the root with its kind, bits, owner, content or target (and mtime when
    /// `times`), for "nothing changed" and "undo restored everything" comparisons.
    func tree(times: Bool = false) -> [String: String] {
        var out: [String: String] = [:]
        func visit(_ rel: String) {
            let p = path(rel)
            var st = stat()
            guard lstat(p, &st) == 0 else { return }
            var desc = "mode=\(String(Int(st.st_mode), radix: 8)) uid=\(st.st_uid) gid=\(st.st_gid)"
            if times && (Int(st.st_mode) & Int(S_IFMT)) != Int(S_IFDIR) {
                desc += " mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            }
            switch Int(st.st_mode) & Int(S_IFMT) {
            case Int(S_IFLNK): desc += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: p)) ?? "?")
            case Int(S_IFDIR):
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).sorted()
                desc += " [" + names.joined(separator: "|") + "]"
                for n in names { visit(rel.isEmpty ? n : rel + "/" + n) }
            default:
                let data = FileManager.default.contents(atPath: p) ?? Data()
                desc += " sha1=\(SHA1.hex(data)) size=\(data.count)"
            }
            out[rel] = desc
        }
        visit("")
        return out
    }

    func resolve(_ entry: FileModuleExample.Entry) -> FileModuleExample.Entry {
        switch entry {
        case .file(let c, let m): return .file(c.replacingOccurrences(of: "ROOT", with: root), mode: m)
        case .link(let t): return .link(t.replacingOccurrences(of: "ROOT", with: root))
        default: return entry
        }
    }

    /// Replaces the word ROOT in every string of `value` with the scratch directory.
    func resolve(_ value: Value) -> Value {
        switch value {
        case .string(let s): return .string(s.replacingOccurrences(of: "ROOT", with: root))
        case .list(let l): return .list(l.map(resolve))
        case .dict(let d): return .dict(ValueDict(d.map { ($0.key, resolve($0.value)) }))
        default: return value
        }
    }
}

/// Collects what modules journal through `willChange`.
final class FilesUndoLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _records: [UndoRecord] = []
    var records: [UndoRecord] { lock.withLock { _records } }
    func append(_ r: UndoRecord) { lock.withLock { _records.append(r) } }
}

struct FilesArgumentError: Error, CustomStringConvertible {
    var problems: [ArgumentSpec.Problem]
    var description: String { problems.map(\.message).joined(separator: "; ") }
}

enum FilesRunner {
    static let connection = FilesTestLocalConnection()

    static func context(_ module: any Module.Type, _ args: ValueDict, check: Bool = false, diff: Bool = false,
                        log: FilesUndoLog = FilesUndoLog(), through connection: any Connection = FilesRunner.connection,
                        findFile: @escaping @Sendable (String, ControlFileKind) -> String? = { name, _ in FileManager.default.fileExists(atPath: name) ? name : nil },
                        render: @escaping @Sendable (String) throws -> String = { $0 }) throws -> ModuleContext {
        let (validated, problems) = module.arguments.validate(args)
        if !problems.isEmpty { throw FilesArgumentError(problems: problems) }
        return ModuleContext(args: validated, connection: connection, host: "localhost", checkMode: check, diffMode: diff,
                             render: render, findFile: findFile, willChange: { log.append($0) })
    }

    /// Validates `args` with the module's spec (defaults filled in) and runs it.
    static func run(_ module: any Module.Type, _ args: ValueDict, check: Bool = false, diff: Bool = false,
                    log: FilesUndoLog = FilesUndoLog(), through connection: any Connection = FilesRunner.connection,
                    findFile: @escaping @Sendable (String, ControlFileKind) -> String? = { name, _ in FileManager.default.fileExists(atPath: name) ? name : nil },
                    render: @escaping @Sendable (String) throws -> String = { $0 }) async throws -> ModuleResult {
        let ctx = try context(module, args, check: check, diff: diff, log: log, through: connection, findFile: findFile, render: render)
        return try await module.run(ctx)
    }

    /// Undoes every journaled change, newest first, as rollback does; returns whether any changed.
    static func undoAll(_ log: FilesUndoLog, check: Bool = false) async throws -> [ModuleResult] {
        var results: [ModuleResult] = []
        for record in log.records.reversed() {
            guard let module = FileModules.all.first(where: { $0.name == record.module }) else {
                Issue.record("no module named \(record.module) for undo")
                continue
            }
            let ctx = ModuleContext(args: [:], connection: connection, host: "localhost", checkMode: check)
            results.append(try await module.undo(record, ctx))
        }
        return results
    }
}

extension ModuleResult {
    var summary: String { "changed=\(changed) failed=\(failed) msg=\(msg ?? "-") values=\(Value.dict(values).jsonString())" }
}
