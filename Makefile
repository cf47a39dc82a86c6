# failoverd — top-level build.  Out of tree into $(B)/.
#
# Sources are found by convention so adding a file needs no Makefile edit:
#   <module>/*.c                 module code, one static library per module
#   daemon/*.c                   the daemon (daemon/main.c holds main())
#   tests/lib/*.c                shared test helpers
#   tests/<module>/unit-*.c      Check unit tests        -> make check-unit
#   tests/<module>/qemu-*.c      real-QEMU tests         -> make check-qemu
#   tests/<module>/kernel-*.c    real-kernel igb tests   -> make check-kernel
#   tests/<module>/e2e-*.c       two daemons, two QEMUs  -> make check-e2e
#   tests/<module>/dbus-*.c      private dbus-daemon     -> make check-dbus
#   tests/<module>/full-*.c      the whole stack on a real VF (nested) -> make check-full

B        ?= build
CC       ?= cc
PKGS     := json-c libnl-3.0 libnl-route-3.0 libudev libevent libsystemd
OPTFLAGS ?= -O2 -g
CFLAGS   ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPTFLAGS) -Wall -Wextra -Werror \
            -Wno-unused-parameter -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
            -Wno-format-truncation -fno-strict-aliasing -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
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
QEMU_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/qemu-*.c))
KERNEL_TESTS := $(patsubst %.c,$(B)/%,$(wildcard tests/*/kernel-*.c))
E2E_TESTS    := $(patsubst %.c,$(B)/%,$(wildcard tests/*/e2e-*.c))
DBUS_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/dbus-*.c))
FULL_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/full-*.c))
CTL_SRCS     := $(wildcard ctl/*.c)

PROGRAMS := $(B)/failoverd $(if $(CTL_SRCS),$(B)/failoverctl)

.PHONY: all deps check check-unit check-qemu check-kernel check-e2e check-full check-dbus tests format format-check \
        clean demo install valgrind-unit guest
all: $(PROGRAMS)

# Installs what is missing (Debian packages, qemu from bookworm-backports); fast when done.
deps:
	@./scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFAILOVERD_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

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
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/failoverctl: $(CTL_SRCS:%.c=$(B)/%.o) $(MOD_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/%.o $(TESTLIB_OBJS) $(DAEMON_OBJS) $(MOD_LIBS)
	$(CC) $(CFLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

tests: $(UNIT_TESTS) $(QEMU_TESTS) $(KERNEL_TESTS) $(E2E_TESTS) $(FULL_TESTS) $(DBUS_TESTS)

# Each tier runs its binaries through tests/run-tier.sh: own process group,
# a hard timeout, and everything left in the group killed afterwards.
check: deps
	@$(MAKE) --no-print-directory all tests
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-qemu
	@$(MAKE) --no-print-directory check-kernel
	@$(MAKE) --no-print-directory check-e2e
	@$(MAKE) --no-print-directory check-full
	@$(MAKE) --no-print-directory check-dbus

check-unit: deps $(PROGRAMS) $(UNIT_TESTS)
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

# Nested QEMUs inside the igb guest (~2-3 minutes); the runner holds the TCG
# lock itself unless an ancestor (flock ... make check) already does.
check-full: deps $(PROGRAMS) $(FULL_TESTS)
ifneq ($(FULL_TESTS),)
	@./tests/run-full-tier.sh $(FULL_TESTS)
endif

# A private dbus-daemon per test, paused QEMUs (under the TCG lock), a system
# user for the unprivileged caller (created by the script if missing).
check-dbus: deps $(PROGRAMS) $(DBUS_TESTS)
ifneq ($(DBUS_TESTS),)
	@./tests/run-dbus-tier.sh $(DBUS_TESTS)
endif

valgrind-unit: deps $(UNIT_TESTS)
	@VALGRIND=1 ./tests/run-tier.sh unit 900 $(UNIT_TESTS)

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(SOURCES)
format-check:
	@clang-format --dry-run -Werror $(SOURCES)

demo: deps all
	@./scripts/demo.sh

# The unit's /usr/sbin and /usr/bin become $(PREFIX)'s. The D-Bus files go
# where dbus-daemon looks for them with PREFIX=/usr.
install: all
	install -D -m 0755 $(B)/failoverd $(DESTDIR)$(PREFIX)/sbin/failoverd
	install -D -m 0755 $(B)/failoverctl $(DESTDIR)$(PREFIX)/bin/failoverctl
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed -e 's|/usr/sbin/|$(PREFIX)/sbin/|' -e 's|/usr/bin/|$(PREFIX)/bin/|' \
	  systemd/failoverd.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/failoverd.service
	install -D -m 0644 systemd/org.failoverd1.conf \
	  $(DESTDIR)$(PREFIX)/share/dbus-1/system.d/org.failoverd1.conf
	install -D -m 0644 systemd/org.failoverd1.service \
	  $(DESTDIR)$(PREFIX)/share/dbus-1/system-services/org.failoverd1.service
	install -D -m 0644 systemd/failoverd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/failoverd.conf
	install -D -m 0644 docs/man/failoverd.8 $(DESTDIR)$(PREFIX)/share/man/man8/failoverd.8
	install -D -m 0644 docs/man/failoverctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/failoverctl.1
	install -d $(DESTDIR)$(PREFIX)/share/doc/failoverd/examples
	install -m 0644 docs/examples/* $(DESTDIR)$(PREFIX)/share/doc/failoverd/examples/

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
