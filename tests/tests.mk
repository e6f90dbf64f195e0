# Test build rules, included by the top-level Makefile.
#
# Unit tests: tests/unit/test_*.c, each linked with the policy library,
# sanitised, run without privileges.
# Integration tests: tests/integ/test_*.c, linked with the harness, run as
# root against the real kernel and the sanitised build/test/portgate.
# Deploy tests: tests/deploy/, the shipped systemd unit and make install
# into a scratch DESTDIR, and the Kubernetes manifests; no network, no root.

.PHONY: deps test unit integ demo deploy-test test-kernels

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(T)/unit/%)
INTEG_SRCS := $(sort $(wildcard tests/integ/test_*.c))
INTEG_BINS := $(INTEG_SRCS:tests/integ/%.c=$(T)/integ/%)
INTEG_LIB := $(sort $(wildcard tests/integ/harness*.c))

deps:
	$(Q)tests/deps.sh

$(T)/unit/%: tests/unit/%.c $(POLICY_SRCS:%.c=$(T)/%.o) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CMOCKA_CFLAGS) -O1 -g $(SAN) -o $@ $< \
		$(POLICY_SRCS:%.c=$(T)/%.o) $(CMOCKA_LIBS)

$(T)/integ/%: tests/integ/%.c $(INTEG_LIB) $(wildcard tests/integ/harness*.h) $(T)/loader/cgroup.o $(T)/loader/util.o $(T)/loader/notify.o $(POLICY_SRCS:%.c=$(T)/%.o) $(HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(BASE_CFLAGS) -Itests/integ $(LIBBPF_CFLAGS) $(CMOCKA_CFLAGS) -O1 -g $(SAN) -o $@ \
		$< $(INTEG_LIB) $(T)/loader/cgroup.o $(T)/loader/util.o $(T)/loader/notify.o $(POLICY_SRCS:%.c=$(T)/%.o) $(CMOCKA_LIBS) $(LIBBPF_LIBS) $(SYSTEMD_LIBS) -lelf -lz

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

integ: $(T)/portgate $(B)/portgate $(INTEG_BINS)
	$(Q)PORTGATE=$(abspath $(T)/portgate) PORTGATE_PLAIN=$(abspath $(B)/portgate) \
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

# The README's test command: set up a fresh Debian 12 machine, then test.
test: deps
	$(Q)$(MAKE) --no-print-directory all unit deploy-test fuzz-short integ test-kernels test-systemd

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)demo/demo.sh $(abspath $(B)/portgate)
