#!/bin/bash
# bench/kernels.sh [KERNEL...]: `make bench-kernels`. Boots each kernel
# (default 6.1 and 7.2) under qemu, runs bench/in-guest.sh there, and prints
# one markdown section per kernel: the programs' own run time (BPF stats)
# and each configuration's ratio to the bare hook, from the same guest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
kernels=${*:-6.1 7.2}
out=build/kernels/bench
mkdir -p "$out"
for k in $kernels; do
	tests/kernels/run.sh --kernels "$k" --out "$out" -- bench/in-guest.sh >&2 ||
		{ echo "bench-kernels: the bench did not run in the $k guest (see $out)" >&2; exit 1; }
done
echo
echo "## Per kernel (make bench-kernels)"
echo
echo "The same bench in guests of Debian's kernels under qemu (tests/kernels), $(date -u +%Y-%m-%d)."
echo "Software emulation slows every figure, so only each configuration's ratio to the bare hook,"
echo "measured in the same guest, compares across kernels. Variant: socket on 6.2+, task before."
for k in $kernels; do
	kver=$(cat "build/kernels/cache/$k.kver")
	md="$out/$kver/bench.md"
	[ -s "$md" ] || { echo "bench-kernels: no results from the $k guest ($md)" >&2; exit 1; }
	accel=$(sed -n 's/^accel=//p' "$out/$kver/boot.result")
	echo
	echo "### Linux $kver ($accel guest)"
	echo
	echo "The programs' own run time, ns per run, and the ratio to the bare hook's run in the same guest:"
	echo
	echo "| configuration | privileged, cache misses | ratio | unprivileged | ratio | privileged, cache hits | ratio |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	# rows of the first table of bench.md: | name | miss | +over | unpriv | +over | hit | +over |
	awk -F'|' '
		/^## The program.s own run time/ { t = 1; next }
		t && /^## / { exit }
		t && /^\| (bare hook|pg )/ {
			n = $2; gsub(/^ +| +$/, "", n)
			m = $3 + 0; u = $5 + 0; h = $7 + 0
			if (n == "bare hook") { bm = m; bu = u; bh = h }
			printf "| %s | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f |\n", n, m, m / bm, u, u / bu, h, h / bh
		}' "$md"
done
