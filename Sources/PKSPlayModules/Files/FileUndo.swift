import Foundation
import PKSPlayCore

/// Rollback of the file modules: puts back what a ``FileUndoPlan`` recorded.
///
/// Idempotent: each snapshot is compared with what is there now (kind, SHA-1 of the content,
/// mode, owner) and only a difference is acted on, so a second undo reports no change.
enum FileUndo {
    static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        guard let plan = FileUndoPlan(record.data) else {
            return .failure("the journal entry '\(record.summary)' is not a file undo this version can read")
        }
        if let reason = plan.irreversible {
            return .failure("cannot undo '\(record.summary)': \(reason)")
        }
        do {
            let fs = RemoteFileSystem(connection: context.connection)
            let (changed, notes) = try await restore(plan, fs: fs, checkMode: context.checkMode)
            return ModuleResult(changed: changed, msg: notes.isEmpty ? "nothing to undo: \(record.summary) is already undone" : notes.joined(separator: "; "))
        } catch let error as FileModuleError {
            return .failure(error)
        }
    }

    /// Restores every snapshot, then removes the side files; returns whether anything changed.
    static func restore(_ plan: FileUndoPlan, fs: RemoteFileSystem, checkMode: Bool) async throws -> (Bool, [String]) {
        let paths = plan.snapshots.map(\.path) + plan.remove
        guard !paths.isEmpty else { return (false, []) }
        let inspection = try await fs.inspect(paths, checksum: "sha1")
        var notes: [String] = []
        for (index, snapshot) in plan.snapshots.enumerated() {
            if let note = try await restore(snapshot, current: inspection.infos[index], fs: fs, checkMode: checkMode) {
                notes.append(note)
            }
        }
        for (offset, path) in plan.remove.enumerated() where inspection.infos[plan.snapshots.count + offset].exists {
            if inspection.infos[plan.snapshots.count + offset].kind == .directory { continue }
            if !checkMode { try await fs.sh(#"rm -f -- "$1""#, [path], what: "removing \(path)") }
            notes.append("removed \(path)")
        }
        return (!notes.isEmpty, notes)
    }

    private static func restore(_ snap: PathSnapshot, current cur: PathInfo, fs: RemoteFileSystem, checkMode: Bool) async throws -> String? {
        let p = snap.path
        switch snap.state {
        case .absent:
            guard let st = cur.lstat else { return nil }
            if !checkMode {
                if st.kind == .directory {
                    let r = try await fs.sh(#"rmdir -- "$1""#, [p], what: "removing directory \(p)", allowFailure: true)
                    if r.exitStatus != 0 {
                        throw FileModuleError.commandFailed("cannot remove the directory \(p) created by the run: it is not empty (it holds files the run did not record); empty it or leave it", r.exitStatus, r.stderrText)
                    }
                } else {
                    try await fs.sh(#"rm -f -- "$1""#, [p], what: "removing \(p)")
                }
            }
            return "removed \(p)"

        case .file(let data):
            if let st = cur.lstat, st.kind == .file, cur.checksum == SHA1.hex(data) {
                return try await fixAttributes(snap, st, fs: fs, checkMode: checkMode, noFollow: false)
            }
            if !checkMode {
                try await clear(cur, fs: fs)
                try await writeFile(data, to: p, mode: snap.mode, uid: snap.uid, gid: snap.gid, mtime: snap.mtime, atime: snap.atime, fs: fs)
            }
            return "restored \(p) (\(data.count) bytes)"

        case .link(let target):
            if let st = cur.lstat, st.kind == .link, cur.linkTarget == target {
                return try await fixAttributes(snap, st, fs: fs, checkMode: checkMode, noFollow: true)
            }
            if !checkMode {
                try await clear(cur, fs: fs)
                try await fs.sh(#"ln -s -- "$1" "$2""#, [target, p], what: "restoring the link \(p)")
                if let uid = snap.uid, let gid = snap.gid {
                    _ = try await fs.sh(#"chown -h -- "$1" "$2" 2>/dev/null || :"#, ["\(uid):\(gid)", p], what: "restoring owner of \(p)")
                }
            }
            return "restored link \(p) -> \(target)"

        case .directory:
            if let st = cur.lstat, st.kind == .directory {
                return try await fixAttributes(snap, st, fs: fs, checkMode: checkMode, noFollow: false)
            }
            if !checkMode {
                try await clear(cur, fs: fs)
                try await fs.sh(#"mkdir -- "$1""#, [p], what: "restoring the directory \(p)")
                let st = StatRecord(kind: .directory, mode: -1, uid: -1, gid: -1)
                _ = try await fixAttributes(snap, st, fs: fs, checkMode: false, noFollow: false)
            }
            return "restored directory \(p)"

        case .metadata:
            guard let st = cur.lstat else { return nil }
            return try await fixAttributes(snap, st, fs: fs, checkMode: checkMode, noFollow: st.kind == .link, times: true)

        case .tree(let archive):
            if cur.exists { return nil }
            if !checkMode {
                try await fs.sh(#"tar -xpf - -C "$1""#, [RemotePath.dirname(p)], stdin: archive, what: "restoring the directory tree \(p)")
            }
            return "restored directory tree \(p)"
        }
    }

    /// Removes whatever is at `cur.path` so something else can be put there.
    private static func clear(_ cur: PathInfo, fs: RemoteFileSystem) async throws {
        guard let st = cur.lstat else { return }
        if st.kind == .directory {
            let r = try await fs.sh(#"rmdir -- "$1""#, [cur.path], what: "removing directory \(cur.path)", allowFailure: true)
            if r.exitStatus != 0 {
                throw FileModuleError.commandFailed("cannot restore \(cur.path): a non-empty directory is there now", r.exitStatus, r.stderrText)
            }
        } else {
            try await fs.sh(#"rm -f -- "$1""#, [cur.path], what: "removing \(cur.path)")
        }
    }

    private static func fixAttributes(_ snap: PathSnapshot, _ st: StatRecord, fs: RemoteFileSystem, checkMode: Bool, noFollow: Bool,
                                      times: Bool = false) async throws -> String? {
        var parts: [String] = []
        var chown = ""
        if let uid = snap.uid, let gid = snap.gid, uid != st.uid || gid != st.gid {
            chown = "\(uid):\(gid)"; parts.append("owner \(uid):\(gid)")
        }
        var chmod = ""
        if let mode = snap.mode, mode != st.mode, !noFollow {
            chmod = RemoteFileSystem.chmodArgument(mode); parts.append("mode \(FileModeSpec.octalText(mode))")
        }
        // Only the modification time decides: reading a file (as this check does) moves its access time.
        let restoreTimes = times && !noFollow && snap.mtime != nil && snap.mtime != st.mtime
        if restoreTimes { parts.append("times") }
        guard !parts.isEmpty else { return nil }
        if !checkMode {
            let script = #"""
                p=$1 o=$2 m=$3 h=$4 mt=$5 at=$6
                if [ -n "$o" ]; then chown ${h:+-h} -- "$o" "$p" || exit 6; fi
                if [ -n "$m" ]; then chmod "$m" -- "$p" || exit 5; fi
                if [ -n "$mt" ]; then touch -c -m -d "$mt" -- "$p" 2>/dev/null || :; fi
                if [ -n "$at" ]; then touch -c -a -d "$at" -- "$p" 2>/dev/null || :; fi
                """#
            let mt = restoreTimes ? snap.mtime.map { "@\($0)" } ?? "" : ""
            let at = restoreTimes ? snap.atime.map { "@\($0)" } ?? "" : ""
            try await fs.sh(script, [snap.path, chown, chmod, noFollow ? "1" : "", mt, at], what: "restoring attributes of \(snap.path)")
        }
        return "restored \(parts.joined(separator: ", ")) of \(snap.path)"
    }

    /// Writes `data` beside `path` and renames it over, with the given attributes.
    static func writeFile(_ data: Data, to path: String, mode: Int?, uid: Int?, gid: Int?, mtime: Int? = nil, atime: Int? = nil, fs: RemoteFileSystem) async throws {
        let tmp = RemoteFileSystem.temporaryPath(beside: path)
        try await fs.connection.put(data, to: tmp, mode: 0o600)
        let script = #"""
            t=$1 d=$2 o=$3 m=$4 mt=$5 at=$6
            fail() { rm -f -- "$t"; exit "$1"; }
            if [ -n "$o" ]; then chown -- "$o" "$t" 2>/dev/null || :; fi
            if [ -n "$m" ]; then chmod "$m" -- "$t" || fail 5; fi
            if [ -n "$mt" ]; then touch -c -m -d "$mt" -- "$t" 2>/dev/null || :; fi
            if [ -n "$at" ]; then touch -c -a -d "$at" -- "$t" 2>/dev/null || :; fi
            mv -f -- "$t" "$d" || fail 7
            """#
        let owner = (uid != nil && gid != nil) ? "\(uid!):\(gid!)" : ""
        try await fs.sh(script, [tmp, path, owner, mode.map(RemoteFileSystem.chmodArgument) ?? "", mtime.map { "@\($0)" } ?? "", atime.map { "@\($0)" } ?? ""],
                        what: "restoring \(path)")
    }
}
