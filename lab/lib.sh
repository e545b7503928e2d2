# Shared settings and helpers for the pksplay lab scripts. Sourced, never run.
# shellcheck shell=bash disable=SC2034  # the settings are used by the scripts that source this

# Where things live. The state and cache directories are outside the repository on purpose:
# CI clones the repository anywhere and the lab must not depend on that path once it is up.
LAB_STATE=${LAB_STATE:-/var/lib/pksplay-lab}
LAB_CACHE=${LAB_CACHE:-/var/cache/pksplay-lab}
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The network. Everything stays on one bridge in the root namespace; the hosts get no default
# route, so nothing they send can leave the machine.
LAB_BRIDGE=${LAB_BRIDGE:-pksbr0}
LAB_BRIDGE_IP=${LAB_BRIDGE_IP:-10.0.3.1}
LAB_PREFIX=${LAB_PREFIX:-24}
LAB_PKS1_IP=${LAB_PKS1_IP:-10.0.3.10}
LAB_PKS2_IP=${LAB_PKS2_IP:-10.0.3.11}
LAB_HOSTS=(pks1 pks2)

# The image every PKS container runs.
LAB_IMAGE=localhost/postgres:15
LAB_IMAGE_ALIASES=(docker.io/library/postgres:15)
LAB_BASE_IMAGE=localhost/pksplay-lab/debian-postgresql:15
LAB_BASE_TAR=$LAB_CACHE/debian-bookworm-postgresql-15.tar
LAB_STORE=$LAB_CACHE/store          # read-only image store shared by both hosts
LAB_RUN=/run/pksplay-lab            # root-namespace runtime files (build-time podman)

LAB_APT_PACKAGES=(openssh-server openssh-client podman runc conmon podman-compose mmdebstrap procps
                  uidmap iproute2 util-linux python3 python3-yaml python3-dotenv
                  containernetworking-plugins)

# The settings a running lab was started with win over the environment, so that down and
# status act on the lab that exists, not on the one the caller's environment describes.
# up.sh writes lab.env before it creates anything and down.sh removes it last, so the file
# exists exactly while some part of the lab may exist.
load_lab_env() {
    if [[ -r $LAB_STATE/lab.env ]]; then
        # shellcheck disable=SC1091
        source "$LAB_STATE/lab.env"
    fi
}

host_ip() {
    case $1 in
        pks1) echo "$LAB_PKS1_IP" ;;
        pks2) echo "$LAB_PKS2_IP" ;;
        *) die "unknown host $1" ;;
    esac
}
host_dir() { echo "$LAB_STATE/hosts/$1"; }
veth_of() { echo "pksv-$1"; }

say() { printf 'lab: %s\n' "$*"; }
warn() { printf 'lab: warning: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "the lab needs root (network namespaces, mounts, containers); run it as root"
}

# Installs the Debian packages the lab needs, only those missing, without prompts.
ensure_packages() {
    local missing=() p
    for p in "${LAB_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Without a running init the package scripts must not try to start sshd on port 22.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
    fi
    local rc=0
    mkdir -p "$LAB_STATE"
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$LAB_STATE/apt.log" 2>&1 || rc=$?
    ((created_policy)) && rm -f "$policy"
    ((rc == 0)) || { tail -20 "$LAB_STATE/apt.log" >&2; die "apt-get install failed (log: $LAB_STATE/apt.log)"; }
}

# podman creates its parent cgroups (libpod_parent, with conmon/ under it) on first use.
podman_cgroups_exist() {
    compgen -G '/sys/fs/cgroup/*/libpod_parent' >/dev/null || [[ -d /sys/fs/cgroup/libpod_parent ]]
}

# Removes podman's parent cgroups if they are empty (rmdir fails on a cgroup in use). Succeeds if
# one was removed.
remove_podman_cgroups() {
    local cg removed=1
    for cg in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
        [[ -d $cg ]] || continue
        rmdir "$cg/conmon" 2>/dev/null || :
        if rmdir "$cg" 2>/dev/null; then removed=0; fi
    done
    return "$removed"
}

# The pid of a host's init (pid 1 of its namespaces), if that host is running.
host_init_pid() {
    local f=$LAB_STATE/run/$1.pid pid
    [[ -r $f ]] || return 1
    pid=$(<"$f")
    [[ -n $pid && -d /proc/$pid ]] || return 1
    # The pid must still be our sshd in that host's namespaces, not a recycled number.
    grep -qaF "$LAB_STATE/hosts/$1/" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# Runs a command inside a running host (its net, mount, uts and pid namespaces), like a login
# would, but without ssh. Used for setup and teardown only.
in_host() {
    local h=$1 pid
    shift
    pid=$(host_init_pid "$h") || die "$h is not running"
    nsenter --target "$pid" --net --mount --uts --pid --wd=/ -- \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 "$@"
}
