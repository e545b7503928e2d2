import Foundation
import PKSPlayCore
import Testing

@testable import PKSPlayLoader

@Suite struct InventoryYAMLValueTests {
    /// Each row was checked against ansible-core 2.19's YAML loader (PyYAML): `yaml.load("v: X", AnsibleLoader)`.
    static let scalars: [(String, Value)] = [
        ("yes", true), ("No", false), ("on", true), ("OFF", false), ("true", true), ("True", true), ("TRUE", true),
        ("y", "y"), ("n", "n"),
        ("0644", 420), ("0o17", "0o17"), ("0x1f", 31), ("0b101", 5), ("1_000", 1000), ("08", "08"),
        ("+12", 12), ("-0", 0), ("0", 0), ("00", 0), ("190:20:30", 685230),
        ("1e3", "1e3"), ("1.0e+3", 1000.0), ("1.5e3", "1.5e3"), ("1.5E+3", 1500.0), ("-.5", "-.5"), (".5", 0.5),
        ("1.", 1.0), ("0.", 0.0), ("+.5e-3", "+.5e-3"), ("1:30.5", 90.5),
        (".inf", .double(.infinity)), ("-.INF", .double(-.infinity)),
        ("~", nil), ("null", nil), ("Null", nil), ("NULL", nil), ("", nil),
        ("'quoted'", "quoted"), ("\"yes\"", "yes"), ("'0644'", "0644"), ("2001-12-14", "2001-12-14"),
        ("!!str 5", "5"), ("!!int '7'", 7), ("!!float 3", 3.0), ("!unsafe yes", true), ("!unsafe '{{ x }}'", "{{ x }}"),
        ("=", "="), ("hello world", "hello world"), ("'it''s'", "it's"), ("\"tab\\there\"", "tab\there"),
        ("99999999999999999999", "99999999999999999999"),
    ]

    @Test(arguments: scalars)
    func scalarsAreTypedAsAnsibleTypesThem(text: String, expected: Value) throws {
        let root = try YAMLValue.parse("v: \(text)\n", file: "t.yml")
        #expect(root["v"]?.value == expected, "v: \(text)")
    }

    @Test func nanIsAFloat() throws {
        let value = try YAMLValue.parse("v: .nan", file: "t.yml")["v"]?.value
        guard case .double(let d)? = value else {
            Issue.record("expected a float, got \(String(describing: value))")
            return
        }
        #expect(d.isNaN)
    }

    @Test func nodesKeepLocationsOrderAndText() throws {
        let text = """
            # comment
            zeta: 1
            alpha:
              - one
              - {b: 0644, a: [x, y]}
            """
        let root = try YAMLValue.parse(text, file: "f.yml")
        #expect(root.kind == .mapping)
        #expect(root.entries.map(\.name) == ["zeta", "alpha"])
        #expect(root.entry("zeta")?.key.location == SourceLocation(file: "f.yml", line: 2, column: 1))
        let alpha = try #require(root["alpha"])
        #expect(alpha.kind == .sequence)
        #expect(alpha.items[0].location == SourceLocation(file: "f.yml", line: 4, column: 5))
        let inner = alpha.items[1]
        #expect(inner.entries.map(\.name) == ["b", "a"])
        #expect(inner["b"]?.text == "0644")
        #expect(inner["b"]?.value == 420)
        #expect(inner["b"]?.location == SourceLocation(file: "f.yml", line: 5, column: 9))
        #expect(YAMLValue.toValue(root) == ["zeta": 1, "alpha": ["one", ["b": 420, "a": ["x", "y"]]]])
        if case .dict(let dict) = root.value { #expect(dict.keys == ["zeta", "alpha"]) }
    }

    @Test func duplicateKeysWarnAndKeepFirstPositionLastValue() throws {
        let text = """
            a: 1
            b: 2
            a: 3
            c: {x: 1, x: 2}
            """
        let document = try YAMLValue.parseDocument(text, file: "d.yml")
        #expect(document.root.entries.map(\.name) == ["a", "b", "c"])
        #expect(document.root.value == ["a": 3, "b": 2, "c": ["x": 2]])
        let warnings = document.warnings.map { "\($0.location?.line ?? 0):\($0.location?.column ?? 0) \($0.message)" }
        #expect(warnings.count == 2)
        #expect(warnings.contains("3:1 duplicate key 'a' (first at line 1); the last value is used"))
        #expect(warnings.contains("4:11 duplicate key 'x' (first at line 4); the last value is used"))
        #expect(document.warnings.allSatisfy { $0.severity == .warning })
        // Locations after a renamed key on the same line stay those of the original text.
        #expect(document.root["c"]?["x"]?.location == SourceLocation(file: "d.yml", line: 4, column: 14))
    }

    @Test func duplicateQuotedAndAnchoredKeysAreHandledToo() throws {
        let document = try YAMLValue.parseDocument("\"a\": 1\n&k a: 2\n'a': 3\n", file: "d.yml")
        #expect(document.root.value == ["a": 3])
        #expect(document.warnings.count == 2)
    }

    @Test func mergeKeysExpandAsPyYAMLDoes() throws {
        let text = """
            base: &base {k: 1, j: 0}
            more: &more {k: 3, z: 1}
            one: {<<: *base, k: 2}
            two: {<<: [*base, *more], q: 2}
            """
        let document = try YAMLValue.parseDocument(text, file: "m.yml")
        #expect(document.root["one"]?.value == ["k": 2, "j": 0])
        // Earlier mappings in a merge list win; keys come in PyYAML's order.
        let two = try #require(document.root["two"])
        #expect(two.value == ["k": 1, "z": 1, "j": 0, "q": 2])
        #expect(two.entries.map(\.name) == ["k", "z", "j", "q"])
        #expect(document.warnings.isEmpty)
    }

    @Test func aliasesAreTheNodeTheyName() throws {
        let root = try YAMLValue.parse("a: &x [1, 2]\nb: *x\n", file: "a.yml")
        #expect(root["b"] === root["a"])
        #expect(root.value == ["a": [1, 2], "b": [1, 2]])
    }

    @Test func unsafeMarksTheNodeAndItsChildren() throws {
        let root = try YAMLValue.parse("a: !unsafe '{{ x }}'\nb: !unsafe [c, {d: e}]\nc: plain\n", file: "u.yml")
        #expect(root["a"]?.isUnsafe == true)
        #expect(root["b"]?.items[1]["d"]?.isUnsafe == true)
        #expect(root["c"]?.isUnsafe == false)
        #expect(root["a"]?.tag == "!unsafe")
    }

    @Test func jsonDocumentsAreTypedAsJSON() throws {
        // Ansible reads JSON with json.loads first: 1e3 is a number there, and "yes" was quoted anyway.
        let root = try YAMLValue.parse("{\n\t\"a\": 1e3,\n\t\"b\": [true, null, -2, 0.5],\n\t\"c\": \"yes\"\n}\n", file: "v.json")
        #expect(root.value == ["a": 1000.0, "b": [true, nil, -2, 0.5], "c": "yes"])
        #expect(root["b"]?.location == SourceLocation(file: "v.json", line: 3, column: 7))
        // Not JSON (a YAML flow mapping): PyYAML typing applies.
        #expect(try YAMLValue.parse("{a: 1e3, b: yes}", file: "v.yml").value == ["a": "1e3", "b": true])
    }

    @Test func emptyAndCommentOnlyDocumentsAreEmpty() throws {
        for text in ["", "# nothing\n", "---\n"] {
            let document = try YAMLValue.parseDocument(text, file: "e.yml")
            #expect(document.root.value == .null)
            #expect(document.isEmpty == (text != "---\n"))
        }
    }

    @Test func plainScalarResolutionIsPublic() {
        #expect(YAMLValue.resolvePlainScalar("0755") == 493)
        #expect(YAMLValue.resolvePlainScalar("Off") == false)
        #expect(YAMLValue.resolvePlainScalar("web01") == "web01")
    }

    /// Bad input: each case must give a Diagnostic at the right place, never a trap or a hang.
    static let badDocuments: [(name: String, text: String, message: String, line: Int, column: Int)] = [
        ("truncated flow", "a: [1, 2\n", "YAML syntax error", 2, 1),
        ("truncated quote", "a: 'open\nb: 2\n", "YAML syntax error", 3, 1),
        ("tab indentation", "a:\n\tb: 1\n", "YAML syntax error", 2, 1),
        ("bad indentation", "a:\n  b: 1\n c: 2\n", "YAML syntax error", 3, 2),
        ("mapping in plain", "a: b: c\n", "YAML syntax error", 1, 5),
        ("undefined alias", "a: *nope\n", "found undefined alias", 1, 4),
        ("two documents", "a: 1\n---\nb: 2\n", "YAML syntax error", 2, 1),
        ("vault", "pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3131\n", "vaulted values are not supported", 1, 5),
        ("unknown tag", "a: !ruby/object 1\n", "unknown YAML tag '!ruby/object'", 1, 4),
        ("python tag", "a: !!python/name:os.system x\n", "unknown YAML tag", 1, 4),
        ("list as key", "? [a, b]\n: 1\n", "a mapping key must be a string or a number, not a list", 1, 3),
        ("bad merge", "a: {<<: 5}\n", "a merge key '<<' takes a mapping", 1, 9),
        ("bad explicit int", "a: !!int forty\n", "'forty' is not an integer", 1, 4),
        ("NUL byte", "a: b\u{0}c\n", "YAML does not allow", 1, 5),
        ("control character", "a: \u{1B}[31m\n", "YAML does not allow", 1, 4),
    ]

    @Test(arguments: badDocuments)
    func badDocumentsAreDiagnostics(name: String, text: String, message: String, line: Int, column: Int) {
        do {
            let document = try YAMLValue.parseDocument(text, file: "bad.yml")
            Issue.record("\(name): parsed as \(document.root.value)")
        } catch let diagnostic as Diagnostic {
            #expect(diagnostic.message.contains(message), "\(name): \(diagnostic)")
            #expect(diagnostic.location?.file == "bad.yml")
            #expect(diagnostic.location?.line == line, "\(name): \(diagnostic)")
            #expect(diagnostic.location?.column == column, "\(name): \(diagnostic)")
            #expect(diagnostic.hint != nil, "\(name) has no hint")
        } catch {
            Issue.record("\(name): unexpected \(error)")
        }
    }

    @Test func tenThousandNestedListsAreRefused() {
        for text in [
            String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
            String(repeating: "- ", count: 10_000) + "x\n",
            String(repeating: "{a: ", count: 10_000) + "1" + String(repeating: "}", count: 10_000),
        ] {
            #expect {
                try YAMLValue.parse(text, file: "deep.yml")
            } throws: { error in
                (error as? Diagnostic)?.message.contains("nested deeper than 200 levels") ?? false
            }
        }
    }

    @Test func nestingUpToTheLimitIsFine() throws {
        let text = String(repeating: "[", count: 199) + "1" + String(repeating: "]", count: 199)
        var value = try YAMLValue.parse(text, file: "ok.yml").value
        var depth = 0
        while case .list(let items) = value, let first = items.first {
            value = first
            depth += 1
        }
        #expect(depth == 199)
        // The scalar inside 200 lists sits at depth 200: still accepted; one more list is not.
        _ = try YAMLValue.parse("[" + text + "]", file: "ok.yml")
        #expect(throws: Diagnostic.self) {
            try YAMLValue.parse("[[" + text + "]]", file: "ok.yml")
        }
    }

    @Test func libyamlsDeepestNestingFitsTheParserStack() throws {
        // libyaml stops at 1000 levels; Yams recurses once per level on the parser's own thread.
        let text = String(repeating: "[", count: 999) + String(repeating: "]", count: 999)
        let document = try YAMLValue.parseDocument(text, file: "deep.yml", limits: YAMLLimits(maxDepth: 2000))
        #expect(document.root.kind == .sequence)
    }

    @Test func aliasChainsCannotNestPastTheLimit() {
        var text = "a0: &a0 [[[x]]]\n"
        for i in 1...100 { text += "a\(i): &a\(i) [[*a\(i - 1)]]\n" }
        #expect {
            try YAMLValue.parse(text, file: "chain.yml")
        } throws: { error in
            (error as? Diagnostic)?.message.contains("nested deeper than 200 levels") ?? false
        }
    }

    @Test func billionLaughsIsRefusedQuickly() {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let start = Date()
        #expect {
            try YAMLValue.parse(text, file: "lol.yml")
        } throws: { error in
            (error as? Diagnostic)?.message.contains("aliases expand this YAML to more than") ?? false
        }
        #expect(Date().timeIntervalSince(start) < 30)
    }

    @Test func aliasOfACollectionAsAKeyIsRefusedBeforeYamsHashesIt() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...11 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        text += "z:\n  *a11 : 1\n"
        let start = Date()
        #expect {
            try YAMLValue.parse(text, file: "keys.yml")
        } throws: { error in
            (error as? Diagnostic)?.location?.line == 14
        }
        #expect(Date().timeIntervalSince(start) < 30)
    }

    @Test func realisticFilesWithAliasesAreNotMistakenForKeyBombs() throws {
        let text = """
            defaults: &defaults {become: true, tags: [base]}
            names: &names [a, b]
            tasks:
              - <<: *defaults
                name: "is it {{ x }}? yes: {{ y }}"
                shell: |
                  test -f /etc/x && echo "{a}: b" || echo '? what'
                  [ -d /tmp ] && echo }: done
                "{{ key }}": value
                loop: *names
              - {<<: *defaults, when: "{{ a }}: b" }   # comment with *star and ? mark
            """
        let document = try YAMLValue.parseDocument(text, file: "play.yml")
        #expect(document.root["tasks"]?.items.first?["become"]?.value == true)
        #expect(document.root["tasks"]?.items.first?["loop"]?.value == ["a", "b"])
        #expect(document.root["tasks"]?.items.last?["tags"]?.value == ["base"])
    }

    @Test func aliasOfAScalarAsAKeyIsFine() throws {
        let root = try YAMLValue.parse("k: &k name\nm:\n  *k : 1\n", file: "k.yml")
        #expect(root["m"]?.value == ["name": 1])
    }

    @Test func sixtyMegabytesAreRefusedBeforeParsing() throws {
        let big = String(repeating: "a: b\n", count: 12_600_000)
        #expect {
            try YAMLValue.parse(big, file: "big.yml")
        } throws: { error in
            (error as? Diagnostic)?.message.contains("more than the 50 MB") ?? false
        }
        let fixture = try InventoryFixture([:])
        try fixture.write("big.yml", Data(big.utf8))
        #expect {
            try YAMLValue.loadFile(fixture.path("big.yml"))
        } throws: { error in
            (error as? Diagnostic)?.message.contains("50 MB") ?? false
        }
    }

    @Test func binaryAndNonUTF8FilesAreClearErrors() throws {
        let fixture = try InventoryFixture([:])
        try fixture.write("binary.yml", Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0x00, 0xFF, 0xFE]))
        try fixture.write("latin1.yml", Data("name: caf".utf8) + Data([0xE9]) + Data("\n".utf8))
        #expect {
            try YAMLValue.loadFile(fixture.path("binary.yml"))
        } throws: { error in
            (error as? Diagnostic)?.message == "this is a binary file, not text"
        }
        #expect {
            try YAMLValue.loadFile(fixture.path("latin1.yml"))
        } throws: { error in
            let d = error as? Diagnostic
            return d?.message == "the file is not valid UTF-8 text" && d?.location?.line == 1 && d?.location?.column == 10
        }
        #expect {
            try YAMLValue.loadFile(fixture.path("missing.yml"))
        } throws: { error in
            (error as? Diagnostic)?.message == "file not found"
        }
        try fixture.write("vault.yml", Data("$ANSIBLE_VAULT;1.1;AES256\n6162\n".utf8))
        #expect {
            try YAMLValue.loadFile(fixture.path("vault.yml"))
        } throws: { error in
            (error as? Diagnostic)?.message.contains("ansible-vault") ?? false
        }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab:- \n\t[]{}'\"&*!|>#?,%@`\\0123456789.~".unicodeScalars)
        for _ in 0..<300 {
            let length = Int.random(in: 0..<200, using: &generator)
            let text = String(String.UnicodeScalarView((0..<length).map { _ in alphabet.randomElement(using: &generator)! }))
            do {
                _ = try YAMLValue.parseDocument(text, file: "fuzz.yml")
            } catch {
                #expect(error is Diagnostic, "\(error) for \(text.debugDescription)")
            }
        }
    }
}
