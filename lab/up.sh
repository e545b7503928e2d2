#!/bin/bash
# make lab-up: two PKS hosts, pks1 and pks2, each a set of namespaces with its own sshd, folders
# and podman containers, on the bridge pksbr0. Idempotent: a running lab is left as it is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LAB_DIR/image.sh"

need_root
mkdir -p "$LAB_STATE/run" "$LAB_STATE/log"
exec 9>"$LAB_STATE/.lock"
flock -n 9 || die "another lab-up/lab-down is running (lock $LAB_STATE/.lock)"

# What exists of a lab: prints one word per present piece.
lab_pieces() {
    ip link show "$LAB_BRIDGE" >/dev/null 2>&1 && echo "bridge:$LAB_BRIDGE"
    local h
    for h in "${LAB_HOSTS[@]}"; do
        [[ -e /run/netns/$h ]] && echo "netns:$h"
        host_init_pid "$h" >/dev/null && echo "host:$h"
    done
    return 0
}

if [[ -e $LAB_STATE/lab.env ]]; then
    load_lab_env
    pieces=$(lab_pieces | xargs)
    if [[ $pieces == "bridge:$LAB_BRIDGE netns:pks1 host:pks1 netns:pks2 host:pks2" ]]; then
        say "lab is already up, left as it is: pks1 $LAB_PKS1_IP, pks2 $LAB_PKS2_IP (make lab-status for details)"
        exit 0
    fi
    say "found part of a lab (${pieces:-only its settings}); taking it down first"
    exec 9>&-
    "$LAB_DIR/down.sh"
    exec 9>"$LAB_STATE/.lock"
    flock -n 9 || die "another lab-up/lab-down is running (lock $LAB_STATE/.lock)"
else
    pieces=$(lab_pieces | xargs)
    [[ -z $pieces ]] || die "found lab pieces without $LAB_STATE/lab.env ($pieces); remove them or run make lab-down"
fi

for h in "${LAB_HOSTS[@]}"; do
    [[ $(host_ip "$h") =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad address for $h: $(host_ip "$h")"
done

started=$SECONDS
cgroups_before=0
if podman_cgroups_exist; then cgroups_before=1; fi
ensure_packages
ensure_image
image_seconds=$((SECONDS - started))
# shellcheck disable=SC1091
source "$LAB_STORE/pksplay-image.env"

# From here on a failure takes down whatever was started, and says so.
on_failure() {
    local rc=$?
    trap - EXIT
    ((rc == 0)) && return
    echo "lab: error: lab-up failed (exit $rc); logs in $LAB_STATE/log/" >&2
    if [[ -n ${LAB_KEEP_ON_FAILURE:-} ]]; then
        echo "lab: LAB_KEEP_ON_FAILURE is set: leaving this half-up lab as it is:" >&2
        lab_pieces | sed 's/^/lab:   /' >&2
    else
        echo "lab: taking down what was started" >&2
        exec 9>&-
        "$LAB_DIR/down.sh" >&2 || echo "lab: error: cleanup failed too; see make lab-status" >&2
    fi
    exit "$rc"
}
trap on_failure EXIT
trap 'exit 130' INT TERM HUP

{
    printf 'LAB_BRIDGE=%q\nLAB_BRIDGE_IP=%q\nLAB_PREFIX=%q\n' "$LAB_BRIDGE" "$LAB_BRIDGE_IP" "$LAB_PREFIX"
    printf 'LAB_PKS1_IP=%q\nLAB_PKS2_IP=%q\n' "$LAB_PKS1_IP" "$LAB_PKS2_IP"
} >"$LAB_STATE/lab.env"

# Keys, client files, inventory ---------------------------------------------------------------

key=$LAB_STATE/id_ed25519
[[ -s $key ]] || ssh-keygen -q -t ed25519 -N '' -C pksplay-lab -f "$key"

: >"$LAB_STATE/known_hosts.tmp"
for h in "${LAB_HOSTS[@]}"; do
    d=$(host_dir "$h")
    mkdir -p "$d/ssh"
    [[ -s $d/ssh/ssh_host_ed25519_key ]] ||
        ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$d/ssh/ssh_host_ed25519_key"
    printf '%s,%s %s\n' "$h" "$(host_ip "$h")" "$(cut -d' ' -f1,2 "$d/ssh/ssh_host_ed25519_key.pub")" \
        >>"$LAB_STATE/known_hosts.tmp"
done
mv "$LAB_STATE/known_hosts.tmp" "$LAB_STATE/known_hosts"

cat >"$LAB_STATE/ssh_config" <<EOF
# pksplay lab hosts (written by lab/up.sh): ssh -F $LAB_STATE/ssh_config pks1
Host pks1
    HostName $LAB_PKS1_IP
Host pks2
    HostName $LAB_PKS2_IP
Host pks1 pks2 $LAB_PKS1_IP $LAB_PKS2_IP
    User root
    Port 22
    IdentityFile $key
    IdentitiesOnly yes
    UserKnownHostsFile $LAB_STATE/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
EOF

cat >"$LAB_STATE/inventory.yml" <<EOF
# pksplay lab inventory (written by lab/up.sh)
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: $key
    ansible_ssh_known_hosts_file: $LAB_STATE/known_hosts
  children:
    primary:
      hosts:
        pks1:
          ansible_host: $LAB_PKS1_IP
    secondary:
      hosts:
        pks2:
          ansible_host: $LAB_PKS2_IP
EOF

# What runs inside the hosts is copied into the state directory, so a running lab never
# depends on the checkout it was started from.
install -d "$LAB_STATE/lib"
install -m 755 "$LAB_DIR/host-init.sh" "$LAB_STATE/lib/host-init.sh"

# Each host's own folders ------------------------------------------------------------------------

prepare_host() {
    local h=$1 d ip
    d=$(host_dir "$h")
    ip=$(host_ip "$h")
    install -d -m 755 "$d" "$d/srv" "$d/srv/pks" "$d/var-lib-postgresql" "$d/log" "$d/bin" "$d/etc" \
        "$d/etc/containers" "$d/storage"
    install -d -m 700 "$d/root" "$d/root/.ssh"
    install -d -m 1777 "$d/tmp"
    getent passwd postgres >/dev/null && chown postgres:postgres "$d/var-lib-postgresql"
    install -m 600 "$key.pub" "$d/root/.ssh/authorized_keys"
    install -m 755 "$LAB_DIR/host/docker" "$LAB_DIR/host/docker-compose" "$LAB_DIR/host/pks" "$d/bin/"

    echo "$h" >"$d/etc/hostname"
    cat >"$d/etc/hosts" <<EOF
127.0.0.1	localhost
$LAB_PKS1_IP	pks1
$LAB_PKS2_IP	pks2
::1	localhost ip6-localhost ip6-loopback
EOF

    cat >"$d/ssh/sshd_config" <<EOF
# sshd of lab host $h (written by lab/up.sh)
ListenAddress $ip:22
HostKey $d/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
X11Forwarding no
PrintMotd no
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
EOF

    # podman as the host's docker: runc, cgroupfs, file events, host networking, its own
    # storage, and the lab image from the shared read-only store.
    cat >"$d/etc/containers/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
netns = "host"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"

[network]
network_config_dir = "/etc/containers/cni"
EOF
    cat >"$d/etc/containers/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$d/storage"
runroot = "/run/containers/storage"

[storage.options]
additionalimagestores = ["$LAB_STORE"]
EOF
    cat >"$d/etc/containers/registries.conf" <<'EOF'
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
    echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$d/etc/containers/policy.json"

    # The PKS install: kept across lab-up/lab-down (playbooks change it); lab-reset renews it.
    [[ -e $d/srv/pks/docker-compose.yml ]] || install -m 644 "$LAB_DIR/host/docker-compose.yml" "$d/srv/pks/"
    if [[ ! -e $d/srv/pks/.env ]]; then
        (umask 077 && printf 'POSTGRES_PASSWORD=%s\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')" \
            >"$d/srv/pks/.env")
    fi
    if [[ ! -e $d/srv/pks/db ]]; then
        install -d -m 700 -o "$LAB_PG_UID" -g "$LAB_PG_GID" "$d/srv/pks/db"
    fi
}

for h in "${LAB_HOSTS[@]}"; do prepare_host "$h"; done

# podman creates its parent cgroups (libpod_parent) on first use; the lab removes them at
# lab-down only if they were not there before it.
((cgroups_before)) || touch "$LAB_STATE/run/cgroups-created"
# Likewise "ip netns add" creates /run/netns (a bind mount of itself) when it is missing.
[[ -e /run/netns ]] || touch "$LAB_STATE/run/netns-dir-created"

# Network ------------------------------------------------------------------------------------------

hosts_started=$SECONDS
ip link add "$LAB_BRIDGE" type bridge
ip addr add "$LAB_BRIDGE_IP/$LAB_PREFIX" dev "$LAB_BRIDGE"
ip link set "$LAB_BRIDGE" up
for h in "${LAB_HOSTS[@]}"; do
    ip netns add "$h"
    ip link add "$(veth_of "$h")" type veth peer name eth0 netns "$h"
    ip link set "$(veth_of "$h")" master "$LAB_BRIDGE" up
    ip -n "$h" link set lo up
    ip -n "$h" addr add "$(host_ip "$h")/$LAB_PREFIX" dev eth0
    ip -n "$h" link set eth0 up
done
say "network: $LAB_BRIDGE $LAB_BRIDGE_IP/$LAB_PREFIX, pks1 $LAB_PKS1_IP, pks2 $LAB_PKS2_IP (no route off the machine)"

# Hosts ----------------------------------------------------------------------------------------------

for h in "${LAB_HOSTS[@]}"; do
    # setsid: the host must not belong to the caller's session; every descriptor is redirected
    # so that no caller (make, CI) waits on a pipe the host keeps open.
    setsid nsenter --net="/run/netns/$h" \
        unshare --mount --uts --pid --fork --mount-proc --propagation private \
        "$LAB_STATE/lib/host-init.sh" "$h" "$(host_dir "$h")" \
        </dev/null >"$LAB_STATE/log/$h.log" 2>&1 9>&- &
    echo $! >"$LAB_STATE/run/$h.unshare.pid"
done

# pid 1 of each host is the child of its unshare; then its sshd must accept our key.
for h in "${LAB_HOSTS[@]}"; do
    outer=$(<"$LAB_STATE/run/$h.unshare.pid")
    init=
    for _ in $(seq 100); do
        init=$(ps -o pid= --ppid "$outer" 2>/dev/null | tr -d ' ' | head -1) || init=
        [[ -n $init ]] && break
        sleep 0.05
    done
    [[ -n $init ]] || { tail -5 "$LAB_STATE/log/$h.log" >&2; die "$h did not start (log: $LAB_STATE/log/$h.log)"; }
    echo "$init" >"$LAB_STATE/run/$h.pid"
    for _ in $(seq 100); do
        ssh -F "$LAB_STATE/ssh_config" -o ConnectTimeout=1 "$h" true 2>/dev/null && break
        kill -0 "$init" 2>/dev/null || break
        sleep 0.1
    done
    ssh -F "$LAB_STATE/ssh_config" "$h" true ||
        { tail -5 "$LAB_STATE/log/$h.log" >&2; die "sshd of $h does not accept the lab key (log: $LAB_STATE/log/$h.log)"; }
done
say "hosts: pks1 and pks2 up, sshd answering with the lab key ($((SECONDS - hosts_started)) s)"

# PKS on each host, over ssh as a user would, both hosts at once ---------------------------------

start_pks() {
    local h=$1
    ssh -F "$LAB_STATE/ssh_config" "$h" 'pks start' >"$LAB_STATE/log/$h-pks-start.log" 2>&1 || {
        tail -5 "$LAB_STATE/log/$h-pks-start.log" >&2
        echo "lab: error: pks start failed on $h (log: $LAB_STATE/log/$h-pks-start.log)" >&2
        return 1
    }
    # The PKS schema and this host's own rows, once: a database that has them (a standby
    # included) is left alone.
    local sql=(docker exec -i -u postgres pks-db psql -v ON_ERROR_STOP=1 -q -X)
    local has
    has=$(ssh -F "$LAB_STATE/ssh_config" "$h" "${sql[*]} -Atc \"select count(*) from pg_database where datname = 'pks'\"")
    if [[ $has == 0 ]]; then
        {
            echo 'CREATE DATABASE pks;'
            echo '\connect pks'
            cat "$LAB_DIR/host/seed/schema.sql" "$LAB_DIR/host/seed/$h.sql"
        } | ssh -F "$LAB_STATE/ssh_config" "$h" "${sql[*]}" >>"$LAB_STATE/log/$h-pks-start.log" 2>&1 ||
            { echo "lab: error: seeding the pks database of $h failed (log: $LAB_STATE/log/$h-pks-start.log)" >&2; return 1; }
        echo "seeded"
    else
        echo "kept"
    fi
}

declare -A job
for h in "${LAB_HOSTS[@]}"; do
    start_pks "$h" >"$LAB_STATE/run/$h.seed" &
    job[$h]=$!
done
failed=0
for h in "${LAB_HOSTS[@]}"; do wait "${job[$h]}" || failed=1; done
((failed == 0)) || die "PKS did not start on every host"
for h in "${LAB_HOSTS[@]}"; do
    if [[ $(<"$LAB_STATE/run/$h.seed") == seeded ]]; then what="new database, seeded with $h's rows"; else what="existing database kept"; fi
    say "$h: pks started (pks-db, pks-sip), $what"
done
rm -f "$LAB_STATE"/run/*.seed

trap - EXIT
if ((image_seconds >= 2)); then
    say "lab up in $((SECONDS - started)) s, $image_seconds s of it for the image"
else
    say "lab up in $((SECONDS - started)) s"
fi
say "ssh -F $LAB_STATE/ssh_config pks1; inventory: $LAB_STATE/inventory.yml"
