# Issue 7: the failover run rolled back leaves both hosts as they were; rolling back twice changes nothing.
section "rollback of the failover run"
ppr rollback --last > "$E2E_TMP/rb1.out" 2>&1
rc=$?
check "rollback exits 0" test $rc -eq 0 || tail -30 "$E2E_TMP/rb1.out"
snapshot pks1 > "$E2E_TMP/pks1.after"; snapshot pks2 > "$E2E_TMP/pks2.after"
check "primary as before the run (pg_hba, auto.conf byte-identical, role and slot gone)" diff -u "$E2E_TMP/pks1.before" "$E2E_TMP/pks1.after"
check "secondary back on its own data, running, nothing left behind" diff -u "$E2E_TMP/pks2.before" "$E2E_TMP/pks2.after"
check "the row only the secondary had is back" bash -c "[ \"\$(sql pks2 pks \"select count(*) from subscribers where username = 'only-on-pks2'\")\" = 1 ]"
ppr rollback --last --format json > "$E2E_TMP/rb2.json" 2>&1
check "rolling back twice changes nothing" bash -c "! grep -q '\"status\": \"changed\"' '$E2E_TMP/rb2.json'"
check "run journals are 0600" bash -c "[ -z \"\$(find '$PKSPLAY_STATE_DIR' -name 'run-*.jsonl' ! -perm 0600)\" ]"
check "no replication password in any journal" bash -c "! grep -rq -- '$PW' '$PKSPLAY_STATE_DIR'"
