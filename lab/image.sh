#!/bin/bash
# Builds the lab's postgres image once and caches it outside the repository:
#   $LAB_CACHE/debian-bookworm-postgresql-15.tar   root filesystem from mmdebstrap (~2 min to build)
#   $LAB_CACHE/store/                                a podman image store holding localhost/postgres:15,
#                                                    shared read-only by both hosts (~25 s from the tar)
# A rerun with both in place does nothing. A change to lab/image/* rebuilds the store from the tar.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The machine's own Debian sources for its release, as one-line entries for the image's apt.
# Only Debian's archive and security suites are taken; third-party repositories are left out.
debian_sources() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    {
        one_line_sources
        deb822_sources
    } | awk -v c="$codename" '$2 == c || $2 == c "-updates" || $2 == c "-security" { print "deb " $1 " " $2 " main" }' |
        awk '!seen[$0]++'
}

# "URI SUITE" of each enabled entry in the one-line format files.
one_line_sources() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' | awk '$1 == "deb" { print $2, $3 }' || :
}

# "URI SUITE" of each enabled entry in the deb822 format files.
deb822_sources() {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        function flush() {
            if (types ~ /(^| )deb( |$)/ && enabled != "no")
                for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
            types = ""; enabled = ""; nu = 0; ns = 0
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
        /^Enabled:/ { enabled = tolower($2) }
        /^URIs:/ { sub(/^URIs:[ \t]*/, ""); nu = split($0, u, /[ \t]+/) }
        /^Suites:/ { sub(/^Suites:[ \t]*/, ""); ns = split($0, s, /[ \t]+/) }
        END { flush() }' || :
}

build_base() {
    local -a mirrors
    if [[ -n ${LAB_DEBIAN_MIRROR:-} ]]; then
        mirrors=("$LAB_DEBIAN_MIRROR")
    else
        mapfile -t mirrors < <(debian_sources)
    fi
    ((${#mirrors[@]})) || die "no Debian source found in /etc/apt/sources.list*; set LAB_DEBIAN_MIRROR=http://..."
    say "building the postgres root filesystem with mmdebstrap (~2 min) from: ${mirrors[*]}"
    local tmp=$LAB_BASE_TAR.tmp log=$LAB_CACHE/mmdebstrap.log start=$SECONDS run_mount=0
    rm -f "$tmp"
    [[ -e /run/mount ]] || run_mount=1  # mount(8) creates it; removed below if it stays empty
    # shellcheck disable=SC2016  # the hooks' "$1" is the chroot, expanded by mmdebstrap
    # The Debian package creates and starts a "main" cluster; the image must start empty, like
    # the official one, with a data directory anyone can create a cluster in.
    if ! mmdebstrap --variant=minbase --format=tar --include=postgresql-15 \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='rm -rf "$1/var/lib/postgresql/15" "$1/etc/postgresql/15"' \
        --customize-hook='mkdir -p "$1/var/lib/postgresql/data" && chroot "$1" chown postgres:postgres /var/lib/postgresql/data && chmod 1777 "$1/var/lib/postgresql/data"' \
        --customize-hook='mkdir -p "$1/docker-entrypoint-initdb.d"' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        "$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")" "$tmp" "${mirrors[@]}" >"$log" 2>&1; then
        rm -f "$tmp"
        ((run_mount == 0)) || rmdir /run/mount 2>/dev/null || :
        tail -20 "$log" >&2
        die "mmdebstrap failed (full log: $log)"
    fi
    ((run_mount == 0)) || rmdir /run/mount 2>/dev/null || :
    mv "$tmp" "$LAB_BASE_TAR"
    say "root filesystem built in $((SECONDS - start)) s: $LAB_BASE_TAR ($(du -h "$LAB_BASE_TAR" | cut -f1))"
}

# podman in the root namespace, on the cache store only: the machine's own podman configuration
# and storage are never used or changed.
build_podman() {
    CONTAINERS_STORAGE_CONF=$LAB_RUN/build/storage.conf CONTAINERS_CONF=$LAB_RUN/build/containers.conf \
        CONTAINERS_REGISTRIES_CONF=$LAB_RUN/build/registries.conf podman "$@"
}

image_stamp() {
    cat "$LAB_DIR/image/Containerfile" "$LAB_DIR/image/docker-entrypoint.sh" "$LAB_DIR/image/pks-sip-standin" |
        sha256sum | cut -c1-16
}

build_store() {
    local stamp=$1 start=$SECONDS log=$LAB_CACHE/build.log
    say "loading the image into $LAB_STORE (~15 s)"
    rm -rf "$LAB_STORE" "$LAB_RUN/build"
    mkdir -p "$LAB_STORE" "$LAB_RUN/build"
    cat >"$LAB_RUN/build/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$LAB_STORE"
runroot = "$LAB_RUN/build/runroot"
EOF
    cat >"$LAB_RUN/build/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$LAB_RUN/build/libpod"

[network]
network_config_dir = "$LAB_RUN/build/cni"
EOF
    printf 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n' >"$LAB_RUN/build/registries.conf"
    # podman also writes a few machine-wide files (its blob cache, an empty network run
    # directory). Those it creates here are removed afterwards; directories only when empty,
    # since another podman on the machine may have started using them meanwhile.
    local p i created=() cgroups_before=0
    for p in /var/lib/containers /var/lib/containers/cache /var/lib/containers/cache/blob-info-cache-v1.boltdb \
        /run/containers /run/containers/networks; do
        [[ -e $p ]] || created+=("$p")
    done
    if podman_cgroups_exist; then cgroups_before=1; fi
    local ok=1
    {
        build_podman import "$LAB_BASE_TAR" "$LAB_BASE_IMAGE" &&
            build_podman build --pull=never --network=none -t "$LAB_IMAGE" -f "$LAB_DIR/image/Containerfile" "$LAB_DIR/image" &&
            for alias in "${LAB_IMAGE_ALIASES[@]}"; do build_podman tag "$LAB_IMAGE" "$alias" || exit 1; done
    } >"$log" 2>&1 || ok=0
    # The postgres uid inside the image: ownership of each host's /srv/pks/db is set by number.
    local ids
    ids=$(tar -xOf "$LAB_BASE_TAR" ./etc/passwd | awk -F: '$1 == "postgres" { print $3 ":" $4 }')
    [[ -n $ids ]] || ok=0
    build_podman system prune --force >/dev/null 2>&1 || :
    rm -rf "$LAB_RUN/build"
    rmdir "$LAB_RUN" 2>/dev/null || :
    for ((i = ${#created[@]} - 1; i >= 0; i--)); do
        p=${created[i]}
        if [[ -d $p ]]; then rmdir "$p" 2>/dev/null || :; else rm -f "$p"; fi
    done
    ((cgroups_before)) || remove_podman_cgroups || :
    if ((!ok)); then
        tail -20 "$log" >&2
        rm -rf "$LAB_STORE"
        die "loading the image failed (full log: $log)"
    fi
    printf 'LAB_IMAGE_STAMP=%s\nLAB_PG_UID=%s\nLAB_PG_GID=%s\n' "$stamp" "${ids%%:*}" "${ids##*:}" \
        >"$LAB_STORE/pksplay-image.env"
    say "image $LAB_IMAGE loaded in $((SECONDS - start)) s (postgres uid ${ids%%:*} in the image)"
}

ensure_image() {
    mkdir -p "$LAB_CACHE"
    exec 8>"$LAB_CACHE/.lock"
    flock -w 600 8 || die "another lab is building the image (lock $LAB_CACHE/.lock)"
    local stamp
    stamp=$(image_stamp)
    if [[ -r $LAB_STORE/pksplay-image.env ]] && grep -qx "LAB_IMAGE_STAMP=$stamp" "$LAB_STORE/pksplay-image.env"; then
        say "image $LAB_IMAGE: cached in $LAB_STORE"
    else
        if [[ -e $LAB_STATE/lab.env ]]; then
            die "the image must be rebuilt but the lab is up and uses it; run make lab-down first"
        fi
        [[ -s $LAB_BASE_TAR ]] || build_base
        build_store "$stamp"
    fi
    exec 8>&-
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    need_root
    ensure_packages
    ensure_image
fi
