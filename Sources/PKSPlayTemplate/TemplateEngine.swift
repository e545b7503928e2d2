import Foundation
import PKSPlayCore

/// Options of the `template` module that change how a template file is lexed.
public struct TemplateOptions: Sendable, Hashable {
    /// Remove the first newline after a `{% %}` or `{# #}` tag (Ansible's default: true).
    public var trimBlocks: Bool
    /// Remove blanks between the start of a line and a `{% %}` tag.
    public var lstripBlocks: Bool

    public init(trimBlocks: Bool = true, lstripBlocks: Bool = false) {
        self.trimBlocks = trimBlocks
        self.lstripBlocks = lstripBlocks
    }
}

/// Renders Jinja2 templates and evaluates expressions the way Ansible 2.19 does.
///
/// Parsed templates are cached process-wide by text, so rendering the same task on many hosts
/// parses once. Safe to use from many threads.
public struct TemplateEngine: Sendable {
    public let lookups: (any LookupProvider)?

    public init(lookups: (any LookupProvider)? = nil) {
        self.lookups = lookups
    }

    /// True when a string contains template syntax (`{{`, `{%` or `{#`).
    public static func isTemplated(_ s: String) -> Bool {
        var previousBrace = false
        for u in s.utf8 {
            if previousBrace, u == UInt8(ascii: "{") || u == UInt8(ascii: "%") || u == UInt8(ascii: "#") { return true }
            previousBrace = u == UInt8(ascii: "{")
        }
        return false
    }

    /// Renders a string containing `{{ }}`, `{% %}`, `{# #}` as a task argument.
    ///
    /// When the template produces exactly one value (one `{{ expr }}`, possibly inside `{% if %}`
    /// or followed by one trailing newline), that value comes back with its native type: a list stays
    /// a list, an int stays an int, and a null stays null. Otherwise the pieces are joined into a string,
    /// with nulls left out. Strings without template syntax come back unchanged. As in Ansible, string
    /// literals inside `{{ }}` keep their backslashes (YAML already processed the escapes).
    public func render(_ text: String, _ scope: any VariableScope) throws -> Value {
        guard TemplateEngine.isTemplated(text) else { return .string(text) }
        let renderer = Renderer(scope: scope, lookups: lookups)
        let chunks = try run(text, key: .init(text: text, options: LexerOptions(trimBlocks: true, lstripBlocks: false, rawStringsInVariables: true)), renderer)
        switch chunks.count {
        case 0: return .null
        case 1:
            if case .string(let s) = chunks[0] { return .string(TemplateEngine.restoringTrailingNewlines(s, of: text)) }
            return chunks[0]
        default:
            return .string(TemplateEngine.restoringTrailingNewlines(Renderer.join(chunks), of: text))
        }
    }

    /// Renders a template file's text to a string, as the `template` module does.
    ///
    /// Honours trim_blocks and lstrip_blocks; keeps the template's trailing newlines; backslash
    /// escapes in string literals are interpreted (the text did not come through YAML).
    public func renderText(_ text: String, _ scope: any VariableScope, options: TemplateOptions = .init()) throws -> String {
        guard TemplateEngine.isTemplated(text) else { return text }
        let renderer = Renderer(scope: scope, lookups: lookups)
        let lexer = LexerOptions(trimBlocks: options.trimBlocks, lstripBlocks: options.lstripBlocks, rawStringsInVariables: false)
        let chunks = try run(text, key: .init(text: text, options: lexer), renderer)
        return TemplateEngine.restoringTrailingNewlines(Renderer.join(chunks), of: text)
    }

    /// Evaluates a raw expression (`when:`, `changed_when:`, `failed_when:`, `until:`, `assert: that:`).
    ///
    /// The text has no delimiters; a whole expression wrapped in `{{ }}` is accepted too, but
    /// delimiters inside an expression are a syntax error, as in Ansible 2.19. String constants that
    /// look like templates are rendered (Ansible's backward-compatible behaviour in conditionals).
    /// Returns the value; deciding that a condition must be a boolean is the caller's business.
    public func evaluate(_ expression: String, _ scope: any VariableScope) throws -> Value {
        let compiled = try compiledExpression(expression)
        let renderer = Renderer(scope: scope, lookups: lookups, renderConstantTemplates: true)
        return try LargeStack.run(if: compiled.depth > LargeStack.shallowDepth) {
            try renderer.value(compiled.expression)
        }
    }

    /// Recursively renders every string inside a value, keeping native types for whole-expression strings.
    /// Dictionary keys that contain template syntax are rendered to strings too.
    public func renderValue(_ value: Value, _ scope: any VariableScope) throws -> Value {
        switch value {
        case .string(let s): return try render(s, scope)
        case .list(let items): return .list(try items.map { try renderValue($0, scope) })
        case .dict(let d):
            var out = ValueDict()
            for (k, v) in d {
                let key = TemplateEngine.isTemplated(k) ? Py.str(try render(k, scope)) : k
                out[key] = try renderValue(v, scope)
            }
            return .dict(out)
        default: return value
        }
    }

    // MARK: Internals

    private func run(_ text: String, key: TemplateCache.Key, _ renderer: Renderer) throws -> [Value] {
        let template = try TemplateCache.shared.template(for: key) {
            try Parser.parseTemplate(SourceText(TemplateEngine.normalizedSource(text)), options: key.options)
        }
        return try LargeStack.run(if: template.depth > LargeStack.shallowDepth) {
            var chunks: [Value] = []
            try renderer.execute(template.body, into: &chunks)
            return chunks
        }
    }

    private func compiledExpression(_ text: String) throws -> CompiledExpression {
        try TemplateCache.shared.expression(for: text) {
            var body = text
            // `{{ expr }}` around the whole condition is tolerated.
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}"), trimmed.count >= 4 {
                let inner = String(trimmed.dropFirst(2).dropLast(2))
                if !inner.contains("{{"), !inner.contains("}}") {
                    body = inner.hasPrefix("-") ? String(inner.dropFirst()) : inner
                    if body.hasSuffix("-") { body = String(body.dropLast()) }
                }
            }
            let source = SourceText(body.replacingOccurrences(of: "\r\n", with: "\n"))
            do {
                return try Parser.parseBareExpression(source)
            } catch let error as TemplateError where error.kind == .syntax && (body.contains("{{") || body.contains("{%")) {
                throw TemplateError(.syntax, "template delimiters are not supported inside an expression", line: error.line, column: error.column,
                                    hint: "write the expression without {{ }}, for example `when: x == 42` rather than `when: \"{{ x }} == 42\"`")
            }
        }
    }

    /// Jinja's view of the source: newlines normalised to `\n` and one trailing newline dropped.
    static func normalizedSource(_ text: String) -> String {
        var s = text
        if s.contains("\r") {
            s = s.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        }
        if s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    /// Ansible adds back the template's trailing newlines that Jinja dropped.
    static func restoringTrailingNewlines(_ result: String, of template: String) -> String {
        func trailingNewlines(_ s: String) -> Int {
            var n = 0
            for u in s.unicodeScalars.reversed() {
                if u == "\n" { n += 1 } else if u != "\r" { break }
            }
            return n
        }
        let missing = trailingNewlines(template) - trailingNewlines(result)
        return missing > 0 ? result + String(repeating: "\n", count: missing) : result
    }
}

/// Process-wide cache of parsed templates and expressions, keyed by text and lexing options.
final class TemplateCache: @unchecked Sendable {
    struct Key: Hashable {
        var text: String
        var options: LexerOptions
    }

    static let shared = TemplateCache()
    /// Bounded so a run that templates many distinct strings cannot grow memory without end.
    static let capacity = 8192

    private let lock = NSLock()
    private var templates: [Key: CompiledTemplate] = [:]
    private var expressions: [String: CompiledExpression] = [:]

    func template(for key: Key, parse: () throws -> CompiledTemplate) throws -> CompiledTemplate {
        if let hit = lock.withLock({ templates[key] }) { return hit }
        let parsed = try parse()
        lock.withLock {
            if templates.count >= TemplateCache.capacity { templates.removeAll(keepingCapacity: true) }
            templates[key] = parsed
        }
        return parsed
    }

    func expression(for text: String, parse: () throws -> CompiledExpression) throws -> CompiledExpression {
        if let hit = lock.withLock({ expressions[text] }) { return hit }
        let parsed = try parse()
        lock.withLock {
            if expressions.count >= TemplateCache.capacity { expressions.removeAll(keepingCapacity: true) }
            expressions[text] = parsed
        }
        return parsed
    }
}
