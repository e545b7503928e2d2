import Foundation

/// Runs deeply nested parsing and rendering on a thread with a large stack.
///
/// Recursive descent costs a few kilobytes of stack per nesting level in debug builds, and callers
/// may be on threads with small stacks (512 KiB for Swift concurrency on macOS). Shallow templates,
/// nearly all of them, run inline; only deep ones pay for a thread.
enum LargeStack {
    /// Nesting (or, for parsing, token count) up to which running on the caller's stack is safe.
    static let shallowDepth = 48
    static let stackSize = 32 * 1024 * 1024

    /// Hands the body to the thread and the result back; the caller blocks meanwhile, so nothing is shared concurrently.
    private final class Job<T>: @unchecked Sendable {
        var body: (() throws -> T)?
        var result: Result<T, Error>?
        let done = DispatchSemaphore(value: 0)
        init(_ body: @escaping () throws -> T) { self.body = body }

        func run() {
            if let body { result = Result { try body() } }
            // The body must not outlive the caller's `withoutActuallyEscaping`.
            body = nil
            done.signal()
        }
    }

    static func run<T>(if needed: Bool, _ body: () throws -> T) throws -> T {
        guard needed else { return try body() }
        return try withoutActuallyEscaping(body) { escapable in
            let job = Job(escapable)
            let thread = Thread { job.run() }
            thread.stackSize = stackSize
            thread.start()
            job.done.wait()
            guard let result = job.result else { throw TemplateError(.limit, "the rendering thread ended without a result") }
            return try result.get()
        }
    }
}
