import Foundation
import PKSPlayCore
import PKSPlayTemplate

/// The layers of variables one task sees on one host, lowest precedence first, as Ansible orders them.
struct VariableLayers: Sendable {
    var roleDefaults: ValueDict = [:]
    var inventory: ValueDict = [:]
    var facts: ValueDict = [:]
    var play: ValueDict = [:]
    var varsFiles: ValueDict = [:]
    var roleVars: ValueDict = [:]
    var block: ValueDict = [:]
    var task: ValueDict = [:]
    var hostVars: ValueDict = [:]  // set_fact and register
    /// Role params and include params outrank set_fact and register, as in Ansible.
    var includeParams: ValueDict = [:]
    var extra: ValueDict = [:]
    var magic: ValueDict = [:]

    /// One dictionary in which the highest layer wins.
    func merged() -> ValueDict {
        var out = roleDefaults
        for layer in [inventory, facts, play, varsFiles, roleVars, block, task, hostVars, includeParams, extra, magic] {
            out.merge(layer)
        }
        return out
    }
}

/// Variables as templates see them: values are rendered when they are read, so `a: "{{ b }}"`
/// follows `b` wherever it is defined, as in Ansible.
final class TaskScope: VariableScope, @unchecked Sendable {
    private let raw: ValueDict
    private let templates: TemplateEngine
    private let lazy: [String: @Sendable () -> Value]
    private let lock = NSLock()
    private var cache: [String: Value] = [:]
    private var resolving: Set<String> = []

    init(_ raw: ValueDict, templates: TemplateEngine, lazy: [String: @Sendable () -> Value] = [:]) {
        self.raw = raw
        self.templates = templates
        self.lazy = lazy
    }

    func lookup(_ name: String) -> Value? {
        lock.lock()
        if let v = cache[name] { lock.unlock(); return v }
        if resolving.contains(name) {
            lock.unlock()
            return nil  // a variable defined through itself: undefined, as Ansible's recursion error would end
        }
        resolving.insert(name)
        lock.unlock()
        defer { lock.lock(); resolving.remove(name); lock.unlock() }
        let value: Value
        if let v = raw[name] {
            // A value that cannot be rendered reads as undefined, so the error names the variable used.
            guard let rendered = try? templates.renderValue(v, self) else { return nil }
            value = rendered
        } else if let make = lazy[name] {
            value = make()
        } else {
            return nil
        }
        lock.lock()
        cache[name] = value
        lock.unlock()
        return value
    }

    /// A scope with more variables on top (loop items, the registered result in `changed_when`).
    func adding(_ extra: ValueDict) -> TaskScope {
        TaskScope(raw.merging(extra), templates: templates, lazy: lazy)
    }
}

/// The placeholder `omit` renders to; arguments whose value is it are dropped.
let omitPlaceholder = "__omit_place_holder__pksplay__"

extension Value {
    /// Removes `omit`ted keys from a rendered argument dictionary, recursively.
    func removingOmitted() -> Value {
        switch self {
        case .dict(let d):
            var out = ValueDict()
            for (k, v) in d where v != .string(omitPlaceholder) { out[k] = v.removingOmitted() }
            return .dict(out)
        case .list(let l): return .list(l.filter { $0 != .string(omitPlaceholder) }.map { $0.removingOmitted() })
        default: return self
        }
    }
}
