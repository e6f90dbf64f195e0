# portgate - eBPF port-bind policy enforcer
#
#   make            build build/portgate (the BPF object is embedded)
#   make test       install missing packages, run unit + integration tests
#   make demo       install missing packages, run the Node.js port-80 demo
#   make install    PREFIX=/usr/local DESTDIR=   (make uninstall undoes it)
#   make deb        the Debian package (debian/), built in build/deb/
#   make deps       install the packages that building and testing need
#   ARCH=arm64      build for another architecture, here into build/arm64/,
#                   with CROSS_COMPILE=aarch64-linux-gnu- unless given
#   V=1             show commands
#
# Only deps, test and demo install packages; no other target does.

.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all deps test unit integ demo install uninstall deb clean format check-format FORCE

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif

# --- target architecture ----------------------------------------------------
# The kernel's name for the target (x86, arm64, ...), taken from what $(CC)
# builds for; ARCH=arm64 on an x86 host picks Debian's cross compiler. The BPF
# programs need it for bpf_tracing.h's register layout (__TARGET_ARCH_*).
# How uname -m, a GNU triplet and Debian name each architecture; a kernel
# name (x86, arm64, ...) maps to itself.
kernel_arch = $(or $(karch_$(1)),$(1))
karch_x86_64 := x86
karch_amd64 := x86
karch_i386 := x86
karch_i686 := x86
karch_aarch64 := arm64
karch_armv7l := arm
karch_armhf := arm
karch_riscv64 := riscv
karch_s390x := s390
karch_ppc64le := powerpc
karch_powerpc64le := powerpc
karch_ppc64el := powerpc
karch_loongarch64 := loongarch
# The Debian triplet of each ARCH= a cross build may name.
triplet_arm64 := aarch64-linux-gnu
triplet_x86 := x86_64-linux-gnu
triplet_arm := arm-linux-gnueabihf
triplet_riscv := riscv64-linux-gnu
triplet_s390 := s390x-linux-gnu
triplet_powerpc := powerpc64le-linux-gnu

HOST_ARCH := $(call kernel_arch,$(shell uname -m))
# ARCH= may also be given as uname -m or Debian says it (aarch64, amd64).
ifneq ($(ARCH),)
override ARCH := $(call kernel_arch,$(strip $(ARCH)))
endif
ifneq ($(filter default undefined,$(origin CC)),)
ifneq ($(ARCH),)
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(triplet_$(ARCH))-
endif
endif
CC := $(if $(CROSS_COMPILE),$(CROSS_COMPILE)gcc,cc)
endif
TARGET_TRIPLET := $(shell $(CC) -dumpmachine 2>/dev/null)
ifeq ($(TARGET_TRIPLET),)
$(error cannot run $(CC) (ARCH=$(ARCH)); make deps installs the arm64 cross compiler)
endif
ifeq ($(ARCH),)
override ARCH := $(call kernel_arch,$(firstword $(subst -, ,$(TARGET_TRIPLET))))
endif
ifeq ($(ARCH),)
$(error cannot tell the target architecture from $(CC) -dumpmachine; set ARCH=)
endif
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
# A cross build finds the target's .pc files in its multiarch directory.
ifeq ($(ARCH),$(HOST_ARCH))
PKG_CONFIG ?= pkg-config
else
PKG_CONFIG ?= PKG_CONFIG_LIBDIR=/usr/lib/$(MULTIARCH)/pkgconfig:/usr/share/pkgconfig pkg-config
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

# A build for another architecture has a tree of its own.
ifeq ($(ARCH),$(HOST_ARCH))
B := build
else
B := build/$(ARCH)
endif
T := $(B)/test

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)
JSONC_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-c 2>/dev/null)
JSONC_LIBS := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null || echo -ljson-c)
SYSTEMD_LIBS := $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null || echo -lsystemd)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -Ibpf -Ipolicy -Iloader -I$(B)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Every object records the headers it includes (x.o -> x.d, included at the
# end), so a header change rebuilds its includers only.
DEPFLAGS := -MMD -MP

BPF_CFLAGS := -g -grecord-command-line -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Ibpf $(DEPFLAGS) \
	$(if $(MULTIARCH),-idirafter /usr/include/$(MULTIARCH))

POLICY_SRCS := $(sort $(wildcard policy/*.c))
LOADER_SRCS := $(sort $(wildcard loader/*.c))
include tests/kube/kube.mk
include tests/http/http.mk
POLICY_OBJS := $(POLICY_SRCS:%.c=$(B)/%.o)

all: $(B)/portgate

# --- BPF: clang -> bpftool gen object (static link) -> skeleton ------------
# One object per program variant (bpf/pg_whose.h), all embedded; the loader
# runs the best one the kernel takes. Each variant links one object per
# bpf/*.bpf.c (a concern each; shared maps: bpf/pg_maps.h).
VARIANTS := sk task
PG_SK_CGROUP_sk := 1
PG_SK_CGROUP_task := 0
BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
bpf_objs = $(BPF_SRCS:bpf/%.bpf.c=$(B)/bpf/$(1)/%.bpf.o)
SKELS := $(VARIANTS:%=$(B)/portgate_%.skel.h)
# kept, not deleted as intermediates of the pattern chain
.SECONDARY: $(SKELS) $(VARIANTS:%=$(B)/portgate_%.o) \
	$(foreach v,$(VARIANTS),$(call bpf_objs,$(v)))

define bpf_variant
$(B)/bpf/$(1)/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $$(dir $$@)
	$$(call msg,BPF,$$@)
	$$(Q)$$(CLANG) $$(BPF_CFLAGS) -DPG_SK_CGROUP=$$(PG_SK_CGROUP_$(1)) -c $$< -o $$@

$(B)/portgate_$(1).o: $(call bpf_objs,$(1))
	$$(call msg,GEN-OBJ,$$@)
	$$(Q)$$(BPFTOOL) gen object $$@ $$^
endef
$(foreach v,$(VARIANTS),$(eval $(call bpf_variant,$(v))))

$(B)/portgate_%.skel.h: $(B)/portgate_%.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name portgate_$* > $@

# --- userspace ---------------------------------------------------------------
# The generated headers come first (order-only); which objects include them,
# and so are rebuilt when they change, the .d files say.
GEN_HDRS := $(SKELS) $(B)/version.h

$(B)/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIBBPF_CFLAGS) $(JSONC_CFLAGS) $(KUBE_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/portgate: $(LOADER_SRCS:%.c=$(B)/%.o) $(POLICY_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBBPF_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) $(HTTP_LIBS) $(KUBE_LIBS) -lelf -lz

# Sanitised build of the same sources, used by the tests.
# Test sources (tests/*/) are compiled by this rule too.
$(T)/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(TEST_CFLAGS) $(LIBBPF_CFLAGS) $(JSONC_CFLAGS) $(KUBE_CFLAGS) $(CMOCKA_CFLAGS) -O1 -g $(SAN) \
		$(DEPFLAGS) -c $< -o $@

$(T)/portgate: $(LOADER_SRCS:%.c=$(T)/%.o) $(POLICY_SRCS:%.c=$(T)/%.o)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN) -o $@ $^ $(LIBBPF_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) $(HTTP_LIBS) $(KUBE_LIBS) -lelf -lz

$(B):
	@mkdir -p $@

# --- version -----------------------------------------------------------------
# git describe of this checkout ("0.1.0-123-gabcdef0", or the base version
# and the commit while there is no tag); PORTGATE_VERSION outside a git
# checkout (a tarball). The header is rewritten only when that changes, so
# that only its includers (main.o) are rebuilt, and only then.
PORTGATE_VERSION ?= 0.1.0
define version_sh
d=$$(git describe --tags --always --dirty 2>/dev/null); \
[ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] || d=; \
case "$$d" in \
"") v='$(PORTGATE_VERSION)' ;; \
v[0-9]*.*|[0-9]*.*) v="$${d#v}" ;; \
*) v='$(PORTGATE_VERSION)'-g"$$d" ;; \
esac; \
printf '#define PORTGATE_VERSION "%s"\n' "$$v"
endef

# Compared when the Makefile is read, not in a forced recipe, so that
# make -n does not list main.o as out of date every time.
VERSION_LINE := $(shell $(version_sh))
ifneq ($(VERSION_LINE),$(file <$(B)/version.h))
$(B)/version.h: FORCE
endif
$(B)/version.h: | $(B)
	$(Q)printf '%s\n' '$(VERSION_LINE)' > $@
	$(Q)printf '  %-8s %s\n' VERSION "$$(cut -d'"' -f2 $@)"

$(B)/loader/main.o $(T)/loader/main.o $(B)/loader/version.o $(T)/loader/version.o: $(B)/version.h

# The unit is made from its template here, so that it names the SBINDIR and
# SYSCONFDIR of this install. An existing policy is never overwritten.
install: $(B)/portgate
	install -D -m 0755 $(B)/portgate $(DESTDIR)$(SBINDIR)/portgate
	install -D -m 0644 man/portgate.8 $(DESTDIR)$(MANDIR)/man8/portgate.8
	install -D -m 0644 man/portgate.conf.5 $(DESTDIR)$(MANDIR)/man5/portgate.conf.5
	install -D -m 0644 completion/portgate.bash $(DESTDIR)$(BASHCOMPDIR)/portgate
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		deploy/systemd/portgate.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/portgate.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/portgate.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf ]; then \
		echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf"; \
	else \
		echo "install -D -m 0644 deploy/systemd/portgate.conf $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf"; \
		install -D -m 0644 deploy/systemd/portgate.conf $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf; \
	fi

# Leaves the policy in place: it is configuration, and maybe edited.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/portgate $(DESTDIR)$(MANDIR)/man8/portgate.8 \
		$(DESTDIR)$(MANDIR)/man5/portgate.conf.5 $(DESTDIR)$(SYSTEMDUNITDIR)/portgate.service \
		$(DESTDIR)$(BASHCOMPDIR)/portgate
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf ]; then \
		echo "uninstall: left $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf in place"; \
	fi

# --- Debian package ------------------------------------------------------------
# dpkg-buildpackage writes next to the source tree, so it runs in a copy under
# build/deb/ (what is not build/ nor .git), with this checkout's version: the
# copy is no git checkout of its own.
DEB_DIR := build/deb
PORTGATE_VERSION_STRING = $(subst ",,$(word 3,$(VERSION_LINE)))

deb:
	$(call msg,DEB,$(DEB_DIR))
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/portgate
	$(Q)tar -c --exclude=./build --exclude=./.git -f - . | tar -x -C $(DEB_DIR)/portgate
	$(Q)cd $(DEB_DIR)/portgate && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		PORTGATE_VERSION='$(PORTGATE_VERSION_STRING)' DEB_BUILD_OPTIONS='parallel=2' \
		dpkg-buildpackage -us -uc --build=full >../build.log 2>&1 || \
		{ tail -40 ../build.log; echo "deb: dpkg-buildpackage failed, see $(DEB_DIR)/build.log"; exit 1; }
	$(Q)ls $(DEB_DIR)/*.deb

clean:
	rm -rf $(B)

format:
	clang-format -i $(wildcard bpf/*.c bpf/*.h policy/*.c policy/*.h loader/*.c loader/*.h tests/*/*.c tests/*/*.h)

check-format:
	clang-format --dry-run -Werror $(wildcard bpf/*.c bpf/*.h policy/*.c policy/*.h loader/*.c loader/*.h tests/*/*.c tests/*/*.h)

include tests/tests.mk
include tests/kernels/kernels.mk
include tests/systemd/systemd.mk
-include tests/fuzz/fuzz.mk
include bench/bench.mk
include tests/cross/cross.mk

# What each object includes, from its last compile (none before the first);
# not the .d files of make deb's copy of the tree, which name the same targets.
# Only where objects are built: build/ also holds guests' root file systems
# (tests/systemd), whose /etc/*.d directories must not be read as makefiles.
DEP_GLOBS := $(B)/*.d $(B)/bpf/*/*.d $(B)/loader/*.d $(B)/policy/*.d $(B)/bench/*.d $(B)/fuzz/*.d $(B)/fuzz/*/*.d \
	$(B)/tests/*/*.d $(T)/loader/*.d $(T)/policy/*.d $(T)/tests/*/*.d
-include $(filter-out $(DEB_DIR)/%,$(wildcard $(DEP_GLOBS)))
