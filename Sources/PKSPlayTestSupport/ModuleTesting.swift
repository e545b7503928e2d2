import Foundation
import Logging
import PKSPlayCore

/// The module's ``ArgumentSpec`` rejected the arguments a test gave.
public struct InvalidArguments: Error, CustomStringConvertible, Sendable {
    public var module: String
    public var problems: [ArgumentSpec.Problem]
    public var description: String {
        "\(module): " + problems.map { p in p.hint.map { "\(p.message) (\($0))" } ?? p.message }.joined(separator: "; ")
    }
}

/// Builds a ``ModuleContext`` the way the engine does: `args` go through `module`'s spec
/// (``ArgumentSpec/validate(_:partial:)``), so defaults are filled in and values coerced, and a
/// test exercises the spec as well as the module. Throws ``InvalidArguments`` when the spec rejects them.
public func makeContext(
    _ module: any Module.Type,
    args: ValueDict,
    connection: any Connection,
    checkMode: Bool = false,
    diffMode: Bool = false,
    verbosity: Int = 0,
    evaluate: @escaping @Sendable (String) throws -> Value = { _ in .null },
    render: @escaping @Sendable (String) throws -> String = { $0 },
    findFile: @escaping @Sendable (String, ControlFileKind) -> String? = { _, _ in nil },
    willChange: @escaping @Sendable (UndoRecord) async throws -> Void = { _ in },
    progress: @escaping @Sendable (String) -> Void = { _ in }
) throws -> ModuleContext {
    let (validated, problems) = module.arguments.validate(args)
    if !problems.isEmpty { throw InvalidArguments(module: module.name, problems: problems) }
    return ModuleContext(
        args: validated, connection: connection, host: connection.hostName, checkMode: checkMode, diffMode: diffMode,
        verbosity: verbosity, logger: Logger(label: "pksplay.test"), evaluate: evaluate, render: render,
        findFile: findFile, willChange: willChange, progress: progress)
}

/// Validates `args` against `module`'s spec and runs it: ``makeContext(_:args:connection:checkMode:diffMode:verbosity:evaluate:render:findFile:willChange:progress:)`` then `run`.
public func runModule(
    _ module: any Module.Type,
    args: ValueDict,
    connection: any Connection,
    checkMode: Bool = false,
    diffMode: Bool = false,
    verbosity: Int = 0,
    evaluate: @escaping @Sendable (String) throws -> Value = { _ in .null },
    findFile: @escaping @Sendable (String, ControlFileKind) -> String? = { _, _ in nil },
    progress: @escaping @Sendable (String) -> Void = { _ in }
) async throws -> ModuleResult {
    let context = try makeContext(
        module, args: args, connection: connection, checkMode: checkMode, diffMode: diffMode, verbosity: verbosity,
        evaluate: evaluate, findFile: findFile, progress: progress)
    return try await module.run(context)
}

/// A fresh directory under the system's temporary folder, removed with everything in it on `deinit`.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(prefix: String = "pksplay-test") throws {
        let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(prefix).XXXXXX")
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: template])
        }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `text` to `path/name` (creating folders on the way) and returns the full path.
    @discardableResult
    public func write(_ name: String, _ text: String, mode: Int? = nil) throws -> String {
        let full = file(name)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full) }
        return full
    }

    public func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
}
