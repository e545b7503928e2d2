/// POSIX path arithmetic on target paths, done as text: the target's file system is not the
/// controller's, so Foundation's URL and FileManager must not be used on these.
enum RemotePath {
    /// `dirname(1)`: `a` → `.`, `/a` → `/`, `a/b/` → `a`.
    static func dirname(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        var head = p[..<slash]
        while head.count > 1, head.hasSuffix("/") { head = head.dropLast() }
        return head.isEmpty ? "/" : String(head)
    }

    /// `basename(1)` without suffix removal: `a/b/` → `b`, `/` → `/`.
    static func basename(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        if p == "/" { return "/" }
        if let slash = p.lastIndex(of: "/") { return String(p[p.index(after: slash)...]) }
        return String(p)
    }

    static func join(_ base: String, _ name: String) -> String {
        if name.hasPrefix("/") { return name }
        if base.isEmpty { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }

    /// Collapses `//`, `.` and a trailing `/` (not `..`: that needs the file system) for comparisons.
    static func lexicallyNormalized(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// The extension of the last component including its dot (`.conf`), kept on temporary files
    /// because some validators (`nginx -t`, `visudo`) look at it. Empty when there is none or it is long.
    static func suffix(_ path: String) -> String {
        let base = basename(path)
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
        let ext = String(base[dot...])
        return ext.count <= 16 && ext.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }) ? ext : ""
    }
}

extension RemotePath {
    /// A path safe as an operand of commands that take no `--` (find, tar -C): `-x` → `./-x`.
    static func operand(_ path: String) -> String { path.hasPrefix("-") ? "./" + path : path }
}
