// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * check.c - `portgate check`: read a policy as apply would, say everything
 * wrong with it, change nothing.
 *
 * For people: each diagnostic with its source line and a caret, at most
 * PG_DIAGS_SHOWN errors (and warnings), then "N errors, M warnings". For
 * CI (-j): one JSON object with the diagnostics in it. Needs no privileges
 * and no kernel support.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "json.h"
#include "opt.h"
#include "policy_src.h"
#include "util.h"

#define STDIN_NAME "<stdin>" /* "-" as diagnostics name it */

struct check_args {
	struct pg_opts o; /* first: see opt.h */
	bool strict, no_resolve;
};

/* The parser's reads, kept for the source lines; "-" read from stdin once. */
struct reader {
	struct pg_srcs srcs;
	bool stdin_pending;
};

static int check_read(void *ud, const char *path, char **buf, size_t *len)
{
	struct reader *r = ud;
	int err;

	if (r->stdin_pending && !strcmp(path, STDIN_NAME)) {
		r->stdin_pending = false;
		err = pg_read_fd(STDIN_FILENO, PG_POL_MAX_FILE_SIZE, buf, len);
	} else {
		err = pg_src_read(NULL, path, buf, len);
	}
	if (!err && pg_srcs_add(&r->srcs, path, *buf, *len)) {
		free(*buf);
		*buf = NULL;
		err = -ENOMEM;
	}
	return err;
}

static void print_protect(FILE *f, const struct pg_policy *p)
{
	size_t i;

	for (i = 0; i < p->nprotect; i++) {
		fprintf(f, "%s%u", i ? "," : "", p->protect[i].lo);
		if (p->protect[i].hi != p->protect[i].lo)
			fprintf(f, "-%u", p->protect[i].hi);
	}
	if (!p->nprotect)
		fputs("none", f);
}

/* A string the policy's files supplied: escaped, as the text output shows it. */
static void json_text(struct json_object *o, const char *key, const char *s)
{
	char *e = s ? pg_escape(s, strlen(s)) : NULL;

	pg_json_set_str(o, key, e ? e : s);
	free(e);
}

/* A line or column number: null when the diagnostic has none. */
static void json_pos(struct json_object *o, const char *key, uint32_t n)
{
	pg_json_set(o, key, n ? json_object_new_uint64(n) : NULL);
}

static struct json_object *json_diag(const struct pg_diag *g, const struct pg_policy *p)
{
	struct json_object *o = pg_json_obj();

	json_text(o, "file", g->loc.file < p->nfiles ? p->files[g->loc.file] : NULL);
	json_pos(o, "line", g->loc.line);
	json_pos(o, "column", g->loc.line ? g->loc.col : 0);
	pg_json_set_str(o, "severity", g->sev == PG_SEV_ERROR ? "error" : "warning");
	json_text(o, "message", g->msg ? g->msg : "(out of memory for the message)");
	json_text(o, "hint", g->hint);
	return o;
}

/*
 * {"version", "file", "ok", "errors", "warnings", "diagnostics": [...],
 * "omitted"} and, for a valid policy, its size and hash. The same limit as
 * the text: "omitted" counts the diagnostics left out. 0 or -errno.
 */
static int check_json(const char *file, const struct pg_policy *p, const struct pg_diags *d)
{
	size_t shown[2] = { 0, 0 }, omitted, nwarn = pg_diags_nwarnings(d), i;
	struct json_object *doc = pg_json_doc(), *diags = pg_json_arr();
	char hash[65];

	json_text(doc, "file", file);
	pg_json_set_bool(doc, "ok", !d->nerrors);
	pg_json_set_u64(doc, "errors", d->nerrors);
	pg_json_set_u64(doc, "warnings", nwarn);
	for (i = 0; i < d->n; i++) {
		size_t *k = &shown[d->v[i].sev == PG_SEV_ERROR ? 0 : 1];

		if (*k < PG_DIAGS_SHOWN) {
			pg_json_push(diags, json_diag(&d->v[i], p));
			++*k;
		}
	}
	pg_json_set(doc, "diagnostics", diags);
	omitted = d->nerrors + nwarn - shown[0] - shown[1];
	pg_json_set_u64(doc, "omitted", omitted);
	if (!d->nerrors) {
		pg_hex(p->sha256, 32, hash);
		pg_json_set_u64(doc, "rules", p->nrules);
		pg_json_set_u64(doc, "files", p->nfiles);
		pg_json_set_str(doc, "sha256", hash);
	}
	return pg_json_print(stdout, doc);
}

static void check_text(const char *file, const struct pg_policy *p, const struct pg_diags *d,
		       const struct pg_srcs *srcs)
{
	const struct pg_render_opts o = { srcs, PG_DIAGS_SHOWN, true };
	char hash[65], *name;

	pg_diags_render(d, p, &o, stderr);
	if (d->nerrors)
		return;
	pg_hex(p->sha256, 32, hash);
	name = pg_escape(file, strlen(file));
	printf("%s: policy OK: %zu rule%s in %zu file%s, protect ", name ? name : file, p->nrules,
	       p->nrules == 1 ? "" : "s", p->nfiles, p->nfiles == 1 ? "" : "s");
	free(name);
	print_protect(stdout, p);
	printf(", sha256 %s\n", hash);
}

static const struct pg_optdef opts[] = {
	{ .name = "strict",
	  .help = "warnings are errors, exit status 3",
	  .def = "warnings alone pass",
	  .off = offsetof(struct check_args, strict) },
	{ .name = "no-resolve",
	  .help = "check user= and group= syntax only, do not look the names up",
	  .def = "look them up",
	  .off = offsetof(struct check_args, no_resolve) },
	{ 0 },
};

static int cmd_check(int argc, char **argv, struct pg_opts *o)
{
	struct check_args c = { .o = *o };
	struct reader r = { { 0 }, false };
	const struct pg_source_ops ops = { check_read, pg_src_glob, &r };
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	const char *file;
	char **arg;
	int status, err = 0;

	if (!pg_opt_parse(&pg_cmd_check, argc, argv, &c, &arg, &status))
		return status;
	r.stdin_pending = !strcmp(arg[0], "-"); /* "-" is standard input */
	file = r.stdin_pending ? STDIN_NAME : arg[0];
	p = pg_policy_parse(file, &ops, &d);
	if (!p) {
		pg_err("out of memory parsing %s", file);
		status = PG_EXIT_FAIL;
		goto out;
	}
	/* Names are looked up here unless told not to; apply always does. */
	if (!c.no_resolve)
		pg_resolve_ids(p, &d,
			       "check --no-resolve leaves names to the machine that applies the "
			       "policy");
	if (c.strict)
		pg_diags_strict(&d);
	if (c.o.json)
		err = check_json(file, p, &d);
	else
		check_text(file, p, &d, &r.srcs);
	status = d.nerrors ? PG_EXIT_POLICY : PG_EXIT_OK;
	if (fflush(stdout) || err)
		status = PG_EXIT_FAIL;
out:
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_srcs_free(&r.srcs);
	return status;
}

const struct pg_cmd pg_cmd_check = {
	.name = "check",
	.fn = cmd_check,
	.synopsis = "FILE|- [--strict] [--no-resolve] [-j]",
	.help = "validate a policy file; change nothing",
	.opts = opts,
	.json = true,
	.nargs = 1,
	.nargs_err = "needs exactly one policy file, or - for standard input",
	.nargs_usage = true,
};
