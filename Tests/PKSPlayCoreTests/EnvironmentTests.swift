import Foundation
import PKSPlayCore
import Testing

@Suite("One environment variable at a time")
struct EnvironmentTests {
    @Test func readsWhatIsSetAndNothingElse() {
        let name = "PKSPLAY_TEST_ENV_\(getpid())"
        #expect(Environment.value(name) == nil)
        setenv(name, "a=b é", 1)
        defer { unsetenv(name) }
        #expect(Environment.value(name) == "a=b é")
        #expect(Environment.value(name) == ProcessInfo.processInfo.environment[name])
        setenv(name, "", 1)
        #expect(Environment.value(name) == "", "set but empty is not unset")
    }
}
