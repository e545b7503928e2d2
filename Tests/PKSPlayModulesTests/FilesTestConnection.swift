import Foundation
import PKSPlayCore

#if canImport(Glibc)
import Glibc
#endif

/// A test-only connection to this machine: `/bin/sh -c` through Foundation's Process, files
/// through POSIX calls. The real LocalConnection (PKSPlayLocal) replaces it once it lands.
final class FilesTestLocalConnection: Connection {
    let hostName = "localhost"

    func exec(_ request: ExecRequest) async throws -> ExecResult {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ExecResult, Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.runBlocking(request) })
            }
        }
    }

    private static func runBlocking(_ request: ExecRequest) throws -> ExecResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", request.command]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in request.environment { env[k] = v }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let group = DispatchGroup()
        let box = OutputBox()
        group.enter()
        DispatchQueue.global().async {
            box.setOut(stdout.fileHandleForReading.readDataToEndOfFile()); group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            box.setErr(stderr.fileHandleForReading.readDataToEndOfFile()); group.leave()
        }
        // Feed stdin off this thread: a large input must not block reading the outputs.
        let input = request.stdin ?? Data()
        DispatchQueue.global().async {
            if !input.isEmpty { try? stdin.fileHandleForWriting.write(contentsOf: input) }
            try? stdin.fileHandleForWriting.close()
        }
        if let timeout = request.timeout {
            if group.wait(timeout: .now() + timeout) == .timedOut {
                process.terminate()
                process.waitUntilExit()
                throw ConnectionError.timeout(command: request.command, seconds: timeout)
            }
        } else {
            group.wait()
        }
        process.waitUntilExit()
        return ExecResult(exitStatus: process.terminationStatus, stdout: box.out, stderr: box.err)
    }

    func put(_ data: Data, to path: String, mode: Int?) async throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode_t(mode ?? 0o644))
        guard fd >= 0 else { throw ConnectionError.fileTransfer(path: path, reason: String(cString: strerror(errno))) }
        defer { _ = Glibc.close(fd) }
        if let mode { fchmod(fd, mode_t(mode)) }
        var offset = 0
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard n > 0 else { throw ConnectionError.fileTransfer(path: path, reason: String(cString: strerror(errno))) }
                offset += n
            }
        }
    }

    func get(_ path: String) async throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConnectionError.fileTransfer(path: path, reason: "cannot read")
        }
        return data
    }

    func close() async {}
}

private final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _out = Data(), _err = Data()
    var out: Data { lock.withLock { _out } }
    var err: Data { lock.withLock { _err } }
    func setOut(_ d: Data) { lock.withLock { _out = d } }
    func setErr(_ d: Data) { lock.withLock { _err = d } }
}
