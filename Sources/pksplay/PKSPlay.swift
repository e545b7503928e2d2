import ArgumentParser
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
}
