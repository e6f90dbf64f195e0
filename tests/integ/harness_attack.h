/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * harness_attack.h - helpers for test_attack.c: running portgate and
 * arbitrary code as an unprivileged user, user namespaces, a minimal
 * raw-syscall io_uring (no liburing) for IORING_OP_BIND, and removing
 * cgroup trees deeper than PATH_MAX.
 *
 * Every child process made here is reaped before the call returns.
 */
#ifndef PORTGATE_HARNESS_ATTACK_H
#define PORTGATE_HARNESS_ATTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "harness.h"

/*
 * Run portgate as uid/gid (supplementary groups cleared, so no
 * capabilities), "--pin-dir h->pin" added as hx_run() does; output in
 * h->out. Returns the exit status, or -1 if it did not exit normally.
 */
int hxa_run_as(struct hx *h, uid_t uid, const char *cmd, ...);

/*
 * Fork a child that joins the cgroup at path (from the cgroup2 root; NULL:
 * stay where the runner is), drops to uid (0: stays root; otherwise no
 * groups, no capabilities, and dumpable again so that it may write its
 * own /proc/self/uid_map) and runs fn(arg, shared). shared is len bytes of
 * memory shared with the parent (hxa_shared()), for inputs and results;
 * it is passed as it is, not cleared. Returns fn's return value (0..254),
 * 255 when the child could not be set up, -1 otherwise.
 */
int hxa_child(struct hx *h, const char *path, uid_t uid, int (*fn)(void *arg, void *shared),
	      void *arg, void *shared, size_t len);

/* Zeroed shared anonymous memory for hxa_child(); hxa_shared_free() it. */
void *hxa_shared(size_t len);
void hxa_shared_free(void *p, size_t len);

/*
 * In the calling (unprivileged) process: a new user namespace and network
 * namespace, uid and gid 0 inside mapped to the caller's ids outside.
 * Returns 0, or -errno with *stage naming the step that failed.
 */
int hxa_enter_userns(const char **stage);

/* Write a string to /proc/sys/NAME of the caller's netns: 0 or errno. */
int hxa_sysctl_put(const char *name, const char *value);
/* Read /proc/sys/NAME into buf (newline stripped): 0 or errno. */
int hxa_sysctl_get(const char *name, char *buf, size_t len);
/* Bring lo up in the caller's netns: 0 or errno. */
int hxa_lo_up(void);

/* Port that listen() without bind() gets on a new socket (autobind); -errno on error. */
int hxa_autobind_listen(int family);
/* Port that connect() of an unbound UDP socket to loopback gets; -errno on error. */
int hxa_autobind_udp(int family);
/* bind() of a new socket to the wildcard address and port: 0 or errno. */
int hxa_bind_port(int family, int type, int proto, int port);

/* io_uring submission modes */
enum hxa_uring_mode {
	HXA_URING_INLINE, /* issued from io_uring_enter() in the caller */
	HXA_URING_ASYNC,  /* IOSQE_ASYNC: issued by an io-wq worker thread */
	HXA_URING_SQPOLL, /* IORING_SETUP_SQPOLL: submitted by the SQ thread */
};

/*
 * Does this kernel support IORING_OP_BIND (IORING_REGISTER_PROBE)? 1 yes,
 * 0 no (an older kernel), -errno when io_uring_setup() fails.
 */
int hxa_uring_has_bind(void);

/*
 * IORING_OP_BIND of socket fd s to sa. Returns 0 with the completion's
 * res in *res (0 or -errno, as bind() would report), or -errno when the
 * ring could not be set up or the request could not be submitted.
 */
int hxa_uring_bind(int s, const struct sockaddr *sa, socklen_t len, enum hxa_uring_mode mode,
		   int *res);

/*
 * In the calling process: make a chain of depth directories, each named
 * with namelen characters, under dir (a full path), one mkdirat() at a
 * time so that the chain may grow past PATH_MAX. 0 or errno.
 */
int hxa_mkdir_chain(const char *dir, int depth, int namelen);

/* Remove the directory tree at path (full path), deepest first, through
 * directory fds: works past PATH_MAX. 0 or errno of the first failure. */
int hxa_rm_tree(const char *path);

#endif
