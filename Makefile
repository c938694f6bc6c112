# stackutils: build, test, demo, install, and the release artefacts (tarball,
# Debian package, container image). `make help` lists the targets.
#
# Targets that need Debian packages name them below and install them with
# apt-get when run as root (printing what they install); otherwise they say
# which are missing and stop.

PREFIX  ?= /usr/local
DESTDIR ?=
CARGO   ?= cargo
# What `make` builds and `make install` installs: release (quick) or dist (LTO).
PROFILE ?= release
BIN_DIR := target/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
TOOLS   := portfind portwait pidwait fixture-token db-reset lsb-status aoe-fstab httpwait logwait
# Their packages: each as its tool, but logwait (crates.io's `logwait` is another project's).
PACKAGES := $(patsubst logwait,stackutils-logwait,$(TOOLS))
SCRIPTS := scripts/start-stack.sh scripts/lsb-service scripts/aoe-init
OUT     := target/generated
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The oldest Rust the crates say they build with (rust-version).
MSRV    := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# Release artefacts: static musl binaries built with the dist profile.
MUSL      := x86_64-unknown-linux-musl
DIST_BIN  := target/$(MUSL)/dist
DIST_NAME := stackutils-$(VERSION)-$(MUSL)
DIST_TGZ  := target/dist/$(DIST_NAME).tar.gz
DEB       := target/debian/stackutils_$(VERSION)_amd64.deb
IMAGE     := localhost/stackutils:$(VERSION)
# podman, else docker; decided when used (`make image` may install podman first).
CONTAINER ?= $(shell command -v podman >/dev/null && echo podman || echo docker)
# podman on these machines: vfs storage (overlay does not nest here), chroot isolation.
export STORAGE_DRIVER ?= vfs
# ring (under db-reset's rustls) compiles C: musl-gcc from Debian's musl-tools.
export CC_x86_64_unknown_linux_musl := musl-gcc

# Debian packages, per target.
TEST_DEBS  := shellcheck nginx-light openssl python3 python3-yaml procps util-linux iproute2 lsof curl aoetools ca-certificates groff-base iptables rsync strace e2fsprogs
DEMO_DEBS  := nginx-light openssl python3 procps curl
BENCH_DEBS := hyperfine lsof python3 python3-yaml curl procps openssl nginx-light lsb-base
DIST_DEBS  := musl-tools binutils
DEB_DEBS   := $(DIST_DEBS) lintian procps man-db
IMAGE_DEBS := $(DIST_DEBS) podman ca-certificates

# $(call debs,PACKAGES): install what is missing (as root) or say what to install.
define debs
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "make: this target needs the Debian packages:$$missing (sudo apt-get install$$missing)" >&2; exit 1; \
	  fi; \
	else \
	  echo "make: Debian packages present: $(strip $(1))"; \
	fi
endef

# Debian starts and enables nginx when nginx-light is installed; the tests and
# the demo start their own, so the packaged service must not hold port 80.
define no_nginx_service
	@if command -v systemctl >/dev/null && systemctl is-enabled --quiet nginx 2>/dev/null; then \
	  echo "make: stopping and disabling Debian's nginx service (the tests and the demo run their own nginx)"; \
	  systemctl stop nginx >/dev/null 2>&1 || true; \
	  systemctl disable nginx >/dev/null 2>&1 || true; \
	fi; \
	if [ -x /etc/init.d/nginx ] && /etc/init.d/nginx status >/dev/null 2>&1; then \
	  echo "make: stopping Debian's nginx service"; /etc/init.d/nginx stop >/dev/null 2>&1 || true; \
	fi; \
	if ls /etc/rc[2-5].d/S*nginx >/dev/null 2>&1 && command -v update-rc.d >/dev/null; then \
	  update-rc.d nginx disable >/dev/null 2>&1 || true; \
	fi
endef

.PHONY: all help build test test-deps lint package msrv demo bench man completions install uninstall \
	test-install dist test-dist deb test-deb image image-deps test-image musl-target clean mutants

all: man completions
	$(CARGO) build --locked --profile $(PROFILE) $(addprefix -p ,$(PACKAGES))

help:
	@echo "make              build every tool ($(PROFILE) profile), man pages and completions"
	@echo "make install      PREFIX=$(PREFIX) DESTDIR=: install what make built (see README)"
	@echo "make test         fmt check, clippy -D warnings, shellcheck, all tests, cargo package"
	@echo "make demo         run the tools and the test stack for real, step by step"
	@echo "make bench        benchmarks under bench/, results in bench/RESULTS.md"
	@echo "make man          man pages into $(OUT)/man"
	@echo "make completions  bash/zsh/fish completions into $(OUT)/completions"
	@echo "make dist         static musl binaries: $(DIST_TGZ)"
	@echo "make deb          Debian package: $(DEB)"
	@echo "make image        container images $(IMAGE) and $(IMAGE)-nonroot (FROM scratch)"
	@echo "make test-dist / test-deb / test-image / test-install: the tests of each"
	@echo "make msrv         check every crate with the oldest Rust it claims (rust-version, via rustup)"
	@echo "make mutants      mutation tests (cargo-mutants) per file, summary in bench/results/mutants.md"

build:
	$(CARGO) build --workspace --bins

test-deps:
	$(call debs,$(TEST_DEBS))
	$(call no_nginx_service)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	shellcheck -x $(wildcard $(SCRIPTS) scripts/*.sh bench/*.sh scripts/tests/standins/*.sh packaging/*.sh)

test: test-deps lint build
	$(CARGO) test --workspace
	$(MAKE) package

# Each crate as crates.io would get it, built from its packaged form.
# (xtask and the scripts' tests are not published.)
# Cargo verifies each crate against the packaged form of the others, as
# registry crates, which it never rebuilds or unpacks again for the same name
# and version: so a directory of its own, emptied first, and none of our
# crates left unpacked in CARGO_HOME, or a second run checks stale code.
package:
	rm -rf target/package-check $(foreach c,cliutil $(PACKAGES),$${CARGO_HOME:-$$HOME/.cargo}/registry/src/-*/$(c)-$(VERSION))
	$(CARGO) package --locked --allow-dirty --target-dir target/package-check \
	  --workspace --exclude xtask --exclude stackutils-scripts

# Every crate, tests included, type-checked by the Rust that rust-version names
# (rustup fetches it once; a target dir of its own keeps the main one warm).
msrv:
	rustup toolchain install $(MSRV) --profile minimal >/dev/null
	$(CARGO) +$(MSRV) check --locked --workspace --all-targets --target-dir target/msrv

demo:
	$(call debs,$(DEMO_DEBS))
	$(call no_nginx_service)
	$(CARGO) build --workspace --bins
	bash scripts/demo.sh

# The release build, and the static one the packages ship (start-stack.sh's
# bench measures both).
bench: musl-target
	$(call debs,$(BENCH_DEBS) $(DIST_DEBS))
	$(call no_nginx_service)
	$(CARGO) build --workspace --bins --release
	$(CARGO) build --locked --profile dist --target $(MUSL) $(addprefix -p ,$(PACKAGES))
	bash bench/run.sh

# Mutation tests of the code that decides what is signalled, believed or
# written, one file at a time (slow on 2 cores: not part of `make test`).
# Never --in-place: others may be editing the tree. Rerun one file with
# `make mutants MUTANTS_FILES=pidwait/src/pidfile.rs`. cargo-mutants exits 2
# when a mutant was missed and 3 on a timeout: the summary says which.
# The copies go beside the repo (TMPDIR=..), where tests' ../shared paths lead.
# A mutant that hangs can leave the tools its tests started spinning: they are
# killed after each file.
MUTANTS_FILES ?= pidwait/src/pathtrust.rs pidwait/src/pidfile.rs pidwait/src/process.rs \
	pidwait/src/stop.rs portfind/src/check.rs portfind/src/lease.rs portwait/src/diag.rs \
	portwait/src/owner.rs db-reset/src/tls.rs db-reset/src/x509.rs lsb-status/src/status.rs \
	pidwait/src/interrupt.rs aoe-fstab/src/source.rs aoe-fstab/src/command.rs
MUTANTS_JOBS    ?= 1
# 150 s: db-reset's suite (real TLS servers) takes over 60 s on 2 loaded cores,
# and a baseline run that times out stops cargo-mutants.
MUTANTS_TIMEOUT ?= 150
mutants:
	@command -v cargo-mutants >/dev/null || { \
	  echo "make: mutants needs cargo-mutants (cargo install --locked cargo-mutants)" >&2; exit 2; }
	@mkdir -p target/mutants
	@for f in $(MUTANTS_FILES); do \
	  echo "make: cargo mutants --file $$f"; \
	  TMPDIR="$(abspath ..)" nice -n 10 $(CARGO) mutants --package "$$(sed -n 's/^name = "\(.*\)"/\1/p' "$${f%%/*}/Cargo.toml" | head -n 1)" --file "$$f" --jobs $(MUTANTS_JOBS) \
	    --timeout $(MUTANTS_TIMEOUT) --output "target/mutants/$$(echo "$$f" | tr / _)"; rc=$$?; \
	  case $$rc in 0|2|3) ;; *) echo "make: cargo mutants failed on $$f (exit $$rc)" >&2; exit $$rc ;; esac; \
	  pkill -KILL -f '^$(abspath ..)/cargo-mutants-[^/]*/target/' || true; \
	  for p in /proc/[0-9]*; do case $$(readlink $$p/cwd 2>/dev/null) in \
	    $(abspath ..)/cargo-mutants-*) kill -KILL $${p#/proc/} 2>/dev/null || true ;; esac; done; \
	done
	bash bench/mutants.sh > bench/results/mutants.md.new
	mv bench/results/mutants.md.new bench/results/mutants.md

# Generated afresh each time: a page left from an older layout (pidwait.1) must not ship.
man:
	rm -rf $(OUT)/man
	$(CARGO) run --locked --quiet -p xtask -- man $(OUT)/man

completions:
	rm -rf $(OUT)/completions
	$(CARGO) run --locked --quiet -p xtask -- completions $(OUT)/completions

# Installs what `make` built (as your user); builds nothing, so `sudo make
# install` never compiles as root.
install:
	@for t in $(TOOLS); do [ -x $(BIN_DIR)/$$t ] || { \
	  echo "make install: $(BIN_DIR)/$$t is missing: run 'make' (PROFILE=$(PROFILE)) first" >&2; exit 2; }; done
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" TOOLS="$(TOOLS)" SCRIPTS="$(SCRIPTS)" \
	  bash packaging/install.sh $(BIN_DIR) $(OUT)

# Man pages only if ours (a subcommand page glob such as portwait-*.1 could
# match another package's page).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(filter-out pidwait,$(TOOLS)) stackutils-pidwait start-stack)
	rm -rf $(DESTDIR)$(PREFIX)/lib/stackutils $(DESTDIR)$(PREFIX)/share/stackutils
	for n in $(filter-out pidwait,$(TOOLS)) stackutils-pidwait start-stack; do \
	  for p in $(DESTDIR)$(PREFIX)/share/man/man1/$$n.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$n-*.1; do \
	    ! grep -m 1 -s '^\.TH ' "$$p" | grep -q stackutils || rm -f "$$p"; \
	  done; \
	  rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$n $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$n \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$n.fish; \
	done

# `make install` into a DESTDIR, checked file by file, then uninstalled.
# CI uses PROFILE=dev: the debug tools `make test` built, no extra build.
test-install: all
	bash packaging/test-install.sh "$(PROFILE)" "$(TOOLS)"

musl-target:
	@rustup target list --installed 2>/dev/null | grep -qx $(MUSL) || { \
	  echo "make: rustup target add $(MUSL)"; rustup target add $(MUSL); }

# Static binaries, man pages, completions, scripts and docs in one tarball.
dist: musl-target man completions
	$(call debs,$(DIST_DEBS))
	$(CARGO) build --locked --profile dist --target $(MUSL) $(addprefix -p ,$(PACKAGES))
	rm -rf target/dist/$(DIST_NAME) && mkdir -p target/dist/$(DIST_NAME)/bin target/dist/$(DIST_NAME)/scripts
	cp $(addprefix $(DIST_BIN)/,$(TOOLS)) target/dist/$(DIST_NAME)/bin/
	cp -r $(OUT)/man $(OUT)/completions target/dist/$(DIST_NAME)/
	cp $(SCRIPTS) target/dist/$(DIST_NAME)/scripts/
	cp README.md LICENSE CHANGELOG.md target/dist/$(DIST_NAME)/
	cd target/dist/$(DIST_NAME) && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | sed 's|^\./||' \
	  | xargs sha256sum > SHA256SUMS
	tar -C target/dist --sort=name --owner=0 --group=0 --numeric-owner --mode=go-w -czf $(DIST_TGZ) $(DIST_NAME)
	@ls -l $(DIST_TGZ)

test-dist: dist
	bash packaging/test-dist.sh $(DIST_TGZ) "$(TOOLS)"

# The Debian package, from the dist binaries (static: no shared-library
# dependencies), laid out as packaging/install.sh does for PREFIX=/usr.
deb: dist
	$(call debs,$(DEB_DEBS))
	VERSION=$(VERSION) TOOLS="$(TOOLS)" SCRIPTS="$(SCRIPTS)" bash packaging/deb.sh $(DIST_BIN) $(OUT) $(DEB)

test-deb: deb
	bash packaging/test-deb.sh $(DEB) "$(TOOLS)"

image-deps:
	$(call debs,$(IMAGE_DEBS))

image: dist image-deps
	rm -rf target/image && mkdir -p target/image/bin target/image/rootfs/etc/ssl/certs target/image/rootfs/tmp
	cp $(addprefix $(DIST_BIN)/,$(TOOLS)) target/image/bin/
	cp /etc/ssl/certs/ca-certificates.crt target/image/rootfs/etc/ssl/certs/
	printf 'root:x:0:0:root:/root:/nonexistent\nnonroot:x:65532:65532:nonroot:/home/nonroot:/nonexistent\n' \
	  > target/image/rootfs/etc/passwd
	printf 'root:x:0:\nnonroot:x:65532:\n' > target/image/rootfs/etc/group
	# Modes in the image must not depend on the builder's umask.
	chmod -R u=rwX,go=rX target/image && chmod 1777 target/image/rootfs/tmp
	$(CONTAINER) build $(if $(filter podman,$(CONTAINER)),--isolation chroot) -f Containerfile \
	  --target root -t $(IMAGE) target/image
	$(CONTAINER) build $(if $(filter podman,$(CONTAINER)),--isolation chroot) -f Containerfile \
	  --target nonroot -t $(IMAGE)-nonroot target/image

test-image: image
	bash packaging/test-image.sh $(CONTAINER) $(IMAGE) "$(TOOLS)"

clean:
	$(CARGO) clean
