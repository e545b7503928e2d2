import Foundation
import PKSPlayCore

/// The small fact set pksplay gathers: one shell round trip, no Python on the target.
extension HostJob {
    static let factScript = """
        printf 'system=%s\\n' "$(uname -s)"; printf 'kernel=%s\\n' "$(uname -r)"; printf 'machine=%s\\n' "$(uname -m)"
        printf 'hostname=%s\\n' "$(uname -n)"; printf 'user_id=%s\\n' "$(id -un)"; printf 'uid=%s\\n' "$(id -u)"
        py=$(command -v python3 2>/dev/null); printf 'python=%s\\n' "$py"
        if [ -n "$py" ]; then printf 'python_version=%s\\n' "$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)"; fi
        if [ -r /etc/os-release ]; then . /etc/os-release; printf 'distribution=%s\\n' "$ID"; printf 'distribution_version=%s\\n' "$VERSION_ID"; fi
        printf -- '--env--\\n'; env
        """

    func gatherFacts(_ sc: TaskScope) async -> HostOutcome {
        do {
            let conn = try await engine.connections.connection(for: target ?? host, variables: targetVars)
            let r = try await conn.exec(ExecRequest(HostJob.factScript))
            guard r.exitStatus == 0 else {
                return failedOutcome("gathering facts failed (exit \(r.exitStatus)): \(r.stderrText)")
            }
            let facts = HostJob.parseFacts(r.stdoutText)
            return HostOutcome(host: host, status: .ok, result: .dict(["changed": false, "ansible_facts": .dict(facts)]),
                               gatheredFacts: facts, changed: false, ignoredFailure: false)
        } catch let e as ConnectionError {
            if case .unreachable(_, let reason) = e {
                let ignore = (try? renderedBool("ignore_unreachable", in: sc)) ?? false
                return HostOutcome(host: host, status: .unreachable, result: .dict(["changed": false, "unreachable": true, "msg": .string(reason)]),
                                   changed: false, ignoredFailure: ignore)
            }
            return failedOutcome("\(e)")
        } catch {
            return failedOutcome("gathering facts failed: \(error)")
        }
    }

    static func parseFacts(_ text: String) -> ValueDict {
        var f = ValueDict()
        var env = ValueDict()
        var inEnv = false
        var kv: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "--env--" { inEnv = true; continue }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let k = String(line[..<eq]), v = String(line[line.index(after: eq)...])
            if inEnv { env[k] = .string(v) } else { kv[k] = v }
        }
        f["ansible_system"] = .string(kv["system"] ?? "")
        f["ansible_kernel"] = .string(kv["kernel"] ?? "")
        f["ansible_architecture"] = .string(kv["machine"] ?? "")
        f["ansible_machine"] = .string(kv["machine"] ?? "")
        let hostname = kv["hostname"] ?? ""
        f["ansible_nodename"] = .string(hostname)
        f["ansible_hostname"] = .string(String(hostname.split(separator: ".").first ?? ""))
        f["ansible_user_id"] = .string(kv["user_id"] ?? "")
        f["ansible_user_uid"] = .int(Int(kv["uid"] ?? "") ?? -1)
        if let d = kv["distribution"] { f["ansible_distribution"] = .string(d.capitalized) }
        if let d = kv["distribution_version"] { f["ansible_distribution_version"] = .string(d) }
        f["ansible_env"] = .dict(env)
        if let py = kv["python"], !py.isEmpty {
            let parts = (kv["python_version"] ?? "").split(separator: ".").compactMap { Int($0) }
            var p: ValueDict = ["executable": .string(py)]
            if parts.count == 3 {
                p["version"] = ["major": .int(parts[0]), "minor": .int(parts[1]), "micro": .int(parts[2])]
            }
            f["ansible_python"] = .dict(p)
            f["ansible_python_version"] = .string(kv["python_version"] ?? "")
        }
        return f
    }
}
