/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * run.h - the parts of the agent, `portgate run`, for its own files: run.c
 * the command (arguments, setup, applying, exit), run_loop.c the loop,
 * run_events.c the BPF event source, run_output.c the state, metrics and
 * ready files; watch.c watches the policy files.
 */
#ifndef PORTGATE_RUN_H
#define PORTGATE_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "cmd.h"
#include "watch.h"

#define PG_AGENT_MAX_FDS      16
#define PG_AGENT_MAX_KUBE_FDS 8 /* the API-server client's sockets */

struct pg_agent;
struct pg_opts;
struct pg_kube_src;
struct pollfd;

/*
 * Called from the loop when fd has revents (poll(2) bits). Return 0 to keep
 * the fd in the loop; anything else removes it (the callback has said why).
 * The loop never closes a registered fd.
 */
typedef int (*pg_agent_fd_cb)(struct pg_agent *a, int fd, short revents, void *ud);

struct fdreg {
	int fd;
	short events;
	pg_agent_fd_cb cb;
	void *ud;
};

struct pg_agent {
	char file[PATH_MAX]; /* absolute, symlinks kept: they are followed at each read */
	struct pg_opts *o;
	bool detach_on_exit;
	const char *metrics_file, *ready_file;
	uint64_t metrics_ms;
	char state_path[PATH_MAX];
	struct pg_agent_state st;

	struct fdreg fds[PG_AGENT_MAX_FDS];
	size_t nfds;
	int sfd; /* signalfd */
	struct pg_watch watch;
	const char *force;	    /* apply at the next turn, and why */
	struct pg_tree_cache trees; /* the cgroup tree of the last apply (cmd.h) */

	bool applied; /* the first apply succeeded */
	int stop_sig;
	uint64_t next_metrics;
	int metrics_err;

	const char *listen;   /* --listen ADDR:PORT, or NULL */
	struct pg_http *http; /* serving it */

	struct pg_kube_src *kube; /* the Kubernetes source, or NULL (run_kube.c) */
};

/* --- run_loop.c */

/* Monotonic milliseconds. */
uint64_t pg_now_ms(void);
/* Add fd to the loop (at most PG_AGENT_MAX_FDS in all); 0 or -errno. */
int pg_agent_add_fd(struct pg_agent *a, int fd, short events, pg_agent_fd_cb cb, void *ud);
/* Take fd out of the loop; 0 or -ENOENT. */
int pg_agent_del_fd(struct pg_agent *a, int fd);
/* Apply the policy again at the next turn of the loop, even if the files
 * are unchanged (SIGHUP does this); why is logged and must stay valid. */
/* The same when only the pods changed: that apply may compile against the
 * cgroup tree of the last one (struct pg_tree_cache), unless another
 * trigger of the same turn asks for a fresh read. */
void pg_agent_reload_pods(struct pg_agent *a, const char *why);
void pg_agent_reload(struct pg_agent *a, const char *why);
/* SIGHUP, SIGTERM and SIGINT through a signalfd, and the watch's inotify
 * fd, into the loop; 0 or -errno (said). */
int pg_agent_listen(struct pg_agent *a);
/* Until SIGTERM or SIGINT: 0, or -errno when poll(2) fails (said). */
int pg_agent_loop(struct pg_agent *a);

/* --- run_http.c: --listen */

/* Serve /healthz, /readyz, /metrics on a->listen (nothing without it); 0 or -errno (said). */
int pg_agent_http_start(struct pg_agent *a);
/* When the endpoint wants a turn of the loop at the latest (ms), or UINT64_MAX. */
uint64_t pg_agent_http_due(const struct pg_agent *a, uint64_t now);
/* Let it serve what is waiting. */
void pg_agent_http_turn(struct pg_agent *a);
void pg_agent_http_stop(struct pg_agent *a);

/* --- run.c */

/* Read the files and apply if they changed, or always when forced: an
 * exit status. */
int pg_agent_look(struct pg_agent *a, const char *why, bool forced);

/* --- run_events.c: sources beyond the files and signals, started once the
 * first apply has succeeded, so the pinned maps exist; each adds its fds
 * with pg_agent_add_fd() and may ask for an apply with pg_agent_reload(). */

/* 0, or -errno after saying why. */
int pg_agent_start_sources(struct pg_agent *a);
void pg_agent_stop_sources(void);

/* --- run_kube.c: the pods of this node, from the Kubernetes API server */

/* What `run` was told: each NULL when not given. */
struct pg_kube_args {
	const char *kubeconfig, *node, *driver, *root;
	uint64_t watch_timeout; /* seconds */
};
/*
 * Set up the source when a kubeconfig or the in-cluster configuration is
 * given (nothing otherwise): the config, the node, where pod cgroups are;
 * applies then take the pods through a->o->pods. 0 or -errno (said).
 */
int pg_agent_kube_init(struct pg_agent *a, const struct pg_kube_args *k);
/* Must applies wait (the first pod list is not in yet)? */
bool pg_agent_kube_hold(const struct pg_agent *a);
/* The client's fds (at most max) and its timeout (ms, -1: none), for poll(2). */
int pg_agent_kube_pollfds(struct pg_agent *a, struct pollfd *fds, int max);
int pg_agent_kube_timeout(struct pg_agent *a);
/* Let the client work on its fds as poll(2) left them; asks for one apply
 * (pg_agent_reload()) when the pods changed in a way that can alter the policy. */
void pg_agent_kube_perform(struct pg_agent *a, const struct pollfd *fds, int n);
void pg_agent_kube_free(struct pg_agent *a);

/* --- run_output.c: what the agent keeps current for others to read. */

void pg_agent_write_state(struct pg_agent *a);
/* With --metrics-file: rewrite it, and set when next. */
void pg_agent_write_metrics(struct pg_agent *a);
/* With --ready-file. */
int pg_agent_write_ready(struct pg_agent *a);
void pg_agent_remove_ready(struct pg_agent *a);

#endif
