import ArgumentParser
import CMalloc
import Foundation
import PKSPlayCore

/// The `pksplay` command: thin; each subcommand builds a run from the library and maps its outcome to an exit code.
@main
struct PKSPlay: AsyncParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "pksplay",
        abstract: "Run Ansible-style playbooks over SSH, fast, with check mode, diff and rollback.",
        discussion: """
            Exit codes: 0 all ok, 2 a host failed, 4 a host unreachable, 1 usage or load error.
            A bundled playbook (failover.yml, promote.yml, sip-switch.yml) is found by name.
            """,
        version: version,
        subcommands: [Run.self, Check.self, RollbackCommand.self, Runs.self, ListTasks.self, ListHosts.self, ListTags.self, SyntaxCheck.self, Modules.self],
        defaultSubcommand: nil
    )

    static func main() async {
        limitMallocArenas()
        await main(nil)
    }

    /// One malloc arena for the whole process, unless `MALLOC_ARENA_MAX` says otherwise. glibc
    /// gives each thread that meets a busy arena one of its own, up to eight per core, and each
    /// keeps its own slack: with an SSH session per host on its own thread that was 1.8 MiB of peak
    /// memory at 50 hosts. pksplay's threads wait on sockets, not on malloc (50 x command on 50 hosts
    /// took as long with one arena). It has to be set before a second thread allocates: glibc fixes
    /// the arena limit the first time it creates one.
    private static func limitMallocArenas() {
        guard Environment.value("MALLOC_ARENA_MAX") == nil else { return }
        _ = mallopt(M_ARENA_MAX, 1)
    }
}
