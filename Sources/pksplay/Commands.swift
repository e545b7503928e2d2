import ArgumentParser
import Foundation
import PKSPlayCore
import PKSPlayEngine
import PKSPlayLoader
import PKSPlayModules

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a playbook.")
    @OptionGroup var options: PlaybookOptions
    @OptionGroup var runOptions: RunOnlyOptions

    func run() async throws {
        if runOptions.syntaxCheck { throw ExitCode(SyntaxCheck.check(options)) }
        if runOptions.listTasks { throw ExitCode(try ListTasks.list(options)) }
        if runOptions.listHosts { throw ExitCode(try ListHosts.list(options)) }
        if runOptions.listTags { throw ExitCode(try ListTags.list(options)) }
        throw ExitCode(await Runtime.run(options, runOptions, forceCheck: false))
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Dry run: the same as run --check --diff.")
    @OptionGroup var options: PlaybookOptions
    @OptionGroup var runOptions: RunOnlyOptions

    func run() async throws {
        throw ExitCode(await Runtime.run(options, runOptions, forceCheck: true))
    }
}

struct SyntaxCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "syntax-check", abstract: "Load a playbook and report every problem found.")
    @OptionGroup var options: PlaybookOptions

    func run() async throws { throw ExitCode(SyntaxCheck.check(options)) }

    static func check(_ options: PlaybookOptions) -> Int32 {
        guard let path = Runtime.findPlaybook(options.playbook) else {
            Runtime.printError("playbook not found: \(options.playbook)", hint: "give a path, or one of the bundled playbooks: \(Runtime.bundledPlaybooks().joined(separator: ", "))")
            return 1
        }
        let (_, diags) = PlaybookLoader(registry: Runtime.registry).check(path)
        for d in diags { FileHandle.standardError.write(Data((d.description + "\n").utf8)) }
        let errors = diags.filter { $0.severity == .error }.count
        if errors > 0 {
            FileHandle.standardError.write(Data("\(errors) error\(errors == 1 ? "" : "s") in \(path)\n".utf8))
            return 1
        }
        print("playbook: \(path)")
        return 0
    }
}

struct ListTasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-tasks", abstract: "List the tasks a run would consider.")
    @OptionGroup var options: PlaybookOptions
    func run() async throws { throw ExitCode(try ListTasks.list(options)) }

    static func list(_ options: PlaybookOptions) throws -> Int32 {
        guard let (playbook, _) = Runtime.load(options) else { return 1 }
        print("\nplaybook: \(playbook.path)")
        for (i, play) in playbook.plays.enumerated() {
            print("\n  play #\(i + 1) (\(play.hosts.listValue?.map(\.stringified).joined(separator: ",") ?? play.hosts.stringified)): \(play.name ?? "")\tTAGS: [\(Engine.tagNames(play.keywords["tags"]).joined(separator: ", "))]")
            print("    tasks:")
            for line in Engine.describeTasks(play) { print("      " + line) }
        }
        return 0
    }
}

struct ListTags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-tags", abstract: "List the tags of a playbook.")
    @OptionGroup var options: PlaybookOptions
    func run() async throws { throw ExitCode(try ListTags.list(options)) }

    static func list(_ options: PlaybookOptions) throws -> Int32 {
        guard let (playbook, _) = Runtime.load(options) else { return 1 }
        print("\nplaybook: \(playbook.path)")
        for (i, play) in playbook.plays.enumerated() {
            print("\n  play #\(i + 1) (\(play.hosts.stringified)): \(play.name ?? "")\tTAGS: [\(Engine.tagNames(play.keywords["tags"]).joined(separator: ", "))]")
            print("      TASK TAGS: [\(Engine.allTags(play).sorted().joined(separator: ", "))]")
        }
        return 0
    }
}

struct ListHosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-hosts", abstract: "List the hosts each play would run on.")
    @OptionGroup var options: PlaybookOptions
    func run() async throws { throw ExitCode(try ListHosts.list(options)) }

    static func list(_ options: PlaybookOptions) throws -> Int32 {
        guard let (playbook, inventory) = Runtime.load(options) else { return 1 }
        print("\nplaybook: \(playbook.path)")
        for (i, play) in playbook.plays.enumerated() {
            let pattern = play.hosts.listValue?.map(\.stringified).joined(separator: ":") ?? play.hosts.stringified
            var hosts: [String]
            do {
                hosts = try inventory.hosts(matching: pattern).hosts
                if !options.limit.isEmpty {
                    let allowed = Set(try inventory.hosts(matching: options.limit.joined(separator: ":")).hosts)
                    hosts = hosts.filter(allowed.contains)
                }
            } catch {
                Runtime.printError("\(error)", hint: nil)
                return 1
            }
            print("\n  play #\(i + 1) (\(pattern)): \(play.name ?? "")\tTAGS: []")
            print("    pattern: \(play.hosts.listValue.map { "\($0.map(\.stringified))" } ?? "['\(pattern)']")")
            print("    hosts (\(hosts.count)):")
            for h in hosts { print("      \(h)") }
        }
        return 0
    }
}

struct Modules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "modules", abstract: "List modules, or show what one takes with an example.")
    @ArgumentParser.Argument(help: "A module name.") var name: String?

    func run() async throws {
        let registry = Runtime.registry
        guard let name else {
            for m in registry.modules.sorted(by: { $0.name < $1.name }) {
                print(m.name.padding(toLength: 22, withPad: " ", startingAt: 0) + m.documentation.summary)
            }
            return
        }
        guard let m = registry.module(named: name) else {
            Runtime.printError("no module named '\(name)'", hint: closestMatch(to: name, in: registry.names).map { "did you mean '\($0)'?" } ?? "run 'pksplay modules' for the list")
            throw ExitCode(1)
        }
        print("\(m.name): \(m.documentation.summary)\n")
        if !m.aliases.isEmpty { print("aliases: \(m.aliases.joined(separator: ", "))\n") }
        if let ff = m.arguments.freeForm { print("free form: the text after '\(m.name):' goes to '\(ff)'\n") }
        print("arguments:")
        for a in m.arguments.arguments {
            var line = "  \(a.name)".padding(toLength: 24, withPad: " ", startingAt: 0) + "\(a.type)"
            if a.required { line += ", required" }
            if let d = a.defaultValue { line += ", default \(d.stringified)" }
            if let c = a.choices { line += ", one of \(c.joined(separator: "|"))" }
            if !a.aliases.isEmpty { line += ", aliases \(a.aliases.joined(separator: ", "))" }
            if a.noLog { line += ", secret" }
            print(line)
            if !a.help.isEmpty { print("      " + a.help) }
        }
        for n in m.documentation.notes { print("\nnote: \(n)") }
        print("\nexample:\n" + m.documentation.example)
    }
}
