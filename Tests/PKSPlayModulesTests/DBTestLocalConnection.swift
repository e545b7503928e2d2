import Foundation
import PKSPlayCore

#if canImport(Glibc)
import Glibc
#endif

/// A test-only ``Connection`` to this machine: each command runs as `/bin/sh -c COMMAND` with the
/// request's environment merged over the test process's own.
///
/// Standard input, output and error go through temporary files rather than pipes, so no amount of
/// output can hang a test. `onOutput` receives each stream once, whole, after the command ends.
/// `environment` given at creation is added to every command (the container tests point podman at
/// their own storage this way).
///
/// The child is started with `posix_spawn` and reaped by `waitpid` on a thread of its own rather
/// than with `Foundation.Process`: on Linux, Process learns that a child ended when a socket the
/// child inherits is closed, so a daemon the command starts (`pg_ctl start`, podman's conmon) keeps
/// it open and the command would never be seen to end. Here every descriptor above 2 is closed in
/// the child. A `timeout` kills the command's whole process group.
final class DBTestLocalConnection: Connection, @unchecked Sendable {
    let hostName: String
    let baseEnvironment: [String: String]

    init(hostName: String = "localhost", environment: [String: String] = [:]) {
        self.hostName = hostName
        self.baseEnvironment = environment
    }

    func exec(_ request: ExecRequest) async throws -> ExecResult {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("dbtest-exec-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? fm.removeItem(at: dir) }
        let inPath = dir.appendingPathComponent("stdin").path
        let outPath = dir.appendingPathComponent("stdout").path
        let errPath = dir.appendingPathComponent("stderr").path
        try (request.stdin ?? Data()).write(to: URL(fileURLWithPath: inPath))

        var environment = ProcessInfo.processInfo.environment
        environment.merge(baseEnvironment) { $1 }
        environment.merge(request.environment) { $1 }

        let pid = try spawn(command: request.command, environment: environment, stdin: inPath, stdout: outPath, stderr: errPath)
        let timedOut = TimeoutFlag()
        if let timeout = request.timeout {
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                // The group still exists only while the command (or something it left) runs.
                if kill(-pid, 0) == 0 {
                    timedOut.set()
                    kill(-pid, SIGKILL)
                }
            }
        }
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                // WIFSIGNALED / WTERMSIG / WEXITSTATUS, spelled out: the C macros are not imported.
                let signal = raw & 0x7f
                continuation.resume(returning: signal != 0 && signal != 0x7f ? 128 + signal : (raw >> 8) & 0xff)
            }
        }
        if timedOut.isSet { throw ConnectionError.timeout(command: request.command, seconds: request.timeout ?? 0) }
        let out = fm.contents(atPath: outPath) ?? Data()
        let err = fm.contents(atPath: errPath) ?? Data()
        request.onOutput?(.stdout, out)
        request.onOutput?(.stderr, err)
        return ExecResult(exitStatus: status, stdout: out, stderr: err)
    }

    private func spawn(command: String, environment: [String: String], stdin: String, stdout: String, stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Every other inherited descriptor is closed (those opened since are close-on-exec).
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A process group of its own, so a timeout can stop everything the command started.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        let arguments: [String] = ["/bin/sh", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw ConnectionError.unreachable(host: hostName, reason: "cannot start /bin/sh: \(String(cString: strerror(rc)))")
        }
        return pid
    }

    func put(_ data: Data, to path: String, mode: Int?) async throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode ?? 0o644))
        guard fd >= 0 else { throw ConnectionError.fileTransfer(path: path, reason: String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        if let mode, fchmod(fd, mode_t(mode)) != 0 {
            throw ConnectionError.fileTransfer(path: path, reason: "chmod: \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { raw in raw.isEmpty ? 0 : write(fd, raw.baseAddress, raw.count) }
        guard written == data.count else { throw ConnectionError.fileTransfer(path: path, reason: "short write") }
    }

    func get(_ path: String) async throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConnectionError.fileTransfer(path: path, reason: "cannot read")
        }
        return data
    }

    func close() async {}
}

private final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
