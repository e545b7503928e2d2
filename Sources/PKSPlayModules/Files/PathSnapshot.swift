import Foundation
import PKSPlayCore

/// What one path was before a change, kept as data in the journal so rollback can put it back
/// byte for byte: content and attributes of a file, a link's target, a directory's attributes,
/// a removed directory as a tar archive, or "nothing was here".
struct PathSnapshot: Sendable, Hashable {
    enum State: Sendable, Hashable {
        /// Nothing was at the path: undo removes what is there (a directory only when empty).
        case absent
        case file(Data)
        case link(String)
        case directory
        /// Only the attributes changed (mode, owner, times); the object itself stays.
        case metadata
        /// A directory removed with its content: a tar archive of it, extracted into its parent.
        case tree(Data)
    }

    var path: String
    var state: State
    var mode: Int?
    var uid: Int?
    var gid: Int?
    var mtime: Int?
    var atime: Int?

    /// The snapshot of what `info` shows, with `content` for a regular file.
    static func of(_ info: PathInfo, content: Data?) -> PathSnapshot {
        guard let st = info.lstat else { return PathSnapshot(path: info.path, state: .absent) }
        let state: State
        switch st.kind {
        case .link: state = .link(info.linkTarget ?? "")
        case .directory: state = .directory
        default: state = content.map(State.file) ?? .metadata
        }
        return PathSnapshot(path: info.path, state: state, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime, atime: st.atime)
    }

    static func metadata(_ info: PathInfo, times: Bool = false) -> PathSnapshot {
        let st = info.lstat
        return PathSnapshot(path: info.path, state: .metadata, mode: st?.mode, uid: st?.uid, gid: st?.gid,
                            mtime: times ? st?.mtime : nil, atime: times ? st?.atime : nil)
    }

    var value: Value {
        var d: ValueDict = ["path": .string(path)]
        switch state {
        case .absent: d["state"] = "absent"
        case .file(let data): d["state"] = "file"; d["content"] = .string(data.base64EncodedString())
        case .link(let target): d["state"] = "link"; d["target"] = .string(target)
        case .directory: d["state"] = "directory"
        case .metadata: d["state"] = "metadata"
        case .tree(let data): d["state"] = "tree"; d["archive"] = .string(data.base64EncodedString())
        }
        if let mode { d["mode"] = .string(FileModeSpec.octalText(mode)) }
        if let uid { d["uid"] = .int(uid) }
        if let gid { d["gid"] = .int(gid) }
        if let mtime { d["mtime"] = .int(mtime) }
        if let atime { d["atime"] = .int(atime) }
        return .dict(d)
    }

    init(path: String, state: State, mode: Int? = nil, uid: Int? = nil, gid: Int? = nil, mtime: Int? = nil, atime: Int? = nil) {
        self.path = path; self.state = state; self.mode = mode; self.uid = uid; self.gid = gid; self.mtime = mtime; self.atime = atime
    }

    init?(_ value: Value) {
        guard let d = value.dictValue, let path = d["path"]?.stringValue, let kind = d["state"]?.stringValue else { return nil }
        self.path = path
        switch kind {
        case "absent": state = .absent
        case "file":
            guard let b = d["content"]?.stringValue, let data = Data(base64Encoded: b) else { return nil }
            state = .file(data)
        case "link":
            guard let t = d["target"]?.stringValue else { return nil }
            state = .link(t)
        case "directory": state = .directory
        case "metadata": state = .metadata
        case "tree":
            guard let b = d["archive"]?.stringValue, let data = Data(base64Encoded: b) else { return nil }
            state = .tree(data)
        default: return nil
        }
        mode = d["mode"]?.stringValue.flatMap(FileModeSpec.parseOctal)
        uid = d["uid"]?.intValue
        gid = d["gid"]?.intValue
        mtime = d["mtime"]?.intValue
        atime = d["atime"]?.intValue
    }
}

/// The undo of one file task: snapshots to restore in order, then files the task created on the
/// side (backups, a temporary file if the run was killed mid-write) to remove.
struct FileUndoPlan: Sendable, Hashable {
    var snapshots: [PathSnapshot] = []
    var remove: [String] = []
    /// Set when a change cannot be reversed; undo then fails with this reason.
    var irreversible: String?

    var value: Value {
        var d: ValueDict = ["snapshots": .list(snapshots.map(\.value)), "remove": .list(remove.map(Value.string))]
        if let irreversible { d["irreversible"] = .string(irreversible) }
        return .dict(d)
    }

    init(snapshots: [PathSnapshot] = [], remove: [String] = [], irreversible: String? = nil) {
        self.snapshots = snapshots; self.remove = remove; self.irreversible = irreversible
    }

    init?(_ value: Value) {
        guard let d = value.dictValue, let list = d["snapshots"]?.listValue else { return nil }
        var snaps: [PathSnapshot] = []
        for v in list {
            guard let s = PathSnapshot(v) else { return nil }
            snaps.append(s)
        }
        snapshots = snaps
        remove = d["remove"]?.listValue?.compactMap(\.stringValue) ?? []
        irreversible = d["irreversible"]?.stringValue
    }

    func record(module: String, summary: String) -> UndoRecord {
        UndoRecord(module: module, summary: summary, data: value)
    }
}
