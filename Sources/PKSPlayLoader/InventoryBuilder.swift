import Foundation
import PKSPlayCore

/// Fills an ``Inventory`` the way Ansible's `InventoryData` does while a source is parsed, and collects
/// every problem met as a ``Diagnostic`` instead of stopping at the first.
///
/// A value type on purpose: the loader tries a file as YAML on a copy and keeps the copy only if that
/// reading works, so a failed attempt leaves nothing behind.
struct InventoryBuilder {
    var inventory = Inventory()
    var diagnostics: [Diagnostic] = []
    /// The file (or host list) being read; new hosts get `inventory_file`/`inventory_dir` from it.
    var currentSource: (name: String, directory: String?)?

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    mutating func error(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        diagnostics.append(Diagnostic(message, at: location, hint: hint))
    }

    mutating func warning(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        diagnostics.append(Diagnostic(message, at: location, hint: hint, severity: .warning))
    }

    /// Adds a group if new (Ansible's `add_group`).
    mutating func addGroup(_ name: String, at location: SourceLocation?) {
        inventory.addGroup(name, location: location)
    }

    /// Adds a host if new, and to `group` if given (Ansible's `add_host`). A port only counts when the
    /// host is new, as in Ansible.
    mutating func addHost(_ name: String, group: String?, port: Int?, at location: SourceLocation?) {
        if inventory.hosts[name] == nil {
            var vars = ValueDict()
            if let source = currentSource {
                vars["inventory_file"] = .string(source.name)
                vars["inventory_dir"] = source.directory.map(Value.string) ?? .null
            } else {
                vars["inventory_file"] = .null
                vars["inventory_dir"] = .null
            }
            if let port { vars["ansible_port"] = .int(port) }
            inventory.hosts[name] = InventoryHost(name: name, vars: vars, location: location)
            inventory.hostOrder.append(name)
        }
        if let group, let members = inventory.groups[group]?.hosts, !members.contains(name) {
            inventory.groups[group]?.hosts.append(name)
        }
    }

    mutating func setHostVariable(_ host: String, _ key: String, _ value: Value) {
        inventory.hosts[host]?.vars[key] = value
    }

    /// Sets a group variable; `ansible_group_priority` becomes the group's priority, as in Ansible.
    mutating func setGroupVariable(_ group: String, _ key: String, _ value: Value, at location: SourceLocation?) {
        guard key == "ansible_group_priority" else {
            inventory.groups[group]?.vars[key] = value
            return
        }
        let priority: Int?
        switch value {
        case .int(let i): priority = i
        case .bool(let b): priority = b ? 1 : 0
        case .double(let d) where d.isFinite && abs(d) < 1e18: priority = Int(d)
        case .string(let s): priority = Int(s.trimmingCharacters(in: .whitespaces))
        default: priority = nil
        }
        if let priority {
            inventory.groups[group]?.priority = priority
        } else {
            error(
                "ansible_group_priority of group '\(group)' must be an integer, not \(value.pythonRepr)", at: location,
                hint: "give a whole number; groups with a higher priority merge later and win")
        }
    }

    /// Makes `child` a child group of `parent`; refuses a loop (Ansible: "creates a recursive dependency loop").
    mutating func addChild(_ child: String, to parent: String, at location: SourceLocation?) {
        guard child != parent else {
            error("group '\(parent)' cannot be a child of itself", at: location, hint: "remove '\(child)' from its own children")
            return
        }
        guard let children = inventory.groups[parent]?.children, !children.contains(child) else { return }
        if isDescendant(parent, of: child) {
            error(
                "adding group '\(child)' as a child of '\(parent)' creates a loop: '\(parent)' is already inside '\(child)'",
                at: location, hint: "a group cannot contain, directly or not, a group that contains it")
            return
        }
        inventory.groups[parent]?.children.append(child)
    }

    private func isDescendant(_ group: String, of ancestor: String) -> Bool {
        var seen: Set<String> = [ancestor]
        var queue = [ancestor]
        while let next = queue.popLast() {
            for child in inventory.groups[next]?.children ?? [] where seen.insert(child).inserted {
                if child == group { return true }
                queue.append(child)
            }
        }
        return false
    }
}
