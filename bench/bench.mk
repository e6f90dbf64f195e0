# make bench: measure what portgate costs a bind(), against the floor and
# the bare hook, in one interleaved run; then, with the Kubernetes source,
# from a watch event to the new rules in force at 250 pods
# (bench/kube_latency.py, make bench-kube alone); writes bench/RESULTS.md.
# make bench-check: a shorter run that fails when portgate's overhead over
# the bare hook exceeds the targets (60 ns privileged, 10 ns unprivileged)
# by more than the run's own noise.
.PHONY: bench bench-check bench-kernels bench-kube

BENCH_ROUNDS ?= 15

# bench.c and the harness through the $(B)/%.o rule, with -Itests/integ.
$(B)/bench/%.o $(B)/tests/integ/%.o: CFLAGS := -O2 -g -Itests/integ

$(B)/bench/bench: $(B)/bench/bench.o $(B)/tests/integ/harness.o $(B)/loader/cgroup.o $(B)/loader/log.o $(B)/loader/notify.o $(B)/loader/util.o
	$(call msg,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(LIBBPF_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) -lelf -lz

bench: all $(B)/bench/bench
	$(Q)PORTGATE=$(abspath $(B)/portgate) $(B)/bench/bench --rounds $(BENCH_ROUNDS) \
		--markdown bench/RESULTS.md
	$(Q)PORTGATE=$(abspath $(B)/portgate) $(KUBE_PYTHON) bench/kube_latency.py \
		--rounds $(BENCH_KUBE_ROUNDS) --markdown bench/RESULTS.md
	$(Q)if [ -s bench/RESULTS-kernels.md ]; then cat bench/RESULTS-kernels.md >> bench/RESULTS.md; fi

BENCH_KUBE_ROUNDS ?= 200
bench-kube: all
	$(Q)PORTGATE=$(abspath $(B)/portgate) $(KUBE_PYTHON) bench/kube_latency.py \
		--rounds $(BENCH_KUBE_ROUNDS)

bench-check: all $(B)/bench/bench
	$(Q)BENCH_CHECK=1 PORTGATE=$(abspath $(B)/portgate) $(B)/bench/bench --rounds 5 --stat-rounds 9

# make bench-kernels: the same bench inside 6.1 and 7.2 guests (tests/kernels),
# as ratios to the bare hook in each: bench/RESULTS-kernels.md, which also
# replaces the per-kernel section at the end of bench/RESULTS.md.
bench-kernels: all $(B)/bench/bench
	$(Q)bench/kernels.sh $(BENCH_KERNELS) > bench/RESULTS-kernels.md.tmp
	$(Q)mv bench/RESULTS-kernels.md.tmp bench/RESULTS-kernels.md
	$(Q)sed -i '/^## Per kernel/,$$d' bench/RESULTS.md
	$(Q)cat bench/RESULTS-kernels.md >> bench/RESULTS.md
