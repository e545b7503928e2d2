import Foundation
import PKSPlayCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL 15 cluster for tests: its own directory under the temp dir (owned by the
/// `postgres` OS user), listening on a free port on 127.0.0.1 and on a Unix socket in that
/// directory, local socket connections trusted, TCP connections by SCRAM password.
///
/// Use it through the `.postgres` suite trait, which starts one cluster around a suite and stops
/// and deletes it afterwards (whatever the tests did); tests read it from ``TestPostgres/current``.
final class TestPostgres: Sendable {
    static let binDirectory = "/usr/lib/postgresql/15/bin"

    @TaskLocal static var current: TestPostgres?

    /// The cluster's own temporary directory; also its Unix socket directory.
    let directory: String
    let port: Int
    let connection = DBTestLocalConnection()

    var dataDirectory: String { directory + "/data" }
    var hbaPath: String { dataDirectory + "/pg_hba.conf" }

    /// Module arguments that reach this cluster as the `postgres` superuser over the socket.
    var loginArgs: ValueDict { ["login_host": .string(directory), "login_port": .int(port), "login_user": "postgres"] }

    private init(directory: String, port: Int) {
        self.directory = directory
        self.port = port
    }

    struct SetupError: Error, CustomStringConvertible { var description: String }

    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: binDirectory + "/initdb") && getuid() == 0
    }

    static func start() async throws -> TestPostgres {
        var template = Array((NSTemporaryDirectory() + "/pksplay-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SetupError(description: "mkdtemp failed") }
        let dir = String(cString: made)
        let shell = DBTestLocalConnection()
        func sh(_ command: String) async throws -> String {
            let r = try await shell.exec(ExecRequest(command, timeout: 120))
            guard r.exitStatus == 0 else {
                throw SetupError(description: "`\(command)` failed (\(r.exitStatus)): \(r.stderrText)\(r.stdoutText)")
            }
            return r.stdoutText
        }
        do {
            _ = try await sh("chown postgres: \(shellQuote(dir)) && chmod 0700 \(shellQuote(dir))")
            _ = try await sh("runuser -u postgres -- \(binDirectory)/initdb -D \(shellQuote(dir + "/data")) -U postgres -E UTF8 --locale=C.UTF-8 --no-sync --auth-local=trust --auth-host=scram-sha-256 >/dev/null")
            var lastError: Error?
            for _ in 0..<5 {
                let port = try freePort()
                let conf = """
                    port = \(port)
                    listen_addresses = '127.0.0.1'
                    unix_socket_directories = '\(dir)'
                    password_encryption = 'scram-sha-256'
                    fsync = off
                    max_wal_senders = 10
                    wal_keep_size = 0
                    """
                // Later lines win, so a retry with another port simply appends again.
                _ = try await sh("printf '%s\\n' \(shellQuote(conf)) >> \(shellQuote(dir + "/data/postgresql.conf"))")
                do {
                    _ = try await sh("runuser -u postgres -- \(binDirectory)/pg_ctl -D \(shellQuote(dir + "/data")) -l \(shellQuote(dir + "/server.log")) -w -t 60 start >/dev/null")
                    return TestPostgres(directory: dir, port: port)
                } catch {
                    lastError = error
                }
            }
            throw lastError ?? SetupError(description: "the server did not start")
        } catch {
            _ = try? await shell.exec(ExecRequest("rm -rf \(shellQuote(dir))"))
            throw error
        }
    }

    /// Stops the server at once and deletes its directory.
    func stop() async {
        _ = try? await connection.exec(ExecRequest(
            "runuser -u postgres -- \(Self.binDirectory)/pg_ctl -D \(shellQuote(dataDirectory)) -m immediate -w -t 30 stop >/dev/null 2>&1", timeout: 60))
        _ = try? await connection.exec(ExecRequest("rm -rf \(shellQuote(directory))"))
    }

    /// Restarts the server (to apply settings that need it).
    func restart() async throws {
        let r = try await connection.exec(ExecRequest(
            "runuser -u postgres -- \(Self.binDirectory)/pg_ctl -D \(shellQuote(dataDirectory)) -l \(shellQuote(directory + "/server.log")) -m fast -w -t 60 restart >/dev/null", timeout: 120))
        if r.exitStatus != 0 { throw SetupError(description: "restart failed: \(r.stderrText)") }
    }

    /// Runs SQL as `postgres` over the socket and returns psql's unaligned, tuples-only output.
    @discardableResult
    func sql(_ sql: String) async throws -> String {
        let r = try await connection.exec(ExecRequest(
            "\(Self.binDirectory)/psql -X -q -A -t -v ON_ERROR_STOP=1 -h \(shellQuote(directory)) -p \(port) -U postgres -d postgres",
            stdin: Data(sql.utf8), timeout: 60))
        guard r.exitStatus == 0 else { throw SetupError(description: "psql failed: \(r.stderrText)") }
        return r.stdoutText.trimmingCharacters(in: .newlines)
    }

    /// Tries a TCP login (SCRAM per the cluster's pg_hba) with a password given in the environment.
    func canLogIn(user: String, password: String) async throws -> Bool {
        let r = try await connection.exec(ExecRequest(
            "\(Self.binDirectory)/psql -X -q -w -A -t -h 127.0.0.1 -p \(port) -U \(shellQuote(user)) -d postgres -c 'select 1'",
            environment: ["PGPASSWORD": password], timeout: 60))
        return r.exitStatus == 0 && r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SetupError(description: "bind failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard named == 0 else { throw SetupError(description: "getsockname failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// Starts one ``TestPostgres`` around a whole suite and always stops and deletes it afterwards.
struct PostgresTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try await TestPostgres.start()
        do {
            try await TestPostgres.$current.withValue(server) { try await function() }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

extension Trait where Self == PostgresTrait {
    /// Gives the suite its own throwaway PostgreSQL cluster (``TestPostgres/current``).
    static var postgres: PostgresTrait { PostgresTrait() }
}

extension TestPostgres {
    /// The suite's cluster; fails the test clearly when the suite lacks the `.postgres` trait.
    static func required() throws -> TestPostgres {
        guard let server = current else { throw SetupError(description: "no TestPostgres: add .postgres to the suite") }
        return server
    }
}
