# tests/kernels: boot Debian's stock kernels under qemu (host's / as the
# guest's root over 9p) and run a command in each. Included by the top-level
# Makefile; everything it makes is under build/.
#
#   make test-kernels-smoke [KERNELS="6.1 7.2"] [KERNEL_CACHE=dir] [KERNEL_TIMEOUT=s]
#
# Other commands: tests/kernels/run.sh --kernels "$(KERNELS)" -- CMD...

KERNELS ?= 5.10 6.1 6.12 7.2
KERNEL_CACHE ?= build/kernels/cache
KERNEL_TIMEOUT ?= 1500

TEST_KERNELS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TEST_KERNELS_PROBE := build/kernels/probe-map

$(TEST_KERNELS_PROBE): $(TEST_KERNELS_DIR)/probe-map.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -o $@ $< -lbpf

.PHONY: test-kernels-smoke
test-kernels-smoke: $(TEST_KERNELS_PROBE)
	$(TEST_KERNELS_DIR)/run.sh --kernels "$(KERNELS)" --cache "$(KERNEL_CACHE)" \
		--timeout "$(KERNEL_TIMEOUT)" -- $(TEST_KERNELS_DIR)/smoke.sh $(TEST_KERNELS_PROBE)
