import Foundation
import PKSPlayCore

extension Filters {
    /// Jinja's attribute getter for `map(attribute=)`, `sort(attribute=)`, `selectattr`: dotted path, numeric parts index lists.
    static func attributePath(_ v: Value, _ path: String) throws -> Operand {
        var current = Operand.value(v)
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .value(let c) = current else { return current }
            if let i = Int(part) {
                current = try Renderer.item(of: c, .int(i))
            } else {
                current = try Renderer.item(of: c, .string(String(part)))
            }
        }
        return current
    }

    /// Sort key with Jinja's `ignore_case` postprocessing.
    static func sortKey(_ v: Value, caseSensitive: Bool) -> Value {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// Stable sort by Python ordering; a comparison Python cannot make is an error, reported after sorting.
    static func pythonSorted(_ items: [Value], keys: [Value], reverse: Bool) throws -> [Value] {
        var failure: Error?
        let order = Array(items.indices).sorted { a, b in
            do {
                if reverse { return try Py.less(keys[b], keys[a]) }
                return try Py.less(keys[a], keys[b])
            } catch {
                failure = failure ?? error
                return a < b
            }
        }
        if let failure { throw failure }
        // `sorted` is not stable; restore original order among equal keys.
        var result: [(Int, Value)] = []
        result.reserveCapacity(items.count)
        var groupStart = 0
        while groupStart < order.count {
            var groupEnd = groupStart + 1
            while groupEnd < order.count, Py.equals(keys[order[groupEnd]], keys[order[groupStart]]) { groupEnd += 1 }
            for index in order[groupStart..<groupEnd].sorted() { result.append((index, items[index])) }
            groupStart = groupEnd
        }
        return result.map(\.1)
    }

    static func uniqueItems(_ items: [Value], key: (Value) throws -> Value) rethrows -> [Value] {
        var seen = Set<PyKey>()
        var out: [Value] = []
        for item in items where seen.insert(PyKey(try key(item))).inserted { out.append(item) }
        return out
    }

    static func iterable(_ v: Value, _ args: Arguments) throws -> [Value] {
        do {
            return try Py.iterate(v)
        } catch {
            throw args.failure("expected a list, got \(Py.typeName(v))")
        }
    }

    /// Ansible's `flatten`: nested lists are spliced `levels` deep; nulls (and 'None'/'null') are dropped unless asked not to.
    static func flatten(_ items: [Value], levels: Int?, skipNulls: Bool, depth: Int = 0) throws -> [Value] {
        guard depth < 512 else { throw TemplateError(.limit, "flatten: list nested more than 512 levels") }
        var out: [Value] = []
        for item in items {
            if skipNulls {
                switch item {
                case .null: continue
                case .string("None"), .string("null"): continue
                default: break
                }
            }
            if case .list(let inner) = item {
                if let levels {
                    if levels >= 1 { out += try flatten(inner, levels: levels - 1, skipNulls: skipNulls, depth: depth + 1) } else { out.append(item) }
                } else {
                    out += try flatten(inner, levels: nil, skipNulls: skipNulls, depth: depth + 1)
                }
            } else {
                out.append(item)
            }
        }
        return out
    }

    /// Ansible's `merge_hash`: later values win; nested dicts merge when `recursive`; lists follow `listMerge`.
    static func mergeHash(_ x: ValueDict, _ y: ValueDict, recursive: Bool, listMerge: String, depth: Int = 0) throws -> ValueDict {
        guard depth < 512 else { throw TemplateError(.limit, "combine: dictionaries nested more than 512 levels") }
        if x.isEmpty || Py.equals(.dict(x), .dict(y)) { return y }
        var out = x
        for (key, yValue) in y {
            guard let xValue = out[key] else {
                out[key] = yValue
                continue
            }
            switch (xValue, yValue) {
            case (.dict(let a), .dict(let b)):
                out[key] = recursive ? .dict(try mergeHash(a, b, recursive: recursive, listMerge: listMerge, depth: depth + 1)) : yValue
            case (.list(let a), .list(let b)):
                switch listMerge {
                case "replace": out[key] = yValue
                case "keep": out[key] = xValue
                case "append": out[key] = .list(a + b)
                case "prepend": out[key] = .list(b + a)
                case "append_rp": out[key] = .list(a.filter { item in !b.contains { Py.equals($0, item) } } + b)
                case "prepend_rp": out[key] = .list(b + a.filter { item in !b.contains { Py.equals($0, item) } })
                default: throw TemplateError.type("list_merge must be one of replace, keep, append, prepend, append_rp, prepend_rp, not '\(listMerge)'")
                }
            default:
                out[key] = yValue
            }
        }
        return out
    }

    static let collections: [String: Filter] = [
        "length": plain { v, _, _ in .int(try Py.length(v)) },
        "count": plain { v, _, _ in .int(try Py.length(v)) },
        "list": plain { v, _, a in .list(try iterable(v, a)) },
        "first": { input, args, _ in
            _ = try args.bind([])
            let items = try Py.iterate(try input.get())
            guard let first = items.first else { return .undefined(Undefined(name: nil, message: "No first item, sequence was empty.")) }
            return .value(first)
        },
        "last": { input, args, _ in
            _ = try args.bind([])
            let items = try Py.iterate(try input.get())
            guard let last = items.last else { return .undefined(Undefined(name: nil, message: "No last item, sequence was empty.")) }
            return .value(last)
        },
        "min": minMax(wantMax: false),
        "max": minMax(wantMax: true),
        "sum": plain(["attribute", "start"]) { v, p, a in
            var total = p[1] ?? .int(0)
            for item in try iterable(v, a) {
                let x = try p[0].map { try attributePath(item, Py.str($0)).get() } ?? item
                total = try Py.add(total, x)
            }
            return total
        },
        "unique": plain(["case_sensitive", "attribute"]) { v, p, a in
            let caseSensitive = p[0]?.isTruthy ?? false
            return .list(try uniqueItems(try iterable(v, a)) { item in
                let key = try p[1].map { try attributePath(item, Py.str($0)).get() } ?? item
                return sortKey(key, caseSensitive: caseSensitive)
            })
        },
        "sort": plain(["reverse", "case_sensitive", "attribute"]) { v, p, a in
            let items = try iterable(v, a)
            let caseSensitive = p[1]?.isTruthy ?? false
            let paths = p[2].map { Py.str($0).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let keys = try items.map { item -> Value in
                guard let paths else { return sortKey(item, caseSensitive: caseSensitive) }
                let parts = try paths.map { sortKey(try attributePath(item, $0).get(), caseSensitive: caseSensitive) }
                return parts.count == 1 ? parts[0] : .list(parts)
            }
            return .list(try pythonSorted(items, keys: keys, reverse: p[0]?.isTruthy ?? false))
        },
        "reverse": plain { v, _, a in
            if case .string(let s) = v { return .string(Py.string(s.unicodeScalars.reversed())) }
            return .list(try iterable(v, a).reversed())
        },
        "flatten": plain(["levels", "skip_nulls"]) { v, p, a in
            guard case .list(let items) = v else { return .list([v]) }
            return .list(try flatten(items, levels: try a.int(p[0], "levels"), skipNulls: p[1]?.isTruthy ?? true))
        },
        "batch": plain(["linecount", "fill_with"], required: 1) { v, p, a in
            let size = try a.int(p[0], "linecount") ?? 1
            guard size > 0 else { throw a.failure("linecount must be positive") }
            var batches: [Value] = []
            var current: [Value] = []
            for item in try iterable(v, a) {
                current.append(item)
                if current.count == size { batches.append(.list(current)); current = [] }
            }
            if !current.isEmpty {
                if let fill = p[1] { while current.count < size { current.append(fill) } }
                batches.append(.list(current))
            }
            return .list(batches)
        },
        "join": plain(["d", "attribute"]) { v, p, a in
            let items = try iterable(v, a).map { item in try p[1].map { try attributePath(item, Py.str($0)).get() } ?? item }
            return .string(items.map(Py.str).joined(separator: p[0].map(Py.str) ?? ""))
        },
        "map": mapFilter,
        "select": selectFilter(keep: true),
        "reject": selectFilter(keep: false),
        "selectattr": selectAttrFilter(keep: true),
        "rejectattr": selectAttrFilter(keep: false),
        "groupby": plain(["attribute", "default", "case_sensitive"], required: 1) { v, p, a in
            let path = Py.str(p[0]!)
            let items = try iterable(v, a)
            let keys = try items.map { item -> Value in
                switch try attributePath(item, path) {
                case .value(let k): return k
                case .undefined(let u): if let d = p[1] { return d } else { throw TemplateError.undefined(u) }
                }
            }
            let caseSensitive = p[2]?.isTruthy ?? false
            let sorted = try pythonSorted(Array(zip(items, keys)).map { .list([$0.1, $0.0]) },
                                          keys: keys.map { sortKey($0, caseSensitive: caseSensitive) }, reverse: false)
            var groups: [(Value, [Value])] = []
            for pair in sorted {
                guard case .list(let kv) = pair else { continue }
                if let last = groups.last, Py.equals(sortKey(last.0, caseSensitive: caseSensitive), sortKey(kv[0], caseSensitive: caseSensitive)) {
                    groups[groups.count - 1].1.append(kv[1])
                } else {
                    groups.append((kv[0], [kv[1]]))
                }
            }
            return .list(groups.map { .list([$0.0, .list($0.1)]) })
        },
        "dict2items": plain(["key_name", "value_name"]) { v, p, a in
            guard case .dict(let d) = v else { throw a.failure("dict2items requires a dictionary, got \(Py.typeName(v)) instead") }
            let k = p[0].map(Py.str) ?? "key", n = p[1].map(Py.str) ?? "value"
            return .list(d.map { .dict([k: .string($0.key), n: $0.value]) })
        },
        "items2dict": plain(["key_name", "value_name"]) { v, p, a in
            guard case .list(let items) = v else { throw a.failure("items2dict requires a list, got \(Py.typeName(v)) instead") }
            var d = ValueDict()
            for item in items {
                switch item {
                case .dict, .list: break
                default: throw a.failure("items2dict requires a list of dictionaries, got \(v.pythonRepr) instead")
                }
                guard case .value(let key) = try Renderer.item(of: item, p[0] ?? "key"),
                      case .value(let value) = try Renderer.item(of: item, p[1] ?? "value") else {
                    throw a.failure("each item must have the keys \((p[0] ?? "key").pythonRepr) and \((p[1] ?? "value").pythonRepr); \(item.pythonRepr) does not")
                }
                d[Py.str(key)] = value
            }
            return .dict(d)
        },
        "items": plain { v, _, a in
            guard case .dict(let d) = v else { throw a.failure("expected a dictionary, got \(Py.typeName(v))") }
            return .list(d.map { .list([.string($0.key), $0.value]) })
        },
        "dictsort": plain(["case_sensitive", "by", "reverse"]) { v, p, a in
            guard case .dict(let d) = v else { throw a.failure("expected a dictionary, got \(Py.typeName(v))") }
            let caseSensitive = p[0]?.isTruthy ?? false
            let byValue: Bool
            switch try a.string(p[1], "by") ?? "key" {
            case "key": byValue = false
            case "value": byValue = true
            default: throw a.failure("you can only sort by either 'key' or 'value'")
            }
            let pairs = d.map { Value.list([.string($0.key), $0.value]) }
            let keys = d.map { sortKey(byValue ? $0.value : .string($0.key), caseSensitive: caseSensitive) }
            return .list(try pythonSorted(pairs, keys: keys, reverse: p[2]?.isTruthy ?? false))
        },
        "combine": { input, args, _ in
            var args = args
            let options = args.takeKeywords(["recursive", "list_merge"])
            if !args.keywords.isEmpty { throw args.failure("'recursive' and 'list_merge' are the only valid keyword arguments") }
            let recursive = try options["recursive"]?.get().isTruthy ?? false
            let listMerge = try options["list_merge"].map { Py.str(try $0.get()) } ?? "replace"
            var terms = [try input.get()]
            terms += try args.positional.map { try $0.get() }
            var dicts: [ValueDict] = []
            for term in try flatten(terms, levels: 1, skipNulls: true) {
                guard case .dict(let d) = term else { throw args.failure("expected dictionaries, got \(Py.typeName(term))") }
                dicts.append(d)
            }
            guard var result = dicts.last else { return .value(.dict([:])) }
            for d in dicts.dropLast().reversed() {
                result = try mergeHash(d, result, recursive: recursive, listMerge: listMerge)
            }
            return .value(.dict(result))
        },
        "zip": { input, args, _ in
            try args.rejectKeywords()
            let lists = try ([input] + args.positional).map { try iterable(try $0.get(), args) }
            let n = lists.map(\.count).min() ?? 0
            return .value(.list((0..<n).map { i in .list(lists.map { $0[i] }) }))
        },
        "zip_longest": { input, args, _ in
            var args = args
            let fill = try args.takeKeywords(["fillvalue"])["fillvalue"]?.get() ?? .null
            try args.rejectKeywords()
            let lists = try ([input] + args.positional).map { try iterable(try $0.get(), args) }
            let n = lists.map(\.count).max() ?? 0
            return .value(.list((0..<n).map { i in .list(lists.map { i < $0.count ? $0[i] : fill }) }))
        },
        "difference": setOperation { a, b in
            let other = Set(b.map(PyKey.init))
            return uniqueItems(a.filter { !other.contains(PyKey($0)) }) { $0 }
        },
        "intersect": setOperation { a, b in
            let other = Set(b.map(PyKey.init))
            return uniqueItems(a.filter { other.contains(PyKey($0)) }) { $0 }
        },
        "union": setOperation { a, b in uniqueItems(a + b) { $0 } },
        "symmetric_difference": setOperation { a, b in
            let left = Set(a.map(PyKey.init)), right = Set(b.map(PyKey.init))
            return uniqueItems((a + b).filter { left.contains(PyKey($0)) != right.contains(PyKey($0)) }) { $0 }
        },
    ]

    private static func setOperation(_ op: @escaping @Sendable ([Value], [Value]) -> [Value]) -> Filter {
        plain(["other"], required: 1) { v, p, a in
            .list(op(try iterable(v, a), try iterable(p[0]!, a)))
        }
    }

    private static func minMax(wantMax: Bool) -> Filter {
        { input, args, _ in
            let p = try args.values(["case_sensitive", "attribute"])
            let items = try iterable(try input.get(), args)
            guard var best = items.first else {
                return .undefined(Undefined(name: nil, message: "No aggregated item, sequence was empty."))
            }
            let caseSensitive = p[0]?.isTruthy ?? false
            func key(_ item: Value) throws -> Value {
                sortKey(try p[1].map { try attributePath(item, Py.str($0)).get() } ?? item, caseSensitive: caseSensitive)
            }
            var bestKey = try key(best)
            for item in items.dropFirst() {
                let k = try key(item)
                if wantMax ? try Py.less(bestKey, k) : try Py.less(k, bestKey) {
                    best = item
                    bestKey = k
                }
            }
            return .value(best)
        }
    }

    private static let mapFilter: Filter = { input, args, renderer in
        let items = try iterable(try input.get(), args)
        if args.positional.isEmpty {
            var args = args
            let options = args.takeKeywords(["attribute", "default"])
            try args.rejectKeywords()
            guard let attribute = options["attribute"] else { throw args.failure("needs a filter name or attribute=") }
            let path = Py.str(try attribute.get())
            return .value(.list(try items.map { item in
                switch try attributePath(item, path) {
                case .value(let v): return v
                case .undefined(let u):
                    if let d = options["default"] { return try d.get() }
                    throw TemplateError.undefined(u)
                }
            }))
        }
        let name = Parser.canonicalPluginName(Py.str(try args.positional[0].get()))
        guard let filter = table[name] else {
            throw TemplateError(.unknownFilter, "no filter named '\(name)'", name: name,
                                hint: closestMatch(to: name, in: table.keys).map { "did you mean '\($0)'?" })
        }
        let inner = Arguments(name, kind: .filter, positional: Array(args.positional.dropFirst()), keywords: args.keywords)
        return .value(.list(try items.map { item in
            try Renderer.attributing(to: inner) { try filter(.value(item), inner, renderer).get() }
        }))
    }

    /// Runs test `name` (with the arguments after it) on `item`; with no test name, Python truthiness.
    static func runTest(_ testArgs: [Operand], keywords: [(String, Operand)], on item: Operand, _ renderer: Renderer) throws -> Bool {
        guard let first = testArgs.first else { return try item.get().isTruthy }
        let name = Parser.canonicalPluginName(Py.str(try first.get()))
        guard let test = Tests.table[name] else {
            throw TemplateError(.unknownTest, "no test named '\(name)'", name: name,
                                hint: closestMatch(to: name, in: Tests.table.keys).map { "did you mean '\($0)'?" })
        }
        let inner = Arguments(name, kind: .test, positional: Array(testArgs.dropFirst()), keywords: keywords)
        return try Renderer.attributing(to: inner) { try test(item, inner, renderer) }
    }

    private static func selectFilter(keep: Bool) -> Filter {
        { input, args, renderer in
            let items = try iterable(try input.get(), args)
            return .value(.list(try items.filter { try runTest(args.positional, keywords: args.keywords, on: .value($0), renderer) == keep }))
        }
    }

    private static func selectAttrFilter(keep: Bool) -> Filter {
        { input, args, renderer in
            let items = try iterable(try input.get(), args)
            guard let attribute = args.positional.first else { throw args.failure("missing required argument 'attribute'") }
            let path = Py.str(try attribute.get())
            return .value(.list(try items.filter { item in
                let value = try attributePath(item, path)
                return try runTest(Array(args.positional.dropFirst()), keywords: args.keywords, on: value, renderer) == keep
            }))
        }
    }
}
