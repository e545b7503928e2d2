"""Turns bench/run.sh's measurements into the Markdown results file (printed on stdout).

Usage: report.py RESULTS_TSV RSS_TSV COMMANDS_TXT key=value...
RESULTS_TSV rows: key, mean, stddev, min, max (seconds), runs, load average; RSS_TSV rows: key, KiB;
COMMANDS_TXT rows: key, the command line that measured it. The key=value pairs describe the
machine and the run. A measurement that is missing (SKIP_BIG=1) shows as "-".
"""
import sys

results = {}
for line in open(sys.argv[1]):
    key, mean, stddev, low, high, runs, load = line.rstrip("\n").split("\t")
    results[key] = dict(mean=float(mean), stddev=float(stddev), min=float(low), max=float(high), runs=int(runs), load=load)
rss = {}
try:
    for line in open(sys.argv[2]):
        key, kib = line.split("\t")
        rss[key] = int(kib)
except FileNotFoundError:
    pass
commands = [line.rstrip("\n").split("\t", 1) for line in open(sys.argv[3])]
info = dict(arg.split("=", 1) for arg in sys.argv[4:])
tasks, small, big = int(info["tasks"]), int(info["small"]), int(info["big"])


def seconds(value):
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"


def timing(key):
    r = results.get(key)
    return "-" if r is None else f"{seconds(r['mean'])} ± {seconds(r['stddev'])}"


def mean(key):
    r = results.get(key)
    return None if r is None else r["mean"]


def per_task_host(key, hosts):
    m = mean(key)
    return "-" if m is None else f"{m / (tasks * hosts) * 1000:.2f} ms"


def best(key):
    r = results.get(key)
    return None if r is None else r["min"]


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def times(x):
    return "-" if x is None else f"{x:.1f}x"


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "**MISSED**")


out = []
w = out.append
w(f"# pksplay benchmark results, {info['started']}")
w("")
w(f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']}, Linux {info['kernel']}; "
  f"load average {info['load_before']} before, {info['load_after']} after (the cores are shared).")
w(f"pksplay {info['pksplay']}; {info['ansible']}; {info['openssh']}.")
w(f"sshd on loopback in a private mount namespace: {info['namespace']}.")
w("")
w("Times are hyperfine means ± standard deviation (wall clock). The floor is one OpenSSH ControlMaster")
w(f"connection per host (opened and closed inside the timed run) and {tasks} `ssh -S socket host /bin/true`")
w("through it, hosts in parallel (bench/floor.sh). Per task·host is the wall time divided by tasks × hosts.")
w("")
w("| case | pksplay | ansible-playbook | raw floor | pksplay per task·host | ansible per task·host | floor per task·host | pksplay ÷ floor | ansible ÷ pksplay |")
w("|---|---|---|---|---|---|---|---|---|")
rows = [
    ("startup: empty play, local", "pk_startup", "ap_startup", None, None),
    (f"{tasks} lineinfile, local, 1st run (all changed)", "pk_local_li_1", "ap_local_li_1", None, 1),
    (f"{tasks} lineinfile, local, 2nd run (none changed)", "pk_local_li_2", "ap_local_li_2", None, 1),
    (f"ssh (a): {tasks} × command on {small} hosts", "pk_ssh_true_2", "ap_ssh_true_2", "floor_true_2", small),
    (f"ssh (b): {tasks} × command on {big} hosts", "pk_ssh_true_50", "ap_ssh_true_50", "floor_true_50", big),
    (f"ssh (c): {tasks} lineinfile on {small} hosts, 1st run", "pk_ssh_li_1", "ap_ssh_li_1", "floor_true_2", small),
    (f"ssh (c): {tasks} lineinfile on {small} hosts, 2nd run", "pk_ssh_li_2", "ap_ssh_li_2", "floor_true_2", small),
]
delay = info.get("delay_ms", "1")
delay_rows = [
    (f"ssh (d): {tasks} × command on 1 host, {delay} ms each way", "pk_delay_true", "ap_delay_true", "floor_delay_true", 1),
    (f"ssh (d): {tasks} lineinfile on 1 host, {delay} ms each way, 1st run", "pk_delay_li_1", "ap_delay_li_1", "floor_delay_true", 1),
    (f"ssh (d): {tasks} lineinfile on 1 host, {delay} ms each way, 2nd run", "pk_delay_li_2", "ap_delay_li_2", "floor_delay_true", 1),
]
for name, pk, ap, floor, hosts in rows + delay_rows:
    w(f"| {name} | {timing(pk)} | {timing(ap)} | {timing(floor) if floor else '-'} | "
      f"{per_task_host(pk, hosts) if hosts else '-'} | {per_task_host(ap, hosts) if hosts else '-'} | "
      f"{per_task_host(floor, hosts) if floor else '-'} | {times(ratio(mean(pk), mean(floor))) if floor else '-'} | "
      f"{times(ratio(mean(ap), mean(pk)))} |")
w("")
w("The lineinfile floor is the command floor: the same number of round trips, each doing nothing.")
w(f"Case (d) runs through bench/delay-proxy.py, which holds every byte {delay} ms in each direction; its floor is")
w("bench/floor.sh through the same proxy. The targets below are for (a)-(c), on loopback.")
w(f"Warm floor (masters already open, only the commands timed): {small} hosts {timing('floorwarm_true_2')}, "
  f"{big} hosts {timing('floorwarm_true_50')}. One bare `ssh host /bin/true` (new connection): {timing('ssh_one')}.")
for hosts, full, one in [(small, "pk_ssh_true_2", "pk_ssh_true1_2"), (big, "pk_ssh_true_50", "pk_ssh_true1_50")]:
    t_full, t_one = mean(full), mean(one)
    if t_full is None or t_one is None:
        continue
    marginal = (t_full - t_one) / (tasks - 1)
    w(f"pksplay on {hosts} hosts, split: one task takes {seconds(t_one)} (start-up, connecting, one task); each further "
      f"task adds {seconds(marginal)} ({marginal / hosts * 1000:.2f} ms per task·host), so start-up and connecting cost about "
      f"{seconds(t_one - marginal)}.")
w("")

w("## Targets")
w("")
w("Verdicts are on the means; the best run (fastest of each side) is shown for what a quiet machine gives.")
w("")
w("| target | measured (mean) | verdict | best run |")
w("|---|---|---|---|")
startup = mean("pk_startup")
w(f"| startup under 30 ms | {seconds(startup)} | {verdict(None if startup is None else startup < 0.030)} | {seconds(best('pk_startup'))} |")
small_run = mean("pk_ssh_true_2")
w(f"| {tasks}×{small} over SSH in at most 0.3 s | {seconds(small_run)} | {verdict(None if small_run is None else small_run <= 0.3)} | "
  f"{seconds(best('pk_ssh_true_2'))} |")
for label, pk, floor in [(f"(a) {small} hosts", "pk_ssh_true_2", "floor_true_2"), (f"(b) {big} hosts", "pk_ssh_true_50", "floor_true_50"),
                         ("(c) 1st run", "pk_ssh_li_1", "floor_true_2"), ("(c) 2nd run", "pk_ssh_li_2", "floor_true_2")]:
    r = ratio(mean(pk), mean(floor))
    w(f"| per task·host within 2x of the floor, {label} | {times(r)} | {verdict(None if r is None else r <= 2)} | {times(ratio(best(pk), best(floor)))} |")
for name, pk, ap, _, _ in rows:
    r = ratio(mean(ap), mean(pk))
    w(f"| at least 50x faster than ansible-playbook, {name} | {times(r)} | {verdict(None if r is None else r >= 50)} | {times(ratio(best(ap), best(pk)))} |")
for label, key in [("empty play, local", "pk_startup"), (f"(a) {small} hosts", "pk_ssh_true_2"), (f"(b) {big} hosts", "pk_ssh_true_50")]:
    kib = rss.get(key)
    w(f"| peak RSS under 30 MiB, {label} | {'-' if kib is None else f'{kib / 1024:.1f} MiB'} (max of 3) | "
      f"{verdict(None if kib is None else kib < 30 * 1024)} | - |")
w("")

w("## Every measurement")
w("")
w("| key | mean | ± | min | max | runs | load average before |")
w("|---|---|---|---|---|---|---|")
for key, r in results.items():
    w(f"| {key} | {seconds(r['mean'])} | {seconds(r['stddev'])} | {seconds(r['min'])} | {seconds(r['max'])} | {r['runs']} | {r['load']} |")
for key, kib in rss.items():
    w(f"| {key} peak RSS (max of 3, /usr/bin/time -v) | {kib / 1024:.1f} MiB | | | | 3 | |")
w("")
w("## Commands")
w("")
w("`$WORK` is the run's temp dir (playbooks, inventories, ansible.cfg, keys, known_hosts; see bench/run.sh).")
w("")
w("```")
for key, command in commands:
    w(f"{key}: {command}")
w("```")
print("\n".join(out))
