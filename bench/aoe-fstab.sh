#!/usr/bin/env bash
# Benchmarks aoe-fstab and scripts/aoe-init against what the aoe-init article
# does: parse time of an fstab file (vs the article's Python re.split parser
# and util-linux findmnt), time from a device node appearing to its file
# system being mounted (vs aoe-discover + a blind `sleep 5`), and CPU burnt
# while waiting for the driver (vs the article's busy loop). Prints Markdown;
# the last line is the ratio (node-to-mounted latency as root, else parsing).
# Needs root for the mount part (tmpfs mounts under a temp dir).
# Usage: bench/aoe-fstab.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
# Always (a no-op when fresh): a stale binary would be measured otherwise.
cargo build --release -q -p aoe-fstab -p lsb-status
for tool in hyperfine python3 findmnt; do
  command -v "$tool" >/dev/null || { echo "aoe-fstab.sh: needs $tool" >&2; exit 2; }
done

work=$(mktemp -d /tmp/aoe-fstab-bench.XXXXXX)
cleanup() {
  findmnt -rn -o TARGET | { grep "^$work" || true; } | sort -r | while read -r t; do umount -l "$t"; done
  rm -rf "$work"
}
trap cleanup EXIT

aoe=$PWD/target/release/aoe-fstab

# The article's parser (parse_fstab in aoe-init), ported to Python 3 as is.
cat >"$work/article_parse.py" <<'PY'
import re, sys
out = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line == '' or line.startswith('#'):
        continue
    cols = re.split(r"\s+", line)
    out.append(' '.join(cols[0:6]))
sys.stdout.write('\n'.join(out) + '\n')
PY

# A small file like the article's, and a large one (tabs, comments, escapes).
{
  echo "# /etc/fstab-aoe"
  for i in 68 130 51 131 52 132; do
    printf '/dev/etherd/e99.%s\t/var/shares/s%s\text3\tdefaults,_netdev,noatime\t1 2\n' "$i" "$i"
  done
} >"$work/small"
python3 - "$work/large" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        if i % 10 == 0:
            f.write(f"# shelf {i // 10}\n")
        f.write(f"/dev/etherd/e{i // 16}.{i % 16}\t/srv/aoe/share\\040{i}  ext4 "
                f"defaults,_netdev,noatime 1 2\n")
PY

echo "## aoe-fstab"
echo
for size in small large; do
  lines=$(wc -l <"$work/$size")
  echo "Parse and print every entry of a $size fstab file ($lines lines); hyperfine, warm cache."
  echo
  hyperfine -N --warmup 3 --runs "$runs" --style none --export-markdown "$work/$size.md" \
    --export-json "$work/$size.json" \
    -n "aoe-fstab list" "$aoe --file $work/$size list" \
    -n "article: Python re.split parser" "python3 $work/article_parse.py $work/$size" \
    -n "findmnt --fstab (libmount)" "findmnt --tab-file $work/$size --fstab" \
    >/dev/null
  cat "$work/$size.md"
  echo
done

if [ "$(id -u)" -ne 0 ]; then
  echo "(Mount and wait figures need root; skipped.)"
  echo
  python3 - "$work/large.json" <<'PY'
import json, sys
res = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
ours, theirs = res["aoe-fstab list"], res["article: Python re.split parser"]
print(f"Ratio: parsing the large file, aoe-fstab is **{theirs / ours:.1f}x** faster than the "
      f"article's parser (mean {ours * 1000:.1f} ms against {theirs * 1000:.1f} ms).")
PY
  exit 0
fi

python3 - "$runs" "$aoe" "$work" "$PWD" <<'PY'
import os, resource, statistics, subprocess, sys, time

runs, aoe, work, repo = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def fstab(n):
    """One tmpfs entry whose 'device' is a node that appears later."""
    node = f"{work}/etherd{n}/e1.0"
    target = f"{work}/mnt{n}"
    os.makedirs(target, exist_ok=True)
    path = f"{work}/fstab{n}"
    with open(path, "w") as f:
        f.write(f"{node} {target} tmpfs size=1m,_netdev 0 0\n")
    return path, node, target

def umount(target):
    subprocess.run(["umount", target], check=True)

waiters = {
    "aoe-fstab mount --wait-devices 30s (inotify)":
        lambda path, node, target: [aoe, "--file", path, "mount", "--wait-devices", "30s"],
    "article: aoe-discover, sleep 5, mount":
        lambda path, node, target: ["bash", "-c", 'sleep 5; mount -t tmpfs -o size=1m "$0" "$1"', node, target],
}

def latency(argv, n):
    """Start the waiter as aoe-discover returns, let the node appear 200 ms
    later (as the driver would), time from the node to the mount being done."""
    path, node, target = fstab(n)
    waiter = subprocess.Popen(argv(path, node, target))
    time.sleep(0.2)  # the bench, not a test: discovery takes a while
    os.makedirs(os.path.dirname(node), exist_ok=True)
    start = time.perf_counter()
    open(node, "w").close()
    code = waiter.wait()
    took = time.perf_counter() - start
    if code != 0:
        sys.exit(f"aoe-fstab.sh: {argv(path, node, target)} exited {code}")
    umount(target)
    return took * 1000

def mount_only(n):
    path, node, target = fstab(n)
    start = time.perf_counter()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "x", target], check=True)
    took = time.perf_counter() - start
    umount(target)
    return took * 1000

def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]

print("From a device node appearing to its file system being mounted (tmpfs standing in "
      "for the AoE device), median of the runs; `mount` alone shown as the floor.\n")
print("| approach | runs | median | p95 | max |")
print("|---|---:|---:|---:|---:|")
n = 0
medians = {}
rows = [("`mount -t tmpfs` alone (floor)", runs, lambda: mount_only(n))]
for name, argv in waiters.items():
    count = runs if "inotify" in name else 3  # the blind sleep takes 5 s a run
    rows.append((name, count, lambda argv=argv: latency(argv, n)))
for name, count, measure in rows:
    times = []
    for _ in range(count):
        n += 1
        times.append(measure())
    medians[name] = statistics.median(times)
    print(f"| {name} | {count} | {statistics.median(times):.1f} ms | {pct(times, 0.95):.1f} ms "
          f"| {max(times):.1f} ms |", flush=True)

# CPU burnt waiting 2 s for a driver node that never appears.
standins = f"{repo}/scripts/tests/standins"
init_env = dict(os.environ,
    PATH=f"{repo}/target/release:{os.environ['PATH']}",
    MODPROBE=f"{standins}/aoe-modprobe.sh", RMMOD=f"{standins}/aoe-rmmod.sh",
    AOE_DISCOVER=f"{standins}/aoe-discover.sh", AOE_STAT=f"{standins}/aoe-stat.sh",
    AOE_VERSION=f"{standins}/aoe-version.sh", ETHERD_DIR=f"{work}/never/etherd",
    PROC_MODULES=f"{work}/modules", FSTAB=f"{work}/fstab1", DEFAULTS=f"{work}/none",
    LOCK_DIR=f"{work}/lock", AOE_LOG=f"{work}/log", AOE_DISCOVER_DELAY="never",
    MODULE_TIMEOUT="2")
os.makedirs(f"{work}/never", exist_ok=True)
open(f"{work}/modules", "w").close()
never = f"{work}/never/etherd/discover"
cpu_cases = {
    "aoe-fstab mount --wait-devices 2s (inotify, 250 ms re-check)":
        ([aoe, "--file", f"{work}/fstab-never", "mount", "--wait-devices", "2s"], None),
    "scripts/aoe-init start, MODULE_TIMEOUT=2 (10 ms poll, no forks)":
        (["bash", f"{repo}/scripts/aoe-init", "start"], init_env),
    "article: `while not os.path.exists(...): pass`":
        (["timeout", "2", "python3", "-c",
          f"import os\nwhile not os.path.exists({never!r}): pass"], None),
}
with open(f"{work}/fstab-never", "w") as f:
    f.write(f"{never} {work}/mnt-never tmpfs size=1m\n")

print("\nCPU time used while waiting 2 s for a node that never appears (user + sys, "
      "children included, mean of 3):\n")
print("| approach | CPU time | share of one core |")
print("|---|---:|---:|")
for name, (argv, env) in cpu_cases.items():
    used = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    mean = statistics.mean(used)
    print(f"| {name} | {mean * 1000:.0f} ms | {mean / 2 * 100:.1f} % |", flush=True)

print("\nMethod: `bench/aoe-fstab.sh` on the release build. Parse: hyperfine `-N`, files in "
      "/tmp. Mount latency: the waiter starts as aoe-discover would return, the node is "
      "created 200 ms later, the clock runs from its creation to the waiter's exit (a blocking "
      "wait4). CPU: getrusage of reaped children.\n")
ours = medians["aoe-fstab mount --wait-devices 30s (inotify)"]
theirs = medians["article: aoe-discover, sleep 5, mount"]
print(f"Ratio: from node to mounted, aoe-fstab's wait is **{theirs / ours:.0f}x** faster than the "
      f"article's blind sleep (median {ours:.1f} ms against {theirs:.1f} ms).")
PY
