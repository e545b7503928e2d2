import Foundation
import PKSPlayCore

/// `file`: makes a path a file, directory, symbolic or hard link, touches it or removes it, and
/// sets its mode, owner and group, with Ansible's rules and messages.
public enum FileModule: Module, HasFileModuleExamples {
    public static let name = "file"

    public static let arguments = ArgumentSpec([
        Argument("path", .path, required: true, aliases: ["dest", "name"], help: "The path to manage."),
        Argument("state", .string, choices: ["absent", "directory", "file", "hard", "link", "touch"],
                 help: "What the path should be; by default what it already is, else `file`."),
        Argument("mode", .mode, help: "Octal ('0644') or symbolic ('u=rw,g=r,o=') permissions."),
        Argument("owner", .string, help: "User name or uid."),
        Argument("group", .string, help: "Group name or gid."),
        Argument("recurse", .bool, default: false, help: "With state=directory, set mode/owner/group on everything below."),
        Argument("force", .bool, default: false, help: "Replace a file or empty directory with a link; link to a missing source."),
        Argument("follow", .bool, default: true, help: "Act on the target of a symbolic link."),
        Argument("src", .path, help: "Link target (state=link or hard)."),
        Argument("modification_time", .string, help: "'preserve', 'now' or a time in modification_time_format."),
        Argument("modification_time_format", .string, default: "%Y%m%d%H%M.%S"),
        Argument("access_time", .string, help: "'preserve', 'now' or a time in access_time_format."),
        Argument("access_time_format", .string, default: "%Y%m%d%H%M.%S"),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Manage a path: file, directory (with parents), symbolic or hard link, touch, absent; set mode, owner and group.",
        example: """
        - name: Staging directory for the clone, owned by the container's postgres user
          file:
            path: /srv/pks/repl
            state: directory
            owner: "999"
            group: "999"
            mode: "0700"

        - name: Tighten the pg_hba.conf permissions
          file:
            path: /srv/pks/db/pg_hba.conf
            mode: u=rw,g=r,o=

        - name: Point current at the new release
          file:
            src: /opt/app/releases/42
            dest: /opt/app/current
            state: link

        - name: Remove a stale lock
          file:
            path: /run/pks/upgrade.lock
            state: absent
        """,
        notes: ["Modes given as YAML integers (0644 → 420) are taken as bits, as in Ansible, with a warning: quote them.",
                "state=touch always reports a change, as in Ansible.",
                "Undo restores a removed file or link exactly, a removed directory from a tar archive (needs tar on the target), and mode/owner changes."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("change ownership-free mode of an existing file (Ansible: mode 0644 example)",
                          before: [("etc/foo.conf", .file("x\n", mode: 0o600))],
                          args: ["path": "ROOT/etc/foo.conf", "mode": "0644"],
                          after: [("etc/foo.conf", .file("x\n", mode: 0o644))], changed: true),
        FileModuleExample("symbolic mode u=rw,g=r,o=r (touch example, equivalent to 0644)",
                          before: [("etc/foo.conf", .file("", mode: 0o600))],
                          args: ["path": "ROOT/etc/foo.conf", "state": "file", "mode": "u=rw,g=r,o=r"],
                          after: [("etc/foo.conf", .file("", mode: 0o644))], changed: true),
        FileModuleExample("symbolic add/remove u+rw,g-wx,o-rwx",
                          before: [("etc/foo.conf", .file("", mode: 0o777))],
                          args: ["path": "ROOT/etc/foo.conf", "mode": "u+rw,g-wx,o-rwx"],
                          after: [("etc/foo.conf", .file("", mode: 0o740))], changed: true),
        FileModuleExample("create a directory with parents (mode 0755)",
                          args: ["path": "ROOT/some/nested/directory", "state": "directory", "mode": "0755"],
                          after: [("some", .directory(mode: 0o755)), ("some/nested/directory", .directory(mode: 0o755))], changed: true),
        FileModuleExample("existing directory is left alone",
                          before: [("d", .directory(mode: 0o750))],
                          args: ["path": "ROOT/d", "state": "directory"], after: [("d", .directory(mode: 0o750))], changed: false),
        FileModuleExample("recursive mode on a directory tree",
                          before: [("d", .directory(mode: 0o755)), ("d/a", .file("a", mode: 0o644)), ("d/sub", .directory(mode: 0o755)), ("d/sub/b", .file("b", mode: 0o600))],
                          args: ["path": "ROOT/d", "state": "directory", "recurse": true, "mode": "u=rwX,g=rX,o="],
                          after: [("d", .directory(mode: 0o750)), ("d/a", .file("a", mode: 0o640)), ("d/sub", .directory(mode: 0o750)), ("d/sub/b", .file("b", mode: 0o640))],
                          changed: true),
        FileModuleExample("create a symbolic link in an existing directory",
                          before: [("file/to/link/to", .file("target\n")), ("path/to", .directory())],
                          args: ["src": "ROOT/file/to/link/to", "dest": "ROOT/path/to/symlink", "state": "link"],
                          after: [("path/to/symlink", .link("ROOT/file/to/link/to"))], changed: true),
        FileModuleExample("relative link that already points there",
                          before: [("t", .file("x")), ("l", .link("t"))],
                          args: ["src": "t", "dest": "ROOT/l", "state": "link"], after: [("l", .link("t"))], changed: false),
        FileModuleExample("refuse to replace a file with a link without force",
                          before: [("t", .file("x")), ("f", .file("keep me"))],
                          args: ["src": "t", "dest": "ROOT/f", "state": "link"], after: [("f", .file("keep me"))], changed: false, failed: true,
                          msg: "refusing to convert from file to symlink for ROOT/f"),
        FileModuleExample("force replaces a file with a link",
                          before: [("t", .file("x")), ("f", .file("replaced"))],
                          args: ["src": "t", "dest": "ROOT/f", "state": "link", "force": true], after: [("f", .link("t"))], changed: true),
        FileModuleExample("hard link",
                          before: [("src", .file("shared\n", mode: 0o644))],
                          args: ["src": "ROOT/src", "dest": "ROOT/hard", "state": "hard"], after: [("hard", .file("shared\n", mode: 0o644))], changed: true),
        FileModuleExample("touch a new file",
                          before: [("etc", .directory())],
                          args: ["path": "ROOT/etc/foo.conf", "state": "touch", "mode": "u=rw,g=r,o=r"],
                          after: [("etc/foo.conf", .file("", mode: 0o644))], changed: true, idempotent: false),
        FileModuleExample("touch without changing times is idempotent (Ansible example)",
                          before: [("etc/foo.conf", .file("", mode: 0o600))],
                          args: ["path": "ROOT/etc/foo.conf", "state": "touch", "mode": "u+rw,g-wx,o-rwx", "modification_time": "preserve", "access_time": "preserve"],
                          after: [("etc/foo.conf", .file("", mode: 0o600))], changed: false),
        FileModuleExample("explicit modification time (touch -t form)",
                          before: [("stamp", .file("x"))],
                          args: ["path": "ROOT/stamp", "state": "file", "modification_time": "202001020304.05"],
                          after: [("stamp", .file("x"))], changed: true),
        FileModuleExample("remove a file",
                          before: [("etc/foo.txt", .file("bye\n", mode: 0o600))],
                          args: ["path": "ROOT/etc/foo.txt", "state": "absent"], after: [("etc/foo.txt", .absent)], changed: true),
        FileModuleExample("remove a directory recursively",
                          before: [("etc/foo", .directory(mode: 0o750)), ("etc/foo/a", .file("a")), ("etc/foo/b/c", .file("c", mode: 0o600)), ("etc/foo/l", .link("a"))],
                          args: ["path": "ROOT/etc/foo", "state": "absent"], after: [("etc/foo", .absent)], changed: true),
        FileModuleExample("absent on a missing path",
                          args: ["path": "ROOT/nothing", "state": "absent"], after: [("nothing", .absent)], changed: false),
        FileModuleExample("state=file on a missing path fails as in Ansible",
                          args: ["path": "ROOT/missing", "state": "file"], after: [("missing", .absent)], changed: false, failed: true,
                          msg: "file (ROOT/missing) is absent, cannot continue"),
        FileModuleExample("state=directory on a file fails",
                          before: [("f", .file("x"))],
                          args: ["path": "ROOT/f", "state": "directory"], after: [("f", .file("x"))], changed: false, failed: true,
                          msg: "ROOT/f already exists as a file"),
    ]

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        do {
            return try await execute(context)
        } catch let error as FileModuleError {
            return .failure(error, values: ["path": .string(context.string("path") ?? "")])
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await FileUndo.undo(record, context)
    }

    /// The pieces every state handler needs.
    struct Job {
        var context: ModuleContext
        var fs: RemoteFileSystem
        var path: String
        var requested: RequestedAttributes
        var follow: Bool
        var force: Bool
        var src: String?
        var mtime: TimeRequest
        var atime: TimeRequest
        var warnings: [String] = []
        var check: Bool { context.checkMode }
    }

    enum TimeRequest: Equatable { case preserve, now, at(String) }

    static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard var path = context.string("path"), !path.isEmpty else { return .failure("path is required") }
        let fs = RemoteFileSystem(connection: context.connection)
        let requested = try RequestedAttributes.from(context)
        let recurse = context.bool("recurse") ?? false
        let src = context.string("src").flatMap { $0.isEmpty ? nil : $0 }
        var state = context.string("state")

        var inspection = try await fs.inspect([path], owner: requested.owner, group: requested.group)
        if let src, state == "hard", inspection.infos[0].effective?.kind == .directory {
            path = RemotePath.join(path, RemotePath.basename(src))
            inspection = try await fs.inspect([path], owner: requested.owner, group: requested.group)
        }
        let prev = inspection.infos[0].ansibleState
        if state == nil { state = prev != "absent" ? prev : (recurse ? "directory" : "file") }
        if recurse && state != "directory" {
            return .failure("recurse option requires state to be 'directory'", values: ["path": .string(path)])
        }
        if src != nil && state != "link" && state != "hard" {
            return .failure("src option requires state to be 'link' or 'hard'", values: ["path": .string(path)])
        }
        let defaultTime: TimeRequest = state == "touch" ? .now : .preserve
        var job = Job(context: context, fs: fs, path: path, requested: requested, follow: context.bool("follow") ?? true,
                      force: context.bool("force") ?? false, src: src,
                      mtime: try timeRequest(context.string("modification_time"), format: context.string("modification_time_format"), default: defaultTime),
                      atime: try timeRequest(context.string("access_time"), format: context.string("access_time_format"), default: defaultTime))
        job.warnings = requested.warnings
        var result: ModuleResult
        switch state {
        case "absent": result = try await ensureAbsent(&job, inspection)
        case "touch": result = try await touch(&job, inspection)
        case "directory": result = try await ensureDirectory(&job, inspection, recurse: recurse)
        case "link": result = try await ensureSymlink(&job, inspection)
        case "hard": result = try await ensureHardlink(&job, inspection)
        default: result = try await ensureFile(&job, inspection)
        }
        result.warnings += job.warnings
        if !result.failed {
            try await addPathInfo(&result, job: job, initial: inspection.infos[0])
        }
        return result
    }

    // MARK: - States

    static func ensureAbsent(_ job: inout Job, _ inspection: Inspection) async throws -> ModuleResult {
        let info = inspection.infos[0]
        let path = job.path
        guard let st = info.lstat else {
            return ModuleResult(values: ["path": .string(path), "state": "absent"])
        }
        var before: ValueDict = ["path": .string(path), "state": .string(info.ansibleState)]
        let after: ValueDict = ["path": .string(path), "state": "absent"]
        if st.kind == .directory && job.context.diffMode {
            before["path_content"] = .dict(try await directoryContent(job.fs, path))
        }
        var result = ModuleResult(changed: true, values: ["path": .string(path), "state": "absent"])
        if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
        if job.check { return result }

        var undo = FileUndoPlan()
        switch st.kind {
        case .file:
            if info.readable {
                undo.snapshots = [PathSnapshot.of(info, content: try await job.fs.read(path))]
            } else {
                undo.irreversible = "\(path) was not readable, so its content could not be saved before removing it"
            }
        case .link:
            undo.snapshots = [PathSnapshot.of(info, content: nil)]
        case .directory:
            let archive = try await job.fs.sh(#"tar -cf - -C "$1" -- "$2""#, [RemotePath.dirname(path), RemotePath.operand(RemotePath.basename(path))],
                                              what: "archiving \(path) for undo", allowFailure: true)
            if archive.exitStatus == 0 && archive.stdout.count <= 256 << 20 {
                undo.snapshots = [PathSnapshot(path: path, state: .tree(archive.stdout), mode: st.mode, uid: st.uid, gid: st.gid)]
            } else {
                undo.irreversible = archive.exitStatus == 0 ? "\(path) was larger than 256 MiB, too large to keep in the journal"
                    : "tar could not archive \(path) before removing it: \(archive.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))"
                job.warnings.append("removing \(path) cannot be undone: \(undo.irreversible!)")
            }
        default:
            undo.irreversible = "\(path) was a \(st.kind.rawValue), which undo cannot recreate"
        }
        try await job.context.willChange(undo.record(module: name, summary: undo.irreversible == nil ? "restore \(path)" : "cannot restore \(path)"))
        let rm = st.kind == .directory ? #"rm -rf -- "$1""# : #"rm -f -- "$1""#
        let r = try await job.fs.sh(rm, [path], what: "removing \(path)", allowFailure: true)
        if r.exitStatus != 0 {
            return .failure(st.kind == .directory ? "rmtree failed: \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))"
                                                  : "unlinking failed: \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))",
                            values: ["path": .string(path)])
        }
        return result
    }

    static func touch(_ job: inout Job, _ inspection: Inspection) async throws -> ModuleResult {
        var info = inspection.infos[0]
        let path = job.path
        let prev = info.ansibleState
        var result = ModuleResult(values: ["dest": .string(path)])
        var before: ValueDict = ["path": .string(path)], after: ValueDict = ["path": .string(path)]
        if prev != "touch" { before["state"] = .string(prev); after["state"] = "touch" }
        var undo = FileUndoPlan()
        if info.lstat == nil {
            if job.check {
                result.changed = true
                return result
            }
            undo.snapshots = [PathSnapshot(path: path, state: .absent)]
            try await job.context.willChange(undo.record(module: name, summary: "remove \(path)"))
            let r = try await job.fs.sh(#": > "$1""#, [path], what: "creating \(path)", allowFailure: true)
            if r.exitStatus != 0 {
                return .failure("Error, could not touch target: \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))", values: ["path": .string(path)])
            }
            result.changed = true
            info = try await job.fs.inspect([path]).infos[0]
        }
        var target = info
        if job.follow, info.isLink, let resolved = info.resolvedPath, let followed = info.followed {
            target = PathInfo(path: resolved, lstat: followed)
        }
        guard let st = target.lstat else { return result }
        let plan = try AttributePlan.make(path: target.path, current: st, requested: job.requested, inspection: inspection)
        job.warnings += job.check ? plan.warnings : []
        for (k, v) in plan.before { before[k] = v }
        for (k, v) in plan.after { after[k] = v }
        let times = try await timeChange(job, target)
        for (k, v) in times.before { before[k] = v }
        for (k, v) in times.after { after[k] = v }
        if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
        if plan.isEmpty && times.touchArgs.isEmpty { return result }
        result.changed = true
        if job.check { return result }
        if undo.snapshots.isEmpty {
            try await job.context.willChange(FileUndoPlan(snapshots: [PathSnapshot.metadata(target, times: true)]).record(module: name, summary: "restore mode, owner and times of \(target.path)"))
        }
        try await plan.apply(job.fs, noFollow: target.isLink)
        try await applyTimes(job, target.path, times.touchArgs)
        return result
    }

    static func ensureFile(_ job: inout Job, _ inspection: Inspection) async throws -> ModuleResult {
        var info = inspection.infos[0]
        var path = job.path
        var prev = info.ansibleState
        if prev != "file", job.follow, info.isLink {
            path = info.resolvedPath ?? path
            info = PathInfo(path: path, lstat: info.followed)
            prev = info.ansibleState
        }
        guard prev == "file" || prev == "hard", let st = info.lstat else {
            return .failure("file (\(path)) is \(prev), cannot continue", values: ["path": .string(path), "state": .string(prev)])
        }
        return try await attributesOnly(&job, info: info, st: st, state: "file", prev: prev, inspection: inspection, resultKey: "path")
    }

    /// Sets mode/owner/group (and times) on an existing path; the `file` and `directory` states end here.
    static func attributesOnly(_ job: inout Job, info: PathInfo, st: StatRecord, state: String, prev: String,
                               inspection: Inspection, resultKey: String) async throws -> ModuleResult {
        let path = info.path
        var before: ValueDict = ["path": .string(path)], after: ValueDict = ["path": .string(path)]
        if prev != state { before["state"] = .string(prev); after["state"] = .string(state) }
        let plan = try AttributePlan.make(path: path, current: st, requested: job.requested, inspection: inspection)
        if job.check { job.warnings += plan.warnings }
        for (k, v) in plan.before { before[k] = v }
        for (k, v) in plan.after { after[k] = v }
        let times = try await timeChange(job, info)
        for (k, v) in times.before { before[k] = v }
        for (k, v) in times.after { after[k] = v }
        var result = ModuleResult(changed: !plan.isEmpty || !times.touchArgs.isEmpty, values: [resultKey: .string(path)])
        if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
        if !result.changed || job.check { return result }
        try await job.context.willChange(FileUndoPlan(snapshots: [PathSnapshot.metadata(info, times: !times.touchArgs.isEmpty)])
            .record(module: name, summary: "restore mode and owner of \(path)"))
        try await plan.apply(job.fs)
        try await applyTimes(job, path, times.touchArgs)
        return result
    }

    static func ensureDirectory(_ job: inout Job, _ inspection: Inspection, recurse: Bool) async throws -> ModuleResult {
        var info = inspection.infos[0]
        var path = job.path
        if job.follow, info.isLink, let resolved = info.resolvedPath, !resolved.isEmpty {
            path = resolved
            info = info.followed.map { PathInfo(path: resolved, lstat: $0) } ?? PathInfo(path: resolved)
        }
        let prev = info.ansibleState
        if prev == "absent" {
            var result = ModuleResult(changed: true, values: ["path": .string(path)])
            if job.context.diffMode {
                result.diffs = [DiffText.state(header: path, before: ["path": .string(path), "state": "absent"], after: ["path": .string(path), "state": "directory"])]
            }
            if job.check { return result }
            let missing = try await job.fs.missingAncestors(of: path) + [path]
            try await job.context.willChange(FileUndoPlan(snapshots: missing.reversed().map { PathSnapshot(path: $0, state: .absent) })
                .record(module: name, summary: "remove the directories created: \(missing.joined(separator: ", "))"))
            let base = defaultAttributes(for: .directory, inspection.facts)
            for dir in missing {
                let r = try await job.fs.sh(#"mkdir -- "$1" 2>&1 || [ -d "$1" ]"#, [dir], what: "creating \(dir)", allowFailure: true)
                if r.exitStatus != 0 {
                    return .failure("There was an issue creating \(dir) as requested: \(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))", values: ["path": .string(path)])
                }
                let plan = try AttributePlan.make(path: dir, current: base, requested: job.requested, inspection: inspection)
                try await plan.apply(job.fs)
            }
            return result
        }
        guard prev == "directory", let st = info.lstat else {
            return .failure("\(path) already exists as a \(prev)", values: ["path": .string(path)])
        }
        var result = try await attributesOnly(&job, info: info, st: st, state: "directory", prev: prev, inspection: inspection, resultKey: "path")
        if recurse {
            let changedBelow = try await recursiveAttributes(job, path, inspection)
            result.changed = result.changed || changedBelow
        }
        return result
    }

    /// Applies the requested attributes to everything below `root` (links themselves get owner
    /// and group only; their targets are not followed).
    static func recursiveAttributes(_ job: Job, _ root: String, _ inspection: Inspection) async throws -> Bool {
        guard !job.requested.isEmpty else { return false }
        let list = try await job.fs.sh(#"find "$1" -mindepth 1 -exec stat --printf '\#(RemoteFileSystem.statFormat)\n%n\0' -- {} +"#,
                                       [RemotePath.operand(root)], what: "listing \(root)")
        var plans: [(PathInfo, AttributePlan)] = []
        for record in list.stdout.split(separator: 0) {
            let text = String(decoding: record, as: UTF8.self)
            guard let nl = text.firstIndex(of: "\n"), let st = StatRecord(String(text[..<nl])) else { continue }
            let p = String(text[text.index(after: nl)...])
            var requested = job.requested
            if st.kind == .link { requested.mode = nil }
            let plan = try AttributePlan.make(path: p, current: st, requested: requested, inspection: inspection)
            if !plan.isEmpty { plans.append((PathInfo(path: p, lstat: st), plan)) }
        }
        guard !plans.isEmpty else { return false }
        if job.check { return true }
        try await job.context.willChange(FileUndoPlan(snapshots: plans.map { PathSnapshot.metadata($0.0) })
            .record(module: name, summary: "restore mode and owner of \(plans.count) paths below \(root)"))
        // Batch by the exact change so a large tree costs a few commands, not one per path.
        var batches: [String: [String]] = [:]
        for (info, plan) in plans {
            let key = "\(plan.chownSpec ?? "")\u{0}\(plan.mode.map(RemoteFileSystem.chmodArgument) ?? "")\u{0}\(info.isLink ? "h" : "")"
            batches[key, default: []].append(info.path)
        }
        for (key, paths) in batches.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            let stdin = Data(paths.joined(separator: "\u{0}").utf8) + Data([0])
            let script = #"""
                o=$1 m=$2 h=$3
                if [ -n "$o" ]; then xargs -0 chown ${h:+-h} -- "$o" || exit 6; fi < /dev/stdin
                """#
            if !parts[0].isEmpty {
                try await job.fs.sh(script, [parts[0], "", parts[2]], stdin: stdin, what: "chown below \(root)")
            }
            if !parts[1].isEmpty {
                try await job.fs.sh(#"xargs -0 chmod "$1" --"#, [parts[1]], stdin: stdin, what: "chmod below \(root)")
            }
        }
        return true
    }

    static func ensureSymlink(_ job: inout Job, _ inspection: Inspection) async throws -> ModuleResult {
        let info = inspection.infos[0]
        let path = job.path
        let prev = info.ansibleState
        var src = job.src
        if src == nil, job.follow, info.isLink, info.followed != nil { src = info.linkTarget }
        let relDir = (!info.isLink && info.kind == .directory) ? path : RemotePath.dirname(path)
        if let src, !job.force {
            let absrc = RemotePath.join(relDir, src)
            if !(try await job.fs.inspect([absrc]).infos[0].effective != nil) {
                return .failure("src file does not exist, use 'force=yes' if you really want to create the link: \(absrc)",
                                values: ["path": .string(path), "src": .string(src)])
            }
        }
        if prev == "directory" {
            if !job.force {
                return .failure("refusing to convert from \(prev) to symlink for \(path)", values: ["path": .string(path)])
            }
            let listing = try await job.fs.sh(#"ls -A -- "$1""#, [path], what: "listing \(path)")
            if !listing.stdout.isEmpty {
                return .failure("the directory \(path) is not empty, refusing to convert it", values: ["path": .string(path)])
            }
        } else if (prev == "file" || prev == "hard") && !job.force {
            return .failure("refusing to convert from \(prev) to symlink for \(path)", values: ["path": .string(path)])
        }
        var before: ValueDict = ["path": .string(path)], after: ValueDict = ["path": .string(path)]
        if prev != "link" { before["state"] = .string(prev); after["state"] = "link" }
        var changed = false
        if prev != "link" {
            guard src != nil else { return .failure("src is required for creating new symlinks") }
            changed = true
        } else if let src, info.linkTarget != src {
            before["src"] = .string(info.linkTarget ?? ""); after["src"] = .string(src)
            changed = true
        }
        var result = ModuleResult(changed: changed, values: ["dest": .string(path), "src": src.map(Value.string) ?? .null])
        var undo = FileUndoPlan()
        if changed {
            if !job.check {
                let content: Data? = info.kind == .file ? try await job.fs.read(path) : nil
                undo.snapshots = [PathSnapshot.of(info, content: content)]
                try await job.context.willChange(undo.record(module: name, summary: "restore \(path)"))
                let script = prev == "absent" ? #"ln -s -- "$1" "$2""# : #"""
                    s=$1 p=$2 t=$3 d=$4
                    if [ -n "$d" ]; then rmdir -- "$p" || exit 1; fi
                    ln -s -- "$s" "$t" || exit 1
                    mv -fT -- "$t" "$p" || { rm -f -- "$t"; exit 1; }
                    """#
                let r = try await job.fs.sh(script, [src ?? "", path, RemoteFileSystem.temporaryPath(beside: path), prev == "directory" ? "1" : ""],
                                            what: "linking", allowFailure: true)
                if r.exitStatus != 0 {
                    return .failure("Error while \(prev == "absent" ? "linking" : "replacing"): \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))", values: ["path": .string(path)])
                }
            } else if prev == "absent" {
                if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
                return result
            }
        }
        // Attributes go to the link's target when following, else to the link itself.
        var target = try await job.fs.inspect([path]).infos[0]
        if job.check && changed {
            // The link is not there in check mode: predict from the source.
            target = try await job.fs.inspect([RemotePath.join(relDir, src ?? "")]).infos[0]
            target = PathInfo(path: path, lstat: target.effective, linkTarget: src, resolvedPath: target.path, followed: target.effective)
        }
        if job.follow, target.isLink, target.followed == nil {
            if !job.requested.isEmpty {
                job.warnings.append("Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this.")
            }
        } else if !job.requested.isEmpty {
            let onTarget = job.follow && target.isLink
            let attrInfo = onTarget ? PathInfo(path: target.resolvedPath ?? path, lstat: target.followed) : target
            if let st = attrInfo.lstat {
                var requested = job.requested
                if !onTarget && st.kind == .link { requested.mode = nil }
                let plan = try AttributePlan.make(path: attrInfo.path, current: st, requested: requested, inspection: inspection)
                for (k, v) in plan.before { before[k] = v }
                for (k, v) in plan.after { after[k] = v }
                if !plan.isEmpty {
                    result.changed = true
                    if !job.check {
                        try await job.context.willChange(FileUndoPlan(snapshots: [PathSnapshot.metadata(attrInfo)]).record(module: name, summary: "restore mode and owner of \(attrInfo.path)"))
                        try await plan.apply(job.fs, noFollow: !onTarget)
                    }
                }
            }
        }
        if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
        return result
    }

    static func ensureHardlink(_ job: inout Job, _ inspection: Inspection) async throws -> ModuleResult {
        let info = inspection.infos[0]
        let path = job.path
        let prev = info.ansibleState
        guard prev == "hard" || job.src != nil else { return .failure("src is required for creating new hardlinks") }
        var srcInfo: PathInfo?
        if let src = job.src {
            srcInfo = try await job.fs.inspect([src]).infos[0]
            guard srcInfo?.effective != nil else {
                return .failure("src does not exist", values: ["dest": .string(path), "src": .string(src)])
            }
        }
        var before: ValueDict = ["path": .string(path)], after: ValueDict = ["path": .string(path)]
        if prev != "hard" { before["state"] = .string(prev); after["state"] = "hard" }
        var changed = false
        let sameInode = srcInfo?.effective.map { $0.inode == info.lstat?.inode && $0.device == info.lstat?.device } ?? false
        switch prev {
        case "absent": changed = true
        case "link":
            if info.linkTarget != job.src {
                before["src"] = .string(info.linkTarget ?? ""); after["src"] = .string(job.src ?? "")
                changed = true
            }
        case "hard":
            if job.src != nil && !sameInode {
                changed = true
                if !job.force { return .failure("Cannot link, different hard link exists at destination", values: ["dest": .string(path), "src": .string(job.src ?? "")]) }
            }
        case "file":
            changed = true
            if !job.force { return .failure("Cannot link, file exists at destination", values: ["dest": .string(path), "src": .string(job.src ?? "")]) }
        default:
            changed = true
            if sameInode { return ModuleResult(values: ["path": .string(path)]) }
            if !job.force { return .failure("Cannot link: different hard link exists at destination", values: ["dest": .string(path), "src": .string(job.src ?? "")]) }
        }
        var result = ModuleResult(changed: changed, values: ["dest": .string(path), "src": job.src.map(Value.string) ?? .null])
        if changed && !job.check, let src = job.src {
            let content: Data? = info.kind == .file ? try await job.fs.read(path) : nil
            try await job.context.willChange(FileUndoPlan(snapshots: [PathSnapshot.of(info, content: content)]).record(module: name, summary: "restore \(path)"))
            let script = prev == "absent" ? #"ln -- "$1" "$2""# : #"""
                s=$1 p=$2 t=$3 d=$4
                if [ -n "$d" ]; then rmdir -- "$p" || exit 1; fi
                ln -- "$s" "$t" || exit 1
                mv -fT -- "$t" "$p" || { rm -f -- "$t"; exit 1; }
                """#
            let r = try await job.fs.sh(script, [src, path, RemoteFileSystem.temporaryPath(beside: path), prev == "directory" ? "1" : ""], what: "linking", allowFailure: true)
            if r.exitStatus != 0 {
                return .failure("Error while \(prev == "absent" ? "linking" : "replacing"): \(r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))", values: ["path": .string(path)])
            }
        }
        if job.check && changed && prev == "absent" {
            if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
            return result
        }
        let now = job.check ? (srcInfo ?? info) : try await job.fs.inspect([path]).infos[0]
        if let st = now.effective, !job.requested.isEmpty {
            let plan = try AttributePlan.make(path: path, current: st, requested: job.requested, inspection: inspection)
            for (k, v) in plan.before { before[k] = v }
            for (k, v) in plan.after { after[k] = v }
            if !plan.isEmpty {
                result.changed = true
                if !job.check {
                    try await job.context.willChange(FileUndoPlan(snapshots: [PathSnapshot.metadata(PathInfo(path: path, lstat: st))]).record(module: name, summary: "restore mode and owner of \(path)"))
                    try await plan.apply(job.fs)
                }
            }
        }
        if job.context.diffMode { result.diffs = [DiffText.state(header: path, before: before, after: after)] }
        return result
    }

    // MARK: - Helpers

    /// Ansible's `path_content` of a directory about to be removed.
    static func directoryContent(_ fs: RemoteFileSystem, _ path: String) async throws -> ValueDict {
        let r = try await fs.sh(#"find "$1" -mindepth 1 -exec sh -c 'for f do if [ -d "$f" ] && [ ! -L "$f" ]; then printf "d%s\0" "$f"; else printf "f%s\0" "$f"; fi; done' sh {} +"#,
                                [RemotePath.operand(path)], what: "listing \(path)")
        var dirs: [Value] = [], files: [Value] = []
        for item in r.stdout.split(separator: 0) {
            let s = String(decoding: item, as: UTF8.self)
            if s.hasPrefix("d") { dirs.append(.string(String(s.dropFirst()))) } else { files.append(.string(String(s.dropFirst()))) }
        }
        return ["directories": .list(dirs), "files": .list(files)]
    }

    /// Ansible adds these to any result with a path that exists.
    static func addPathInfo(_ result: inout ModuleResult, job: Job, initial: PathInfo) async throws {
        let key = result.values["dest"] != nil ? "dest" : "path"
        guard let p = result.values[key]?.stringValue else { return }
        let info = (result.changed && !job.check) ? try await job.fs.inspect([p]).infos[0] : (p == initial.path ? initial : try await job.fs.inspect([p]).infos[0])
        guard let st = info.lstat else {
            if result.values["state"] == nil { result.values["state"] = "absent" }
            return
        }
        result.values["uid"] = .int(st.uid)
        result.values["gid"] = .int(st.gid)
        result.values["owner"] = .string(st.owner)
        result.values["group"] = .string(st.group)
        result.values["mode"] = .string(FileModeSpec.octalText(st.mode))
        result.values["state"] = .string(info.ansibleState == "hard" ? "hard" : info.ansibleState)
        result.values["size"] = .int(st.size)
        if st.kind == .link, result.values["src"] == nil || result.values["src"] == .null { result.values["src"] = .string(info.linkTarget ?? "") }
    }

    static func timeRequest(_ value: String?, format: String?, default: TimeRequest) throws -> TimeRequest {
        guard let value else { return `default` }
        switch value {
        case "preserve": return .preserve
        case "now": return .now
        default: return .at(try touchStamp(value, format: format ?? "%Y%m%d%H%M.%S"))
        }
    }

    /// Converts a time written in a strftime format (%Y %m %d %H %M %S and literals) to
    /// `touch -t`'s `CCYYMMDDhhmm.SS`, which the target reads in its own local time as Ansible does.
    static func touchStamp(_ value: String, format: String) throws -> String {
        var fields: [Character: Int] = ["m": 1, "d": 1, "H": 0, "M": 0, "S": 0]
        var v = Substring(value)
        var f = Substring(format)
        func bad() -> FileModuleError { .invalidArgument("Error while obtaining timestamp for time \(value) using format \(format)") }
        while let c = f.first {
            f = f.dropFirst()
            if c == "%", let spec = f.first {
                f = f.dropFirst()
                let width = spec == "Y" ? 4 : 2
                guard "YmdHMS".contains(spec) else { throw bad() }
                let digits = v.prefix(width).prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, let n = Int(digits) else { throw bad() }
                fields[spec] = n
                v = v.dropFirst(digits.count)
            } else {
                guard v.first == c else { throw bad() }
                v = v.dropFirst()
            }
        }
        guard v.isEmpty, let y = fields["Y"], (1...12).contains(fields["m"]!), (1...31).contains(fields["d"]!),
              fields["H"]! < 24, fields["M"]! < 60, fields["S"]! < 62 else { throw bad() }
        func two(_ k: Character) -> String { let n = fields[k]!; return n < 10 ? "0\(n)" : "\(n)" }
        return String(format: "%04d", y) + two("m") + two("d") + two("H") + two("M") + "." + two("S")
    }

    struct TimeChange { var before = ValueDict(); var after = ValueDict(); var touchArgs: [String] = [] }

    /// What `modification_time`/`access_time` would change on `info`; explicit times are compared
    /// in the target's local time (GNU `date -d @N`).
    static func timeChange(_ job: Job, _ info: PathInfo) async throws -> TimeChange {
        var out = TimeChange()
        guard let st = info.effective ?? info.lstat else { return out }
        if job.mtime == .now && job.atime == .now {
            out.touchArgs = ["now"]
            out.before["mtime"] = .double(Double(st.mtime)); out.after["mtime"] = "now"
            out.before["atime"] = .double(Double(st.atime)); out.after["atime"] = "now"
            return out
        }
        for (which, request, current) in [("m", job.mtime, st.mtime), ("a", job.atime, st.atime)] {
            switch request {
            case .preserve: continue
            case .now:
                out.touchArgs += ["-\(which)", "now"]
                out.before["\(which)time"] = .double(Double(current)); out.after["\(which)time"] = "now"
            case .at(let stamp):
                let r = try await job.fs.sh(#"date -d "@$1" +%Y%m%d%H%M.%S"#, [String(current)], what: "formatting a time", allowFailure: true)
                if r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) != stamp {
                    out.touchArgs += ["-\(which)", stamp]
                    out.before["\(which)time"] = .double(Double(current)); out.after["\(which)time"] = .string(stamp)
                }
            }
        }
        return out
    }

    static func applyTimes(_ job: Job, _ path: String, _ args: [String]) async throws {
        guard !args.isEmpty else { return }
        if args == ["now"] {
            try await job.fs.sh(#"touch -c -- "$1""#, [path], what: "touching \(path)")
            return
        }
        var i = 0
        while i + 1 < args.count {
            let flag = args[i], stamp = args[i + 1]
            if stamp == "now" {
                try await job.fs.sh(#"touch -c "$1" -- "$2""#, [flag, path], what: "touching \(path)")
            } else {
                try await job.fs.sh(#"touch -c "$1" -t "$2" -- "$3""#, [flag, stamp, path], what: "setting times of \(path)")
            }
            i += 2
        }
    }
}
