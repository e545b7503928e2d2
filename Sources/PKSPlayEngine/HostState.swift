import PKSPlayCore

/// What the engine knows of one host across the plays of a run.
struct HostState: Sendable {
    var name: String
    var inventoryVars: ValueDict
    /// Gathered facts (`ansible_facts`).
    var facts: ValueDict = [:]
    /// `set_fact` and `register`ed results.
    var hostVars: ValueDict = [:]
    var failed = false
    var unreachable = false
    /// `meta: end_host`, or the play ended for it.
    var ended = false
    /// Handlers notified and not yet run, by the handler's index in the play.
    var notified: Set<Int> = []
    /// The task and result of the last failure, for `ansible_failed_task` in rescue.
    var lastFailedTask: Value?
    var lastFailedResult: Value?
    /// Failed only because another host failed under any_errors_fatal: rescued, but not counted so.
    var sentToRescue = false

    var isActive: Bool { !failed && !unreachable && !ended }
}

/// Keywords and variables a task gets from the plays, blocks, roles and includes around it.
struct Inherited: Sendable {
    /// Keywords a block or play passes down (become, environment, ignore_errors, no_log ...).
    var keywords: ValueDict = [:]
    /// Every `when` on the way down; all must hold.
    var whens: [Value] = []
    var tags: Set<String> = []
    var blockVars: ValueDict = [:]
    var includeParams: ValueDict = [:]
    var role: RoleScope?
    var isHandler = false
    /// A failure here will be rescued by an enclosing block: count it as rescued, not failed.
    var insideRescuableBlock = false

    static let inheritedKeywords: Set<String> = [
        "become", "become_user", "become_method", "become_flags", "check_mode", "diff", "environment", "no_log",
        "ignore_errors", "ignore_unreachable", "any_errors_fatal", "delegate_to", "run_once", "timeout", "throttle",
        "remote_user", "connection", "debugger", "module_defaults", "collections", "max_fail_percentage",
    ]

    /// The context for the nodes inside something that carries `k`.
    func entering(_ k: Keywords, role: RoleScope? = nil) -> Inherited {
        var out = self
        for (name, value) in k.values {
            switch name {
            case "when":
                if case .list(let l) = value { out.whens += l } else { out.whens.append(value) }
            case "tags":
                out.tags.formUnion(Engine.tagList(value))
            case "vars":
                if case .dict(let d) = value { out.blockVars.merge(d) }
            case "environment":
                // Environments add up from the play inward (Ansible extends the list); the innermost key wins.
                out.keywords[name] = .list((out.keywords[name].map { $0.listValue ?? [$0] } ?? []) + (value.listValue ?? [value]))
            default:
                if Inherited.inheritedKeywords.contains(name) { out.keywords[name] = value }
            }
        }
        if let role { out.role = role }
        return out
    }
}
