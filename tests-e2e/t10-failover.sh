# Issue 6: the failover playbook on a fresh lab, check mode first, then the run, the second run,
# and the checks a PKS operator would make by hand.
section "check mode changes nothing"
fresh_lab
snapshot pks1 > "$E2E_TMP/pks1.before"; snapshot pks2 > "$E2E_TMP/pks2.before"
ppr check failover.yml -i "$INV" "${SECRETS[@]}" > "$E2E_TMP/check.out" 2>&1
check "check exits 0" test $? -eq 0
check "check lists would-be changes with diffs" grep -qE '^\+host[[:space:]]+replication[[:space:]]+repuser[[:space:]]+10.0.3.11/32' "$E2E_TMP/check.out"
snapshot pks1 > "$E2E_TMP/pks1.check"; snapshot pks2 > "$E2E_TMP/pks2.check"
check "primary unchanged by check" diff -u "$E2E_TMP/pks1.before" "$E2E_TMP/pks1.check"
check "secondary unchanged by check" diff -u "$E2E_TMP/pks2.before" "$E2E_TMP/pks2.check"
check "password not printed by check" bash -c "! grep -q -- '$PW' '$E2E_TMP/check.out'"

section "failover run"
start=$(date +%s.%N)
pp run failover.yml -i "$INV" "${SECRETS[@]}" > "$E2E_TMP/run1.out" 2>&1
rc=$?
end=$(date +%s.%N)
echo "  failover run took $(awk "BEGIN {printf \"%.2f\", $end - $start}") s"
check "failover exits 0" test $rc -eq 0 || tail -40 "$E2E_TMP/run1.out"
check "password never printed" bash -c "! grep -q -- '$PW' '$E2E_TMP/run1.out'"
check "primary shows the standby streaming" bash -c "[ \"\$(sql pks1 postgres \"select state from pg_stat_replication\")\" = streaming ]"
marker="e2e-$$-$RANDOM"
sql pks1 pks "insert into subscribers (username, domain) values ('$marker', 'e2e')" >/dev/null
seen=no
for i in $(seq 1 50); do
    if [ "$(sql pks2 pks "select count(*) from subscribers where username = '$marker'")" = 1 ]; then seen=yes; break; fi
    sleep 0.1
done
check "a row inserted on the primary is read on the secondary within 5 s" test $seen = yes
sql pks1 pks "delete from subscribers where domain = 'e2e'" >/dev/null   # the primary is compared after rollback
ro=$(sql pks2 pks "insert into subscribers (username, domain) values ('x-$marker', 'e2e')" 2>&1)
check "an insert on the secondary fails as read-only" grep -q "read-only transaction" <<<"$ro"
check "pks-sip runs on the primary" bash -c "on pks1 'docker ps --format {{.Names}}' | grep -qx pks-sip"
check "pks-sip runs on the secondary" bash -c "on pks2 'docker ps --format {{.Names}}' | grep -qx pks-sip"
check "the secondary's own data is kept aside" bash -c "on pks2 'ls -d /srv/pks/db.pre-standby-*' >/dev/null"
check "no password in the standby's postgresql.auto.conf" bash -c "! on pks2 'grep -q password /srv/pks/db/postgresql.auto.conf'"
check "the standby's passfile is 0600" bash -c "[ \"\$(on pks2 'stat -c %a /srv/pks/db/standby.pgpass')\" = 600 ]"

section "second run changes nothing"
pp run failover.yml -i "$INV" "${SECRETS[@]}" --format json > "$E2E_TMP/run2.json" 2>&1
check "second run exits 0" test $? -eq 0
recap "$E2E_TMP/run2.json" | sed 's/^/  /'
check "second run: changed=0 on both hosts" bash -c "[ \"\$(recap '$E2E_TMP/run2.json' | grep -c 'changed=0')\" = 2 ]"
