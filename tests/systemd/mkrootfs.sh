#!/bin/bash
# mkrootfs.sh OUT_TARBALL BINARY
#
# Build the Debian 12 root file system that tests/systemd boots with systemd
# as PID 1: debootstrap --variant=minbase plus systemd and the packages of
# the libraries BINARY (build/portgate) links against, from the mirror this machine's apt uses
# (tests/kernels/lib.sh tk_mirror). The result is cached as OUT_TARBALL
# (gzip): rebuilt only when it is missing or this script or the package
# list changed, so a
# second run of the test costs an unpack, not a download.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../kernels/lib.sh
. "$here/../kernels/lib.sh"

[ $# -eq 2 ] || tk_die "usage: mkrootfs.sh OUT_TARBALL BINARY"
out=$1
# The Debian packages of what BINARY links (ldd), as this machine has them.
libpkgs() {
	local l b
	for l in $(ldd "$1" | awk '/=>/ {print $3}'); do
		b=${l##*/}
		dpkg -S "$b" 2>/dev/null | awk -F': ' -v b="$b" '$2 ~ ("/" b "$") {print $1}' |
			grep -v ':i386$\|:arm64$' | head -n 1
	done | sed 's/:amd64$//' | sort -u | paste -sd, -
}
libs=$(libpkgs "$2") && [ -n "$libs" ] || tk_die "mkrootfs: cannot tell which packages $2 needs"
stamp=$( (sha256sum "$0"; echo "$libs") | sha256sum | cut -d' ' -f1)
if [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
command -v debootstrap >/dev/null || tk_die "mkrootfs: debootstrap missing (tests/deps.sh installs it)"
mirror=$(tk_mirror) || tk_die "mkrootfs: no Debian mirror in the apt sources (set TEST_KERNELS_MIRROR)"

pkgs=systemd,systemd-sysv,$libs
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/rootfs-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "mkrootfs: debootstrap bookworm from $mirror (minbase + $pkgs)" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$work/root" "$mirror" \
	>"$work/debootstrap.log" 2>&1 || {
	tail -n 20 "$work/debootstrap.log" >&2
	tk_die "mkrootfs: debootstrap failed (log above)"
}
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar -C "$work/root" --numeric-owner -czf "$out.tmp" . || tk_die "mkrootfs: tar failed"
mv "$out.tmp" "$out"
echo "$stamp" >"$out.stamp"
