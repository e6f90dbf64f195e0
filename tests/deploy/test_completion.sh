#!/bin/bash
# completion/portgate.bash, driven as bash drives it: COMP_WORDS and
# COMP_CWORD set, _portgate called, COMPREPLY compared. The commands and
# each command's flags must be those `$PORTGATE help [COMMAND]` lists, so
# that the script follows the binary. Needs no root; touches only its temp dir.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
portgate=${PORTGATE:-$root/build/portgate}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/portgate-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
failed=0

# shellcheck source=completion/portgate.bash disable=SC1091
. "$root/completion/portgate.bash"

# The completions of a command line; the last word is the one completed
# (an empty last argument: a TAB after a space).
complete_line() {
	COMP_WORDS=(portgate "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	_portgate portgate "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

# expect WANT WORDS...: the sorted completions are WANT, space-separated.
expect() {
	local want=$1 got
	shift
	got=$(complete_line "$@")
	if [ "$got" = "$want" ]; then
		echo "test_completion: ok: portgate $*<TAB> -> ${want:-(nothing)}"
	else
		echo "test_completion: FAIL: portgate $*<TAB>: got '$got', want '$want'" >&2
		failed=1
	fi
}

sorted() { tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

complete -p portgate 2>/dev/null | grep -q -- '-F _portgate portgate$' ||
	{ echo "test_completion: FAIL: sourcing does not register _portgate for portgate" >&2; failed=1; }

# --- against the binary's own help -------------------------------------------
"$portgate" help >"$tmp/help" 2>&1
commands=$(sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' "$tmp/help" | sorted)
[ -n "$commands" ] || { echo "test_completion: FAIL: no commands in $portgate help" >&2; exit 1; }
expect "$commands" ""
for cmd in $commands; do
	case $cmd in help | version) continue ;; esac
	"$portgate" help "$cmd" >"$tmp/help.$cmd" 2>&1
	# The flag column of the options section; apply also takes --json (its
	# usage line shows -j, for --dry-run).
	flags=$(sed -n '/^options:/,/^$/s/^  \(-[a-zA-Z], \)\{0,1\}\(--[a-z-]*\).*/\2/p' "$tmp/help.$cmd")
	[ "$cmd" = apply ] && flags="$flags --json"
	flags=$(echo "$flags" | sorted)
	[ -n "$flags" ] || { echo "test_completion: FAIL: no flags in help $cmd" >&2; failed=1; }
	expect "$flags" "$cmd" --
done

# --- commands, prefixes, global flags ----------------------------------------
expect "status stop" st
expect "check" -v che
expect "--help --json --verbose --version" --
expect "--all --count --help --json --pin-dir --verbose" mon --
expect "" s --  # ambiguous: no command, no flags
expect "" bogus ""
expect "monitor" help mo

# --- arguments ---------------------------------------------------------------
mkdir -p "$tmp/work/conf.d" "$tmp/cg/system.slice/web.service" "$tmp/cg/user.slice"
touch "$tmp/work/a.conf" "$tmp/work/b.conf"
cd "$tmp/work" || exit 1
expect "a.conf b.conf conf.d" check ""
expect "a.conf" apply a
expect "a.conf b.conf conf.d" diff a.conf ""
expect "a.conf b.conf conf.d" run --pin-dir conf.d ""
expect "conf.d" apply --pin-dir ""
expect "a.conf b.conf conf.d" explain --policy ""
expect "" monitor --count ""
expect "" run --metrics-interval ""
expect "" explain --addr ""
expect "root" explain --user roo
expect "root" explain -g roo
export PORTGATE_CGROUP_ROOT=$tmp/cg
expect "/system.slice/ /user.slice/" apply --attach /
expect "/system.slice/web.service/" run -a /system.slice/
expect "/system.slice/ /user.slice/" explain ""
expect "tcp/" explain /system.slice t
expect "any/ other/ tcp/ udp/" explain /x ""
expect "" explain /x tcp/80 ""
expect "pod" explain p
expect "" explain pod ""
expect "any/ other/ tcp/ udp/" explain pod web/x ""
expect "cgroupfs systemd" run --kube-cgroup-driver ""
expect "" run --node-name ""
expect "--help --json --no-resolve --strict --verbose" check a.conf --

if [ "$failed" -ne 0 ]; then
	echo "test_completion: FAIL" >&2
	exit 1
fi
echo "test_completion: PASS"
