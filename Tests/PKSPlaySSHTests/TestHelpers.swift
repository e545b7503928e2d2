import Foundation
import PKSPlayCore
#if canImport(Glibc)
import Glibc
#endif

/// The reason of a ``ConnectionError/unreachable(host:reason:)``, or nil for any other error.
func unreachableReason(_ error: (any Error)?) -> String? {
    if case .unreachable(_, let reason)? = error as? ConnectionError { return reason }
    return nil
}

/// The command lines (argv joined by spaces) of every process on this machine whose argv
/// contains `needle`. The test sshd runs here, so these are the target's processes.
func processCommandLines(containing needle: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var found: [String] = []
    for entry in entries where Int(entry) != nil {
        guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
        let line = String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        if line.contains(needle) { found.append("\(entry): \(line)") }
    }
    return found
}

/// Bytes 0…255 repeated `times` times: every byte value, including NUL, CR, LF and invalid UTF-8.
func allByteValues(times: Int = 1) -> Data {
    Data((0..<(256 * times)).map { UInt8($0 % 256) })
}

/// Random bytes (from the system generator).
func randomData(_ count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    var data = Data(count: count)
    data.withUnsafeMutableBytes { raw in
        var index = 0
        while index < raw.count {
            var word = generator.next()
            let n = min(8, raw.count - index)
            withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: index).copyMemory(from: $0.baseAddress!, byteCount: n) }
            index += n
        }
    }
    return data
}

/// File permission bits of a local path.
func permissions(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_mode) & 0o7777
}

/// Collects values from any thread.
final class Collector<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ item: T) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }
    var all: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// Seconds elapsed while running `body`.
func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try await body()
    let elapsed = ContinuousClock.now - start
    return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// Scans every process's argv on a dedicated thread until stopped: for `secret` (which must never
/// appear) and for `command` (which proves the scan ran while the command did).
final class ProcessWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var sightings: [String] = []
    private var sawCommand = false
    private let done = DispatchSemaphore(value: 0)

    init(secret: String, command: String) {
        Thread { [self] in
            while true {
                let found = processCommandLines(containing: secret)
                let running = !processCommandLines(containing: command).isEmpty
                lock.lock()
                sightings += found
                sawCommand = sawCommand || running
                let finished = stopped
                lock.unlock()
                if finished { break }
                usleep(10_000)
            }
            done.signal()
        }.start()
    }

    /// Stops the scan; what it saw: argv lines holding the secret, and whether the command ran.
    func stop() -> ([String], Bool) {
        lock.lock()
        stopped = true
        lock.unlock()
        done.wait()
        lock.lock()
        defer { lock.unlock() }
        return (sightings, sawCommand)
    }
}
