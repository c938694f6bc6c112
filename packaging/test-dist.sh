#!/usr/bin/env bash
# test-dist.sh: unpack the release tarball in a fresh directory, check its
# SHA256SUMS, and run every binary from it: each must be static (ldd, and no
# ELF interpreter or NEEDED entry), answer --version as stackutils and --help with 0,
# and portfind must really hand out a port. Prints the binary sizes.
# Usage: packaging/test-dist.sh TARBALL "TOOLS"   (run by make test-dist)
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: packaging/test-dist.sh TARBALL TOOLS" >&2; exit 2; }
tarball=$(realpath "$1")
read -ra tools <<<"$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}" >/dev/null 2>&1; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}

tar -C "$work" -xzf "$tarball"
name=$(basename "$tarball" .tar.gz)
dir=$work/$name
check "the tarball unpacks into $name/" test -d "$dir"
check "no group- or world-writable entry in the tarball" \
  bash -c "! tar -tvzf '$tarball' | grep -Eq '^.....w|^........w'"
check "SHA256SUMS matches every file" bash -c "cd '$dir' && sha256sum --quiet -c SHA256SUMS"
check "SHA256SUMS lists every file" \
  test "$(cd "$dir" && find . -type f ! -name SHA256SUMS | wc -l)" = "$(wc -l <"$dir/SHA256SUMS")"
for f in README.md LICENSE CHANGELOG.md scripts/start-stack.sh scripts/lsb-service scripts/aoe-init; do
  check "$f included" test -s "$dir/$f"
done

echo "| binary | size |"
echo "|---|---:|"
for t in "${tools[@]}"; do
  b=$dir/bin/$t
  check "bin/$t included" test -x "$b"
  # Rust links musl binaries static-pie (ASLR kept): glibc's ldd says
  # "statically linked" for those, "not a dynamic executable" for non-PIE.
  check "$t is static (ldd)" bash -c "ldd '$b' 2>&1 | grep -Eq 'not a dynamic executable|statically linked'"
  check "$t has no interpreter and needs no shared library" \
    bash -c "! readelf -lW '$b' | grep -q 'INTERP' && ! readelf -dW '$b' | grep -q '(NEEDED)'"
  check "$t --version says stackutils" bash -c "'$b' --version | grep -q '(stackutils)'"
  check "$t --help exits 0" "$b" --help
  page=$t
  [[ $t != pidwait ]] || page=stackutils-pidwait
  check "man/$page.1 included" test -s "$dir/man/$page.1"
  check "completions for $page" test -s "$dir/completions/$page.bash"
  echo "| $t | $(( $(stat -c %s "$b") / 1024 )) KiB |"
done
# A real run of the static binary: a free port from portfind.
port=$(env -i PORTFIND_LEASE_DIR="$work/lease" "$dir/bin/portfind") || port=
check "static portfind prints a free port (got '$port')" test "$port" -gt 0

echo "test-dist: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
