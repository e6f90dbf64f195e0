/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * opt.h - a command and its options as data, and the one parser that reads
 * them: each command's file holds its struct pg_cmd and the table of its
 * options; main.c's table lists the commands.
 *
 * An option's value goes into the command's arguments, a struct that starts
 * with struct pg_opts (cmd.h), at the offset the table gives. -v, -h and,
 * for a command with JSON output, -j are every command's.
 */
#ifndef PORTGATE_OPT_H
#define PORTGATE_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cgroup.h" /* pg_cg_path_valid(), of PG_OPT_ATTACH */

struct pg_opts;

enum pg_opt_kind {
	PG_OPT_FLAG, /* bool, set true */
	PG_OPT_STR,  /* const char *, pointing into argv */
	PG_OPT_U64,  /* uint64_t in [min, max] */
};

struct pg_optdef {
	const char *name; /* long name, without "--"; NULL ends a table */
	char letter;	  /* short option, 0: none */
	enum pg_opt_kind kind;
	const char *arg;	       /* the argument as help names it: "DIR" */
	const char *help;	       /* what it does; NULL: accepted, not listed */
	const char *def;	       /* the default as help says it; NULL: str or num */
	const char *str;	       /* PG_OPT_STR: default value, or NULL */
	uint64_t num, min, max;	       /* PG_OPT_U64: default and range */
	int (*valid)(const char *arg); /* PG_OPT_STR: 0 if arg will do, or NULL */
	const char *give; /* what to give instead of a value out of range or not valid */
	size_t off;	  /* of the value in the command's arguments */
};

struct pg_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct pg_opts *o);
	const char *synopsis; /* after "usage: portgate NAME " */
	const char *help;     /* one line, for the command list too */
	const struct pg_optdef *opts;
	bool json;	       /* takes -j, lists it */
	int nargs;	       /* operands, exactly */
	const char *nargs_err; /* said when there are not nargs of them */
	bool nargs_usage;      /* and then usage on stderr */
};

/*
 * Parse a command's argv (argv[0] its name): defaults first, then each
 * option into args (a struct starting with struct pg_opts), then the
 * operands, which must be c->nargs: *operands points at them. Returns true
 * to run the command; false when it is done, with *status its exit status:
 * 0 after -h (usage on stdout), 2 on a usage error (said on stderr).
 */
bool pg_opt_parse(const struct pg_cmd *c, int argc, char **argv, void *args, char ***operands,
		  int *status);

/* 'portgate CMD -h': usage, every option with its default. */
void pg_opt_usage(const struct pg_cmd *c, FILE *f);

/* Options more than one command takes. */
#define PG_OPT_PIN_DIR                                                                             \
	{                                                                                          \
		.name = "pin-dir", .letter = 'p', .kind = PG_OPT_STR, .arg = "DIR",                \
		.help = "bpffs directory of the pinned state", .str = PG_DEFAULT_PIN_DIR,          \
		.off = offsetof(struct pg_opts, pin_dir)                                           \
	}
#define PG_OPT_ATTACH                                                                              \
	{                                                                                          \
		.name = "attach", .letter = 'a', .kind = PG_OPT_STR, .arg = "CGROUP",              \
		.help = "cgroup, from the cgroup2 root, whose subtree is policed", .str = "/",     \
		.valid = pg_cg_path_valid,                                                         \
		.give = "give a cgroup path from the cgroup2 root, like / or /system.slice",       \
		.off = offsetof(struct pg_opts, attach)                                            \
	}

#endif
