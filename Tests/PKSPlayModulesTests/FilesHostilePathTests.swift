import Foundation
import PKSPlayCore
import Testing
@testable import PKSPlayModules

/// Every path reaches the target's shell as data: names built to break quoting or run commands
/// must be created, edited, moved and removed as they are, and never run anything.
@Suite struct FilesHostilePathTests {
    static let names: [String] = [
        "with space", "it's quoted", "double\"quote", "new\nline", "$(touch MARKER)", "`touch MARKER`",
        "-leading-dash", "--", "ünïcødé ✓", "semi;colon&amp|pipe", "glob*?[x]", "back\\slash", "tab\there", "'$HOME'",
    ]

    @Test(arguments: names)
    func everyModuleTreatsTheNameAsData(_ raw: String) async throws {
        let scratch = try FilesScratch()
        // A bare name (no slash) so the path stays one component; a command run by mistake would
        // create it in the shell's working directory, which is this process's.
        let markerName = "pksplay-marker-\(UUID().uuidString)"
        let marker = FileManager.default.currentDirectoryPath + "/" + markerName
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let name = raw.replacingOccurrences(of: "MARKER", with: markerName)
        let dir = scratch.path(name)
        let log = FilesUndoLog()

        var r = try await FilesRunner.run(FileModule.self, ["path": .string(dir), "state": "directory", "mode": "0750"], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        let file = dir + "/" + name
        r = try await FilesRunner.run(CopyModule.self, ["content": "hello\n", "dest": .string(file), "mode": "0600"], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        #expect(FileManager.default.contents(atPath: file) == Data("hello\n".utf8))
        r = try await FilesRunner.run(LineInFileModule.self, ["path": .string(file), "line": .string(name), "backup": true], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        if let backup = r.values["backup_file"]?.stringValue {
            #expect(FileManager.default.contents(atPath: backup) == Data("hello\n".utf8))
        } else {
            Issue.record("no backup_file in \(r.summary)")
        }
        r = try await FilesRunner.run(BlockInFileModule.self, ["path": .string(file), "block": .string(name)], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        r = try await FilesRunner.run(ReplaceModule.self, ["path": .string(file), "regexp": "^hello$", "replace": "bye"], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        r = try await FilesRunner.run(StatModule.self, ["path": .string(file)])
        #expect(r.values["stat"]?[path: "mode"] == "0600")
        #expect(r.values["stat"]?[path: "isreg"] == true)
        let link = dir + "/link-" + name
        r = try await FilesRunner.run(FileModule.self, ["src": .string(file), "dest": .string(link), "state": "link"], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        let moved = dir + "/moved " + name
        r = try await FilesRunner.run(MoveModule.self, ["src": .string(file), "dest": .string(moved)], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        r = try await FilesRunner.run(WaitForModule.self, ["path": .string(moved), "search_regex": "^bye$", "timeout": 2])
        #expect(!r.failed, "\(r.summary)")
        r = try await FilesRunner.run(FileModule.self, ["path": .string(dir), "state": "absent"], log: log)
        #expect(!r.failed && r.changed, "\(r.summary)")
        #expect(!FileManager.default.fileExists(atPath: dir))

        let undone = try await FilesRunner.undoAll(log)
        #expect(!undone.contains { $0.failed }, "\(undone.map(\.summary))")
        #expect(scratch.tree().keys.sorted() == [""], "undo left: \(scratch.tree().keys.sorted())")
        #expect(!FileManager.default.fileExists(atPath: marker), "a file name ran a command")
    }
}
