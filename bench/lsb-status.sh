#!/usr/bin/env bash
# Benchmarks lsb-status and scripts/lsb-service against what init scripts use
# today: Debian's status_of_proc and start-stop-daemon for a status check, a
# classic start-stop-daemon init script (with its `sleep 1`) for a
# start + stop cycle. Prints Markdown. Usage: bench/lsb-status.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-200}
for tool in hyperfine python3 start-stop-daemon; do
  command -v "$tool" >/dev/null || { echo "lsb-status.sh: needs $tool" >&2; exit 2; }
done
[ -r /lib/lsb/init-functions ] || { echo "lsb-status.sh: needs /lib/lsb/init-functions (lsb-base)" >&2; exit 2; }
for t in lsb-status pidwait portwait portfind; do
  [ -x "target/release/$t" ] || cargo build --release -q -p "$t"
done
bin=$PWD/target/release
daemon=$PWD/scripts/tests/standins/lsb-daemon.py

tmp=$(mktemp -d)
sleep 100000 &
sleeper=$!
cleanup() {
  kill "$sleeper" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
echo "$sleeper" >"$tmp/svc.pid"
mkdir -p "$tmp/lock" "$tmp/default" "$tmp/run" "$tmp/log"

echo "## lsb-status: status checks and start/stop cycles"
echo
echo "### Status of a running service ($runs runs)"
echo
hyperfine -N --style none --warmup 20 --runs "$runs" --export-markdown "$tmp/status.md" \
  -n "lsb-status status" \
  "$bin/lsb-status status --pidfile $tmp/svc.pid --lock-dir $tmp/lock" \
  -n "Debian status_of_proc (bash + init-functions)" \
  "bash -c '. /lib/lsb/init-functions; status_of_proc -p $tmp/svc.pid /usr/bin/sleep svc'" \
  -n "start-stop-daemon --status (no lock, no message)" \
  "start-stop-daemon --status --pidfile $tmp/svc.pid" >/dev/null
cat "$tmp/status.md"

# One daemon for both scripts: the test stand-in in the foreground,
# listening on a port, its pid file written by the script.
port=$("$bin/portfind")
cat >"$tmp/default/benchd" <<EOF
DAEMON=$daemon
EXE=
DAEMON_ARGS="--port $port"
MAKE_PIDFILE=yes
PORT=$port
PIDFILE=$tmp/run/benchd.pid
LOGFILE=$tmp/log/benchd.log
LOCK_DIR=$tmp/lock
EOF
cat >"$tmp/classic" <<EOF
#!/bin/sh
# The usual hand-written init script: start in the background, sleep a
# second "to let it come up", stop with start-stop-daemon's retry loop.
case "\$1" in
  start)
    start-stop-daemon --start --quiet --background --make-pidfile \\
      --pidfile $tmp/run/classic.pid --exec $daemon -- --port $port
    sleep 1
    ;;
  stop)
    start-stop-daemon --stop --quiet --retry TERM/10/KILL/5 \\
      --pidfile $tmp/run/classic.pid --remove-pidfile
    ;;
esac
EOF
cycle_runs=$(( runs / 20 > 5 ? runs / 20 : 5 ))
echo
echo "### Start until listening, then stop ($cycle_runs runs)"
echo
export PATH="$bin:$PATH" LSB_DEFAULTS_DIR="$tmp/default" NAME=benchd
hyperfine --style none --warmup 1 --runs "$cycle_runs" --export-markdown "$tmp/cycle.md" \
  -n "lsb-service start + stop (START_GRACE=100ms, the default)" \
  "bash scripts/lsb-service start >/dev/null && bash scripts/lsb-service stop >/dev/null" \
  -n "lsb-service start + stop (START_GRACE=0)" \
  "START_GRACE=0 bash scripts/lsb-service start >/dev/null && bash scripts/lsb-service stop >/dev/null" \
  -n "classic start-stop-daemon script (sleep 1, not checked)" \
  "sh $tmp/classic start && sh $tmp/classic stop" >/dev/null
cat "$tmp/cycle.md"

cat <<EOF

Method: hyperfine on $(nproc) cores, release build. The status check reads a
pid file naming a live \`sleep\`; lsb-status also looks at the lock file and
prints the LSB message, start-stop-daemon only exits with a code. The cycle
starts the test stand-in daemon (python3, listening on a port) and stops it
with SIGTERM. lsb-service returns as soon as the pid file names a live
process, the port listens (portwait, netlink) and START_GRACE has passed,
and stop returns when the process is gone (pidwait, pidfd: a zombie counts
as gone). The classic script always sleeps one second and never checks that
the daemon came up; its stop polls with kill(0), which a zombie still passes,
so it also waits for the orphaned daemon to be reaped by pid 1 (here a
container supervisor that reaps slowly; under an init that reaps at once
the classic cycle comes down towards its fixed one-second sleep). The
lsb-service figures include its configuration check (START_TIMEOUT,
START_GRACE and STOP_RETRY parsed by pidwait: about 1 ms each, per action).
EOF
