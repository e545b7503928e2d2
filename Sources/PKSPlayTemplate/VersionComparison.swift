import PKSPlayCore

/// Ansible's `version` test: loose (LooseVersion), strict (StrictVersion) and semver ordering.
enum VersionComparison {
    enum Component: Equatable {
        case number(Int)
        case text(String)
    }

    static let operators: [String: String] = [
        "==": "eq", "=": "eq", "eq": "eq", "<": "lt", "lt": "lt", "<=": "le", "le": "le",
        ">": "gt", "gt": "gt", ">=": "ge", "ge": "ge", "!=": "ne", "<>": "ne", "ne": "ne",
    ]

    /// Compares two versions; `op` is one of ``operators``'s keys.
    static func compare(_ a: String, _ b: String, op: String, type: String) throws -> Bool {
        guard let canonical = operators[op] else {
            throw TemplateError.type("invalid operator '\(op)'; use one of ==, =, eq, <, lt, <=, le, >, gt, >=, ge, !=, <>, ne")
        }
        let order: Int
        switch type {
        case "loose": order = try compareLoose(loose(a), loose(b))
        case "strict": order = compareTuples(try strict(a), try strict(b))
        case "semver", "semantic": order = try compareSemver(a, b)
        default:
            throw TemplateError.type("unsupported version_type '\(type)'; use loose, strict or semver")
        }
        switch canonical {
        case "eq": return order == 0
        case "ne": return order != 0
        case "lt": return order < 0
        case "le": return order <= 0
        case "gt": return order > 0
        default: return order >= 0
        }
    }

    /// LooseVersion components: runs of digits, runs of lowercase letters, and whatever lies between, without dots.
    static func loose(_ s: String) -> [Component] {
        var out: [Component] = []
        var other = ""
        let u = Array(s.unicodeScalars)
        var k = 0
        func flushOther() {
            if !other.isEmpty { out.append(.text(other)); other = "" }
        }
        while k < u.count {
            let c = u[k]
            if ("0"..."9").contains(c) {
                flushOther()
                var d = ""
                while k < u.count, ("0"..."9").contains(u[k]) { d.unicodeScalars.append(u[k]); k += 1 }
                out.append(Int(d).map(Component.number) ?? .text(d))
            } else if ("a"..."z").contains(c) {
                flushOther()
                var t = ""
                while k < u.count, ("a"..."z").contains(u[k]) { t.unicodeScalars.append(u[k]); k += 1 }
                out.append(.text(t))
            } else if c == "." {
                flushOther()
                k += 1
            } else {
                other.unicodeScalars.append(c)
                k += 1
            }
        }
        flushOther()
        return out
    }

    /// Python list ordering of LooseVersion components; a number against text is a type error, as in Python 3.
    static func compareLoose(_ a: [Component], _ b: [Component]) throws -> Int {
        for (x, y) in zip(a, b) where x != y {
            switch (x, y) {
            case (.number(let p), .number(let q)): return p < q ? -1 : 1
            case (.text(let p), .text(let q)): return p.unicodeScalars.lexicographicallyPrecedes(q.unicodeScalars) ? -1 : 1
            default:
                throw TemplateError.type("version comparison failed: cannot order a number against text ('\(describe(x))' vs '\(describe(y))')")
            }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    private static func describe(_ c: Component) -> String {
        switch c {
        case .number(let n): return String(n)
        case .text(let t): return t
        }
    }

    /// StrictVersion: `N.N[.N][(a|b)N]`, as a comparable tuple; a release sorts after its pre-releases.
    static func strict(_ s: String) throws -> [Int] {
        let u = Array(s.unicodeScalars)
        var k = 0
        func number() -> Int? {
            var d = ""
            while k < u.count, ("0"..."9").contains(u[k]) { d.unicodeScalars.append(u[k]); k += 1 }
            return Int(d)
        }
        func invalid() -> TemplateError {
            TemplateError.type("invalid version number '\(s)' for strict comparison")
        }
        guard let major = number(), k < u.count, u[k] == "." else { throw invalid() }
        k += 1
        guard let minor = number() else { throw invalid() }
        var patch = 0
        if k < u.count, u[k] == "." {
            k += 1
            guard let p = number() else { throw invalid() }
            patch = p
        }
        var pre = [Int.max, 0]
        if k < u.count, u[k] == "a" || u[k] == "b" {
            let kind = u[k] == "a" ? 0 : 1
            k += 1
            guard let n = number() else { throw invalid() }
            pre = [kind, n]
        }
        guard k == u.count else { throw invalid() }
        return [major, minor, patch] + pre
    }

    static func compareTuples(_ a: [Int], _ b: [Int]) -> Int {
        for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    private struct SemVer {
        var core: [Int]
        var prerelease: [String]
    }

    private static func semver(_ s: String) throws -> SemVer {
        func invalid() -> TemplateError { TemplateError.type("invalid semantic version '\(s)'") }
        var text = Substring(s)
        if let plus = text.firstIndex(of: "+") { text = text[..<plus] }
        var prerelease: [String] = []
        if let dash = text.firstIndex(of: "-") {
            prerelease = text[text.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !prerelease.contains(where: \.isEmpty) else { throw invalid() }
            text = text[..<dash]
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw invalid() }
        let core = try parts.map { p -> Int in
            guard let n = Int(p), n >= 0, p == "0" || !p.hasPrefix("0") else { throw invalid() }
            return n
        }
        return SemVer(core: core, prerelease: prerelease)
    }

    static func compareSemver(_ a: String, _ b: String) throws -> Int {
        let x = try semver(a), y = try semver(b)
        let c = compareTuples(x.core, y.core)
        if c != 0 { return c }
        switch (x.prerelease.isEmpty, y.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        default: break
        }
        for (p, q) in zip(x.prerelease, y.prerelease) where p != q {
            switch (Int(p), Int(q)) {
            case (let i?, let j?): return i < j ? -1 : 1
            case (_?, nil): return -1
            case (nil, _?): return 1
            default: return p < q ? -1 : 1
            }
        }
        return x.prerelease.count == y.prerelease.count ? 0 : (x.prerelease.count < y.prerelease.count ? -1 : 1)
    }
}
