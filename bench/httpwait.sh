#!/usr/bin/env bash
# Benchmarks httpwait against the approaches it replaces: how soon each
# notices an HTTP server that starts answering (listen() to exit), and the
# CPU each burns while waiting (nobody listening; a server answering 503).
# Prints Markdown. Usage: bench/httpwait.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
cargo build --release -q -p httpwait -p db-reset  # a no-op when up to date; never bench a stale binary
for tool in curl python3 timeout; do
  command -v "$tool" >/dev/null || { echo "httpwait.sh: needs $tool" >&2; exit 2; }
done

python3 - "$runs" "$PWD/target/release/httpwait" "$PWD/target/release/db-reset" <<'PY'
import os, random, resource, socket, statistics, subprocess, sys, threading, time

runs, httpwait, db_reset = int(sys.argv[1]), sys.argv[2], sys.argv[3]

# The waiters: each exits 0 once http://127.0.0.1:PORT/ready answers 200, or
# gives up after LIMIT. With each, the period of its loop, so that the server
# can appear at a random point of it.
def curl_loop(pause):
    script = ("until curl -fs -o /dev/null --max-time 5 http://127.0.0.1:{port}/ready; "
              f"do sleep {pause}; done")
    return lambda port, limit: ["timeout", limit, "bash", "-c", script.format(port=port)]

waiters = {
    "httpwait (refused: kernel socket table, 1-5 ms backoff)": (0.005, lambda port, limit: [
        httpwait, "-t", limit, f"http://127.0.0.1:{port}/ready"]),
    "curl retry loop, sleep 0.1": (0.1, curl_loop("0.1")),
    "wait-for-it style: curl every 1 s": (1.0, curl_loop("1")),
}

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def serve(server, status):
    """Answers every request on `server` with `status`, until it is closed."""
    def one(conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            reason = b"OK" if status == 200 else b"Service Unavailable"
            conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
                         % (status, reason))
    def loop():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()

def listen(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    return server

def latency(period, argv):
    """Start the waiter, let it settle into its loop, start answering at a
    random point of its period, time its exit."""
    port = free_port()
    waiter = subprocess.Popen(argv(port, "30s"))
    time.sleep(0.15 + random.uniform(0, period))  # the bench, not a test
    server = listen(port)
    start = time.perf_counter()
    serve(server, 200)
    code = waiter.wait()  # a blocking wait4: no polling in the harness
    took = time.perf_counter() - start
    server.close()
    if code != 0:
        sys.exit(f"httpwait.sh: waiter {argv(port, '30s')} exited {code}")
    return took * 1000

def cpu(argv, status=None, seconds=2.0):
    """CPU (user+sys, incl. reaped children) while waiting `seconds` in vain:
    nobody listening, or a server answering `status`."""
    port = free_port()
    server = None
    if status is not None:
        server = listen(port)
        serve(server, status)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv(port, f"{seconds}s"), stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if server:
        server.close()
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]

print("## httpwait\n")
print(f"Detection latency: from the server's `listen()` returning (it answers 200 from then on) to "
      f"the waiter's exit, {runs} runs each, server on 127.0.0.1.\n")
print("| approach | median | p95 | max |")
print("|---|---:|---:|---:|")
medians = {}
for name, (period, argv) in waiters.items():
    times = [latency(period, argv) for _ in range(runs)]
    medians[name] = statistics.median(times)
    print(f"| {name} | {medians[name]:.1f} ms | {pct(times, 0.95):.1f} ms | {max(times):.1f} ms |",
          flush=True)

print("\nCPU time used while waiting 2 s in vain (user + sys, mean of 3):\n")
print("| approach | nobody listening | share of one core | server answering 503 | share of one core |")
print("|---|---:|---:|---:|---:|")
for name, (_, argv) in waiters.items():
    refused = statistics.mean(cpu(argv) for _ in range(3))
    busy = statistics.mean(cpu(argv, 503) for _ in range(3))
    print(f"| {name} | {refused * 1000:.0f} ms | {refused / 2 * 100:.2f}% "
          f"| {busy * 1000:.0f} ms | {busy / 2 * 100:.2f}% |", flush=True)

sizes = {os.path.basename(p): os.path.getsize(p) for p in (httpwait, db_reset)}
print("\nRelease binaries (`cargo build --release`, stripped): "
      + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sizes.items()) + ".")

print(f"""
Method: `bench/httpwait.sh` (Python harness). Each run picks a free port, starts the waiter, lets it
try for 150 ms plus a random part of its loop's period (5 ms for httpwait, 0.1 s and 1 s for the
loops, so the server appears at a random phase), then listens and answers every request with 200,
and times until the waiter exits (process start-up is not counted; exit and reaping are). The curl
loops are the usual shell readiness checks; the 1 s one is wait-for-it's and dockerize's pace. CPU is
`getrusage(RUSAGE_CHILDREN)` around a 2 s wait (`httpwait -t 2s`, the loops under `timeout 2s`); the
503 server is the harness's own (its CPU is not counted). A 503 is tried again after 10 ms doubling
to httpwait's `--interval` (100 ms), so a 503 turning into 200 is seen within about 100 ms.
Goals: detection median <= 5 ms, CPU <= 1% of a core while waiting.
Load average when measured: {' '.join(open('/proc/loadavg').read().split()[:3])} on {os.cpu_count()} cores.""")
ours = medians["httpwait (refused: kernel socket table, 1-5 ms backoff)"]
base = medians["curl retry loop, sleep 0.1"]
print(f"\nDetection median: httpwait {ours:.1f} ms, curl retry loop {base:.1f} ms: {base / ours:.1f}x sooner")
PY
