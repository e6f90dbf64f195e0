/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * harness.h - integration tests against the real kernel.
 *
 * Safety, on every exit path:
 *  - hx_init() moves the test process into private mount and network
 *    namespaces: the bpffs it mounts, the tmpfs on /run (where portgate
 *    run keeps its state file) and every sysctl it changes vanish with it
 *    and never touch the host's.
 *  - each test gets its own cgroup under a unique directory of the
 *    cgroup2 root, and portgate attaches there (--attach), never at the
 *    root; hx_teardown() stops portgate, ends the processes it started (by
 *    pid) and removes the cgroups, which detaches whatever is left.
 */
#ifndef PORTGATE_HARNESS_H
#define PORTGATE_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NOBODY 65534

struct hx {
	char cg2[1024];	      /* cgroup2 mount point */
	char base[64];	      /* this run's cgroup, from the root: /portgate-test.PID */
	char cg[512];	      /* this test's cgroup, from the root: BASE/NAME */
	char tmp[256];	      /* scratch directory for policies */
	char bpffs[512];      /* private bpffs mount */
	char pin[1024];	      /* --pin-dir for this test */
	const char *portgate; /* binary under test ($PORTGATE) */
	char home[1024];      /* the runner's own cgroup, from the root */
	char out[65536];      /* output of the last hx_run() */
	int nt;		      /* tests set up so far */
};

/* Once per test binary: namespaces, bpffs, base cgroup. 0 or -1 (printed). */
int hx_init(struct hx *h);
/* Once at the end: remove the base cgroup and scratch files. */
void hx_fini(struct hx *h);

/*
 * Per test: a fresh cgroup BASE/NAME, pin dir and network namespace. The
 * runner itself moves into BASE/NAME/runner for the test, so every process
 * of the test's network namespace sits under the attach point (sysctl mode
 * refuses otherwise), and back home in hx_teardown().
 */
int hx_setup(struct hx *h, const char *name);
void hx_teardown(struct hx *h);

/* Make cgroup h->cg/rel (parents too); returns 0 or -errno. */
int hx_mkcg(struct hx *h, const char *rel);
/* Remove cgroup h->cg/rel (must be empty). */
int hx_rmcg(struct hx *h, const char *rel);
/* "BASE/NAME/rel" (or "BASE/NAME" for rel NULL/""), from the cgroup2 root. */
const char *hx_path(struct hx *h, const char *rel);
/* Kernel id of h->cg/rel. */
unsigned long long hx_cgid(struct hx *h, const char *rel);

/* Write a policy; every "@" in text becomes h->cg. Returns the file path. */
const char *hx_policy(struct hx *h, const char *name, const char *text);

/*
 * Run portgate with the arguments (NULL-terminated), "--pin-dir" added
 * for commands that take it; output (stdout+stderr) in h->out. Returns the
 * exit status, or -1 if it did not exit normally. With HX_WRAP set in the
 * environment (e.g. "valgrind --error-exitcode=99"), portgate runs under it.
 */
int hx_run(struct hx *h, const char *cmd, ...);
/* The same with argv built (hx_argv()); pre, if not NULL, runs in the child
 * before the exec (nonzero: the child exits 126). */
int hx_run_argv(struct hx *h, char *const argv[], int (*pre)(void *arg), void *arg);
/* The same, with "--attach h->cg" added (apply). */
int hx_apply(struct hx *h, const char *policy_text);

/* A bind attempt, made by a child process. */
struct hx_bind {
	const char *cg;	     /* cgroup (relative to h->cg) the socket is made in */
	const char *move_to; /* then move there before bind (NULL: stay) */
	int family;	     /* AF_INET, AF_INET6 */
	int type;	     /* SOCK_STREAM, SOCK_DGRAM */
	int proto;	     /* 0, IPPROTO_MPTCP, IPPROTO_UDPLITE, IPPROTO_SCTP */
	const char *addr;    /* NULL: the wildcard */
	int port;
	uid_t uid;     /* 0 keeps root's capabilities; others drop them */
	bool bind_cap; /* uid (not 0) keeps CAP_NET_BIND_SERVICE alone */
	bool unspec;   /* AF_INET socket, sockaddr family AF_UNSPEC */
	bool dual;     /* AF_INET6 with IPV6_V6ONLY off */
	bool freebind; /* bind addresses not configured locally */
};

/* 0 when bind() succeeded, else its errno; -1 when the child failed to set up. */
int hx_bind(struct hx *h, const struct hx_bind *b);
/* Create a socket only (SCTP checks); 0 or errno. */
int hx_socket(struct hx *h, const char *cg, int family, int type, int proto, uid_t uid);

/* Write a sysctl as root from inside cgroup cg (relative); 0 or errno. */
int hx_sysctl_write(struct hx *h, const char *cg, const char *name, const char *value);
/* Read /proc/sys/NAME in the test's netns as an int. */
long hx_sysctl_read(const char *name);

/* Number of programs of an attach type listed on a cgroup (effective or not). */
int hx_prog_count(struct hx *h, const char *rel, int attach_type, bool effective);

/* A process that sleeps in the cgroup at path (from the root) until
 * hx_kill(pid); -1 on failure. */
pid_t hx_spawn_in(struct hx *h, const char *path);
/* The same, in a network namespace of its own when own_netns. */
pid_t hx_spawn(struct hx *h, const char *path, bool own_netns);
/* Read /proc/sys/NAME in the network namespace of pid. */
long hx_sysctl_read_in(pid_t pid, const char *name);
void hx_kill(pid_t pid);

/* "OK", "EPERM", "EACCES", ... for an errno (or 0, or -1: setup failed). */
const char *hx_errname(int e);

/* argv for portgate CMD ARGS... (NULL-terminated in ap), --pin-dir added as
 * hx_run() does; returns argc. */
int hx_argv(struct hx *h, char **argv, int max, const char *cmd, va_list ap);
/* In a child: exec portgate with argv, under HX_WRAP when set. */
void hx_exec(struct hx *h, char *const argv[]) __attribute__((noreturn));

/* Does h->out contain s? */
bool hx_out_has(struct hx *h, const char *s);

/*
 * cmocka helpers for test files that keep their harness in a static
 * "struct hx H": assert a bind's errno printing both, apply or fail.
 */
#define EXPECT_BIND(want, ...)                                                                     \
	do {                                                                                       \
		struct hx_bind b_ = { __VA_ARGS__ };                                               \
		int got_;                                                                          \
		if (!b_.family)                                                                    \
			b_.family = AF_INET;                                                       \
		if (!b_.type)                                                                      \
			b_.type = SOCK_STREAM;                                                     \
		got_ = hx_bind(&H, &b_);                                                           \
		if (got_ != (want))                                                                \
			fail_msg("%s:%d: bind(%s) cg=%s port %d uid %u: got %s, want %s",          \
				 __FILE__, __LINE__, #__VA_ARGS__, b_.cg ? b_.cg : "(test)",       \
				 b_.port, b_.uid, hx_errname(got_), hx_errname(want));             \
	} while (0)

#define APPLY_OK(text)                                                                             \
	do {                                                                                       \
		int rc_ = hx_apply(&H, text);                                                      \
		if (rc_ != 0)                                                                      \
			fail_msg("apply failed with %d:\n%s", rc_, H.out);                         \
	} while (0)

#ifdef cmocka_unit_test
/* HX_ONLY / HX_SKIP=pattern: run only, or leave out, the matching tests
 * (cmocka's filters, * and ? globs); test-kernels runs subsets so. Left
 * out tests are not run, not skipped. */
static inline void hx_filters(void)
{
	if (getenv("HX_ONLY"))
		cmocka_set_test_filter(getenv("HX_ONLY"));
	if (getenv("HX_SKIP"))
		cmocka_set_skip_filter(getenv("HX_SKIP"));
}
#endif

#endif
