# Test build rules, included by the top-level Makefile.
#
# Unit tests: tests/unit/test_*.c, each linked with the policy library
# (and json-c, for test_json.c, which compiles loader/json.c in itself),
# sanitised, run without privileges.
# Integration tests: tests/integ/test_*.c, linked with the harness, run as
# root against the real kernel and the sanitised build/test/portgate.
# Deploy tests: tests/deploy/, the shipped systemd unit and make install
# into a scratch DESTDIR, the Kubernetes manifests and Dockerfile, and the
# bash completion; no network, no root.

.PHONY: deps test unit integ demo deploy-test deb-test test-kernels

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(T)/unit/%)
INTEG_SRCS := $(sort $(wildcard tests/integ/test_*.c))
INTEG_BINS := $(INTEG_SRCS:tests/integ/%.c=$(T)/integ/%)
INTEG_LIB := $(sort $(wildcard tests/integ/harness*.c))

deps:
	$(Q)tests/deps.sh

# Each test file is compiled on its own (the $(T)/%.o rule, with a .d file),
# then linked; the objects are kept so that a rebuild compiles what changed.
UNIT_OBJS := $(UNIT_SRCS:%.c=$(T)/%.o)
INTEG_OBJS := $(INTEG_SRCS:%.c=$(T)/%.o)
INTEG_LIB_OBJS := $(INTEG_LIB:%.c=$(T)/%.o)
.SECONDARY: $(UNIT_OBJS) $(INTEG_OBJS) $(INTEG_LIB_OBJS)
$(T)/tests/integ/%.o: TEST_CFLAGS := -Itests/integ

$(T)/unit/%: $(T)/tests/unit/%.o $(POLICY_SRCS:%.c=$(T)/%.o)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN) -o $@ $^ $(CMOCKA_LIBS) $(JSONC_LIBS)

$(T)/integ/%: $(T)/tests/integ/%.o $(INTEG_LIB_OBJS) $(T)/loader/cgroup.o $(T)/loader/log.o $(T)/loader/notify.o $(T)/loader/util.o $(POLICY_SRCS:%.c=$(T)/%.o)
	@mkdir -p $(dir $@)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(SAN) -o $@ $^ $(CMOCKA_LIBS) $(LIBBPF_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) -lelf -lz

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

integ: $(T)/portgate $(B)/portgate $(INTEG_BINS)
	$(Q)PORTGATE=$(abspath $(T)/portgate) PORTGATE_PLAIN=$(abspath $(B)/portgate) \
		PROMTOOL="$$(tests/http/promtool.sh $(abspath $(B)/http/promtool))" \
		tests/run-integ.sh $(INTEG_BINS)

# Every kernel a fleet runs, booted under qemu, the integration tests inside
# (tests/kernels/integ-suite.sh says which run on which kernel).
test-kernels: $(T)/portgate $(B)/portgate $(INTEG_BINS)
	$(Q)tests/kernels/test-kernels.sh --kernels "$(KERNELS)"

# Debian's python3, which python3-yaml (tests/deps.sh) goes with.
DEPLOY_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

deploy-test: $(B)/portgate
	$(Q)tests/deploy/test_install.sh
	$(Q)PORTGATE=$(abspath $(B)/portgate) $(DEPLOY_PYTHON) tests/deploy/test_manifests.py
	$(Q)PORTGATE=$(abspath $(B)/portgate) tests/deploy/test_completion.sh
	$(Q)tests/deploy/test_dockerfile.sh

# The Debian package: lintian, then installed in a throwaway root (root).
deb-test: deb
	$(Q)tests/deploy/test_deb.sh

# The README's test command: set up a fresh Debian 12 machine, then test.
test: deps
	$(Q)$(MAKE) --no-print-directory all unit deploy-test cross-arm64 deb-test fuzz-short test-kube test-http integ test-kernels test-systemd

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)demo/demo.sh $(abspath $(B)/portgate)
