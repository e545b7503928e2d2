import Foundation

/// A host in the inventory, with the variables the inventory files give it directly.
public struct InventoryHost: Sendable, Hashable {
    public var name: String
    /// Host variables from the inventory files (host lines, `hosts:` entries, `add_host`), including
    /// `inventory_file` and `inventory_dir` as Ansible sets them.
    public var vars: ValueDict
    /// Where the host was first defined.
    public var location: SourceLocation?

    public init(name: String, vars: ValueDict = [:], location: SourceLocation? = nil) {
        self.name = name
        self.vars = vars
        self.location = location
    }
}

/// A group of hosts and child groups, with the variables the inventory files give it.
public struct InventoryGroup: Sendable, Hashable {
    public var name: String
    /// Hosts listed directly in this group, in the order they were added (children's hosts not included).
    public var hosts: [String]
    /// Direct child groups, in the order they were added.
    public var children: [String]
    public var vars: ValueDict
    /// `ansible_group_priority`: among groups at the same depth, a higher priority merges later and wins.
    /// Ansible keeps it out of the group's variables, and so do we.
    public var priority: Int
    /// Where the group was first defined.
    public var location: SourceLocation?

    public init(
        name: String, hosts: [String] = [], children: [String] = [], vars: ValueDict = [:], priority: Int = 1,
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.hosts = hosts
        self.children = children
        self.vars = vars
        self.priority = priority
        self.location = location
    }
}

/// Variables read from one `group_vars/` and `host_vars/` pair of folders.
///
/// Layers are kept apart (not merged into the inventory) because Ansible gives them their own place in
/// the precedence order: every inventory-adjacent layer before every playbook-adjacent one.
public struct InventoryVarsLayer: Sendable, Hashable {
    /// Beside an inventory source, or beside the playbook.
    public enum Stage: String, Sendable, Hashable { case inventory, playbook }

    public var stage: Stage
    /// The folder that holds `group_vars/` and `host_vars/`.
    public var directory: String
    /// Group name → its variables, every file of the group already merged in Ansible's order.
    public var groupVars: [String: ValueDict]
    /// Host name → its variables.
    public var hostVars: [String: ValueDict]

    public init(stage: Stage, directory: String, groupVars: [String: ValueDict] = [:], hostVars: [String: ValueDict] = [:]) {
        self.stage = stage
        self.directory = directory
        self.groupVars = groupVars
        self.hostVars = hostVars
    }
}

/// The hosts and groups a run can target, with their inventory variables. No I/O: the loader fills it.
///
/// Behaviour follows Ansible's `InventoryData`/`InventoryManager` (ansible-core 2.19): the groups `all`
/// and `ungrouped` always exist, every group without a parent is a child of `all`, a host in no group
/// (or only in `all`) is in `ungrouped`, and `localhost` is implicit when the inventory does not name it.
public struct Inventory: Sendable {
    public var hosts: [String: InventoryHost]
    /// Host names in definition order.
    public var hostOrder: [String]
    /// Always has "all" and "ungrouped".
    public var groups: [String: InventoryGroup]
    /// Group names in definition order (Ansible matches patterns against groups in this order).
    public var groupOrder: [String]
    /// `group_vars/` and `host_vars/` folders in load order: inventory-adjacent ones first, then
    /// playbook-adjacent ones (``variables(for:)`` orders them by stage whatever the load order).
    public var varsLayers: [InventoryVarsLayer]
    /// Problems worth telling the user that did not stop the load (duplicate YAML keys, a name used
    /// for both a host and a group...).
    public var warnings: [Diagnostic]

    /// The names Ansible treats as the control machine (`C.LOCALHOST`).
    public static let localhostNames: Set<String> = ["localhost", "127.0.0.1", "::1"]

    public init() {
        hosts = [:]
        hostOrder = []
        groups = [
            "all": InventoryGroup(name: "all", children: ["ungrouped"]),
            "ungrouped": InventoryGroup(name: "ungrouped"),
        ]
        groupOrder = ["all", "ungrouped"]
        varsLayers = []
        warnings = []
    }

    /// Group name → variables from every `group_vars/` folder, later folders winning per name.
    ///
    /// A merged view of ``varsLayers``. Setting it replaces all layers' group variables with one
    /// inventory-stage layer (host variables are kept in that layer too, merged the same way).
    public var groupVarsFiles: [String: ValueDict] {
        get { mergedLayers(\.groupVars) }
        set { flattenLayers(groupVars: newValue, hostVars: hostVarsFiles) }
    }

    /// Host name → variables from every `host_vars/` folder, later folders winning per name.
    ///
    /// A merged view of ``varsLayers``; setting it flattens the layers as ``groupVarsFiles`` does.
    public var hostVarsFiles: [String: ValueDict] {
        get { mergedLayers(\.hostVars) }
        set { flattenLayers(groupVars: groupVarsFiles, hostVars: newValue) }
    }

    private func mergedLayers(_ part: KeyPath<InventoryVarsLayer, [String: ValueDict]>) -> [String: ValueDict] {
        var out: [String: ValueDict] = [:]
        for layer in orderedLayers {
            for (name, vars) in layer[keyPath: part] { out[name, default: [:]].merge(vars) }
        }
        return out
    }

    private mutating func flattenLayers(groupVars: [String: ValueDict], hostVars: [String: ValueDict]) {
        varsLayers = [InventoryVarsLayer(stage: .inventory, directory: "", groupVars: groupVars, hostVars: hostVars)]
    }

    private var orderedLayers: [InventoryVarsLayer] {
        varsLayers.filter { $0.stage == .inventory } + varsLayers.filter { $0.stage == .playbook }
    }

    // MARK: - Order and relationships

    /// Host names in definition order; hosts added to ``hosts`` without ``hostOrder`` come last, sorted.
    public var orderedHostNames: [String] {
        Inventory.ordered(hostOrder, existing: hosts.keys)
    }

    /// Group names in definition order; groups missing from ``groupOrder`` come last, sorted.
    public var orderedGroupNames: [String] {
        Inventory.ordered(groupOrder, existing: groups.keys)
    }

    private static func ordered(_ order: [String], existing: Dictionary<String, some Any>.Keys) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for name in order where existing.contains(name) && seen.insert(name).inserted { out.append(name) }
        if out.count < existing.count {
            out += existing.filter { !seen.contains($0) }.sorted(by: pythonLess)
        }
        return out
    }

    /// Whether `name` is the implicit control-machine host: a localhost name the inventory does not define.
    public func isImplicitLocalhost(_ name: String) -> Bool {
        hosts[name] == nil && Inventory.localhostNames.contains(name)
    }

    private func parentsMap() -> [String: [String]] {
        var parents: [String: [String]] = [:]
        for name in orderedGroupNames {
            for child in groups[name]?.children ?? [] where !(parents[child]?.contains(name) ?? false) {
                parents[child, default: []].append(name)
            }
        }
        return parents
    }

    /// Every group the host belongs to, directly or through a parent group, `all` included.
    private func allGroups(of host: String, parents: [String: [String]], direct: [String: [String]]? = nil) -> Set<String> {
        var result = Set<String>()
        var queue: [String] = []
        let directGroups = direct.map { $0[host] ?? [] } ?? orderedGroupNames.filter { groups[$0]?.hosts.contains(host) ?? false }
        for name in directGroups where result.insert(name).inserted { queue.append(name) }
        while let group = queue.popLast() {
            for parent in parents[group] ?? [] where result.insert(parent).inserted { queue.append(parent) }
        }
        return result
    }

    /// Group relations computed once and shared by every host's variables.
    private struct Relations {
        var parents: [String: [String]]
        var depth: [String: Int]
        /// Host → groups that list it directly.
        var direct: [String: [String]]
    }

    private func relations() -> Relations {
        let parents = parentsMap()
        var direct: [String: [String]] = [:]
        for name in orderedGroupNames {
            for host in groups[name]?.hosts ?? [] { direct[host, default: []].append(name) }
        }
        return Relations(parents: parents, depth: depths(parents: parents), direct: direct)
    }

    /// Depth of each group as Ansible counts it: the longest chain of parents up to a root (`all` is 0).
    private func depths(parents: [String: [String]]) -> [String: Int] {
        // Longest paths in topological order (Kahn); groups on a cycle someone built by hand keep the
        // depth their other parents give them, so nothing loops.
        var children: [String: [String]] = [:]
        var waiting: [String: Int] = [:]
        for name in orderedGroupNames {
            let ps = (parents[name] ?? []).filter { groups[$0] != nil }
            waiting[name] = ps.count
            for p in ps { children[p, default: []].append(name) }
        }
        var depth: [String: Int] = [:]
        var ready = orderedGroupNames.filter { waiting[$0] == 0 }
        for name in ready { depth[name] = 0 }
        while let name = ready.popLast() {
            for child in children[name] ?? [] {
                depth[child] = max(depth[child] ?? 0, (depth[name] ?? 0) + 1)
                waiting[child, default: 1] -= 1
                if waiting[child] == 0 { ready.append(child) }
            }
        }
        return depth
    }

    /// Groups sorted as Ansible's `sort_groups`: by depth, then priority, then name.
    private func sortedForMerge(_ names: some Sequence<String>, depth: [String: Int]) -> [String] {
        names.sorted { a, b in
            let da = depth[a] ?? 0, db = depth[b] ?? 0
            if da != db { return da < db }
            let pa = groups[a]?.priority ?? 1, pb = groups[b]?.priority ?? 1
            if pa != pb { return pa < pb }
            return Inventory.pythonLess(a, b)
        }
    }

    /// Hosts of a group and of all its descendants, in the order Ansible's `Group.get_hosts()` gives them:
    /// the group's own hosts, then its children's, then grandchildren's, level by level.
    public func hostsOfGroup(_ name: String) -> [String] {
        guard groups[name] != nil else { return [] }
        var ordered = [name]
        var seenGroups: Set<String> = [name]
        for child in groups[name]?.children ?? [] where seenGroups.insert(child).inserted { ordered.append(child) }
        var level = Array(ordered.dropFirst())
        while !level.isEmpty {
            var next: [String] = []
            for group in level {
                for child in groups[group]?.children ?? [] where seenGroups.insert(child).inserted {
                    ordered.append(child)
                    next.append(child)
                }
            }
            level = next
        }
        var seenHosts = Set<String>()
        var out: [String] = []
        for group in ordered {
            for host in groups[group]?.hosts ?? [] where seenHosts.insert(host).inserted { out.append(host) }
        }
        return out
    }

    // MARK: - Magic variables

    /// Group names of a host as Ansible's `group_names`: every group it is in, directly or through a
    /// parent, sorted, without `all`. A host in no other group gets `["ungrouped"]` (Ansible does the
    /// same); the implicit localhost and unknown hosts get `[]`.
    public func groupNames(of host: String) -> [String] {
        guard hosts[host] != nil else { return [] }
        return allGroups(of: host, parents: parentsMap()).filter { $0 != "all" }.sorted(by: Inventory.pythonLess)
    }

    /// The `groups` magic variable: every group (`all` and `ungrouped` included) → its hosts, transitively.
    public func groupsMagicVariable() -> ValueDict {
        var out = ValueDict()
        for name in orderedGroupNames {
            out[name] = .list(hostsOfGroup(name).map { .string($0) })
        }
        return out
    }

    // MARK: - Variables

    /// The inventory variables of a host, merged in Ansible's precedence, lowest first.
    ///
    /// Inventory-file vars of `all`, then of the host's other groups sorted by depth, priority and
    /// name; then `group_vars/all` (inventory-adjacent folders, then playbook-adjacent), then the other
    /// groups' `group_vars/` in the same group order (inventory-adjacent, then playbook-adjacent); then
    /// the host's own inventory vars; then `host_vars/` (inventory-adjacent, then playbook-adjacent).
    /// Merges are shallow, as Ansible's default `hash_behaviour=replace`. Magic variables
    /// (`inventory_hostname`, `group_names`, `groups`...) are not included: the engine adds them.
    /// The implicit localhost gets `all`'s group variables and `ansible_connection: local`.
    public func variables(for host: String) -> ValueDict {
        variables(for: host, relations: relations())
    }

    /// ``variables(for:)`` of every host (implicit localhost excluded), computing the group relations
    /// once: use it rather than a loop over ``variables(for:)`` on large inventories.
    public func variablesByHost() -> [String: ValueDict] {
        let shared = relations()
        var out: [String: ValueDict] = [:]
        for host in hosts.keys { out[host] = variables(for: host, relations: shared) }
        return out
    }

    private func variables(for host: String, relations: Relations) -> ValueDict {
        let implicit = isImplicitLocalhost(host)
        let memberOf = implicit ? [] : allGroups(of: host, parents: relations.parents, direct: relations.direct)
        let hostGroups = sortedForMerge(memberOf.filter { $0 != "all" }, depth: relations.depth)
        let inventoryLayers = varsLayers.filter { $0.stage == .inventory }
        let playbookLayers = varsLayers.filter { $0.stage == .playbook }

        var vars = groups["all"]?.vars ?? [:]
        for group in hostGroups { vars.merge(groups[group]?.vars ?? [:]) }
        for layer in inventoryLayers + playbookLayers { vars.merge(layer.groupVars["all"] ?? [:]) }
        for layers in [inventoryLayers, playbookLayers] {
            for layer in layers {
                for group in hostGroups { vars.merge(layer.groupVars[group] ?? [:]) }
            }
        }
        if implicit {
            // Ansible makes the implicit host after reconciling, so `all`'s vars are not folded into
            // its own a second time: only the local connection.
            vars["ansible_connection"] = "local"
        } else {
            vars.merge(hosts[host]?.vars ?? [:])
        }
        for layer in inventoryLayers + playbookLayers { vars.merge(layer.hostVars[host] ?? [:]) }
        return vars
    }

    // MARK: - Changes

    /// Adds a group if it is not there yet; returns whether it was added.
    @discardableResult
    public mutating func addGroup(_ name: String, location: SourceLocation? = nil) -> Bool {
        guard groups[name] == nil else { return false }
        groups[name] = InventoryGroup(name: name, location: location)
        groupOrder.append(name)
        return true
    }

    /// Adds a host to the in-memory inventory as Ansible's `add_host` does; returns whether anything changed.
    ///
    /// A new host goes into `all`; `vars` are merged over the host's (shallow); missing groups are
    /// created; then the inventory is reconciled (new groups under `all`, `ungrouped` kept right).
    /// Do not use it for the implicit localhost: Ansible keeps that one out of `all`, and so does
    /// ``hosts(matching:)`` (see ``isImplicitLocalhost(_:)``).
    @discardableResult
    public mutating func addHost(_ name: String, groups newGroups: [String], vars: ValueDict) -> Bool {
        var changed = false
        if hosts[name] == nil {
            // As Ansible's add_host outside any inventory source: the source variables exist but are null.
            hosts[name] = InventoryHost(name: name, vars: ["inventory_file": .null, "inventory_dir": .null])
            hostOrder.append(name)
            groups["all"]?.hosts.append(name)
            changed = true
        }
        if let old = hosts[name]?.vars {
            let merged = old.merging(vars)
            if merged != old || merged.keys != old.keys {
                hosts[name]?.vars = merged
                changed = true
            }
        }
        for group in newGroups {
            if addGroup(group) { changed = true }
            if !(groups[group]?.hosts.contains(name) ?? true) {
                groups[group]?.hosts.append(name)
                changed = true
            }
        }
        if changed { reconcile() }
        return changed
    }

    /// Restores the rules Ansible's `reconcile_inventory` keeps after every change.
    ///
    /// `all` and `ungrouped` exist; every group without a parent becomes a child of `all`; a host that
    /// is in another group besides `all`/`ungrouped` leaves `ungrouped`; a host in no group but `all`
    /// joins `ungrouped`.
    public mutating func reconcile() {
        addGroup("all")
        addGroup("ungrouped")
        let parents = parentsMap()
        for name in orderedGroupNames where name != "all" && (parents[name] ?? []).isEmpty {
            groups["all"]?.children.append(name)
        }
        let shared = relations()
        for host in orderedHostNames {
            let memberOf = allGroups(of: host, parents: shared.parents, direct: shared.direct)
            let inUngrouped = groups["ungrouped"]?.hosts.contains(host) ?? false
            if inUngrouped {
                if !memberOf.subtracting(["all", "ungrouped"]).isEmpty {
                    groups["ungrouped"]?.hosts.removeAll { $0 == host }
                }
            } else if memberOf.subtracting(["all"]).isEmpty {
                groups["ungrouped"]?.hosts.append(host)
            }
        }
        let both = Set(groups.keys).intersection(hosts.keys)
        for name in both.sorted() {
            let message = "found both a group and a host named '\(name)'"
            if !warnings.contains(where: { $0.message == message }) {
                warnings.append(Diagnostic(
                    message, at: hosts[name]?.location,
                    hint: "a pattern with this name selects only the host, not the group's hosts; rename one of them",
                    severity: .warning))
            }
        }
    }

    // MARK: - Host patterns

    /// Hosts matching an Ansible host pattern, in Ansible's order, with warnings for names that match nothing.
    ///
    /// Accepts `all`, `*`, host and group names, globs (`web*`, `db?`, `[a-c]*`), `~regex` (matched from
    /// the start of the name), lists separated by `,` or `:` (`a:b`, `a,b`), `&x` intersections and `!x`
    /// exclusions (applied after every plain term, as Ansible does), and subscripts `group[0]`,
    /// `group[-1]`, `group[1:3]` (inclusive), `group[2:]`. A group name selects its hosts and its
    /// children's. `localhost` (or `127.0.0.1`, `::1`) matches the implicit local host when the
    /// inventory does not define it. An unknown name matches nothing and yields the warning Ansible prints.
    /// Throws a ``Diagnostic`` for an invalid regex or a subscript past the end of the hosts.
    public func hosts(matching pattern: String) throws -> (hosts: [String], warnings: [String]) {
        var warnings: [String] = []
        var result: [String] = []
        for term in Inventory.orderPatterns(Inventory.splitHostPattern(pattern)) {
            if hosts[term] != nil {
                result.append(term)
                continue
            }
            let matched = try matchOnePattern(term, warnings: &warnings)
            if term.hasPrefix("!") {
                let excluded = Set(matched)
                result.removeAll { excluded.contains($0) }
            } else if term.hasPrefix("&") {
                let kept = Set(matched)
                result.removeAll { !kept.contains($0) }
            } else {
                let existing = Set(result)
                result += matched.filter { !existing.contains($0) }
            }
        }
        var seen = Set<String>()
        return (result.filter { seen.insert($0).inserted }, warnings)
    }

    /// Splits a pattern into terms as Ansible's `split_host_pattern`: on commas when there are any,
    /// else on colons unless the whole pattern is one address (an IPv6 address, `host:port`, a range).
    public static func splitHostPattern(_ pattern: String) -> [String] {
        let terms: [String]
        if pattern.contains(",") {
            terms = pattern.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        } else if InventoryHostAddress.parse(pattern, allowRanges: true) != nil {
            terms = [pattern]
        } else {
            terms = colonSeparatedTerms(pattern)
        }
        return terms.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Ansible's fallback split: runs of characters other than whitespace and `:[]`, where a complete
    /// `[...]` counts as one character so that `web[1:3]` stays whole.
    private static func colonSeparatedTerms(_ pattern: String) -> [String] {
        let chars = Array(pattern)
        var terms: [String] = []
        var current = ""
        var i = 0
        func flush() {
            if !current.isEmpty { terms.append(current) }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            if c == "[" {
                if let close = chars[(i + 1)...].firstIndex(of: "]") {
                    current += String(chars[i...close])
                    i = close + 1
                    continue
                }
                flush()
            } else if c == ":" || c == "]" || c.isWhitespace {
                flush()
            } else {
                current.append(c)
            }
            i += 1
        }
        flush()
        return terms
    }

    /// Plain terms first, then `&` intersections, then `!` exclusions; `all` when there is no plain term.
    static func orderPatterns(_ terms: [String]) -> [String] {
        let regular = terms.filter { !$0.hasPrefix("!") && !$0.hasPrefix("&") }
        let intersections = terms.filter { $0.hasPrefix("&") }
        let exclusions = terms.filter { $0.hasPrefix("!") }
        return (regular.isEmpty ? ["all"] : regular) + intersections + exclusions
    }

    private func matchOnePattern(_ term: String, warnings: inout [String]) throws -> [String] {
        let bare = term.hasPrefix("&") || term.hasPrefix("!") ? String(term.dropFirst()) : term
        guard !bare.isEmpty else { return [] }
        let (expression, slice) = Inventory.splitSubscript(bare, warnings: &warnings)
        let matched = try enumerateMatches(expression, warnings: &warnings)
        guard let slice, !matched.isEmpty else { return matched }
        if let end = slice.end, end != 0 {
            let last = end == -1 ? matched.count - 1 : end
            guard slice.start <= last, slice.start < matched.count else { return [] }
            return Array(matched[slice.start...min(last, matched.count - 1)])
        }
        let index = slice.start < 0 ? matched.count + slice.start : slice.start
        guard matched.indices.contains(index) else {
            throw Diagnostic(
                "no hosts matched the subscripted pattern '\(bare)'", at: nil,
                hint: "'\(expression)' matches \(matched.count) host\(matched.count == 1 ? "" : "s"); subscripts count from 0")
        }
        return [matched[index]]
    }

    /// `group[3]`, `group[-1]`, `group[1:3]`, `group[2:]`, and the old `group[1-3]` (with a warning).
    static func splitSubscript(_ pattern: String, warnings: inout [String]) -> (String, (start: Int, end: Int?)?) {
        guard !pattern.hasPrefix("~"), pattern.hasSuffix("]"), let open = pattern.lastIndex(of: "["),
            open > pattern.startIndex
        else { return (pattern, nil) }
        let inside = pattern[pattern.index(after: open)..<pattern.index(before: pattern.endIndex)]
        let head = String(pattern[..<open])
        let digits = CharacterSet(charactersIn: "0123456789")
        func isNumber<S: StringProtocol>(_ s: S) -> Bool {
            !s.isEmpty && s.unicodeScalars.allSatisfy { digits.contains($0) }
        }
        if let index = Int(inside), isNumber(inside.hasPrefix("-") ? inside.dropFirst() : inside[...]) {
            return (head, (index, nil))
        }
        guard let sep = inside.firstIndex(where: { $0 == ":" || $0 == "-" }) else { return (pattern, nil) }
        let startText = inside[..<sep], endText = inside[inside.index(after: sep)...]
        guard isNumber(startText), endText.isEmpty || isNumber(endText), let start = Int(startText) else {
            return (pattern, nil)
        }
        if inside[sep] == "-" {
            warnings.append("Use [x:y] inclusive subscripts instead of [x-y] which has been removed")
        }
        return (head, (start, endText.isEmpty ? -1 : Int(endText) ?? -1))
    }

    private func enumerateMatches(_ expression: String, warnings: inout [String]) throws -> [String] {
        let matcher = try InventoryNameMatcher(expression)
        var results: [String] = []
        let matchingGroups = orderedGroupNames.filter { matcher.matches($0) }
        for group in matchingGroups { results += hostsOfGroup(group) }
        if matchingGroups.isEmpty || expression.hasPrefix("~")
            || expression.contains(where: { ".?*[".contains($0) })
        {
            results += orderedHostNames.filter { matcher.matches($0) }
        }
        if results.isEmpty && Inventory.localhostNames.contains(expression) {
            // Ansible hands out a localhost-like host the inventory defines before making an implicit one.
            results.append(orderedHostNames.first { Inventory.localhostNames.contains($0) } ?? expression)
        }
        if results.isEmpty && matchingGroups.isEmpty && expression != "all" {
            warnings.append("Could not match supplied host pattern, ignoring: \(expression)")
        }
        return results
    }

    /// Python's string order (by code point), which Ansible's `sorted()` uses.
    static func pythonLess(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}

/// Matches inventory names against one pattern term: `~regex` (anchored at the start, like Python's
/// `re.match`) or a shell glob with Python `fnmatch` rules (case-sensitive, whole name).
struct InventoryNameMatcher {
    private enum GlobToken {
        case literal(Character)
        case any
        case star
        case set(negated: Bool, items: [(ClosedRange<Character>)])
    }

    private let regex: NSRegularExpression?
    private let tokens: [GlobToken]

    init(_ pattern: String) throws {
        if pattern.hasPrefix("~") {
            let source = InventoryNameMatcher.pythonRegexToICU(String(pattern.dropFirst()))
            do {
                regex = try NSRegularExpression(pattern: source)
            } catch {
                throw Diagnostic(
                    "invalid host pattern '\(pattern)': the regular expression does not compile", at: nil,
                    hint: "a pattern starting with '~' is a regular expression; escape special characters such as '[' or '(' with '\\'")
            }
            tokens = []
        } else {
            regex = nil
            tokens = InventoryNameMatcher.globTokens(pattern)
        }
    }

    func matches(_ name: String) -> Bool {
        if let regex {
            let range = NSRange(name.startIndex..., in: name)
            return regex.firstMatch(in: name, options: [.anchored], range: range) != nil
        }
        return globMatch(Array(name))
    }

    /// Python named groups (`(?P<n>...)`, `(?P=n)`) in ICU spelling; the rest of the syntax is shared.
    private static func pythonRegexToICU(_ source: String) -> String {
        var s = source.replacingOccurrences(of: "(?P<", with: "(?<")
        while let range = s.range(of: "(?P=") {
            guard let close = s[range.upperBound...].firstIndex(of: ")") else { break }
            let name = s[range.upperBound..<close]
            s.replaceSubrange(range.lowerBound...close, with: "\\k<\(name)>")
        }
        return s
    }

    private static func globTokens(_ pattern: String) -> [GlobToken] {
        let chars = Array(pattern)
        var out: [GlobToken] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            i += 1
            switch c {
            case "*":
                if case .star? = out.last { continue }
                out.append(.star)
            case "?":
                out.append(.any)
            case "[":
                // As fnmatch: `]` right after `[` or `[!` is a member; no closing `]` makes `[` literal.
                var j = i
                if j < chars.count && chars[j] == "!" { j += 1 }
                if j < chars.count && chars[j] == "]" { j += 1 }
                while j < chars.count && chars[j] != "]" { j += 1 }
                guard j < chars.count else {
                    out.append(.literal("["))
                    continue
                }
                var body = Array(chars[i..<j])
                i = j + 1
                let negated = body.first == "!"
                if negated { body.removeFirst() }
                var items: [ClosedRange<Character>] = []
                var k = 0
                while k < body.count {
                    if k + 2 < body.count && body[k + 1] == "-" {
                        if body[k] <= body[k + 2] { items.append(body[k]...body[k + 2]) }
                        k += 3
                    } else {
                        items.append(body[k]...body[k])
                        k += 1
                    }
                }
                out.append(.set(negated: negated, items: items))
            default:
                out.append(.literal(c))
            }
        }
        return out
    }

    /// Glob matching by dynamic programming over (token, character) so no pattern can go exponential.
    private func globMatch(_ name: [Character]) -> Bool {
        var reachable = [Bool](repeating: false, count: name.count + 1)
        reachable[0] = true
        for token in tokens {
            var next = [Bool](repeating: false, count: name.count + 1)
            switch token {
            case .star:
                var any = false
                for j in 0...name.count {
                    any = any || reachable[j]
                    next[j] = any
                }
            default:
                for j in 0..<name.count where reachable[j] && accepts(token, name[j]) { next[j + 1] = true }
            }
            reachable = next
        }
        return reachable[name.count]
    }

    private func accepts(_ token: GlobToken, _ c: Character) -> Bool {
        switch token {
        case .literal(let l): return l == c
        case .any: return true
        case .star: return true
        case .set(let negated, let items): return items.contains { $0.contains(c) } != negated
        }
    }
}

/// Ansible's `parse_address`: splits `host:port`, `[host]:port`, IPv4 and IPv6 addresses and host names
/// (optionally with `[1:3]`/`[a:f]` ranges) and rejects anything that is none of these.
public enum InventoryHostAddress {
    private static let numericRange = #"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"#
    private static let hexRange = #"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"#
    private static let alnumRange = #"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"#
    private static let ipv6Component = "(?:[0-9a-f]{1,4}|\(hexRange))"
    private static let ipv4Component = "(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|\(numericRange))"
    private static let label = #"(?:[\w]|\#(alnumRange))(?:[\w_-]|\#(alnumRange))*(?<![_-])"#

    private static let bracketedHostPort = compile(#"^\[(.+)\]:([0-9]+)$"#)
    private static let hostPort = compile(#"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$"#)
    private static let ipv4 = compile("^(?:\(ipv4Component)\\.){3}\(ipv4Component)$", caseInsensitive: true)
    private static let ipv6: NSRegularExpression? = {
        let c = ipv6Component
        let v4 = "(?:\(c)\\.){3}\(c)"
        let alternatives = [
            "(?:\(c):){7}\(c)", "(?:\(c):){1,6}:", "(?:\(c):)(?::\(c)){1,6}", "(?:\(c):){2}(?::\(c)){1,5}",
            "(?:\(c):){3}(?::\(c)){1,4}", "(?:\(c):){4}(?::\(c)){1,3}", "(?:\(c):){5}(?::\(c)){1,2}",
            "(?:\(c):){6}(?::\(c))", ":(?::\(c)){1,6}", "\(c)?::", "(?:0:){6}\(v4)", "::(?:ffff:)?\(v4)",
            "(?:0:){5}ffff:\(v4)",
        ]
        return compile("^(" + alternatives.joined(separator: "|") + ")$", caseInsensitive: true)
    }()
    private static let hostname = compile("^\(label)(?:\\.\(label))*$", caseInsensitive: true)

    private static func compile(_ pattern: String, caseInsensitive: Bool = false) -> NSRegularExpression? {
        try? NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
    }

    private static func groups(_ regex: NSRegularExpression?, _ s: String) -> [String]? {
        guard let regex, let m = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) else { return nil }
        return (0..<m.numberOfRanges).map { i in
            Range(m.range(at: i), in: s).map { String(s[$0]) } ?? ""
        }
    }

    /// The common case without the regular expressions (compiling them costs a few milliseconds of
    /// every run's start): an ASCII host name or IPv4 address, letters, digits, `.`, `-` and `_`
    /// only, with an optional `:port`. Returns nil for anything else, and ``parse(_:allowRanges:)``
    /// then decides with Ansible's expressions. For such text the verdict is the same: every IPv4
    /// address is also a valid host name there, and a host name is dot-separated labels, none
    /// empty, none starting with `-`, none ending with `-` or `_`.
    static func parseSimple(_ address: String) -> (host: String, port: Int?)? {
        let bytes = Array(address.utf8)
        var hostEnd = bytes.count
        var port: Int?
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let digits = bytes[(colon + 1)...]
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            hostEnd = colon
            port = Int(String(decoding: digits, as: UTF8.self))
        }
        let host = bytes[..<hostEnd]
        guard !host.isEmpty else { return nil }
        func isWord(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
        }
        guard host.allSatisfy({ isWord($0) || $0 == 0x2D || $0 == 0x2E }) else { return nil }
        for label in host.split(separator: 0x2E, omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last else { return nil }
            if first == 0x2D || last == 0x2D || last == 0x5F { return nil }
        }
        return (String(decoding: host, as: UTF8.self), port)
    }

    /// The host and optional port, or nil when the text is not an address or host name (or has a
    /// range and `allowRanges` is false).
    public static func parse(_ address: String, allowRanges: Bool) -> (host: String, port: Int?)? {
        if let simple = parseSimple(address) { return simple }
        return parseWithExpressions(address, allowRanges: allowRanges)
    }

    static func parseWithExpressions(_ address: String, allowRanges: Bool) -> (host: String, port: Int?)? {
        var address = address
        var port: Int?
        for regex in [bracketedHostPort, hostPort] {
            if let g = groups(regex, address), g.count == 3 {
                address = g[1]
                port = Int(g[2])
            }
        }
        guard [ipv4, ipv6, hostname].contains(where: { groups($0, address) != nil }) else { return nil }
        if !allowRanges && address.contains("[") { return nil }
        return (address, port)
    }
}
