// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * monitor.c - portgate monitor: stream bind decisions as they happen.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "events.h"
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

int cmd_monitor(int argc, char **argv, struct pg_opts *o)
{
	static const struct option lo[] = { { "all", no_argument, NULL, 'a' },
					    { "json", no_argument, NULL, 'j' },
					    { "count", required_argument, NULL, 'c' },
					    { "pin-dir", required_argument, NULL, 'p' },
					    { "verbose", no_argument, NULL, 'v' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	struct mon m = { .json = o->json };
	/* SA_RESTART: a signal must not cut a write to a full pipe short, which
	 * loses the line stdio was writing (poll() still returns EINTR) */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	uint32_t mask = PG_EVM_DENY;
	struct pg_sub s;
	int ch, err, status = PG_EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "ajc:p:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'a':
			mask |= PG_EVM_GRANT;
			break;
		case 'j':
			m.json = true;
			break;
		case 'c':
			if (pg_parse_u64(optarg, 1, UINT64_MAX, &m.max)) {
				pg_err("invalid --count '%s': give a positive number", optarg);
				return PG_EXIT_USAGE;
			}
			break;
		case 'p':
			o->pin_dir = optarg;
			break;
		case 'v':
			pg_verbose++;
			break;
		case 'h':
			pg_usage("monitor", stdout);
			return PG_EXIT_OK;
		default:
			pg_usage("monitor", stderr);
			return PG_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		pg_err("takes no arguments");
		pg_usage("monitor", stderr);
		return PG_EXIT_USAGE;
	}
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
		pg_err("monitoring %s in %s (ctrl-c to stop)",
		       mask & PG_EVM_GRANT ? "every decision on protected ports" : "refused binds",
		       o->pin_dir);
	fflush(stderr);
	while (!stopping && !(m.max && m.seen >= m.max)) {
		struct pollfd pfd = { .fd = pg_sub_fd(&s), .events = POLLIN };
		int n = poll(&pfd, 1, 1000);

		if (n < 0 && errno != EINTR) {
			pg_err("cannot wait for events: %s", strerror(errno));
			goto out;
		}
		err = pg_sub_consume(&s);
		if (err < 0 && err != -EINTR) {
			pg_err("cannot read events: %s", strerror(-err));
			goto out;
		}
		fflush(stdout);
		report_lost(&s, m.json);
	}
	pg_sub_consume(&s);
	fflush(stdout);
	report_lost(&s, m.json);
	status = PG_EXIT_OK;
out:
	pg_sub_close(&s);
	pg_evfmt_free(&m.fmt);
	return status;
}
