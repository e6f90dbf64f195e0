#!/bin/bash
# smoke.sh [PROBE_MAP]: run inside a tests/kernels guest; proves the guest is
# fit for portgate's tests: kernel version, cgroup2 at /sys/fs/cgroup, bpffs at
# /sys/fs/bpf, `bpftool feature probe kernel` and the features portgate cares
# about, the package's modules autoloadable, the project directory readable.
# PROBE_MAP is the probe-map binary (probe-map.c), for map types this bpftool
# does not know. Exit status 1 if any check fails.
set -u

fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

echo "uname -r: $(uname -r)"
[ -z "${TEST_KERNELS_KVER:-}" ] || [ "$(uname -r)" = "$TEST_KERNELS_KVER" ] ||
	bad "booted $(uname -r), expected $TEST_KERNELS_KVER"

t=$(stat -f -c %T /sys/fs/cgroup 2>&1)
[ "$t" = cgroup2fs ] && ok "/sys/fs/cgroup is cgroup2 ($t)" || bad "/sys/fs/cgroup is '$t', not cgroup2fs"
t=$(stat -f -c %T /sys/fs/bpf 2>&1)
[ "$t" = bpf_fs ] && ok "/sys/fs/bpf is bpffs ($t)" || bad "/sys/fs/bpf is '$t', not bpf_fs"

probe=/tmp/feature-probe.txt
if bpftool feature probe kernel >"$probe" 2>&1; then
	ok "bpftool feature probe kernel ran ($(bpftool version 2>/dev/null | head -n 1), $(wc -l <"$probe") lines)"
else
	bad "bpftool feature probe kernel failed: $(tail -n 1 "$probe")"
fi
# The lines for what portgate uses; a line missing means this bpftool does not
# probe the feature at all.
line() {
	local l
	l=$(grep -E "$1" "$probe" | head -n 1)
	if [ -n "$l" ]; then echo "  $l"; else echo "  ($2: no such line from this bpftool)"; fi
}
echo "feature probe:"
line '^eBPF program_type cgroup_sock_addr ' 'program_type cgroup_sock_addr'
line '^eBPF program_type cgroup_sysctl ' 'program_type cgroup_sysctl'
line '^eBPF map_type cgrp_storage ' 'map_type cgrp_storage'
line '^eBPF map_type sk_storage ' 'map_type sk_storage'
helpers=$(awk '/^eBPF helpers supported for program type cgroup_sock_addr:/ { on = 1; next }
	on && /^[[:space:]]*- / { sub(/^[[:space:]]*- /, ""); print; next }
	on { exit }' "$probe")
echo "  helpers for cgroup_sock_addr ($(echo "$helpers" | grep -c .) in all):"
for h in bpf_loop bpf_get_current_cgroup_id bpf_get_current_ancestor_cgroup_id bpf_get_current_task_btf; do
	if echo "$helpers" | grep -qx "$h"; then
		echo "    $h: available"
	else
		echo "    $h: NOT available"
	fi
done
if [ -n "${1:-}" ] && [ -x "$1" ]; then
	echo "  libbpf probe: $("$1" cgrp_storage=32)"
fi
grep -q '^eBPF program_type cgroup_sock_addr is available' "$probe" ||
	bad "cgroup_sock_addr programs are not available"

d=/lib/modules/$(uname -r)
if [ -s "$d/modules.dep" ]; then
	ok "$d/modules.dep present"
else
	bad "no $d/modules.dep: the package's modules are not mounted"
fi
if grep -qw sctp "$d/modules.builtin" 2>/dev/null; then
	ok "sctp is built in"
elif modprobe sctp 2>/tmp/modprobe.err && grep -q '^sctp ' /proc/modules; then
	ok "modprobe sctp loaded the package's module"
else
	bad "modprobe sctp failed: $(tail -n 1 /tmp/modprobe.err)"
fi

if [ -r Makefile ] && n=$(ls -A . | wc -l) && [ "$n" -gt 0 ]; then
	ok "project directory $PWD readable ($n entries)"
else
	bad "project directory $PWD not readable"
fi

echo "smoke: $fails check(s) failed"
[ "$fails" -eq 0 ]
