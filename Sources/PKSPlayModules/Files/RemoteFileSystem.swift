import Foundation
import PKSPlayCore

/// File operations on a target through any ``Connection``, using only a POSIX shell and coreutils.
///
/// Every path reaches the shell as a positional parameter (`set -- 'p1' 'p2'` then `"$1"`), quoted
/// with ``shellQuote(_:)``, and after `--` wherever a command takes options: a path holding
/// spaces, quotes, newlines, `$(...)` or a leading dash is only ever data.
struct RemoteFileSystem: Sendable {
    let connection: any Connection

    static let statFormat = "%f %u %g %s %i %d %h %X %Y %Z %U %G"
    static let checksumAlgorithms = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]

    /// Runs `body` with `args` as `$1...`; fails with `what` when the exit status is not 0.
    @discardableResult
    func sh(_ body: String, _ args: [String] = [], stdin: Data? = nil, environment: [String: String] = [:],
            timeout: Double? = nil, what: String, allowFailure: Bool = false) async throws -> ExecResult {
        let command = "set -- " + args.map(shellQuote).joined(separator: " ") + "\n" + body
        let result = try await connection.exec(ExecRequest(command, stdin: stdin, environment: environment, timeout: timeout))
        if result.exitStatus != 0 && !allowFailure {
            throw FileModuleError.commandFailed(what, result.exitStatus, result.stderrText)
        }
        return result
    }

    private static let inspectScript = #"""
        o=$1 g=$2 a=$3; shift 3
        printf 'H\0'; umask; printf '\0'
        eu= eg=
        if [ -r /proc/self/status ]; then
          while read -r k r e rest; do case $k in Uid:) eu=$e ;; Gid:) eg=$e; break ;; esac; done < /proc/self/status
        fi
        [ -n "$eu" ] || eu=$(id -u); [ -n "$eg" ] || eg=$(id -g)
        printf '%s\0%s\0%s\0' "$eu" "$eg" "$$"
        if [ "${BASH_VERSINFO:-0}" -ge 5 ] 2>/dev/null; then printf '%(%Y-%m-%d@%H:%M:%S)T' -1; else date +%Y-%m-%d@%H:%M:%S; fi
        printf '\0'
        u=; if [ -n "$o" ]; then u=$(id -u "$o" 2>/dev/null); fi
        gi=; if [ -n "$g" ]; then
          gi=$(getent group "$g" 2>/dev/null | cut -d: -f3)
          if [ -z "$gi" ] && [ -r /etc/group ]; then
            while IFS=: read -r n x i rest; do if [ "$n" = "$g" ]; then gi=$i; break; fi; done < /etc/group
          fi
        fi
        printf '%s\0%s\0' "$u" "$gi"
        for p in "$@"; do
          if [ -e "$p" ] || [ -L "$p" ]; then
            printf 'E\0'; stat -c '__FMT__' -- "$p" 2>/dev/null; printf '\0'
            if [ -L "$p" ]; then
              readlink -- "$p"; printf '\0'; readlink -f -- "$p" 2>/dev/null; printf '\0'
              if [ -e "$p" ]; then stat -L -c '__FMT__' -- "$p" 2>/dev/null; fi; printf '\0'
            else printf '\0\0\0'; fi
            f=; if [ -r "$p" ]; then f=r; fi; if [ -w "$p" ]; then f=${f}w; fi; if [ -x "$p" ]; then f=${f}x; fi
            case $p in */*) d=${p%/*} ;; *) d=. ;; esac
            if [ -g "${d:-/}" ]; then f=${f}g; else f=${f}-; fi
            printf '%s\0' "$f"
            if [ -n "$a" ] && [ -f "$p" ] && [ -r "$p" ]; then "${a}sum" < "$p" 2>/dev/null | cut -d' ' -f1; fi; printf '\0'
          else printf 'A\0'; fi
        done
        """#.replacingOccurrences(of: "__FMT__", with: statFormat)

    /// Stats `paths` (one round trip), resolves an owner and group name, and reads the session's
    /// umask, uid, gid, PID and clock. With `checksum` (`sha1`...), regular files get a digest.
    /// The script forks as little as it can (builtins, /proc, bash's own clock): on a host each
    /// fork and exec costs more than the round trip itself.
    ///
    /// With `attributesOnly`, the caller needs no more than each path's `lstat` (owner and group
    /// as numbers), whether its directory is set-group-ID, and the session's umask, uid and gid:
    /// no access flags, link targets, names, PID or clock (so no backup name). Then, when the
    /// connection can stat without a command and an earlier inspection left the session's facts
    /// in its memo, no process is started on the target at all.
    func inspect(_ paths: [String], checksum: String? = nil, owner: String? = nil, group: String? = nil,
                 attributesOnly: Bool = false) async throws -> Inspection {
        if let checksum, !Self.checksumAlgorithms.contains(checksum) {
            throw FileModuleError.invalidArgument("checksum_algorithm must be one of \(Self.checksumAlgorithms.joined(separator: ", ")), got '\(checksum)'")
        }
        if attributesOnly, checksum == nil, owner == nil, group == nil, let quick = try? await inspectWithoutShell(paths) {
            return quick
        }
        let result = try await sh(Self.inspectScript, [owner ?? "", group ?? "", checksum ?? ""] + paths, what: "inspecting \(paths.joined(separator: ", "))")
        var fields = result.stdout.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }[...]
        func next() throws -> String {
            guard let f = fields.popFirst() else { throw FileModuleError.unexpectedOutput("inspecting \(paths.joined(separator: ", "))") }
            return f
        }
        guard try next() == "H", let umask = Int(try next().trimmingCharacters(in: .whitespacesAndNewlines), radix: 8),
              let euid = Int(try next()), let egid = Int(try next()), let pid = Int(try next()) else {
            throw FileModuleError.unexpectedOutput("reading umask, id and PID")
        }
        let facts = TargetFacts(umask: umask, euid: euid, egid: egid, pid: pid, timestamp: try next().trimmingCharacters(in: .whitespacesAndNewlines))
        let ownerID = Int(try next().trimmingCharacters(in: .whitespacesAndNewlines))
        let groupID = Int(try next().trimmingCharacters(in: .whitespacesAndNewlines))
        var infos: [PathInfo] = []
        for path in paths {
            let tag = try next()
            if tag == "A" { infos.append(PathInfo(path: path)); continue }
            guard tag == "E" else { throw FileModuleError.unexpectedOutput("inspecting \(path)") }
            var info = PathInfo(path: path)
            info.lstat = StatRecord(try next())
            let target = try next(), resolved = try next(), followed = try next()
            if info.lstat?.kind == .link {
                info.linkTarget = Self.chompNewline(target)
                info.resolvedPath = Self.chompNewline(resolved)
                info.followed = followed.isEmpty ? nil : StatRecord(followed)
            }
            let flags = try next()
            info.readable = flags.contains("r"); info.writable = flags.contains("w"); info.executable = flags.contains("x")
            info.parentSetGID = flags.contains("g")
            let sum = try next().trimmingCharacters(in: .whitespacesAndNewlines)
            info.checksum = sum.isEmpty ? nil : sum
            // A path that vanished between `test` and `stat` reads as absent.
            if info.lstat == nil { info = PathInfo(path: path) }
            infos.append(info)
        }
        connection.sessionMemo?[Self.sessionFactsKey] = ["umask": .int(facts.umask), "euid": .int(facts.euid), "egid": .int(facts.egid)]
        return Inspection(facts: facts, infos: infos, ownerID: ownerID, groupID: groupID)
    }

    /// Where an inspection leaves the session's umask, uid and gid in the connection's memo: they
    /// hold for every command of the session.
    static let sessionFactsKey = "files.session"

    /// The `attributesOnly` inspection through ``Connection/fileStatuses(_:)``; `nil` (ask a
    /// shell) when the connection has no such way, when no shell inspection has told the
    /// session's facts yet, or when a path is a link (its target needs `readlink -f`).
    private func inspectWithoutShell(_ paths: [String]) async throws -> Inspection? {
        guard let remembered = connection.sessionMemo?[Self.sessionFactsKey]?.dictValue,
              let umask = remembered["umask"]?.intValue, let euid = remembered["euid"]?.intValue,
              let egid = remembered["egid"]?.intValue else { return nil }
        // dirname(1); the script's `${p%/*}` differs only for a trailing slash, where the path
        // cannot be a regular file and its directory does not matter.
        let directories = paths.map(RemotePath.dirname)
        guard let statuses = try await connection.fileStatuses(paths + directories), statuses.count == 2 * paths.count else { return nil }
        var infos: [PathInfo] = []
        for (index, path) in paths.enumerated() {
            var info = PathInfo(path: path)
            if let status = statuses[index] {
                let record = StatRecord(status)
                if record.kind == .link { return nil }
                info.lstat = record
                // `[ -g ]` follows a link; a directory reached through one stays unknown.
                if let directory = statuses[paths.count + index], StatRecord.kind(ofMode: directory.mode) == .directory {
                    info.parentSetGID = directory.mode & 0o2000 != 0
                }
            }
            infos.append(info)
        }
        return Inspection(facts: TargetFacts(umask: umask, euid: euid, egid: egid, pid: 0, timestamp: ""), infos: infos)
    }

    static func chompNewline(_ s: String) -> String { s.hasSuffix("\n") ? String(s.dropLast()) : s }

    /// The whole content of a file.
    func read(_ path: String) async throws -> Data {
        try await connection.get(path)
    }

    /// The ancestors of `path` that do not exist yet, outermost first.
    func missingAncestors(of path: String) async throws -> [String] {
        var ancestors: [String] = []
        var dir = RemotePath.dirname(path)
        while dir != "/" && dir != "." && !ancestors.contains(dir) {
            ancestors.insert(dir, at: 0)
            dir = RemotePath.dirname(dir)
        }
        guard !ancestors.isEmpty else { return [] }
        let inspection = try await inspect(ancestors, attributesOnly: true)
        return inspection.infos.filter { !$0.exists }.map(\.path)
    }

    /// A fresh name beside `path` for a temporary file (same directory, so `mv` is a rename).
    static func temporaryPath(beside path: String) -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return RemotePath.join(RemotePath.dirname(path), ".pksplay-\(hex).tmp" + RemotePath.suffix(path))
    }

    /// `chmod` wants the 5-digit form to clear set-id bits on directories (GNU).
    static func chmodArgument(_ mode: Int) -> String { "0" + String(repeating: "0", count: max(0, 4 - String(mode, radix: 8).count)) + String(mode, radix: 8) }
}
