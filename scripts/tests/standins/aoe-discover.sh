#!/usr/bin/env bash
# Stand-in for aoetools' aoe-discover in the aoe-init tests: needs the
# driver's $ETHERD_DIR/discover, then creates the device nodes named in
# $AOE_DEVICES (e.g. "e1.0 e1.1") as plain files under $ETHERD_DIR.
# Usage: aoe-discover
set -euo pipefail
: "${ETHERD_DIR:?}" "${AOE_LOG:?}"
echo "aoe-discover" >>"$AOE_LOG"
if [ ! -e "$ETHERD_DIR/discover" ]; then
  echo "aoe-discover: $ETHERD_DIR/discover does not exist or is not writeable" >&2
  exit 1
fi
for dev in ${AOE_DEVICES:-}; do
  : >"$ETHERD_DIR/$dev"
done
