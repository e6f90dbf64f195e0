// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* diff_decide.c - diff's spans of ports, the users tried, and the changes
 * each cgroup sees when both sides decide. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff_int.h"
#include "explain.h"

/* ------------------------------------------------------------ spans */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

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
int spans_make(const struct side *sd, uint32_t bit, struct spans *s)
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
int whos_make(const struct side *sd, struct who **out, size_t *n)
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

/* The node ids of path and its ancestors, nearest first, in one side. */
static size_t chain_nodes(const struct side *s, const char *path, uint32_t *nodes, bool *any)
{
	char buf[4096], *slash;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		if (n <= PG_MAX_LEVEL)
			*any |= (nodes[n++] = side_node(s, buf)) != 0;
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
int cgroup_changes(struct report *rp, const char *path, bool known, bool *any)
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
