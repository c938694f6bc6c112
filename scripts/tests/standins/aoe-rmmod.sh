#!/usr/bin/env bash
# Stand-in for `rmmod aoe` in the aoe-init tests: unmarks the module in
# $PROC_MODULES and removes $ETHERD_DIR, as unloading the driver does.
# Usage: aoe-rmmod aoe
set -euo pipefail
: "${ETHERD_DIR:?}" "${PROC_MODULES:?}" "${AOE_LOG:?}"
[ "${1:-}" = aoe ] || { echo "usage: aoe-rmmod aoe" >&2; exit 1; }
echo "rmmod $*" >>"$AOE_LOG"
if ! grep -q '^aoe ' "$PROC_MODULES" 2>/dev/null; then
  echo "rmmod: ERROR: Module aoe is not currently loaded" >&2
  exit 1
fi
rest=$(grep -v '^aoe ' "$PROC_MODULES" || true)
printf '%s' "$rest" >"$PROC_MODULES"
rm -rf "$ETHERD_DIR"
