#!/usr/bin/env bash
# Runs every benchmark under bench/ against the release build and collects
# their Markdown into bench/RESULTS.md (each script's own part is also kept
# in bench/results/NAME.md). Usage: bench/run.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/*.sh; do
    n=$(basename "$f" .sh)
    [ "$n" = run ] || names+=("$n")
  done
fi

for n in "${names[@]}"; do
  echo "bench: $n" >&2
  bash "bench/$n.sh" > "bench/results/$n.md.new"
  mv "bench/results/$n.md.new" "bench/results/$n.md"
done

{
  echo "# Benchmark results"
  echo
  echo "Made by \`make bench\` (\`bench/run.sh\`) on $(uname -sr), $(nproc) cores."
  echo "Each section names its script; run it again to check a figure."
  for f in bench/results/*.md; do
    echo
    cat "$f"
  done
} > bench/RESULTS.md
echo "bench: wrote bench/RESULTS.md" >&2
