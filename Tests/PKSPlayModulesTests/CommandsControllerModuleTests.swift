import Foundation
import PKSPlayCore
import PKSPlayTestSupport
import Testing

@testable import PKSPlayModules

/// The error a template engine raises for a name it does not know.
struct UndefinedName: Error, CustomStringConvertible {
    var name: String
    var description: String { "'\(name)' is undefined" }
}

/// Evaluates expressions from a fixed table, the way the engine's closure would.
func table(_ values: [String: Value]) -> @Sendable (String) throws -> Value {
    { expression in
        guard let v = values[expression] else { throw UndefinedName(name: expression) }
        return v
    }
}

@Suite("Commands: controller modules")
struct CommandsControllerModuleTests {
    // Controller modules must not touch the host: a strict scripted connection throws on any command.
    let nowhere = ScriptedConnection(hostName: "db1", strict: true)

    // MARK: debug

    @Test func debugDefaultMessage() async throws {
        let r = try await runModule(DebugModule.self, args: [:], connection: nowhere)
        #expect(r.msg == "Hello world!" && !r.changed && !r.failed && !r.skipped)
        #expect(nowhere.commands.isEmpty)
    }

    @Test func debugMessageOfAnyShape() async throws {
        let text = try await runModule(DebugModule.self, args: ["msg": "lag is 3"], connection: nowhere)
        #expect(text.msg == "lag is 3")
        let list = try await runModule(DebugModule.self, args: ["msg": ["a", 1]], connection: nowhere)
        #expect(list.msg == nil && list.values["msg"] == ["a", 1])
    }

    @Test func debugVarUsesTheExpressionAsKey() async throws {
        let evaluate = table(["probe.stdout_lines": ["x", "y"], "lag | int": 42])
        let r = try await runModule(DebugModule.self, args: ["var": "probe.stdout_lines"], connection: nowhere, evaluate: evaluate)
        #expect(r.values["probe.stdout_lines"] == ["x", "y"])
        #expect(r.msg == nil)
        let expression = try await runModule(DebugModule.self, args: ["var": "lag | int"], connection: nowhere, evaluate: evaluate)
        #expect(expression.values["lag | int"] == 42)
    }

    @Test func debugUndefinedVariable() async throws {
        let r = try await runModule(DebugModule.self, args: ["var": "nope"], connection: nowhere, evaluate: table([:]))
        #expect(!r.failed)
        #expect(r.values["nope"] == "VARIABLE IS NOT DEFINED!")
        let verbose = try await runModule(DebugModule.self, args: ["var": "nope"], connection: nowhere, verbosity: 1, evaluate: table([:]))
        #expect(verbose.values["nope"] == "VARIABLE IS NOT DEFINED!: 'nope' is undefined")
    }

    @Test func debugOtherEvaluationErrorsFail() async throws {
        struct Syntax: Error, CustomStringConvertible { var description: String { "unexpected end of expression" } }
        let r = try await runModule(DebugModule.self, args: ["var": "a +"], connection: nowhere, evaluate: { _ in throw Syntax() })
        #expect(r.failed && r.msg == "Error while resolving `var` expression: unexpected end of expression")
    }

    @Test func debugVerbosityThreshold() async throws {
        let quiet = try await runModule(DebugModule.self, args: ["msg": "detail", "verbosity": 2], connection: nowhere, verbosity: 1)
        #expect(quiet.skipped && quiet.msg == nil)
        #expect(quiet.values["skipped_reason"] == "Verbosity threshold not met.")
        let shown = try await runModule(DebugModule.self, args: ["msg": "detail", "verbosity": "2"], connection: nowhere, verbosity: 2)
        #expect(!shown.skipped && shown.msg == "detail")
    }

    @Test func debugRejectsMsgWithVar() {
        #expect(throws: InvalidArguments.self) { try makeContext(DebugModule.self, args: ["msg": "a", "var": "b"], connection: nowhere) }
    }

    // MARK: assert

    @Test func assertPasses() async throws {
        let r = try await runModule(
            AssertModule.self, args: ["that": ["a == 1", "b"]], connection: nowhere, evaluate: table(["a == 1": true, "b": true]))
        #expect(!r.failed && !r.changed && r.msg == "All assertions passed")
        #expect(r.values["assertion"] == nil)
    }

    @Test func assertStopsAtTheFirstFalse() async throws {
        let seen = Box<[String]>([])
        let r = try await runModule(
            AssertModule.self, args: ["that": ["ok", "broken", "never"]], connection: nowhere,
            evaluate: { e in
                seen.update { $0.append(e) }
                return .bool(e == "ok")
            })
        #expect(r.failed && r.msg == "Assertion failed")
        #expect(r.values["assertion"] == "broken" && r.values["evaluated_to"] == false)
        #expect(seen.get == ["ok", "broken"])
    }

    @Test func assertMessages() async throws {
        let failed = try await runModule(
            AssertModule.self, args: ["that": "x", "msg": "x must hold"], connection: nowhere, evaluate: { _ in false })
        #expect(failed.msg == "x must hold")
        let listed = try await runModule(
            AssertModule.self, args: ["that": "x", "fail_msg": ["one", "two"]], connection: nowhere, evaluate: { _ in false })
        #expect(listed.failed && listed.msg == nil && listed.values["msg"] == ["one", "two"])
        let passed = try await runModule(
            AssertModule.self, args: ["that": "x", "success_msg": "fine", "quiet": true], connection: nowhere, evaluate: { _ in true })
        #expect(passed.msg == "fine")
        let badType = try await runModule(
            AssertModule.self, args: ["that": "x", "fail_msg": ["ok": 1]], connection: nowhere, evaluate: { _ in false })
        #expect(badType.failed && badType.msg == "fail_msg must be a string or a list of strings")
    }

    @Test func assertNeedsBooleans() async throws {
        let r = try await runModule(AssertModule.self, args: ["that": "name"], connection: nowhere, evaluate: { _ in "false" })
        #expect(r.failed)
        #expect(r.msg == "Conditional result was 'false' of type 'str', which evaluates to True. Conditionals must have a boolean result.")
        let error = try await runModule(AssertModule.self, args: ["that": "missing > 1"], connection: nowhere, evaluate: table([:]))
        #expect(error.failed && error.msg == "Error while evaluating conditional (missing > 1): 'missing > 1' is undefined")
    }

    @Test func assertNeedsThat() {
        #expect(throws: InvalidArguments.self) { try makeContext(AssertModule.self, args: ["msg": "x"], connection: nowhere) }
    }

    // MARK: fail

    @Test func failMessages() async throws {
        let plain = try await runModule(FailModule.self, args: [:], connection: nowhere)
        #expect(plain.failed && plain.msg == "Failed as requested from task")
        let custom = try await runModule(FailModule.self, args: ["msg": "stop here"], connection: nowhere)
        #expect(custom.failed && custom.msg == "stop here")
        let structured = try await runModule(FailModule.self, args: ["msg": ["why": "lag"]], connection: nowhere)
        #expect(structured.failed && structured.values["msg"] == ["why": "lag"])
    }

    // MARK: set_fact

    @Test func setFactSetsFactsWithoutChange() async throws {
        let r = try await runModule(
            SetFactModule.self, args: ["primary": "db1", "port": 5432, "flag": "Yes", "nested": ["a": [1]], "cacheable": true],
            connection: nowhere)
        #expect(!r.changed && !r.failed)
        #expect(r.factsAreSetFact)
        #expect(r.facts == ["primary": "db1", "port": 5432, "flag": true, "nested": ["a": [1]]])
        #expect(r.facts?.keys == ["primary", "port", "flag", "nested"])
        #expect(r.values["ansible_facts"] == .dict(r.facts ?? [:]))
    }

    @Test(arguments: ["1abc", "with-dash", "has space", "ünï", "class", "True", ""])
    func setFactRejectsBadNames(name: String) async throws {
        let r = try await runModule(SetFactModule.self, args: [name: 1], connection: nowhere)
        #expect(r.failed)
        #expect(r.msg == "The variable name '\(name)' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores.")
    }

    @Test func setFactNeedsSomething() async throws {
        let r = try await runModule(SetFactModule.self, args: ["cacheable": true], connection: nowhere)
        #expect(r.failed && r.msg == "No key/value pairs provided, at least one is required for this action to succeed")
        #expect(SetFactModule.isValidName("_ok9") && SetFactModule.isValidName("Zed"))
    }

    // MARK: pause

    @Test func pauseWaitsWholeSeconds() async throws {
        let shown = Box<[String]>([])
        let started = Date()
        let r = try await runModule(
            PauseModule.self, args: ["seconds": 0.4, "prompt": "why"], connection: nowhere, progress: { line in shown.update { $0.append(line) } })
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 1.0, "less than a second rounds up to one, as in Ansible")
        #expect(!r.changed && !r.failed)
        #expect(matches(r.values["stdout"], #"^Paused for [1-9]\.\d{1,2} seconds$"#), "\(r.values["stdout"] ?? .null)")
        #expect((r.values["delta"]?.intValue ?? 0) >= 1)
        #expect(r.values["rc"] == 0 && r.values["user_input"] == "" && r.values["echo"] == true)
        #expect(matches(r.values["start"], timestampPattern) && matches(r.values["stop"], timestampPattern))
        #expect(shown.get == ["why", "Pausing for 1 seconds"])
    }

    @Test func pauseInMinutesReportsMinutes() async throws {
        let r = try await runModule(PauseModule.self, args: ["minutes": 0], connection: nowhere, checkMode: true)
        // One second (the minimum) is 0.02 minutes; a busy machine may oversleep a little.
        #expect(matches(r.values["stdout"], #"^Paused for 0\.0[2-9] minutes$"#), "\(r.values["stdout"] ?? .null)")
    }

    @Test(.enabled(if: isatty(STDIN_FILENO) == 0, "needs a non-terminal stdin"))
    func pausePromptWithoutTerminalFailsClearly() async throws {
        let started = Date()
        let r = try await runModule(PauseModule.self, args: ["prompt": "Go on?"], connection: nowhere)
        #expect(r.failed)
        #expect(r.msg?.hasPrefix("pause with a prompt needs a terminal") == true)
        #expect(Date().timeIntervalSince(started) < 1)
    }

    @Test func pauseIsCancellable() async throws {
        let started = Date()
        let task = Task { try await runModule(PauseModule.self, args: ["minutes": 5], connection: nowhere) }
        try await Task.sleep(nanoseconds: 100_000_000)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(Date().timeIntervalSince(started) < 10, "not the five minutes asked for")
    }

    @Test func pauseArguments() {
        #expect(throws: InvalidArguments.self) { try makeContext(PauseModule.self, args: ["minutes": 1, "seconds": 2], connection: nowhere) }
        #expect(throws: InvalidArguments.self) { try makeContext(PauseModule.self, args: ["seconds": "soon"], connection: nowhere) }
    }
}

/// A value set from closures the modules call, possibly on other threads.
final class Box<T: Sendable>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    var get: T { lock.lock(); defer { lock.unlock() }; return value }
    func update(_ body: (inout T) -> Void) { lock.lock(); body(&value); lock.unlock() }
}
