import Foundation
import PKSPlayCore
import PKSPlayLoader
import PKSPlayTemplate

/// Connection variables the pool needs to open a host's connection.
let connectionVariableNames = [
    "ansible_host", "ansible_port", "ansible_user", "ansible_connection", "ansible_ssh_private_key_file",
    "ansible_private_key_file", "ansible_password", "ansible_ssh_pass", "ansible_ssh_known_hosts_file",
    "ansible_ssh_host_key_checking", "ansible_host_key_checking", "ansible_ssh_common_args", "ansible_ssh_timeout",
    "ansible_timeout", "ansible_python_interpreter", "ansible_ssh_extra_args",
]

/// One task on one host: everything it needs, taken from the coordinator when scheduled, so it can
/// run in parallel with the other hosts.
struct HostJob: Sendable {
    let engine: Engine
    let host: String
    let task: PlaybookTask
    let inh: Inherited
    let options: RunOptions
    let scope: TaskScope
    /// The host whose connection runs the module (itself, or `delegate_to`).
    let target: String?
    let targetVars: ValueDict
    let targetError: String?
    let playDirectory: String

    init(runner: PlaybookRunner, host: String, task: PlaybookTask, inh: Inherited) {
        engine = runner.engine
        self.host = host
        self.task = task
        self.inh = inh
        options = runner.options
        let sc = runner.scope(for: host, task, inh)
        scope = sc
        playDirectory = runner.play?.directory ?? runner.playbookDir
        var target: String? = host
        var err: String?
        if let d = task.keywords["delegate_to"] ?? inh.keywords["delegate_to"] {
            do { target = try runner.engine.templates.renderValue(d, sc).stringified } catch {
                err = "cannot render delegate_to: \(error)"
            }
        }
        self.target = target
        targetError = err
        // The target's connection variables: a delegate uses its own, as in Ansible.
        var tv = ValueDict()
        if let t = target, t != host {
            let known = runner.inventory.hosts[t] != nil
            let tscope = known ? runner.scope(for: t, task, inh) : TaskScope([:], templates: runner.engine.templates)
            for n in connectionVariableNames { if let v = tscope.lookup(n) { tv[n] = v } }
            if !known {
                tv["ansible_host"] = .string(t)
                if ["localhost", "127.0.0.1", "::1"].contains(t) { tv["ansible_connection"] = "local" }
            }
        } else {
            for n in connectionVariableNames { if let v = sc.lookup(n) { tv[n] = v } }
        }
        if tv["ansible_connection"] == nil {
            if let c = options.connection { tv["ansible_connection"] = .string(c) }
            else if let c = task.keywords["connection"] ?? inh.keywords["connection"] { tv["ansible_connection"] = c }
        }
        if tv["ansible_user"] == nil {
            if let u = task.keywords["remote_user"] ?? inh.keywords["remote_user"] { tv["ansible_user"] = u }
            else if let u = options.remoteUser { tv["ansible_user"] = .string(u) }
        }
        targetVars = tv
    }

    func kw(_ name: String) -> Value? { task.keywords[name] ?? inh.keywords[name] }

    func renderedBool(_ name: String, in sc: TaskScope) throws -> Bool? {
        guard let v = kw(name) else { return nil }
        let r = try engine.templates.renderValue(v, sc)
        guard let b = r.asBool else {
            throw TaskFailure("'\(name)' must be a boolean, got '\(r.stringified)'")
        }
        return b
    }

    var noLog: Bool { (try? renderedBool("no_log", in: scope)) ?? false }

    // MARK: Running

    func run() async -> HostOutcome {
        let reportNoLog = noLog
        if let targetError {
            return report(HostOutcome(host: host, status: .failed, result: .dict(["failed": true, "msg": .string(targetError)]), changed: false, ignoredFailure: false), noLog: reportNoLog)
        }
        let items: [Value]?
        do {
            items = try HostJob.loopItems(task, scope, engine.templates, findGlob: { pattern in
                let dir = self.inh.role.map { ($0.path as NSString).appendingPathComponent("files") } ?? self.task.directory
                return HostJob.glob(pattern.hasPrefix("/") ? pattern : (dir as NSString).appendingPathComponent(pattern))
            })
        } catch {
            return report(failedOutcome("Invalid data passed to 'loop', it requires a list, got this instead: \(error)"), noLog: reportNoLog)
        }
        guard let items else {
            return report(await runOnce(scope, item: nil), noLog: reportNoLog)
        }
        // A loop: each item runs in turn with its own `when`, its result goes under `results`.
        let control = kw("loop_control")?.dictValue ?? [:]
        let loopVar = control["loop_var"]?.stringified ?? "item"
        let indexVar = control["index_var"]?.stringified
        let extended = control["extended"]?.asBool ?? false
        let pause = Double(control["pause"]?.stringified ?? "") ?? 0
        var results: [Value] = []
        var anyChanged = false, anyFailed = false, allSkipped = true
        var setFacts: ValueDict?
        for (i, item) in items.enumerated() {
            if engine.stopFlag.isStopped { break }
            if i > 0 && pause > 0 { try? await Swift.Task.sleep(nanoseconds: UInt64(pause * 1e9)) }
            var vars: ValueDict = [loopVar: item]
            if let indexVar { vars[indexVar] = .int(i) }
            var loopInfo: ValueDict = ["index": .int(i + 1), "index0": .int(i), "first": .bool(i == 0), "last": .bool(i == items.count - 1),
                                       "length": .int(items.count), "revindex": .int(items.count - i), "revindex0": .int(items.count - i - 1)]
            if extended {
                loopInfo["allitems"] = .list(items)
                loopInfo["previtem"] = i > 0 ? items[i - 1] : .null
                loopInfo["nextitem"] = i + 1 < items.count ? items[i + 1] : .null
            }
            vars["ansible_loop"] = .dict(loopInfo)
            vars["ansible_loop_var"] = .string(loopVar)
            if let indexVar { vars["ansible_index_var"] = .string(indexVar) }
            // Facts set by earlier items are seen by later ones, as in Ansible.
            let itemScope = scope.adding((setFacts ?? [:]).merging(vars))
            var o = await runOnce(itemScope, item: item)
            var r = o.result.dictValue ?? [:]
            r[loopVar] = item
            r["ansible_loop_var"] = .string(loopVar)
            if let indexVar { r[indexVar] = .int(i); r["ansible_index_var"] = .string(indexVar) }
            o.result = .dict(r)
            var label = item.stringified
            if let l = control["label"] { label = (try? engine.templates.renderValue(l, itemScope).stringified) ?? label }
            // The item itself may be the secret: Ansible shows `(item=None)` under no_log.
            if itemNoLog(itemScope) { label = "None" }
            engine.reporter.report(.hostResult(HostTaskResult(
                host: host, delegatedTo: target == host ? nil : target, status: o.status, itemLabel: label, result: censor(o.result, noLog: itemNoLog(itemScope)),
                diffs: diffs(of: o.result, noLog: itemNoLog(itemScope)), ignored: o.ignoredFailure, noLog: itemNoLog(itemScope))))
            results.append(o.result)
            if o.changed { anyChanged = true }
            if o.status == .failed && !o.ignoredFailure { anyFailed = true }
            if o.status == .unreachable {
                return HostOutcome(host: host, status: .unreachable, result: o.result, changed: anyChanged, ignoredFailure: o.ignoredFailure)
            }
            if o.status != .skipped { allSkipped = false }
            if let f = o.setFacts { setFacts = (setFacts ?? [:]).merging(f) }
        }
        var agg: ValueDict = ["results": .list(results), "changed": .bool(anyChanged), "msg": .string(anyFailed ? "One or more items failed" : "All items completed")]
        if anyFailed { agg["failed"] = true }
        if allSkipped && !items.isEmpty { agg["skipped"] = true }
        if items.isEmpty {
            agg["skipped"] = true
            agg["skipped_reason"] = "No items in the list"
            allSkipped = true
        }
        let status: TaskStatus = anyFailed ? .failed : allSkipped ? .skipped : anyChanged ? .changed : .ok
        let ignored = anyFailed && ((try? renderedBool("ignore_errors", in: scope)) ?? false)
        let outcome = HostOutcome(host: host, status: status, result: .dict(agg), setFacts: setFacts, changed: anyChanged, ignoredFailure: ignored)
        if anyFailed || items.isEmpty {
            engine.reporter.report(.hostResult(HostTaskResult(
                host: host, status: status, result: censor(.dict(agg), noLog: reportNoLog), ignored: ignored, noLog: reportNoLog, isLoopSummary: true)))
        }
        return outcome
    }

    func itemNoLog(_ sc: TaskScope) -> Bool { (try? renderedBool("no_log", in: sc)) ?? false }

    func report(_ o: HostOutcome, noLog: Bool) -> HostOutcome {
        engine.reporter.report(.hostResult(HostTaskResult(
            host: host, delegatedTo: target == host ? nil : target, status: o.status, result: censor(o.result, noLog: noLog),
            diffs: diffs(of: o.result, noLog: noLog), ignored: o.ignoredFailure, noLog: noLog)))
        return o
    }

    func diffs(of result: Value, noLog: Bool = false) -> [FileDiff] {
        // A diff of a no_log task could show the very secret no_log hides.
        guard !noLog, options.diffMode || kw("diff")?.asBool == true, let d = result.dictValue?["diff"] else { return [] }
        let list = d.listValue ?? [d]
        return list.compactMap { v in
            guard let dd = v.dictValue else { return nil }
            return FileDiff(beforeHeader: dd["before_header"]?.stringified ?? "before", afterHeader: dd["after_header"]?.stringified ?? "after",
                            before: dd["before"]?.stringified ?? "", after: dd["after"]?.stringified ?? "")
        }
    }

    func censor(_ result: Value, noLog: Bool) -> Value {
        guard noLog else { return result }
        var out: ValueDict = ["censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"]
        if let d = result.dictValue {
            for k in ["changed", "failed", "skipped", "unreachable", "_ansible_verbose_always"] { if let v = d[k] { out[k] = v } }
        }
        return .dict(out)
    }

    func failedOutcome(_ msg: String, extra: ValueDict = [:]) -> HostOutcome {
        var r: ValueDict = ["failed": true, "msg": .string(msg), "changed": false]
        r.merge(extra)
        let ignored = (try? renderedBool("ignore_errors", in: scope)) ?? false
        return HostOutcome(host: host, status: .failed, result: .dict(r), changed: false, ignoredFailure: ignored, failureMessage: msg)
    }

    /// Runs the task once (or once for a loop item): `when`, the module with retries, then
    /// `changed_when` and `failed_when`.
    func runOnce(_ sc: TaskScope, item: Value?) async -> HostOutcome {
        let ignoreErrors: Bool
        do { ignoreErrors = try renderedBool("ignore_errors", in: sc) ?? false } catch { return failedOutcome("\(error)") }
        // when
        let conditions = inh.whens + whenValues()
        for c in conditions {
            do {
                if !(try evaluate(c, sc)) {
                    return HostOutcome(host: host, status: .skipped, result: .dict([
                        "changed": false, "skipped": true, "skip_reason": "Conditional result was False",
                        "false_condition": .string(c.stringified),
                    ]), changed: false, ignoredFailure: false)
                }
            } catch {
                return failedOutcome("The conditional check '\(c.stringified)' failed. The error was: \(error)\n\nThe error appears to be in '\(task.location)'")
            }
        }
        let action = canonicalAction(task.action)
        if action == "gather_facts" || action == "setup" { return await gatherFacts(sc) }
        if let injected = FaultInjection.failure(task: task.displayName, host: host) { return failedOutcome(injected) }
        guard let module = engine.registry.module(named: task.action) else {
            return failedOutcome("couldn't resolve module/action '\(task.action)'")
        }
        // Arguments: render, drop omitted, map free form, validate.
        var args: ValueDict
        do {
            var raw = task.args
            if case .dict(let extra)? = task.keywords["args"] { raw = extra.merging(raw) }
            args = try engine.templates.renderValue(.dict(raw), sc).removingOmitted().dictValue ?? [:]
        } catch {
            return failedOutcome("The task includes an option with an undefined variable or a template error. The error was: \(error)\n\nThe error appears to be in '\(task.location)'")
        }
        // module_defaults (play, block or task) fill arguments the task does not set.
        if let md = kw("module_defaults") {
            do {
                let rendered = try engine.templates.renderValue(md, sc)
                for (name, defaults) in rendered.dictValue ?? [:] where engine.registry.module(named: name).map({ $0.name == module.name }) ?? false {
                    if let d = defaults.dictValue { args = d.merging(args) }
                }
            } catch {
                return failedOutcome("cannot render module_defaults: \(error)")
            }
        }
        if let free = args["_raw_params"] {
            args["_raw_params"] = nil
            if let ff = module.arguments.freeForm {
                if args[ff] == nil { args[ff] = free }
            } else if !free.stringified.isEmpty {
                return failedOutcome("\(module.name) does not take free-form arguments: '\(free.stringified)'")
            }
        }
        let (validated, problems) = module.arguments.validate(args)
        if !problems.isEmpty {
            return failedOutcome(problems.map { $0.message + ($0.hint.map { " (\($0))" } ?? "") }.joined(separator: "; "))
        }
        let checkMode: Bool
        let diffMode: Bool
        do {
            checkMode = try renderedBool("check_mode", in: sc) ?? options.checkMode
            diffMode = try renderedBool("diff", in: sc) ?? options.diffMode
        } catch { return failedOutcome("\(error)") }

        // until / retries / delay
        let untilCond = kw("until")
        var attempts = 1
        if untilCond != nil {
            if let r = kw("retries") {
                let n = Int((try? engine.templates.renderValue(r, sc))?.stringified ?? "") ?? 3
                attempts = n <= 0 ? 1 : n + 1
            } else {
                attempts = 3
            }
        }
        let delay = Double((try? kw("delay").map { try engine.templates.renderValue($0, sc) })??.stringified ?? "") ?? 5
        let register = task.keywords["register"]?.stringValue

        // A task's own `undo:` is recorded before it runs, with its arguments rendered now.
        var undoToken: String?
        if !checkMode, let spec = kw("undo"), let journal = engine.journal {
            do {
                let steps = try renderUndoSteps(spec, sc)
                let token = UUID().uuidString
                undoToken = token
                let actions = steps.compactMap { $0.dictValue?["action"]?.stringified }.joined(separator: ", ")
                try await journal.willChange(host: target ?? host, task: task.displayName, location: task.location,
                                             undo: UndoRecord(module: TaskUndo.moduleName, summary: "undo of '\(task.displayName)' (\(actions))",
                                                              data: ["steps": .list(steps), "token": .string(token)]),
                                             connection: targetVars)
            } catch {
                return failedOutcome("cannot record the task's undo: \(error)")
            }
        }
        var outcome = failedOutcome("not run")
        defer {
            if let undoToken, let journal = engine.journal {
                let status = outcome.status
                let host = target ?? self.host
                Swift.Task { await journal.taskEnded(host: host, task: undoToken, status: status) }
            }
        }
        for attempt in 1...attempts {
            outcome = await invoke(module, validated, sc, checkMode: checkMode, diffMode: diffMode, ignoreErrors: ignoreErrors, register: register)
            guard let untilCond, outcome.status != .unreachable else { break }
            var r = outcome.result.dictValue ?? [:]
            r["attempts"] = .int(attempt)
            outcome.result = .dict(r)
            let usc = register.map { sc.adding([$0: outcome.result]) } ?? sc.adding(r)
            let done = (try? evaluate(untilCond, usc)) ?? false
            if done { break }
            if attempt == attempts {
                r["failed"] = true
                outcome.result = .dict(r)
                outcome.status = .failed
                outcome.ignoredFailure = ignoreErrors
                break
            }
            engine.reporter.report(.message("FAILED - RETRYING: [\(host)]: \(task.displayName) (\(attempts - attempt) retries left)."))
            try? await Swift.Task.sleep(nanoseconds: UInt64(max(0, delay) * 1e9))
            if engine.stopFlag.isStopped { break }
        }
        return outcome
    }

    /// `undo:` as written (a task or a list), each step as `{action, args}` with its arguments rendered.
    func renderUndoSteps(_ spec: Value, _ sc: TaskScope) throws -> [Value] {
        let items = spec.listValue ?? [spec]
        return try items.map { item in
            guard let d = item.dictValue else { throw TaskFailure("an undo step must be a task (a mapping)") }
            guard let (action, raw) = d.first(where: { !PlaybookLoader.taskKeywords.contains($0.key) && !$0.key.hasPrefix("with_") }) else {
                throw TaskFailure("an undo step names no module")
            }
            guard engine.registry.module(named: action) != nil else { throw TaskFailure("undo step: couldn't resolve module '\(action)'") }
            return .dict(["action": .string(action), "args": try engine.templates.renderValue(raw, sc)])
        }
    }

    func whenValues() -> [Value] {
        guard let w = task.keywords["when"] else { return [] }
        if case .list(let l) = w { return l }
        return [w]
    }

    func evaluate(_ cond: Value, _ sc: TaskScope) throws -> Bool {
        switch cond {
        case .bool(let b): return b
        case .null: return false
        case .string(let s): return try engine.templates.evaluate(s, sc).isTruthy
        default: return cond.isTruthy
        }
    }

    /// Calls the module and turns what it returns into the registered result.
    func invoke(_ module: any Module.Type, _ args: ValueDict, _ sc: TaskScope, checkMode: Bool, diffMode: Bool, ignoreErrors: Bool, register: String?) async -> HostOutcome {
        let started = Date()
        var result: ModuleResult
        let journaled = JournaledFlag()
        do {
            let connection = try await taskConnection(sc, module: module)
            var context = makeContext(args: args, connection: connection, sc: sc, checkMode: checkMode, diffMode: diffMode)
            let record = context.willChange
            context.willChange = { undo in journaled.set(); try await record(undo) }
            let ctx = context
            if let t = kw("timeout"), let seconds = Double((try engine.templates.renderValue(t, sc)).stringified), seconds > 0 {
                result = try await withTimeout(seconds) { try await module.run(ctx) }
            } else {
                result = try await module.run(ctx)
            }
        } catch let e as ConnectionError {
            if case .unreachable(_, let reason) = e {
                let ignore = (try? renderedBool("ignore_unreachable", in: sc)) ?? false
                return HostOutcome(host: host, status: .unreachable, result: .dict(["changed": false, "unreachable": true, "msg": .string(reason)]),
                                   changed: false, ignoredFailure: ignore)
            }
            return failedOutcome("\(e)")
        } catch let e as TaskFailure {
            return failedOutcome(e.message)
        } catch {
            return failedOutcome("\(module.name) failed: \(error)")
        }
        var r = ValueDict()
        r["changed"] = .bool(result.changed)
        r.merge(result.values)
        if let msg = result.msg { r["msg"] = .string(msg) }
        if result.failed { r["failed"] = true }
        if result.skipped { r["skipped"] = true }
        if !result.diffs.isEmpty { r["diff"] = .list(result.diffs.map(\.asValue)) }
        if !result.warnings.isEmpty {
            r["warnings"] = .list(result.warnings.map { .string($0) })
            result.warnings.forEach { engine.reporter.report(.warning("[\(host)]: \($0)")) }
        }
        if let f = result.facts, !result.factsAreSetFact { r["ansible_facts"] = .dict(f) }
        _ = started
        var changed = result.changed
        var failed = result.failed
        // changed_when / failed_when see the result under the register name.
        let rsc = sc.adding(register.map { [$0: .dict(r)] } ?? [:])
        do {
            if let cw = kw("changed_when") {
                let conds = cw.listValue ?? [cw]
                changed = try conds.allSatisfy { try evaluate($0, rsc) }
                r["changed"] = .bool(changed)
            }
            if let fw = kw("failed_when") {
                let conds = fw.listValue ?? [fw]
                failed = try conds.allSatisfy { try evaluate($0, rsc) }
                r["failed_when_result"] = .bool(failed)
                if failed { r["failed"] = true } else { r["failed"] = nil }
            }
        } catch {
            return failedOutcome("The conditional check failed: \(error)", extra: r)
        }
        if !failed && r["failed"] == nil { r["failed"] = false }
        // A change with no undo at all (a command without `undo:`) is journaled as such, so rollback
        // reports it instead of passing over it.
        if changed && !checkMode && !journaled.isSet && kw("undo") == nil && !module.runsOnController, let journal = engine.journal {
            try? await journal.changedWithoutUndo(host: target ?? host, task: task.displayName, location: task.location,
                                                  undo: UndoRecord(module: NoUndo.moduleName, summary: "'\(task.displayName)' (\(module.name)) changed the host and has no undo", data: .null),
                                                  connection: targetVars)
        }
        let status: TaskStatus = failed ? .failed : result.skipped ? .skipped : changed ? .changed : .ok
        var facts: ValueDict?
        var gathered: ValueDict?
        if let f = result.facts { if result.factsAreSetFact { facts = f } else { gathered = f } }
        return HostOutcome(host: host, status: status, result: .dict(r), setFacts: facts, gatheredFacts: gathered, changed: changed,
                           ignoredFailure: failed && ignoreErrors, failureMessage: failed ? result.msg : nil)
    }

    func makeContext(args: ValueDict, connection: any Connection, sc: TaskScope, checkMode: Bool, diffMode: Bool) -> ModuleContext {
        let templates = engine.templates
        let journal = engine.journal
        let reporter = engine.reporter
        let host = self.host
        let taskName = task.displayName
        let location = task.location
        // Worked out when a module first looks for a file: most never do.
        let job = self
        // A delegated task changes the delegate: that is the host rollback must reach.
        let changedHost = target ?? host
        let connectionVars = targetVars
        return ModuleContext(
            args: args, connection: connection, host: host, checkMode: checkMode, diffMode: diffMode, verbosity: options.verbosity,
            logger: engine.logger,
            evaluate: { expr in try templates.evaluate(expr, sc) },
            render: { text in try templates.renderText(text, sc) },
            findFile: { name, kind in HostJob.findFile(name, kind: kind, in: job.fileSearchDirectories()) },
            willChange: { undo in try await journal?.willChange(host: changedHost, task: taskName, location: location, undo: undo, connection: connectionVars) },
            progress: { line in reporter.report(.progress(host: host, line: line)) })
    }

    /// Where `files/`, `templates/` and `vars/` are looked up: the role, the task file's folder, the playbook's.
    func fileSearchDirectories() -> [String] {
        var dirs: [String] = []
        if let role = inh.role { dirs.append(role.path) }
        dirs.append(task.directory)
        let parent = (task.directory as NSString).deletingLastPathComponent
        if let role = inh.role, task.directory.hasPrefix(role.path) { dirs.append(parent) }
        dirs.append(playDirectory)
        return dirs
    }

    static func findFile(_ name: String, kind: ControlFileKind, in dirs: [String]) -> String? {
        let fm = FileManager.default
        if name.hasPrefix("/") { return fm.fileExists(atPath: name) ? name : nil }
        let expanded = (name as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return fm.fileExists(atPath: expanded) ? expanded : nil }
        for d in dirs {
            for candidate in [(d as NSString).appendingPathComponent(kind.rawValue + "/" + name), (d as NSString).appendingPathComponent(name)] {
                if fm.fileExists(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    func taskConnection(_ sc: TaskScope, module: any Module.Type) async throws -> any Connection {
        let targetHost = target ?? host
        var vars = targetVars
        if module.runsOnController { vars["ansible_connection"] = "local" }
        let base: any Connection
        if module.runsOnController {
            base = try await engine.connections.connection(for: "localhost", variables: ["ansible_connection": "local"])
        } else {
            base = try await engine.connections.connection(for: targetHost, variables: vars)
        }
        var env: [String: String] = [:]
        // The inherited environments first, then the task's own, so the task's keys win.
        for e in [inh.keywords["environment"], task.keywords["environment"]].compactMap({ $0 }) {
            let rendered = try engine.templates.renderValue(e, sc)
            let dicts: [Value] = (rendered.listValue ?? [rendered]).flatMap { $0.listValue ?? [$0] }
            for d in dicts {
                guard let dd = d.dictValue else { throw TaskFailure("'environment' must be a dictionary or a list of them") }
                for (k, v) in dd { env[k] = v.stringified }
            }
        }
        var become: BecomeSettings?
        let wants = try renderedBool("become", in: sc) ?? options.become ?? sc.lookup("ansible_become")?.asBool ?? false
        if wants && !module.runsOnController {
            func str(_ k: String) throws -> String? {
                guard let v = kw(k) else { return nil }
                return try engine.templates.renderValue(v, sc).stringified
            }
            let user = try str("become_user") ?? options.becomeUser ?? sc.lookup("ansible_become_user")?.stringified ?? "root"
            let method = try str("become_method") ?? options.becomeMethod ?? sc.lookup("ansible_become_method")?.stringified ?? "sudo"
            guard ["sudo", "su"].contains(method) else { throw TaskFailure("become_method '\(method)' is not supported; use sudo or su") }
            let password = options.becomePassword ?? (sc.lookup("ansible_become_password") ?? sc.lookup("ansible_become_pass"))?.stringified
            let loginUser = vars["ansible_user"]?.stringified ?? Environment.value("USER") ?? "root"
            // Becoming the user we already are needs no sudo (and no password).
            if !(user == loginUser) {
                become = BecomeSettings(user: user, method: method, password: password, flags: try str("become_flags"))
            }
        }
        if env.isEmpty && become == nil { return base }
        return TaskConnection(base, environment: env, become: become)
    }

    func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let name = task.action
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Swift.Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                throw TaskFailure("The \(name) action failed to execute in the expected time frame (\(Value.formatDouble(seconds))) and was terminated")
            }
            guard let first = try await group.next() else { throw TaskFailure("timeout") }
            group.cancelAll()
            return first
        }
    }

    // MARK: Loops

    /// The items of `loop` / `with_*`, or `nil` when the task has no loop.
    static func loopItems(_ task: PlaybookTask, _ sc: TaskScope, _ templates: TemplateEngine, findGlob: (String) -> [String]) throws -> [Value]? {
        if let l = task.keywords["loop"] {
            let v = try templates.renderValue(l, sc)
            guard case .list(let items) = v else { throw TaskFailure(v.stringified) }
            return items
        }
        for (name, value) in task.keywords.values where name.hasPrefix("with_") {
            let kind = String(name.dropFirst(5))
            let v = try templates.renderValue(value, sc)
            switch kind {
            case "items":
                let l = v.listValue ?? [v]
                return l.flatMap { $0.listValue ?? [$0] }
            case "list":
                return v.listValue ?? [v]
            case "flattened":
                func flat(_ x: Value) -> [Value] { x.listValue?.flatMap(flat) ?? [x] }
                return flat(v)
            case "dict":
                guard let d = v.dictValue else { throw TaskFailure("with_dict expects a dict") }
                return d.map { .dict(["key": .string($0.key), "value": $0.value]) }
            case "indexed_items":
                return (v.listValue ?? []).enumerated().map { .list([.int($0.offset), $0.element]) }
            case "together":
                let lists = (v.listValue ?? []).map { $0.listValue ?? [] }
                let n = lists.map(\.count).max() ?? 0
                return (0..<n).map { i in .list(lists.map { i < $0.count ? $0[i] : .null }) }
            case "nested", "cartesian":
                var acc: [[Value]] = [[]]
                for l in (v.listValue ?? []).map({ $0.listValue ?? [$0] }) { acc = acc.flatMap { p in l.map { p + [$0] } } }
                return acc.map { .list($0) }
            case "sequence":
                return try sequence(v.stringified)
            case "fileglob":
                let patterns = v.listValue ?? [v]
                return patterns.flatMap { findGlob($0.stringified) }.map { .string($0) }
            case "random_choice":
                return (v.listValue ?? []).randomElement().map { [$0] } ?? []
            default:
                throw TaskFailure("lookup plugin '\(kind)' for with_\(kind) is not supported")
            }
        }
        return nil
    }

    /// `with_sequence`: `start=1 end=10 stride=2 format=host%02d`, or `count=3`, or `1-10`.
    static func sequence(_ spec: String) throws -> [Value] {
        var start = 1, end: Int?, stride = 1, format = "%d", count: Int?
        for part in spec.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 {
                switch kv[0] {
                case "start": start = Int(kv[1], radix: kv[1].hasPrefix("0x") ? 16 : 10) ?? start
                case "end": end = Int(kv[1])
                case "stride": stride = Int(kv[1]) ?? 1
                case "format": format = kv[1]
                case "count": count = Int(kv[1])
                default: throw TaskFailure("with_sequence: unknown option '\(kv[0])'")
                }
            } else {
                let s = String(part)
                let fmtSplit = s.split(separator: "/", maxSplits: 1).map(String.init)
                if fmtSplit.count == 2 { format = fmtSplit[1] }
                let range = fmtSplit[0].split(separator: "-").map { Int($0) }
                if range.count == 2, let a = range[0], let b = range[1] { start = a; end = b }
                else if range.count == 1, let b = range[0] { end = b }
                else { throw TaskFailure("with_sequence: cannot parse '\(s)'") }
            }
        }
        if let count { end = start + (count - 1) * stride }
        guard let end else { throw TaskFailure("with_sequence needs 'end' or 'count'") }
        guard stride != 0 else { throw TaskFailure("with_sequence: stride must not be 0") }
        guard abs(end - start) / abs(stride) < 1_000_000 else { throw TaskFailure("with_sequence: more than a million items") }
        var out: [Value] = []
        var i = start
        while stride > 0 ? i <= end : i >= end {
            out.append(.string(String(format: format.replacingOccurrences(of: "%d", with: "%ld").replacingOccurrences(of: "%02d", with: "%02ld"), i)))
            i += stride
        }
        return out
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i], let s = String(validatingCString: p) {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: s, isDirectory: &isDir), !isDir.boolValue { out.append(s) }
            }
        }
        return out.sorted()
    }
}

/// A failure of a task with a message for the user (not a bug).
struct TaskFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Set when a module journals an undo during one call.
final class JournaledFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
