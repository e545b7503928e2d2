import PKSPlayCore

/// The PostgreSQL modules, for the registry: queries, roles, settings, pg_hba.conf rules and
/// replication slots, run through psql on the host or inside the database container.
public enum PostgreSQLModules {
    public static let all: [any Module.Type] = [
        PostgreSQLQueryModule.self,
        PostgreSQLUserModule.self,
        PostgreSQLSetModule.self,
        PostgreSQLPgHBAModule.self,
        PostgreSQLSlotModule.self,
    ]
}
