import Foundation
import PKSPlayCore

/// The one way file modules replace a file's content: decide, then (outside check mode) journal
/// the undo, write a temporary file beside the target with `put`, give it its final mode and
/// owner, validate it, back up the old file, and `mv -f` it over the target (a rename).
struct FileWriter: Sendable {
    /// The file to replace (already resolved through a link when the module follows links).
    var path: String
    var newContent: Data
    /// `lstat` of `path`.
    var current: PathInfo
    /// The current content of `path` when it is a regular file (needed for the undo and diff).
    var oldContent: Data?
    var requested: RequestedAttributes
    var inspection: Inspection
    var backup = false
    /// A command with `%s`, run on the temporary file; the change is applied only if it exits 0.
    var validate: String?
    /// Directories to create first (outermost first), recorded for undo.
    var createDirectories: [String] = []
    /// `mode: preserve`, or a remote source's mode that the new file takes.
    var sourceMode: Int?
    /// Whether an existing file keeps its mode and owner when none is asked for (false for
    /// `remote_src`, where the copy takes the source's mode, as Ansible does).
    var keepExistingAttributes = true

    /// Set when the caller compared checksums itself (copy), so the old content need not be read.
    var sameContent: Bool?
    /// A file on the target to copy (`cp`) instead of sending `newContent` (copy with remote_src).
    var remoteSource: String?

    /// Whether the bytes differ (or the path is not a regular file yet).
    var contentChanged: Bool {
        guard let st = current.lstat, st.kind == .file else { return true }
        if let sameContent { return !sameContent }
        guard let oldContent else { return true }
        return oldContent != newContent
    }

    /// The attributes the file has before the requested ones are applied: the existing file's,
    /// or those a new file gets.
    var baseline: StatRecord {
        if let st = current.lstat, st.kind == .file, keepExistingAttributes || !contentChanged { return st }
        var d = defaultAttributes(for: .file, inspection.facts)
        if let sourceMode { d.mode = sourceMode }
        return d
    }

    func attributePlan() throws -> AttributePlan {
        try AttributePlan.make(path: path, current: baseline, requested: requested, inspection: inspection, sourceMode: sourceMode)
    }

    /// The name the backup will have, when one will be made.
    var backupPath: String? {
        guard backup, contentChanged, let st = current.lstat, st.kind == .file else { return nil }
        return inspection.facts.backupName(for: path)
    }

    /// What undo needs: the old file (content and attributes) or its absence, then the
    /// directories this write creates, innermost first.
    func undoPlan(temporary: String?) -> FileUndoPlan {
        var snaps: [PathSnapshot] = []
        if contentChanged {
            snaps.append(PathSnapshot.of(current, content: current.lstat?.kind == .file ? oldContent : nil))
        } else {
            snaps.append(PathSnapshot.metadata(current))
        }
        for dir in createDirectories.reversed() { snaps.append(PathSnapshot(path: dir, state: .absent)) }
        var remove: [String] = []
        if let b = backupPath { remove.append(b) }
        if let temporary { remove.append(temporary) }
        return FileUndoPlan(snapshots: snaps, remove: remove)
    }

    /// What happened: the backup made, if any.
    struct Outcome: Sendable { var backupFile: String? }

    /// Journals the undo through `context.willChange`, then writes. Call only outside check mode
    /// and only when ``contentChanged`` or the attribute plan is not empty.
    func apply(_ context: ModuleContext, module: String, summary: String) async throws -> Outcome {
        let fs = RemoteFileSystem(connection: context.connection)
        let plan = try attributePlan()
        guard contentChanged else {
            try await context.willChange(undoPlan(temporary: nil).record(module: module, summary: summary))
            try await plan.apply(fs)
            return Outcome(backupFile: nil)
        }
        let tmp = RemoteFileSystem.temporaryPath(beside: path)
        // Write-ahead: the journal names the change (and the temporary file, which the undo removes
        // if it was left behind) before anything is written. With `validate`, the candidate is
        // checked first, and a rejected one is no change, so the journal waits for the verdict.
        let journalFirst = validate == nil || !createDirectories.isEmpty
        func journal() async throws {
            try await context.willChange(undoPlan(temporary: tmp).record(module: module, summary: summary))
        }
        if journalFirst { try await journal() }
        if let innermost = createDirectories.last {
            try await fs.sh(#"mkdir -p -- "$1""#, [innermost], what: "creating \(innermost)")
        }
        // Preserved owner first (failure ignored, as Ansible does for non-root), then the requested
        // one (failure is an error); chmod last because chown may clear set-id bits.
        var keep = ""
        if let st = current.lstat, st.kind == .file, keepExistingAttributes {
            keep = "\(st.uid):\(st.gid)"
        }
        // The temporary file is already ours: the chown that keeps the old owner is needed only
        // when that owner is someone else or the directory is set-group-ID (then the group
        // differs). `[ -g ]` is a shell builtin; chown would cost a process on the host.
        let me = "\(inspection.facts.euid):\(inspection.facts.egid)"
        let finalMode = plan.mode ?? baseline.mode
        let keepNeedsChown = !keep.isEmpty && (keep != me || current.parentSetGID != false)
        if remoteSource == nil, validate == nil, backupPath == nil, plan.chownSpec == nil, !keepNeedsChown {
            // The common case: no owner to set, nothing to check or back up. The temporary file
            // gets its final mode as it is written (no chmod) and the connection renames it over
            // the target (over SSH an SFTP request): no process at all on the host.
            try await context.connection.put(newContent, to: tmp, mode: finalMode)
            do {
                try await context.connection.rename(tmp, to: path)
            } catch {
                _ = try? await fs.sh(#"rm -f -- "$1""#, [tmp], what: "removing \(tmp)", allowFailure: true)
                throw error
            }
            return Outcome(backupFile: nil)
        }
        if let remoteSource {
            try await fs.sh(#"(umask 077 && cp -- "$1" "$2")"#, [remoteSource, tmp], what: "copying \(remoteSource) on the target")
        } else {
            try await context.connection.put(newContent, to: tmp, mode: 0o600)
        }
        let prepare = #"""
            t=$1 keep=$2 o=$3 m=$4 me=$5 dir=$6
            fail() { rm -f -- "$t"; exit "$1"; }
            if [ -n "$keep" ] && { [ "$keep" != "$me" ] || [ -g "$dir" ]; }; then chown -- "$keep" "$t" 2>/dev/null || :; fi
            if [ -n "$o" ]; then chown -- "$o" "$t" || fail 6; fi
            chmod "$m" -- "$t" || fail 5
            """#
        let commit = #"""
            t=$1 d=$2 b=$3
            fail() { rm -f -- "$t"; exit "$1"; }
            if [ -n "$b" ]; then cp -p -- "$d" "$b" || fail 4; fi
            mv -f -- "$t" "$d" || fail 7
            """#
        let prepareArgs = [tmp, keep, plan.chownSpec ?? "", RemoteFileSystem.chmodArgument(finalMode), me, RemotePath.dirname(tmp)]
        let commitArgs = [tmp, path, backupPath ?? ""]
        guard let validate else {
            // Nothing to check between preparing the candidate and committing it: one round trip.
            try await run(fs, prepare + "\nshift \(prepareArgs.count)\n" + commit, prepareArgs + commitArgs)
            return Outcome(backupFile: backupPath)
        }
        try await run(fs, prepare, prepareArgs)
        let command = validate.replacingOccurrences(of: "%s", with: shellQuote(tmp))
        let r = try await fs.sh(command, [], what: "validating", allowFailure: true)
        if r.exitStatus != 0 {
            try await fs.sh(#"rm -f -- "$1""#, [tmp], what: "removing \(tmp)")
            throw ValidationFailure(command: validate, status: r.exitStatus, stdout: r.stdoutText, stderr: r.stderrText)
        }
        if !journalFirst { try await journal() }
        try await run(fs, commit, commitArgs)
        return Outcome(backupFile: backupPath)
    }

    private func run(_ fs: RemoteFileSystem, _ script: String, _ args: [String]) async throws {
        let r = try await fs.sh(script, args, what: "writing \(path)", allowFailure: true)
        switch r.exitStatus {
        case 0: return
        case 4: throw FileModuleError.commandFailed("Could not make backup of \(path) to \(backupPath ?? "")", 4, r.stderrText)
        case 5: throw FileModuleError.commandFailed("chmod failed on the new \(path)", 5, r.stderrText)
        case 6: throw FileModuleError.commandFailed("chown failed on the new \(path)", 6, r.stderrText)
        default: throw FileModuleError.commandFailed("could not replace \(path)", r.exitStatus, r.stderrText)
        }
    }

    /// Checks `validate` has its `%s` before anything is done.
    static func checkValidate(_ validate: String?) throws {
        if let validate, !validate.contains("%s") {
            throw FileModuleError.invalidArgument("validate must contain %s: \(validate)")
        }
    }
}

/// The `validate` command rejected the new content; nothing was changed.
struct ValidationFailure: Error, Sendable {
    var command: String
    var status: Int32
    var stdout: String
    var stderr: String

    /// lineinfile/blockinfile/replace word it `failed to validate: rc:1 error:...`.
    var lineStyleMessage: String { "failed to validate: rc:\(status) error:\(stderr)" }

    var values: ValueDict { ["exit_status": .int(Int(status)), "stdout": .string(stdout), "stderr": .string(stderr)] }
}
