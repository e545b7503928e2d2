#!/usr/bin/env bash
# pksplay's speed, measured side by side with ansible-playbook (ansible-core 2.19) and a raw OpenSSH
# floor in one run: startup, 50 lineinfile locally, and over SSH against a throwaway sshd on
# loopback 50 commands on 2 and on 50 hosts and 50 lineinfile on 2 hosts, both on 1 host behind a
# proxy that delays every byte (bench/delay-proxy.py); pksplay's peak RSS.
#
# Writes bench/results/<timestamp>.md (copied to bench/results/latest.md) and prints its table.
# Not part of CI: `make bench`. Needs root (sshd, a private mount namespace) on Debian; installs
# what it lacks: Debian packages through apt-get, ansible-core in a venv under $BENCH_CACHE
# (default /var/cache/pksplay-bench), never in the repository. It checks that every run did what
# it should (changed counts from each tool's recap), never how fast: targets are reported, not
# enforced. Everything it starts (sshd and its sessions, ControlMaster processes) and its temp
# dir are removed on exit, Ctrl-C included.
#
# Environment: PKSPLAY (a built binary; default: build and use .build/release/pksplay), RUNS
# (hyperfine runs of pksplay and the floor, 20), SLOW_RUNS (of ansible-playbook, 3), BIG_SLOW_RUNS
# (of ansible-playbook on 50 hosts, 2), BENCH_CACHE, SWIFT (/opt/swift/usr/bin/swift),
# SKIP_BIG=1 (leave out the 50-host case, which takes ansible-playbook minutes), SKIP_DELAY=1 (leave
# out the case over a slower link), DELAY_MS (that link's delay each way, 1).
# ORDER=FILE (`make order`): time nothing; run each checked pksplay case once under valgrind's
# callgrind and write the functions they executed to FILE, the release build's symbol order.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

RUNS=${RUNS:-20}
SLOW_RUNS=${SLOW_RUNS:-3}
BIG_SLOW_RUNS=${BIG_SLOW_RUNS:-2}
BENCH_CACHE=${BENCH_CACHE:-/var/cache/pksplay-bench}
SWIFT=${SWIFT:-/opt/swift/usr/bin/swift}
SKIP_BIG=${SKIP_BIG:-0}
SKIP_DELAY=${SKIP_DELAY:-0}
DELAY_MS=${DELAY_MS:-1}
ORDER=${ORDER:-}
TASKS=50
SMALL=2
BIG=50

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: the SSH cases start an sshd that logs in as root in a private mount namespace"

# --- what the benchmark needs ------------------------------------------------------------------
debs="hyperfine time openssh-server openssh-client python3 python3-venv util-linux procps"
[ -n "$ORDER" ] && debs="$debs valgrind binutils"
missing=""
for p in $debs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    say "installing:$missing"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

venv=$BENCH_CACHE/ansible-venv
if [ -z "$ORDER" ] && ! "$venv/bin/ansible-playbook" --version 2>/dev/null | grep -q 'core 2\.19\.'; then
    say "installing ansible-core 2.19 into $venv"
    mkdir -p "$BENCH_CACHE"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'ansible-core>=2.19,<2.20'
fi
ansible_version=$("$venv/bin/ansible-playbook" --version 2>/dev/null | head -1 || true)

if [ -z "${PKSPLAY:-}" ]; then
    say "building pksplay (release)"
    make -s -C "$repo" release SWIFT="$SWIFT" >&2
    PKSPLAY=$("$SWIFT" build -c release --static-swift-stdlib --show-bin-path)/pksplay
fi
[ -x "$PKSPLAY" ] || die "no pksplay binary at $PKSPLAY"
pksplay_version=$("$PKSPLAY" --version 2>/dev/null || echo unknown)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$repo" status --porcelain -- Sources Package.swift 2>/dev/null)" ] || commit="$commit (Sources modified)"

# --- scratch space and cleanup -----------------------------------------------------------------
work=$(mktemp -d /tmp/pksplay-bench.XXXXXX)
sshd_pid=""
proxy_pid=""

# PIDs of every live process below $1, from ps.
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2; pids[NR] = $1 }
        END {
            found[root] = 1
            do {
                grew = 0
                for (i in pids) { p = pids[i]; if (!(p in found) && (parent[p] in found)) { found[p] = 1; grew = 1; print p } }
            } while (grew)
        }'
}

cleanup() {
    set +e
    # ControlMaster processes (ansible's and the floor's) left their parents; close them by socket.
    for socket in "$work"/cp/*; do
        [ -S "$socket" ] && ssh -F /dev/null -S "$socket" -O exit bench-host >/dev/null 2>&1
    done
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
    if [ -n "$sshd_pid" ]; then
        # sshd and every session under it: killing the listener alone would leave sessions behind.
        # shellcheck disable=SC2046
        kill -KILL $(descendants "$sshd_pid") "$sshd_pid" 2>/dev/null
        wait "$sshd_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/cp" "$work/state" "$work/files" "$work/json" "$work/ansible-local" "$work/ansible-remote"
export ANSIBLE_CONFIG=$work/ansible.cfg
cat >"$ANSIBLE_CONFIG" <<EOF
[defaults]
forks = $BIG
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
deprecation_warnings = False
local_tmp = $work/ansible-local
remote_tmp = $work/ansible-remote
[ssh_connection]
ssh_args = -F /dev/null -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes
pipelining = True
control_path_dir = $work/cp
EOF

# pksplay writes its journals to a scratch state dir (on the same filesystem as ~/.local/state).
pk_cmd="$PKSPLAY run --state-dir $work/state"
if [ -n "$ORDER" ]; then
    # valgrind 3.19 cannot read the DWARF 5 that swiftc writes: a copy without it, symbols kept.
    mkdir -p "$work/callgrind"
    strip --strip-debug -o "$work/pksplay" "$PKSPLAY"
    pk_cmd="valgrind --tool=callgrind --demangle=no --callgrind-out-file=$work/callgrind/%p.out --log-file=$work/callgrind/%p.log $work/pksplay run --state-dir $work/state"
fi
ap_cmd="$venv/bin/ansible-playbook"
floor_cmd="$repo/bench/floor.sh"

# --- playbooks and inventories -----------------------------------------------------------------
printf -- '- hosts: localhost\n  gather_facts: false\n  tasks: []\n' >"$work/empty.yml"
printf 'localhost ansible_connection=local\n' >"$work/local.ini"
{
    printf -- '- hosts: all\n  gather_facts: false\n  tasks:\n'
    for i in $(seq 1 $TASKS); do
        printf '    - name: line %d\n      lineinfile:\n        path: "{{ bench_prefix }}-{{ inventory_hostname }}.txt"\n        line: "benchmark line %d"\n        create: true\n' "$i" "$i"
    done
} >"$work/lineinfile.yml"
{
    printf -- '- hosts: all\n  gather_facts: false\n  tasks:\n'
    for i in $(seq 1 $TASKS); do printf '    - name: true %d\n      command: /bin/true\n' "$i"; done
} >"$work/true.yml"
# One task: start-up plus connection, to split a run's time into fixed and per-task parts.
printf -- '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: true 1\n      command: /bin/true\n' >"$work/true1.yml"

# --- measuring and checking --------------------------------------------------------------------
: >"$work/results.tsv"  # key, mean, stddev, min, max (seconds), runs, 1-minute load average before
: >"$work/commands.txt" # every timed command line, $work shown as $WORK
# measure KEY RUNS WARMUP COMMAND [hyperfine options...]: one hyperfine benchmark, kept as KEY.
measure() {
    [ -n "$ORDER" ] && return
    local key=$1 runs=$2 warmup=$3 command=$4 load
    shift 4
    say "$key"
    load=$(cut -d' ' -f1 /proc/loadavg)
    hyperfine --style basic --runs "$runs" --warmup "$warmup" --export-json "$work/json/$key.json" "$@" "$command" >&2
    local logged="hyperfine --runs $runs --warmup $warmup" arg
    for arg in "$@" "$command"; do
        # Shown as a shell would take it: quoted when it has a space or a quote, a quote inside as '\''.
        case $arg in *" "* | *"'"*) logged="$logged '${arg//\'/\'\\\'\'}'" ;; *) logged="$logged $arg" ;; esac
    done
    printf '%s\t%s\n' "$key" "$logged" | sed "s|$work|\$WORK|g" >>"$work/commands.txt"
    python3 - "$key" "$work/json/$key.json" "$load" >>"$work/results.tsv" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))["results"][0]
print("\t".join([sys.argv[1], "%.6f" % r["mean"], "%.6f" % (r["stddev"] or 0), "%.6f" % r["min"], "%.6f" % r["max"], str(len(r["times"])), sys.argv[3]]))
EOF
}

# check_pk OUTPUT HOSTS OK CHANGED: a pksplay --format json run's recap has HOSTS hosts, each with
# these counts and nothing failed or unreachable.
check_pk() {
    python3 - "$@" <<'EOF'
import json, sys
path, hosts, ok, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
recap = None
for line in open(path):
    event = json.loads(line)
    if event.get("event") == "recap":
        recap = event["hosts"]
if recap is None:
    sys.exit(f"pksplay: no recap event in {path}")
bad = {h: c for h, c in recap.items() if (c["ok"], c["changed"], c["failed"], c["unreachable"]) != (ok, changed, 0, 0)}
if len(recap) != hosts or bad:
    sys.exit(f"pksplay: expected {hosts} hosts with ok={ok} changed={changed}, got {recap}")
EOF
}
# check_ap OUTPUT HOSTS OK CHANGED: the same for ansible-playbook's PLAY RECAP.
check_ap() {
    python3 - "$@" <<'EOF'
import re, sys
path, hosts, ok, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
text = open(path).read()
if "PLAY RECAP" not in text:
    sys.exit(f"ansible-playbook: no PLAY RECAP in its output:\n{text[-2000:]}")
recap = text.split("PLAY RECAP")[-1]
rows = re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", recap, re.M)
bad = [r for r in rows if tuple(map(int, r[1:])) != (ok, changed, 0, 0)]
if len(rows) != hosts or bad:
    sys.exit(f"ansible-playbook: expected {hosts} hosts with ok={ok} changed={changed}, got:\n{recap or text[-2000:]}")
EOF
}
# verify TOOL HOSTS OK CHANGED ARGS...: runs pksplay (pk) or ansible-playbook (ap) once with ARGS
# and checks its recap.
verify() {
    local tool=$1 hosts=$2 ok=$3 changed=$4
    shift 4
    [ -n "$ORDER" ] && [ "$tool" = ap ] && return
    if [ "$tool" = pk ]; then
        $pk_cmd "$@" --format json >"$work/out.txt" || true
        check_pk "$work/out.txt" "$hosts" "$ok" "$changed" || die "pksplay run $* did not do what it should"
    else
        $ap_cmd "$@" >"$work/out.txt" 2>&1 || true
        check_ap "$work/out.txt" "$hosts" "$ok" "$changed" || die "ansible-playbook $* did not do what it should"
    fi
}
# peak_rss KEY COMMAND...: the largest "Maximum resident set size" of 3 runs, in KiB, kept as KEY.
peak_rss() {
    [ -n "$ORDER" ] && return
    local key=$1 max=0 kib
    shift
    for _ in 1 2 3; do
        /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt" || die "$* failed: $(tail -5 "$work/time.txt")"
        kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
        [ "$kib" -gt "$max" ] && max=$kib
    done
    printf '%s\t%s\n' "$key" "$max" >>"$work/rss.tsv"
    printf '%s\t/usr/bin/time -v %s\n' "$key" "$*" | sed "s|$work|\$WORK|g" >>"$work/commands.txt"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- 1. startup ----------------------------------------------------------------------------------
say "1. startup: an empty play on localhost"
export ANSIBLE_PYTHON_INTERPRETER=$venv/bin/python
verify pk 0 0 0 "$work/empty.yml" -i "$work/local.ini" -c local
verify ap 0 0 0 "$work/empty.yml" -i "$work/local.ini" -c local
measure pk_startup "$RUNS" 3 "$pk_cmd $work/empty.yml -i $work/local.ini -c local" -N
measure ap_startup "$RUNS" 3 "$ap_cmd $work/empty.yml -i $work/local.ini -c local" -N
peak_rss pk_startup $pk_cmd "$work/empty.yml" -i "$work/local.ini" -c local

# --- 2. 50 lineinfile on one local file -------------------------------------------------------------
say "2. $TASKS lineinfile on one local file"
li_local() { echo "$1 $work/lineinfile.yml -i $work/local.ini -c local -e bench_prefix=$work/files/$2"; }
rm -f "$work"/files/*
verify pk 1 $TASKS $TASKS "$work/lineinfile.yml" -i "$work/local.ini" -c local -e "bench_prefix=$work/files/pk-local"
verify pk 1 $TASKS 0 "$work/lineinfile.yml" -i "$work/local.ini" -c local -e "bench_prefix=$work/files/pk-local"
verify ap 1 $TASKS $TASKS "$work/lineinfile.yml" -i "$work/local.ini" -c local -e "bench_prefix=$work/files/ap-local"
verify ap 1 $TASKS 0 "$work/lineinfile.yml" -i "$work/local.ini" -c local -e "bench_prefix=$work/files/ap-local"
[ -n "$ORDER" ] || cmp "$work/files/pk-local-localhost.txt" "$work/files/ap-local-localhost.txt" >&2 ||
    die "pksplay and ansible-playbook wrote different files"
# Second runs first: the checks above left both files complete.
measure pk_local_li_2 "$RUNS" 2 "$(li_local "$pk_cmd" pk-local)"
measure ap_local_li_2 "$SLOW_RUNS" 1 "$(li_local "$ap_cmd" ap-local)"
measure pk_local_li_1 "$RUNS" 2 "$(li_local "$pk_cmd" pk-local)" --prepare "rm -f $work/files/pk-local-localhost.txt"
measure ap_local_li_1 "$SLOW_RUNS" 1 "$(li_local "$ap_cmd" ap-local)" --prepare "rm -f $work/files/ap-local-localhost.txt"
unset ANSIBLE_PYTHON_INTERPRETER

# --- 3. SSH against a throwaway sshd on loopback ------------------------------------------------
say "3. SSH: starting sshd on loopback"
mkdir -p "$work/ssh" "$work/home/.ssh" /run/sshd
chmod 700 "$work/home" "$work/home/.ssh"
ssh-keygen -q -t ed25519 -N '' -C pksplay-bench-host -f "$work/ssh/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C pksplay-bench-client -f "$work/ssh/client_ed25519"
cp "$work/ssh/client_ed25519.pub" "$work/home/.ssh/authorized_keys"
namespace=yes
unshare --mount --propagation private /bin/true 2>/dev/null || namespace=no
for attempt in 1 2 3 4 5; do
    # A free port can be taken before sshd binds it: retry with another.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 0.0.0.0
AllowUsers root@127.0.0.0/8
HostKey $work/ssh/host_ed25519
PidFile none
UsePAM no
UseDNS no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $work/home/.ssh/authorized_keys
MaxSessions 100
MaxStartups 200
Subsystem sftp internal-sftp
LogLevel INFO
EOF
    /usr/sbin/sshd -t -f "$work/sshd_config"
    : >"$work/sshd.log"
    if [ $namespace = yes ]; then
        # An empty /root (only .ssh) for sshd and its sessions: root's own ~/.bashrc costs ~0.35 s
        # per command on this machine and would be measured instead of the tools.
        unshare --mount --propagation private /bin/sh -c 'mount --bind "$1" /root && exec /usr/sbin/sshd -D -e -f "$2"' \
            sh "$work/home" "$work/sshd_config" </dev/null 2>"$work/sshd.log" &
    else
        say "warning: no private mount namespace (unshare): root's own shell start-up files run on every command"
        /usr/sbin/sshd -D -e -f "$work/sshd_config" </dev/null 2>"$work/sshd.log" &
    fi
    sshd_pid=$!
    for _ in $(seq 1 500); do
        grep -q "Server listening on 0.0.0.0 port $port\." "$work/sshd.log" && break
        kill -0 "$sshd_pid" 2>/dev/null || break
        sleep 0.02
    done
    grep -q "Server listening on 0.0.0.0 port $port\." "$work/sshd.log" && break
    kill -KILL "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
    sshd_pid=""
    [ "$attempt" = 5 ] && die "sshd did not start: $(cat "$work/sshd.log")"
done
host_key=$(cut -d' ' -f1,2 "$work/ssh/host_ed25519.pub")
for i in $(seq 1 $BIG); do printf '[127.0.0.%d]:%d %s\n' "$i" "$port" "$host_key"; done >"$work/known_hosts"
for n in $SMALL $BIG; do
    {
        printf '[bench]\n'
        for i in $(seq 1 "$n"); do printf 'h%d ansible_host=127.0.0.%d\n' "$i" "$i"; done
        printf '[bench:vars]\nansible_port=%d\nansible_user=root\nansible_ssh_private_key_file=%s\n' "$port" "$work/ssh/client_ed25519"
        printf 'ansible_ssh_known_hosts_file=%s\nansible_python_interpreter=/usr/bin/python3\n' "$work/known_hosts"
    } >"$work/ssh$n.ini"
done
floor() { [ -n "$ORDER" ] && echo true || echo "$floor_cmd $1 $TASKS $port $work/ssh/client_ed25519 $work/known_hosts $work/cp $2"; }
# One command over plain ssh, to show what a bare round trip costs on this sshd.
measure ssh_one "$RUNS" 2 "ssh -F /dev/null -p $port -i $work/ssh/client_ed25519 -o BatchMode=yes -o KexAlgorithms=curve25519-sha256 -o UserKnownHostsFile=$work/known_hosts root@127.0.0.1 /bin/true"

# (a) 50 x command on 2 hosts
say "3a. $TASKS x command: /bin/true on $SMALL hosts"
true_small="$work/true.yml -i $work/ssh$SMALL.ini -f $BIG"
verify pk $SMALL $TASKS $TASKS $true_small
verify ap $SMALL $TASKS $TASKS $true_small
measure pk_ssh_true_2 "$RUNS" 2 "$pk_cmd $true_small"
measure ap_ssh_true_2 "$SLOW_RUNS" 1 "$ap_cmd $true_small"
measure pk_ssh_true1_2 "$RUNS" 2 "$pk_cmd $work/true1.yml -i $work/ssh$SMALL.ini -f $BIG"
measure floor_true_2 "$RUNS" 2 "$(floor $SMALL cold)"
$(floor $SMALL start)
measure floorwarm_true_2 "$RUNS" 2 "$(floor $SMALL warm)"
$(floor $SMALL stop)
peak_rss pk_ssh_true_2 $pk_cmd $true_small

# (c) 50 x lineinfile on 2 hosts (each host its own file: both are this machine)
say "3c. $TASKS lineinfile on $SMALL hosts"
li_ssh() { echo "$1 $work/lineinfile.yml -i $work/ssh$SMALL.ini -f $BIG -e bench_prefix=$work/files/$2"; }
verify pk $SMALL $TASKS $TASKS $(li_ssh "" pk-ssh)
verify pk $SMALL $TASKS 0 $(li_ssh "" pk-ssh)
verify ap $SMALL $TASKS $TASKS $(li_ssh "" ap-ssh)
verify ap $SMALL $TASKS 0 $(li_ssh "" ap-ssh)
for i in $(seq 1 $SMALL); do
    [ -n "$ORDER" ] && break
    cmp "$work/files/pk-ssh-h$i.txt" "$work/files/ap-ssh-h$i.txt" >&2 || die "pksplay and ansible-playbook wrote different files"
done
measure pk_ssh_li_2 "$RUNS" 2 "$(li_ssh "$pk_cmd" pk-ssh)"
measure ap_ssh_li_2 "$SLOW_RUNS" 1 "$(li_ssh "$ap_cmd" ap-ssh)"
measure pk_ssh_li_1 "$RUNS" 2 "$(li_ssh "$pk_cmd" pk-ssh)" --prepare "rm -f $work/files/pk-ssh-h1.txt $work/files/pk-ssh-h2.txt"
measure ap_ssh_li_1 "$SLOW_RUNS" 1 "$(li_ssh "$ap_cmd" ap-ssh)" --prepare "rm -f $work/files/ap-ssh-h1.txt $work/files/ap-ssh-h2.txt"

# (d) 1 host over a slower link: bench/delay-proxy.py holds every byte DELAY_MS in each direction (a
# round trip 2 x DELAY_MS longer than loopback's, as a LAN or a nearby data centre has). What loopback
# cannot show: how many round trips each tool waits for.
if [ "$SKIP_DELAY" != 1 ] && [ -z "$ORDER" ]; then
    say "3d. over a link with ${DELAY_MS} ms each way: $TASKS x command and $TASKS lineinfile on 1 host"
    delay_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 "$repo/bench/delay-proxy.py" "$delay_port" "$port" "$DELAY_MS" </dev/null 2>"$work/proxy.log" &
    proxy_pid=$!
    python3 - "$delay_port" <<'EOF' || die "the delay proxy did not start: $(cat "$work/proxy.log")"
import socket, sys, time
for _ in range(250):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
EOF
    printf '[127.0.0.1]:%d %s\n' "$delay_port" "$host_key" >>"$work/known_hosts"
    {
        printf '[bench]\nh1 ansible_host=127.0.0.1\n'
        printf '[bench:vars]\nansible_port=%d\nansible_user=root\nansible_ssh_private_key_file=%s\n' "$delay_port" "$work/ssh/client_ed25519"
        printf 'ansible_ssh_known_hosts_file=%s\nansible_python_interpreter=/usr/bin/python3\n' "$work/known_hosts"
    } >"$work/delay.ini"
    true_delay="$work/true.yml -i $work/delay.ini"
    verify pk 1 $TASKS $TASKS $true_delay
    verify ap 1 $TASKS $TASKS $true_delay
    measure pk_delay_true "$RUNS" 1 "$pk_cmd $true_delay"
    measure ap_delay_true "$SLOW_RUNS" 0 "$ap_cmd $true_delay"
    measure floor_delay_true "$RUNS" 1 "$floor_cmd 1 $TASKS $delay_port $work/ssh/client_ed25519 $work/known_hosts $work/cp cold"
    li_delay() { echo "$1 $work/lineinfile.yml -i $work/delay.ini -e bench_prefix=$work/files/$2"; }
    verify pk 1 $TASKS $TASKS $(li_delay "" pk-delay)
    verify pk 1 $TASKS 0 $(li_delay "" pk-delay)
    verify ap 1 $TASKS $TASKS $(li_delay "" ap-delay)
    verify ap 1 $TASKS 0 $(li_delay "" ap-delay)
    cmp "$work/files/pk-delay-h1.txt" "$work/files/ap-delay-h1.txt" >&2 || die "pksplay and ansible-playbook wrote different files"
    measure pk_delay_li_2 "$RUNS" 1 "$(li_delay "$pk_cmd" pk-delay)"
    measure ap_delay_li_2 "$SLOW_RUNS" 0 "$(li_delay "$ap_cmd" ap-delay)"
    measure pk_delay_li_1 "$RUNS" 1 "$(li_delay "$pk_cmd" pk-delay)" --prepare "rm -f $work/files/pk-delay-h1.txt"
    measure ap_delay_li_1 "$SLOW_RUNS" 0 "$(li_delay "$ap_cmd" ap-delay)" --prepare "rm -f $work/files/ap-delay-h1.txt"
    # Ansible's ControlPersist master goes through the proxy: close it before the proxy goes.
    for socket in "$work"/cp/*; do
        [ -S "$socket" ] && ssh -F /dev/null -S "$socket" -O exit bench-host >/dev/null 2>&1 || true
    done
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
fi

# (b) 50 x command on 50 hosts, last: Ansible with 50 forks loads 2 cores to 20-50 and the load
# lingers for minutes, which would weigh on whatever came next.
if [ "$SKIP_BIG" != 1 ]; then
    say "3b. $TASKS x command: /bin/true on $BIG hosts"
    true_big="$work/true.yml -i $work/ssh$BIG.ini -f $BIG"
    verify pk $BIG $TASKS $TASKS $true_big
    verify ap $BIG $TASKS $TASKS $true_big
    # The check run just before left ansible's ControlPersist masters up: no warm-up needed.
    measure ap_ssh_true_50 "$BIG_SLOW_RUNS" 0 "$ap_cmd $true_big"
    measure pk_ssh_true_50 "$RUNS" 2 "$pk_cmd $true_big"
    measure pk_ssh_true1_50 "$RUNS" 2 "$pk_cmd $work/true1.yml -i $work/ssh$BIG.ini -f $BIG"
    measure floor_true_50 "$RUNS" 2 "$(floor $BIG cold)"
    $(floor $BIG start)
    measure floorwarm_true_50 "$RUNS" 2 "$(floor $BIG warm)"
    $(floor $BIG stop)
    peak_rss pk_ssh_true_50 $pk_cmd $true_big
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "$ORDER" ]; then
    # Every function of pksplay's own image that any run executed, once each, sorted: a list that
    # changes only where the code does. callgrind marks a recursive activation NAME'2.
    for out in "$work"/callgrind/*.out; do
        callgrind_annotate --threshold=100 "$out"
    done | sed -nE "s|^ *[0-9,]+ +\([ 0-9.]+%\) +[^ ]*:([^ ]+) \[$work/pksplay\]\$|\1|p" | sed -E "s/'[0-9]+\$//" | grep -v '^0x' |
        LC_ALL=C sort -u >"$work/order"
    [ "$(wc -l <"$work/order")" -gt 1000 ] || die "callgrind recorded only $(wc -l <"$work/order") functions"
    mv "$work/order" "$ORDER"
    say "$(wc -l <"$ORDER") functions written to $ORDER"
    exit 0
fi

# --- report ----------------------------------------------------------------------------------------
mkdir -p "$repo/bench/results"
stamp=$(date -u +%Y%m%d-%H%M%S)
report=$repo/bench/results/$stamp.md
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
python3 "$repo/bench/report.py" "$work/results.tsv" "$work/rss.tsv" "$work/commands.txt" \
    "started=$started" "nproc=$(nproc)" "cpu=$cpu" "memory=$memory" "kernel=$(uname -r)" \
    "load_before=$load_before" "load_after=$load_after" "pksplay=$pksplay_version ($commit)" \
    "ansible=$ansible_version" "openssh=$(ssh -V 2>&1)" "namespace=$namespace" "tasks=$TASKS" \
    "small=$SMALL" "big=$BIG" "delay_ms=$DELAY_MS" >"$report"
cp "$report" "$repo/bench/results/latest.md"
cat "$report"
say "written to $report"
