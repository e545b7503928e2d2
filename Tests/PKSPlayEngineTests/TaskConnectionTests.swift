import Foundation
import PKSPlayCore
import PKSPlayLocal
import Testing

@testable import PKSPlayEngine

@Suite("A task's view of its host's connection")
struct TaskConnectionTests {
    @Test("without become, file statuses and the session memo are the host connection's own")
    func loginUserSharesTheSession() async throws {
        let host = LocalConnection()
        let task = TaskConnection(host, environment: ["A": "1"], become: nil)
        let statuses = try #require(try await task.fileStatuses(["/", "/nonexistent-\(UUID().uuidString)"]))
        #expect(statuses.count == 2 && statuses[0].map { $0.mode & 0o170000 } == 0o040000 && statuses[1] == nil)
        task.sessionMemo?["k"] = .string("v")
        #expect(host.sessionMemo?["k"] == .string("v"))
    }

    @Test("under become neither is offered: the target user's umask and view are asked through its shell")
    func becomeAsksTheShell() async throws {
        let host = LocalConnection()
        host.sessionMemo?["k"] = .string("login user's")
        let task = TaskConnection(host, environment: [:], become: BecomeSettings(user: "postgres", method: "sudo"))
        #expect(try await task.fileStatuses(["/"]) == nil)
        #expect(task.sessionMemo == nil)
    }
}
