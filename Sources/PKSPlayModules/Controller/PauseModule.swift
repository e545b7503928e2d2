import Foundation
import PKSPlayCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `pause`: waits a number of seconds or minutes, or until the user presses Enter at a prompt.
///
/// With `seconds`/`minutes` it just waits (the prompt, if any, is shown and the input ignored), in
/// check mode too, as Ansible does; durations are whole numbers, at least one second. Without a
/// duration it needs a terminal on standard input to ask; without one it fails with a message
/// rather than waiting for ever or skipping the question. A cancelled run stops the wait.
public enum PauseModule: Module {
    public static let name = "pause"
    public static let runsOnController = true

    public static let arguments = ArgumentSpec(
        [
            Argument("minutes", .float, help: "Wait this many minutes (whole minutes)."),
            Argument("seconds", .float, help: "Wait this many seconds (whole seconds, at least one)."),
            Argument("prompt", .string, help: "The question to show; without a duration, waits for Enter."),
            Argument("echo", .bool, default: true, help: "Show what the user types at the prompt."),
        ],
        mutuallyExclusive: [["minutes", "seconds"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Wait for a while, or until the user confirms.",
        example: """
            - name: Let the standby catch up
              ansible.builtin.pause:
                seconds: 30

            - name: Last chance before the failover
              ansible.builtin.pause:
                prompt: "Promote {{ standby }}? Press Enter to go on, Ctrl+C to stop"
            """,
        notes: ["A prompt without seconds/minutes needs pksplay to run in a terminal."])

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        let echo = context.bool("echo") ?? true
        let prompt = context.string("prompt")
        var unit = "minutes"
        var seconds: Int?
        // Python's int(): whole units, toward zero.
        if let minutes = context.double("minutes") {
            guard minutes.isFinite, abs(minutes) < 1e9 else { return .failure("minutes must be a finite number") }
            seconds = Int(minutes.rounded(.towardZero)) * 60
        } else if let s = context.double("seconds") {
            guard s.isFinite, abs(s) < 1e12 else { return .failure("seconds must be a finite number") }
            seconds = Int(s.rounded(.towardZero))
            unit = "seconds"
        }
        let hidden = echo ? "" : " (output is hidden)"

        let start = Date()
        var userInput = ""
        if var wait = seconds {
            wait = max(wait, 1)
            if let prompt { context.progress(prompt + hidden) }
            context.progress("Pausing for \(wait) seconds\(hidden)")
            try await Task.sleep(nanoseconds: UInt64(wait) * 1_000_000_000)
        } else {
            guard isatty(STDIN_FILENO) == 1 else {
                return .failure(
                    "pause with a prompt needs a terminal: pksplay's standard input is not one. Give 'seconds' or 'minutes' to wait without asking, or run pksplay from a terminal.")
            }
            context.progress((prompt ?? "Press enter to continue, Ctrl+C to interrupt") + hidden + ":")
            userInput = try await TerminalLine.line(echo: echo)
        }
        let stop = Date()
        let elapsed = stop.timeIntervalSince(start)
        let amount = ((unit == "minutes" ? elapsed / 60 : elapsed) * 100).rounded() / 100
        return ModuleResult(
            changed: false,
            values: [
                "rc": 0, "stderr": "", "stdout": .string("Paused for \(Value.formatDouble(amount)) \(unit)"),
                "start": .string(AnsibleFormat.timestamp(start)), "stop": .string(AnsibleFormat.timestamp(stop)),
                "delta": .int(Int(elapsed)), "echo": .bool(echo), "user_input": .string(userInput),
            ])
    }
}

/// Reads one line typed at the terminal, off the cooperative pool, giving up when the task is cancelled.
enum TerminalLine {
    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
        func set() { lock.lock(); value = true; lock.unlock() }
    }

    static func line(echo: Bool) async throws -> String {
        let cancelled = Flag()
        let line: String? = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String?, Error>) in
                let thread = Thread { continuation.resume(with: Result { readBlocking(echo: echo, cancelled: cancelled) }) }
                thread.name = "pksplay-pause"
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
        guard let line else { throw CancellationError() }
        return line
    }

    /// The line without its newline, or `nil` when cancelled.
    private static func readBlocking(echo: Bool, cancelled: Flag) -> String? {
        var saved = termios()
        let restore = !echo && tcgetattr(STDIN_FILENO, &saved) == 0
        if restore {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
        }
        defer { if restore { tcsetattr(STDIN_FILENO, TCSANOW, &saved) } }
        var bytes: [UInt8] = []
        while !cancelled.isSet {
            var p = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 200)
            if ready <= 0 { continue }
            var byte: UInt8 = 0
            let n = read(STDIN_FILENO, &byte, 1)
            if n <= 0 { break }
            if byte == 0x0A || byte == 0x0D { break }
            bytes.append(byte)
        }
        if cancelled.isSet { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
