#!/usr/bin/env bash
# Stand-in for aoetools' aoe-version in the aoe-init tests.
# Usage: aoe-version
set -euo pipefail
printf '%25s %s\n' "aoetools:" 37 "installed aoe driver:" 85 "running aoe driver:" 85
