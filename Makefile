# SPDX-License-Identifier: GPL-2.0-only
# policyd: one Makefile for the BPF program, the shared library, the daemon,
# the client, the tests and the benchmarks. Out-of-tree objects under $(BUILD).

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
SANITIZE ?= 0
V ?= 0

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libnl-3.0 libnl-route-3.0 yaml-0.1 jansson libmicrohttpd libpcap
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
	  -Wmissing-prototypes -fno-strict-aliasing -D_GNU_SOURCE -MMD -MP \
	  -I. -I$(BUILD) $(PKG_CFLAGS)
LDFLAGS ?=
LDLIBS += $(PKG_LIBS) -lelf -lz
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

# The BPF program sees only UAPI headers (no vmlinux.h): the arch include dir
# supplies asm/types.h for -target bpf.
ARCH_INCLUDE := /usr/include/$(shell $(CC) -dumpmachine)
BPF_CFLAGS := -target bpf -O2 -g -mcpu=v3 -Wall -Wextra -Wno-unused-parameter \
	      -MMD -MP -I. -idirafter $(ARCH_INCLUDE)

LIB_SRCS := $(wildcard lib/*.c)
POLICYD_SRCS := $(wildcard policyd/*.c)
POLICYCTL_SRCS := $(wildcard policyctl/*.c)
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
BPFTEST_SRCS := $(wildcard tests/bpf/check_*.c)
BENCH_BPF_SRCS := $(wildcard bench/*.bpf.c)

LIB := $(BUILD)/libpolicy.a
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
POLICYD_OBJS := $(POLICYD_SRCS:%.c=$(BUILD)/obj/%.o)
POLICYCTL_OBJS := $(POLICYCTL_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
BPFTEST_BINS := $(BPFTEST_SRCS:%.c=$(BUILD)/%)
SKEL := $(BUILD)/policy.skel.h
BENCH_SKELS := $(BENCH_BPF_SRCS:bench/%.bpf.c=$(BUILD)/bench/%.skel.h)
BINS := $(BUILD)/policyd $(BUILD)/policyctl

MANS := man/policyd.8 man/policyctl.8 man/policyd.yaml.5

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all help deps check check-unit check-bpf check-integration check-man \
	check-style style bench demo install uninstall clean

all: $(BINS)

help:
	@echo 'Targets:'
	@echo '  all               build policyd and policyctl (default)'
	@echo '  check             install missing packages, build, run every test'
	@echo '  check-unit        unit tests (no root)'
	@echo '  check-bpf         BPF_PROG_TEST_RUN tests (root)'
	@echo '  check-integration network-namespace tests with real traffic (root)'
	@echo '  check-man         lint the man pages with mandoc'
	@echo '  check-style       clang-format --dry-run on every C file'
	@echo '  style             reformat every C file in place'
	@echo '  bench             benchmarks; results in bench/RESULTS.md'
	@echo '  demo              sandbox demo: client > router > server, real traffic'
	@echo '  install           install binaries, man pages, unit (PREFIX, DESTDIR)'
	@echo '  clean             remove $(BUILD)/'
	@echo 'Variables: CC CLANG BPFTOOL PKG_CONFIG PREFIX DESTDIR BUILD SANITIZE=1 V=1'

deps:
	$(Q)scripts/deps.sh

# --- BPF program and skeleton ------------------------------------------------

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.bpf.o: bench/%.bpf.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BUILD)/bpf/policy.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name policy_bpf > $@

$(BUILD)/bench/%.skel.h: $(BUILD)/bench/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# --- userspace ---------------------------------------------------------------

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Everything that includes the skeleton waits for it.
$(POLICYD_OBJS) $(BPFTEST_BINS): $(SKEL)
$(BUILD)/bench/bench_prog: $(SKEL) $(BENCH_SKELS)

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/policyd: $(POLICYD_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/policyctl: $(POLICYCTL_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(CHECK_LIBS)

# Root tests may exercise the daemon's modules (routes, maps): they link
# every policyd object but main.o.
POLICYD_MOD_OBJS := $(filter-out $(BUILD)/obj/policyd/main.o,$(POLICYD_OBJS))

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(POLICYD_MOD_OBJS) $(LIB)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) -o $@ $< $(POLICYD_MOD_OBJS) $(LIB) \
		$(LDLIBS) $(CHECK_LIBS)

$(BUILD)/bench/bench_prog: bench/bench_prog.c $(LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/bench $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# --- tests -------------------------------------------------------------------

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BPFTEST_BINS)
	$(Q)$(MAKE) --no-print-directory check-style check-man check-unit check-bpf check-integration

check-unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "  UNIT     $$t"; CK_TAP_LOG_FILE_NAME=- $$t; done

check-bpf: $(BPFTEST_BINS)
	$(Q)set -e; for t in $(BPFTEST_BINS); do echo "  BPF      $$t"; $$t; done

check-integration: $(BINS)
	$(Q)tests/integration/run.sh $(BUILD)

check-man:
	$(Q)mandoc -Tlint -W warning $(MANS)

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

check-style:
	$(Q)clang-format --dry-run --Werror $(C_FILES)

style:
	$(Q)clang-format -i $(C_FILES)

# --- bench, demo, install ----------------------------------------------------

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/bench/bench_prog
	$(Q)bench/run.sh $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(BUILD)

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)/etc/iproute2/rt_protos.d
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 man/policyd.8 man/policyctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/policyd.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' dist/policyd.service > $(DESTDIR)/lib/systemd/system/policyd.service
	install -m 0644 dist/policyd.conf $(DESTDIR)/etc/iproute2/rt_protos.d/policyd.conf

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/policyd $(DESTDIR)$(PREFIX)/sbin/policyctl \
		$(DESTDIR)$(PREFIX)/share/man/man8/policyd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/policyctl.8 \
		$(DESTDIR)$(PREFIX)/share/man/man5/policyd.yaml.5 \
		$(DESTDIR)/lib/systemd/system/policyd.service \
		$(DESTDIR)/etc/iproute2/rt_protos.d/policyd.conf

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
