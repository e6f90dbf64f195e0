/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* cmd.h - the subcommands and what they share. */
#ifndef PORTGATE_CMD_H
#define PORTGATE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

struct pg_opts {
	bool json;
	const char *pin_dir;
	const char *attach;
};

int cmd_check(int argc, char **argv, struct pg_opts *o);
int cmd_apply(int argc, char **argv, struct pg_opts *o);
int cmd_status(int argc, char **argv, struct pg_opts *o);
int cmd_explain(int argc, char **argv, struct pg_opts *o);
int cmd_stop(int argc, char **argv, struct pg_opts *o);
int cmd_run(int argc, char **argv, struct pg_opts *o);
int cmd_reload(int argc, char **argv, struct pg_opts *o);
int cmd_monitor(int argc, char **argv, struct pg_opts *o);
int cmd_diff(int argc, char **argv, struct pg_opts *o);

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
 * load or take over the pinned state, swap, attach, manage sysctls. Prints
 * diagnostics to stderr and one line to stdout on success. Returns an exit
 * status (PG_EXIT_*); res, if not NULL, is filled on success.
 */
int pg_apply(const char *file, const struct pg_opts *o, struct pg_apply_result *res);

/*
 * The whole of 'portgate stop' after option parsing: restore every lowered
 * threshold, then detach and unpin. Prints as stop does; returns an exit
 * status.
 */
int pg_stop(const char *pin_dir);

/*
 * Parse and resolve a policy file from the real file system, printing its
 * diagnostics to stderr (at most PG_DIAGS_SHOWN errors and warnings, then a
 * count). Returns the policy, or NULL with *status set (3 for an invalid
 * policy, 1 when out of memory). Warnings alone do not make it fail.
 */
struct pg_policy *pg_load_policy(const char *path, int *status);

/* The file system as the policy parser reads it (struct pg_source_ops):
 * regular files only, never blocking on a FIFO or a device. */
int pg_src_read(void *ud, const char *path, char **buf, size_t *len);
int pg_src_glob(void *ud, const char *pattern, char ***out, size_t *n);
/* Read fd to its end, at most max bytes: 0, -EFBIG or another -errno. */
int pg_read_fd(int fd, size_t max, char **buf, size_t *len);

/* pg_policy_resolve() with getpwnam(3) and getgrnam(3); unknown_hint goes
 * with each unknown name (NULL: none). */
void pg_resolve_ids(struct pg_policy *p, struct pg_diags *d, const char *unknown_hint);

/*
 * 'portgate status --prometheus': the state of pin_dir, and of its agent,
 * in Prometheus' text exposition format. 0 or -errno (printed).
 */
int pg_status_prometheus(FILE *f, const char *pin_dir);

/* Generation and hash of the policy installed in pin_dir; 0, -ENOENT when
 * there is none, or another -errno (printed). */
int pg_status_in_force(const char *pin_dir, uint64_t *gen, char hash[65]);

/* Print usage for a command (NULL: the overview) to f. */
void pg_usage(const char *cmd, FILE *f);

#endif
