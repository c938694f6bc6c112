#!/usr/bin/env bash
# Compares the units `lsb-status unit` writes for 30 real Debian init scripts
# (../shared/corpus/initd) with the units the packages' maintainers wrote, and
# with what systemd-sysv-generator (the approach it replaces) writes for the
# same scripts, on the fields that decide behaviour. Then times both on the
# whole corpus. Prints Markdown; the last line is the agreement ratio.
# Usage: bench/lsb-unit.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
generator=/lib/systemd/system-generators/systemd-sysv-generator
command -v hyperfine >/dev/null || { echo "lsb-unit.sh: needs hyperfine" >&2; exit 2; }
[ -x "$generator" ] || { echo "lsb-unit.sh: needs $generator (systemd)" >&2; exit 2; }
corpus=../shared/corpus/initd
[ -d "$corpus/scripts" ] || { echo "lsb-unit.sh: no corpus at $corpus" >&2; exit 2; }
cargo build --release -q -p lsb-status
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The comparison is the test that guards it (one implementation): it writes
# its table where LSB_UNIT_REPORT says.
if ! LSB_UNIT_REPORT="$work/report.md" cargo test -q -p lsb-status --test tests -- \
  --exact unit::corpus_agrees_with_the_maintainers_far_more_than_the_generator >"$work/test.log" 2>&1; then
  cat "$work/test.log" >&2
  echo "lsb-unit.sh: the corpus comparison test failed" >&2
  exit 1
fi

mkdir -p "$work/init.d" "$work/rc" "$work/units" "$work/early" "$work/normal"
cp "$corpus"/scripts/* "$work/init.d/"
chmod 755 "$work"/init.d/*
all_scripts=("$work"/init.d/*)
scripts="${all_scripts[*]}"
with_units=("$corpus"/units/*.service)

echo "## lsb-status unit: LSB init scripts to native systemd units"
echo
echo "${#all_scripts[@]} init scripts from Debian 12 packages; ${#with_units[@]} of them come with"
echo "the unit their maintainers wrote by hand. Each field is compared as it decides behaviour: Type by"
echo "class (simple, exec and notify all mean \"the started process is the daemon\"), the program"
echo "ExecStart runs, PIDFile (/var/run as /run), the set of EnvironmentFiles, User (root as none),"
echo "ExecReload as the signal it sends to the main process or the program it runs, and whether the"
echo "unit is ordered after the network. The generator is systemd $(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')'s, run on the same scripts."
echo "\"ours\" is the default: the script read, plus lsb-status's table of well-known daemons' own"
echo "foreground flags (\`sshd -D\`, \`cron -f\`, each read in the program's Debian man page, redis-server's in Debian's own unit) and of"
echo "which of them serve network clients; \"\`--no-known-flags\`\" is the script alone."
echo "Every remaining difference was read against its script (lsb-status/README.md, \"Measured against"
echo "the maintainers\", sorts them): each is a choice the maintainers made that the script does not"
echo "contain (dropped defaults files, pid files kept for a foreground daemon, other reload commands,"
echo "other network ordering) or a script this reader leaves to the generator's wrapper, with its"
echo "reason. Only one counted difference may decide little (nginx's \`nginx -s reload\` sends the HUP"
echo "ours sends), and only knowledge of nginx says so: it stays counted. Settings the maintainers'"
echo "units rarely carry (KillSignal, TimeoutStopSec, UMask, RuntimeDirectory, Group) are written but"
echo "not compared."
echo
cat "$work/report.md"
echo
echo "### Time to convert all ${#all_scripts[@]} scripts ($runs runs)"
echo
hyperfine --style none --warmup 3 --runs "$runs" --export-markdown "$work/time.md" \
  --prepare "rm -rf $work/out $work/late && mkdir $work/out $work/late" \
  -n "lsb-status unit (to stdout)" \
  "target/release/lsb-status unit $scripts >/dev/null 2>&1 || [ \$? = 1 ]" \
  -n "lsb-status unit --output DIR (each file synced, then renamed)" \
  "target/release/lsb-status unit --output $work/out $scripts 2>/dev/null || [ \$? = 1 ]" \
  -n "systemd-sysv-generator" \
  "SYSTEMD_SYSVINIT_PATH=$work/init.d SYSTEMD_SYSVRCND_PATH=$work/rc SYSTEMD_UNIT_PATH=$work/units SYSTEMD_LOG_LEVEL=err $generator $work/normal $work/early $work/late" >/dev/null
cat "$work/time.md"
all=$(grep '^| \*\*all\*\*' "$work/report.md")
read -r ours total plain gen <<<"$(echo "$all" | awk -F'|' '{ gsub(/[*()%]/, ""); split($3, o, "/"); split($4, p, "/"); split($5, g, "/"); print o[1]+0, o[2]+0, p[1]+0, g[1]+0 }')"
echo
echo "Method: \`cargo test -p lsb-status unit::corpus_agrees_with_the_maintainers_far_more_than_the_generator\`"
echo "makes the table (LSB_UNIT_REPORT names where), from the units \`lsb-status unit\` writes and the"
echo "units the real generator writes into a temporary directory (SYSTEMD_SYSVINIT_PATH); hyperfine,"
echo "release build, $(nproc) shared cores. The generator does not sync the files it writes; with"
echo "--output, lsb-status syncs each unit before renaming it into place."
echo
echo "Agreement with the maintainers' units: lsb-status unit $ours/$total fields ($plain without its table of known daemons), systemd-sysv-generator $gen/$total:" \
  "$(awk -v a="$ours" -v b="$gen" 'BEGIN { printf "%.2f", a / b }')× the generator's"
