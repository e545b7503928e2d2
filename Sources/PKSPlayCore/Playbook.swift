/// A loaded playbook: plays in order, `import_playbook` already expanded.
public struct Playbook: Sendable {
    public var path: String
    public var plays: [Play]
    public init(path: String, plays: [Play]) {
        self.path = path
        self.plays = plays
    }
}

/// Keywords as written (raw, not yet templated), with where each was written. Blocks, roles and
/// plays pass theirs down to the tasks inside; the engine reads them by name.
public struct Keywords: Sendable {
    public var values: ValueDict
    public var locations: [String: SourceLocation]

    public init(_ values: ValueDict = [:], locations: [String: SourceLocation] = [:]) {
        self.values = values
        self.locations = locations
    }

    public subscript(_ name: String) -> Value? { values[name] }
    public func has(_ name: String) -> Bool { values.contains(name) }
}

/// One play: which hosts, which variables, which tasks.
public struct Play: Sendable {
    public var name: String?
    /// Host pattern, possibly templated, or a list of patterns.
    public var hosts: Value
    public var vars: ValueDict
    public var varsFiles: [Value]
    public var gatherFacts: Value?
    public var roles: [Role]
    public var preTasks: [TaskNode]
    public var tasks: [TaskNode]
    public var postTasks: [TaskNode]
    public var handlers: [TaskNode]
    /// become, tags, check_mode, diff, environment, any_errors_fatal, max_fail_percentage, serial,
    /// ignore_errors, no_log, connection, remote_user, force_handlers, order, throttle ...
    public var keywords: Keywords
    public var location: SourceLocation
    /// The folder of the playbook file that holds the play (`playbook_dir`).
    public var directory: String

    public init(
        name: String?, hosts: Value, vars: ValueDict = [:], varsFiles: [Value] = [], gatherFacts: Value? = nil,
        roles: [Role] = [], preTasks: [TaskNode] = [], tasks: [TaskNode] = [], postTasks: [TaskNode] = [],
        handlers: [TaskNode] = [], keywords: Keywords = Keywords(), location: SourceLocation, directory: String
    ) {
        self.name = name
        self.hosts = hosts
        self.vars = vars
        self.varsFiles = varsFiles
        self.gatherFacts = gatherFacts
        self.roles = roles
        self.preTasks = preTasks
        self.tasks = tasks
        self.postTasks = postTasks
        self.handlers = handlers
        self.keywords = keywords
        self.location = location
        self.directory = directory
    }
}

/// A role as a play or `import_role` uses it: its tasks, handlers and variables, loaded.
public struct Role: Sendable {
    public var name: String
    public var path: String
    /// Role parameters given where it is used (`roles: [{role: x, port: 80}]`): include-param precedence.
    public var params: ValueDict
    public var defaults: ValueDict
    public var vars: ValueDict
    public var tasks: [TaskNode]
    public var handlers: [TaskNode]
    /// Keywords on the role reference (when, tags, become ...), passed to every task of the role.
    public var keywords: Keywords
    public var location: SourceLocation

    public init(
        name: String, path: String, params: ValueDict = [:], defaults: ValueDict = [:], vars: ValueDict = [:],
        tasks: [TaskNode] = [], handlers: [TaskNode] = [], keywords: Keywords = Keywords(), location: SourceLocation
    ) {
        self.name = name
        self.path = path
        self.params = params
        self.defaults = defaults
        self.vars = vars
        self.tasks = tasks
        self.handlers = handlers
        self.keywords = keywords
        self.location = location
    }
}

/// A task or a block of tasks.
public indirect enum TaskNode: Sendable {
    case task(PlaybookTask)
    case block(Block)
}

/// `block` / `rescue` / `always`; also what `import_tasks` and `import_role` expand to.
public struct Block: Sendable {
    public var name: String?
    public var block: [TaskNode]
    public var rescue: [TaskNode]
    public var always: [TaskNode]
    public var keywords: Keywords
    public var location: SourceLocation
    /// Set when the block is the body of a role, so its tasks see the role's variables and files.
    public var role: RoleScope?
    /// Handlers of an imported role: they join the play's handlers.
    public var handlers: [TaskNode]

    public init(
        name: String? = nil, block: [TaskNode], rescue: [TaskNode] = [], always: [TaskNode] = [],
        keywords: Keywords = Keywords(), location: SourceLocation, role: RoleScope? = nil, handlers: [TaskNode] = []
    ) {
        self.handlers = handlers
        self.name = name
        self.block = block
        self.rescue = rescue
        self.always = always
        self.keywords = keywords
        self.location = location
        self.role = role
    }
}

/// What a task inside a role needs of the role: its name, folder and variables.
public struct RoleScope: Sendable {
    public var name: String
    public var path: String
    public var defaults: ValueDict
    public var vars: ValueDict
    public var params: ValueDict

    public init(name: String, path: String, defaults: ValueDict, vars: ValueDict, params: ValueDict) {
        self.name = name
        self.path = path
        self.defaults = defaults
        self.vars = vars
        self.params = params
    }
}

/// One task: an action with its arguments and keywords, as written.
public struct PlaybookTask: Sendable {
    public var name: String?
    /// The module or engine action as written (`copy`, `ansible.builtin.copy`, `include_tasks`, `meta`).
    public var action: String
    /// Arguments as written, untemplated; free-form text is under `_raw_params`.
    public var args: ValueDict
    public var keywords: Keywords
    public var location: SourceLocation
    /// Folder the task file lives in (relative `include_tasks` and `files/` are looked up from it).
    public var directory: String

    public init(name: String?, action: String, args: ValueDict, keywords: Keywords = Keywords(), location: SourceLocation, directory: String) {
        self.name = name
        self.action = action
        self.args = args
        self.keywords = keywords
        self.location = location
        self.directory = directory
    }

    /// The name shown in `TASK [...]`: the task's name, else the action, as Ansible shows it.
    public var displayName: String { name ?? action }
}

/// Loads task files and roles when a run reaches `include_tasks` or `include_role`.
public protocol TaskSource: Sendable {
    func loadTasks(file: String, relativeTo directory: String, role: RoleScope?) throws -> [TaskNode]
    func loadRole(name: String, relativeTo directory: String, tasksFrom: String?, location: SourceLocation) throws -> Role
    func loadVariables(file: String) throws -> ValueDict
}

