// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * diff.c - `portgate diff OLD NEW` and `portgate apply --dry-run FILE`:
 * which cgroups gain or lose which ports, for whom. The files are compiled
 * against this machine's cgroup tree (and the paths their exact selectors
 * name), the policy in force is read from its pinned image, and every
 * (cgroup, protocol, port) is decided with both images by
 * pg_image_decide(), the kernel's decision code. Decisions are constant
 * between the boundaries of the rules' port ranges and of the protect
 * sets, so one port stands for each such span. The binding user matters
 * only through conditions: each condition of either policy is tried, and
 * so is a user that none names.
 *
 * The sides are read in diff_side.c, the spans, users and changes found in
 * diff_decide.c; here are the output (text or JSON) and the command.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cmd.h"
#include "diff_int.h"
#include "policy_src.h"
#include "explain.h"
#include "json.h"
#include "opt.h"

/* ------------------------------------------------------------ output */

static bool granted(int v)
{
	return v == PG_V_GRANT || v == PG_V_EXEMPT;
}

static char sign(const struct chg *c)
{
	if (granted(c->n.verdict) && !granted(c->o.verdict))
		return '+';
	if (granted(c->o.verdict) && !granted(c->n.verdict))
		return '-';
	return '~';
}

static const char *verdict_word(int v)
{
	return v >= 0 ? pg_verdict_name(v) : "unprotected";
}

static void where_text(const struct side *s, struct res r, FILE *f)
{
	const char *file, *text;
	uint32_t line;

	if (side_rule(s, r.rule, &file, &line, &text))
		fprintf(f, "%s:%u", file, line);
	else
		fputs(r.verdict < 0 ? "not protected" : "default", f);
}

static void ports_text(const struct chg *c, char *buf, size_t len)
{
	if (c->lo == c->hi)
		snprintf(buf, len, "%s/%u", pg_proto_word(c->proto), c->lo);
	else
		snprintf(buf, len, "%s/%u-%u", pg_proto_word(c->proto), c->lo, c->hi);
}

static void changes_text(const struct report *rp, const char *title)
{
	char pp[32];
	size_t i;

	printf("%s\n", title);
	for (i = 0; i < rp->nc; i++) {
		const struct chg *c = &rp->c[i];
		const char *who = rp->w[c->who].label;

		ports_text(c, pp, sizeof(pp));
		printf("  %c %s%s%s (%s -> %s, ", sign(c), pp, *who ? " " : "", who,
		       verdict_word(c->o.verdict), verdict_word(c->n.verdict));
		where_text(&rp->sd[0], c->o, stdout);
		fputs(" -> ", stdout);
		where_text(&rp->sd[1], c->n, stdout);
		fputs(")\n", stdout);
	}
}

static struct json_object *res_json(const struct side *s, struct res r)
{
	struct json_object *o = pg_json_obj(), *rule = NULL;
	const char *file, *text;
	uint32_t line;

	pg_json_set_str(o, "verdict", verdict_word(r.verdict));
	if (side_rule(s, r.rule, &file, &line, &text)) {
		rule = pg_json_obj();
		pg_json_set_u64(rule, "index", r.rule);
		pg_json_set_str(rule, "file", file);
		pg_json_set_u64(rule, "line", line);
		pg_json_set_str(rule, "text", text);
	}
	pg_json_set(o, "rule", rule);
	return o;
}

static struct json_object *changes_json(const struct report *rp, const char *cg, size_t count)
{
	struct json_object *o = pg_json_obj(), *arr = pg_json_arr();
	char pp[32], sg[2] = { 0 };
	size_t i;

	pg_json_set_str(o, "cgroup", cg);
	pg_json_set_u64(o, "cgroups", count);
	for (i = 0; i < rp->nc; i++) {
		const struct chg *c = &rp->c[i];
		struct json_object *e = pg_json_obj();

		ports_text(c, pp, sizeof(pp));
		sg[0] = sign(c);
		pg_json_set_str(e, "change", sg);
		pg_json_set_str(e, "ports", pp);
		pg_json_set_str(e, "proto", pg_proto_word(c->proto));
		pg_json_set_u64(e, "from", c->lo);
		pg_json_set_u64(e, "to", c->hi);
		pg_json_set_str(e, "who", *rp->w[c->who].label ? rp->w[c->who].label : NULL);
		pg_json_set(e, "old", res_json(&rp->sd[0], c->o));
		pg_json_set(e, "new", res_json(&rp->sd[1], c->n));
		pg_json_push(arr, e);
	}
	pg_json_set(o, "changes", arr);
	return o;
}

/* ------------------------------------------------------------ command */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The cgroups reported on: this machine's, and every exact selector's path
 * (for the policy in force: every path its image has a node for). */
static int report_paths(const struct side *sd, const struct pg_cgroup *tree, size_t ntree,
			const char ***out, size_t *n)
{
	const char **v;
	size_t cap = ntree + sd[0].nnodes + sd[1].nnodes + 1, i, k, w = 0;

	for (k = 0; k < 2; k++)
		cap += sd[k].p ? sd[k].p->nrules : 0;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < ntree; i++)
		v[w++] = tree[i].path;
	for (k = 0; k < 2; k++) {
		for (i = 0; sd[k].p && i < sd[k].p->nrules; i++)
			if (pg_selector_is_exact(sd[k].p->rules[i].selector))
				v[w++] = sd[k].p->rules[i].selector;
		for (i = 0; !sd[k].p && i < sd[k].nnodes; i++)
			v[w++] = sd[k].nodes[i].path;
	}
	qsort(v, w, sizeof(*v), cmp_str);
	for (i = *n = 0; i < w; i++)
		if (!*n || strcmp(v[*n - 1], v[i]))
			v[(*n)++] = v[i];
	*out = v;
	return 0;
}

static int run_diff(struct report *rp, const char *const *paths, size_t np, bool json)
{
	struct chg *other = NULL;
	size_t nother = 0, ncother = 0, i;
	bool changed = false, any;
	struct json_object *doc = NULL, *cgs = NULL;
	int err = 0;

	if (json) {
		doc = pg_json_doc();
		pg_json_set_str(doc, "old", rp->sd[0].file);
		pg_json_set_str(doc, "new", rp->sd[1].file);
		cgs = pg_json_arr();
	}
	for (i = 0; i < np && !err; i++) {
		if ((err = cgroup_changes(rp, paths[i], other != NULL, &any)))
			break;
		if (!any && !other) {
			/* every cgroup no rule reaches decides alike: keep one answer */
			other = malloc((rp->nc + 1) * sizeof(*other));
			if (!other) {
				err = -ENOMEM;
				break;
			}
			if (rp->nc)
				memcpy(other, rp->c, rp->nc * sizeof(*other));
			ncother = rp->nc;
		}
		if (!any) {
			nother++;
			continue;
		}
		if (!rp->nc)
			continue;
		changed = true;
		if (json)
			pg_json_push(cgs, changes_json(rp, paths[i], 1));
		else
			changes_text(rp, paths[i]);
	}
	if (!err && ncother) {
		char title[128];

		changed = true;
		free(rp->c);
		rp->c = other;
		rp->nc = rp->cap = ncother;
		other = NULL;
		snprintf(title, sizeof(title),
			 "%zu other cgroup%s (no rule of either policy reaches them)", nother,
			 nother == 1 ? "" : "s");
		if (json)
			pg_json_push(cgs, changes_json(rp, NULL, nother));
		else
			changes_text(rp, title);
	}
	free(other);
	if (err) {
		json_object_put(cgs);
		json_object_put(doc);
		pg_err("out of memory");
		return PG_EXIT_FAIL;
	}
	if (json) {
		pg_json_set(doc, "cgroups", cgs);
		pg_json_set_bool(doc, "changed", changed);
		if (pg_json_print(stdout, doc))
			return PG_EXIT_FAIL;
	}
	if (fflush(stdout))
		return PG_EXIT_FAIL;
	return changed ? 1 : PG_EXIT_OK;
}

/* Diff old (a file, or NULL: the policy in force in pin_dir) with newf. */
static int diff_sides(const char *oldf, const char *pin_dir, const char *newf, bool json)
{
	struct side sd[2] = { { .file = oldf }, { .file = newf } };
	struct report rp = { .sd = sd };
	struct pg_cgroup *tree = NULL, root = { .path = "/", .id = 1 };
	const char **paths = NULL;
	size_t ntree = 0, np = 0, k;
	char mount[4096];
	int status = PG_EXIT_OK, st, err;

	for (k = 0; k < 2; k++) {
		if (!sd[k].file)
			continue;
		sd[k].p = pg_load_policy(sd[k].file, &st);
		if (!sd[k].p && status != PG_EXIT_POLICY)
			status = st;
	}
	if (status)
		goto out;
	if (pg_cg2_mount(mount, sizeof(mount)) || pg_cg_tree(mount, &tree, &ntree))
		ntree = 0;
	for (k = 0; k < 2 && !status; k++) {
		if (!sd[k].p) {
			status = side_in_force(&sd[k], pin_dir) ? PG_EXIT_FAIL : 0;
			continue;
		}
		err = side_compile(&sd[k], ntree ? tree : &root, ntree ? ntree : 1);
		status = err == -EINVAL || err == -E2BIG ? PG_EXIT_POLICY : err ? PG_EXIT_FAIL : 0;
	}
	if (status)
		goto out;
	status = PG_EXIT_FAIL;
	for (k = 0; k < 3; k++)
		if (spans_make(sd, 1u << k, &rp.sp[k]))
			goto out;
	if (whos_make(sd, (struct who **)&rp.w, &rp.nw) ||
	    report_paths(sd, ntree ? tree : &root, ntree ? ntree : 1, &paths, &np))
		goto out;
	status = run_diff(&rp, paths, np, json);
out:
	free(paths);
	free((void *)rp.w);
	free(rp.c);
	for (k = 0; k < 3; k++)
		free(rp.sp[k].v);
	pg_cg_tree_free(tree, ntree);
	for (k = 0; k < 2; k++)
		side_free(&sd[k]);
	return status;
}

int pg_diff_in_force(const char *file, const char *pin_dir, bool json)
{
	if (geteuid()) {
		pg_err("reading the policy in force needs root: %s and its maps are root-only",
		       pin_dir);
		return PG_EXIT_FAIL;
	}
	return diff_sides(NULL, pin_dir, file, json);
}

/* --pin-dir is taken, as by every command, and not listed: diff reads no
 * kernel state. */
static const struct pg_optdef opts[] = {
	{ .name = "pin-dir",
	  .letter = 'p',
	  .kind = PG_OPT_STR,
	  .arg = "DIR",
	  .off = offsetof(struct pg_opts, pin_dir) },
	{ 0 },
};

static int cmd_diff(int argc, char **argv, struct pg_opts *o)
{
	char **arg;
	int status;

	if (!pg_opt_parse(&pg_cmd_diff, argc, argv, o, &arg, &status))
		return status;
	return diff_sides(arg[0], NULL, arg[1], o->json);
}

const struct pg_cmd pg_cmd_diff = {
	.name = "diff",
	.fn = cmd_diff,
	.synopsis = "OLD NEW [-j]",
	.help = "which cgroups gain or lose which ports, for whom; exit 1 if any",
	.opts = opts,
	.json = true,
	.nargs = 2,
	.nargs_err = "needs two policy files, like: diff old.conf new.conf",
};
