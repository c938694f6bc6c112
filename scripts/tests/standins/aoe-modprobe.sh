#!/usr/bin/env bash
# Stand-in for `modprobe aoe [aoe_iflist=...]` in the aoe-init tests: marks
# the module loaded in $PROC_MODULES and, like the real driver, creates
# $ETHERD_DIR/discover a little later ($AOE_DISCOVER_DELAY seconds; "never"
# for a driver that never comes up). Logs its arguments to $AOE_LOG.
# Usage: aoe-modprobe aoe [PARAM=VALUE...]
set -euo pipefail
: "${ETHERD_DIR:?}" "${PROC_MODULES:?}" "${AOE_LOG:?}"
[ "${1:-}" = aoe ] || { echo "usage: aoe-modprobe aoe [PARAM=VALUE...]" >&2; exit 1; }
echo "modprobe $*" >>"$AOE_LOG"
grep -q '^aoe ' "$PROC_MODULES" 2>/dev/null || echo "aoe 139264 0 - Live 0x0000000000000000" >>"$PROC_MODULES"
delay=${AOE_DISCOVER_DELAY:-0}
[ "$delay" = never ] && exit 0
# The node appears after the module returns, as with the real driver; the
# test's temp dir may be gone by then: no `mkdir -p`, which would bring its
# directory back.
(
  sleep "$delay"
  { [ -d "$ETHERD_DIR" ] || mkdir "$ETHERD_DIR"; } && : >"$ETHERD_DIR/discover"
) </dev/null >/dev/null 2>&1 &
