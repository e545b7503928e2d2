import Foundation
import PKSPlayCore
import PKSPlayTemplate
import Testing

/// One row of the Ansible-observed table: a template, its variables (JSON) and what Ansible produced.
struct Case: Sendable, CustomTestStringConvertible {
    enum Mode: Sendable {
        /// `TemplateEngine.render`, as for task arguments.
        case render
        /// `TemplateEngine.renderText`, as for the template module.
        case text
        /// `renderText` with lstrip_blocks on.
        case textLstrip
        /// `renderText` with trim_blocks off.
        case textNoTrim
        /// `TemplateEngine.evaluate`, as for `when:`.
        case eval
    }

    enum Expected: Sendable {
        case json(String)
        case string(String)
        case double(Double)
        case error(TemplateError.Kind)
    }

    let template: String
    let vars: String?
    let mode: Mode
    let expected: Expected

    init(_ template: String, vars: String? = nil, mode: Mode = .render, _ expected: Expected) {
        self.template = template
        self.vars = vars
        self.mode = mode
        self.expected = expected
    }

    var testDescription: String { "\(mode): \(template.debugDescription)" }

    func run() throws -> Value {
        let scope = DictScope(try Value.parseJSON(vars ?? AnsibleCases.defaultVars).dictValue ?? [:])
        let engine = TemplateEngine(lookups: StandardLookups(baseDirectory: NSTemporaryDirectory()))
        switch mode {
        case .render: return try engine.render(template, scope)
        case .text: return .string(try engine.renderText(template, scope))
        case .textLstrip: return .string(try engine.renderText(template, scope, options: TemplateOptions(trimBlocks: true, lstripBlocks: true)))
        case .textNoTrim: return .string(try engine.renderText(template, scope, options: TemplateOptions(trimBlocks: false, lstripBlocks: false)))
        case .eval: return try engine.evaluate(template, scope)
        }
    }

    func check() throws {
        switch expected {
        case .error(let kind):
            do {
                let v = try run()
                Issue.record("expected a \(kind) error, got \(v.pythonRepr)")
            } catch let error as TemplateError {
                #expect(error.kind == kind, "\(error)")
                #expect(!error.message.isEmpty)
            }
        case .json(let json):
            #expect(try run() == (try Value.parseJSON(json)))
        case .string(let s):
            #expect(try run() == .string(s))
        case .double(let d):
            let v = try run()
            if d.isNaN {
                guard case .double(let x) = v else {
                    Issue.record("expected nan, got \(v.pythonRepr)")
                    return
                }
                #expect(x.isNaN)
            } else {
                #expect(v == .double(d))
            }
        }
    }
}

@Suite("Templates behave as in Ansible 2.19")
struct AnsibleCaseTests {
    @Test(arguments: AnsibleCases.literals) func literals(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.operators) func operators(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.access) func access(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.undefined) func undefined(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.coreFilters) func coreFilters(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.stringFilters) func stringFilters(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.regexFilters) func regexFilters(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.collectionFilters) func collectionFilters(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.dataFilters) func dataFilters(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.pathFilters) func pathFilters(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.tests) func tests(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.statements) func statements(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.whitespace) func whitespace(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.templateMode) func templateMode(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.expressions) func expressions(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.syntaxErrors) func syntaxErrors(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.laterChecks) func combinations(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.lstripBlocks) func lstripBlocks(_ c: Case) throws { try c.check() }
    @Test(arguments: AnsibleCases.noTrimBlocks) func noTrimBlocks(_ c: Case) throws { try c.check() }
}
