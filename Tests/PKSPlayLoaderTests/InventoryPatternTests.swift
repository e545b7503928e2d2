import Foundation
import PKSPlayCore
import Testing

@testable import PKSPlayLoader

/// Host patterns against the precedence fixture; every row was run through
/// `ansible -i inv/hosts.yml PATTERN --list-hosts` (ansible-core 2.19) and gives the same hosts in the same order.
@Suite struct InventoryPatternTests {
    static let patterns: [(pattern: String, hosts: [String], warnings: Int)] = [
        ("all", ["solo", "web1", "web2", "db1"], 0),
        ("*", ["solo", "web1", "web2", "db1"], 0),
        ("web", ["web1", "web2"], 0),
        ("db1", ["db1"], 0),
        ("web:db", ["web1", "web2", "db1"], 0),
        ("db1:web", ["db1", "web1", "web2"], 0),
        ("zeta:alpha", ["web2", "web1"], 0),
        ("web1,db*", ["web1", "db1"], 0),
        (" web , db ", ["web1", "web2", "db1"], 0),
        ("web:&alpha", ["web1"], 0),
        ("all:!web", ["solo", "db1"], 0),
        ("!web", ["solo", "db1"], 0),
        ("&web", ["web1", "web2"], 0),
        ("all:&prod:!db", ["web1", "web2"], 0),
        ("prod[0]", ["web1"], 0),
        ("prod[-1]", ["db1"], 0),
        ("prod[1:]", ["web2", "db1"], 0),
        ("prod[0:1]", ["web1", "web2"], 0),
        ("web[1]:web[0]", ["web2", "web1"], 0),
        ("web[0]:db", ["web1", "db1"], 0),
        ("web[1-2]", ["web2"], 1),
        ("w*", ["web1", "web2"], 0),
        ("*1", ["web1", "db1"], 0),
        ("w?b1", ["web1"], 0),
        ("[ws]*", ["web1", "web2", "solo"], 0),
        ("~web\\d", ["web1", "web2"], 0),
        ("~s", ["solo"], 0),
        ("~S", [], 1),
        ("Web", [], 1),
        ("nope", [], 1),
        ("ungrouped", ["solo"], 0),
        ("localhost", ["localhost"], 0),
        ("127.0.0.1", ["127.0.0.1"], 0),
    ]

    static func inventory() throws -> Inventory {
        let fixture = try InventoryLoaderTests.precedenceFixture()
        return try InventoryLoader.load(sources: ["inv/hosts.yml"], baseDirectory: fixture.root)
    }

    @Test(arguments: patterns)
    func patternsSelectHostsAsAnsibleDoes(pattern: String, hosts: [String], warnings: Int) throws {
        let result = try Self.inventory().hosts(matching: pattern)
        #expect(result.hosts == hosts, "\(pattern)")
        #expect(result.warnings.count == warnings, "\(pattern): \(result.warnings)")
    }

    @Test func unknownNamesWarnAsAnsibleDoes() throws {
        let result = try Self.inventory().hosts(matching: "web:nope")
        #expect(result.hosts == ["web1", "web2"])
        #expect(result.warnings == ["Could not match supplied host pattern, ignoring: nope"])
    }

    @Test func badPatternsAreDiagnostics() throws {
        let inventory = try Self.inventory()
        #expect {
            try inventory.hosts(matching: "prod[5]")
        } throws: { error in
            (error as? Diagnostic)?.message == "no hosts matched the subscripted pattern 'prod[5]'"
        }
        #expect {
            try inventory.hosts(matching: "~a(")
        } throws: { error in
            (error as? Diagnostic)?.message == "invalid host pattern '~a(': the regular expression does not compile"
        }
    }

    @Test func implicitLocalhostIsOutsideAllAndLocal() throws {
        var inventory = try Self.inventory()
        #expect(inventory.isImplicitLocalhost("localhost"))
        #expect(try inventory.hosts(matching: "all").hosts.contains("localhost") == false)
        let vars = inventory.variables(for: "localhost")
        #expect(vars["ansible_connection"] == "local")
        #expect(vars["v_all"] == "inv_all")
        #expect(vars["gv_all"] == "inv")
        #expect(vars["layer"] == "gv_all")
        #expect(inventory.groupNames(of: "localhost") == [])
        // Once the inventory names a localhost-like host, that host is the one patterns give.
        inventory.addHost("127.0.0.1", groups: ["local"], vars: [:])
        #expect(try inventory.hosts(matching: "localhost").hosts == ["127.0.0.1"])
        #expect(inventory.isImplicitLocalhost("127.0.0.1") == false)
    }

    @Test func addHostJoinsGroupsAndReconciles() throws {
        var inventory = try Self.inventory()
        let added = inventory.addHost("new1", groups: ["fresh", "web"], vars: ["x": 1])
        let addedAgain = inventory.addHost("new1", groups: ["fresh"], vars: ["x": 1])
        #expect(added)
        #expect(addedAgain == false)
        #expect(inventory.groupNames(of: "new1") == ["fresh", "prod", "web"])
        #expect(inventory.groups["all"]?.children.last == "fresh")
        #expect(inventory.groups["ungrouped"]?.hosts.contains("new1") == false)
        #expect(inventory.variables(for: "new1")["x"] == 1)
        #expect(inventory.variablesByHost()["new1"] == inventory.variables(for: "new1"))
        #expect(inventory.variablesByHost().count == inventory.hosts.count)
        #expect(inventory.variables(for: "new1")["layer"] == "gv_web_inv")
        #expect(try inventory.hosts(matching: "fresh").hosts == ["new1"])
        // A host added to no group lands in ungrouped, as after Ansible's reconcile.
        inventory.addHost("lonely", groups: [], vars: [:])
        #expect(inventory.groupNames(of: "lonely") == ["ungrouped"])
        #expect(inventory.groupsMagicVariable()["all"] == ["solo", "new1", "lonely", "web1", "web2", "db1"])
    }

    @Test func handBuiltInventoriesWork() throws {
        var inventory = Inventory()
        inventory.hosts["b"] = InventoryHost(name: "b", vars: ["x": 1])
        inventory.hosts["a"] = InventoryHost(name: "a")
        inventory.groups["g"] = InventoryGroup(name: "g", hosts: ["b", "a"], vars: ["y": 2])
        inventory.reconcile()
        #expect(inventory.orderedHostNames == ["a", "b"])
        #expect(inventory.orderedGroupNames == ["all", "ungrouped", "g"])
        #expect(try inventory.hosts(matching: "all").hosts == ["b", "a"])
        #expect(inventory.variables(for: "b") == ["y": 2, "x": 1])
        inventory.groupVarsFiles = ["g": ["z": 3]]
        #expect(inventory.variables(for: "a")["z"] == 3)
    }

    @Test func groupCyclesBuiltByHandDoNotHang() throws {
        var inventory = Inventory()
        inventory.hosts["h"] = InventoryHost(name: "h")
        inventory.groups["a"] = InventoryGroup(name: "a", hosts: ["h"], children: ["b"])
        inventory.groups["b"] = InventoryGroup(name: "b", children: ["a"], vars: ["v": 1])
        #expect(inventory.groupNames(of: "h") == ["a", "b"])
        #expect(inventory.variables(for: "h")["v"] == 1)
        #expect(inventory.hostsOfGroup("b") == ["h"])
        #expect(try inventory.hosts(matching: "a:b").hosts == ["h"])
    }

    @Test func largeInventoriesStayFast() throws {
        var text = ""
        for g in 0..<30 {
            text += "[g\(g)]\nh\(g)-[0001:0100] n=\(g)\n[g\(g):vars]\ngroup_number = \(g)\n"
        }
        text += "[everything:children]\n" + (0..<30).map { "g\($0)" }.joined(separator: "\n") + "\n"
        let fixture = try InventoryFixture(["hosts.ini": text])
        let start = Date()
        let inventory = try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        let all = try inventory.hosts(matching: "all").hosts
        let vars = inventory.variablesByHost()
        #expect(all.count == 3000)
        #expect(vars["h7-0042"]?["group_number"] == 7)
        #expect(try inventory.hosts(matching: "everything:&g3:!h3-000*").hosts.count == 91)
        #expect(Date().timeIntervalSince(start) < 60)
    }

    static let splits: [(String, [String])] = [
        ("a,b", ["a", "b"]),
        ("a:b:&c:!d", ["a", "b", "&c", "!d"]),
        ("web[1:3]", ["web[1:3]"]),
        ("web[1:3]:db", ["web[1:3]", "db"]),
        ("fe80::1", ["fe80::1"]),
        ("host:22", ["host:22"]),
        ("a, ,b,", ["a", "b"]),
        ("", []),
    ]

    @Test(arguments: splits)
    func patternsSplitAsAnsibleSplitsThem(pattern: String, terms: [String]) {
        #expect(Inventory.splitHostPattern(pattern) == terms)
    }
}
