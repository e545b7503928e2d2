import PKSPlayCore

/// The modules of the `Commands/` and `Controller/` folders, for the run's ``ModuleRegistry``.
public enum CommandModules {
    public static let all: [any Module.Type] = [
        CommandModule.self, ShellModule.self, RawModule.self, ScriptModule.self, PingModule.self,
        DebugModule.self, AssertModule.self, FailModule.self, SetFactModule.self, IncludeVarsModule.self, PauseModule.self,
    ]
}
