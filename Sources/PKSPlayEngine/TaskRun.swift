import Foundation
import PKSPlayCore
import PKSPlayTemplate

/// Engine actions that are not modules: they change what runs, not the hosts.
let engineActions: Set<String> = [
    "meta", "include_tasks", "import_tasks", "include_role", "import_role", "include", "gather_facts", "setup",
]

/// `ansible_facts` holds the facts without their `ansible_` prefix, as in Ansible.
func factsNamespace(_ facts: ValueDict) -> ValueDict {
    ValueDict(facts.map { ($0.key.hasPrefix("ansible_") ? String($0.key.dropFirst(8)) : $0.key, $0.value) })
}

func canonicalAction(_ action: String) -> String {
    for prefix in ["ansible.builtin.", "ansible.legacy.", "pksplay."] where action.hasPrefix(prefix) {
        return String(action.dropFirst(prefix.count))
    }
    return action
}

/// One host's outcome of one task, handed back to the coordinator to apply.
struct HostOutcome: Sendable {
    var host: String
    var status: TaskStatus
    var result: Value
    var setFacts: ValueDict?
    var gatheredFacts: ValueDict?
    var changed: Bool
    var ignoredFailure: Bool
    var failureMessage: String?
}

extension PlaybookRunner {
    // MARK: Tags and start-at-task

    func tagsAllow(_ task: PlaybookTask, _ inh: Inherited) -> Bool {
        var tags = inh.tags
        if let t = task.keywords["tags"] { tags.formUnion(Engine.tagList(t)) }
        let only = Set(options.tags)
        let skip = Set(options.skipTags)
        if !skip.isEmpty {
            if skip.contains("all") && !tags.contains("always") { return false }
            if !tags.isDisjoint(with: skip) { return false }
            if skip.contains("tagged") && !tags.isEmpty && !tags.contains("always") { return false }
            if skip.contains("untagged") && tags.isEmpty { return false }
        }
        if tags.contains("never") && tags.isDisjoint(with: only.subtracting(["all"])) { return false }
        if only.isEmpty || only.contains("all") { return true }
        if tags.contains("always") { return true }
        if only.contains("tagged") && !tags.isEmpty { return true }
        if only.contains("untagged") && tags.isEmpty { return true }
        return !tags.isDisjoint(with: only)
    }

    func startAtAllows(_ task: PlaybookTask) -> Bool {
        if startAtTaskReached { return true }
        guard let want = options.startAtTask, let name = task.name else { return false }
        if name == want || fnmatch(want, name, 0) == 0 {
            startAtTaskReached = true
            return true
        }
        return false
    }

    // MARK: Variables

    func layers(for host: String, _ task: PlaybookTask, _ inh: Inherited) -> VariableLayers {
        let s = state(host)
        var l = VariableLayers()
        if let role = inh.role {
            l.roleDefaults = role.defaults
            l.roleVars = role.vars
        }
        l.inventory = s.inventoryVars
        if !s.facts.isEmpty {
            var f = s.facts
            f["ansible_facts"] = .dict(factsNamespace(s.facts))
            l.facts = f
        }
        l.play = playVars
        l.varsFiles = varsFilesVars
        l.block = inh.blockVars
        if case .dict(let tv)? = task.keywords["vars"] { l.task = tv }
        var params = inh.includeParams
        if let role = inh.role { params = role.params.merging(params) }
        l.includeParams = params
        l.hostVars = s.hostVars
        l.extra = options.extraVars
        let activeInPlay = magicValues.hostList(.active, playHosts.filter { hosts[$0]?.isActive ?? false })
        var magic: ValueDict = [
            "inventory_hostname": .string(host),
            "inventory_hostname_short": .string(String(host.split(separator: ".").first ?? Substring(host))),
            "group_names": magicValues.groupNames(of: host, in: inventory),
            "groups": magicValues.groups(of: inventory),
            "play_hosts": activeInPlay,
            "ansible_play_hosts": activeInPlay,
            "ansible_play_hosts_all": magicValues.hostList(.all, playHosts),
            "ansible_play_batch": magicValues.hostList(.batch, batch.filter { hosts[$0]?.isActive ?? false }),
            "ansible_check_mode": .bool(options.checkMode),
            "ansible_diff_mode": .bool(options.diffMode),
            "ansible_verbosity": .int(options.verbosity),
            "omit": .string(omitPlaceholder),
            "pksplay_run_id": .string(options.runID),
            "playbook_dir": .string(playbookDir),
            "ansible_version": ["full": "2.19.0", "major": 2, "minor": 19, "revision": 0, "string": "2.19.0"],
            "ansible_run_tags": .list((options.tags.isEmpty ? ["all"] : options.tags).map { .string($0) }),
            "ansible_skip_tags": .list(options.skipTags.map { .string($0) }),
        ]
        if let play { magic["ansible_play_name"] = .string(play.name ?? "") }
        if let role = inh.role {
            magic["role_path"] = .string(role.path)
            magic["role_name"] = .string(role.name)
        }
        l.magic = magic
        return l
    }

    /// `hostvars`, computed only when a template reads it.
    func hostvarsProvider() -> @Sendable () -> Value {
        let snapshot = hosts
        let inv = inventory
        let names = inventory.hostOrder
        return {
            var out = ValueDict()
            for h in names {
                var v = snapshot[h]?.inventoryVars ?? inv.variables(for: h)
                if let s = snapshot[h] {
                    v.merge(s.facts)
                    if !s.facts.isEmpty { v["ansible_facts"] = .dict(factsNamespace(s.facts)) }
                    v.merge(s.hostVars)
                }
                v["inventory_hostname"] = .string(h)
                out[h] = .dict(v)
            }
            return .dict(out)
        }
    }

    func scope(for host: String, _ task: PlaybookTask, _ inh: Inherited) -> TaskScope {
        TaskScope(layers(for: host, task, inh).merged(), templates: engine.templates, lazy: ["hostvars": hostvarsProvider()])
    }

    // MARK: Tasks

    func runTask(_ task: PlaybookTask, _ candidates: [String], _ inh: Inherited) async {
        let action = canonicalAction(task.action)
        if action == "import_tasks" || action == "import_role" {
            return  // expanded when loaded
        }
        guard tagsAllow(task, inh) || action == "include_tasks" && task.keywords["tags"] == nil && inh.tags.isEmpty else { return }
        if action != "gather_facts" && action != "setup" && !inh.isHandler && !startAtAllows(task) {
            if action != "include_tasks" && action != "include_role" { return }
        }
        let active = activeHosts(candidates)
        guard !active.isEmpty else { return }
        switch action {
        case "meta": return await runMeta(task, active, inh)
        case "include_tasks", "include", "include_role": return await runInclude(task, active, inh, action: action)
        default: break
        }
        reporter.report(.taskStart(name: displayName(task, inh, host: active[0]), location: task.location, isHandler: inh.isHandler))
        var targets = active
        let runOnce = keyword("run_once", task, inh).flatMap { renderBool($0, active[0], task, inh) } ?? false
        if runOnce { targets = [active[0]] }
        let throttleValue = keyword("throttle", task, inh).flatMap { renderInt($0, active[0], task, inh) } ?? 0
        let limit = max(1, throttleValue > 0 ? min(throttleValue, options.forks) : options.forks)
        let jobs = targets.map { HostJob(runner: self, host: $0, task: task, inh: inh) }
        var outcomes: [HostOutcome] = []
        await withTaskGroup(of: HostOutcome.self) { group in
            var next = 0
            while next < jobs.count && next < limit {
                let job = jobs[next]
                group.addTask { await job.run() }
                next += 1
            }
            for await outcome in group {
                outcomes.append(outcome)
                if next < jobs.count {
                    let job = jobs[next]
                    group.addTask { await job.run() }
                    next += 1
                }
            }
        }
        var byHost = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.host, $0) })
        if runOnce, let first = byHost[targets[0]] {
            for h in active where h != targets[0] {
                var copy = first
                copy.host = h
                byHost[h] = copy
            }
        }
        var anyFatal = false
        for h in active {
            guard let o = byHost[h] else { continue }
            apply(o, task: task, inh: inh, countStats: !runOnce || h == targets[0])
            if o.status == .failed && !o.ignoredFailure { anyFatal = true }
        }
        if anyFatal, let aef = keyword("any_errors_fatal", task, inh) ?? play?.keywords["any_errors_fatal"], aef.asBool == true {
            if inh.insideRescuableBlock {
                // As in Ansible: every host of the batch goes to the rescue, not only the one that failed.
                for h in batch where hosts[h]?.isActive == true {
                    hosts[h]?.failed = true
                    hosts[h]?.sentToRescue = true
                }
            } else {
                for h in batch where hosts[h]?.isActive == true { hosts[h]?.ended = true }
                playEnded = true
            }
        }
        if let mfp = play?.keywords["max_fail_percentage"], let pct = Double(mfp.stringified) {
            let failed = batch.filter { hosts[$0]?.failed == true || hosts[$0]?.unreachable == true }.count
            if !batch.isEmpty, Double(failed) / Double(batch.count) * 100 > pct {
                reporter.report(.message("NO MORE HOSTS LEFT: max_fail_percentage \(mfp.stringified)% exceeded"))
                playEnded = true
            }
        }
    }

    func apply(_ o: HostOutcome, task: PlaybookTask, inh: Inherited, countStats: Bool) {
        guard var s = hosts[o.host] else { return }
        // run_once: the other hosts get the registered result and facts, not the counters.
        let count: (String, (inout HostStats) -> Void) -> Void = countStats ? { self.count($0, $1) } : { _, _ in }
        if let reg = task.keywords["register"]?.stringValue { s.hostVars[reg] = o.result }
        if let f = o.setFacts { s.hostVars.merge(f) }
        if let g = o.gatheredFacts {
            s.facts.merge(g)
        }
        switch o.status {
        case .unreachable:
            if o.ignoredFailure {
                count(o.host) { $0.ignored += 1 }
            } else {
                s.unreachable = true
                count(o.host) { $0.unreachable += 1 }
            }
        case .failed:
            if o.ignoredFailure {
                count(o.host) { $0.ok += 1; $0.ignored += 1; if o.changed { $0.changed += 1 } }
            } else {
                s.failed = true
                s.lastFailedTask = .dict(["name": .string(task.displayName), "action": .string(task.action), "location": .string(task.location.description)])
                s.lastFailedResult = o.result
                if !inh.insideRescuableBlock { count(o.host) { $0.failed += 1 } }
            }
        case .skipped:
            count(o.host) { $0.skipped += 1 }
        case .changed:
            count(o.host) { $0.ok += 1; $0.changed += 1 }
        default:
            count(o.host) { $0.ok += 1 }
        }
        hosts[o.host] = s
        if o.changed, o.status != .failed || o.ignoredFailure, let notify = task.keywords["notify"] {
            let sc = scope(for: o.host, task, inh)
            for name in Engine.tagList(notify) {
                let rendered = (try? engine.templates.render(name, sc).stringified) ?? name
                let idx = handlerIndexes(for: rendered, scope: sc)
                if idx.isEmpty {
                    reporter.report(.warning("the handler '\(rendered)' notified by '\(task.displayName)' (\(task.location)) is not defined in this play"))
                }
                for i in idx { hosts[o.host]?.notified.insert(i) }
            }
        }
    }

    func keyword(_ name: String, _ task: PlaybookTask, _ inh: Inherited) -> Value? {
        task.keywords[name] ?? inh.keywords[name]
    }

    func renderBool(_ v: Value, _ host: String, _ task: PlaybookTask, _ inh: Inherited) -> Bool? {
        if let b = v.boolValue { return b }
        let r = try? engine.templates.renderValue(v, scope(for: host, task, inh))
        return r?.asBool
    }

    func renderInt(_ v: Value, _ host: String, _ task: PlaybookTask, _ inh: Inherited) -> Int? {
        if let i = v.intValue { return i }
        let r = try? engine.templates.renderValue(v, scope(for: host, task, inh))
        return r?.intValue ?? r.flatMap { Int($0.stringified) }
    }

    func displayName(_ task: PlaybookTask, _ inh: Inherited, host: String) -> String {
        var name = task.displayName
        if let n = task.name, TemplateEngine.isTemplated(n) {
            name = (try? engine.templates.render(n, scope(for: host, task, inh)).stringified) ?? n
        }
        if let role = inh.role, task.action != "gather_facts" { return "\(role.name) : \(name)" }
        return name
    }

    // MARK: meta

    func runMeta(_ task: PlaybookTask, _ active: [String], _ inh: Inherited) async {
        let what = (task.args["_raw_params"] ?? task.args["free_form"])?.stringified.trimmingCharacters(in: .whitespaces) ?? ""
        // `when` applies to the host-scoped metas.
        let applies = active.filter { h in
            let sc = scope(for: h, task, inh)
            return (inh.whens + whenList(task)).allSatisfy { (try? evaluateCondition($0, sc)) ?? false }
        }
        switch what {
        case "flush_handlers":
            await flushHandlers(inh)
        case "end_play":
            if !applies.isEmpty {
                for h in batch { hosts[h]?.ended = true }
                playEnded = true
            }
        case "end_batch":
            if !applies.isEmpty { batchEnded = true }
        case "end_host":
            for h in applies {
                hosts[h]?.ended = true
                reporter.report(.message("ending play for \(h)"))
            }
        case "clear_host_errors":
            // As in ansible-core 2.19: the failed hosts are back for the next plays, not for the
            // rest of this one (they left its host list when they failed).
            for h in batch where hosts[h]?.failed == true {
                hosts[h]?.failed = false
                hosts[h]?.ended = true
            }
        case "clear_facts":
            for h in applies { hosts[h]?.facts = [:] }
        case "reset_connection":
            for h in applies { await engine.connections.reset(h) }
        case "noop", "refresh_inventory", "end_role":
            break
        default:
            reporter.report(.diagnostic(Diagnostic("unknown meta action '\(what)'", at: task.location,
                hint: "use one of flush_handlers, end_play, end_host, end_batch, noop, clear_host_errors, clear_facts, reset_connection")))
            for h in active { hosts[h]?.failed = true; count(h) { $0.failed += 1 } }
        }
    }

    func whenList(_ task: PlaybookTask) -> [Value] {
        guard let w = task.keywords["when"] else { return [] }
        if case .list(let l) = w { return l }
        return [w]
    }

    func evaluateCondition(_ cond: Value, _ scope: TaskScope) throws -> Bool {
        switch cond {
        case .bool(let b): return b
        case .null: return false
        case .string(let s): return try engine.templates.evaluate(s, scope).isTruthy
        default: return cond.isTruthy
        }
    }

    // MARK: include_tasks / include_role

    func runInclude(_ task: PlaybookTask, _ active: [String], _ inh: Inherited, action: String) async {
        struct Inclusion { var hosts: [String]; var params: ValueDict; var item: ValueDict; var file: String }
        var groups: [Inclusion] = []
        let isRole = action == "include_role"
        for h in active {
            let sc = scope(for: h, task, inh)
            let items: [ValueDict]
            do {
                if let loopItems = try HostJob.loopItems(task, sc, engine.templates, findGlob: { _ in [] }) {
                    let loopVar = task.keywords["loop_control"]?.dictValue?["loop_var"]?.stringified ?? "item"
                    items = loopItems.enumerated().map { i, v in
                        var d: ValueDict = [loopVar: v]
                        if let iv = task.keywords["loop_control"]?.dictValue?["index_var"]?.stringified { d[iv] = .int(i) }
                        return d
                    }
                } else {
                    items = [[:]]
                }
            } catch {
                fail(h, task, "cannot evaluate the loop: \(error)")
                continue
            }
            for item in items {
                let isc = sc.adding(item)
                do {
                    guard try (inh.whens + whenList(task)).allSatisfy({ try evaluateCondition($0, isc) }) else { continue }
                    var args = try engine.templates.renderValue(.dict(task.args), isc).dictValue ?? [:]
                    let file: String
                    if isRole {
                        file = (args["name"] ?? args["role"] ?? args["_raw_params"])?.stringified ?? ""
                        args["name"] = nil
                        args["role"] = nil
                    } else {
                        file = (args["file"] ?? args["_raw_params"])?.stringified ?? ""
                        args["file"] = nil
                    }
                    args["_raw_params"] = nil
                    var params = ValueDict()
                    if case .dict(let v)? = task.keywords["vars"] { params = (try? engine.templates.renderValue(.dict(v), isc).dictValue) ?? v }
                    params.merge(item)
                    if let i = groups.firstIndex(where: { $0.file == file && $0.params == params && $0.item == item && $0.hosts.last != h }) {
                        groups[i].hosts.append(h)
                    } else {
                        groups.append(Inclusion(hosts: [h], params: params, item: item, file: file + (isRole ? "\u{0}" + (args["tasks_from"]?.stringified ?? "") : "")))
                    }
                } catch {
                    fail(h, task, "\(error)")
                }
            }
        }
        let base = inh.role.map { ($0.path as NSString).appendingPathComponent("tasks") } ?? task.directory
        if !groups.isEmpty || active.contains(where: { hosts[$0]?.failed == true }) {
            reporter.report(.taskStart(name: displayName(task, inh, host: active[0]), location: task.location, isHandler: inh.isHandler))
        }
        for inc in groups {
            var inner = inh.entering(Keywords(task.keywords.values.filter { ["tags", "become", "become_user", "environment", "no_log", "ignore_errors", "check_mode", "diff"].contains($0.key) }.reduce(into: ValueDict()) { $0[$1.key] = $1.value }))
            inner.includeParams.merge(inc.params)
            do {
                if isRole {
                    let parts = inc.file.split(separator: "\u{0}", omittingEmptySubsequences: false)
                    let name = String(parts[0])
                    let tasksFrom = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : nil
                    let role = try engine.taskSource.loadRole(name: name, relativeTo: task.directory, tasksFrom: tasksFrom, location: task.location)
                    let scope = RoleScope(name: role.name, path: role.path, defaults: role.defaults, vars: role.vars, params: inc.params)
                    for node in role.handlers { collectHandlers(node, inner.entering(role.keywords, role: scope)) }
                    await runNodes([.block(Block(name: role.name, block: role.tasks, location: task.location, role: scope))], inc.hosts, inner)
                } else {
                    let nodes = try engine.taskSource.loadTasks(file: inc.file, relativeTo: base, role: inh.role)
                    let itemText = inc.item.values.first.map { " => (item=\($0.stringified))" } ?? ""
                    reporter.report(.message("included: \(inc.file) for \(inc.hosts.joined(separator: ", "))\(itemText)"))
                    // Each inclusion counts as ok for its hosts, as in Ansible.
                    for h in inc.hosts { count(h) { $0.ok += 1 } }
                    await runNodes(nodes, inc.hosts, inner)
                }
            } catch {
                for h in inc.hosts { fail(h, task, "\(error)") }
            }
        }
    }

    func fail(_ host: String, _ task: PlaybookTask, _ msg: String) {
        reporter.report(.hostResult(HostTaskResult(host: host, status: .failed, result: .dict(["failed": true, "msg": .string(msg)]))))
        hosts[host]?.failed = true
        count(host) { $0.failed += 1 }
        _ = task
    }
}

/// The magic variables built from the inventory and the play's host lists, computed once and
/// reused while their inputs are unchanged. The runner's own task is its only user.
struct MagicValues {
    private var groupsValue: Value?
    private var groupNamesValues: [String: Value] = [:]
    /// The play's host lists the magic variables hold.
    enum HostList {
        case active  // play_hosts, ansible_play_hosts
        case all  // ansible_play_hosts_all
        case batch  // ansible_play_batch
    }
    private var hostLists: [HostList: (names: [String], value: Value)] = [:]

    /// `groups`: every group and its hosts.
    mutating func groups(of inventory: Inventory) -> Value {
        if let groupsValue { return groupsValue }
        let value = Value.dict(inventory.groupsMagicVariable())
        groupsValue = value
        return value
    }

    /// `group_names` of `host`.
    mutating func groupNames(of host: String, in inventory: Inventory) -> Value {
        if let value = groupNamesValues[host] { return value }
        let value = Value.list(inventory.groupNames(of: host).map(Value.string))
        groupNamesValues[host] = value
        return value
    }

    /// `names` as the list value of `list`, kept until its names change.
    mutating func hostList(_ list: HostList, _ names: [String]) -> Value {
        if let kept = hostLists[list], kept.names == names { return kept.value }
        let value = Value.list(names.map(Value.string))
        hostLists[list] = (names, value)
        return value
    }
}
