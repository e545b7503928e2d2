@testable import PKSPlayCore
import Testing

@Suite("Inventory host addresses")
struct HostAddressTests {
    /// Every string of up to `length` characters over `alphabet`.
    static func strings(_ alphabet: [Character], upTo length: Int) -> [String] {
        var all = [""]
        var layer = [""]
        for _ in 0..<length {
            layer = layer.flatMap { prefix in alphabet.map { prefix + String($0) } }
            all += layer
        }
        return all
    }

    @Test("the fast path for plain names and IPv4 addresses agrees with Ansible's expressions on every short string")
    func fastPathAgrees() {
        // Letters, digits, the separators a host name may hold, a colon for ports and a character
        // that is never plain: 9^4 strings, all compared.
        let corpus = Self.strings(["a", "Z", "0", "9", "_", "-", ".", ":", "["], upTo: 4)
            + ["pks1", "db-01.example.com", "10.0.3.11", "10.0.3.11:2222", "host_a", "host_", "-host", "a..b", "a.", ".a",
               "300.1.1.1", "h:99999999999999999999999", "h:", ":22", "h:2:2", "[::1]:22", "fe80::1", "web[01:10]", "ünïcode"]
        var fast = 0
        for s in corpus {
            let slow = InventoryHostAddress.parseWithExpressions(s, allowRanges: true)
            let quick = InventoryHostAddress.parseSimple(s)
            if let quick {
                fast += 1
                #expect(slow?.host == quick.host && slow?.port == quick.port, "\(s): fast \(quick), expressions \(String(describing: slow))")
            } else if s.utf8.allSatisfy({ "aZ09_-.".utf8.contains($0) }) && !s.isEmpty {
                // Plain text the fast path rejects is rejected by the expressions too.
                #expect(slow == nil, "\(s): the fast path rejects it, the expressions accept \(String(describing: slow))")
            }
            let both = InventoryHostAddress.parse(s, allowRanges: true)
            #expect(both?.host == slow?.host && both?.port == slow?.port, "\(s)")
        }
        #expect(fast > 1000)
    }

    @Test("examples: names, IPv4, ports, IPv6, ranges")
    func examples() {
        #expect(InventoryHostAddress.parse("pks1", allowRanges: false)! == ("pks1", nil))
        #expect(InventoryHostAddress.parse("10.0.3.11:2222", allowRanges: false)! == ("10.0.3.11", 2222))
        #expect(InventoryHostAddress.parse("[fe80::1]:22", allowRanges: false)! == ("fe80::1", 22))
        #expect(InventoryHostAddress.parse("fe80::1", allowRanges: false)! == ("fe80::1", nil))
        #expect(InventoryHostAddress.parse("web[01:10].example", allowRanges: true)! == ("web[01:10].example", nil))
        #expect(InventoryHostAddress.parse("web[01:10].example", allowRanges: false) == nil)
        #expect(InventoryHostAddress.parse("bad host", allowRanges: false) == nil)
        #expect(InventoryHostAddress.parse("host-", allowRanges: false) == nil)
    }
}
