# failoverd — top-level build.  Out of tree into $(B)/.
#
# Sources are found by convention so adding a file needs no Makefile edit:
#   <module>/*.c                 module code, one static library per module
#   daemon/*.c                   the daemon (daemon/main.c holds main())
#   tests/lib/*.c                shared test helpers
#   tests/<module>/unit-*.c      Check unit tests        -> make check-unit
#   tests/<module>/qemu-*.c      real-QEMU tests         -> make check-qemu (not tests/model/qemu-double.c)
#   tests/<module>/kernel-*.c    real-kernel igb tests   -> make check-kernel
#   tests/<module>/e2e-*.c       two daemons, two QEMUs  -> make check-e2e
#   tests/<module>/dbus-*.c      private dbus-daemon     -> make check-dbus
#   tests/<module>/full-*.c      the whole stack on a real VF (nested) -> make check-full
#   tests/<module>/faults-*.c    fault injection, real QEMUs -> make check-faults
#   tests/<module>/faults-kernel-*.c  fault injection on the igb guest -> make check-faults
#   tests/<module>/traffic-*.c   frames through a live migration, netns -> make check-traffic
#   tests/model/*.c              the model tier: runner + QEMU double -> make check-model

B        ?= build
CC       ?= cc
PKGS     := json-c libnl-3.0 libnl-route-3.0 libudev libevent libsystemd
OPTFLAGS ?= -O2 -g
CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPTFLAGS) -Wall -Wextra -Werror \
            -Wno-unused-parameter -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
            -Wno-format-truncation -fno-strict-aliasing -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Deferred (=, not :=): on a fresh machine `make check-unit` installs check (deps) first.
TEST_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=

MODULES  := qmp netlink sriov conf
MOD_LIBS := $(foreach m,$(MODULES),$(if $(wildcard $(m)/*.c),$(B)/lib$(m).a))
DAEMON_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(B)/%.o)
TESTLIB_OBJS := $(patsubst %.c,$(B)/%.o,$(filter-out tests/lib/unit-% tests/lib/qemu-% \
                tests/lib/kernel-% tests/lib/e2e-% tests/lib/dbus-%,$(wildcard tests/lib/*.c)))

UNIT_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/unit-*.c))
QEMU_TESTS   := $(patsubst %.c,$(B)/%,$(filter-out tests/model/%,$(wildcard tests/*/qemu-*.c)))
KERNEL_TESTS := $(patsubst %.c,$(B)/%,$(wildcard tests/*/kernel-*.c))
E2E_TESTS    := $(patsubst %.c,$(B)/%,$(wildcard tests/*/e2e-*.c))
DBUS_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/dbus-*.c))
FULL_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/full-*.c))
TRAFFIC_TESTS := $(patsubst %.c,$(B)/%,$(wildcard tests/*/traffic-*.c))
FAULT_KERNEL_TESTS := $(patsubst %.c,$(B)/%,$(wildcard tests/*/faults-kernel-*.c))
FAULT_TESTS  := $(filter-out $(FAULT_KERNEL_TESTS),$(patsubst %.c,$(B)/%,$(wildcard tests/*/faults-*.c)))
MODEL_PROGS  := $(patsubst %.c,$(B)/%,$(wildcard tests/model/*.c))
CTL_SRCS     := $(wildcard ctl/*.c)

PROGRAMS := $(B)/failoverd $(if $(CTL_SRCS),$(B)/failoverctl)

.PHONY: deb check-deb check-system all deps check check-unit check-qemu check-kernel check-e2e check-traffic check-full check-dbus check-libvirt check-faults tests format format-check \
        clean demo install valgrind-unit guest
all: $(PROGRAMS)

# Installs what is missing (Debian packages, qemu from bookworm-backports); fast when done.
deps:
	@./scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DFAILOVERD_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

$(B)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

define module_lib
$(B)/lib$(1).a: $(patsubst %.c,$(B)/%.o,$(wildcard $(1)/*.c))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m))))

$(B)/failoverd: $(B)/daemon/main.o $(DAEMON_OBJS) $(MOD_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/failoverctl: $(CTL_SRCS:%.c=$(B)/%.o) $(MOD_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(TESTLIB_OBJS) $(DAEMON_OBJS) $(MOD_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

# failoverctl's own modules (all of ctl/ but main()) for tests/ctl/.
CTL_OBJS := $(patsubst %.c,$(B)/%.o,$(filter-out ctl/failoverctl.c,$(CTL_SRCS)))
$(B)/tests/ctl/%: $(B)/tests/ctl/%.o $(CTL_OBJS) $(TESTLIB_OBJS) $(DAEMON_OBJS) $(MOD_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

tests: $(UNIT_TESTS) $(QEMU_TESTS) $(KERNEL_TESTS) $(E2E_TESTS) $(FULL_TESTS) $(DBUS_TESTS) \
       $(FAULT_TESTS) $(FAULT_KERNEL_TESTS) $(MODEL_PROGS) $(TRAFFIC_TESTS)

# Each tier runs its binaries through tests/run-tier.sh: own process group,
# a hard timeout, and everything left in the group killed afterwards.
check: deps
	@$(MAKE) --no-print-directory all tests
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-qemu
	@$(MAKE) --no-print-directory check-kernel
	@$(MAKE) --no-print-directory check-e2e
	@$(MAKE) --no-print-directory check-traffic
	@$(MAKE) --no-print-directory check-full
	@$(MAKE) --no-print-directory check-dbus
	@$(MAKE) --no-print-directory check-libvirt
	@$(MAKE) --no-print-directory check-faults
	@$(MAKE) --no-print-directory check-model
	@$(MAKE) --no-print-directory check-sanitize
	@$(MAKE) --no-print-directory check-fuzz
	@$(MAKE) --no-print-directory check-deb
	@$(MAKE) --no-print-directory check-system

check-unit: deps $(PROGRAMS) $(UNIT_TESTS) $(B)/tests/model/qemu-double
	@./tests/run-tier.sh unit 300 $(UNIT_TESTS)

guest: deps
	@./tests/guest/build-guest.sh failover >/dev/null

check-qemu: deps $(PROGRAMS) $(QEMU_TESTS)
ifneq ($(QEMU_TESTS),)
	@eval "$$(./tests/guest/build-guest.sh failover)" && \
	  ./tests/run-tier.sh qemu 900 $(QEMU_TESTS)
endif

check-kernel: deps $(PROGRAMS) $(KERNEL_TESTS)
ifneq ($(KERNEL_TESTS),)
	@./tests/run-kernel-tier.sh $(KERNEL_TESTS)
endif

check-e2e: deps $(PROGRAMS) $(E2E_TESTS)
ifneq ($(E2E_TESTS),)
	@eval "$$(./tests/guest/build-guest.sh failover)" && \
	  ./tests/run-tier.sh e2e 1500 $(E2E_TESTS)
endif

# Frames through a live migration (docs/traffic.md): two "hosts" as bridges in
# the test's own network namespace, the guest's UDP stream counted both ways,
# with the traffic handling off and on.
check-traffic: deps $(PROGRAMS) $(TRAFFIC_TESTS)
ifneq ($(TRAFFIC_TESTS),)
	@eval "$$(./tests/guest/build-guest.sh failover)" && \
	  ./tests/run-tier.sh traffic 900 $(TRAFFIC_TESTS)
endif

# Nested QEMUs inside the igb guest (~2-3 minutes); the runner holds the TCG
# lock itself unless an ancestor (flock ... make check) already does.
check-full: deps $(PROGRAMS) $(FULL_TESTS)
ifneq ($(FULL_TESTS),)
	@./tests/run-full-tier.sh $(FULL_TESTS)
endif

# A private dbus-daemon per test, paused QEMUs and one booted test guest (under the TCG lock), a system
# user for the unprivileged caller (created by the script if missing); failoverctl -H through an
# sshd of the test's own on 127.0.0.1, to a failoverd serving the QEMU double.
check-dbus: deps $(PROGRAMS) $(DBUS_TESTS) $(B)/tests/model/qemu-double
ifneq ($(DBUS_TESTS),)
	@eval "$$(./tests/guest/build-guest.sh failover)" && ./tests/run-dbus-tier.sh $(DBUS_TESTS)
endif

# The libvirt recipe of docs/integrations.md, run for real: the script starts
# libvirtd and virtlogd itself (or uses a running libvirtd), a failoverd on a
# private dbus-daemon, and one TCG domain under the TCG lock (~1 minute).
check-libvirt: deps $(PROGRAMS)
	@./tests/run-libvirt-tier.sh

# Fault injection (docs/reliability.md): real QEMUs + the emulated pool on
# this host, then the VF path on the igb guest; one closing line counts the
# faults injected and what the audits found.
check-faults: deps $(PROGRAMS) $(FAULT_TESTS) $(FAULT_KERNEL_TESTS)
	@eval "$$(./tests/guest/build-guest.sh failover)" && \
	  ./tests/run-faults-tier.sh "$(FAULT_TESTS)" "$(FAULT_KERNEL_TESTS)"

# Model-based randomised tier (docs/model-tier.md): two daemons on private
# dbus-daemons, QEMU test doubles, no guest and no TCG. In `make check`, and
# (fewer sequences) under ASan in check-sanitize. SEED=N STEPS=M replays one generated sequence, OPS='op; op'
# an explicit list; MODEL_EXCLUDE/MODEL_MIX shape the op mix.
MODEL_ARGS = $(if $(SEED),--seed $(SEED)) $(if $(STEPS),--steps $(STEPS)) \
             $(if $(SEQUENCES),--sequences $(SEQUENCES))
MINUTES ?= 30
.PHONY: check-model soak-model
# The pair state machine's table (tests/model/pair-table.txt: state x fact -> state and what
# QEMU holds) runs first; MODEL_TABLE=no leaves it out (check-sanitize: its timings are ASan's).
MODEL_TABLE ?= yes
check-model: deps $(PROGRAMS) $(MODEL_PROGS)
	@$(if $(filter yes,$(MODEL_TABLE)),$(if $(SEED)$(OPS),,./tests/run-model-tier.sh 300 \
	  $(B)/tests/model/model --table $(or $(MODEL_TABLE_FILE),tests/model/pair-table.txt) &&)) \
	  ./tests/run-model-tier.sh 600 $(B)/tests/model/model $(MODEL_ARGS) $(if $(OPS),--ops "$(OPS)")

soak-model: deps $(PROGRAMS) $(MODEL_PROGS)
	@./tests/run-model-tier.sh $$(( $(MINUTES) * 60 + 600 )) $(B)/tests/model/model \
	  --minutes $(MINUTES) $(if $(SEED),--base-seed $(SEED))

valgrind-unit: deps $(UNIT_TESTS)
	@VALGRIND=1 ./tests/run-tier.sh unit 900 $(UNIT_TESTS)

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(SOURCES)
format-check:
	@clang-format --dry-run -Werror $(SOURCES)

demo: deps all
	@./scripts/demo.sh

# The Debian package, built as dpkg-buildpackage does it (debian/), checked
# by lintian; the .deb ends up in $(B)/deb/.
DEB := failoverd_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb
deb:
	@./scripts/deps.sh deb
	dpkg-buildpackage -us -uc -b
	@mkdir -p $(B)/deb
	mv ../failoverd_$(VERSION)_* ../failoverd-dbgsym_$(VERSION)_* $(B)/deb/
	@echo "deb: $(B)/deb/$(DEB)"

check-deb: deb
	@./tests/check-deb.sh $(B)/deb/$(DEB)

# The .deb installed and run by a real systemd as PID 1 on a real system bus,
# in the igb guest (docs/reliability.md, "Under a real systemd"); ~2-3 minutes,
# under the TCG lock.
check-system: deb
	@./tests/run-system-tier.sh $(B)/deb/$(DEB)

# The unit's /usr/sbin and /usr/bin become $(PREFIX)'s. The D-Bus files go
# where dbus-daemon looks for them with PREFIX=/usr.
install: all
	install -D -m 0755 $(B)/failoverd $(DESTDIR)$(PREFIX)/sbin/failoverd
	install -D -m 0755 $(B)/failoverctl $(DESTDIR)$(PREFIX)/bin/failoverctl
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed -e 's|/usr/sbin/|$(PREFIX)/sbin/|' -e 's|/usr/bin/|$(PREFIX)/bin/|' \
	  systemd/failoverd.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/failoverd.service
	install -m 0644 systemd/failoverd-qmp.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -D -m 0644 systemd/org.failoverd1.conf \
	  $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.failoverd1.conf
	install -D -m 0644 systemd/org.failoverd1.service \
	  $(DESTDIR)$(PREFIX)/share/dbus-1/system-services/org.failoverd1.service
	install -D -m 0644 systemd/failoverd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/failoverd.conf
	install -D -m 0644 docs/man/failoverd.8 $(DESTDIR)$(PREFIX)/share/man/man8/failoverd.8
	install -D -m 0644 docs/man/failoverctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/failoverctl.1
	install -D -m 0644 ctl/failoverctl.bash-completion \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/failoverctl
	install -d $(DESTDIR)$(PREFIX)/share/doc/failoverd/examples
	install -m 0644 docs/examples/* $(DESTDIR)$(PREFIX)/share/doc/failoverd/examples/

# --- benchmarks (docs/performance.md) ---------------------------------------
# `make bench` builds optimised binaries into their own directory, runs every
# benchmark (holding the TCG lock throughout) and writes build/bench/results.json.
# Not part of `make check`: performance is measured here, never asserted in tests.
BENCH_B     := build/bench-obj
BENCH_PROGS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

$(BENCH_PROGS): $(B)/bench/%: $(B)/bench/%.o $(B)/tests/lib/harness.o $(MOD_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

.PHONY: bench bench-tools
bench-tools: $(PROGRAMS) $(BENCH_PROGS) $(TRAFFIC_TESTS)

bench: deps
	@$(MAKE) --no-print-directory B=$(BENCH_B) OPTFLAGS="-O2 -DNDEBUG" bench-tools
	@./bench/run.sh $(BENCH_B) build/bench

# --- sanitizers and fuzzing (docs/reliability.md) ----------------------------
# check-sanitize: the unit, QEMU and D-Bus tiers built with clang's ASan+UBSan
# (clang's UBSan honours log_path, gcc's prints to stderr only) into
# $(SAN_B) and run there (the tests start $(FOVD_BUILD_DIR)/failoverd, so the
# sanitized daemon and failoverctl run too). Every report goes to
# $(SAN_B)/reports/ (writable by the D-Bus tier's unprivileged user) and
# fails the target, from whichever process it came.
# fuzz: libFuzzer targets tests/fuzz/NAME.c (NAME never starting with a tier
# prefix such as dbus-) built with clang into $(FUZZ_B), seeds in
# tests/fuzz/corpus/NAME/, dictionary tests/fuzz/NAME.dict; each runs
# FUZZ_SECONDS. check-fuzz: 30 s each, as part of `make check`.
export FOVD_BUILD_DIR = $(B)
SAN_B        ?= $(B)/sanitize
SAN_FLAGS    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all -Wno-unknown-warning-option
SAN_REPORTS   = $(abspath $(SAN_B))/reports
FUZZ_B       ?= $(B)/fuzz
FUZZ_SECONDS ?= 600
FUZZ_FLAGS   := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all -Wno-unknown-warning-option
FUZZ_BINS    := $(patsubst %.c,$(B)/%,$(wildcard tests/fuzz/*.c))

.PHONY: check-sanitize sanitize-bins sanitize-tiers fuzz check-fuzz fuzz-bins
check-sanitize: deps
	@rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS) && chmod 1777 $(SAN_REPORTS)
	@$(MAKE) -s --no-print-directory B=$(SAN_B) CC=clang OPTFLAGS="$(SAN_FLAGS)" sanitize-bins
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(SAN_REPORTS)/asan \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(SAN_REPORTS)/ubsan \
	 $(MAKE) --no-print-directory B=$(SAN_B) CC=clang OPTFLAGS="$(SAN_FLAGS)" sanitize-tiers; \
	 st=$$?; \
	 if [ -n "$$(ls -A $(SAN_REPORTS))" ]; then \
	   echo "!! sanitizer reports:"; cat $(SAN_REPORTS)/*; st=1; \
	 else echo "sanitize: no ASan/UBSan/LSan reports"; fi; \
	 exit $$st

# These two run in check-sanitize's sub-makes, with B= the sanitized build.
sanitize-bins: $(PROGRAMS) $(UNIT_TESTS) $(QEMU_TESTS) $(DBUS_TESTS) $(MODEL_PROGS)

sanitize-tiers:
	@st=0; for t in check-unit check-qemu check-dbus; do \
	   $(MAKE) --no-print-directory $$t || st=1; done; \
	 $(MAKE) --no-print-directory check-model SEQUENCES=40 MODEL_TABLE=no || st=1; exit $$st

$(B)/tests/fuzz/%: $(B)/tests/fuzz/%.o $(DAEMON_OBJS) $(MOD_LIBS)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) -s --no-print-directory B=$(FUZZ_B) CC=clang OPTFLAGS="$(FUZZ_FLAGS)" fuzz-bins
	@./tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_B) \
	  $(patsubst %.c,$(FUZZ_B)/%,$(wildcard tests/fuzz/*.c))

check-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
