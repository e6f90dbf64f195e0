// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* notify.c - sd_notify(3) and journald priorities for the agent (notify.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "agent.h"
#include "notify.h"
#include "util.h"

static struct {
	bool on;	  /* NOTIFY_SOCKET is set */
	uint64_t wd_ms;	  /* ping interval: half of WatchdogSec=, 0: off */
	uint64_t wd_next; /* CLOCK_MONOTONIC ms */
	int err;	  /* last sd_notify() error, said once */
} nt;

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A failed notification is logged once per new error, not at every ping. */
static void notify_send(const char *what)
{
	int r;

	if (!nt.on)
		return;
	r = sd_notify(0, what);
	if (r < 0 && r != nt.err)
		pg_log(PG_LOG_WARNING, "warning", "cannot notify systemd (%.40s...): %s", what,
		       strerror(-r));
	nt.err = r < 0 ? r : 0;
}

void pg_notify_init(void)
{
	uint64_t usec = 0;
	const char *s = getenv("NOTIFY_SOCKET");

	memset(&nt, 0, sizeof(nt));
	nt.on = s && *s;
	if (!nt.on)
		return;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is us */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		nt.wd_ms = usec / 2000;
		nt.wd_next = mono_ms();
		pg_dbg("systemd watchdog: %llu ms, pinging every %llu ms",
		       (unsigned long long)(usec / 1000), (unsigned long long)nt.wd_ms);
	}
}

void pg_notify_apply_begin(bool first)
{
	struct timespec t;
	char msg[96];

	if (!nt.on || first)
		return;
	/* MONOTONIC_USEC: what Type=notify-reload (systemd 253+) matches with
	 * its reload request; 252 takes RELOADING=1 alone. */
	clock_gettime(CLOCK_MONOTONIC, &t);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)t.tv_sec * 1000000ULL + (unsigned long long)t.tv_nsec / 1000);
	notify_send(msg);
}

/* The first line of the last error, as one STATUS= line can hold it. */
static void first_line(const char *err, char *out, size_t len)
{
	size_t n = strcspn(err, "\n");

	snprintf(out, len, "%.*s", (int)n, err);
}

void pg_notify_apply_end(bool first, const struct pg_agent_state *st)
{
	char err[512], msg[PATH_MAX + 1024];

	if (!nt.on)
		return;
	first_line(st->last_error, err, sizeof(err));
	if (st->last_attempt_ok)
		snprintf(msg, sizeof(msg),
			 "READY=1\nSTATUS=enforcing %s: generation %llu sha256 %s", st->file,
			 (unsigned long long)st->generation, st->sha256);
	else if (first) /* not ready: the agent exits with the apply's status */
		snprintf(msg, sizeof(msg), "STATUS=apply of %s failed: %s", st->file, err);
	else /* the apply changed nothing: ready again, with the old policy */
		snprintf(msg, sizeof(msg),
			 "READY=1\nSTATUS=reload of %s failed: %s; still enforcing generation "
			 "%llu sha256 %s",
			 st->file, err, (unsigned long long)st->generation, st->sha256);
	notify_send(msg);
}

uint64_t pg_notify_watchdog_due(void)
{
	return nt.on && nt.wd_ms ? nt.wd_next : UINT64_MAX;
}

void pg_notify_watchdog(uint64_t now_ms)
{
	if (!nt.on || !nt.wd_ms || now_ms < nt.wd_next)
		return;
	notify_send("WATCHDOG=1");
	nt.wd_next = now_ms + nt.wd_ms;
}

void pg_notify_stopping(void)
{
	notify_send("STOPPING=1");
}

uint64_t pg_reload_clock_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* ---------------------------------------------------------------- journal */
