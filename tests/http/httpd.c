// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * httpd.c - test driver of loader/http.c: pg_http in a poll loop like the
 * agent's, with fake ops that tests/http/test_http.py sets through stdin.
 *
 *   httpd LISTEN [CONNS PER_IP TIMEOUT_S MEM]
 *
 * Prints "port N" once serving, then reads one command a line from stdin
 * and answers each with "ok" (or "error: ..."):
 *   alive 0|1 [TEXT]      what /healthz says
 *   ready 0|1 [TEXT]      what /readyz says
 *   metrics ok|big N|fail  /metrics: the fake agent text, with N more
 *                          series, or -EIO
 *   busy MS               the loop stalls MS milliseconds (an apply)
 * End of stdin: stops the server and exits 0, so that the test's death
 * ends the driver and ASan sees the whole teardown. Exit 2: bad arguments
 * or the server did not start (the message on stderr).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

struct fake {
	bool alive, ready;
	char alive_msg[512], ready_msg[512];
	bool metrics_fail;
	unsigned long big;
};

static void copy_msg(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

static bool fake_healthz(void *ud, char *msg, size_t len)
{
	struct fake *f = ud;

	copy_msg(msg, len, f->alive_msg);
	return f->alive;
}

static bool fake_readyz(void *ud, char *msg, size_t len)
{
	struct fake *f = ud;

	copy_msg(msg, len, f->ready_msg);
	return f->ready;
}

/* Families shaped like the agent's, label values that need escaping included. */
static int fake_metrics(void *ud, FILE *out)
{
	struct fake *f = ud;
	unsigned long i;

	if (f->metrics_fail)
		return -EIO;
	fputs("# HELP portgate_enforcing 1 if all four programs are attached and a policy is "
	      "pinned.\n# TYPE portgate_enforcing gauge\nportgate_enforcing 1\n",
	      out);
	fputs("# HELP portgate_agent_reloads_total Applies by the agent after its first, by "
	      "result.\n# TYPE portgate_agent_reloads_total counter\n"
	      "portgate_agent_reloads_total{result=\"ok\"} 3\n"
	      "portgate_agent_reloads_total{result=\"failed\"} 1\n",
	      out);
	fputs("# HELP portgate_rule_hits_total Binds decided by each rule.\n"
	      "# TYPE portgate_rule_hits_total counter\n"
	      "portgate_rule_hits_total{selector=\"/a\\\\b \\\"q\\\" \\n\"} 7\n",
	      out);
	for (i = 0; i < f->big; i++)
		fprintf(out, "portgate_rule_hits_total{selector=\"/sys.slice/unit-%lu\"} %lu\n", i,
			i);
	return ferror(out) ? -EIO : 0;
}

static const struct pg_http_ops fake_ops = {
	.healthz = fake_healthz,
	.readyz = fake_readyz,
	.metrics = fake_metrics,
};

static unsigned long num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "httpd: invalid %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* "alive 0 some text": the flag and the text after it. */
static int set_probe(const char *arg, bool *flag, char *msg, size_t len)
{
	if ((arg[0] != '0' && arg[0] != '1') || (arg[1] && arg[1] != ' '))
		return -EINVAL;
	*flag = arg[0] == '1';
	copy_msg(msg, len, arg[1] ? arg + 2 : "");
	return 0;
}

static int command(struct fake *f, char *line)
{
	line[strcspn(line, "\n")] = '\0';
	if (!strncmp(line, "alive ", 6))
		return set_probe(line + 6, &f->alive, f->alive_msg, sizeof(f->alive_msg));
	if (!strncmp(line, "ready ", 6))
		return set_probe(line + 6, &f->ready, f->ready_msg, sizeof(f->ready_msg));
	if (!strcmp(line, "metrics ok") || !strcmp(line, "metrics fail")) {
		f->metrics_fail = !strcmp(line, "metrics fail");
		f->big = 0;
		return 0;
	}
	if (!strncmp(line, "metrics big ", 12)) {
		f->metrics_fail = false;
		f->big = num(line + 12, "series count");
		return 0;
	}
	if (!strncmp(line, "busy ", 5)) {
		sleep_ms(num(line + 5, "milliseconds"));
		return 0;
	}
	return -EINVAL;
}

/* The agent's loop in small: stdin stands for its other descriptors. */
static int serve(struct pg_http *h, struct fake *f)
{
	char line[512];

	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { pg_http_fd(h), POLLIN, 0 } };

		if (poll(p, 2, pg_http_timeout(h)) < 0 && errno != EINTR) {
			perror("httpd: poll");
			return 1;
		}
		if (p[0].revents) {
			if (!fgets(line, sizeof(line), stdin))
				return 0;
			if (command(f, line))
				printf("error: bad command: %s\n", line);
			else
				printf("ok\n");
			fflush(stdout);
		}
		if (pg_http_run(h)) {
			fprintf(stderr, "httpd: pg_http_run failed\n");
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	struct fake f = { .alive = true, .ready = true };
	struct pg_http_limits lim = { 0 };
	struct pg_http *h = NULL;
	char err[256];
	int ret;

	if (argc != 2 && argc != 6) {
		fprintf(stderr, "usage: httpd LISTEN [CONNS PER_IP TIMEOUT_S MEM]\n");
		return 2;
	}
	if (argc == 6) {
		lim.conns = (unsigned int)num(argv[2], "connection limit");
		lim.per_ip = (unsigned int)num(argv[3], "per-IP limit");
		lim.timeout_s = (unsigned int)num(argv[4], "timeout");
		lim.mem = num(argv[5], "memory limit");
	}
	/* stdin is read line by line with fgets: no buffering past a line matters */
	setvbuf(stdin, NULL, _IONBF, 0);
	ret = pg_http_start(&h, argv[1], &fake_ops, &f, &lim, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "httpd: %s\n", err);
		return 2;
	}
	printf("port %u\n", pg_http_port(h));
	fflush(stdout);
	ret = serve(h, &f);
	pg_http_stop(h);
	return ret;
}
