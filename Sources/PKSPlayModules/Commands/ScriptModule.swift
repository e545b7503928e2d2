import Foundation
import PKSPlayCore

/// `script`: copies a script from the control machine to the target, runs it there, removes it.
///
/// The free-form text is the script's name then its arguments (`files/check.sh --fast`); the name is
/// looked up like Ansible's `files/` search, falling back to the path as given. The arguments are
/// split like a shell would and reach the script as literal words: unlike Ansible, the target's
/// shell does not expand `$VARS` or globs in them. The script goes to a fresh private directory
/// (mode 0700) and is deleted afterwards, whatever happened.
public enum ScriptModule: Module {
    public static let name = "script"

    public static let arguments = ArgumentSpec(
        [
            Argument("cmd", .string, aliases: ["_raw_params"], help: "The script's path on the control machine, then its arguments."),
            Argument("chdir", .string, help: "An absolute directory on the target to run the script in."),
            Argument("creates", .string, help: "A path on the target; when it exists the script does not run."),
            Argument("removes", .string, help: "A path on the target; when it does not exist the script does not run."),
            Argument("executable", .string, help: "Run the script with this program (python3, /bin/bash)."),
        ],
        freeForm: "cmd",
        requiredOneOf: [["cmd"]]
    )

    public static let documentation = ModuleDocumentation(
        summary: "Copy a local script to the target and run it there.",
        example: """
            - name: Prepare the standby's disks once
              ansible.builtin.script: files/prepare-disks.sh --data /srv/pks
              args:
                creates: /srv/pks/.disks-ready

            - name: A Python script
              ansible.builtin.script:
                cmd: files/report.py --json
                executable: python3
            """,
        notes: [
            "Check mode: runs nothing; reports changed when creates/removes are given, else skipped.",
            "Arguments are passed as literal words; no shell expansion happens on the target.",
        ])

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        var args = context.args
        let (text, options) = FreeFormOptions.extract(from: context.string("cmd") ?? "", keys: ["creates", "removes", "chdir", "executable"])
        for (key, value) in options { args[key] = .string(value) }
        func arg(_ key: String) -> String? { args[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        let creates = arg("creates"), removes = arg("removes"), chdir = arg("chdir"), executable = arg("executable")

        if creates != nil || removes != nil {
            let preflight: Preflight
            do {
                preflight = try await Preflight.check(context.connection, chdir: nil, creates: creates, removes: removes, glob: false)
            } catch let error as PreflightError {
                return .failure(error.description)
            }
            if let creates, preflight.createsExists == true {
                return ModuleResult(skipped: true, msg: "\(creates) exists, matching creates option")
            }
            if let removes, preflight.removesExists == false {
                return ModuleResult(skipped: true, msg: "\(removes) does not exist, matching removes option")
            }
        }
        if let chdir, !chdir.hasPrefix("/") {
            return .failure("chdir \(chdir) must be an absolute path for a Unix-aware remote node")
        }

        let words: [String]
        let interpreter: [String]
        do {
            words = try ShellWords.split(text)
            interpreter = try executable.map(ShellWords.split) ?? []
        } catch {
            return .failure("cannot split the script line into words: \(error)")
        }
        guard let scriptName = words.first, !scriptName.isEmpty else {
            return .failure("no script given: write the script's path, then its arguments")
        }
        guard let source = context.findFile(scriptName, .files) ?? (FileManager.default.isReadableFile(atPath: scriptName) ? scriptName : nil)
        else {
            return .failure("Could not find or access '\(scriptName)' on the control machine (looked in files/ of the role and the playbook, then the path as given)")
        }

        if context.checkMode {
            // A script cannot predict itself; creates/removes already said it would run.
            if creates != nil || removes != nil { return ModuleResult(changed: true) }
            return ModuleResult(skipped: true, msg: "Check mode is not supported for this task.")
        }

        let content: Data
        do {
            content = try Data(contentsOf: URL(fileURLWithPath: source))
        } catch {
            return .failure("cannot read the script \(source): \(error.localizedDescription)")
        }

        let made = try await context.connection.exec(ExecRequest(#"umask 077 && mktemp -d "${TMPDIR:-/tmp}/pksplay-script.XXXXXXXX""#))
        let directory = made.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard made.exitStatus == 0, directory.hasPrefix("/"), !directory.contains("\n") else {
            return .failure("cannot make a temporary directory on the host: \(made.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let remote = directory + "/" + ((source as NSString).lastPathComponent)
        var line = ""
        if let chdir { line += "cd -- \(shellQuote(chdir)) && " }
        line += "exec " + shellJoin(interpreter + [remote] + words.dropFirst())

        let outcome: Result<ExecResult, Error>
        do {
            try await context.connection.put(content, to: remote, mode: 0o700)
            outcome = .success(try await context.connection.exec(ExecRequest(line)))
        } catch {
            outcome = .failure(error)
        }
        // Removed whatever happened; a failure to remove must not hide the script's own result.
        _ = try? await context.connection.exec(ExecRequest("rm -rf -- \(shellQuote(directory))"))
        let result = try outcome.get()
        let failed = result.exitStatus != 0
        return ModuleResult(changed: true, failed: failed, msg: failed ? "non-zero return code" : nil, values: lowLevelValues(result))
    }
}
