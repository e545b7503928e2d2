import Foundation
@testable import PKSPlaySSH
import Testing

@Suite("The PID frame taken out of stderr")
struct PIDFrameTests {
    static let frame = Data("\u{1E}pks4242\u{1E}".utf8)

    /// Feeds `stream` to a fresh parser in chunks of `size` bytes; returns what passed and the PID.
    static func feed(_ stream: Data, chunk size: Int) -> (Data, Int32?) {
        var parser = PIDFrame()
        var out = Data()
        var i = stream.startIndex
        while i < stream.endIndex {
            let end = min(i + size, stream.endIndex)
            out += parser.feed(stream[i..<end])
            i = end
        }
        out += parser.flush()
        return (out, parser.pid)
    }

    @Test("the frame is found at the start, after a shell's start-up noise, and across every chunk boundary")
    func foundAnywhereEarly() {
        let noise = Data("bash: warning: setlocale: LC_ALL: cannot change locale (xx)\n".utf8)
        let command = Data("the command's own stderr \u{1E} with a separator byte\n".utf8)
        for before in [Data(), noise, Data([0x1E]), Data("\u{1E}pk".utf8), Data("\u{1E}pks12x".utf8)] {
            for size in 1...24 {
                let (out, pid) = Self.feed(before + Self.frame + command, chunk: size)
                #expect(pid == 4242, "chunk \(size), before \(before.count) bytes")
                #expect(out == before + command, "chunk \(size), before \(before.count) bytes")
            }
        }
    }

    @Test("stderr without a frame passes whole, even when it ends in what could start one")
    func noFrame() {
        for text in ["plain error\n", "ends with \u{1E}pks12", "\u{1E}", "\u{1E}pks\u{1E}", ""] {
            let (out, pid) = Self.feed(Data(text.utf8), chunk: 3)
            #expect(pid == nil)
            #expect(out == Data(text.utf8))
        }
    }

    @Test("only the first frame is taken; past the search limit nothing is")
    func limits() {
        let twice = Self.frame + Data("x".utf8) + Self.frame
        let (out, pid) = Self.feed(twice, chunk: 5)
        #expect(pid == 4242 && out == Data("x".utf8) + Self.frame)
        let late = Data(repeating: 0x41, count: PIDFrame.searchLimit + 10) + Self.frame
        let (lateOut, latePID) = Self.feed(late, chunk: 4096)
        #expect(latePID == nil && lateOut == late)
    }
}
