#!/bin/bash
# make lab-down: stops both hosts and removes everything the lab put on the machine while up:
# containers, processes, namespaces, mounts, the bridge and the veths. Keeps the state directory
# (keys, each host's /srv and database) and the image cache, so the next lab-up is fast.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root
mkdir -p "$LAB_STATE"
exec 9>"$LAB_STATE/.lock"
flock -w 60 9 || die "another lab-up/lab-down is running (lock $LAB_STATE/.lock)"
load_lab_env
started=$SECONDS
did=()

# Containers first, each host at once: postgres gets its stop signal and time for a clean
# shutdown, and podman removes the containers' cgroups and mounts itself.
stop_containers() {
    local h=$1 names
    names=$(in_host "$h" podman ps -a --format '{{.Names}}' 2>/dev/null | xargs) || names=
    [[ -n $names ]] || return 0
    in_host "$h" podman rm --all --force --time 10 >/dev/null 2>"$LAB_STATE/log/$h-down.log" ||
        warn "$h: podman rm failed (log: $LAB_STATE/log/$h-down.log); the namespace goes anyway"
    echo "$names"
}

declare -A job
for h in "${LAB_HOSTS[@]}"; do
    if host_init_pid "$h" >/dev/null; then
        stop_containers "$h" >"$LAB_STATE/run/$h.removed" &
        job[$h]=$!
    fi
done
for h in "${!job[@]}"; do
    wait "${job[$h]}" || :
    removed=$(<"$LAB_STATE/run/$h.removed")
    rm -f "$LAB_STATE/run/$h.removed"
    [[ -z $removed ]] || did+=("$h: containers removed ($removed)")
done

# Then each host's pid 1 (its sshd): the kernel ends every other process of that pid namespace,
# and the mount namespace with its mounts goes with the last of them.
for h in "${LAB_HOSTS[@]}"; do
    pid=$(host_init_pid "$h") || pid=
    outer=$(cat "$LAB_STATE/run/$h.unshare.pid" 2>/dev/null) || outer=
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || :
        for _ in $(seq 50); do
            [[ -d /proc/$pid ]] || break
            sleep 0.05
        done
        if [[ -d /proc/$pid ]]; then kill -KILL "$pid" 2>/dev/null || :; fi
        did+=("$h: stopped (sshd and everything in its namespaces)")
    fi
    # The waiting unshare in the root namespace exits with its child.
    if [[ -n $outer && -d /proc/$outer ]] && grep -qa unshare "/proc/$outer/cmdline" 2>/dev/null; then
        for _ in $(seq 20); do
            [[ -d /proc/$outer ]] || break
            sleep 0.05
        done
        if [[ -d /proc/$outer ]]; then kill -KILL "$outer" 2>/dev/null || :; fi
    fi
    # Anything else still in the host's network namespace (nothing, normally) is ended too.
    if [[ -e /run/netns/$h ]]; then
        mapfile -t stray < <(ip netns pids "$h" 2>/dev/null)
        if ((${#stray[@]})); then
            kill -KILL "${stray[@]}" 2>/dev/null || :
            did+=("$h: killed stray processes ${stray[*]}")
        fi
        ip netns del "$h" || warn "$h: ip netns del failed"
        did+=("$h: network namespace removed")
    fi
    # The veth goes with the namespace, a moment later; one left behind is deleted.
    veth=$(veth_of "$h")
    for _ in $(seq 20); do
        ip link show "$veth" >/dev/null 2>&1 || break
        sleep 0.05
    done
    if ip link show "$veth" >/dev/null 2>&1; then
        ip link del "$veth" 2>/dev/null || :
        did+=("$h: veth $veth removed")
    fi
    rm -f "$LAB_STATE/run/$h.pid" "$LAB_STATE/run/$h.unshare.pid"
done

if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    ip link del "$LAB_BRIDGE" || warn "ip link del $LAB_BRIDGE failed"
    did+=("bridge $LAB_BRIDGE removed")
fi

# Nothing of the lab may stay mounted in the root namespace (nothing is, normally).
while read -r mnt; do
    umount -n -l "$mnt" || warn "umount $mnt failed"
    did+=("unmounted $mnt")
done < <(awk -v s="$LAB_STATE/" -v c="$LAB_CACHE/" 'index($2, s) == 1 || index($2, c) == 1 { print $2 }' /proc/self/mounts | sort -r)

# podman's parent cgroups, if the lab created them and nothing uses them (rmdir fails if so).
if [[ -e $LAB_STATE/run/cgroups-created ]]; then
    if remove_podman_cgroups; then did+=("podman's empty parent cgroups (libpod_parent) removed"); fi
    rm -f "$LAB_STATE/run/cgroups-created"
fi

# /run/netns, if the lab created it and no other namespace is registered there.
if [[ -e $LAB_STATE/run/netns-dir-created ]]; then
    if [[ -d /run/netns && -z $(ls -A /run/netns) ]]; then
        while mountpoint -q /run/netns; do umount -n /run/netns; done
        rmdir /run/netns || :
        did+=("/run/netns removed (ip netns created it)")
    fi
    rm -f "$LAB_STATE/run/netns-dir-created"
fi

rm -f "$LAB_STATE/lab.env"
if ((${#did[@]} == 0)); then
    say "lab is already down; nothing to do"
else
    for line in "${did[@]}"; do say "$line"; done
    say "lab down in $((SECONDS - started)) s (state kept in $LAB_STATE, image cache in $LAB_CACHE)"
fi
