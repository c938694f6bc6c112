#!/usr/bin/env bash
# Benchmarks portfind against the bind-to-port-0 approach it replaces: time
# per call, and duplicate ports among parallel callers. Prints Markdown.
# Usage: bench/portfind.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-200}
cargo build --release -q -p portfind  # a no-op when up to date; never bench a stale binary
for tool in hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "portfind.sh: needs $tool" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$runs" "$PWD/target/release/portfind" "$work" <<'PY'
import json, os, statistics, subprocess, sys

runs, portfind, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]

# The approach portfind replaces (Arvados' find_available_port): bind port 0,
# read the port the kernel chose, close.
BIND0 = """import socket, sys
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1]); s.close()
"""

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]

def per_call(name, command):
    out = os.path.join(work, "hyperfine.json")
    subprocess.run(["hyperfine", "-N", "--style", "none", "--warmup", "5", "--runs", str(runs),
                    "--export-json", out, command], check=True, stdout=subprocess.DEVNULL)
    times = [t * 1000 for t in json.load(open(out))["results"][0]["times"]]
    print(f"| {name} | {statistics.median(times):.2f} ms | {pct(times, 0.95):.2f} ms |", flush=True)
    return statistics.median(times)

def duplicates(argv_for, rounds=5, callers=8):
    """Ports handed out more than once among `callers` parallel callers."""
    counts = []
    for r in range(rounds):
        leases = os.path.join(work, f"leases-{argv_for.__name__}-{r}")
        env = dict(os.environ, PORTFIND_LEASE_DIR=leases)
        procs = [subprocess.Popen(argv_for(), stdout=subprocess.PIPE, env=env, text=True,
                                  shell=isinstance(argv_for(), str))
                 for _ in range(callers)]
        ports = []
        for p in procs:
            out, _ = p.communicate(timeout=120)
            if p.returncode != 0:
                sys.exit(f"portfind.sh: {argv_for()} exited {p.returncode}")
            ports += out.split()
        counts.append((len(ports), len(ports) - len(set(ports))))
    total = counts[0][0]
    dups = [d for _, d in counts]
    return total, dups

print("## portfind\n")
print(f"Time per call (hyperfine, {runs} runs, wall clock including process start-up):\n")
print("| command | median | p95 |")
print("|---|---:|---:|")
ours = per_call("`portfind` (lease dir in a temp dir)", f"{portfind} --lease-dir {work}/timing")
per_call("`portfind -n 10`", f"{portfind} --lease-dir {work}/timing -n 10")
theirs = per_call("original: Python bind-0 `find_available_port()`", f"python3 -c '{BIND0}' 1")
per_call("`true` (process start-up alone, for scale)", "true")

def portfind_n50(): return [portfind, "-n", "50"]
def portfind_1x50(): return f"for i in $(seq 50); do {portfind}; done"
def bind0_x50(): return ["python3", "-c", BIND0, "50"]

print("\nDuplicates among 8 parallel callers asking 50 ports each (400 ports a round, 5 rounds,")
print("a fresh lease directory each round):\n")
print("| callers | ports a round | duplicates in each round |")
print("|---|---:|---|")
found = {}
for name, argv_for in [("8 × `portfind -n 50`", portfind_n50),
                       ("8 × 50 calls of `portfind`", portfind_1x50),
                       ("original: 8 × 50 bind-0 calls", bind0_x50)]:
    total, dups = duplicates(argv_for)
    found[argv_for] = sum(dups)
    print(f"| {name} | {total} | {', '.join(map(str, dups))} |", flush=True)

print("""
Method: `bench/portfind.sh`. portfind picks at random in its default range 20000-32767, checks that
each port binds on 0.0.0.0 and ::, and leases it (2 min) under an flock in the lease directory.
Bind-0 asks the kernel for an ephemeral port and closes it at once; the kernel hands the same ports
out again, so parallel callers collide. The Python time is mostly interpreter start-up: inside a
running interpreter, as in the original, a bind-0 costs microseconds. What portfind buys is the
absence of duplicates, and a command a shell script can call.""")
print(f"Load average when measured: {' '.join(open('/proc/loadavg').read().split()[:3])} on {os.cpu_count()} cores"
      " (a busy machine slows the millisecond process more, in proportion).\n")
print(f"Median per call: {ours:.2f} ms against {theirs:.2f} ms: portfind is **{theirs / ours:.0f}x** faster; "
      f"duplicates: {found[portfind_n50] + found[portfind_1x50]} in 4000 ports against bind-0's {found[bind0_x50]} in 2000.")
PY
