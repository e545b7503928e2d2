import Foundation
import PKSPlayCore

/// `move` (pksplay's own): renames a file or directory with `mv -T` on one file system, so the
/// move is atomic, and records how to move it back.
public enum MoveModule: Module, HasFileModuleExamples {
    public static let name = "move"

    public static let arguments = ArgumentSpec([
        Argument("src", .path, required: true, help: "What to move."),
        Argument("dest", .path, required: true, help: "Its new path (the full new name, not a directory to move into)."),
        Argument("force", .bool, default: false, help: "Replace an existing dest."),
        Argument("backup", .bool, default: false, help: "Rename a replaced dest aside to dest.PID.YYYY-MM-DD@HH:MM:SS~ instead of losing it."),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Rename a file or directory atomically (same file system), and move it back on rollback.",
        example: """
        - name: Keep the secondary's own data aside, never delete it
          move:
            src: /srv/pks/db
            dest: /srv/pks/db.pre-standby-{{ run_id }}

        - name: Put the verified clone in place
          move:
            src: /srv/pks/repl
            dest: /srv/pks/db
        """,
        notes: ["Done (no change) when src is gone and dest exists.",
                "Refuses a move onto itself or into its own subdirectory, and between file systems (it could not be atomic).",
                "Undo moves it back and restores a replaced dest from its backup (or from the journal for a file or link)."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("rename a directory aside",
                          before: [("srv/pks/db", .directory(mode: 0o700)), ("srv/pks/db/PG_VERSION", .file("16\n", mode: 0o600))],
                          args: ["src": "ROOT/srv/pks/db", "dest": "ROOT/srv/pks/db.pre-standby"],
                          after: [("srv/pks/db", .absent), ("srv/pks/db.pre-standby/PG_VERSION", .file("16\n", mode: 0o600))], changed: true,
                          msg: "moved ROOT/srv/pks/db to ROOT/srv/pks/db.pre-standby"),
        FileModuleExample("already moved: no change",
                          before: [("new", .file("x"))], args: ["src": "ROOT/old", "dest": "ROOT/new"], after: [("new", .file("x"))], changed: false,
                          msg: "ROOT/old is already at ROOT/new"),
        FileModuleExample("nothing to move",
                          args: ["src": "ROOT/old", "dest": "ROOT/new"], changed: false, failed: true,
                          msg: "neither ROOT/old nor ROOT/new exists: nothing to move"),
        FileModuleExample("existing dest without force",
                          before: [("a", .file("a")), ("b", .file("b"))], args: ["src": "ROOT/a", "dest": "ROOT/b"],
                          after: [("a", .file("a")), ("b", .file("b"))], changed: false, failed: true,
                          msg: "ROOT/b already exists; set force: true to replace it (backup: true keeps the old one)"),
        FileModuleExample("force replaces a file (undo restores it from the journal)",
                          before: [("a", .file("new\n", mode: 0o640)), ("b", .file("old\n", mode: 0o600))], args: ["src": "ROOT/a", "dest": "ROOT/b", "force": true],
                          after: [("a", .absent), ("b", .file("new\n", mode: 0o640))], changed: true),
        FileModuleExample("force with backup moves a non-empty directory dest aside",
                          before: [("staging/base", .file("clone")), ("db/base", .file("original"))],
                          args: ["src": "ROOT/staging", "dest": "ROOT/db", "force": true, "backup": true],
                          after: [("staging", .absent), ("db/base", .file("clone"))], changed: true),
        FileModuleExample("refuses to move into itself",
                          before: [("d", .directory())], args: ["src": "ROOT/d", "dest": "ROOT/d/sub"], after: [("d", .directory())],
                          changed: false, failed: true, msg: "refusing to move ROOT/d into itself (ROOT/d/sub is inside it)"),
        FileModuleExample("refuses to move onto itself",
                          before: [("f", .file("x"))], args: ["src": "ROOT/f", "dest": "ROOT/./f"], after: [("f", .file("x"))],
                          changed: false, failed: true, msg: "refusing to move ROOT/f onto itself"),
    ]

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        do {
            return try await execute(context)
        } catch let error as FileModuleError {
            return .failure(error)
        }
    }

    static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard let src = context.string("src"), !src.isEmpty, let dest = context.string("dest"), !dest.isEmpty else {
            return .failure("src and dest are required")
        }
        let force = context.bool("force") ?? false
        let backup = context.bool("backup") ?? false
        let fs = RemoteFileSystem(connection: context.connection)
        let parent = RemotePath.dirname(dest)
        let inspection = try await fs.inspect([src, dest, parent])
        let (s, d, p) = (inspection.infos[0], inspection.infos[1], inspection.infos[2])
        let values: ValueDict = ["src": .string(src), "dest": .string(dest)]
        guard let sst = s.lstat else {
            if d.exists { return ModuleResult(msg: "\(src) is already at \(dest)", values: values) }
            return .failure("neither \(src) nor \(dest) exists: nothing to move", values: values)
        }
        if let dst = d.lstat, dst.inode == sst.inode, dst.device == sst.device {
            return .failure("refusing to move \(src) onto itself", values: values)
        }
        guard let pst = p.effective, pst.kind == .directory else {
            return .failure("cannot move \(src) to \(dest): the directory \(parent) does not exist", values: values)
        }
        let real = try await fs.sh(#"readlink -f -- "$1"; printf '\0'; readlink -f -- "$2""#, [src, parent], what: "resolving \(src) and \(parent)")
        let parts = real.stdout.split(separator: 0, omittingEmptySubsequences: false).map { RemoteFileSystem.chompNewline(String(decoding: $0, as: UTF8.self)) }
        if parts.count >= 2, !parts[0].isEmpty, sst.kind == .directory, parts[1] == parts[0] || parts[1].hasPrefix(parts[0].hasSuffix("/") ? parts[0] : parts[0] + "/") {
            return .failure("refusing to move \(src) into itself (\(dest) is inside it)", values: values)
        }
        if pst.device != sst.device {
            return .failure("cannot move \(src) to \(dest) atomically: they are on different file systems (device \(sst.device) and \(pst.device)); choose a dest on the same file system, or copy and remove", values: values)
        }
        var undo: ValueDict = ["src": .string(src), "dest": .string(dest)]
        var backupPath: String?
        if let dst = d.lstat {
            guard force else { return .failure("\(dest) already exists; set force: true to replace it (backup: true keeps the old one)", values: values) }
            if backup {
                backupPath = inspection.facts.backupName(for: dest)
            } else {
                switch (sst.kind == .directory, dst.kind) {
                case (true, .directory):
                    let listing = try await fs.sh(#"ls -A -- "$1""#, [dest], what: "listing \(dest)")
                    if !listing.stdout.isEmpty {
                        return .failure("\(dest) is a directory that is not empty; set backup: true to move it aside first", values: values)
                    }
                    undo["replaced"] = PathSnapshot.of(d, content: nil).value
                case (false, .file), (false, .link):
                    let content: Data? = dst.kind == .file ? try await fs.read(dest) : nil
                    undo["replaced"] = PathSnapshot.of(d, content: content).value
                default:
                    return .failure("cannot replace the \(dst.kind == .directory ? "directory" : dst.kind.rawValue) \(dest) with the \(sst.kind == .directory ? "directory" : sst.kind.rawValue) \(src); set backup: true to move it aside first", values: values)
                }
            }
        }
        var result = ModuleResult(changed: true, msg: "moved \(src) to \(dest)", values: values)
        if context.diffMode {
            result.diffs = [DiffText.state(header: "\(src) -> \(dest)",
                                           before: ["src": .string(src), "dest": .string(dest), "src_state": .string(s.ansibleState), "dest_state": .string(d.ansibleState)],
                                           after: ["src": .string(src), "dest": .string(dest), "src_state": "absent", "dest_state": .string(s.ansibleState == "hard" ? "file" : s.ansibleState)])]
        }
        if context.checkMode { return result }
        if let backupPath { undo["backup"] = .string(backupPath) }
        try await context.willChange(UndoRecord(module: name, summary: "move \(dest) back to \(src)", data: .dict(undo)))
        let script = #"""
            s=$1 d=$2 b=$3
            if [ -n "$b" ]; then mv -T -- "$d" "$b" || exit 4; fi
            if ! mv -fT -- "$s" "$d"; then
              if [ -n "$b" ]; then mv -T -- "$b" "$d"; fi
              exit 5
            fi
            """#
        let r = try await fs.sh(script, [src, dest, backupPath ?? ""], what: "moving \(src) to \(dest)", allowFailure: true)
        if r.exitStatus != 0 {
            let why = r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(r.exitStatus == 4 ? "could not move \(dest) aside to \(backupPath ?? ""): \(why)" : "could not move \(src) to \(dest): \(why)", values: values)
        }
        if let backupPath { result.values["backup_file"] = .string(backupPath) }
        return result
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        guard let d = record.data.dictValue, let src = d["src"]?.stringValue, let dest = d["dest"]?.stringValue else {
            return .failure("the journal entry '\(record.summary)' is not a move this version can read")
        }
        let backup = d["backup"]?.stringValue
        do {
            let fs = RemoteFileSystem(connection: context.connection)
            let inspection = try await fs.inspect([src, dest] + (backup.map { [$0] } ?? []))
            var notes: [String] = []
            var destFree = !inspection.infos[1].exists
            if !inspection.infos[0].exists && inspection.infos[1].exists {
                if !context.checkMode {
                    try await fs.sh(#"mv -T -- "$1" "$2""#, [dest, src], what: "moving \(dest) back to \(src)")
                }
                notes.append("moved \(dest) back to \(src)")
                destFree = true
            }
            if let backup, inspection.infos[2].exists {
                if destFree {
                    if !context.checkMode { try await fs.sh(#"mv -T -- "$1" "$2""#, [backup, dest], what: "restoring \(dest) from \(backup)") }
                    notes.append("restored \(dest) from \(backup)")
                } else {
                    return .failure("cannot restore \(dest) from \(backup): \(dest) exists again; move it away and roll back again")
                }
            }
            if let replaced = d["replaced"].flatMap(PathSnapshot.init) {
                if context.checkMode && !notes.isEmpty {
                    notes.append("restore \(dest)")
                } else {
                    let (_, more) = try await FileUndo.restore(FileUndoPlan(snapshots: [replaced]), fs: fs, checkMode: context.checkMode)
                    notes += more
                }
            }
            return ModuleResult(changed: !notes.isEmpty, msg: notes.isEmpty ? "nothing to undo: \(src) is back in place" : notes.joined(separator: "; "))
        } catch let error as FileModuleError {
            return .failure(error)
        }
    }
}
