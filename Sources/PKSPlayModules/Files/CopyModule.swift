import Foundation
import PKSPlayCore

/// `copy`: puts a file from the control machine (or `content`, or a file already on the target)
/// at `dest`, sending it only when its SHA-1 differs, then sets mode and owner.
public enum CopyModule: Module, HasFileModuleExamples {
    public static let name = "copy"

    public static let arguments = ArgumentSpec([
        Argument("src", .path, help: "File or directory on the control machine (files/ is searched); a trailing / copies a directory's content."),
        Argument("content", .raw, noLog: true, help: "Text to write instead of src (a dict or list is written as JSON)."),
        Argument("dest", .path, required: true, help: "Target path; a directory when it ends with / or already is one."),
        Argument("backup", .bool, default: false),
        Argument("force", .bool, default: true, help: "Replace a different existing file; false only creates."),
        Argument("validate", .string, help: "Command run on the new file first; %s is its path; only exit 0 lets it in."),
        Argument("directory_mode", .mode, help: "Mode of directories created for a recursive copy."),
        Argument("remote_src", .bool, default: false, help: "src is on the target."),
        Argument("local_follow", .bool, default: true, help: "Follow links inside a source directory on the control machine."),
        Argument("checksum", .string, help: "Expected SHA-1 of the source; the copy fails when it differs."),
        Argument("follow", .bool, default: false, help: "Write through a link at dest instead of replacing the link."),
        Argument("decrypt", .bool, default: true, help: "Accepted for Ansible compatibility (no vault)."),
        Argument("mode", .mode, help: "Octal, symbolic, or 'preserve' (the source's mode)."),
        Argument("owner", .string), Argument("group", .string),
        Argument("unsafe_writes", .bool, default: false, help: "Accepted for Ansible compatibility; writes are always atomic."),
    ], mutuallyExclusive: [["src", "content"]], requiredOneOf: [["src", "content"]])

    public static let documentation = ModuleDocumentation(
        summary: "Copy a file or directory from the control machine, or given content, to the target; only what differs is sent.",
        example: """
        - name: Install the compose file
          copy:
            src: files/docker-compose.yml
            dest: /srv/pks/docker-compose.yml
            owner: root
            group: root
            mode: "0644"
            backup: true

        - name: A passfile for the replication user, never shown
          copy:
            content: "{{ primary_ip }}:5432:replication:repuser:{{ repl_password }}\\n"
            dest: /srv/pks/repl/.pgpass
            mode: "0600"
          no_log: true

        - name: New sudoers entry, checked by visudo first
          copy:
            src: sudoers.d/pks
            dest: /etc/sudoers.d/pks
            validate: /usr/sbin/visudo -csf %s
        """,
        notes: ["A source directory is copied with its tree; 'dir/' copies what is inside it.",
                "The source and target SHA-1 are compared first; an equal file is not sent, only its mode and owner are fixed."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("content with owner-free mode (Ansible example)",
                          args: ["content": "# This file was moved to /etc/other.conf\n", "dest": "ROOT/etc/mine.conf", "mode": "0644"],
                          after: [("etc/mine.conf", .absent)], changed: false, failed: true,
                          msg: "Destination directory ROOT/etc does not exist"),
        FileModuleExample("content into an existing directory's file",
                          before: [("etc", .directory())],
                          args: ["content": "# This file was moved to /etc/other.conf\n", "dest": "ROOT/etc/mine.conf", "mode": "0644"],
                          after: [("etc/mine.conf", .file("# This file was moved to /etc/other.conf\n", mode: 0o644))], changed: true),
        FileModuleExample("same content: nothing sent, mode fixed",
                          before: [("f", .file("same\n", mode: 0o600))], args: ["content": "same\n", "dest": "ROOT/f", "mode": "0640"],
                          after: [("f", .file("same\n", mode: 0o640))], changed: true),
        FileModuleExample("existing file keeps its mode when none is asked",
                          before: [("f", .file("old\n", mode: 0o750))], args: ["content": "new\n", "dest": "ROOT/f"],
                          after: [("f", .file("new\n", mode: 0o750))], changed: true),
        FileModuleExample("symbolic mode (Ansible example u=rw,g=r,o=r)",
                          before: [("ntp.conf", .file("x"))], args: ["content": "x", "dest": "ROOT/ntp.conf", "mode": "u=rw,g=r,o=r"],
                          after: [("ntp.conf", .file("x", mode: 0o644))], changed: false),
        FileModuleExample("force: false does not replace",
                          before: [("f", .file("mine\n"))], args: ["content": "theirs\n", "dest": "ROOT/f", "force": false],
                          after: [("f", .file("mine\n"))], changed: false),
        FileModuleExample("a link at dest is replaced by a file (follow: false)",
                          before: [("t", .file("target\n")), ("l", .link("t"))], args: ["content": "new\n", "dest": "ROOT/l"],
                          after: [("l", .file("new\n", mode: 0o644)), ("t", .file("target\n"))], changed: true),
        FileModuleExample("follow: true writes through the link",
                          before: [("t", .file("target\n", mode: 0o600)), ("l", .link("t"))], args: ["content": "new\n", "dest": "ROOT/l", "follow": true],
                          after: [("l", .link("t")), ("t", .file("new\n", mode: 0o600))], changed: true),
        FileModuleExample("remote_src copies a file on the target, taking its mode (Ansible example)",
                          before: [("example/foo.conf", .file("conf\n", mode: 0o640))],
                          args: ["src": "ROOT/example/foo.conf", "dest": "ROOT/etc/foo.conf", "remote_src": true],
                          after: [("etc/foo.conf", .absent)], changed: false, failed: true),
        FileModuleExample("remote_src into an existing directory",
                          before: [("example/foo.conf", .file("conf\n", mode: 0o640)), ("etc", .directory())],
                          args: ["src": "ROOT/example/foo.conf", "dest": "ROOT/etc/", "remote_src": true],
                          after: [("etc/foo.conf", .file("conf\n", mode: 0o640))], changed: true),
        FileModuleExample("a directory without trailing slash is copied with its name",
                          before: [("files/conf", .directory()), ("files/conf/a.conf", .file("a\n")), ("files/conf/sub/b.conf", .file("b\n", mode: 0o600)),
                                   ("etc", .directory())],
                          args: ["src": "ROOT/files/conf", "dest": "ROOT/etc"],
                          after: [("etc/conf/a.conf", .file("a\n", mode: 0o644)), ("etc/conf/sub/b.conf", .file("b\n", mode: 0o644))], changed: true),
        FileModuleExample("a directory with trailing slash copies what is inside, creating dest",
                          before: [("files/conf/a.conf", .file("a\n")), ("files/conf/sub/b.conf", .file("b\n"))],
                          args: ["src": "ROOT/files/conf/", "dest": "ROOT/etc/app", "directory_mode": "0750"],
                          after: [("etc/app", .directory(mode: 0o750)), ("etc/app/a.conf", .file("a\n")), ("etc/app/sub", .directory(mode: 0o750)),
                                  ("etc/app/sub/b.conf", .file("b\n"))], changed: true),
        FileModuleExample("remote_src: an equal file keeps its own mode",
                          before: [("example/foo.conf", .file("conf\n", mode: 0o640)), ("etc/foo.conf", .file("conf\n", mode: 0o600))],
                          args: ["src": "ROOT/example/foo.conf", "dest": "ROOT/etc/foo.conf", "remote_src": true],
                          after: [("etc/foo.conf", .file("conf\n", mode: 0o600))], changed: false),
        FileModuleExample("remote_src with a directory copies the tree on the target",
                          before: [("srv/conf/a", .file("a\n", mode: 0o600)), ("srv/conf/sub/b", .file("b\n", mode: 0o640)), ("etc", .directory())],
                          args: ["src": "ROOT/srv/conf/", "dest": "ROOT/etc/conf", "remote_src": true],
                          after: [("etc/conf/a", .file("a\n", mode: 0o600)), ("etc/conf/sub/b", .file("b\n", mode: 0o640))], changed: true),
        FileModuleExample("content cannot go to a directory",
                          before: [("d", .directory())], args: ["content": "x", "dest": "ROOT/d/"], after: [("d", .directory())], changed: false, failed: true,
                          msg: "can not use content with a dir as dest"),
        FileModuleExample("validate rejects the new file (Ansible visudo example, with grep)",
                          before: [("sudoers", .file("root ALL=(ALL) ALL\n", mode: 0o440))],
                          args: ["content": "broken\n", "dest": "ROOT/sudoers", "validate": "grep -q ALL %s"],
                          after: [("sudoers", .file("root ALL=(ALL) ALL\n", mode: 0o440))], changed: false, failed: true, checkModeChanged: true),
    ]

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        do {
            return try await execute(context)
        } catch let error as FileModuleError {
            return .failure(error, values: ["dest": .string(context.string("dest") ?? "")])
        } catch let v as ValidationFailure {
            return ModuleResult(failed: true, msg: "failed to validate", values: v.values)
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await FileUndo.undo(record, context)
    }

    /// One file to put in place.
    struct Item: Sendable {
        /// Path relative to the destination directory (the base name for a single file).
        var relative: String
        var data: Data
        /// On the target, for remote_src.
        var remotePath: String?
        /// What the diff's after header names: the source file, or dest for content.
        var sourceLabel: String?
        /// The source's mode, for `mode: preserve`.
        var sourceMode: Int?
        /// SHA-1 of a remote source, computed on the target.
        var checksum: String?
    }

    static func execute(_ context: ModuleContext) async throws -> ModuleResult {
        guard var dest = context.string("dest"), !dest.isEmpty else { return .failure("dest is required") }
        let remoteSrc = context.bool("remote_src") ?? false
        if let content = context.args["content"], !content.isNull {
            if dest.hasSuffix("/") { return .failure("can not use content with a dir as dest") }
            let data: Data
            switch content {
            case .dict, .list: data = Data(content.jsonString().utf8)
            default: data = Data(content.stringified.utf8)
            }
            return try await place([Item(relative: RemotePath.basename(dest), data: data)], dest: dest, directories: [], context: context, srcLabel: nil)
        }
        guard let src = context.string("src"), !src.isEmpty else { return .failure("src (or content) is required") }
        if remoteSrc {
            let fs = RemoteFileSystem(connection: context.connection)
            let info = try await fs.inspect([src], checksum: "sha1").infos[0]
            guard let st = info.effective else { return .failure("Source \(src) not found") }
            if st.kind == .directory {
                return try await remoteTree(src, dest: dest, context: context)
            }
            guard st.kind == .file else { return .failure("Cannot copy invalid source '\(src)': not a file") }
            guard info.readable else { return .failure("Source \(src) not readable") }
            var item = Item(relative: RemotePath.basename(src), data: Data(), remotePath: src, sourceLabel: src, sourceMode: st.mode)
            item.data = Data() // sent by cp on the target, never through the controller
            return try await place([item], dest: dest, directories: [], context: context, srcLabel: src, remoteChecksum: info.checksum)
        }
        guard let found = context.findFile(src, .files) else {
            return .failure("could not find src=\(src), not found in the files/ search path of the play or role")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: found, isDirectory: &isDir) else { return .failure("could not find src=\(src)") }
        if !isDir.boolValue {
            guard let data = FileManager.default.contents(atPath: found) else { return .failure("Source \(src) not readable") }
            let mode = (try? FileManager.default.attributesOfItem(atPath: found)[.posixPermissions] as? Int) ?? nil
            return try await place([Item(relative: RemotePath.basename(found), data: data, sourceLabel: found, sourceMode: mode)],
                                   dest: dest, directories: [], context: context, srcLabel: found)
        }
        // A directory: "dir/" copies what is inside, "dir" copies the directory itself (rsync's rule).
        var warnings: [String] = []
        let (files, dirs) = try walk(found, prefix: src.hasSuffix("/") ? "" : RemotePath.basename(found),
                                     follow: context.bool("local_follow") ?? true, warnings: &warnings)
        if !dest.hasSuffix("/") { dest += "/" }
        var result = try await place(files, dest: dest, directories: dirs, context: context, srcLabel: found)
        result.warnings += warnings
        return result
    }

    /// remote_src with a directory: the tree is listed and hashed on the target and each file is
    /// copied there with `cp`, never through the controller. `dir/` copies what is inside.
    static func remoteTree(_ src: String, dest: String, context: ModuleContext) async throws -> ModuleResult {
        let fs = RemoteFileSystem(connection: context.connection)
        let listing = try await fs.sh(#"cd -- "$1" && find . -mindepth 1 \( -type d -printf 'd%P\0' \) -o \( -type f -printf 'f%P\0' \)"#,
                                      [src], what: "listing \(src)")
        let prefix = src.hasSuffix("/") ? "" : RemotePath.basename(src)
        var dirs: [String] = prefix.isEmpty ? [] : [prefix]
        var files: [String] = []
        for entry in listing.stdout.split(separator: 0) {
            let s = String(decoding: entry, as: UTF8.self)
            let rel = String(s.dropFirst())
            if s.hasPrefix("d") { dirs.append(prefix.isEmpty ? rel : prefix + "/" + rel) } else { files.append(rel) }
        }
        let sources = files.map { RemotePath.join(src, $0) }
        let infos = sources.isEmpty ? [] : try await fs.inspect(sources, checksum: "sha1").infos
        let items = zip(files, infos).map { rel, info in
            Item(relative: prefix.isEmpty ? rel : prefix + "/" + rel, data: Data(), remotePath: info.path, sourceLabel: info.path,
                 sourceMode: info.effective?.mode, checksum: info.checksum)
        }
        return try await place(items, dest: dest.hasSuffix("/") ? dest : dest + "/", directories: dirs, context: context, srcLabel: src)
    }

    /// The files (with content) and directories below `root`, relative paths under `prefix`.
    static func walk(_ root: String, prefix: String, follow: Bool, warnings: inout [String], depth: Int = 0) throws -> ([Item], [String]) {
        guard depth < 64 else { throw FileModuleError.invalidArgument("\(root): directories nested deeper than 64 levels (a link loop?)") }
        var files: [Item] = []
        var dirs: [String] = prefix.isEmpty ? [] : [prefix]
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: root))?.sorted() ?? []
        for n in names {
            let full = root + "/" + n
            let rel = prefix.isEmpty ? n : prefix + "/" + n
            let attrs = try fm.attributesOfItem(atPath: full)
            var type = attrs[.type] as? FileAttributeType
            if type == .typeSymbolicLink {
                if !follow { warnings.append("skipped the link \(full) (local_follow is false; links are not copied as links yet)"); continue }
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: full, isDirectory: &isDir) else { warnings.append("skipped the broken link \(full)"); continue }
                type = isDir.boolValue ? .typeDirectory : .typeRegular
            }
            if type == .typeDirectory {
                let (f, d) = try walk(full, prefix: rel, follow: follow, warnings: &warnings, depth: depth + 1)
                files += f; dirs += d
            } else if type == .typeRegular {
                guard let data = fm.contents(atPath: full) else { throw FileModuleError.invalidArgument("Source \(full) not readable") }
                let mode = (try? fm.attributesOfItem(atPath: full)[.posixPermissions] as? Int) ?? nil
                files.append(Item(relative: rel, data: data, sourceLabel: full, sourceMode: mode))
            }
        }
        return (files, dirs)
    }

    /// Puts `items` at `dest` (a file, or a directory when it ends with `/` or is one); the shared
    /// write path of copy and template.
    static func place(_ items: [Item], dest: String, directories: [String], context: ModuleContext, srcLabel: String?,
                      remoteChecksum: String? = nil, module: String = name) async throws -> ModuleResult {
        let fs = RemoteFileSystem(connection: context.connection)
        let requested = try RequestedAttributes.from(context)
        let dirMode = try FileModeSpec.parse(context.args["directory_mode"]).0
        let force = context.bool("force") ?? true
        let follow = context.bool("follow") ?? false
        let validate = context.string("validate")
        try FileWriter.checkValidate(validate)
        let single = directories.isEmpty && items.count == 1 && !dest.hasSuffix("/")

        // Where each file goes.
        var targets: [String]
        if single {
            let destInfo = try await fs.inspect([dest]).infos[0]
            let intoDir = destInfo.effective?.kind == .directory
            targets = [intoDir ? RemotePath.join(dest, items[0].relative) : dest]
        } else {
            targets = items.map { RemotePath.join(dest, $0.relative) }
        }
        if let expected = context.string("checksum"), items.count == 1 {
            let actual = items[0].remotePath != nil ? (remoteChecksum ?? "") : SHA1.hex(items[0].data)
            if actual != expected {
                return .failure("Copied file does not match the expected checksum. Transfer failed.", values: ["checksum": .string(actual), "expected_checksum": .string(expected)])
            }
        }
        let dirPaths = directories.map { RemotePath.join(dest, $0) }
        let neededDirs = Array(Set(targets.map(RemotePath.dirname) + dirPaths + (dest.hasSuffix("/") ? [RemotePath.dirname(dest + "x")] : []))).sorted()
        let inspection = try await fs.inspect(targets + neededDirs, checksum: "sha1", owner: requested.owner, group: requested.group)
        let infos = Array(inspection.infos[..<targets.count])
        let dirInfos = Array(inspection.infos[targets.count...])

        var result = ModuleResult(values: ["dest": .string(single ? targets[0] : dest)])
        if let srcLabel { result.values["src"] = .string(srcLabel) }
        result.warnings = requested.warnings

        // Directories to create: for a single file its parent must exist (Ansible), for a tree
        // every missing one is made, outermost first.
        var missingDirs = Set<String>()
        for info in dirInfos where info.effective == nil { missingDirs.insert(info.path) }
        if single, let parent = missingDirs.first(where: { $0 == RemotePath.dirname(targets[0]) }) {
            return .failure("Destination directory \(parent) does not exist")
        }
        var toCreate: [String] = []
        if !missingDirs.isEmpty {
            for d in missingDirs.sorted() {
                for a in (try await fs.missingAncestors(of: d)) + [d] where !toCreate.contains(a) { toCreate.append(a) }
            }
            toCreate.sort { $0.split(separator: "/").count < $1.split(separator: "/").count }
            result.changed = true
            if context.checkMode && single == false && items.isEmpty {
                result.msg = "dest directory \(dest) would be created"
            }
            if !context.checkMode {
                try await context.willChange(FileUndoPlan(snapshots: toCreate.reversed().map { PathSnapshot(path: $0, state: .absent) })
                    .record(module: module, summary: "remove the directories created: \(toCreate.joined(separator: ", "))"))
                let base = defaultAttributes(for: .directory, inspection.facts)
                let dirRequest = RequestedAttributes(mode: dirMode, owner: requested.owner, group: requested.group)
                for d in toCreate {
                    try await fs.sh(#"mkdir -- "$1" 2>/dev/null || [ -d "$1" ]"#, [d], what: "creating \(d)")
                    try await AttributePlan.make(path: d, current: base, requested: dirRequest, inspection: inspection).apply(fs)
                }
            }
        }

        var backupFile: String?
        for (index, item) in items.enumerated() {
            var info = infos[index]
            var path = targets[index]
            if info.effective?.kind == .directory {
                return .failure("can not copy \(item.sourceLabel ?? "content") over the directory \(path)")
            }
            if info.exists && !force { if single { result.msg = "file already exists" }; continue }
            if follow, info.isLink, let resolved = info.resolvedPath, !resolved.isEmpty {
                path = resolved
                info = PathInfo(path: resolved, lstat: info.followed, checksum: info.checksum)
            }
            let newSum = item.remotePath != nil ? (item.checksum ?? remoteChecksum) : SHA1.hex(item.data)
            let same = info.lstat?.kind == .file && info.checksum != nil && info.checksum == newSum
            var old: Data?
            if info.lstat?.kind == .file && !same && (context.diffMode || !context.checkMode) {
                old = try await fs.read(path)
            }
            var writer = FileWriter(path: path, newContent: item.data, current: info, oldContent: old, requested: requested, inspection: inspection)
            writer.sameContent = info.lstat?.kind == .file ? same : nil
            writer.remoteSource = item.remotePath
            writer.backup = context.bool("backup") ?? false
            writer.validate = validate
            if requested.mode == .preserve { writer.sourceMode = item.sourceMode }
            if item.remotePath != nil {
                writer.sourceMode = requested.mode == nil || requested.mode == .preserve ? item.sourceMode : nil
                writer.keepExistingAttributes = false
                // A changed file takes the source's mode (Ansible copies its stat); an equal one is left alone.
                if requested.mode == nil && writer.contentChanged { writer.requested.mode = item.sourceMode.map(FileModeSpec.bits) }
            }
            let plan = try writer.attributePlan()
            if context.checkMode { result.warnings += plan.warnings }
            guard writer.contentChanged || !plan.isEmpty else { continue }
            result.changed = true
            if context.diffMode && writer.contentChanged {
                let after = item.remotePath != nil ? "(content of \(item.remotePath!) on the target)\n" : DiffText.content(item.data)
                result.diffs.append(FileDiff(beforeHeader: path, afterHeader: item.sourceLabel ?? path,
                                             before: DiffText.content(old), after: after))
            }
            if context.checkMode { continue }
            let outcome = try await writer.apply(context, module: module, summary: info.exists ? "restore \(path)" : "remove \(path)")
            if let b = outcome.backupFile { backupFile = b }
        }
        if let backupFile { result.values["backup_file"] = .string(backupFile) }
        if single {
            if let sum = items[0].remotePath != nil ? remoteChecksum : SHA1.hex(items[0].data) { result.values["checksum"] = .string(sum) }
            let final = (result.changed && !context.checkMode) ? try await fs.inspect([targets[0]]).infos[0] : infos[0]
            if let st = final.effective {
                result.values["size"] = .int(st.size)
                result.values["mode"] = .string(FileModeSpec.octalText(st.mode))
                result.values["uid"] = .int(st.uid); result.values["gid"] = .int(st.gid)
                result.values["owner"] = .string(st.owner); result.values["group"] = .string(st.group)
                result.values["state"] = "file"
            }
        }
        return result
    }
}
