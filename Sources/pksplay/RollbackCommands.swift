import ArgumentParser
import Foundation
import PKSPlayCore
import PKSPlayEngine

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Undo a run's changes, newest first, on every host it touched.")

    @ArgumentParser.Argument(help: "The run id (see 'pksplay runs').") var run: String?
    @Flag(name: .customLong("last"), help: "Roll back the newest run.") var last = false
    @Flag(name: [.customShort("C"), .customLong("check")], help: "Show what would be undone, change nothing.") var check = false
    @Option(name: .customLong("state-dir"), help: "Where run journals are kept (default ~/.local/state/pksplay).") var stateDir: String?
    @Option(name: .customLong("format"), help: "human or json.") var format: PlaybookOptions.OutputFormat = .human
    @Option(name: .customLong("host-key-checking"), help: "strict (default), accept-new, or off (insecure).") var hostKeyChecking: String?
    @Flag(name: [.customShort("v"), .customLong("verbose")]) var verbose: Int

    func validate() throws {
        if run == nil && !last { throw ValidationError("name a run (see 'pksplay runs') or use --last") }
        if run != nil && last { throw ValidationError("give a run id or --last, not both") }
    }

    func run() async throws {
        let dir = stateDir ?? JournalReader.defaultStateDirectory()
        let runs = JournalReader.runs(in: dir)
        let chosen: JournalReader.Run?
        if last {
            chosen = JournalReader.lastRun(of: runs)
        } else {
            chosen = runs.first { $0.id == run || $0.id.hasPrefix(run ?? "") || $0.path == run }
        }
        guard let chosen else {
            Runtime.printError(runs.isEmpty ? "no run journals in \(dir)" : "no run '\(run ?? "")' in \(dir)", hint: "see 'pksplay runs'")
            throw ExitCode(1)
        }
        let reporter = Runtime.reporter(format: format, verbosity: verbose, diff: false)
        let code = await Runtime.rollback(chosen, check: check, reporter: reporter, hostKeyChecking: hostKeyChecking)
        throw ExitCode(code)
    }
}

struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List run journals, newest first.")
    @Option(name: .customLong("state-dir"), help: "Where run journals are kept (default ~/.local/state/pksplay).") var stateDir: String?

    func run() async throws {
        let dir = stateDir ?? JournalReader.defaultStateDirectory()
        let runs = JournalReader.runs(in: dir)
        if runs.isEmpty {
            print("no runs in \(dir)")
            return
        }
        print("RUN".padding(toLength: 26, withPad: " ", startingAt: 0) + "STARTED (UTC)".padding(toLength: 21, withPad: " ", startingAt: 0)
              + "CHANGES  HOSTS".padding(toLength: 24, withPad: " ", startingAt: 0) + "OUTCOME      PLAYBOOK")
        let f = DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        for r in runs {
            let started = r.header.map { f.string(from: Date(timeIntervalSince1970: $0.time)) } ?? "?"
            var outcome = r.ended?.outcome ?? "interrupted"
            if r.header?.checkMode == true { outcome = "check" }
            let hosts = r.hosts.joined(separator: ",")
            print(r.id.padding(toLength: 26, withPad: " ", startingAt: 0) + started.padding(toLength: 21, withPad: " ", startingAt: 0)
                  + String(r.changes.count).padding(toLength: 9, withPad: " ", startingAt: 0) + (hosts.isEmpty ? "-" : hosts).padding(toLength: 15, withPad: " ", startingAt: 0)
                  + outcome.padding(toLength: 13, withPad: " ", startingAt: 0) + (r.header?.playbook ?? "?"))
        }
    }
}
