#!/bin/sh
# The seed story, for real: Node.js as nobody on port 80, no setcap, the
# sysctl untouched; the same bind from another cgroup fails, and so does an
# ungranted port. Runs in a private network and mount namespace (port 80 and
# the host's portgate state are left alone) and cleans up on every exit.
# Usage: demo/demo.sh [PATH-TO-PORTGATE]   (as root)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pg=$(cd "$(dirname "${1:-$here/../build/portgate}")" && pwd)/$(basename "${1:-portgate}")

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it loads BPF programs)" >&2
	exit 1
fi
if [ -z "${PORTGATE_DEMO_INNER:-}" ]; then
	PORTGATE_DEMO_INNER=1 exec unshare --net --mount --propagation private "$0" "$pg"
fi

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

cg2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
[ -n "$cg2" ] || fail "no cgroup2 mount in /proc/self/mountinfo"
node=$(command -v node) || fail "node is not installed"
cg=/portgate-demo
tmp=$(mktemp -d /tmp/portgate-demo.XXXXXX)
pin=$tmp/bpffs/portgate
server=

cleanup() {
	set +e
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	[ -d "$pin" ] && "$pg" stop --pin-dir "$pin" >/dev/null
	for d in web.service other.service; do
		[ -d "$cg2$cg/$d" ] && rmdir "$cg2$cg/$d"
	done
	[ -d "$cg2$cg" ] && rmdir "$cg2$cg"
	umount "$tmp/bpffs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ip link set lo up
mkdir -p "$tmp/bpffs" "$cg2$cg/web.service" "$cg2$cg/other.service"
mount -t bpf bpf "$tmp/bpffs"

say "node has no file capabilities, and the kernel threshold is untouched"
echo "node: $node ($("$node" --version))"
if command -v getcap >/dev/null; then echo "getcap: '$(getcap "$(readlink -f "$node")")'"; fi
echo "net.ipv4.ip_unprivileged_port_start = $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"

say "the policy"
grep -v '^#' "$here/demo.conf" | sed '/^$/d'
"$pg" check "$here/demo.conf"
"$pg" apply "$here/demo.conf" --attach "$cg" --pin-dir "$pin"

# in_cgroup CGROUP CMD...: become CMD, as nobody with no capabilities, in
# CGROUP (exec all the way down, so "in_cgroup ... &" leaves $! = CMD's pid)
in_cgroup() {
	c=$1
	shift
	exec sh -c 'echo $$ > "$0/cgroup.procs" && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' \
		"$cg2$cg/$c" "$@"
}

say "node as nobody on port 80 in $cg/web.service (granted tcp/80)"
(in_cgroup web.service "$node" "$here/server.js" 80) &
server=$!
i=0
until page=$(curl -sS --max-time 2 http://127.0.0.1:80/ 2>/dev/null); do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the server never answered on port 80"
	kill -0 "$server" 2>/dev/null || fail "the server exited: the bind was refused"
	sleep 0.1
done
echo "curl http://127.0.0.1/ -> $page"
echo "server pid $server: $(grep -E '^(Uid|CapEff)' "/proc/$server/status" | tr -s '\t\n' '  ')"
"$pg" explain "$cg/web.service" tcp/80 --pin-dir "$pin"

# refused CGROUP PORT: the server must fail to bind, with the policy's EPERM
refused() {
	if out=$(in_cgroup "$1" "$node" "$here/server.js" "$2" 2>&1); then
		fail "node in $1 was allowed to bind port $2"
	fi
	echo "$out"
	echo "$out" | grep -q EPERM || fail "want EPERM from the policy"
	"$pg" explain "$cg/$1" "tcp/$2" --pin-dir "$pin"
}

say "the same server in $cg/other.service (not listed): refused"
refused other.service 80

say "web.service on port 81 (not granted): refused"
refused web.service 81

say "portgate status"
"$pg" status --pin-dir "$pin"

say "demo: OK (cleaning up: server stopped, portgate stopped, cgroups removed)"
