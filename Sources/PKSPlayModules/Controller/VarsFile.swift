import Foundation
import PKSPlayCore
import Yams

/// Reads a variables file (YAML or JSON) into a ``Value``, as Ansible's loader does: YAML 1.1
/// scalars (`yes` is true), anchors and `<<` merge keys, key order kept.
///
/// Bounded on hostile input: nesting deeper than ``maxDepth`` and alias expansion past
/// ``maxNodes`` values are errors, not a stack overflow or an endless expansion.
enum VarsFile {
    static let maxDepth = 256
    static let maxNodes = 2_000_000

    struct LoadError: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// The file's single document, or `nil` when it holds none (an empty file).
    static func parse(_ text: String, path: String) throws -> Value? {
        if text.hasPrefix("$ANSIBLE_VAULT") {
            throw LoadError(description: "\(path) is encrypted with Ansible Vault, which pksplay does not decrypt; store it decrypted or use a secrets file")
        }
        if path.lowercased().hasSuffix(".json"), let json = try? Value.parseJSON(text) { return json }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw LoadError(description: "\(path): not valid YAML: \(error)")
        }
        guard let node else { return nil }
        var budget = maxNodes
        return try value(of: node, depth: 0, budget: &budget, path: path)
    }

    private static func location(_ node: Node, _ path: String) -> String {
        guard let mark = node.mark else { return path }
        return "\(path):\(mark.line):\(mark.column)"
    }

    private static func value(of node: Node, depth: Int, budget: inout Int, path: String) throws -> Value {
        budget -= 1
        guard budget >= 0 else {
            throw LoadError(description: "\(path) expands to more than \(maxNodes) values (aliases repeated too often)")
        }
        guard depth <= maxDepth else {
            throw LoadError(description: "\(location(node, path)): nested deeper than \(maxDepth) levels")
        }
        let tag = node.tag.description
        switch node {
        case .scalar(let scalar):
            switch tag {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(Value.bool) ?? .string(scalar.string)
            case Tag.Name.int.rawValue:
                if let i = node.int { return .int(i) }
                return node.float.map(Value.double) ?? .string(scalar.string)
            case Tag.Name.float.rawValue: return node.float.map(Value.double) ?? .string(scalar.string)
            case Tag.Name.str.rawValue, Tag.Name.timestamp.rawValue, Tag.Name.binary.rawValue, Tag.Name.value.rawValue,
                Tag.Name.merge.rawValue, "!", "!unsafe":
                return .string(scalar.string)
            default:
                throw LoadError(description: "\(location(node, path)): the tag \(tag) is not supported")
            }
        case .sequence(let sequence):
            var items: [Value] = []
            items.reserveCapacity(sequence.count)
            for item in sequence { items.append(try value(of: item, depth: depth + 1, budget: &budget, path: path)) }
            return .list(items)
        case .mapping(let mapping):
            var dict = ValueDict()
            var merged = ValueDict()
            for (key, item) in mapping {
                if key.tag.description == Tag.Name.merge.rawValue {
                    // `<<: *base` or `<<: [*a, *b]`: earlier sources win, explicit keys win over all.
                    let sources: [Value]
                    switch try value(of: item, depth: depth + 1, budget: &budget, path: path) {
                    case .dict(let d): sources = [.dict(d)]
                    case .list(let l): sources = l
                    default: throw LoadError(description: "\(location(item, path)): a merge key (<<) needs a mapping or a list of mappings")
                    }
                    for source in sources {
                        guard case .dict(let d) = source else {
                            throw LoadError(description: "\(location(item, path)): a merge key (<<) needs a mapping or a list of mappings")
                        }
                        for (k, v) in d where !merged.contains(k) { merged[k] = v }
                    }
                    continue
                }
                let keyValue = try value(of: key, depth: depth + 1, budget: &budget, path: path)
                let name: String
                switch keyValue {
                case .string(let s): name = s
                case .int, .double, .bool, .null: name = keyValue.stringified
                case .list, .dict: throw LoadError(description: "\(location(key, path)): a key must be a scalar")
                }
                dict[name] = try value(of: item, depth: depth + 1, budget: &budget, path: path)
            }
            for (k, v) in merged where !dict.contains(k) { dict[k] = v }
            return .dict(dict)
        case .alias:
            // Yams resolves aliases while composing; an unresolved one has nothing to give.
            throw LoadError(description: "\(location(node, path)): unresolved alias")
        }
    }
}
