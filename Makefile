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
                tests/lib/kernel-% tests/lib/e2e-%,$(wildcard tests/lib/*.c)))

UNIT_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/unit-*.c))
QEMU_TESTS   := $(patsubst %.c,$(B)/%,$(wildcard tests/*/qemu-*.c))
KERNEL_TESTS := $(patsubst %.c,$(B)/%,$(wildcard tests/*/kernel-*.c))
E2E_TESTS    := $(patsubst %.c,$(B)/%,$(wildcard tests/*/e2e-*.c))
CTL_SRCS     := $(wildcard ctl/*.c)

PROGRAMS := $(B)/failoverd $(if $(CTL_SRCS),$(B)/failoverctl)

.PHONY: all deps check check-unit check-qemu check-kernel check-e2e tests format format-check \
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

tests: $(UNIT_TESTS) $(QEMU_TESTS) $(KERNEL_TESTS) $(E2E_TESTS)

# Each tier runs its binaries through tests/run-tier.sh: own process group,
# a hard timeout, and everything left in the group killed afterwards.
check: deps
	@$(MAKE) --no-print-directory all tests
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-qemu
	@$(MAKE) --no-print-directory check-kernel
	@$(MAKE) --no-print-directory check-e2e

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

valgrind-unit: deps $(UNIT_TESTS)
	@VALGRIND=1 ./tests/run-tier.sh unit 900 $(UNIT_TESTS)

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(SOURCES)
format-check:
	@clang-format --dry-run -Werror $(SOURCES)

demo: deps all
	@./scripts/demo.sh

install: all
	install -D -m 0755 $(B)/failoverd $(DESTDIR)$(PREFIX)/sbin/failoverd

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
