import Foundation
import PKSPlayCore
import Testing
@testable import PKSPlayModules

/// One declared example of one module.
struct FilesExampleCase: Sendable, CustomTestStringConvertible {
    let module: String
    let index: Int
    let title: String
    var testDescription: String { "\(module): \(title)" }

    static var all: [FilesExampleCase] {
        FileModules.all.flatMap { m -> [FilesExampleCase] in
            guard let e = m as? any HasFileModuleExamples.Type else { return [] }
            return e.examples.enumerated().map { FilesExampleCase(module: m.name, index: $0.offset, title: $0.element.title) }
        }
    }

    var moduleType: any HasFileModuleExamples.Type {
        FileModules.all.first { $0.name == module } as! any HasFileModuleExamples.Type
    }
    var example: FileModuleExample { moduleType.examples[index] }
}

@Suite struct FilesExamplesTests {
    @Test func everyModuleDeclaresExamplesAndDocumentation() {
        for m in FileModules.all {
            #expect(!m.documentation.summary.isEmpty, "\(m.name) has no summary")
            #expect(m.documentation.example.contains("\(m.name):"), "\(m.name)'s documentation example does not use it")
            let examples = (m as? any HasFileModuleExamples.Type)?.examples ?? []
            #expect(!examples.isEmpty, "\(m.name) declares no examples")
        }
    }

    /// Runs one declared example: check mode first (nothing may change, same prediction), then
    /// for real (result and tree as declared), again (no change), then undo twice (the tree is
    /// back byte for byte, the second undo changes nothing).
    @Test(arguments: FilesExampleCase.all)
    func example(_ c: FilesExampleCase) async throws {
        let ex = c.example
        let module = c.moduleType
        let scratch = try FilesScratch()
        try scratch.create(ex.before)
        let args = scratch.resolve(.dict(ex.args)).dictValue ?? [:]
        let pristine = scratch.tree()
        let pristineWithTimes = scratch.tree(times: true)

        let checkLog = FilesUndoLog()
        let predicted = try await FilesRunner.run(module, args, check: true, diff: true, log: checkLog)
        #expect(scratch.tree(times: true) == pristineWithTimes, "check mode changed the tree")
        #expect(checkLog.records.isEmpty, "check mode journaled a change")
        if let expected = ex.checkModeChanged {
            #expect(!predicted.failed && predicted.changed == expected, "check mode: \(predicted.summary)")
        } else if module.name != "wait_for" {
            #expect(predicted.failed == ex.failed, "check mode: \(predicted.summary)")
            if !ex.failed { #expect(predicted.changed == ex.changed, "check mode predicted \(predicted.summary)") }
        }

        let log = FilesUndoLog()
        let result = try await FilesRunner.run(module, args, diff: true, log: log)
        #expect(result.failed == ex.failed, "\(result.summary)")
        #expect(result.changed == ex.changed, "\(result.summary)")
        if let msg = ex.msg { #expect(result.msg == msg.replacingOccurrences(of: "ROOT", with: scratch.root)) }
        for (rel, expected) in ex.after {
            #expect(scratch.entry(rel) == scratch.resolve(expected), "after: \(rel)")
        }
        if result.changed { #expect(!log.records.isEmpty, "a change was made without journaling its undo") }
        if !result.changed { #expect(log.records.isEmpty, "no change, yet an undo was journaled") }

        if ex.idempotent && !ex.failed {
            let again = try await FilesRunner.run(module, args, log: log)
            #expect(!again.changed, "second run changed: \(again.summary)")
        }

        if !log.records.isEmpty {
            let checkUndo = try await FilesRunner.undoAll(log, check: true)
            #expect(checkUndo.contains { $0.changed }, "undo in check mode predicts nothing")
            let undone = try await FilesRunner.undoAll(log)
            #expect(!undone.contains { $0.failed }, "undo failed: \(undone.map(\.summary))")
            #expect(scratch.tree() == pristine, "undo did not restore the tree")
            let twice = try await FilesRunner.undoAll(log)
            #expect(!twice.contains { $0.changed }, "second undo changed: \(twice.map(\.summary))")
            #expect(scratch.tree() == pristine)
        }
    }
}
