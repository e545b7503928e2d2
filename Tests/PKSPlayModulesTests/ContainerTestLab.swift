import Foundation
import PKSPlayCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A private podman for tests: its own storage, run and temp directories under one temp dir (so
/// nothing touches the machine's or the lab's podman), runc with cgroupfs and host networking as
/// /work/shared/LAB.md describes, and a tiny image built from this machine's own binaries (sh,
/// coreutils, and psql with its libraries), since no registry is reachable.
///
/// Every command through ``connection`` gets `CONTAINERS_CONF` and `CONTAINERS_STORAGE_CONF`
/// pointing there, so modules run plain `podman ...` and still land in this store.
final class ContainerTestLab: Sendable {
    @TaskLocal static var current: ContainerTestLab?

    static let image = "localhost/pksplay-mini:test"

    let directory: String
    let connection: DBTestLocalConnection

    struct SetupError: Error, CustomStringConvertible { var description: String }

    static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/podman") && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc")
    }

    private init(directory: String) {
        self.directory = directory
        connection = DBTestLocalConnection(environment: [
            "CONTAINERS_CONF": directory + "/containers.conf",
            "CONTAINERS_STORAGE_CONF": directory + "/storage.conf",
        ])
    }

    static func start() async throws -> ContainerTestLab {
        var template = Array((NSTemporaryDirectory() + "/pksplay-podman-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SetupError(description: "mkdtemp failed") }
        let dir = String(cString: made)
        let lab = ContainerTestLab(directory: dir)
        do {
            try await lab.setUp()
            return lab
        } catch {
            await lab.tearDown()
            throw error
        }
    }

    private func setUp() async throws {
        let containersConf = """
            [containers]
            default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
            netns = "host"
            [engine]
            runtime = "runc"
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            tmp_dir = "\(directory)/tmp"
            """
        let storageConf = """
            [storage]
            driver = "vfs"
            graphroot = "\(directory)/graph"
            runroot = "\(directory)/run"
            """
        try Data(containersConf.utf8).write(to: URL(fileURLWithPath: directory + "/containers.conf"))
        try Data(storageConf.utf8).write(to: URL(fileURLWithPath: directory + "/storage.conf"))
        // A root file system from this machine's binaries and the libraries they load.
        let rootfs = directory + "/rootfs"
        let script = """
            set -e
            R=\(shellQuote(rootfs))
            mkdir -p "$R/bin" "$R/tmp" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/root"
            chmod 1777 "$R/tmp"
            for b in sh cat test env id pwd touch rm mkdir ls printf true false sleep; do
              p=""; for d in /usr/bin /bin; do if [ -x "$d/$b" ]; then p="$d/$b"; break; fi; done
              cp -L "$p" "$R/bin/$b"
              for l in $(ldd "$p" 2>/dev/null | grep -oE '/[^ ]+'); do mkdir -p "$R$(dirname $l)"; cp -L "$l" "$R$l"; done
            done
            p=/usr/lib/postgresql/15/bin/psql
            cp -L "$p" "$R/bin/psql"
            for l in $(ldd "$p" | grep -oE '/[^ ]+'); do mkdir -p "$R$(dirname $l)"; cp -L "$l" "$R$l"; done
            printf 'root:x:0:0:root:/root:/bin/sh\\npostgres:x:999:999::/tmp:/bin/sh\\nnobody:x:65534:65534::/:/bin/sh\\n' > "$R/etc/passwd"
            printf 'root:x:0:\\npostgres:x:999:\\nnogroup:x:65534:\\n' > "$R/etc/group"
            (cd "$R" && tar cf \(shellQuote(directory + "/rootfs.tar")) .)
            podman import --change 'CMD=["/bin/sleep","1000000"]' --change 'ENV=PATH=/bin' \(shellQuote(directory + "/rootfs.tar")) \(Self.image) >/dev/null
            rm -rf "$R" \(shellQuote(directory + "/rootfs.tar"))
            """
        try await sh(script)
    }

    /// Removes every container and image of this store, then the whole directory.
    func tearDown() async {
        _ = try? await connection.exec(ExecRequest("podman rm -af -t 0 >/dev/null 2>&1; podman rmi -af >/dev/null 2>&1", timeout: 120))
        _ = try? await connection.exec(ExecRequest("rm -rf \(shellQuote(directory))", timeout: 120))
    }

    /// Runs a shell command with this store's podman; fails the test setup when it fails.
    @discardableResult
    func sh(_ command: String) async throws -> String {
        let r = try await connection.exec(ExecRequest(command, timeout: 300))
        guard r.exitStatus == 0 else { throw SetupError(description: "`\(command.prefix(200))` failed (\(r.exitStatus)): \(r.stderrText)") }
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts a container of the test image that sleeps (stop signal KILL, so stops are instant).
    func runContainer(_ name: String, options: [String] = [], command: [String] = []) async throws {
        try await sh(shellJoin(["podman", "run", "-d", "--name", name, "--stop-signal", "KILL"] + options + [Self.image] + command) + " >/dev/null")
    }

    func state(_ name: String) async throws -> String {
        try await sh(shellJoin(["podman", "inspect", "--type", "container", "--format", "{{.State.Status}}", name]))
    }

    func exists(_ name: String) async throws -> Bool {
        try await connection.exec(ExecRequest(shellJoin(["podman", "container", "exists", name]))).exitStatus == 0
    }

    static func uniqueName(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }
}

/// Gives a suite its own private podman store (``ContainerTestLab/current``) and removes it after.
struct PodmanLabTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let lab = try await ContainerTestLab.start()
        do {
            try await ContainerTestLab.$current.withValue(lab) { try await function() }
        } catch {
            await lab.tearDown()
            throw error
        }
        await lab.tearDown()
    }
}

extension Trait where Self == PodmanLabTrait {
    static var podmanLab: PodmanLabTrait { PodmanLabTrait() }
}

extension ContainerTestLab {
    static func required() throws -> ContainerTestLab {
        guard let lab = current else { throw SetupError(description: "no ContainerTestLab: add .podmanLab to the suite") }
        return lab
    }
}
