import Foundation
import PKSPlayCore
import Testing

@testable import PKSPlayLoader

/// INI values and host lines; expected values come from Python 3's `ast.literal_eval` and
/// `shlex.split(line, comments=True)`, which Ansible's INI plugin uses.
@Suite struct InventoryINITests {
    static let literals: [(String, Value)] = [
        ("5", 5), ("-5", -5), ("+5", 5), ("- 5", -5), ("--5", "--5"), (" 7", 7),
        ("0644", "0644"), ("00", 0), ("0o17", 15), ("0x1F", 31), ("0b11", 3), ("1_000", 1000), ("1__0", "1__0"),
        ("0x", "0x"), ("1_", "1_"), ("99999999999999999999", "99999999999999999999"),
        ("1e3", 1000.0), ("1.5e-3", 0.0015), (".5", 0.5), ("1.", 1.0), ("1.e3", 1000.0), ("-1.5", -1.5), ("inf", "inf"),
        ("True", true), ("true", "true"), ("None", nil), ("none", "none"),
        ("'a b'", "a b"), ("\"a\\tb\"", "a\tb"), ("r'a\\tb'", "a\\tb"), ("b'xy'", "xy"), ("u'x'", "x"), ("f'x'", "f'x'"),
        ("'a' 'b'", "ab"), ("'\\x41\\u00e9\\101'", "AéA"), ("'\\q'", "\\q"),
        ("[1, 'two', [3]]", [1, "two", [3]]), ("(1,)", [1]), ("()", []), ("(1)", 1), ("{}", [:]),
        ("{'a': 1, 'b': [1]}", ["a": 1, "b": [1]]), ("{1: 'x'}", ["1": "x"]), ("{1, 2, 2}", [1, 2]),
        ("{'a': 1, 'a': 2}", ["a": 2]), ("[[[[1]]]]", [[[[1]]]]),
        ("1+2j", "(1+2j)"), ("2j", "2j"), ("...", "..."),
        ("hello", "hello"), ("hello world", "hello world"), ("5 # c", 5), ("[1, 2", "[1, 2"), ("'unterminated", "'unterminated"),
    ]

    @Test(arguments: literals)
    func valuesAreReadAsPythonLiterals(text: String, expected: Value) {
        #expect(InventoryPythonLiteral.value(text) == expected, "\(text)")
    }

    @Test func deeplyNestedLiteralsFallBackToText() {
        let text = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(InventoryPythonLiteral.value(text) == .string(text))
    }

    static let lines: [(String, [String]?)] = [
        ("h1 a=1 b='x y' c=\"q\\\"z\" d=e\\ f # comment", ["h1", "a=1", "b=x y", "c=q\"z", "d=e f"]),
        ("h1 x=#fff", ["h1", "x="]),
        ("h1 a#b=1", ["h1", "a"]),
        ("h1 ''", ["h1", ""]),
        ("h1 \"a\\nb\"", ["h1", "a\\nb"]),
        ("h1 'a\\'", ["h1", "a\\"]),
        ("h1 'open", nil),
        ("h1 trailing\\", nil),
    ]

    @Test(arguments: lines)
    func hostLinesSplitAsShlexSplitsThem(line: String, tokens: [String]?) {
        #expect((try? InventoryINIFormat.shellSplit(line)) == tokens, "\(line)")
    }

    @Test func sectionsChildrenDeclaredLaterAndCommentsWork() throws {
        let fixture = try InventoryFixture([
            "hosts": """
            ; a comment
            # another
            top1

            [prod:children]   # children may be declared later
            web
            [web]
            web[1:2] ansible_user=deploy
            [web:vars]
            ntp = ntp.example.com
            [all:vars]
            everyone = 1
            [ungrouped]
            top2
            """
        ])
        let inventory = try InventoryLoader.load(sources: ["hosts"], baseDirectory: fixture.root)
        #expect(inventory.hostOrder == ["top1", "web1", "web2", "top2"])
        #expect(inventory.groups["prod"]?.children == ["web"])
        #expect(inventory.groupNames(of: "web2") == ["prod", "web"])
        #expect(inventory.groupNames(of: "top2") == ["ungrouped"])
        let vars = inventory.variables(for: "web1")
        #expect(vars["ansible_user"] == "deploy")
        #expect(vars["ntp"] == "ntp.example.com")
        #expect(vars["everyone"] == 1)
        #expect(inventory.groups["web"]?.location == SourceLocation(file: fixture.path("hosts"), line: 7, column: 1))
        #expect(inventory.hosts["web2"]?.location == SourceLocation(file: fixture.path("hosts"), line: 8, column: 1))
    }

    @Test func portsOnHostLinesAndLaterVariablesWin() throws {
        let fixture = try InventoryFixture(["hosts.ini": "[a]\nh1:2200\nh2:2200 ansible_port=2300\n[b]\nh1:2400\n"])
        let inventory = try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        // As in Ansible, a port only counts where the host is first defined.
        #expect(inventory.variables(for: "h1")["ansible_port"] == 2200)
        #expect(inventory.variables(for: "h2")["ansible_port"] == 2300)
    }
}
