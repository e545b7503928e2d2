import Foundation
import PKSPlayCore

/// The lookup plugins pksplay ships: `env`, `file`, `pipe`, `template`, `vars`, `items`, `list`.
///
/// Everything runs on the control machine. Relative paths for `file` and `template` are searched
/// as Ansible searches a playbook directory: `files/` (or `templates/`) under the base directory first,
/// then the base directory itself.
public struct StandardLookups: LookupProvider {
    public static let names = ["env", "file", "pipe", "template", "vars", "items", "list"]

    public let baseDirectory: String
    /// Environment used by `env`; defaults to this process's.
    public let environment: [String: String]

    public init(baseDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    public func lookup(_ name: String, _ terms: [Value], _ kwargs: ValueDict, _ scope: any VariableScope) throws -> Value {
        switch name {
        case "env":
            let fallback = kwargs["default"].map(Py.str) ?? ""
            return .list(terms.map { .string(environment[Py.str($0)] ?? fallback) })
        case "file":
            let lstrip = kwargs["lstrip"]?.isTruthy ?? false
            let rstrip = kwargs["rstrip"]?.isTruthy ?? true
            return .list(try terms.map { term in
                let path = try find(Py.str(term), subdirectory: "files", lookup: name)
                var text = try read(path, lookup: name)
                if rstrip { text = StringOps.strip(text, chars: nil, leading: false, trailing: true) }
                if lstrip { text = StringOps.strip(text, chars: nil, leading: true, trailing: false) }
                return .string(text)
            })
        case "pipe":
            return .list(try terms.map { .string(try pipe(Py.str($0))) })
        case "template":
            let engine = TemplateEngine(lookups: self)
            var options = TemplateOptions()
            if let t = kwargs["trim_blocks"] { options.trimBlocks = t.isTruthy }
            if let l = kwargs["lstrip_blocks"] { options.lstripBlocks = l.isTruthy }
            var scope: any VariableScope = scope
            if case .dict(let extra)? = kwargs["template_vars"] { scope = LayeredScope(locals: Dictionary(uniqueKeysWithValues: extra.map { ($0.key, $0.value) }), base: scope) }
            return .list(try terms.map { term in
                let path = try find(Py.str(term), subdirectory: "templates", lookup: name)
                return .string(try engine.renderText(try read(path, lookup: name), scope, options: options))
            })
        case "vars":
            return .list(try terms.map { term in
                let key = Py.str(term)
                if let v = scope.lookup(key) { return v }
                if let d = kwargs["default"] { return d }
                throw TemplateError(.undefined, "No variable named '\(key)' was found.", name: key)
            })
        case "items":
            return .list(terms.flatMap { $0.listValue ?? [$0] })
        case "list":
            return .list(terms)
        default:
            let hint = closestMatch(to: name, in: StandardLookups.names).map { "did you mean '\($0)'?" }
                ?? "available lookups: \(StandardLookups.names.joined(separator: ", "))"
            throw TemplateError(.lookup, "no lookup plugin named '\(name)'", name: name, hint: hint)
        }
    }

    private func find(_ term: String, subdirectory: String, lookup: String) throws -> String {
        let expanded = Paths.expandUser(term)
        if expanded.hasPrefix("/") { return expanded }
        let candidates = [baseDirectory + "/" + subdirectory + "/" + expanded, baseDirectory + "/" + expanded]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate) { return candidate }
        throw TemplateError(.lookup, "lookup('\(lookup)'): could not find '\(term)' (searched \(candidates.joined(separator: ", ")))", name: lookup)
    }

    private func read(_ path: String, lookup: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TemplateError(.lookup, "lookup('\(lookup)'): cannot read '\(path)'", name: lookup)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TemplateError(.lookup, "lookup('\(lookup)'): '\(path)' is not UTF-8 text", name: lookup)
        }
        return text
    }

    /// Runs `/bin/sh -c command` in the base directory; stdout without trailing whitespace, as Ansible's pipe does.
    private func pipe(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        if FileManager.default.fileExists(atPath: baseDirectory) {
            process.currentDirectoryURL = URL(fileURLWithPath: baseDirectory)
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw TemplateError(.lookup, "lookup('pipe'): cannot run /bin/sh: \(error)", name: "pipe")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TemplateError(.lookup, "lookup('pipe'): command \(Value.string(command).pythonRepr) exited with status \(process.terminationStatus)", name: "pipe")
        }
        let text = String(decoding: data, as: UTF8.self)
        return StringOps.strip(text, chars: nil, leading: false, trailing: true)
    }
}
