#!/bin/bash
# fetch.sh CACHE_DIR KERNEL...
#
# Download Debian's stock amd64 kernel for each KERNEL (5.10 = bullseye,
# 6.1 = bookworm, 6.12 = trixie, 7.2 = sid) and unpack it into
# CACHE_DIR/KVER/ (KVER = the kernel's `uname -r`), with modules.dep made by
# `depmod -b`. CACHE_DIR/KERNEL.kver names the KVER fetched for KERNEL.
#
# apt runs with a private configuration under CACHE_DIR/apt/SUITE/: its own
# sources list, lists, cache and status, no system config parts. Only the
# mirror URI (and any proxy and date-check settings) are read from the
# machine's apt configuration, which is never modified.
#
# Image choice: the newest linux-image-*-amd64 of the suite (not -cloud, which
# lacks 9p, not -rt, not -dbg; the signed image, -unsigned only if no signed
# one exists). Its Depends on linux-*-ABI packages (sid's split into
# linux-binary-, linux-modules-, linux-base-) are fetched too.
#
# Signatures: the suite's Release file is checked by apt against
# /usr/share/keyrings/debian-archive-keyring.gpg. If that keyring lacks the
# suite's key, the debian-archive-keyring package of another suite that does
# verify with it is downloaded (its hash checked against that suite's signed
# index), unpacked under CACHE_DIR/keyring/, and its keyring used instead.
# Nothing weaker is ever tried.
#
# Idempotent: a KERNEL whose unpacked tree is complete is not fetched again
# and nothing touches the network. Delete CACHE_DIR/KERNEL.kver to refetch.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -ge 2 ] || tk_die "usage: fetch.sh CACHE_DIR KERNEL... (KERNEL: 5.10 6.1 6.12 7.2)"
mkdir -p "$1" || tk_die "cannot create cache directory $1"
cache=$(cd "$1" && pwd)
shift

for k in "$@"; do
	tk_suite_of "$k" >/dev/null || tk_die "unknown kernel '$k' (known: 5.10 6.1 6.12 7.2)"
done

sys_keyring=${TEST_KERNELS_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
mirror=""
workdirs=""
cleanup() {
	local d
	for d in $workdirs; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Write the private apt configuration for SUITE signed by KEYRING.
apt_setup() {
	local suite=$1 keyring=$2 a=$cache/apt/$1
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/empty" "$a/log"
	: >"$a/status"
	{
		echo "// private apt configuration of tests/kernels/fetch.sh; written on every run"
		echo "Dir::Etc::main \"/dev/null\";"
		echo "Dir::Etc::Parts \"$a/empty\";"
		echo "Dir::Etc::SourceList \"$a/sources.list\";"
		echo "Dir::Etc::SourceParts \"$a/empty\";"
		echo "Dir::Etc::Preferences \"$a/empty/none\";"
		echo "Dir::Etc::PreferencesParts \"$a/empty\";"
		echo "Dir::Etc::Trusted \"$a/empty/none.gpg\";"
		echo "Dir::Etc::TrustedParts \"$a/empty\";"
		echo "Dir::State \"$a\";"
		echo "Dir::State::Lists \"$a/lists\";"
		echo "Dir::State::status \"$a/status\";"
		echo "Dir::Cache \"$a/cache\";"
		echo "Dir::Cache::archives \"$a/cache/archives\";"
		echo "Dir::Log \"$a/log\";"
		echo "APT::Architecture \"amd64\";"
		echo "APT::Architectures { \"amd64\"; };"
		echo "Acquire::Languages \"none\";"
		echo "Acquire::AllowInsecureRepositories \"false\";"
		echo "Acquire::AllowDowngradeToInsecureRepositories \"false\";"
		# Inherited from the machine's apt configuration (read, not changed).
		# This machine's mirror is a frozen snapshot whose sid Release is past
		# its Valid-Until, and its apt is told not to check that; signatures
		# are still checked.
		local key val
		for key in Acquire::Check-Valid-Until Acquire::Check-Date \
			Acquire::http::Proxy Acquire::https::Proxy; do
			val=$(APT_CONFIG='' apt-config dump "$key" 2>/dev/null |
				sed -n "s|^$key \"\\(.*\\)\";\$|\\1|p" | head -n 1)
			[ -n "$val" ] && echo "$key \"$val\";"
		done
	} >"$a/apt.conf"
	echo "deb [signed-by=$keyring] $mirror $suite main" >"$a/sources.list"
}

apt_priv() {
	APT_CONFIG="$cache/apt/$1/apt.conf" "${@:2}"
}

# apt-get update for SUITE; 0 ok, 1 failure, 2 failure for want of a key.
apt_update() {
	local suite=$1 log=$cache/apt/$1/update.log
	if apt_priv "$suite" apt-get -q update >"$log" 2>&1 &&
		! grep -qE '^E: |GPG error|NO_PUBKEY' "$log"; then
		return 0
	fi
	if grep -qE 'NO_PUBKEY|is not signed|KEYEXPIRED|EXPKEYSIG' "$log"; then
		return 2
	fi
	return 1
}

update_reason() {
	grep -E '^(E|W|Err):? ' "$cache/apt/$1/update.log" | tail -n 2 | tr '\n' ' ' |
		sed 's/ *$//'
}

# A newer debian-archive-keyring, for a suite whose key the system keyring
# lacks: take the package from a suite that the system keyring verifies.
newer_keyring() {
	local want=$1 donor dir deb
	dir=$cache/keyring
	if [ -s "$dir/keyring.gpg" ]; then
		echo "$dir/keyring.gpg"
		return 0
	fi
	for donor in sid trixie bookworm bullseye; do
		[ "$donor" = "$want" ] && continue
		apt_setup "$donor" "$sys_keyring"
		if ! apt_update "$donor"; then
			rm -rf "$cache/apt/$donor/lists" "$cache/apt/$donor/cache"
			continue
		fi
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp/deb"
		workdirs="$workdirs $dir.tmp"
		chown _apt "$dir.tmp/deb" 2>/dev/null || true
		(cd "$dir.tmp/deb" && apt_priv "$donor" apt-get -q download debian-archive-keyring) \
			>"$cache/apt/$donor/keyring-download.log" 2>&1 || continue
		deb=$(ls "$dir.tmp/deb"/debian-archive-keyring_*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || continue
		dpkg-deb -x "$deb" "$dir.tmp/root" || continue
		[ -s "$dir.tmp/root/usr/share/keyrings/debian-archive-keyring.gpg" ] || continue
		cp "$dir.tmp/root/usr/share/keyrings/debian-archive-keyring.gpg" "$dir.tmp/keyring.gpg"
		{
			echo "debian-archive-keyring.gpg from $(basename "$deb"), suite $donor of $mirror,"
			echo "whose Release verified with $sys_keyring; fetched $(date -u +%FT%TZ)"
			echo "because $sys_keyring lacks the key that signs $want."
		} >"$dir.tmp/ORIGIN"
		rm -rf "$dir"
		mkdir -p "$dir"
		mv "$dir.tmp/keyring.gpg" "$dir.tmp/ORIGIN" "$dir/"
		rm -rf "$dir.tmp" "$cache/apt/$donor/lists" "$cache/apt/$donor/cache"
		tk_msg "$want: using the keyring of $(basename "$deb") from $donor (see $dir/ORIGIN)"
		echo "$dir/keyring.gpg"
		return 0
	done
	return 1
}

# The image package to fetch: newest plain -amd64 flavour of the suite.
pick_image() {
	local suite=$1 name ver best="" bestver="" set
	for set in signed unsigned; do
		for name in $(apt_priv "$suite" apt-cache pkgnames linux-image- | sort); do
			case "$set:$name" in
			signed:linux-image-[0-9]*-amd64) ;;
			unsigned:linux-image-[0-9]*-amd64-unsigned) ;;
			*) continue ;;
			esac
			case "$name" in
			*-cloud-amd64* | *-rt-amd64* | *-dbg*) continue ;;
			esac
			ver=$(apt_priv "$suite" apt-cache show --no-all-versions "$name" 2>/dev/null |
				sed -n 's/^Version: //p' | head -n 1)
			[ -n "$ver" ] || continue
			if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$bestver"; then
				best=$name
				bestver=$ver
			fi
		done
		[ -n "$best" ] && break
	done
	[ -n "$best" ] || return 1
	echo "$best"
}

# The image package plus the linux-*-ABI packages it depends on, transitively.
pkg_closure() {
	local suite=$1 img=$2 abi todo p dep name all
	abi=${img#linux-image-}
	abi=${abi%-unsigned}
	all=$img
	todo=$img
	while [ -n "$todo" ]; do
		set -- $todo
		p=$1
		shift
		todo="$*"
		for dep in $(apt_priv "$suite" apt-cache show --no-all-versions "$p" |
			sed -n 's/^\(Pre-\)\{0,1\}Depends: //p' | tr ',' '\n' |
			sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g'); do
			name=$dep
			case "$name" in
			linux-*-"$abi") ;;
			*) continue ;;
			esac
			case " $all " in
			*" $name "*) continue ;;
			esac
			all="$all $name"
			todo="$todo $name"
		done
	done
	echo "$all"
}

fetch_one() {
	local k=$1 suite kver keyring rc img pkgs tmp deb d moddir vmlinuz config p v vers=""
	suite=$(tk_suite_of "$k")
	if [ -s "$cache/$k.kver" ]; then
		kver=$(cat "$cache/$k.kver")
		if [ -f "$cache/$kver/.fetched" ]; then
			tk_msg "$k: cached: $kver ($(tk_info "$cache/$kver" packages))"
			return 0
		fi
	fi
	if [ -z "$mirror" ]; then
		mirror=$(tk_mirror) ||
			tk_die "cannot fetch linux-image for $suite: no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
	fi
	local what="cannot fetch linux-image for $suite from $mirror"

	keyring=$sys_keyring
	[ -r "$keyring" ] || tk_die "$what: keyring $keyring missing (install debian-archive-keyring)"
	apt_setup "$suite" "$keyring"
	rc=0
	apt_update "$suite" || rc=$?
	if [ "$rc" -eq 2 ]; then
		tk_msg "$suite: $keyring lacks the suite's signing key: $(update_reason "$suite")"
		keyring=$(newer_keyring "$suite") ||
			tk_die "$what: $sys_keyring lacks its signing key, and no suite verified by it offers a debian-archive-keyring package that has it"
		apt_setup "$suite" "$keyring"
		rc=0
		apt_update "$suite" || rc=$?
	fi
	[ "$rc" -eq 0 ] || tk_die "$what: apt-get update failed: $(update_reason "$suite") (log: $cache/apt/$suite/update.log)"

	img=$(pick_image "$suite") || tk_die "$what: no linux-image-*-amd64 package in the index"
	pkgs=$(pkg_closure "$suite" "$img")
	tk_msg "$k: $suite: fetching $pkgs"

	tmp=$cache/.fetch-$k.$$
	rm -rf "$tmp"
	workdirs="$workdirs $tmp"
	mkdir -p "$tmp/deb" "$tmp/root"
	# apt downloads as _apt where it can.
	chown _apt "$tmp/deb" 2>/dev/null || true
	# shellcheck disable=SC2086
	(cd "$tmp/deb" && apt_priv "$suite" apt-get -q download $pkgs) >"$tmp/download.log" 2>&1 ||
		tk_die "$what: apt-get download $pkgs failed: $(grep -E '^E: ' "$tmp/download.log" | tail -n 1)"
	for p in $pkgs; do
		deb=$(ls "$tmp/deb/${p}_"*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || tk_die "$what: apt-get download gave no .deb for $p"
		v=$(dpkg-deb -f "$deb" Version)
		vers="$vers $p=$v"
		dpkg-deb -x "$deb" "$tmp/root" || tk_die "$what: dpkg-deb -x $(basename "$deb") failed"
	done
	vers=${vers# }

	# One kernel, whose modules live in lib/modules or (sid) usr/lib/modules.
	kver=""
	for d in "$tmp"/root/lib/modules/* "$tmp"/root/usr/lib/modules/*; do
		[ -d "$d" ] && [ ! -L "$d" ] || continue
		[ -z "$kver" ] || [ "$kver" = "$(basename "$d")" ] ||
			tk_die "$what: more than one kernel in $pkgs"
		kver=$(basename "$d")
	done
	[ -n "$kver" ] || tk_die "$what: no lib/modules/KVER in $pkgs"
	if [ -d "$tmp/root/lib/modules/$kver" ]; then
		moddir=lib/modules/$kver
	else
		moddir=usr/lib/modules/$kver
		# depmod -b BASE reads BASE/lib/modules.
		[ -e "$tmp/root/lib" ] || ln -s usr/lib "$tmp/root/lib"
		[ -e "$tmp/root/lib/modules" ] || tk_die "$what: cannot link lib/modules to $moddir"
	fi
	vmlinuz=""
	for p in "boot/vmlinuz-$kver" "$moddir/vmlinuz" "usr/lib/linux/vmlinuz-$kver"; do
		if [ -f "$tmp/root/$p" ]; then
			vmlinuz=$p
			break
		fi
	done
	[ -n "$vmlinuz" ] || tk_die "$what: no vmlinuz for $kver in $pkgs"
	config=""
	for p in "boot/config-$kver" "$moddir/config"; do
		if [ -f "$tmp/root/$p" ]; then
			config=$p
			break
		fi
	done
	sysmap=""
	for p in "boot/System.map-$kver" "$moddir/System.map"; do
		if [ -f "$tmp/root/$p" ]; then
			sysmap=$p
			break
		fi
	done
	depmod -b "$tmp/root" "$kver" >"$tmp/depmod.log" 2>&1 ||
		tk_die "$what: depmod -b failed: $(tail -n 1 "$tmp/depmod.log")"
	[ -s "$tmp/root/$moddir/modules.dep" ] || tk_die "$what: depmod made no modules.dep"

	{
		echo "label=$k"
		echo "suite=$suite"
		echo "kver=$kver"
		echo "packages=$vers"
		echo "mirror=$mirror"
		echo "keyring=$keyring"
		echo "vmlinuz=$vmlinuz"
		echo "moddir=$moddir"
		echo "config=$config"
		echo "sysmap=$sysmap"
		echo "fetched=$(date -u +%FT%TZ)"
	} >"$tmp/root/kernel.info"
	touch "$tmp/root/.fetched"
	rm -rf "${cache:?}/$kver"
	mv "$tmp/root" "$cache/$kver"
	rm -rf "$tmp"
	echo "$kver" >"$cache/$k.kver"
	# The index is only needed again for a refetch, which updates it anyway.
	rm -rf "$cache/apt/$suite/lists" "$cache/apt/$suite/cache"
	tk_msg "$k: $kver ($vers) in $cache/$kver"
}

for k in "$@"; do
	fetch_one "$k"
done
