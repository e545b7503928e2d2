import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH server for tests: Debian's `/usr/sbin/sshd`, on loopback, on a free high port,
/// with its own generated host key, client key, authorized_keys and known_hosts in a temp dir.
///
/// Uses only Foundation, so other test targets can copy or share this file. Run as root.
/// sshd runs in its own mount namespace (when `unshare` works) where an empty temp dir hides
/// `/root` (the machine's root `.bashrc` costs ~0.35 s per command) and, for password tests, a
/// copy of `/etc/shadow` gives root a known password; nothing on the machine itself changes
/// except that `/run/sshd`, sshd's privilege separation directory, is created if missing.
/// ``stop()`` kills sshd and every process under it, and removes the temp dir.
final class TestSSHD: @unchecked Sendable {
    struct Options {
        /// Host key types, each one of `ed25519`, `ecdsa`, `rsa`; the first is ``TestSSHD/hostPublicKey``.
        var hostKeyTypes = ["ed25519"]
        /// Also accept connections on 127.0.0.2 … 127.0.0.(1+n), same port. Up to 15 extra
        /// addresses get a ListenAddress line each; beyond that (sshd allows 16 listen sockets)
        /// sshd listens on 0.0.0.0 and `AllowUsers root@127.0.0.0/8` refuses anyone not on loopback.
        var extraLoopbackAddresses = 0
        /// Offer the SFTP subsystem (internal-sftp).
        var sftp = true
        var passwordAuthentication = false
        var publicKeyAuthentication = true
        /// sshd's LogLevel (`DEBUG` logs every authentication request).
        var logLevel = "INFO"
        /// Give root this password inside sshd's mount namespace (needs `unshare`).
        var rootPassword: String?
        /// Extra sshd_config lines.
        var extraConfig: [String] = []
    }

    let directory: String
    let port: Int
    let addresses: [String]
    /// `ssh-ed25519 AAAA…` of the (first) host key.
    let hostPublicKey: String
    /// The (first) host key's fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).
    let hostKeyFingerprint: String
    /// Every host key: its `type base64` line and fingerprint, in `Options.hostKeyTypes` order.
    let hostKeys: [(publicKey: String, fingerprint: String)]
    /// An authorized client key (ed25519, unencrypted).
    let clientKey: String
    /// A key that is not authorized.
    let strangerKey: String
    /// known_hosts holding the host key for every address (`[127.0.0.x]:port`).
    let knownHosts: String
    let user = "root"
    private let process: ChildProcess
    private let lock = NSLock()
    private var stopped = false

    static let mountNamespaceWorks: Bool = {
        (try? TestSSHD.run(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/true"]).status) == 0
    }()

    /// Starts sshd and waits until it listens. The blocking work (key generation, process start,
    /// polling the port) runs on a thread of its own, never on Swift's cooperative pool, which
    /// parallel tests would otherwise starve.
    static func start(_ options: Options = Options()) async throws -> TestSSHD {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try startBlocking(options) }) }
            thread.start()
        }
    }

    private static func startBlocking(_ options: Options) throws -> TestSSHD {
        var lastError: Error?
        // A port found free can be taken before sshd binds it; try a few.
        for _ in 0..<5 {
            do { return try TestSSHD(options: options) } catch let error as TestSSHDError where error.retryable {
                lastError = error
            }
        }
        throw lastError ?? TestSSHDError("sshd did not start")
    }

    private init(options: Options) throws {
        let template = NSTemporaryDirectory() + "pksplay-sshd-XXXXXX"
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw TestSSHDError("mkdtemp failed") }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.directory = directory
        var failed = true
        defer { if failed { try? FileManager.default.removeItem(atPath: directory) } }

        if !FileManager.default.fileExists(atPath: "/run/sshd") {
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        var hostKeys: [(publicKey: String, fingerprint: String)] = []
        var hostKeyPaths: [String] = []
        for type in options.hostKeyTypes {
            let path = directory + "/host_key_\(type)"
            var keygen = ["/usr/bin/ssh-keygen", "-q", "-t", type, "-N", "", "-C", "pksplay-test-host", "-f", path]
            if type == "rsa" { keygen += ["-b", "2048"] }
            try TestSSHD.check(keygen)
            let publicKey = try String(contentsOfFile: path + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            let fingerprint = try TestSSHD.run(["/usr/bin/ssh-keygen", "-l", "-E", "sha256", "-f", path + ".pub"]).stdout
                .split(separator: " ").dropFirst().first.map(String.init) ?? ""
            hostKeys.append((publicKey, fingerprint))
            hostKeyPaths.append(path)
        }
        self.hostKeys = hostKeys
        hostPublicKey = hostKeys[0].publicKey
        hostKeyFingerprint = hostKeys[0].fingerprint
        clientKey = directory + "/client_ed25519"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pksplay-test-client", "-f", clientKey])
        strangerKey = directory + "/stranger_ed25519"
        try TestSSHD.check(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f", strangerKey])
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: directory + "/authorized_keys")

        let port = try TestSSHD.freePort()
        self.port = port
        let addresses = ["127.0.0.1"] + (0..<options.extraLoopbackAddresses).map { "127.0.0.\($0 + 2)" }
        self.addresses = addresses
        knownHosts = directory + "/known_hosts"
        try addresses.flatMap { address in hostKeys.map { "[\(address)]:\(port) \($0.publicKey)\n" } }.joined()
            .write(toFile: knownHosts, atomically: true, encoding: .utf8)

        let home = directory + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var shadow = ""
        if let password = options.rootPassword {
            shadow = directory + "/shadow"
            let hash = try TestSSHD.run(["/usr/bin/openssl", "passwd", "-6", "-salt", "pksplaytest", password]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let original = try String(contentsOfFile: "/etc/shadow", encoding: .utf8)
            let lines = original.split(separator: "\n").map { line -> String in
                var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                if fields.first == "root", fields.count > 1 { fields[1] = hash }
                return fields.joined(separator: ":")
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: shadow, atomically: true, encoding: .utf8)
            chmod(shadow, 0o640)
        }

        let listen = addresses.count <= 16 ? addresses.map { "ListenAddress \($0)" } : ["ListenAddress 0.0.0.0", "AllowUsers root@127.0.0.0/8"]
        var config = ["Port \(port)"] + listen + hostKeyPaths.map { "HostKey \($0)" } + [
            "PidFile none",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin \(options.passwordAuthentication ? "yes" : "prohibit-password")",
            "PubkeyAuthentication \(options.publicKeyAuthentication ? "yes" : "no")",
            "PasswordAuthentication \(options.passwordAuthentication ? "yes" : "no")",
            "KbdInteractiveAuthentication no",
            "AuthorizedKeysFile \(directory)/authorized_keys",
            "MaxStartups 200",
            "MaxSessions 20",
            "LogLevel \(options.logLevel)",
        ]
        if options.sftp { config.append("Subsystem sftp internal-sftp") }
        config += options.extraConfig
        let configPath = directory + "/sshd_config"
        try (config.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        try TestSSHD.check(["/usr/sbin/sshd", "-t", "-f", configPath])

        let argv: [String]
        if TestSSHD.mountNamespaceWorks {
            let script = "mount --bind \"$1\" /root && { [ -z \"$3\" ] || mount --bind \"$3\" /etc/shadow; } && exec /usr/sbin/sshd -D -e -f \"$2\""
            argv = ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", home, configPath, shadow]
        } else {
            guard options.rootPassword == nil else { throw TestSSHDError("a root password needs a mount namespace (unshare)") }
            argv = ["/usr/sbin/sshd", "-D", "-e", "-f", configPath]
        }
        let process = try ChildProcess(argv, stdout: nil, stderr: directory + "/sshd.log")
        self.process = process

        // Ready when sshd itself says it listens on every address. A successful TCP connect alone
        // is not proof: another process may hold the port, and then this sshd failed to bind.
        let expected = addresses.count <= 16 ? addresses : ["0.0.0.0"]
        let deadline = Date().addingTimeInterval(10)
        while true {
            let log = (try? String(contentsOfFile: directory + "/sshd.log", encoding: .utf8)) ?? ""
            if expected.allSatisfy({ log.contains("Server listening on \($0) port \(port).") }) { break }
            if log.contains("Bind to port") || !process.isRunning {
                killTree()
                throw TestSSHDError("sshd could not start: \(log)", retryable: log.contains("Address already in use") || log.contains("Cannot bind"))
            }
            if Date() > deadline {
                killTree()
                throw TestSSHDError("sshd not listening on port \(port) after 10 s: \(log)", retryable: true)
            }
            usleep(10_000)
        }
        failed = false
    }

    deinit { stop() }

    /// The sshd log (LogLevel INFO unless the options say otherwise), for failing tests to show.
    var log: String { (try? String(contentsOfFile: directory + "/sshd.log", encoding: .utf8)) ?? "" }

    /// Kills sshd and every process under it (sessions included), then removes the temp dir.
    func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        killTree()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills sshd and all its descendants at once, as a crash or a reboot would; the temp dir stays.
    func killTree() {
        let pid = process.pid
        var victims = [pid] + TestSSHD.descendants(of: pid)
        victims.removeAll { $0 <= 1 }
        for victim in victims { kill(victim, SIGKILL) }
        _ = process.wait()
    }

    /// Stops (SIGSTOP) every process under sshd, sessions included, as a hung host would be: the
    /// kernel still acknowledges TCP, but nothing answers. ``stop()`` kills them.
    func freezeSessions() {
        for pid in TestSSHD.descendants(of: process.pid) where pid > 1 { kill(pid, SIGSTOP) }
    }

    /// PIDs of every live process below `root`, from /proc.
    static func descendants(of root: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after "comm)": state, ppid, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var result: [Int32] = []
        var queue = [root]
        var seen: Set<Int32> = [root]
        while let next = queue.popLast() {
            for child in children[next] ?? [] where seen.insert(child).inserted {
                result.append(child)
                queue.append(child)
            }
        }
        return result
    }

    /// Adds the public key at `publicKeyPath` to the authorized keys.
    func authorize(_ publicKeyPath: String) throws {
        let key = try String(contentsOfFile: publicKeyPath, encoding: .utf8)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/authorized_keys"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(key.utf8))
    }

    /// Writes `text` to a file in the temp dir and returns its path.
    func writeFile(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: Helpers

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSSHDError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestSSHDError("bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a short helper command and returns its output (collected through temp files).
    @discardableResult
    static func run(_ argv: [String]) throws -> Output {
        let base = NSTemporaryDirectory() + "pksplay-run-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let status = try ChildProcess(argv, stdout: base + ".out", stderr: base + ".err").wait()
        let stdout = FileManager.default.contents(atPath: base + ".out") ?? Data()
        let stderr = FileManager.default.contents(atPath: base + ".err") ?? Data()
        return Output(status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func check(_ argv: [String]) throws {
        let output = try run(argv)
        guard output.status == 0 else { throw TestSSHDError("\(argv.joined(separator: " ")) failed: \(output.stderr)") }
    }
}

struct TestSSHDError: Error, CustomStringConvertible {
    var description: String
    var retryable = false
    init(_ description: String, retryable: Bool = false) {
        self.description = description
        self.retryable = retryable
    }
}

/// A child process started with `posix_spawn` and reaped with `waitpid`.
///
/// Not Foundation's `Process`: it learns that a child exited through a socket pair whose end a
/// concurrently spawned long-lived child (an sshd of a parallel test) can inherit, and then
/// `waitUntilExit` never returns. Here stdin is /dev/null, stdout and stderr go to files, and
/// every other descriptor is closed in the child.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    init(_ argv: [String], stdout: String?, stderr: String?) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let closeFrom = ChildProcess.addCloseFrom { _ = closeFrom(&actions, 3) }
        var arguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &arguments, environ)
        guard rc == 0 else { throw TestSSHDError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not show.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// False once the child has exited (and has been reaped).
    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if status != nil { return false }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { status = ChildProcess.decode(raw) }
        return status == nil
    }

    /// Waits for the child to exit; its exit code, or 128+signal.
    @discardableResult
    func wait() -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let decoded = ChildProcess.decode(raw)
        status = decoded
        return decoded
    }

    private static func decode(_ raw: Int32) -> Int32 {
        raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }
}
