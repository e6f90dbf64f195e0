// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * reload.c - `portgate reload`: make the running agent apply its policy
 * again, and wait for the outcome. portgate.service's ExecReload=, so that
 * `systemctl reload portgate` fails when the new policy is rejected
 * (systemd 252 has no Type=notify-reload to do this through sd_notify).
 *
 * The handshake: read the agent's pid from its state file (agent.h), note
 * the time (pg_reload_clock_ns), send SIGHUP, then read the state file again
 * until it records an apply attempt that began after that time. SIGHUP
 * always applies, changed or not; signals sent while an apply runs are not
 * lost but coalesce into one more apply, which begins after every one of
 * them, so each waiter sees an attempt newer than its own request.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cmd.h"
#include "notify.h"
#include "opt.h"
#include "state.h"
#include "util.h"

#define POLL_MS 50

struct reload_args {
	struct pg_opts o;   /* first: see opt.h */
	uint64_t timeout_s; /* 0: wait as long as the agent lives */
};

static const struct pg_optdef opts[] = {
	PG_OPT_PIN_DIR,
	{ .name = "timeout",
	  .letter = 't',
	  .kind = PG_OPT_U64,
	  .arg = "SEC",
	  .help = "give up waiting after SEC seconds; 0: wait as long as the agent lives",
	  .num = 90,
	  .min = 0,
	  .max = 86400,
	  .give = "give seconds, 0 (no limit) to 86400",
	  .off = offsetof(struct reload_args, timeout_s) },
	{ 0 },
};

/* The live agent of the state file at path, in *st; 0 or an exit status
 * (said why). */
static int find_agent(const char *path, const char *pin_dir, struct pg_agent_state *st)
{
	int err = pg_agent_state_read(path, st);

	if (err == -ENOENT) {
		pg_err("no agent is running for pin dir %s: there is no state file %s (start "
		       "one: portgate run FILE, or systemctl start portgate)",
		       pin_dir, path);
		return PG_EXIT_FAIL;
	}
	if (err) {
		pg_err("cannot read the agent state file %s: %s", path,
		       err == -EPROTO ? "not written by this version of portgate" : strerror(-err));
		return PG_EXIT_FAIL;
	}
	if (!st->running || !pg_agent_alive(st)) {
		pg_err("no agent is running for pin dir %s: the last one, pid %lld, %s%s", pin_dir,
		       (long long)st->pid,
		       st->running ? "is gone" : "exited: ", st->running ? "" : st->exit_reason);
		return PG_EXIT_FAIL;
	}
	return PG_EXIT_OK;
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

/*
 * Wait until the agent pid has recorded an apply that began at or after
 * since_ns; 0 with the state in *st, or an exit status (said why).
 */
static int wait_attempt(const char *path, int64_t pid, uint64_t since_ns, uint64_t timeout_s,
			struct pg_agent_state *st)
{
	uint64_t deadline = timeout_s ? since_ns + timeout_s * 1000000000ULL : UINT64_MAX;
	int err;

	for (;;) {
		sleep_ms(POLL_MS);
		err = pg_agent_state_read(path, st);
		if (!err && st->pid == pid && st->last_attempt_boot_ns >= since_ns)
			return PG_EXIT_OK;
		if ((!err && st->pid != pid) || (!err && !st->running) ||
		    (!err && !pg_agent_alive(st)) || err == -ENOENT) {
			pg_err("the agent, pid %lld, ended before it applied the policy again%s%s; "
			       "what was in force stays in force",
			       (long long)pid, !err && !st->running ? ": " : "",
			       !err && !st->running ? st->exit_reason : "");
			return PG_EXIT_FAIL;
		}
		if (pg_reload_clock_ns() >= deadline) {
			pg_err("the agent, pid %lld, has not finished applying after %llu s; it "
			       "may still (see portgate status, or its log)",
			       (long long)pid, (unsigned long long)timeout_s);
			return PG_EXIT_FAIL;
		}
	}
}

/* A rejected policy: say why, and what stays in force (as the pins tell it). */
static void report_failure(const struct pg_agent_state *st, const char *pin_dir)
{
	char hash[65];
	uint64_t gen;
	int err = pg_status_in_force(pin_dir, &gen, hash);

	pg_err("the agent rejected %s (exit status %lld, %s):", st->file,
	       (long long)st->last_attempt_status, pg_exit_word(st->last_attempt_status));
	if (st->last_error[0])
		pg_log_text(PG_LOG_ERROR, st->last_error);
	if (!err && gen == st->generation && !strcmp(hash, st->sha256))
		pg_err("the old policy stays enforced: generation %llu sha256 %s",
		       (unsigned long long)gen, hash);
	else if (!err)
		pg_err("in force now: generation %llu sha256 %s (see the errors above)",
		       (unsigned long long)gen, hash);
	else
		pg_err("what is in force cannot be read: %s",
		       err == -ENOENT ? "no policy installed" : strerror(-err));
}

static int cmd_reload(int argc, char **argv, struct pg_opts *o)
{
	struct reload_args ra = { .o = *o };
	char **arg;
	struct pg_agent_state *st = calloc(1, sizeof(*st)); /* 12 KiB: not on the stack */
	char path[PATH_MAX];
	uint64_t since;
	int64_t pid;
	int r, status = PG_EXIT_FAIL;

	if (!st) {
		pg_err("out of memory");
		return PG_EXIT_FAIL;
	}
	if (!pg_opt_parse(&pg_cmd_reload, argc, argv, &ra, &arg, &status))
		goto out;
	if ((r = pg_agent_state_path(ra.o.pin_dir, path, sizeof(path)))) {
		pg_err("cannot name the agent state file for pin dir %s: %s", ra.o.pin_dir,
		       strerror(-r));
		goto out;
	}
	if ((status = find_agent(path, ra.o.pin_dir, st)))
		goto out;
	pid = st->pid;
	since = pg_reload_clock_ns();
	if (kill((pid_t)pid, SIGHUP)) {
		pg_err("cannot signal the agent, pid %lld: %s", (long long)pid, strerror(errno));
		status = PG_EXIT_FAIL;
		goto out;
	}
	pg_dbg("sent SIGHUP to agent pid %lld, waiting for its apply", (long long)pid);
	if ((status = wait_attempt(path, pid, since, ra.timeout_s, st)))
		goto out;
	if (st->last_attempt_ok) {
		printf("reloaded %s: generation %llu sha256 %s\n", st->file,
		       (unsigned long long)st->generation, st->sha256);
	} else {
		report_failure(st, ra.o.pin_dir);
		status = PG_EXIT_FAIL;
	}
out:
	free(st);
	return status;
}

const struct pg_cmd pg_cmd_reload = {
	.name = "reload",
	.fn = cmd_reload,
	.synopsis = "[--pin-dir DIR] [--timeout SEC]",
	.help = "make the running agent apply its file again; exit 1 if it was rejected",
	.opts = opts,
	.nargs_err = "takes no arguments (the agent reloads the file it follows)",
	.nargs_usage = true,
};
