import Foundation
import PKSPlayCore

/// One line of a run's journal.
public struct JournalEntry: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case run, change, taskUndo = "task_undo", taskEnd = "task_end", end, undone }

    public var kind: Kind
    public var seq: Int
    public var time: Double
    // run
    public var runID: String?
    public var playbook: String?
    public var inventory: [String]?
    public var checkMode: Bool?
    public var extraVarNames: [String]?
    // change / task_undo / task_end
    public var host: String?
    public var task: String?
    public var location: String?
    public var undo: UndoRecord?
    /// The connection variables of the host (no passwords), so rollback reaches it without the inventory.
    public var connection: Value?
    public var status: String?
    // end
    public var outcome: String?
    // undone: the `seq` of a change a rollback has reversed; a later rollback skips it
    public var undoneSeq: Int?

    public init(kind: Kind, seq: Int) {
        self.kind = kind
        self.seq = seq
        self.time = Date().timeIntervalSince1970
    }

    /// The entry as one line of JSON, keys sorted, absent fields left out, no space between
    /// items: what `JSONEncoder` wrote (except that `/` is not escaped), and `JSONDecoder` reads
    /// it back. Written by hand because the journal takes a line per task on every host, and the
    /// encoder's reflection cost more than the task's own bookkeeping.
    public var jsonLine: String {
        var fields: [(String, Value)] = [("kind", .string(kind.rawValue)), ("seq", .int(seq)), ("time", .double(time))]
        func add(_ key: String, _ value: Value?) { if let value { fields.append((key, value)) } }
        add("runID", runID.map(Value.string))
        add("playbook", playbook.map(Value.string))
        add("inventory", inventory.map { .list($0.map(Value.string)) })
        add("checkMode", checkMode.map(Value.bool))
        add("extraVarNames", extraVarNames.map { .list($0.map(Value.string)) })
        add("host", host.map(Value.string))
        add("task", task.map(Value.string))
        add("location", location.map(Value.string))
        add("undo", undo.map { .dict(["module": .string($0.module), "summary": .string($0.summary), "data": $0.data]) })
        add("connection", connection)
        add("status", status.map(Value.string))
        add("outcome", outcome.map(Value.string))
        add("undoneSeq", undoneSeq.map(Value.int))
        return Value.dict(ValueDict(fields)).jsonString(sortKeys: true, tight: true)
    }
}

/// A journal on disk: JSON lines, mode 0600, each change written and synced before it is applied.
///
/// Entries that arrive together share a sync (group commit): a writer that finds a sync under way
/// waits for it, then one sync covers every line written meanwhile. With a change per host in
/// flight at once, 50 hosts cost a few syncs per task instead of 50 in a row.
public final class FileJournal: ChangeJournal, @unchecked Sendable {
    public let runID: String
    public let path: String
    private let fd: Int32
    /// Orders `seq` and the writes: a line is whole in the file before the next `seq` is given.
    private let lock = NSLock()
    private var seq = 0
    /// One sync at a time; `syncedSeq` (guarded by it): every line up to it is on disk.
    private let syncLock = NSLock()
    private var syncedSeq = 0
    private let sync: @Sendable (Int32) -> Int32

    /// Variables never written to a journal: they hold secrets.
    static let secretVariables: Set<String> = ["ansible_password", "ansible_ssh_pass", "ansible_become_password", "ansible_become_pass"]

    /// Creates the state directory (0700) and a new journal file (0600) for a run. `sync` makes the
    /// file's lines durable: `fdatasync`, which skips the timestamps `fsync` would also write.
    public init(stateDirectory: String, playbook: String, inventory: [String], checkMode: Bool, extraVarNames: [String],
                sync: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }) throws {
        self.sync = sync
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let stamp = FileJournal.timestamp()
        runID = "\(stamp)-\(String(UUID().uuidString.prefix(6)).lowercased())"
        path = (stateDirectory as NSString).appendingPathComponent("run-\(runID).jsonl")
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Diagnostic("cannot create the run journal \(path): \(String(cString: strerror(errno)))", at: nil, hint: "check --state-dir") }
        fchmod(fd, 0o600)
        // The file's name must outlive a crash too: its directory is synced once, here.
        let dirFD = open(stateDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 { _ = fsync(dirFD); close(dirFD) }
        var e = JournalEntry(kind: .run, seq: 0)
        e.runID = runID
        e.playbook = playbook
        e.inventory = inventory
        e.checkMode = checkMode
        e.extraVarNames = extraVarNames
        try append(e)
    }

    deinit { close(fd) }

    /// `yyyyMMddTHHmmss` in UTC, from the C library: a DateFormatter would load ICU's calendar
    /// and time zone data, a few milliseconds of every run's start.
    static func timestamp(_ seconds: time_t = time(nil)) -> String {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)" + two(parts.tm_mon + 1) + two(parts.tm_mday) + "T" + two(parts.tm_hour) + two(parts.tm_min) + two(parts.tm_sec)
    }

    /// Writes `entry` and, when `durable`, returns once it is on disk. An entry written without
    /// waiting is on disk with the next durable one: a sync covers every line written before it.
    func append(_ entry: JournalEntry, durable: Bool = true) throws {
        var e = entry
        lock.lock()
        seq += 1
        e.seq = seq
        do { try JournalReader.writeLine(e, to: fd, path: path) } catch { lock.unlock(); throw error }
        lock.unlock()
        guard durable else { return }
        syncLock.lock()
        defer { syncLock.unlock() }
        // A sync that began after this line was written has covered it.
        guard syncedSeq < e.seq else { return }
        let upTo = written
        guard sync(fd) == 0 else { throw JournalReader.writeError(path) }
        syncedSeq = upTo
    }

    /// How many entries have been written (synced or not).
    var written: Int {
        lock.lock()
        defer { lock.unlock() }
        return seq
    }

    public func willChange(host: String, task: String, location: SourceLocation?, undo: UndoRecord, connection: ValueDict) async throws {
        try append(changeEntry(host: host, task: task, location: location, undo: undo, connection: connection))
    }

    /// Written without waiting for the disk: the command already ran, and a crash before the next
    /// sync loses nothing a rollback could undo. Saves a sync per command task (about 0.6 ms here).
    public func changedWithoutUndo(host: String, task: String, location: SourceLocation?, undo: UndoRecord, connection: ValueDict) async throws {
        try append(changeEntry(host: host, task: task, location: location, undo: undo, connection: connection), durable: false)
    }

    private func changeEntry(host: String, task: String, location: SourceLocation?, undo: UndoRecord, connection: ValueDict) -> JournalEntry {
        var e = JournalEntry(kind: .change, seq: 0)
        e.host = host
        e.task = task
        e.location = location?.description
        e.undo = undo
        var v = connection
        for k in FileJournal.secretVariables { v[k] = nil }
        e.connection = .dict(v)
        return e
    }

    /// Not waited for either: without it a rollback undoes the task's change anyway (undo only
    /// acts on a difference), so losing it to a crash costs nothing.
    public func taskEnded(host: String, task: String, status: TaskStatus) async {
        var e = JournalEntry(kind: .taskEnd, seq: 0)
        e.host = host
        e.task = task
        e.status = status.rawValue
        try? append(e, durable: false)
    }

    public func finish(outcome: String) {
        var e = JournalEntry(kind: .end, seq: 0)
        e.outcome = outcome
        try? append(e)
    }
}

/// Reading journals back: `pksplay runs` and `pksplay rollback`.
public enum JournalReader {
    public struct Run: Sendable {
        public var id: String
        public var path: String
        public var entries: [JournalEntry]
        /// Lines that could not be read (a run killed mid-write leaves at most the last one).
        public var unreadableLines: Int
        public var header: JournalEntry? { entries.first { $0.kind == .run } }
        public var ended: JournalEntry? { entries.last { $0.kind == .end } }
        /// Changes not yet reversed by a rollback, in the order they were made.
        public var changes: [JournalEntry] {
            let undone = Set(entries.compactMap { $0.kind == .undone ? $0.undoneSeq : nil })
            return entries.filter { $0.kind == .change && !undone.contains($0.seq) }
        }
        /// Every change the run made, reversed or not.
        public var allChanges: [JournalEntry] { entries.filter { $0.kind == .change } }
        public var hosts: [String] {
            var seen: [String] = []
            for e in changes { if let h = e.host, !seen.contains(h) { seen.append(h) } }
            return seen
        }
    }

    public static func defaultStateDirectory() -> String {
        if let x = Environment.value("XDG_STATE_HOME"), !x.isEmpty { return (x as NSString).appendingPathComponent("pksplay") }
        return ("~/.local/state/pksplay" as NSString).expandingTildeInPath
    }

    /// Journals in the state directory, newest first.
    public static func runs(in dir: String) -> [Run] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("run-") && $0.hasSuffix(".jsonl") && !$0.contains(".rollback") }
        // Newest first by the time the run started (two runs in one second have ids that do not
        // sort by time), the file name breaking ties.
        let runs = files.compactMap { try? read((dir as NSString).appendingPathComponent($0)) }
        return runs.sorted { a, b in
            let ta = a.header?.time ?? 0, tb = b.header?.time ?? 0
            return ta != tb ? ta > tb : a.id > b.id
        }
    }

    /// The run `rollback --last` means, from `runs` newest first: the newest that changed
    /// something (check runs and reruns that changed nothing are passed over). A run already
    /// rolled back is still chosen, with nothing left to undo, so `--last` twice never reaches
    /// back to an older run.
    public static func lastRun(of runs: [Run]) -> Run? {
        runs.first { $0.header?.checkMode != true && !$0.allChanges.isEmpty } ?? runs.first
    }

    public static func read(_ path: String) throws -> Run {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Diagnostic("cannot read the journal \(path)", at: nil, hint: "see 'pksplay runs' for the journals there are")
        }
        var entries: [JournalEntry] = []
        var bad = 0
        let dec = JSONDecoder()
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            if let e = try? dec.decode(JournalEntry.self, from: Data(line)) { entries.append(e) } else { bad += 1 }
        }
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let id = name.hasPrefix("run-") ? String(name.dropFirst(4)) : name
        return Run(id: id, path: path, entries: entries, unreadableLines: bad)
    }
}

extension JournalReader {
    /// Appends to a run's journal that the change `seq` was reversed, synced before returning, so
    /// a second rollback never repeats it (a repeated `pks stop`, a move made twice).
    public static func markUndone(_ run: Run, seq: Int) throws {
        let fd = open(run.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw Diagnostic("cannot update the journal \(run.path): \(String(cString: strerror(errno)))", at: nil) }
        defer { close(fd) }
        var e = JournalEntry(kind: .undone, seq: 0)
        e.undoneSeq = seq
        try appendSynced(e, to: fd, path: run.path)
    }

    /// Writes one entry as a JSON line and syncs it to disk before returning.
    static func appendSynced(_ entry: JournalEntry, to fd: Int32, path: String) throws {
        try writeLine(entry, to: fd, path: path)
        guard fdatasync(fd) == 0 else { throw writeError(path) }
    }

    static func writeError(_ path: String) -> Diagnostic {
        Diagnostic("cannot write the run journal \(path): \(String(cString: strerror(errno)))", at: nil)
    }

    /// Writes one entry as a JSON line, whole (a short write is continued), not synced.
    static func writeLine(_ entry: JournalEntry, to fd: Int32, path: String) throws {
        var data = Data(entry.jsonLine.utf8)
        data.append(0x0A)
        let ok = data.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
        guard ok else { throw writeError(path) }
    }
}
