#!/bin/sh
# Print the path of a promtool: the installed one, else one unpacked before
# under DIR, else (as root only) Debian's prometheus package downloaded into
# DIR with apt-get download and only usr/bin/promtool taken from it.
#   tests/http/promtool.sh DIR
set -eu

dir=$1
if command -v promtool >/dev/null 2>&1; then
	command -v promtool
	exit 0
fi
bin=$dir/usr/bin/promtool
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "promtool: not installed and not root: install the prometheus package" >&2
	exit 1
fi
mkdir -p "$dir"
echo "promtool: unpacking Debian's prometheus into $dir" >&2
(cd "$dir" && rm -f prometheus_*.deb && apt-get download -qq prometheus >&2) ||
	{ echo "promtool: apt-get download prometheus failed" >&2; exit 1; }
deb=$(ls "$dir"/prometheus_*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" ./usr/bin/promtool ||
	{ echo "promtool: usr/bin/promtool not found in $deb" >&2; exit 1; }
rm -f "$deb"
echo "$bin"
