import Foundation
import PKSPlayCore

/// `container`: start, stop, restart or remove an existing container, optionally waiting until healthy.
public enum ContainerModule: Module {
    public static let name = "container"

    public static let arguments = ArgumentSpec(
        [
            Argument("name", required: true, aliases: ["container"], help: "container name or id"),
            Argument("state", default: "started", choices: ["started", "stopped", "restarted", "absent"]),
            Argument("wait_healthy", .bool, default: false, help: "after starting, wait until the health check passes (or, without one, until running)"),
            Argument("timeout", .int, default: 60, help: "seconds wait_healthy waits"),
            Argument("stop_timeout", .int, help: "seconds the runtime gives the container to stop before killing it (stop/restart -t)"),
            ContainerRuntime.argument,
        ]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Start, stop, restart or remove an existing docker/podman container; can wait for its health check.",
        example: """
            - name: Restart the database to apply max_wal_senders
              container:
                name: pks-db
                state: restarted
                wait_healthy: true
              when: senders.restart_required

            - name: Force SIP traffic to the other server
              container:
                name: pks-sip
                state: stopped
            """,
        notes: [
            "The container must exist (compose creates it); this module does not create containers. State is read with `inspect --format '{{json .State}}'`.",
            "started and stopped change only when needed; restarted always changes.",
            "wait_healthy polls the health status (State.Health, or State.Healthcheck on older podman) until 'healthy'; a container without a health check only has to be running. It fails when the container stops or the timeout passes. podman runs health checks from systemd timers: without systemd they run only when `podman healthcheck run` is called.",
            "Undo: started is undone by stopping, stopped by starting; a restart has nothing to undo; a removed container cannot be brought back by pksplay (undo fails and says so: recreate it with compose, e.g. `pks start`).",
        ]
    )

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        try await withContainerErrors {
            let runtime = ContainerRuntime(context)
            let name = context.string("name") ?? ""
            try ContainerRuntime.checkName(name, argument: "name")
            let state = context.string("state") ?? "started"
            let stopOptions = context.int("stop_timeout").map { ["-t", String(max(0, $0))] } ?? []
            let current = try await runtime.inspect(name, on: context.connection)
            var values: ValueDict = ["name": .string(name), "runtime": .string(runtime.program)]
            func report(_ s: ContainerState?) {
                values["status"] = .string(s?.status ?? "absent")
                values["health"] = s?.health.map(Value.string) ?? .null
            }
            report(current)

            if state == "absent" {
                guard let current else { return ModuleResult(msg: "container \(name) does not exist", values: values) }
                let diff = FileDiff(beforeHeader: "container \(name)", afterHeader: "container \(name)", before: current.summary + "\n", after: "absent\n")
                if context.checkMode { return ModuleResult(changed: true, msg: "would remove container \(name)", values: values, diffs: [diff]) }
                try await context.willChange(UndoRecord(
                    module: Self.name, summary: "container \(name) was removed (cannot be recreated by pksplay)",
                    data: ["action": "recreate", "name": .string(name), "runtime": .string(runtime.program)]))
                try await runtime.act("rm", ["-f"], on: name, context.connection)
                report(nil)
                return ModuleResult(changed: true, msg: "removed container \(name)", values: values, diffs: [diff])
            }

            guard let current else {
                throw ContainerError.missing("container \(name) does not exist; this module starts and stops existing containers (create it with compose, e.g. `pks start`)")
            }
            if current.paused {
                return .failure("container \(name) is paused; unpause it first (\(runtime.program) unpause \(name))", values: values)
            }

            let wantRunning = state != "stopped"
            let change: (verb: String, options: [String], undo: String, summary: String)?
            switch state {
            case "started":
                change = current.running ? nil : ("start", [], "stop", "stop container \(name)")
            case "stopped":
                change = current.running ? ("stop", stopOptions, "start", "start container \(name)") : nil
            default:
                change = ("restart", stopOptions, current.running ? "none" : "stop",
                          current.running ? "nothing to undo for the restart of \(name)" : "stop container \(name)")
            }

            guard let change else {
                if wantRunning, context.bool("wait_healthy") == true, !context.checkMode {
                    let final = try await waitHealthy(name, runtime, context)
                    report(final)
                }
                return ModuleResult(msg: "container \(name) is \(current.status)", values: values)
            }
            let after = wantRunning ? "running\n" : "exited\n"
            let diff = FileDiff(beforeHeader: "container \(name)", afterHeader: "container \(name)", before: current.summary + "\n", after: after)
            if context.checkMode {
                return ModuleResult(changed: true, msg: "would \(change.verb) container \(name)", values: values, diffs: [diff])
            }
            try await context.willChange(UndoRecord(
                module: Self.name, summary: change.summary,
                data: ["action": .string(change.undo), "name": .string(name), "runtime": .string(runtime.program),
                       "stop_timeout": context.int("stop_timeout").map(Value.int) ?? .null]))
            try await runtime.act(change.verb, change.options, on: name, context.connection)
            var final = try await runtime.inspect(name, on: context.connection)
            if wantRunning, context.bool("wait_healthy") == true { final = try await waitHealthy(name, runtime, context) }
            report(final)
            return ModuleResult(changed: true, msg: "\(change.verb == "stop" ? "stopped" : change.verb + "ed") container \(name)", values: values, diffs: [diff])
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await withContainerErrors {
            guard let data = record.data.dictValue, let action = data["action"]?.stringValue, let name = data["name"]?.stringValue else {
                return .failure("container: undo record '\(record.summary)' is incomplete")
            }
            try ContainerRuntime.checkName(name, argument: "name")
            let runtime = ContainerRuntime(program: data["runtime"]?.stringValue ?? "docker")
            switch action {
            case "none":
                return ModuleResult(msg: "a restart of \(name) leaves nothing to undo")
            case "recreate":
                return .failure("container \(name) was removed and pksplay cannot create it again; recreate it with compose (e.g. `pks start`)")
            case "stop", "start":
                guard let current = try await runtime.inspect(name, on: context.connection) else {
                    if action == "stop" { return ModuleResult(msg: "container \(name) no longer exists; nothing to stop") }
                    return .failure("container \(name) no longer exists, so it cannot be started again")
                }
                if (action == "stop") == !current.running { return ModuleResult(msg: "container \(name) is already \(current.status)") }
                if context.checkMode { return ModuleResult(changed: true, msg: "would \(action) container \(name)") }
                let options = action == "stop" ? (data["stop_timeout"]?.intValue.map { ["-t", String(max(0, $0))] } ?? []) : []
                try await runtime.act(action, options, on: name, context.connection)
                return ModuleResult(changed: true, msg: "\(action == "stop" ? "stopped" : "started") container \(name)")
            default:
                return .failure("container: unknown undo action '\(action)'")
            }
        }
    }

    /// Polls until healthy (or running, without a health check); fails if it stops or time runs out.
    static func waitHealthy(_ name: String, _ runtime: ContainerRuntime, _ context: ModuleContext) async throws -> ContainerState {
        let timeout = Double(max(0, context.int("timeout") ?? 60))
        let deadline = Date().addingTimeInterval(timeout)
        var last: ContainerState?
        while true {
            guard let state = try await runtime.inspect(name, on: context.connection) else {
                throw ContainerError.waitFailed("container \(name) disappeared while waiting for it to become healthy")
            }
            last = state
            if !state.running {
                throw ContainerError.waitFailed("container \(name) is \(state.status) (exit code \(state.exitCode)) instead of healthy; see `\(runtime.program) logs \(name)`")
            }
            if state.health == nil || state.health == "healthy" { return state }
            if Date() >= deadline { break }
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        throw ContainerError.waitFailed("container \(name) is not healthy after \(Int(timeout)) s (health: \(last?.health ?? "none")); see `\(runtime.program) inspect \(name)`")
    }
}
