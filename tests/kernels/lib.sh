# Shared helpers for tests/kernels/*.sh (sourced, not run).
# shellcheck shell=bash

tk_die() {
	echo "test-kernels: $*" >&2
	exit 1
}

tk_msg() {
	echo "test-kernels: $*" >&2
}

# The Debian suite that ships a kernel line.
tk_suite_of() {
	case "$1" in
	5.10) echo bullseye ;;
	6.1) echo bookworm ;;
	6.12) echo trixie ;;
	7.2) echo sid ;;
	*) return 1 ;;
	esac
}

# Read a KEY=VALUE line of a kernel.info file written by fetch.sh.
tk_info() {
	sed -n "s/^$2=//p" "$1/kernel.info" | head -n 1
}

# The Debian mirror this machine's apt uses: the first URI of a deb entry for
# a Debian suite that is not -security, from the deb822 .sources files, then
# from the one-line .list files. TEST_KERNELS_MIRROR overrides it.
tk_mirror() {
	if [ -n "${TEST_KERNELS_MIRROR:-}" ]; then
		echo "$TEST_KERNELS_MIRROR"
		return 0
	fi
	local f uri
	local suites='^(oldoldstable|oldstable|stable|testing|unstable|sid|buster|bullseye|bookworm|trixie|forky|duke)(-updates|-backports|-proposed-updates)?$'
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk -v re="$suites" '
			function flush() {
				if (!done && types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
					n = split(suites, s, /[ \t]+/)
					for (i = 1; i <= n; i++)
						if (s[i] ~ re) { split(uris, u, /[ \t]+/); print u[1]; done = 1; exit }
				}
				types = ""; uris = ""; suites = ""; enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush() }' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return 0
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk -v re="$suites" '
			$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) ~ re) { print $i; exit }
			}' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return 0
		fi
	done
	return 1
}

# Whether /dev/kvm can run a stock kernel. kvm_pvm provides /dev/kvm without
# VMX/SVM: a stock Debian kernel hangs in its decompressor under it.
tk_kvm_usable() {
	[ -d /sys/module/kvm_pvm ] && return 1
	[ -c /dev/kvm ] || return 1
	[ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] || return 1
	# Opening it read-write is what qemu will do.
	( exec 3<>/dev/kvm ) 2>/dev/null || return 1
	return 0
}
