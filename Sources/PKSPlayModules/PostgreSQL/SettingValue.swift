import Foundation

/// A PostgreSQL setting's value in comparable form: `16MB` and `2048` (in 8kB pages) are equal,
/// `on` and `true` are equal, `'*'` is a string.
///
/// Follows the server's rules for parsing values (`parse_int`, `parse_real`, `parse_bool` in guc.c):
/// numbers may carry a memory unit (B, kB, MB, GB, TB) or a time unit (us, ms, s, min, h, d); a
/// number without a unit is in the setting's own unit; integers are rounded to that unit.
enum SettingValue: Equatable {
    case bool(Bool)
    /// A number in the setting's base unit (bytes or microseconds for settings with a unit).
    case number(Double)
    case text(String)

    /// Parses `text` as a value of a setting with PostgreSQL type `vartype` and unit `unit`
    /// (as pg_settings reports them); `nil` when the server would refuse it.
    init?(_ text: String, vartype: String, unit: String?) {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch vartype {
        case "bool":
            guard let b = Self.parseBool(t) else { return nil }
            self = .bool(b)
        case "integer", "real":
            guard let n = Self.parseNumber(t, unit: unit, integer: vartype == "integer") else { return nil }
            self = .number(n)
        case "enum":
            // Enums that take on/off also take every boolean spelling (archive_mode: true means on).
            switch Self.parseBool(t) {
            case true?: self = .text("on")
            case false?: self = .text("off")
            case nil: self = .text(t.lowercased())
            }
        default:
            self = .text(text)
        }
    }

    static func parseBool(_ t: String) -> Bool? {
        let s = t.lowercased()
        guard !s.isEmpty else { return nil }
        // PostgreSQL takes any unique prefix of true/false/yes/no, and on/off (2 letters at least), 1, 0.
        if "true".hasPrefix(s) || "yes".hasPrefix(s) || (s.count >= 2 && "on".hasPrefix(s)) || s == "1" { return true }
        if "false".hasPrefix(s) || "no".hasPrefix(s) || (s.count >= 2 && "off".hasPrefix(s)) || s == "0" { return false }
        return nil
    }

    private static let memoryUnits: [String: Double] = ["B": 1, "kB": 1024, "MB": 1024 * 1024, "GB": 1024 * 1024 * 1024, "TB": 1024 * 1024 * 1024 * 1024]
    private static let timeUnits: [String: Double] = ["us": 1, "ms": 1000, "s": 1_000_000, "min": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000]

    /// The size of a setting's unit in bytes or microseconds (`8kB` → 8192, `ms` → 1000).
    static func unitSize(_ unit: String?) -> (size: Double, isMemory: Bool)? {
        guard let unit, !unit.isEmpty else { return nil }
        var digits = ""
        var rest = Substring(unit)
        while let c = rest.first, c.isNumber { digits.append(c); rest = rest.dropFirst() }
        let factor = Double(digits) ?? 1
        if let m = memoryUnits[String(rest)] { return (factor * m, true) }
        if let t = timeUnits[String(rest)] { return (factor * t, false) }
        return nil
    }

    static func parseNumber(_ t: String, unit: String?, integer: Bool) -> Double? {
        var end = t.startIndex
        for (i, c) in zip(t.indices, t) {
            if c.isNumber || c == "." || c == "-" || c == "+" || ((c == "e" || c == "E") && i != t.startIndex) {
                end = t.index(after: i)
            } else {
                break
            }
        }
        // "0x1F" and octal integers are accepted by the server too.
        if integer, t.lowercased().hasPrefix("0x"), let v = Int(t.dropFirst(2), radix: 16) { return scaled(Double(v), unit: unit, integer: true) }
        guard let value = Double(t[..<end]) else { return nil }
        let suffix = t[end...].trimmingCharacters(in: .whitespaces)
        guard let base = unitSize(unit) else {
            return suffix.isEmpty ? (integer ? value.rounded() : value) : nil
        }
        if suffix.isEmpty { return scaled(value, unit: unit, integer: integer) }
        guard let factor = (base.isMemory ? memoryUnits : timeUnits)[suffix] else { return nil }
        // The server converts to the setting's unit and rounds integers there.
        let inUnits = value * factor / base.size
        return (integer ? inUnits.rounded() : inUnits) * base.size
    }

    private static func scaled(_ value: Double, unit: String?, integer: Bool) -> Double {
        let size = unitSize(unit)?.size ?? 1
        return (integer ? value.rounded() : value) * size
    }

    /// Equal as the server would see them; reals compare with a relative tolerance.
    func matches(_ other: SettingValue) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)):
            return a == b || abs(a - b) <= 1e-9 * max(abs(a), abs(b))
        default:
            return self == other
        }
    }
}
