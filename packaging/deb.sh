#!/usr/bin/env bash
# deb.sh: build stackutils_VERSION_amd64.deb from already-built static tools
# with dpkg-deb: the layout of packaging/install.sh for PREFIX=/usr (tools in
# /usr/lib/stackutils/bin, links in /usr/bin except pidwait, which procps
# owns: ours is /usr/bin/stackutils-pidwait), man pages gzipped, zsh
# completions in Debian's vendor-completions, the copyright file.
# Usage: VERSION=V TOOLS="..." SCRIPTS="..." packaging/deb.sh BIN_DIR GEN_DIR OUT.deb
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: packaging/deb.sh BIN_DIR GEN_DIR OUT.deb" >&2; exit 2; }
bin=$1 gen=$2 out=$3
version=${VERSION:?VERSION is not set}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
stage=$(dirname "$out")/stage
rm -rf "$stage" && mkdir -p "$stage/DEBIAN"
umask 022

DESTDIR=$stage PREFIX=/usr ZSH_DIR=share/zsh/vendor-completions GZIP_MAN=1 \
  bash "$here/install.sh" "$bin" "$gen"

# The toolchain's version notes (.comment) are of no use at run time.
for t in "$stage"/usr/lib/stackutils/bin/*; do objcopy --remove-section=.comment "$t"; done

doc=$stage/usr/share/doc/stackutils
install -d "$doc"
{
  cat <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: stackutils
Source: https://github.com/stackutils/stackutils

Files: *
Copyright: 2026 the stackutils developers
License: MIT

License: MIT
COPYRIGHT
  # The licence text, each line indented, blank lines as " .".
  sed -n '/^Permission is hereby granted/,$p' "$repo/LICENSE" | sed 's/^$/./; s/^/ /'
} >"$doc/copyright"
# Tags checked and found wrong for this package (each says why).
install -d "$stage/usr/share/lintian/overrides"
cat >"$stage/usr/share/lintian/overrides/stackutils" <<'OVERRIDES'
# The tools are static-pie executables (ELF type DYN for ASLR), not libraries.
stackutils: shared-library-lacks-prerequisites [usr/lib/stackutils/bin/*]
OVERRIDES

date=$(git -C "$repo" log -1 --format=%aD 2>/dev/null || date -R)
cat <<CHANGELOG | gzip -9n >"$doc/changelog.gz"
stackutils ($version) unstable; urgency=medium

  * Built from the stackutils workspace; see CHANGELOG.md upstream.

 -- stackutils developers <stackutils@users.noreply.github.com>  $date
CHANGELOG

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: stackutils
Version: $version
Architecture: amd64
Maintainer: stackutils developers <stackutils@users.noreply.github.com>
Installed-Size: $size
Section: utils
Priority: optional
Homepage: https://github.com/stackutils/stackutils
Description: small tools for starting, waiting on and stopping services
 portfind prints free TCP ports; portwait, httpwait and logwait wait until a
 port listens, a URL answers or a log line appears; pidwait (installed as
 stackutils-pidwait, beside procps' pidwait) waits for pidfiles and stops
 processes safely; lsb-status, aoe-fstab, fixture-token and db-reset help
 init scripts and test stacks. The tools are static binaries in
 /usr/lib/stackutils/bin; the start-stack, lsb-service and aoe-init scripts
 are in /usr/share/stackutils.
CONTROL
(cd "$stage" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 755 {} +
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
