import Foundation
import PKSPlayCore

/// Evaluated arguments of a filter, test, function or method call, bound Python-style to parameter names.
struct Arguments {
    enum CalleeKind { case filter, test, function }

    let callee: String
    let kind: CalleeKind
    var positional: [Operand]
    var keywords: [(String, Operand)]

    init(_ callee: String, kind: CalleeKind, positional: [Operand] = [], keywords: [(String, Operand)] = []) {
        self.callee = callee
        self.kind = kind
        self.positional = positional
        self.keywords = keywords
    }

    /// An error attributed to this filter/test/function.
    func failure(_ message: String) -> TemplateError {
        switch kind {
        case .filter: return TemplateError.filter(callee, message)
        case .test: return TemplateError.test(callee, message)
        case .function: return TemplateError(.type, "\(callee)(): \(message)", name: callee)
        }
    }

    /// One slot per parameter, positional arguments first, then keywords; nil where not given.
    func bind(_ params: [String], required: Int = 0) throws -> [Operand?] {
        guard positional.count <= params.count else {
            throw failure("takes at most \(params.count) argument\(params.count == 1 ? "" : "s") (\(positional.count) given)")
        }
        var slots: [Operand?] = positional.map { $0 }
        slots += Array(repeating: nil, count: params.count - positional.count)
        for (k, v) in keywords {
            guard let index = params.firstIndex(of: k) else {
                let hint = closestMatch(to: k, in: params).map { "; did you mean '\($0)'?" } ?? ""
                throw failure("got an unexpected keyword argument '\(k)'\(hint)")
            }
            guard slots[index] == nil else { throw failure("got multiple values for argument '\(k)'") }
            slots[index] = v
        }
        for i in 0..<required where slots[i] == nil {
            throw failure("missing required argument '\(params[i])'")
        }
        return slots
    }

    /// Like ``bind(_:required:)`` but every given argument must be defined.
    func values(_ params: [String], required: Int = 0) throws -> [Value?] {
        try bind(params, required: required).map { try $0?.get() }
    }

    func keyword(_ name: String) -> Operand? { keywords.first { $0.0 == name }?.1 }

    /// Removes the named keyword arguments and returns them (for filters taking `*args` plus options).
    mutating func takeKeywords(_ names: Set<String>) -> [String: Operand] {
        var taken: [String: Operand] = [:]
        keywords.removeAll { pair in
            guard names.contains(pair.0) else { return false }
            taken[pair.0] = pair.1
            return true
        }
        return taken
    }

    func rejectKeywords() throws {
        if let (k, _) = keywords.first { throw failure("got an unexpected keyword argument '\(k)'") }
    }
}

// MARK: Argument conversions with messages naming the callee

extension Arguments {
    func string(_ v: Value?, _ what: String) throws -> String? {
        guard let v else { return nil }
        guard case .string(let s) = v else { throw failure("\(what) must be a string, not \(Py.typeName(v))") }
        return s
    }

    func int(_ v: Value?, _ what: String) throws -> Int? {
        guard let v else { return nil }
        if let i = Py.asInt(v) { return i }
        if case .double(let d) = v, d == d.rounded(), abs(d) < 9e18 { return Int(d) }
        if case .string(let s) = v, let i = Int(s.trimmingCharacters(in: .whitespaces)) { return i }
        throw failure("\(what) must be an integer, not \(Py.typeName(v))")
    }

    func bool(_ v: Value?, _ what: String) throws -> Bool? {
        guard let v else { return nil }
        if case .null = v { return false }
        return v.isTruthy
    }
}

