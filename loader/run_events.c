// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* run_events.c - the agent's event sources beyond its files and signals. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "events.h"
#include "meta.h"
#include "policy.h"
#include "run.h"
#include "util.h"

/*
 * The BPF event stream: refused binds are logged, and a cgroup made where a
 * glob selector may match it makes the agent apply again (exact selectors
 * need nothing: the cgroup_mkdir program gives such a cgroup its node
 * inside mkdir(2)).
 */
static struct {
	struct pg_sub sub;
	struct pg_evfmt fmt;
	bool on;
	char why[600];
} ev_src;

/*
 * A glob selector of the policy in force (from its image) that matches
 * path, or with path NULL any glob selector at all; true when the image's
 * meta cannot be read (apply, and let the compiler decide).
 */
static bool glob_may_match(const char *path)
{
	struct pg_evfmt *f = &ev_src.fmt;
	size_t i;

	if (pg_evfmt_meta(f) < 0)
		return true;
	for (i = 0; i < f->meta.nrules; i++) {
		char action[16], sel[4096];
		const char *t = f->meta.rules[i].text;

		/* "ACTION SELECTOR ...", the selector quoted if it holds spaces */
		if (!pg_meta_token(&t, action, sizeof(action)) ||
		    !pg_meta_token(&t, sel, sizeof(sel)))
			continue;
		if (!pg_selector_is_exact(sel) && (!path || pg_selector_match(sel, path)))
			return true;
	}
	return false;
}

static int on_event(void *ud, const struct pg_event *ev)
{
	struct pg_agent *a = ud;

	if (ev->kind == PG_EVK_MKDIR) {
		const char *path = pg_evfmt_cgroup(&ev_src.fmt, ev->cgid);

		if (path && glob_may_match(path)) {
			snprintf(ev_src.why, sizeof(ev_src.why),
				 "cgroup %s was made (a glob selector matches it)", path);
			pg_agent_reload(a, ev_src.why);
		}
		return 0;
	}
	if (ev->kind == PG_EVK_BIND) {
		char *line = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&line, &len);

		if (!m)
			return 0;
		pg_evfmt_print(&ev_src.fmt, ev, false, m);
		fclose(m);
		if (len && line[len - 1] == '\n')
			line[len - 1] = 0;
		pg_log(PG_LOG_NOTICE, "deny", "%s", line);
		free(line);
	}
	return 0;
}

static int on_ring(struct pg_agent *a, int fd, short revents, void *ud)
{
	uint64_t lost;
	int err;

	(void)fd;
	(void)revents;
	(void)ud;
	err = pg_sub_consume(&ev_src.sub);
	if (err < 0 && err != -EINTR) {
		pg_err("cannot read the event ring buffer: %s; events stop here", strerror(-err));
		return 1;
	}
	lost = pg_sub_lost(&ev_src.sub);
	if (lost) {
		pg_warn("%llu events lost: the ring buffer was full", (unsigned long long)lost);
		/* a lost mkdir may have been one a glob matches */
		pg_agent_reload(a, "events were lost");
	}
	return 0;
}

static int start_events(struct pg_agent *a)
{
	const struct pg_opts *o = a->o;
	int err;

	if ((err = pg_evfmt_init(&ev_src.fmt, o->pin_dir)))
		return err;
	err = pg_sub_open(&ev_src.sub, o->pin_dir, PG_EVM_DENY | PG_EVM_MKDIR, on_event, a);
	if (err) {
		pg_evfmt_free(&ev_src.fmt);
		return err;
	}
	ev_src.on = true;
	if ((err = pg_agent_add_fd(a, pg_sub_fd(&ev_src.sub), POLLIN, on_ring, NULL))) {
		pg_err("cannot add the event ring buffer to the loop: %s", strerror(-err));
		return err;
	}
	/* Cgroups made between the first apply's look at the tree and this
	 * subscription sent no event (seen under emulation: a pod made then
	 * stayed without its glob grant): apply once more to catch them. */
	if (glob_may_match(NULL))
		pg_agent_reload(a, "subscribed to cgroup events: looking again for cgroups made "
				   "during the first apply");
	return 0;
}

void pg_agent_stop_sources(void)
{
	if (!ev_src.on)
		return;
	pg_sub_close(&ev_src.sub);
	pg_evfmt_free(&ev_src.fmt);
	ev_src.on = false;
}

/*
 * Further event sources, started after the first apply succeeded: each
 * adds its fds to the loop; -errno (after saying why) ends the agent.
 */
static int (*const sources[])(struct pg_agent *a) = {
	start_events,
};

int pg_agent_start_sources(struct pg_agent *a)
{
	size_t i;
	int err;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if ((err = sources[i](a)))
			return err;
	return 0;
}
