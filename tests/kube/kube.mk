# The Kubernetes API client (issue 11): loader/kube_*.c, linked into
# portgate (the agent's Kubernetes source, loader/run_kube.c), and tested on
# its own against tests/kube/apiserver.py.
#
#   make test-kube    install what is missing (as root), build the sanitised
#                     driver build/test/kube/kubewatch, run tests/kube/test_kube.py,
#                     then fuzz-kube-short, then the agent against the stand-in
#                     (tests/kube/test_agent.py: real BPF, root), then the
#                     Kubernetes README's examples (tests/kube/test_readme_examples.py)
#
# Included right after LOADER_SRCS is set, before the Makefile's first rule:
# the default goal is saved and restored around the rules below.

.PHONY: test-kube kube-deps fuzz-kube-short
kube_goal := $(.DEFAULT_GOAL)

KUBE_SRCS := loader/kube_client.c loader/kube_pods.c loader/kube_config.c
KUBE_HDRS := $(KUBE_SRCS:.c=.h)
KUBE_PKGS := libcurl json-c yaml-0.1
KUBE_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(KUBE_PKGS) 2>/dev/null)
KUBE_LIBS = $(shell $(PKG_CONFIG) --libs $(KUBE_PKGS) 2>/dev/null || echo -lcurl -ljson-c -lyaml)
KUBE_PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

$(T)/kube/kubewatch: tests/kube/kubewatch.c $(KUBE_SRCS) $(KUBE_HDRS)
	@mkdir -p $(dir $@)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(KUBE_CFLAGS) -O1 -g $(SAN) -o $@ $< $(KUBE_SRCS) $(KUBE_LIBS)

# libFuzzer over the path from the server's bytes to the callbacks
# (tests/kube/fuzz_kube.c); fuzz-kube-short replays tests/kube/fuzz-seeds
# and fuzzes KUBE_FUZZ_SECONDS more with -seed=1.
KUBE_FUZZ_SECONDS ?= 20
$(B)/fuzz/fuzz_kube: tests/kube/fuzz_kube.c loader/kube_pods.c $(KUBE_HDRS) loader/kube_pods.h
	@mkdir -p $(dir $@)
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(BASE_CFLAGS) $(KUBE_CFLAGS) -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		$< loader/kube_pods.c $(KUBE_LIBS)

fuzz-kube-short: $(B)/fuzz/fuzz_kube
	@mkdir -p $(B)/fuzz/kube-corpus
	$(Q)$< -seed=1 -max_len=16384 -max_total_time=$(KUBE_FUZZ_SECONDS) \
		-artifact_prefix=$(B)/fuzz/kube- $(B)/fuzz/kube-corpus tests/kube/fuzz-seeds \
		2>$(B)/fuzz/kube.log || { tail -40 $(B)/fuzz/kube.log; exit 1; }
	@grep -E '^Done|^#[0-9]+.*DONE' $(B)/fuzz/kube.log | tail -1

kube-deps:
	$(Q)tests/kube/deps.sh $(B)/kube

# Debian's kubectl: installed, or unpacked by kube-deps beside another one.
KUBE_DEBIAN_KUBECTL = $(firstword $(wildcard $(B)/kube/debian-kubectl/usr/bin/kubectl) \
	$(shell dpkg-query -W -f='$${Status}' kubernetes-client 2>/dev/null | \
		grep -q 'ok installed' && echo /usr/bin/kubectl))

test-kube: kube-deps
	$(Q)$(MAKE) --no-print-directory $(T)/kube/kubewatch
	$(Q)KUBEWATCH=$(abspath $(T)/kube/kubewatch) \
		KUBE_DEBIAN_KUBECTL=$(abspath $(KUBE_DEBIAN_KUBECTL)) KUBE_TMPDIR=$(abspath $(T)/kube) \
		$(KUBE_PYTHON) tests/kube/test_kube.py
	$(Q)$(MAKE) --no-print-directory fuzz-kube-short
	$(Q)$(MAKE) --no-print-directory $(T)/portgate
	$(Q)PORTGATE=$(abspath $(T)/portgate) KUBE_TMPDIR=$(abspath $(T)/kube) \
		$(KUBE_PYTHON) tests/kube/test_agent.py
	$(Q)PORTGATE=$(abspath $(T)/portgate) KUBE_DEBIAN_KUBECTL=$(abspath $(KUBE_DEBIAN_KUBECTL)) \
		$(KUBE_PYTHON) tests/kube/test_readme_examples.py

.DEFAULT_GOAL := $(kube_goal)
