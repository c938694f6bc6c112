#!/usr/bin/env bash
# install.sh: lay out already-built tools, man pages, completions and scripts
# the way LAYOUT.md decides. It builds nothing: `make install`, `make deb`
# and `make dist` call it with what `make` / `make dist` built.
#
#   PREFIX/lib/stackutils/bin/TOOL        every tool (our pidwait too)
#   PREFIX/bin/TOOL -> ../lib/stackutils/bin/TOOL   except pidwait (procps owns it)
#   PREFIX/bin/stackutils-pidwait -> ../lib/stackutils/bin/pidwait
#   PREFIX/share/stackutils/              the scripts
#   PREFIX/bin/start-stack -> ../share/stackutils/start-stack.sh
#   PREFIX/share/man/man1, bash/zsh/fish completions
#
# Usage: packaging/install.sh BIN_DIR GEN_DIR
#   BIN_DIR  holds the built tools; GEN_DIR holds man/ and completions/ (xtask)
# Environment: DESTDIR, PREFIX (/usr/local), TOOLS, SCRIPTS (space-separated),
#   ZSH_DIR (share/zsh/site-functions; Debian: share/zsh/vendor-completions),
#   GZIP_MAN=1 to store man pages as gzip -9n (Debian policy).
set -euo pipefail

usage() { echo "usage: packaging/install.sh BIN_DIR GEN_DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
bin=$1 gen=$2
prefix=${PREFIX:-/usr/local}
root=${DESTDIR:-}$prefix
read -ra tools <<<"${TOOLS:?TOOLS is not set}"
read -ra scripts <<<"${SCRIPTS:?SCRIPTS is not set}"
zsh_dir=${ZSH_DIR:-share/zsh/site-functions}

fail() { echo "install.sh: $*" >&2; exit 2; }
for t in "${tools[@]}"; do
  [[ -x $bin/$t ]] || fail "$bin/$t is missing: build first (make, or make dist)"
done
[[ -d $gen/man && -d $gen/completions ]] || fail "$gen/man or $gen/completions is missing: run make man completions"

# The name a tool has on PATH: pidwait's clashes with procps'.
path_name() { if [[ $1 == pidwait ]]; then echo stackutils-pidwait; else echo "$1"; fi; }

install -d "$root/bin" "$root/lib/stackutils/bin" "$root/share/stackutils" \
  "$root/share/man/man1" "$root/share/bash-completion/completions" \
  "$root/$zsh_dir" "$root/share/fish/vendor_completions.d"
for t in "${tools[@]}"; do
  install -m 755 "$bin/$t" "$root/lib/stackutils/bin/$t"
  name=$(path_name "$t")
  ln -sfn "../lib/stackutils/bin/$t" "$root/bin/$name"
  install -m 644 "$gen/completions/$name.bash" "$root/share/bash-completion/completions/$name"
  install -m 644 "$gen/completions/_$name" "$root/$zsh_dir/_$name"
  install -m 644 "$gen/completions/$name.fish" "$root/share/fish/vendor_completions.d/$name.fish"
done
for page in "$gen"/man/*.1; do
  if [[ ${GZIP_MAN:-} == 1 ]]; then
    gzip -9n <"$page" >"$root/share/man/man1/${page##*/}.gz"
    chmod 644 "$root/share/man/man1/${page##*/}.gz"
  else
    install -m 644 "$page" "$root/share/man/man1/"
  fi
done
for s in "${scripts[@]}"; do
  install -m 755 "$s" "$root/share/stackutils/${s##*/}"
done
ln -sfn ../share/stackutils/start-stack.sh "$root/bin/start-stack"

# start-stack(1): the script's --help as a page (it is not a clap tool).
page=$root/share/man/man1/start-stack.1
{
  printf '.TH start-stack 1 "" "stackutils" "stackutils"\n.SH NAME\n'
  printf 'start-stack \\- start, reset and stop the services of an Arvados test stack\n'
  printf '.SH DESCRIPTION\n.nf\n'
  bash "$root/share/stackutils/start-stack.sh" --help | sed 's/\\/\\e/g; s/^[.'"'"']/\\\&&/'
  printf '.fi\n.SH "SEE ALSO"\n\\fBportwait\\fR(1), \\fBstackutils\-pidwait\\fR(1), \\fBdb\-reset\\fR(1)\n'
} >"$page.tmp"
if [[ ${GZIP_MAN:-} == 1 ]]; then
  gzip -9n <"$page.tmp" >"$page.gz" && rm "$page.tmp" && chmod 644 "$page.gz"
else
  mv "$page.tmp" "$page" && chmod 644 "$page"
fi
