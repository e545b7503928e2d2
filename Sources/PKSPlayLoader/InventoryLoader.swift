import Foundation
import PKSPlayCore

/// Loads Ansible inventories (`-i` sources) into an ``Inventory``, so existing ones work unchanged.
public enum InventoryLoader {
    /// Extensions Ansible skips when it reads every file of an inventory directory.
    static let ignoredSuffixes = [
        ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
    ]
    private static let yamlExtensions = [".yml", ".yaml", ".json"]

    /// Loads and merges several `-i` sources, in order, then reads the `group_vars/`/`host_vars/`
    /// beside each (as inventory-stage ``InventoryVarsLayer``s).
    ///
    /// A source is a file (YAML when it ends in .yml/.yaml/.json; INI for other extensions; without an
    /// extension, YAML if it reads as a YAML mapping, else INI), a directory (every file in it, sorted,
    /// except hidden files, `group_vars`, `host_vars` and Ansible's ignored extensions such as .md and
    /// .txt), or a comma list `host1,host2,` (a trailing comma makes a list of one host). Relative paths
    /// start at `baseDirectory`; `~` is expanded. Throws a ``DiagnosticList`` with every error found
    /// (warnings included); on success the warnings are in ``Inventory/warnings``.
    public static func load(sources: [String], baseDirectory: String) throws -> Inventory {
        var builder = InventoryBuilder()
        var varsDirectories: [String] = []
        for source in sources where !source.trimmingCharacters(in: .whitespaces).isEmpty {
            let path = resolve(source, baseDirectory: baseDirectory)
            let exists = FileManager.default.fileExists(atPath: path)
            if source.contains(",") && !exists {
                loadHostList(source, into: &builder)
                continue
            }
            guard exists else {
                builder.error(
                    "inventory source not found: \(source)", at: SourceLocation(file: path, line: 0, column: 0),
                    hint: source.contains("/") || source.contains(".")
                        ? "check the path (relative paths start at \(baseDirectory))"
                        : "to name hosts directly instead of a file, end the list with a comma: -i '\(source),'")
                continue
            }
            if isDirectory(path) {
                var visited = Set<String>()
                loadDirectory(path, depth: 0, visited: &visited, into: &builder)
                varsDirectories.append(path)
            } else {
                loadFile(path, into: &builder)
                varsDirectories.append((path as NSString).deletingLastPathComponent)
            }
        }
        builder.inventory.reconcile()
        var seen = Set<String>()
        for directory in varsDirectories where seen.insert(canonical(directory)).inserted {
            addVarsLayer(directory: directory, stage: .inventory, into: &builder)
        }
        return try finish(builder)
    }

    /// Loads `group_vars/` and `host_vars/` beside a playbook (`directory` is the playbook's folder) as a
    /// playbook-stage layer, which outranks the inventory-adjacent ones. Loading the same folder twice
    /// replaces the earlier layer. Throws a ``DiagnosticList``; warnings go to ``Inventory/warnings``.
    public static func loadVarsDirectories(into inventory: inout Inventory, directory: String) throws {
        var builder = InventoryBuilder()
        builder.inventory = inventory
        builder.inventory.warnings = []
        builder.inventory.varsLayers.removeAll { $0.stage == .playbook && canonical($0.directory) == canonical(directory) }
        addVarsLayer(directory: directory, stage: .playbook, into: &builder)
        let loaded = try finish(builder)
        inventory.varsLayers = loaded.varsLayers
        inventory.warnings += loaded.warnings
    }

    private static func finish(_ builder: InventoryBuilder) throws -> Inventory {
        var inventory = builder.inventory
        if builder.hasErrors { throw DiagnosticList(builder.diagnostics) }
        inventory.warnings = builder.diagnostics + inventory.warnings
        return inventory
    }

    private static func addVarsLayer(directory: String, stage: InventoryVarsLayer.Stage, into builder: inout InventoryBuilder) {
        let (layer, diagnostics) = InventoryVarsDirectory.load(
            directory: directory, stage: stage, knownGroups: Set(builder.inventory.groups.keys),
            knownHosts: Set(builder.inventory.hosts.keys))
        builder.diagnostics += diagnostics
        if !layer.groupVars.isEmpty || !layer.hostVars.isEmpty {
            builder.inventory.varsLayers.append(layer)
        }
    }

    static func resolve(_ source: String, baseDirectory: String) -> String {
        var path = source
        if path == "~" || path.hasPrefix("~/") {
            path = NSHomeDirectory() + path.dropFirst()
        }
        if !path.hasPrefix("/") {
            path = (baseDirectory as NSString).appendingPathComponent(path)
        }
        return (path as NSString).standardizingPath
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    private static func canonical(_ path: String) -> String {
        (path as NSString).resolvingSymlinksInPath
    }

    /// `-i 'host1,host2:2222,'`: each name in `ungrouped`, with a port if given; no ranges, as in Ansible.
    private static func loadHostList(_ list: String, into builder: inout InventoryBuilder) {
        builder.currentSource = (list, nil)
        defer { builder.currentSource = nil }
        for item in list.split(separator: ",") {
            let name = item.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            let (host, port) = InventoryHostAddress.parse(name, allowRanges: false) ?? (name, nil)
            if builder.inventory.hosts[host] == nil {
                builder.addHost(host, group: "ungrouped", port: port, at: nil)
            }
        }
    }

    private static func loadDirectory(_ path: String, depth: Int, visited: inout Set<String>, into builder: inout InventoryBuilder) {
        // A symlink can point back up; a real inventory is never this deep.
        guard depth < 32, visited.insert(canonical(path)).inserted else { return }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted(by: InventoryVarsDirectory.pythonOrder)
        } catch {
            builder.error("cannot list the inventory directory", at: SourceLocation(file: path, line: 0, column: 0), hint: "check its permissions")
            return
        }
        for name in names {
            if name.hasPrefix(".") || ["host_vars", "group_vars", "vars_plugins"].contains(name)
                || ignoredSuffixes.contains(where: { name.hasSuffix($0) })
            {
                continue
            }
            let full = (path as NSString).appendingPathComponent(name)
            if isDirectory(full) {
                loadDirectory(full, depth: depth + 1, visited: &visited, into: &builder)
            } else {
                loadFile(full, into: &builder)
            }
        }
    }

    /// Reads one inventory file, YAML or INI, the way Ansible's plugins take turns at it.
    static func loadFile(_ path: String, into builder: inout InventoryBuilder) {
        let whole = SourceLocation(file: path, line: 0, column: 0)
        let data: Data
        do {
            data = try YAMLValue.readBytes(path, maxBytes: YAMLLimits.default.maxBytes)
        } catch let diagnostic as Diagnostic {
            builder.diagnostics.append(diagnostic)
            return
        } catch {
            builder.error("cannot read the inventory: \(error)", at: whole)
            return
        }
        let ext = (path as NSString).pathExtension.isEmpty ? "" : "." + (path as NSString).pathExtension
        if ext == ".toml" {
            builder.error("TOML inventories are not supported", at: whole, hint: "convert it to the YAML or INI inventory format")
            return
        }
        if data.starts(with: Array("$ANSIBLE_VAULT;".utf8)) {
            builder.error(
                "this inventory is encrypted with ansible-vault, which pksplay does not read", at: whole,
                hint: "decrypt it (`ansible-vault decrypt FILE`) and keep secrets in a separate, protected vars file")
            return
        }
        if data.starts(with: Array("#!".utf8)) && FileManager.default.isExecutableFile(atPath: path) {
            builder.error(
                "this looks like a dynamic inventory script; pksplay reads static inventories only", at: whole,
                hint: "save its output as a file: `ansible-inventory -i \((path as NSString).lastPathComponent) --list --yaml > hosts.yml`")
            return
        }
        builder.currentSource = (path, (path as NSString).deletingLastPathComponent)
        defer { builder.currentSource = nil }

        let text = String(data: data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data, encoding: .utf8)
        if text == nil && data.prefix(8192).contains(0) {
            // One clear error rather than one per line of a binary file.
            builder.diagnostics.append(decodeFailure(data, path: path))
            return
        }
        let yamlByName = yamlExtensions.contains(ext)
        if yamlByName || ext.isEmpty, let text {
            var attempt = builder
            let yamlProblem: Diagnostic?
            do {
                let document = try YAMLValue.parseDocument(text, file: path)
                if document.isEmpty {
                    builder.warning("the inventory file is empty", at: whole)
                    return
                }
                if yamlByName || document.root.kind == .mapping {
                    InventoryYAMLFormat.parse(document, into: &attempt)
                    builder = attempt
                    return
                }
                yamlProblem = Diagnostic(
                    "a YAML inventory must be a mapping of group names, not \(document.root.kindDescription)",
                    at: document.root.location, hint: "start with `all:` and list hosts under `hosts:`")
            } catch let diagnostic as Diagnostic {
                yamlProblem = diagnostic
            } catch {
                yamlProblem = Diagnostic("cannot parse YAML: \(error)", at: whole)
            }
            if yamlByName {
                builder.diagnostics.append(yamlProblem ?? Diagnostic("cannot parse the YAML inventory", at: whole))
                return
            }
            // No extension and not YAML: Ansible's INI plugin gets its turn. If that fails too and the
            // text looks like YAML, the YAML error is the one that helps.
            var ini = builder
            InventoryINIFormat.parse(lines: splitLines(data), file: path, into: &ini)
            if !ini.hasErrors || !looksLikeYAML(text) {
                builder = ini
            } else if let yamlProblem {
                builder.diagnostics.append(yamlProblem)
            }
            return
        }
        if yamlByName {
            builder.diagnostics.append(decodeFailure(data, path: path))
            return
        }
        InventoryINIFormat.parse(lines: splitLines(data), file: path, into: &builder)
    }

    private static func decodeFailure(_ data: Data, path: String) -> Diagnostic {
        do {
            _ = try YAMLValue.decodeUTF8(data, path: path)
            return Diagnostic("cannot read the file", at: SourceLocation(file: path, line: 0, column: 0))
        } catch let diagnostic as Diagnostic {
            return diagnostic
        } catch {
            return Diagnostic("cannot read the file: \(error)", at: SourceLocation(file: path, line: 0, column: 0))
        }
    }

    /// INI lines; a line that is not UTF-8 is nil, except comment lines, which Ansible tolerates.
    private static func splitLines(_ data: Data) -> [String?] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var lines: [String?] = []
        var start = 0
        func add(_ end: Int) {
            var slice = bytes[start..<end]
            if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
            if let line = String(bytes: slice, encoding: .utf8) {
                lines.append(line)
            } else if let first = slice.first(where: { $0 != 0x20 && $0 != 0x09 }), first == UInt8(ascii: "#") || first == UInt8(ascii: ";") {
                lines.append("")
            } else {
                lines.append(nil)
            }
        }
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            add(i)
            start = i + 1
        }
        if start < bytes.count { add(bytes.count) }
        return lines
    }

    /// Whether the first meaningful line reads like a YAML mapping key rather than INI.
    private static func looksLikeYAML(_ text: String) -> Bool {
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line == "---" { return true }
            if line.hasPrefix("[") { return false }
            return line.hasSuffix(":") || line.contains(": ")
        }
        return false
    }
}
