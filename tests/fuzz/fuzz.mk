# Fuzzing rules, included by the top-level Makefile.
#
#   make fuzz [FUZZ_SECONDS=60]   build build/fuzz/fuzz_policy (libFuzzer,
#                                 ASan, UBSan) and fuzz for that long over the
#                                 working corpus build/fuzz/corpus, seeded from
#                                 tests/fuzz/corpus
#   make fuzz-short               what make test runs: replay every file of
#                                 tests/fuzz/regressions and tests/fuzz/corpus,
#                                 then fuzz FUZZ_SHORT_SECONDS (default 20) from
#                                 the seeds with -seed=1; fails on any crash
#   FUZZ_ARGS=...                 extra libFuzzer options for both
#
# The target (tests/fuzz/fuzz_policy.c) parses, resolves and compiles the
# input, and checks every decision of the image against a reference
# evaluator of portgate.conf(5). An input is up to four files split on the
# line "#--file--": portgate.conf, a.conf, b.conf, conf.d/10.conf.
#
# tests/fuzz/regressions/ holds one input per crash or wrong decision ever
# found. Both targets copy each new failing input there: commit it with the
# fix, and every later make test replays it. To look at one input:
#   FUZZ_POLICY_VERBOSE=1 build/fuzz/fuzz_policy FILE

.PHONY: fuzz fuzz-short

FUZZ_SECONDS ?= 60
FUZZ_SHORT_SECONDS ?= 20
FUZZ_MAX_LEN ?= 8192
FUZZ_CC ?= $(CLANG)
FUZZ_ARGS ?=

FZ := $(B)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(BASE_CFLAGS) -g -O1 $(FUZZ_SAN)
FUZZ_OBJS := $(POLICY_SRCS:%.c=$(FZ)/%.o)

# The library with coverage instrumentation, no libFuzzer main.
$(FZ)/policy/%.o: policy/%.c
	@mkdir -p $(dir $@)
	$(call msg,CC-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FZ)/fuzz_policy.o: tests/fuzz/fuzz_policy.c
	@mkdir -p $(dir $@)
	$(call msg,CC-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer -c $< -o $@

$(FZ)/fuzz_policy: $(FZ)/fuzz_policy.o $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(call msg,LINK-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^

fuzz: $(FZ)/fuzz_policy
	$(call msg,FUZZ,$< for $(FUZZ_SECONDS)s)
	$(Q)FUZZ_ARGS='$(FUZZ_ARGS)' tests/fuzz/run-fuzz.sh long $< $(FUZZ_SECONDS) $(FUZZ_MAX_LEN)

fuzz-short: $(FZ)/fuzz_policy
	$(call msg,FUZZ,$< replay + $(FUZZ_SHORT_SECONDS)s)
	$(Q)FUZZ_ARGS='$(FUZZ_ARGS)' tests/fuzz/run-fuzz.sh short $< $(FUZZ_SHORT_SECONDS) $(FUZZ_MAX_LEN)

# The pod selector target (tests/fuzz/fuzz_kube_sel.c): a pod selector
# matched against a pod's namespace and labels, and the pod's UID mapped to
# its cgroup and back. Its seeds are in tests/fuzz/kube/corpus, its failing
# inputs kept in tests/fuzz/kube/regressions; make fuzz-short runs it too.
#   make fuzz-kube [FUZZ_SECONDS=60]   fuzz it alone for that long
FZK := $(FZ)/kube
KUBE_FUZZ_ENV := FUZZ_SEEDS=tests/fuzz/kube/corpus FUZZ_REGS=tests/fuzz/kube/regressions \
	FUZZ_DICT=tests/fuzz/kube/kube.dict FUZZ_ARGS='$(FUZZ_ARGS)'

.PHONY: fuzz-kube fuzz-short-kube

$(FZK)/fuzz_kube_sel: tests/fuzz/fuzz_kube_sel.c $(FUZZ_OBJS) $(wildcard policy/kube_*.h)
	@mkdir -p $(dir $@)
	$(call msg,LINK-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS)

fuzz-kube: $(FZK)/fuzz_kube_sel
	$(call msg,FUZZ,$< for $(FUZZ_SECONDS)s)
	$(Q)$(KUBE_FUZZ_ENV) tests/fuzz/run-fuzz.sh long $< $(FUZZ_SECONDS) $(FUZZ_MAX_LEN)

fuzz-short-kube: $(FZK)/fuzz_kube_sel
	$(call msg,FUZZ,$< replay + $(FUZZ_SHORT_SECONDS)s)
	$(Q)$(KUBE_FUZZ_ENV) tests/fuzz/run-fuzz.sh short $< $(FUZZ_SHORT_SECONDS) $(FUZZ_MAX_LEN)

fuzz-short: fuzz-short-kube

# The pod compile target (tests/fuzz/fuzz_kube_compile.c): a policy with
# pod: rules and a list of pods decoded from the input, compiled, and the
# image checked against a reference built from pg_kube_sel_match() and
# pg_kube_pod_path(). Seeds in tests/fuzz/kube-compile/corpus, failing
# inputs kept in tests/fuzz/kube-compile/regressions; make fuzz-short runs it.
#   make fuzz-kube-compile [FUZZ_SECONDS=60]   fuzz it alone for that long
FZC := $(FZ)/kube-compile
KCOMP_FUZZ_ENV := FUZZ_SEEDS=tests/fuzz/kube-compile/corpus \
	FUZZ_REGS=tests/fuzz/kube-compile/regressions \
	FUZZ_DICT=tests/fuzz/kube-compile/kube-compile.dict FUZZ_ARGS='$(FUZZ_ARGS)'

.PHONY: fuzz-kube-compile fuzz-short-kube-compile

$(FZC)/fuzz_kube_compile: tests/fuzz/fuzz_kube_compile.c $(FUZZ_OBJS) $(wildcard policy/*.h)
	@mkdir -p $(dir $@)
	$(call msg,LINK-FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS)

fuzz-kube-compile: $(FZC)/fuzz_kube_compile
	$(call msg,FUZZ,$< for $(FUZZ_SECONDS)s)
	$(Q)$(KCOMP_FUZZ_ENV) tests/fuzz/run-fuzz.sh long $< $(FUZZ_SECONDS) $(FUZZ_MAX_LEN)

fuzz-short-kube-compile: $(FZC)/fuzz_kube_compile
	$(call msg,FUZZ,$< replay + $(FUZZ_SHORT_SECONDS)s)
	$(Q)$(KCOMP_FUZZ_ENV) tests/fuzz/run-fuzz.sh short $< $(FUZZ_SHORT_SECONDS) $(FUZZ_MAX_LEN)

fuzz-short: fuzz-short-kube-compile
