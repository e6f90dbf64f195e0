#!/bin/bash
# boot.sh [--timeout S] [--accel auto|kvm|tcg] KVER_DIR RESULTS_DIR CMD...
#
# Boot the kernel that fetch.sh unpacked in KVER_DIR under qemu, with the
# host's / as the guest's root (read-only 9p + tmpfs overlay) and RESULTS_DIR
# shared read-write at its own path, and run CMD (an argv, run by bash with
# cwd the current directory) inside. CMD's output is streamed here as it comes.
#
# RESULTS_DIR gets: console.log (the serial console), output (CMD's stdout and
# stderr), status (its exit status), boot.result (kernel, accel, boot and
# total seconds, outcome), plus boot.conf and cmd (what the guest was told).
#
# Accelerator: KVM only where /dev/kvm can run a stock kernel (not kvm_pvm);
# a KVM guest whose kernel has printed nothing ("Linux version") on the
# console after TEST_KERNELS_KVM_PROBE s (default 60) is killed and the boot
# retried under TCG (-accel tcg,thread=single -cpu max: see tcg_thread below
# for why not thread=multi; TEST_KERNELS_TCG_THREAD=multi to try it).
#
# Exit status: CMD's exit status; 124 if the boot hit the timeout (default
# 1500 s, TEST_KERNELS_TIMEOUT); 125 if the guest never ran CMD (boot
# failure, or the guest crashed under CMD). boot.result's outcome= (ok,
# timeout, boot-failed, crashed) tells these apart from a CMD exiting so.
#
# Environment: TEST_KERNELS_TIMEOUT, TEST_KERNELS_ACCEL, TEST_KERNELS_MEM (MiB,
# 2048), TEST_KERNELS_SMP (2), TEST_KERNELS_APPEND (extra kernel arguments),
# TEST_KERNELS_9P_CACHE (cache mode of the host root, loose),
# TEST_KERNELS_QUIET=1 (do not stream CMD's output).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

timeout=${TEST_KERNELS_TIMEOUT:-1500}
accel=${TEST_KERNELS_ACCEL:-auto}
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) timeout=${2:?}; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--accel) accel=${2:?}; shift 2 ;;
	--accel=*) accel=${1#*=}; shift ;;
	--) shift; break ;;
	-*) tk_die "boot: unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 3 ] || tk_die "usage: boot.sh [--timeout S] [--accel auto|kvm|tcg] KVER_DIR RESULTS_DIR CMD..."
case "$timeout" in '' | *[!0-9]*) tk_die "boot: --timeout wants whole seconds, not '$timeout'" ;; esac
case "$accel" in auto | kvm | tcg) ;; *) tk_die "boot: --accel wants auto, kvm or tcg, not '$accel'" ;; esac
[ -f "$1/kernel.info" ] || tk_die "boot: $1 is not a kernel unpacked by fetch.sh (no kernel.info)"
kdir=$(cd "$1" && pwd)
mkdir -p "$2" || tk_die "boot: cannot create $2"
res=$(cd "$2" && pwd)
shift 2

kver=$(tk_info "$kdir" kver)
label=$(tk_info "$kdir" label)
mem=${TEST_KERNELS_MEM:-2048}
smp=${TEST_KERNELS_SMP:-2}
probe=${TEST_KERNELS_KVM_PROBE:-60}
# Multi-threaded TCG (qemu 7.2) races with the kernel's live code patching
# (static keys, text_poke with int3): "Oops: int3" panics, seen in 2 of 10
# boots of 7.2 and under tracepoint toggling on 6.12 and 7.2; attaching cgroup
# BPF programs flips static keys too. One thread for both vCPUs: 0 of 16 boots
# and no crash under the same toggling, same boot time.
tcg_thread=${TEST_KERNELS_TCG_THREAD:-single}
case "$tcg_thread" in single | multi) ;; *) tk_die "boot: TEST_KERNELS_TCG_THREAD wants single or multi, not '$tcg_thread'" ;; esac
cwd=$PWD
case "$kdir$res$cwd$here" in
*[[:space:]]*) tk_die "boot: $kver: paths with white space are not supported ($kdir, $res, $cwd)" ;;
esac
command -v qemu-system-x86_64 >/dev/null ||
	tk_die "boot: $kver: qemu-system-x86_64 missing (tests/deps.sh installs qemu-system-x86)"

vmlinuz=$kdir/$(tk_info "$kdir" vmlinuz)
[ -f "$vmlinuz" ] || tk_die "boot: $kver: no kernel image at $vmlinuz"
initrd=$("$here/mkinitramfs.sh" "$kdir") || tk_die "boot: $kver: cannot build the initramfs"

# One boot per results directory at a time. qemu inherits the lock, so it is
# held for as long as a guest lives, even if this script is killed.
command -v flock >/dev/null || tk_die "boot: flock missing (util-linux)"
exec 9>>"$res/.lock"
flock -n 9 || tk_die "boot: $kver: $res is in use by another boot (give this run another results directory, e.g. run.sh --out)"

rm -f "$res"/console.log "$res"/output "$res"/status "$res"/status.tmp "$res"/started \
	"$res"/boot-failed "$res"/boot.result "$res"/qemu.log

bootfiles=""
config=$(tk_info "$kdir" config)
sysmap=$(tk_info "$kdir" sysmap)
[ -n "$config" ] && bootfiles="config-$kver=$kdir/$config"
[ -n "$sysmap" ] && bootfiles="$bootfiles System.map-$kver=$kdir/$sysmap"
{
	echo "# written by tests/kernels/boot.sh for one boot"
	printf 'TK_KVER=%q\n' "$kver"
	printf 'TK_LABEL=%q\n' "$label"
	printf 'TK_MODDIR=%q\n' "$kdir/$(tk_info "$kdir" moddir)"
	printf 'TK_BOOTFILES=%q\n' "$bootfiles"
	printf 'TK_RESULTS=%q\n' "$res"
	printf 'TK_GUEST_INIT=%q\n' "$here/guest-init.sh"
	printf 'TK_CWD=%q\n' "$cwd"
	printf 'TK_9P_CACHE=%q\n' "${TEST_KERNELS_9P_CACHE:-loose}"
	printf 'TK_CI=%q\n' "${CI:-}"
} >"$res/boot.conf"
printf '%q ' "$@" >"$res/cmd"
echo >>"$res/cmd"

qpid=""
tailpid=""
stop_children() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	qpid=""
	if [ -n "$tailpid" ]; then
		kill -TERM "$tailpid" 2>/dev/null || true
		wait "$tailpid" 2>/dev/null || true
	fi
	tailpid=""
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

append="console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=1 rdinit=/init"
append="$append ${TEST_KERNELS_APPEND:-}"

# run_qemu ACCEL: one boot. Sets $outcome (exited, timeout, kvm-silent),
# $qstatus, $t0 and $t1.
run_qemu() {
	local a=$1 accel_args now deadline
	if [ "$a" = kvm ]; then
		accel_args="-accel kvm -cpu host"
	else
		accel_args="-accel tcg,thread=$tcg_thread -cpu max"
	fi
	rm -f "$res/console.log" "$res/output" "$res/status" "$res/started" "$res/boot-failed"
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	qemu-system-x86_64 -name "test-kernels-$label" \
		-machine q35 $accel_args -smp "$smp" -m "$mem" \
		-nodefaults -no-user-config -nographic -monitor none \
		-serial "file:$res/console.log" -nic none -no-reboot \
		-kernel "$vmlinuz" -initrd "$initrd" -append "$append" \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev "local,id=results,path=$res,security_model=none,multidevs=remap" \
		-device virtio-9p-pci,fsdev=results,mount_tag=results \
		</dev/null >"$res/qemu.log" 2>&1 &
	qpid=$!
	if [ "${TEST_KERNELS_QUIET:-0}" != 1 ]; then
		tail -n +1 -F --pid="$qpid" "$res/output" 2>/dev/null &
		tailpid=$!
	fi
	deadline=$((${t0%.*} + timeout))
	outcome=exited
	kernel_spoke=0
	while kill -0 "$qpid" 2>/dev/null; do
		now=${EPOCHREALTIME%.*}
		if [ "$now" -ge "$deadline" ]; then
			outcome=timeout
			break
		fi
		# SeaBIOS and the real-mode setup code print under kvm_pvm too: wait
		# for the kernel proper.
		if [ "$a" = kvm ] && [ "$kernel_spoke" = 0 ]; then
			if grep -aq 'Linux version' "$res/console.log" 2>/dev/null; then
				kernel_spoke=1
			elif [ "$now" -ge $((${t0%.*} + probe)) ]; then
				outcome=kvm-silent
				break
			fi
		fi
		sleep 0.5
	done
	t1=$EPOCHREALTIME
	qstatus=0
	if [ "$outcome" = exited ]; then
		wait "$qpid" || qstatus=$?
		qpid=""
	else
		stop_children
	fi
	if [ -n "$tailpid" ]; then
		# tail notices qemu's end within a second and prints what is left.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$tailpid" 2>/dev/null || break
			sleep 0.3
		done
		kill -TERM "$tailpid" 2>/dev/null || true
		wait "$tailpid" 2>/dev/null || true
		tailpid=""
	fi
}

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

ran=$accel
if [ "$accel" = auto ]; then
	if tk_kvm_usable; then ran=kvm; else ran=tcg; fi
fi
note=""
run_qemu "$ran"
[ "$ran" = tcg ] && ran="tcg ($tcg_thread)"
if [ "$outcome" = kvm-silent ]; then
	tk_msg "boot: $kver: no kernel output on the console under KVM in $probe s; killed, retrying under TCG"
	mv "$res/console.log" "$res/console-kvm.log" 2>/dev/null || true
	note=" (KVM silent, retried)"
	ran="tcg ($tcg_thread)"
	run_qemu tcg
fi

total=$(secs "$t0" "$t1")
boot_s=""
if [ -f "$res/started" ]; then
	boot_s=$(secs "$t0" "$(stat -c %.3Y "$res/started")")
fi
exit_code=""
message=""
if [ -s "$res/status" ]; then
	outcome=ok
	exit_code=$(cat "$res/status")
	case "$exit_code" in '' | *[!0-9]*) outcome=boot-failed; message="unreadable status '$exit_code'" ;; esac
fi
if [ "$outcome" = ok ]; then
	:
elif [ "$outcome" = timeout ]; then
	if [ -f "$res/started" ]; then
		message="the command was still running after ${timeout} s; guest killed"
	else
		message="the guest did not start the command within ${timeout} s; guest killed"
	fi
	exit_code=124
else
	# The guest stopped without a status: before the command started, a
	# boot failure; after, the guest crashed under the command.
	if [ -f "$res/started" ]; then outcome=crashed; else outcome=boot-failed; fi
	exit_code=125
	if [ -s "$res/boot-failed" ]; then
		message=$(head -n 1 "$res/boot-failed")
	elif grep -q 'TEST-KERNELS-BOOT-FAILED' "$res/console.log" 2>/dev/null; then
		message=$(grep -a -m 1 'TEST-KERNELS-BOOT-FAILED' "$res/console.log" | sed 's/.*TEST-KERNELS-BOOT-FAILED: //')
	elif grep -aq 'Kernel panic' "$res/console.log" 2>/dev/null; then
		message=$(grep -a -m 1 'Kernel panic' "$res/console.log" | tr -d '\r' | sed 's/^\[[ 0-9.]*\] //')
	elif [ "$qstatus" -ne 0 ]; then
		message="qemu failed (status $qstatus): $(tail -n 1 "$res/qemu.log" 2>/dev/null)"
	elif [ ! -s "$res/console.log" ]; then
		message="no console output at all"
	else
		message="the guest stopped without reporting a status"
	fi
fi

{
	echo "kernel=$kver"
	echo "label=$label"
	echo "accel=$ran"
	echo "accel_note=${note# }"
	echo "boot_s=$boot_s"
	echo "total_s=$total"
	echo "outcome=$outcome"
	echo "exit=$exit_code"
	echo "message=$message"
} >"$res/boot.result"

case "$outcome" in
ok)
	tk_msg "boot: $kver: accel $ran$note, command started ${boot_s} s after qemu start, exited $exit_code (total ${total} s)"
	;;
timeout)
	tk_msg "boot: $kver: TIMEOUT under $ran: $message (console: $res/console.log)"
	;;
crashed)
	tk_msg "boot: $kver: GUEST CRASHED under $ran while running the command: $message (console: $res/console.log)"
	;;
*)
	tk_msg "boot: $kver: BOOT FAILED under $ran: $message (console: $res/console.log)"
	;;
esac
exit "$exit_code"
