import PKSPlayCore

extension Engine {
    public static func tagNames(_ v: Value?) -> [String] { v.map { tagList($0).sorted() } ?? [] }

    /// `list-tasks` lines: each task's name with its tags, in run order.
    public static func describeTasks(_ play: Play) -> [String] {
        var out: [String] = []
        func walk(_ nodes: [TaskNode], _ inherited: Set<String>, _ prefix: String) {
            for n in nodes {
                switch n {
                case .task(let t):
                    let tags = inherited.union(t.keywords["tags"].map(tagList) ?? [])
                    out.append("\(prefix)\(t.displayName)\tTAGS: [\(tags.sorted().joined(separator: ", "))]")
                case .block(let b):
                    let tags = inherited.union(b.keywords["tags"].map(tagList) ?? [])
                    let p = b.role.map { "\($0.name) : " } ?? prefix
                    walk(b.block + b.rescue + b.always, tags, p)
                }
            }
        }
        let playTags = play.keywords["tags"].map(tagList) ?? []
        walk(play.preTasks, playTags, "")
        for r in play.roles { walk(r.tasks, playTags.union(r.keywords["tags"].map(tagList) ?? []), "\(r.name) : ") }
        walk(play.tasks, playTags, "")
        walk(play.postTasks, playTags, "")
        return out
    }

    /// Every tag used in a play.
    public static func allTags(_ play: Play) -> Set<String> {
        var out: Set<String> = play.keywords["tags"].map(tagList) ?? []
        func walk(_ nodes: [TaskNode]) {
            for n in nodes {
                switch n {
                case .task(let t): out.formUnion(t.keywords["tags"].map(tagList) ?? [])
                case .block(let b):
                    out.formUnion(b.keywords["tags"].map(tagList) ?? [])
                    walk(b.block + b.rescue + b.always)
                }
            }
        }
        walk(play.preTasks + play.tasks + play.postTasks + play.handlers)
        for r in play.roles { out.formUnion(r.keywords["tags"].map(tagList) ?? []); walk(r.tasks) }
        return out
    }
}
