# Faults: the preflight stops a run before any change; a wrong password stops at the clone.
section "primary's database stopped: preflight fails before any change"
fresh_lab
snapshot pks2 > "$E2E_TMP/pks2.before"
on pks1 'docker stop pks-db' >/dev/null 2>&1
snapshot pks1 > "$E2E_TMP/pks1.stopped" 2>/dev/null
pp run failover.yml -i "$INV" "${SECRETS[@]}" --format json > "$E2E_TMP/stopped.json" 2>&1
check "the run fails (exit 2)" test $? -eq 2
check "no change recorded on either host" bash -c "! grep -q '\"status\": \"changed\"' '$E2E_TMP/stopped.json'"
on pks1 'docker start pks-db' >/dev/null 2>&1
snapshot pks2 > "$E2E_TMP/pks2.after"
check "secondary untouched" diff -u "$E2E_TMP/pks2.before" "$E2E_TMP/pks2.after"

section "wrong replication password: stops at the clone, secondary keeps its data"
fresh_lab
sql pks1 postgres "create role repuser login replication password 'the-right-one-1234'" >/dev/null
snapshot pks2 > "$E2E_TMP/pks2.before"
pp run failover.yml -i "$INV" -e replication_password=a-wrong-password-99 -e replication_manage_role=false > "$E2E_TMP/wrongpw.out" 2>&1
check "the run fails (exit 2)" test $? -eq 2
check "the message names the clone and the password" grep -q "Check replication_password" "$E2E_TMP/wrongpw.out"
check "the secondary still runs on its original data" bash -c "[ \"\$(sql pks2 pks \"select host from lab_origin\")\" = pks2 ]"
check "the secondary is not a standby" bash -c "[ \"\$(sql pks2 postgres 'select pg_is_in_recovery()')\" = f ]"
