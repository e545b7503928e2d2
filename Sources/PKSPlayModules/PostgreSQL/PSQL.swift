import Foundation
import PKSPlayCore

/// How the PostgreSQL modules reach a server: psql on the host, or psql inside a container through
/// `docker exec` / `podman exec`, with the login arguments every PostgreSQL module shares.
///
/// The SQL and every value go to psql on its standard input; the password goes in `PGPASSWORD`
/// through the command's environment (forwarded into a container with `-e PGPASSWORD`, name
/// only). The argv holds nothing but the runtime, container, user, host, port and database names.
struct PSQL: Sendable {
    var runtime = "docker"
    /// Run psql in this container; `nil` runs it on the host.
    var container: String?
    /// `exec -u`: the container user to run psql as.
    var containerUser: String?
    var database: String?
    var user = "postgres"
    /// A host name, an address, or a Unix socket directory (starting with `/`).
    var host: String?
    var port: Int?
    var password: String?
    var connectTimeout = 10

    /// The arguments every PostgreSQL module takes to say where and as whom psql connects.
    static let arguments: [Argument] = [
        Argument("db", aliases: ["login_db", "database"], help: "database to connect to (libpq's default: the login user's name)"),
        Argument("login_user", default: "postgres", help: "role to connect as"),
        Argument("login_password", noLog: true, help: "password, passed in PGPASSWORD (never on a command line)"),
        Argument("login_host", help: "server host, address or Unix socket directory; libpq's default when omitted"),
        Argument("login_port", .int, aliases: ["port"], help: "server port"),
        Argument("container", help: "run psql inside this container (docker/podman exec) instead of on the host"),
        Argument("container_user", help: "user to run psql as inside the container (exec -u)"),
        Argument("runtime", default: "docker", choices: ["docker", "podman"], help: "container runtime for `container`"),
        Argument("connect_timeout", .int, default: 10, help: "seconds to wait for the connection (PGCONNECT_TIMEOUT)"),
    ]

    init(_ context: ModuleContext) throws {
        runtime = context.string("runtime") ?? "docker"
        container = context.string("container").flatMap { $0.isEmpty ? nil : $0 }
        containerUser = context.string("container_user").flatMap { $0.isEmpty ? nil : $0 }
        database = context.string("db").flatMap { $0.isEmpty ? nil : $0 }
        user = context.string("login_user") ?? "postgres"
        host = context.string("login_host").flatMap { $0.isEmpty ? nil : $0 }
        port = context.int("login_port")
        password = context.string("login_password").flatMap { $0.isEmpty ? nil : $0 }
        connectTimeout = context.int("connect_timeout") ?? 10
        try validate()
    }

    func validate() throws {
        if let container, container.hasPrefix("-") {
            throw PostgreSQLError.invalidArgument("container '\(container)' cannot start with '-': give the container's name or id")
        }
        if let port, !(1...65535).contains(port) {
            throw PostgreSQLError.invalidArgument("login_port \(port) is not a TCP port (1-65535)")
        }
        if connectTimeout < 1 {
            throw PostgreSQLError.invalidArgument("connect_timeout must be at least 1 second, got \(connectTimeout)")
        }
        for (name, value) in [("login_user", user), ("db", database ?? ""), ("login_host", host ?? "")] where value.contains("\0") {
            throw PostgreSQLError.invalidArgument("\(name) holds a NUL character")
        }
    }

    /// The connection as an undo record keeps it: everything but the password, which is never
    /// journaled.
    var journalValue: Value {
        var d: ValueDict = ["runtime": .string(runtime), "login_user": .string(user), "connect_timeout": .int(connectTimeout)]
        if let container { d["container"] = .string(container) }
        if let containerUser { d["container_user"] = .string(containerUser) }
        if let database { d["db"] = .string(database) }
        if let host { d["login_host"] = .string(host) }
        if let port { d["login_port"] = .int(port) }
        return .dict(d)
    }

    /// The connection an undo uses: the one recorded with the change; the password, which the
    /// journal never holds, comes from the context's arguments when the engine gives them.
    init(journal: Value?, context: ModuleContext) throws {
        let d = journal?.dictValue ?? [:]
        runtime = d["runtime"]?.stringValue ?? context.string("runtime") ?? "docker"
        container = d["container"]?.stringValue
        containerUser = d["container_user"]?.stringValue
        database = d["db"]?.stringValue
        user = d["login_user"]?.stringValue ?? "postgres"
        host = d["login_host"]?.stringValue
        port = d["login_port"]?.intValue
        connectTimeout = d["connect_timeout"]?.intValue ?? 10
        password = context.string("login_password").flatMap { $0.isEmpty ? nil : $0 }
        try validate()
    }

    /// Where psql runs, for messages: `in container pks-db` or `on the host`.
    var place: String { container.map { "in container '\($0)'" } ?? "on the host" }

    /// The command line; it never holds a secret.
    var command: String {
        var argv: [String] = []
        if let container {
            argv = [runtime, "exec", "-i"]
            if let containerUser { argv += ["-u", containerUser] }
            for name in environment.keys.sorted() { argv += ["-e", name] }
            argv.append(container)
        }
        argv += ["psql", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-U", user]
        if let host { argv += ["-h", host] }
        if let port { argv += ["-p", String(port)] }
        // `dbname=` keeps a database name holding `=` or starting with `postgres://` a name.
        if let database { argv += ["-d", "dbname=" + Self.conninfoQuote(database)] }
        return shellJoin(argv)
    }

    /// The command's environment: the password and libpq settings.
    var environment: [String: String] {
        var env = ["PGCONNECT_TIMEOUT": String(connectTimeout), "PGAPPNAME": "pksplay"]
        if let password { env["PGPASSWORD"] = password }
        return env
    }

    private static func conninfoQuote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// Runs a script and returns one result per statement; throws ``PostgreSQLError`` when psql
    /// or the container runtime fails.
    func run(_ script: PSQLScript, on connection: any Connection) async throws -> [PSQLResult] {
        let request = ExecRequest(command, stdin: Data(try script.text().utf8), environment: environment)
        let result = try await connection.exec(request)
        guard result.exitStatus == 0 else { throw failure(result) }
        return try script.parse(result.stdout)
    }

    /// Runs statements of trusted SQL (the modules' own), with variables bound on stdin.
    func execute(
        _ statements: [String], variables: [(name: String, value: String)] = [], transaction: PSQLScript.Transaction = .none,
        on connection: any Connection
    ) async throws -> [PSQLResult] {
        try await run(PSQLScript(statements: statements, variables: variables, transaction: transaction), on: connection)
    }

    /// Runs one statement of the modules' own SQL and returns its result.
    func query(_ sql: String, _ variables: [(name: String, value: String)] = [], on connection: any Connection) async throws -> PSQLResult {
        let results = try await execute([sql], variables: variables, on: connection)
        guard let result = results.first else { throw PostgreSQLError.unexpectedOutput("no result for: \(sql)") }
        return result
    }

    private func failure(_ result: ExecResult) -> PostgreSQLError {
        let message = Self.cleanMessage(result.stderrText)
        if let container {
            let lower = message.lowercased()
            let runtimeSaid = ["no such container", "no container with name", "is not running", "container state improper",
                               "cannot connect to the docker daemon", "error response from daemon", "no such object"]
            if result.exitStatus >= 125 || runtimeSaid.contains(where: lower.contains) {
                return .runtimeFailed(runtime: runtime, container: container, exitStatus: result.exitStatus, message: message)
            }
        }
        return .psqlFailed(where: place, exitStatus: result.exitStatus, message: message)
    }

    /// psql's stderr without the `psql:<stdin>:12:` prefixes, which point into the generated script.
    static func cleanMessage(_ stderr: String) -> String {
        stderr.split(separator: "\n", omittingEmptySubsequences: true).map { line -> String in
            var l = Substring(line)
            if l.hasPrefix("psql:"), let range = l.range(of: #"^psql:[^:]*:\d+: "#, options: .regularExpression) {
                l = l[range.upperBound...]
            }
            return String(l).trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

/// Runs a module body and turns its errors into a failed result, except those that must reach the
/// engine (an unreachable host, a cancelled run).
func withPostgreSQLErrors(_ body: () async throws -> ModuleResult) async throws -> ModuleResult {
    do {
        return try await body()
    } catch let error as ConnectionError {
        if case .fileTransfer = error { return .postgresFailure(error) }
        throw error
    } catch let error as CancellationError {
        throw error
    } catch {
        return .postgresFailure(error)
    }
}
