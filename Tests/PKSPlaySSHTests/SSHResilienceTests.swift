import Foundation
import PKSPlayCore
import PKSPlaySSH
import Testing

@Suite("Lost servers, many hosts, and speed")
struct SSHResilienceTests {
    @Test(.timeLimit(.minutes(1)))
    func serverKilledMidRunMakesCallsFailPromptly() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        #expect(try await connection.run("echo up").stdoutText == "up\n")
        let running = Task { try await connection.run("sleep 30") }
        try await Task.sleep(for: .milliseconds(500))
        sshd.killTree()
        let (outcome, seconds) = await measure { await running.result }
        #expect(unreachableReason(outcome.error) != nil, "got \(outcome)")
        #expect(seconds < 5)
        // Every later call fails at once with the same kind of error.
        let (later, laterSeconds) = await measure { await #expect(throws: ConnectionError.self) { try await connection.run("true") } }
        #expect(unreachableReason(later) != nil)
        #expect(laterSeconds < 3)
        await #expect(throws: ConnectionError.self) { try await connection.get("/etc/hostname") }
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func idleSessionNoticesTheServerIsGone() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        sshd.killTree()
        let (error, seconds) = await measure { await #expect(throws: ConnectionError.self) { try await connection.run("true") } }
        #expect(unreachableReason(error) != nil)
        // Milliseconds alone; the bound leaves room for a loaded 2-core machine running all tests.
        #expect(seconds < 5, "took \(seconds) s: \(String(describing: error))")
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func unresponsiveServerIsDeclaredGoneAfterMissedKeepalives() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var config = sshd.config()
        config.keepaliveInterval = 1
        let connection = try await SSHConnection.connect(config)
        #expect(try await connection.run("echo alive").stdoutText == "alive\n")
        sshd.freezeSessions()
        let (error, seconds) = await measure { await #expect(throws: ConnectionError.self) { try await connection.run("true") } }
        #expect(unreachableReason(error)?.contains("stopped answering") == true, "\(String(describing: error))")
        #expect(seconds < 8)
        await connection.close()
    }

    @Test func closedConnectionRefusesFurtherCalls() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        await connection.close()
        await connection.close()
        let error = await #expect(throws: ConnectionError.self) { try await connection.run("true") }
        #expect(unreachableReason(error)?.contains("closed") == true)
    }

    @Test(.timeLimit(.minutes(2)))
    func fiftyHostsConnectInParallel() async throws {
        var options = TestSSHD.Options()
        options.extraLoopbackAddresses = 49
        let sshd = try await TestSSHD.start(options)
        defer { sshd.stop() }
        #expect(sshd.addresses.count == 50)
        let (answers, seconds) = try await measure {
            try await withThrowingTaskGroup(of: (String, String).self) { group in
                for address in sshd.addresses {
                    group.addTask {
                        let connection = try await SSHConnection.connect(sshd.config(address: address, host: "host-\(address)"))
                        // sshd reports the address the client reached in SSH_CONNECTION: client port server port.
                        let seen = try await connection.run("echo $SSH_CONNECTION").stdoutText
                        await connection.close()
                        return (address, seen)
                    }
                }
                return try await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
            }
        }
        #expect(answers.count == 50)
        for (address, seen) in answers {
            let fields = seen.split(separator: " ")
            #expect(fields.count == 4 && fields[2] == address, "\(address) answered \(seen)")
        }
        print("50 hosts: connect + auth + one command each, in parallel: \(String(format: "%.2f", seconds)) s")
    }

    @Test func measuresConnectAndFiftySequentialExecs() async throws {
        let sshd = try await TestSSHD.start()
        defer { sshd.stop() }
        var connectTimes: [Double] = []
        for _ in 0..<5 {
            let (connection, seconds) = try await measure { try await SSHConnection.connect(sshd.config()) }
            connectTimes.append(seconds)
            await connection.close()
        }
        let connection = try await SSHConnection.connect(sshd.config())
        let (statuses, seconds) = try await measure {
            var statuses: [Int32] = []
            for _ in 0..<50 { statuses.append(try await connection.run("/bin/true").exitStatus) }
            return statuses
        }
        #expect(statuses == Array(repeating: 0, count: 50))
        let sorted = connectTimes.sorted()
        print(
            "connect + auth: median \(String(format: "%.3f", sorted[2])) s (min \(String(format: "%.3f", sorted[0])), "
                + "max \(String(format: "%.3f", sorted[4]))); 50 x /bin/true on one session: \(String(format: "%.3f", seconds)) s "
                + "(\(String(format: "%.1f", seconds * 1000 / 50)) ms each)")
        await connection.close()
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
