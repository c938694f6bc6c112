#!/usr/bin/env bash
# The bash -c snippets take their arguments as $1: single quotes on purpose.
# shellcheck disable=SC2016
# test-install.sh: `make install` into a DESTDIR, then every file checked
# against LAYOUT.md, every installed tool run through its PATH link, and
# `make uninstall` leaving nothing behind.
# Usage: packaging/test-install.sh PROFILE "TOOLS"   (run by make test-install)
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: packaging/test-install.sh PROFILE TOOLS" >&2; exit 2; }
profile=$1
read -ra tools <<<"$2"
cd "$(dirname "$0")/.."
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
prefix=/usr/local
root=$dest$prefix
fails=0 passes=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}" >/dev/null 2>&1; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}

make --no-print-directory install PROFILE="$profile" DESTDIR="$dest" PREFIX="$prefix" >/dev/null

for t in "${tools[@]}"; do
  check "$t in lib/stackutils/bin" test -x "$root/lib/stackutils/bin/$t"
  name=$t
  [[ $t != pidwait ]] || name=stackutils-pidwait
  check "bin/$name links to ../lib/stackutils/bin/$t" \
    test "$(readlink "$root/bin/$name")" = "../lib/stackutils/bin/$t"
  check "$name runs through its link and says stackutils" \
    bash -c '"$1" --version | grep -q "(stackutils)"' _ "$root/bin/$name"
  check "$name.1 installed" test -s "$root/share/man/man1/$name.1"
  check "bash completion for $name" test -s "$root/share/bash-completion/completions/$name"
  check "zsh completion for $name" test -s "$root/share/zsh/site-functions/_$name"
  check "fish completion for $name" test -s "$root/share/fish/vendor_completions.d/$name.fish"
done
# procps owns bin/pidwait and pidwait.1: we install neither.
check "no bin/pidwait" test ! -e "$root/bin/pidwait"
check "no pidwait.1" test ! -e "$root/share/man/man1/pidwait.1"
for s in start-stack.sh lsb-service aoe-init; do
  check "share/stackutils/$s" test -x "$root/share/stackutils/$s"
done
check "bin/start-stack links to the installed start-stack.sh" \
  test "$(readlink -f "$root/bin/start-stack")" = "$(readlink -f "$root/share/stackutils/start-stack.sh")"
check "start-stack.1 installed" test -s "$root/share/man/man1/start-stack.1"
check "start-stack --help from another directory" bash -c 'cd / && "$1" --help' _ "$root/bin/start-stack"
# Nothing outside PREFIX.
check "everything under PREFIX" test "$(find "$dest" -mindepth 1 -maxdepth 1)" = "$dest/usr"

# Another package's page that our subcommand-page glob (portwait-*.1) matches.
printf '.TH portwait-other 1 "other 1.0" other\n' >"$root/share/man/man1/portwait-other.1"
make --no-print-directory uninstall DESTDIR="$dest" PREFIX="$prefix" >/dev/null
check "uninstall leaves another package's portwait-other.1" test -s "$root/share/man/man1/portwait-other.1"
rm -f "$root/share/man/man1/portwait-other.1"
left=$(find "$root" -not -type d)
check "uninstall leaves no file (left: ${left:-none})" test -z "$left"

echo "test-install: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
