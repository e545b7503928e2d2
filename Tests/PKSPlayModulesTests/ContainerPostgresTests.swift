import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

/// The PostgreSQL modules in container mode, as PKS runs them: psql inside a container (here the
/// test image with this machine's psql, on the host network), reaching the test cluster over TCP
/// with a SCRAM password that travels only in the environment.
@Suite("PostgreSQL modules through a container", .postgres, .podmanLab, .serialized,
       .enabled(if: TestPostgres.isAvailable && ContainerTestLab.isAvailable))
struct ContainerPostgresTests {
    let pg: TestPostgres
    let lab: ContainerTestLab
    init() throws {
        pg = try TestPostgres.required()
        lab = try ContainerTestLab.required()
    }

    @Test("query and user run with podman exec -i -e PGPASSWORD; the password stays off every command line")
    func queryAndUserInContainer() async throws {
        let name = ContainerTestLab.uniqueName("pgclient")
        try await lab.runContainer(name)
        let password = "admin-\(UUID().uuidString)"
        try await pg.sql("CREATE ROLE pks_admin LOGIN SUPERUSER PASSWORD '\(password)'")
        let login: ValueDict = [
            "container": .string(name), "runtime": "podman", "container_user": "postgres", "login_host": "127.0.0.1",
            "login_port": .int(pg.port), "login_user": "pks_admin", "login_password": .string(password), "db": "postgres",
        ]
        let recorder = RecordingConnection(lab.connection)

        let q = try await ModuleRunner.run(PostgreSQLQueryModule.self, login.merging(["query": "SELECT current_user AS who, %s AS v", "positional_args": ["it's \\ ok"]]), on: recorder)
        #expect(!q.result.failed, "\(q.result.msg ?? "")")
        #expect(q.result.rows == [["who": "pks_admin", "v": "it's \\ ok"]])

        let u = try await ModuleRunner.run(PostgreSQLUserModule.self, login.merging(["name": "rep_in_container", "password": "rep-pw", "replication": true]), on: recorder)
        #expect(u.result.changed && !u.result.failed, "\(u.result.msg ?? "")")
        #expect(try await pg.canLogIn(user: "rep_in_container", password: "rep-pw"))
        // Undo reconnects from the journal's connection data; the password comes from the context.
        let undone = try await ModuleRunner.undo(PostgreSQLUserModule.self, try #require(u.undo.first), args: ["login_password": .string(password)], on: recorder)
        #expect(undone.changed && !undone.failed, "\(undone.msg ?? "")")
        #expect(try await pg.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'rep_in_container'") == "0")

        #expect(recorder.requests.count >= 4)
        for request in recorder.requests {
            #expect(request.command.hasPrefix("podman exec -i -u postgres -e PGAPPNAME -e PGCONNECT_TIMEOUT -e PGPASSWORD \(name) psql "))
            #expect(!request.command.contains(password) && !request.stdin.contains(password) && !request.command.contains("rep-pw"))
            #expect(request.environment["PGPASSWORD"] == password)
        }
        #expect(!valueContains(u.everything, password) && !valueContains(u.everything, "rep-pw"))
        try await pg.sql("DROP ROLE pks_admin")
    }

    @Test("a wrong password or a missing container fails with the reason")
    func failures() async throws {
        let name = ContainerTestLab.uniqueName("pgclient")
        try await lab.runContainer(name)
        let base: ValueDict = ["runtime": "podman", "login_host": "127.0.0.1", "login_port": .int(pg.port), "query": "SELECT 1"]
        let wrong = try await ModuleRunner.run(PostgreSQLQueryModule.self, base.merging(["container": .string(name), "login_user": "postgres", "login_password": "nope"]), on: lab.connection)
        #expect(wrong.result.failed && wrong.result.msg?.contains("password authentication failed") == true, "\(wrong.result.msg ?? "")")
        let missing = try await ModuleRunner.run(PostgreSQLQueryModule.self, base.merging(["container": "no-such-db"]), on: lab.connection)
        #expect(missing.result.failed && missing.result.msg?.contains("podman exec in container 'no-such-db' failed") == true, "\(missing.result.msg ?? "")")
    }
}
