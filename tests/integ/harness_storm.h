/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * harness_storm.h - helpers for test_storm.c on top of harness.h:
 * portgate run asynchronously with its output on a pipe (to kill it at a
 * chosen point), a registry of every process a test forks (so teardown
 * can end them by pid on any exit path), bind loops in forked processes
 * with their outcomes counted in shared memory, and status --json fields.
 */
#ifndef PORTGATE_HARNESS_STORM_H
#define PORTGATE_HARNESS_STORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* ------------------------------------------------------------ processes */

/* Remember a pid this test forked; hs_reap_all() ends whatever is left. */
void hs_track(pid_t pid);
void hs_untrack(pid_t pid);
/* SIGKILL and reap every tracked pid (teardown, any exit path). */
void hs_reap_all(void);

/* Monotonic microseconds. */
uint64_t hs_now_us(void);

/* portgate running in the background, stdout and stderr on one pipe. */
struct hs_proc {
	pid_t pid;
	int fd;		/* read end; -1 once EOF was seen */
	uint64_t start; /* hs_now_us() at fork */
	size_t len;
	char out[32768];
	int status; /* waitpid status once reaped */
	bool reaped;
	bool traced; /* started by hs_start_traced() */
};

/*
 * Start portgate CMD ARGS... (NULL-terminated) with "--pin-dir h->pin"
 * added, as hx_run() does (HX_WRAP honoured). 0 or -1.
 */
int hs_start(struct hx *h, struct hs_proc *p, const char *cmd, ...);
/*
 * The same, under ptrace and stopped before it runs: hs_trace_kill() drives
 * it. Leak checking is off in it (LeakSanitizer cannot run traced). -1 when
 * HX_WRAP is set: a wrapper would be traced instead.
 */
int hs_start_traced(struct hx *h, struct hs_proc *p, const char *cmd, ...);
/*
 * Read what is available, waiting up to timeout_us (0: do not wait) for
 * more. Returns 1 on new data, 0 on none, -1 at EOF.
 */
int hs_pump(struct hs_proc *p, int timeout_us);
/* SIGKILL it (if not reaped yet), read its output to EOF, reap it. */
void hs_kill_drain(struct hs_proc *p);
/* Read to EOF and reap without killing. */
void hs_finish(struct hs_proc *p);
/* Exit status once reaped: 0..255, or -SIG when killed by a signal. */
int hs_exit(const struct hs_proc *p);

/* ------------------------------------------------------------ phases */

/*
 * apply -v prints "portgate: apply: phase: NAME" at each step, in this order
 * (the line may carry a time stamp: "portgate: apply: [  12.3 ms] phase:
 * NAME"; the
 * "phase: NAME" part is written by one write()).
 */
enum hs_phase {
	HS_PH_NONE = 0, /* killed before the first phase line */
	HS_PH_PROBE,
	HS_PH_MODE,
	HS_PH_COMPILE,
	HS_PH_LOAD,
	HS_PH_TRANSITIONAL,
	HS_PH_INSTALL,
	HS_PH_NODES,
	HS_PH_SWAP,
	HS_PH_PRUNE,
	HS_PH_ATTACH,
	HS_PH_LOWER,
	HS_PH_RESTORE,
	HS_PH_EXITED, /* it finished before the kill */
	HS_PH__NR,
};
extern const char *const hs_phase_names[HS_PH__NR];
/* The last complete phase line in out[0..len), HS_PH_NONE if none. */
enum hs_phase hs_last_phase(const char *out, size_t len);
/* Is phase ph among the complete lines of out[0..len)? */
bool hs_saw_phase(const char *out, size_t len, enum hs_phase ph);

/*
 * Run a traced portgate (hs_start_traced) one system call at a time. Once
 * it has written the line of phase aim, SIGKILL it at the entry of its
 * k-th system call after that write (k from 0), before the call runs: a
 * kill point that does not depend on how fast this process reads the
 * pipe. aim HS_PH_NONE: count from its first flock() (the pin directory's
 * lock: commands without phase lines, like stop); HS_PH_EXITED: never
 * kill. nsys[ph] gets the number of system calls it entered during each
 * phase whose end it reached (from the phase line up to the next one, or
 * its exit), nsys[HS_PH_EXITED] the number from its first flock() on.
 * Returns true if it was killed, false if it exited first. Reap with
 * hs_kill_drain().
 */
bool hs_trace_kill(struct hs_proc *p, enum hs_phase aim, long k, long nsys[HS_PH__NR]);

/* ------------------------------------------------------------ status */

struct hs_status {
	bool have_state; /* status --json ran and printed an object */
	bool enforcing;
	bool have_policy; /* an image with metadata */
	bool transitional;
	unsigned long long gen;
	char sha256[65];
	char mode[16];
};
/* Run status --json and pick the fields out. 0, or -1 (h->out has why). */
int hs_status(struct hx *h, struct hs_status *s);
/* sha256 of a policy file, from check --json. 0 or -1. */
int hs_policy_hash(struct hx *h, const char *file, char out[65]);

/* ------------------------------------------------------------ binders */

enum hs_class {
	HS_ALWAYS = 0, /* granted by every policy of the storm: never refused */
	HS_NEVER,      /* refused by every policy: never granted */
	HS_EITHER,     /* granted by some: either outcome is right */
	HS_NCLASS,
};

enum hs_outcome {
	HS_O_OK = 0,
	HS_O_EPERM,
	HS_O_EACCES,
	HS_O_INUSE,
	HS_O_OTHER,
	HS_NOUT,
};

#define HS_MAX_BINDERS 8
#define HS_MAX_PORTS   4
#define HS_MAX_WRONG   32

struct hs_binder_cfg {
	char cg[64]; /* its cgroup, relative to h->cg; "": hs_binders_start's rel */
	int family;  /* AF_INET, AF_INET6 */
	int type;    /* SOCK_STREAM, SOCK_DGRAM */
	int nports;
	int port[HS_MAX_PORTS];
	enum hs_class cls[HS_MAX_PORTS];
};

struct hs_wrong {
	int binder, port, cls, err;
	long apply; /* applies finished when it happened */
};

/* Shared (MAP_SHARED) between the test and its binders. */
struct hs_storm {
	volatile int stop;
	volatile long applies; /* written by the test as applies finish */
	int nbinders;
	struct hs_binder_cfg cfg[HS_MAX_BINDERS];
	pid_t pid[HS_MAX_BINDERS];
	volatile int ready[HS_MAX_BINDERS];
	volatile int setup_failed[HS_MAX_BINDERS];
	/* counts[binder][class][outcome], each row written by its binder only */
	volatile long counts[HS_MAX_BINDERS][HS_NCLASS][HS_NOUT];
	volatile long wrong; /* wrong decisions, all binders */
	/* ... by the apply in progress: wrong_by_apply[applies & 1] */
	volatile long wrong_by_apply[2];
	volatile int nlog;
	struct hs_wrong log[HS_MAX_WRONG];
};

/* A shared hs_storm (munmap with hs_storm_free). */
struct hs_storm *hs_storm_new(void);
void hs_storm_free(struct hs_storm *s);
/*
 * Fork one binder per cfg: each joins its cgroup (cfg.cg, else rel),
 * drops to uid (no capabilities left) and binds and closes its ports in
 * a loop until s->stop. Waits until all are ready. 0 or -1 (all ended).
 */
int hs_binders_start(struct hx *h, struct hs_storm *s, const char *rel, uid_t uid);
/* Set the stop flag and reap the binders (SIGKILL if they do not end). */
void hs_binders_stop(struct hs_storm *s);
/* Does this outcome of a bind of that class count as a wrong decision? */
bool hs_is_wrong(enum hs_class cls, enum hs_outcome o);
const char *hs_outcome_name(enum hs_outcome o);
enum hs_outcome hs_outcome_of(int err);

/* One bind of a batch made by hs_bind_many(). */
struct hs_probe {
	int family; /* AF_INET, AF_INET6 */
	int type;   /* SOCK_STREAM, SOCK_DGRAM */
	int port;
	int err; /* out: 0 or the errno of bind(); -1 if the socket failed */
};

/*
 * One child joins cgroup rel, drops to uid and makes every bind of the
 * batch (each on a new socket, closed at once). 0, or -1 if the child
 * failed to set up.
 */
int hs_bind_many(struct hx *h, const char *rel, uid_t uid, struct hs_probe *pr, int n);

/* ------------------------------------------------------------ misc */

/* Environment variable as a positive long, or def. */
long hs_env_long(const char *name, long def);

#endif
