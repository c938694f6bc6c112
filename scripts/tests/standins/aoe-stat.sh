#!/usr/bin/env bash
# Stand-in for aoetools' aoe-stat in the aoe-init tests: one line per
# device node under $ETHERD_DIR, in aoe-stat's layout.
# Usage: aoe-stat
set -euo pipefail
: "${ETHERD_DIR:?}"
for node in "$ETHERD_DIR"/e*; do
  [ -e "$node" ] || continue
  printf '%10s %15s %8s %5s %4s\n' "$(basename "$node")" 1.073GB eth0 1024 up
done
