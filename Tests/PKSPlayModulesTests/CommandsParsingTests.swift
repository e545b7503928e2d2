import Foundation
import PKSPlayCore
import Testing

@testable import PKSPlayModules

@Suite("Commands: word splitting and formats")
struct CommandsParsingTests {
    @Test(arguments: [
        ("ls -l /tmp", ["ls", "-l", "/tmp"]),
        ("  spaced   out  ", ["spaced", "out"]),
        (#"echo "a b" 'c d' e\ f"#, ["echo", "a b", "c d", "e f"]),
        (#"printf '' "" x"#, ["printf", "", "", "x"]),
        (#"a"b"'c' d"#, ["abc", "d"]),
        (#"echo "it's" 'say "hi"'"#, ["echo", "it's", "say \"hi\""]),
        (#"echo "a\"b" "c\\d" "e\$f" "g\nh""#, ["echo", "a\"b", "c\\d", "e\\$f", "g\\nh"]),
        (#"echo \$HOME \'x"#, ["echo", "$HOME", "'x"]),
        ("echo $(touch /tmp/pwned) ; rm", ["echo", "$(touch", "/tmp/pwned)", ";", "rm"]),
        ("tab\tand\nnewline", ["tab", "and", "newline"]),
        ("ünï cödé ✓", ["ünï", "cödé", "✓"]),
        ("no\u{A0}break here", ["no\u{A0}break", "here"]),
        ("crlf\r\nline", ["crlf", "line"]),
        ("'multi\nline'", ["multi\nline"]),
        ("# not a comment", ["#", "not", "a", "comment"]),
        ("", []),
    ])
    func shlexSplit(text: String, words: [String]) throws {
        #expect(try ShellWords.split(text) == words)
    }

    @Test(arguments: ["echo 'open", #"echo "open"#, #"trailing\"#])
    func shlexSplitRejectsUnfinishedText(text: String) {
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split(text) }
    }

    @Test func freeFormOptionsAreTakenOutWhereverTheyAre() {
        let (command, options) = FreeFormOptions.extract(from: "touch /srv/x creates=/srv/x chdir='/my dir' ")
        #expect(command == "touch /srv/x")
        #expect(options.map(\.0) == ["creates", "chdir"])
        #expect(options.map(\.1) == ["/srv/x", "/my dir"])
    }

    @Test func freeFormKeepsQuotedAndUnknownWords() {
        let text = #"echo "creates=x" name=y 'chdir=/z' \=q"#
        let (command, options) = FreeFormOptions.extract(from: text)
        #expect(command == text)
        #expect(options.isEmpty)
        // A multi-line script keeps its layout when nothing is taken out.
        let script = "echo a\n  echo b\n"
        #expect(FreeFormOptions.extract(from: script).command == script)
    }

    @Test func ansibleTimestampsAndDeltas() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let stamp = AnsibleFormat.timestamp(date)
        #expect(stamp.range(of: #"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.123456$"#, options: .regularExpression) != nil)
        #expect(AnsibleFormat.timestamp(Date(timeIntervalSince1970: 1_700_000_000)).count == 19, "no fraction when it is zero")
        #expect(AnsibleFormat.delta(0.003421) == "0:00:00.003421")
        #expect(AnsibleFormat.delta(3723) == "1:02:03")
        #expect(AnsibleFormat.delta(86_400 + 61.5) == "1 day, 0:01:01.500000")
        #expect(AnsibleFormat.delta(2 * 86_400) == "2 days, 0:00:00")
        #expect(AnsibleFormat.delta(-1.25) == "-0:00:01.250000")
        // The same text as C's %0*d, which it replaces.
        for (n, width) in [(0, 2), (7, 2), (42, 2), (123, 2), (5, 6), (999_999, 6), (2024, 4), (-5, 3)] {
            #expect(AnsibleFormat.digits(n, width) == String(format: "%0*ld", width, n), "\(n) in \(width)")
        }
        // A timestamp's fields, checked against the C library's own formatting of the same time.
        var seconds = time_t(1_700_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        let expected = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(AnsibleFormat.timestamp(Date(timeIntervalSince1970: 1_700_000_000.000042)) == expected + ".000042")
    }

    @Test(arguments: [
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb\rc", ["a", "b", "c"]),
        ("a\n\nb", ["a", "", "b"]),
        ("", []),
        ("\n", [""]),
        ("x\u{2028}y\u{0B}z", ["x", "y", "z"]),
    ])
    func pythonSplitlines(text: String, lines: [String]) {
        #expect(AnsibleFormat.splitLines(text) == lines)
    }

    @Test func stripOnlyTrailingLineEnds() {
        #expect(AnsibleFormat.stripTrailingNewlines("a\n\r\n") == "a")
        #expect(AnsibleFormat.stripTrailingNewlines("\n a \t\n") == "\n a \t")
    }

    @Test func expandingWordsQuoteEverythingButVariables() {
        var preamble: [String] = []
        #expect(ShellText.expandingWord("plain", preamble: &preamble) == "plain")
        #expect(ShellText.expandingWord("$(touch x)", preamble: &preamble) == "'$(touch x)'")
        #expect(preamble.isEmpty)
        let word = ShellText.expandingWord("pre-$HOME-${USER}-$1", preamble: &preamble)
        #expect(word == #"pre-"${HOME-$pksplay_lit0}"-"${USER-$pksplay_lit1}"'-$1'"#)
        #expect(preamble == ["pksplay_lit0='$HOME'", "pksplay_lit1='${USER}'"])
        #expect(ShellText.expandingWord("", preamble: &preamble) == "''")
    }
}

@Suite("Commands: registry")
struct CommandsRegistryTests {
    @Test func everyModuleIsRegisteredOnceWithDocumentation() {
        let names = CommandModules.all.map { $0.name }
        #expect(Set(names).count == names.count)
        #expect(Set(names) == ["command", "shell", "raw", "script", "ping", "debug", "assert", "fail", "set_fact", "include_vars", "pause"])
        let registry = ModuleRegistry(CommandModules.all)
        #expect(registry.module(named: "ansible.builtin.shell")?.name == "shell")
        #expect(registry.module(named: "ansible.legacy.command")?.name == "command")
        for module in CommandModules.all {
            #expect(!module.documentation.summary.isEmpty)
            #expect(module.documentation.example.contains(module.name), "\(module.name)'s example uses it")
            if let freeForm = module.arguments.freeForm {
                #expect(module.arguments.argument(named: freeForm) != nil, "\(module.name)'s free-form argument is declared")
            }
        }
    }

    @Test func controllerModulesSaySo() {
        let controller = CommandModules.all.filter { $0.runsOnController }.map { $0.name }
        #expect(Set(controller) == ["debug", "assert", "fail", "set_fact", "include_vars", "pause"])
    }

    @Test func documentationExamplesAreValidYAML() throws {
        for module in CommandModules.all {
            let parsed = try VarsFile.parse(module.documentation.example, path: "\(module.name) example")
            guard case .list(let tasks)? = parsed else {
                Issue.record("\(module.name)'s example is not a list of tasks")
                continue
            }
            #expect(!tasks.isEmpty)
        }
    }
}
