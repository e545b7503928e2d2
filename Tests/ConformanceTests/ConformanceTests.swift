import Foundation
import Testing

/// Runs every playbook under Tests/Playbooks through the built `pksplay` binary with a local
/// connection and checks what its header comments expect:
///
///     # args: -i 'h1,h2,' --tags x           extra command-line arguments
///     # exit: 2                               the exit code (default 0)
///     # recap: h1 ok=3 changed=1 failed=0     counters for a host (others not named are not checked)
///     # output: some text                     a line of the human output contains it
///     # no-output: some text                  no line of the human output contains it
///     # file: out.txt = hello                 a file under the run's temp folder holds exactly this (\n for newlines)
///     # absent: out.txt                       a file under the run's temp folder does not exist
///
/// The expected recaps were checked against ansible-playbook 2.19 running the same playbook.
@Suite("Playbook conformance")
struct ConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let playbookDir = root.appendingPathComponent("Tests/Playbooks")

    static var playbooks: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: playbookDir.path)) ?? [])
            .filter { $0.hasSuffix(".yml") && !$0.hasPrefix("_") }.sorted()
    }

    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["PKSPLAY_BIN"] { return b }
        for config in ["debug", "release"] {
            let p = root.appendingPathComponent(".build/\(config)/pksplay").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/pksplay").path
    }

    struct Expectations {
        var args: [String] = []
        var exit: Int32 = 0
        var recaps: [String: [String: Int]] = [:]
        var output: [String] = []
        var noOutput: [String] = []
        var files: [(String, String)] = []
        var absent: [String] = []
    }

    static func expectations(_ text: String) -> Expectations {
        var e = Expectations()
        for line in text.split(separator: "\n") where line.hasPrefix("# ") {
            let body = line.dropFirst(2)
            guard let colon = body.firstIndex(of: ":") else { continue }
            let key = String(body[..<colon])
            let value = body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "args": e.args += shellWords(value)
            case "exit": e.exit = Int32(value) ?? 0
            case "recap":
                let parts = value.split(separator: " ")
                guard let host = parts.first else { continue }
                var counts: [String: Int] = [:]
                for p in parts.dropFirst() {
                    let kv = p.split(separator: "=")
                    if kv.count == 2, let n = Int(kv[1]) { counts[String(kv[0])] = n }
                }
                e.recaps[String(host)] = counts
            case "output": e.output.append(value)
            case "no-output": e.noOutput.append(value)
            case "file":
                let kv = value.components(separatedBy: " = ")
                if kv.count == 2 { e.files.append((kv[0], kv[1].replacingOccurrences(of: "\\n", with: "\n"))) }
            case "absent": e.absent.append(value)
            default: continue
            }
        }
        return e
    }

    static func shellWords(_ s: String) -> [String] {
        var out: [String] = [], cur = "", quote: Character?
        for ch in s {
            if let q = quote { if ch == q { quote = nil } else { cur.append(ch) } }
            else if ch == "'" || ch == "\"" { quote = ch }
            else if ch == " " { if !cur.isEmpty { out.append(cur); cur = "" } }
            else { cur.append(ch) }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    /// Runs pksplay on a thread of its own, so waiting for it never holds one of Swift's few
    /// cooperative threads (other tests' timers would starve).
    static func run(_ args: [String], in dir: String) async throws -> (Int32, String, String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(args, in: dir) })
            }
        }
    }

    static func runBlocking(_ args: [String], in dir: String) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes concurrently so a chatty run cannot fill one and block.
        nonisolated(unsafe) var errData = Data()
        let errThread = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        errThread.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while errThread.isExecuting { usleep(1000) }
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    @Test("conformance playbook", arguments: playbooks)
    func playbook(_ name: String) async throws {
        let path = Self.playbookDir.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let e = Self.expectations(text)
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("pksplay-conf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        var args = ["run", path, "-c", "local", "-e", "tmp=\(tmp)"]
        if !e.args.contains("-i") { args += ["-i", "localhost,"] }
        args += e.args
        // The JSON stream gives exact counters; the human stream is what users read.
        let (code, json, jsonErr) = try await Self.run(args + ["--format", "json"], in: tmp)
        #expect(code == e.exit, "exit code of \(name): \(code)\nstdout:\n\(json)\nstderr:\n\(jsonErr)")
        var recap: [String: [String: Int]] = [:]
        for line in json.split(separator: "\n") where line.contains("\"event\": \"recap\"") {
            if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let hosts = obj["hosts"] as? [String: [String: Int]] {
                recap = hosts
            }
        }
        for (host, counts) in e.recaps {
            for (k, v) in counts {
                #expect(recap[host]?[k] == v, "\(name): \(host) \(k) is \(recap[host]?[k].map(String.init) ?? "missing"), expected \(v)\n\(json)\n\(jsonErr)")
            }
        }
        for (file, content) in e.files {
            let got = try? String(contentsOfFile: (tmp as NSString).appendingPathComponent(file), encoding: .utf8)
            #expect(got == content, "\(name): \(file) holds \(got.map { "'\($0)'" } ?? "nothing"), expected '\(content)'")
        }
        for file in e.absent {
            #expect(!FileManager.default.fileExists(atPath: (tmp as NSString).appendingPathComponent(file)), "\(name): \(file) should not exist")
        }
        if !e.output.isEmpty || !e.noOutput.isEmpty {
            // Effects already happened once; the human run is for the text only, in a fresh folder.
            let tmp2 = tmp + "-human"
            try FileManager.default.createDirectory(atPath: tmp2, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: tmp2) }
            var hargs = args
            hargs[5] = "tmp=\(tmp2)"
            let (_, human, humanErr) = try await Self.run(hargs, in: tmp2)
            let all = human + humanErr
            for want in e.output { #expect(all.contains(want), "\(name): output lacks '\(want)'\n\(all)") }
            for unwanted in e.noOutput { #expect(!all.contains(unwanted), "\(name): output has '\(unwanted)'\n\(all)") }
        }
    }
}
