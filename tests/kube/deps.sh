#!/bin/sh
# What tests/kube needs on Debian 12, installed only when missing and only
# as root: the client's libraries, openssl for the test certificates, and a
# kubectl for the fidelity check (Debian's kubernetes-client, unless some
# kubectl is on PATH already).
set -eu

pkgs="libcurl4-openssl-dev libjson-c-dev libyaml-dev openssl pkg-config python3"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"

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
