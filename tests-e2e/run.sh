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

# E2E_ONLY=t50 (a glob: 't[45]') runs the matching files while working on them; CI runs them all.
ran=0
for t in tests-e2e/t[0-9]*.sh; do
    # shellcheck disable=SC2254 # unquoted on purpose: E2E_ONLY is a pattern
    case "$t" in *${E2E_ONLY:-}*) ran=$((ran + 1)); . "$t" ;; esac
done
if [ "$ran" -eq 0 ]; then echo "e2e: no test file matches E2E_ONLY='${E2E_ONLY:-}'"; exit 1; fi
finish
