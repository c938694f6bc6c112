#!/usr/bin/env bash
# Benchmarks pidwait against what it replaces: stopping a process (the old
# harness's "TERM every 0.1 s until gone" and start-stop-daemon --retry),
# noticing an exit, and noticing a pidfile (the old 0.2 s poll). Prints a
# Markdown section on stdout.
# Usage: bench/pidwait.sh [RUNS]   (RUNS >= 50, default 50; needs target/release/pidwait)
# Table labels hold Markdown backticks, not command substitutions:
# shellcheck disable=SC2016
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: bench/pidwait.sh [RUNS]   (RUNS >= 50)" >&2; exit 2; }
runs=${1:-50}
if ! [[ $runs =~ ^[0-9]+$ ]] || ((runs < 50)); then usage; fi
pw=$PWD/target/release/pidwait
[[ -x $pw ]] || { echo "pidwait.sh: $pw is missing: run cargo build --release -p pidwait" >&2; exit 2; }
command -v start-stop-daemon >/dev/null || { echo "pidwait.sh: start-stop-daemon is missing (Debian package dpkg)" >&2; exit 2; }

tmp=$(mktemp -d)
targets=()
main=$BASHPID
cleanup() {
  # A forked child (before it execs) must not clean up for the script.
  [[ $BASHPID == "$main" ]] || return 0
  # Only the sleepers this script started, by pid.
  for p in "${targets[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  # Bash's own "Killed" job notices are noise; anything else is shown.
  [[ -f $tmp/stderr ]] && { grep -v -E '(Killed|Terminated) +sleep 60' "$tmp/stderr" >&3 || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
exec 3>&2 2>> "$tmp/stderr"

# Microseconds since the epoch, without forking.
now() { local t=$EPOCHREALTIME; REPLY=${t/./}; }

# Starts a sleeper in the background; its pid goes to $target. Returns
# once the forked shell has become `sleep`.
start_target() {
  sleep 60 &
  target=$!
  targets+=("$target")
  until [[ /proc/$target/exe -ef $sleep_bin ]]; do :; done
}
sleep_bin=$(command -v sleep)

# Waits (at most 5 s) until process $1 sleeps in poll/epoll: it is then
# waiting for its event, set up and ready.
ready() {
  local w end
  now; end=$((REPLY + 5000000))
  while now; ((REPLY < end)); do
    # wchan has no newline, so read reports EOF even when it read the name.
    w=
    read -r w < "/proc/$1/wchan" 2>/dev/null || true
    [[ $w == *poll* ]] && return 0
  done
  echo "pidwait.sh: process $1 never started waiting" >&3
  return 1
}

# Reads latencies (microseconds, one a line) and prints "| median | p95 |" in ms.
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    i = int(NR * 0.95); if (i < NR * 0.95) i++
    printf "| %.2f | %.2f | %d |\n", m / 1000, v[i] / 1000, NR }'
}

# A random pause of 0.1-0.2 s, so a polling loop is caught at a random phase.
pause() { sleep "0.1$(printf %02d $((RANDOM % 100)))"; }

# --- 1. Stopping a process that exits on TERM: stopper start -> stopper exit.

# The old harness: send TERM every 0.1 s until the pid is gone.
old_stop() {
  local pid
  pid=$(< "$1")
  while kill -TERM "$pid" 2>/dev/null; do sleep 0.1; done
}

measure_stop() {
  local how=$1 out=$tmp/stop-$1 i t0 pidfile=$tmp/stop.pid
  : > "$out"
  for ((i = 0; i < runs; i++)); do
    start_target
    echo "$target" > "$pidfile"
    now; t0=$REPLY
    case $how in
      pidwait) "$pw" --kill --retry TERM/5/KILL/5 "$pidfile" ;;
      ssd) start-stop-daemon --stop --quiet --pidfile "$pidfile" --retry TERM/5/KILL/5 ;;
      old) old_stop "$pidfile" ;;
    esac
    now; echo $((REPLY - t0)) >> "$out"
    wait "$target" 2>/dev/null || true
  done
}

# --- 2. Noticing an exit: waiter already waiting; target killed -> waiter exit.

measure_exit() {
  local how=$1 out=$tmp/exit-$1 i t0 w pidfile=$tmp/exit.pid
  : > "$out"
  for ((i = 0; i < runs; i++)); do
    start_target
    echo "$target" > "$pidfile"
    case $how in
      pidwait) "$pw" --exit --timeout 10s --pid "$target" & w=$!; ready "$w" ;;
      procps) /usr/bin/pidwait --pidfile "$pidfile" & w=$!; ready "$w" ;;
      old) (while kill -0 "$target" 2>/dev/null; do sleep 0.1; done) & w=$!; pause ;;
    esac
    now; t0=$REPLY
    kill -KILL "$target"
    wait "$w"
    now; echo $((REPLY - t0)) >> "$out"
    wait "$target" 2>/dev/null || true
  done
}

# --- 3. Noticing a pidfile: waiter already waiting; pidfile written -> waiter exit.

# The old harness: read the pidfile and kill -0 its pid every 0.2 s.
old_find() {
  local pid
  until pid=$(cat "$1" 2>/dev/null) && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}

measure_pidfile() {
  local how=$1 out=$tmp/file-$1 i t0 w pidfile
  : > "$out"
  start_target
  for ((i = 0; i < runs; i++)); do
    pidfile=$tmp/file-$i.pid
    case $how in
      pidwait) "$pw" --timeout 10s "$pidfile" > /dev/null & w=$!; ready "$w" ;;
      old) old_find "$pidfile" & w=$!; pause; pause ;;
    esac
    now; t0=$REPLY
    echo "$target" > "$pidfile"
    wait "$w"
    now; echo $((REPLY - t0)) >> "$out"
    rm -f "$pidfile"
  done
}

# --- 3b. Stopping a process named by a pidfile without its newline (as the
# original harness writes them). The line is complete once no process has it
# open for writing (a read lease is granted), or once it has not been written
# for 110 ms (by its mtime): a writer that keeps it open waits for that, the
# 100 ms settle every such file got before (the old behaviour).

# The four kinds take turns within each round, so a slow moment of the
# shared machine weighs on all of them alike.
measure_nonl() {
  local how i t0 pidfile=$tmp/nonl.pid
  for how in newline quiet closed held; do : > "$tmp/nonl-$how"; done
  for ((i = 0; i < runs; i++)); do
    for how in newline quiet closed held; do
      start_target
      case $how in
        newline) echo "$target" > "$pidfile" ;;
        quiet) printf %s "$target" > "$pidfile"; sleep 0.12 ;;
        closed) printf %s "$target" > "$pidfile" ;;
        held) exec 4> "$pidfile"; printf %s "$target" >&4 ;;
      esac
      now; t0=$REPLY
      "$pw" --kill --retry TERM/5/KILL/5 "$pidfile"
      now; echo $((REPLY - t0)) >> "$tmp/nonl-$how"
      [[ $how != held ]] || exec 4>&-
      wait "$target" 2>/dev/null || true
    done
  done
}

# --- 4. Startup: run to exit of `--version`.

measure_startup() {
  local out=$tmp/start-$1 i t0
  : > "$out"
  for ((i = 0; i < runs; i++)); do
    now; t0=$REPLY
    "$2" --version > /dev/null
    now; echo $((REPLY - t0)) >> "$out"
  done
}

# --- 5. CPU used while waiting 1 s for an exit that does not come.

cpu_wait() {
  local TIMEFORMAT='%U %S'
  start_target
  { time "$pw" --exit --timeout 1s --pid "$target" 2> /dev/null || true; } 2> "$tmp/cpu"
}


echo "## pidwait"
echo
echo "\`bench/pidwait.sh $runs\`: $runs runs of each, latencies in milliseconds (median, 95th percentile)."
echo
# A table's heading and header; a row from the samples in $tmp/FILE.
table() {
  echo "### $1"
  echo
  echo "| $2 | median ms | p95 ms | runs |"
  echo "|---|---|---|---|"
}
row() { echo "| $1 $(stats < "$tmp/$2")"; }

table "Stopping a process that exits on TERM (start of the stopper to its exit)" approach
measure_stop pidwait
row '`pidwait --kill --retry TERM/5/KILL/5 FILE`' stop-pidwait
measure_stop ssd
row '`start-stop-daemon --stop --pidfile FILE --retry TERM/5/KILL/5`' stop-ssd
measure_stop old
row 'old harness: TERM every 0.1 s until gone (bash loop)' stop-old
echo
table "Noticing an exit (target killed while the waiter waits, to the waiter's exit)" approach
measure_exit pidwait
row '`pidwait --exit --pid PID` (pidfd)' exit-pidwait
measure_exit procps
row 'procps `/usr/bin/pidwait --pidfile FILE` (pidfd)' exit-procps
measure_exit old
row '`kill -0` every 0.1 s (bash loop)' exit-old
echo
table "Noticing a pidfile (written while the waiter waits, to the waiter's exit)" approach
measure_pidfile pidwait
row '`pidwait FILE` (dnotify)' file-pidwait
measure_pidfile old
row 'old harness: read pidfile + `kill -0` every 0.2 s (bash loop)' file-old
echo
table "Stopping a process named by a pidfile without newline (start of the stopper to its exit)" pidfile
measure_nonl
row '`PID\n` (with newline): baseline' nonl-newline
row '`PID` without newline, written 0.12 s before the stop' nonl-quiet
row '`PID` without newline, written just before, writer done (read lease)' nonl-closed
row '`PID` without newline, writer still holding it: believed once not written for 110 ms (the old settle, which every such file got)' nonl-held
echo
table 'Startup (`--version`, start to exit)' program
measure_startup pidwait "$pw"
row '`pidwait --version`' start-pidwait
measure_startup procps /usr/bin/pidwait
row 'procps `/usr/bin/pidwait --version`' start-procps
echo
cpu_wait
echo "CPU time (user + system) of \`pidwait --exit\` waiting 1 s for a process that stays: $(awk '{ printf "%.0f ms", ($1 + $2) * 1000 }' "$tmp/cpu")."
echo
echo "Method: \`target/release/pidwait\` on $(uname -sr), $(nproc) cores; times from bash's"
echo "\`\$EPOCHREALTIME\` (no fork), so they include starting the tool and bash reaping it. Targets"
echo "are \`sleep 60\` children of the benchmark's bash. In tables 2 and 3 the waiter is started first and"
echo "the event fires once it sleeps in poll (read from \`/proc/PID/wchan\`); the polling loops are caught"
echo "at a random phase. pidwait watches the pidfile's directory with dnotify: with inotify the exit took"
echo "8-15 ms longer, the time closing an inotify descriptor waits for the kernel (see pidwait/src/dirwatch.rs)."
echo "Table 4: a line without newline is complete once a read lease can be taken on it (\`F_SETLEASE\`"
echo "fails while any process has the file open for writing; the bytes are read again under the lease), or"
echo "once its mtime is 110 ms old (a writer that keeps it open, or a file system without leases). Its four"
echo "kinds of pidfile take turns within each round, so a slow moment of the machine weighs on all alike."
echo "Targets: median <= 2 ms (exit) and <= 5 ms (pidfile, with or without newline)."
echo
median() { sort -n "$tmp/$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "ratio: stop by a pidfile without newline written just before (writer done), median / the old settle path median = $(awk -v a="$(median nonl-closed)" -v b="$(median nonl-held)" 'BEGIN { printf "%.3f", a / b }')"
