import Foundation
import PKSPlayCore
import PKSPlaySSH
import Testing

@Suite("SSH exec against a real sshd")
struct SSHExecTests {
    @Test func runsCommandsAndReportsExitStatus() async throws {
        let sshd = try TestSSHD.start()
        defer { sshd.stop() }
        let connection = try await SSHConnection.connect(sshd.config())
        let hello = try await connection.exec(ExecRequest("echo hello; echo oops >&2; exit 3"))
        #expect(hello.exitStatus == 3)
        #expect(hello.stdoutText == "hello\n")
        #expect(hello.stderrText == "oops\n")
        let ok = try await connection.run("true")
        #expect(ok.exitStatus == 0)
        #expect(ok.stdout.isEmpty && ok.stderr.isEmpty)
        await connection.close()
    }
}
