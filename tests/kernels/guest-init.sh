#!/bin/bash
# guest-init.sh RESULTS_DIR
#
# PID 1 of a tests/kernels guest, started by the initramfs after switch_root
# into the overlay of the host's root. Sets the guest up as a host would be
# (proc, sys, devtmpfs, /run, /tmp, cgroup2, bpffs, debugfs, tracefs, lo up,
# a hostname), then runs the command boot.sh left in RESULTS_DIR/cmd with cwd
# TK_CWD, its stdout and stderr in RESULTS_DIR/output, its exit status in
# RESULTS_DIR/status, and powers the guest off on every path.
#
# RESULTS_DIR is the read-write 9p share, mounted at its host path.
# No set -e: whatever fails, the guest must still reach the power-off.
set -u

res=${1:-}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "test-kernels-guest: $*" >/dev/console 2>/dev/null || echo "test-kernels-guest: $*"; }

power_off() {
	trap - EXIT
	sync
	say "powering off"
	echo o >/proc/sysrq-trigger 2>/dev/null
	sleep 10
	busybox poweroff -f 2>/dev/null
	busybox reboot -f 2>/dev/null
	# PID 1 exiting panics the kernel; with panic=1 and -no-reboot, qemu exits.
	exit 1
}
trap power_off EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "TEST-KERNELS-BOOT-FAILED: $*" >/dev/console 2>/dev/null
	[ -n "$res" ] && [ -d "$res" ] && echo "$*" >"$res/boot-failed"
	exit 1
}

# Every exec from the 9p root costs about 0.1 s under TCG: use bash builtins
# and the static busybox where they do, the host's tools where not.
if command -v busybox >/dev/null 2>&1; then bb=busybox; else bb=""; fi

is_mnt() { # is_mnt DIR: DIR is a mount point (reads /proc/self/mountinfo)
	local mp
	while read -r _ _ _ _ mp _; do
		[ "$mp" = "$1" ] && return 0
	done </proc/self/mountinfo
	return 1
}

mnt() { # mnt TYPE SRC DIR OPTIONS: mount unless DIR is a mount point already
	local type=$1 src=$2 dir=$3 opts=$4
	[ -d "$dir" ] || $bb mkdir -p "$dir" || return 1
	[ -r /proc/self/mountinfo ] && is_mnt "$dir" && return 0
	$bb mount -t "$type" -o "$opts" "$src" "$dir"
}

uptime_s() { local u rest; read -r u rest </proc/uptime; echo "$u"; }

# /proc unconditionally: the lower layer has the host's /proc directory.
$bb mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount /proc"
mnt sysfs sysfs /sys nosuid,nodev,noexec || fail "cannot mount /sys"
mnt devtmpfs devtmpfs /dev nosuid,mode=0755 || fail "cannot mount /dev"
exec </dev/null >/dev/console 2>&1
mnt devpts devpts /dev/pts nosuid,noexec,gid=5,mode=0620,ptmxmode=0666
mnt tmpfs tmpfs /dev/shm nosuid,nodev,mode=1777
mnt tmpfs tmpfs /run nosuid,nodev,mode=0755 || fail "cannot mount /run"
# cgroup2 as systemd mounts it, without the options a kernel lacks.
mnt cgroup2 cgroup2 /sys/fs/cgroup nosuid,nodev,noexec,nsdelegate,memory_recursiveprot ||
	mnt cgroup2 cgroup2 /sys/fs/cgroup nosuid,nodev,noexec,nsdelegate ||
	fail "cannot mount cgroup2 at /sys/fs/cgroup"
mnt bpf bpf /sys/fs/bpf nosuid,nodev,noexec,mode=0700 || fail "cannot mount bpffs at /sys/fs/bpf"
[ -d /sys/kernel/debug ] && mnt debugfs debugfs /sys/kernel/debug nosuid,nodev,noexec
[ -d /sys/kernel/tracing ] && mnt tracefs tracefs /sys/kernel/tracing nosuid,nodev,noexec
[ -d /sys/kernel/security ] && mnt securityfs securityfs /sys/kernel/security nosuid,nodev,noexec

[ -n "$res" ] && [ -r "$res/boot.conf" ] || fail "no boot.conf in results share '$res'"
# shellcheck disable=SC1091
. "$res/boot.conf"
[ -r "$res/cmd" ] || fail "no command in $res/cmd"
# A tmpfs of its own on /tmp, unless the project or the results share lie
# under /tmp (a checkout in /tmp): the tmpfs would hide them. The overlay
# keeps /tmp writable either way.
under_tmp() { case "$1/" in /tmp/*) return 0 ;; *) return 1 ;; esac; }
if under_tmp "$res" || under_tmp "${TK_CWD:-/}"; then
	say "the project or its results are under /tmp: /tmp stays the overlay's"
else
	mnt tmpfs tmpfs /tmp nosuid,nodev,mode=1777 || fail "cannot mount /tmp"
fi

if [ -n "$bb" ]; then
	$bb ip link set lo up || fail "cannot set lo up"
else
	ip link set lo up || fail "cannot set lo up"
fi
echo "tk-${TK_LABEL:-$TK_KVER}" >/proc/sys/kernel/hostname || fail "cannot set the hostname"
# Kernel module autoloading runs the host's modprobe; check it is there.
read -r modprobe </proc/sys/kernel/modprobe
[ -x "$modprobe" ] || say "warning: $modprobe missing: module autoloading will fail"

cd "${TK_CWD:-/}" || fail "cannot cd to ${TK_CWD:-/}"
up=$(uptime_s)
say "kernel $TK_KVER up after $up s; running the command in $PWD"
echo "$up" >"$res/started"

rc=0
env -i PATH="$PATH" HOME=/root TERM=dumb LANG=C.UTF-8 USER=root LOGNAME=root \
	${TK_CI:+CI="$TK_CI"} \
	TEST_KERNELS_GUEST=1 TEST_KERNELS_LABEL="${TK_LABEL:-}" TEST_KERNELS_KVER="$TK_KVER" \
	TEST_KERNELS_RESULTS="$res" \
	bash -c "$(<"$res/cmd")" >"$res/output" 2>&1 </dev/null || rc=$?
sync
echo "$rc" >"$res/status.tmp" && mv "$res/status.tmp" "$res/status"
sync
say "command exited with status $rc"
echo "TEST-KERNELS-EXIT: $rc"
exit 0
