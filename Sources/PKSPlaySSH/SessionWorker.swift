import Foundation
import PKSPlayCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The dedicated thread that owns one SSH session and runs its requests one at a time.
///
/// libssh2 sessions are not thread-safe and their calls block, so every call for a session happens
/// on this thread, never on Swift's cooperative pool. Callers `await` a job; the job runs here and
/// resumes the caller's continuation. A pipe wakes the thread for new jobs, cancellation and
/// shutdown, also while it waits on the session's socket.
final class SessionWorker: @unchecked Sendable {
    typealias Job = (SSHSession) -> Void

    private let lock = NSLock()
    // Guarded by `lock`.
    private var queue: [Job] = []
    private var closing = false
    private var pipeOpen = true

    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let config: SSHConfig

    init(config: SSHConfig) throws(SessionFailure) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw .transport("cannot create a pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        self.config = config
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "pksplay-ssh \(config.host)"
        // libssh2 and OpenSSL need little stack; 50 sessions should not reserve 8 MB each.
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Runs `work` on the session thread and returns its result. Cancelling the calling task
    /// interrupts a running command (its channel is closed, the command killed).
    func perform<T: Sendable>(_ work: @escaping @Sendable (SSHSession) throws -> T) async throws -> T {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                let accepted = submit { session in
                    if flag.isSet {
                        continuation.resume(throwing: ConnectionError.interrupted)
                        return
                    }
                    session.cancelFlag = flag
                    defer { session.cancelFlag = nil }
                    continuation.resume(with: Result { try work(session) })
                }
                if !accepted {
                    continuation.resume(throwing: ConnectionError.unreachable(host: config.host, reason: "the connection is closed"))
                }
            }
        } onCancel: {
            flag.set()
            wake()
        }
    }

    /// Asks the thread to end the session once the queued jobs have run.
    func shutdown() {
        lock.lock()
        closing = true
        lock.unlock()
        wake()
    }

    private func submit(_ job: @escaping Job) -> Bool {
        lock.lock()
        guard !closing else {
            lock.unlock()
            return false
        }
        queue.append(job)
        lock.unlock()
        wake()
        return true
    }

    func wake() {
        lock.lock()
        defer { lock.unlock() }
        guard pipeOpen else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already means "wake up"
    }

    private func run() {
        let session = SSHSession(config: config, wakeFD: wakeRead)
        while let job = nextJob(session) { job(session) }
        session.terminate()
        lock.lock()
        pipeOpen = false
        close(wakeRead)
        close(wakeWrite)
        lock.unlock()
    }

    private func nextJob(_ session: SSHSession) -> Job? {
        while true {
            lock.lock()
            if !queue.isEmpty {
                let job = queue.removeFirst()
                lock.unlock()
                return job
            }
            if closing {
                lock.unlock()
                return nil
            }
            lock.unlock()
            session.idle()
        }
    }
}

/// Set once when the caller's task is cancelled; read by the session thread between waits.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}
