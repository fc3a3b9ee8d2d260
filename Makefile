# vtier - one plain Makefile.
#
#   make                 build everything into build/
#   make check           install missing Debian packages, build, run every test
#   make SANITIZE=1 check  the same with ASan+UBSan, into build/san/
#   make SANITIZE=thread check  the same with ThreadSanitizer, into build/tsan/
#   make bench           benchmarks, each printed beside a baseline of the same run
#   make install DESTDIR=... PREFIX=...  binaries, config, units, man pages
#   make deb             Debian packages into build/deb/ (and lintian on them)
#   make deps            apt-get install only what is missing
#   make demo            the agent tiering a workload in a two-node guest
#   make stress          guest scenarios with a host core kept busy

PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
MANDIR   ?= $(PREFIX)/share/man
# systemd's system unit directory on Debian 12 (systemdsystemunitdir in
# systemd.pc), the one dh_installsystemd handles; on a merged-/usr system
# it is /usr/lib/systemd/system.  Not under PREFIX: systemd does not look
# in /usr/local/lib/systemd/system unless configured to.
UNITDIR  ?= /lib/systemd/system
DESTDIR  ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
SANITIZE ?= 0
WERROR   ?= 0

ifeq ($(SANITIZE),1)
B := build/san
else ifeq ($(SANITIZE),thread)
B := build/tsan
else
B := build
endif

# Debian packages the build and the tests need; `make deps` installs the
# missing ones.  libpfm4 ships no pkg-config file, hence -lpfm.  QEMU is
# here, not only in tests/vm/build-guest.sh: shim_libvirt and shim_vm
# look for it before any test has built the guest.
DEB_DEPS := gcc make pkg-config libnuma-dev libpfm4-dev liburing-dev \
	libinih-dev numactl python3 clang libclang-rt-14-dev valgrind \
	dpkg-dev debhelper lintian debootstrap systemd man-db bsdextrautils \
	libvirt-dev libxml2-dev libvirt-daemon libvirt-daemon-driver-qemu \
	libvirt-clients qemu-system-x86
PKGS := numa liburing inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpfm

# The shim's libvirt support (hostshim/virt.c, virt_xml.c): VIRT=1 builds
# it in, VIRT=0 leaves it out (hostshim/virt_none.c then refuses a
# [libvirt] section at start with a clear error).  Default: on when
# pkg-config finds libvirt, libvirt-qemu and libxml-2.0 (make deps
# installs them; the Debian package sets VIRT=1).  A build option, not a
# hard dependency, because the static shim (make static, run inside the
# test guest) cannot have it: Debian ships no static libvirt, and a
# host without libvirt should not need its libraries installed to build.
VIRT ?= $(shell pkg-config --exists libvirt libvirt-qemu libxml-2.0 2>/dev/null && echo 1 || echo 0)
ifeq ($(VIRT),1)
VIRT_CFLAGS := $(shell pkg-config --cflags libvirt libvirt-qemu libxml-2.0 2>/dev/null)
VIRT_LIBS := $(shell pkg-config --libs libvirt libvirt-qemu libxml-2.0 2>/dev/null)
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wpointer-arith -Wundef -Wno-format-nonliteral
# CPPFLAGS, CFLAGS and LDFLAGS from the environment come last (a package
# build passes dpkg-buildflags' hardening flags there).
ALL_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -pthread -Iinclude -Iagent \
	$(PKG_CFLAGS) $(VIRT_CFLAGS) -MMD -MP $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS := -pthread $(LDFLAGS)
ifeq ($(WERROR),1)
ALL_CFLAGS += -Werror
endif
# the static guest programs are never sanitized (ASan cannot link -static)
STATIC_CFLAGS := $(ALL_CFLAGS)
STATIC_LDFLAGS := $(ALL_LDFLAGS)
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
else ifeq ($(SANITIZE),thread)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif
ifneq ($(SANFLAGS),)
ALL_CFLAGS += $(SANFLAGS)
ALL_LDFLAGS += $(SANFLAGS)
endif

COMMON_SRCS := $(wildcard include/vtier/*.c)
AGENT_MAINS := agent/main.c agent/vtierctl.c
AGENT_LIB_SRCS := $(filter-out $(AGENT_MAINS),$(wildcard agent/*.c))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
TOOL_SRCS := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
COMMON_OBJS := $(call obj,$(COMMON_SRCS))
AGENT_LIB_OBJS := $(call obj,$(AGENT_LIB_SRCS))
LIB_OBJS := $(AGENT_LIB_OBJS) $(COMMON_OBJS)

# The host shim: hostshim/*.c; its unit tests are tests/unit/test_shim_*.c
# (test_shim_virt* only with VIRT=1).  virt.c and virt_xml.c with VIRT=1,
# virt_none.c in their place otherwise and always in the static shim.
SHIM_VIRT_SRCS := hostshim/virt.c hostshim/virt_xml.c
SHIM_ALL_SRCS := $(wildcard hostshim/*.c)
SHIM_BASE_SRCS := $(filter-out $(SHIM_VIRT_SRCS) hostshim/virt_none.c,$(SHIM_ALL_SRCS))
ifeq ($(VIRT),1)
SHIM_SRCS := $(SHIM_BASE_SRCS) $(filter $(SHIM_VIRT_SRCS),$(SHIM_ALL_SRCS))
else
SHIM_SRCS := $(SHIM_BASE_SRCS) $(filter hostshim/virt_none.c,$(SHIM_ALL_SRCS))
endif
SHIM_LIB_OBJS := $(call obj,$(filter-out hostshim/main.c,$(SHIM_SRCS)))

# The simulator: agent/sim/*.c on top of the agent's objects; its unit
# tests are tests/unit/test_sim_*.c, its benchmark tests/bench/bench_sim.c
SIM_SRCS := $(wildcard agent/sim/*.c)
SIM_LIB_OBJS := $(call obj,$(filter-out agent/sim/main.c,$(SIM_SRCS)))
SIM_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_sim_*.c))

PROGS := $(B)/vtier-agent $(B)/vtierctl $(if $(SHIM_SRCS),$(B)/vtier-hostshim) \
	$(if $(SIM_SRCS),$(B)/vtier-sim)
SHIM_TEST_SRCS := $(wildcard tests/unit/test_shim_*.c)
ifneq ($(VIRT),1)
SHIM_TEST_SRCS := $(filter-out tests/unit/test_shim_virt%,$(SHIM_TEST_SRCS))
endif
TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(filter-out tests/unit/test_shim_%,$(TEST_SRCS)))
SHIM_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(SHIM_TEST_SRCS))
BENCHES := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRCS))
TOOLS := $(patsubst tests/tools/%.c,$(B)/tools/%,$(TOOL_SRCS))

.PHONY: all static fuzz fuzzers tests check check-run bench install deb deps demo stress eval clean
.DEFAULT_GOAL := all

all: $(PROGS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/vtier-agent: $(B)/obj/agent/main.o $(LIB_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(B)/vtierctl: $(B)/obj/agent/vtierctl.o $(COMMON_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(B)/vtier-hostshim: $(B)/obj/hostshim/main.o $(SHIM_LIB_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(VIRT_LIBS)

$(B)/vtier-sim: $(B)/obj/agent/sim/main.o $(SIM_LIB_OBJS) $(LIB_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(SIM_TESTS): $(B)/tests/test_sim_%: $(B)/obj/tests/unit/test_sim_%.o $(SIM_LIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(B)/bench/bench_sim: $(B)/obj/tests/bench/bench_sim.o $(SIM_LIB_OBJS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(SHIM_TESTS): $(B)/tests/test_shim_%: $(B)/obj/tests/unit/test_shim_%.o $(SHIM_LIB_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(VIRT_LIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(B)/bench/bench_shim_%: $(B)/obj/tests/bench/bench_shim_%.o $(SHIM_LIB_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(VIRT_LIBS)

$(B)/bench/%: $(B)/obj/tests/bench/%.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# bench_agent runs the agent and vtierctl of its own build dir
$(B)/bench/bench_agent: | $(B)/vtier-agent $(B)/vtierctl

$(B)/tools/%: $(B)/obj/tests/tools/%.o $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# shim test tools link the shim's objects instead of the agent's
$(B)/tools/shim_%: $(B)/obj/tests/tools/shim_%.o $(SHIM_LIB_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(VIRT_LIBS)

tests: $(PROGS) $(TESTS) $(SHIM_TESTS) $(TOOLS)

# Fuzz targets (tests/fuzz/fuzz_*.c, libFuzzer): every decoder of
# untrusted bytes.  `make fuzz FUZZ_SECONDS=N` runs each for N seconds;
# make check runs each for ~20 s (tests/sh/fuzz.sh).
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
ifneq ($(VIRT),1)
FUZZ_SRCS := $(filter-out tests/fuzz/fuzz_shim_virt%,$(FUZZ_SRCS))
endif
FUZZERS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 120
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Iagent $(VIRT_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# (fuzz_simtrace and fuzz_lackey include vtier-sim's sources: agent/sim)
$(B)/fuzz/%: tests/fuzz/%.c $(COMMON_SRCS) $(AGENT_LIB_SRCS) $(wildcard include/vtier/*.h agent/*.h agent/sim/*.[ch])
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(COMMON_SRCS) $(AGENT_LIB_SRCS) $(PKG_LIBS) -lm

SHIM_LIB_SRCS := $(filter-out hostshim/main.c,$(SHIM_SRCS))
$(B)/fuzz/fuzz_shim%: tests/fuzz/fuzz_shim%.c $(COMMON_SRCS) $(SHIM_LIB_SRCS) $(wildcard include/vtier/*.h hostshim/*.h tests/tools/shim_*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(COMMON_SRCS) $(SHIM_LIB_SRCS) $(PKG_LIBS) $(VIRT_LIBS)

fuzzers: $(FUZZERS)

fuzz: deps
	@$(MAKE) --no-print-directory fuzzers
	@B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/sh/fuzz.sh

# Static builds for the test guest, which has busybox and nothing else,
# in $(B)/static.  They are never sanitized: under SANITIZE their objects
# are compiled apart, without the sanitizers, into $(B)/sobj.
STATIC := $(B)/static/vtier-agent $(B)/static/vtierctl $(B)/static/tierload \
	$(B)/static/vtier-hostshim \
	$(B)/static/guest_migrate $(B)/static/dsarea_check
static: $(STATIC)

ifneq ($(SANFLAGS),)
SB := $(B)/sobj
$(SB)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(STATIC_CFLAGS) -c -o $@ $<
else
SB := $(B)/obj
endif
sobj = $(patsubst %.c,$(SB)/%.o,$(1))
S_COMMON_OBJS := $(call sobj,$(COMMON_SRCS))
S_LIB_OBJS := $(call sobj,$(AGENT_LIB_SRCS)) $(S_COMMON_OBJS)
S_SHIM_LIB_OBJS := $(call sobj,$(filter-out hostshim/main.c,$(SHIM_BASE_SRCS)) \
	hostshim/virt_none.c)

$(B)/static/vtier-agent: $(SB)/agent/main.o $(S_LIB_OBJS)
	@mkdir -p $(dir $@); rm -f $@
	$(CC) $(STATIC_LDFLAGS) -static -o $@ $^ $(PKG_LIBS) -lm 2>&1 | \
		grep -v 'statically linked applications requires\|in function .affinity_ip' >&2 || true
	@test -x $@

$(B)/static/vtier-hostshim: $(SB)/hostshim/main.o $(S_SHIM_LIB_OBJS) $(S_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(STATIC_LDFLAGS) -static -o $@ $^ $(PKG_LIBS)

$(B)/static/vtierctl: $(SB)/agent/vtierctl.o $(S_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(STATIC_LDFLAGS) -static -o $@ $^

# The guest migration benchmark (tests/bench/guest.sh runs it in the guest).
$(B)/static/guest_migrate: $(SB)/tests/bench/guest_migrate.o $(S_LIB_OBJS)
	@mkdir -p $(dir $@); rm -f $@
	$(CC) $(STATIC_LDFLAGS) -static -o $@ $^ $(PKG_LIBS) -lm 2>&1 | \
		grep -v 'statically linked applications requires\|in function .affinity_ip' >&2 || true
	@test -x $@

# The translation check of PEBS-buffer discovery (tests/sh/shim_vm.sh).
$(B)/static/dsarea_check: $(SB)/tests/tools/dsarea_check.o $(S_LIB_OBJS)
	@mkdir -p $(dir $@); rm -f $@
	$(CC) $(STATIC_LDFLAGS) -static -o $@ $^ $(PKG_LIBS) -lm 2>&1 | \
		grep -v 'statically linked applications requires\|in function .affinity_ip' >&2 || true
	@test -x $@

$(B)/static/tierload: tests/workloads/tierload.c
	@mkdir -p $(dir $@); rm -f $@
	$(CC) -std=gnu11 -O2 $(WARN) $(if $(filter 1,$(WERROR)),-Werror) \
		-static -o $@ $< -lnuma 2>&1 | \
		grep -v 'statically linked applications requires\|in function .affinity_ip' >&2 || true
	@test -x $@

# The package check runs first, in its own make, so that pkg-config
# answers once the libraries are there.  The fuzzers are built here too,
# not inside tests/sh/fuzz.sh's 300 s: building eight of them took most
# of that on a loaded machine, and the test timed out.
check: deps
	@$(MAKE) --no-print-directory tests fuzzers
	@tests/run.sh $(B)

check-run: tests
	@tests/run.sh $(B)

bench: deps
	@$(MAKE) --no-print-directory $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done
	@BENCH_AGENT_PATTERN=fresh $(B)/bench/bench_agent
	@B=$(B) sh tests/bench/guest.sh

deps:
	@missing=""; for p in $(DEB_DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: deps
	@tests/demo.sh

# The guest scenarios under host load (tests/stress.sh): samples read vs
# written, lost, hot set on fast.  STRESS_RUNS, STRESS_BUSY, STRESS_ONLY.
stress: deps
	@tests/stress.sh

# vtier's policy against the oracle and the baselines: traces x budgets x
# policies into $(B)/eval (results.csv, results.md, hit_ratio.png)
eval: deps
	@$(MAKE) --no-print-directory $(B)/vtier-sim
	@sh tests/eval.sh $(B)

# Units name /usr/sbin and /etc/vtier (what the packages install); any
# other SBINDIR or SYSCONFDIR is written into the installed copies.
UNITS := packaging/systemd/vtier-agent.service \
	$(if $(SHIM_SRCS),packaging/systemd/vtier-hostshim.service)
MAN8 := $(wildcard packaging/man/*.8)
MAN5 := $(wildcard packaging/man/*.5)
MAN1 := $(wildcard packaging/man/*.1)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/vtier \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/vtier-agent $(DESTDIR)$(SBINDIR)/vtier-agent
	install -m 0755 $(B)/vtierctl $(DESTDIR)$(BINDIR)/vtierctl
	$(if $(SIM_SRCS),install -m 0755 $(B)/vtier-sim $(DESTDIR)$(BINDIR)/vtier-sim)
	if [ -x $(B)/vtier-hostshim ]; then \
		install -m 0755 $(B)/vtier-hostshim $(DESTDIR)$(SBINDIR)/vtier-hostshim; \
		install -m 0644 hostshim/hostshim.ini $(DESTDIR)$(SYSCONFDIR)/vtier/hostshim.ini; fi
	install -m 0644 agent.ini $(DESTDIR)$(SYSCONFDIR)/vtier/agent.ini
	for u in $(UNITS); do \
		sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/etc/vtier/|$(SYSCONFDIR)/vtier/|g' \
			$$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	$(if $(MAN8),install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/)
	$(if $(MAN5),install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(MAN1),install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)

# Debian packages (vtierctl, vtier-agent, vtier-hostshim) from a copy of
# the tree in build/deb/vtier-VERSION/ with packaging/debian as its
# debian/ (debian/ cannot live at the top).  Everything stays below
# build/deb/: the .debs, the .changes and lintian's verdict (lintian.txt);
# any E: fails the target.
VERSION := $(shell sed -n 's/^\#define VTIER_VERSION "\(.*\)"/\1/p' include/vtier/version.h)
DEB_OUT := build/deb
DEB_TREE := $(DEB_OUT)/vtier-$(VERSION)

deb:
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version) && \
	[ "$$v" = "$(VERSION)" ] || { echo "deb: packaging/debian/changelog says $$v," \
		"include/vtier/version.h $(VERSION): add a changelog entry" >&2; exit 1; }
	rm -rf $(DEB_OUT)
	mkdir -p $(DEB_TREE)
	tar -c --anchored --exclude=./build --exclude=./.git --exclude=./packaging/debian . | \
		tar -x -C $(DEB_TREE)
	cp -R packaging/debian $(DEB_TREE)/debian
	cd $(DEB_TREE) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc
	@echo "lintian -I $(DEB_OUT)/vtier_$(VERSION)_*.changes"; \
	lintian -I --tag-display-limit 0 $(DEB_OUT)/vtier_$(VERSION)_*.changes \
		>$(DEB_OUT)/lintian.txt 2>&1; rc=$$?; cat $(DEB_OUT)/lintian.txt; \
	[ $$rc -le 1 ] || { echo "deb: lintian failed (exit $$rc)" >&2; exit 1; }; \
	! grep -q '^E:' $(DEB_OUT)/lintian.txt || { echo "deb: lintian reports errors" >&2; exit 1; }
	@ls $(DEB_OUT)/*.deb

clean:
	rm -rf build

# keep objects that only feed tests (make would delete them as intermediates)
.SECONDARY:

-include $(shell find $(B)/obj $(B)/sobj -name '*.d' 2>/dev/null)
