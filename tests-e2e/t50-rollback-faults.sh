# Issue 7: faults, each followed by rollback, both hosts compared to a snapshot taken before the run
# (files under /srv/pks, roles, settings, slots, which data directory is live, containers, data).

# The journal of the run started after journals.before was written (not an older run's journal,
# which names the same tasks).
this_runs_journal() {
    ls "$PKSPLAY_STATE_DIR" 2>/dev/null | grep '^run-.*\.jsonl$' | grep -v '\.rollback' | grep -vxFf "$E2E_TMP/journals.before" | head -1 | sed "s|^|$PKSPLAY_STATE_DIR/|"
}

compare_to_before() {
    snapshot pks1 > "$E2E_TMP/f1.after"; snapshot pks2 > "$E2E_TMP/f2.after"
    check "$1: primary as before" diff -u "$E2E_TMP/f1.before" "$E2E_TMP/f1.after"
    check "$1: secondary as before" diff -u "$E2E_TMP/f2.before" "$E2E_TMP/f2.after"
}

section "a task failing at each step of failover.yml, with --rollback-on-failure"
fresh_lab
snapshot pks1 > "$E2E_TMP/f1.before"; snapshot pks2 > "$E2E_TMP/f2.before"
steps=(
    "Primary | replication role*" "Primary | pg_hba*" "Primary | replication settings" "Primary | physical replication slot*"
    "Secondary | staging directory*" "Secondary | pg_basebackup*" "Secondary | connection settings*" "Secondary | the standby's passfile*"
    "Secondary | stop PKS" "Secondary | keep the secondary's own data aside*" "Secondary | the clone becomes*" "Secondary | start PKS*"
    "Verify | the primary sees*" "Verify | the standby replays*"
)
for step in "${steps[@]}"; do
    PKSPLAY_INJECT_FAILURE="$step" pp run failover.yml -i "$INV" "${SECRETS[@]}" --rollback-on-failure > "$E2E_TMP/fault.out" 2>&1
    rc=$?
    check "fail at '$step': the run exits 2" test $rc -eq 2
    check "fail at '$step': the rollback completes" grep -q "rollback: complete" "$E2E_TMP/fault.out" || tail -20 "$E2E_TMP/fault.out"
    compare_to_before "fail at '$step'"
done

section "pksplay killed (SIGKILL) during the swap, then rollback --last"
ls "$PKSPLAY_STATE_DIR" > "$E2E_TMP/journals.before" 2>/dev/null
"$PKSPLAY" run failover.yml -i "$INV" "${SECRETS[@]}" --state-dir "$PKSPLAY_STATE_DIR" > "$E2E_TMP/killed.out" 2>&1 &
pid=$!
killed=no
for i in $(seq 1 1500); do
    j=$(this_runs_journal)
    if [ -n "$j" ] && grep -q "keep the secondary's own data aside" "$j"; then kill -9 $pid; killed=yes; break; fi
    sleep 0.02
done
wait $pid 2>/dev/null
check "pksplay was killed during the swap" test $killed = yes
run_id=$(basename "$j" .jsonl); run_id=${run_id#run-}
check "the killed run had journaled its changes" bash -c "[ \$(grep -c '\"kind\":\"change\"' '$j') -ge 5 ]"
ppr rollback --last > "$E2E_TMP/killed-rb.out" 2>&1
check "rollback after SIGKILL exits 0" test $? -eq 0 || tail -20 "$E2E_TMP/killed-rb.out"
check "rollback --last chose the killed run" grep -q "ROLLBACK \[$run_id\]" "$E2E_TMP/killed-rb.out"
check "the rollback undid the killed run's changes" grep -Eq "ROLLBACK RECAP: undone=[1-9]" "$E2E_TMP/killed-rb.out"
compare_to_before "killed during the swap"

section "the secondary's SSH sessions killed and sshd frozen mid-run, sshd back, then rollback --last"
listener=$(pgrep -f "sshd -D -e -f $LAB_STATE/hosts/pks2/ssh/sshd_config" | head -1)
ls "$PKSPLAY_STATE_DIR" > "$E2E_TMP/journals.before" 2>/dev/null
"$PKSPLAY" run failover.yml -i "$INV" "${SECRETS[@]}" --state-dir "$PKSPLAY_STATE_DIR" > "$E2E_TMP/ssh.out" 2>&1 &
pid=$!
cut=no
for i in $(seq 1 1500); do
    j=$(this_runs_journal)
    if [ -n "$j" ] && grep -q "staging directory" "$j"; then
        kill -STOP "$listener"
        pkill -KILL -P "$listener" -f "sshd: root" ; cut=yes; break
    fi
    sleep 0.02
done
wait $pid
rc=$?
check "the connection to the secondary was cut mid-run" test $cut = yes
check "the run ends with pks2 unreachable or failed (exit $rc)" bash -c "[ $rc -eq 4 ] || [ $rc -eq 2 ]"
check "the output names pks2 UNREACHABLE" grep -q "fatal: \[pks2\]: UNREACHABLE" "$E2E_TMP/ssh.out"
kill -CONT "$listener"
ppr rollback --last > "$E2E_TMP/ssh-rb.out" 2>&1
check "rollback once sshd answers again exits 0" test $? -eq 0 || tail -20 "$E2E_TMP/ssh-rb.out"
run_id=$(basename "$j" .jsonl); run_id=${run_id#run-}
check "rollback --last chose the cut run" grep -q "ROLLBACK \[$run_id\]" "$E2E_TMP/ssh-rb.out"
check "the rollback undid the cut run's changes" grep -Eq "ROLLBACK RECAP: undone=[1-9]" "$E2E_TMP/ssh-rb.out"
compare_to_before "SSH cut mid-run"

section "the primary's database stopped during the clone, then rollback --last once it is back"
sql pks1 pks "create table filler as select g, repeat(md5(g::text), 30) as pad from generate_series(1, 250000) g" >/dev/null
snapshot pks1 > "$E2E_TMP/f1.before"
"$PKSPLAY" run failover.yml -i "$INV" "${SECRETS[@]}" --state-dir "$PKSPLAY_STATE_DIR" > "$E2E_TMP/dbstop.out" 2>&1 &
pid=$!
stopped=no
for i in $(seq 1 1200); do
    if grep -q "kB (" "$E2E_TMP/dbstop.out" 2>/dev/null || grep -q "waiting for checkpoint" "$E2E_TMP/dbstop.out" 2>/dev/null; then
        on pks1 'docker stop -t 1 pks-db' >/dev/null 2>&1; stopped=yes; break
    fi
    sleep 0.02
done
wait $pid
rc=$?
check "the primary's database was stopped during the clone" test $stopped = yes
check "the run fails (exit $rc)" test $rc -eq 2
check "the secondary was not swapped" bash -c "[ \"\$(sql pks2 pks 'select host from lab_origin')\" = pks2 ]"
on pks1 'docker start pks-db' >/dev/null 2>&1
for i in $(seq 1 60); do on pks1 'docker exec pks-db pg_isready -q' && break; sleep 0.5; done
ppr rollback --last > "$E2E_TMP/dbstop-rb.out" 2>&1
check "rollback once the primary is back exits 0" test $? -eq 0 || tail -20 "$E2E_TMP/dbstop-rb.out"
compare_to_before "primary stopped during the clone"
