#!/bin/sh
# Debian's kubectl (kubernetes-client) for tests/kube's fidelity check,
# installed only when missing and only as root.
#   deps.sh [DIR]
# When another kubectl already sits on PATH, installing kubernetes-client
# would replace it; Debian's is then unpacked into DIR/debian-kubectl
# instead (apt-get download, no root needed), if DIR is given.
set -eu
dir=${1:-}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# The client's libraries and openssl come from tests/deps.sh (make deps);
# here only kubectl, which may already be on PATH from elsewhere.
if installed kubernetes-client; then
	exit 0
fi
if ! command -v kubectl >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "kube deps: kubectl missing; run as root to install kubernetes-client" >&2
		exit 1
	fi
	echo "kube deps: installing: kubernetes-client"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			kubernetes-client >/dev/null; } ||
		{ echo "kube deps: apt-get install failed for: kubernetes-client" >&2; exit 1; }
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
