#!/bin/sh
# Run each unit test binary given as an argument, from the repository root
# (the tests read tests/policies/ by relative path). Prints PASS or FAIL per
# binary, shows a failing binary's output, exits 1 if any failed.
set -u

root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
out=$(mktemp "${TMPDIR:-/tmp}/portgate-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

failed=0
total=0
for bin in "$@"; do
	case "$bin" in
	/*) path=$bin ;;
	*) path=$PWD/$bin ;;
	esac
	total=$((total + 1))
	if (cd "$root" && "$path") >"$out" 2>&1; then
		printf '  PASS     %s\n' "$bin"
	else
		rc=$?
		failed=$((failed + 1))
		printf '  FAIL     %s (exit status %d)\n' "$bin" "$rc"
		sed 's/^/    | /' "$out"
	fi
done

if [ "$total" -eq 0 ]; then
	echo "run-unit: no test binaries given" >&2
	exit 2
fi
if [ "$failed" -ne 0 ]; then
	printf 'unit: %d of %d test binaries failed\n' "$failed" "$total"
	exit 1
fi
printf 'unit: all %d test binaries passed\n' "$total"
