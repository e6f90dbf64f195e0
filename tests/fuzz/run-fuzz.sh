#!/bin/bash
# run-fuzz.sh - run the policy fuzzer for make fuzz and make fuzz-short.
#
# usage: tests/fuzz/run-fuzz.sh long|short BINARY SECONDS [MAX_LEN]
#
#   long   fuzz for SECONDS over the working corpus DIR/corpus (DIR: the
#          binary's directory), seeded from tests/fuzz/corpus; print the
#          executions, exec/s, corpus size and coverage at the end
#   short  replay every file of tests/fuzz/regressions and tests/fuzz/corpus
#          once, then fuzz for SECONDS with -seed=1 from the seeds in a fresh
#          corpus (DIR/corpus-short)
#
# A failing input (crash, abort, leak, timeout, out of memory) is copied to
# tests/fuzz/regressions/ and the script exits 1. Extra libFuzzer options:
# $FUZZ_ARGS. The full libFuzzer output is in DIR/fuzz-MODE.log. Another
# target's seeds, regressions and dictionary (instead of the policy
# fuzzer's): $FUZZ_SEEDS, $FUZZ_REGS, $FUZZ_DICT.
set -u -o pipefail

usage() {
	echo "usage: $0 long|short BINARY SECONDS [MAX_LEN]" >&2
	exit 2
}
[ $# -ge 3 ] || usage
mode=$1 bin=$2 secs=$3 maxlen=${4:-8192}
case $mode in long | short) ;; *) usage ;; esac
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
[ -x "$bin" ] || { echo "run-fuzz: $bin is not built" >&2; exit 2; }

root=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
cd "$root" || exit 2
out=$(dirname "$bin")
seeds=${FUZZ_SEEDS:-tests/fuzz/corpus}
regs=${FUZZ_REGS:-tests/fuzz/regressions}
dict=${FUZZ_DICT:-$out/fuzz_policy.dict}
art=$out/artifacts-$mode
log=$out/fuzz-$mode.log
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})

# Tokens of the language and of the target's file layout and cgroup tree.
[ -n "${FUZZ_DICT:-}" ] || cat >"$dict" <<'EOF'
"allow "
"deny "
"mode "
"protect "
"default "
"exempt root"
"rollout audit"
"rollout enforce"
" rollout=audit"
" rollout=enforce"
"netns /run/netns/"
"include "
"grant"
"sysctl"
"auto"
"kernel"
"tcp/"
"udp/"
"any/"
"tcp,udp/"
" user="
" group="
" addr="
"\x0a#--file--\x0a"
"include a.conf"
"include b.conf"
"include conf.d/*.conf"
"include eio.conf"
"include big.conf"
"include err/*.conf"
"../p/"
"/system.slice"
"/system.slice/web.service"
"/system.slice/web.service/worker"
"/user.slice/user-1000.slice/user@1000.service"
"/kubepods.slice/"
"pod1f2e"
"/tenant"
"/a/b/c/d/e/f"
"/**"
"/*"
"pod:"
"pod:*"
"pod:web/app=web"
"\x22pod:web/tier in (a, b)\x22"
"*.service"
"1-1023"
"1-65535"
"65535"
"www-data"
"web"
"alice"
"users"
"ldap-down"
"4294967294"
"::ffff:"
"10.0.0.0/8"
"10.0.0.1"
"2001:db8::/32"
"0.0.0.0/0"
"::/0"
"\x22"
"\x5c"
"#"
"\x0d\x0a"
"\xef\xbb\xbf"
"\xff\xfe"
"\xe2\x80\xae"
"\xc2\x9b"
"\x1b["
"http"
"https-"
"443-80"
"user=-"
EOF

opts=(-max_len="$maxlen" -timeout=25 -rss_limit_mb=2048 -dict="$dict"
	-artifact_prefix="$art/" -print_final_stats=1)

rm -rf "$art"
mkdir -p "$art" "$regs"

# Copy new failing inputs into the regressions; true if there was one.
save_failures() {
	local f found=1

	for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
		[ -e "$f" ] || continue
		cp "$f" "$regs/"
		printf '  FUZZ     failing input saved as %s\n' "$regs/${f##*/}"
		found=0
	done
	if [ $found -eq 0 ]; then
		echo "fuzz: reproduce with: $bin $regs/NAME"
		echo "fuzz: commit the new file(s) in $regs/ with the fix:" \
			"make test replays them from now on"
	fi
	return $found
}

# Print the summary of a fuzzing run from its log; $1 is the corpus dir.
summary() {
	local execs rate added rss cov ft corp files

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
	added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
	corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n1 | cut -d' ' -f2)
	files=$(find "$1" -maxdepth 1 -type f | wc -l)
	printf '  FUZZ     %s executions, %s exec/s, cov %s, ft %s, corpus %s (%s new; %s files in %s), peak RSS %s MB\n' \
		"${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${added:-?}" \
		"$files" "$1" "${rss:-?}"
}

fail_log() {
	echo "fuzz: $1; the end of $log:" >&2
	grep -v -E '^(INFO:|Running: |Executed |#[0-9]+|stat::|MS: |0x|NOTE: |  +Combine )|fuzzer::|libc\.so|libc_start|in _start' \
		"$log" | tail -n 30 | sed 's/^/    | /' >&2
}

if [ "$mode" = short ]; then
	# 1. Every known input once.
	inputs=()
	for f in "$regs"/* "$seeds"/*; do
		[ -f "$f" ] && inputs+=("$f")
	done
	if [ ${#inputs[@]} -gt 0 ]; then
		if ! "$bin" "${opts[@]}" "${extra[@]}" "${inputs[@]}" >"$log" 2>&1; then
			last=$(sed -n 's/^Running: //p' "$log" | tail -n1)
			fail_log "replaying ${last:-the corpus} failed"
			exit 1
		fi
		printf '  FUZZ     replayed %d inputs\n' ${#inputs[@]}
	fi
	# 2. A short, seeded run from the seeds.
	work=$out/corpus-short
	rm -rf "$work"
	mkdir -p "$work"
	dirs=("$work" "$seeds")
	[ -n "$(ls -A "$regs" 2>/dev/null)" ] && dirs+=("$regs")
	"$bin" "${opts[@]}" -seed=1 -max_total_time="$secs" "${extra[@]}" "${dirs[@]}" \
		>"$log" 2>&1
	rc=$?
	summary "$work"
	if [ $rc -ne 0 ]; then
		fail_log "fuzzing failed (exit status $rc)"
		save_failures
		exit 1
	fi
	exit 0
fi

work=$out/corpus
mkdir -p "$work"
cp -p "$seeds"/* "$work"/ 2>/dev/null
"$bin" "${opts[@]}" -max_total_time="$secs" "${extra[@]}" "$work" 2>&1 | tee "$log" |
	grep --line-buffered -E '^#[0-9]+[[:space:]]+(INITED|pulse|DONE)' | sed -u 's/^/  FUZZ     /'
rc=${PIPESTATUS[0]}
summary "$work"
if [ "$rc" -ne 0 ]; then
	fail_log "fuzzing failed (exit status $rc)"
	save_failures
	exit 1
fi
save_failures && exit 1
exit 0
