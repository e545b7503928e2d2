import Foundation
import PKSPlayCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// rename(2), under a name the connection's own `rename` method does not shadow.
private func systemRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }

/// Runs commands and moves files on the control machine itself (`hosts: localhost`, `connection: local`).
///
/// Each command runs as `/bin/sh -c COMMAND` in a process group of its own, with the request's
/// environment merged into the one pksplay inherited (values travel in the environment block, never
/// in argv). Standard input is written while both output streams are read, so no size of input or
/// output can deadlock. A `timeout` or a cancelled task sends SIGTERM to the whole group, then
/// SIGKILL after ``killGracePeriod`` seconds.
///
/// A command killed by a signal reports exit status 128 + the signal number, as a POSIX shell does
/// (`sh -c 'kill -9 $$'` gives 137).
///
/// When the command exits while something it started in the background still holds its output
/// open, the output is read until it has been quiet for a second (at most ten seconds after the
/// exit), then the command counts as finished; Ansible's `run_command` behaves the same way.
///
/// Every blocking wait runs on a thread of its own, never on Swift's cooperative pool.
public final class LocalConnection: Connection {
    public let hostName: String
    /// Seconds between SIGTERM and SIGKILL when a command is stopped.
    public let killGracePeriod: Double
    private let closed = Locked(false)

    /// - Parameters:
    ///   - hostName: the inventory name this connection stands for (`localhost`).
    ///   - killGracePeriod: seconds a stopped command's process group gets between SIGTERM and SIGKILL.
    public init(hostName: String = "localhost", killGracePeriod: Double = 2) {
        self.hostName = hostName
        self.killGracePeriod = max(0, killGracePeriod)
    }

    /// Why a request cannot be run at all; the task fails, the host stays reachable.
    public struct RequestError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    public func exec(_ request: ExecRequest) async throws -> ExecResult {
        try checkOpen()
        let child = ChildProcess(request: request, host: hostName, grace: killGracePeriod)
        return try await withTaskCancellationHandler {
            try await onOwnThread { try child.run() }
        } onCancel: {
            child.cancel()
        }
    }

    public func put(_ data: Data, to path: String, mode: Int?) async throws {
        try checkOpen()
        try await onOwnThread { try Self.writeFile(data, to: path, mode: mode) }
    }

    public func get(_ path: String) async throws -> Data {
        try checkOpen()
        return try await onOwnThread { try Self.readFile(path) }
    }

    public func rename(_ source: String, to destination: String) async throws {
        try checkOpen()
        try await onOwnThread {
            guard systemRename(source, destination) == 0 else {
                throw ConnectionError.fileTransfer(path: destination, reason: "cannot rename \(source) to it: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// lstat(2) of each path: no shell to start.
    public func fileStatuses(_ paths: [String]) async throws -> [FileStatus?]? {
        try checkOpen()
        return try await onOwnThread { try paths.map(Self.status) }
    }

    public let sessionMemo: SessionMemo? = SessionMemo()

    public func close() async {
        closed.withLock { $0 = true }
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) {
            throw ConnectionError.unreachable(host: hostName, reason: "the local connection was closed")
        }
    }

    // MARK: - Files

    /// `nil` when nothing is at `path` (or a component of it is not a directory), as `[ -e ]` says.
    static func status(_ path: String) throws -> FileStatus? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ConnectionError.fileTransfer(path: path, reason: "cannot inspect it: \(String(cString: strerror(errno)))")
        }
        #if canImport(Darwin)
        let (atime, mtime) = (st.st_atimespec.tv_sec, st.st_mtimespec.tv_sec)
        #else
        let (atime, mtime) = (st.st_atim.tv_sec, st.st_mtim.tv_sec)
        #endif
        return FileStatus(mode: Int(st.st_mode), uid: Int(st.st_uid), gid: Int(st.st_gid), size: Int(st.st_size),
                          atime: Int(atime), mtime: Int(mtime))
    }

    static func writeFile(_ data: Data, to path: String, mode: Int?) throws {
        func fail(_ what: String) -> ConnectionError {
            .fileTransfer(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        guard !path.isEmpty, !path.contains("\0") else {
            throw ConnectionError.fileTransfer(path: path, reason: "not a valid path")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode ?? 0o666))
        guard fd >= 0 else { throw fail("cannot open for writing") }
        defer { _ = closeFD(fd) }
        // The mode is set on the empty file before any content lands, so a secret is never
        // readable under an older, wider mode.
        if let mode, fchmod(fd, mode_t(mode & 0o7777)) != 0 { throw fail("cannot set mode \(String(mode, radix: 8))") }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw fail("write failed")
                }
                offset += n
            }
        }
    }

    static func readFile(_ path: String) throws -> Data {
        func fail(_ what: String) -> ConnectionError {
            .fileTransfer(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        guard !path.isEmpty, !path.contains("\0") else {
            throw ConnectionError.fileTransfer(path: path, reason: "not a valid path")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("cannot open for reading") }
        defer { _ = closeFD(fd) }
        var out = Data()
        let size = 1 << 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read failed")
            }
            if n == 0 { break }
            out.append(buffer.assumingMemoryBound(to: UInt8.self), count: n)
        }
        return out
    }
}

// MARK: - Running one command

/// One spawned `/bin/sh -c`: pipes, the poll loop that feeds and drains them, and the stop sequence.
final class ChildProcess: @unchecked Sendable {
    private let request: ExecRequest
    private let host: String
    private let grace: Double
    // Written by `cancel()` from any thread to wake the poll loop.
    private let wakePipe: [Int32]
    private let state = Locked((cancelled: false, finished: false))

    init(request: ExecRequest, host: String, grace: Double) {
        self.request = request
        self.host = host
        self.grace = grace
        var fds: [Int32] = [-1, -1]
        if makePipe(&fds) { setNonBlocking(fds[0]); setNonBlocking(fds[1]) }
        self.wakePipe = fds
    }

    deinit {
        for fd in wakePipe where fd >= 0 { _ = closeFD(fd) }
    }

    func cancel() {
        state.withLock { s in
            guard !s.finished else { return }
            s.cancelled = true
            var byte: UInt8 = 1
            _ = write(wakePipe[1], &byte, 1)
        }
    }

    private var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Blocks until the command and its output are done; call it on a thread of its own.
    func run() throws -> ExecResult {
        defer { state.withLock { $0.finished = true } }
        guard wakePipe[0] >= 0 else { throw spawnFailure("cannot create a pipe") }
        if isCancelled { throw ConnectionError.interrupted }
        let spawned = try spawn()
        return try supervise(spawned)
    }

    private struct Spawned {
        var pid: pid_t
        var stdinFD: Int32?
        var stdoutFD: Int32
        var stderrFD: Int32
    }

    private func spawnFailure(_ what: String) -> ConnectionError {
        .unreachable(host: host, reason: "\(what): \(String(cString: strerror(errno)))")
    }

    private func spawn() throws -> Spawned {
        if request.command.contains("\0") {
            throw LocalConnection.RequestError(description: "the command contains a NUL byte, which no shell can receive")
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in request.environment {
            if key.isEmpty || key.contains("=") || key.contains("\0") {
                throw LocalConnection.RequestError(description: "'\(key)' is not a valid environment variable name")
            }
            if value.contains("\0") {
                throw LocalConnection.RequestError(description: "the value of environment variable '\(key)' contains a NUL byte")
            }
            environment[key] = value
        }

        let input = request.stdin.flatMap { $0.isEmpty ? nil : $0 }
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func closeAll() {
            for fd in inPipe + outPipe + errPipe where fd >= 0 { _ = closeFD(fd) }
        }
        guard (input == nil || makePipe(&inPipe)), makePipe(&outPipe), makePipe(&errPipe) else {
            let failure = spawnFailure("cannot create a pipe")
            closeAll()
            throw failure
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // Nothing else of ours reaches the command, whatever a library opened without CLOEXEC (a
        // listening socket inherited by a long command keeps its port open after we close it).
        _ = closeFromFunction?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own so a stop reaches everything the command started; signals the
        // controller ignores or blocks are reset so the command behaves as in a terminal.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ] {
            sigaddset(&defaults, s)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)

        let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", request.command].map { (s: String) in strdup(s) }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { (k: String, v: String) in strdup("\(k)=\(v)") }
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let usesFallbackPipes = pipe2Function == nil
        if usesFallbackPipes { pipeFallbackLock.lock() }
        defer { if usesFallbackPipes { pipeFallbackLock.unlock() } }
        let rc = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (envp + [nil]).withUnsafeBufferPointer { envpBuffer in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, argvBuffer.baseAddress!, envpBuffer.baseAddress!)
            }
        }
        guard rc == 0 else {
            errno = rc
            let failure = spawnFailure("cannot start /bin/sh")
            closeAll()
            throw failure
        }
        // The child holds its own copies now; the parent keeps only its ends.
        for fd in [inPipe[0], outPipe[1], errPipe[1]] where fd >= 0 { _ = closeFD(fd) }
        if input != nil { setNonBlocking(inPipe[1]) }
        setNonBlocking(outPipe[0])
        setNonBlocking(errPipe[0])
        return Spawned(pid: pid, stdinFD: input == nil ? nil : inPipe[1], stdoutFD: outPipe[0], stderrFD: errPipe[0])
    }

    private func supervise(_ child: Spawned) throws -> ExecResult {
        // A write to a pipe the command closed raises SIGPIPE in the writing thread; blocked here,
        // it turns into EPIPE and dies with this thread.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)

        let input = request.stdin ?? Data()
        var inputOffset = 0
        var stdinFD = child.stdinFD
        var stdoutFD: Int32? = child.stdoutFD
        var stderrFD: Int32? = child.stderrFD
        defer {
            for fd in [stdinFD, stdoutFD, stderrFD] { if let fd { _ = closeFD(fd) } }
        }
        var stdout = Data(), stderr = Data()
        var exitStatus: Int32?
        var exitedAt = 0.0
        var lastOutputAt = now()
        let deadline = request.timeout.map { now() + max(0, $0) }
        var termSentAt: Double?
        var killSent = false
        var timedOut = false
        var interrupted = false
        var idleWait = 0.001

        let bufferSize = 1 << 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }

        /// Reads what is there now; returns false at end of file.
        func drain(_ fd: Int32, _ stream: ExecRequest.OutputStream) -> Bool {
            while true {
                let n = read(fd, buffer, bufferSize)
                if n > 0 {
                    let chunk = Data(bytes: buffer, count: n)
                    if stream == .stdout { stdout.append(chunk) } else { stderr.append(chunk) }
                    request.onOutput?(stream, chunk)
                    lastOutputAt = now()
                    if n < bufferSize { return true }
                    continue
                }
                if n == 0 { return false }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
        }

        func stop() {
            guard termSentAt == nil else { return }
            _ = kill(-child.pid, SIGTERM)
            termSentAt = now()
        }

        while true {
            let t = now()
            if exitStatus != nil {
                let stopping = termSentAt != nil
                let groupSettled = !stopping || killSent || (kill(-child.pid, 0) != 0 && errno == ESRCH)
                let outputDone = (stdoutFD == nil && stderrFD == nil)
                    || (t - lastOutputAt >= 1 && t - exitedAt >= 1) || t - exitedAt >= 10
                if outputDone && groupSettled { break }
            }

            var fds = [pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)]
            if let fd = stdinFD { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
            if let fd = stdoutFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if let fd = stderrFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }

            var wait = 0.1
            if exitStatus == nil && stdoutFD == nil && stderrFD == nil {
                // Output is closed; the exit usually follows within microseconds.
                wait = idleWait
                idleWait = min(idleWait * 2, 0.1)
            }
            if let deadline, !timedOut { wait = min(wait, deadline - t) }
            if let sent = termSentAt, !killSent { wait = min(wait, sent + grace - t) }
            if exitStatus != nil { wait = min(wait, 0.1) }
            let ms = Int32(max(0, min(wait, 1)) * 1000)

            let ready = poll(&fds, nfds_t(fds.count), ms)
            if ready < 0 && errno != EINTR && !interrupted {
                // Without poll nothing can be read safely; stop the command rather than spin.
                interrupted = true
                stop()
            }
            if ready > 0 {
                for p in fds where p.revents != 0 {
                    if p.fd == wakePipe[0] {
                        var sink = [UInt8](repeating: 0, count: 64)
                        while read(wakePipe[0], &sink, sink.count) > 0 {}
                    } else if p.fd == stdinFD {
                        if !feed(p.fd, input, &inputOffset) || inputOffset >= input.count {
                            _ = closeFD(p.fd)
                            stdinFD = nil
                        }
                    } else if p.fd == stdoutFD {
                        if !drain(p.fd, .stdout) { _ = closeFD(p.fd); stdoutFD = nil }
                    } else if p.fd == stderrFD {
                        if !drain(p.fd, .stderr) { _ = closeFD(p.fd); stderrFD = nil }
                    }
                }
            }

            if exitStatus == nil {
                var status: Int32 = 0
                let r = waitpid(child.pid, &status, WNOHANG)
                if r == child.pid {
                    exitStatus = decodeWaitStatus(status)
                    exitedAt = now()
                    // Nobody reads our stdin any more.
                    if let fd = stdinFD { _ = closeFD(fd); stdinFD = nil }
                } else if r < 0 && errno == ECHILD {
                    exitStatus = 255
                    exitedAt = now()
                }
            }

            let after = now()
            if !interrupted && isCancelled {
                interrupted = true
                stop()
            }
            if let deadline, !timedOut, !interrupted, exitStatus == nil, after >= deadline {
                timedOut = true
                stop()
            }
            if let sent = termSentAt, !killSent, after >= sent + grace {
                _ = kill(-child.pid, SIGKILL)
                killSent = true
            }
        }

        if interrupted { throw ConnectionError.interrupted }
        if timedOut { throw ConnectionError.timeout(command: request.command, seconds: request.timeout ?? 0) }
        return ExecResult(exitStatus: exitStatus ?? 255, stdout: stdout, stderr: stderr)
    }

    /// Writes the next part of stdin; false when the command will read no more.
    private func feed(_ fd: Int32, _ input: Data, _ offset: inout Int) -> Bool {
        input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Bool in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, min(raw.count - offset, 1 << 16))
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
                return false
            }
            return true
        }
    }
}

// MARK: - Small POSIX helpers

private func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// 128 + signal for a signalled process, as shells report it.
func decodeWaitStatus(_ status: Int32) -> Int32 {
    let signal = status & 0x7f
    if signal == 0 { return (status >> 8) & 0xff }
    return 128 + signal
}

/// A C library function Glibc's Swift module hides (behind `_GNU_SOURCE`), found at run time; nil
/// where the C library lacks it.
private func hiddenLibcFunction<F>(_ name: String, as type: F.Type) -> F? {
    #if os(Linux)
    guard let symbol = dlsym(nil, name) else { return nil }
    return unsafeBitCast(symbol, to: type)
    #else
    return nil
    #endif
}

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34).
private let closeFromFunction = hiddenLibcFunction(
    "posix_spawn_file_actions_addclosefrom_np",
    as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)

/// `pipe2(2)`.
private let pipe2Function = hiddenLibcFunction("pipe2", as: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)

/// Serialises the fallback's pipe-then-FD_CLOEXEC window against our own spawns.
private let pipeFallbackLock = NSLock()

/// A pipe whose ends close on exec, so no other child inherits (and holds open) our ends.
private func makePipe(_ fds: inout [Int32]) -> Bool {
    fds.withUnsafeMutableBufferPointer { buffer in
        if let pipe2 = pipe2Function { return pipe2(buffer.baseAddress!, O_CLOEXEC) == 0 }
        pipeFallbackLock.lock()
        defer { pipeFallbackLock.unlock() }
        guard pipe(buffer.baseAddress!) == 0 else { return false }
        _ = fcntl(buffer[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(buffer[1], F_SETFD, FD_CLOEXEC)
        return true
    }
}

private func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
}

@inline(__always)
private func closeFD(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}

/// Runs `body` on a new thread and resumes the caller with its result, so a blocking system
/// call never holds one of the few threads of Swift's cooperative pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = "pksplay-local"
        thread.start()
    }
}

/// A value behind a lock, shareable across threads.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
