import Foundation
import PKSPlayCore
import PKSPlayLocal
import PKSPlayTestSupport
import Testing

@testable import PKSPlayModules

let timestampPattern = #"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$"#
let deltaPattern = #"^\d+:\d{2}:\d{2}(\.\d{6})?$"#

func matches(_ value: Value?, _ pattern: String) -> Bool {
    guard let s = value?.stringValue else { return false }
    return s.range(of: pattern, options: .regularExpression) != nil
}

func lines(_ value: Value?) -> [String]? { value?.listValue?.map(\.stringified) }

@Suite("Commands: command module")
struct CommandsCommandModuleTests {
    let local = LocalConnection()

    func run(_ args: ValueDict, checkMode: Bool = false, on connection: (any Connection)? = nil) async throws -> ModuleResult {
        try await runModule(CommandModule.self, args: args, connection: connection ?? local, checkMode: checkMode)
    }

    @Test func freeFormRunsAndReportsLikeAnsible() async throws {
        let r = try await run(["cmd": "echo hello   world"])
        #expect(r.changed && !r.failed && !r.skipped)
        #expect(r.msg == "")
        #expect(r.values["rc"] == 0)
        #expect(r.values["stdout"] == "hello world")
        #expect(r.values["stderr"] == "")
        #expect(lines(r.values["stdout_lines"]) == ["hello world"])
        #expect(lines(r.values["stderr_lines"]) == [])
        #expect(r.values["cmd"] == ["echo", "hello", "world"])
        #expect(matches(r.values["start"], timestampPattern))
        #expect(matches(r.values["end"], timestampPattern))
        #expect(matches(r.values["delta"], deltaPattern))
    }

    struct Example: Sendable, CustomTestStringConvertible {
        var args: ValueDict
        var rc: Int
        var stdout: String
        var stderr = ""
        var testDescription: String { args.map { "\($0.key)=\($0.value.stringified)" }.joined(separator: " ") }
    }

    @Test(arguments: [
        Example(args: ["cmd": #"printf '%s|' "a b" 'c d' e\ f ''"#], rc: 0, stdout: "a b|c d|e f||"),
        Example(args: ["cmd": "sh -c 'echo oops >&2; exit 3'"], rc: 3, stdout: "", stderr: "oops"),
        Example(args: ["cmd": "printf 'a\\n\\n\\n'"], rc: 0, stdout: "a"),
        Example(args: ["cmd": "printf 'a\\n\\n'", "strip_empty_ends": false], rc: 0, stdout: "a\n\n"),
        Example(args: ["cmd": "cat", "stdin": "hello"], rc: 0, stdout: "hello"),
        Example(args: ["cmd": "od -An -c", "stdin": "hi", "stdin_add_newline": false], rc: 0, stdout: "   h   i"),
        Example(args: ["cmd": "od -An -c", "stdin": "hi"], rc: 0, stdout: "   h   i  \\n"),
        Example(args: ["argv": ["printf", "%s,", "x y", "--z"]], rc: 0, stdout: "x y,--z,"),
        // Shell syntax is nothing special: `;` and `|` are words.
        Example(args: ["cmd": "echo a ; echo b | cat"], rc: 0, stdout: "a ; echo b | cat"),
        Example(args: ["cmd": "echo chdir-less creates-less"], rc: 0, stdout: "chdir-less creates-less"),
    ])
    func examples(example: Example) async throws {
        let r = try await run(example.args)
        #expect(r.values["rc"] == .int(example.rc))
        #expect(r.values["stdout"] == .string(example.stdout))
        #expect(r.values["stderr"] == .string(example.stderr))
        #expect(r.failed == (example.rc != 0))
        #expect(r.msg == (example.rc != 0 ? "non-zero return code" : ""))
        #expect(r.changed)
    }

    static let hostileWords = [
        "with space", "it's", "\"dq\"", "$(touch MARKER1)", "`touch MARKER2`", "; touch MARKER3", "a\nb", "-rf", "--help",
        "ünïcödé ✓", "*", "$((1+1))", "|", "&&", ">out", "\\", "'", "",
    ]

    @Test(arguments: [true, false])
    func hostileArgvReachesTheProgramLiterally(expandVars: Bool) async throws {
        let dir = try TemporaryDirectory()
        let r = try await run(["argv": .list((["printf", "%s\\0"] + Self.hostileWords).map(Value.string)), "chdir": .string(dir.path), "expand_argument_vars": .bool(expandVars), "strip_empty_ends": false])
        #expect(r.values["rc"] == 0)
        let words = (r.values["stdout"]?.stringValue ?? "").split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(words == Self.hostileWords)
        for marker in ["MARKER1", "MARKER2", "MARKER3", "out"] {
            #expect(!dir.exists(marker), "\(marker) must not be created")
        }
    }

    @Test func hostileFreeFormReachesTheProgramLiterally() async throws {
        let dir = try TemporaryDirectory()
        let marker = dir.file("pwned")
        let r = try await run(["cmd": .string("printf '%s\\n' \"$(touch \(marker))\" '`touch \(marker)`' ';' 'a\nb' -- -n 'ü'"), "chdir": .string(dir.path)])
        #expect(r.values["rc"] == 0)
        #expect(lines(r.values["stdout_lines"]) == ["$(touch \(marker))", "`touch \(marker)`", ";", "a", "b", "--", "-n", "ü"])
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func variablesAndTildeExpandAsAnsibleDoes() async throws {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
        let r = try await run(["cmd": "echo $HOME ${HOME}x ~ ~/y $PKSPLAY_SURELY_UNSET ${PKSPLAY_SURELY_UNSET} $ $1 a$"])
        #expect(r.values["stdout"] == .string("\(home) \(home)x \(home) \(home)/y $PKSPLAY_SURELY_UNSET ${PKSPLAY_SURELY_UNSET} $ $1 a$"))
        let literal = try await run(["cmd": "echo $HOME ~", "expand_argument_vars": false])
        #expect(literal.values["stdout"] == "$HOME ~")
    }

    @Test func exactCommandSentToTheTarget() async throws {
        let target = ScriptedConnection()
        target.on(.any, stdout: "ok\n")
        let r = try await run(["argv": ["psql", "-c", "SELECT 'x'; DROP TABLE t"], "expand_argument_vars": false], on: target)
        #expect(target.commands == [#"exec psql -c 'SELECT '"'"'x'"'"'; DROP TABLE t'"#])
        #expect(r.values["stdout"] == "ok")
        #expect(target.requests.first?.stdin == nil)
    }

    @Test func stdinTravelsInTheRequestNotTheCommand() async throws {
        let target = ScriptedConnection()
        target.on(.any)
        _ = try await run(["cmd": "psql -f -", "stdin": "SELECT 1;"], on: target)
        #expect(target.requests.first?.stdinText == "SELECT 1;\n")
        #expect(target.commands.first?.contains("SELECT") == false)
    }

    @Test func createsThatExistsSkipsTheCommand() async throws {
        let dir = try TemporaryDirectory()
        let existing = try dir.write("done.flag", "")
        let marker = dir.file("ran")
        let r = try await run(["cmd": .string("touch \(marker)"), "creates": .string(existing)])
        #expect(!r.changed && !r.failed && !r.skipped)
        #expect(r.msg == "Did not run command since '\(existing)' exists")
        #expect(r.values["stdout"] == .string("skipped, since \(existing) exists"))
        #expect(r.values["rc"] == 0)
        #expect(r.values["start"] == .null && r.values["delta"] == .null)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func createsIsAGlobAndRelativeToChdir() async throws {
        let dir = try TemporaryDirectory()
        try dir.write("out/run-1.done", "")
        let skipped = try await run(["cmd": "touch ran", "chdir": .string(dir.path), "creates": "out/*.done"])
        #expect(!skipped.changed)
        #expect(skipped.msg == "Did not run command since 'out/*.done' exists")
        let ran = try await run(["cmd": "touch ran", "chdir": .string(dir.path), "creates": "out/*.missing"])
        #expect(ran.changed)
        #expect(dir.exists("ran"))
    }

    @Test func createsUnderTheHomeFolder() async throws {
        // The home folder always exists; `~` is expanded on the target, as Ansible's path type does.
        let r = try await run(["cmd": "false", "creates": "~"])
        #expect(!r.changed && !r.failed)
        #expect(r.msg == "Did not run command since '~' exists")
        let target = ScriptedConnection()
        target.on(.any, stdout: "creates:0\n")
        _ = try await run(["cmd": "true", "creates": "~/.pks done"], on: target)
        #expect(target.commands.first?.contains(#"p="$HOME"'/.pks done'"#) == true)
    }

    @Test func removesThatIsMissingSkipsTheCommand() async throws {
        let dir = try TemporaryDirectory()
        let missing = dir.file("old.conf")
        let r = try await run(["cmd": .string("rm \(missing)"), "removes": .string(missing)])
        #expect(!r.changed && !r.failed)
        #expect(r.msg == "Did not run command since '\(missing)' does not exist")
        try dir.write("old.conf", "x")
        let removed = try await run(["cmd": .string("rm \(missing)"), "removes": .string(missing)])
        #expect(removed.changed && !removed.failed)
        #expect(!dir.exists("old.conf"))
    }

    @Test func optionsInsideTheFreeFormText() async throws {
        let dir = try TemporaryDirectory()
        let r = try await run(["cmd": .string("touch made creates=made chdir=\(dir.path)")])
        #expect(r.changed)
        #expect(r.values["cmd"] == ["touch", "made"])
        #expect(dir.exists("made"))
        let again = try await run(["cmd": .string("touch made creates=made chdir=\(dir.path)")])
        #expect(!again.changed)
        #expect(again.msg == "Did not run command since 'made' exists")
    }

    @Test func chdirRunsThere() async throws {
        let dir = try TemporaryDirectory()
        let r = try await run(["cmd": "pwd", "chdir": .string(dir.path)])
        #expect(r.values["stdout"] == .string(dir.path))
    }

    @Test func missingChdirFailsAsAnsibleSays() async throws {
        let r = try await run(["cmd": "pwd", "chdir": "/nonexistent/pksplay"])
        #expect(r.failed && !r.changed)
        #expect(r.msg == "Unable to change directory before execution: [Errno 2] No such file or directory: b'/nonexistent/pksplay'")
        let file = try TemporaryDirectory()
        let notDir = try file.write("f", "")
        let r2 = try await run(["cmd": "pwd", "chdir": .string(notDir)])
        #expect(r2.msg == "Unable to change directory before execution: [Errno 20] Not a directory: b'\(notDir)'")
    }

    @Test func checkModeSkipsUnlessCreatesOrRemovesDecide() async throws {
        let target = ScriptedConnection()
        let skipped = try await run(["cmd": "rm -rf /srv/data"], checkMode: true, on: target)
        #expect(skipped.skipped && !skipped.changed && !skipped.failed)
        #expect(skipped.msg == "Command would have run if not in check mode")
        #expect(skipped.values["rc"] == 0)
        #expect(target.commands.isEmpty, "check mode runs nothing")

        let dir = try TemporaryDirectory()
        let existing = try dir.write("x", "")
        let wouldNot = try await run(["cmd": "touch x", "creates": .string(existing)], checkMode: true)
        #expect(!wouldNot.changed && !wouldNot.skipped)
        #expect(wouldNot.msg == "Would not run command since '\(existing)' exists")

        let wouldRun = try await run(["cmd": .string("touch \(dir.file("y"))"), "creates": .string(dir.file("y"))], checkMode: true)
        #expect(wouldRun.changed && !wouldRun.skipped)
        #expect(wouldRun.msg == "Command would have run if not in check mode")
        #expect(!dir.exists("y"))
    }

    @Test func invalidCommandsFailWithAnsibleMessages() async throws {
        let empty = try await run(["cmd": "   "])
        #expect(empty.failed && empty.msg == "no command given" && empty.values["rc"] == 256)
        let unclosed = try await run(["cmd": "echo 'oops"])
        #expect(unclosed.failed)
        #expect(unclosed.msg?.contains("no closing quotation") == true)
        #expect(throws: InvalidArguments.self) { try makeContext(CommandModule.self, args: ["cmd": "ls", "argv": ["ls"]], connection: local) }
        #expect(throws: InvalidArguments.self) { try makeContext(CommandModule.self, args: ["chdir": "/tmp"], connection: local) }
        #expect(throws: InvalidArguments.self) { try makeContext(CommandModule.self, args: ["cmd": "ls", "creates_typo": "x"], connection: local) }
        #expect(throws: InvalidArguments.self) { try makeContext(CommandModule.self, args: ["cmd": "ls", "strip_empty_ends": "perhaps"], connection: local) }
    }

    @Test func missingProgramFails() async throws {
        let r = try await run(["cmd": "pksplay-no-such-program --x"])
        #expect(r.failed)
        #expect(r.values["rc"] == 127)
        #expect(r.values["stderr"]?.stringValue?.contains("not found") == true)
    }

    @Test func executableIsIgnoredWithAnsiblesWarning() async throws {
        let r = try await run(["cmd": "echo $0", "executable": "/bin/bash"])
        #expect(r.values["stdout"] == "$0")
        #expect(r.warnings == ["As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '/bin/bash'."])
    }

    @Test func commandIsNotAShellBuiltin() async throws {
        // `command: cd /` runs a program called cd, as in Ansible, not the shell's builtin.
        let r = try await run(["cmd": "cd /"])
        #expect(r.failed)
    }

    @Test func connectionErrorsPropagate() async throws {
        let target = ScriptedConnection()
        target.on(.any) { _ in throw ConnectionError.unreachable(host: "db1", reason: "connection reset") }
        await #expect(throws: ConnectionError.unreachable(host: "db1", reason: "connection reset")) {
            try await run(["cmd": "true"], on: target)
        }
    }
}

@Suite("Commands: shell module")
struct CommandsShellModuleTests {
    let local = LocalConnection()

    func run(_ args: ValueDict, checkMode: Bool = false, on connection: (any Connection)? = nil) async throws -> ModuleResult {
        try await runModule(ShellModule.self, args: args, connection: connection ?? local, checkMode: checkMode)
    }

    @Test func shellFeaturesWork() async throws {
        let r = try await run(["cmd": "echo $((1+2)) | tr 3 x; echo second >&2"])
        #expect(r.values["stdout"] == "x")
        #expect(r.values["stderr"] == "second")
        #expect(r.values["cmd"] == "echo $((1+2)) | tr 3 x; echo second >&2")
        #expect(r.changed && !r.failed && r.msg == "")
        #expect(matches(r.values["delta"], deltaPattern))
    }

    @Test func multiLineScriptKeepsItsLayout() async throws {
        let r = try await run(["cmd": "for i in 1 2 3\ndo\n  printf '%s' $i\ndone\n"])
        #expect(r.values["stdout"] == "123")
    }

    @Test func nonZeroExitFails() async throws {
        let r = try await run(["cmd": "false || exit 5"])
        #expect(r.failed && r.values["rc"] == 5 && r.msg == "non-zero return code")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/bash")))
    func executablePicksTheShell() async throws {
        let r = try await run(["cmd": "echo ${BASH_VERSION:+bash}; [[ 1 == 1 ]] && echo ok", "executable": "/bin/bash"])
        #expect(r.values["stdout"] == "bash\nok")
        let sh = try await run(["cmd": "echo ${BASH_VERSION:-plain}"])
        #expect(sh.values["stdout"] == "plain")
    }

    @Test func chdirCreatesAndFreeFormOptions() async throws {
        let dir = try TemporaryDirectory()
        let r = try await run(["cmd": .string("echo hi > out.txt creates=out.txt chdir=\(dir.path)")])
        #expect(r.changed)
        #expect(r.values["cmd"] == "echo hi > out.txt")
        #expect(try String(contentsOfFile: dir.file("out.txt"), encoding: .utf8) == "hi\n")
        let again = try await run(["cmd": .string("echo hi > out.txt creates=out.txt chdir=\(dir.path)")])
        #expect(!again.changed && again.msg == "Did not run command since 'out.txt' exists")
    }

    @Test func stdinIsFed() async throws {
        let r = try await run(["cmd": "read a; echo \"got $a\"", "stdin": "value"])
        #expect(r.values["stdout"] == "got value")
    }

    @Test func checkModeSkips() async throws {
        let target = ScriptedConnection()
        let r = try await run(["cmd": "systemctl restart postgresql"], checkMode: true, on: target)
        #expect(r.skipped && r.msg == "Command would have run if not in check mode")
        #expect(target.commands.isEmpty)
    }

    @Test func scriptTextIsOneQuotedArgument() async throws {
        let target = ScriptedConnection()
        target.on(.any)
        _ = try await run(["cmd": "echo 'a' \"$HOME\"", "chdir": "/srv/my dir"], on: target)
        #expect(target.commands.last == #"cd -- '/srv/my dir' && exec /bin/sh -c 'echo '"'"'a'"'"' "$HOME"'"#)
    }

    @Test func shellRejectsCommandOnlyOptions() {
        #expect(throws: InvalidArguments.self) {
            try makeContext(ShellModule.self, args: ["cmd": "ls", "expand_argument_vars": true], connection: local)
        }
        #expect(throws: InvalidArguments.self) { try makeContext(ShellModule.self, args: ["argv": ["ls"]], connection: local) }
    }
}
