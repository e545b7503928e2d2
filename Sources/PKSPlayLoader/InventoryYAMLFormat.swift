import PKSPlayCore

/// Ansible's YAML inventory format (the `yaml` inventory plugin of ansible-core 2.19).
///
/// ```yaml
/// all:
///   hosts:
///     solo:                       # a host with no variables
///   vars: {ntp: ntp.example.com}
///   children:
///     web:
///       hosts:
///         web[01:03]:             # ranges expand to web01, web02, web03
///           http_port: 8080
///         db1:2222:               # host:port sets ansible_port
/// other_group:                     # groups may also sit at the top level
///   hosts: web01                   # a single host may be a plain string
/// ```
/// Where Ansible only warns and skips (an unknown key in a group, a group that is not a mapping),
/// we report an error: the data would be silently lost, which is never what the user meant.
enum InventoryYAMLFormat {
    private static let sections = ["hosts", "vars", "children"]

    /// Parses a YAML inventory document into `builder`, collecting every problem.
    static func parse(_ document: YAMLDocument, into builder: inout InventoryBuilder) {
        builder.diagnostics += document.warnings
        let root = document.root
        if document.isEmpty { return }
        guard root.kind == .mapping else {
            builder.error(
                "a YAML inventory must be a mapping of group names, not \(root.kindDescription)", at: root.location,
                hint: "start with `all:` and list hosts under `hosts:`, e.g.\nall:\n  hosts:\n    web1:")
            return
        }
        if root.entry("plugin") != nil {
            builder.error(
                "this is an inventory plugin configuration (it has a 'plugin' key); pksplay reads static inventories only",
                at: root.entry("plugin")?.key.location,
                hint: "export the inventory with `ansible-inventory -i THIS --list --yaml > hosts.yml` and use that file")
            return
        }
        for entry in root.entries {
            if sections.contains(entry.name) {
                builder.error(
                    "'\(entry.name)' at the top level of a YAML inventory would be a group named '\(entry.name)'",
                    at: entry.key.location, hint: "put it under a group, e.g.\nall:\n  \(entry.name):\n    ...")
                continue
            }
            parseGroup(entry, into: &builder)
        }
    }

    /// A group, its sections and its children (Ansible's `_parse_group`); returns the group's name.
    @discardableResult
    private static func parseGroup(_ entry: YAMLMappingEntry, into builder: inout InventoryBuilder) -> String? {
        guard case .string(let name) = entry.key.value, !name.isEmpty else {
            builder.error(
                "a group name must be a non-empty string, not \(entry.key.kindDescription) '\(entry.name)'", at: entry.key.location,
                hint: "quote the name: \"\(entry.name)\":")
            return nil
        }
        let data = entry.value
        guard data.kind == .mapping || data.value.isNull else {
            builder.error(
                "group '\(name)' must be a mapping with hosts, vars and children, not \(data.kindDescription)", at: data.location,
                hint: name == "hosts" || name == "vars" || name == "children"
                    ? "'\(name)' belongs inside a group, e.g. under `all:`"
                    : "write it as\n\(name):\n  hosts:\n    host1:")
            return nil
        }
        builder.addGroup(name, at: entry.key.location)
        for section in data.entries {
            let content = section.value
            switch section.name {
            case "vars":
                for variable in entries(of: content, section: "vars", group: name, into: &builder) {
                    builder.setGroupVariable(name, variable.name, variable.value.value, at: variable.key.location)
                }
            case "children":
                for child in entries(of: content, section: "children", group: name, into: &builder) {
                    if let childName = parseGroup(child, into: &builder) {
                        builder.addChild(childName, to: name, at: child.key.location)
                    }
                }
            case "hosts":
                for host in entries(of: content, section: "hosts", group: name, into: &builder) {
                    parseHost(host, group: name, into: &builder)
                }
            default:
                let suggestion = closestMatch(to: section.name, in: sections)
                builder.error(
                    "unknown key '\(section.name)' in group '\(name)'", at: section.key.location,
                    hint: suggestion.map { "did you mean '\($0)'?" }
                        ?? "a group holds only hosts, vars and children; put variables under `vars:`")
            }
        }
        return name
    }

    /// The entries of a `hosts`, `vars` or `children` section: a mapping, a lone string (one key with no
    /// value, as Ansible allows), or nothing.
    private static func entries(
        of content: YAMLNode, section: String, group: String, into builder: inout InventoryBuilder
    ) -> [YAMLMappingEntry] {
        switch content.kind {
        case .mapping:
            return content.entries
        case .scalar:
            if content.value.isNull { return [] }
            if case .string = content.value {
                return [YAMLMappingEntry(name: content.value.stringified, key: content, value: .null(at: content.location))]
            }
        case .sequence:
            break
        }
        let example: String
        switch section {
        case "hosts": example = "a mapping of host names, each followed by ':'\n  hosts:\n    web1:\n    web2:"
        case "children": example = "a mapping of group names, each followed by ':'\n  children:\n    web:\n    db:"
        default: example = "a mapping of names to values\n  vars:\n    http_port: 80"
        }
        builder.error(
            "'\(section)' of group '\(group)' must be a mapping, not \(content.kindDescription)", at: content.location,
            hint: "write \(example)")
        return []
    }

    private static func parseHost(_ entry: YAMLMappingEntry, group: String, into builder: inout InventoryBuilder) {
        guard case .string(let pattern) = entry.key.value, !pattern.isEmpty else {
            builder.error(
                "host name '\(entry.name)' must be a string, not \(entry.key.kindDescription)", at: entry.key.location,
                hint: "enclose numbers in quotes: \"\(entry.name)\":")
            return
        }
        let variables: [YAMLMappingEntry]
        switch entry.value.kind {
        case .mapping:
            variables = entry.value.entries
        case .scalar where entry.value.value.isNull:
            variables = []
        default:
            builder.error(
                "the variables of host '\(pattern)' must be a mapping, not \(entry.value.kindDescription)", at: entry.value.location,
                hint: "write\n    \(pattern):\n      name: value\n(a host without variables ends with ':' and nothing after it)")
            return
        }
        let expanded: (hosts: [String], port: Int?)
        do {
            expanded = try InventoryHostRange.expand(pattern)
        } catch {
            builder.error(error.message, at: entry.key.location, hint: error.hint)
            return
        }
        for host in expanded.hosts {
            builder.addHost(host, group: group, port: expanded.port, at: entry.key.location)
            for variable in variables { builder.setHostVariable(host, variable.name, variable.value.value) }
        }
    }
}
