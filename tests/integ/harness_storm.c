// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * harness_storm.c - see harness_storm.h. Everything a test forks here is
 * tracked by pid and ended by pid; nothing is ever killed by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "harness_storm.h"

/* ------------------------------------------------------------ processes */

#define HS_MAX_TRACKED 64
static pid_t tracked[HS_MAX_TRACKED];

void hs_track(pid_t pid)
{
	int i;

	for (i = 0; i < HS_MAX_TRACKED; i++)
		if (!tracked[i]) {
			tracked[i] = pid;
			return;
		}
	/* Full: should never happen; end it now rather than lose it. */
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void hs_untrack(pid_t pid)
{
	int i;

	for (i = 0; i < HS_MAX_TRACKED; i++)
		if (tracked[i] == pid)
			tracked[i] = 0;
}

void hs_reap_all(void)
{
	int i;

	for (i = 0; i < HS_MAX_TRACKED; i++) {
		if (!tracked[i])
			continue;
		kill(tracked[i], SIGKILL);
		while (waitpid(tracked[i], NULL, 0) < 0 && errno == EINTR)
			;
		tracked[i] = 0;
	}
}

uint64_t hs_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int start_argv(struct hx *h, struct hs_proc *p, bool traced, char **argv)
{
	char *wrap = getenv("HX_WRAP");
	int pipefd[2], st;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->traced = traced;
	if (traced && wrap && *wrap)
		return -1;
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	p->start = hs_now_us();
	p->pid = fork();
	if (p->pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (!p->pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (traced) {
			const char *asan = getenv("ASAN_OPTIONS");
			char opts[1024];

			snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0", asan ? asan : "",
				 asan && *asan ? ":" : "");
			setenv("ASAN_OPTIONS", opts, 1);
			/* Die with the test; stop until the test has set the trace options. */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) || ptrace(PTRACE_TRACEME, 0, 0, 0) ||
			    raise(SIGSTOP))
				_exit(126);
		}
		hx_exec(h, argv);
	}
	hs_track(p->pid);
	close(pipefd[1]);
	p->fd = pipefd[0];
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	if (traced) {
		while (waitpid(p->pid, &st, 0) < 0)
			if (errno != EINTR)
				return -1;
		if (!WIFSTOPPED(st) ||
		    ptrace(PTRACE_SETOPTIONS, p->pid, 0,
			   PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC)) {
			if (WIFEXITED(st) || WIFSIGNALED(st)) {
				p->status = st;
				p->reaped = true;
				hs_untrack(p->pid);
			}
			return -1;
		}
	}
	return 0;
}

int hs_start(struct hx *h, struct hs_proc *p, const char *cmd, ...)
{
	char *argv[64];
	va_list ap;

	va_start(ap, cmd);
	hx_argv(h, argv, 64, cmd, ap);
	va_end(ap);
	return start_argv(h, p, false, argv);
}

int hs_start_traced(struct hx *h, struct hs_proc *p, const char *cmd, ...)
{
	char *argv[64];
	va_list ap;

	va_start(ap, cmd);
	hx_argv(h, argv, 64, cmd, ap);
	va_end(ap);
	return start_argv(h, p, true, argv);
}

int hs_pump(struct hs_proc *p, int timeout_us)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	char sink[4096];
	int got = 0;
	ssize_t n;

	if (p->fd < 0)
		return -1;
	if (timeout_us > 0) {
		struct timespec ts = { .tv_sec = timeout_us / 1000000,
				       .tv_nsec = (long)(timeout_us % 1000000) * 1000 };

		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			return -1;
	}
	for (;;) {
		char *dst = sink;
		size_t room = sizeof(sink);

		if (p->len < sizeof(p->out) - 1) {
			dst = p->out + p->len;
			room = sizeof(p->out) - 1 - p->len;
		}
		n = read(p->fd, dst, room);
		if (n > 0) {
			if (dst != sink) {
				p->len += (size_t)n;
				p->out[p->len] = 0;
			}
			got = 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return got;
		close(p->fd);
		p->fd = -1;
		return got ? 1 : -1;
	}
}

static void reap(struct hs_proc *p)
{
	if (p->reaped || p->pid <= 0)
		return;
	while (waitpid(p->pid, &p->status, 0) < 0)
		if (errno != EINTR) {
			p->status = -1;
			break;
		}
	p->reaped = true;
	hs_untrack(p->pid);
}

void hs_finish(struct hs_proc *p)
{
	while (p->fd >= 0)
		hs_pump(p, 100000);
	reap(p);
}

void hs_kill_drain(struct hs_proc *p)
{
	if (!p->reaped && p->pid > 0)
		kill(p->pid, SIGKILL);
	/* Reap first: a probe child of a killed apply may hold the pipe a little longer. */
	reap(p);
	while (p->fd >= 0)
		hs_pump(p, 100000);
}

int hs_exit(const struct hs_proc *p)
{
	if (!p->reaped || p->status == -1)
		return INT_MIN;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return -WTERMSIG(p->status);
	return INT_MIN;
}

/* ------------------------------------------------------------ phases */

const char *const hs_phase_names[HS_PH__NR] = {
	[HS_PH_NONE] = "(before any)", [HS_PH_PROBE] = "probe",
	[HS_PH_MODE] = "mode",	       [HS_PH_COMPILE] = "compile",
	[HS_PH_LOAD] = "load",	       [HS_PH_TRANSITIONAL] = "transitional",
	[HS_PH_INSTALL] = "install",   [HS_PH_NODES] = "nodes",
	[HS_PH_SWAP] = "swap",	       [HS_PH_PRUNE] = "prune",
	[HS_PH_ATTACH] = "attach",     [HS_PH_LOWER] = "lower",
	[HS_PH_RESTORE] = "restore",   [HS_PH_EXITED] = "(exited first)",
};

/* "portgate: apply: phase: NAME", or "portgate: apply: [  12.3 ms] phase: NAME"
 * (apply -v); the command name may be absent. */
static enum hs_phase phase_of_line(const char *l, size_t n)
{
	static const char tag[] = "portgate: ", ph[] = "phase: ";
	const char *e = l + n;
	int i;

	if (n < sizeof(tag) - 1 || memcmp(l, tag, sizeof(tag) - 1))
		return HS_PH_NONE;
	l += sizeof(tag) - 1;
	if (l < e && *l != '[' &&
	    ((size_t)(e - l) < sizeof(ph) - 1 || memcmp(l, ph, sizeof(ph) - 1))) {
		const char *c = memchr(l, ':', (size_t)(e - l));

		if (!c || c + 2 > e || c[1] != ' ')
			return HS_PH_NONE;
		l = c + 2;
	}
	if (l < e && *l == '[') {
		const char *r = memchr(l, ']', (size_t)(e - l));

		if (!r || r + 2 > e || r[1] != ' ')
			return HS_PH_NONE;
		l = r + 2;
	}
	if ((size_t)(e - l) < sizeof(ph) - 1 || memcmp(l, ph, sizeof(ph) - 1))
		return HS_PH_NONE;
	l += sizeof(ph) - 1;
	n = (size_t)(e - l);
	for (i = HS_PH_PROBE; i < HS_PH_EXITED; i++)
		if (strlen(hs_phase_names[i]) == n && !memcmp(l, hs_phase_names[i], n))
			return (enum hs_phase)i;
	return HS_PH_NONE;
}

/* Complete lines only: a line cut by the kill does not count. */
#define FOR_EACH_LINE(out, len, l, n)                                                              \
	for (const char *l = (out), *e_;                                                           \
	     l < (out) + (len) && (e_ = memchr(l, '\n', (size_t)((out) + (len)-l))); l = e_ + 1)   \
		for (size_t n = (size_t)(e_ - l), once_ = 1; once_; once_ = 0)

/* The text after the last newline: a phase line is written whole by one write(). */
static enum hs_phase trailing_phase(const char *out, size_t len)
{
	const char *nl = memrchr(out, '\n', len), *l = nl ? nl + 1 : out;

	return phase_of_line(l, (size_t)(out + len - l));
}

enum hs_phase hs_last_phase(const char *out, size_t len)
{
	enum hs_phase last = HS_PH_NONE, ph;

	FOR_EACH_LINE(out, len, l, n)
	{
		ph = phase_of_line(l, n);
		if (ph != HS_PH_NONE)
			last = ph;
	}
	ph = trailing_phase(out, len);
	return ph != HS_PH_NONE ? ph : last;
}

bool hs_saw_phase(const char *out, size_t len, enum hs_phase want)
{
	FOR_EACH_LINE(out, len, l, n)
	{
		if (phase_of_line(l, n) == want)
			return true;
	}
	return trailing_phase(out, len) == want;
}

/* "phase: NAME" written by the tracee at addr, or HS_PH_NONE. */
static enum hs_phase traced_phase(pid_t pid, uint64_t addr, uint64_t len)
{
	static const char tag[] = "phase: ";
	char buf[64];
	struct iovec local = { .iov_base = buf, .iov_len = len < sizeof(buf) ? len : sizeof(buf) };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = local.iov_len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	int i;

	if (n < (ssize_t)sizeof(tag) || memcmp(buf, tag, sizeof(tag) - 1))
		return HS_PH_NONE;
	for (i = HS_PH_PROBE; i < HS_PH_EXITED; i++)
		if ((size_t)n == sizeof(tag) - 1 + strlen(hs_phase_names[i]) &&
		    !memcmp(buf + sizeof(tag) - 1, hs_phase_names[i], strlen(hs_phase_names[i])))
			return (enum hs_phase)i;
	return HS_PH_NONE;
}

bool hs_trace_kill(struct hs_proc *p, enum hs_phase aim, long k, long nsys[HS_PH__NR])
{
	enum hs_phase cur = HS_PH_NONE;
	long after = -1, in_phase = 0;
	bool locked = false;
	int st, sig = 0, i;

	for (i = 0; i < HS_PH__NR; i++)
		nsys[i] = -1;
	nsys[HS_PH_EXITED] = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, p->pid, 0, sig))
			return false;
		sig = 0;
		while (waitpid(p->pid, &st, __WALL) < 0)
			if (errno != EINTR)
				return false;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			p->status = st;
			p->reaped = true;
			hs_untrack(p->pid);
			nsys[cur] = in_phase;
			return false;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info si;
			enum hs_phase ph;

			if (ptrace(PTRACE_GET_SYSCALL_INFO, p->pid, sizeof(si), &si) <= 0 ||
			    si.op != PTRACE_SYSCALL_INFO_ENTRY)
				continue;
			if (after >= 0 && after++ == k) {
				kill(p->pid, SIGKILL);
				return true;
			}
			locked |= si.entry.nr == SYS_flock;
			if (locked)
				nsys[HS_PH_EXITED]++;
			if (aim == HS_PH_NONE && after < 0 && locked)
				after = 0; /* the anchor: it takes the pin directory's lock */
			if (si.entry.nr == SYS_write && si.entry.args[0] == 2 &&
			    (ph = traced_phase(p->pid, si.entry.args[1], si.entry.args[2])) !=
				HS_PH_NONE) {
				nsys[cur] = in_phase;
				cur = ph;
				in_phase = 0;
				if (ph == aim)
					after = 0;
			} else {
				in_phase++;
			}
			continue;
		}
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8)))
			continue;
		sig = WSTOPSIG(st); /* a signal for it: deliver it */
	}
}

/* ------------------------------------------------------------ status */

static const char *json_after(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	return p ? p + strlen(key) : NULL;
}

static void json_str(const char *out, const char *key, char *dst, size_t len)
{
	const char *p = json_after(out, key);
	size_t n = 0;

	dst[0] = 0;
	if (!p || *p != '"')
		return;
	for (p++; *p && *p != '"' && n + 1 < len; p++)
		dst[n++] = *p;
	dst[n] = 0;
}

int hs_status(struct hx *h, struct hs_status *s)
{
	const char *p;

	memset(s, 0, sizeof(*s));
	if (hx_run(h, "status", "--json", NULL) != 0 || !strchr(h->out, '{'))
		return -1;
	s->have_state = true;
	/* the agent's section has a generation and sha256 of its own: not the kernel's */
	{
		char *agent = strstr(h->out, "\"agent\":");

		if (agent)
			*agent = 0;
	}
	p = json_after(h->out, "\"enforcing\":");
	s->enforcing = p && !strncmp(p, "true", 4);
	p = json_after(h->out, "\"transitional\":");
	s->transitional = p && !strncmp(p, "true", 4);
	p = json_after(h->out, "\"generation\":");
	if (p) {
		s->have_policy = true;
		s->gen = strtoull(p, NULL, 10);
	}
	json_str(h->out, "\"sha256\":", s->sha256, sizeof(s->sha256));
	json_str(h->out, "\"mode\":", s->mode, sizeof(s->mode));
	return 0;
}

int hs_policy_hash(struct hx *h, const char *file, char out[65])
{
	if (hx_run(h, "check", file, "--json", NULL) != 0)
		return -1;
	json_str(h->out, "\"sha256\":", out, 65);
	return strlen(out) == 64 ? 0 : -1;
}

/* ------------------------------------------------------------ binders */

struct hs_storm *hs_storm_new(void)
{
	void *m = mmap(NULL, sizeof(struct hs_storm), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	memset(m, 0, sizeof(struct hs_storm));
	return m;
}

void hs_storm_free(struct hs_storm *s)
{
	if (s)
		munmap(s, sizeof(*s));
}

enum hs_outcome hs_outcome_of(int err)
{
	switch (err) {
	case 0:
		return HS_O_OK;
	case EPERM:
		return HS_O_EPERM;
	case EACCES:
		return HS_O_EACCES;
	case EADDRINUSE:
		return HS_O_INUSE;
	default:
		return HS_O_OTHER;
	}
}

const char *hs_outcome_name(enum hs_outcome o)
{
	static const char *const names[HS_NOUT] = { "granted", "EPERM", "EACCES", "EADDRINUSE",
						    "other" };

	return names[o];
}

bool hs_is_wrong(enum hs_class cls, enum hs_outcome o)
{
	if (o == HS_O_OTHER)
		return true; /* not a decision at all: suspicious everywhere */
	switch (cls) {
	case HS_ALWAYS:
		/* EADDRINUSE got past the permission check: counted apart, not wrong */
		return o != HS_O_OK && o != HS_O_INUSE;
	case HS_NEVER:
		/* EADDRINUSE also got past the permission check: a grant */
		return o == HS_O_OK || o == HS_O_INUSE;
	default:
		return false;
	}
}

static int join_cg(struct hx *h, const char *rel)
{
	char path[PATH_MAX], pid[32];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", h->cg2, hx_path(h, rel));
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, pid, strlen(pid)) < 0)
		err = -1;
	close(fd);
	return err;
}

static void fill_addr(int family, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	}
}

static void binder_main(struct hx *h, struct hs_storm *s, int i, const char *rel, uid_t uid,
			pid_t parent)
{
	const struct hs_binder_cfg *c = &s->cfg[i];
	struct sockaddr_storage ss[HS_MAX_PORTS];
	socklen_t len[HS_MAX_PORTS];
	int k, one = 1;

	if (join_cg(h, c->cg[0] ? c->cg : rel))
		goto fail;
	if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
		goto fail;
	/* After the uid change, which clears it: die with the test. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	for (k = 0; k < c->nports; k++)
		fill_addr(c->family, c->port[k], &ss[k], &len[k]);
	s->ready[i] = 1;
	while (!s->stop) {
		for (k = 0; k < c->nports; k++) {
			int fd = socket(c->family, c->type | SOCK_CLOEXEC, 0), err = 0;
			enum hs_outcome o;

			if (fd < 0) {
				err = errno;
			} else {
				if (c->type == SOCK_STREAM)
					setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
				if (bind(fd, (struct sockaddr *)&ss[k], len[k]))
					err = errno;
				close(fd);
			}
			o = hs_outcome_of(err);
			s->counts[i][c->cls[k]][o]++;
			if (hs_is_wrong(c->cls[k], o)) {
				int slot = __atomic_fetch_add(&s->nlog, 1, __ATOMIC_SEQ_CST);

				long during = s->applies;

				__atomic_fetch_add(&s->wrong, 1, __ATOMIC_SEQ_CST);
				__atomic_fetch_add(&s->wrong_by_apply[during & 1], 1,
						   __ATOMIC_SEQ_CST);
				if (slot < HS_MAX_WRONG)
					s->log[slot] = (struct hs_wrong){ .binder = i,
									  .port = c->port[k],
									  .cls = c->cls[k],
									  .err = err,
									  .apply = during };
			}
		}
	}
	_exit(0);
fail:
	s->setup_failed[i] = 1;
	_exit(1);
}

int hs_binders_start(struct hx *h, struct hs_storm *s, const char *rel, uid_t uid)
{
	pid_t parent = getpid();
	int i, all;

	s->stop = 0;
	for (i = 0; i < s->nbinders; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			hs_binders_stop(s);
			return -1;
		}
		if (!pid)
			binder_main(h, s, i, rel, uid, parent);
		s->pid[i] = pid;
		hs_track(pid);
	}
	/* Wait until every binder loops (or one failed to set up, or died). */
	do {
		all = 1;
		for (i = 0; i < s->nbinders; i++) {
			if (waitpid(s->pid[i], NULL, WNOHANG) == s->pid[i]) {
				/* reaped: forget the pid, it may be reused */
				hs_untrack(s->pid[i]);
				s->pid[i] = 0;
				s->setup_failed[i] = 1;
			}
			if (s->setup_failed[i]) {
				hs_binders_stop(s);
				return -1;
			}
			if (!s->ready[i])
				all = 0;
		}
		if (!all)
			usleep(1000);
	} while (!all);
	return 0;
}

void hs_binders_stop(struct hs_storm *s)
{
	int i;

	s->stop = 1;
	for (i = 0; i < s->nbinders; i++) {
		if (s->pid[i] <= 0)
			continue;
		if (s->setup_failed[i])
			kill(s->pid[i], SIGKILL); /* not reaped yet: the pid is still ours */
		while (waitpid(s->pid[i], NULL, 0) < 0 && errno == EINTR)
			;
		hs_untrack(s->pid[i]);
		s->pid[i] = 0;
	}
}

int hs_bind_many(struct hx *h, const char *rel, uid_t uid, struct hs_probe *pr, int n)
{
	int pipefd[2], i, status;
	ssize_t got;
	size_t off = 0, want = (size_t)n * sizeof(int);
	int res[64];
	pid_t pid;

	if (n > 64 || pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (!pid) {
		close(pipefd[0]);
		if (join_cg(h, rel) || (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
						setresuid(uid, uid, uid))))
			_exit(1);
		for (i = 0; i < n; i++) {
			struct sockaddr_storage ss;
			socklen_t len;
			int fd = socket(pr[i].family, pr[i].type | SOCK_CLOEXEC, 0), one = 1;

			res[i] = -1;
			if (fd < 0)
				continue;
			if (pr[i].type == SOCK_STREAM)
				setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			fill_addr(pr[i].family, pr[i].port, &ss, &len);
			res[i] = bind(fd, (struct sockaddr *)&ss, len) ? errno : 0;
			close(fd);
		}
		if (write(pipefd[1], res, want) != (ssize_t)want)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	while (off < want && ((got = read(pipefd[0], (char *)res + off, want - off)) > 0 ||
			      (got < 0 && errno == EINTR)))
		if (got > 0)
			off += (size_t)got;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (off != want || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	for (i = 0; i < n; i++)
		pr[i].err = res[i];
	return 0;
}

/* ------------------------------------------------------------ misc */

long hs_env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long x;

	if (!v || !*v)
		return def;
	x = strtol(v, &end, 10);
	return *end || x <= 0 ? def : x;
}
