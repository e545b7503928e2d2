#!/bin/bash
# INIT of one lab host. lab/up.sh starts it as
#   nsenter --net=/run/netns/HOST unshare --mount --uts --pid --fork --mount-proc \
#       --propagation private host-init.sh HOST HOSTDIR
# so it runs as pid 1 of the host's own pid namespace, in the host's network namespace and in a
# private mount namespace. It gives the host its own name and folders, then becomes its sshd.
# Everything started over ssh (containers included) lives in these namespaces and ends with them.
set -euo pipefail
host=$1 dir=$2

hostname "$host"

# Copies of the other hosts' /run/netns entries would keep their network namespaces alive.
while read -r _ mnt _; do
    case $mnt in /run/netns/*) umount -n -l "$mnt" 2>/dev/null || : ;; esac
done </proc/self/mounts
umount -n -l /run/netns 2>/dev/null || :

# A /run of its own: sshd, podman's runtime state, utmp and /run/postgresql.
mount -n -t tmpfs -o mode=0755,nosuid,nodev,size=256m "run-$host" /run
install -d -m 0755 /run/sshd /run/lock
install -d -m 2775 /run/postgresql
if getent passwd postgres >/dev/null; then chown postgres:postgres /run/postgresql; fi

for pair in srv:/srv root:/root var-lib-postgresql:/var/lib/postgresql tmp:/tmp log:/var/log \
    bin:/usr/local/bin etc/containers:/etc/containers etc/hosts:/etc/hosts etc/hostname:/etc/hostname; do
    mount -n --bind "$dir/${pair%%:*}" "${pair#*:}"
done

# No systemd runs the containers' healthcheck timers on a lab host: this loop does, every 10 s
# (the interval of pks-db's healthcheck), so "docker ps" and "docker inspect" show live health.
(
    exec </dev/null >/dev/null 2>&1
    while sleep 10; do
        podman --log-level=fatal ps --format '{{.Names}} {{.Status}}' |
            awk '/\((starting|healthy|unhealthy)\)$/ { print $1 }' |
            while read -r name; do podman --log-level=fatal healthcheck run "$name" || :; done
    done
) &

echo "$host: namespaces ready, starting sshd"
exec /usr/sbin/sshd -D -e -f "$dir/ssh/sshd_config"
