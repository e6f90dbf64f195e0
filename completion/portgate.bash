# bash completion for portgate(8)                     -*- shell-script -*-
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Commands, each command's flags (as `portgate help COMMAND` lists them) and
# their arguments: files for policies, directories for --pin-dir, cgroups
# from the cgroup2 root for --attach and explain, users and groups.
# Self-contained: it needs bash only, not the bash-completion package.
# tests/deploy/test_completion.sh checks it against `portgate help`.

_portgate_commands="check apply status explain diff monitor stop run reload help version"

# The long flags of COMMAND ($1).
_portgate_flags() {
	local common="--verbose --help"
	case $1 in
	check) echo "--strict --no-resolve --json $common" ;;
	apply) echo "--attach --pin-dir --dry-run --json $common" ;;
	status) echo "--pin-dir --prometheus --json $common" ;;
	explain) echo "--user --group --addr --policy --pin-dir --json $common" ;;
	diff) echo "--json $common" ;;
	monitor) echo "--all --count --pin-dir --json $common" ;;
	stop) echo "--pin-dir $common" ;;
	run)
		echo "--attach --pin-dir --detach-on-exit --metrics-file" \
			"--metrics-interval --ready-file --listen --kubeconfig --node-name" \
			"--kube-cgroup-driver --kube-cgroup-root --kube-watch-timeout $common"
		;;
	reload) echo "--pin-dir --timeout $common" ;;
	esac
}

# What the flag $2 of command $1 takes: file, dir, cgroup, user, group,
# other (a value not completed), or nothing (the flag takes no value).
_portgate_flag_arg() {
	case $1:$2 in
	apply:-a | apply:--attach | run:-a | run:--attach) echo cgroup ;;
	*:-p | *:--pin-dir) echo dir ;;
	explain:--policy | run:--metrics-file | run:--ready-file | run:--kubeconfig) echo file ;;
	run:--kube-cgroup-root) echo cgroup ;;
	run:--kube-cgroup-driver) echo driver ;;
	explain:-u | explain:--user) echo user ;;
	explain:-g | explain:--group) echo group ;;
	explain:-a | explain:--addr | monitor:-c | monitor:--count | run:--metrics-interval | \
		run:--listen | run:--node-name | run:--kube-watch-timeout | reload:-t | reload:--timeout)
		echo other
		;;
	esac
}

# The command a word names: itself, or the only command it is a prefix of,
# as portgate's own dispatch takes it.
_portgate_command_of() {
	local c hit=''
	for c in $_portgate_commands; do
		[ "$c" = "$1" ] && { echo "$c"; return; }
		case $c in "$1"*) [ -n "$hit" ] && return; hit=$c ;; esac
	done
	echo "$hit"
}

# Cgroups as portgate names them: paths from the cgroup2 root, "/" first.
_portgate_cgroups() {
	local root=${PORTGATE_CGROUP_ROOT:-/sys/fs/cgroup} cur=$1 d
	[ -n "$cur" ] || cur=/
	case $cur in /*) ;; *) cur=/$cur ;; esac
	while IFS= read -r d; do
		[ -n "$d" ] && COMPREPLY+=("${d#"$root"}/")
	done < <(compgen -d -- "$root$cur")
}

# COMPREPLY from compgen's words, one a line (names may hold spaces).
_portgate_reply() {
	mapfile -t COMPREPLY < <(compgen "$@")
}

_portgate() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=''
	local i w cmd='' nargs=0 arg pod=''
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# The command, past the global flags; then how many arguments it has.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [ -z "$cmd" ]; then
			case $w in -*) continue ;; esac
			cmd=$(_portgate_command_of "$w")
			[ -n "$cmd" ] || return 0
			continue
		fi
		case $w in
		-*) ;;
		*)
			arg=$(_portgate_flag_arg "$cmd" "${COMP_WORDS[i - 1]}")
			if [ -z "$arg" ] && [ -z "$pod" ] && [ "$cmd:$nargs:$w" = explain:0:pod ]; then
				pod=1 # explain pod NS/NAME: the two stand for one cgroup
			elif [ -z "$arg" ]; then
				nargs=$((nargs + 1))
			fi
			;;
		esac
	done

	if [ -z "$cmd" ]; then
		case $cur in
		-*) _portgate_reply -W "--verbose --json --help --version" -- "$cur" ;;
		*) _portgate_reply -W "$_portgate_commands" -- "$cur" ;;
		esac
		return 0
	fi

	# The value of a flag.
	case $(_portgate_flag_arg "$cmd" "$prev") in
	file)
		compopt -o filenames 2>/dev/null
		_portgate_reply -f -- "$cur"
		return 0
		;;
	dir)
		compopt -o filenames 2>/dev/null
		_portgate_reply -d -- "$cur"
		return 0
		;;
	cgroup)
		compopt -o nospace 2>/dev/null
		_portgate_cgroups "$cur"
		return 0
		;;
	user)
		_portgate_reply -u -- "$cur"
		return 0
		;;
	group)
		_portgate_reply -g -- "$cur"
		return 0
		;;
	driver)
		_portgate_reply -W "systemd cgroupfs" -- "$cur"
		return 0
		;;
	other) return 0 ;;
	esac

	case $cur in
	-*)
		_portgate_reply -W "$(_portgate_flags "$cmd")" -- "$cur"
		return 0
		;;
	esac

	# Positional arguments.
	case $cmd:$nargs in
	check:0 | apply:0 | run:0 | diff:0 | diff:1)
		compopt -o filenames 2>/dev/null
		_portgate_reply -f -- "$cur"
		;;
	explain:0)
		# NAMESPACE/NAME after pod: not completed
		[ -n "$pod" ] && return 0
		case $cur in
		'' | /*)
			compopt -o nospace 2>/dev/null
			_portgate_cgroups "$cur"
			;;
		*) _portgate_reply -W "pod" -- "$cur" ;;
		esac
		;;
	explain:1)
		compopt -o nospace 2>/dev/null
		_portgate_reply -W "tcp/ udp/ other/ any/" -- "$cur"
		;;
	help:0)
		_portgate_reply -W "$_portgate_commands" -- "$cur"
		;;
	esac
	return 0
}

complete -F _portgate portgate
