// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_events.c - portgate monitor against real binds: the event of a
 * refused bind names the right cgroup, uid, port and rule; --all adds
 * grants; a flood loses events but counts every one it loses; a killed
 * monitor's slot is taken over.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>

#include "pg_abi.h"

#include "harness.h"
#include "harness_mon.h"

static struct hx H;
static int setup(void **state)
{
	return hx_setup(&H, *state) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	hx_mon_reap();
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

/* Start portgate monitor ARGS... and wait until it has subscribed. */
#define MON_START(m, ...) assert_int_equal(hx_mon_start(&H, (m), __VA_ARGS__), 0)

/* ------------------------------------------------------------------ tests */

static void refused_bind_event(void **state)
{
	const char *pol;
	struct hx_mon m;
	char *out, *err, want[2048];

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "x"), 0);
	pol = hx_policy(&H, "p.conf", "default kernel\nallow @/web tcp/80\ndeny @/x tcp/81\n");
	if (hx_run(&H, "apply", "--attach", H.cg, pol, NULL))
		fail_msg("apply: %s", H.out);
	MON_START(&m, "-j", "--count", "1", NULL);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY); /* a grant: not shown */
	EXPECT_BIND(EPERM, .cg = "x", .port = 81, .uid = NOBODY);
	assert_int_equal(hx_mon_wait(&m, &out, &err), 0);
	print_message("monitor: %s", out);
	snprintf(want, sizeof(want), "\"cgroup\":\"%s\"", hx_path(&H, "x"));
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\"uid\":65534"));
	assert_non_null(strstr(out, "\"port\":81"));
	assert_non_null(strstr(out, "\"verdict\":\"deny\""));
	assert_non_null(strstr(out, "\"denied\":true"));
	assert_non_null(strstr(out, "\"proto\":\"tcp\""));
	assert_non_null(strstr(out, "\"family\":\"ipv4\""));
	assert_non_null(strstr(out, "\"addr\":\"0.0.0.0\""));
	snprintf(want, sizeof(want), "\"rule\":\"%s:3\"", pol);
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "\"port\":80"));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);
	free(err);

	/* --all: the grant too, as text */
	MON_START(&m, "--all", "--count", "1", NULL);
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .port = 80, .uid = NOBODY);
	assert_int_equal(hx_mon_wait(&m, &out, &err), 0);
	print_message("monitor --all: %s", out);
	assert_non_null(strstr(out, "grant tcp/80 [::] (ipv6)"));
	assert_non_null(strstr(out, hx_path(&H, "web")));
	assert_non_null(strstr(out, "uid 65534"));
	free(out);
	free(err);
	/* gone: its slot is free again */
	assert_int_equal(hx_evmask(&H), 0);
}

/* A child that binds port 81 n times as nobody in cgroup rel, refused each time. */
static void flood(const char *rel, int n)
{
	char procs[4096];
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(81) };
		FILE *f;
		int i, refused = 0;

		snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", H.cg2, hx_path(&H, rel));
		f = fopen(procs, "w");
		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
			_exit(2);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		for (i = 0; i < n; i++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);

			refused += bind(fd, (struct sockaddr *)&a, sizeof(a)) && errno == EPERM;
			close(fd);
		}
		_exit(refused == n ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* A stopped reader and 20000 refusals: the ring fills, and every event is
 * either delivered or counted as lost. */
static void flood_is_bounded_and_counted(void **state)
{
	int n = 20000, got = 0;
	unsigned long long lost = 0;
	bool said;
	struct hx_mon m;
	char *out, *err, *p;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "x"), 0);
	APPLY_OK("default kernel\ndeny @/x tcp/81\n");
	MON_START(&m, "-j", NULL);
	assert_int_equal(kill(m.pid, SIGSTOP), 0);
	flood("x", n);
	assert_int_equal(kill(m.pid, SIGCONT), 0);
	/* let it drain, then stop it: it reports what was lost on the way out */
	sleep(1);
	assert_int_equal(kill(m.pid, SIGTERM), 0);
	assert_int_equal(hx_mon_wait(&m, &out, &err), 0);
	for (p = out; (p = strstr(p, "\"port\":81")); p++)
		got++;
	for (p = out; (p = strstr(p, "\"lost\":")); p++)
		lost += strtoull(p + 7, NULL, 10);
	print_message("%d refused binds: %d events delivered, %llu lost and counted; stderr: %s", n,
		      got, lost, err);
	said = strstr(err, "lost: the ring buffer was full") != NULL;
	/* freed before asserting: a failed assert leaves the function */
	free(out);
	free(err);
	assert_true(lost > 0);			    /* the ring is bounded */
	assert_true(got > 0);			    /* and still delivers */
	assert_int_equal(got + (long long)lost, n); /* nothing unaccounted */
	assert_true(said);
}

/* Four subscribers at most; a SIGKILLed one's slot is taken over. */
static void killed_monitor_slot_reused(void **state)
{
	struct hx_mon m[4], extra;
	char *out, *err;
	int i;

	(void)state;
	APPLY_OK("default kernel\ndeny @/x tcp/81\n");
	for (i = 0; i < 4; i++)
		MON_START(&m[i], NULL);
	assert_int_equal(hx_run(&H, "monitor", NULL), 1);
	assert_true(hx_out_has(&H, "event slots"));
	assert_int_equal(kill(m[2].pid, SIGKILL), 0);
	assert_int_not_equal(hx_mon_wait(&m[2], &out, &err), 0);
	free(out);
	free(err);
	MON_START(&extra, "--count", "1", NULL);
	assert_int_equal(hx_mkcg(&H, "x"), 0);
	EXPECT_BIND(EPERM, .cg = "x", .port = 81, .uid = NOBODY);
	assert_int_equal(hx_mon_wait(&extra, &out, &err), 0);
	assert_non_null(strstr(out, "deny tcp/81"));
	free(out);
	free(err);
	for (i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		kill(m[i].pid, SIGTERM);
		assert_int_equal(hx_mon_wait(&m[i], &out, &err), 0);
		free(out);
		free(err);
	}
	assert_int_equal(hx_evmask(&H), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(refused_bind_event),
		T(flood_is_bounded_and_counted),
		T(killed_monitor_slot_reused),
	};
	int rc;

	if (hx_init(&H))
		return 1;
	hx_filters();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return rc;
}
