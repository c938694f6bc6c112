#!/usr/bin/env bash
# test-deb.sh: install the .deb on this Debian machine beside procps, run
# every tool from /usr/bin, check that procps' pidwait and pidwait.1 are
# untouched, run lintian (errors fail; what remains is printed), then remove
# the package and check that none of its files is left.
# Needs root. Usage: packaging/test-deb.sh STACKUTILS.deb "TOOLS"
# The bash -c snippets take their arguments as $1: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: packaging/test-deb.sh DEB TOOLS" >&2; exit 2; }
deb=$(realpath "$1")
read -ra tools <<<"$2"
if [[ $(id -u) != 0 ]]; then
  [[ ${CI:-} != true ]] || { echo "test-deb: needs root" >&2; exit 1; }
  echo "SKIP: test-deb needs root (dpkg -i)" >&2
  exit 0
fi
fails=0 passes=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}" >/dev/null 2>&1; then passes=$((passes + 1)); else echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}

check "procps is installed" dpkg-query -W procps
procps_sum=$(md5sum /usr/bin/pidwait /usr/share/man/man1/pidwait.1.gz)

dpkg -i "$deb" >/dev/null
check "dpkg -i: stackutils installed" bash -c 'dpkg-query -W -f="\${Status}" stackutils | grep -q "ok installed"'
for t in "${tools[@]}"; do
  name=$t
  [[ $t != pidwait ]] || name=stackutils-pidwait
  check "/usr/bin/$name --version says stackutils" bash -c '/usr/bin/"$1" --version | grep -q "(stackutils)"' _ "$name"
  check "$name on PATH is ours" bash -c 'cd / && "$1" --version | grep -q "(stackutils)"' _ "$name"
  check "man page $name(1)" bash -c 'man -w "$1" | grep -q "^/usr/share/man/man1/$1.1.gz$"' _ "$name"
done
check "procps still owns /usr/bin/pidwait" bash -c 'dpkg -S /usr/bin/pidwait | grep -q "^procps:"'
check "procps' pidwait and pidwait.1 unchanged" test "$(md5sum /usr/bin/pidwait /usr/share/man/man1/pidwait.1.gz)" = "$procps_sum"
check "pidwait on PATH is still procps'" bash -c 'pidwait --version 2>&1 | grep -q procps'
check "no diversion of pidwait" bash -c '! dpkg-divert --list | grep -q pidwait'
check "start-stack --help from another directory" bash -c 'cd "$(mktemp -d)" && start-stack --help'
check "man page start-stack(1)" bash -c 'man -w start-stack | grep -q "^/usr/share/man/man1/start-stack.1.gz$"'
# Installed, start-stack finds its tools in /usr/lib/stackutils/bin (not procps'
# pidwait, first on PATH) and its state in the caller's ./tmp: status in an
# empty directory answers without a fatal error and creates nothing.
empty=$(mktemp -d)
status_rc=0
(cd "$empty" && env -u ARVADOS_DIR start-stack status >/dev/null 2>"$empty.err") || status_rc=$?
check "installed start-stack status answers (exit $status_rc: $(head -c 300 "$empty.err"))" test "$status_rc" -ne 2 -a "$status_rc" -ne 127
check "installed start-stack status creates nothing in the caller's directory" test -z "$(ls -A "$empty")"
rm -rf "$empty" "$empty.err"
check "lsb-service installed" test -x /usr/share/stackutils/lsb-service

# lintian: errors fail the test; warnings and infos are printed for the record.
lint=$(lintian --tag-display-limit 0 --display-info "$deb" 2>&1) || true
echo "lintian:"
while IFS= read -r line; do echo "  $line"; done <<<"${lint:-(nothing)}"
check "lintian reports no error" bash -c '! grep -q "^E: " <<<"$1"' _ "$lint"

files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^/$')
dpkg -r stackutils >/dev/null
dpkg -P stackutils >/dev/null 2>&1 || true
left=""
while read -r f; do
  case $f in /usr | /usr/bin | /usr/lib | /usr/share | /usr/share/* ) [[ -d $f && ! -L $f ]] && continue ;; esac
  if [[ -e $f || -L $f ]]; then left="$left $f"; fi
done <<<"$files"
check "dpkg -r leaves nothing behind (left:${left:- none})" test -z "$left"
check "no stackutils directories left" test ! -e /usr/lib/stackutils -a ! -e /usr/share/stackutils -a ! -e /usr/share/doc/stackutils
check "procps' pidwait still works after removal" bash -c 'pidwait --version 2>&1 | grep -q procps'

echo "test-deb: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
