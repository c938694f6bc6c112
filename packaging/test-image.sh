#!/usr/bin/env bash
# test-image.sh: export the root filesystem of each image variant (containers
# cannot run on these machines: cgroup v1) and run every binary in it under
# chroot, as the image's user. Checks the image has nothing but our files.
# Needs root (chroot). Usage: packaging/test-image.sh podman|docker IMAGE "TOOLS"
# The bash -c snippets take their arguments as $1: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: packaging/test-image.sh ENGINE IMAGE TOOLS" >&2; exit 2; }
engine=$1 image=$2
read -ra tools <<<"$3"
if [[ $(id -u) != 0 ]]; then
  [[ ${CI:-} != true ]] || { echo "test-image: needs root (chroot)" >&2; exit 1; }
  echo "SKIP: test-image needs root (chroot)" >&2
  exit 0
fi
work=$(mktemp -d)
cids=()
cleanup() {
  for c in "${cids[@]}"; do "$engine" rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fails=0 passes=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}" >/dev/null 2>&1; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}

for variant in "$image" "$image-nonroot"; do
  root=$work/${variant##*:}
  mkdir -p "$root"
  cid=$("$engine" create "$variant")
  cids+=("$cid")
  "$engine" export "$cid" | tar -C "$root" -x
  user=$("$engine" image inspect --format '{{.Config.User}}' "$variant")
  if [[ $variant == *-nonroot ]]; then
    check "$variant runs as 65532" test "$user" = 65532:65532
  else
    check "$variant runs as root" test -z "$user"
  fi
  spec=${user:-0:0}
  # Only our files: the tools, CA certificates, passwd/group, /tmp (the
  # engine adds /etc/hosts, /etc/resolv.conf, /dev, /proc, /sys, /run as mount points).
  extra=$(cd "$root" && find . -type f ! -path './usr/bin/*' ! -path './etc/ssl/certs/ca-certificates.crt' \
    ! -path './etc/passwd' ! -path './etc/group' ! -path './etc/hosts' ! -path './etc/resolv.conf' \
    ! -path './etc/hostname' ! -path './run/*' ! -path './dev/*')
  check "$variant holds only our files (extra: ${extra:-none})" test -z "$extra"
  check "$variant has no shell" test ! -e "$root/bin/sh"
  for t in "${tools[@]}"; do
    check "$variant: $t --version under chroot as $spec" \
      bash -c 'chroot --userspec="$1" "$2" /usr/bin/"$3" --version | grep -q "(stackutils)"' _ "$spec" "$root" "$t"
  done
  port=$(chroot --userspec="$spec" "$root" /usr/bin/portfind 2>&1) || port="failed: $port"
  check "$variant: portfind hands out a port as $spec (got '$port')" test "$port" -gt 0
  check "$variant: portwait sees that nothing listens on it" \
    bash -c '! chroot --userspec="$1" "$2" /usr/bin/portwait -t 100ms "127.0.0.1:$3"' _ "$spec" "$root" "$port"
  check "$variant: CA certificates for db-reset" test -s "$root/etc/ssl/certs/ca-certificates.crt"
done

echo "test-image: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
