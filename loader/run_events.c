// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* run_events.c - the agent's event sources beyond its files and signals. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cmd.h"
#include "events.h"
#include "meta.h"
#include "newcg.h"
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
	struct pg_newcg newcg; /* cgroups told of before they could be seen */
	int tfd;	       /* timerfd: when newcg's next look is due */
} ev_src = { .tfd = -1 };

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
		if (pg_selector_is_glob(sel) && (!path || pg_selector_match(sel, path)))
			return true;
	}
	return false;
}

/* A cgroup made at path: apply again when a glob selector may match it. */
static void made(struct pg_agent *a, uint64_t id, const char *path)
{
	(void)id;
	if (!glob_may_match(path))
		return;
	snprintf(ev_src.why, sizeof(ev_src.why), "cgroup %s was made (a glob selector matches it)",
		 path);
	pg_agent_reload(a, ev_src.why);
}

static const char *newcg_find(void *ud, uint64_t id)
{
	(void)ud;
	return pg_evfmt_cgroup(&ev_src.fmt, id);
}

static void newcg_seen(void *ud, uint64_t id, const char *path)
{
	pg_dbg("cgroup %s (id %llu) can be seen now", path, (unsigned long long)id);
	made(ud, id, path);
}

/* The timer at newcg's next look, or off when nothing waits. */
static void arm_newcg(void)
{
	uint64_t due = pg_newcg_due(&ev_src.newcg), now = pg_now_ms();
	struct itimerspec t = { { 0, 0 }, { 0, 0 } };

	if (due != UINT64_MAX) {
		due = due > now ? due - now : 1;
		t.it_value.tv_sec = (time_t)(due / 1000);
		t.it_value.tv_nsec = (long)(due % 1000) * 1000000L;
	}
	if (timerfd_settime(ev_src.tfd, 0, &t, NULL))
		pg_err("cannot arm the timer of new cgroups: %s", strerror(errno));
}

/*
 * The cgroup_mkdir tracepoint fires before kernfs makes the new directory
 * visible (docs/KERNEL.md), so a cgroup may not be found by its id at
 * once; newcg.c looks again until it is.
 */
static int on_newcg_timer(struct pg_agent *a, int fd, short revents, void *ud)
{
	uint64_t ticks, dropped = ev_src.newcg.dropped;

	(void)revents;
	(void)ud;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN) {
		pg_err("cannot read the timer of new cgroups: %s", strerror(errno));
		return 1;
	}
	pg_newcg_run(&ev_src.newcg, pg_now_ms(), newcg_find, newcg_seen, a);
	if (ev_src.newcg.dropped != dropped)
		pg_dbg("%llu new cgroups went before they could be seen",
		       (unsigned long long)(ev_src.newcg.dropped - dropped));
	arm_newcg();
	return 0;
}

static int on_event(void *ud, const struct pg_event *ev)
{
	struct pg_agent *a = ud;

	if (ev->kind == PG_EVK_MKDIR) {
		const char *path = pg_evfmt_cgroup(&ev_src.fmt, ev->cgid);

		if (path)
			made(a, ev->cgid, path);
		else if (!pg_newcg_add(&ev_src.newcg, ev->cgid, pg_now_ms()))
			pg_agent_reload(a,
					"more cgroups were made than can be followed one by one");
		else
			arm_newcg();
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
		/* audit's would-be changes come on the refusals' subscription */
		pg_log(PG_LOG_NOTICE,
		       ev->verdict == PG_V_WOULD_ALLOW || ev->verdict == PG_V_WOULD_DENY ? "audit"
											 : "deny",
		       "%s", line);
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

/* pod: rules in the policy in force, and no Kubernetes source to fill them: say so once. */
static void warn_pod_rules(const struct pg_agent *a)
{
	struct pg_evfmt *f = &ev_src.fmt;
	size_t i;

	if (a->kube || pg_evfmt_meta(f) < 0)
		return;
	for (i = 0; i < f->meta.nrules; i++) {
		char action[16], sel[4096];
		const char *t = f->meta.rules[i].text;

		if (pg_meta_token(&t, action, sizeof(action)) &&
		    pg_meta_token(&t, sel, sizeof(sel)) && !strncmp(sel, "pod:", 4)) {
			pg_warn("%s: its pod: rules select no pod: the agent has no Kubernetes "
				"source (give --kubeconfig, or run it in a cluster)",
				a->file);
			return;
		}
	}
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
	ev_src.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ev_src.tfd < 0) {
		err = -errno;
		pg_err("cannot create the timer of new cgroups: %s", strerror(-err));
		return err;
	}
	if ((err = pg_agent_add_fd(a, ev_src.tfd, POLLIN, on_newcg_timer, NULL))) {
		pg_err("cannot add the timer of new cgroups to the loop: %s", strerror(-err));
		return err;
	}
	warn_pod_rules(a);
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
	if (ev_src.tfd >= 0)
		close(ev_src.tfd);
	ev_src.tfd = -1;
	ev_src.newcg.n = 0;
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
