# Helpers for the end-to-end tests: talk to the lab hosts, snapshot their state, count results.
LAB_STATE=${LAB_STATE:-/var/lib/pksplay-lab}
INV=$LAB_STATE/inventory.yml
SSHCFG=$LAB_STATE/ssh_config
PASSED=0
FAILED=0
FAILURES=()
E2E_TMP=$(mktemp -d /tmp/pksplay-e2e.XXXXXX)
export PKSPLAY_STATE_DIR=$E2E_TMP/state

on() { local h=$1; shift; ssh -F "$SSHCFG" -o BatchMode=yes "$h" "$@"; }
# psql in a host's pks-db container, database pks, unaligned tuples only.
sql() { local h=$1 db=$2; shift 2; on "$h" "docker exec -u postgres pks-db psql -X -q -d $db -Atc $(printf '%q' "$*")"; }

export LAB_STATE INV SSHCFG
export -f on sql

pass() { PASSED=$((PASSED + 1)); echo "  PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$*"); echo "  FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; return 1; fi; }
section() { echo; echo "=== $*"; }

# pksplay with the lab inventory and a per-suite state directory.
pp() { "$PKSPLAY" "$@" --state-dir "$PKSPLAY_STATE_DIR"; }
ppr() { local sub=$1; shift; "$PKSPLAY" "$sub" "$@" --state-dir "$PKSPLAY_STATE_DIR"; }

# What must be equal before a run and after its rollback, per host.
snapshot() {
    local h=$1
    on "$h" 'cd /srv/pks && ls -1a; for f in docker-compose.yml .env db/pg_hba.conf db/postgresql.conf db/postgresql.auto.conf; do printf "%s " "$f"; stat -c "%a %u:%g" "$f"; sha256sum "$f"; done; test -e db/standby.signal && echo STANDBY || echo NOT-STANDBY; docker ps --format "{{.Names}}" | sort'
    echo "roles:"; sql "$h" postgres "select rolname, rolcanlogin, rolreplication, rolconnlimit from pg_roles where rolname !~ '^pg_' order by 1"
    echo "slots:"; sql "$h" postgres "select slot_name from pg_replication_slots order by 1"
    echo "settings:"; sql "$h" postgres "select name, setting from pg_settings where name in ('max_wal_senders','max_slot_wal_keep_size','synchronous_standby_names','archive_mode','wal_keep_size') order by 1"
    echo "data:"; sql "$h" pks "select username from subscribers order by 1"; sql "$h" pks "select host from lab_origin"
}

# The recap counters of a --format json run, as "host ok changed failed" lines.
recap() { grep '"event": "recap"' "$1" | python3 -c 'import json,sys
for line in sys.stdin:
    for h,c in json.loads(line)["hosts"].items(): print(h, "ok=%d changed=%d failed=%d unreachable=%d" % (c["ok"], c["changed"], c["failed"], c["unreachable"]))'; }

export -f recap

finish() {
    echo
    for f in "${FAILURES[@]}"; do echo "failed: $f"; done
    echo "e2e: $PASSED passed, $FAILED failed"
    rm -rf "$E2E_TMP"
    [ "$FAILED" -eq 0 ]
}
