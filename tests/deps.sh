#!/bin/sh
# Install what building and testing portgate needs on Debian 12, only what
# is missing, so running it twice changes nothing.
set -eu

pkgs="make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
libcmocka-dev libjson-c-dev libclang-rt-14-dev iproute2 util-linux curl valgrind python3-yaml libmicrohttpd-dev
libcurl4-openssl-dev libyaml-dev openssl
qemu-system-x86 busybox-static cpio zstd xz-utils kmod file
libsystemd-dev debootstrap"
# make cross-arm64: Debian's cross compiler, the arm64 libraries to link
# against, and qemu-user to run the result.
cross="gcc-aarch64-linux-gnu libbpf-dev:arm64 libelf-dev:arm64 libjson-c-dev:arm64 libsystemd-dev:arm64 libmicrohttpd-dev:arm64 libcurl4-openssl-dev:arm64 libyaml-dev:arm64 zlib1g-dev:arm64 qemu-user"
# make deb and its test: debhelper and lintian (the test installs the
# package with the host's dpkg, in an overlay root).
deb="debhelper dpkg-dev fakeroot lintian"
pkgs="$pkgs $cross $deb"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
# Node.js serves the demo; any node on PATH will do (Debian's is 18).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
case "$missing" in
*:arm64*)
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ||
		{ echo "deps: dpkg --add-architecture arm64 failed" >&2; exit 1; }
	;;
esac
apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	{ echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
