import Foundation
import PKSPlayCore

/// Turns playbook, task, role and variable files into the model, checking every keyword, module
/// and argument it can before anything runs. All problems are collected, not only the first.
public struct PlaybookLoader: TaskSource {
    public let registry: ModuleRegistry
    /// Extra folders to look for roles in (ANSIBLE_ROLES_PATH), after `roles/` beside the playbook.
    public var rolesPath: [String]

    public init(registry: ModuleRegistry, rolesPath: [String] = []) {
        self.registry = registry
        var paths = rolesPath
        if let env = Environment.value("ANSIBLE_ROLES_PATH") {
            paths += env.split(separator: ":").map(String.init)
        }
        self.rolesPath = paths
    }

    static let playKeywords: Set<String> = [
        "name", "hosts", "vars", "vars_files", "vars_prompt", "gather_facts", "gather_subset", "gather_timeout", "pre_tasks", "tasks",
        "post_tasks", "handlers", "roles", "become", "become_user", "become_method", "become_flags", "check_mode", "diff", "environment",
        "tags", "any_errors_fatal", "max_fail_percentage", "serial", "ignore_errors", "ignore_unreachable", "no_log", "connection",
        "remote_user", "port", "force_handlers", "order", "strategy", "throttle", "timeout", "run_once", "collections", "module_defaults",
        "debugger", "fact_path",
    ]
    static let blockKeywords: Set<String> = [
        "name", "block", "rescue", "always", "when", "tags", "become", "become_user", "become_method", "become_flags", "vars", "environment",
        "ignore_errors", "ignore_unreachable", "no_log", "any_errors_fatal", "check_mode", "diff", "delegate_to", "run_once", "throttle",
        "timeout", "connection", "remote_user", "collections", "module_defaults", "debugger", "port", "notify",
    ]
    public static let taskKeywords: Set<String> = [
        "name", "when", "loop", "loop_control", "register", "changed_when", "failed_when", "ignore_errors", "ignore_unreachable", "notify",
        "listen", "tags", "check_mode", "diff", "no_log", "retries", "until", "delay", "run_once", "delegate_to", "delegate_facts", "vars",
        "environment", "become", "become_user", "become_method", "become_flags", "any_errors_fatal", "throttle", "timeout", "args", "action",
        "local_action", "async", "poll", "connection", "remote_user", "collections", "module_defaults", "debugger", "port", "undo",
    ]
    static let engineActions: Set<String> = [
        "meta", "include_tasks", "import_tasks", "include_role", "import_role", "import_playbook", "include", "gather_facts", "setup",
    ]

    // MARK: Entry points

    /// Loads a playbook; throws a ``DiagnosticList`` with every problem found.
    public func loadPlaybook(_ path: String) throws -> Playbook {
        let (playbook, diags) = check(path)
        let errors = diags.filter { $0.severity == .error }
        if !errors.isEmpty || playbook == nil { throw DiagnosticList(errors.isEmpty ? diags : errors) }
        return playbook!
    }

    /// Loads a playbook and returns what it could with all diagnostics (warnings too): `syntax-check`.
    public func check(_ path: String) -> (Playbook?, [Diagnostic]) {
        let ctx = LoadContext()
        let abs = PlaybookLoader.absolute(path)
        let plays = loadPlays(abs, ctx, importDepth: 0)
        return (ctx.diagnostics.contains { $0.severity == .error } ? nil : Playbook(path: abs, plays: plays), ctx.diagnostics)
    }

    static func absolute(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return (expanded as NSString).standardizingPath }
        return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(expanded) as NSString).standardizingPath
    }

    // MARK: TaskSource

    public func loadTasks(file: String, relativeTo directory: String, role: RoleScope?) throws -> [TaskNode] {
        let ctx = LoadContext()
        let path = resolve(file, relativeTo: directory, role: role)
        let nodes = loadTaskFile(path, ctx, depth: 0)
        let errors = ctx.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty { throw DiagnosticList(errors) }
        return nodes
    }

    public func loadRole(name: String, relativeTo directory: String, tasksFrom: String?, location: SourceLocation) throws -> Role {
        let ctx = LoadContext()
        let role = loadRole(name: name, params: [:], keywords: Keywords(), tasksFrom: tasksFrom, location: location, playDir: directory, ctx, depth: 0)
        let errors = ctx.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty || role == nil { throw DiagnosticList(errors) }
        return role!
    }

    public func loadVariables(file: String) throws -> ValueDict {
        guard let node = try YAMLReader.load(file: file).0 else { return [:] }
        guard case .dict(let d) = node.value else {
            throw Diagnostic("a variables file must hold a mapping of names to values, not a \(node.kindName)", at: node.location,
                             hint: "write 'name: value' lines at the top level")
        }
        return d
    }

    func resolve(_ file: String, relativeTo directory: String, role: RoleScope?) -> String {
        if file.hasPrefix("/") { return file }
        var candidates = [(directory as NSString).appendingPathComponent(file)]
        if let role {
            candidates.append(((role.path as NSString).appendingPathComponent("tasks") as NSString).appendingPathComponent(file))
        }
        candidates.append(((directory as NSString).appendingPathComponent("tasks") as NSString).appendingPathComponent(file))
        return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
    }

    // MARK: Plays

    func loadPlays(_ path: String, _ ctx: LoadContext, importDepth: Int) -> [Play] {
        guard importDepth < 32 else {
            ctx.error("import_playbook nested more than 32 deep (a playbook importing itself?)", at: SourceLocation(file: path, line: 0, column: 0))
            return []
        }
        ctx.playbookStack.append(path)
        defer { ctx.playbookStack.removeLast() }
        guard case .loaded(let root) = ctx.read(path) else { return [] }
        guard let root else {
            ctx.error("the playbook is empty", at: SourceLocation(file: path, line: 1, column: 1), hint: "a playbook is a list of plays: '- hosts: all'")
            return []
        }
        guard let items = root.sequence else {
            ctx.error("a playbook must be a list of plays, not a \(root.kindName)", at: root.location, hint: "start each play with '- hosts: ...'")
            return []
        }
        let dir = (path as NSString).deletingLastPathComponent
        var plays: [Play] = []
        for item in items {
            guard let map = item.mapping else {
                ctx.error("a play must be a mapping, not a \(item.kindName)", at: item.location, hint: "start each play with '- hosts: ...'")
                continue
            }
            if let imp = map.first(where: { ["import_playbook", "ansible.builtin.import_playbook", "include"].contains($0.key) }) {
                guard case .scalar(let v) = imp.value.kind, !v.stringified.isEmpty else {
                    ctx.error("import_playbook needs a file name", at: imp.value.location)
                    continue
                }
                let target = ((v.stringified.hasPrefix("/") ? v.stringified : (dir as NSString).appendingPathComponent(v.stringified)) as NSString).standardizingPath
                // Checked here so the error points at the import, not at a file that is not there.
                if ctx.playbookStack.contains(target) {
                    ctx.error("import_playbook cycle: \(LoadContext.chain(ctx.playbookStack, to: target))", at: imp.keyLocation,
                              hint: "remove the import that leads back to a playbook already being imported")
                    continue
                }
                guard FileManager.default.fileExists(atPath: target) else {
                    ctx.error("import_playbook: file not found: \(v.stringified)", at: imp.keyLocation,
                              hint: "check the path; relative paths are taken from the folder of the file that names them (looked for \(target))")
                    continue
                }
                var imported = loadPlays(target, ctx, importDepth: importDepth + 1)
                // Keywords beside import_playbook (when, tags, vars) reach every imported play.
                for (k, kl, vn) in map where k != imp.key {
                    if k == "vars", case .dict(let d) = vn.value {
                        for i in imported.indices { imported[i].vars = d.merging(imported[i].vars) }
                    } else if k == "tags" || k == "when" {
                        for i in imported.indices { imported[i].keywords.values[k] = vn.value; imported[i].keywords.locations[k] = kl }
                    } else if k != "name" {
                        ctx.error("'\(k)' is not valid beside import_playbook", at: kl, hint: "only vars, tags, when and name are")
                    }
                }
                plays += imported
                continue
            }
            if let play = loadPlay(map, location: item.location, dir: dir, ctx) { plays.append(play) }
        }
        return plays
    }

    func loadPlay(_ map: [(key: String, keyLocation: SourceLocation, value: YNode)], location: SourceLocation, dir: String, _ ctx: LoadContext) -> Play? {
        var play = Play(name: nil, hosts: .null, location: location, directory: dir)
        var sawHosts = false
        var roleNodes: YNode?
        for (key, kl, v) in map {
            guard PlaybookLoader.playKeywords.contains(key) else {
                let hint: String
                if registry.module(named: key) != nil || PlaybookLoader.taskKeywords.contains(key) {
                    hint = "tasks go under 'tasks:' (a list), not directly in the play"
                } else if let s = closestMatch(to: key, in: PlaybookLoader.playKeywords) {
                    hint = "did you mean '\(s)'?"
                } else {
                    hint = "play keywords are: \(PlaybookLoader.playKeywords.sorted().joined(separator: ", "))"
                }
                ctx.error("'\(key)' is not a valid attribute for a play", at: kl, hint: hint)
                continue
            }
            switch key {
            case "name": play.name = v.value.isNull ? nil : v.value.stringified
            case "hosts":
                sawHosts = true
                switch v.value {
                case .string, .list: play.hosts = v.value
                case .null: ctx.error("'hosts' is empty", at: v.location, hint: "name a group or host pattern, e.g. 'hosts: all'")
                default: play.hosts = .string(v.value.stringified)
                }
            case "vars": play.vars = dictOrListOfDicts(v, "vars", ctx)
            case "vars_files":
                switch v.value {
                case .list(let l): play.varsFiles = l
                case .string: play.varsFiles = [v.value]
                default: ctx.error("'vars_files' must be a list of file names", at: v.location)
                }
            case "vars_prompt":
                ctx.warn("vars_prompt is not supported; pass the values with -e", at: kl)
            case "gather_facts": play.gatherFacts = v.value
            case "pre_tasks": play.preTasks = taskList(v, dir: dir, role: nil, ctx, depth: 0, section: key)
            case "tasks": play.tasks = taskList(v, dir: dir, role: nil, ctx, depth: 0, section: key)
            case "post_tasks": play.postTasks = taskList(v, dir: dir, role: nil, ctx, depth: 0, section: key)
            case "handlers": play.handlers = taskList(v, dir: dir, role: nil, ctx, depth: 0, section: key)
            case "roles": roleNodes = v
            default:
                if let problem = PlaybookLoader.keywordTypeProblem(key, v.value) { ctx.error(problem.0, at: v.location, hint: problem.1) }
                play.keywords.values[key] = v.value
                play.keywords.locations[key] = kl
            }
        }
        if !sawHosts { ctx.error("the play has no 'hosts'", at: location, hint: "add 'hosts: all' (or a group or host name)") }
        if let roleNodes {
            guard let list = roleNodes.sequence else {
                ctx.error("'roles' must be a list", at: roleNodes.location, hint: "write '- role: name' items")
                return play
            }
            for r in list {
                if let role = roleReference(r, dir: dir, ctx, depth: 0) { play.roles.append(role) }
            }
        }
        return play
    }

    func dictOrListOfDicts(_ v: YNode, _ name: String, _ ctx: LoadContext) -> ValueDict {
        switch v.value {
        case .dict(let d): return d
        case .null: return [:]
        case .list(let l) where l.allSatisfy({ $0.dictValue != nil }):
            return l.reduce(into: ValueDict()) { $0.merge($1.dictValue!) }
        default:
            ctx.error("'\(name)' must be a mapping of variable names to values, not a \(v.kindName)", at: v.location, hint: "write '\(name):' then indented 'name: value' lines")
            return [:]
        }
    }

    // MARK: Roles

    func roleReference(_ node: YNode, dir: String, _ ctx: LoadContext, depth: Int) -> Role? {
        var name: String?
        var params = ValueDict()
        var keywords = Keywords()
        switch node.kind {
        case .scalar(let v): name = v.stringified
        case .mapping(let m):
            for (k, kl, v) in m {
                if k == "role" || k == "name" { name = v.value.stringified }
                else if k == "vars", case .dict(let d) = v.value { params.merge(d) }
                else if PlaybookLoader.blockKeywords.contains(k) || k == "when" || k == "tags" {
                    keywords.values[k] = v.value
                    keywords.locations[k] = kl
                } else { params[k] = v.value }
            }
        default: break
        }
        guard let name, !name.isEmpty else {
            ctx.error("a role entry needs a name", at: node.location, hint: "write '- role: name' or '- name'")
            return nil
        }
        return loadRole(name: name, params: params, keywords: keywords, tasksFrom: nil, location: node.location, playDir: dir, ctx, depth: depth)
    }

    func findRole(_ name: String, playDir: String) -> String? {
        if name.hasPrefix("/") || name.hasPrefix(".") {
            let p = name.hasPrefix("/") ? name : (playDir as NSString).appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: p) ? (p as NSString).standardizingPath : nil
        }
        let short = name.split(separator: ".").count == 3 ? String(name.split(separator: ".").last!) : name
        var bases = [(playDir as NSString).appendingPathComponent("roles"), playDir]
        // A task file inside a role's tasks/ folder looks for sibling roles too.
        bases.append((((playDir as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent as NSString).appendingPathComponent(""))
        bases += rolesPath
        bases += [("~/.ansible/roles" as NSString).expandingTildeInPath, "/usr/share/ansible/roles", "/etc/ansible/roles"]
        for b in bases {
            let p = (b as NSString).appendingPathComponent(short)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue { return (p as NSString).standardizingPath }
        }
        return nil
    }

    func mainFile(_ dir: String, _ sub: String, _ base: String = "main") -> String? {
        let folder = (dir as NSString).appendingPathComponent(sub)
        for ext in ["", ".yml", ".yaml", ".json"] {
            let p = (folder as NSString).appendingPathComponent(base + ext)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue { return p }
        }
        return nil
    }

    func loadRole(name: String, params: ValueDict, keywords: Keywords, tasksFrom: String?, location: SourceLocation, playDir: String,
                  _ ctx: LoadContext, depth: Int) -> Role? {
        guard depth < 16 else {
            ctx.error("roles nested more than 16 deep (a role depending on itself?)", at: location)
            return nil
        }
        guard let path = findRole(name, playDir: playDir) else {
            ctx.error("the role '\(name)' was not found", at: location,
                      hint: "looked in \((playDir as NSString).appendingPathComponent("roles")), \(playDir) and the roles path; set ANSIBLE_ROLES_PATH or create roles/\(name)/tasks/main.yml")
            return nil
        }
        var role = Role(name: (name as NSString).lastPathComponent, path: path, params: params, keywords: keywords, location: location)
        func vars(_ sub: String) -> ValueDict {
            guard let f = mainFile(path, sub) else { return [:] }
            do { return try loadVariables(file: f) } catch { ctx.add(error, file: f); return [:] }
        }
        role.defaults = vars("defaults")
        role.vars = vars("vars")
        let scope = RoleScope(name: role.name, path: path, defaults: role.defaults, vars: role.vars, params: params)
        if let f = mainFile(path, "tasks", tasksFrom.map { ($0 as NSString).deletingPathExtension } ?? "main") {
            role.tasks = loadTaskFile(f, ctx, depth: depth + 1, role: scope)
        } else if let tasksFrom {
            ctx.error("the role '\(name)' has no tasks file '\(tasksFrom)'", at: location, hint: "look in \(path)/tasks/")
        }
        if let f = mainFile(path, "handlers") { role.handlers = loadTaskFile(f, ctx, depth: depth + 1, role: scope) }
        // meta/main.yml dependencies run first, as their own role blocks.
        if let f = mainFile(path, "meta"), let meta = (try? YAMLReader.load(file: f))?.0, let m = meta.mapping,
           let deps = m.first(where: { $0.key == "dependencies" })?.value.sequence {
            var depNodes: [TaskNode] = []
            for d in deps {
                if let dep = roleReference(d, dir: playDir, ctx, depth: depth + 1) {
                    let ds = RoleScope(name: dep.name, path: dep.path, defaults: dep.defaults, vars: dep.vars, params: dep.params)
                    depNodes.append(.block(Block(name: dep.name, block: dep.tasks, keywords: dep.keywords, location: dep.location, role: ds)))
                    role.handlers += dep.handlers
                }
            }
            role.tasks = depNodes + role.tasks
        }
        return role
    }

    // MARK: Tasks

    func loadTaskFile(_ path: String, _ ctx: LoadContext, depth: Int, role: RoleScope? = nil) -> [TaskNode] {
        guard depth < 64 else {
            ctx.error("task files import each other more than 64 deep (an import loop?)", at: SourceLocation(file: path, line: 0, column: 0))
            return []
        }
        ctx.taskFileStack.append(path)
        defer { ctx.taskFileStack.removeLast() }
        guard case .loaded(let root) = ctx.read(path) else { return [] }
        guard let root, !root.isNull else { return [] }
        return taskList(root, dir: (path as NSString).deletingLastPathComponent, role: role, ctx, depth: depth, section: "tasks")
    }

    func taskList(_ node: YNode, dir: String, role: RoleScope?, _ ctx: LoadContext, depth: Int, section: String) -> [TaskNode] {
        if node.isNull { return [] }
        guard let items = node.sequence else {
            ctx.error("'\(section)' must be a list of tasks, not a \(node.kindName)", at: node.location, hint: "start each task with '- name: ...'")
            return []
        }
        return items.compactMap { taskNode($0, dir: dir, role: role, ctx, depth: depth) }
    }

    func taskNode(_ node: YNode, dir: String, role: RoleScope?, _ ctx: LoadContext, depth: Int) -> TaskNode? {
        guard depth < 64 else {
            ctx.error("blocks nested more than 64 deep", at: node.location)
            return nil
        }
        guard let map = node.mapping else {
            ctx.error("a task must be a mapping, not a \(node.kindName)", at: node.location,
                      hint: node.kindName == "string" ? "write '- name: ...' then the module on the next line, indented" : "start each task with '- name: ...'")
            return nil
        }
        if map.contains(where: { $0.key == "block" }) { return blockNode(map, node.location, dir: dir, role: role, ctx, depth: depth) }
        for k in ["rescue", "always"] where map.contains(where: { $0.key == k }) {
            ctx.error("'\(k)' needs a 'block' beside it", at: map.first { $0.key == k }!.keyLocation, hint: "add 'block:' with the tasks it guards")
            return nil
        }
        var keywords = Keywords()
        var name: String?
        var actionKey: (String, SourceLocation, YNode)?
        var extra: [(String, SourceLocation)] = []
        for (k, kl, v) in map {
            if k == "name" { name = v.value.isNull ? nil : v.value.stringified; continue }
            if PlaybookLoader.taskKeywords.contains(k) || k.hasPrefix("with_") {
                if let p = PlaybookLoader.keywordTypeProblem(k, v.value) { ctx.error(p.0, at: v.location, hint: p.1) }
                if k == "undo" {
                    // Checked now like any task list; kept as written for the journal.
                    _ = taskList(v.sequence == nil ? YNode(kind: .sequence([v]), location: v.location) : v, dir: dir, role: role, ctx, depth: depth + 1, section: "undo")
                }
                keywords.values[k] = v.value
                keywords.locations[k] = kl
                continue
            }
            if actionKey == nil { actionKey = (k, kl, v) } else { extra.append((k, kl)) }
        }
        // `action:` / `local_action:` forms
        if actionKey == nil, let a = keywords.values["action"] ?? keywords.values["local_action"] {
            let loc = keywords.locations["action"] ?? keywords.locations["local_action"] ?? node.location
            if keywords.values["local_action"] != nil { keywords.values["delegate_to"] = "localhost" }
            keywords.values["action"] = nil
            keywords.values["local_action"] = nil
            switch a {
            case .string(let s):
                let parts = s.split(separator: " ", maxSplits: 1).map(String.init)
                actionKey = (parts[0], loc, YNode(kind: .scalar(.string(parts.count > 1 ? parts[1] : "")), location: loc))
            case .dict(let d):
                if let m = d["module"]?.stringified {
                    var rest = d
                    rest["module"] = nil
                    actionKey = (m, loc, YNode(kind: .scalar(.dict(rest)), location: loc))
                }
            default: break
            }
            if actionKey == nil { ctx.error("'action' needs a module name", at: loc, hint: "write 'action: module arg=value'") }
        }
        guard let (action, actionLoc, argNode) = actionKey else {
            if !extra.isEmpty || map.isEmpty || true {
                ctx.error("the task has no module or action", at: node.location, hint: "add a module such as 'command: ...' or 'debug: msg=...'; see 'pksplay modules'")
            }
            return nil
        }
        for (k, kl) in extra {
            let isModule = registry.module(named: k) != nil || PlaybookLoader.engineActions.contains(canonical(k))
            ctx.error(isModule ? "the task names two actions: '\(action)' and '\(k)'" : "'\(k)' is not a valid task keyword",
                      at: kl, hint: isModule ? "split it into two tasks" : closestMatch(to: k, in: PlaybookLoader.taskKeywords).map { "did you mean '\($0)'?" } ?? "is it indented one level too far or too little?")
        }
        let short = canonical(action)
        var args = ValueDict()
        // import_tasks / import_role expand here, as Ansible does at parse time.
        if PlaybookLoader.engineActions.contains(short) {
            switch argNode.value {
            case .string(let s): args["_raw_params"] = .string(s)
            case .dict(let d): args = d
            case .null: break
            default: args["_raw_params"] = .string(argNode.value.stringified)
            }
            if case .dict(let extraArgs)? = keywords.values["args"] { args.merge(extraArgs) }
            switch short {
            case "import_tasks":
                let file = (args["file"] ?? args["_raw_params"])?.stringified ?? ""
                guard !file.isEmpty else { ctx.error("import_tasks needs a file name", at: actionLoc); return nil }
                if TemplateLike.isTemplated(file) {
                    ctx.error("import_tasks cannot use a variable in its file name ('\(file)')", at: argNode.location, hint: "use include_tasks, which is evaluated at run time")
                    return nil
                }
                let path = (resolve(file, relativeTo: dir, role: role) as NSString).standardizingPath
                // Checked here so the error points at the import, not at a file that is not there.
                if ctx.taskFileStack.contains(path) {
                    ctx.error("import_tasks cycle: \(LoadContext.chain(ctx.taskFileStack, to: path))", at: actionLoc,
                              hint: "a task file cannot import itself; use include_tasks with a condition for a loop that ends")
                    return nil
                }
                guard FileManager.default.fileExists(atPath: path) else {
                    ctx.error("import_tasks: file not found: \(file)", at: actionLoc,
                              hint: "check the path; relative paths are taken from the folder of the file that names them (looked for \(path))")
                    return nil
                }
                let nodes = loadTaskFile(path, ctx, depth: depth + 1, role: role)
                var kw = keywords
                if case .dict(let v)? = kw.values["vars"] { kw.values["vars"] = .dict(v) }
                return .block(Block(name: name ?? "import_tasks \(file)", block: nodes, keywords: kw, location: node.location, role: role))
            case "import_role":
                let rname = (args["name"] ?? args["role"] ?? args["_raw_params"])?.stringified ?? ""
                guard !rname.isEmpty else { ctx.error("import_role needs 'name'", at: actionLoc); return nil }
                guard let r = loadRole(name: rname, params: keywords.values["vars"]?.dictValue ?? [:], keywords: keywords,
                                       tasksFrom: args["tasks_from"]?.stringified, location: node.location, playDir: dir, ctx, depth: depth + 1) else { return nil }
                let scope = RoleScope(name: r.name, path: r.path, defaults: r.defaults, vars: r.vars, params: r.params)
                var kw = keywords
                kw.values["vars"] = nil
                return .block(Block(name: r.name, block: r.tasks, keywords: kw, location: node.location, role: scope, handlers: r.handlers))
            case "include_tasks", "include":
                if (args["file"] ?? args["_raw_params"])?.stringified.isEmpty ?? true { ctx.error("\(short) needs a file name", at: actionLoc); return nil }
            case "include_role":
                if (args["name"] ?? args["role"] ?? args["_raw_params"]) == nil { ctx.error("include_role needs 'name'", at: actionLoc); return nil }
            case "import_playbook":
                ctx.error("import_playbook is only valid at the top level of a playbook", at: actionLoc, hint: "move it out of the tasks list")
                return nil
            default: break
            }
            return .task(PlaybookTask(name: name, action: action, args: args, keywords: keywords, location: node.location, directory: dir))
        }
        guard let module = registry.module(named: action) else {
            let all = registry.allNames + Array(PlaybookLoader.engineActions)
            var hint = "see 'pksplay modules' for the modules pksplay has"
            if let s = closestMatch(to: short, in: all) { hint = "did you mean '\(s)'?" }
            else if PlaybookLoader.playKeywords.contains(action) { hint = "'\(action)' is a play keyword; is the indentation off?" }
            ctx.error("couldn't resolve module/action '\(action)'", at: actionLoc, hint: hint)
            return nil
        }
        switch argNode.kind {
        case .scalar(.null): break
        case .scalar(.string(let s)): args = parseFreeForm(s, module: module, at: argNode.location, ctx)
        case .scalar(.dict(let d)): args = d
        case .scalar(let v):
            if module.arguments.freeForm != nil { args["_raw_params"] = .string(v.stringified) }
            else { ctx.error("\(module.name) takes arguments as a mapping, not a \(v.typeName)", at: argNode.location, hint: "write 'key: value' lines under '\(action):'") }
        case .mapping(let pairs):
            for (k, _, v) in pairs { args[k] = v.value }
        case .sequence:
            ctx.error("\(module.name) takes arguments as a mapping, not a list", at: argNode.location, hint: "write 'key: value' lines under '\(action):', without '- '")
        }
        if case .dict(let extraArgs)? = keywords.values["args"] { args = extraArgs.merging(args) }
        // Check what can be checked before templating.
        var check = args
        if let free = check["_raw_params"] {
            check["_raw_params"] = nil
            if let ff = module.arguments.freeForm, check[ff] == nil { check[ff] = free }
        }
        let (_, problems) = module.arguments.validate(check, partial: true)
        for p in problems {
            var loc = argNode.location
            if case .mapping(let pairs) = argNode.kind, let a = p.argument, let hit = pairs.first(where: { $0.key == a }) { loc = hit.keyLocation }
            if p.message.hasPrefix("missing required"), args.keys.contains(where: { TemplateLike.isTemplated($0) }) { continue }
            ctx.error("\(module.name): \(p.message)", at: loc, hint: p.hint)
        }
        return .task(PlaybookTask(name: name, action: action, args: args, keywords: keywords, location: node.location, directory: dir))
    }

    func blockNode(_ map: [(key: String, keyLocation: SourceLocation, value: YNode)], _ loc: SourceLocation, dir: String, role: RoleScope?,
                   _ ctx: LoadContext, depth: Int) -> TaskNode? {
        var b = Block(block: [], location: loc, role: nil)
        for (k, kl, v) in map {
            switch k {
            case "block": b.block = taskList(v, dir: dir, role: role, ctx, depth: depth + 1, section: "block")
            case "rescue": b.rescue = taskList(v, dir: dir, role: role, ctx, depth: depth + 1, section: "rescue")
            case "always": b.always = taskList(v, dir: dir, role: role, ctx, depth: depth + 1, section: "always")
            case "name": b.name = v.value.stringified
            default:
                guard PlaybookLoader.blockKeywords.contains(k) else {
                    let isModule = registry.module(named: k) != nil
                    ctx.error("'\(k)' is not a valid attribute for a block", at: kl,
                              hint: isModule ? "a block holds tasks in its 'block:' list; move the module into a task there"
                                  : closestMatch(to: k, in: PlaybookLoader.blockKeywords).map { "did you mean '\($0)'?" } ?? "block keywords are: \(PlaybookLoader.blockKeywords.sorted().joined(separator: ", "))")
                    continue
                }
                if let p = PlaybookLoader.keywordTypeProblem(k, v.value) { ctx.error(p.0, at: v.location, hint: p.1) }
                b.keywords.values[k] = v.value
                b.keywords.locations[k] = kl
            }
        }
        return .block(b)
    }

    func canonical(_ action: String) -> String {
        for prefix in ["ansible.builtin.", "ansible.legacy.", "pksplay."] where action.hasPrefix(prefix) { return String(action.dropFirst(prefix.count)) }
        return action
    }

    /// `copy: src=a dest="b c"` → arguments; for free-form modules the words that are not `known=value` stay as the command.
    func parseFreeForm(_ text: String, module: any Module.Type, at loc: SourceLocation, _ ctx: LoadContext) -> ValueDict {
        var args = ValueDict()
        // A free-form module gets its text as written, newlines and all (`shell: |` scripts); it
        // takes its own `chdir=`-style options out of it.
        if module.arguments.freeForm != nil {
            args["_raw_params"] = .string(text)
            return args
        }
        let words: [String]
        do { words = try FreeForm.split(text) } catch {
            ctx.error("\(module.name): \(error)", at: loc, hint: "close the quote")
            return args
        }
        var raw: [String] = []
        for w in words {
            if let eq = w.firstIndex(of: "="), eq != w.startIndex {
                let k = String(w[..<eq])
                if k.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    args[k] = .string(FreeForm.unquote(String(w[w.index(after: eq)...])))
                    continue
                }
            }
            raw.append(w)
        }
        if !raw.isEmpty {
            ctx.error("\(module.name) does not take free-form text ('\(raw.joined(separator: " "))')", at: loc,
                      hint: "write arguments as key=value, or as a mapping under '\(module.name):'")
        }
        return args
    }

    /// The obvious type mistakes in keywords, caught at load time. Templated values are checked at run time.
    static func keywordTypeProblem(_ key: String, _ v: Value) -> (String, String)? {
        if case .string(let s) = v, TemplateLike.isTemplated(s) { return nil }
        switch key {
        case "register":
            guard case .string(let s) = v, s.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
                return ("'register' must be a variable name, got '\(v.stringified)'", "use letters, digits and underscores, not starting with a digit")
            }
        case "loop":
            switch v { case .list, .string: break; default: return ("'loop' must be a list or a template giving one, not a \(v.typeName)", "write 'loop: [a, b]' or 'loop: \"{{ items }}\"'") }
        case "loop_control", "vars", "args":
            switch v { case .dict, .null: break; default: return ("'\(key)' must be a mapping, not a \(v.typeName)", "write '\(key):' then indented 'name: value' lines") }
        case "retries", "delay", "timeout", "throttle", "max_fail_percentage":
            switch v { case .int, .double: break
            case .string(let s) where Double(s.trimmingCharacters(in: CharacterSet(charactersIn: "% "))) != nil: break
            default: return ("'\(key)' must be a number, not a \(v.typeName)", "write '\(key): 5'") }
        case "become", "ignore_errors", "ignore_unreachable", "no_log", "run_once", "check_mode", "diff", "any_errors_fatal", "force_handlers", "gather_facts":
            if v.asBool == nil { return ("'\(key)' must be true or false, not '\(v.stringified)'", "write '\(key): true'") }
        case "tags", "notify", "listen":
            switch v { case .string, .list, .int: break; default: return ("'\(key)' must be a name or a list of names, not a \(v.typeName)", "write '\(key): [a, b]'") }
        case "when", "changed_when", "failed_when", "until":
            switch v { case .dict: return ("'\(key)' must be a condition, not a mapping", "a condition is an expression such as \"x == 1\"; quote it if it holds ': '"); default: break }
        case "environment":
            switch v { case .dict, .list, .string: break; default: return ("'environment' must be a mapping of variable names to values", "write 'environment:' then 'NAME: value' lines") }
        default: break
        }
        return nil
    }
}

/// Collects diagnostics while loading.
final class LoadContext {
    var diagnostics: [Diagnostic] = []

    enum ReadResult { case loaded(YNode?), failed }

    /// Reads a YAML file, keeping its warnings; a failure is recorded and reported as `.failed`.
    func read(_ path: String) -> ReadResult {
        do {
            let (node, warnings) = try YAMLReader.load(file: path)
            diagnostics += warnings
            return .loaded(node)
        } catch {
            add(error, file: path)
            return .failed
        }
    }
    /// Playbooks and task files being loaded, outermost first: an import of one of them is a cycle.
    var playbookStack: [String] = []
    var taskFileStack: [String] = []

    /// `a.yml → b.yml → a.yml` for a cycle back to `path`.
    static func chain(_ stack: [String], to path: String) -> String {
        let from = stack.lastIndex(of: path) ?? 0
        return (stack[from...] + [path]).map { ($0 as NSString).lastPathComponent }.joined(separator: " → ")
    }

    func error(_ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(Diagnostic(message, at: location, hint: hint))
    }

    func warn(_ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(Diagnostic(message, at: location, hint: hint, severity: .warning))
    }

    func add(_ error: Error, file: String) {
        if let d = error as? Diagnostic { diagnostics.append(d) }
        else if let l = error as? DiagnosticList { diagnostics += l.diagnostics }
        else { diagnostics.append(Diagnostic("\(error)", at: SourceLocation(file: file, line: 0, column: 0))) }
    }
}

enum TemplateLike {
    static func isTemplated(_ s: String) -> Bool { s.contains("{{") || s.contains("{%") }
}

/// Shell-like splitting of free-form arguments, keeping `{{ }}` together.
public enum FreeForm {
    public struct UnterminatedQuote: Error, CustomStringConvertible {
        public var description: String { "unterminated quote in free-form arguments" }
    }

    /// Splits on spaces outside quotes and `{{ }}`; quotes are kept in the words.
    public static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var cur = ""
        var quote: Character?
        var braces = 0
        var prev: Character?
        for ch in text {
            if let q = quote {
                cur.append(ch)
                if ch == q && prev != "\\" { quote = nil }
            } else if ch == "{" && prev == "{" {
                braces += 1
                cur.append(ch)
            } else if ch == "}" && prev == "}" && braces > 0 {
                braces -= 1
                cur.append(ch)
            } else if (ch == "\"" || ch == "'") && braces == 0 {
                quote = ch
                cur.append(ch)
            } else if (ch == " " || ch == "\t" || ch == "\n") && braces == 0 {
                if !cur.isEmpty { words.append(cur); cur = "" }
            } else {
                cur.append(ch)
            }
            prev = ch
        }
        if quote != nil { throw UnterminatedQuote() }
        if !cur.isEmpty { words.append(cur) }
        return words
    }

    public static func unquote(_ s: String) -> String {
        if s.count >= 2, let f = s.first, f == s.last, f == "\"" || f == "'" {
            return String(s.dropFirst().dropLast()).replacingOccurrences(of: "\\\(f)", with: String(f))
        }
        return s
    }
}
