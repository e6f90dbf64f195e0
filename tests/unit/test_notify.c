// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_notify.c - loader/notify.c: the sd_notify(3) messages of each apply
 * outcome and of the watchdog, read from a socket standing in for
 * systemd's; nothing sent without NOTIFY_SOCKET; journald detection and
 * priority prefixes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "log.h"
#include "notify.h"

struct fixture {
	int fd;
	char path[108];
};

/* A datagram socket where systemd's would be; NOTIFY_SOCKET names it. */
static int setup(void **state)
{
	static struct fixture f;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f.path, sizeof(f.path), "/tmp/pg-test-notify.%d", (int)getpid());
	unlink(f.path);
	f.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f.fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.path);
	if (bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	setenv("NOTIFY_SOCKET", f.path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	unlink(f->path);
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

/* The next message, "" when none is waiting. */
static const char *next_msg(struct fixture *f)
{
	static char buf[8192];
	ssize_t n = recv(f->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void state_of(struct pg_agent_state *st, bool ok)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->file, sizeof(st->file), "/etc/portgate/portgate.conf");
	snprintf(st->sha256, sizeof(st->sha256), "%064d", 7);
	st->generation = 7;
	st->last_attempt_ok = ok;
	if (!ok)
		snprintf(st->last_error, sizeof(st->last_error),
			 "error: portgate.conf:2:19: invalid port 'https'\nerror: second line");
}

static void test_first_apply_ok(void **state)
{
	struct fixture *f = *state;
	struct pg_agent_state st;

	pg_notify_init();
	pg_notify_apply_begin(true);
	assert_string_equal(next_msg(f), ""); /* no RELOADING before the first */
	state_of(&st, true);
	pg_notify_apply_end(true, &st);
	assert_string_equal(next_msg(f),
			    "READY=1\nSTATUS=enforcing /etc/portgate/portgate.conf: "
			    "generation 7 sha256 "
			    "0000000000000000000000000000000000000000000000000000000000000007");
}

static void test_first_apply_failed(void **state)
{
	struct fixture *f = *state;
	struct pg_agent_state st;

	pg_notify_init();
	state_of(&st, false);
	pg_notify_apply_end(true, &st);
	/* never READY=1: the agent exits, and the start fails */
	assert_string_equal(next_msg(f), "STATUS=apply of /etc/portgate/portgate.conf failed: "
					 "error: portgate.conf:2:19: invalid port 'https'");
}

static void test_reload_failed(void **state)
{
	struct fixture *f = *state;
	struct pg_agent_state st;
	const char *m;

	pg_notify_init();
	pg_notify_apply_begin(false);
	m = next_msg(f);
	assert_true(!strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27));
	assert_true(strlen(m) > 27 && strspn(m + 27, "0123456789") == strlen(m + 27));
	state_of(&st, false);
	pg_notify_apply_end(false, &st);
	assert_string_equal(
	    next_msg(f), "READY=1\nSTATUS=reload of /etc/portgate/portgate.conf failed: error: "
			 "portgate.conf:2:19: invalid port 'https'; still enforcing generation 7 "
			 "sha256 0000000000000000000000000000000000000000000000000000000000000007");
}

static void test_watchdog(void **state)
{
	struct fixture *f = *state;
	char pid[32];
	uint64_t due;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_USEC", "4000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	pg_notify_init();
	due = pg_notify_watchdog_due();
	assert_true(due != UINT64_MAX);
	pg_notify_watchdog(due);
	assert_string_equal(next_msg(f), "WATCHDOG=1");
	assert_true(pg_notify_watchdog_due() == due + 2000); /* half of WatchdogSec= */
	pg_notify_watchdog(due + 1999);
	assert_string_equal(next_msg(f), "");
	pg_notify_watchdog(due + 2000);
	assert_string_equal(next_msg(f), "WATCHDOG=1");

	/* another process's watchdog (WATCHDOG_PID not us): off */
	setenv("WATCHDOG_PID", "1", 1);
	pg_notify_init();
	assert_true(pg_notify_watchdog_due() == UINT64_MAX);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void test_silent_without_socket(void **state)
{
	struct fixture *f = *state;
	struct pg_agent_state st;

	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "4000000", 1);
	pg_notify_init();
	state_of(&st, true);
	pg_notify_apply_begin(false);
	pg_notify_apply_end(false, &st);
	pg_notify_watchdog(UINT64_MAX - 1);
	pg_notify_stopping();
	assert_true(pg_notify_watchdog_due() == UINT64_MAX);
	assert_string_equal(next_msg(f), "");
	unsetenv("WATCHDOG_USEC");
	setenv("NOTIFY_SOCKET", f->path, 1);
}

static void test_journal_stderr(void **state)
{
	struct stat sb;
	char v[64];

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
	unsetenv("JOURNAL_STREAM");
	assert_false(pg_journal_stderr());
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)sb.st_dev,
		 (unsigned long long)sb.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(pg_journal_stderr());
	/* inherited from a parent whose stderr was the journal: not ours */
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)sb.st_dev,
		 (unsigned long long)sb.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	assert_false(pg_journal_stderr());
	snprintf(v, sizeof(v), "%llu:%llux", (unsigned long long)sb.st_dev,
		 (unsigned long long)sb.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_false(pg_journal_stderr());
	setenv("JOURNAL_STREAM", "", 1);
	assert_false(pg_journal_stderr());
	unsetenv("JOURNAL_STREAM");
}

static void test_log_priority(void **state)
{
	(void)state;
	assert_int_equal(pg_log_priority(PG_LOG_ERROR), 3);
	assert_int_equal(pg_log_priority(PG_LOG_WARNING), 4);
	assert_int_equal(pg_log_priority(PG_LOG_NOTICE), 5);
	assert_int_equal(pg_log_priority(PG_LOG_INFO), 6);
	assert_int_equal(pg_log_priority(PG_LOG_DEBUG), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_apply_ok),
		cmocka_unit_test(test_first_apply_failed),
		cmocka_unit_test(test_reload_failed),
		cmocka_unit_test(test_watchdog),
		cmocka_unit_test(test_silent_without_socket),
		cmocka_unit_test(test_journal_stderr),
		cmocka_unit_test(test_log_priority),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
