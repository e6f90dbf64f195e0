#!/bin/bash
# test-systemd.sh: portgate.service under real systemd (PID 1) in a qemu guest.
#
# The guest: Debian 12 (minbase + systemd, mkrootfs.sh, cached as a tarball
# under build/systemd/) unpacked afresh into build/systemd/root, portgate
# installed there by `make install PREFIX=/usr`, booted with Debian's 6.1
# kernel (tests/kernels: fetch.sh, its cache, and mkinitramfs.sh's
# initramfs, which mounts the root read-only over 9p with a tmpfs overlay
# and runs guest-init.sh, here handing PID 1 to systemd). pgtest.service
# runs guest-test.sh, which writes one PASS/FAIL line per case into the
# results share (build/systemd/results) and powers the guest off.
#
# Prints the results; exits 1 if any case failed or the guest did not finish.
# Environment: TEST_SYSTEMD_KERNEL (6.1), TEST_SYSTEMD_TIMEOUT (s, 3600: the
# guard against a hung guest, nothing else is timed), KERNEL_CACHE,
# TEST_KERNELS_ACCEL (auto, kvm, tcg), TEST_SYSTEMD_SCRIPT (another script
# in place of guest-test.sh, to look into a failure by hand).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../kernels/lib.sh
. "$root/tests/kernels/lib.sh"

kernel=${TEST_SYSTEMD_KERNEL:-6.1}
timeout=${TEST_SYSTEMD_TIMEOUT:-3600}
cache=${KERNEL_CACHE:-$root/build/kernels/cache}
case "$cache" in /*) ;; *) cache=$root/$cache ;; esac
out=$root/build/systemd
rootfs=$out/root
res=$out/results

msg() { echo "test-systemd: $*" >&2; }
die() {
	msg "$*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, a root-owned guest file system)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (tests/deps.sh)"
[ -x "$root/build/portgate" ] || die "build/portgate missing: run make first"

"$root/tests/kernels/fetch.sh" "$cache" "$kernel" >&2 || die "cannot fetch kernel $kernel"
kver=$(cat "$cache/$kernel.kver")
kdir=$cache/$kver
initrd=$("$root/tests/kernels/mkinitramfs.sh" "$kdir") || die "cannot build the initramfs"
"$here/mkrootfs.sh" "$out/rootfs-bookworm.tar.gz" "$root/build/portgate" || die "cannot build the root file system"

# --- the guest's root: fresh every run -------------------------------------
rm -rf "$rootfs" "$res"
mkdir -p "$rootfs" "$res"
tar -C "$rootfs" -xzf "$out/rootfs-bookworm.tar.gz" || die "cannot unpack the root file system"
make -C "$root" --no-print-directory install DESTDIR="$rootfs" PREFIX=/usr >"$out/install.log" ||
	die "make install into $rootfs failed (see $out/install.log)"
# The kernel's modules, as hard links into the cache (same file system), else none:
# nothing the test needs is modular.
mods=$kdir/$(tk_info "$kdir" moddir)
mkdir -p "$rootfs/usr/lib/modules"
cp -al "$mods" "$rootfs/usr/lib/modules/$kver" 2>/dev/null || {
	rm -rf "$rootfs/usr/lib/modules/$kver"
	mkdir -p "$rootfs/usr/lib/modules/$kver"
}

g=$rootfs/usr/local/lib/pgtest
install -D -m 0755 "$here/guest-init.sh" "$g/guest-init.sh"
install -m 0755 "${TEST_SYSTEMD_SCRIPT:-$here/guest-test.sh}" "$g/guest-test.sh"
install -m 0644 "$here/bind.pl" "$g/bind.pl"
sd=$rootfs/etc/systemd/system
install -D -m 0644 "$here/pgtest.service" "$sd/pgtest.service"
mkdir -p "$sd/multi-user.target.wants"
ln -s ../pgtest.service "$sd/multi-user.target.wants/pgtest.service"
install -D -m 0644 "$here/restart.conf" "$sd/portgate.service.d/restart.conf"
# serial-getty@ttyS0 waits 90 s for a device that never comes; firstboot
# would prompt on the console; the gettys and e2scrub only slow the boot.
for u in serial-getty@ttyS0 systemd-firstboot getty@tty1 getty-static e2scrub_reap; do
	ln -s /dev/null "$sd/$u.service"
done
echo pgtest >"$rootfs/etc/hostname"
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$rootfs/etc/machine-id"
echo >>"$rootfs/etc/machine-id"

# --- boot ---------------------------------------------------------------------
# boot.conf as tests/kernels/boot.sh writes it, for the same initramfs.
{
	printf 'TK_KVER=%q\n' "$kver"
	printf 'TK_LABEL=%q\n' "$kernel"
	printf 'TK_MODDIR=%q\n' "/usr/lib/modules/$kver"
	printf 'TK_BOOTFILES=\n'
	printf 'TK_RESULTS=/results\n'
	printf 'TK_GUEST_INIT=/usr/local/lib/pgtest/guest-init.sh\n'
	printf 'TK_CWD=/\n'
	printf 'TK_9P_CACHE=loose\n'
} >"$res/boot.conf"

accel=${TEST_KERNELS_ACCEL:-auto}
if [ "$accel" = auto ]; then
	if tk_kvm_usable; then accel=kvm; else accel=tcg; fi
fi
# One TCG thread: see tests/kernels/boot.sh (multi-threaded TCG races with
# the kernel's code patching).
if [ "$accel" = kvm ]; then accel_args="-accel kvm -cpu host"; else accel_args="-accel tcg,thread=single -cpu max"; fi
vmlinuz=$kdir/$(tk_info "$kdir" vmlinuz)

msg "booting $kver ($accel) with systemd as PID 1; console: $res/console.log"
t0=$SECONDS
qstatus=0
# shellcheck disable=SC2086
timeout -k 10 "$timeout" qemu-system-x86_64 -name test-systemd -machine q35 $accel_args \
	-smp 2 -m 2048 -nodefaults -no-user-config -nographic -monitor none \
	-serial "file:$res/console.log" -nic none -no-reboot \
	-kernel "$vmlinuz" -initrd "$initrd" -append "console=ttyS0,115200 panic=1 rdinit=/init" \
	-fsdev "local,id=hostroot,path=$rootfs,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev "local,id=results,path=$res,security_model=none,multidevs=remap" \
	-device virtio-9p-pci,fsdev=results,mount_tag=results \
	</dev/null >"$res/qemu.log" 2>&1 || qstatus=$?
msg "guest ran $((SECONDS - t0)) s (qemu exit $qstatus)"

# --- results ------------------------------------------------------------------
[ -f "$res/results" ] && sed 's/^/test-systemd: /' "$res/results"
if [ "$qstatus" = 124 ] || [ "$qstatus" = 137 ]; then
	msg "FAIL: the guest was still running after $timeout s; killed"
elif [ ! -f "$res/done" ]; then
	msg "FAIL: the guest stopped before the cases finished"
fi
if [ ! -f "$res/done" ] || grep -q '^FAIL' "$res/results" 2>/dev/null ||
	! grep -q '^PASS' "$res/results" 2>/dev/null; then
	msg "last console lines ($res/console.log):"
	tail -n 30 "$res/console.log" 2>/dev/null | tr -d '\r' >&2
	msg "FAILED (journal: $res/journal.txt)"
	exit 1
fi
msg "PASS ($(grep -c '^PASS' "$res/results") cases)"
