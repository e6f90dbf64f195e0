#!/bin/sh
# The Debian package that make deb built (build/deb/): lintian finds no error
# and no warning (debian/portgate.lintian-overrides and debian/README.source
# give the reasons for what is accepted), then the package is installed,
# used, removed and purged with dpkg in a throwaway root: an overlay of this
# machine's / whose writes go to a tmpfs, in a mount namespace of its own, so
# nothing reaches the host's / or its dpkg database.
# usage: tests/deploy/test_deb.sh   (as root, after make deb)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/portgate-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fail() {
	echo "test_deb: FAIL: $*" >&2
	exit 1
}
ok() {
	echo "test_deb: ok: $*"
}

set -- "$root"/build/deb/portgate_*_"$arch".deb
[ -f "$1" ] || fail "no build/deb/portgate_*_$arch.deb: run make deb first"
deb=$1
changes=${deb%.deb}.changes

# --- lintian -------------------------------------------------------------------
# Its "running with root privileges is not recommended" is about lintian
# itself, not the package.
if ! lintian --fail-on error,warning --display-info "$changes" >"$tmp/lintian.log" 2>&1; then
	cat "$tmp/lintian.log" >&2
	fail "lintian reports errors or warnings on $(basename "$changes")"
fi
grep -v 'running with root privileges' "$tmp/lintian.log" | sed 's/^/test_deb:   lintian: /' || true
ok "lintian: no errors, no warnings (source and binary)"

# --- install into a throwaway root ------------------------------------------------
[ "$(id -u)" -eq 0 ] || fail "needs root for its mount namespace (unshare -m)"
cp "$deb" "$tmp/portgate.deb"

# Runs in the new mount namespace; $1 is the scratch directory.
cat >"$tmp/inside.sh" <<'EOF'
set -eu
t=$1
fail() { echo "test_deb: FAIL: $*" >&2; exit 1; }
ok() { echo "test_deb: ok: $*"; }
mount -t tmpfs -o mode=0755 portgate-deb "$t/mnt"
mkdir "$t/mnt/upper" "$t/mnt/work" "$t/mnt/root"
mount -t overlay -o "lowerdir=/,upperdir=$t/mnt/upper,workdir=$t/mnt/work" portgate-deb "$t/mnt/root"
r=$t/mnt/root
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mkdir -p "$r/tmp/portgate-deb"
cp "$t/portgate.deb" "$r/tmp/portgate-deb/"
in_root() { chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

! in_root dpkg-query -W portgate >/dev/null 2>&1 || fail "portgate is already installed on this machine"
in_root dpkg -i /tmp/portgate-deb/portgate.deb >"$t/dpkg.log" 2>&1 || { cat "$t/dpkg.log" >&2; fail "dpkg -i"; }
ok "dpkg -i $(in_root dpkg-query -W -f='${Package} ${Version} ${Architecture}' portgate)"

v=$(in_root /usr/sbin/portgate --version) || fail "portgate --version"
case $v in "portgate "*) ok "installed: $v" ;; *) fail "portgate --version said: $v" ;; esac
in_root /usr/sbin/portgate check --strict /etc/portgate/portgate.conf >"$t/check.log" 2>&1 ||
	{ cat "$t/check.log" >&2; fail "portgate check --strict /etc/portgate/portgate.conf"; }
ok "installed: $(cat "$t/check.log")"

in_root dpkg-query -W -f='${Conffiles}\n' portgate | grep -q '^ /etc/portgate/portgate.conf ' ||
	fail "/etc/portgate/portgate.conf is not a conffile"
for f in /lib/systemd/system/portgate.service /usr/share/man/man8/portgate.8.gz \
	/usr/share/man/man5/portgate.conf.5.gz /usr/share/bash-completion/completions/portgate \
	/usr/share/doc/portgate/copyright; do
	[ -f "$r$f" ] || fail "$f is not installed"
done
grep -qx 'ExecStart=/usr/sbin/portgate run .* /etc/portgate/portgate.conf' "$r/lib/systemd/system/portgate.service" ||
	fail "the unit's ExecStart= does not run /usr/sbin/portgate on /etc/portgate/portgate.conf"
[ ! -e "$r/etc/systemd/system/multi-user.target.wants/portgate.service" ] ||
	fail "the package enabled portgate.service; it must wait for the administrator"
in_root bash -c '. /usr/share/bash-completion/completions/portgate
	COMP_WORDS=(portgate che); COMP_CWORD=1; _portgate; [ "${COMPREPLY[*]}" = check ]' ||
	fail "the installed bash completion does not complete 'portgate che'"
ok "policy is a conffile; unit (not enabled), man pages, completion, copyright in place"

# An edited policy survives removal; purge removes it.
echo "# edited" >>"$r/etc/portgate/portgate.conf"
in_root dpkg -r portgate >"$t/dpkg.log" 2>&1 || { cat "$t/dpkg.log" >&2; fail "dpkg -r"; }
[ ! -e "$r/usr/sbin/portgate" ] || fail "dpkg -r left /usr/sbin/portgate"
grep -q '^# edited' "$r/etc/portgate/portgate.conf" || fail "dpkg -r did not keep the edited policy"
in_root dpkg --purge portgate >"$t/dpkg.log" 2>&1 || { cat "$t/dpkg.log" >&2; fail "dpkg --purge"; }
[ ! -e "$r/etc/portgate/portgate.conf" ] || fail "dpkg --purge left /etc/portgate/portgate.conf"
ok "dpkg -r keeps the edited policy, dpkg --purge removes it"
EOF

mkdir "$tmp/mnt"
unshare -m --propagation private sh "$tmp/inside.sh" "$tmp" || fail "in the throwaway root"
echo "test_deb: PASS"
