import ArgumentParser
import Foundation
import PKSPlayCore
import PKSPlayEngine

/// The options `run`, `check` and the `list-*` commands share, spelled as ansible-playbook spells them.
struct PlaybookOptions: ParsableArguments {
    @ArgumentParser.Argument(help: "The playbook: a path, or the name of a bundled playbook (failover.yml).")
    var playbook: String

    @Option(name: [.customShort("i"), .customLong("inventory"), .customLong("inventory-file")], help: "Inventory file, folder or host list 'a,b,' (repeatable).")
    var inventory: [String] = []

    @Option(name: [.customShort("e"), .customLong("extra-vars")], help: "Extra variables: k=v, JSON/YAML text, or @file (repeatable).")
    var extraVars: [String] = []

    @Option(name: [.customShort("l"), .customLong("limit")], help: "Limit to hosts matching this pattern.")
    var limit: [String] = []

    @Option(name: [.customShort("t"), .customLong("tags")], help: "Only tasks with these tags (comma separated, repeatable).")
    var tags: [String] = []

    @Option(name: .customLong("skip-tags"), help: "Skip tasks with these tags.")
    var skipTags: [String] = []

    @Option(name: .customLong("start-at-task"), help: "Start at the first task with this name (glob).")
    var startAtTask: String?

    @Option(name: [.customShort("f"), .customLong("forks")], help: "Hosts run in parallel (default 16).")
    var forks: Int = 16

    @Flag(name: [.customShort("C"), .customLong("check")], help: "Check mode: report what would change, change nothing.")
    var check = false

    @Flag(name: [.customShort("D"), .customLong("diff")], help: "Show the differences in files and settings.")
    var diff = false

    @Option(name: [.customShort("c"), .customLong("connection")], help: "Connection type: ssh (default) or local.")
    var connection: String?

    @Option(name: [.customShort("u"), .customLong("user")], help: "Connect as this user.")
    var user: String?

    @Option(name: [.customLong("private-key"), .customLong("key-file")], help: "SSH private key file.")
    var privateKey: String?

    @Flag(name: [.customShort("b"), .customLong("become")], help: "Run operations with become (sudo).")
    var become = false

    @Option(name: .customLong("become-user"), help: "Become this user (default root).")
    var becomeUser: String?

    @Option(name: .customLong("become-method"), help: "sudo (default) or su.")
    var becomeMethod: String?

    @Flag(name: [.customShort("K"), .customLong("ask-become-pass")], help: "Ask for the become password.")
    var askBecomePass = false

    @Flag(name: [.customShort("k"), .customLong("ask-pass")], help: "Ask for the SSH password.")
    var askPass = false

    @Option(name: [.customShort("T"), .customLong("timeout")], help: "SSH connect timeout in seconds (default 10).")
    var timeout: Double?

    @Flag(name: .customLong("force-handlers"), help: "Run handlers even on hosts that failed.")
    var forceHandlers = false

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "More output (-vvvv for the most).")
    var verbose: Int

    @Option(name: .customLong("format"), help: "Output: human (default) or json (one event per line).")
    var format: OutputFormat = .human

    @Option(name: .customLong("state-dir"), help: "Where run journals are kept (default ~/.local/state/pksplay).")
    var stateDir: String?

    @Option(name: .customLong("host-key-checking"), help: "strict (default), accept-new, or off (insecure).")
    var hostKeyChecking: String?

    // Accepted for ansible-playbook compatibility.
    @Flag(name: .customLong("step"), help: .hidden) var step = false
    @Flag(name: .customLong("flush-cache"), help: .hidden) var flushCache = false
    @Option(name: [.customShort("M"), .customLong("module-path")], help: .hidden) var modulePath: String?
    @Option(name: .customLong("ssh-common-args"), help: .hidden) var sshCommonArgs: String?
    @Option(name: .customLong("ssh-extra-args"), help: .hidden) var sshExtraArgs: String?
    @Option(name: .customLong("vault-password-file"), help: .hidden) var vaultPasswordFile: String?
    @Flag(name: .customLong("ask-vault-pass"), help: .hidden) var askVaultPass = false

    enum OutputFormat: String, ExpressibleByArgument { case human, json }

    func validate() throws {
        if vaultPasswordFile != nil || askVaultPass {
            throw ValidationError("vaults are not supported: pass secrets with -e @file or environment variables")
        }
        if forks < 1 { throw ValidationError("--forks must be at least 1") }
        if let c = connection, !["ssh", "local", "paramiko", "smart"].contains(c) {
            throw ValidationError("--connection must be ssh or local, not '\(c)'")
        }
        if let h = hostKeyChecking, !["strict", "accept-new", "off"].contains(h) {
            throw ValidationError("--host-key-checking must be strict, accept-new or off")
        }
    }
}

/// `run` and `check` take rollback options on top.
struct RunOnlyOptions: ParsableArguments {
    @Flag(name: .customLong("rollback-on-failure"), help: "When a host fails, roll the whole run back on every host.")
    var rollbackOnFailure = false

    // ansible-playbook's list modes, so its command lines work as they are.
    @Flag(name: .customLong("syntax-check"), help: .hidden) var syntaxCheck = false
    @Flag(name: .customLong("list-tasks"), help: .hidden) var listTasks = false
    @Flag(name: .customLong("list-hosts"), help: .hidden) var listHosts = false
    @Flag(name: .customLong("list-tags"), help: .hidden) var listTags = false
}
