// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run_http.c - the agent's HTTP endpoint (`run --listen ADDR:PORT`):
 * /healthz, /readyz and /metrics answered from the agent's own state, on the
 * agent's thread (http.h: libmicrohttpd without a thread of its own), so
 * nothing here needs a lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "run.h"
#include "util.h"

/* Answered from inside the loop: an answer at all says the loop turns. */
static bool healthz(void *ud, char *msg, size_t len)
{
	struct pg_agent *a = ud;

	snprintf(msg, len, "ok: the agent's loop turns (pid %lld)", (long long)a->st.pid);
	return true;
}

/* The first line of text, into out. */
static void first_line(const char *text, char *out, size_t len)
{
	size_t n = strcspn(text, "\n");

	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), text);
}

/* Ready: the last apply succeeded and the pinned policy is the one it put in force. */
static bool readyz(void *ud, char *msg, size_t len)
{
	struct pg_agent *a = ud;
	char hash[65], err1[512];
	uint64_t gen;
	int err;

	if (!a->applied) {
		snprintf(msg, len, "not ready: the first apply of %s has not succeeded", a->file);
		return false;
	}
	if (!a->st.last_attempt_ok) {
		first_line(a->st.last_error, err1, sizeof(err1));
		snprintf(msg, len,
			 "not ready: the last apply of %s failed (%s); generation %llu stays "
			 "enforced",
			 a->file, err1, (unsigned long long)a->st.generation);
		return false;
	}
	err = pg_status_in_force(a->o->pin_dir, &gen, hash);
	if (err) {
		snprintf(msg, len, "not ready: cannot read the policy in force in %s: %s",
			 a->o->pin_dir, err == -ENOENT ? "none is installed" : strerror(-err));
		return false;
	}
	if (gen != a->st.generation || strcmp(hash, a->st.sha256)) {
		snprintf(
		    msg, len,
		    "not ready: %s holds generation %llu sha256 %.12s, not the generation %llu "
		    "sha256 %.12s this agent applied",
		    a->o->pin_dir, (unsigned long long)gen, hash,
		    (unsigned long long)a->st.generation, a->st.sha256);
		return false;
	}
	snprintf(msg, len, "ready: generation %llu sha256 %.12s in force", (unsigned long long)gen,
		 hash);
	return true;
}

static int metrics(void *ud, FILE *out)
{
	struct pg_agent *a = ud;

	return pg_status_prometheus(out, a->o->pin_dir);
}

static const struct pg_http_ops ops = { healthz, readyz, metrics };

static int on_http(struct pg_agent *a, int fd, short revents, void *ud)
{
	(void)fd;
	(void)revents;
	(void)ud;
	pg_agent_http_turn(a);
	return 0;
}

int pg_agent_http_start(struct pg_agent *a)
{
	const struct pg_http_limits lim = { PG_HTTP_DEF_CONNS, PG_HTTP_DEF_PER_IP,
					    PG_HTTP_DEF_TIMEOUT, PG_HTTP_DEF_MEM };
	char why[256];
	int err;

	if (!a->listen)
		return 0;
	err = pg_http_start(&a->http, a->listen, &ops, a, &lim, why, sizeof(why));
	if (err) {
		pg_err("cannot serve HTTP on %s: %s", a->listen, why);
		return err;
	}
	if ((err = pg_agent_add_fd(a, pg_http_fd(a->http), POLLIN, on_http, NULL))) {
		pg_err("cannot add the HTTP endpoint to the loop: %s", strerror(-err));
		return err;
	}
	pg_info("serving /healthz, /readyz and /metrics on %s", a->listen);
	return 0;
}

uint64_t pg_agent_http_due(const struct pg_agent *a, uint64_t now)
{
	int t = a->http ? pg_http_timeout(a->http) : -1;

	return t < 0 ? UINT64_MAX : now + (uint64_t)t;
}

void pg_agent_http_turn(struct pg_agent *a)
{
	int err;

	if (a->http && (err = pg_http_run(a->http)))
		pg_warn("the HTTP endpoint on %s: %s", a->listen, strerror(-err));
}

void pg_agent_http_stop(struct pg_agent *a)
{
	if (!a->http)
		return;
	pg_agent_del_fd(a, pg_http_fd(a->http));
	pg_http_stop(a->http);
	a->http = NULL;
}
