import Foundation
import PKSPlayCore
import PKSPlayEngine
import PKSPlayLoader
import PKSPlayLocal
import PKSPlayModules
import PKSPlayTestSupport

/// One playbook run through the real loader, engine and `LocalConnection`, in its own temporary folder.
///
/// `$TMP` in the playbook and in `files` is replaced by the folder's path, so tasks can write there
/// without an extra var (extra vars would outrank what precedence tests look at).
struct EngineRun {
    let dir: TemporaryDirectory
    let recorder: RecordingReporter
    let summary: RunSummary
    let playbookPath: String

    /// Text of a file the run wrote in the folder, or `nil`.
    func read(_ name: String) -> String? {
        try? String(contentsOfFile: dir.file(name), encoding: .utf8)
    }

    /// Lines of a file the run appended to (`echo x >> $TMP/name`).
    func lines(_ name: String) -> [String] {
        (read(name) ?? "").split(separator: "\n").map(String.init)
    }

    /// The last non-item result a task reported for a host.
    func result(of task: String, on host: String = "localhost") -> Value? {
        var current = ""
        var last: Value?
        for event in recorder.events {
            switch event {
            case .taskStart(let name, _, _): current = name
            case .hostResult(let r) where r.host == host && current == task && r.itemLabel == nil: last = r.result
            default: break
            }
        }
        return last
    }

    /// `debug: msg=...` output of a task on a host, as a string.
    func message(of task: String, on host: String = "localhost") -> String? {
        result(of: task, on: host)?.dictValue?["msg"]?.stringified
    }

    func stats(_ host: String = "localhost") -> HostStats? { recorder.stats(for: host) }
}

enum EngineHarness {
    static let registry = StandardModules.registry

    /// Loads `playbook` (after `$TMP` substitution) and runs it on `hosts` (a comma list, or the name
    /// of an inventory file among `files`) with a local connection.
    static func run(
        _ playbook: String, hosts: String = "localhost,", files: [String: String] = [:],
        journal: (any ChangeJournal)? = nil, dir existing: TemporaryDirectory? = nil,
        configure: (inout RunOptions) -> Void = { _ in }
    ) async throws -> EngineRun {
        let dir = try existing ?? TemporaryDirectory(prefix: "pksplay-engine")
        for (name, text) in files { try dir.write(name, text.replacingOccurrences(of: "$TMP", with: dir.path)) }
        let path = try dir.write("playbook.yml", playbook.replacingOccurrences(of: "$TMP", with: dir.path))
        let loader = PlaybookLoader(registry: registry)
        let pb = try loader.loadPlaybook(path)
        var inventory = try InventoryLoader.load(sources: [hosts.contains(",") ? hosts : dir.file(hosts)], baseDirectory: dir.path)
        try InventoryLoader.loadVarsDirectories(into: &inventory, directory: dir.path)
        let recorder = RecordingReporter()
        let pool = ConnectionPool { host, _ in LocalConnection(hostName: host) }
        let engine = Engine(registry: registry, connections: pool, reporter: recorder, taskSource: loader, journal: journal)
        var options = RunOptions()
        options.connection = "local"
        configure(&options)
        let summary = await engine.run(pb, inventory: inventory, options: options)
        return EngineRun(dir: dir, recorder: recorder, summary: summary, playbookPath: path)
    }
}

extension Value {
    /// `value[path: "a", "b"]` for assertions; `nil` when a step is missing.
    subscript(path keys: String...) -> Value? {
        var v: Value? = self
        for k in keys { v = v?.dictValue?[k] }
        return v
    }
}
