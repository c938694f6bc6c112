#!/usr/bin/env bash
# demo.sh: the tools and the test stack for real, step by step: each step
# says what it shows and how long it took. What `make demo` runs after it has
# built the tools. Arvados itself is not needed: the stand-ins from
# scripts/tests/standins play its servers, and real nginx terminates TLS.
# Usage: scripts/demo.sh   (tools from target/debug, or TARGET_DIR=DIR)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
bin=${TARGET_DIR:-$repo/target/debug}
stack=$here/start-stack.sh
standins=$here/tests/standins

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  echo "usage: scripts/demo.sh   (after 'cargo build --workspace --bins'; make demo does both)"
  exit 0
fi
for t in portfind portwait pidwait fixture-token db-reset lsb-status aoe-fstab httpwait logwait; do
  [[ -x $bin/$t ]] || {
    echo "demo: $bin/$t is not built: run 'make demo' (or cargo build --workspace --bins)" >&2
    exit 2
  }
done
for c in /usr/bin/python3 openssl curl; do
  command -v "$c" >/dev/null || {
    echo "demo: '$c' is missing (Debian: apt-get install python3 openssl curl nginx-light)" >&2
    exit 2
  }
done
PATH=$bin:$PATH:/usr/sbin:/sbin
command -v nginx >/dev/null || {
  echo "demo: nginx is missing (Debian: apt-get install nginx-light)" >&2
  exit 2
}

cd "$repo"
work=$(mktemp -d "${TMPDIR:-/tmp}/stack-demo.XXXXXX")
cleanup() {
  bash "$stack" stop-all >/dev/null 2>&1 || true
  rm -rf -- "$work"
}
trap cleanup EXIT

# Fixtures and nginx template: the Arvados originals beside the repository
# when they are there, otherwise small ones of our own.
# The Arvados template listens on every address: the demo's copy, on loopback only.
corpus=$repo/../shared/corpus/arvados
fixtures=$corpus template=$work/nginx.conf.in
if [[ -f $corpus/api_client_authorizations.yml && -f $corpus/nginx-2015.conf ]]; then
  sed 's/listen \*:/listen 127.0.0.1:/' "$corpus/nginx-2015.conf" >"$template"
else
  fixtures=$work/fixtures template=$standins/stack-nginx.conf.in
  mkdir -p "$fixtures"
  token() { od -An -N20 -tx1 /dev/urandom | tr -d ' \n'; }
  printf 'admin:\n  api_token: %s\nactive:\n  api_token: %s\n' "$(token)" "$(token)" \
    >"$fixtures/api_client_authorizations.yml"
fi
py=/usr/bin/python3
unset ARVADOS_DIR ARVADOS_TEST_API_HOST ARVADOS_TEST_PROXY_SERVICES ARVADOS_API_HOST ARVADOS_API_TOKEN \
  ARVADOS_API_HOST_INSECURE STACK_PORT_RANGE STACK_TIMEOUT STACK_STOP_RETRY STACK_GIT_TARBALL
declare -A env=(
  [PATH]=$PATH
  [STACKUTILS_BIN]=$bin
  [STACK_TMPDIR]=$work/state
  [PORTFIND_LEASE_DIR]=$work/leases
  [STACK_FIXTURES]=$fixtures
  [STACK_NGINX_TEMPLATE]=$template
  [ARVADOS_API_SERVER_CMD]="$py $standins/stack-api.py --fixtures $fixtures"
  [KEEPSTORE_CMD]="$py $standins/stack-service.py keepstore"
  [KEEPPROXY_CMD]="$py $standins/stack-service.py keepproxy"
  [ARV_GIT_HTTPD_CMD]="$py $standins/stack-service.py arv-git-httpd"
)
for var in "${!env[@]}"; do export "$var=${env[$var]}"; done
state=$STACK_TMPDIR cert=$STACK_TMPDIR/self-signed.pem

bold="" plain=""
if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-dumb} != dumb ]]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi
step=0 t0=0
# step TITLE WHAT: a heading, what the step shows, and the clock started.
step() {
  ((step == 0)) || took
  step=$((step + 1))
  printf '\n%s== %d. %s%s\n%s\n' "$bold" "$step" "$1" "$plain" "$2" | fold -s -w 100
  t0=${EPOCHREALTIME/./}
}
took() { printf '(step %d took %d ms)\n' "$step" $(((${EPOCHREALTIME/./} - t0) / 1000)); }
# show CMD...: print the command as it can be pasted, then run it.
show() {
  printf '$'
  printf ' %q' "$@"
  printf '\n'
  "$@"
}
port() { cat "$state/$1.port"; }

echo "stackutils demo: an Arvados-style test stack and the tools it is made of."
echo "Every command below is printed as it runs; with this environment it can be pasted into a shell:"
for var in $(printf '%s\n' "${!env[@]}" | sort); do
  printf '  export %s=%q\n' "$var" "${env[$var]}"
done
echo "  cd $(printf %q "$repo")"

step "portfind: free ports, leased" \
  "portfind picks ports that nothing listens on, on IPv4 and IPv6, and leases them so that parallel jobs never get the same one; start-all takes its seven ports from one such call."
show portfind -n 3

step "start-all: the API server (HTTPS), two keepstores, keepproxy, the git server, nginx" \
  "One command starts the stack, waiting for each service's port and pidfile (portwait, pidwait), resets the database (db-reset), registers the storage services, and waits until nginx answers through to its upstreams (httpwait). It prints the API host."
show bash scripts/start-stack.sh start-all

step "status, and status --json" \
  "Each service with its pid, ports and state: up (listening and answering HTTP), listening, down. Exit 0 only when all are up."
show bash scripts/start-stack.sh status
show bash scripts/start-stack.sh status --json

step "httpwait: nginx answers through to keepproxy, TLS with the stack's certificate pinned" \
  "httpwait waits until a URL answers with a wanted status (here at once: the stack is up); --cacert pins the self-signed certificate."
show httpwait --cacert "$cert" "https://127.0.0.1:$(port keepproxy-ssl)/"
echo "and the answer itself:"
show curl -sS --fail --cacert "$cert" "https://127.0.0.1:$(port keepproxy-ssl)/"

step "the stack at work: registrations and a stored block" \
  "The storage services start-all registered with the API server, and a block stored in keep0."
printf 'header = "Authorization: OAuth2 %s"\n' "$(fixture-token --fixtures "$fixtures" admin)" |
  curl -sS --fail --cacert "$cert" -K - "https://0.0.0.0:$(port api)/arvados/v1/keep_services" |
  $py -c 'import json,sys
for s in json.load(sys.stdin)["items"]:
    print("  %-28s %-5s localhost:%d" % (s["uuid"], s["service_type"], s["service_port"]))'
show curl -sS --fail -X PUT --data-binary foo "http://127.0.0.1:$(port keep0)/acbd18db4cc2f85cedef654fccc4a4d8"

step "start --auth admin: the running server reused and reset; export lines for eval" \
  "The safe form for scripts: the output is checked before it is evaluated (on failure it is a single line 'false')."
# shellcheck disable=SC2016 # printed as typed
printf '$ %s\n' 'exports=$(bash scripts/start-stack.sh start --auth admin) && eval "$exports"'
exports=$(bash "$stack" start --auth admin)
printf '%s\n' "$exports" | sed 's/\(ARVADOS_API_TOKEN=\).*/\1<the admin token>/'
eval "$exports"

step "db-reset: a database reset, token from the environment, certificate pinned" \
  "db-reset posts the reset the original harness made, over TLS with the stack's own certificate."
show env -u ARVADOS_API_HOST_INSECURE db-reset --cacert "$cert"

step "logwait: the resets, as the API server logged them" \
  "logwait waits until a pattern appears in a log file (following rotation and truncation); --from-start counts what is there already, --count how many."
show logwait --from-start --count 3 "$state/api.log" "database reset"

step "pidwait: is it running, and since when" \
  "pidwait believes a pidfile only after checking it (owner, mode, every directory up to /, and that its process did not start after the file was written); --print-started shows the start time that guards against pid reuse."
show pidwait --running --print-started "$state/keep0.pid"

step "lsb-status: the LSB status of nginx, as an init script reports it" \
  "lsb-status status reads the pidfile and lock directory as init scripts do and exits with the LSB code (0 running, 1 dead with a pidfile, 3 not running)."
show lsb-status status --pidfile "$state/nginx.pid" --name nginx --lock-dir "$work/lock"

step "aoe-fstab: an fstab of ATA-over-Ethernet shelves, checked" \
  "aoe-fstab reads an fstab-format file as util-linux does and checks it before aoe-init mounts it: missing mount points, absent devices, entries without _netdev (exit 1 when it finds a problem)."
printf '/dev/etherd/e0.1p1  %s/mnt/shelf0  ext4  defaults,_netdev  0 2\n/dev/etherd/e1.0  %s/mnt/shelf1  xfs  defaults  0 0\n' \
  "$work" "$work" >"$work/fstab-aoe"
mkdir -p "$work/mnt/shelf0"
show aoe-fstab --file "$work/fstab-aoe" check || echo "(exit $?: the problems above)"

step "stop-all: TERM, then KILL on a schedule; ports confirmed closed" \
  "Every service's whole process group is stopped side by side; stop-all returns once each has exited and its ports are closed."
pids=$(cat "$state"/*.pid)
ports=$(cat "$state"/*.port)
show bash scripts/start-stack.sh stop-all

step "nothing left: no process, no listener, no pidfile" \
  "status exits 1 with every service down; pidwait finds none of the old pids running; portwait finds every port closed."
rc=0
bash "$stack" status || rc=$?
echo "status exit code: $rc"
left=""
for pid in $pids; do
  ! pidwait --running --quiet --pid "$pid" 2>/dev/null || left+=" $pid"
done
# shellcheck disable=SC2086 # one argument per port
show portwait --closed --timeout 2s $ports
if [[ -n $left || $rc != 1 ]] || compgen -G "$state/*.pid" >/dev/null; then
  echo "demo: something was left behind:${left:- a pidfile}" >&2
  exit 1
fi
took
echo "all stopped."
