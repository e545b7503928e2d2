import Foundation
import PKSPlayCore
import Testing
@testable import PKSPlayModules

@Suite struct FilesRegexTests {
    @Test(arguments: [
        (#"(?P<key>\w+)=(?P=key)"#, "a=a", true), (#"^x\Z"#, "x\n", false), (#"^x$"#, "x\n", true),
        (#"[[]"#, "[", true), (#"a{,2}b"#, "aab", true), (#"{literal}"#, "{literal}", true), (#"a{2}"#, "aa", true),
        (#"[a&&b]"#, "&", true), (#"[]x]"#, "]", true), (#"(?i)abc"#, "ABC", true), (#"(?u)\d"#, "5", true), (#"[^]a]"#, "b", true),
    ])
    func pythonPatternsRunUnderICU(_ pattern: String, _ text: String, _ matches: Bool) throws {
        #expect(try PythonRegex(pattern).matches(text) == matches, "\(PythonRegex.translate(pattern).0)")
    }

    /// A negative group number is an error for the user, never an index past the groups (it trapped).
    @Test(arguments: [#"\g<-1>"#, #"\g<99>"#, #"\g<>"#])
    func badGroupReferencesAreErrors(_ template: String) throws {
        let re = try PythonRegex(#"(\w+)"#)
        #expect(throws: FileModuleError.self) { _ = try re.substitute(in: "abc", template: template) }
    }

    @Test func replacementTemplatesFollowPython() throws {
        let re = try PythonRegex(#"(?P<k>\w+)=(\d)"#)
        #expect(try re.substitute(in: "a=1 b=2", template: #"\2:\g<k>\g<1>0 \\ $1 \n"#).0 == "1:aa0 \\ $1 \n 2:bb0 \\ $1 \n")
        #expect(throws: FileModuleError.self) { _ = try re.substitute(in: "a=1", template: #"\3"#) }
        #expect(throws: FileModuleError.self) { _ = try re.substitute(in: "a=1", template: #"\g<nope>"#) }
        #expect(throws: FileModuleError.self) { _ = try PythonRegex("(unclosed") }
    }

    @Test func replaceUsesMultilineAndCountsMatches() throws {
        let re = try PythonRegex("^#(.*)$", flags: .multiline)
        let (out, n) = try re.substitute(in: "#a\nb\n#c\n", template: #"\1"#)
        #expect(out == "a\nb\nc\n" && n == 2)
    }
}

@Suite struct FilesTimingTests {
    /// 50 lineinfile tasks on one local file through the module: all change on the first pass,
    /// none on the second. Timings are printed, not asserted.
    @Test func fiftyLineinfileTasks() async throws {
        let s = try FilesScratch()
        try s.write("postgresql.conf", (0..<50).map { "#setting_\($0) = default\n" }.joined())
        let path = Value.string(s.path("postgresql.conf"))
        let clock = ContinuousClock()
        for pass in 1...2 {
            var changed = 0
            let start = clock.now
            for i in 0..<50 {
                let r = try await FilesRunner.run(LineInFileModule.self, ["path": path, "regexp": .string("^#?setting_\(i) ="), "line": .string("setting_\(i) = \(i * 10)")])
                #expect(!r.failed, "\(r.summary)")
                if r.changed { changed += 1 }
            }
            let elapsed = clock.now - start
            print("lineinfile × 50, pass \(pass): \(changed) changed in \(elapsed) (\(elapsed / 50) per task)")
            #expect(changed == (pass == 1 ? 50 : 0))
        }
        #expect(s.read("postgresql.conf") == (0..<50).map { "setting_\($0) = \($0 * 10)\n" }.joined())
    }
}

@Suite struct FilesStatTests {
    @Test func statReportsWhatAnsibleReports() async throws {
        let s = try FilesScratch()
        try s.create([("f", .file("hello\n", mode: 0o4750)), ("d", .directory(mode: 0o700)), ("l", .link("f")), ("dangling", .link("nowhere"))])
        var r = try await FilesRunner.run(StatModule.self, ["path": .string(s.path("f")), "checksum_algorithm": "sha256"])
        let st = try #require(r.values["stat"]?.dictValue)
        #expect(st["exists"] == true && st["isreg"] == true && st["isdir"] == false && st["mode"] == "4750" && st["isuid"] == true)
        #expect(st["size"] == 6 && st["pw_name"] == .string(NSUserName() == "root" ? "root" : st["pw_name"]?.stringValue ?? ""))
        #expect(st["checksum"] == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        r = try await FilesRunner.run(StatModule.self, ["path": .string(s.path("l"))])
        #expect(r.values["stat"]?[path: "islnk"] == true && r.values["stat"]?[path: "lnk_target"] == "f")
        #expect(r.values["stat"]?[path: "lnk_source"] == .string(s.path("f")) && r.values["stat"]?[path: "checksum"] == nil)
        r = try await FilesRunner.run(StatModule.self, ["path": .string(s.path("l")), "follow": true])
        #expect(r.values["stat"]?[path: "isreg"] == true && r.values["stat"]?[path: "checksum"] == .string(SHA1.hex(Data("hello\n".utf8))))
        r = try await FilesRunner.run(StatModule.self, ["path": .string(s.path("dangling")), "follow": true])
        #expect(r.values["stat"] == ["exists": false])
        r = try await FilesRunner.run(StatModule.self, ["path": .string(s.path("d")), "get_checksum": false])
        #expect(r.values["stat"]?[path: "isdir"] == true && r.values["stat"]?[path: "mode"] == "0700" && !r.changed)
    }
}
