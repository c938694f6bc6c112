#!/usr/bin/env bash
# start-stack.sh: start, reset and stop an Arvados-style test stack (API server,
# two storage servers, a storage proxy, a git server, nginx in front of the last
# two), composed from the stackutils tools. See scripts/README.md.
set -Eeuo pipefail
# A command failing where no check expects it still says where.
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR

usage="usage: start-stack.sh ACTION [--auth NAME] [--json]"
actions=(start stop start_keep stop_keep start_keep_proxy stop_keep_proxy
  start_arv-git-httpd stop_arv-git-httpd start_nginx stop_nginx start-all stop-all status)
# Never fails: with SIGPIPE ignored, a closed stderr must not change what its caller does next.
say() { printf 'start-stack: %s\n' "$*" >&2 2>/dev/null || true; }
acts() { [[ $action != *[[:space:]]* && " $* " == *" $action "* ]]; }
# fail CODE MESSAGE (1: did not come up / failed, 2: usage or fatal).
fail() { say "$2" && exit "$1"; }
# $SRANDOM, and wait for a process substitution by its pid.
((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)) || fail 2 "needs bash 5.1 or later (this is $BASH_VERSION)"

started=() # what this run began to start, stopped again if the run fails
pool=()    # start-all's ports not handed out yet
leasing="" # start-all: portfind's answer, asked for at the start
declare -A launched begun # this run's pid of each service; the ports it gave each
detach=()  # a failed run's stops: pidwait in a session of its own (setsid -w)
live_jobs=() # a failed run's jobs still running
stopping=()  # the services a stop was asked for, named if it is cut short
# A failed run prints, for eval, a line that fails, and stops what it started. A
# second signal (^C again, a runner's TERM after its INT) does not cut that short:
# the shell ignores it and the pidwaits run in sessions of their own.
# Every port leased goes back to portfind: ours listen on theirs by now, or were stopped.
on_exit() {
  local rc=$? p ports args=() still=()
  trap - ERR
  # A reader of our output gone (a CI job's TERM to its group) must not cut
  # the stop short: a write to it fails instead of killing the shell.
  ((rc == 0)) || trap '' PIPE
  [[ -z $leasing ]] || mapfile -t -u "$leasing" pool
  if ((rc != 0 && ${#started[@]} > 0)); then
    set +e
    trap '' HUP INT TERM
    detach=(setsid -w)
    # API calls under way end first (within their 10 s), not after this run.
    ((${#pending[@]} == 0)) || wait "${pending[@]}" 2>/dev/null
    mapfile -t live_jobs < <(jobs -rp)
    say "stopping what this run started: ${started[*]}"
    stop "${started[@]}"
  fi
  ((rc == 0)) || [[ -z ${auth:-} ]] || printf 'false\n' 2>/dev/null || true
  # An interrupted stop names what still runs (its pidwaits end with it on ^C).
  if ((rc > 128)) && [[ $action == stop* && -n ${pidwait:-} ]]; then
    for p in "${stopping[@]}"; do
      [[ ! -e $state/$p.pid ]] || ! "$pidwait" --running --quiet "$state/$p.pid" >/dev/null 2>&1 || still+=("$p")
    done
    ((${#still[@]} == 0)) || say "interrupted; still running: ${still[*]}"
  fi
  read -ra ports <<<"${begun[*]} ${pool[*]}"
  for p in "${ports[@]}"; do args+=(--release "$p"); done
  ((${#args[@]} == 0)) || "$portfind" "${args[@]}" >/dev/null 2>&1 9>&- &
  exit "$rc"
}

print_help() {
  cat <<EOH
$usage

Start, reset and stop an Arvados test stack as run_test_server.py did, with
bounded waits and clean stops. Actions: ${actions[*]}. start and start-all
print the API host, or with --auth NAME export lines for fixture NAME (on
failure 'false', so that eval fails too); status prints each service's pid,
ports and state, --json as JSON. Settings: see scripts/README.md.

Exit codes:
  0  success (status: every service is up)
  1  a service did not come up, a reset, registration, write or stop failed
     (status: not all up)
  2  usage error, missing tool, bad configuration, unsafe state directory
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM (what it started is stopped)
EOH
}

action="" auth="" json=""
while (($#)); do
  case $1 in
    -h | --help) print_help && exit 0 ;;
    --auth) (($# >= 2)) || fail 2 "--auth needs a fixture name; $usage"; auth=$2 && shift ;;
    --auth=*) auth=${1#--auth=} ;;
    --json) json=1 ;;
    -*) fail 2 "unknown option '$1'; $usage" ;;
    *) [[ -z $action ]] || fail 2 "one action only (got '$action' and '$1'); $usage"; action=$1 ;;
  esac
  shift
done
# A run stopped by a signal (a CI job's timeout, ^C) stops what it started too.
trap on_exit EXIT
# shellcheck disable=SC2064 # the exit code, set now
for sig in HUP:129 INT:130 TERM:143; do trap "exit ${sig#*:}" "${sig%:*}"; done
[[ -n $action ]] || fail 2 "no action given; $usage"
acts "${actions[@]}" || fail 2 "unknown action '$action'. Actions are: ${actions[*]}"
[[ -z $auth ]] || acts start start-all || fail 2 "--auth applies to start and start-all only"
[[ -z $json || $action == status ]] || fail 2 "--json applies to status only"

# This script's directory, links resolved (installed: PREFIX/bin/start-stack).
src=${BASH_SOURCE[0]}
[[ ! -L $src ]] || src=$(readlink -f -- "$src")
[[ $src == /* ]] || src=$PWD/$src
here=${src%/*}

# need TOOL...: each found, else exit 2 naming it; ours in a variable of its name
# ("$db_reset": one fork a call), looked up as scripts/README.md says.
portfind="" portwait="" pidwait="" fixture_token="" db_reset="" httpwait=""
need() {
  local t d p hint=""
  for t; do
    if [[ $t == @(flock|setsid|openssl) ]]; then command -v "$t" >/dev/null || fail 2 "'$t' is not on PATH" && continue; fi
    p=""
    for d in ${STACKUTILS_BIN:+"$STACKUTILS_BIN"} "$here"/../target/{release,debug} "$here/../../lib/stackutils/bin"; do
      [[ ! -f $d/$t || ! -x $d/$t ]] || { p=$d/$t && break; }
    done
    [[ -n $p ]] || p=$(type -P "$t") || p=""
    if [[ $t == pidwait && $p != "$d/$t" && $("$p" --version 2>/dev/null) != *stackutils* ]]; then
      hint=" (procps' pidwait is not ours: put stackutils-pidwait on PATH)"
      p=$(type -P stackutils-pidwait) || p=""
    fi
    [[ -n $p ]] ||
      fail 2 "'$t' not found in ${STACKUTILS_BIN:+STACKUTILS_BIN, }$here/../target/{release,debug}, $here/../../lib/stackutils/bin or on PATH$hint"
    printf -v "${t//-/_}" '%s' "$p"
  done
}

# The data where the original found it: in an Arvados tree (ARVADOS_DIR), state
# in its tmp/; else ./tmp of the caller and, from a clone, the shared corpus.
if [[ -n ${ARVADOS_DIR:-} ]]; then
  [[ $ARVADOS_DIR == /* ]] || ARVADOS_DIR=$PWD/$ARVADOS_DIR
  state=${STACK_TMPDIR:-$ARVADOS_DIR/tmp}
  fixtures=${STACK_FIXTURES:-$ARVADOS_DIR/services/api/test/fixtures}
  template=${STACK_NGINX_TEMPLATE:-$ARVADOS_DIR/sdk/python/tests/nginx.conf}
  api_dir=${ARVADOS_API_DIR:-$ARVADOS_DIR/services/api}
else
  corpus=""
  [[ ! -f $here/../Cargo.toml ]] || corpus=$here/../../shared/corpus/arvados
  state=${STACK_TMPDIR:-tmp}
  fixtures=${STACK_FIXTURES:-$corpus}
  template=${STACK_NGINX_TEMPLATE:-${corpus:+$corpus/nginx-2015.conf}}
  api_dir=${ARVADOS_API_DIR:-.}
fi
[[ $state == /* ]] || state=$PWD/$state
git_tarball=${STACK_GIT_TARBALL:-}
timeout=${STACK_TIMEOUT:-10s}
stop_retry=${STACK_STOP_RETRY:-TERM/5/KILL/2}
# Leases outlast any run (each run gives its ports back as it exits; a killed
# one keeps them this long): portfind's 2m could lapse before a slow API server.
lease_time=${PORTFIND_LEASE:-1h}
# Commands are split on blanks; start-stack.sh appends the flags the original passed.
read -ra api_cmd <<<"${ARVADOS_API_SERVER_CMD:-bundle exec passenger start}"
read -ra keepstore_cmd <<<"${KEEPSTORE_CMD:-keepstore}"
read -ra keepproxy_cmd <<<"${KEEPPROXY_CMD:-keepproxy}"
read -ra git_cmd <<<"${ARV_GIT_HTTPD_CMD:-arv-git-httpd}"
read -ra nginx_cmd <<<"${NGINX_CMD:-nginx}"
# Passenger reports this address, and the certificate names it.
api_addr=0.0.0.0
services=(api keep0 keep1 keepproxy arv-git-httpd nginx)
declare -A ports_of=([api]=api [keep0]=keep0 [keep1]=keep1 [keepproxy]=keepproxy
  [arv-git-httpd]=arv-git-httpd [nginx]="keepproxy-ssl arv-git-httpd-ssl")
proxy_services=${ARVADOS_TEST_PROXY_SERVICES+set}
# external NAME: a parent runs NAME (never a storage server).
external() { if [[ $1 == api ]]; then [[ -n ${ARVADOS_TEST_API_HOST:-} ]]; else [[ $1 != keep? && -n $proxy_services ]]; fi; }
# TLS to the API server: our certificate pinned; a parent's not verified (as the original's clients).
tls=(--cacert "$state/self-signed.pem")
[[ -z ${ARVADOS_TEST_API_HOST:-} ]] || tls=(--insecure)

# check_config: the settings, before anything starts or stops (durations by pidwait's parser).
check_config() {
  [[ -z ${STACK_TIMEOUT:-} ]] || "$pidwait" --exit --quiet --timeout="$timeout" /proc/0/none 2>/dev/null ||
    fail 2 "STACK_TIMEOUT='$timeout': expected a duration, e.g. 250ms, 10s, 2m"
  [[ -z ${PORTFIND_LEASE:-} ]] || "$pidwait" --exit --quiet --timeout="$lease_time" /proc/0/none 2>/dev/null ||
    fail 2 "PORTFIND_LEASE='$lease_time': expected a duration, e.g. 30m, 1h"
  [[ -z ${STACK_STOP_RETRY:-} ]] || "$pidwait" --kill --quiet --retry="$stop_retry" /proc/0/none 2>/dev/null ||
    fail 2 "STACK_STOP_RETRY='$stop_retry': expected a pidwait --retry schedule, e.g. TERM/5/KILL/2"
  [[ -z ${STACK_PORT_RANGE:-} ]] || { [[ $STACK_PORT_RANGE =~ ^([1-9][0-9]{0,4})-([1-9][0-9]{0,4})$ ]] &&
    ((BASH_REMATCH[1] <= BASH_REMATCH[2] && BASH_REMATCH[2] <= 65535)); } ||
    fail 2 "STACK_PORT_RANGE='$STACK_PORT_RANGE': expected LOW-HIGH, ports from 1 to 65535, e.g. 20000-32767"
  ! acts start_arv-git-httpd start-all || [[ -z $git_tarball || -f $git_tarball ]] ||
    fail 2 "STACK_GIT_TARBALL: no such file: $git_tarball"
  ! acts start_nginx start-all || [[ -n $proxy_services || -r $template ]] ||
    fail 2 "STACK_NGINX_TEMPLATE: cannot read '$template' (set ARVADOS_DIR to an Arvados source tree, or STACK_NGINX_TEMPLATE)"
  ! acts start start_keep start_keep_proxy start-all || [[ -r $fixtures/api_client_authorizations.yml ]] ||
    fail 2 "STACK_FIXTURES: no api_client_authorizations.yml in '$fixtures' (set ARVADOS_DIR to an Arvados source tree, or STACK_FIXTURES)"
}

# check_state: the state directory (links resolved once) is ours alone, not sticky,
# and passes pidwait's pidfile path rules: no one can plant a link in it. Else exit 2.
check_state() {
  local err
  [[ -e $state || -L $state ]] || return 0
  [[ -d $state ]] || fail 2 "the state directory $state is not a directory"
  cd -P -- "$state" && state=$PWD && cd -- "$OLDPWD"
  [[ -O $state ]] || fail 2 "the state directory $state does not belong to this user (uid $EUID): refusing to use it"
  [[ ! -k $state ]] || fail 2 "the state directory $state has the sticky bit (a shared directory): refusing to use it"
  err=$("$pidwait" --running --quiet "$state/.none" 2>&1) || [[ $err != *"refusing pidfile"* ]] || {
    err=${err#*/.none: } && fail 2 "refusing the state directory $state: ${err%%; pass --trust-pidfile*}"
  }
}

# plain FILE...: each no symlink and, if it exists, a regular file (no FIFO), else exit 2.
plain() {
  local f
  for f; do
    [[ ! -L $f ]] || fail 2 "$f is a symbolic link: not following it (remove it if it is yours)"
    [[ ! -e $f || -f $f ]] || fail 2 "$f is not a regular file"
  done
}
# dir DIR: DIR made if missing; a link or anything but a directory there is exit 2.
dir() {
  [[ ! -L $1 ]] || fail 2 "$1 is a symbolic link: not following it (remove it if it is yours)"
  [[ ! -e $1 || -d $1 ]] || fail 2 "$1 is not a directory"
  [[ -d $1 ]] || mkdir -p -- "$1" || fail 1 "cannot create $1"
}

# write FILE TEXT: one write(2); a failed one says why and leaves no file behind.
write() {
  local err
  plain "$1"
  { printf '%s\n' "$2" >"$1"; } 2>/dev/null && return
  err=$({ printf '%s\n' "$2" >"$1"; } 2>&1) && return
  rm -f -- "$1"
  fail 1 "cannot write $1: ${err##*: }"
}

# first_line FILE: its first line, or nothing, in $line (no subshell, no error).
first_line() {
  line=""
  plain "$1"
  [[ ! -r $1 ]] || IFS= read -r line <"$1" || true
}

# getport NAME: the port in NAME.port, in $port; 9 (discard) if none, as the original.
getport() {
  first_line "$state/$1.port"
  port=${line:-9}
  [[ $port =~ ^[1-9][0-9]{0,4}$ && $port -le 65535 ]] ||
    fail 2 "$state/$1.port: expected a port number (1-65535), got '$port'"
}

# up NAME: its pidfile names a live process (in $pid) listening on its ports (in $list).
up() {
  local p port
  pid="" list=()
  [[ -e $state/$1.pid || -L $state/$1.pid ]] && pid=$("$pidwait" --running --quiet "$state/$1.pid" 2>/dev/null) || return
  for p in ${ports_of[$1]}; do getport "$p" && list+=("$port"); done
  "$portwait" --timeout 0 --pid "$pid" "${list[@]}" 2>/dev/null
}

# answering NAME TIMEOUT: NAME answers HTTP, any status but 5xx (nginx without
# its upstream); nginx through to the proxy and the git server (if they run).
answering() {
  local p port urls=()
  case $1 in
    api) getport api && urls=("https://$api_addr:$port/") ;;
    nginx)
      for p in keepproxy arv-git-httpd; do
        getport "$p"
        [[ $port == 9 ]] || { getport "$p-ssl" && urls+=("https://127.0.0.1:$port/"); }
      done
      ;;
    *) getport "$1" && urls=("http://127.0.0.1:$port/") ;;
  esac
  ((${#urls[@]})) || return 0
  { "$httpwait" --status 100-499 --cacert "$state/self-signed.pem" --timeout="$2" "${urls[@]}" >/dev/null; } 2>&1
}

# ask N: portfind asked for N ports (start-all: at the start), its answer on $leasing.
# lease N: N more free ports in the pool, leased by portfind (its message says why not).
ask() { exec {leasing}< <("$portfind" -n "$1" --lease "$lease_time" ${STACK_PORT_RANGE:+--range "$STACK_PORT_RANGE"} || true); }
lease() {
  local got=()
  [[ -n $leasing ]] || ask "$1"
  mapfile -t -u "$leasing" got && exec {leasing}<&- && leasing=""
  [[ ${#got[@]} == "$1" ]] ||
    fail 1 "could not lease $1 port(s) with portfind${STACK_PORT_RANGE:+ in $STACK_PORT_RANGE} (its message above)"
  pool+=("${got[@]}")
}

# begin NAME: NAME stopped, its ports (start-all's pool, else leased) written to
# its port files, in pps (the first in pp); again, the same ports. A parent's: status 1.
begin() {
  local p i=0 names n
  ! external "$1" || return 1
  if [[ -z ${begun[$1]:-} ]]; then
    stop "$1" || exit 1
    started+=("$1")
    read -ra names <<<"${ports_of[$1]}"
    n=${#names[@]}
    ((${#pool[@]} >= n)) || lease "$n"
    pps=("${pool[@]:0:n}") pool=("${pool[@]:n}")
    for p in "${names[@]}"; do write "$state/$p.port" "${pps[i++]}"; done
    begun[$1]=${pps[*]}
  fi
  read -ra pps <<<"${begun[$1]}"
  pp=${pps[0]}
}

# launch NAME CMD...: CMD detached (own session, output to NAME.log, lock not
# inherited), pid in $pid. VAR=value launch: VAR in its environment, not argv.
launch() {
  : >"$state/$1.log"
  setsid "${@:2}" </dev/null >>"$state/$1.log" 2>&1 9>&- &
  pid=$! launched[$1]=$!
}

# died NAME WHY: say why NAME failed to start, show its log, exit 1.
died() {
  say "$1 failed to start: $2"
  [[ ! -s $state/$1.log || ! -f $state/$1.log ]] ||
    { say "last lines of $state/$1.log:" && tail -n 15 -- "$state/$1.log" | sed 's/^/  | /' >&2; }
  exit 1
}

# listens NAME...: each launched by this run listens on its ports (fails at once if
# it exits). pidfiles NAME...: its pidfile names a live process (the listener's pid
# is proof enough); looked at a moment later, as many write it once they listen.
listens() {
  local name err
  for name; do
    [[ -n ${launched[$name]:-} ]] || continue
    read -ra pps <<<"${begun[$name]}"
    err=$("$portwait" --timeout="$timeout" --pid "${launched[$name]}" "${pps[@]}" 2>&1) ||
      died "$name" "not listening on port ${pps[*]} ($err)"
  done
}
pidfiles() {
  local name err
  for name; do
    [[ -n ${launched[$name]:-} ]] || continue
    first_line "$state/$name.pid"
    [[ $line == "${launched[$name]}" ]] || err=$("$pidwait" --timeout="$timeout" "$state/$name.pid" 2>&1 >/dev/null) ||
      died "$name" "no live process in $state/$name.pid ($err)"
  done
}
wait_up() { listens "$@"; pidfiles "$@"; }

# ensure_cert: made once, stored by write (openssl leaves empty files on a full disk).
ensure_cert() {
  local pem cert mask key
  [[ -s $state/self-signed.pem && -s $state/self-signed.key ]] && return
  need openssl
  # The name is in subjectAltName too, where TLS clients look for it. A P-256
  # key: made in ~5 ms where RSA's took ~240, and cheaper in each handshake.
  pem=$(openssl req -new -x509 -nodes -days 3650 -subj /CN=0.0.0.0 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:0.0.0.0" -keyout - 2>&1) || pem="failed: $pem"
  [[ $pem =~ -----BEGIN\ CERTIFICATE-----.*-----END\ CERTIFICATE----- ]] || pem="no certificate: $pem"
  cert=${BASH_REMATCH[0]:-}
  [[ $pem =~ -----BEGIN\ PRIVATE\ KEY-----.*-----END\ PRIVATE\ KEY----- && -n $cert ]] || {
    # What openssl said, without any key it printed before failing: its
    # lines of base64, up to its END line if it got that far.
    key=$'-----BEGIN [A-Z ]*PRIVATE KEY-----(\n[A-Za-z0-9+/=]+)*(\n-----END [A-Z ]*PRIVATE KEY-----|\n|$)'
    [[ ! $pem =~ $key ]] || pem=${pem/"${BASH_REMATCH[0]}"/<private key> }
    fail 1 "openssl could not make a certificate: ${pem//$'\n'/ }"
  }
  mask=$(umask) && umask 077
  write "$state/self-signed.key" "${BASH_REMATCH[0]}"
  umask "$mask" && write "$state/self-signed.pem" "$cert"
}

api_host="" token="" # the API server, the admin token
reset_api() {
  local err
  err=$("$db_reset" --host "$api_host" "${tls[@]}" --token-name admin --fixtures "$fixtures" --retry-for "$timeout" 2>&1) ||
    { say "database reset of $api_host failed: $err" && return 1; }
}
# api_up: ours runs and listens; its host in $api_host.
api_up() { local pid list port && up api && getport api && api_host=$api_addr:$port; }

# api METHOD PATH... (POST: PATH JSON...): one httpwait run, a call as admin for
# each PATH side by side, not retried (DELETE: gone already is fine); the bodies
# whole on stdout (a cut listing would leave old registrations). The token in
# httpwait's environment, never in argv; httpwait masks it in what it shows.
api() {
  local method=$1 status=200-299 args=()
  shift
  [[ $method != DELETE ]] || status+=,404
  [[ $method != POST ]] || args=(--header "Content-Type: application/json")
  while (($#)); do
    args+=("https://$api_host$1") && shift
    [[ $method != POST ]] || { args+=(--data "$1") && shift; }
  done
  ARVADOS_API_TOKEN=$token "$httpwait" --once --timeout 10s --try-timeout 10s --auth OAuth2 "${tls[@]}" \
    --status "$status" --method "$method" --print-body --body-limit 8M "${args[@]}" ||
    fail 1 "API call to https://$api_host failed (above)"
}
# post PATH JSON...: POSTed in the background; settle: all made. later: made while the proxy starts.
pending=() later=()
post() { (($# == 0)) || { api POST "$@" >/dev/null & pending+=($!); }; }
settle() {
  local p
  for p in "${pending[@]}"; do wait "$p" || exit 1; done
  pending=()
}
# delete_listed PATH...: every keep service and disk whose uuid is in the listings at PATH deleted.
delete_listed() {
  local text re="[a-z0-9]{5}-(bi6l4|penuu)-[a-z0-9]{15}" kind paths=()
  text=$(api GET "$@") || exit 1
  while [[ $text =~ $re ]]; do
    text=${text#*"${BASH_REMATCH[0]}"}
    kind=disks && [[ ${BASH_REMATCH[1]} != bi6l4 ]] || kind=services
    [[ " ${paths[*]} " == *"/${BASH_REMATCH[0]} "* ]] || paths+=("/arvados/v1/keep_$kind/${BASH_REMATCH[0]}")
  done
  ((${#paths[@]} == 0)) || api DELETE "${paths[@]}" >/dev/null
}

# register_start: the admin token, and the API server in $api_host.
register_start() {
  [[ -n $token ]] || token=$("$fixture_token" --fixtures "$fixtures" admin) || fail 2 "no admin token in $fixtures"
  [[ -n $api_host ]] || api_host=${ARVADOS_TEST_API_HOST:-}
  [[ -n $api_host ]] || api_up || fail 1 "the API server is not running (run 'start-stack.sh start' first)"
}

# launch_api: a parent's reset; ours reused if it runs and resets; else started.
launch_api() {
  if external api; then
    api_host=$ARVADOS_TEST_API_HOST
    reset_api || exit 1
  elif ! { api_up && { reset_api || ! say "restarting the API server"; }; }; then
    begin api
    ensure_cert
    launch api env -C "$api_dir" -u ARVADOS_TEST_API_HOST -u ARVADOS_API_HOST -u ARVADOS_API_HOST_INSECURE \
      -u ARVADOS_API_TOKEN RAILS_ENV=test ARVADOS_WEBSOCKETS=yes \
      "${api_cmd[@]}" -p "$pp" --pid-file "$state/api.pid" --log-file "$state/api.log" \
      --ssl --ssl-certificate "$state/self-signed.pem" --ssl-certificate-key "$state/self-signed.key"
    api_host=$api_addr:$pp
  fi
}
wait_api() { [[ -z ${launched[api]:-} ]] || { listens api && reset_api && pidfiles api; } || died api "the database reset failed"; }

# Two storage servers, on fresh volumes (mkdir fails rather than reuse a name);
# registered while they start, before the proxy, which reads the list as it starts.
keep_svcs=()
launch_keep() {
  local n vol svc
  for n in 0 1; do
    begin "keep$n"
    vol=$state/keep$n-volume.$SRANDOM
    mkdir -m 700 -- "$vol" || fail 1 "cannot create the volume $vol"
    write "$state/keep$n.volume" "$vol"
    launch "keep$n" "${keepstore_cmd[@]}" "-volume=$vol" "-listen=:$pp" "-pid=$state/keep$n.pid"
    printf -v svc '{"keep_service":{"uuid":"zzzzz-bi6l4-keepdisk%07d","service_host":"localhost","service_port":%d,"service_type":"disk","service_ssl_flag":false}}' "$n" "$pp"
    keep_svcs+=(/arvados/v1/keep_services "$svc")
    printf -v svc '{"keep_disk":{"keep_service_uuid":"zzzzz-bi6l4-keepdisk%07d"}}' "$n"
    later+=(/arvados/v1/keep_disks "$svc")
  done
}
register_keep() {
  # Every old registration (the proxy's too) goes, as the original did.
  delete_listed /arvados/v1/keep_services /arvados/v1/keep_disks
  api POST "${keep_svcs[@]}" >/dev/null
}

# launch_proxy: registered as the only proxy (start-all: register_keep deleted the old ones).
launch_proxy() {
  local svc
  begin keepproxy || return 0
  register_start
  ARVADOS_API_TOKEN=$token ARVADOS_API_HOST=$api_host ARVADOS_API_HOST_INSECURE=true \
    launch keepproxy "${keepproxy_cmd[@]}" "-pid=$state/keepproxy.pid" "-listen=:$pp"
  [[ $action == start-all ]] ||
    delete_listed '/arvados/v1/keep_services?filters=%5B%5B%22service_type%22%2C%22%3D%22%2C%22proxy%22%5D%5D'
  printf -v svc '{"keep_service":{"service_host":"localhost","service_port":%d,"service_type":"proxy","service_ssl_flag":false}}' "$pp"
  later+=(/arvados/v1/keep_services "$svc")
}

launch_git() {
  begin arv-git-httpd || return 0
  dir "$state/git" && dir "$state/git/test"
  [[ -z $git_tarball ]] || tar -xf "$git_tarball" -C "$state/git" || fail 2 "cannot unpack $git_tarball into $state/git"
  launch arv-git-httpd env -u ARVADOS_API_TOKEN "${git_cmd[@]}" "-repo-root=$state/git/test" "-address=:$pp"
  write "$state/arv-git-httpd.pid" "$pid" # it writes no pidfile of its own
}

# render TEMPLATE OUT NAME=VALUE...: {{NAME}}s replaced; one left is an error.
render() {
  local in=$1 out=$2 text="" kv line
  shift 2
  [[ -f $in && -r $in ]] || fail 2 "cannot read nginx template $in"
  IFS= read -r -d '' text <"$in" || true
  for kv; do text=${text//"{{${kv%%=*}}}"/"${kv#*=}"}; done
  if [[ $text =~ \{\{[A-Za-z0-9_]+\}\} ]]; then
    line=$(grep -n -m1 -F "${BASH_REMATCH[0]}" "$in")
    fail 2 "$in:${line%%:*}: no value for ${BASH_REMATCH[0]} (known: ${*%%=*})"
  fi
  write "$out" "${text%$'\n'}"
}

# launch_nginx: TLS for the proxy and the git server (start-all: the proxy's port in advance).
launch_nginx() {
  local port kp
  begin nginx || return 0
  ensure_cert
  getport keepproxy && kp=$port
  getport arv-git-httpd
  render "$template" "$state/nginx.conf" "KEEPPROXYPORT=$kp" "KEEPPROXYSSLPORT=${pps[0]}" "GITPORT=$port" \
    "GITSSLPORT=${pps[1]}" "SSLCERT=$state/self-signed.pem" "SSLKEY=$state/self-signed.key"
  dir "$state/nginx"
  launch nginx env PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin" "${nginx_cmd[@]}" -p "$state/nginx/" -e stderr \
    -g "error_log stderr info; pid $state/nginx.pid;" -c "$state/nginx.conf"
}
answer_nginx() {
  local err
  [[ -z ${launched[nginx]:-} ]] || err=$(answering nginx "$timeout") ||
    died nginx "not answering through to its upstreams (${err//$'\n'/ })"
}

# A closed stdout changes no exit code (here, or in status): the write fails, no SIGPIPE.
print_api() {
  trap '' PIPE
  [[ -n $auth ]] || { printf '%s\n' "$api_host" 2>/dev/null || true; return; }
  "$fixture_token" --fixtures "$fixtures" --export --host "$api_host" "$auth" || fail 1 "no fixture '$auth' for --auth"
}

# stop NAME...: each stopped by pidwait, side by side (the process group it leads,
# nginx's workers too, or what is left of it; never a stale pidfile's pid); then
# the ports of those stopped confirmed closed, and the files (volumes too) of all
# removed. Not running: success; a parent's left alone. One that cannot be
# stopped keeps no other running: said, status 1.
stop() {
  local name p port err fd prc rc=0 stopped notes names=() halted=() closing=() gone=()
  declare -A fds pids
  for name; do external "$name" || names+=("$name"); done
  stopping+=("${names[@]}")
  # A garbled port file is exit 2 before anything stops.
  for name in "${names[@]}"; do for p in ${ports_of[$name]}; do [[ ! -e $state/$p.port ]] || getport "$p"; done; done
  for name in "${names[@]}"; do
    # `|| exit`: its status for wait, without the ERR trap (set -E) saying "failed".
    # Not holding the lock (9): a stop cut short must not keep the next run out.
    [[ ! -e $state/$name.pid ]] || { exec {fd}< <(exec 9>&- && "${detach[@]}" "$pidwait" --kill --group --strict --retry="$stop_retry" \
      --remove "$state/$name.pid" 2>&1 || exit) && fds[$name]=$fd pids[$name]=$!; }
  done
  for name in "${names[@]}"; do
    stopped="" notes=()
    if [[ -n ${fds[$name]:-} ]]; then
      fd=${fds[$name]} && mapfile -t -u "$fd" notes && exec {fd}<&-
      wait "${pids[$name]}" && prc=0 || prc=$? # over 128: cut short by a signal
      [[ "${notes[*]}" == *"nothing to stop"* ]] || { stopped=1 && halted+=("$name"); }
      if ((prc != 0)) && [[ $prc != 1 || -n $stopped ]]; then
        # Its pidfile no help (empty, garbled): by the pid this run launched, if any.
        by_pid "$name" || { say "could not stop $name: ${notes[*]}" && rc=1 && continue; }
        say "$name: stopped by the pid this run started; by its pidfile: ${notes[*]}" && notes=()
      fi
      # pidwait's notes (a stale pidfile, what was left of a group) are passed on.
      for p in "${notes[@]}"; do
        p=${p#pidwait: }
        [[ -z $p || $p == *"is not running: nothing to stop" ]] || say "$name: ${p%: nothing to stop}"
      done
    fi
    [[ -n $stopped ]] || by_pid "$name" || true
    for p in ${ports_of[$name]}; do
      [[ -e $state/$p.port ]] || continue
      getport "$p" && gone+=("$state/$p.port")
      # Only the ports of a process we stopped (after a kill -9 a stranger may have one).
      [[ -z $stopped ]] || closing+=("$port")
    done
    if [[ $name == keep? && -e $state/$name.volume ]]; then
      first_line "$state/$name.volume" && gone+=("$state/$name.volume")
      # Only a volume this script made: a directory right in the state dir.
      if [[ $line == "$state/$name-volume."* && ${line#"$state/"} != */* && -d $line && ! -L $line ]]; then gone+=("$line")
      else say "not removing '$line' named by $state/$name.volume: not a volume start-stack.sh made"; fi
    fi
    [[ ! -e $state/$name.pid ]] || gone+=("$state/$name.pid")
  done
  ((${#closing[@]} == 0)) || err=$("$portwait" --closed --timeout="$timeout" "${closing[@]}" 2>&1) ||
    { say "${halted[*]} stopped, but port ${closing[*]} still listens: $err" && return 1; }
  ((${#gone[@]} == 0)) || rm -rf -- "${gone[@]}"
  return "$rc"
}

# by_pid NAME: NAME stopped by the pid this run launched it with, if that is still
# our child (a running job: no stranger can have the pid), its group too.
by_pid() {
  [[ " ${live_jobs[*]} " == *" ${launched[$1]:-none} "* ]] &&
    "${detach[@]}" "$pidwait" --kill --group --quiet --retry="$stop_retry" --pid "${launched[$1]}" 2>/dev/null 9>&-
}

# status: a line (--json: an object) per service: pid, ports and state.
status() {
  local name pid list shown word all=true out="" sep="" q
  [[ -z $json ]] || json_string "$state"
  for name in "${services[@]}"; do
    pid="" list=() word=down
    if external "$name"; then
      word=external
    elif up "$name"; then
      answering "$name" 1s >/dev/null && word=up || word=listening
    fi
    [[ $word == @(up|external) ]] || all=false
    printf -v shown '%s,' "${list[@]}"
    shown=${shown%,}
    out+="$sep{\"name\":\"$name\",\"pid\":${pid:-null},\"ports\":[$shown],\"state\":\"$word\"}" sep=,
    [[ -n $json ]] || printf '%-14s pid %-8s port %-12s %s\n' "$name" "${pid:--}" "${shown:--}" "$word" 2>/dev/null
  done
  [[ -z $json ]] || printf '{"state_dir":"%s","all_up":%s,"services":[%s]}\n' "$q" "$all" "$out" 2>/dev/null
  [[ $all == true ]]
}

# json_string TEXT: TEXT as the inside of a JSON string, in $q: `"`, `\` and every
# control character as \uXXXX; a byte that is no part of UTF-8 (JSON is UTF-8, a
# path need not be) as U+FFFD. Byte by byte whatever the caller's locale.
json_string() {
  local LC_ALL=C s=$1 c i=0
  local utf8=$'^([\xc2-\xdf]|\xe0[\xa0-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]|\xed[\x80-\x9f]|\xf0[\x90-\xbf][\x80-\xbf]|[\xf1-\xf3][\x80-\xbf]{2}|\xf4[\x80-\x8f][\x80-\xbf])[\x80-\xbf]'
  q=""
  while ((i < ${#s})); do
    c=${s:i:1}
    case $c in
      [\"\\[:cntrl:]]) printf -v c '\\u%04x' "'$c" && q+=$c ;;
      [[:print:]]) q+=$c ;;
      *) if [[ ${s:i:4} =~ $utf8 ]]; then q+=${BASH_REMATCH[0]} && i=$((i + ${#BASH_REMATCH[0]} - 1)); else q+='\ufffd'; fi ;;
    esac
    i=$((i + 1))
  done
}

need pidwait portwait
[[ $action == stop* ]] || need httpwait
if [[ $action == status ]]; then
  # Nothing is created or locked: status only looks.
  check_state
  trap '' PIPE
  status && exit 0
  exit 1
fi

need portfind fixture-token db-reset flock setsid
check_config
# start-all's ports asked for now, while the state directory is checked and locked.
[[ $action != start-all ]] || ask 7
check_state
# Without its state directory nothing of ours runs: a stop makes none.
[[ -d $state || $action != stop* ]] || exit 0
[[ -d $state ]] || { dir "$state" && check_state; }
plain "$state/.lock"
exec 9>>"$state/.lock"
flock -w 60 9 || fail 1 "another start-stack.sh holds $state/.lock"
# Every state file checked before anything starts or stops (a planted link: exit 2 now).
for name in "${services[@]}"; do plain "$state/$name".{log,pid,port}; done
plain "$state"/{nginx.conf,keepproxy-ssl.port,arv-git-httpd-ssl.port,self-signed.pem,self-signed.key,keep{0,1}.volume}
# A start reads other services' port files (nginx's template): a garbled one is exit 2 now.
if [[ $action == start* ]]; then
  read -ra names <<<"${ports_of[*]}"
  for p in "${names[@]}"; do [[ ! -e $state/$p.port ]] || getport "$p"; done
fi

[[ -z $auth ]] || err=$("$fixture_token" --fixtures "$fixtures" "$auth" 2>&1 >/dev/null) ||
  fail 2 "--auth $auth: $err"

case $action in
  # Each step a command of its own: set -e does not apply within an && list.
  start) launch_api; wait_api; print_api ;;
  # The API server first: without it, nothing starts.
  start_keep) register_start; launch_keep; register_keep; post "${later[@]}"; wait_up keep0 keep1; settle ;;
  start_keep_proxy) launch_proxy; post "${later[@]}"; wait_up keepproxy; settle ;;
  start_arv-git-httpd) launch_git; wait_up arv-git-httpd ;;
  start_nginx) launch_nginx; wait_up nginx; answer_nginx ;;
  stop) stop api || exit 1 ;;
  stop_keep) stop keep0 keep1 || exit 1 ;;
  stop_keep_proxy) stop keepproxy || exit 1 ;;
  stop_*) stop "${action#stop_}" || exit 1 ;;
  stop-all) stop "${services[@]}" || exit 1 ;;
  start-all)
    lease 7
    # The API server first: the longest way (start, reset, registrations, then
    # the proxy). Beside it the others, checked while the proxy starts.
    launch_api
    launch_keep
    launch_git
    begin keepproxy || true # a parent's: nothing to begin
    launch_nginx
    register_start
    wait_api
    register_keep
    launch_proxy
    post "${later[@]}"
    wait_up keep0 keep1 arv-git-httpd nginx
    listens keepproxy
    answer_nginx # last: it answers only through the others
    pidfiles keepproxy
    settle
    print_api
    ;;
esac
