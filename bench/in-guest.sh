#!/bin/bash
# bench/in-guest.sh: `make bench` inside a test-kernels guest (see
# bench/kernels.sh), fewer rounds: software emulation makes every figure
# slower, so only the ratios to the bare hook, measured side by side in the
# same guest, compare across kernels. Writes $TEST_KERNELS_RESULTS/bench.md.
set -eu
: "${TEST_KERNELS_RESULTS:?run inside a test-kernels guest}"
PORTGATE=$PWD/build/portgate exec build/bench/bench --rounds "${BENCH_GUEST_ROUNDS:-3}" \
	--stat-rounds "${BENCH_GUEST_STAT_ROUNDS:-5}" --sizes 2 \
	--markdown "$TEST_KERNELS_RESULTS/bench.md"
