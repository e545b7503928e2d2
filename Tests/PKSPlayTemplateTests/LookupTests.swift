import Foundation
import PKSPlayCore
import PKSPlayTemplate
import Testing

/// A scratch directory with a playbook-like layout, removed when the test ends.
private final class Workspace {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "pksplay-template-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/files", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/templates", withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: path + "/" + relative, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("Lookups")
struct LookupTests {
    private func engine(_ dir: String = "/", env: [String: String] = ["HOME": "/home/deploy", "EMPTY": ""]) -> TemplateEngine {
        TemplateEngine(lookups: StandardLookups(baseDirectory: dir, environment: env))
    }

    @Test func envJoinsSeveralTermsAndListsWithQuery() throws {
        let e = engine()
        let vars = DictScope([:])
        #expect(try e.render("{{ lookup('env', 'HOME') }}", vars) == "/home/deploy")
        #expect(try e.render("{{ lookup('env', 'HOME', 'NOPE') }}", vars) == "/home/deploy,")
        #expect(try e.render("{{ lookup('env', 'NOPE', default='dflt') }}", vars) == "dflt")
        #expect(try e.render("{{ query('env', 'HOME', 'NOPE') }}", vars) == ["/home/deploy", ""])
        #expect(try e.render("{{ q('env', 'HOME') }}", vars) == ["/home/deploy"])
        #expect(try e.render("{{ lookup('env', 'HOME', wantlist=True) }}", vars) == ["/home/deploy"])
        #expect(try e.render("{{ lookup('ansible.builtin.env', 'HOME') }}", vars) == "/home/deploy")
    }

    @Test func fileSearchesFilesDirectoryFirstAndStripsTrailingWhitespace() throws {
        let ws = try Workspace()
        try ws.write("files/key.pub", "ssh-ed25519 AAAA\n\n")
        try ws.write("key.pub", "wrong one")
        try ws.write("motd", "  hello  \n")
        let e = engine(ws.path)
        let vars = DictScope([:])
        #expect(try e.render("{{ lookup('file', 'key.pub') }}", vars) == "ssh-ed25519 AAAA")
        #expect(try e.render("{{ lookup('file', 'motd') }}", vars) == "  hello")
        #expect(try e.render("{{ lookup('file', 'motd', lstrip=true) }}", vars) == "hello")
        #expect(try e.render("{{ lookup('file', 'motd', rstrip=false) }}", vars) == "  hello  \n")
        #expect(try e.render("{{ lookup('file', '\(ws.path)/motd') }}", vars) == "  hello")
        do {
            _ = try e.render("{{ lookup('file', 'missing.txt') }}", vars)
            Issue.record("expected a lookup error")
        } catch let error as TemplateError {
            #expect(error.kind == .lookup)
            #expect(error.message.contains("missing.txt"))
        }
    }

    @Test func pipeReturnsStdoutWithoutTrailingNewlines() throws {
        let e = engine(NSTemporaryDirectory())
        let vars = DictScope(["word": "hi"])
        #expect(try e.render("{{ lookup('pipe', 'echo ' ~ word ~ '; echo') }}", vars) == "hi")
        #expect(try e.render("{{ lookup('pipe', 'printf \"a\\nb\\n\\n\"') }}", vars) == "a\nb")
        #expect(try e.render("{{ lookup('pipe', 'printf \"%s\" x y') }}", vars) == "xy")
        do {
            _ = try e.render("{{ lookup('pipe', 'exit 3') }}", vars)
            Issue.record("expected a lookup error")
        } catch let error as TemplateError {
            #expect(error.kind == .lookup)
            #expect(error.message.contains("status 3"))
        }
    }

    @Test func templateRendersAFileWithTheCurrentVariables() throws {
        let ws = try Workspace()
        try ws.write("templates/conf.j2", "port={{ port }}\n{% for h in hosts %}\nserver {{ h }}\n{% endfor %}\n")
        let e = engine(ws.path)
        let vars = DictScope(["port": 8080, "hosts": ["a", "b"]])
        #expect(try e.render("{{ lookup('template', 'conf.j2') }}", vars) == "port=8080\nserver a\nserver b\n")
        let extra = try e.render("{{ lookup('template', 'conf.j2', template_vars={'port': 1}) }}", vars)
        #expect(extra == "port=1\nserver a\nserver b\n")
        // Loop variables of the calling template are visible to the lookup.
        try ws.write("templates/item.j2", "[{{ item }}]")
        #expect(try e.render("{% for item in [1, 2] %}{{ lookup('template', 'item.j2') }}{% endfor %}", vars) == "[1][2]")
    }

    @Test func varsLooksUpNamesIncludingComputedOnes() throws {
        let e = engine()
        let vars = DictScope(["db_port": 5432, "env": "db"])
        #expect(try e.render("{{ lookup('vars', env ~ '_port') }}", vars) == 5432)
        #expect(try e.render("{{ lookup('vars', 'nope', default=1) }}", vars) == 1)
        do {
            _ = try e.render("{{ lookup('vars', 'nope') }}", vars)
            Issue.record("expected an undefined error")
        } catch let error as TemplateError {
            #expect(error.kind == .undefined)
            #expect(error.name == "nope")
        }
    }

    @Test func itemsAndList() throws {
        let e = engine()
        #expect(try e.render("{{ lookup('items', [1, [2]], 3) }}", DictScope([:])) == [1, [2], 3])
        #expect(try e.render("{{ query('list', 'a', 'b') }}", DictScope([:])) == ["a", "b"])
    }

    @Test func unknownLookupIsAClearError() throws {
        do {
            _ = try engine().render("{{ lookup('envv', 'HOME') }}", DictScope([:]))
            Issue.record("expected a lookup error")
        } catch let error as TemplateError {
            #expect(error.kind == .lookup)
            #expect(error.name == "envv")
            #expect(error.message == "no lookup plugin named 'envv'")
            #expect(error.hint == "did you mean 'env'?")
        }
        #expect(try engine().render("{{ lookup('nope', 'x', errors='ignore') }}", DictScope([:])) == .null)
        #expect(try engine().render("{{ query('nope', 'x', errors='ignore') }}", DictScope([:])) == [])
    }

    @Test func withoutAProviderLookupsFail() throws {
        do {
            _ = try TemplateEngine().render("{{ lookup('env', 'HOME') }}", DictScope([:]))
            Issue.record("expected a lookup error")
        } catch let error as TemplateError {
            #expect(error.kind == .lookup)
        }
    }

    /// A provider double for checking what templates pass to lookups.
    struct Recording: LookupProvider {
        func lookup(_ name: String, _ terms: [Value], _ kwargs: ValueDict, _ scope: any VariableScope) throws -> Value {
            .list([.string(name), .list(terms), .dict(kwargs), scope.lookup("local") ?? "none"])
        }
    }

    @Test func providersReceiveTermsKeywordsAndLocals() throws {
        let e = TemplateEngine(lookups: Recording())
        let out = try e.render("{% set local = 7 %}{{ query('x', 1, 'two', flag=true, wantlist=false) }}", DictScope([:]))
        #expect(out == ["x", [1, "two"], ["flag": true], 7])
    }
}

@Suite("Control-machine path tests and filters")
struct PathTests {
    @Test func fileDirectoryExistsLink() throws {
        let ws = try Workspace()
        try ws.write("plain", "x")
        try FileManager.default.createSymbolicLink(atPath: ws.path + "/ln", withDestinationPath: ws.path + "/plain")
        let e = TemplateEngine()
        let vars = DictScope(["d": .string(ws.path)])
        #expect(try e.render("{{ (d ~ '/plain') is file }}", vars) == true)
        #expect(try e.render("{{ (d ~ '/plain') is directory }}", vars) == false)
        #expect(try e.render("{{ d is directory }}", vars) == true)
        #expect(try e.render("{{ (d ~ '/files') is exists }}", vars) == true)
        #expect(try e.render("{{ (d ~ '/missing') is exists }}", vars) == false)
        #expect(try e.render("{{ (d ~ '/ln') is link }}", vars) == true)
        #expect(try e.render("{{ (d ~ '/plain') is link }}", vars) == false)
        #expect(try e.render("{{ (d ~ '/ln') is file }}", vars) == true)
        #expect(try e.render("{{ (d ~ '/ln') | realpath == (d ~ '/plain') | realpath }}", vars) == true)
    }

    @Test func expanduserUsesHome() throws {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? ""
        try #require(!home.isEmpty)
        #expect(try TemplateEngine().render("{{ '~/x' | expanduser }}", DictScope([:])) == .string(home + "/x"))
        #expect(try TemplateEngine().render("{{ '~' | expanduser }}", DictScope([:])) == .string(home))
    }
}
