#!/bin/bash
# mkinitramfs.sh KVER_DIR [OUT]
#
# Build a small initramfs for the kernel unpacked by fetch.sh in KVER_DIR:
# busybox-static, the modules for virtio-pci, 9p over virtio and overlayfs
# (decompressed for busybox insmod, loaded in modules.dep order), and an /init
# that
#   - mounts the results share (9p tag "results", read-write) and reads
#     boot.conf from it (written by boot.sh),
#   - mounts the host's / (9p tag "hostroot") read-only with a tmpfs overlay,
#   - bind-mounts the package's own lib/modules/KVER (and its config and
#     System.map at /boot) into the new root,
#   - moves the results share to its host path inside the new root,
#   - switch_roots into it and runs guest-init.sh there as PID 1.
# Every failure prints "TEST-KERNELS-BOOT-FAILED: reason" on the console and
# powers the guest off.
#
# OUT defaults to KVER_DIR/initramfs-test-kernels.cpio.gz. It is rebuilt only
# when its inputs (this script, busybox, the module files) change.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || tk_die "usage: mkinitramfs.sh KVER_DIR [OUT]"
[ -f "$1/kernel.info" ] || tk_die "mkinitramfs: $1 is not a kernel unpacked by fetch.sh (no kernel.info)"
kdir=$(cd "$1" && pwd)
out=${2:-$kdir/initramfs-test-kernels.cpio.gz}
kver=$(tk_info "$kdir" kver)
moddir=$kdir/$(tk_info "$kdir" moddir)
[ -s "$moddir/modules.dep" ] || tk_die "mkinitramfs: $kver: no modules.dep in $moddir (run fetch.sh)"

busybox=${TEST_KERNELS_BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || tk_die "mkinitramfs: $busybox missing (install busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable' ||
	tk_die "mkinitramfs: $busybox is not statically linked (install busybox-static)"

# Modules wanted in the initramfs: a trailing ? marks one that may not exist.
wanted="virtio_pci 9pnet_virtio 9p overlay netfs? fscache?"

declare -A path deps builtin
norm() {
	local n=${1##*/}
	n=${n%%.ko*}
	echo "${n//-/_}"
}
while IFS= read -r line; do
	m=${line%%:*}
	n=$(norm "$m")
	path[$n]=$m
	deps[$n]=${line#*:}
done <"$moddir/modules.dep"
if [ -f "$moddir/modules.builtin" ]; then
	while IFS= read -r line; do
		builtin[$(norm "$line")]=1
	done <"$moddir/modules.builtin"
fi

order=""
declare -A seen
visit() {
	local n=$1 d
	[ -z "${seen[$n]:-}" ] || return 0
	seen[$n]=1
	for d in ${deps[$n]}; do
		visit "$(norm "$d")"
	done
	order="$order $n"
}
for w in $wanted; do
	n=${w%\?}
	if [ -n "${path[$n]:-}" ]; then
		visit "$n"
	elif [ -n "${builtin[$n]:-}" ] || [ "$n" != "$w" ]; then
		:
	else
		tk_die "mkinitramfs: $kver has no module $n (not in modules.dep, not built in)"
	fi
done

# Inputs of the image: rebuild only when one changes.
stamp=$( {
	sha256sum "$0" "$busybox"
	for n in $order; do sha256sum "$moddir/${path[$n]}"; done
	echo "$kver $order"
} | sha256sum | cut -d' ' -f1)
if [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$out"
	exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/test-kernels-initramfs.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,lower,rw,newroot,results,mods}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$stage/dev/null" c 1 3 2>/dev/null || true

i=0
: >"$stage/mods/order"
for n in $order; do
	i=$((i + 1))
	src=$moddir/${path[$n]}
	dst=$(printf '%02d-%s.ko' "$i" "$n")
	case "$src" in
	*.ko) cp "$src" "$stage/mods/$dst" ;;
	*.ko.xz) xz -dc "$src" >"$stage/mods/$dst" ;;
	*.ko.zst) zstd -q -dc "$src" >"$stage/mods/$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$stage/mods/$dst" ;;
	*) tk_die "mkinitramfs: $kver: cannot decompress $src" ;;
	esac || tk_die "mkinitramfs: $kver: cannot decompress $src"
	echo "$dst $n" >>"$stage/mods/order"
done

cat >"$stage/init" <<'EOF'
#!/bin/sh
# /init of the tests/kernels initramfs (busybox sh, PID 1).
export PATH=/bin
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

say() { echo "test-kernels-init: $*"; }
off() {
	sync
	echo o >/proc/sysrq-trigger 2>/dev/null
	sleep 5
	poweroff -f
	reboot -f
}
fail() {
	echo "TEST-KERNELS-BOOT-FAILED: $*"
	[ -d /results/. ] && echo "$*" >/results/boot-failed 2>/dev/null
	off
}

say "kernel $(uname -r), loading $(wc -l </mods/order) modules"
while read -r f n; do
	[ -d "/sys/module/$n" ] && continue
	insmod "/mods/$f" || [ -d "/sys/module/$n" ] || fail "insmod $n failed"
done </mods/order

# The 9p devices appear as their driver binds; allow for a late probe.
o9p="trans=virtio,version=9p2000.L,msize=512000"
i=0
until mount -t 9p -o "$o9p,cache=none" results /results 2>/dev/null; do
	i=$((i + 1))
	[ $i -ge 50 ] && fail "cannot mount the results share (9p tag results)"
	sleep 0.1
done
[ -r /results/boot.conf ] || fail "no boot.conf in the results share"
. /results/boot.conf
[ -n "${TK_KVER:-}" ] && [ -n "${TK_MODDIR:-}" ] && [ -n "${TK_RESULTS:-}" ] &&
	[ -n "${TK_GUEST_INIT:-}" ] || fail "boot.conf lacks TK_KVER, TK_MODDIR, TK_RESULTS or TK_GUEST_INIT"
[ "$TK_KVER" = "$(uname -r)" ] || fail "booted $(uname -r), boot.conf says $TK_KVER"

mount -t 9p -o "ro,$o9p,cache=${TK_9P_CACHE:-loose}" hostroot /lower ||
	fail "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /rw || fail "cannot mount tmpfs for the overlay"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	fail "cannot mount the overlay root: $(dmesg | grep -i overlay | tail -n 1)"

# The package's modules, config and System.map where a real install has them.
[ -d "/lower$TK_MODDIR" ] || fail "$TK_MODDIR not visible through the host root"
mkdir -p "/newroot/lib/modules/$TK_KVER"
mount --bind "/lower$TK_MODDIR" "/newroot/lib/modules/$TK_KVER" ||
	fail "cannot bind $TK_MODDIR at /lib/modules/$TK_KVER"
mkdir -p /newroot/boot
for f in ${TK_BOOTFILES:-}; do
	src=${f#*=}
	dst=/newroot/boot/${f%%=*}
	[ -f "/lower$src" ] || continue
	: >"$dst" && mount --bind "/lower$src" "$dst" || fail "cannot bind $src at /boot"
done

mkdir -p "/newroot$TK_RESULTS" || fail "cannot create $TK_RESULTS in the new root"
mount --move /results "/newroot$TK_RESULTS" || fail "cannot move the results share"
[ -x "/newroot$TK_GUEST_INIT" ] || [ -r "/newroot$TK_GUEST_INIT" ] ||
	fail "$TK_GUEST_INIT not found in the host root"
[ -x /newroot/bin/bash ] || fail "no /bin/bash in the host root"

umount /proc /sys
mount --move /dev /newroot/dev || fail "cannot move /dev into the new root"
say "switch_root to the host root"
exec switch_root /newroot /bin/bash "$TK_GUEST_INIT" "$TK_RESULTS"
echo "TEST-KERNELS-BOOT-FAILED: switch_root failed"
poweroff -f
EOF
chmod 755 "$stage/init"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
	gzip -6 >"$out.tmp.$$" || tk_die "mkinitramfs: $kver: cpio failed"
mv "$out.tmp.$$" "$out"
echo "$stamp" >"$out.stamp"
echo "$out"
