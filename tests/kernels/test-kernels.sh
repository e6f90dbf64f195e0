#!/bin/bash
# test-kernels.sh [--kernels "5.10 6.1 6.12 7.2"]
#
# `make test-kernels`: boot each kernel a fleet runs under qemu (run.sh) and
# run the integration suite inside (integ-suite.sh, which says what runs on
# which kernel), then print a table of kernel x test binary: pass, fail, or
# refused as documented. The build must exist (build/test/...).
#
# Exit status: 0 when every kernel booted and nothing failed; 1 when a test
# failed; 2 when a kernel could not be fetched or booted (a machine that
# cannot boot a guest fails, never skips).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kernels="5.10 6.1 6.12 7.2"
while [ $# -gt 0 ]; do
	case "$1" in
	--kernels) kernels=${2:?}; shift 2 ;;
	--kernels=*) kernels=${1#*=}; shift ;;
	*) echo "usage: test-kernels.sh [--kernels \"5.10 6.1 6.12 7.2\"]" >&2; exit 2 ;;
	esac
done
for f in build/test/portgate build/portgate build/test/integ/test_enforce; do
	[ -x "$root/$f" ] || { echo "test-kernels: $root/$f is missing: build first (make test-kernels does)" >&2; exit 2; }
done

cd "$root"
"$here/run.sh" --kernels "$kernels" -- tests/kernels/integ-suite.sh
st=$?

# The table, from each guest's TK-RESULT lines.
bins="test_enforce test_events test_mkdir test_attack test_agent test_storm test_check grant-mode"
printf '\n%-22s' "kernel"
for b in $bins; do printf ' %-13s' "$b"; done
printf '\n'
for k in $kernels; do
	kver=$(cat "build/kernels/cache/$k.kver" 2>/dev/null)
	out="build/kernels/$kver/output"
	printf '%-22s' "${kver:-$k}"
	for b in $bins; do
		r=$(awk -v b="$b" '$1 == "TK-RESULT" && $2 == b { print $3 "(" $4 ")" }' "$out" 2>/dev/null)
		[ -z "$r" ] && r="-"
		[ -f "$out" ] || r="no-boot"
		printf ' %-13s' "$r"
	done
	printf '\n'
done
printf '(pass/fail with the number of cases that passed; refused: the kernel lacks what it needs, as documented; host-only: see tests/kernels/integ-suite.sh)\n'
for k in $kernels; do
	kver=$(cat "build/kernels/cache/$k.kver" 2>/dev/null)
	out="build/kernels/$kver/output"
	[ -f "$out" ] && awk '$1 == "TK-RESULT" && $3 == "refused" { $1 = ""; print "  '"$k"':" $0 }' "$out" | sort -u
done
exit $st
