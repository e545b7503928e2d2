import Foundation
import PKSPlayCore
import PKSPlayLocal
import PKSPlaySSH

/// Command-line settings that apply to every SSH connection of a run.
struct SSHDefaults: Sendable {
    var privateKey: String?
    var password: String?
    var timeout: Double
    var hostKeyChecking: String?
    var reporter: any Reporter
}

/// Opens the connection a host's variables ask for: `ansible_connection: local`, or SSH.
enum Connections {
    static let sshConfigFile: SSHConfigFile? = {
        let path = ("~/.ssh/config" as NSString).expandingTildeInPath
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? SSHConfigFile.load(path)
    }()

    static func open(host: String, variables vars: ValueDict, defaults: SSHDefaults) async throws -> any Connection {
        let kind = vars["ansible_connection"]?.stringified ?? (host == "localhost" ? "local" : "ssh")
        switch kind {
        case "local":
            return LocalConnection(hostName: host)
        case "ssh", "smart", "paramiko", "ansible.builtin.ssh":
            return try await SSHConnection.connect(sshConfig(host: host, vars: vars, defaults: defaults))
        default:
            throw ConnectionError.unreachable(host: host, reason: "connection type '\(kind)' is not supported (use ssh or local)")
        }
    }

    static func sshConfig(host: String, vars: ValueDict, defaults: SSHDefaults) throws -> SSHConfig {
        var c = sshConfigFile?.config(for: host) ?? SSHConfig(host: host)
        func s(_ k: String) -> String? { vars[k].map(\.stringified).flatMap { $0.isEmpty ? nil : $0 } }
        if let a = s("ansible_host") { c.address = a }
        if let p = s("ansible_port") {
            guard let port = Int(p) else { throw ConnectionError.unreachable(host: host, reason: "ansible_port '\(p)' is not a number") }
            c.port = port
        }
        if let u = s("ansible_user") { c.user = u }
        if let k = s("ansible_ssh_private_key_file") ?? s("ansible_private_key_file") ?? defaults.privateKey {
            c.identityFiles = [(k as NSString).expandingTildeInPath]
        }
        if let pw = s("ansible_password") ?? s("ansible_ssh_pass") ?? defaults.password { c.password = pw }
        if let kh = s("ansible_ssh_known_hosts_file") { c.knownHostsFile = (kh as NSString).expandingTildeInPath }
        let checking = defaults.hostKeyChecking ?? s("ansible_ssh_host_key_checking") ?? s("ansible_host_key_checking")
            ?? Environment.value("ANSIBLE_HOST_KEY_CHECKING")
        switch checking?.lowercased() {
        case nil: break
        case "strict", "yes", "true", "1": c.hostKeyPolicy = .strict
        case "accept-new": c.hostKeyPolicy = .acceptNew
        case "off", "no", "false", "0":
            c.hostKeyPolicy = .insecureOff
            defaults.reporter.report(.warning("host key checking is OFF for \(host): anyone on the network path can impersonate it"))
        default: throw ConnectionError.unreachable(host: host, reason: "host key checking '\(checking!)' is not strict, accept-new or off")
        }
        if let t = s("ansible_ssh_timeout") ?? s("ansible_timeout"), let d = Double(t) { c.connectTimeout = d } else { c.connectTimeout = defaults.timeout }
        return c
    }
}
