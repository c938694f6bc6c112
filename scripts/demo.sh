#!/usr/bin/env bash
# demo.sh: run the test stack for real, step by step: start-all, status, the
# --auth exports, a database reset, stop-all. What `make demo` runs after it
# has built the tools. Arvados itself is not needed: the stand-ins from
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
for t in portfind portwait pidwait fixture-token db-reset; do
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

work=$(mktemp -d "${TMPDIR:-/tmp}/stack-demo.XXXXXX")
export STACK_TMPDIR=$work/state PORTFIND_LEASE_DIR=$work/leases
cleanup() {
  bash "$stack" stop-all >/dev/null 2>&1 || true
  rm -rf -- "$work"
}
trap cleanup EXIT

# Fixtures and nginx template: the Arvados originals beside the repository
# when they are there, otherwise small ones of our own.
corpus=$repo/../shared/corpus/arvados
if [[ -f $corpus/api_client_authorizations.yml && -f $corpus/nginx-2015.conf ]]; then
  export STACK_FIXTURES=$corpus STACK_NGINX_TEMPLATE=$corpus/nginx-2015.conf
else
  mkdir -p "$work/fixtures"
  token() { od -An -N20 -tx1 /dev/urandom | tr -d ' \n'; }
  cat >"$work/fixtures/api_client_authorizations.yml" <<EOF
admin:
  uuid: zzzzz-gj3su-000000000000001
  api_token: $(token)
active:
  uuid: zzzzz-gj3su-000000000000002
  api_token: $(token)
EOF
  export STACK_FIXTURES=$work/fixtures STACK_NGINX_TEMPLATE=$standins/stack-nginx.conf.in
fi
py=/usr/bin/python3
export ARVADOS_API_SERVER_CMD="$py $standins/stack-api.py --fixtures $STACK_FIXTURES"
export KEEPSTORE_CMD="$py $standins/stack-service.py keepstore"
export KEEPPROXY_CMD="$py $standins/stack-service.py keepproxy"
export ARV_GIT_HTTPD_CMD="$py $standins/stack-service.py arv-git-httpd"
unset ARVADOS_TEST_API_HOST ARVADOS_TEST_PROXY_SERVICES ARVADOS_API_HOST ARVADOS_API_TOKEN ARVADOS_API_HOST_INSECURE

step=0
bold="" plain=""
if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-dumb} != dumb ]]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi
heading() {
  step=$((step + 1))
  printf '\n%s== %d. %s%s\n' "$bold" "$step" "$*" "$plain"
}
# show CMD...: print the command, then run it.
show() {
  printf '$ %s\n' "$*"
  "$@"
}
ms() { date +%s%3N; }

echo "stackutils demo: an Arvados-style test stack, state in $STACK_TMPDIR"

heading "start-all: API server (HTTPS), two keepstores, keepproxy, git server, nginx"
t0=$(ms)
show bash "$stack" start-all
echo "(started in $(($(ms) - t0)) ms)"

heading "status: one line per service (exit 0: all up)"
show bash "$stack" status

heading "the stack at work"
cert=$STACK_TMPDIR/self-signed.pem
port() { cat "$STACK_TMPDIR/$1.port"; }
api_port=$(port api)
echo "keep services registered with the API server:"
printf 'header = "Authorization: OAuth2 %s"\n' "$(fixture-token --fixtures "$STACK_FIXTURES" admin)" |
  curl -sS --fail --cacert "$cert" -K - "https://0.0.0.0:$api_port/arvados/v1/keep_services" |
  /usr/bin/python3 -c 'import json,sys
for s in json.load(sys.stdin)["items"]:
    print("  %-28s %-5s localhost:%d" % (s["uuid"], s["service_type"], s["service_port"]))'
echo "a block stored in keep0:"
show curl -sS --fail -X PUT --data-binary foo "http://127.0.0.1:$(port keep0)/acbd18db4cc2f85cedef654fccc4a4d8"
echo "keepproxy through nginx over TLS:"
show curl -sS --fail --cacert "$cert" "https://127.0.0.1:$(port keepproxy-ssl)/"

heading "start --auth admin: the server is reused and reset; export lines for eval"
printf '$ %s\n' "bash $stack start --auth admin"
exports=$(bash "$stack" start --auth admin)
printf '%s\n' "$exports"
eval "$exports"

heading "a database reset with db-reset (token from the environment, certificate pinned)"
show env -u ARVADOS_API_HOST_INSECURE db-reset --cacert "$cert"
echo "the API server's log says:"
grep 'database reset' "$STACK_TMPDIR/api.log" | sed 's/^/  /'

heading "stop-all: TERM, then KILL on a schedule; ports confirmed closed"
pids=$(cat "$STACK_TMPDIR"/*.pid)
ports=$(cat "$STACK_TMPDIR"/*.port)
t0=$(ms)
show bash "$stack" stop-all
echo "(stopped in $(($(ms) - t0)) ms)"

heading "nothing left: status exits 1, no process, no listener, no pidfile"
status=0
bash "$stack" status || status=$?
echo "status exit code: $status"
left=0
for pid in $pids; do
  if [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
    echo "still running: $pid"
    left=1
  fi
done
# shellcheck disable=SC2086 # one argument per port
show portwait --closed --timeout 2s $ports
compgen -G "$STACK_TMPDIR/*.pid" >/dev/null && left=1
((left == 0 && status == 1)) || {
  echo "demo: something was left behind" >&2
  exit 1
}
echo "all stopped."
