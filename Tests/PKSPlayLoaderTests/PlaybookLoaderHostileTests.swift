import Foundation
import PKSPlayCore
import PKSPlayLoader
import PKSPlayModules
import Testing

/// Inputs meant to break the loader. Each must end in a playbook or in errors that say where, within
/// a time limit: never a trap, never a hang.
@Suite("Playbook loader, hostile input")
struct PlaybookLoaderHostileTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The errors of a check, each required to have a location inside a real line.
    static func expectLocatedErrors(_ diags: [Diagnostic], _ context: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let errors = diags.filter { $0.severity == .error }
        #expect(!errors.isEmpty, "\(context): no error", sourceLocation: sourceLocation)
        for e in errors {
            #expect((e.location?.line ?? 0) >= 1 && (e.location?.column ?? 0) >= 1, "\(context): unlocated \(e)", sourceLocation: sourceLocation)
        }
    }

    @Test("failover.yml cut at every 37th byte gives a playbook or located errors", .timeLimit(.minutes(1)))
    func truncatedRealPlaybook() throws {
        let full = try Data(contentsOf: Self.repositoryRoot.appendingPathComponent("Playbooks/failover.yml"))
        let fixture = try PlaybookFixture()
        var loaded = 0, rejected = 0
        for offset in stride(from: 0, through: full.count, by: 37) {
            let path = try fixture.write("playbook.yml", full.prefix(offset))
            let (pb, diags) = PlaybookLoader(registry: StandardModules.registry).check(path)
            if pb != nil {
                loaded += 1
                #expect(diags.allSatisfy { $0.severity == .warning }, "offset \(offset)")
            } else {
                rejected += 1
                Self.expectLocatedErrors(diags, "offset \(offset)")
            }
        }
        #expect(loaded > 0)
        #expect(rejected > 0)
        // The whole file loads.
        let path = try fixture.write("playbook.yml", full)
        #expect(PlaybookLoader(registry: StandardModules.registry).check(path).0 != nil)
    }

    @Test("binary garbage is refused with a location", .timeLimit(.minutes(1)), arguments: [
        "random", "nul", "nul-in-text", "invalid-utf8", "bom-then-garbage",
    ])
    func binaryGarbage(_ kind: String) throws {
        var data: Data
        switch kind {
        case "random":
            // A fixed generator so a failure can be replayed.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            data = Data((0..<4096).map { _ in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            })
        case "nul": data = Data(repeating: 0, count: 1024)
        case "nul-in-text": data = Data("- hosts: all\n  tasks:\n    - debug: msg=a\u{0}b\n".utf8)
        case "invalid-utf8": data = Data("- hosts: all\n  name: ".utf8) + Data([0xC3, 0x28, 0xFF, 0xFE]) + Data("\n".utf8)
        default: data = Data([0xEF, 0xBB, 0xBF]) + Data((0..<256).map { UInt8($0) })
        }
        let fixture = try PlaybookFixture()
        let path = try fixture.write("playbook.yml", data)
        let (pb, diags) = PlaybookLoader(registry: StandardModules.registry).check(path)
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, kind)
    }

    @Test("10,000 nested lists or mappings are refused with a location", .timeLimit(.minutes(1)), arguments: ["flow-list", "flow-map", "block-list"])
    func deepNesting(_ kind: String) throws {
        let n = 10_000
        let text: String
        switch kind {
        case "flow-list": text = String(repeating: "[", count: n) + String(repeating: "]", count: n) + "\n"
        case "flow-map": text = String(repeating: "{a: ", count: n) + "1" + String(repeating: "}", count: n) + "\n"
        default: text = (0..<n).map { String(repeating: " ", count: $0) + "-" }.joined(separator: "\n") + " x\n"
        }
        let (pb, diags, _) = try diagnostics(of: text)
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, kind)
    }

    @Test("a 40 MB playbook loads its errors in time", .timeLimit(.minutes(1)))
    func hugeFile() throws {
        let big = String(repeating: "A", count: 40 * 1024 * 1024)
        let (pb, diags, _) = try diagnostics(of: "- hosts: all\n  vars:\n    big: \(big)\n  tasks:\n    - comand: ls\n")
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, "40 MB")
        #expect(diags.contains { $0.message.contains("comand") && $0.location?.line == 5 })
    }

    @Test("a file over the size limit is refused before parsing", .timeLimit(.minutes(1)))
    func oversizedFile() throws {
        let fixture = try PlaybookFixture()
        let path = try fixture.write("playbook.yml", Data(repeating: UInt8(ascii: "#"), count: 51 * 1024 * 1024))
        let (pb, diags) = PlaybookLoader(registry: StandardModules.registry).check(path)
        #expect(pb == nil)
        #expect(diags.contains { $0.message.contains("MB") })
    }

    static func nestedBlocks(_ depth: Int) -> String {
        var lines = ["- hosts: all", "  tasks:"]
        var indent = "    "
        for _ in 0..<depth {
            lines.append(indent + "- block:")
            indent += "    "
        }
        lines.append(indent + "- debug: msg=deep")
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("blocks nested 300 deep are refused with a location; 40 deep load", .timeLimit(.minutes(1)))
    func deepBlocks() throws {
        let (pb, diags, _) = try diagnostics(of: Self.nestedBlocks(300))
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, "300 blocks")
        let (ok, okDiags, _) = try diagnostics(of: Self.nestedBlocks(40))
        #expect(ok != nil, "\(okDiags)")
    }

    @Test("a playbook importing itself ends with a located error", .timeLimit(.minutes(1)))
    func selfImport() throws {
        let (pb, diags, fixture) = try diagnostics(of: "- import_playbook: playbook.yml\n")
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, "self import")
        #expect(diags.filter { $0.severity == .error }.count == 1, "one cycle, one error: \(diags)")
        #expect(diags.contains { $0.location?.file == fixture.path("playbook.yml") && $0.location?.line == 1 && $0.message.contains("cycle") })
    }

    @Test("a task file importing itself ends with a located error", .timeLimit(.minutes(1)))
    func selfImportTasks() throws {
        let (pb, diags, fixture) = try diagnostics(of: "- hosts: all\n  tasks:\n    - import_tasks: loop.yml\n", files: ["loop.yml": "- import_tasks: loop.yml\n"])
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, "task self import")
        #expect(diags.filter { $0.severity == .error }.count == 1, "one cycle, one error: \(diags)")
        #expect(diags.contains { $0.location?.file == fixture.path("loop.yml") && $0.location?.line == 1 && $0.message.contains("loop.yml → loop.yml") })
    }

    @Test("a role depending on itself ends with a located error", .timeLimit(.minutes(1)))
    func selfDependentRole() throws {
        let (pb, diags, _) = try diagnostics(of: "- hosts: all\n  roles: [r]\n", files: [
            "roles/r/tasks/main.yml": "- debug: msg=x\n",
            "roles/r/meta/main.yml": "dependencies: [r]\n",
        ])
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, "role cycle")
    }

    @Test("a billion-laughs alias bomb is refused", .timeLimit(.minutes(1)))
    func aliasBomb() throws {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...9 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        let (pb, diags, _) = try diagnostics(of: "- hosts: all\n  vars:\n" + lines.map { "    " + $0 }.joined(separator: "\n") + "\n")
        #expect(pb == nil)
        Self.expectLocatedErrors(diags, "alias bomb")
    }
}
