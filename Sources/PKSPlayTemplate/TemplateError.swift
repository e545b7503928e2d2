import PKSPlayCore

/// A template or expression that could not be parsed or evaluated, with what went wrong and where.
///
/// `line`/`column` are 1-based positions within the template text (not the YAML file); the engine adds
/// the file location of the task. `name` is the undefined variable, the unknown filter/test/lookup, or
/// the filter that failed, whichever applies.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The text is not valid template syntax; `line` and `column` say where.
        case syntax
        /// A variable, attribute or item was used but is not defined; `name` says which.
        case undefined
        /// An operation got a value of the wrong type (`'a' + 1`, iterating an int, ...).
        case type
        /// Arithmetic failed: division by zero, integer overflow.
        case arithmetic
        /// A filter failed on its input or arguments; `name` is the filter.
        case filter
        /// A test failed on its input or arguments; `name` is the test.
        case test
        /// No filter by that name; `hint` suggests the closest one.
        case unknownFilter
        /// No test by that name; `hint` suggests the closest one.
        case unknownTest
        /// No function or method by that name.
        case unknownFunction
        /// A lookup plugin was unknown or failed; `name` is the lookup.
        case lookup
        /// A safety limit was hit: nesting too deep, range or output too large, too many loop iterations.
        case limit
    }

    public var kind: Kind
    public var message: String
    public var name: String?
    public var line: Int?
    public var column: Int?
    public var hint: String?

    public init(_ kind: Kind, _ message: String, name: String? = nil, line: Int? = nil, column: Int? = nil, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.name = name
        self.line = line
        self.column = column
        self.hint = hint
    }

    /// `message (line L, column C)` then the hint on its own line.
    public var description: String {
        var s = kind == .syntax ? "template syntax error: \(message)" : message
        if let line, let column { s += " (line \(line), column \(column))" }
        if let hint { s += "\n  hint: \(hint)" }
        return s
    }

    static func syntax(_ message: String, at offset: Int, in source: SourceText, hint: String? = nil) -> TemplateError {
        let (line, column) = source.lineAndColumn(of: offset)
        return TemplateError(.syntax, message, line: line, column: column, hint: hint)
    }

    static func undefined(_ u: Undefined) -> TemplateError {
        TemplateError(.undefined, u.message, name: u.name)
    }

    static func type(_ message: String) -> TemplateError { TemplateError(.type, message) }

    static func filter(_ name: String, _ message: String) -> TemplateError {
        TemplateError(.filter, "filter '\(name)': \(message)", name: name)
    }

    static func test(_ name: String, _ message: String) -> TemplateError {
        TemplateError(.test, "test '\(name)': \(message)", name: name)
    }
}
