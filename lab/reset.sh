#!/bin/bash
# make lab-reset: lab-down, then each host's own folders are wiped (/srv with the PKS install and
# its database, /root, /tmp, /var/log, /var/lib/postgresql, container storage), then lab-up.
# Keys stay, so known_hosts, ssh_config and the inventory stay valid.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
"$LAB_DIR/down.sh"
for h in "${LAB_HOSTS[@]}"; do
    d=$(host_dir "$h")
    [[ -d $d ]] || continue
    if awk -v d="$d/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
        die "something is still mounted under $d; not wiping it"
    fi
    rm -rf "$d/srv" "$d/root" "$d/tmp" "$d/log" "$d/var-lib-postgresql" "$d/storage"
    say "$h: own folders wiped (/srv, /root, /tmp, /var/log, /var/lib/postgresql, containers)"
done
"$LAB_DIR/up.sh"
