import Foundation
import PKSPlayCore
import Testing

@testable import PKSPlayLoader

/// Expected results below were produced by ansible-core 2.19 (`ansible -m debug`, `--list-hosts`,
/// `ansible-inventory --list`) on the same files.
@Suite struct InventoryLoaderTests {
    /// Groups at several depths, a priority, group_vars/host_vars beside the inventory and the playbook.
    static func precedenceFixture() throws -> InventoryFixture {
        try InventoryFixture([
            "inv/hosts.yml": """
            all:
              vars:
                v_all: inv_all
                layer: inv_all
              hosts:
                solo:
                  layer: host_inv
              children:
                prod:
                  vars: {layer: prod, v_prod: prod}
                  children:
                    web:
                      vars: {layer: web}
                      hosts:
                        web[1:2]:
                    db:
                      hosts:
                        db1:
                          layer: db1_inv
                alpha:
                  vars: {layer: alpha, p_alpha: 1}
                  hosts:
                    web1:
                zeta:
                  vars: {layer: zeta, ansible_group_priority: 5}
                  hosts:
                    web2:
            """,
            "inv/group_vars/all.yml": "layer: gv_all\ngv_all: inv\n",
            "inv/group_vars/web.yml": "layer: gv_web_inv\n",
            "inv/group_vars/alpha/01.yml": "a: 1\nlayer: gv_alpha1\n",
            "inv/group_vars/alpha/02.yml": "a: 2\n",
            "inv/group_vars/README.md": "# notes, not variables\n",
            "inv/host_vars/db1.yml": "layer: hv_db1_inv\n",
            "pb/group_vars/all.yml": "gv_all: pb\n",
            "pb/group_vars/web.yml": "layer: gv_web_pb\n",
            "pb/host_vars/web2": "layer: hv_web2_pb\n",
        ])
    }

    @Test func yamlInventoryWithVarsFoldersFollowsAnsiblePrecedence() throws {
        let fixture = try Self.precedenceFixture()
        var inventory = try InventoryLoader.load(sources: ["inv/hosts.yml"], baseDirectory: fixture.root)
        try InventoryLoader.loadVarsDirectories(into: &inventory, directory: fixture.path("pb"))

        #expect(inventory.hostOrder == ["solo", "web1", "web2", "db1"])
        #expect(Set(inventory.groups.keys) == ["all", "ungrouped", "prod", "web", "db", "alpha", "zeta"])
        #expect(inventory.groups["all"]?.children == ["ungrouped", "prod", "alpha", "zeta"])
        #expect(inventory.groups["ungrouped"]?.hosts == ["solo"])
        #expect(inventory.groups["zeta"]?.priority == 5)
        #expect(inventory.groups["zeta"]?.vars["ansible_group_priority"] == nil)

        let expected: [(host: String, groups: [String], layer: Value, a: Value?, vProd: Value?)] = [
            ("solo", ["ungrouped"], "host_inv", nil, nil),
            ("web1", ["alpha", "prod", "web"], "gv_web_pb", 2, "prod"),
            ("web2", ["prod", "web", "zeta"], "hv_web2_pb", nil, "prod"),
            ("db1", ["db", "prod"], "hv_db1_inv", nil, "prod"),
        ]
        for row in expected {
            let vars = inventory.variables(for: row.host)
            #expect(inventory.groupNames(of: row.host) == row.groups, "\(row.host)")
            #expect(vars["layer"] == row.layer, "\(row.host)")
            #expect(vars["gv_all"] == "pb", "\(row.host)")
            #expect(vars["v_all"] == "inv_all", "\(row.host)")
            #expect(vars["a"] == row.a, "\(row.host)")
            #expect(vars["v_prod"] == row.vProd, "\(row.host)")
            #expect(vars["inventory_file"] == .string(fixture.path("inv/hosts.yml")), "\(row.host)")
            #expect(vars["inventory_dir"] == .string(fixture.path("inv")), "\(row.host)")
        }
        #expect(inventory.groupVarsFiles["alpha"] == ["a": 2, "layer": "gv_alpha1"])
        #expect(inventory.groupVarsFiles["all"] == ["layer": "gv_all", "gv_all": "pb"])
        #expect(inventory.hostVarsFiles["web2"] == ["layer": "hv_web2_pb"])
        #expect(inventory.varsLayers.map(\.stage) == [.inventory, .playbook])
    }

    @Test func groupVarsAtSameDepthMergeByPriorityThenName() throws {
        let fixture = try InventoryFixture([
            "hosts.ini": """
            [b_group]
            h1
            [a_group]
            h1
            [c_group]
            h1
            [c_group:vars]
            x = c
            ansible_group_priority = 0
            [b_group:vars]
            x = b
            [a_group:vars]
            x = a
            """
        ])
        let inventory = try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        // (depth, priority, name): c_group (priority 0) first, then a_group, then b_group, which wins.
        #expect(inventory.variables(for: "h1")["x"] == "b")
    }

    @Test func childGroupVarsBeatParentGroupVarsAndHostVarsBeatBoth() throws {
        let fixture = try InventoryFixture([
            "hosts.yml": """
            all:
              vars: {x: all, y: all, z: all}
              children:
                parent:
                  vars: {x: parent, y: parent}
                  children:
                    child:
                      vars: {x: child}
                      hosts:
                        h1: {z: host}
            """,
            "group_vars/all.yml": "y: folder_all\n",
        ])
        let inventory = try InventoryLoader.load(sources: ["hosts.yml"], baseDirectory: fixture.root)
        let vars = inventory.variables(for: "h1")
        #expect(vars["x"] == "child")
        // group_vars/all outranks every group of the inventory file.
        #expect(vars["y"] == "folder_all")
        #expect(vars["z"] == "host")
    }

    static let iniInventory = """
        ungrouped1 a=1
        [web]
        w1 ansible_port=2222 x='quoted value' y="'inner'" n=0644 o=0o17 h=0x1f f=1e3 b=True t=true l="[1,2]" d="{'a': 1}" c=#fff
        w[2:3]
        [web:vars]
        gv1 = 5
        gv2 = 'quoted'
        gv3 = hello world
        gv4 = True
        gv5 = 5 # comment
        gv6 = yes
        [db]
        d1
        [prod:children]
        web
        db
        """

    @Test func iniInventoryValuesAreReadAsAnsibleReadsThem() throws {
        let fixture = try InventoryFixture(["hosts.ini": Self.iniInventory])
        let inventory = try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        #expect(inventory.hostOrder == ["ungrouped1", "w1", "w2", "w3", "d1"])
        let w1 = inventory.variables(for: "w1")
        let expected: ValueDict = [
            "ansible_port": 2222, "x": "quoted value", "y": "inner", "n": "0644", "o": 15, "h": 31, "f": 1000.0,
            "b": true, "t": "true", "l": [1, 2], "d": ["a": 1], "c": "",
            "gv1": 5, "gv2": "quoted", "gv3": "hello world", "gv4": true, "gv5": 5, "gv6": "yes",
        ]
        for (key, value) in expected {
            #expect(w1[key] == value, "\(key)")
        }
        #expect(inventory.variables(for: "ungrouped1")["a"] == 1)
        #expect(inventory.groupNames(of: "ungrouped1") == ["ungrouped"])
        #expect(inventory.groupNames(of: "w1") == ["prod", "web"])
        #expect(inventory.groupsMagicVariable() == [
            "all": ["ungrouped1", "w1", "w2", "w3", "d1"], "ungrouped": ["ungrouped1"], "web": ["w1", "w2", "w3"],
            "db": ["d1"], "prod": ["w1", "w2", "w3", "d1"],
        ])
        #expect(inventory.groups["all"]?.children == ["ungrouped", "prod"])
    }

    static let hostRanges: [(pattern: String, hosts: [String], port: Int?)] = [
        ("web[01:03]", ["web01", "web02", "web03"], nil),
        ("db[a:c].example.com", ["dba.example.com", "dbb.example.com", "dbc.example.com"], nil),
        ("n[1:10:4]", ["n1", "n5", "n9"], nil),
        ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"], nil),
        ("[:3]x", ["0x", "1x", "2x", "3x"], nil),
        ("host:2222", ["host"], 2222),
        ("10.0.0.[1:2]:22", ["10.0.0.1", "10.0.0.2"], 22),
        ("[fe80::1]:2200", ["fe80::1"], 2200),
        ("fe80::1", ["fe80::1"], nil),
        ("plain", ["plain"], nil),
    ]

    @Test(arguments: hostRanges)
    func hostPatternsExpand(pattern: String, hosts: [String], port: Int?) throws {
        let expanded = try InventoryHostRange.expand(pattern)
        #expect(expanded.hosts == hosts)
        #expect(expanded.port == port)
    }

    @Test func hostListSources() throws {
        let inventory = try InventoryLoader.load(sources: ["h1, h2:2200,", "localhost,"], baseDirectory: "/")
        #expect(inventory.hostOrder == ["h1", "h2", "localhost"])
        #expect(inventory.groups["ungrouped"]?.hosts == ["h1", "h2", "localhost"])
        #expect(inventory.variables(for: "h2")["ansible_port"] == 2200)
        #expect(inventory.variables(for: "h1")["inventory_file"] == "h1, h2:2200,")
        #expect(inventory.variables(for: "h1")["inventory_dir"] == .null)
        // An explicit localhost is a normal host: no implicit local connection.
        #expect(inventory.variables(for: "localhost")["ansible_connection"] == nil)
        #expect(inventory.groupNames(of: "h1") == ["ungrouped"])
    }

    @Test func directorySourceReadsEveryInventoryFileButIgnoredOnes() throws {
        let fixture = try InventoryFixture([
            "inv/10-web.ini": "[web]\nw1\n",
            "inv/20-db.yml": "db:\n  hosts:\n    d1:\n",
            "inv/30-noext": "all:\n  children:\n    cache:\n      hosts:\n        c1:\n",
            "inv/40-noext-ini": "[mq]\nm1 port=5672\n",
            "inv/README.md": "# [not] an inventory = really\n",
            "inv/notes.txt": "garbage ][ \n",
            "inv/.hidden": "garbage ][\n",
            "inv/hosts.retry": "garbage ][\n",
            "inv/sub/50-more.ini": "[web]\nw2\n",
            "inv/group_vars/web.yml": "role: web\n",
        ])
        let inventory = try InventoryLoader.load(sources: ["inv"], baseDirectory: fixture.root)
        #expect(inventory.hostOrder == ["w1", "d1", "c1", "m1", "w2"])
        // `cache` became a child of `all` while its file was read, before reconcile added the others.
        #expect(try inventory.hosts(matching: "all").hosts == ["c1", "w1", "w2", "d1", "m1"])
        #expect(inventory.hostsOfGroup("web") == ["w1", "w2"])
        #expect(inventory.variables(for: "w2")["role"] == "web")
        #expect(inventory.variables(for: "m1")["port"] == 5672)
        #expect(inventory.variables(for: "w2")["inventory_file"] == .string(fixture.path("inv/sub/50-more.ini")))
    }

    @Test func severalSourcesMergeInOrder() throws {
        let fixture = try InventoryFixture([
            "a/hosts.yml": "web:\n  hosts:\n    w1: {x: from_a, y: a}\n",
            "b/hosts.ini": "[web]\nw1 x=from_b\nw2\n",
            "a/group_vars/web.yml": "g: a\n",
            "b/group_vars/web.yml": "g: b\n",
        ])
        let inventory = try InventoryLoader.load(sources: ["a/hosts.yml", "b/hosts.ini"], baseDirectory: fixture.root)
        #expect(inventory.hostOrder == ["w1", "w2"])
        #expect(inventory.variables(for: "w1")["x"] == "from_b")
        #expect(inventory.variables(for: "w1")["y"] == "a")
        #expect(inventory.variables(for: "w2")["g"] == "b")
        // inventory_file is the first source that named the host.
        #expect(inventory.variables(for: "w1")["inventory_file"] == .string(fixture.path("a/hosts.yml")))
    }

    @Test func groupVarsFolderPrefersTheBareNameAndSkipsUnknownJunk() throws {
        let fixture = try InventoryFixture([
            "hosts.ini": "[web]\nw1\n",
            "group_vars/web": "from: bare\n",
            "group_vars/web.yml": "from: yml\n",
            "group_vars/gone.yml": "[broken\n",
        ])
        let inventory = try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        #expect(inventory.variables(for: "w1")["from"] == "bare")
        let warning = try #require(inventory.warnings.first { $0.message.contains("no group named 'gone'") })
        #expect(warning.severity == .warning)
    }

    @Test func extensionlessFilesAreDetectedByContent() throws {
        let fixture = try InventoryFixture([
            "yaml_hosts": "all:\n  hosts:\n    y1:\n",
            "ini_hosts": "i1 v=1\n[g]\ni2\n",
            "port_hosts": "w1:2222\n",
        ])
        let inventory = try InventoryLoader.load(sources: ["yaml_hosts", "ini_hosts", "port_hosts"], baseDirectory: fixture.root)
        #expect(inventory.hostOrder == ["y1", "i1", "i2", "w1"])
        #expect(inventory.variables(for: "w1")["ansible_port"] == 2222)
    }

    @Test func emptySourcesGiveAnEmptyInventory() throws {
        let inventory = try InventoryLoader.load(sources: [], baseDirectory: "/")
        #expect(inventory.hosts.isEmpty)
        #expect(Set(inventory.groups.keys) == ["all", "ungrouped"])
        #expect(try inventory.hosts(matching: "all").hosts == [])
        #expect(try inventory.hosts(matching: "localhost").hosts == ["localhost"])
    }

    /// Bad inventories: every problem reported, with file, line, column and a hint.
    static let badInventories: [(name: String, file: String, text: String, errors: [String])] = [
        ("typo hosts", "inv.yml", "web:\n  host:\n    w1:\n", ["2:3 unknown key 'host' in group 'web'"]),
        ("hosts as list", "inv.yml", "all:\n  hosts:\n    - a\n    - b\n", ["3:5 'hosts' of group 'all' must be a mapping, not a list"]),
        ("children as list", "inv.yml", "all:\n  children: [web]\n", ["2:13 'children' of group 'all' must be a mapping, not a list"]),
        ("vars as list", "inv.yml", "all:\n  vars:\n  - a\n", ["3:3 'vars' of group 'all' must be a mapping, not a list"]),
        ("variable beside hosts", "inv.yml", "web:\n  ansible_user: deploy\n  hosts: {w1: }\n", ["2:3 unknown key 'ansible_user' in group 'web'"]),
        ("hosts at top level", "inv.yml", "hosts:\n  web1:\n", ["1:1 'hosts' at the top level of a YAML inventory would be a group named 'hosts'"]),
        ("group as string", "inv.yml", "web: w1\n", ["1:6 group 'web' must be a mapping with hosts, vars and children, not a string"]),
        ("number host", "inv.yml", "all:\n  hosts:\n    123:\n", ["3:5 host name '123' must be a string, not an integer"]),
        ("host vars list", "inv.yml", "all:\n  hosts:\n    w1: [a]\n", ["3:9 the variables of host 'w1' must be a mapping, not a list"]),
        ("open range", "inv.yml", "all:\n  hosts:\n    web[1:]:\n", ["3:5 host range must specify an end value, in 'web[1:]'"]),
        ("uneven range", "inv.yml", "all:\n  hosts:\n    web[01:100]:\n", ["3:5 host range must specify equal-length begin and end formats, in 'web[01:100]'"]),
        ("group loop", "inv.yml", "a:\n  children:\n    b:\n      children:\n        a:\n",
            ["3:5 adding group 'b' as a child of 'a' creates a loop: 'a' is already inside 'b'"]),
        ("plugin config", "inv.yml", "plugin: aws_ec2\nregions: [eu-west-1]\n", ["1:1 this is an inventory plugin configuration (it has a 'plugin' key); pksplay reads static inventories only"]),
        ("yaml syntax", "inv.yml", "all:\n  hosts:\n    w1:\n   bad: [\n", ["4:4 YAML syntax error"]),
        ("top-level list", "inv.yml", "- a\n- b\n", ["1:1 a YAML inventory must be a mapping of group names, not a list"]),
        ("unknown section kind", "hosts.ini", "[web:foo]\nw1\n", ["1:1 section [web:foo] has unknown type 'foo'"]),
        ("spaced section", "hosts.ini", "[web servers]\nw1\n", ["1:1 invalid section header '[web servers]'"]),
        ("token without value", "hosts.ini", "[web]\nw1 ansible_user\n", ["2:4 expected key=value after the host name, got 'ansible_user'"]),
        ("unclosed quote", "hosts.ini", "[web]\nw1 x='abc\n", ["2:1 cannot read host line 'w1 x='abc': no closing quotation"]),
        ("vars without equals", "hosts.ini", "[web]\nw1\n[web:vars]\njustaword\n", ["4:1 expected key=value in [web:vars], got 'justaword'"]),
        ("vars for undeclared", "hosts.ini", "[ghost:vars]\nx=1\n", ["1:1 section [ghost:vars] is for group 'ghost', which is never declared"]),
        ("undeclared child", "hosts.ini", "[prod:children]\nwebb\n[web]\nw1\n", ["2:1 section [prod:children] includes group 'webb', which is never declared"]),
        ("trailing colon", "hosts.ini", "[web]\nw1:\n", ["2:1 invalid host pattern 'w1:': a trailing ':' is reserved for a port"]),
        ("bad priority", "hosts.ini", "[web]\nw1\n[web:vars]\nansible_group_priority=high\n", ["4:1 ansible_group_priority of group 'web' must be an integer, not 'high'"]),
        ("several errors", "hosts.ini", "[web]\nw1 a\nw2 b\n[x:y:z]\nw3 'open\n",
            ["2:4 expected key=value after the host name, got 'a'", "3:4 expected key=value after the host name, got 'b'",
             "4:1 invalid section header '[x:y:z]'"]),
        ("yaml read as ini", "hosts.ini", "---\nw1\n", ["1:1 invalid host pattern '---', which usually means this is a YAML file read as INI"]),
        ("broken yaml without extension", "hosts", "---\nall:\n  hosts: [\n", ["4:1 YAML syntax error"]),
        ("toml", "hosts.toml", "[web]\n", ["0:0 TOML inventories are not supported"]),
    ]

    @Test(arguments: badInventories)
    func badInventoriesAreDiagnostics(name: String, file: String, text: String, errors: [String]) throws {
        let fixture = try InventoryFixture([file: text])
        do {
            let inventory = try InventoryLoader.load(sources: [file], baseDirectory: fixture.root)
            Issue.record("\(name): loaded \(inventory.hostOrder)")
        } catch let list as DiagnosticList {
            let summaries = list.errorSummaries
            #expect(summaries.count == errors.count, "\(name): \(list)")
            for (got, want) in zip(summaries, errors) {
                #expect(got.hasPrefix(want), "\(name): \(got)")
            }
            #expect(list.diagnostics.allSatisfy { $0.location?.file == fixture.path(file) }, "\(name)")
            #expect(list.diagnostics.filter { $0.severity == .error }.allSatisfy { $0.hint != nil }, "\(name): \(list)")
        }
    }

    @Test func typoHintsSuggestTheRightKey() throws {
        let fixture = try InventoryFixture(["inv.yml": "web:\n  host:\n    w1:\n  childrn:\n"])
        #expect {
            try InventoryLoader.load(sources: ["inv.yml"], baseDirectory: fixture.root)
        } throws: { error in
            let hints = (error as? DiagnosticList)?.diagnostics.compactMap(\.hint) ?? []
            return hints == ["did you mean 'hosts'?", "did you mean 'children'?"]
        }
    }

    @Test func missingSourcesSayWhatToDo() throws {
        #expect {
            try InventoryLoader.load(sources: ["nope/hosts.ini", "webserver"], baseDirectory: "/tmp")
        } throws: { error in
            let list = error as? DiagnosticList
            return list?.diagnostics.map(\.message) == ["inventory source not found: nope/hosts.ini", "inventory source not found: webserver"]
                && list?.diagnostics.last?.hint == "to name hosts directly instead of a file, end the list with a comma: -i 'webserver,'"
        }
    }

    @Test func brokenVarsFilesOfKnownGroupsAreErrors() throws {
        let fixture = try InventoryFixture([
            "hosts.ini": "[web]\nw1\n",
            "group_vars/web.yml": "- not\n- a mapping\n",
            "host_vars/w1.yml": "a: [\n",
        ])
        #expect {
            try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        } throws: { error in
            let list = error as? DiagnosticList
            return list?.errorSummaries.count == 2
                && list?.diagnostics.contains { $0.location?.file == fixture.path("group_vars/web.yml") && $0.message.contains("must be a mapping") } == true
                && list?.diagnostics.contains { $0.location?.file == fixture.path("host_vars/w1.yml") && $0.message.contains("YAML syntax error") } == true
        }
    }

    @Test func nonUTF8IniCommentsAreToleratedButHostLinesAreNot() throws {
        let fixture = try InventoryFixture([:])
        try fixture.write("ok.ini", Data("# caf".utf8) + Data([0xE9]) + Data("\n[web]\nw1\n".utf8))
        try fixture.write("bad.ini", Data("[web]\nw".utf8) + Data([0xE9]) + Data("\n".utf8))
        let inventory = try InventoryLoader.load(sources: ["ok.ini"], baseDirectory: fixture.root)
        #expect(inventory.hostOrder == ["w1"])
        #expect {
            try InventoryLoader.load(sources: ["bad.ini"], baseDirectory: fixture.root)
        } throws: { error in
            (error as? DiagnosticList)?.errorSummaries == ["2:1 this line is not valid UTF-8 text"]
        }
        try fixture.write("binary", Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        #expect {
            try InventoryLoader.load(sources: ["binary"], baseDirectory: fixture.root)
        } throws: { error in
            (error as? DiagnosticList)?.diagnostics.map(\.message) == ["this is a binary file, not text"]
        }
        try fixture.write("garbage.ini", Data(String(repeating: "w1 novalue\n", count: 500).utf8))
        #expect {
            try InventoryLoader.load(sources: ["garbage.ini"], baseDirectory: fixture.root)
        } throws: { error in
            let messages = (error as? DiagnosticList)?.diagnostics.map(\.message) ?? []
            return messages.count == 101 && messages.last == "too many errors; stopped reading at line 101"
        }
        try fixture.write("binary.yml", Data([0x00, 0x01, 0xFF, 0xFE, 0x00]))
        #expect {
            try InventoryLoader.load(sources: ["binary.yml"], baseDirectory: fixture.root)
        } throws: { error in
            (error as? DiagnosticList)?.diagnostics.first?.message == "this is a binary file, not text"
        }
    }

    @Test func duplicateYamlKeysInAnInventoryAreWarnings() throws {
        let fixture = try InventoryFixture(["inv.yml": "all:\n  hosts:\n    a:\n    a:\n      x: 1\n"])
        let inventory = try InventoryLoader.load(sources: ["inv.yml"], baseDirectory: fixture.root)
        #expect(inventory.variables(for: "a")["x"] == 1)
        #expect(inventory.warnings.map { "\($0.location?.line ?? 0):\($0.location?.column ?? 0)" } == ["4:5"])
    }

    @Test func hostAndGroupWithTheSameNameWarn() throws {
        let fixture = try InventoryFixture(["hosts.ini": "[web]\nweb\nw2\n"])
        let inventory = try InventoryLoader.load(sources: ["hosts.ini"], baseDirectory: fixture.root)
        #expect(inventory.warnings.map(\.message) == ["found both a group and a host named 'web'"])
        // As in Ansible, the exact name is the host; a glob reaches the group.
        #expect(try inventory.hosts(matching: "web").hosts == ["web"])
        #expect(try inventory.hosts(matching: "we*").hosts == ["web", "w2"])
    }
}
