import Foundation
import PKSPlayCore

/// The container engine's command line (`docker` or `podman`, which take the same arguments for
/// everything used here), and what `inspect` says about one container.
struct ContainerRuntime: Sendable {
    var program: String

    static let argument = Argument("runtime", default: "docker", choices: ["docker", "podman"], help: "container runtime on the target")

    init(_ context: ModuleContext) { program = context.string("runtime") ?? "docker" }
    init(program: String) { self.program = program }

    /// A container's name or id as a command argument: not empty, not an option, one line.
    static func checkName(_ name: String, argument: String) throws {
        if name.isEmpty { throw ContainerError.invalidArgument("\(argument) is empty: give the container's name or id") }
        if name.hasPrefix("-") { throw ContainerError.invalidArgument("\(argument) '\(name)' cannot start with '-'") }
        if name.contains(where: { $0.isNewline || $0 == "\0" }) { throw ContainerError.invalidArgument("\(argument) must be one line") }
    }

    /// The state part of `inspect`, or `nil` when no such container exists.
    func inspect(_ name: String, on connection: any Connection) async throws -> ContainerState? {
        let r = try await connection.exec(ExecRequest(shellJoin([program, "inspect", "--type", "container", "--format", "{{json .State}}", name])))
        guard r.exitStatus == 0 else {
            let message = r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            if message.lowercased().contains("no such") { return nil }
            throw ContainerError.runtimeFailed(command: "\(program) inspect \(name)", exitStatus: r.exitStatus, message: message)
        }
        let text = r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        // With several matches (a name that is also an id prefix) there is one JSON document per line.
        let first = text.split(separator: "\n").first.map(String.init) ?? ""
        guard let state = try? Value.parseJSON(first), let d = state.dictValue else {
            throw ContainerError.runtimeFailed(command: "\(program) inspect \(name)", exitStatus: 0, message: "unexpected output: \(text.prefix(200))")
        }
        return ContainerState(d)
    }

    /// Runs `<runtime> <verb> [options] name` and fails with the runtime's message.
    func act(_ verb: String, _ options: [String] = [], on name: String, _ connection: any Connection, timeout: Double? = nil) async throws {
        let command = shellJoin([program, verb] + options + [name])
        let r = try await connection.exec(ExecRequest(command, timeout: timeout))
        guard r.exitStatus == 0 else {
            throw ContainerError.runtimeFailed(command: command, exitStatus: r.exitStatus, message: r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// What `inspect --format '{{json .State}}'` reports, the same for docker and podman.
struct ContainerState: Equatable, Sendable {
    var running: Bool
    var paused: Bool
    /// `running`, `exited`, `created`, `paused` ...
    var status: String
    /// `healthy`, `unhealthy`, `starting`, or `nil` when the container has no health check.
    var health: String?
    var exitCode: Int

    init(_ d: ValueDict) {
        running = d["Running"]?.boolValue ?? false
        paused = d["Paused"]?.boolValue ?? false
        status = d["Status"]?.stringValue ?? (running ? "running" : "unknown")
        exitCode = d["ExitCode"]?.intValue ?? 0
        // docker and podman >= 4.3 say Health; older podman says Healthcheck. No check: absent or "".
        let h = d["Health"]?.dictValue?["Status"]?.stringValue ?? d["Healthcheck"]?.dictValue?["Status"]?.stringValue
        health = h.flatMap { $0.isEmpty ? nil : $0 }
    }

    var summary: String { status + (health.map { " (\($0))" } ?? "") }
}

/// What went wrong in a container module.
enum ContainerError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    case runtimeFailed(command: String, exitStatus: Int32, message: String)
    case missing(String)
    case waitFailed(String)

    var description: String {
        switch self {
        case .invalidArgument(let m), .missing(let m), .waitFailed(let m): return m
        case .runtimeFailed(let command, let status, let message):
            let hint = status == 127 ? " (is the container runtime installed? set runtime: docker or podman)" : ""
            return "`\(command)` failed (exit \(status)): \(message.isEmpty ? "no message" : message)\(hint)"
        }
    }
}

/// Runs a container module body; errors become a failed result, except those the engine must see.
func withContainerErrors(_ body: () async throws -> ModuleResult) async throws -> ModuleResult {
    do {
        return try await body()
    } catch let error as ContainerError {
        return ModuleResult(failed: true, msg: error.description)
    }
}
