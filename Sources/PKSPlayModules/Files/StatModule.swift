import Foundation
import PKSPlayCore

/// `stat`: what is at a path (type, mode, owner, size, times, link target, checksum), read-only.
public enum StatModule: Module, HasFileModuleExamples {
    public static let name = "stat"

    public static let arguments = ArgumentSpec([
        Argument("path", .path, required: true, aliases: ["dest", "name"], help: "The path to look at."),
        Argument("follow", .bool, default: false, help: "Follow a symbolic link and describe its target."),
        Argument("get_checksum", .bool, default: true, help: "Compute the checksum of a regular file."),
        Argument("checksum_algorithm", .string, default: "sha1", choices: RemoteFileSystem.checksumAlgorithms,
                 aliases: ["checksum", "checksum_algo"], help: "Digest used for `checksum`."),
        Argument("get_mime", .bool, default: true, aliases: ["mime", "mime_type", "mime-type"], help: "Accepted for Ansible compatibility; not reported."),
        Argument("get_attributes", .bool, default: true, aliases: ["attr", "attributes"], help: "Accepted for Ansible compatibility; not reported."),
    ])

    public static let documentation = ModuleDocumentation(
        summary: "Read facts about a file or directory (exists, isdir, mode, owner, size, times, checksum); never changes anything.",
        example: """
        - name: Look at the PostgreSQL data directory
          stat:
            path: /srv/pks/db
          register: db

        - name: Fail unless it is a directory owned by uid 999
          assert:
            that:
              - db.stat.exists and db.stat.isdir
              - db.stat.uid == 999

        - name: SHA-256 of the compose file
          stat:
            path: /srv/pks/docker-compose.yml
            checksum_algorithm: sha256
          register: compose
        """,
        notes: ["Results are under `stat`: exists, path, mode ('0644'), isdir, isreg, islnk, lnk_source, lnk_target, uid, gid, pw_name, gr_name, size, mtime, atime, ctime, inode, dev, nlink, readable, writeable, executable, checksum.",
                "get_mime and get_attributes are accepted but mimetype and attributes are not reported."]
    )

    public static let examples: [FileModuleExample] = [
        FileModuleExample("stat never changes anything", before: [("motd", .file("hello\n", mode: 0o640))],
                          args: ["path": "ROOT/motd"], after: [("motd", .file("hello\n", mode: 0o640))], changed: false),
        FileModuleExample("stat of a missing path", args: ["path": "ROOT/missing"], after: [("missing", .absent)], changed: false),
    ]

    public static func run(_ context: ModuleContext) async throws -> ModuleResult {
        guard let path = context.string("path"), !path.isEmpty else { return .failure("path is required") }
        let follow = context.bool("follow") ?? false
        let algorithm = (context.bool("get_checksum") ?? true) ? (context.string("checksum_algorithm") ?? "sha1") : nil
        let fs = RemoteFileSystem(connection: context.connection)
        do {
            let inspection = try await fs.inspect([path], checksum: algorithm)
            let info = inspection.infos[0]
            let st = follow ? info.effective : info.lstat
            guard let st else { return ModuleResult(values: ["stat": ["exists": false]]) }
            return ModuleResult(values: ["stat": .dict(describe(info, st, follow: follow, checksum: algorithm != nil))])
        } catch let error as FileModuleError {
            return .failure(error)
        }
    }

    static func describe(_ info: PathInfo, _ st: StatRecord, follow: Bool, checksum: Bool) -> ValueDict {
        let m = st.mode
        var out: ValueDict = [
            "exists": true, "path": .string(info.path), "mode": .string(FileModeSpec.statText(m)),
            "isdir": .bool(st.kind == .directory), "ischr": .bool(st.kind == .char), "isblk": .bool(st.kind == .block),
            "isreg": .bool(st.kind == .file), "isfifo": .bool(st.kind == .fifo), "islnk": .bool(st.kind == .link),
            "issock": .bool(st.kind == .socket),
            "uid": .int(st.uid), "gid": .int(st.gid), "size": .int(st.size), "inode": .int(st.inode), "dev": .int(st.device),
            "nlink": .int(st.nlink), "atime": .double(Double(st.atime)), "mtime": .double(Double(st.mtime)), "ctime": .double(Double(st.ctime)),
            "wusr": .bool(m & 0o200 != 0), "rusr": .bool(m & 0o400 != 0), "xusr": .bool(m & 0o100 != 0),
            "wgrp": .bool(m & 0o020 != 0), "rgrp": .bool(m & 0o040 != 0), "xgrp": .bool(m & 0o010 != 0),
            "woth": .bool(m & 0o002 != 0), "roth": .bool(m & 0o004 != 0), "xoth": .bool(m & 0o001 != 0),
            "isuid": .bool(m & 0o4000 != 0), "isgid": .bool(m & 0o2000 != 0),
            "readable": .bool(info.readable), "writeable": .bool(info.writable), "executable": .bool(info.executable),
        ]
        if st.kind == .link {
            out["lnk_source"] = .string(info.resolvedPath ?? "")
            out["lnk_target"] = .string(info.linkTarget ?? "")
        }
        if st.owner != "UNKNOWN" { out["pw_name"] = .string(st.owner) }
        if st.group != "UNKNOWN" { out["gr_name"] = .string(st.group) }
        if checksum, st.kind == .file, info.readable, let sum = info.checksum { out["checksum"] = .string(sum) }
        return out
    }
}
