import PKSPlayCore

/// What went wrong in a PostgreSQL module, in words a person can act on.
enum PostgreSQLError: Error, Equatable, CustomStringConvertible {
    /// An argument value the module cannot use.
    case invalidArgument(String)
    /// psql ran and failed: a connection refused, an SQL error; the message is psql's, cleaned.
    case psqlFailed(where: String, exitStatus: Int32, message: String)
    /// The container runtime could not run psql in the container (no such container, not running).
    case runtimeFailed(runtime: String, container: String, exitStatus: Int32, message: String)
    /// psql's output did not have the shape this program asked for.
    case unexpectedOutput(String)
    /// The server state is not one this module can work with (a logical slot by that name ...).
    case conflict(String)

    var description: String {
        switch self {
        case .invalidArgument(let m): return m
        case .psqlFailed(let place, let status, let message):
            let hint: String
            switch status {
            case 2: hint = " (check login_host, login_port, login_user and login_password, and that the server runs)"
            case 127: hint = " (is the PostgreSQL client installed there?)"
            default: hint = ""
            }
            return "psql \(place) failed (exit \(status)): \(message.isEmpty ? "no message" : message)\(hint)"
        case .runtimeFailed(let runtime, let container, let status, let message):
            return "\(runtime) exec in container '\(container)' failed (exit \(status)): \(message.isEmpty ? "no message" : message)"
        case .unexpectedOutput(let m): return "unexpected output from psql: \(m)"
        case .conflict(let m): return m
        }
    }
}

extension ModuleResult {
    /// A failed result carrying a PostgreSQL module error's message.
    static func postgresFailure(_ error: any Error, values: ValueDict = [:]) -> ModuleResult {
        ModuleResult(failed: true, msg: String(describing: error), values: values)
    }
}
