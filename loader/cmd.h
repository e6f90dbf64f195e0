/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* cmd.h - the subcommands and what they share. */
#ifndef PORTGATE_CMD_H
#define PORTGATE_CMD_H

#include <stdbool.h>

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

/*
 * Parse and resolve a policy file from the real file system, printing every
 * diagnostic to stderr. Returns the policy, or NULL with *status set (3 for
 * an invalid policy, 1 when out of memory).
 */
struct pg_policy *pg_load_policy(const char *path, int *status);

/* Print usage for a command (NULL: the overview) to f. */
void pg_usage(const char *cmd, FILE *f);

#endif
