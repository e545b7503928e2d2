import Foundation
import PKSPlayCore
@testable import PKSPlayEngine
import PKSPlayLocal
import PKSPlayModules
import PKSPlayTestSupport
import Testing

/// Passes every record to a ``FileJournal`` and notes, at the moment each change is journaled,
/// whether the file it names already holds the run's new content: a write-ahead journal must be
/// called before the change is applied.
final class WriteAheadProbe: ChangeJournal, @unchecked Sendable {
    let inner: FileJournal
    let watched: String
    private let lock = NSLock()
    private var seen: [Bool] = []

    init(_ inner: FileJournal, watching path: String) {
        self.inner = inner
        watched = path
    }

    /// For each journaled change naming the watched file: did it exist when the change was journaled?
    var existedWhenJournaled: [Bool] { lock.withLock { seen } }

    func willChange(host: String, task: String, location: PKSPlayCore.SourceLocation?, undo: UndoRecord, connection: ValueDict) async throws {
        if undo.summary.contains(watched) || undo.data.stringified.contains(watched) {
            let exists = FileManager.default.fileExists(atPath: watched)
            lock.withLock { seen.append(exists) }
        }
        try await inner.willChange(host: host, task: task, location: location, undo: undo, connection: connection)
    }

    func taskEnded(host: String, task: String, status: TaskStatus) async {
        await inner.taskEnded(host: host, task: task, status: status)
    }
}

@Suite("Journal and rollback")
struct JournalRollbackTests {
    static let playbook = """
        - hosts: all
          gather_facts: false
          tasks:
            - name: overwrite existing
              copy:
                content: "changed\\n"
                dest: $TMP/existing.txt
                mode: "0600"
            - name: create new
              copy:
                content: "new\\n"
                dest: $TMP/created.txt
            - name: add a line
              lineinfile:
                path: $TMP/lines.txt
                line: added
            - name: task undo that applies
              shell: echo made >> $TMP/made
              undo:
                - shell: rm -f $TMP/made; echo undone >> $TMP/undo-log
            - name: task undo that must not run
              command: /bin/true
              changed_when: false
              undo:
                - shell: echo wrongly-undone >> $TMP/undo-log
            - name: command without undo
              command: touch $TMP/touched
        """

    struct Fixture {
        let dir: TemporaryDirectory
        let state: String
        let journal: FileJournal
        let run: EngineRun
        let probe: WriteAheadProbe
    }

    static func runFixture(playbook: String = playbook) async throws -> Fixture {
        let dir = try TemporaryDirectory(prefix: "pksplay-journal")
        try dir.write("existing.txt", "original\n", mode: 0o640)
        try dir.write("lines.txt", "a\nb\n", mode: 0o644)
        let state = dir.file("state")
        let journal = try FileJournal(stateDirectory: state, playbook: "playbook.yml", inventory: ["localhost,"], checkMode: false, extraVarNames: [])
        let probe = WriteAheadProbe(journal, watching: dir.file("created.txt"))
        let run = try await EngineHarness.run(playbook, journal: probe, dir: dir)
        journal.finish(outcome: run.summary.exitCode == 0 ? "ok" : "failed")
        return Fixture(dir: dir, state: state, journal: journal, run: run, probe: probe)
    }

    static func rollback(_ path: String) async throws -> (RollbackSummary, RecordingReporter) {
        let recorder = RecordingReporter()
        let pool = ConnectionPool { host, _ in LocalConnection(hostName: host) }
        let run = try JournalReader.read(path)
        let summary = await Rollback(registry: StandardModules.registry, connections: pool, reporter: recorder).run(run, checkMode: false)
        return (summary, recorder)
    }

    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }

    @Test("the journal is 0600 and each change is journaled before it is applied")
    func writeAhead() async throws {
        let f = try await Self.runFixture()
        #expect(f.run.summary.exitCode == 0)
        #expect(Self.mode(f.journal.path) == 0o600)
        #expect(Self.mode(f.state) == 0o700)
        #expect(f.probe.existedWhenJournaled == [false])
        let journal = try JournalReader.read(f.journal.path)
        #expect(journal.unreadableLines == 0)
        #expect(journal.header?.runID == f.journal.runID)
        #expect(journal.changes.contains { ($0.undo?.summary ?? "").contains("created.txt") || ($0.undo?.data.stringified ?? "").contains("created.txt") })
    }

    @Test("rollback restores files byte for byte with their modes, removes created files and runs task undos of changed tasks only")
    func rollbackRestores() async throws {
        let f = try await Self.runFixture()
        #expect(f.dir.exists("created.txt"))
        #expect(f.dir.exists("made"))
        let (summary, _) = try await Self.rollback(f.journal.path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.dir.file("existing.txt"))) == Data("original\n".utf8))
        #expect(Self.mode(f.dir.file("existing.txt")) == 0o640)
        #expect(f.run.dir.exists("lines.txt"))
        #expect(f.run.read("lines.txt") == "a\nb\n")
        #expect(Self.mode(f.dir.file("lines.txt")) == 0o644)
        #expect(!f.dir.exists("created.txt"))
        #expect(!f.dir.exists("made"))
        #expect(f.run.lines("undo-log") == ["undone"])
        #expect(summary.notUndoable == 1)
        #expect(summary.failed == 0)
        #expect(summary.undone >= 4)
        #expect(summary.exitCode == 2)
    }

    @Test("a second rollback changes nothing: the first recorded what it undid")
    func rollbackTwice() async throws {
        let f = try await Self.runFixture()
        let (first, _) = try await Self.rollback(f.journal.path)
        let afterFirst = try JournalReader.read(f.journal.path)
        #expect(afterFirst.entries.filter { $0.kind == .undone }.count == first.undone + first.unchanged)
        let snapshot = try FileManager.default.contentsOfDirectory(atPath: f.dir.path).sorted()
        let existing = try Data(contentsOf: URL(fileURLWithPath: f.dir.file("existing.txt")))
        let (second, _) = try await Self.rollback(f.journal.path)
        #expect(second.undone == 0)
        #expect(second.failed == 0)
        #expect(second.notUndoable == first.notUndoable)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.dir.path).sorted() == snapshot)
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.dir.file("existing.txt"))) == existing)
        #expect(f.run.lines("undo-log") == ["undone"])
    }

    @Test("a journal whose last line was cut off mid-write is still rolled back")
    func truncatedLastLine() async throws {
        let f = try await Self.runFixture()
        let data = try Data(contentsOf: URL(fileURLWithPath: f.journal.path))
        // Drop the newline and half of the last line, as a run killed mid-write leaves it.
        var lines = data.split(separator: 0x0A)
        let last = lines.removeLast()
        var cut = Data(lines.joined(separator: [0x0A]))
        cut.append(0x0A)
        cut.append(Data(last.prefix(last.count / 2)))
        try cut.write(to: URL(fileURLWithPath: f.journal.path))
        let read = try JournalReader.read(f.journal.path)
        #expect(read.unreadableLines == 1)
        let (summary, recorder) = try await Self.rollback(f.journal.path)
        #expect(recorder.warnings.contains { $0.contains("could not be read") })
        #expect(summary.failed == 0)
        #expect(!f.dir.exists("created.txt"))
        #expect(f.run.read("existing.txt") == "original\n")
    }

    @Test("a secret in a no_log task never reaches the journal file")
    func secretStaysOut() async throws {
        let secret = "jrnl-s3cr3t-77"
        let f = try await Self.runFixture(playbook: """
            - hosts: all
              gather_facts: false
              vars:
                secret: \(secret)
              tasks:
                - name: write the secret
                  copy:
                    content: "{{ secret }}"
                    dest: $TMP/created.txt
                  no_log: true
                - name: command with the secret
                  shell: echo {{ secret }} > $TMP/made
                  no_log: true
                - name: edit a line with the secret
                  lineinfile:
                    path: $TMP/lines.txt
                    line: "{{ secret }}"
                  no_log: true
            """)
        #expect(f.run.summary.exitCode == 0)
        let text = try String(contentsOfFile: f.journal.path, encoding: .utf8)
        #expect(text.contains("created.txt"))
        #expect(!text.contains(secret))
    }

    @Test("a no_log task's own undo: steps that use a secret keep it out of the journal")
    func secretInTaskUndo() async throws {
        let secret = "undo-s3cr3t-91"
        let f = try await Self.runFixture(playbook: """
            - hosts: all
              gather_facts: false
              vars:
                secret: \(secret)
              tasks:
                - name: set a password
                  shell: echo set > $TMP/made
                  no_log: true
                  undo:
                    - shell: echo {{ secret }} > $TMP/undo-log
            """)
        #expect(f.run.summary.exitCode == 0)
        let text = try String(contentsOfFile: f.journal.path, encoding: .utf8)
        #expect(text.contains("set a password"))
        // The undo steps are journaled rendered, so rollback can run them without the playbook's
        // variables; a secret they use lands in the (0600) journal. Needs a design decision.
        withKnownIssue("task-level undo steps are journaled with their secrets rendered") {
            #expect(!text.contains(secret))
        }
    }

    /// Writes a journal by hand: a header at `time`, then `changes` changes, the first `undone` of them reversed.
    static func writeJournal(_ dir: String, id: String, time: Double, checkMode: Bool = false, changes: Int, undone: Int = 0) throws {
        var lines: [JournalEntry] = []
        var header = JournalEntry(kind: .run, seq: 1)
        header.time = time
        header.runID = id
        header.checkMode = checkMode
        lines.append(header)
        for i in 0..<changes {
            var c = JournalEntry(kind: .change, seq: 2 + i)
            c.host = "localhost"
            c.task = "t\(i)"
            lines.append(c)
        }
        for i in 0..<undone {
            var u = JournalEntry(kind: .undone, seq: 2 + changes + i)
            u.undoneSeq = 2 + i
            lines.append(u)
        }
        let text = try lines.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try text.write(toFile: (dir as NSString).appendingPathComponent("run-\(id).jsonl"), atomically: true, encoding: .utf8)
    }

    @Test("runs are listed newest first by start time, and rollback --last takes the newest run that changed something")
    func lastRunChoice() throws {
        let dir = try TemporaryDirectory(prefix: "pksplay-journal")
        let state = dir.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        // Two runs started in the same second: their ids sort against their start times.
        try Self.writeJournal(state, id: "20261127T120000-zzzzzz", time: 100, changes: 2)
        try Self.writeJournal(state, id: "20261127T120000-aaaaaa", time: 200, changes: 3, undone: 3)
        try Self.writeJournal(state, id: "20261127T120001-bbbbbb", time: 250, changes: 0)
        try Self.writeJournal(state, id: "20261127T120002-cccccc", time: 300, checkMode: true, changes: 0)
        let runs = JournalReader.runs(in: state)
        #expect(runs.map(\.id) == ["20261127T120002-cccccc", "20261127T120001-bbbbbb", "20261127T120000-aaaaaa", "20261127T120000-zzzzzz"])
        // The newest run that changed something was already rolled back: it is still the one
        // chosen (with nothing left to undo), never the older run behind it.
        let last = try #require(JournalReader.lastRun(of: runs))
        #expect(last.id == "20261127T120000-aaaaaa")
        #expect(last.changes.isEmpty && last.allChanges.count == 3)
        // With no run that changed anything, the newest run is chosen.
        #expect(JournalReader.lastRun(of: Array(runs.prefix(2)))?.id == "20261127T120002-cccccc")
        #expect(JournalReader.lastRun(of: []) == nil)
    }

    @Test("run ids start with the UTC time of the run, to the second")
    func runIDTimestamp() {
        #expect(FileJournal.timestamp(0) == "19700101T000000")
        #expect(FileJournal.timestamp(1_795_700_000) == "20261126T133320")
        #expect(FileJournal.timestamp(951_825_599) == "20000229T115959")
    }

    @Test("changes journaled at once share a sync, and each returns only once its line is on disk")
    func concurrentChangesShareOneSync() async throws {
        let dir = try TemporaryDirectory(prefix: "pksplay-journal")
        let syncs = LockedCounter()
        let entered = DispatchSemaphore(value: 0), gate = DispatchSemaphore(value: 0)
        // The header takes sync 1; the first change's sync (2) is held open until the others wait.
        let journal = try FileJournal(stateDirectory: dir.file("state"), playbook: "p", inventory: [], checkMode: false, extraVarNames: []) { fd in
            if syncs.increment() == 2 { entered.signal(); gate.wait() }
            return fdatasync(fd)
        }
        let undo = UndoRecord(module: "file", summary: "remove it", data: [:])
        let returned = LockedCounter()
        let group = DispatchGroup()
        func change(_ n: Int) {
            group.enter()
            Thread.detachNewThread {
                try? journal.append({ var e = JournalEntry(kind: .change, seq: 0); e.host = "h\(n)"; e.undo = undo; return e }())
                _ = returned.increment()
                group.leave()
            }
        }
        change(0)
        entered.wait()
        for n in 1...8 { change(n) }
        // All eight lines are written while the first sync is held; none of them may return yet.
        while journal.written < 10 { try await Task.sleep(for: .milliseconds(2)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(returned.value == 0)
        gate.signal()
        group.wait()
        #expect(returned.value == 9)
        #expect(syncs.value == 3, "header, the first change, then one sync for the eight that waited")
        let run = try JournalReader.read(journal.path)
        #expect(run.unreadableLines == 0)
        #expect(run.entries.map(\.seq) == Array(1...10))
        #expect(Set(run.changes.compactMap(\.host)) == Set((0...8).map { "h\($0)" }))
    }

    @Test("a change without undo and a task's end wait for no sync; the next change's sync makes them durable, in order")
    func afterTheFactEntriesRideOnTheNextSync() async throws {
        let dir = try TemporaryDirectory(prefix: "pksplay-journal")
        let syncs = LockedCounter()
        let journal = try FileJournal(stateDirectory: dir.file("state"), playbook: "p", inventory: [], checkMode: false, extraVarNames: []) { fd in
            _ = syncs.increment()
            return fdatasync(fd)
        }
        #expect(syncs.value == 1, "the header")
        let none = UndoRecord(module: NoUndo.moduleName, summary: "'cmd' (command) changed the host and has no undo", data: .null)
        for n in 1...5 {
            try await journal.changedWithoutUndo(host: "h1", task: "cmd \(n)", location: nil, undo: none, connection: [:])
            await journal.taskEnded(host: "h1", task: "t\(n)", status: .changed)
        }
        #expect(syncs.value == 1, "ten entries written, none waited for")
        try await journal.willChange(host: "h1", task: "edit", location: nil,
                                     undo: UndoRecord(module: "file", summary: "remove it", data: [:]), connection: [:])
        #expect(syncs.value == 2, "one sync for the change, covering the ten before it")
        let run = try JournalReader.read(journal.path)
        #expect(run.unreadableLines == 0 && run.entries.map(\.seq) == Array(1...12))
        #expect(run.changes.map { $0.task ?? "" } == (1...5).map { "cmd \($0)" } + ["edit"])
        journal.finish(outcome: "ok")
        #expect(syncs.value == 3, "the run's end is durable")
    }

    @Test("a journal line says what JSONEncoder would: the same fields and values, read back by JSONDecoder")
    func journalLinesMatchTheEncoder() throws {
        var header = JournalEntry(kind: .run, seq: 0)
        header.runID = "20261205T120000-abc123"
        header.playbook = "/srv/play books/\"failover\".yml"
        header.inventory = ["a.ini", "b/c.yml"]
        header.checkMode = false
        header.extraVarNames = []
        var change = JournalEntry(kind: .change, seq: 7)
        change.time = 1_733_400_000.123456
        change.host = "h\u{e9}\t1"
        change.task = "line\nbreak \u{1}"
        change.location = "play.yml:3:5"
        change.undo = UndoRecord(module: "copy", summary: "restore /etc/x (1 B)",
                                 data: ["path": "/etc/x", "mode": 420, "ratio": 0.5, "whole": 2.0, "kept": true, "gone": nil, "list": [1, "two"]])
        change.connection = ["ansible_host": "127.0.0.2", "ansible_port": 22, "nested": ["a": ["b": []]]]
        var end = JournalEntry(kind: .end, seq: 9)
        end.time = 1_733_400_001
        end.outcome = "failed"
        var undone = JournalEntry(kind: .undone, seq: 10)
        undone.undoneSeq = 7
        var taskEnd = JournalEntry(kind: .taskEnd, seq: 8)
        taskEnd.status = "changed"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for entry in [header, change, taskEnd, end, undone] {
            let line = entry.jsonLine
            #expect(!line.contains("\n"), "one line: \(line)")
            // Spaced as JSONEncoder spaced it: tools that grep the journal (`"kind":"change"`) keep working.
            #expect(line.hasPrefix("{\"") && line.contains("\"kind\":\"\(entry.kind.rawValue)\",") && !line.contains("\": ") && !line.contains(", \""), "\(line)")
            // JSONEncoder writes 2.0 as 2: numbers compare by value.
            #expect(try numbersByValue(Value.parseJSON(line)) == numbersByValue(Value.parseJSON(String(decoding: encoder.encode(entry), as: UTF8.self))))
            let back = try JSONDecoder().decode(JournalEntry.self, from: Data(line.utf8))
            #expect(try encoder.encode(back) == encoder.encode(entry))
        }
    }

    @Test("check-mode runs journal nothing to undo")
    func checkModeJournalsNothing() async throws {
        let dir = try TemporaryDirectory(prefix: "pksplay-journal")
        let journal = try FileJournal(stateDirectory: dir.file("state"), playbook: "p", inventory: [], checkMode: true, extraVarNames: [])
        _ = try await EngineHarness.run(Self.playbook, journal: journal, dir: dir) { $0.checkMode = true }
        let read = try JournalReader.read(journal.path)
        #expect(read.changes.isEmpty)
        #expect(!dir.exists("created.txt"))
    }
}

/// `v` with every whole double as an int.
func numbersByValue(_ v: Value) -> Value {
    switch v {
    case .double(let d) where d == d.rounded() && abs(d) < 1e15: return .int(Int(d))
    case .list(let l): return .list(l.map(numbersByValue))
    case .dict(let d): return .dict(ValueDict(d.map { ($0.key, numbersByValue($0.value)) }))
    default: return v
    }
}

/// A counter several threads bump.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    /// Adds one; returns the new count.
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
