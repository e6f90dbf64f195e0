#!/bin/sh
# make install / make uninstall into a scratch DESTDIR: every file in place,
# the unit's paths substituted, an existing policy kept, and the installed
# unit clean under systemd-analyze verify (when systemd-analyze exists).
# Needs no network and no root; touches nothing outside its temp directory.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/portgate-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fail() {
	echo "test_install: FAIL: $*" >&2
	exit 1
}
ok() {
	echo "test_install: ok: $*"
}

# A make of our own, whatever the calling make passes down.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make} --no-print-directory -C "$root" "$@" \
		>"$tmp/make.log" 2>&1 || {
		cat "$tmp/make.log" >&2
		fail "make $* failed"
	}
}

need_file() { # PATH MODE
	[ -f "$1" ] || fail "$1 was not installed"
	m=$(stat -c %a "$1")
	[ "$m" = "$2" ] || fail "$1 has mode $m, want $2"
}

# --- PREFIX=/usr -------------------------------------------------------------
d=$tmp/usr-root
mk install DESTDIR="$d" PREFIX=/usr
need_file "$d/usr/sbin/portgate" 755
need_file "$d/usr/share/man/man8/portgate.8" 644
need_file "$d/usr/share/man/man5/portgate.conf.5" 644
need_file "$d/usr/share/bash-completion/completions/portgate" 644
need_file "$d/lib/systemd/system/portgate.service" 644
need_file "$d/etc/portgate/portgate.conf" 644
ok "PREFIX=/usr: binary, man pages, bash completion, unit in /lib/systemd/system, policy in /etc/portgate"

unit=$d/lib/systemd/system/portgate.service
if grep -n '@[A-Z_]*@' "$unit"; then
	fail "unsubstituted placeholder left in $unit"
fi
grep -qx 'ExecStart=/usr/sbin/portgate run .* /etc/portgate/portgate.conf' "$unit" ||
	fail "ExecStart= of $unit does not run /usr/sbin/portgate on /etc/portgate/portgate.conf: $(grep '^ExecStart=' "$unit")"
for line in 'Type=notify' 'ExecReload=/usr/sbin/portgate reload --timeout 80' 'KillSignal=SIGTERM' \
	'Restart=on-failure' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'RuntimeDirectory=portgate portgate/metrics'; do
	grep -qxF "$line" "$unit" || fail "$unit lacks the line: $line"
done
# The capabilities the agent cannot work without (the probe's unshare() and
# setresuid(), bpf()), and never the one the probe must bind without.
for cap in CAP_SYS_ADMIN CAP_BPF CAP_SETUID CAP_SETGID; do
	for key in CapabilityBoundingSet AmbientCapabilities; do
		grep -q "^$key=.*\<$cap\>" "$unit" || fail "$unit: $key= lacks $cap"
	done
done
if grep -q '^CapabilityBoundingSet=.*CAP_NET_BIND_SERVICE' "$unit"; then
	fail "$unit keeps CAP_NET_BIND_SERVICE: the bypass probe must bind without it"
fi
for opt in ProtectKernelTunables ProtectControlGroups PrivateNetwork PrivateUsers; do
	if grep -q "^$opt=" "$unit"; then
		fail "$unit sets $opt=, which breaks portgate (see the comment in the unit)"
	fi
done
ok "unit: ExecStart=/usr/sbin/portgate run ... /etc/portgate/portgate.conf, no placeholders"

cmp -s "$d/etc/portgate/portgate.conf" "$root/deploy/systemd/portgate.conf" ||
	fail "installed policy differs from deploy/systemd/portgate.conf"
"$d/usr/sbin/portgate" check --strict "$d/etc/portgate/portgate.conf" >"$tmp/check.log" 2>&1 || {
	cat "$tmp/check.log" >&2
	fail "the installed policy does not pass portgate check --strict"
}
ok "installed policy passes the installed binary's check --strict (no warnings)"

# A second install keeps an edited policy.
echo "# edited by the administrator" >>"$d/etc/portgate/portgate.conf"
cp "$d/etc/portgate/portgate.conf" "$tmp/edited.conf"
mk install DESTDIR="$d" PREFIX=/usr
cmp -s "$d/etc/portgate/portgate.conf" "$tmp/edited.conf" ||
	fail "a second make install overwrote the existing policy"
ok "second install keeps the existing policy"

# --- systemd-analyze verify --------------------------------------------------
# verify checks that ExecStart='s binary exists on this machine, and man
# pages through man(1): point both at the DESTDIR copy, change nothing else.
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir "$tmp/verify"
	sed "s|/usr/sbin/portgate|$d/usr/sbin/portgate|g" "$unit" >"$tmp/verify/portgate.service"
	if ! MANPATH="$d/usr/share/man" systemd-analyze verify "$tmp/verify/portgate.service" \
		>"$tmp/verify.log" 2>&1; then
		cat "$tmp/verify.log" >&2
		fail "systemd-analyze verify failed on the installed unit"
	fi
	if [ -s "$tmp/verify.log" ]; then
		cat "$tmp/verify.log" >&2
		fail "systemd-analyze verify warned about the installed unit"
	fi
	ok "systemd-analyze verify: no errors, no warnings"
else
	echo "test_install: skip: no systemd-analyze, unit not verified"
fi

# --- uninstall ---------------------------------------------------------------
mk uninstall DESTDIR="$d" PREFIX=/usr
for f in usr/sbin/portgate usr/share/man/man8/portgate.8 usr/share/man/man5/portgate.conf.5 \
	usr/share/bash-completion/completions/portgate lib/systemd/system/portgate.service; do
	[ ! -e "$d/$f" ] || fail "make uninstall left /$f"
done
cmp -s "$d/etc/portgate/portgate.conf" "$tmp/edited.conf" ||
	fail "make uninstall removed or changed the policy"
ok "uninstall removes binary, man pages, completion and unit, keeps the policy"

# --- PREFIX=/usr/local (the default) -----------------------------------------
d=$tmp/local-root
mk install DESTDIR="$d" PREFIX=/usr/local
need_file "$d/usr/local/sbin/portgate" 755
need_file "$d/usr/local/share/man/man8/portgate.8" 644
need_file "$d/usr/local/share/bash-completion/completions/portgate" 644
need_file "$d/usr/local/lib/systemd/system/portgate.service" 644
need_file "$d/etc/portgate/portgate.conf" 644
grep -qx 'ExecStart=/usr/local/sbin/portgate run .* /etc/portgate/portgate.conf' \
	"$d/usr/local/lib/systemd/system/portgate.service" ||
	fail "PREFIX=/usr/local: ExecStart= does not name /usr/local/sbin/portgate"
ok "PREFIX=/usr/local: unit in /usr/local/lib/systemd/system naming /usr/local/sbin/portgate"

echo "test_install: PASS"
