// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * entries.c - the nodes of a policy image and the bucketised cuckoo table
 * of their entries (bpf/pg_abi.h).
 *
 * Each cgroup that some selector matches becomes a node. Every (node,
 * protocol class, protected port) that a rule names becomes one entry: the
 * unconditional rule that decides it, or the list of conditional rules
 * (the alternatives) tried in file order. Rules of one node that disagree
 * on one (protocol, port) are a conflict only the tree shows: an error,
 * unless one is more specific (rule_rank()).
 * Entries go in 4-entry, 64-byte buckets, two candidate buckets per key,
 * so a lookup costs at most two array reads whatever the number of rules,
 * and the table fills to ~90% (about 18 bytes per entry).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

#define LOAD_NUM     9 /* target load: 90% of 4 slots per bucket */
#define LOAD_DEN     10
#define MAX_KICKS    2000
#define MAX_REBUILDS 64

/* ---------------------------------------------------------- alternatives */

static uint64_t list_hash(const uint32_t *l, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ l[i]) * 0x100000001b3ULL;
	return h;
}

static int alts_rehash(struct alts *a)
{
	size_t ncap = a->hmask ? (a->hmask + 1) * 2 : 64, i;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint32_t *no = calloc(ncap, sizeof(*no));

	if (!nk || !no) {
		free(nk);
		free(no);
		return -ENOMEM;
	}
	for (i = 0; a->hmask && i <= a->hmask; i++) {
		size_t h;

		if (!a->hoff[i])
			continue;
		h = a->hkey[i] & (ncap - 1);
		while (no[h])
			h = (h + 1) & (ncap - 1);
		nk[h] = a->hkey[i];
		no[h] = a->hoff[i];
	}
	free(a->hkey);
	free(a->hoff);
	a->hkey = nk;
	a->hoff = no;
	a->hmask = ncap - 1;
	return 0;
}

/* Offset of list l in the alternatives, appending it if new. */
static int alts_add(struct alts *a, const uint32_t *l, size_t n, uint32_t *off)
{
	uint64_t hk = list_hash(l, n);
	size_t h;
	int err;

	if ((a->hn + 1) * 2 > a->hmask + 1 && (err = alts_rehash(a)))
		return err;
	for (h = hk & a->hmask; a->hoff[h]; h = (h + 1) & a->hmask) {
		uint32_t o = a->hoff[h] - 1;

		if (a->hkey[h] == hk && o + n <= a->n && !memcmp(&a->v[o], l, n * sizeof(*l))) {
			*off = o;
			return 0;
		}
	}
	if ((err = pgc_grow((void **)&a->v, &a->cap, a->n + n, sizeof(*a->v))))
		return err;
	memcpy(&a->v[a->n], l, n * sizeof(*l));
	*off = (uint32_t)a->n;
	a->hkey[h] = hk;
	a->hoff[h] = (uint32_t)a->n + 1;
	a->hn++;
	a->n += n;
	return 0;
}

void pgc_alts_free(struct alts *a)
{
	free(a->v);
	free(a->hkey);
	free(a->hoff);
}

/* --------------------------------------------------------------- entries */

/* One (protocol, port) a rule names on a node, before grouping. */
struct pend {
	uint16_t port;
	uint8_t proto;
	uint8_t rank; /* rule_rank() of rule */
	uint32_t rule;
};

struct pends {
	struct pend *v;
	size_t n, cap;
};

/* What the rules of one node say on one (protocol, port). */
struct group {
	long uncond;		   /* the first unconditional rule, or -1 */
	uint32_t list[PG_MAX_ALT]; /* else the conditional ones, in file order */
	size_t nl;
	bool conflict; /* reported; the group gets no entry */
};

/* By protocol and port, then the most specific rules first, then file order. */
static int cmp_pend(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/*
 * How specifically a rule names the cgroups it lands on (portgate.conf(5),
 * "Pod selectors"): 4 for a cgroup path; for a pod selector, 2 when it
 * names a namespace (not "*"), plus 1 when it has a label selector. On one
 * cgroup and one (protocol, port), only the rules of the highest rank there
 * decide, as a nearer cgroup's rules shadow its parent's: "deny pod:* any/1-1023"
 * leaves alone the ports that a rule for the pod's namespace or labels names.
 */
static uint8_t rule_rank(const struct pg_rule *r)
{
	if (!r->pod)
		return 4;
	return (uint8_t)((r->pod->ns ? 2 : 0) + (r->pod->nreqs ? 1 : 0));
}

static const char *proto_word(uint8_t proto)
{
	return proto == PG_P_TCP ? "tcp" : proto == PG_P_UDP ? "udp" : "other";
}

static bool pair_seen(struct seen_pairs *s, uint32_t a, uint32_t b)
{
	uint64_t k = ((uint64_t)a << 32) | b;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == k)
			return true;
	if (!pgc_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
		s->v[s->n++] = k;
	return false;
}

static int protos_of(uint32_t bits, uint8_t out[3])
{
	int n = 0;

	if (bits & PG_PROTO_TCP)
		out[n++] = PG_P_TCP;
	if (bits & PG_PROTO_UDP)
		out[n++] = PG_P_UDP;
	if (bits & PG_PROTO_OTHER)
		out[n++] = PG_P_OTHER;
	return n;
}

static bool rule_has_cond(const struct pg_rule *r)
{
	return r->cond.has_user || r->cond.has_group || r->cond.has_addr;
}

/*
 * The ports of rg that a protect range holds, as pends of proto and rule
 * ri: any/1-65535 visits the 1023 protected ports, not all 65535.
 */
static int pends_protected(const struct pg_policy *p, struct pends *pv, const struct pg_range *rg,
			   uint8_t proto, uint32_t ri)
{
	uint8_t rank = rule_rank(&p->rules[ri]);
	size_t x;
	int err;

	for (x = 0; x < p->nprotect; x++) {
		uint32_t lo = rg->lo > p->protect[x].lo ? rg->lo : p->protect[x].lo;
		uint32_t hi = rg->hi < p->protect[x].hi ? rg->hi : p->protect[x].hi;
		uint32_t port;

		for (port = lo; port <= hi; port++) {
			if ((err = pgc_grow((void **)&pv->v, &pv->cap, pv->n + 1, sizeof(*pv->v))))
				return err;
			pv->v[pv->n++] = (struct pend){ (uint16_t)port, proto, rank, ri };
		}
	}
	return 0;
}

/* Every protected (protocol, port) rule ri names. */
static int rule_pends(const struct pg_policy *p, uint32_t ri, struct pends *pv)
{
	const struct pg_rule *r = &p->rules[ri];
	uint8_t pr[3];
	int np = protos_of(r->protos, pr), k, err;
	size_t q;

	for (k = 0; k < np; k++)
		for (q = 0; q < r->nports; q++)
			if ((err = pends_protected(p, pv, &r->ports[q], pr[k], ri)))
				return err;
	return 0;
}

static void report_conflict(struct pg_compiler *c, const struct pg_cgroup *cg,
			    const struct pend *first, const struct pend *other)
{
	const struct pg_policy *p = c->p;
	const struct pg_rule *a = &p->rules[first->rule], *b = &p->rules[other->rule];

	if (pair_seen(&c->seen, first->rule, other->rule))
		return;
	pg_diags_add(
	    c->diags, PG_SEV_ERROR, b->loc, "%s conflicts with %s at %s:%u on cgroup %s for %s/%u",
	    b->action == PG_ALLOW ? "allow" : "deny", a->action == PG_ALLOW ? "allow" : "deny",
	    p->files[a->loc.file], a->loc.line, cg->path, proto_word(first->proto), first->port);
}

/*
 * The rules of pv[i..pn) while protocol and port stay those of pv[i], into
 * g; conflicts and too many alternatives are reported here. Returns the
 * index after the group.
 */
static size_t group_scan(struct pg_compiler *c, const struct pg_cgroup *cg, const struct pend *pv,
			 size_t i, size_t pn, struct group *g)
{
	const struct pg_rule *first = &c->p->rules[pv[i].rule];
	size_t j;

	for (j = i; j < pn && pv[j].port == pv[i].port && pv[j].proto == pv[i].proto; j++) {
		const struct pg_rule *r = &c->p->rules[pv[j].rule];

		if (pv[j].rank != pv[i].rank)
			continue; /* shadowed by the more specific rules of pv[i] */
		if (r->action != first->action) {
			g->conflict = true;
			report_conflict(c, cg, &pv[i], &pv[j]);
			continue;
		}
		if (!rule_has_cond(r)) {
			if (g->uncond < 0)
				g->uncond = pv[j].rule;
			continue;
		}
		if (g->nl && g->list[g->nl - 1] == pv[j].rule)
			continue;
		if (g->nl == PG_MAX_ALT) {
			if (!pair_seen(&c->seen, pv[j].rule, pv[j].rule))
				pg_diags_add(
				    c->diags, PG_SEV_ERROR, r->loc,
				    "more than %d conditional rules for cgroup %s on %s/%u",
				    PG_MAX_ALT, cg->path, proto_word(pv[i].proto), pv[i].port);
			g->conflict = true;
			continue;
		}
		g->list[g->nl++] = pv[j].rule;
	}
	return j;
}

/* The entry of group g, whose first pend is pd, on node. */
static int add_entry(struct pg_compiler *c, uint32_t node, const struct pend *pd,
		     const struct group *g)
{
	const struct pg_rule *first = &c->p->rules[pd->rule];
	struct pg_ent e = { .node = node,
			    .port = pd->port,
			    .proto = pd->proto,
			    .tag = PG_TAG,
			    .act = first->action == PG_ALLOW ? PG_ACT_ALLOW : PG_ACT_DENY };
	int err;

	if (g->uncond >= 0) {
		e.flags = PG_EF_UNCOND;
		if (pg_rule_audited(c->p, &c->p->rules[g->uncond]))
			e.flags |= PG_EF_AUDIT;
		e.ref = (uint32_t)g->uncond;
	} else {
		if ((err = alts_add(&c->alts, g->list, g->nl, &e.ref)))
			return err;
		e.nalt = (uint8_t)g->nl;
	}
	if ((err = pgc_grow((void **)&c->ents.v, &c->ents.cap, c->ents.n + 1, sizeof(*c->ents.v))))
		return err;
	c->ents.v[c->ents.n++] = e;
	return 0;
}

/* Entries of one node from its rules (indexes into p->rules, ascending). */
static int node_entries(struct pg_compiler *c, const struct pg_cgroup *cg, uint32_t node,
			const uint32_t *rules, size_t nrules)
{
	struct pends pv = { 0 };
	size_t i, j;
	int err = 0;

	for (i = 0; i < nrules && !err; i++)
		err = rule_pends(c->p, rules[i], &pv);
	if (!err && pv.n)
		qsort(pv.v, pv.n, sizeof(*pv.v), cmp_pend);
	for (i = 0; i < pv.n && !err; i = j) {
		struct group g = { .uncond = -1 };

		j = group_scan(c, cg, pv.v, i, pv.n, &g);
		if (!g.conflict)
			err = add_entry(c, node, &pv.v[i], &g);
	}
	free(pv.v);
	return err;
}

/* ----------------------------------------------------------------- nodes */

/* all[cgi] carries rules rl (ascending): a node with its entries, unless too deep. */
static int add_node(struct pg_compiler *c, uint32_t cgi, const uint32_t *rl, size_t nr)
{
	const struct pg_cgroup *cg = &c->all[cgi];
	struct pg_image *out = c->out;
	uint32_t node;
	int err;

	if (cg->level > PG_MAX_LEVEL) {
		pg_diags_add(c->diags, PG_SEV_ERROR, c->p->rules[rl[0]].sel_loc,
			     "cgroup %s is %d levels deep; rules can apply at most %d levels deep",
			     cg->path, cg->level, PG_MAX_LEVEL);
		return 0;
	}
	if (out->nnodes >= PG_MAX_NODES) {
		pg_diags_add(c->diags, PG_SEV_ERROR, c->p->rules[rl[0]].sel_loc,
			     "more than %d cgroups carry rules", PG_MAX_NODES);
		return -E2BIG;
	}
	node = (uint32_t)out->nnodes + 1;
	if ((err = pgc_grow((void **)&out->nodes, &c->nodes_cap, out->nnodes + 1,
			    sizeof(*out->nodes))))
		return err;
	out->nodes[out->nnodes++] =
	    (struct pg_node_out){ cg->id, node, cg->level, cg->path,
				  pgc_trie_find(c->tp, c->ntp, cg->path) >= 0 };
	c->node_of[cgi] = node;
	c->levels |= 1ULL << cg->level;
	return node_entries(c, cg, node, rl, nr);
}

/* Phase: nodes, in tree order, and their entries; then the limits of the whole. */
int pgc_nodes(struct pg_compiler *c)
{
	uint32_t *rl = NULL; /* the rules of one cgroup, each once */
	size_t rlcap = 0, i, j;
	int err = 0;

	for (i = 0; i < c->mn && !err; i = j) {
		size_t nr = 0;

		for (j = i; j < c->mn && c->mv[j].cg == c->mv[i].cg && !err; j++) {
			if (nr && rl[nr - 1] == c->mv[j].rule)
				continue;
			if (!(err = pgc_grow((void **)&rl, &rlcap, nr + 1, sizeof(*rl))))
				rl[nr++] = c->mv[j].rule;
		}
		if (!err)
			err = add_node(c, c->mv[i].cg, rl, nr);
	}
	free(rl);
	if (err)
		return err;
	if (c->diags->nerrors > c->errors0)
		return -EINVAL;
	if (__builtin_popcountll(c->levels) > PG_MAX_LEVELS) {
		pg_diags_add(c->diags, PG_SEV_ERROR, c->p->rules[0].sel_loc,
			     "rules sit at %d different cgroup levels; at most %d can carry rules",
			     __builtin_popcountll(c->levels), PG_MAX_LEVELS);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- cuckoo */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int free_slot(const union pg_block *b)
{
	int i;

	for (i = 0; i < 4; i++)
		if (b->ent[i].tag != PG_TAG)
			return i;
	return -1;
}

/* Place every entry; false when the random walk gives up. */
static bool cuckoo_place(union pg_block *bkt, uint32_t nbkt, uint32_t seed,
			 const struct pg_ent *ents, size_t n)
{
	uint64_t rng = 0x853c49e6748fea9bULL ^ seed;
	size_t i;

	memset(bkt, 0, (size_t)nbkt * sizeof(*bkt));
	for (i = 0; i < n; i++) {
		struct pg_ent e = ents[i];
		int kick;

		for (kick = 0; kick < MAX_KICKS; kick++) {
			uint64_t key = pg_key(e.node, e.proto, e.port);
			uint32_t b1 = pg_bkt1(key, seed, nbkt), b2 = pg_bkt2(key, seed, nbkt), b;
			int s;
			struct pg_ent victim;

			if ((s = free_slot(&bkt[b1])) >= 0) {
				bkt[b1].ent[s] = e;
				break;
			}
			if ((s = free_slot(&bkt[b2])) >= 0) {
				bkt[b2].ent[s] = e;
				break;
			}
			b = (xorshift(&rng) & 1) ? b1 : b2;
			s = (int)(xorshift(&rng) & 3);
			victim = bkt[b].ent[s];
			bkt[b].ent[s] = e;
			e = victim;
		}
		if (kick == MAX_KICKS)
			return false;
	}
	return true;
}

/* Phase: cuckoo placement; grow the table and change the seed until it fits. */
int pgc_cuckoo(struct pg_compiler *c)
{
	int rebuild;

	if (!c->ents.n)
		return 0;
	c->nbkt = (uint32_t)((c->ents.n * LOAD_DEN + 4 * LOAD_NUM - 1) / (4 * LOAD_NUM));
	if (c->nbkt < 2)
		c->nbkt = 2;
	for (rebuild = 0; rebuild < MAX_REBUILDS; rebuild++) {
		union pg_block *nb = realloc(c->bkt, (size_t)c->nbkt * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		c->bkt = nb;
		if (cuckoo_place(c->bkt, c->nbkt, c->seed, c->ents.v, c->ents.n))
			return 0;
		c->seed = c->seed * 2654435761u + 1;
		c->nbkt += c->nbkt / 16 + 1;
	}
	return -E2BIG;
}
