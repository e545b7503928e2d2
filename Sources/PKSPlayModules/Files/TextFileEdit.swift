import Foundation
import PKSPlayCore

/// The shared shape of lineinfile, blockinfile and replace: read the file (through a link, to
/// its real path, as Ansible does), compute the new text, then let ``FileWriter`` write it and
/// fix mode and owner, with Ansible's `(content)` and `(file attributes)` diffs.
struct TextFileEdit: Sendable {
    /// The path as the task names it (used in messages and diff headers).
    var path: String
    /// Where the bytes are written: `path`, or its real path when it is a link.
    var writePath: String
    /// `lstat` of `writePath`.
    var info: PathInfo
    var inspection: Inspection
    var requested: RequestedAttributes
    var original: Data?
    var text: String

    var exists: Bool { info.exists }

    enum LoadFailure: Error { case result(ModuleResult) }

    /// Inspects and reads `path`. Fails as Ansible does for a directory (rc 256).
    static func load(_ context: ModuleContext, path: String, requested: RequestedAttributes) async throws -> TextFileEdit {
        let fs = RemoteFileSystem(connection: context.connection)
        // Without an owner, a group or a backup (its name needs the target's PID and clock), the
        // file's lstat is all the edit needs: no process on the target when the connection allows.
        let backup = context.bool("backup") ?? false
        let inspection = try await fs.inspect([path], owner: requested.owner, group: requested.group,
                                              attributesOnly: !backup && requested.owner == nil && requested.group == nil)
        var info = inspection.infos[0]
        if info.effective?.kind == .directory {
            throw LoadFailure.result(ModuleResult(failed: true, msg: "Path \(path) is a directory !", values: ["rc": 256]))
        }
        var writePath = path
        if info.isLink, let resolved = info.resolvedPath, !resolved.isEmpty {
            writePath = resolved
            info = PathInfo(path: resolved, lstat: info.followed, readable: info.readable, writable: info.writable)
        }
        var original: Data?
        var text = ""
        if info.exists {
            let data = try await fs.read(writePath)
            original = data
            text = try TextFile.decode(data, path: path)
        }
        return TextFileEdit(path: path, writePath: writePath, info: info, inspection: inspection, requested: requested, original: original, text: text)
    }

    /// Attributes, check mode, undo and write, in Ansible's order; `msg` gets
    /// ` and ownership, perms or SE linux context changed` when attributes change too.
    func finish(_ context: ModuleContext, module: String, newText: String, contentChanged: Bool, msg: String,
                backup: Bool, validate: String?, extraValues: ValueDict = [:], backupKey: String? = "backup",
                earlyExitWhenMissingInCheck: Bool = true, contentDiff: Bool = true) async throws -> ModuleResult {
        let newData = Data(newText.utf8)
        var diffs: [FileDiff] = []
        if context.diffMode && contentDiff {
            diffs.append(FileDiff(beforeHeader: "\(path) (content)", afterHeader: "\(path) (content)",
                                  before: DiffText.content(original), after: DiffText.content(newData)))
        }
        var values = extraValues
        if let backupKey { values[backupKey] = "" }
        if context.checkMode && !exists && earlyExitWhenMissingInCheck {
            return ModuleResult(changed: contentChanged, msg: msg, values: values, diffs: diffs, warnings: requested.warnings)
        }
        if !exists && !contentChanged {
            // Nothing to write and nothing to set attributes on (Ansible would fail to stat it).
            return ModuleResult(changed: false, msg: msg, values: values, diffs: diffs, warnings: requested.warnings)
        }
        let missing = (!exists && !context.checkMode) ? try await RemoteFileSystem(connection: context.connection).missingAncestors(of: writePath) : []
        var writer = FileWriter(path: writePath, newContent: contentChanged ? newData : (original ?? Data()), current: info, oldContent: original,
                                requested: requested, inspection: inspection)
        writer.backup = backup
        writer.validate = validate
        writer.createDirectories = missing
        let plan = try writer.attributePlan()
        var message = msg
        var changed = contentChanged
        if !plan.isEmpty {
            if changed { message += " and " }
            changed = true
            message += "ownership, perms or SE linux context changed"
            if context.diffMode, let d = DiffText.attributes(plan, header: path) { diffs.append(d) }
        }
        var warnings = requested.warnings
        if context.checkMode { warnings += plan.warnings }
        if changed && !context.checkMode {
            let outcome = try await writer.apply(context, module: module, summary: exists ? "restore \(path)" : "remove \(path)")
            if let b = outcome.backupFile {
                if let backupKey { values[backupKey] = .string(b) }
                values["backup_file"] = .string(b)
            }
        }
        return ModuleResult(changed: changed, msg: message, values: values, diffs: diffs, warnings: warnings)
    }
}

extension String {
    /// Byte equality: Swift's `==` treats canonically equivalent text as equal, Ansible compares bytes.
    func bytesEqual(_ other: String) -> Bool { utf8.elementsEqual(other.utf8) }
    /// Byte containment (Python's `in` on bytes).
    func bytesContain(_ needle: String) -> Bool {
        if needle.isEmpty { return true }
        return Data(utf8).range(of: Data(needle.utf8)) != nil
    }
    var endsWithLineBreak: Bool { unicodeScalars.last == "\n" || unicodeScalars.last == "\r" }
}

/// lineinfile, blockinfile and replace: each edits one text file through ``TextFileEdit``; they turn
/// its failures into results the same way and are undone by ``FileUndo``.
public protocol TextFileEditModule: Module {
    static func execute(_ context: ModuleContext) async throws -> ModuleResult
}

extension TextFileEditModule {
    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        do {
            return try await execute(context)
        } catch TextFileEdit.LoadFailure.result(let r) {
            return r
        } catch let error as FileModuleError {
            return .failure(error)
        } catch let v as ValidationFailure {
            return ModuleResult(failed: true, msg: v.lineStyleMessage, values: v.values)
        }
    }

    public static func undo(_ record: UndoRecord, _ context: ModuleContext) async throws -> ModuleResult {
        try await FileUndo.undo(record, context)
    }
}
