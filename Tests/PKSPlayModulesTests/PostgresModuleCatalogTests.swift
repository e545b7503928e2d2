import Foundation
import PKSPlayCore
@testable import PKSPlayModules
import Testing

/// What `pksplay modules NAME` shows for the container and PostgreSQL modules is complete and true:
/// every example uses only arguments the module has, secrets are marked, names do not collide.
@Suite("container and PostgreSQL module catalog")
struct PostgresModuleCatalogTests {
    static let modules: [any Module.Type] = ContainerModules.all + PostgreSQLModules.all

    @Test("the registries list each module once, under the names playbooks use")
    func names() {
        #expect(ContainerModules.all.map { $0.name } == ["container_exec", "container"])
        #expect(PostgreSQLModules.all.map { $0.name } == ["postgresql_query", "postgresql_user", "postgresql_set", "postgresql_pg_hba", "postgresql_slot"])
        let registry = ModuleRegistry(Self.modules)
        #expect(registry.module(named: "community.postgresql.postgresql_query") == PostgreSQLQueryModule.self)
        #expect(registry.module(named: "postgresql_sql") == PostgreSQLQueryModule.self)
    }

    @Test("argument names and aliases are unique within each module", arguments: modules.map { ModuleBox($0) })
    func uniqueArguments(box: ModuleBox) {
        let all = box.module.arguments.arguments.flatMap { [$0.name] + $0.aliases }
        #expect(Set(all).count == all.count, "\(box.module.name): \(all)")
    }

    @Test("passwords are no_log arguments", arguments: modules.map { ModuleBox($0) })
    func secretsMarked(box: ModuleBox) {
        for arg in box.module.arguments.arguments where arg.name.contains("password") {
            #expect(arg.noLog, "\(box.module.name).\(arg.name)")
        }
    }

    @Test("documentation has a summary, notes, and an example that uses only real arguments", arguments: modules.map { ModuleBox($0) })
    func documentation(box: ModuleBox) {
        let m = box.module
        #expect(!m.documentation.summary.isEmpty && !m.documentation.notes.isEmpty)
        let keys = Self.exampleArguments(m.documentation.example, module: m.name)
        #expect(!keys.isEmpty, "\(m.name): the example does not call the module")
        for key in keys {
            #expect(m.arguments.argument(named: key) != nil, "\(m.name) example uses unknown argument '\(key)'")
        }
    }

    /// The argument keys written directly under `module:` lines of a YAML task list.
    static func exampleArguments(_ yaml: String, module: String) -> [String] {
        var keys: [String] = []
        var moduleIndent: Int?
        var argumentIndent: Int?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            let text = line.dropFirst(indent)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if let mi = moduleIndent {
                if indent <= mi { moduleIndent = nil; argumentIndent = nil } else {
                    if argumentIndent == nil { argumentIndent = indent }
                    if indent == argumentIndent, let colon = text.firstIndex(of: ":") { keys.append(String(text[..<colon])) }
                    continue
                }
            }
            if text.trimmingCharacters(in: .whitespaces) == "\(module):" { moduleIndent = indent }
        }
        return keys
    }
}

/// A module type for parameterised tests (metatypes are not Sendable arguments by themselves).
struct ModuleBox: Sendable, CustomStringConvertible {
    let module: any Module.Type
    init(_ module: any Module.Type) { self.module = module }
    var description: String { module.name }
}
