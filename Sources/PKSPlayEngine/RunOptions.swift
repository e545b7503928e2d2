import PKSPlayCore

/// What the command line asked of a run.
public struct RunOptions: Sendable {
    public var checkMode = false
    public var diffMode = false
    public var limit: [String] = []
    public var tags: [String] = []
    public var skipTags: [String] = []
    public var startAtTask: String?
    public var forks = 16
    public var extraVars: ValueDict = [:]
    public var verbosity = 0
    public var forceHandlers = false
    /// `-c`: overrides `ansible_connection` for every host.
    public var connection: String?
    /// `-u`: the default `ansible_user`.
    public var remoteUser: String?
    /// `-b` / `--become-user` / `--become-method`.
    public var become: Bool?
    public var becomeUser: String?
    public var becomeMethod: String?
    public var becomePassword: String?
    public var rollbackOnFailure = false
    /// The run's journal id, visible to playbooks as `pksplay_run_id` (names things a run creates).
    public var runID = "norun"

    public init() {}
}
