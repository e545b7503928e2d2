#!/usr/bin/env bash
# End-to-end tests of pksplay on the two-host lab: the failover playbook, check mode, idempotence,
# rollback, faults. Real sshd, real podman containers, real PostgreSQL. Brings the lab up and always
# takes it down. Prints "e2e: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PKSPLAY=${PKSPLAY:-$ROOT/.build/debug/pksplay}
[ -x "$PKSPLAY" ] || { echo "e2e: $PKSPLAY not built (make build)"; exit 1; }
. tests-e2e/lib.sh
trap 'make -s lab-down >/dev/null 2>&1 || true' EXIT
PW="e2e-Replication-$$-pw"
printf 'replication_password: "%s"\n' "$PW" > "$E2E_TMP/secrets.yml"
chmod 600 "$E2E_TMP/secrets.yml"
SECRETS=(-e "@$E2E_TMP/secrets.yml")

fresh_lab() { make -s lab-reset >/dev/null || { echo "e2e: lab-reset failed"; exit 1; }; }

# E2E_ONLY=t50 runs one file (while working on it); CI runs them all.
for t in tests-e2e/t[0-9]*.sh; do
    case "$t" in *"${E2E_ONLY:-}"*) . "$t" ;; esac
done
finish
