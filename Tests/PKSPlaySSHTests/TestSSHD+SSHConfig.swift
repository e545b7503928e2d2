import Foundation
import PKSPlaySSH

extension TestSSHD {
    /// Settings that reach this sshd as root with the authorized client key, checking the host
    /// key strictly against the generated known_hosts; no agent, so the machine's agent (if any)
    /// cannot make a test pass.
    func config(
        address: String = "127.0.0.1", host: String? = nil, keys: [String]? = nil, policy: SSHConfig.HostKeyPolicy = .strict
    ) -> SSHConfig {
        SSHConfig(
            host: host ?? address, address: address, port: port, user: user, identityFiles: keys ?? [clientKey],
            passphrase: .none, knownHostsFile: knownHosts, hostKeyPolicy: policy, connectTimeout: 5, useAgent: false)
    }
}
