#!/bin/sh
# Run integration test binaries as root; PASS/FAIL per binary, output on failure.
set -u
if [ "$(id -u)" -ne 0 ]; then
	echo "integration tests need root (they load BPF programs)" >&2
	exit 1
fi
fail=0
for t in "$@"; do
	name=$(basename "$t")
	log=$(mktemp)
	start=$(date +%s)
	if "$t" >"$log" 2>&1; then
		printf 'PASS  %s (%s cases, %s s)\n' "$name" "$(grep -c '^\[       OK \]' "$log")" \
			"$(($(date +%s) - start))"
	else
		printf 'FAIL  %s (%s s)\n' "$name" "$(($(date +%s) - start))"
		cat "$log"
		fail=1
	fi
	# A skip in CI is a failure unless the kernel really lacks the feature;
	# the tests print why, and the count is shown here so nobody misses one.
	if grep -q '^\[  SKIPPED \]' "$log"; then
		grep -B2 '^\[  SKIPPED \]' "$log"
		fail=1
	fi
	rm -f "$log"
done
exit $fail
