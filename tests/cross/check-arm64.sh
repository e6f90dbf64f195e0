#!/bin/sh
# Check what `make ARCH=arm64` built in DIR (build/arm64): an AArch64 ELF
# binary, BPF objects whose programs were compiled for arm64, and, when
# qemu-aarch64 is there (tests/deps.sh installs qemu-user), the binary run:
# --version, and check on the shipped policy.
# usage: tests/cross/check-arm64.sh DIR
set -eu

dir=${1:?usage: check-arm64.sh DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
failed=0

fail() {
	echo "  FAIL     cross-arm64: $*" >&2
	failed=1
}
ok() {
	echo "  PASS     cross-arm64: $*"
}

bin=$dir/portgate
desc=$(file -b "$bin")
case "$desc" in
*"ELF 64-bit LSB"*"ARM aarch64"*) ok "$bin is an AArch64 ELF executable" ;;
*) fail "$bin: $desc" ;;
esac
readelf -h "$bin" | grep -q 'Machine:[[:space:]]*AArch64' || fail "$bin: readelf -h does not say AArch64"

# The linked objects the skeletons embed are BPF ELF; each clang compile
# recorded its command line (-grecord-command-line), which must target arm64.
# Found by name, wherever the Makefile puts them under DIR.
bpf_objs=$(find "$dir" -path "$dir/test" -prune -o -name '*.bpf.o' -print)
linked=$(find "$dir" -maxdepth 1 -name 'portgate_*.o' ! -name '*.bpf.o')
if [ -z "$bpf_objs" ] || [ -z "$linked" ]; then fail "no BPF objects in $dir"; fi
for obj in $linked; do
	readelf -h "$obj" | grep -q 'Machine:[[:space:]]*Linux BPF' || fail "$obj is not a BPF ELF object"
done
for obj in $bpf_objs; do
	producer=$(readelf --debug-dump=info "$obj" 2>/dev/null | grep -m1 DW_AT_producer || true)
	case "$producer" in
	*"__TARGET_ARCH_arm64"*) ;;
	*) fail "$obj was not compiled for arm64: ${producer:-no DW_AT_producer}" ;;
	esac
	case "$producer" in
	*"__TARGET_ARCH_x86"*) fail "$obj also names __TARGET_ARCH_x86" ;;
	esac
done
[ "$failed" -eq 0 ] && ok "BPF objects compiled with __TARGET_ARCH_arm64, linked as BPF ELF"

if command -v qemu-aarch64 >/dev/null 2>&1; then
	run() { qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" "$@"; }
	v=$(run --version 2>&1) || fail "qemu-aarch64 $bin --version: $v"
	case "$v" in portgate\ *) ok "under qemu-aarch64: $v" ;; *) fail "--version said: $v" ;; esac
	out=$(run check --strict "$root/deploy/systemd/portgate.conf" 2>&1) ||
		fail "qemu-aarch64 $bin check deploy/systemd/portgate.conf: $out"
	case "$out" in *"policy OK"*) ok "under qemu-aarch64: check passes the shipped policy" ;; esac
else
	echo "  SKIP     cross-arm64: no qemu-aarch64, the binary was not run"
fi

[ "$failed" -eq 0 ]
