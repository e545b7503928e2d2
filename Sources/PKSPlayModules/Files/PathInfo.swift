import PKSPlayCore

/// One `stat` of a path on the target, as its numbers and names.
struct StatRecord: Sendable, Hashable {
    enum Kind: String, Sendable { case file, directory, link, fifo, socket, char, block, unknown }
    var kind: Kind
    /// Permission bits, special bits included (`0o4755`).
    var mode: Int
    var uid: Int
    var gid: Int
    var size: Int
    var inode: Int
    var device: Int
    var nlink: Int
    var atime: Int
    var mtime: Int
    var ctime: Int
    /// `UNKNOWN` when the uid has no name on the target.
    var owner: String
    var group: String

    /// Parses the line printed by `stat -c '%f %u %g %s %i %d %h %X %Y %Z %U %G'`.
    init?(_ line: String) {
        let f = line.trimmingCharacters(in: .newlines).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard f.count >= 12, let raw = Int(f[0], radix: 16) else { return nil }
        let nums = f[1...9].map { Int($0) }
        guard !nums.contains(nil) else { return nil }
        kind = Self.kind(ofMode: raw)
        mode = raw & 0o7777
        uid = nums[0]!; gid = nums[1]!; size = nums[2]!; inode = nums[3]!; device = nums[4]!
        nlink = nums[5]!; atime = nums[6]!; mtime = nums[7]!; ctime = nums[8]!
        owner = f[10]; group = f[11...].joined(separator: " ")
    }

    /// What a connection's ``Connection/fileStatuses(_:)`` said: numbers only (no names, inode,
    /// device or ctime; one link).
    init(_ status: FileStatus) {
        self.init(kind: Self.kind(ofMode: status.mode), mode: status.mode & 0o7777, uid: status.uid, gid: status.gid)
        size = status.size; atime = status.atime; mtime = status.mtime
    }

    static func kind(ofMode raw: Int) -> Kind {
        switch raw & 0o170000 {
        case 0o100000: return .file
        case 0o040000: return .directory
        case 0o120000: return .link
        case 0o010000: return .fifo
        case 0o140000: return .socket
        case 0o020000: return .char
        case 0o060000: return .block
        default: return .unknown
        }
    }

    init(kind: Kind, mode: Int, uid: Int, gid: Int, owner: String = "", group: String = "") {
        self.kind = kind; self.mode = mode; self.uid = uid; self.gid = gid
        self.size = 0; self.inode = 0; self.device = 0; self.nlink = 1; self.atime = 0; self.mtime = 0; self.ctime = 0
        self.owner = owner; self.group = group
    }
}

/// What the target says about one path: its own `lstat`, and for a symbolic link where it points
/// and what is there.
struct PathInfo: Sendable, Hashable {
    var path: String
    /// `nil` when nothing is at `path` (not even a dangling link).
    var lstat: StatRecord?
    /// `readlink` of a link.
    var linkTarget: String?
    /// `readlink -f` of a link (empty when the chain is broken before its last step).
    var resolvedPath: String?
    /// `stat -L` of a link whose target exists.
    var followed: StatRecord?
    var readable = false
    var writable = false
    var executable = false
    /// Whether the directory holding `path` is set-group-ID (new files there take its group);
    /// `nil` when not inspected.
    var parentSetGID: Bool?
    /// Digest of the content of a readable regular file (followed through links), when asked for.
    var checksum: String?

    var exists: Bool { lstat != nil }
    var kind: StatRecord.Kind? { lstat?.kind }
    var isLink: Bool { lstat?.kind == .link }
    /// The stat after following a link; the path's own stat otherwise; `nil` when absent or dangling.
    var effective: StatRecord? { isLink ? followed : lstat }

    /// Ansible's `get_state`: absent, link, directory, hard (a file with more than one name), file.
    var ansibleState: String {
        guard let s = lstat else { return "absent" }
        switch s.kind {
        case .link: return "link"
        case .directory: return "directory"
        default: return s.nlink > 1 ? "hard" : "file"
        }
    }
}

/// Facts about the shell session on the target that several modules need.
struct TargetFacts: Sendable, Hashable {
    var umask: Int
    var euid: Int
    var egid: Int
    /// PID of the inspecting shell, used in backup names as Ansible uses its module's PID.
    var pid: Int
    /// `YYYY-MM-DD@HH:MM:SS` in the target's local time.
    var timestamp: String

    /// `path.PID.YYYY-MM-DD@HH:MM:SS~`, Ansible's backup name.
    func backupName(for path: String) -> String { "\(path).\(pid).\(timestamp)~" }
}

/// Everything one inspection returned.
struct Inspection: Sendable {
    var facts: TargetFacts
    var infos: [PathInfo]
    /// uid of the `owner` asked about, when it resolves on the target.
    var ownerID: Int?
    /// gid of the `group` asked about, when it resolves on the target.
    var groupID: Int?
}
