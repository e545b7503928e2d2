import Foundation
import PKSPlayCore

extension Filters {
    static let data: [String: Filter] = [
        "to_json": plain(["indent", "sort_keys", "ensure_ascii"]) { v, p, a in
            let indent = try a.int(p[0], "indent")
            return .string(DataFormats.json(v, indent: indent, sortKeys: p[1]?.isTruthy ?? false, ensureASCII: p[2]?.isTruthy ?? true))
        },
        "to_nice_json": plain(["indent", "sort_keys", "ensure_ascii"]) { v, p, a in
            let indent = try a.int(p[0], "indent") ?? 4
            return .string(DataFormats.json(v, indent: indent, sortKeys: p[1]?.isTruthy ?? true, ensureASCII: p[2]?.isTruthy ?? true))
        },
        "from_json": plain { v, _, a in
            guard case .string(let s) = v else { throw a.failure("expected a JSON string, got \(Py.typeName(v))") }
            do {
                return try Value.parseJSON(s)
            } catch let error as JSONParseError {
                throw a.failure("invalid JSON at offset \(error.offset): \(error.reason)")
            }
        },
        "to_yaml": plain(["indent", "sort_keys", "default_flow_style", "width"]) { v, p, a in
            let flow: Bool? = p[2].flatMap { $0.isNull ? nil : $0.isTruthy }
            return .string(try yamlText(v, indent: try a.int(p[0], "indent") ?? 2, flow: flow, sortKeys: p[1]?.isTruthy ?? true,
                                        width: try a.int(p[3], "width") ?? 80, a))
        },
        "to_nice_yaml": plain(["indent", "sort_keys", "width"]) { v, p, a in
            .string(try yamlText(v, indent: try a.int(p[0], "indent") ?? 4, flow: false, sortKeys: p[1]?.isTruthy ?? true,
                                 width: try a.int(p[2], "width") ?? 80, a))
        },
        "from_yaml": plain { v, _, a in
            guard case .string(let s) = v else { return v }
            return try parseYAML(s, all: false, a)
        },
        "from_yaml_all": plain { v, _, a in
            guard case .string(let s) = v else { return v }
            return try parseYAML(s, all: true, a)
        },
    ]

    private static func yamlText(_ v: Value, indent: Int, flow: Bool?, sortKeys: Bool, width: Int, _ a: Arguments) throws -> String {
        guard (1...9).contains(indent) else { throw a.failure("indent must be between 1 and 9") }
        do {
            return try DataFormats.yaml(v, indent: indent, flowStyle: flow, sortKeys: sortKeys, width: width)
        } catch let error as TemplateError {
            throw error
        } catch {
            throw a.failure("cannot write YAML: \(error)")
        }
    }

    private static func parseYAML(_ s: String, all: Bool, _ a: Arguments) throws -> Value {
        do {
            return try DataFormats.parseYAML(s, all: all)
        } catch let error as TemplateError {
            throw error
        } catch {
            throw a.failure("invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }

    static let paths: [String: Filter] = [
        "basename": text { s, _, _ in .string(Paths.basename(s)) },
        "dirname": text { s, _, _ in .string(Paths.dirname(s)) },
        "expanduser": text { s, _, _ in .string(Paths.expandUser(s)) },
        "realpath": text { s, _, _ in .string(Paths.realpath(s)) },
        "relpath": text(["start"]) { s, p, _ in .string(Paths.relpath(s, start: p[0].map(Py.str))) },
        "splitext": text { s, _, _ in
            let (root, ext) = Paths.splitext(s)
            return .list([.string(root), .string(ext)])
        },
        "path_join": plain { v, _, _ in
            let parts = v.listValue?.map(Py.str) ?? [Py.str(v)]
            return .string(Paths.join(parts))
        },
    ]
}

/// Python `os.path` (posixpath) semantics on the control machine.
enum Paths {
    static func basename(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: slash)...])
    }

    static func dirname(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return "" }
        var head = String(p[...slash])
        if !head.allSatisfy({ $0 == "/" }) {
            while head.hasSuffix("/") { head.removeLast() }
        }
        return head
    }

    static func splitext(_ p: String) -> (String, String) {
        let u = Py.scalars(p)
        let slash = u.lastIndex(of: "/") ?? -1
        guard let dot = u.lastIndex(of: "."), dot > slash else { return (p, "") }
        // Leading dots of the file name do not start an extension.
        var k = slash + 1
        while k < dot, u[k] == "." { k += 1 }
        guard k < dot else { return (p, "") }
        return (Py.string(u[..<dot]), Py.string(u[dot...]))
    }

    static func join(_ parts: [String]) -> String {
        var out = ""
        for part in parts {
            if part.hasPrefix("/") {
                out = part
            } else if out.isEmpty || out.hasSuffix("/") {
                out += part
            } else {
                out += "/" + part
            }
        }
        return out
    }

    static func home() -> String {
        if let h = Environment.value("HOME"), !h.isEmpty { return h }
        if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) }
        return "/"
    }

    static func expandUser(_ p: String) -> String {
        guard p.hasPrefix("~") else { return p }
        let rest = p.dropFirst()
        let end = rest.firstIndex(of: "/") ?? rest.endIndex
        let user = String(rest[..<end])
        let base: String
        if user.isEmpty {
            base = home()
        } else if let pw = getpwnam(user), let dir = pw.pointee.pw_dir {
            base = String(cString: dir)
        } else {
            return p
        }
        let tail = String(rest[end...])
        return (base == "/" && tail.hasPrefix("/")) ? tail : base + tail
    }

    static func normalize(_ p: String) -> String {
        guard !p.isEmpty else { return "." }
        let absolute = p.hasPrefix("/")
        var parts: [Substring] = []
        for part in p.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." { parts.removeLast() } else if !absolute { parts.append(part) }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    static func absolute(_ p: String) -> String {
        p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
    }

    /// Python `os.path.realpath`: resolves symlinks that exist, keeps the rest of the path as written.
    static func realpath(_ p: String) -> String {
        var pending = Array(absolute(p).split(separator: "/").map(String.init).reversed())
        var resolved: [String] = []
        var hops = 0
        while let part = pending.popLast() {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = "/" + (resolved + [part]).joined(separator: "/")
            if hops < 40, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) {
                hops += 1
                if target.hasPrefix("/") { resolved = [] }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                continue
            }
            resolved.append(part)
        }
        return "/" + resolved.joined(separator: "/")
    }

    static func relpath(_ p: String, start: String?) -> String {
        let target = normalize(absolute(p)).split(separator: "/")
        let base = normalize(absolute(start ?? FileManager.default.currentDirectoryPath)).split(separator: "/")
        var common = 0
        while common < target.count, common < base.count, target[common] == base[common] { common += 1 }
        let parts = Array(repeating: "..", count: base.count - common) + target[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}
