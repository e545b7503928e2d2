import Foundation
import PKSPlayCore
import PKSPlayTestSupport
import Testing

@testable import PKSPlayModules

@Suite("Commands: include_vars module")
struct CommandsIncludeVarsTests {
    let nowhere = ScriptedConnection(hostName: "db1", strict: true)

    /// Looks names up under `root`, as the engine's search of vars/ folders would.
    func finder(_ root: String) -> @Sendable (String, ControlFileKind) -> String? {
        { name, kind in
            guard kind == .vars else { return nil }
            let path = (root as NSString).appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
    }

    func run(_ args: ValueDict, root: String, evaluate: @escaping @Sendable (String) throws -> Value = { _ in .null }) async throws -> ModuleResult {
        try await runModule(IncludeVarsModule.self, args: args, connection: nowhere, evaluate: evaluate, findFile: finder(root))
    }

    @Test func loadsAYAMLFileWithAnsiblesScalarRules() async throws {
        let vars = try TemporaryDirectory()
        let path = try vars.write("site.yml", """
            # settings
            port: 5432
            hex: 0x1F
            ratio: 0.5
            enabled: yes
            off_switch: Off
            quoted: "yes"
            empty:
            tilde: ~
            version: "16"
            stamp: 2024-01-02
            list: [a, 1, true]
            base: &base
              user: pks
              pool: 10
            derived:
              <<: *base
              pool: 20
            unicode: ünïcödé
            """)
        let r = try await run(["file": "site.yml"], root: vars.path)
        #expect(!r.failed && !r.changed)
        let facts = try #require(r.facts)
        #expect(r.factsAreSetFact)
        #expect(facts["port"] == 5432 && facts["hex"] == 31 && facts["ratio"] == 0.5)
        #expect(facts["enabled"] == true && facts["off_switch"] == false && facts["quoted"] == "yes")
        #expect(facts["empty"] == .null && facts["tilde"] == .null && facts["version"] == "16")
        #expect(facts["stamp"] == "2024-01-02")
        #expect(facts["list"] == ["a", 1, true])
        #expect(facts["derived"] == ["pool": 20, "user": "pks"])
        #expect(facts["unicode"] == "ünïcödé")
        #expect(facts.keys.first == "port", "file order is kept")
        #expect(r.values["ansible_included_var_files"] == [.string(path)])
        #expect(r.values["ansible_facts"] == .dict(facts))
    }

    @Test func freeFormJSONAndName() async throws {
        let vars = try TemporaryDirectory()
        try vars.write("db.json", #"{"b": 2, "a": {"x": [1, 2.5, null]}}"#)
        let r = try await run(["_raw_params": "db.json", "name": "db"], root: vars.path)
        #expect(r.facts == ["db": ["b": 2, "a": ["x": [1, 2.5, .null]]]])
    }

    @Test func fallsBackToThePathAsGiven() async throws {
        let vars = try TemporaryDirectory()
        let absolute = try vars.write("abs.yaml", "k: v\n")
        let r = try await run(["file": .string(absolute)], root: "/nonexistent")
        #expect(r.facts == ["k": "v"])
    }

    @Test func emptyFileGivesNoVariables() async throws {
        let vars = try TemporaryDirectory()
        try vars.write("empty.yml", "# nothing yet\n")
        let r = try await run(["file": "empty.yml"], root: vars.path)
        #expect(!r.failed && r.facts == [:])
    }

    @Test func directoryInNameOrderWithDepthAndFilters() async throws {
        let vars = try TemporaryDirectory()
        try vars.write("all/10-base.yml", "a: base\nb: base\n")
        try vars.write("all/20-site.yaml", "b: site\n")
        try vars.write("all/30-extra.json", #"{"c": "json"}"#)
        try vars.write("all/sub/40-deep.yml", "d: deep\n")
        try vars.write("all/sub/more/50-deeper.yml", "e: deeper\n")
        try vars.write("all/skip.yml.bak", "x: 1\n")

        let all = try await run(["dir": "all", "ignore_files": ["\\.bak"]], root: vars.path)
        #expect(!all.failed)
        #expect(all.facts == ["a": "base", "b": "site", "c": "json", "d": "deep", "e": "deeper"])
        let files = try #require(lines(all.values["ansible_included_var_files"]))
        #expect(files.map { ($0 as NSString).lastPathComponent } == ["10-base.yml", "20-site.yaml", "30-extra.json", "40-deep.yml", "50-deeper.yml"])

        let shallow = try await run(["dir": "all", "depth": 1, "ignore_unknown_extensions": true], root: vars.path)
        #expect(shallow.facts == ["a": "base", "b": "site", "c": "json"])

        let two = try await run(["dir": "all", "depth": 2, "ignore_unknown_extensions": true], root: vars.path)
        #expect(two.facts?["d"] == "deep" && two.facts?["e"] == nil)

        let matching = try await run(["dir": "all", "files_matching": "^[0-9]+-s", "extensions": ["yaml"]], root: vars.path)
        #expect(matching.facts == ["b": "site"])
    }

    @Test func directoryWithAnUnknownExtensionFails() async throws {
        let vars = try TemporaryDirectory()
        try vars.write("d/a.yml", "a: 1\n")
        try vars.write("d/notes.txt", "hello\n")
        let r = try await run(["dir": "d"], root: vars.path)
        #expect(r.failed)
        #expect(r.msg?.hasSuffix("notes.txt does not have a valid extension: yaml, yml, json") == true)
        #expect(r.values["message"] == r.msg.map(Value.string))
    }

    @Test func symlinkLoopsDoNotHang() async throws {
        let vars = try TemporaryDirectory()
        try vars.write("d/a.yml", "a: 1\n")
        try FileManager.default.createSymbolicLink(atPath: vars.file("d/loop"), withDestinationPath: vars.file("d"))
        let r = try await run(["dir": "d"], root: vars.path)
        #expect(r.facts == ["a": 1])
    }

    @Test func hashBehaviourMergeCombinesWithCurrentValues() async throws {
        let vars = try TemporaryDirectory()
        try vars.write("over.yml", "pg:\n  port: 5433\n  opts: {a: 1}\nplain: 1\n")
        let current: Value = ["port": 5432, "host": "db1", "opts": ["b": 2]]
        let r = try await run(["file": "over.yml", "hash_behaviour": "merge"], root: vars.path, evaluate: { $0 == "pg" ? current : .null })
        #expect(r.facts?["pg"] == ["port": 5433, "host": "db1", "opts": ["b": 2, "a": 1]])
        #expect(r.facts?["plain"] == 1)
    }

    struct BadFile: Sendable, CustomTestStringConvertible {
        var name: String
        var content: String
        var message: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        BadFile(name: "list.yml", content: "- a\n- b\n", message: "list.yml must be stored as a dictionary/hash"),
        BadFile(name: "broken.yml", content: "a: [1, 2\nb: 3\n", message: "broken.yml: not valid YAML"),
        BadFile(name: "vault.yml", content: "$ANSIBLE_VAULT;1.1;AES256\n6162\n", message: "encrypted with Ansible Vault"),
        BadFile(name: "tagged.yml", content: "secret: !vault |\n  abc\n", message: "the tag !vault is not supported"),
        BadFile(name: "scalar.yml", content: "just text\n", message: "must be stored as a dictionary/hash"),
        BadFile(name: "complex.yml", content: "? [a, b]\n: 1\n", message: "a key must be a scalar"),
        BadFile(
            name: "bomb.yml",
            content: """
                a: &a ["x","x","x","x","x","x","x","x","x","x"]
                b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
                c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
                d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
                e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
                f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
                g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
                h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
                """,
            message: "aliases repeated too often"),
    ])
    func badFilesFailWithTheirName(bad: BadFile) async throws {
        let vars = try TemporaryDirectory()
        try vars.write(bad.name, bad.content)
        let r = try await run(["file": .string(bad.name)], root: vars.path)
        #expect(r.failed)
        #expect(r.facts == nil)
        #expect(r.msg?.contains(bad.message) == true, "\(r.msg ?? "no message")")
        #expect(r.msg?.contains(bad.name) == true)
    }

    @Test func deepNestingIsAnErrorNotACrash() async throws {
        let vars = try TemporaryDirectory()
        let depth = 300
        try vars.write("deep.yml", "a: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n")
        let r = try await run(["file": "deep.yml"], root: vars.path)
        #expect(r.failed)
        #expect(r.msg?.contains("nested deeper than") == true || r.msg?.contains("not valid YAML") == true)
    }

    @Test func missingThingsAreClear() async throws {
        let vars = try TemporaryDirectory()
        let file = try await run(["file": "nope.yml"], root: vars.path)
        #expect(file.failed && file.msg?.hasPrefix("Could not find or access 'nope.yml'") == true)
        let dir = try await run(["dir": "nodir"], root: vars.path)
        #expect(dir.failed && dir.msg == "nodir directory does not exist")
        try vars.write("plain.yml", "a: 1\n")
        let notDir = try await run(["dir": "plain.yml"], root: vars.path)
        #expect(notDir.failed && notDir.msg == "plain.yml is not a directory")
        let badRegex = try await run(["dir": ".", "files_matching": "(unclosed"], root: vars.path)
        #expect(badRegex.failed && badRegex.msg == "Invalid regular expression: (unclosed")
        let nothing = try await run([:], root: vars.path)
        #expect(nothing.failed)
    }

    @Test func fileAndDirArgumentsDoNotMix() async throws {
        #expect(throws: InvalidArguments.self) {
            try makeContext(IncludeVarsModule.self, args: ["file": "a.yml", "dir": "d"], connection: nowhere)
        }
        let vars = try TemporaryDirectory()
        try vars.write("a.yml", "a: 1\n")
        let r = try await run(["file": "a.yml", "depth": 2], root: vars.path)
        #expect(r.failed && r.msg?.hasPrefix("You are mixing file only and dir only arguments") == true)
    }
}
