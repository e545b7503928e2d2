import Foundation
import PKSPlayCore
import PKSPlayLoader
import PKSPlayModules

/// A throwaway folder of playbook files, removed when the value goes away.
final class PlaybookFixture {
    let root: String

    /// `files` maps a relative path (folders are created) to its text.
    init(_ files: [String: String] = [:]) throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("pksplay-playbook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (relative, text) in files { try write(relative, Data(text.utf8)) }
    }

    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    @discardableResult
    func write(_ relative: String, _ data: Data) throws -> String {
        let full = path(relative)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: full))
        return full
    }

    /// `syntax-check` of `relative`: what the loader made of it and every diagnostic.
    func check(_ relative: String = "playbook.yml") -> (Playbook?, [Diagnostic]) {
        PlaybookLoader(registry: StandardModules.registry).check(path(relative))
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

/// Loads one playbook text (written as `playbook.yml` beside `files`) and returns its diagnostics.
func diagnostics(of yaml: String, files: [String: String] = [:]) throws -> (Playbook?, [Diagnostic], PlaybookFixture) {
    let fixture = try PlaybookFixture(files.merging(["playbook.yml": yaml]) { $1 })
    let (pb, diags) = fixture.check()
    return (pb, diags, fixture)
}
