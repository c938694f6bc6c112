#!/usr/bin/env bash
# Benchmarks db-reset's round trip (start, TLS handshake, POST, answer) against
# curl doing the same request to the same local nginx. Prints a Markdown
# section on stdout. Usage: bench/db-reset.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/db-reset
cargo build --release -q -p db-reset  # a no-op when up to date; never bench a stale binary
for tool in nginx openssl curl hyperfine; do
  command -v "$tool" >/dev/null || { echo "db-reset.sh: needs $tool" >&2; exit 2; }
done

tmp=$(mktemp -d)
nginx_pid=
cleanup() {
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A CA and a leaf for 127.0.0.1 (full verification), and a certificate made
# the way the original test server made its own (pinned by db-reset).
(
  cd "$tmp"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
  openssl req -new -x509 -nodes "${ec[@]}" -days 2 -subj "/CN=bench CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout ca.key -out ca.pem
  openssl req -new -nodes "${ec[@]}" -subj /CN=localhost -keyout leaf.key -out leaf.csr
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > leaf.ext
  openssl x509 -req -days 2 -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -extfile leaf.ext -out leaf.pem
  openssl req -new -x509 -nodes -newkey rsa:2048 -days 2 -subj /CN=0.0.0.0 \
    -keyout self.key -out self.pem
) 2>/dev/null

token=4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h
verified=$(free_port)
pinned=$(free_port)
mkdir -p "$tmp/logs"
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
error_log $tmp/logs/error.log;
pid $tmp/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $tmp/logs;
  proxy_temp_path $tmp/logs;
  fastcgi_temp_path $tmp/logs;
  uwsgi_temp_path $tmp/logs;
  scgi_temp_path $tmp/logs;
  server {
    listen 127.0.0.1:$verified ssl;
    ssl_certificate $tmp/leaf.pem;
    ssl_certificate_key $tmp/leaf.key;
    include $tmp/reset.conf;
  }
  server {
    listen 127.0.0.1:$pinned ssl;
    ssl_certificate $tmp/self.pem;
    ssl_certificate_key $tmp/self.key;
    include $tmp/reset.conf;
  }
}
CONF
cat > "$tmp/reset.conf" <<CONF
location = /database/reset {
  if (\$http_authorization != "OAuth2 $token") { return 401; }
  return 200 "{}\n";
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' &
nginx_pid=$!

export ARVADOS_API_TOKEN=$token
# db-reset doubles as the readiness check: it retries while nginx starts.
"$bin" --host "127.0.0.1:$verified" --cacert "$tmp/ca.pem" --retry-for 10s
"$bin" --host "127.0.0.1:$pinned" --cacert "$tmp/self.pem" --retry-for 10s
curl -sSf -o /dev/null -X POST -H "Authorization: OAuth2 $token" --cacert "$tmp/ca.pem" \
  "https://127.0.0.1:$verified/database/reset"

run() { # name, then two commands: ours and curl's
  hyperfine --shell=none --warmup 5 --runs 100 --style none --export-markdown "$tmp/$1.md" \
    -n "$2" "$3" -n "$4" "$5" >/dev/null 2>&1
  tail -n +3 "$tmp/$1.md"
}

# hyperfine splits on spaces; the header must be one word, so put it in a config file.
printf 'header = "Authorization: OAuth2 %s"\n' "$token" > "$tmp/curlrc"
curl_post="curl -sSf -o /dev/null -X POST -K $tmp/curlrc"

echo "## db-reset"
echo
echo "One reset round trip (process start, TCP, TLS 1.3 handshake, POST, 200) against a local"
echo "nginx that checks the Authorization header, beside curl $(curl --version | head -1 | cut -d' ' -f2) doing the same request."
echo
echo "| Command | Mean [ms] | Min [ms] | Max [ms] | Relative |"
echo "|:---|---:|---:|---:|---:|"
run verified \
  "db-reset --cacert ca.pem (CA-verified leaf)" "$bin --host 127.0.0.1:$verified --cacert $tmp/ca.pem" \
  "curl --cacert ca.pem" "$curl_post --cacert $tmp/ca.pem https://127.0.0.1:$verified/database/reset"
run insecure \
  "db-reset --insecure" "$bin --host 127.0.0.1:$verified --insecure" \
  "curl -k" "$curl_post -k https://127.0.0.1:$verified/database/reset"
run pinned \
  "db-reset --cacert self.pem (original's cert, pinned)" "$bin --host 127.0.0.1:$pinned --cacert $tmp/self.pem" \
  "curl -k (curl cannot verify that cert)" "$curl_post -k https://127.0.0.1:$pinned/database/reset"
echo
echo "Method: \`bench/db-reset.sh\`, hyperfine without a shell, 5 warm-up and 100 timed runs per"
echo "command, release build, one nginx (1 worker) serving both, certificates made by openssl"
echo "for the run (P-256 CA and leaf; RSA-2048 self-signed CN=0.0.0.0 like the original's)."
echo "Each pair is timed together; \"Relative\" compares within a pair. db-reset reads the system"
echo "CA store (/etc/ssl/certs) only when --cacert's certificates do not vouch for the server;"
echo "curl --cacert reads only ca.pem."
echo "Load average when measured: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
# The ratio, last: the pinned pair (the original's kind of certificate), curl's mean over ours.
mean() { sed -n "${1}p" "$tmp/pinned.md" | awk -F'|' '{ split($3, m, " "); print m[1] }'; }
echo
awk -v ours="$(mean 3)" -v curl="$(mean 4)" \
  'BEGIN { printf "Pinned round trip: db-reset %.1f ms, curl %.1f ms: %.1fx faster\n", ours, curl, curl / ours }'
