import PKSPlayCore

/// The `mode`, `owner` and `group` a task asks for; `nil` leaves that attribute as it is.
struct RequestedAttributes: Sendable, Hashable {
    var mode: FileModeSpec?
    var owner: String?
    var group: String?
    /// Said once per task (an integer mode, a name that does not resolve in check mode).
    var warnings: [String] = []

    var isEmpty: Bool { mode == nil && owner == nil && group == nil }

    /// Reads `mode`, `owner` and `group` from the task's arguments.
    static func from(_ context: ModuleContext, modeKey: String = "mode") throws -> RequestedAttributes {
        let (mode, warning) = try FileModeSpec.parse(context.args[modeKey])
        var out = RequestedAttributes(mode: mode, owner: nonEmpty(context.string("owner")), group: nonEmpty(context.string("group")))
        if let warning { out.warnings.append(warning) }
        for (key, name) in [("owner", out.owner), ("group", out.group)] {
            if let name, name.hasPrefix("-") || name.contains(":") || name.contains("\n") {
                throw FileModuleError.invalidArgument("\(key) '\(name)' is not a valid \(key == "owner" ? "user" : "group") name")
            }
        }
        return out
    }

    private static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }

    /// The uid the requested owner stands for: a number is a uid, as in Ansible.
    func ownerID(_ inspection: Inspection) -> Int? {
        guard let owner else { return nil }
        return Int(owner) ?? inspection.ownerID
    }

    func groupID(_ inspection: Inspection) -> Int? {
        guard let group else { return nil }
        return Int(group) ?? inspection.groupID
    }
}

/// What must change on one path for its attributes to match a request, with the before/after
/// entries Ansible puts in its diff (`mode: '0644'`, `owner: 0`).
struct AttributePlan: Sendable, Hashable {
    var path: String
    /// chmod to this when set.
    var mode: Int?
    /// chown argument (`name`, `1000`) when the owner differs.
    var owner: String?
    var group: String?
    var before = ValueDict()
    var after = ValueDict()
    var warnings: [String] = []

    var isEmpty: Bool { mode == nil && owner == nil && group == nil }

    /// Compares `current` (or, for a path about to be created, the attributes it will be created
    /// with) against `requested`.
    static func make(path: String, current: StatRecord, requested: RequestedAttributes, inspection: Inspection,
                     sourceMode: Int? = nil) throws -> AttributePlan {
        var plan = AttributePlan(path: path)
        if let owner = requested.owner {
            let id = requested.ownerID(inspection)
            if id != current.uid {
                plan.owner = owner
                plan.before["owner"] = .int(current.uid)
                plan.after["owner"] = id.map(Value.int) ?? .string(owner)
                if id == nil { plan.warnings.append("failed to look up user \(owner). Create user up to this point in real play") }
            }
        }
        if let group = requested.group {
            let id = requested.groupID(inspection)
            if id != current.gid {
                plan.group = group
                plan.before["group"] = .int(current.gid)
                plan.after["group"] = id.map(Value.int) ?? .string(group)
                if id == nil { plan.warnings.append("failed to look up group \(group). Create group up to this point in real play") }
            }
        }
        if let spec = requested.mode {
            let wanted = try spec.resolve(current: current.mode, isDirectory: current.kind == .directory,
                                          umask: inspection.facts.umask, sourceMode: sourceMode)
            if wanted != current.mode {
                plan.mode = wanted
                plan.before["mode"] = .string(FileModeSpec.octalText(current.mode))
                plan.after["mode"] = .string(FileModeSpec.octalText(wanted))
            }
        }
        return plan
    }

    /// `owner:group`, `owner` or `:group` for chown, or `nil` when neither changes.
    var chownSpec: String? {
        switch (owner, group) {
        case (nil, nil): return nil
        case (let o?, nil): return o
        case (nil, let g?): return ":" + g
        case (let o?, let g?): return o + ":" + g
        }
    }

    /// Applies the plan to the path in place. `noFollow` changes a link itself (`chown -h`);
    /// Linux cannot chmod a link, so then mode is left alone.
    func apply(_ fs: RemoteFileSystem, noFollow: Bool = false) async throws {
        guard !isEmpty else { return }
        let script = #"""
            p=$1 o=$2 m=$3 h=$4
            if [ -n "$o" ]; then chown ${h:+-h} -- "$o" "$p" || exit 6; fi
            if [ -n "$m" ]; then chmod "$m" -- "$p" || exit 5; fi
            """#
        let m = (mode != nil && !noFollow) ? RemoteFileSystem.chmodArgument(mode!) : ""
        let result = try await fs.sh(script, [path, chownSpec ?? "", m, noFollow ? "1" : ""], what: "setting attributes", allowFailure: true)
        switch result.exitStatus {
        case 0: return
        case 6: throw FileModuleError.commandFailed("chown failed on \(path)", 6, result.stderrText)
        case 5: throw FileModuleError.commandFailed("chmod failed on \(path)", 5, result.stderrText)
        default: throw FileModuleError.commandFailed("setting attributes of \(path) failed", result.exitStatus, result.stderrText)
        }
    }
}

/// The attributes a new file or directory gets when nothing is asked: `0666`/`0777` less the
/// umask, owned by the connecting user.
func defaultAttributes(for kind: StatRecord.Kind, _ facts: TargetFacts) -> StatRecord {
    let base = kind == .directory ? 0o777 : 0o666
    return StatRecord(kind: kind, mode: base & ~facts.umask & 0o7777, uid: facts.euid, gid: facts.egid)
}
