#!/usr/bin/env bash
# start-stack.sh: start, reset and stop an Arvados-style test stack (API server
# with TLS, two storage servers, a storage proxy, a git server and nginx in
# front of the last two), composed from the stackutils tools. Every wait is
# bounded, a failed start says why and stops what it started, and stop leaves
# no process, listener or pidfile behind. See scripts/README.md.
set -Eeuo pipefail
# A command failing where no check expects it still says where.
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR

usage="usage: start-stack.sh ACTION [--auth NAME]"
actions=(start stop start_keep stop_keep start_keep_proxy stop_keep_proxy
  start_arv-git-httpd stop_arv-git-httpd start_nginx stop_nginx
  start-all stop-all status)

say() { printf 'start-stack: %s\n' "$*" >&2; }
# fail CODE MESSAGE: report and exit (1: did not come up / failed, 2: usage or fatal).
fail() {
  say "$2"
  exit "$1"
}

print_help() {
  cat <<EOF
$usage

Start, reset and stop the services of an Arvados test stack, as
run_test_server.py did, with bounded waits and clean stops.

Actions:
  start [--auth NAME]   start (or reuse) the API server, reset its database, print
                        its host, or with --auth the export lines for fixture NAME
  stop                  stop the API server
  start_keep|stop_keep  two storage servers, registered with the API server
  start_keep_proxy|stop_keep_proxy
  start_arv-git-httpd|stop_arv-git-httpd
  start_nginx|stop_nginx
  start-all [--auth NAME], stop-all
  status                one line per service; exit 0 only when all are up

Configuration (environment): STACK_TMPDIR, STACK_FIXTURES, STACK_NGINX_TEMPLATE,
STACK_GIT_TARBALL, STACK_TIMEOUT, STACK_STOP_RETRY, STACK_PORT_RANGE,
ARVADOS_API_SERVER_CMD, KEEPSTORE_CMD, KEEPPROXY_CMD, ARV_GIT_HTTPD_CMD, NGINX_CMD,
ARVADOS_TEST_API_HOST, ARVADOS_TEST_PROXY_SERVICES (see scripts/README.md).

Exit codes:
  0  success (status: every service is up)
  1  a service did not come up, a reset or registration failed (status: not all up)
  2  usage error, missing tool, bad configuration
EOF
}

# --- command line -----------------------------------------------------------

action="" auth=""
while (($#)); do
  case $1 in
    -h | --help)
      print_help
      exit 0
      ;;
    --auth)
      (($# >= 2)) || fail 2 "--auth needs a fixture name; $usage"
      auth=$2
      shift
      ;;
    --auth=*) auth=${1#--auth=} ;;
    -*) fail 2 "unknown option '$1'; $usage" ;;
    *)
      [[ -z $action ]] || fail 2 "one action only (got '$action' and '$1'); $usage"
      action=$1
      ;;
  esac
  shift
done
[[ -n $action ]] || fail 2 "no action given; $usage"
if [[ " ${actions[*]} " != *" $action "* ]]; then
  say "unknown action '$action'. Actions are: ${actions[*]}"
  exit 2
fi
if [[ -n $auth && $action != start && $action != start-all ]]; then
  fail 2 "--auth applies to start and start-all only"
fi

# --- configuration ----------------------------------------------------------

# (Paths by expansion: each fork costs a millisecond or two, and start-all
# is meant to add little to the services' own start-up.)
here=${BASH_SOURCE[0]%/*}
[[ $here != "${BASH_SOURCE[0]}" ]] || here=.
[[ $here == /* ]] || here=$PWD/$here
repo=${here%/*}
corpus=$repo/../shared/corpus/arvados
state=${STACK_TMPDIR:-$repo/tmp}
fixtures=${STACK_FIXTURES:-$corpus}
template=${STACK_NGINX_TEMPLATE:-$corpus/nginx-2015.conf}
git_tarball=${STACK_GIT_TARBALL:-}
timeout=${STACK_TIMEOUT:-10s}
stop_retry=${STACK_STOP_RETRY:-TERM/5/KILL/2}
# Commands are split on blanks; start-stack.sh appends the flags the original passed.
read -ra api_cmd <<<"${ARVADOS_API_SERVER_CMD:-bundle exec passenger start}"
read -ra keepstore_cmd <<<"${KEEPSTORE_CMD:-keepstore}"
read -ra keepproxy_cmd <<<"${KEEPPROXY_CMD:-keepproxy}"
read -ra git_cmd <<<"${ARV_GIT_HTTPD_CMD:-arv-git-httpd}"
read -ra nginx_cmd <<<"${NGINX_CMD:-nginx}"
api_dir=${ARVADOS_API_DIR:-.}
# Passenger reports this address, and the certificate names it.
api_addr=0.0.0.0
cert=$state/self-signed.pem
key=$state/self-signed.key
# Services, in start order, and the port files that belong to each.
services=(api keep0 keep1 keepproxy arv-git-httpd nginx)
declare -A ports_of=(
  [api]=api [keep0]=keep0 [keep1]=keep1 [keepproxy]=keepproxy
  [arv-git-httpd]=arv-git-httpd [nginx]="keepproxy-ssl arv-git-httpd-ssl"
)
proxy_services=${ARVADOS_TEST_PROXY_SERVICES+set}

pidwait_ok=""
# need TOOL...: each must be on PATH (and pidwait must be ours, not procps').
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || fail 2 "'$t' is not on PATH (install stackutils, or put its target/debug first)"
  done
  if [[ " $* " == *" pidwait "* && -z $pidwait_ok ]]; then
    [[ $(pidwait --version 2>/dev/null) == *stackutils* ]] ||
      fail 2 "'$(command -v pidwait)' is not stackutils' pidwait (procps has one too): put stackutils first on PATH"
    pidwait_ok=1
  fi
}

# check_config: the settings, before anything starts or stops, so that a typo
# is exit 2 now rather than a stack that cannot be stopped later. Durations
# and the stop schedule are checked by pidwait's own parser: with a pidfile
# that cannot exist (/proc has no pid 0) it only parses its options.
check_config() {
  if ! pidwait --exit --quiet --timeout "$timeout" /proc/0/none 2>/dev/null; then
    need pidwait # a missing or foreign pidwait is named as such
    fail 2 "STACK_TIMEOUT='$timeout': expected a duration, e.g. 250ms, 10s, 2m"
  fi
  pidwait --kill --quiet --retry "$stop_retry" /proc/0/none 2>/dev/null ||
    fail 2 "STACK_STOP_RETRY='$stop_retry': expected a pidwait --retry schedule, e.g. TERM/5/KILL/2"
  pidwait_ok=1
  if [[ -n ${STACK_PORT_RANGE:-} ]]; then
    if ! [[ $STACK_PORT_RANGE =~ ^([1-9][0-9]{0,4})-([1-9][0-9]{0,4})$ ]] ||
      ((BASH_REMATCH[1] > BASH_REMATCH[2] || BASH_REMATCH[2] > 65535)); then
      fail 2 "STACK_PORT_RANGE='$STACK_PORT_RANGE': expected LOW-HIGH, ports from 1 to 65535, e.g. 20000-32767"
    fi
  fi
  [[ $action != start_arv-git-httpd && $action != start-all ]] || [[ -z $git_tarball || -f $git_tarball ]] ||
    fail 2 "STACK_GIT_TARBALL: no such file: $git_tarball"
  [[ $action != start_nginx && $action != start-all ]] || [[ -n $proxy_services || -r $template ]] ||
    fail 2 "STACK_NGINX_TEMPLATE: cannot read $template"
  [[ $action != start && $action != start_keep && $action != start_keep_proxy && $action != start-all ]] ||
    [[ -r $fixtures/api_client_authorizations.yml ]] ||
    fail 2 "STACK_FIXTURES: no api_client_authorizations.yml in $fixtures"
}

# --- state files ------------------------------------------------------------

# write FILE TEXT: one write(2); a reader sees the old, an empty or the new file.
write() {
  printf '%s\n' "$2" >"$1"
}

# getport NAME: the port in NAME.port, in $port, or 9 (discard) when there is
# none (or it is being written), as the original did, so a template never
# silently gets an empty value.
getport() {
  local f=$state/$1.port
  port=9
  [[ -s $f ]] || return 0
  IFS= read -r port <"$f" || true
  [[ $port =~ ^[1-9][0-9]{0,4}$ && $port -le 65535 ]] ||
    fail 2 "$f: expected a port number (1-65535), got '$port'"
}

# newports N: N free ports, one a line in $ports: from the pool start-all
# fills with one portfind call, else leased from portfind now.
pool=()
newports() {
  if ((${#pool[@]} >= $1)); then
    printf -v ports '%s\n' "${pool[@]:0:$1}"
    ports=${ports%$'\n'}
    pool=("${pool[@]:$1}")
    return
  fi
  ports=$(portfind -n "$1" ${STACK_PORT_RANGE:+--range "$STACK_PORT_RANGE"}) ||
    fail 1 "no free port (portfind failed${STACK_PORT_RANGE:+ in range $STACK_PORT_RANGE})"
}

# first_line FILE: its first line, or nothing, in $line (no subshell, no error).
first_line() {
  line=""
  [[ -r $1 ]] && IFS= read -r line <"$1"
  return 0
}

# running PID: the process exists and is not a zombie (a look in /proc; no
# signal); its start time (clock ticks after boot) in $started_at, and
# $leader set when it leads its process group (as setsid made each service).
running() {
  local stat fields
  started_at="" leader=""
  [[ $1 =~ ^[1-9][0-9]*$ ]] && IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  read -ra fields <<<"${stat##*) }" # fields from the 3rd (state) on
  started_at=${fields[19]:-}
  [[ ${fields[2]} != "$1" ]] || leader=1
  [[ ${fields[0]} != [ZX] ]]
}

# orphans PID STARTED: the live processes, in $orphans, still in the process
# group and session that PID led and started no earlier than it (nginx's
# workers after a kill -9 of their master keep its ports). Linux does not
# reuse a pid while a group of that id has members, so these are its own.
orphans() {
  local d stat fields
  orphans=()
  [[ $1 =~ ^[1-9][0-9]*$ && $2 =~ ^[0-9]+$ ]] || return 0
  for d in /proc/[1-9]*; do
    IFS= read -r stat 2>/dev/null <"$d/stat" || continue
    read -ra fields <<<"${stat##*) }"
    if [[ ${fields[2]} == "$1" && ${fields[3]} == "$1" && ${fields[0]} != [ZX] ]] &&
      ((fields[19] >= $2)); then
      orphans+=("--pid=${d#/proc/}")
    fi
  done
}

# livepid NAME: the pid NAME's pidfile names, in $pid, when that process is alive.
livepid() {
  local f=$state/$1.pid
  pid=""
  [[ -e $f ]] && pid=$(pidwait --timeout 0 "$f" 2>/dev/null)
}

# up NAME: its pidfile names a live process that listens on all its ports.
up() {
  local pid p port list=()
  livepid "$1" || return 1
  for p in ${ports_of[$1]}; do
    getport "$p"
    list+=("$port")
  done
  portwait --timeout 0 --pid "$pid" "${list[@]}" 2>/dev/null
}

# --- starting ----------------------------------------------------------------

api_started_host="" # the API server this run started, reused or was given
started=() # what this run started, stopped again if the run fails
bound=()   # ports our services listen on now: their portfind leases can go
declare -A launched

# launch NAME CMD...: start CMD detached (own session, no terminal, output to
# NAME.log, our lock not inherited); sets $pid.
launch() {
  local name=$1 log
  shift
  log=$state/$name.log
  : >"$log"
  setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
  pid=$!
  launched[$name]=$pid
  started+=("$name")
}

# died NAME WHY: the service failed to start: say why, show its log, exit 1
# (the exit trap stops what this run started).
died() {
  local log
  log=$state/$1.log
  say "$1 failed to start: $2"
  if [[ -s $log ]]; then
    say "last lines of $log:"
    tail -n 15 "$log" | sed 's/^/  | /' >&2
  fi
  exit 1
}

# wait_up NAME PID PORT...: wait until PID listens on every PORT (failing at
# once if it exits), then until NAME's pidfile names a live process. With
# $defer set, the wait is only noted, for wait_deferred.
defer="" deferred=()
wait_up() {
  local name=$1 pid=$2 err
  if [[ -n $defer ]]; then
    deferred+=("$*")
    return
  fi
  shift 2
  err=$(portwait --timeout "$timeout" --pid "$pid" "$@" 2>&1) ||
    died "$name" "not listening on port $* ($err)"
  # Usually the pidfile names the process that listens: then that is proven.
  first_line "$state/$name.pid"
  if [[ $line != "$pid" ]]; then
    err=$(pidwait --timeout "$timeout" "$state/$name.pid" 2>&1 >/dev/null) ||
      died "$name" "no live process in $state/$name.pid ($err)"
    first_line "$state/$name.pid"
  fi
  # Its start time, so that stop never signals another process that got the
  # same pid later (after a reboot or a kill -9 and a long time).
  running "$line" && write "$state/$name.started" "$started_at"
  bound+=("$@")
}

# wait_deferred: the noted waits, in order (the services start meanwhile).
wait_deferred() {
  local args
  defer=""
  for args in "${deferred[@]}"; do
    # shellcheck disable=SC2086 # NAME PID PORT...: no blanks in any
    wait_up $args
  done
  deferred=()
}

ensure_cert() {
  [[ -s $cert && -s $key ]] && return
  need openssl
  # The name is in subjectAltName too, where TLS clients look for it.
  openssl req -new -x509 -nodes -days 3650 -subj /CN=0.0.0.0 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:0.0.0.0" \
    -out "$cert.tmp" -keyout "$key.tmp" 2>"$state/openssl.log" ||
    fail 2 "openssl could not make a certificate: $(tail -n 3 "$state/openssl.log")"
  mv -f "$key.tmp" "$key"
  mv -f "$cert.tmp" "$cert"
}

# api_host: the API server to talk to, in $host: a parent's, or ours when it is up.
api_host() {
  local port
  if [[ -n ${ARVADOS_TEST_API_HOST:-} ]]; then
    host=$ARVADOS_TEST_API_HOST
  elif [[ -n $api_started_host ]] || up api; then
    getport api
    host=$api_addr:$port
  else
    fail 1 "the API server is not running (run 'start-stack.sh start' first)"
  fi
}

# reset_api HOST: reset its database; our certificate is pinned for our own
# server, a parent's is not verified (as the original's clients did).
reset_api() {
  local host=$1 tls=(--cacert "$cert") err
  [[ -z ${ARVADOS_TEST_API_HOST:-} ]] || tls=(--insecure)
  err=$(db-reset --host "$host" "${tls[@]}" --token-name admin --fixtures "$fixtures" \
    --retry-for "$timeout" 2>&1) || {
    say "database reset of $host failed: $err"
    return 1
  }
}


# Calls to the API server as admin are queued with api_add and made by
# api_send in one curl run (one process, one connection). The token goes to
# curl in its config on stdin, never on its command line (ps shows that).
requests="" reply="" token=""
# q VALUE: VALUE as a quoted curl config string, in $quoted.
q() {
  quoted=${1//\\/\\\\}
  quoted="\"${quoted//\"/\\\"}\""
}
# api_add METHOD PATH [JSON]
api_add() {
  [[ -z $requests ]] || requests+=$'next\n'
  q "https://$host$2"
  requests+="url = $quoted"$'\n'"request = $1"$'\n'
  q "Authorization: OAuth2 $token"
  requests+="header = $quoted"$'\n'
  requests+=$'silent\nshow-error\nfail-with-body\nmax-time = 10\nwrite-out = "\\n--end--\\n"\n'
  if [[ -z ${ARVADOS_TEST_API_HOST:-} ]]; then
    q "$cert"
    requests+="cacert = $quoted"$'\n'
  else
    requests+=$'insecure\n' # a parent's server: as the original's clients did
  fi
  if [[ -n ${3:-} ]]; then
    q "$3"
    requests+=$'header = "Content-Type: application/json"\n'"data-binary = $quoted"$'\n'
  fi
}
# api_send: make the queued calls; their bodies, each followed by a line
# --end--, in $reply.
api_send() {
  reply=""
  [[ -n $requests ]] || return 0
  reply=$(curl --fail-early -K - <<<"$requests" 2>&1) || fail 1 "API call to https://$host failed: $reply"
  requests=""
}

# register_start: the API host and admin token for the registration calls.
register_start() {
  need curl fixture-token
  api_host
  [[ -n $token ]] || token=$(fixture-token --fixtures "$fixtures" admin) ||
    fail 2 "no admin token in $fixtures"
}

# delete_listed KIND INFIX TEXT: queue a DELETE for each uuid of KIND in TEXT.
delete_listed() {
  local text=$3 re="[a-z0-9]{5}-$2-[a-z0-9]{15}"
  declare -A seen=()
  while [[ $text =~ $re ]]; do
    text=${text#*"${BASH_REMATCH[0]}"}
    [[ -n ${seen[${BASH_REMATCH[0]}]:-} ]] && continue
    seen[${BASH_REMATCH[0]}]=1
    api_add DELETE "/arvados/v1/$1/${BASH_REMATCH[0]}"
  done
}

start_api() {
  need portfind portwait pidwait fixture-token db-reset
  local host port
  if [[ -n ${ARVADOS_TEST_API_HOST:-} ]]; then
    # A parent started the server: only reset it.
    host=$ARVADOS_TEST_API_HOST
    reset_api "$host" || exit 1
  else
    if up api; then
      getport api
      host=$api_addr:$port
      if reset_api "$host"; then
        api_started_host=$host
        return
      fi
      say "restarting the API server"
    fi
    stop_service api
    ensure_cert
    newports 1
    port=$ports
    write "$state/api.port" "$port"
    launch api env -C "$api_dir" -u ARVADOS_TEST_API_HOST -u ARVADOS_API_HOST -u ARVADOS_API_HOST_INSECURE \
      -u ARVADOS_API_TOKEN RAILS_ENV=test ARVADOS_WEBSOCKETS=yes \
      "${api_cmd[@]}" -p "$port" --pid-file "$state/api.pid" --log-file "$state/api.log" \
      --ssl --ssl-certificate "$cert" --ssl-certificate-key "$key"
    wait_up api "$pid" "$port"
    host="$api_addr:$port"
    reset_api "$host" || died api "the database reset failed"
  fi
  api_started_host=$host
}

# print_api: the host, or with --auth the export lines.
print_api() {
  if [[ -n $auth ]]; then
    fixture-token --fixtures "$fixtures" --export --host "$api_started_host" "$auth" ||
      fail 1 "no fixture '$auth' for --auth"
  else
    printf '%s\n' "$api_started_host"
  fi
}

start_keep() {
  need portfind portwait pidwait fixture-token curl
  stop_keep
  register_start
  local n svc port=() kpid=() vol=()
  newports 2
  port=("${ports%%$'\n'*}" "${ports##*$'\n'}")
  # Fresh volumes (mkdir fails rather than reuse a name).
  vol=("$state/keep0-volume.$SRANDOM" "$state/keep1-volume.$SRANDOM")
  mkdir -m 700 -- "${vol[@]}"
  # Both start side by side; they share nothing.
  for n in 0 1; do
    write "$state/keep$n.volume" "${vol[n]}"
    write "$state/keep$n.port" "${port[n]}"
    launch "keep$n" "${keepstore_cmd[@]}" "-volume=${vol[n]}" "-listen=:${port[n]}" "-pid=$state/keep$n.pid"
    kpid[n]=$pid
  done
  # While they start: the old registrations, to go, as the original did.
  api_add GET /arvados/v1/keep_services
  api_add GET /arvados/v1/keep_disks
  api_send
  delete_listed keep_services bi6l4 "${reply%%--end--*}"
  delete_listed keep_disks penuu "${reply#*--end--}"
  for n in 0 1; do
    wait_up "keep$n" "${kpid[n]}" "${port[n]}"
    printf -v svc '{"keep_service":{"uuid":"zzzzz-bi6l4-keepdisk%07d","service_host":"localhost","service_port":%d,"service_type":"disk","service_ssl_flag":false}}' "$n" "${port[n]}"
    api_add POST /arvados/v1/keep_services "$svc"
    printf -v svc '{"keep_disk":{"keep_service_uuid":"zzzzz-bi6l4-keepdisk%07d"}}' "$n"
    api_add POST /arvados/v1/keep_disks "$svc"
  done
  api_send
}

start_keep_proxy() {
  [[ -z $proxy_services ]] || return 0
  need portfind portwait pidwait fixture-token curl
  stop_service keepproxy
  register_start
  local port
  newports 1
  port=$ports
  write "$state/keepproxy.port" "$port"
  launch keepproxy env ARVADOS_API_TOKEN="$token" ARVADOS_API_HOST="$host" ARVADOS_API_HOST_INSECURE=true \
    "${keepproxy_cmd[@]}" "-pid=$state/keepproxy.pid" "-listen=:$port"
  # While it starts, as the original did: the old proxy registrations go and
  # the new one is made.
  local svc kp=$pid
  api_add GET '/arvados/v1/keep_services?filters=%5B%5B%22service_type%22%2C%22%3D%22%2C%22proxy%22%5D%5D'
  api_send
  delete_listed keep_services bi6l4 "$reply"
  printf -v svc '{"keep_service":{"service_host":"localhost","service_port":%d,"service_type":"proxy","service_ssl_flag":false}}' "$port"
  api_add POST /arvados/v1/keep_services "$svc"
  api_send
  wait_up keepproxy "$kp" "$port"
}

start_git() {
  [[ -z $proxy_services ]] || return 0
  need portfind portwait pidwait
  stop_service arv-git-httpd
  local gitdir=$state/git port
  [[ -d $gitdir/test ]] || mkdir -p "$gitdir/test"
  if [[ -n $git_tarball ]]; then
    [[ -f $git_tarball ]] || fail 2 "STACK_GIT_TARBALL: no such file: $git_tarball"
    tar -xf "$git_tarball" -C "$gitdir" || fail 2 "cannot unpack $git_tarball into $gitdir"
  fi
  newports 1
  port=$ports
  write "$state/arv-git-httpd.port" "$port"
  launch arv-git-httpd env -u ARVADOS_API_TOKEN \
    "${git_cmd[@]}" "-repo-root=$gitdir/test" "-address=:$port"
  # It writes no pidfile of its own.
  write "$state/arv-git-httpd.pid" "$pid"
  wait_up arv-git-httpd "$pid" "$port"
}

# render TEMPLATE OUT NAME=VALUE...: replace each {{NAME}}; a name without a
# value is an error naming it and its line.
render() {
  local in=$1 out=$2 text rest name line re='\{\{([A-Za-z0-9_]+)\}\}'
  shift 2
  declare -A vals=()
  for name in "$@"; do vals[${name%%=*}]=${name#*=}; done
  [[ -r $in ]] || fail 2 "cannot read nginx template $in"
  text=$(<"$in")
  rest=$text
  while [[ $rest =~ $re ]]; do
    name=${BASH_REMATCH[1]}
    rest=${rest#*"${BASH_REMATCH[0]}"}
    if [[ -z ${vals[$name]+set} ]]; then
      line=$(grep -n -m1 -F "{{$name}}" "$in")
      fail 2 "$in:${line%%:*}: no value for {{$name}} (known: ${!vals[*]})"
    fi
    text=${text//"{{$name}}"/"${vals[$name]}"}
  done
  printf '%s\n' "$text" >"$out"
}

start_nginx() {
  [[ -z $proxy_services ]] || return 0
  need portfind portwait pidwait
  stop_service nginx
  ensure_cert
  local port ports kp_ssl git_ssl kp git conf=$state/nginx.conf
  getport keepproxy
  kp=$port
  getport arv-git-httpd
  git=$port
  newports 2
  kp_ssl=${ports%%$'\n'*}
  git_ssl=${ports##*$'\n'}
  render "$template" "$conf" "KEEPPROXYPORT=$kp" "KEEPPROXYSSLPORT=$kp_ssl" \
    "GITPORT=$git" "GITSSLPORT=$git_ssl" "SSLCERT=$cert" "SSLKEY=$key"
  write "$state/keepproxy-ssl.port" "$kp_ssl"
  write "$state/arv-git-httpd-ssl.port" "$git_ssl"
  [[ -d $state/nginx ]] || mkdir -p "$state/nginx"
  launch nginx env PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin" \
    "${nginx_cmd[@]}" -p "$state/nginx/" -e stderr \
    -g "error_log stderr info; pid $state/nginx.pid;" -c "$conf"
  wait_up nginx "$pid" "$kp_ssl" "$git_ssl"
}

# --- stopping ----------------------------------------------------------------

# stop_service NAME: TERM, then KILL on a bounded schedule; pidfile removed;
# its ports confirmed closed. Stopping what is not running succeeds.
stop_service() {
  local name=$1 pf p port err list=() pid="" stopped=""
  pf=$state/$name.pid
  for p in ${ports_of[$name]}; do
    [[ -e $state/$p.port ]] || continue
    getport "$p"
    list+=("$port")
  done
  if [[ -e $pf ]]; then
    first_line "$pf"
    pid=$line
    first_line "$state/$name.started"
    if ! running "$pid"; then
      # Gone (kill -9): what is left of its group is stopped too.
      orphans "$pid" "$line"
      pid=""
      if ((${#orphans[@]})); then
        err=$(pidwait --kill --quiet --retry "$stop_retry" "${orphans[@]}" 2>&1) ||
          fail 1 "could not stop what is left of $name (${orphans[*]#--pid=}): $err"
        stopped=1
      fi
    elif [[ -n $line && $line != "$started_at" ]]; then
      say "$name: pid $pid in $pf is another process now (it started later): not signalling it"
      pid=""
    else
      # The whole group when it leads one: a KILL to nginx's master would
      # leave its workers listening.
      err=$(pidwait --kill --retry "$stop_retry" ${leader:+--group} --remove "$pf" 2>&1) ||
        fail 1 "could not stop $name: $err"
      stopped=1
    fi
    rm -f "$pf"
  fi
  [[ ! -e $state/$name.started ]] || rm -f "$state/$name.started"
  # A process this run launched that never wrote its pidfile.
  if [[ -n ${launched[$name]:-} && ${launched[$name]} != "$pid" ]] && running "${launched[$name]}"; then
    pidwait --kill --quiet --retry "$stop_retry" ${leader:+--group} --pid "${launched[$name]}" 2>/dev/null || true
  fi
  # Only a port of a process we stopped is ours to wait on; after a kill -9
  # the port may belong to a stranger by now.
  if [[ -n $stopped && ${#list[@]} -gt 0 ]]; then
    err=$(portwait --closed --timeout "$timeout" "${list[@]}" 2>&1) ||
      fail 1 "$name stopped but port ${list[*]} still listens: $err"
  fi
  for p in ${ports_of[$name]}; do
    [[ ! -e $state/$p.port ]] || rm -f "$state/$p.port"
  done
}

stop_keep() {
  local n vol
  for n in 0 1; do
    stop_service "keep$n"
    if [[ -e $state/keep$n.volume ]]; then
      vol=$(<"$state/keep$n.volume")
      # Remove only a volume this script made: a directory in the state dir.
      if [[ $vol == "$state/keep$n-volume."* && -d $vol && ! -L $vol ]]; then
        rm -rf -- "$vol"
      else
        say "not removing '$vol' named by $state/keep$n.volume: not a volume start-stack.sh made"
      fi
      rm -f "$state/keep$n.volume"
    fi
  done
}

stop_api() {
  # A server provided by a parent is not ours to stop.
  [[ -z ${ARVADOS_TEST_API_HOST:-} ]] || return 0
  stop_service api
}

stop_proxied() {
  [[ -z $proxy_services ]] || return 0
  stop_service "$1"
}

# On a failed start, stop what this run started, newest first.
rollback() {
  local i
  set +e
  ((${#started[@]})) || return 0
  say "stopping what this run started: ${started[*]}"
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    case ${started[i]} in
      keep0 | keep1) (stop_keep) ;;
      *) (stop_service "${started[i]}") ;;
    esac
  done
}

status() {
  need pidwait portwait
  local name p port pid shown state_word all=0
  for name in "${services[@]}"; do
    shown=""
    for p in ${ports_of[$name]}; do
      getport "$p"
      shown+=${shown:+,}$port
    done
    livepid "$name" || pid=-
    if [[ -n $proxy_services && $name != api && $name != keep[01] ]] ||
      [[ $name == api && -n ${ARVADOS_TEST_API_HOST:-} ]]; then
      state_word=external
    elif up "$name"; then
      state_word=up
    else
      state_word=down
      all=1
    fi
    printf '%-14s pid %-8s port %-12s %s\n' "$name" "$pid" "$shown" "$state_word"
  done
  return "$all"
}

# --- main ----------------------------------------------------------------------

[[ -d $state ]] || mkdir -p "$state" || fail 2 "cannot create the state directory $state"
[[ $state == /* ]] || state=$PWD/$state
cert=$state/self-signed.pem
key=$state/self-signed.key

if [[ $action == status ]]; then
  status && exit 0
  exit 1
fi

check_config
# One run at a time per state directory (bounded wait).
need flock setsid
exec 9>"$state/.lock"
flock -w 60 9 || fail 1 "another start-stack.sh holds $state/.lock"
on_exit() {
  local rc=$? p args=()
  ((rc == 0)) || rollback
  for p in "${bound[@]}" "${pool[@]}"; do args+=(--release "$p"); done
  ((${#args[@]} == 0)) || portfind "${args[@]}" 2>/dev/null || true
  exit "$rc"
}
trap on_exit EXIT

if [[ -n $auth ]]; then
  need fixture-token
  err=$(fixture-token --fixtures "$fixtures" "$auth" 2>&1 >/dev/null) || fail 2 "--auth $auth: $err"
fi

case $action in
  start)
    start_api
    print_api
    ;;
  stop) stop_api ;;
  start_keep) start_keep ;;
  stop_keep) stop_keep ;;
  start_keep_proxy) start_keep_proxy ;;
  stop_keep_proxy) stop_proxied keepproxy ;;
  start_arv-git-httpd) start_git ;;
  stop_arv-git-httpd) stop_proxied arv-git-httpd ;;
  start_nginx) start_nginx ;;
  stop_nginx) stop_proxied nginx ;;
  start-all)
    newports 7 # all the stack's ports in one call
    mapfile -t pool <<<"$ports"
    start_api
    start_keep
    # The proxy, the git server and nginx (which needs only their ports)
    # start side by side; nothing of theirs waits on another's start-up.
    defer=1
    start_keep_proxy
    start_git
    start_nginx
    wait_deferred
    print_api
    ;;
  stop-all)
    # Side by side, each in a subshell: one that cannot be stopped does not
    # keep the rest running. Each stop is bounded, so each wait is too.
    rc=0 stops=()
    (stop_proxied nginx) &
    stops+=($!)
    (stop_proxied arv-git-httpd) &
    stops+=($!)
    (stop_proxied keepproxy) &
    stops+=($!)
    (stop_keep) &
    stops+=($!)
    (stop_api) &
    stops+=($!)
    for job in "${stops[@]}"; do
      wait "$job" || rc=1
    done
    exit "$rc"
    ;;
esac
