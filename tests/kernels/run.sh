#!/bin/bash
# run.sh [--kernels "5.10 6.1 6.12 7.2"] [--cache DIR] [--timeout S] [--accel A]
#        [--out DIR] -- CMD...
#
# For each kernel in turn: fetch Debian's image (cached), build its initramfs
# (cached), boot it under qemu with the host's / as root and run CMD inside,
# with cwd the project directory. Each guest's console log, CMD's output and
# boot.result are kept in OUT/KVER/ (OUT: --out, default build/kernels; give
# concurrent runs different ones). Prints a table at the end:
# kernel version | accel | boot seconds | command exit status.
#
# Exit status: 0 if every kernel booted and CMD exited 0 in each; 1 if CMD
# failed in some guest; 2 if some kernel could not be fetched or booted
# (or timed out): a machine that cannot boot a guest fails, never skips.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
root=$(cd "$here/../.." && pwd)

kernels="5.10 6.1 6.12 7.2"
cache=$root/build/kernels/cache
timeout=${TEST_KERNELS_TIMEOUT:-1500}
accel=${TEST_KERNELS_ACCEL:-auto}
out=$root/build/kernels
usage="usage: run.sh [--kernels \"5.10 6.1 6.12 7.2\"] [--cache DIR] [--timeout S] [--accel auto|kvm|tcg] [--out DIR] -- CMD..."
while [ $# -gt 0 ]; do
	case "$1" in
	--kernels) kernels=${2?$usage}; shift 2 ;;
	--kernels=*) kernels=${1#*=}; shift ;;
	--cache) cache=${2?$usage}; shift 2 ;;
	--cache=*) cache=${1#*=}; shift ;;
	--timeout) timeout=${2?$usage}; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--accel) accel=${2?$usage}; shift 2 ;;
	--accel=*) accel=${1#*=}; shift ;;
	--out) out=${2?$usage}; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	--) shift; break ;;
	*) tk_die "$usage" ;;
	esac
done
[ $# -ge 1 ] || tk_die "$usage"
[ -n "$kernels" ] || tk_die "run: --kernels is empty"
for k in $kernels; do
	tk_suite_of "$k" >/dev/null || tk_die "run: unknown kernel '$k' (known: 5.10 6.1 6.12 7.2)"
done
case "$cache" in /*) ;; *) cache=$root/$cache ;; esac
case "$out" in /*) ;; *) out=$root/$out ;; esac
mkdir -p "$out"

# Children run in the background so that a signal to run.sh reaches the
# running boot.sh (by its pid), whose trap stops its qemu.
child=""
run_child() {
	local rc=0
	"$@" &
	child=$!
	wait "$child" || rc=$?
	child=""
	return "$rc"
}
on_signal() {
	trap - INT TERM HUP
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	tk_msg "run: interrupted"
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

cd "$root"
rows=""
booted=0
bad_boot=0
bad_cmd=0
for k in $kernels; do
	suite=$(tk_suite_of "$k")
	echo "=== kernel $k ($suite) ==="
	if ! run_child "$here/fetch.sh" "$cache" "$k"; then
		tk_msg "run: $k ($suite): FETCH FAILED (see the message above)"
		rows="$rows$k ($suite)|-|-|-|fetch failed\n"
		bad_boot=$((bad_boot + 1))
		continue
	fi
	kver=$(cat "$cache/$k.kver")
	kdir=$cache/$kver
	res=$out/$kver
	if ! run_child "$here/mkinitramfs.sh" "$kdir" >/dev/null; then
		tk_msg "run: $kver: INITRAMFS FAILED (see the message above)"
		rows="$rows$kver|-|-|-|initramfs failed\n"
		bad_boot=$((bad_boot + 1))
		continue
	fi
	rc=0
	run_child "$here/boot.sh" --timeout "$timeout" --accel "$accel" "$kdir" "$res" "$@" || rc=$?
	if [ ! -f "$res/boot.result" ]; then
		rows="$rows$kver|-|-|-|boot.sh failed ($rc)\n"
		bad_boot=$((bad_boot + 1))
		continue
	fi
	accel_ran=$(sed -n 's/^accel=//p' "$res/boot.result")
	note=$(sed -n 's/^accel_note=//p' "$res/boot.result")
	boot_s=$(sed -n 's/^boot_s=//p' "$res/boot.result")
	outcome=$(sed -n 's/^outcome=//p' "$res/boot.result")
	message=$(sed -n 's/^message=//p' "$res/boot.result")
	[ -n "$note" ] && accel_ran="$accel_ran $note"
	case "$outcome" in
	ok)
		booted=$((booted + 1))
		rows="$rows$kver|$accel_ran|${boot_s:--}|$rc|\n"
		[ "$rc" -eq 0 ] || bad_cmd=$((bad_cmd + 1))
		;;
	*)
		bad_boot=$((bad_boot + 1))
		rows="$rows$kver|$accel_ran|${boot_s:--}|-|$outcome: $message\n"
		tk_msg "run: $kver: ${outcome^^}: $message; last lines of $res/console.log:"
		tail -n 25 "$res/console.log" 2>/dev/null | tr -d '\r' |
			sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/^/    /' >&2 || true
		;;
	esac
done

echo
{
	echo "kernel version|accel|boot seconds|command exit status|note"
	printf "%b" "$rows"
} | awk -F'|' '{ printf "%-24s | %-26s | %12s | %19s | %s\n", $1, $2, $3, $4, $5 }'
echo "(logs: $out/KVER/console.log, output, boot.result)"

n=$(echo $kernels | wc -w)
failed=$((n - booted + bad_cmd))
if [ "$bad_boot" -gt 0 ]; then
	tk_msg "run: $bad_boot of $n kernels did not boot or run the command (see above)"
fi
if [ "$bad_cmd" -gt 0 ]; then
	tk_msg "run: the command failed in $bad_cmd of $booted booted kernels"
fi
echo "test-kernels: $((n - failed)) passed, $failed failed"
[ "$bad_boot" -eq 0 ] || exit 2
[ "$bad_cmd" -eq 0 ] || exit 1
exit 0
