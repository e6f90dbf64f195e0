// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* opt.c - the one option parser, and usage from the same tables (opt.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cmd.h"
#include "opt.h"
#include "util.h"

#define MAX_OPTS   16  /* of one command, besides the common ones */
#define NO_LETTER  256 /* getopt values of long-only options: NO_LETTER + index */
#define COMMON_OFF offsetof(struct pg_opts, json)

/* Every command's: -j (with JSON output only), -v, -h. */
static const struct pg_optdef json_opt = {
	.name = "json", .letter = 'j', .help = "JSON output", .def = "text", .off = COMMON_OFF
};
static const struct pg_optdef common_opts[] = {
	{ .name = "verbose",
	  .letter = 'v',
	  .help = "more output; twice: also libbpf and verifier logs",
	  .def = "errors and warnings" },
	{ .name = "help", .letter = 'h', .help = "this text" },
};

static void *field(void *args, const struct pg_optdef *d)
{
	return (char *)args + d->off;
}

static void set_defaults(const struct pg_optdef *d, void *args)
{
	for (; d && d->name; d++) {
		if (d->kind == PG_OPT_STR && d->str)
			*(const char **)field(args, d) = d->str;
		else if (d->kind == PG_OPT_U64)
			*(uint64_t *)field(args, d) = d->num;
	}
}

/* getopt_long(3)'s tables for c; false if c has more options than fit. */
static bool getopt_tables(const struct pg_cmd *c, struct option *lo, char *shorts)
{
	const struct pg_optdef *d;
	size_t n = 0, s = 0;

	for (d = c->opts; d && d->name; d++, n++) {
		if (n == MAX_OPTS)
			return false;
		lo[n] = (struct option){ d->name,
					 d->kind == PG_OPT_FLAG ? no_argument : required_argument,
					 NULL, d->letter ? d->letter : NO_LETTER + (int)n };
		if (d->letter) {
			shorts[s++] = d->letter;
			if (d->kind != PG_OPT_FLAG)
				shorts[s++] = ':';
		}
	}
	if (c->json) {
		lo[n++] = (struct option){ "json", no_argument, NULL, 'j' };
		shorts[s++] = 'j';
	}
	lo[n++] = (struct option){ "verbose", no_argument, NULL, 'v' };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	memcpy(shorts + s, "vh", 3);
	return true;
}

/* The table's entry for a getopt value, or NULL. */
static const struct pg_optdef *lookup(const struct pg_cmd *c, int ch)
{
	const struct pg_optdef *d;
	int i = 0;

	for (d = c->opts; d && d->name; d++, i++)
		if (d->letter ? ch == d->letter : ch == NO_LETTER + i)
			return d;
	if (ch == 'j' && c->json)
		return &json_opt;
	return NULL;
}

/* Store one option's value; 0, or -EINVAL after saying why. */
static int store(const struct pg_optdef *d, const char *arg, void *args)
{
	uint64_t v;

	switch (d->kind) {
	case PG_OPT_FLAG:
		*(bool *)field(args, d) = true;
		return 0;
	case PG_OPT_STR:
		if (d->valid && d->valid(arg)) {
			pg_err("invalid --%s '%s': %s", d->name, arg, d->give);
			return -EINVAL;
		}
		*(const char **)field(args, d) = arg;
		return 0;
	case PG_OPT_U64:
		if (pg_parse_u64(arg, d->min, d->max, &v)) {
			pg_err("invalid --%s '%s': %s", d->name, arg, d->give);
			return -EINVAL;
		}
		*(uint64_t *)field(args, d) = v;
		return 0;
	}
	return -EINVAL;
}

bool pg_opt_parse(const struct pg_cmd *c, int argc, char **argv, void *args, char ***operands,
		  int *status)
{
	struct option lo[MAX_OPTS + 4];
	char shorts[2 * MAX_OPTS + 8];
	const struct pg_optdef *d;
	int ch;

	*status = PG_EXIT_USAGE;
	if (!getopt_tables(c, lo, shorts)) {
		pg_err("internal error: %s has more than %d options", c->name, MAX_OPTS);
		*status = PG_EXIT_FAIL;
		return false;
	}
	set_defaults(c->opts, args);
	optind = 0; /* glibc: reinitialise after main()'s "+" scan */
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if ((d = lookup(c, ch))) {
			if (store(d, optarg, args))
				return false;
		} else if (ch == 'v') {
			pg_verbose++;
		} else if (ch == 'h') {
			pg_opt_usage(c, stdout);
			*status = PG_EXIT_OK;
			return false;
		} else { /* getopt said what was wrong */
			pg_opt_usage(c, stderr);
			return false;
		}
	}
	if (argc - optind != c->nargs) {
		pg_err("%s", c->nargs_err);
		if (c->nargs_usage)
			pg_opt_usage(c, stderr);
		return false;
	}
	*operands = argv + optind;
	*status = PG_EXIT_OK;
	return true;
}

/* "  -p, --pin-dir DIR         what it does (default: ...)" */
static void usage_line(FILE *f, const struct pg_optdef *d)
{
	char name[64], num[24];
	const char *def = d->def;

	if (!d->help)
		return;
	if (d->letter)
		snprintf(name, sizeof(name), "-%c, --%s%s%s", d->letter, d->name, d->arg ? " " : "",
			 d->arg ? d->arg : "");
	else
		snprintf(name, sizeof(name), "--%s%s%s", d->name, d->arg ? " " : "",
			 d->arg ? d->arg : "");
	if (!def && d->kind == PG_OPT_STR)
		def = d->str;
	if (!def && d->kind == PG_OPT_U64) {
		snprintf(num, sizeof(num), "%" PRIu64, d->num);
		def = num;
	}
	if (def)
		fprintf(f, "  %-24s %s (default: %s)\n", name, d->help, def);
	else
		fprintf(f, "  %-24s %s\n", name, d->help);
}

void pg_opt_usage(const struct pg_cmd *c, FILE *f)
{
	const struct pg_optdef *d;
	size_t i;

	fprintf(f, "usage: portgate %s %s\n  %s\n\noptions:\n", c->name, c->synopsis, c->help);
	for (d = c->opts; d && d->name; d++)
		usage_line(f, d);
	if (c->json)
		usage_line(f, &json_opt);
	for (i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
		usage_line(f, &common_opts[i]);
	fprintf(f, "\nsee portgate(8) and portgate.conf(5)\n");
}
