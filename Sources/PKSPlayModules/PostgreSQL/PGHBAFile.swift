import Foundation

/// One pg_hba.conf rule as its fields, comparable regardless of spacing, quoting of plain words,
/// option order, or how the address is written (`10.0.3.11 255.255.255.255` equals `10.0.3.11/32`).
struct HBARule: Equatable {
    var type: String
    var databases: String
    var users: String
    /// Normalised: CIDR for addresses, lower case; `nil` for `local`.
    var address: String?
    var method: String
    var options: [String]

    static let types: Set<String> = ["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"]

    /// Parses the fields of one line (comment removed); `nil` for a line that is not a rule.
    init?(tokens: [String]) {
        guard let type = tokens.first?.lowercased(), Self.types.contains(type) else { return nil }
        var rest = tokens.dropFirst()
        guard rest.count >= 3 else { return nil }
        self.type = type
        databases = rest.removeFirst()
        users = rest.removeFirst()
        if type == "local" {
            address = nil
        } else {
            guard let raw = rest.first else { return nil }
            rest = rest.dropFirst()
            if !raw.contains("/"), let mask = rest.first, let bits = Self.prefixLength(ofNetmask: mask) {
                rest = rest.dropFirst()
                address = Self.normalise(raw + "/\(bits)")
            } else {
                address = Self.normalise(raw)
            }
        }
        guard let method = rest.first else { return nil }
        self.method = method.lowercased()
        options = rest.dropFirst().sorted()
    }

    init(type: String, databases: String, users: String, address: String?, method: String, options: [String]) {
        self.type = type
        self.databases = databases
        self.users = users
        self.address = address.map(Self.normalise)
        self.method = method.lowercased()
        self.options = options.sorted()
    }

    /// Whether `other` matches on type, databases, users and address (the rule's "key").
    func sameTarget(as other: HBARule) -> Bool {
        type == other.type && databases == other.databases && users == other.users && address == other.address
    }

    /// The line to write, fields separated by tabs, with the marker comment at the end.
    func line(marker: String) -> String {
        ([type, databases, users] + (address.map { [$0] } ?? []) + [method] + options).joined(separator: "\t") + "\t# " + marker
    }

    /// An IP address without a mask gets /32 (IPv4) or /128 (IPv6); IPv6 is lower-cased. Host
    /// names and keywords (all, samehost, samenet) stay as they are.
    static func normalise(_ address: String) -> String {
        let parts = address.split(separator: "/", maxSplits: 1).map(String.init)
        guard let ip = parts.first else { return address }
        if isIPv4(ip) { return parts.count == 2 ? "\(ip)/\(parts[1])" : "\(ip)/32" }
        if isIPv6(ip) { return parts.count == 2 ? "\(ip.lowercased())/\(parts[1])" : "\(ip.lowercased())/128" }
        return address
    }

    static func isIPv4(_ s: String) -> Bool {
        let octets = s.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { o in !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isASCII) && (UInt8(o) != nil) }
    }

    static func isIPv6(_ s: String) -> Bool {
        s.contains(":") && s.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && s.split(separator: ":", omittingEmptySubsequences: false).count <= 9
    }

    /// `255.255.255.0` → 24; `nil` when the text is not a contiguous IPv4 netmask.
    static func prefixLength(ofNetmask mask: String) -> Int? {
        guard isIPv4(mask) else { return nil }
        let value = mask.split(separator: ".").reduce(UInt32(0)) { $0 << 8 | UInt32($1)! }
        let bits = value.nonzeroBitCount
        guard bits == 0 || value == UInt32.max << (32 - bits) else { return nil }
        return bits
    }

    /// Checks an address the user gave: an IP with an optional prefix length in range, or a host name.
    static func validate(address: String) -> String? {
        let parts = address.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
            guard let bits = Int(parts[1]) else { return "'\(parts[1])' is not a prefix length" }
            if isIPv4(parts[0]) { return (0...32).contains(bits) ? nil : "an IPv4 prefix length is 0 to 32" }
            if isIPv6(parts[0]) { return (0...128).contains(bits) ? nil : "an IPv6 prefix length is 0 to 128" }
            return "'\(parts[0])' is not an IP address"
        }
        if address.isEmpty || address.contains(where: { $0.isWhitespace || $0 == "#" || $0 == "\"" }) {
            return "'\(address)' is not an address or host name"
        }
        return nil
    }
}

/// pg_hba.conf as lines, each kept exactly as read, so that writing it back changes only the
/// lines this module adds, replaces or removes.
struct PGHBAFile {
    var lines: [String]
    /// Whether the text ended with a newline (kept as it was).
    var endsWithNewline: Bool

    init(_ text: String) {
        var parts = text.components(separatedBy: "\n")
        endsWithNewline = text.hasSuffix("\n")
        if endsWithNewline { parts.removeLast() }
        lines = text.isEmpty ? [] : parts
    }

    var text: String {
        lines.joined(separator: "\n") + (endsWithNewline ? "\n" : "")
    }

    /// The rule on a line and its trailing comment, if the line holds a rule.
    static func parse(_ line: String) -> (rule: HBARule, comment: String?)? {
        var tokens: [String] = []
        var current = ""
        var inQuotes = false
        var hasToken = false
        var comment: String?
        var index = line.startIndex
        while index < line.endIndex {
            let c = line[index]
            if inQuotes {
                current.append(c)
                if c == "\"" { inQuotes = false }
            } else if c == "#" {
                comment = String(line[line.index(after: index)...]).trimmingCharacters(in: .whitespaces)
                break
            } else if c == " " || c == "\t" || c == "\r" {
                if hasToken { tokens.append(current); current = ""; hasToken = false }
            } else {
                if c == "\"" { inQuotes = true }
                current.append(c)
                hasToken = true
            }
            index = line.index(after: index)
        }
        if hasToken { tokens.append(current) }
        guard let rule = HBARule(tokens: tokens) else { return nil }
        return (rule, comment)
    }
}
