import Foundation
import PKSPlayCore

/// Reads the `group_vars/` and `host_vars/` folders beside an inventory or a playbook, as Ansible's
/// `host_group_vars` plugin finds them.
///
/// For a name, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists is used; a
/// directory `NAME/` contributes all its files (sorted, recursively, skipping hidden files and `~`
/// backups, keeping files with no extension or a YAML/JSON one), merged shallowly, later files winning.
/// Files are read for every name present, not only for the groups and hosts known now, so a group
/// made later by `add_host` finds its variables; a file for a name the inventory does not know is
/// skipped with a warning when it cannot be read, instead of failing the run as Ansible never reads it.
enum InventoryVarsDirectory {
    private static let extensions = [".yml", ".yaml", ".json"]

    /// The layer for `directory`, plus the problems met.
    static func load(
        directory: String, stage: InventoryVarsLayer.Stage, knownGroups: Set<String>, knownHosts: Set<String>
    ) -> (layer: InventoryVarsLayer, diagnostics: [Diagnostic]) {
        var layer = InventoryVarsLayer(stage: stage, directory: directory)
        var diagnostics: [Diagnostic] = []
        for (folder, known) in [("group_vars", knownGroups), ("host_vars", knownHosts)] {
            let path = (directory as NSString).appendingPathComponent(folder)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            guard isDirectory.boolValue else {
                diagnostics.append(Diagnostic(
                    "\(folder) is not a directory; skipped", at: SourceLocation(file: path, line: 0, column: 0),
                    hint: "\(folder)/ holds one file or folder per \(folder == "group_vars" ? "group" : "host")", severity: .warning))
                continue
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            var chosen: [String: (rank: Int, entry: String)] = [:]
            for name in names where !name.hasPrefix(".") {
                var entity = name
                var rank = 0
                if let index = extensions.firstIndex(where: { name.hasSuffix($0) && name.count > $0.count }) {
                    entity = String(name.dropLast(extensions[index].count))
                    rank = index + 1
                }
                // Notes and backups beside the variables (README.md, web.yml.orig) are not for any name we know.
                if !known.contains(entity) && InventoryLoader.ignoredSuffixes.contains(where: { name.hasSuffix($0) }) { continue }
                if let current = chosen[entity], current.rank <= rank { continue }
                chosen[entity] = (rank, name)
            }
            for entity in chosen.keys.sorted() {
                guard let entry = chosen[entity]?.entry else { continue }
                let isKnown = known.contains(entity)
                var vars = ValueDict()
                var problems: [Diagnostic] = []
                for file in files(at: (path as NSString).appendingPathComponent(entry)) {
                    do {
                        let document = try YAMLValue.loadFile(file)
                        problems += document.warnings
                        if document.isEmpty { continue }
                        guard case .dict(let values) = document.root.value else {
                            problems.append(Diagnostic(
                                "a variables file must be a mapping of names to values, not \(document.root.kindDescription)",
                                at: document.root.location, hint: "write one `name: value` per line"))
                            continue
                        }
                        vars.merge(values)
                    } catch let diagnostic as Diagnostic {
                        problems.append(diagnostic)
                    } catch {
                        problems.append(Diagnostic("cannot read \(file): \(error)", at: SourceLocation(file: file, line: 0, column: 0)))
                    }
                }
                if !isKnown && problems.contains(where: { $0.severity == .error }) {
                    // Ansible would never open this file; do not fail the run over it.
                    diagnostics += problems.map { problem in
                        var warning = problem
                        warning.severity = .warning
                        warning.message += " (skipped: no \(folder == "group_vars" ? "group" : "host") named '\(entity)' in the inventory)"
                        return warning
                    }
                    continue
                }
                diagnostics += problems
                if folder == "group_vars" {
                    layer.groupVars[entity] = vars
                } else {
                    layer.hostVars[entity] = vars
                }
            }
        }
        return (layer, diagnostics)
    }

    /// The file itself, or a directory's files as Ansible's `_get_dir_vars_files` lists them.
    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        var out: [String] = []
        var visited = Set<String>()
        func walk(_ directory: String, depth: Int) {
            // Symlinked folders can loop; a real one is never this deep.
            let real = (directory as NSString).resolvingSymlinksInPath
            guard depth < 32, visited.insert(real).inserted else { return }
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted(by: pythonOrder)
            for name in names where !name.hasPrefix(".") && !name.hasSuffix("~") {
                let full = (directory as NSString).appendingPathComponent(name)
                let ext = (name as NSString).pathExtension
                if InventoryLoader.isDirectory(full) {
                    if ext.isEmpty { walk(full, depth: depth + 1) }
                } else if ext.isEmpty || extensions.contains("." + ext) {
                    out.append(full)
                }
            }
        }
        walk(path, depth: 0)
        return out
    }

    /// Python's `sorted()` order for names (by code point).
    static func pythonOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}
