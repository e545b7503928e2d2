# pksplay: the two commands a newcomer needs are `make demo` (the failover playbook against the
# local two-host lab) and `make test` (everything CI runs). Both install what they need.

SWIFT ?= /opt/swift/usr/bin/swift
export PATH := /opt/swift/usr/bin:$(PATH)
CONFIG ?= debug
BIN = .build/$(CONFIG)/pksplay
PREFIX ?= /usr/local

.PHONY: deps build release test unit e2e demo install clean bench order

# Debian packages the build and the tests need (idempotent; quiet when all are there).
DEBS = libssh2-1-dev openssh-server pkg-config postgresql-15 podman runc iproute2
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG)

# The binary users install: the Swift runtime and Foundation linked in (--static-swift-stdlib),
# which halves start-up (no dynamic loading of a dozen Swift libraries) and peak memory.
# Its layout is tuned for memory: every function in a section of its own, the ones a run executes
# (bench/pksplay.order, recorded by `make order`) placed together, so a run maps 2 MiB of code instead
# of 12 scattered over 19; relative relocations packed (RELR), so start-up reads 16 KiB of them, not
# 1.9 MiB. A stale order file costs memory, never correctness: names it lacks are laid out as usual.
RELEASE_FLAGS = -c release --static-swift-stdlib \
	-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
	$(if $(wildcard bench/pksplay.order),-Xlinker --symbol-ordering-file=$(CURDIR)/bench/pksplay.order) \
	-Xlinker --no-warn-symbol-ordering \
	-Xlinker -z -Xlinker pack-relative-relocs
release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product pksplay

# Everything CI runs: unit tests, the playbook conformance suite (through the built binary), the
# modules against a real PostgreSQL and real podman containers, the SSH connection against a real
# sshd, then the end-to-end tests on the two-host lab. Suites that start servers run in processes
# of their own, so their blocking waits never starve the timers of the others.
# Suites that assert how long something takes (timeouts, pause) also get a process of their own.
HEAVY = PKSPlayModulesTests.(Postgres|Container)|PKSPlaySSHTests
TIMED = PKSPlayCoreTests.LocalConnectionTests|PKSPlayModulesTests.CommandsControllerModuleTests|PKSPlayModulesTests.FilesBehaviourTests
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip '$(HEAVY)|$(TIMED)'
	$(SWIFT) test --skip-build --filter '$(TIMED)'
	$(SWIFT) test --skip-build --filter 'PKSPlayModulesTests.(Postgres|Container)'
	$(SWIFT) test --skip-build --filter PKSPlaySSHTests
	$(MAKE) e2e

unit: deps
	$(SWIFT) test

# The end-to-end suite brings the lab up (building its image the first time) and always takes it down.
e2e: build
	tests-e2e/run.sh

# The main job: the failover playbook against the local two-host lab, ending with the replication
# status. The lab stays up afterwards (make lab-down stops it); the replication password of the
# lab is a fixed demo value in lab/demo-secrets.yml.
demo: build lab-up
	$(BIN) run failover.yml -i /var/lib/pksplay-lab/inventory.yml -e @lab/demo-secrets.yml
	@echo; echo "replication status on the primary (pg_stat_replication):"
	@ssh -F /var/lib/pksplay-lab/ssh_config pks1 "docker exec -u postgres pks-db psql -X -c 'select application_name, client_addr, state, sync_state, replay_lsn from pg_stat_replication'"
	@echo "roll it back with: $(BIN) rollback --last"

install: release
	install -D -m 0755 .build/release/pksplay $(PREFIX)/bin/pksplay
	mkdir -p $(PREFIX)/share/pksplay
	cp -r Playbooks $(PREFIX)/share/pksplay/

# Speed, side by side with ansible-playbook and a raw OpenSSH floor: bench/run.sh, results in
# BENCHMARKS.md. Not part of `make test`; needs root; takes about an hour (SKIP_BIG=1: 20 minutes).
bench: deps
	SWIFT=$(SWIFT) bench/run.sh

# Re-records bench/pksplay.order: the functions the benchmark's pksplay runs execute (valgrind's
# callgrind over each checked run), for the release layout above. Needs root, like bench.
order: deps
	SWIFT=$(SWIFT) ORDER=$(CURDIR)/bench/pksplay.order bench/run.sh

clean:
	rm -rf .build

-include lab/lab.mk
