#!/bin/bash
# guest-test.sh RESULTS_DIR
#
# The cases of tests/systemd, run by pgtest.service inside the guest, with
# systemd as PID 1 and portgate installed by `make install PREFIX=/usr`
# (portgate.service not enabled: the first case starts it).
#
# RESULTS_DIR/results gets one line per case, "PASS NAME" or "FAIL NAME:
# why"; RESULTS_DIR/done is written last, RESULTS_DIR/journal.txt and
# status.txt hold what the guest logged. Then the guest powers off.
# No case has a time limit of its own beyond generous waits (WAIT_S) for
# what systemd does asynchronously; the host guards against a hung guest.
set -u

res=${1:?usage: guest-test.sh RESULTS_DIR}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
conf=/etc/portgate/portgate.conf
cg=/sys/fs/cgroup/pgtest
WAIT_S=1500
failed=0

log() { echo "pgtest: $*" >&2; }
pass() { echo "PASS $1" >>"$res/results"; log "PASS $1"; }
fail() {
	echo "FAIL $1: $2" >>"$res/results"
	log "FAIL $1: $2"
	failed=1
}

# The hash of the policy in force, as the pins say (portgate status).
in_force() {
	portgate status 2>/dev/null | sed -n 's/^policy: .*, sha256 \([0-9a-f]*\)$/\1/p'
}
prop() { systemctl show -p "$1" --value portgate.service; }

# bind_as_nobody PORT: bind TCP PORT as uid/gid 65534 from the granted
# cgroup; prints "ok" or the errno text.
bind_as_nobody() {
	sh -c 'echo $$ >"$1/cgroup.procs" && exec setpriv --reuid=65534 --regid=65534 \
		--clear-groups perl /usr/local/lib/pgtest/bind.pl "$2"' sh "$cg" "$1" 2>&1
}

policy() { # policy PORTS: the test policy granting tcp/PORTS to the cgroup
	printf 'mode auto\nprotect 1-1023\ndefault kernel\nallow /pgtest tcp/%s\n' "$1" >"$conf.tmp" &&
		mv "$conf.tmp" "$conf"
}

finish() {
	journalctl --sync 2>/dev/null
	journalctl -b --no-pager -o short-monotonic >"$res/journal.txt" 2>&1
	systemctl status --no-pager portgate.service >"$res/status.txt" 2>&1
	echo "$failed" >"$res/done"
	sync
	systemctl poweroff --no-block
}
trap finish EXIT

mkdir -p "$cg" || { fail setup "cannot create $cg"; exit 1; }
policy 80

# --- start: active only once the first apply has succeeded ----------------
# Type=notify: `systemctl start` returns when the agent sent READY=1, which
# it does after its first successful apply, so the policy is in force now.
if ! systemctl start portgate.service; then
	fail start "systemctl start portgate failed"
	exit 1
fi
h1=$(in_force)
st=$(prop StatusText)
if [ -z "$h1" ]; then
	fail start "no policy in force when systemctl start returned"
elif [ "$(prop Type)" != notify ] || [ "$(prop ActiveState)" != active ]; then
	fail start "Type=$(prop Type) ActiveState=$(prop ActiveState), want notify, active"
elif [[ $st != "enforcing $conf: generation "*" sha256 $h1" ]]; then
	fail start "StatusText '$st' does not name the policy in force ($h1)"
elif [ ! -e /run/portgate/ready ]; then
	fail start "--ready-file /run/portgate/ready missing"
else
	pass start
fi

r80=$(bind_as_nobody 80)
r82=$(bind_as_nobody 82)
if [ "$r80" = ok ] && [ "$r82" != ok ]; then
	pass enforce
else
	fail enforce "nobody in /pgtest: port 80 '$r80' (want ok), port 82 '$r82' (want refused)"
fi

# --- reload: a good edit -----------------------------------------------------
policy 80,81
if ! out=$(systemctl reload portgate.service 2>&1); then
	fail reload-good "systemctl reload failed on a good policy: $out"
else
	h2=$(in_force)
	st=$(prop StatusText)
	r81=$(bind_as_nobody 81)
	if [ -z "$h2" ] || [ "$h2" = "$h1" ]; then
		fail reload-good "policy in force '$h2' after the edit, before '$h1'"
	elif [[ $st != *"sha256 $h2" ]] || [ "$(prop ActiveState)" != active ]; then
		fail reload-good "StatusText '$st', ActiveState $(prop ActiveState)"
	elif [ "$r81" != ok ]; then
		fail reload-good "nobody cannot bind the newly granted port 81: $r81"
	else
		pass reload-good
	fi
fi

# --- reload: a broken policy fails, the old one stays enforced -------------
printf 'default kernel\nallow /pgtest tcp/https\n' >"$conf"
if out=$(systemctl reload portgate.service 2>&1); then
	fail reload-broken "systemctl reload succeeded on an invalid policy"
else
	h3=$(in_force)
	st=$(prop StatusText)
	r81=$(bind_as_nobody 81)
	if [ "$h3" != "$h2" ]; then
		fail reload-broken "policy in force changed: '$h3', want '$h2'"
	elif [ "$r81" != ok ]; then
		fail reload-broken "the old grant (port 81) stopped working: $r81"
	elif [ "$(prop ActiveState)" != active ]; then
		fail reload-broken "unit is $(prop ActiveState) after a failed reload, want active"
	elif [[ $st != "reload of $conf failed: "*"; still enforcing generation "*" sha256 $h2" ]]; then
		fail reload-broken "StatusText '$st' does not give the error and the old policy"
	elif ! systemctl status --no-pager portgate.service 2>&1 | grep -q 'Status: "reload of'; then
		fail reload-broken "systemctl status does not show the STATUS= error"
	else
		pass reload-broken
	fi
fi

# --- journal: priorities, no "portgate[PID]: " prefix ------------------------
journalctl --sync 2>/dev/null
errs=$(journalctl -b -u portgate.service -p err -o cat --no-pager 2>&1)
all=$(journalctl -b -u portgate.service -o cat --no-pager 2>&1)
if [[ $errs != *"invalid port"* ]]; then
	fail journal "the policy error is not in journalctl -p err: $errs"
elif [[ $errs == *"applied "* ]]; then
	fail journal "an info line (applied ...) was logged at priority err or above"
elif [[ $all != *"applied "* ]]; then
	fail journal "the agent's info lines are missing from the journal"
elif grep -q '^portgate\[' <<<"$all"; then
	fail journal "lines still carry the portgate[PID]: prefix"
else
	pass journal
fi

# --- watchdog: a stopped agent is restarted -----------------------------------
policy 80,81
systemctl reload portgate.service >/dev/null 2>&1
pid=$(prop MainPID)
restarts=$(prop NRestarts)
kill -STOP "$pid"
new=$pid
for _ in $(seq $((WAIT_S * 2))); do
	new=$(prop MainPID)
	[ "$new" != 0 ] && [ "$new" != "$pid" ] && [ "$(prop ActiveState)" = active ] && break
	sleep 0.5
done
if [ "$new" = "$pid" ] || [ "$new" = 0 ]; then
	fail watchdog "agent pid $pid stopped: not restarted in $WAIT_S s (MainPID $new)"
elif [ "$(prop NRestarts)" -le "$restarts" ]; then
	fail watchdog "MainPID changed but NRestarts did not grow"
elif ! journalctl -b -u portgate.service -o cat --no-pager | grep -q 'Watchdog timeout'; then
	fail watchdog "no 'Watchdog timeout' from systemd in the journal"
elif [ "$(in_force)" != "$h2" ]; then
	fail watchdog "policy in force '$(in_force)' after the restart, want '$h2'"
else
	pass watchdog
fi

# --- reload without an agent ----------------------------------------------------
systemctl stop portgate.service
out=$(portgate reload 2>&1)
rc=$?
if [ "$rc" != 1 ] || [[ $out != *"no agent is running"* ]]; then
	fail reload-no-agent "exit $rc, '$out'; want 1 and 'no agent is running'"
elif [ "$(in_force)" != "$h2" ]; then
	fail reload-no-agent "stopping the agent changed the policy in force"
else
	pass reload-no-agent
fi
exit 0
