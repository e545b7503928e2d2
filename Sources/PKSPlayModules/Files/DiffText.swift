import Foundation
import PKSPlayCore

/// Builds the `--diff` output of file modules the way Ansible shows it.
enum DiffText {
    /// Ansible's `MAX_FILE_SIZE_FOR_DIFF`.
    static let maxSize = 104_448

    /// Text for one side of a content diff: empty for no file, a note for binary or huge content.
    static func content(_ data: Data?) -> String {
        guard let data else { return "" }
        if data.count > maxSize { return "(diff skipped: file size is greater than \(maxSize) bytes)\n" }
        if data.prefix(8192).contains(0) { return "(diff skipped: file appears to be binary)\n" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A before/after of state (`path`, `state`, `mode`, `owner`...) as Ansible's default callback
    /// prints dictionaries: JSON, sorted keys, four-space indent.
    static func state(header: String, before: ValueDict, after: ValueDict) -> FileDiff {
        FileDiff(beforeHeader: header, afterHeader: header,
                 before: Value.dict(before).jsonString(indent: 4, sortKeys: true) + "\n",
                 after: Value.dict(after).jsonString(indent: 4, sortKeys: true) + "\n")
    }

    /// The `(file attributes)` diff lineinfile, blockinfile and replace add when mode or owner change.
    static func attributes(_ plan: AttributePlan, header: String) -> FileDiff? {
        guard !plan.isEmpty else { return nil }
        return state(header: "\(header) (file attributes)", before: plan.before, after: plan.after)
    }
}

/// Text ⇄ bytes for the text-editing modules, refusing what is not UTF-8 rather than mangling it.
enum TextFile {
    static func decode(_ data: Data, path: String) throws -> String {
        guard let s = String(data: data, encoding: .utf8) else { throw FileModuleError.notUTF8(path) }
        return s
    }

    /// Splits after each `\n`, keeping it, as Python's `readlines()` on a binary file does.
    static func lines(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            current.unicodeScalars.append(scalar)
            if scalar == "\n" { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// Python's `splitlines(True)`: splits after `\n`, `\r\n` or a lone `\r`.
    static func splitLinesKeepingEnds(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            current.append(c)
            if c == "\n" {
                out.append(String(current)); current = String.UnicodeScalarView()
            } else if c == "\r" {
                if i + 1 < scalars.count, scalars[i + 1] == "\n" { current.append("\n"); i += 1 }
                out.append(String(current)); current = String.UnicodeScalarView()
            }
            i += 1
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// The line without its `\r\n` / `\n` / `\r` ending (Python's `rstrip(b'\r\n')`).
    static func stripEnding(_ line: String) -> String {
        var s = Substring(line)
        while let last = s.unicodeScalars.last, last == "\n" || last == "\r" { s = Substring(s.unicodeScalars.dropLast()) }
        return String(s)
    }
}
