import PKSPlayCore

/// A `mode` argument as the user gave it: permission bits, symbolic clauses, or `preserve`.
///
/// YAML reads `0644` as the integer 420; like Ansible, an integer is taken as the bits themselves,
/// so `mode: 0644` works and `mode: 644` (decimal 644 = `01204`) does what it says, not what was meant.
enum FileModeSpec: Sendable, Hashable {
    case bits(Int)
    case symbolic(String)
    /// `preserve` (copy, template): the mode of the source file.
    case preserve

    /// Reads the argument; `nil` when it is absent. An integer also yields a warning, because it
    /// only means what the user meant when YAML saw a leading zero.
    static func parse(_ value: Value?) throws(FileModuleError) -> (FileModeSpec?, String?) {
        switch value {
        case nil, .null?: return (nil, nil)
        case .int(let i)?:
            guard (0...0o7777).contains(i) else { throw .invalidMode(String(i), "only permission bits (up to 07777) are allowed") }
            let digits = String(i)
            var warning = "mode was given as the integer \(i), which is used as the octal mode \(octalText(i)); quote modes ('\(octalText(i))') so they are read as written"
            if digits.allSatisfy({ "01234567".contains($0) }) && i > 7 && digits.count >= 3 {
                warning += ". If you meant '0\(digits)', write it as a quoted string: YAML read \(digits) as a decimal number"
            }
            return (.bits(i), warning)
        case .string(let raw)?:
            let s = raw.trimmingCharacters(in: .whitespaces)
            if s == "preserve" { return (.preserve, nil) }
            if let bits = parseOctal(s) {
                guard bits <= 0o7777 else { throw .invalidMode(raw, "only permission bits (up to 07777) are allowed") }
                return (.bits(bits), nil)
            }
            // Validate the clauses now so a typo fails before anything is touched.
            _ = try applySymbolic(s, to: 0, isDirectory: false, umask: 0o022)
            return (.symbolic(s), nil)
        case let other?:
            throw .invalidMode(other.stringified, "a mode is an octal string such as '0644' or symbolic such as 'u=rw,g=r'")
        }
    }

    /// Python's `int(s, 8)`: optional sign, optional `0o`, underscores between digits.
    static func parseOctal(_ s: String) -> Int? {
        var t = Substring(s)
        if t.hasPrefix("+") { t = t.dropFirst() }
        if t.lowercased().hasPrefix("0o") { t = t.dropFirst(2) }
        guard !t.isEmpty, !t.hasPrefix("_"), !t.hasSuffix("_"), !t.contains("__") else { return nil }
        let digits = t.filter { $0 != "_" }
        guard !digits.isEmpty, digits.count <= 8, digits.allSatisfy({ "01234567".contains($0) }) else { return nil }
        return Int(digits, radix: 8)
    }

    /// The bits this spec gives a path whose current bits are `current`.
    func resolve(current: Int, isDirectory: Bool, umask: Int, sourceMode: Int? = nil) throws(FileModuleError) -> Int {
        switch self {
        case .bits(let b): return b
        case .symbolic(let s): return try Self.applySymbolic(s, to: current, isDirectory: isDirectory, umask: umask)
        case .preserve: return sourceMode ?? current
        }
    }

    /// `0644` as Ansible shows modes in diffs and results (`'0%03o'`).
    static func octalText(_ mode: Int) -> String { "0" + pad(String(mode, radix: 8), 3) }
    /// `0644` / `4755` as the stat module shows them (`'%04o'`).
    static func statText(_ mode: Int) -> String { pad(String(mode, radix: 8), 4) }

    private static func pad(_ s: String, _ n: Int) -> String { String(repeating: "0", count: max(0, n - s.count)) + s }

    /// chmod(1)-style clauses (`u=rwX,g-w,o=`), evaluated the way Ansible does (its own evaluator,
    /// not chmod's, so results match Ansible where the two differ).
    static func applySymbolic(_ text: String, to start: Int, isDirectory: Bool, umask: Int) throws(FileModuleError) -> Int {
        var mode = start & 0o7777
        for clause in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let firstOp = clause.firstIndex(where: { "+-=".contains($0) }) else {
                throw .invalidMode(text, "bad symbolic permission for mode: \(clause)")
            }
            var users = String(clause[..<firstOp])
            let useUmask = users.isEmpty
            if users == "a" || users.isEmpty { users = "ugo" }
            guard users.allSatisfy({ "ugo".contains($0) }) else { throw .invalidMode(text, "bad symbolic permission for mode: \(clause)") }
            // Pairs of (operator, permission letters) in order.
            var ops: [(Character, String)] = []
            var i = firstOp
            while i < clause.endIndex {
                let op = clause[i]
                var j = clause.index(after: i)
                while j < clause.endIndex, !"+-=".contains(clause[j]) { j = clause.index(after: j) }
                let perms = String(clause[clause.index(after: i)..<j])
                guard perms.allSatisfy({ "rwxXstugo".contains($0) }) else { throw .invalidMode(text, "bad symbolic permission for mode: \(clause)") }
                ops.append((op, perms))
                i = j
            }
            for (op, perms) in ops {
                for user in users {
                    let apply = bits(for: perms, user: user, current: mode, isDirectory: isDirectory, useUmask: useUmask, umask: umask)
                    switch op {
                    case "=":
                        let mask: Int
                        switch user {
                        case "u": mask = 0o4700
                        case "g": mask = 0o2070
                        default: mask = 0o1007
                        }
                        mode = (mode & (mask ^ 0o7777)) | apply
                    case "+": mode |= apply
                    default: mode &= ~apply
                    }
                }
            }
        }
        return mode
    }

    private static func bits(for perms: String, user: Character, current: Int, isDirectory: Bool, useUmask: Bool, umask: Int) -> Int {
        let keep = useUmask ? (umask ^ 0o7777) : 0o7777
        let shift: Int
        switch user {
        case "u": shift = 6
        case "g": shift = 3
        default: shift = 0
        }
        let applyX = isDirectory || (current & 0o111) != 0
        var out = 0
        for p in perms {
            switch p {
            case "r": out |= keep & (0o4 << shift)
            case "w": out |= keep & (0o2 << shift)
            case "x": out |= keep & (0o1 << shift)
            case "X": if applyX { out |= 0o1 << shift }
            case "s": if user == "u" { out |= 0o4000 } else if user == "g" { out |= 0o2000 }
            case "t": if user == "o" { out |= 0o1000 }
            case "u": out |= ((current >> 6) & 0o7) << shift
            case "g": out |= ((current >> 3) & 0o7) << shift
            case "o": out |= (current & 0o7) << shift
            default: break
            }
        }
        return out
    }
}
