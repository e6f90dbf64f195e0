/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * policy_src.h - policy files read from the real file system, and their
 * diagnostics logged, for the commands that read one (check, apply, diff,
 * explain, run).
 */
#ifndef PORTGATE_POLICY_SRC_H
#define PORTGATE_POLICY_SRC_H

#include <stddef.h>

#include "log.h"
#include "policy.h"

/*
 * Parse and resolve a policy file from the real file system, logging its
 * diagnostics (log.h; at most PG_DIAGS_SHOWN errors and warnings, then a
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

/* A diagnostic about p at loc, through the log (log.h): "FILE:LINE:COL",
 * shown as pg_escape() shows it, without LINE or COL when loc has none. */
void pg_log_at(enum pg_level level, const struct pg_policy *p, const struct pg_loc *loc,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Every diagnostic of d through the log, in order, with its severity: at
 * most max errors and max warnings (0: all), then one line counting the
 * rest.
 */
void pg_log_diags(const struct pg_diags *d, const struct pg_policy *p, size_t max);

#endif
