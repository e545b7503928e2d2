#!/bin/sh
# The raw floor for N hosts x M commands: one OpenSSH ControlMaster connection per host, then M
# `ssh -S socket host /bin/true` through it, hosts in parallel. What pksplay's SSH cases are measured
# against: the cost of the commands themselves over an already authenticated connection.
#
# Usage: bench/floor.sh HOSTS COMMANDS PORT KEY KNOWN_HOSTS SOCKET_DIR [warm]
#   Host i is 127.0.0.i. Without `warm`, each host's master is started, used and closed within
#   the run (connect + auth included, as pksplay pays them). With `warm`, the masters must already
#   run (bench/run.sh starts them with `floor.sh ... start`) and only the commands are timed.
#   `start` and `stop` as the last argument open or close the masters and run no command.
set -eu
hosts=$1 commands=$2 port=$3 key=$4 known_hosts=$5 sockets=$6 mode=${7:-cold}
# -F /dev/null: no user or system ssh_config may change what is measured. curve25519-sha256, the
# key exchange libssh2 (pksplay) negotiates, not OpenSSH's default sntrup761x25519, which costs
# more CPU: the floor must not be slowed by a choice pksplay does not make.
ssh_options="-F /dev/null -p $port -i $key -o IdentitiesOnly=yes -o BatchMode=yes -o KexAlgorithms=curve25519-sha256 -o UserKnownHostsFile=$known_hosts -o StrictHostKeyChecking=yes -o LogLevel=ERROR"

one_host() {
    address=127.0.0.$1
    socket=$sockets/floor-$1
    case $mode in
        cold | start)
            # shellcheck disable=SC2086
            ssh $ssh_options -o ControlMaster=yes -o ControlPath="$socket" -fN "root@$address" ;;
    esac
    case $mode in
        cold | warm)
            n=0
            while [ "$n" -lt "$commands" ]; do
                # shellcheck disable=SC2086
                ssh $ssh_options -S "$socket" "root@$address" /bin/true
                n=$((n + 1))
            done ;;
    esac
    case $mode in
        cold | stop)
            # shellcheck disable=SC2086
            ssh $ssh_options -S "$socket" -O exit "root@$address" 2>/dev/null || true ;;
    esac
}

i=1
pids=
while [ "$i" -le "$hosts" ]; do
    one_host "$i" &
    pids="$pids $!"
    i=$((i + 1))
done
failed=0
# Every host's status counts: a failed connection must fail the benchmark, not shorten it.
for pid in $pids; do wait "$pid" || failed=1; done
exit "$failed"
