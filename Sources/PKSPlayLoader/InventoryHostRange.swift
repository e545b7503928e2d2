import PKSPlayCore

/// Host name patterns in inventory files: `web[01:10]`, `db[a:f]`, `n[1:10:2]`, `host:2222`.
enum InventoryHostRange {
    /// The most hosts one pattern may produce; `h[1:100000000]` is a typo, not an inventory.
    static let maxHosts = 100_000

    struct Failure: Error {
        var message: String
        var hint: String
    }

    /// Host names and port from a host pattern, as Ansible's `_expand_hostpattern`: an address with an
    /// optional port first, then every `[begin:end(:step)]` range expanded, left to right.
    static func expand(_ pattern: String) throws(Failure) -> (hosts: [String], port: Int?) {
        let (host, port) = InventoryHostAddress.parse(pattern, allowRanges: true) ?? (pattern, nil)
        guard host.contains("[") else { return ([host], port) }
        var done: [String] = []
        var pending = [host]
        while let name = pending.popLast() {
            guard name.contains("[") else {
                done.append(name)
                continue
            }
            let expanded = try expandFirstRange(name)
            guard done.count + pending.count + expanded.count <= maxHosts else {
                throw Failure(
                    message: "host pattern '\(pattern)' expands to more than \(maxHosts) hosts",
                    hint: "check the range bounds")
            }
            pending += expanded.reversed()
        }
        return (done, port)
    }

    private static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// Ansible's `expand_hostname_range` for the first `[...]` of `name`.
    private static func expandFirstRange(_ name: String) throws(Failure) -> [String] {
        guard let open = name.firstIndex(of: "["),
            let close = name[name.index(after: open)...].firstIndex(of: "]")
        else {
            throw Failure(message: "host range in '\(name)' is not closed with ']'", hint: "write ranges as name[1:10] or name[a:f]")
        }
        let head = name[..<open]
        let tail = name[name.index(after: close)...]
        let bounds = name[name.index(after: open)..<close].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard bounds.count == 2 || bounds.count == 3 else {
            throw Failure(message: "host range must be begin:end or begin:end:step, in '\(name)'", hint: "e.g. web[01:10] or web[1:10:2]")
        }
        let begin = bounds[0].isEmpty ? "0" : bounds[0]
        let end = bounds[1]
        guard !end.isEmpty else {
            throw Failure(message: "host range must specify an end value, in '\(name)'", hint: "e.g. web[1:10]")
        }
        var step = 1
        if bounds.count == 3 {
            guard let s = Int(bounds[2]), s != 0 else {
                throw Failure(message: "host range step must be a non-zero whole number, in '\(name)'", hint: "e.g. web[1:10:2]")
            }
            step = s
        }
        let width: Int?
        if begin.hasPrefix("0") && begin.count > 1 {
            guard begin.count == end.count else {
                throw Failure(
                    message: "host range must specify equal-length begin and end formats, in '\(name)'",
                    hint: "zero-padded ranges need the same width at both ends: [01:10], not [01:100]")
            }
            width = begin.count
        } else {
            width = nil
        }
        var values: [String] = []
        if begin.count == 1, end.count == 1, let b = letters.firstIndex(of: Character(begin)),
            let e = letters.firstIndex(of: Character(end))
        {
            guard b <= e else {
                throw Failure(message: "host range must have begin <= end, in '\(name)'", hint: "write [a:f], not [f:a]")
            }
            guard step > 0 else { return [] }
            values = stride(from: b, through: e, by: step).map { String(letters[$0]) }
        } else {
            guard let b = Int(begin), let e = Int(end) else {
                throw Failure(
                    message: "host range bounds must be numbers or single letters, in '\(name)'",
                    hint: "e.g. web[1:10] or web[a:f]")
            }
            let count = step > 0 ? (e >= b ? (e - b) / step + 1 : 0) : (b > e ? (b - e - 1) / -step + 1 : 0)
            guard count <= maxHosts else {
                throw Failure(message: "host range in '\(name)' expands to more than \(maxHosts) hosts", hint: "check the range bounds")
            }
            // Python's range(b, e + 1, step): the end is inclusive going up, as Ansible means it.
            let numbers = step > 0 ? Array(stride(from: b, through: e, by: step)) : Array(stride(from: b, to: e + 1, by: step))
            values = numbers.map { n in
                guard let width else { return String(n) }
                let digits = String(abs(n))
                return (n < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count - (n < 0 ? 1 : 0))) + digits
            }
        }
        return values.map { head + $0 + tail }
    }
}
