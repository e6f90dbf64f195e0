#!/bin/sh
# What tests/kube needs on Debian 12, installed only when missing and only
# as root: the client's libraries, openssl for the test certificates, and
# Debian's kubectl (kubernetes-client) for the fidelity check.
#   deps.sh [DIR]
# When another kubectl already sits on PATH, installing kubernetes-client
# would replace it; Debian's is then unpacked into DIR/debian-kubectl
# instead (apt-get download, no root needed), if DIR is given.
set -eu
dir=${1:-}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

pkgs="libcurl4-openssl-dev libjson-c-dev libyaml-dev openssl pkg-config python3"
missing=""
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
if ! installed kubernetes-client; then
	if ! command -v kubectl >/dev/null 2>&1; then
		missing="$missing kubernetes-client"
	elif [ -n "$dir" ] && [ ! -x "$dir/debian-kubectl/usr/bin/kubectl" ]; then
		mkdir -p "$dir"
		if (cd "$dir" && apt-get download -qq kubernetes-client 2>/dev/null &&
			dpkg-deb -x kubernetes-client_*.deb debian-kubectl); then
			echo "kube deps: Debian's kubectl unpacked into $dir/debian-kubectl"
		else
			echo "kube deps: cannot fetch kubernetes-client; only $(command -v kubectl) checks the stand-in" >&2
		fi
		rm -f "$dir"/kubernetes-client_*.deb
	fi
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "kube deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "kube deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "kube deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	{ echo "kube deps: apt-get install failed for:$missing" >&2; exit 1; }
