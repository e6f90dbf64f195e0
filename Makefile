# portgate - eBPF port-bind policy enforcer
#
#   make            build build/portgate (the BPF object is embedded)
#   make test       install missing packages, run unit + integration tests
#   make demo       install missing packages, run the Node.js port-80 demo
#   make install    PREFIX=/usr/local DESTDIR=   (make uninstall undoes it)
#   V=1             show commands

.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all deps test unit integ demo install uninstall clean format check-format FORCE

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif

CC ?= cc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PKG_CONFIG ?= pkg-config
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

B := build
T := $(B)/test

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -Ibpf -Ipolicy -Iloader -I$(B)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Ibpf \
	$(if $(MULTIARCH),-idirafter /usr/include/$(MULTIARCH))

POLICY_SRCS := $(sort $(wildcard policy/*.c))
LOADER_SRCS := $(sort $(wildcard loader/*.c))
BPF_HDRS := $(wildcard bpf/*.h)
HDRS := $(wildcard policy/*.h loader/*.h) $(BPF_HDRS)

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
$(B)/bpf/$(1)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
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
$(B)/%.o: %.c $(HDRS) $(SKELS) | $(B)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIBBPF_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/portgate: $(LOADER_SRCS:%.c=$(B)/%.o) $(POLICY_SRCS:%.c=$(B)/%.o)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBBPF_LIBS) -lelf -lz

# Sanitised build of the same sources, used by the tests.
$(T)/%.o: %.c $(HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIBBPF_CFLAGS) $(CMOCKA_CFLAGS) -O1 -g $(SAN) -c $< -o $@

$(T)/portgate: $(LOADER_SRCS:%.c=$(T)/%.o) $(POLICY_SRCS:%.c=$(T)/%.o)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN) -o $@ $^ $(LIBBPF_LIBS) -lelf -lz

$(B):
	@mkdir -p $@

# --- version -----------------------------------------------------------------
# git describe of this checkout ("0.1.0-123-gabcdef0", or the base version
# and the commit while there is no tag); PORTGATE_VERSION outside a git
# checkout (a tarball). The header is rewritten only when that changes, so
# that only main.o is rebuilt, and only then.
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

$(B)/version.h: FORCE | $(B)
	$(Q)($(version_sh)) > $@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; \
	printf '  %-8s %s\n' VERSION "$$(cut -d'"' -f2 $@)"; fi

$(B)/loader/main.o $(T)/loader/main.o: $(B)/version.h

# The unit is made from its template here, so that it names the SBINDIR and
# SYSCONFDIR of this install. An existing policy is never overwritten.
install: $(B)/portgate
	install -D -m 0755 $(B)/portgate $(DESTDIR)$(SBINDIR)/portgate
	install -D -m 0644 man/portgate.8 $(DESTDIR)$(MANDIR)/man8/portgate.8
	install -D -m 0644 man/portgate.conf.5 $(DESTDIR)$(MANDIR)/man5/portgate.conf.5
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
		$(DESTDIR)$(MANDIR)/man5/portgate.conf.5 $(DESTDIR)$(SYSTEMDUNITDIR)/portgate.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf ]; then \
		echo "uninstall: left $(DESTDIR)$(SYSCONFDIR)/portgate/portgate.conf in place"; \
	fi

clean:
	rm -rf $(B)

format:
	clang-format -i $(wildcard bpf/*.c bpf/*.h policy/*.c policy/*.h loader/*.c loader/*.h tests/*/*.c tests/*/*.h)

check-format:
	clang-format --dry-run -Werror $(wildcard bpf/*.c bpf/*.h policy/*.c policy/*.h loader/*.c loader/*.h tests/*/*.c tests/*/*.h)

include tests/tests.mk
include tests/kernels/kernels.mk
-include tests/fuzz/fuzz.mk
include bench/bench.mk
