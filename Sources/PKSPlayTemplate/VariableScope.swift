import PKSPlayCore

/// Variables visible to a template.
///
/// The engine implements it lazily (hostvars, facts and templated variables may be computed on
/// demand). `lookup` returns nil when the name is undefined; a defined null is `.null`.
public protocol VariableScope: Sendable {
    func lookup(_ name: String) -> Value?
}

/// A scope over a plain dictionary, for tests and simple callers.
public struct DictScope: VariableScope {
    public var vars: ValueDict
    public init(_ vars: ValueDict) { self.vars = vars }
    public func lookup(_ name: String) -> Value? { vars[name] }
}

/// Supplies `lookup()` / `query()` plugins to templates.
///
/// Return the plugin's list of results, as Ansible's `LookupBase.run` does; a non-list result is
/// treated as a one-element list. The template layer applies `wantlist` and the comma-joining of
/// `lookup()` itself. Throw ``TemplateError`` of kind `.lookup` for an unknown plugin.
public protocol LookupProvider: Sendable {
    func lookup(_ name: String, _ terms: [Value], _ kwargs: ValueDict, _ scope: any VariableScope) throws -> Value
}

/// Local template variables (`{% set %}`, loop variables) layered over the caller's scope.
struct LayeredScope: VariableScope {
    let locals: [String: Value]
    let base: any VariableScope
    func lookup(_ name: String) -> Value? { locals[name] ?? base.lookup(name) }
}
