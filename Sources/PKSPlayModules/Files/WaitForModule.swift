import Foundation
import PKSPlayCore

/// `wait_for`: waits until a TCP port on or seen from the target opens, closes or drains, or a
/// path appears (optionally holding a match) or goes away, polling from the target's own shell.
///
/// A port is probed with bash's `/dev/tcp` when bash exists, else with `nc -z`; the tool used is
/// returned as `port_probe`. Like Ansible's, it does not run in check mode (skipped).
public enum WaitForModule: Module, HasFileModuleExamples {
    public static let name = "wait_for"

    public static let arguments = ArgumentSpec([
        Argument("host", .string, default: "127.0.0.1", help: "Address to probe, as seen from the target."),
        Argument("timeout", .int, default: 300, help: "Seconds to wait at most; alone, just sleeps that long."),
        Argument("connect_timeout", .int, default: 5, help: "Seconds one connection attempt may take."),
        Argument("delay", .int, default: 0, help: "Seconds to wait before the first check."),
        Argument("port", .int, help: "TCP port to probe."),
        Argument("active_connection_states", .list(.string), default: ["ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT"]),
        Argument("path", .path, help: "File whose presence (or absence) is waited for; links are followed."),
        Argument("search_regex", .string, help: "Python regex (MULTILINE) that the file or the port's first bytes must match."),
        Argument("state", .string, default: "started", choices: ["absent", "drained", "present", "started", "stopped"]),
        Argument("exclude_hosts", .list(.string), help: "With state=drained, connections from these addresses do not count."),
        Argument("sleep", .int, default: 1, help: "Seconds between checks."),
        Argument("msg", .string, help: "Message instead of the default one on timeout."),
    ], mutuallyExclusive: [["port", "path"]])

    public static let documentation = ModuleDocumentation(
        summary: "Wait for a port to open, close or drain, or for a file to appear (with a match) or vanish; returns elapsed seconds.",
        example: """
        - name: Wait until PostgreSQL listens on the primary, seen from the secondary
          wait_for:
            host: 10.0.3.10
            port: 5432
            timeout: 60

        - name: Wait for the standby signal file after the swap
          wait_for:
            path: /srv/pks/db/standby.signal

        - name: Wait until the startup log says it is ready
          wait_for:
            path: /srv/pks/db/log/postgresql.log
            search_regex: 'database system is ready to accept (?P<kind>\\w+) connections'
          register: ready
        """,
        notes: ["Probes run on the target: bash's /dev/tcp, else nc; which one is returned as port_probe.",
                "Skipped in check mode, as Ansible's wait_for is."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("a present file is found at once", before: [("ready", .file("ok\n"))],
                          args: ["path": "ROOT/ready", "timeout": 2], after: [("ready", .file("ok\n"))], changed: false),
        FileModuleExample("search_regex in a file", before: [("log", .file("starting\ndatabase system is ready to accept connections\n"))],
                          args: ["path": "ROOT/log", "search_regex": "ready to accept (\\w+)", "timeout": 2], changed: false),
        FileModuleExample("absent path is absent at once", args: ["path": "ROOT/lock", "state": "absent", "timeout": 2], changed: false),
        FileModuleExample("timeout waiting for a file", args: ["path": "ROOT/never", "timeout": 1, "sleep": 1], changed: false, failed: true,
                          msg: "Timeout when waiting for file ROOT/never"),
        FileModuleExample("custom msg on timeout", args: ["path": "ROOT/never", "timeout": 1, "msg": "Timeout to find file never"], changed: false, failed: true,
                          msg: "Timeout to find file never"),
        FileModuleExample("state=stopped is for ports only", args: ["path": "ROOT/x", "state": "stopped"], changed: false, failed: true,
                          msg: "state=stopped should only be used for checking a port in the wait_for module"),
    ]

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        if context.checkMode {
            return ModuleResult(skipped: true, msg: "remote module (wait_for) does not support check mode")
        }
        do {
            return try await execute(context)
        } catch let error as FileModuleError {
            return .failure(error, values: ["elapsed": 0])
        }
    }

    static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        let host = context.string("host") ?? "127.0.0.1"
        let timeout = max(0, context.int("timeout") ?? 300)
        let connectTimeout = max(1, context.int("connect_timeout") ?? 5)
        let delay = max(0, context.int("delay") ?? 0)
        let port = context.int("port")
        let path = context.string("path")
        let state = context.string("state") ?? "started"
        let sleep = max(0, context.int("sleep") ?? 1)
        let userMsg = context.string("msg")
        let exclude = context.stringList("exclude_hosts")
        let activeStates = context.stringList("active_connection_states") ?? ["ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT"]
        func fail(_ m: String, _ elapsed: Int = 0) -> ModuleResult { ModuleResult(failed: true, msg: userMsg ?? m, values: ["elapsed": .int(elapsed)]) }
        if port != nil && path != nil { return ModuleResult(failed: true, msg: "port and path parameter can not both be passed to wait_for", values: ["elapsed": 0]) }
        if path != nil && state == "stopped" { return ModuleResult(failed: true, msg: "state=stopped should only be used for checking a port in the wait_for module", values: ["elapsed": 0]) }
        if path != nil && state == "drained" { return ModuleResult(failed: true, msg: "state=drained should only be used for checking a port in the wait_for module", values: ["elapsed": 0]) }
        if exclude != nil && state != "drained" { return ModuleResult(failed: true, msg: "exclude_hosts should only be with state=drained", values: ["elapsed": 0]) }
        let stateCodes = ["ESTABLISHED": "01", "SYN_SENT": "02", "SYN_RECV": "03", "FIN_WAIT1": "04", "FIN_WAIT2": "05", "TIME_WAIT": "06",
                          "CLOSE": "07", "CLOSE_WAIT": "08", "LAST_ACK": "09", "LISTEN": "0A", "CLOSING": "0B"]
        for s in activeStates where stateCodes[s] == nil {
            return ModuleResult(failed: true, msg: "unknown active_connection_state (\(s)) defined", values: ["elapsed": 0])
        }
        let regex: PythonRegex?
        do {
            regex = try context.string("search_regex").map { try PythonRegex($0, flags: .multiline) }
        } catch {
            return ModuleResult(failed: true, msg: "Invalid regular expression: \(error)", values: ["elapsed": 0])
        }

        let fs = RemoteFileSystem(connection: context.connection)
        let clock = ContinuousClock()
        let start = clock.now
        func elapsed() -> Int { Int((clock.now - start).components.seconds) }
        let end = start + .seconds(timeout)
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        var values: ValueDict = ["state": .string(state), "port": port.map(Value.int) ?? .null,
                                 "search_regex": context.string("search_regex").map(Value.string) ?? .null,
                                 "path": path.map(Value.string) ?? .null, "match_groups": .list([]), "match_groupdict": .dict([:])]
        func done() -> ModuleResult {
            values["elapsed"] = .int(elapsed())
            return ModuleResult(values: values)
        }

        if port == nil && path == nil && state != "drained" {
            try await Task.sleep(for: .seconds(timeout))
            return done()
        }

        var probe: PortProbe?
        if let port, state != "drained" {
            probe = try await PortProbe.detect(fs)
            guard let p = probe else {
                return fail("cannot probe \(host):\(port) from \(context.host): neither bash (for /dev/tcp) nor nc is installed there")
            }
            values["port_probe"] = .string(p.kind.rawValue)
        }

        while clock.now < end {
            let remaining = max(1, Int((end - clock.now).components.seconds))
            if let path {
                let exists = try await fs.sh(#"[ -e "$1" ]"#, [path], what: "checking \(path)", allowFailure: true).exitStatus == 0
                if state == "absent" {
                    if !exists { return done() }
                } else if exists {
                    guard let regex else { return done() }
                    if let data = try? await fs.read(path), let match = regex.firstMatch(in: String(decoding: data, as: UTF8.self)) {
                        values["match_groups"] = .list((1..<max(1, match.groups.count)).map { match.group($0).map(Value.string) ?? .null })
                        values["match_groupdict"] = .dict(ValueDict(regex.groupDict(match).map { ($0.0, $0.1.map(Value.string) ?? .null) }))
                        return done()
                    }
                }
            } else if let port, let probe {
                let wait = min(connectTimeout, remaining)
                if state == "stopped" {
                    if try await !probe.connects(host: host, port: port, timeout: wait) { return done() }
                } else if let regex {
                    if let text = try await probe.read(host: host, port: port, seconds: wait), let match = regex.firstMatch(in: text) {
                        values["match_groups"] = .list((1..<max(1, match.groups.count)).map { match.group($0).map(Value.string) ?? .null })
                        values["match_groupdict"] = .dict(ValueDict(regex.groupDict(match).map { ($0.0, $0.1.map(Value.string) ?? .null) }))
                        return done()
                    }
                } else if try await probe.connects(host: host, port: port, timeout: wait) {
                    return done()
                }
            } else if let port {
                let count = try await activeConnections(fs, host: host, port: port, states: Set(activeStates.compactMap { stateCodes[$0] }), exclude: exclude ?? [])
                if count == 0 { return done() }
            }
            if clock.now >= end { break }
            try await Task.sleep(for: .seconds(sleep))
        }
        let e = elapsed()
        if let port {
            switch state {
            case "stopped": return fail("Timeout when waiting for \(host):\(port) to stop.", e)
            case "drained": return fail("Timeout when waiting for \(host):\(port) to drain", e)
            default:
                if let s = context.string("search_regex") { return fail("Timeout when waiting for search string \(s) in \(host):\(port)", e) }
                return fail("Timeout when waiting for \(host):\(port)", e)
            }
        }
        let p = path ?? ""
        if state == "absent" { return fail("Timeout when waiting for \(p) to be absent.", e) }
        if let s = context.string("search_regex") { return fail("Timeout when waiting for search string \(s) in \(p)", e) }
        return fail("Timeout when waiting for file \(p)", e)
    }

    /// Connections on `port` in one of `states` (hex codes of /proc/net/tcp), local address
    /// `host` unless it is a wildcard, not from an excluded address.
    static func activeConnections(_ fs: RemoteFileSystem, host: String, port: Int, states: Set<String>, exclude: [String]) async throws -> Int {
        let r = try await fs.sh("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", what: "reading /proc/net/tcp", allowFailure: true)
        let wildcard = ["0.0.0.0", "::", ""].contains(host)
        var count = 0
        for line in r.stdoutText.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count > 3 else { continue }
            let local = f[1].split(separator: ":"), remote = f[2].split(separator: ":")
            guard local.count == 2, remote.count == 2, Int(local[1], radix: 16) == port, states.contains(String(f[3]).uppercased()) else { continue }
            if !wildcard && decodeAddress(String(local[0])) != host { continue }
            if exclude.contains(decodeAddress(String(remote[0]))) { continue }
            count += 1
        }
        return count
    }

    /// /proc/net/tcp writes IPv4 addresses as little-endian hex; IPv6 are left as hex here.
    static func decodeAddress(_ hex: String) -> String {
        guard hex.count == 8, let v = UInt32(hex, radix: 16) else { return hex }
        return [v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, v >> 24].map(String.init).joined(separator: ".")
    }
}

/// How the target can open a TCP connection: bash's `/dev/tcp`, or `nc`.
struct PortProbe: Sendable {
    enum Kind: String, Sendable { case bash = "bash /dev/tcp", nc = "nc" }
    var kind: Kind
    var hasTimeout: Bool
    let fs: RemoteFileSystem

    static func detect(_ fs: RemoteFileSystem) async throws -> PortProbe? {
        let r = try await fs.sh(#"command -v bash >/dev/null 2>&1 && echo bash; command -v nc >/dev/null 2>&1 && echo nc; command -v timeout >/dev/null 2>&1 && echo timeout; :"#,
                                what: "looking for bash or nc")
        let tools = Set(r.stdoutText.split(separator: "\n").map(String.init))
        let kind: Kind? = tools.contains("bash") ? .bash : (tools.contains("nc") ? .nc : nil)
        return kind.map { PortProbe(kind: $0, hasTimeout: tools.contains("timeout"), fs: fs) }
    }

    func connects(host: String, port: Int, timeout: Int) async throws -> Bool {
        let script: String
        switch kind {
        case .bash: script = #"\#(hasTimeout ? "timeout \"$3\" " : "")bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null"#
        case .nc: script = #"nc -z -w "$3" "$1" "$2" 2>/dev/null"#
        }
        do {
            let r = try await fs.connection.exec(ExecRequest("set -- " + shellJoin([host, String(port), String(timeout)]) + "\n" + script,
                                                             timeout: Double(timeout) + 2))
            return r.exitStatus == 0
        } catch ConnectionError.timeout {
            return false
        }
    }

    /// What the port sends within `seconds`, or nil when it cannot be reached.
    func read(host: String, port: Int, seconds: Int) async throws -> String? {
        let script: String
        switch kind {
        case .bash: script = #"\#(hasTimeout ? "timeout \"$3\" " : "")bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 9; cat <&3' _ "$1" "$2" 2>/dev/null; [ $? -ne 9 ]"#
        case .nc: script = #"\#(hasTimeout ? "timeout \"$3\" " : "")nc -w "$3" "$1" "$2" </dev/null 2>/dev/null; :"#
        }
        do {
            let r = try await fs.connection.exec(ExecRequest("set -- " + shellJoin([host, String(port), String(seconds)]) + "\n" + script,
                                                             timeout: Double(seconds) + 2))
            return r.exitStatus == 0 ? r.stdoutText : nil
        } catch ConnectionError.timeout {
            return nil
        }
    }
}
