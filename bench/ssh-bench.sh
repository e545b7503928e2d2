#!/bin/sh
# Measures the SSH connection against a throwaway local sshd (Tests/PKSPlaySSHTests/TestSSHD.swift):
# connect + key auth, 50 sequential /bin/true on one session, 50 hosts in parallel, 50 MB of
# interleaved output and 20 MB over SFTP. Prints the numbers; asserts nothing about speed.
# Needs root (sshd) and Debian's openssh-server. Usage: bench/ssh-bench.sh [debug|release]
set -eu
cd "$(dirname "$0")/.."
configuration=${1:-debug}
swift build --build-tests -c "$configuration" >/dev/null
binary=$(swift build -c "$configuration" --show-bin-path)/pksplayPackageTests.xctest
for test in measuresConnectAndFiftySequentialExecs fiftyHostsConnectInParallel \
    drainsFiftyMegabytesOfInterleavedStdoutAndStderr transfersTwentyMegabytes; do
    "$binary" --testing-library swift-testing --filter "$test" 2>&1 |
        grep -E '^(connect|50 |SFTP)|✘' || true
done
