#!/bin/bash
# make lab-status: per host, whether sshd answers, its containers and their state, and whether
# pks-db answers "select 1". Exit 0 when all is well, 1 when something is wrong, 3 when the lab
# is down.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
load_lab_env

if [[ ! -e $LAB_STATE/lab.env ]] && ! ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    say "lab is down (make lab-up starts it)"
    exit 3
fi

bad=0
if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    echo "bridge $LAB_BRIDGE: up ($LAB_BRIDGE_IP/$LAB_PREFIX)"
else
    echo "bridge $LAB_BRIDGE: MISSING"
    bad=1
fi

ssh_lab() { ssh -F "$LAB_STATE/ssh_config" -o ConnectTimeout=3 "$@"; }

for h in "${LAB_HOSTS[@]}"; do
    ip=$(host_ip "$h")
    echo "$h ($ip):"
    if pid=$(host_init_pid "$h"); then
        echo "  namespaces: up (init pid $pid)"
    else
        echo "  namespaces: DOWN"
        bad=1
        continue
    fi
    if ssh_lab "$h" true 2>/dev/null; then
        echo "  sshd: reachable, key accepted, host key matches known_hosts"
    else
        echo "  sshd: NOT REACHABLE ($(ssh_lab "$h" true 2>&1 | tail -1))"
        bad=1
        continue
    fi
    containers=$(ssh_lab "$h" "docker ps -a --format '{{.Names}}|{{.Status}}'" 2>&1) || {
        echo "  containers: cannot list ($containers)"
        bad=1
        continue
    }
    if [[ -z $containers ]]; then
        echo "  containers: none"
        bad=1
    else
        while IFS='|' read -r name state; do
            printf '  container %-8s %s\n' "$name" "$state"
        done <<<"$containers"
    fi
    answer=$(ssh_lab "$h" 'docker exec -u postgres pks-db psql -AtX -c "select 1, pg_is_in_recovery()"' 2>&1)
    case $answer in
        '1|f') echo "  pks-db: answers select 1 (primary)" ;;
        '1|t') echo "  pks-db: answers select 1 (standby, in recovery)" ;;
        *)
            echo "  pks-db: does NOT answer select 1 (${answer##*$'\n'})"
            bad=1
            ;;
    esac
done
exit "$bad"
