import PKSPlayCore

/// Every module pksplay ships, in one explicit registry (no reflection).
public enum StandardModules {
    public static let all: [any Module.Type] = CommandModules.all + FileModules.all + ContainerModules.all + PostgreSQLModules.all

    public static var registry: ModuleRegistry { ModuleRegistry(all) }
}
