# stackutils: build, test, demo, install. `make help` lists the targets.
#
# Targets that need Debian packages name them below and install them with
# apt-get when run as root; otherwise they say which are missing and stop.

PREFIX  ?= /usr/local
DESTDIR ?=
CARGO   ?= cargo
TOOLS   := portfind portwait pidwait fixture-token db-reset lsb-status aoe-fstab
SCRIPTS := scripts/start-stack.sh scripts/lsb-service scripts/aoe-init
OUT     := target/generated

# Debian packages, per target.
TEST_DEBS  := shellcheck nginx-light openssl python3 python3-yaml procps util-linux iproute2 lsof curl aoetools ca-certificates
DEMO_DEBS  := nginx-light openssl python3 procps curl
BENCH_DEBS := hyperfine lsof python3 python3-yaml curl procps openssl nginx-light lsb-base

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
	fi
endef

.PHONY: help build test test-deps lint demo bench man completions install uninstall clean

help:
	@echo "make build        build every tool (debug)"
	@echo "make test         fmt check, clippy -D warnings, shellcheck, all tests"
	@echo "make demo         run the tools and the test stack for real, step by step"
	@echo "make bench        benchmarks under bench/, results in bench/RESULTS.md"
	@echo "make man          man pages into $(OUT)/man"
	@echo "make completions  bash/zsh/fish completions into $(OUT)/completions"
	@echo "make install      PREFIX=$(PREFIX): binaries, man pages, completions, scripts"

build:
	$(CARGO) build --workspace --bins

test-deps:
	$(call debs,$(TEST_DEBS))

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	shellcheck -x $(wildcard $(SCRIPTS) scripts/*.sh bench/*.sh scripts/tests/standins/*.sh)

test: test-deps lint build
	$(CARGO) test --workspace

demo:
	$(call debs,$(DEMO_DEBS))
	$(CARGO) build --workspace --bins
	bash scripts/demo.sh

bench:
	$(call debs,$(BENCH_DEBS))
	$(CARGO) build --workspace --bins --release
	bash bench/run.sh

man:
	$(CARGO) run --quiet -p xtask -- man $(OUT)/man

completions:
	$(CARGO) run --quiet -p xtask -- completions $(OUT)/completions

install: man completions
	$(CARGO) build --workspace --bins --profile dist
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
	  $(DESTDIR)$(PREFIX)/share/stackutils
	for t in $(TOOLS); do install -m 755 target/dist/$$t $(DESTDIR)$(PREFIX)/bin/$$t; done
	install -m 644 $(OUT)/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	for t in $(TOOLS); do \
	  install -m 644 $(OUT)/completions/$$t.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	  install -m 644 $(OUT)/completions/_$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; \
	  install -m 644 $(OUT)/completions/$$t.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done
	install -m 755 $(wildcard $(SCRIPTS)) $(DESTDIR)$(PREFIX)/share/stackutils/

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$t $(DESTDIR)$(PREFIX)/share/man/man1/$$t*.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; done
	rm -rf $(DESTDIR)$(PREFIX)/share/stackutils

clean:
	$(CARGO) clean
