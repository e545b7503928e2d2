import Foundation
import PKSPlayCore

/// `include_vars`: loads variables from YAML/JSON files on the control machine into the host's facts
/// (at include_vars precedence), from one file or from every file of a directory.
///
/// A file is looked up as Ansible does (the role's `vars/`, then the playbook's folder) through the
/// context's `findFile`, then as the path given. A directory is walked in name order, `depth` levels
/// deep (0: all), symbolic links followed once. Later files override earlier ones key by key.
public enum IncludeVarsModule: Module {
    public static let name = "include_vars"
    public static let runsOnController = true

    static let dirOnly = ["dir", "depth", "files_matching", "ignore_files", "extensions", "ignore_unknown_extensions"]

    public static let arguments = ArgumentSpec(
        [
            Argument("file", .path, aliases: ["_raw_params"], help: "The variables file to load."),
            Argument("dir", .path, help: "Load every variables file of this directory."),
            Argument("name", .string, help: "Put the loaded variables under this one name instead of at the top."),
            Argument("depth", .int, help: "With dir: how many levels to descend (0, the default, means all)."),
            Argument("files_matching", .string, help: "With dir: load only files whose name matches this regular expression."),
            Argument("ignore_files", .list(.string), help: "With dir: skip files whose name matches one of these regular expressions."),
            Argument("extensions", .list(.string), help: "With dir: the file extensions to load (yaml, yml, json)."),
            Argument("ignore_unknown_extensions", .bool, help: "With dir: skip files with other extensions instead of failing."),
            Argument("hash_behaviour", .string, choices: ["replace", "merge"], help: "merge: combine dictionaries with the variables' current values."),
        ],
        freeForm: "file",
        mutuallyExclusive: [["file", "dir"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Load variables from YAML or JSON files on the control machine.",
        example: """
            - name: Settings for this site
              ansible.builtin.include_vars: "site-{{ site_name }}.yml"

            - name: Every file of vars/pks, under one name
              ansible.builtin.include_vars:
                dir: pks
                name: pks
                files_matching: '\\.yml$'
            """)

    struct Failure: Error {
        var message: String
    }

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        let args = context.args
        let usesDir = args["dir"] != nil
        let fileArguments = ["file"].filter { args[$0] != nil }
        let dirArguments = dirOnly.filter { args[$0] != nil }
        if !fileArguments.isEmpty && !dirArguments.isEmpty {
            return .failure("You are mixing file only and dir only arguments, these are incompatible (\((fileArguments + dirArguments).joined(separator: ", ")))")
        }

        var loaded: [String] = []
        var results = ValueDict()
        do {
            if usesDir {
                results = try loadDirectory(context, included: &loaded)
            } else {
                guard let file = context.string("file")?.trimmingCharacters(in: .newlines), !file.isEmpty else {
                    return .failure("include_vars needs a file (or dir) to load")
                }
                guard let path = locate(file, context) else {
                    throw Failure(message: "Could not find or access '\(file)' on the control machine (looked in the role's vars/ and the playbook's folder, then the path as given)")
                }
                results = try load(path, validateExtension: nil)
                loaded.append(path)
            }
        } catch let failure as Failure {
            return ModuleResult(
                failed: true, msg: failure.message,
                values: ["message": .string(failure.message), "ansible_included_var_files": .list(loaded.map(Value.string))])
        }

        if let name = context.string("name"), !name.isEmpty {
            results = [name: .dict(results)]
        }
        if context.string("hash_behaviour") == "merge" {
            for (key, value) in results {
                guard case .dict(let new) = value, case .dict(let old)? = try? context.evaluate(key) else { continue }
                results[key] = .dict(old.mergingRecursively(new))
            }
        }
        return ModuleResult(
            values: ["ansible_facts": .dict(results), "ansible_included_var_files": .list(loaded.map(Value.string))],
            facts: results, factsAreSetFact: true)
    }

    private static func locate(_ name: String, _ context: ModuleContext) -> String? {
        if let found = context.findFile(name, .vars) { return found }
        return FileManager.default.fileExists(atPath: name) ? name : nil
    }

    private static func load(_ path: String, validateExtension extensions: [String]?) throws -> ValueDict {
        if let extensions {
            let ext = (path as NSString).pathExtension
            if !extensions.contains(ext) {
                throw Failure(message: "\(path) does not have a valid extension: \(extensions.joined(separator: ", "))")
            }
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure(message: "cannot read \(path): \(error.localizedDescription)")
        }
        let value: Value?
        do {
            value = try VarsFile.parse(text, path: path)
        } catch let error as VarsFile.LoadError {
            throw Failure(message: error.description)
        }
        switch value {
        case nil, .null?: return [:]
        case .dict(let d)?: return d
        default: throw Failure(message: "\(path) must be stored as a dictionary/hash")
        }
    }

    private static func regexes(_ patterns: [String], anchoredAtEnd: Bool) throws -> [NSRegularExpression] {
        try patterns.map { pattern in
            do {
                return try NSRegularExpression(pattern: anchoredAtEnd ? "(?:\(pattern))$" : pattern)
            } catch {
                throw Failure(message: "Invalid regular expression: \(pattern)")
            }
        }
    }

    private static func loadDirectory(_ context: ModuleContext, included: inout [String]) throws -> ValueDict {
        let dir = context.string("dir") ?? ""
        guard let root = locate(dir, context) else { throw Failure(message: "\(dir) directory does not exist") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw Failure(message: "\(dir) directory does not exist")
        }
        guard isDirectory.boolValue else { throw Failure(message: "\(dir) is not a directory") }

        let depth = max(0, context.int("depth") ?? 0)
        let matcher = try context.string("files_matching").map { try regexes([$0], anchoredAtEnd: false)[0] }
        let ignored = try regexes(context.stringList("ignore_files") ?? [], anchoredAtEnd: true)
        let extensions = context.stringList("extensions") ?? ["yaml", "yml", "json"]
        let skipUnknown = context.bool("ignore_unknown_extensions") ?? false

        func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
            re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }

        var results = ValueDict()
        for (folder, files) in walk(root, depth: depth) {
            for name in files {
                if let matcher, !matches(matcher, name) { continue }
                if ignored.contains(where: { matches($0, name) }) { continue }
                let path = (folder as NSString).appendingPathComponent(name)
                if skipUnknown && !extensions.contains((name as NSString).pathExtension) { continue }
                results.merge(try load(path, validateExtension: extensions))
                included.append(path)
            }
        }
        return results
    }

    /// `(folder, sorted file names)` in folder-path order, like Ansible's sorted `os.walk`.
    private static func walk(_ root: String, depth: Int) -> [(String, [String])] {
        let fm = FileManager.default
        var out: [(String, [String])] = []
        var seen = Set<String>()
        // (folder, its level: 1 for the root)
        var pending: [(String, Int)] = [(root, 1)]
        while let (folder, level) = pending.popLast() {
            // A link loop would otherwise be walked for ever.
            let real = (folder as NSString).resolvingSymlinksInPath
            guard seen.insert(real).inserted, let entries = try? fm.contentsOfDirectory(atPath: folder) else { continue }
            var files: [String] = []
            for entry in entries {
                let path = (folder as NSString).appendingPathComponent(entry)
                var isDirectory: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue {
                    if depth == 0 || level < depth { pending.append((path, level + 1)) }
                } else {
                    files.append(entry)
                }
            }
            out.append((folder, files.sorted()))
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
