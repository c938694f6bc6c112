#!/usr/bin/env bash
# Runs the benchmarks under bench/ against the release build and collects
# their Markdown into bench/RESULTS.md (each script's own part is kept in
# bench/results/NAME.md).
# Usage: bench/run.sh [NAME...]    run these (default: all), then assemble
#        bench/run.sh --collect    only assemble RESULTS.md from bench/results/
set -euo pipefail
cd "$(dirname "$0")/.."

names=()
if [ "${1:-}" = --collect ]; then
  :
elif [ $# -gt 0 ]; then
  names=("$@")
else
  for f in bench/*.sh; do
    n=$(basename "$f" .sh)
    [ "$n" = run ] || names+=("$n")
  done
fi

for n in ${names[@]+"${names[@]}"}; do
  echo "bench: $n" >&2
  bash "bench/$n.sh" > "bench/results/$n.md.new"
  mv "bench/results/$n.md.new" "bench/results/$n.md"
done

{
  echo "# Benchmark results"
  echo
  echo "Made by \`make bench\` (\`bench/run.sh\`) on $(uname -sr), $(nproc) cores. Each section was"
  echo "measured by its own script on a shared, loaded machine: compare figures within a section,"
  echo "and run the script again to check one."
  for f in bench/results/*.md; do
    echo
    cat "$f"
  done
} > bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md" >&2
