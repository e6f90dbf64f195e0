// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run_loop.c - the agent's loop: poll(2) over registered fds, a signalfd
 * (SIGHUP reloads, SIGTERM and SIGINT end the agent), the watch's inotify
 * fd, and whatever pg_agent_add_fd() adds; a look at the files once their
 * events settle, or at once when an apply is asked for.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "run.h"
#include "util.h"

uint64_t pg_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int pg_agent_add_fd(struct pg_agent *a, int fd, short events, pg_agent_fd_cb cb, void *ud)
{
	if (fd < 0 || !cb)
		return -EINVAL;
	if (a->nfds == PG_AGENT_MAX_FDS)
		return -ENOSPC;
	a->fds[a->nfds++] = (struct fdreg){ fd, events, cb, ud };
	return 0;
}

int pg_agent_del_fd(struct pg_agent *a, int fd)
{
	size_t i;

	for (i = 0; i < a->nfds; i++)
		if (a->fds[i].fd == fd) {
			memmove(&a->fds[i], &a->fds[i + 1], (a->nfds - i - 1) * sizeof(a->fds[0]));
			a->nfds--;
			return 0;
		}
	return -ENOENT;
}

void pg_agent_reload(struct pg_agent *a, const char *why)
{
	a->force = why;
	a->trees.reuse = false;
}

void pg_agent_reload_pods(struct pg_agent *a, const char *why)
{
	if (!a->force)
		a->trees.reuse = true;
	a->force = why;
}

static int on_signal(struct pg_agent *a, int fd, short revents, void *ud)
{
	struct signalfd_siginfo si;

	(void)revents;
	(void)ud;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pg_info("SIGHUP from pid %u: applying %s again", si.ssi_pid, a->file);
			pg_agent_reload(a, "SIGHUP");
		} else if (!a->stop_sig) {
			a->stop_sig = (int)si.ssi_signo;
		}
	}
	return 0;
}

static int on_inotify(struct pg_agent *a, int fd, short revents, void *ud)
{
	int err;

	(void)fd;
	(void)revents;
	(void)ud;
	err = pg_watch_read(&a->watch, pg_now_ms());
	if (err) {
		pg_err("cannot read inotify events: %s; following %s stopped (SIGHUP still "
		       "reloads)",
		       strerror(-err), a->file);
		return -1;
	}
	return 0;
}

int pg_agent_listen(struct pg_agent *a)
{
	sigset_t set;
	int err;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		err = -errno;
		pg_err("cannot block SIGHUP, SIGTERM and SIGINT: %s", strerror(-err));
		return err;
	}
	a->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sfd < 0) {
		err = -errno;
		pg_err("cannot create a signalfd: %s", strerror(-err));
		return err;
	}
	if ((err = pg_agent_add_fd(a, a->sfd, POLLIN, on_signal, NULL)) ||
	    (err = pg_agent_add_fd(a, a->watch.ifd, POLLIN, on_inotify, NULL)))
		return err;
	return 0;
}

/*
 * When the loop must turn at the latest (monotonic ms), or UINT64_MAX.
 * While applies wait for the first pod list, neither a request nor the
 * files are due: they are looked at once the list is in.
 */
static uint64_t next_due(struct pg_agent *a, uint64_t now)
{
	uint64_t due = UINT64_MAX, settle;
	int kt = pg_agent_kube_timeout(a);
	bool hold = pg_agent_kube_hold(a);

	if (a->force && !hold)
		due = now;
	if (!hold && pg_watch_due(&a->watch, &settle) && settle < due)
		due = settle;
	if (a->metrics_file && a->next_metrics < due)
		due = a->next_metrics;
	if (pg_notify_watchdog_due() < due)
		due = pg_notify_watchdog_due();
	if (pg_agent_http_due(a, now) < due)
		due = pg_agent_http_due(a, now);
	if (kt >= 0 && now + (uint64_t)kt < due)
		due = now + (uint64_t)kt;
	return due;
}

/* The registered fds' callbacks, for those poll(2) marked in pfd[0..n). */
static void run_ready(struct pg_agent *a, const struct pollfd *pfd, size_t n)
{
	struct fdreg ready[PG_AGENT_MAX_FDS];
	short rev[PG_AGENT_MAX_FDS];
	size_t i, nready;

	/* Callbacks may add or remove fds: work from a copy. */
	for (i = 0, nready = 0; i < n; i++)
		if (pfd[i].revents) {
			ready[nready] = a->fds[i];
			rev[nready++] = pfd[i].revents;
		}
	for (i = 0; i < nready; i++)
		if (ready[i].cb(a, ready[i].fd, rev[i], ready[i].ud)) {
			pg_agent_del_fd(a, ready[i].fd);
		} else if (rev[i] & (POLLNVAL | POLLERR | POLLHUP) && !(rev[i] & POLLIN)) {
			pg_err("fd %d left the loop: poll reports %s", ready[i].fd,
			       rev[i] & POLLNVAL ? "it is not open" : "an error or hang-up");
			pg_agent_del_fd(a, ready[i].fd);
		}
}

int pg_agent_loop(struct pg_agent *a)
{
	/* the registered fds, then the Kubernetes client's */
	struct pollfd pfd[PG_AGENT_MAX_FDS + PG_AGENT_MAX_KUBE_FDS];
	size_t i, n;
	int nk;

	while (!a->stop_sig) {
		uint64_t now = pg_now_ms(), due = next_due(a, now), settle;
		int timeout, r;

		timeout = due == UINT64_MAX ? -1 : due <= now ? 0 : (int)(due - now);
		n = a->nfds;
		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ a->fds[i].fd, a->fds[i].events, 0 };
		nk = pg_agent_kube_pollfds(a, pfd + n, PG_AGENT_MAX_KUBE_FDS);
		r = poll(pfd, n + (size_t)nk, timeout);
		if (r < 0 && errno != EINTR) {
			r = -errno;
			pg_err("poll failed: %s", strerror(-r));
			return r;
		}
		if (r > 0)
			run_ready(a, pfd, n);
		pg_agent_kube_perform(a, pfd + n, r > 0 ? nk : 0);
		if (a->stop_sig)
			break;
		now = pg_now_ms();
		/* while applies wait for the pods, files and SIGHUP wait too */
		if (!pg_agent_kube_hold(a) &&
		    (a->force || (pg_watch_due(&a->watch, &settle) && settle <= now))) {
			const char *why = a->force ? a->force : "file change";

			pg_watch_settled(&a->watch);
			pg_agent_look(a, why, a->force != NULL);
			a->force = NULL;
		}
		if (a->metrics_file && a->next_metrics <= pg_now_ms())
			pg_agent_write_metrics(a);
		pg_notify_watchdog(pg_now_ms());
		pg_agent_http_turn(a); /* its timers too, not only its fd */
	}
	return 0;
}
