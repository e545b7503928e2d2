# promote.yml and sip-switch.yml after a failover.
section "sip-switch and promote"
fresh_lab
pp run failover.yml -i "$INV" "${SECRETS[@]}" > "$E2E_TMP/run.out" 2>&1
check "failover before the switch exits 0" test $? -eq 0
pp run sip-switch.yml -i "$INV" -e sip_active=pks1 > "$E2E_TMP/sip.out" 2>&1
check "sip-switch to pks1 exits 0" test $? -eq 0
check "pks-sip stopped on pks2" bash -c "! on pks2 'docker ps --format {{.Names}}' | grep -qx pks-sip"
check "pks-sip still runs on pks1" bash -c "on pks1 'docker ps --format {{.Names}}' | grep -qx pks-sip"
pp run sip-switch.yml -i "$INV" -e sip_active=all > "$E2E_TMP/sip2.out" 2>&1
check "pks-sip back on pks2" bash -c "on pks2 'docker ps --format {{.Names}}' | grep -qx pks-sip"
on pks1 'pks stop' >/dev/null 2>&1
pp run promote.yml -i "$INV" -e old_primary_fenced=true > "$E2E_TMP/promote.out" 2>&1
check "promote exits 0" test $? -eq 0
check "the promoted secondary accepts writes" bash -c "sql pks2 pks \"insert into subscribers (username, domain) values ('after-promote', 'e2e')\" >/dev/null"
