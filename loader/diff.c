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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cmd.h"
#include "policy_src.h"
#include "compile.h"
#include "explain.h"
#include "json.h"
#include "meta.h"
#include "opt.h"
#include "state.h"

/* A rule-bearing cgroup of an image, by path. */
struct pnode {
	const char *path;
	uint32_t node;
};

/* One side of the diff: a policy file compiled here, or the policy in force. */
struct side {
	const char *file;
	struct pg_policy *p; /* NULL: the policy in force */
	struct pg_image img; /* compiled from p */
	union pg_block *live;
	uint32_t nlive;
	struct pg_meta meta; /* of live */
	const union pg_block *b;
	uint32_t nb;
	struct pnode *nodes; /* sorted by path */
	size_t nnodes;
};

/* A rule's condition, from the policy or from the image. */
struct cond {
	bool has_user, has_group, has_addr;
	uint32_t uid, gid;
	uint8_t addr[16];
	const char *text; /* the rule's text */
};

/* Who binds: a condition of either policy, or nobody any rule names. */
struct who {
	char label[160];
	uint32_t uid, gid;
	uint8_t addr[16];
};

/* What one side decides for one span. */
struct res {
	int verdict; /* PG_V_*, or -1: unprotected */
	uint32_t rule;
};

static int cmp_pnode(const void *a, const void *b)
{
	return strcmp(((const struct pnode *)a)->path, ((const struct pnode *)b)->path);
}

static uint32_t node_at(const struct side *s, const char *path)
{
	struct pnode key = { .path = path }, *hit;

	hit = bsearch(&key, s->nodes, s->nnodes, sizeof(*s->nodes), cmp_pnode);
	return hit ? hit->node : 0;
}

static uint32_t side_nrules(const struct side *s)
{
	return s->p ? (uint32_t)s->p->nrules : (uint32_t)s->meta.nrules;
}

/* The rule's place and text; false when the side does not know it. */
static bool side_rule(const struct side *s, uint32_t i, const char **file, uint32_t *line,
		      const char **text)
{
	if (i >= side_nrules(s))
		return false;
	if (s->p) {
		*file = s->p->files[s->p->rules[i].loc.file];
		*line = s->p->rules[i].loc.line;
		*text = s->p->rules[i].text;
	} else {
		const struct pg_meta_rule *r = &s->meta.rules[i];

		*file = r->file < s->meta.nfiles ? s->meta.files[r->file] : "?";
		*line = r->line;
		*text = r->text;
	}
	return true;
}

static void side_cond(const struct side *s, uint32_t i, struct cond *c)
{
	const struct pg_hdr *h = &s->b[0].hdr;
	const struct pg_rule_rec *r;

	memset(c, 0, sizeof(*c));
	if (s->p) {
		const struct pg_rule *pr = &s->p->rules[i];

		c->has_user = pr->cond.has_user;
		c->has_group = pr->cond.has_group;
		c->has_addr = pr->cond.has_addr;
		c->uid = pr->cond.uid;
		c->gid = pr->cond.gid;
		memcpy(c->addr, pr->cond.addr, 16);
		c->text = pr->text;
		return;
	}
	c->text = s->meta.rules[i].text;
	if (i >= h->nrules || PG_RULE_OFF + i / 4 >= s->nb)
		return;
	r = &s->b[PG_RULE_OFF + i / 4].rule[i % 4];
	c->has_user = r->cflags & PG_C_UID;
	c->has_group = r->cflags & PG_C_GID;
	c->has_addr = r->cflags & PG_C_ADDR;
	c->uid = r->uid;
	c->gid = r->gid;
	if (c->has_addr && h->addr_off + (r->addr >> 1) < s->nb)
		memcpy(c->addr, s->b[h->addr_off + (r->addr >> 1)].addr[r->addr & 1].net, 16);
}

static bool side_exempt(const struct side *s)
{
	return s->b[0].hdr.flags & PG_HF_EXEMPT_ROOT;
}

static int side_nodes(struct side *s)
{
	size_t i, n = s->p ? s->img.nnodes : s->meta.nnodes;

	s->nodes = calloc(n + 1, sizeof(*s->nodes));
	if (!s->nodes)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (s->p)
			s->nodes[i] = (struct pnode){ s->img.nodes[i].path, s->img.nodes[i].node };
		else
			s->nodes[i] =
			    (struct pnode){ s->meta.nodes[i].path, s->meta.nodes[i].node };
	}
	s->nnodes = n;
	qsort(s->nodes, n, sizeof(*s->nodes), cmp_pnode);
	return 0;
}

static int side_compile(struct side *s, const struct pg_cgroup *tree, size_t ntree)
{
	enum pg_mode m = s->p->mode == PG_MODE_SYSCTL ? PG_MODE_SYSCTL : PG_MODE_GRANT;
	struct pg_compile_opts co = {
		.mode = m, .bypass = m == PG_MODE_GRANT, .gen = 1, .seed = 1
	};
	struct pg_diags d = { 0 };
	int err;

	if (m == PG_MODE_SYSCTL && s->p->def == PG_DEFAULT_KERNEL) {
		fprintf(stderr, "%s:%u:%u: error: default kernel is not allowed in sysctl mode\n",
			s->p->files[s->p->def_loc.file], s->p->def_loc.line, s->p->def_loc.col);
		return PG_EXIT_POLICY;
	}
	err = pg_compile(s->p, tree, ntree, &co, &s->img, &d);
	pg_diags_print(&d, s->p, stderr);
	pg_diags_free(&d);
	if (err == -EINVAL || err == -E2BIG)
		return PG_EXIT_POLICY;
	if (err) {
		pg_err("cannot compile %s: %s", s->file, strerror(-err));
		return PG_EXIT_FAIL;
	}
	s->b = s->img.blocks;
	s->nb = s->img.nblocks;
	return side_nodes(s) ? PG_EXIT_FAIL : 0;
}

/* The policy in force in pin_dir, from its image. */
static int side_in_force(struct side *s, const char *pin_dir)
{
	struct pg_state st;
	int err, i;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < PG_NMAPS; i++)
		st.map[i] = -1;
	for (i = 0; i < PG_NLINKS; i++)
		st.prog[i] = st.link[i] = -1;
	st.dirfd = -1;
	err = pg_state_open(&st, pin_dir, false, false);
	if (!err)
		err = pg_state_image(&st, &s->live, &s->nlive);
	pg_state_close(&st);
	if (err == -ENOENT) {
		pg_err("no active policy in %s", pin_dir);
		return PG_EXIT_FAIL;
	}
	if (err)
		return PG_EXIT_FAIL;
	if (pg_meta_parse(s->live, s->nlive, &s->meta)) {
		pg_err("the policy in force in %s carries no readable description", pin_dir);
		free(s->live);
		s->live = NULL;
		return PG_EXIT_FAIL;
	}
	s->file = s->meta.source;
	s->b = s->live;
	s->nb = s->nlive;
	return side_nodes(s) ? PG_EXIT_FAIL : 0;
}

static void side_free(struct side *s)
{
	free(s->nodes);
	pg_image_free(&s->img);
	pg_policy_free(s->p);
	if (s->live)
		pg_meta_free(&s->meta);
	free(s->live);
}

/* ------------------------------------------------------------ spans */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct spans {
	uint32_t *v; /* starts of spans, sorted, unique; 65536 ends the last */
	size_t n, cap;
};

static int span_add(struct spans *s, uint32_t port)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = port;
	return 0;
}

static int span_ranges(struct spans *s, const struct pg_range *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (span_add(s, r[i].lo) || span_add(s, (uint32_t)r[i].hi + 1))
			return -ENOMEM;
	return 0;
}

/* The policy in force has no ranges left: each port its entries name, and
 * where its protect set starts or ends (one scan per diff, not per cgroup). */
static int span_image(struct spans *s, const struct side *sd, uint32_t proto)
{
	const struct pg_hdr *h = &sd->b[0].hdr;
	uint32_t i, k, port;
	bool prev = false, cur;
	int err = 0;

	for (i = 0; i < h->nbkt && h->bkt_off + i < sd->nb && !err; i++)
		for (k = 0; k < 4 && !err; k++) {
			const struct pg_ent *e = &sd->b[h->bkt_off + i].ent[k];

			if (e->tag == PG_TAG && e->proto == proto)
				err = span_add(s, e->port) ?: span_add(s, e->port + 1u);
		}
	for (port = 1; port <= 65535 && !err; port++, prev = cur)
		if ((cur = pg_image_protects(sd->b, sd->nb, port)) != prev)
			err = span_add(s, port);
	return err;
}

/* The spans of proto bit: where a rule's range or a protect set starts or ends. */
static int spans_make(const struct side *sd, uint32_t bit, struct spans *s)
{
	size_t i, k, w;
	int err = span_add(s, 1);

	for (k = 0; k < 2 && !err; k++) {
		const struct pg_policy *p = sd[k].p;

		if (!p) {
			err = span_image(s, &sd[k], pg_proto_of_bit(bit));
			continue;
		}
		err = span_ranges(s, p->protect, p->nprotect);
		for (i = 0; i < p->nrules && !err; i++)
			if (p->rules[i].protos & bit)
				err = span_ranges(s, p->rules[i].ports, p->rules[i].nports);
	}
	if (err)
		return err;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	for (i = w = 0; i < s->n; i++)
		if (s->v[i] <= 65535 && (!w || s->v[w - 1] != s->v[i]))
			s->v[w++] = s->v[i];
	s->n = w;
	return 0;
}

/* ------------------------------------------------------------ who */

static bool id_named(const struct side *sd, uint32_t id, bool group)
{
	struct cond c;
	uint32_t i;
	size_t k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < side_nrules(&sd[k]); i++) {
			side_cond(&sd[k], i, &c);
			if (group ? c.has_group && c.gid == id : c.has_user && c.uid == id)
				return true;
		}
	return id == 0;
}

static const char *cond_label(const char *t)
{
	const char *c = NULL, *keys[] = { " user=", " group=", " addr=" }, *x;
	size_t k;

	for (k = 0; k < 3; k++)
		if ((x = strstr(t, keys[k])) && (!c || x < c))
			c = x;
	return c ? c + 1 : "";
}

static int who_add(struct who **v, size_t *n, size_t *cap, const struct who *w)
{
	size_t j;

	for (j = 0; j < *n; j++)
		if (!strcmp((*v)[j].label, w->label))
			return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct who *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = *w;
	return 0;
}

/* Everyone no rule names first, then root when a policy exempts it, then
 * each distinct condition. */
static int whos_make(const struct side *sd, struct who **out, size_t *n)
{
	struct who *v = NULL, w = { .uid = 65534, .gid = 65534 };
	size_t cap = 0, k;
	uint32_t uid = 65534, gid = 65534, i;
	struct cond c;
	int err;

	while (id_named(sd, uid, false))
		uid--;
	while (id_named(sd, gid, true))
		gid--;
	*n = 0;
	w.uid = uid;
	w.gid = gid;
	w.addr[10] = w.addr[11] = 0xff; /* 0.0.0.0 */
	err = who_add(&v, n, &cap, &w);
	if (!err && (side_exempt(&sd[0]) || side_exempt(&sd[1]))) {
		struct who root = w;

		root.uid = root.gid = 0;
		snprintf(root.label, sizeof(root.label), "user=0");
		err = who_add(&v, n, &cap, &root);
	}
	for (k = 0; k < 2 && !err; k++)
		for (i = 0; i < side_nrules(&sd[k]) && !err; i++) {
			struct who x = w;

			side_cond(&sd[k], i, &c);
			if (!c.has_user && !c.has_group && !c.has_addr)
				continue;
			snprintf(x.label, sizeof(x.label), "%s", cond_label(c.text));
			if (c.has_user)
				x.uid = c.uid;
			if (c.has_group)
				x.gid = c.gid;
			if (c.has_addr)
				memcpy(x.addr, c.addr, 16);
			err = who_add(&v, n, &cap, &x);
		}
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------ decide */

struct chg {
	size_t who;
	uint32_t proto, lo, hi;
	struct res o, n;
};

struct report {
	const struct side *sd;
	const struct who *w;
	size_t nw;
	struct spans sp[3];
	struct chg *c;
	size_t nc, cap;
};

/* The node ids of path and its ancestors, nearest first, in one side. */
static size_t chain_nodes(const struct side *s, const char *path, uint32_t *nodes, bool *any)
{
	char buf[4096], *slash;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		if (n <= PG_MAX_LEVEL)
			*any |= (nodes[n++] = node_at(s, buf)) != 0;
		if (!strcmp(buf, "/"))
			return n;
		slash = strrchr(buf, '/');
		slash[slash == buf] = 0;
	}
}

static struct res decide(const struct side *s, const uint32_t *nodes, size_t n, uint32_t proto,
			 uint32_t port, const struct who *w)
{
	struct res r = { -1, ~0u };
	int at;

	if (pg_image_protects(s->b, s->nb, port))
		r.verdict = pg_image_decide(s->b, s->nb, nodes, n, port, proto, w->uid, w->gid,
					    w->addr, &r.rule, &at);
	return r;
}

static bool res_eq(struct res a, struct res b)
{
	return a.verdict == b.verdict && a.rule == b.rule;
}

static int chg_add(struct report *rp, const struct chg *c)
{
	struct chg *last = rp->nc ? &rp->c[rp->nc - 1] : NULL;

	if (last && last->who == c->who && last->proto == c->proto && last->hi + 1 == c->lo &&
	    res_eq(last->o, c->o) && res_eq(last->n, c->n)) {
		last->hi = c->hi;
		return 0;
	}
	if (rp->nc == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 16;
		struct chg *v = realloc(rp->c, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rp->c = v;
		rp->cap = cap;
	}
	rp->c[rp->nc++] = *c;
	return 0;
}

/* The changes for one cgroup, in rp->c (emptied first); with known, none
 * for a cgroup no rule reaches (*any false), whose answer is known. */
static int cgroup_changes(struct report *rp, const char *path, bool known, bool *any)
{
	uint32_t on[PG_MAX_LEVEL + 2], nn[PG_MAX_LEVEL + 2];
	size_t non, nnn, w, k, i;
	int err;

	*any = false;
	non = chain_nodes(&rp->sd[0], path, on, any);
	nnn = chain_nodes(&rp->sd[1], path, nn, any);
	rp->nc = 0;
	if (known && !*any)
		return 0;
	for (w = 0; w < rp->nw; w++)
		for (k = 0; k < 3; k++) {
			const struct spans *s = &rp->sp[k];
			uint32_t proto = pg_proto_of_bit(1u << k);

			for (i = 0; i < s->n; i++) {
				struct chg c = { .who = w,
						 .proto = proto,
						 .lo = s->v[i],
						 .hi = i + 1 < s->n ? s->v[i + 1] - 1 : 65535 };

				c.o = decide(&rp->sd[0], on, non, proto, c.lo, &rp->w[w]);
				c.n = decide(&rp->sd[1], nn, nnn, proto, c.lo, &rp->w[w]);
				if (res_eq(c.o, c.n))
					continue;
				/* a condition's change that everyone has is shown once, for
				 * everyone */
				if (w) {
					struct res eo =
					    decide(&rp->sd[0], on, non, proto, c.lo, &rp->w[0]);
					struct res en =
					    decide(&rp->sd[1], nn, nnn, proto, c.lo, &rp->w[0]);

					if (res_eq(eo, c.o) && res_eq(en, c.n))
						continue;
				}
				if ((err = chg_add(rp, &c)))
					return err;
			}
		}
	return 0;
}

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
	int status = PG_EXIT_OK, st;

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
	for (k = 0; k < 2 && !status; k++)
		status = sd[k].p ? side_compile(&sd[k], ntree ? tree : &root, ntree ? ntree : 1)
				 : side_in_force(&sd[k], pin_dir);
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
