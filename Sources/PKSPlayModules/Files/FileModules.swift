import PKSPlayCore

/// The file and state modules, for the registry.
public enum FileModules {
    public static let all: [any Module.Type] = [
        StatModule.self,
        FileModule.self,
        LineInFileModule.self,
        BlockInFileModule.self,
        ReplaceModule.self,
        CopyModule.self,
        TemplateModule.self,
        MoveModule.self,
        WaitForModule.self,
    ]
}
