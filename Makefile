# pksplay: the two commands a newcomer needs are `make demo` (the failover playbook against the
# local two-host lab) and `make test` (everything CI runs). Both install what they need.

SWIFT ?= /opt/swift/usr/bin/swift
export PATH := /opt/swift/usr/bin:$(PATH)
CONFIG ?= debug
BIN = .build/$(CONFIG)/pksplay
PREFIX ?= /usr/local

.PHONY: deps build release test unit e2e demo install clean bench

# Debian packages the build and the tests need (idempotent; quiet when all are there).
DEBS = libssh2-1-dev openssh-server pkg-config
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG)

release:
	$(MAKE) build CONFIG=release

# Unit tests, the playbook conformance suite (through the built binary) and the SSH tests
# against a real sshd; then the end-to-end tests on the lab.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel --num-workers 2
	$(MAKE) e2e

unit: deps
	$(SWIFT) test

e2e:
	@if [ -x tests-e2e/run.sh ]; then tests-e2e/run.sh; else echo "e2e: no end-to-end suite yet"; fi

install: release
	install -D -m 0755 .build/release/pksplay $(PREFIX)/bin/pksplay
	mkdir -p $(PREFIX)/share/pksplay
	cp -r Playbooks $(PREFIX)/share/pksplay/

clean:
	rm -rf .build

-include lab/lab.mk
