/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* cmd.h - what the commands share: their options, and the entry points one
 * command calls in another (run applies and stops; apply --dry-run diffs). */
#ifndef PORTGATE_CMD_H
#define PORTGATE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pg_pods;

struct pg_opts {
	bool json;
	const char *pin_dir;
	const char *attach;
	bool quiet; /* pg_apply(): no line on stdout; res says what it did */
	/* pg_apply(): the pods pod: selectors choose from (the agent's
	 * Kubernetes source), or NULL when no source knows any */
	const struct pg_pods *pods;
	/* pg_apply(): the agent's keeping of the cgroup tree, or NULL (read it) */
	struct pg_tree_cache *trees;
};

/*
 * The cgroup tree an apply read, kept by the agent for the next. With
 * reuse set, pg_apply() compiles against it instead of reading the tree
 * again (7 ms of an apply with 250 pods on the node): right when nothing
 * but the pods changed, since the pods' cgroups are in the path table,
 * which the install finds by path whether the tree lists them or not
 * (swap.c), and a cgroup a glob may match makes the agent apply again with
 * a fresh read (run_events.c). Without reuse, the apply reads the tree and
 * leaves it here.
 */
struct pg_tree_cache {
	struct pg_cgroup *v;
	size_t n;
	bool reuse;
};

/* The commands (opt.h), each defined in its own file, listed in main.c. */
struct pg_cmd;
extern const struct pg_cmd pg_cmd_check, pg_cmd_apply, pg_cmd_status, pg_cmd_explain, pg_cmd_diff,
    pg_cmd_monitor, pg_cmd_stop, pg_cmd_run, pg_cmd_reload;

/* apply --dry-run: diff the policy in force in pin_dir with file; exit 0 same,
 * 1 changed (or failed), 3 invalid policy. */
int pg_diff_in_force(const char *file, const char *pin_dir, bool json);

/* What an apply that succeeded put in force. */
struct pg_apply_result {
	uint64_t gen;
	uint8_t sha256[32];
	size_t nrules;
	size_t nnodes;
	bool grant; /* grant mode, else sysctl */
};

/*
 * The whole of 'portgate apply FILE' after option parsing: parse, compile,
 * load or take over the pinned state, swap, attach, manage sysctls. Logs
 * diagnostics, and unless o->quiet prints one line to stdout on success. Returns an exit
 * status (PG_EXIT_*); res, if not NULL, is filled on success.
 */
int pg_apply(const char *file, const struct pg_opts *o, struct pg_apply_result *res);

/*
 * The whole of 'portgate stop' after option parsing: restore every lowered
 * threshold, then detach and unpin. Logs as stop does, and unless quiet
 * prints its outcome on stdout; 0 or -errno (said).
 */
int pg_stop(const char *pin_dir, bool quiet);

/*
 * 'portgate status --prometheus': the state of pin_dir, and of its agent,
 * in Prometheus' text exposition format. 0 or -errno (printed).
 */
int pg_status_prometheus(FILE *f, const char *pin_dir);

/* Generation and hash of the policy installed in pin_dir; 0, -ENOENT when
 * there is none, or another -errno (printed). */
int pg_status_in_force(const char *pin_dir, uint64_t *gen, char hash[65]);

#endif
