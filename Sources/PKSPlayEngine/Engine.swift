import Foundation
import Logging
import PKSPlayCore
import PKSPlayTemplate

/// How a run ended: the recap and the exit code the CLI returns.
public struct RunSummary: Sendable {
    public var stats: [HostStats]
    /// 0 all ok, 2 a host failed, 4 a host unreachable (2 wins).
    public var exitCode: Int32
    public var interrupted: Bool
}

/// Runs playbooks: hosts × tasks with the linear strategy, bounded parallelism across hosts.
///
/// The engine knows no module and no transport: modules come from the registry, connections from
/// the pool, and what users see goes to the reporter.
public final class Engine: Sendable {
    let registry: ModuleRegistry
    let connections: ConnectionPool
    let reporter: any Reporter
    let journal: (any ChangeJournal)?
    let templates: TemplateEngine
    let taskSource: any TaskSource
    let logger: Logger
    public let stopFlag: StopFlag

    public init(
        registry: ModuleRegistry, connections: ConnectionPool, reporter: any Reporter, taskSource: any TaskSource,
        templates: TemplateEngine = TemplateEngine(), journal: (any ChangeJournal)? = nil, logger: Logger = Logger(label: "pksplay"),
        stopFlag: StopFlag = StopFlag()
    ) {
        self.registry = registry
        self.connections = connections
        self.reporter = reporter
        self.journal = journal
        self.templates = templates
        self.taskSource = taskSource
        self.logger = logger
        self.stopFlag = stopFlag
    }

    /// Runs every play of `playbook` against `inventory`.
    public func run(_ playbook: Playbook, inventory: Inventory, options: RunOptions) async -> RunSummary {
        reporter.report(.playbookStart(path: playbook.path, checkMode: options.checkMode))
        let runner = PlaybookRunner(engine: self, inventory: inventory, options: options, playbookDir: (playbook.path as NSString).deletingLastPathComponent)
        await runner.runAll(playbook.plays)
        await connections.closeAll()
        let stats = runner.orderedStats()
        reporter.report(.recap(stats))
        let failed = stats.contains { $0.failed > 0 }
        let unreachable = stats.contains { $0.unreachable > 0 }
        return RunSummary(stats: stats, exitCode: failed ? 2 : unreachable ? 4 : 0, interrupted: stopFlag.isStopped)
    }

    static func tagList(_ v: Value) -> Set<String> {
        switch v {
        case .list(let l): return Set(l.map(\.stringified))
        case .string(let s): return Set(s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        case .null: return []
        default: return [v.stringified]
        }
    }
}

/// The state of one run of one playbook: hosts, stats, handlers. Used from a single task; the
/// per-host work it fans out gets value snapshots.
final class PlaybookRunner {
    let engine: Engine
    var inventory: Inventory {
        didSet { magicValues = MagicValues() }
    }
    /// Magic variables every task builds for every host, kept while what they are made of is the
    /// same (`groups` walks every group and host: 50 hosts made that 2,500 walks a task).
    var magicValues = MagicValues()
    let options: RunOptions
    let playbookDir: String
    var hosts: [String: HostState] = [:]
    var stats: [String: HostStats] = [:]
    var statsOrder: [String] = []
    var startAtTaskReached: Bool

    // Per play
    var play: Play?
    var playVars: ValueDict = [:]
    var varsFilesVars: ValueDict = [:]
    var playHosts: [String] = []
    var batch: [String] = []
    var handlers: [(task: PlaybookTask, inherited: Inherited)] = []
    var playEnded = false
    var batchEnded = false

    init(engine: Engine, inventory: Inventory, options: RunOptions, playbookDir: String) {
        self.engine = engine
        self.inventory = inventory
        self.options = options
        self.playbookDir = playbookDir
        self.startAtTaskReached = options.startAtTask == nil
    }

    var reporter: any Reporter { engine.reporter }

    /// The recap lists hosts by name, as Ansible's does.
    func orderedStats() -> [HostStats] { statsOrder.sorted().compactMap { stats[$0] } }

    func count(_ host: String, _ update: (inout HostStats) -> Void) {
        if stats[host] == nil { stats[host] = HostStats(host: host); statsOrder.append(host) }
        update(&stats[host]!)
    }

    func state(_ host: String) -> HostState {
        if let s = hosts[host] { return s }
        let s = HostState(name: host, inventoryVars: inventory.variables(for: host))
        hosts[host] = s
        return s
    }

    // MARK: Plays

    func runAll(_ plays: [Play]) async {
        for play in plays {
            if engine.stopFlag.isStopped { break }
            await runPlay(play)
        }
    }

    func runPlay(_ play: Play) async {
        self.play = play
        playEnded = false
        playVars = play.vars
        varsFilesVars = [:]
        // The host pattern may use extra vars and play vars only.
        let patternScope = TaskScope(play.vars.merging(options.extraVars), templates: engine.templates)
        let patterns: [String]
        do {
            let rendered = try engine.templates.renderValue(play.hosts, patternScope)
            switch rendered {
            case .list(let l): patterns = l.map(\.stringified)
            default: patterns = [rendered.stringified]
            }
        } catch {
            reporter.report(.diagnostic(Diagnostic("cannot render the play's hosts: \(error)", at: play.location)))
            return
        }
        var selected: [String] = []
        do {
            let (matched, warnings) = try inventory.hosts(matching: patterns.joined(separator: ":"))
            warnings.forEach { reporter.report(.warning($0)) }
            selected = matched
            if !options.limit.isEmpty {
                let (limited, _) = try inventory.hosts(matching: options.limit.joined(separator: ":"))
                let allowed = Set(limited)
                selected = selected.filter(allowed.contains)
            }
        } catch {
            reporter.report(.diagnostic(Diagnostic("\(error)", at: play.location, hint: "check the play's 'hosts:' pattern")))
            return
        }
        // Hosts that failed or were unreachable in an earlier play stay out, as in Ansible.
        selected = selected.filter { hosts[$0].map { !$0.failed && !$0.unreachable } ?? true }
        playHosts = selected
        reporter.report(.playStart(name: play.name ?? patterns.joined(separator: ","), hosts: selected))
        if selected.isEmpty {
            reporter.report(.noHostsMatched(pattern: patterns.joined(separator: ",")))
            return
        }
        for h in selected {
            var s = state(h)
            s.ended = false
            s.notified = []
            hosts[h] = s
        }
        // vars_files, in order; a list entry is tried in order until one exists (Ansible's first_found).
        for entry in play.varsFiles {
            let candidates: [Value] = entry.listValue ?? [entry]
            var loaded = false
            var lastError: String?
            for c in candidates {
                do {
                    let name = try engine.templates.render(c.stringified, patternScope).stringified
                    let path = name.hasPrefix("/") ? name : (play.directory as NSString).appendingPathComponent(name)
                    guard FileManager.default.fileExists(atPath: path) else { lastError = "vars file \(name) not found"; continue }
                    varsFilesVars.merge(try engine.taskSource.loadVariables(file: path))
                    loaded = true
                    break
                } catch {
                    lastError = "\(error)"
                }
            }
            if !loaded {
                reporter.report(.diagnostic(Diagnostic(lastError ?? "vars file not found", at: play.location, hint: "check vars_files")))
                for h in selected { hosts[h]?.failed = true; count(h) { $0.failed += 1 } }
                return
            }
        }
        handlers = []
        var root = Inherited()
        root = root.entering(Keywords(play.keywords.values.filter { $0.key != "vars" }.reduce(into: ValueDict()) { $0[$1.key] = $1.value }))
        for node in play.handlers { collectHandlers(node, root) }
        for node in play.preTasks + play.tasks + play.postTasks { collectImportedRoleHandlers(node, root) }
        for role in play.roles {
            let scope = RoleScope(name: role.name, path: role.path, defaults: role.defaults, vars: role.vars, params: role.params)
            for node in role.handlers { collectHandlers(node, root.entering(role.keywords, role: scope)) }
        }

        for batch in batches(selected) {
            if engine.stopFlag.isStopped || playEnded { break }
            self.batch = batch
            batchEnded = false
            await gatherFacts(play, root)
            await runSection(play.preTasks, root)
            await flushHandlers(root)
            for role in play.roles {
                let scope = RoleScope(name: role.name, path: role.path, defaults: role.defaults, vars: role.vars, params: role.params)
                let block = Block(name: role.name, block: role.tasks, keywords: role.keywords, location: role.location, role: scope)
                await runNodes([.block(block)], batch, root)
            }
            await runSection(play.tasks, root)
            await flushHandlers(root)
            await runSection(play.postTasks, root)
            await flushHandlers(root)
            // A batch whose hosts all failed ends the play (serial).
            if batch.allSatisfy({ !(hosts[$0]?.isActive ?? false) && !(hosts[$0]?.ended ?? false) }) && !batch.isEmpty {
                if play.keywords["serial"] != nil { break }
            }
        }
    }

    func runSection(_ nodes: [TaskNode], _ inh: Inherited) async {
        guard !playEnded, !batchEnded else { return }
        await runNodes(nodes, batch, inh)
    }

    /// Splits the play's hosts by `serial` (a number, a percentage, or a list of them).
    func batches(_ hosts: [String]) -> [[String]] {
        guard let serial = play?.keywords["serial"] else { return [hosts] }
        let scope = TaskScope(playVars.merging(options.extraVars), templates: engine.templates)
        let rendered = (try? engine.templates.renderValue(serial, scope)) ?? serial
        let sizes: [Value] = rendered.listValue ?? [rendered]
        func size(_ v: Value) -> Int {
            let s = v.stringified.trimmingCharacters(in: .whitespaces)
            if s.hasSuffix("%"), let p = Double(s.dropLast()) { return max(1, Int((Double(hosts.count) * p / 100).rounded(.down))) }
            return max(1, Int(s) ?? hosts.count)
        }
        var out: [[String]] = []
        var i = 0
        var k = 0
        while i < hosts.count {
            let n = size(sizes[min(k, sizes.count - 1)])
            out.append(Array(hosts[i..<min(hosts.count, i + n)]))
            i += n
            k += 1
        }
        return out
    }

    // MARK: Nodes

    func activeHosts(_ candidates: [String]) -> [String] {
        candidates.filter { hosts[$0]?.isActive ?? false }
    }

    func runNodes(_ nodes: [TaskNode], _ candidates: [String], _ inh: Inherited) async {
        for node in nodes {
            if engine.stopFlag.isStopped || playEnded || batchEnded { return }
            if activeHosts(candidates).isEmpty { return }
            switch node {
            case .task(let t): await runTask(t, candidates, inh)
            case .block(let b): await runBlock(b, candidates, inh)
            }
        }
    }

    func runBlock(_ b: Block, _ candidates: [String], _ inh: Inherited) async {
        let entered = activeHosts(candidates)
        guard !entered.isEmpty else { return }
        var inner = inh.entering(b.keywords, role: b.role)
        if !b.rescue.isEmpty { inner.insideRescuableBlock = true }
        await runNodes(b.block, entered, inner)
        var failedHere = entered.filter { hosts[$0]?.failed == true && hosts[$0]?.unreachable == false }
        if !b.rescue.isEmpty, !failedHere.isEmpty {
            var rescueInh = inh.entering(b.keywords, role: b.role)
            rescueInh.insideRescuableBlock = inh.insideRescuableBlock
            for h in failedHere {
                hosts[h]?.failed = false
                if hosts[h]?.sentToRescue == true { hosts[h]?.sentToRescue = false } else { count(h) { $0.rescued += 1 } }
                if let t = hosts[h]?.lastFailedTask { hosts[h]?.hostVars["ansible_failed_task"] = t }
                if let r = hosts[h]?.lastFailedResult { hosts[h]?.hostVars["ansible_failed_result"] = r }
            }
            await runNodes(b.rescue, failedHere, rescueInh)
            failedHere = failedHere.filter { hosts[$0]?.failed == true }
        }
        if !b.always.isEmpty {
            // `always` runs on hosts that failed in the block too; they stay failed afterwards.
            let stillFailed = entered.filter { hosts[$0]?.failed == true && hosts[$0]?.unreachable == false }
            for h in stillFailed { hosts[h]?.failed = false }
            var alwaysInh = inh.entering(b.keywords, role: b.role)
            alwaysInh.insideRescuableBlock = inh.insideRescuableBlock
            await runNodes(b.always, entered, alwaysInh)
            for h in stillFailed { hosts[h]?.failed = true }
        }
        if inh.insideRescuableBlock == false {
            // Failures rescued by nothing were counted when they happened.
        }
    }

    // MARK: Handlers

    func collectHandlers(_ node: TaskNode, _ inh: Inherited) {
        switch node {
        case .task(let t):
            var hinh = inh
            hinh.isHandler = true
            handlers.append((t, hinh))
        case .block(let b):
            let inner = inh.entering(b.keywords, role: b.role)
            for n in b.block + b.rescue + b.always { collectHandlers(n, inner) }
        }
    }

    /// Handlers of roles brought in with `import_role`, found in the blocks they expand to.
    func collectImportedRoleHandlers(_ node: TaskNode, _ inh: Inherited) {
        guard case .block(let b) = node else { return }
        let inner = inh.entering(b.keywords, role: b.role)
        for h in b.handlers { collectHandlers(h, inner) }
        for n in b.block + b.rescue + b.always { collectImportedRoleHandlers(n, inner) }
    }

    /// Indexes of handlers that a `notify` name reaches: by name, or by `listen` topic.
    func handlerIndexes(for name: String, scope: TaskScope) -> [Int] {
        var out: [Int] = []
        for (i, h) in handlers.enumerated() {
            var names: Set<String> = []
            if let n = h.task.name {
                names.insert(n)
                if let r = try? engine.templates.render(n, scope) { names.insert(r.stringified) }
                if let role = h.inherited.role { names.insert("\(role.name) : \(n)") }
            }
            if let listen = h.task.keywords["listen"] { names.formUnion(Engine.tagList(listen)) }
            if names.contains(name) { out.append(i) }
        }
        return out
    }

    func flushHandlers(_ root: Inherited) async {
        // Handlers notified by handlers run in the same flush, in definition order.
        var ran: Set<Int> = []
        while true {
            let pending = batch.filter { hosts[$0].map { !$0.notified.isEmpty && ($0.isActive || (options.forceHandlers || play?.keywords["force_handlers"]?.asBool == true) && !$0.unreachable) } ?? false }
            guard !pending.isEmpty, !engine.stopFlag.isStopped else { return }
            var next: Int?
            for i in handlers.indices where !ran.contains(i) {
                if pending.contains(where: { hosts[$0]?.notified.contains(i) == true }) { next = i; break }
            }
            guard let i = next else {
                for h in pending { hosts[h]?.notified = [] }
                return
            }
            ran.insert(i)
            let targets = pending.filter { hosts[$0]?.notified.contains(i) == true }
            for h in targets { hosts[h]?.notified.remove(i) }
            let force = options.forceHandlers || play?.keywords["force_handlers"]?.asBool == true
            var saved: [String] = []
            if force {
                saved = targets.filter { hosts[$0]?.failed == true }
                for h in saved { hosts[h]?.failed = false }
            }
            await runTask(handlers[i].task, targets, handlers[i].inherited)
            for h in saved { hosts[h]?.failed = true }
        }
    }

    // MARK: Facts

    func gatherFacts(_ play: Play, _ root: Inherited) async {
        let gather = play.gatherFacts?.asBool ?? true
        guard gather else { return }
        let targets = activeHosts(batch)
        guard !targets.isEmpty else { return }
        let task = PlaybookTask(name: "Gathering Facts", action: "gather_facts", args: [:], location: play.location, directory: play.directory)
        if !tagsAllow(task, root.entering(Keywords(["tags": ["always"]]))) { return }
        await runTask(task, targets, root)
    }
}
