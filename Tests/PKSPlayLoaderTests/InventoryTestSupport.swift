import Foundation
import PKSPlayCore

/// A throwaway directory of files for loader tests, removed when the value goes away.
final class InventoryFixture {
    let root: String

    /// `files` maps a relative path (folders are created) to its text.
    init(_ files: [String: String]) throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("pksplay-inventory-\(UUID().uuidString)")
        for (relative, text) in files {
            try write(relative, Data(text.utf8))
        }
    }

    func path(_ relative: String) -> String {
        (root as NSString).appendingPathComponent(relative)
    }

    func write(_ relative: String, _ data: Data) throws {
        let full = path(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: full))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }
}

extension DiagnosticList {
    /// The errors only, as `line:column message` for compact assertions.
    var errorSummaries: [String] {
        diagnostics.filter { $0.severity == .error }.map { d in
            "\(d.location?.line ?? -1):\(d.location?.column ?? -1) \(d.message)"
        }
    }
}
