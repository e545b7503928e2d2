import ArgumentParser
import Foundation
import Logging
import PKSPlayCore
import PKSPlayEngine
import PKSPlayLoader
import PKSPlayLocal
import PKSPlayModules
import PKSPlaySSH
import PKSPlayTemplate

/// Builds a run from the command line: inventory, playbook, engine, reporter, connections, signals.
enum Runtime {
    static let registry = StandardModules.registry

    static func printError(_ message: String, hint: String?) {
        var s = "ERROR! \(message)\n"
        if let hint { s += "  hint: \(hint)\n" }
        FileHandle.standardError.write(Data(s.utf8))
    }

    /// Folders holding the bundled playbooks: $PKSPLAY_PLAYBOOKS, then beside or above the executable.
    static func bundleDirectories() -> [String] {
        var dirs: [String] = []
        if let env = Environment.value("PKSPLAY_PLAYBOOKS") { dirs += env.split(separator: ":").map(String.init) }
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let real = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            exe = URL(fileURLWithPath: real).deletingLastPathComponent()
        }
        dirs.append(exe.appendingPathComponent("../share/pksplay/Playbooks").standardized.path)
        var dir = exe
        for _ in 0..<6 {
            dirs.append(dir.appendingPathComponent("Playbooks").path)
            dir = dir.deletingLastPathComponent()
        }
        return dirs
    }

    static func bundledPlaybooks() -> [String] {
        for d in bundleDirectories() {
            if let files = try? FileManager.default.contentsOfDirectory(atPath: d), files.contains(where: { $0.hasSuffix(".yml") }) {
                return files.filter { $0.hasSuffix(".yml") }.sorted()
            }
        }
        return []
    }

    /// A path as given, or a bundled playbook by name.
    static func findPlaybook(_ name: String) -> String? {
        let fm = FileManager.default
        if fm.fileExists(atPath: name) { return name }
        if name.contains("/") { return nil }
        for d in bundleDirectories() {
            let p = (d as NSString).appendingPathComponent(name)
            if fm.fileExists(atPath: p) { return p }
        }
        return nil
    }

    static func loadInventory(_ options: PlaybookOptions, playbookDir: String) throws -> Inventory {
        var sources = options.inventory
        if sources.isEmpty {
            if let env = Environment.value("ANSIBLE_INVENTORY") { sources = env.split(separator: ",").map(String.init) }
            else if FileManager.default.fileExists(atPath: "/etc/ansible/hosts") { sources = ["/etc/ansible/hosts"] }
        }
        var inventory = sources.isEmpty ? Inventory() : try InventoryLoader.load(sources: sources, baseDirectory: FileManager.default.currentDirectoryPath)
        try InventoryLoader.loadVarsDirectories(into: &inventory, directory: playbookDir)
        return inventory
    }

    /// Loads the playbook and inventory, printing every diagnostic; nil when either fails.
    static func load(_ options: PlaybookOptions) -> (Playbook, Inventory)? {
        guard let path = findPlaybook(options.playbook) else {
            let bundled = bundledPlaybooks()
            printError("playbook not found: \(options.playbook)", hint: bundled.isEmpty ? "give the playbook's path" : "give a path, or a bundled playbook: \(bundled.joined(separator: ", "))")
            return nil
        }
        let loader = PlaybookLoader(registry: registry)
        let playbook: Playbook
        do { playbook = try loader.loadPlaybook(path) } catch {
            report(error)
            return nil
        }
        do {
            return (playbook, try loadInventory(options, playbookDir: (playbook.path as NSString).deletingLastPathComponent))
        } catch {
            report(error)
            return nil
        }
    }

    static func report(_ error: Error) {
        if let l = error as? DiagnosticList {
            for d in l.diagnostics { FileHandle.standardError.write(Data(("ERROR! " + d.description + "\n").utf8)) }
        } else if let d = error as? Diagnostic {
            FileHandle.standardError.write(Data(("ERROR! " + d.description + "\n").utf8))
        } else {
            printError("\(error)", hint: nil)
        }
    }

    static func extraVars(_ items: [String]) throws -> ValueDict {
        var out = ValueDict()
        for item in items {
            do { out.merge(try ExtraVars.parse(item, baseDirectory: FileManager.default.currentDirectoryPath)) } catch {
                report(error)
                throw ExitCode(1)
            }
        }
        return out
    }

    static func readSecret(_ prompt: String) -> String? {
        guard isatty(0) == 1 else {
            printError("\(prompt.trimmingCharacters(in: .whitespaces)) needs a terminal", hint: "set the password as a variable instead (ansible_password / ansible_become_password with -e @file)")
            return nil
        }
        guard let p = getpass(prompt) else { return nil }
        return String(cString: p)
    }

    static func run(_ options: PlaybookOptions, _ runOptions: RunOnlyOptions, forceCheck: Bool) async -> Int32 {
        guard let (playbook, inventory) = load(options) else { return 1 }
        var ro = RunOptions()
        ro.checkMode = options.check || forceCheck
        ro.diffMode = options.diff || forceCheck
        ro.limit = options.limit
        ro.tags = options.tags.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        ro.skipTags = options.skipTags.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        ro.startAtTask = options.startAtTask
        ro.forks = options.forks
        ro.verbosity = options.verbose
        ro.forceHandlers = options.forceHandlers
        ro.connection = options.connection.map { $0 == "smart" || $0 == "paramiko" ? "ssh" : $0 }
        ro.remoteUser = options.user
        ro.become = options.become ? true : nil
        ro.becomeUser = options.becomeUser
        ro.becomeMethod = options.becomeMethod
        ro.rollbackOnFailure = runOptions.rollbackOnFailure
        do { ro.extraVars = try extraVars(options.extraVars) } catch { return 1 }
        if options.askBecomePass {
            guard let pw = readSecret("BECOME password: ") else { return 1 }
            ro.becomePassword = pw
        }
        var sshPassword: String?
        if options.askPass {
            guard let pw = readSecret("SSH password: ") else { return 1 }
            sshPassword = pw
        }
        let reporter = Runtime.reporter(format: options.format, verbosity: options.verbose, diff: ro.diffMode)
        let sshDefaults = SSHDefaults(privateKey: options.privateKey, password: sshPassword, timeout: options.timeout ?? 10,
                                      hostKeyChecking: options.hostKeyChecking, reporter: reporter)
        let pool = ConnectionPool { host, vars in try await Connections.open(host: host, variables: vars, defaults: sshDefaults) }
        let stateDir = options.stateDir ?? JournalReader.defaultStateDirectory()
        let journal: FileJournal
        do {
            journal = try FileJournal(stateDirectory: stateDir, playbook: playbook.path, inventory: options.inventory,
                                      checkMode: ro.checkMode, extraVarNames: ro.extraVars.keys)
        } catch {
            report(error)
            return 1
        }
        ro.runID = journal.runID
        let stop = StopFlag()
        let engine = Engine(registry: registry, connections: pool, reporter: reporter,
                            taskSource: PlaybookLoader(registry: registry),
                            templates: TemplateEngine(lookups: StandardLookups(baseDirectory: (playbook.path as NSString).deletingLastPathComponent)),
                            journal: journal, logger: Logger(label: "pksplay"), stopFlag: stop)
        let signals = SignalHandler(stop: stop, reporter: reporter)
        signals.install()
        let summary = await engine.run(playbook, inventory: inventory, options: ro)
        signals.uninstall()
        let outcome = summary.interrupted ? "interrupted" : summary.exitCode == 0 ? "ok" : summary.exitCode == 4 ? "unreachable" : "failed"
        journal.finish(outcome: outcome)
        if !ro.checkMode && summary.exitCode != 0 || summary.interrupted {
            if ro.rollbackOnFailure {
                reporter.report(.message("\nThe run \(outcome == "interrupted" ? "was interrupted" : "failed"): rolling back run \(journal.runID) (--rollback-on-failure)"))
                do {
                    let run = try JournalReader.read(journal.path)
                    let rb = await rollback(run, check: false, reporter: reporter, hostKeyChecking: options.hostKeyChecking, defaults: sshDefaults)
                    reporter.report(.message("run: \(outcome) (exit \(summary.exitCode)); rollback: \(rb == 0 ? "complete" : "incomplete (exit \(rb))")"))
                } catch {
                    report(error)
                }
            } else if !ro.checkMode {
                reporter.report(.message("\nTo undo this run: pksplay rollback \(journal.runID)\(options.stateDir.map { " --state-dir \($0)" } ?? "")"))
            }
        }
        if summary.interrupted { return 130 }
        return summary.exitCode
    }

    static func reporter(format: PlaybookOptions.OutputFormat, verbosity: Int, diff: Bool) -> any Reporter {
        let colour = isatty(1) == 1 && Environment.value("NO_COLOR") == nil && format == .human
        return format == .json ? JSONReporter() : HumanReporter(color: colour, verbosity: verbosity, diff: diff)
    }

    /// Rolls a run back; returns the exit code (0 when every step was undone or already undone).
    static func rollback(_ run: JournalReader.Run, check: Bool, reporter: any Reporter, hostKeyChecking: String?, defaults: SSHDefaults? = nil) async -> Int32 {
        let sshDefaults = defaults ?? SSHDefaults(privateKey: nil, password: nil, timeout: 10, hostKeyChecking: hostKeyChecking, reporter: reporter)
        let pool = ConnectionPool { host, vars in try await Connections.open(host: host, variables: vars, defaults: sshDefaults) }
        let summary = await Rollback(registry: registry, connections: pool, reporter: reporter).run(run, checkMode: check)
        return summary.exitCode
    }
}

/// Ctrl-C: the first stops scheduling new tasks and lets running ones end; a second stops at once.
final class SignalHandler: @unchecked Sendable {
    let stop: StopFlag
    let reporter: any Reporter
    private var source: DispatchSourceSignal?
    private var count = 0

    init(stop: StopFlag, reporter: any Reporter) {
        self.stop = stop
        self.reporter = reporter
    }

    func install() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [self] in
            count += 1
            if count == 1 {
                stop.stop()
                FileHandle.standardError.write(Data("\n[pksplay] Ctrl-C: finishing the running tasks, starting no new ones (Ctrl-C again to stop at once)\n".utf8))
            } else {
                FileHandle.standardError.write(Data("\n[pksplay] stopped at once\n".utf8))
                exit(130)
            }
        }
        s.resume()
        source = s
    }

    func uninstall() {
        source?.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
