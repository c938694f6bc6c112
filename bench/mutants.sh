#!/usr/bin/env bash
# Summarises `make mutants` (cargo-mutants, one output directory per file
# under target/mutants/) as Markdown on stdout: caught, missed, timed-out and
# unviable mutants per file, then every miss with why it is harmless (an
# equivalent mutant) or UNEXPLAINED. Without results there (a fresh checkout,
# `make bench`), prints the summary last kept in bench/results/mutants.md.
# Usage: bench/mutants.sh [RESULTS_DIR]    (default: target/mutants)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/mutants}

# Why a mutant no test catches changes nothing, keyed by "file: mutation"
# (no line or column, so a note survives edits elsewhere in the file).
declare -A why=(
)

shopt -s nullglob
outs=("$dir"/*/mutants.out)
if [ ${#outs[@]} -eq 0 ]; then
  if [ -f bench/results/mutants.md ]; then
    echo "bench/mutants.sh: no results under $dir: keeping bench/results/mutants.md" >&2
    cat bench/results/mutants.md
    exit 0
  fi
  echo "bench/mutants.sh: no results under $dir: run make mutants" >&2
  exit 1
fi

# "outcome<TAB>file: mutation<TAB>when run" for every mutant of every run.
all=$(for o in "${outs[@]}"; do
  when=$(date -u -r "$o/outcomes.json" '+%Y-%m-%d %H:%M' 2>/dev/null || echo "unfinished")
  for kind in caught missed timeout unviable; do
    [ -f "$o/$kind.txt" ] || continue
    sed -E "s/^([^:]+):[0-9]+:[0-9]+: (.*)$/$kind\t\1: \2\t$when/" "$o/$kind.txt"
  done
done | LC_ALL=C sort -t $'\t' -k2)

echo "## Mutation tests (cargo-mutants)"
echo
echo "Made by \`make mutants\` (\`bench/mutants.sh\`): each file mutated on its own and tested by its"
echo "package's tests. Missed: no test failed. Unviable: the mutant does not build (not counted)."
echo
echo "| File | Mutants | Caught | Missed | Timeouts | Unviable | Caught of viable | Run (UTC) |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
awk -F'\t' '
  NF < 2 { next }
  { f = $2; sub(/: .*/, "", f); if (!(f in seen)) { seen[f] = 1; order[++n] = f }
    count[f, $1]++; when[f] = $3 }
  END { for (i = 1; i <= n; i++) { f = order[i]
    c = count[f, "caught"] + 0; m = count[f, "missed"] + 0; t = count[f, "timeout"] + 0
    u = count[f, "unviable"] + 0; v = c + m + t
    pct = v > 0 ? int(100 * c / v) " %" : "-"
    printf "| `%s` | %d | %d | %d | %d | %d | %s | %s |\n", f, v + u, c, m, t, u, pct, when[f] } }
' <<<"$all"

misses=$(awk -F'\t' '$1 == "missed" || $1 == "timeout"' <<<"$all")
unexplained=0
if [ -n "$misses" ]; then
  echo
  echo "Missed and timed-out mutants:"
  echo
  while IFS=$'\t' read -r kind name _; do
    note=${why[$name]:-}
    if [ -z "$note" ]; then
      note="UNEXPLAINED"
      unexplained=$((unexplained + 1))
    fi
    echo "- $kind: \`$name\`: $note"
  done <<<"$misses"
fi

c=$(grep -c '^caught' <<<"$all" || true)
m=$(grep -c '^missed' <<<"$all" || true)
t=$(grep -c '^timeout' <<<"$all" || true)
v=$((c + m + t))
echo
echo "Caught $c of $v viable mutants ($((v > 0 ? 100 * c / v : 0)) %), $m missed, $t timed out, $unexplained unexplained."
