// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * monitor.c - portgate monitor: stream bind decisions as they happen.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "events.h"
#include "opt.h"
#include "state.h"
#include "util.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

struct mon {
	struct pg_evfmt fmt;
	bool json;
	uint64_t seen, max;
};

static int on_event(void *ud, const struct pg_event *ev)
{
	struct mon *m = ud;

	/* libbpf goes on through what is queued whatever this returns */
	if (ev->kind != PG_EVK_BIND || (m->max && m->seen >= m->max))
		return 0;
	pg_evfmt_print(&m->fmt, ev, m->json, stdout);
	m->seen++;
	return m->max && m->seen >= m->max ? 1 : 0; /* stop consuming */
}

static void report_lost(struct pg_sub *s, bool json)
{
	uint64_t n = pg_sub_lost(s);

	if (!n)
		return;
	if (json)
		pg_evfmt_lost_json(n, stdout);
	pg_err("%llu event%s lost: the ring buffer was full (events come faster than they are "
	       "read)",
	       (unsigned long long)n, n == 1 ? "" : "s");
}

struct monitor_args {
	struct pg_opts o; /* first: see opt.h */
	bool all;
	uint64_t count;
};

static const struct pg_optdef opts[] = {
	{ .name = "all",
	  .letter = 'a',
	  .help = "every decision on a protected port",
	  .def = "refused binds only",
	  .off = offsetof(struct monitor_args, all) },
	{ .name = "count",
	  .letter = 'c',
	  .kind = PG_OPT_U64,
	  .arg = "N",
	  .help = "exit after N events",
	  .def = "run until interrupted",
	  .min = 1,
	  .max = UINT64_MAX,
	  .give = "give a positive number",
	  .off = offsetof(struct monitor_args, count) },
	PG_OPT_PIN_DIR,
	{ 0 },
};

/* Print events until a signal, or m->max of them; an exit status. */
static int follow(struct mon *m, struct pg_sub *s)
{
	int err;

	while (!stopping && !(m->max && m->seen >= m->max)) {
		struct pollfd pfd = { .fd = pg_sub_fd(s), .events = POLLIN };
		int n = poll(&pfd, 1, 1000);

		if (n < 0 && errno != EINTR) {
			pg_err("cannot wait for events: %s", strerror(errno));
			return PG_EXIT_FAIL;
		}
		err = pg_sub_consume(s);
		if (err < 0 && err != -EINTR) {
			pg_err("cannot read events: %s", strerror(-err));
			return PG_EXIT_FAIL;
		}
		fflush(stdout);
		report_lost(s, m->json);
	}
	pg_sub_consume(s);
	fflush(stdout);
	report_lost(s, m->json);
	return PG_EXIT_OK;
}

static int cmd_monitor(int argc, char **argv, struct pg_opts *o)
{
	struct monitor_args ma = { .o = *o };
	/* SA_RESTART: a signal must not cut a write to a full pipe short, which
	 * loses the line stdio was writing (poll() still returns EINTR) */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	uint32_t mask = PG_EVM_DENY;
	struct mon m = { 0 };
	struct pg_sub s;
	char **arg;
	int status;

	if (!pg_opt_parse(&pg_cmd_monitor, argc, argv, &ma, &arg, &status))
		return status;
	o = &ma.o;
	m.json = o->json;
	m.max = ma.count;
	if (ma.all)
		mask |= PG_EVM_GRANT;
	if (geteuid()) {
		pg_err("needs root: the event stream lives in the root-only pin directory "
		       "%s",
		       o->pin_dir);
		return PG_EXIT_FAIL;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	if (pg_evfmt_init(&m.fmt, o->pin_dir))
		return PG_EXIT_FAIL;
	if (pg_sub_open(&s, o->pin_dir, mask, on_event, &m)) {
		pg_evfmt_free(&m.fmt);
		return PG_EXIT_FAIL;
	}
	if (!m.json)
		pg_info("monitoring %s in %s (ctrl-c to stop)",
			mask & PG_EVM_GRANT ? "every decision on protected ports"
					    : "refused binds and audit's would-be changes",
			o->pin_dir);
	fflush(stderr);
	status = follow(&m, &s);
	pg_sub_close(&s);
	pg_evfmt_free(&m.fmt);
	return status;
}

const struct pg_cmd pg_cmd_monitor = {
	.name = "monitor",
	.fn = cmd_monitor,
	.synopsis = "[--all] [--count N] [--pin-dir DIR] [-j]",
	.help = "stream bind decisions: refused binds, with --all every decision",
	.opts = opts,
	.json = true,
	.nargs_err = "takes no arguments",
	.nargs_usage = true,
};
