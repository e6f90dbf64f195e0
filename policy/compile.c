// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * compile.c - policy + cgroup tree -> policy image (bpf/pg_abi.h).
 *
 * pg_compile() is a pipeline of phases over one struct pg_compiler
 * (compile_int.h): the pods that pod: rules select (compile_pod.c), the
 * paths (the tree and the path table's paths), which cgroups each selector
 * matches, the nodes and their entries and the cuckoo placement
 * (entries.c), the path table (pathtab.c), the layout of the regions, and
 * the emitted blocks. Reading an image back is image.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

int pgc_grow(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static uint32_t blocks_for(size_t n, size_t per)
{
	return (uint32_t)((n + per - 1) / per);
}

/* ------------------------------------------------------ exact path lookup */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

static int path_index_build(struct path_index *pi, const struct pg_cgroup *tree, size_t n)
{
	size_t cap = 16, i;

	while (cap < n * 2)
		cap *= 2;
	pi->slot = calloc(cap, sizeof(*pi->slot));
	if (!pi->slot)
		return -ENOMEM;
	pi->mask = cap - 1;
	for (i = 0; i < n; i++) {
		size_t h = fnv1a(tree[i].path) & pi->mask;

		while (pi->slot[h])
			h = (h + 1) & pi->mask;
		pi->slot[h] = (uint32_t)i + 1;
	}
	return 0;
}

long pgc_path_find(const struct path_index *pi, const struct pg_cgroup *tree, const char *path)
{
	size_t h = fnv1a(path) & pi->mask;

	for (; pi->slot[h]; h = (h + 1) & pi->mask)
		if (!strcmp(tree[pi->slot[h] - 1].path, path))
			return (long)pi->slot[h] - 1;
	return -1;
}

/* ----------------------------------------------------------------- paths */

/* Path i of tp, missing from the tree, joins all[]; deleg[i] as its nearest existing ancestor. */
static void add_missing(struct pg_compiler *c, const struct path_index *tpi, bool *deleg, size_t i)
{
	char parent[PG_NAME_MAX * (PG_MAX_LEVEL + 2)];
	long k = pgc_path_find(tpi, c->tree, c->tp[i]);

	if (k >= 0) {
		deleg[i] = c->tree[k].delegated;
		return;
	}
	pgc_parent_of(c->tp[i], parent, sizeof(parent));
	if ((k = pgc_path_find(tpi, c->tree, parent)) >= 0)
		deleg[i] = c->tree[k].delegated;
	else if ((k = pgc_trie_find(c->tp, c->ntp, parent)) >= 0)
		deleg[i] = deleg[k];
	c->all[c->nall++] = (struct pg_cgroup){ .path = c->tp[i],
						.id = 0,
						.level = pg_selector_depth(c->tp[i]),
						.delegated = deleg[i] };
}

/*
 * Phase: the tree, plus every exact selector (and ancestor) missing from
 * it: a cgroup made there later gets its node from the path table, inside
 * mkdir(2). Such a path is delegated as its nearest existing ancestor is.
 */
static int compile_paths(struct pg_compiler *c)
{
	struct path_index tpi = { 0 }; /* over the tree alone */
	bool *deleg = NULL;	       /* per path of tp */
	size_t i;
	int err;

	if ((err = path_index_build(&tpi, c->tree, c->ntree)) ||
	    (err = pgc_trie_paths(c->p, c->pod_path, c->pod_path ? c->o->pods->n + 1 : 0, &c->tp,
				  &c->ntp)) ||
	    (err = pgc_grow((void **)&c->all, &c->allcap, c->ntree + c->ntp + 1, sizeof(*c->all))))
		goto out;
	for (i = 0; i < c->ntree; i++)
		c->all[i] = c->tree[i];
	c->nall = c->ntree;
	deleg = calloc(c->ntp + 1, sizeof(*deleg));
	if (!deleg) {
		err = -ENOMEM;
		goto out;
	}
	/* tp is sorted, so a path's parent (in the tree, or in tp) comes first */
	for (i = 0; i < c->ntp; i++)
		add_missing(c, &tpi, deleg, i);
	if ((err = path_index_build(&c->pi, c->all, c->nall)))
		goto out;
	c->node_of = calloc(c->nall + 1, sizeof(*c->node_of));
	c->node_of_tp = calloc(c->ntp + 1, sizeof(*c->node_of_tp));
	if (!c->node_of || !c->node_of_tp)
		err = -ENOMEM;
out:
	free(deleg);
	free(tpi.slot);
	return err;
}

/* -------------------------------------------------------------- matching */

static int cmp_match(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->cg != y->cg)
		return x->cg < y->cg ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

int pgc_add_match(struct pg_compiler *c, size_t cg, uint32_t rule)
{
	int err = pgc_grow((void **)&c->mv, &c->mcap, c->mn + 1, sizeof(*c->mv));

	if (!err)
		c->mv[c->mn++] = (struct match){ (uint32_t)cg, rule };
	return err;
}

/* The cgroups of all[] rule i's selector names; *any: one of them exists now. */
static int match_rule(struct pg_compiler *c, uint32_t i, bool *any)
{
	const char *sel = c->p->rules[i].selector;
	size_t j;
	long k;
	int err;

	if (c->p->rules[i].pod)
		return pgc_match_pods(c, i, any);
	if (pg_selector_is_exact(sel)) {
		if ((k = pgc_path_find(&c->pi, c->all, sel)) < 0)
			return 0;
		*any = (size_t)k < c->ntree;
		return pgc_add_match(c, (size_t)k, i);
	}
	for (j = 0; j < c->nall; j++) {
		/* A tenant can name cgroups in a subtree delegated to it:
		 * globs never reach in there (portgate.conf(5)). */
		if (c->all[j].delegated || !pg_selector_match(sel, c->all[j].path))
			continue;
		if ((err = pgc_add_match(c, j, i)))
			return err;
		*any = *any || j < c->ntree;
	}
	return 0;
}

/* sel matches no cgroup now: into out->unmatched once, in the order of first use. */
static int note_unmatched(struct pg_compiler *c, const char *sel, uint32_t *um, size_t um_mask)
{
	struct pg_image *out = c->out;
	size_t hs = fnv1a(sel) & um_mask;
	char *d;

	while (um[hs] && strcmp(out->unmatched[um[hs] - 1], sel))
		hs = (hs + 1) & um_mask;
	if (um[hs])
		return 0;
	d = strdup(sel);
	if (!d ||
	    pgc_grow((void **)&out->unmatched, &c->um_cap, out->nunmatched + 1, sizeof(char *))) {
		free(d);
		return -ENOMEM;
	}
	out->unmatched[out->nunmatched++] = d;
	um[hs] = (uint32_t)out->nunmatched;
	return 0;
}

/* Phase: which cgroups each selector names. */
static int compile_matching(struct pg_compiler *c)
{
	uint32_t *um; /* a set of out->unmatched: index + 1, by hash */
	size_t um_mask, i;
	int err = 0;

	for (um_mask = 15; um_mask < 2 * c->p->nrules; um_mask = um_mask * 2 + 1)
		;
	um = calloc(um_mask + 1, sizeof(*um));
	if (!um)
		return -ENOMEM;
	for (i = 0; i < c->p->nrules && !err; i++) {
		bool any = false; /* a cgroup that exists now */

		err = match_rule(c, (uint32_t)i, &any);
		if (!err && !any)
			err = note_unmatched(c, c->p->rules[i].selector, um, um_mask);
	}
	free(um);
	if (!err && c->mn)
		qsort(c->mv, c->mn, sizeof(*c->mv), cmp_match);
	return err;
}

/* ---------------------------------------------------------------- layout */

/* Phase: where each region starts, in blocks; allocates the image. */
static int compile_layout(struct pg_compiler *c)
{
	const struct pg_policy *p = c->p;
	struct pg_image *out = c->out;
	uint32_t naddr = 0;
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].cond.has_addr)
			naddr++;
	c->addr_off = PG_RULE_OFF + blocks_for(p->nrules, 4);
	c->alt_off = c->addr_off + blocks_for(naddr, 2);
	c->bkt_off = c->alt_off + blocks_for(c->alts.n, 16);
	c->h2.trie_off = c->bkt_off + c->nbkt;
	c->h2.names_off = c->h2.trie_off + c->h2.ntrie / 4;
	c->meta_off = c->h2.names_off + blocks_for(c->nnames, 4);
	if (c->meta_off > PG_MAX_BLOCKS)
		return -E2BIG;
	out->blocks = calloc(c->meta_off, sizeof(*out->blocks));
	if (!out->blocks)
		return -ENOMEM;
	out->nblocks = c->meta_off;
	out->nents = (uint32_t)c->ents.n;
	out->nalts = (uint32_t)c->alts.n;
	return 0;
}

/* ------------------------------------------------------------------ emit */

static void emit_header(const struct pg_compiler *c)
{
	const struct pg_policy *p = c->p;
	const struct pg_compile_opts *o = c->o;
	struct pg_hdr *h = &c->out->blocks[0].hdr;

	h->magic = PG_MAGIC;
	h->abi = PG_ABI_VERSION;
	h->slot = o->slot & 1;
	h->def = pg_policy_default(p, o->mode) == PG_DEFAULT_KERNEL ? PG_DEF_KERNEL : PG_DEF_DENY;
	h->flags = (p->exempt_root ? PG_HF_EXEMPT_ROOT : 0) | (o->bypass ? PG_HF_BYPASS : 0) |
		   (p->nprotect == 1 ? PG_HF_PROTECT_RANGE : 0) |
		   (o->mode == PG_MODE_SYSCTL ? PG_HF_SYSCTL : 0) |
		   (pg_policy_has_globs(p) ? PG_HF_GLOBS : 0) | (p->audit ? PG_HF_AUDIT : 0);
	h->prot_lo = p->nprotect ? p->protect[0].lo : 1;
	h->prot_hi = p->nprotect ? p->protect[p->nprotect - 1].hi : 0;
	h->levels = c->levels;
	h->gen = o->gen;
	h->addr_off = c->addr_off;
	h->alt_off = c->alt_off;
	h->bkt_off = c->bkt_off;
	h->nbkt = c->nbkt;
	h->seed = c->seed;
	h->meta_off = c->meta_off;
	h->nrules = (uint32_t)p->nrules;
	/* + 1: pg_cnt_carried_wa() */
	h->cnt_stride = (pg_cnt_carried_wa((uint32_t)p->nrules) + 1 + 7) & ~7u;
}

static void emit_protect(const struct pg_compiler *c)
{
	const struct pg_policy *p = c->p;
	size_t i;

	for (i = 0; i < p->nprotect; i++) {
		uint32_t port;

		for (port = p->protect[i].lo; port <= p->protect[i].hi; port++)
			c->out->blocks[PG_BM_OFF + port / 512].bm[(port % 512) / 8] |=
			    (uint8_t)(1u << (port % 8));
	}
}

static void addr_rec(const struct pg_cond *cond, struct pg_addr_rec *a)
{
	uint8_t mask[16] = { 0 };
	int i;

	for (i = 0; i < 16; i++) {
		int bits = (int)cond->plen - i * 8;

		mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
	memcpy(a->mask, mask, 16);
	for (i = 0; i < 16; i++)
		mask[i] &= cond->addr[i];
	memcpy(a->net, mask, 16);
}

/* The rule records, and the address records of their addr= conditions. */
static void emit_rules(const struct pg_compiler *c)
{
	const struct pg_policy *p = c->p;
	union pg_block *blocks = c->out->blocks;
	uint32_t naddr = 0;
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		const struct pg_rule *r = &p->rules[i];
		struct pg_rule_rec *rr = &blocks[PG_RULE_OFF + i / 4].rule[i % 4];

		rr->act = r->action == PG_ALLOW ? PG_ACT_ALLOW : PG_ACT_DENY;
		rr->rflags = pg_rule_audited(p, r) ? PG_RF_AUDIT : 0;
		if (r->cond.has_user) {
			rr->cflags |= PG_C_UID;
			rr->uid = r->cond.uid;
		}
		if (r->cond.has_group) {
			rr->cflags |= PG_C_GID;
			rr->gid = r->cond.gid;
		}
		if (r->cond.has_addr) {
			rr->cflags |= PG_C_ADDR;
			rr->addr = naddr;
			addr_rec(&r->cond, &blocks[c->addr_off + naddr / 2].addr[naddr % 2]);
			naddr++;
		}
	}
}

/* The path table's slots and names, and out->paths; out takes the path strings. */
static int emit_paths(struct pg_compiler *c)
{
	struct pg_image *out = c->out;
	size_t i;

	out->blocks[1].hdr2 = c->h2;
	if (c->ntp) {
		pgc_trie_place(&c->h2, c->tp, c->ntp, c->node_of_tp, c->slots,
			       out->blocks[c->h2.names_off].bytes, c->tids);
		memcpy(out->blocks[c->h2.trie_off].trie, c->slots,
		       (size_t)c->h2.ntrie * sizeof(*c->slots));
	}
	out->paths = calloc(c->ntp + 1, sizeof(*out->paths));
	if (!out->paths)
		return -ENOMEM;
	for (i = 0; i < c->ntp; i++)
		out->paths[i] = (struct pg_path_out){ c->tp[i], c->tids[i], c->node_of_tp[i] };
	out->npaths = c->ntp;
	out->owned = c->tp; /* the nodes' and paths' strings */
	out->nowned = c->ntp;
	c->tp = NULL;
	return 0;
}

/* Phase: every region into the blocks the layout allocated. */
static int compile_emit(struct pg_compiler *c)
{
	union pg_block *blocks = c->out->blocks;
	size_t i;

	emit_header(c);
	emit_protect(c);
	emit_rules(c);
	for (i = 0; i < c->alts.n; i++)
		blocks[c->alt_off + i / 16].alt[i % 16] = c->alts.v[i];
	if (c->nbkt)
		memcpy(&blocks[c->bkt_off], c->bkt, (size_t)c->nbkt * sizeof(*c->bkt));
	return emit_paths(c);
}

/* -------------------------------------------------------------- pipeline */

static void compiler_free(struct pg_compiler *c)
{
	size_t i;

	for (i = 0; c->tp && i < c->ntp; i++)
		free(c->tp[i]);
	free(c->tp);
	free(c->all);
	free(c->pi.slot);
	free(c->mv);
	free(c->node_of);
	free(c->ents.v);
	pgc_alts_free(&c->alts);
	free(c->seen.v);
	free(c->bkt);
	free(c->node_of_tp);
	free(c->tids);
	free(c->slots);
	pgc_pods_free(c);
}

int pg_compile(const struct pg_policy *p, const struct pg_cgroup *tree, size_t ntree,
	       const struct pg_compile_opts *o, struct pg_image *out, struct pg_diags *diags)
{
	static int (*const phases[])(struct pg_compiler *) = {
		pgc_pods,   compile_paths,  compile_matching, pgc_nodes,
		pgc_cuckoo, pgc_path_table, compile_layout,   compile_emit,
	};
	struct pg_compiler c = { .p = p,
				 .tree = tree,
				 .ntree = ntree,
				 .o = o,
				 .out = out,
				 .diags = diags,
				 .errors0 = diags->nerrors,
				 .seed = o->seed };
	size_t i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (p->nrules > PG_MAX_RULES)
		return -E2BIG;
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]) && !err; i++)
		err = phases[i](&c);
	if (err)
		pg_image_free(out);
	compiler_free(&c);
	return err;
}

void pg_image_free(struct pg_image *img)
{
	size_t i;

	free(img->blocks);
	free(img->nodes);
	for (i = 0; i < img->nunmatched; i++)
		free(img->unmatched[i]);
	free(img->unmatched);
	free(img->paths);
	for (i = 0; i < img->nowned; i++)
		free(img->owned[i]);
	free(img->owned);
	memset(img, 0, sizeof(*img));
}

int pg_image_set_meta(struct pg_image *img, const char *meta, size_t len)
{
	uint32_t off = img->blocks[0].hdr.meta_off, n = off + blocks_for(len, PG_BLOCK_SIZE);
	union pg_block *nb;

	if (n > PG_MAX_BLOCKS)
		return -E2BIG;
	nb = realloc(img->blocks, (size_t)n * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	memset(&nb[off], 0, (size_t)(n - off) * sizeof(*nb));
	memcpy(&nb[off], meta, len);
	img->blocks = nb;
	img->nblocks = n;
	return 0;
}

uint32_t pg_image_counters(const struct pg_image *img, uint32_t ncpus)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;

	return h->cnt_stride * (ncpus ? ncpus : 1);
}
