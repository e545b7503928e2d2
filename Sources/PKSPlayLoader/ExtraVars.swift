import Foundation
import PKSPlayCore

/// `-e` values as ansible-playbook takes them: `k=v k2="a b"`, JSON or YAML text, or `@file`.
public enum ExtraVars {
    public static func parse(_ text: String, baseDirectory: String) throws -> ValueDict {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("@") {
            var path = String(trimmed.dropFirst())
            if !path.hasPrefix("/") { path = (baseDirectory as NSString).appendingPathComponent(path) }
            guard let node = try YAMLReader.load(file: path).0 else { return [:] }
            guard case .dict(let d) = node.value else {
                throw Diagnostic("extra vars file must hold a mapping, not a \(node.kindName)", at: node.location, hint: "write 'name: value' lines")
            }
            return d
        }
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("---") {
            guard let node = try YAMLReader.parse(trimmed, file: "-e") else { return [:] }
            guard case .dict(let d) = node.value else {
                throw Diagnostic("-e text must be a mapping", at: node.location, hint: "write -e '{\"name\": \"value\"}' or -e name=value")
            }
            return d
        }
        var out = ValueDict()
        let words: [String]
        do { words = try FreeForm.split(trimmed) } catch {
            throw Diagnostic("-e '\(text)': \(error)", at: nil, hint: "close the quote")
        }
        for w in words {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw Diagnostic("-e '\(w)' is not name=value", at: nil, hint: "write -e name=value, -e '{\"name\": 1}' or -e @file.yml")
            }
            // k=v values are strings, as in Ansible.
            out[String(w[..<eq])] = .string(FreeForm.unquote(String(w[w.index(after: eq)...])))
        }
        return out
    }
}
