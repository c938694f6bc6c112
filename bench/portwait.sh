#!/usr/bin/env bash
# Benchmarks portwait against the approaches it replaces: how soon each
# notices a new listener (listen() to exit), and the CPU each burns while
# waiting. Prints Markdown. Usage: bench/portwait.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-40}
cargo build --release -q -p portwait  # a no-op when up to date; never bench a stale binary
for tool in lsof python3; do
  command -v "$tool" >/dev/null || { echo "portwait.sh: needs $tool" >&2; exit 2; }
done

python3 - "$runs" "$PWD/target/release/portwait" <<'PY'
import random, resource, socket, statistics, subprocess, sys, time

runs, portwait = int(sys.argv[1]), sys.argv[2]

# The waiters: each exits 0 once something listens on 127.0.0.1:PORT, or
# gives up after LIMIT (portwait with -t, the loops under timeout(1)). With
# each, the period of its loop (roughly: a look plus its sleep), so that the
# listener can appear at a random point of it.
def shell_loop(script):
    return lambda port, limit: ["timeout", limit, "bash", "-c", script.format(port=port)]

waiters = {
    "portwait HOST:PORT (kernel lookup, 1-8 ms backoff)": (0.008, lambda port, limit: [
        portwait, "-t", limit, f"127.0.0.1:{port}"]),
    "portwait PORT (lookups of 127.0.0.1 and ::1, 1-8 ms backoff)": (0.008, lambda port, limit: [
        portwait, "-t", limit, str(port)]),
    "original: `lsof -t -i tcp:PORT` loop, sleep 0.1": (0.12, shell_loop(
        "until lsof -t -i tcp:{port} >/dev/null; do sleep 0.1; done")),
    "wait-for-it style: connect loop, sleep 1": (1.0, shell_loop(
        "until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 1; done")),
}

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def latency(period, argv, addr="127.0.0.1"):
    """Start the waiter, let it settle into its loop, listen (on addr) at a
    random point of its period, time its exit."""
    port = free_port()
    waiter = subprocess.Popen(argv(port, "30s"))
    time.sleep(0.15 + random.uniform(0, max(period, 0.1)))  # the bench, not a test
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((addr, port))
    server.listen()
    start = time.perf_counter()
    code = waiter.wait()  # a blocking wait4: no polling in the harness
    took = time.perf_counter() - start
    server.close()
    if code != 0:
        sys.exit(f"portwait.sh: waiter {argv(port, '30s')} exited {code}")
    return took * 1000

def cpu(argv, seconds=3.0):
    """CPU (user+sys, incl. reaped children) while waiting `seconds` for nothing."""
    port = free_port()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv(port, f"{seconds}s"), stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]

bare = "portwait PORT (lookups of 127.0.0.1 and ::1, 1-8 ms backoff)"
print("## portwait\n")
print(f"Detection latency: from the server's `listen()` returning to the waiter's exit, "
      f"{runs} runs each, listener on 127.0.0.1 (but for one row).\n")
print("| approach | median | p95 | max |")
print("|---|---:|---:|---:|")
medians = {}
for name, (period, argv) in waiters.items():
    times = [latency(period, argv) for _ in range(runs)]
    medians[name] = statistics.median(times)
    print(f"| {name} | {statistics.median(times):.1f} ms | {pct(times, 0.95):.1f} ms | {max(times):.1f} ms |",
          flush=True)
# A bare PORT's listener on an address that is neither loopback nor a
# wildcard is found by a walk of the listener table, made less often.
times = [latency(0.1, waiters[bare][1], "127.0.0.2") for _ in range(runs)]
print(f"| portwait PORT, listener on 127.0.0.2 (table walk every 50 ms) | {statistics.median(times):.1f} ms "
      f"| {pct(times, 0.95):.1f} ms | {max(times):.1f} ms |", flush=True)

print("\nCPU time used while waiting 3 s with nothing listening (user + sys, mean of 3):\n")
print("| approach | CPU time | share of one core |")
print("|---|---:|---:|")
shares = {}
for name, (_, argv) in waiters.items():
    used = statistics.mean(cpu(argv) for _ in range(3))
    shares[name] = used / 3 * 100
    print(f"| {name} | {used * 1000:.0f} ms | {shares[name]:.2f}% |", flush=True)

print("""
Method: `bench/portwait.sh` (Python harness). Each run picks a free port, starts the waiter, lets it
poll for 150 ms plus a random part of its loop's period (0.1 s for portwait and the lsof loop, 1 s for
the connect loop, so the listener appears at a random phase), then binds and listens and times until
the waiter exits (process start-up is not counted; exit and reaping are). The lsof loop is the
approach of Arvados' `run_test_server.py`; the connect loop is what wait-for-it does. A bare PORT
looks up 127.0.0.1 and ::1 each look (a listener there or on a wildcard) and walks the kernel's
listener table (every bucket of its hash) at the first looks, then every 50 ms (any other address,
e.g. 127.0.0.2: its row, the listener appearing at a random point of 0.1 s). CPU is
`getrusage(RUSAGE_CHILDREN)` around a 3 s wait (`portwait -t 3s`, the loops under `timeout 3s`),
start-up included. Goals (issue 14): detection median at most 5 ms, CPU at most 0.7% of a core.
""")
ours, theirs = "portwait HOST:PORT (kernel lookup, 1-8 ms backoff)", "original: `lsof -t -i tcp:PORT` loop, sleep 0.1"
print(f"Ratio portwait HOST:PORT ÷ original lsof loop: detection median "
      f"{medians[ours] / medians[theirs]:.3f}×, CPU while waiting {shares[ours] / shares[theirs]:.3f}× "
      f"({medians[ours]:.1f} ms, {shares[ours]:.2f}% of a core); bare PORT: "
      f"{medians[bare] / medians[theirs]:.3f}×, {shares[bare] / shares[theirs]:.3f}× "
      f"({medians[bare]:.1f} ms, {shares[bare]:.2f}% of a core)")
PY
