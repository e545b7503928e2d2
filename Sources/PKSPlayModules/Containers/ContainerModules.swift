import PKSPlayCore

/// The container modules, for the registry: `container_exec` and `container`, over docker or podman.
public enum ContainerModules {
    public static let all: [any Module.Type] = [
        ContainerExecModule.self,
        ContainerModule.self,
    ]
}
