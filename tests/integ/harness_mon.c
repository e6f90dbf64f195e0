// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* harness_mon.c - portgate monitor in the background (harness_mon.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "harness_mon.h"
#include "pg_abi.h"

static pid_t started[16]; /* monitors not waited for yet */

static int ctl_read(struct hx *h, struct pg_ctl *ctl)
{
	char path[2048];
	__u32 zero = 0;
	int fd, err;

	memset(ctl, 0, sizeof(*ctl));
	snprintf(path, sizeof(path), "%s/pg_ctl", h->pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	err = bpf_map_lookup_elem(fd, &zero, ctl);
	close(fd);
	return err;
}

uint32_t hx_evmask(struct hx *h)
{
	struct pg_ctl ctl;

	return ctl_read(h, &ctl) ? 0 : ctl.evmask;
}

/* Has pid subscribed: a slot owned by it, with its wishes in evmask? */
static bool subscribed(struct hx *h, pid_t pid)
{
	struct pg_ctl ctl;
	int s;

	if (ctl_read(h, &ctl))
		return false;
	for (s = 0; s < PG_EV_SLOTS; s++)
		if (ctl.ev_pid[s] == (__u32)pid && ((ctl.evmask >> (8 * s)) & 0xff))
			return true;
	return false;
}

static void forget(pid_t pid)
{
	size_t k;

	for (k = 0; k < sizeof(started) / sizeof(started[0]); k++)
		if (started[k] == pid)
			started[k] = 0;
}

int hx_mon_start(struct hx *h, struct hx_mon *m, ...)
{
	char *argv[32];
	int o[2], e[2], i;
	va_list ap;
	size_t k;

	va_start(ap, m);
	hx_argv(h, argv, 32, "monitor", ap);
	va_end(ap);
	if (pipe(o) || pipe(e)) {
		perror("pipe");
		return -1;
	}
	m->pid = fork();
	if (m->pid < 0) {
		perror("fork");
		return -1;
	}
	if (m->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		hx_exec(h, argv);
	}
	for (k = 0; k < sizeof(started) / sizeof(started[0]) && started[k] > 0; k++)
		;
	if (k < sizeof(started) / sizeof(started[0]))
		started[k] = m->pid;
	close(o[1]);
	close(e[1]);
	m->out = o[0];
	m->err = e[0];
	/* no time limit on the test, only a bound against hanging forever */
	for (i = 0; i < 6000 && !subscribed(h, m->pid); i++)
		usleep(10000);
	if (subscribed(h, m->pid))
		return 0;
	fprintf(stderr, "monitor %d did not subscribe within a minute\n", (int)m->pid);
	kill(m->pid, SIGKILL);
	waitpid(m->pid, NULL, 0);
	forget(m->pid);
	close(m->out);
	close(m->err);
	return -1;
}

/* Read everything written to fd until EOF; NULL when out of memory. */
static char *slurp(int fd)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	while (buf && (r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += (size_t)r;
		if (n + 1 == cap) {
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[n] = 0;
	return buf;
}

int hx_mon_wait(struct hx_mon *m, char **out, char **err)
{
	int st;

	*out = slurp(m->out);
	*err = slurp(m->err);
	close(m->out);
	close(m->err);
	if (waitpid(m->pid, &st, 0) != m->pid)
		return -1;
	forget(m->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void hx_mon_reap(void)
{
	size_t i;

	for (i = 0; i < sizeof(started) / sizeof(started[0]); i++)
		if (started[i] > 0) {
			kill(started[i], SIGKILL);
			waitpid(started[i], NULL, 0);
			started[i] = 0;
		}
}
