#!/usr/bin/env bash
# bench/start-stack.sh: wall time of `start-stack.sh start-all` + `stop-all`
# with the stackutils tools, beside the same script and stand-ins driven by
# the original harness's waits (0.2 s pidfile poll, an lsof loop sleeping
# 0.1 s, TERM every 0.1 s); the services' own start-up; the tools' share.
# Prints Markdown on stdout (bench/run.sh keeps it in bench/results/).
# Usage: bench/start-stack.sh [RUNS]   (release tools from target/release, or TARGET_DIR=DIR;
# the shipped ones, if built by `make dist`, from target/x86_64-unknown-linux-musl/dist, or DIST_DIR=DIR)
set -euo pipefail

runs=${1:-7}
[[ $runs =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: bench/start-stack.sh [RUNS]" >&2
  exit 2
}
# As root, the whole bench (both flows and the services started directly) runs
# in a mount namespace of its own with tracefs mounted, so that portwait waits on
# the kernel's TCP events (as on a systemd machine) whatever the host mounted;
# nothing is left mounted on the host.
if [[ $EUID == 0 && -z ${STACK_BENCH_NS:-} ]] && command -v unshare >/dev/null; then
  STACK_BENCH_NS=1 exec unshare -m bash "$0" "$@"
fi
if [[ -n ${STACK_BENCH_NS:-} && ! -d /sys/kernel/tracing/events ]]; then
  mount -t tracefs nodev /sys/kernel/tracing
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${TARGET_DIR:-$repo/target/release}
# The static binaries the .deb, the tarball and the image ship: measured too
# if built, each beside the original's waits with the same build.
shipped=${DIST_DIR:-$repo/target/x86_64-unknown-linux-musl/dist}
stack=$repo/scripts/start-stack.sh
standins=$repo/scripts/tests/standins
py=/usr/bin/python3
tools=(portfind portwait pidwait fixture-token db-reset httpwait)
flows=(new legacy)
for t in "${tools[@]}"; do
  [[ -z $shipped || ! $bin/$t -nt $shipped/$t ]] || {
    echo "bench: $shipped/$t is older than $bin/$t: the shipped build is not measured (make dist)" >&2
    shipped=""
  }
  [[ -x $shipped/$t ]] || shipped=""
done
[[ -z $shipped ]] || flows+=(shipped legacy_shipped)
for t in "${tools[@]}"; do
  [[ -x $bin/$t ]] || {
    echo "bench: $bin/$t is not built (cargo build --release --workspace --bins)" >&2
    exit 2
  }
done
for c in $py lsof openssl nginx; do
  command -v "$c" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null || {
    echo "bench: '$c' is missing" >&2
    exit 2
  }
done

# The stand-ins find fixture-token on PATH; start-stack.sh takes its tools
# from STACKUTILS_BIN (set per flow below).
export PATH=$bin:$PATH:/usr/sbin:/sbin
work=$(mktemp -d "${TMPDIR:-/tmp}/stack-bench.XXXXXX")
state=$work/state
cleanup() {
  for flow in "${flows[@]}" timed; do
    STACKUTILS_BIN=$(flow_bin "$flow") STACK_TMPDIR=$state bash "$stack" stop-all >/dev/null 2>&1 || true
  done
  rm -rf -- "$work"
}
trap cleanup EXIT

# Fixtures and a template of our own, so the bench needs nothing outside the repo.
mkdir -p "$work/fixtures" "$work/legacy" "$work/legacy_shipped" "$work/timed"
cat >"$work/fixtures/api_client_authorizations.yml" <<'EOF'
admin:
  api_token: 4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h
EOF
export STACK_TMPDIR=$state PORTFIND_LEASE_DIR=$work/leases STACK_FIXTURES=$work/fixtures
export STACK_NGINX_TEMPLATE=$standins/stack-nginx.conf.in
export ARVADOS_API_SERVER_CMD="$py $standins/stack-api.py --fixtures $work/fixtures"
export KEEPSTORE_CMD="$py $standins/stack-service.py keepstore"
export KEEPPROXY_CMD="$py $standins/stack-service.py keepproxy"
export ARV_GIT_HTTPD_CMD="$py $standins/stack-service.py arv-git-httpd"
unset ARVADOS_TEST_API_HOST ARVADOS_TEST_PROXY_SERVICES ARVADOS_API_HOST ARVADOS_API_TOKEN

# The original's waits, as drop-in portwait/pidwait for the same script
# (STACKUTILS_BIN names the directory the script takes its tools from).
cat >"$work/legacy/portwait" <<'EOF'
#!/usr/bin/env bash
# The original's _wait_until_port_listens: `lsof -t -i tcp:PORT`, else sleep 0.1.
# It had no --closed wait (stop never checked the port): that succeeds at once.
set -euo pipefail
limit=10 closed=0 ports=()
while (($#)); do
  case $1 in
    --timeout) limit=${2%s} && shift ;;
    --timeout=*) limit=${1#--timeout=} && limit=${limit%s} ;;
    --pid) shift ;;
    --closed) closed=1 ;;
    *) ports+=("${1##*:}") ;;
  esac
  shift
done
((closed)) && exit 0
end=$((${EPOCHREALTIME/./}000 + ${limit%%[!0-9]*} * 1000000000))
for port in "${ports[@]}"; do
  until lsof -t -i "tcp:$port" >/dev/null; do
    ((${EPOCHREALTIME/./}000 < end)) || exit 1
    sleep 0.1
  done
done
EOF
cat >"$work/legacy/pidwait" <<'EOF'
#!/usr/bin/env bash
# The original's find_server_pid (sleep 0.2, read, kill -0, until the timeout)
# and kill_server_pid (TERM every 0.1 s until the process is gone).
set -euo pipefail
limit=10 kill=0 remove=0 running=0 file="" pid=""
while (($#)); do
  case $1 in
    --timeout) limit=${2%s} && shift ;;
    --timeout=*) limit=${1#--timeout=} && limit=${limit%s} ;;
    --retry | --signal | --grace) shift ;;
    --pid) pid=$2 && shift ;;
    --kill) kill=1 ;;
    --remove) remove=1 ;;
    --running) running=1 ;;
    --*) ;;
    *) file=$1 ;;
  esac
  shift
done
# kill -0 as the original's os.kill(pid, 0); a zombie (nothing here reaps the
# stand-ins once start-stack.sh has exited) counts as gone.
live() { kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1") != Z* ]]; }
[[ -n $pid || ! -f $file ]] || pid=$(<"$file")
if ((kill)); then
  end=$((${EPOCHREALTIME/./}000 + 10000000000))
  while [[ -n $pid ]] && live "$pid" && ((${EPOCHREALTIME/./}000 < end)); do
    kill -TERM "$pid" 2>/dev/null || true
    sleep 0.1
  done
  ((remove)) && rm -f "$file"
  exit 0
fi
# One look (the original slept 0.2 s first even then).
if ((running)) || [[ $limit == 0 ]]; then
  [[ -n $pid ]] && live "$pid" && echo "$pid" && exit 0
  exit 1
fi
end=$((${EPOCHREALTIME/./}000 + ${limit%%[!0-9]*} * 1000000000))
while ((${EPOCHREALTIME/./}000 < end)); do
  sleep 0.2
  if [[ -s $file ]] && pid=$(<"$file") && live "$pid"; then
    echo "$pid"
    exit 0
  fi
done
exit 1
EOF
# The original never checked that nginx answers through to its upstreams: that
# wait returns at once. The API calls (--print-body) are made as in the tools' flow.
cat >"$work/legacy/httpwait" <<EOF
#!/bin/sh
case " \$* " in *" --print-body "*) exec "\${0%/*}/real/httpwait" "\$@" ;; esac
exit 0
EOF
# The real tools, each call timed into $work/calls.
for t in "${tools[@]}"; do
  cat >"$work/timed/$t" <<EOF
#!/usr/bin/env bash
start=\${EPOCHREALTIME/./}
rc=0
"$bin/$t" "\$@" || rc=\$?
echo "$t \$((\${EPOCHREALTIME/./} - start))" >>"$work/calls"
exit "\$rc"
EOF
done
chmod +x "$work"/legacy/* "$work"/timed/*
# The real API calls of the legacy httpwait, and the other tools, of the same
# build as the row it is compared with.
link() { # link DIR BIN
  mkdir -p "$1/real" && ln -s "$2"/{portfind,fixture-token,db-reset} "$1/" && ln -s "$2/httpwait" "$1/real/"
}
link "$work/legacy" "$bin"
[[ -z $shipped ]] || { cp -p "$work"/legacy/{portwait,pidwait,httpwait} "$work/legacy_shipped/" &&
  link "$work/legacy_shipped" "$shipped"; }

flow_bin() {
  case $1 in
    new) echo "$bin" ;;
    shipped) echo "$shipped" ;;
    legacy | legacy_shipped) echo "$work/$1" ;;
    timed) echo "$work/timed" ;;
  esac
}
ms_since() { echo $(((${EPOCHREALTIME/./} - $1) / 1000)); }

# cycle FLOW: one start-all + stop-all; appends "start stop" (ms) to $work/FLOW.
cycle() {
  local t0 t1 start stop
  t0=${EPOCHREALTIME/./}
  STACKUTILS_BIN=$(flow_bin "$1") bash "$stack" start-all >/dev/null
  start=$(ms_since "$t0")
  t1=${EPOCHREALTIME/./}
  STACKUTILS_BIN=$(flow_bin "$1") bash "$stack" stop-all
  stop=$(ms_since "$t1")
  echo "$start $stop" >>"$work/times.$1"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
col() { awk -v c="$2" '{print $c}' "$work/times.$1"; }
tot() { awk '{print $1+$2}' "$work/times.$1"; }

# The services' own start-up: launch each directly and wait for its listener
# with portwait (netlink, ~1 ms to notice). Measured in the same loop as the
# flows, so that all see the same load on the shared machine.
own() { # own NAME PORTS CMD...: ms from launch to listening, appended to $work/own.NAME
  local name=$1 ports=$2 t0 pid
  shift 2
  t0=${EPOCHREALTIME/./}
  setsid "$@" </dev/null >"$work/own-$name.log" 2>&1 &
  pid=$!
  # Of the first stage, the API server's port (its first) on its own too: the
  # proxy starts once it is up, while the others may still be starting.
  if [[ $name == first ]]; then
    "$bin/portwait" --pid "$pid" "${ports%% *}" && ms_since "$t0" >>"$work/own.first_api"
  fi
  # shellcheck disable=SC2086 # one argument per port
  "$bin/portwait" --pid "$pid" $ports || {
    echo "bench: $name did not start: $(tail -n 3 "$work/own-$name.log")" >&2
    exit 1
  }
  ms_since "$t0" >>"$work/own.$name"
  # Its whole group (a pair, nginx's workers), on a bounded schedule.
  "$bin/pidwait" --kill --group --quiet --retry TERM/5/KILL/2 --pid "$pid" || {
    echo "bench: could not stop $name (pid $pid)" >&2
    exit 1
  }
  wait "$pid" 2>/dev/null || true
}
# own_round [all]: the stages start-all goes through (the API server, the two
# keepstores, the git server and nginx side by side; then the proxy); with
# "all", each service alone too.
own_round() {
  # Each command is split on blanks on purpose, as start-stack.sh splits them.
  # shellcheck disable=SC2086
  {
    # start-all starts the API server, then beside it the two keepstores, the
    # git server and nginx, in that order; then the proxy.
    own first "${p[0]} ${p[1]} ${p[2]} ${p[4]} ${p[5]} ${p[6]}" bash -c "
      PATH=$bin:\$PATH $ARVADOS_API_SERVER_CMD -p ${p[0]} --pid-file $work/own/api.pid --ssl \
        --ssl-certificate $cert --ssl-certificate-key $key &
      $KEEPSTORE_CMD -volume=$work/own -listen=:${p[1]} &
      $KEEPSTORE_CMD -volume=$work/own -listen=:${p[2]} &
      $ARV_GIT_HTTPD_CMD -repo-root=$work/own/git -address=:${p[4]} &
      PATH=\$PATH:/usr/sbin:/sbin exec nginx -p $work/own/nginx/ -e stderr -g 'pid $work/own/nginx.pid;' \
        -c $work/own/nginx.conf"
    own trio "${p[3]}" env ARVADOS_API_TOKEN=x $KEEPPROXY_CMD "-listen=:${p[3]}"
    [[ ${1:-} == all ]] || return 0
    own api "${p[0]}" env PATH="$bin:$PATH" $ARVADOS_API_SERVER_CMD -p "${p[0]}" \
      --pid-file "$work/own/api.pid" --ssl --ssl-certificate "$cert" --ssl-certificate-key "$key"
    own keeps "${p[1]} ${p[2]}" bash -c "$KEEPSTORE_CMD -volume=$work/own -listen=:${p[1]} &
      exec $KEEPSTORE_CMD -volume=$work/own -listen=:${p[2]}"
    own keepstore "${p[1]}" $KEEPSTORE_CMD "-volume=$work/own" "-listen=:${p[1]}"
    own keepproxy "${p[3]}" env ARVADOS_API_TOKEN=x $KEEPPROXY_CMD "-listen=:${p[3]}"
    own git "${p[4]}" $ARV_GIT_HTTPD_CMD "-repo-root=$work/own/git" "-address=:${p[4]}"
    own nginx "${p[5]} ${p[6]}" env PATH="$PATH:/usr/sbin:/sbin" nginx -p "$work/own/nginx/" \
      -e stderr -g "pid $work/own/nginx.pid;" -c "$work/own/nginx.conf"
  }
}

# How portwait waits here (kernel events or polling), for the Method text.
portwait_mode=$("$bin/portwait" -v --timeout 30ms 9 2>&1 | head -n 1) || true
if [[ $portwait_mode == *"waiting on kernel events"* ]]; then portwait_mode="on the kernel's TCP events"
else portwait_mode="by polling (no kernel events: $portwait_mode)"; fi
# Warm up once (certificate, page cache), then alternate the flows and the
# services started directly.
for flow in "${flows[@]}"; do cycle "$flow" && : >"$work/times.$flow"; done
cert=$state/self-signed.pem key=$state/self-signed.key
mapfile -t p < <("$bin/portfind" -n 7)
mkdir -p "$work/own" "$work/own/nginx" "$work/own/git"
sed -e "s/{{KEEPPROXYPORT}}/${p[3]}/; s/{{KEEPPROXYSSLPORT}}/${p[5]}/; s/{{GITPORT}}/${p[4]}/" \
  -e "s/{{GITSSLPORT}}/${p[6]}/; s#{{SSLCERT}}#$cert#; s#{{SSLKEY}}#$key#" \
  "$standins/stack-nginx.conf.in" >"$work/own/nginx.conf"
for ((i = 0; i < runs; i++)); do
  cycle new
  own_round "$( ((i < 3)) && echo all)"
  cycle legacy
  [[ -z $shipped ]] || { cycle shipped && cycle legacy_shipped; }
done
declare -A own_ms
for n in first trio api keeps keepstore keepproxy git nginx; do
  own_ms[$n]=$(median <"$work/own.$n")
done
for ((i = 0; i < 3; i++)); do
  : >"$work/calls"
  cycle timed
  awk '{s += $2} END {print int(s / 1000)}' "$work/calls" >>"$work/toolsum"
  cp "$work/calls" "$work/calls.$i"
done

# Each tool's own cost: a call with nothing to wait for (median of 21, in µs).
sleep 120 &
holder=$!
echo "$holder" >"$work/holder.pid"
cost() {
  local i t0
  for ((i = 0; i < 21; i++)); do
    t0=${EPOCHREALTIME/./}
    "$@" >/dev/null 2>&1 || true
    echo $((${EPOCHREALTIME/./} - t0))
  done | median
}
declare -A cost_us=(
  [portfind]=$(cost "$bin/portfind")
  [portwait]=$(cost "$bin/portwait" --closed --timeout 0 9)
  [pidwait]=$(cost "$bin/pidwait" --timeout 0 "$work/holder.pid")
  [fixture-token]=$(cost "$bin/fixture-token" --fixtures "$work/fixtures" admin)
  [db-reset]=-
)
kill "$holder"
# Per round (the stages of one round saw the same load), then the median: the
# longer of all of the first stage and the API server then the proxy.
paste "$work/own.first" "$work/own.first_api" "$work/own.trio" |
  awk '{b = $2 + $3; print ($1 > b ? $1 : b)}' >"$work/own.round"
own_sum=$(median <"$work/own.round")

new_start=$(col new 1 | median) new_stop=$(col new 2 | median) new_tot=$(tot new | median)
old_start=$(col legacy 1 | median) old_stop=$(col legacy 2 | median) old_tot=$(tot legacy | median)
shipped_rows="" shipped_ratio="" shipped_note=""
if [[ -n $shipped ]]; then
  shipped_note=" The last two rows take every tool from the static musl binaries that the .deb, the tarball
and the image ship (\`make dist\`, in $shipped; a static binary starts with about a third of the
CPU of the dynamically linked release build here), the original's waits beside them with the same build of
the other tools; all four flows take turns in one loop."
  shipped_ratio=$(awk -v a="$(tot shipped | median)" -v b="$(tot legacy_shipped | median)" 'BEGIN {printf "%.2f", a / b}')
  shipped_rows="| the same tools as shipped (static musl, \`make dist\`) | $(col shipped 1 | median) | $(col shipped 2 | median) | $(tot shipped | median) | $(tot shipped | sort -n | head -1) |
| the original's waits, the other tools as shipped | $(col legacy_shipped 1 | median) | $(col legacy_shipped 2 | median) | $(tot legacy_shipped | median) | $(tot legacy_shipped | sort -n | head -1) |"
fi
# The overhead of each round (its start-all less the services' own start-up
# measured right after it), then the median: a difference of two medians taken
# over minutes of a shared machine's changing load would mostly measure the load.
paste "$work/times.new" "$work/own.round" | awk '{print $1 - $3, ($1 - $3) / $3}' >"$work/overhead"
overhead=$(awk '{print $1}' "$work/overhead" | median)
# What each flow spends beyond the services' own start-up (start-all less it,
# plus stop-all), round by round: the part the waits decide. The ratio of the
# totals tends to 1 as the services get slower; this one does not.
beyond() { paste "$work/times.$1" "$work/own.round" | awk '{print $1 + $2 - $3}' | median; }
beyond_new=$(beyond new) beyond_old=$(beyond legacy)
beyond_ratio=$(awk -v a="$beyond_new" -v b="$beyond_old" 'BEGIN {printf "%.2f", a / b}')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
overhead_ratio=$(awk '{printf "%.3f\n", $2}' "$work/overhead" | sort -n |
  awk '{a[NR] = $1} END {printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
flow_ratio=$(ratio "$new_tot" "$old_tot")

cat <<EOF
## start-stack.sh: start-all + stop-all

\`bench/start-stack.sh\`: the whole stack (HTTPS API stand-in, two keepstores, keepproxy, git
server, real nginx) started and stopped $runs times per flow, by the same \`scripts/start-stack.sh\`
and the same stand-ins; only the waits differ. Medians in ms.

| flow | start-all | stop-all | total | fastest total |
| --- | ---: | ---: | ---: | ---: |
| stackutils tools (portwait, pidwait, httpwait) | $new_start | $new_stop | $new_tot | $(tot new | sort -n | head -1) |
| the original's waits (0.2 s pidfile poll, lsof loop, TERM every 0.1 s) | $old_start | $old_stop | $old_tot | $(tot legacy | sort -n | head -1) |
${shipped_rows:+$shipped_rows
}
The services' own start-up, each launched directly and watched with \`portwait --pid\`, in the same loop as
the flows (medians; the lone ones: of 3): the API stand-in alone ${own_ms[api]} ms, one keepstore
${own_ms[keepstore]} ms, two side by side ${own_ms[keeps]} ms, keepproxy ${own_ms[keepproxy]} ms, git ${own_ms[git]} ms,
nginx ${own_ms[nginx]} ms. start-all starts the API server, then beside it the two keepstores, the git server and
nginx (${own_ms[first]} ms so started directly; the API server alone listening after $(median <"$work/own.first_api")
ms of it), then the proxy (${own_ms[trio]} ms): **$own_sum ms** of the services' own start-up in that order (the
longer of the first stage and the API server then the proxy, round by round). The stack's overhead beyond that with the tools, round by round
(its start-all less the services' own start-up measured right after it; medians): **$overhead ms**,
**$overhead_ratio** of the services' own start-up (goal: below 0.35). It includes the settings and state-directory
checks, the database reset over TLS, the registrations (one \`httpwait --once\` run a round, each request with its
own body: the listings, the storage servers' services before the proxy starts, their disks' and the proxy's while it
starts) and the wait for nginx to answer through to the proxy and the git server.

Beyond the services' own start-up (start-all less it, plus stop-all; round by round, medians): the tools
**$beyond_new ms**, the original's waits **$beyond_old ms**: **$beyond_ratio×**. The ratio of the totals
below includes the services' own start-up in both rows, so it rises towards 1 when they start slower
(a loaded machine) whatever the waits cost.

The tools' own share of start-all + stop-all (every call timed, median of 3 cycles:
$(median <"$work/toolsum") ms, waiting on the services included; calls made side by side, as stop-all's,
are summed), by tool in the last cycle:

| tool | calls | total ms (waits included) | one call with nothing to wait for, ms |
| --- | ---: | ---: | ---: |
$(awk '{n[$1]++; s[$1] += $2} END {for (t in n) printf "%s %d %.1f\n", t, n[t], s[t] / 1e3}' "$work/calls.2" | sort |
  while read -r t n total; do
    c=${cost_us[$t]:--}
    [[ $c == - ]] || c=$(awk -v c="$c" 'BEGIN {printf "%.1f", c / 1000}')
    echo "| $t | $n | $total | $c |"
  done)

Method: bash's \`EPOCHREALTIME\` around each \`start-stack.sh\` run; the baseline puts shell versions of the
original's \`find_server_pid\`, \`_wait_until_port_listens\` and \`kill_server_pid\` in \`STACKUTILS_BIN\` as
\`pidwait\`/\`portwait\` (a zero-timeout look is one check, without the original's 0.2 s sleep), and an
\`httpwait\` whose wait returns at once (the original never checked that nginx answers; the API calls,
\`--print-body\`, are made by the real one in both rows, so the registrations cost the same). The
baseline is generous to the original: the script skips the pidfile wait when the pidfile already
names the listening process, where the original always slept 0.2 s before its first look at the
API server's pidfile; it does wait for nginx's ports, which the original did not wait for at all. Both rows gain from the
script starting services and stopping all of them side by side (every pidwait at once, then one
\`portwait --closed\` and one \`rm\` for all); the original did each in turn (with one-by-one stops, the
baseline's stop-all took about 720 ms). portwait (the tools' row, and the services' own start-up) waited
$portwait_mode$([[ -n ${STACK_BENCH_NS:-} ]] && echo ", in the bench's own mount namespace with tracefs mounted (both rows in it)").
$(uname -sr), $(nproc) cores, shared with other jobs (load average $(uptime | sed 's/.*load average: //') when
done): compare the rows, not the absolute figures; on a loaded machine the ratios move by tenths from run to
run.$shipped_note
EOF
echo
echo "Ratios: overhead ÷ the services' own start-up **$overhead_ratio** (goal < 0.35); start-all + stop-all ÷ the same flow on the original's waits **$flow_ratio** (goal ≤ 0.4)${shipped_ratio:+; the same with the binaries as shipped (static musl) **$shipped_ratio**}; the time beyond the services' own start-up ÷ the original's **$beyond_ratio**."
