// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * compile.c - policy + cgroup tree -> policy image (bpf/pg_abi.h).
 *
 * Each cgroup that some selector matches becomes a node. Every (node,
 * protocol class, protected port) that a rule names becomes one entry of a
 * bucketised cuckoo hash table (4 entries per 64-byte bucket, two candidate
 * buckets per key), so a lookup costs at most two array reads whatever the
 * number of rules, and the table fills to ~90% (about 18 bytes per entry).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

struct pg_view {
	const union pg_block *b;
	uint32_t n;
};

#define PG_CTX const struct pg_view *
static inline const union pg_block *pg_blk(const struct pg_view *v, __u32 idx)
{
	return idx < v->n ? &v->b[idx] : NULL;
}
#include "pg_decide.h"

#define LOAD_NUM     9 /* target load: 90% of 4 slots per bucket */
#define LOAD_DEN     10
#define MAX_KICKS    2000
#define MAX_REBUILDS 64

/* ---------------------------------------------------------------- vectors */

static int grow(void **v, size_t *cap, size_t need, size_t elem)
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

/* ------------------------------------------------------ exact path lookup */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

struct path_index {
	uint32_t *slot; /* tree index + 1, 0 empty */
	size_t mask;
};

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

static long path_index_find(const struct path_index *pi, const struct pg_cgroup *tree,
			    const char *path)
{
	size_t h = fnv1a(path) & pi->mask;

	for (; pi->slot[h]; h = (h + 1) & pi->mask)
		if (!strcmp(tree[pi->slot[h] - 1].path, path))
			return (long)pi->slot[h] - 1;
	return -1;
}

/* ------------------------------------------------------------ matching */

struct match {
	uint32_t cg;   /* tree index */
	uint32_t rule; /* policy rule index */
};

static int cmp_match(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->cg != y->cg)
		return x->cg < y->cg ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* ------------------------------------------------------------- entries */

struct pend {
	uint16_t port;
	uint8_t proto;
	uint32_t rule;
};

static int cmp_pend(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static const char *proto_word(uint8_t proto)
{
	return proto == PG_P_TCP ? "tcp" : proto == PG_P_UDP ? "udp" : "other";
}

/* Alternative lists, deduplicated: a range rule with a condition shares one list. */
struct alts {
	uint32_t *v;
	size_t n, cap;
	uint64_t *hkey; /* hash of a list */
	uint32_t *hoff; /* its offset + 1 */
	size_t hmask;
	size_t hn;
};

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
	if ((err = grow((void **)&a->v, &a->cap, a->n + n, sizeof(*a->v))))
		return err;
	memcpy(&a->v[a->n], l, n * sizeof(*l));
	*off = (uint32_t)a->n;
	a->hkey[h] = hk;
	a->hoff[h] = (uint32_t)a->n + 1;
	a->hn++;
	a->n += n;
	return 0;
}

static void alts_free(struct alts *a)
{
	free(a->v);
	free(a->hkey);
	free(a->hoff);
}

struct ents {
	struct pg_ent *v;
	size_t n, cap;
};

/* One pair of conflicting rules is reported once, however many ports or cgroups. */
struct seen_pairs {
	uint64_t *v;
	size_t n, cap;
};

static bool pair_seen(struct seen_pairs *s, uint32_t a, uint32_t b)
{
	uint64_t k = ((uint64_t)a << 32) | b;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == k)
			return true;
	if (!grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
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
 * Entries of one node from its rules (indexes into p->rules, ascending).
 */
static int node_entries(const struct pg_policy *p, const struct pg_cgroup *cg, uint32_t node,
			const uint32_t *rules, size_t nrules, struct ents *ents, struct alts *alts,
			struct seen_pairs *seen, struct pg_diags *diags)
{
	struct pend *pv = NULL;
	size_t pn = 0, pcap = 0, i, j;
	uint32_t list[PG_MAX_ALT];
	int err = 0;

	for (i = 0; i < nrules; i++) {
		const struct pg_rule *r = &p->rules[rules[i]];
		uint8_t pr[3];
		int np = protos_of(r->protos, pr), k;

		for (k = 0; k < np; k++) {
			size_t q;

			/* only the protected part of each range: any/1-65535 visits
			 * the 1023 protected ports, not all 65535 */
			for (q = 0; q < r->nports; q++) {
				size_t x;

				for (x = 0; x < p->nprotect; x++) {
					uint32_t lo = r->ports[q].lo > p->protect[x].lo
							  ? r->ports[q].lo
							  : p->protect[x].lo;
					uint32_t hi = r->ports[q].hi < p->protect[x].hi
							  ? r->ports[q].hi
							  : p->protect[x].hi;
					uint32_t port;

					for (port = lo; port <= hi; port++) {
						if ((err = grow((void **)&pv, &pcap, pn + 1,
								sizeof(*pv))))
							goto out;
						pv[pn++] = (struct pend){ (uint16_t)port, pr[k],
									  rules[i] };
					}
				}
			}
		}
	}
	if (pn)
		qsort(pv, pn, sizeof(*pv), cmp_pend);

	for (i = 0; i < pn; i = j) {
		const struct pg_rule *first = &p->rules[pv[i].rule];
		struct pg_ent e = { .node = node,
				    .port = pv[i].port,
				    .proto = pv[i].proto,
				    .tag = PG_TAG,
				    .act = first->action == PG_ALLOW ? PG_ACT_ALLOW : PG_ACT_DENY };
		long uncond = -1;
		size_t nl = 0;
		bool conflict = false;

		for (j = i; j < pn && pv[j].port == pv[i].port && pv[j].proto == pv[i].proto; j++) {
			const struct pg_rule *r = &p->rules[pv[j].rule];

			if (r->action != first->action) {
				conflict = true;
				if (!pair_seen(seen, pv[i].rule, pv[j].rule)) {
					const struct pg_rule *a = first, *b = r;

					pg_diags_add(
					    diags, PG_SEV_ERROR, b->loc,
					    "%s conflicts with %s at %s:%u on cgroup %s for "
					    "%s/%u",
					    b->action == PG_ALLOW ? "allow" : "deny",
					    a->action == PG_ALLOW ? "allow" : "deny",
					    p->files[a->loc.file], a->loc.line, cg->path,
					    proto_word(pv[i].proto), pv[i].port);
				}
				continue;
			}
			if (!rule_has_cond(r)) {
				if (uncond < 0)
					uncond = pv[j].rule;
				continue;
			}
			if (nl && list[nl - 1] == pv[j].rule)
				continue;
			if (nl == PG_MAX_ALT) {
				if (!pair_seen(seen, pv[j].rule, pv[j].rule))
					pg_diags_add(diags, PG_SEV_ERROR, r->loc,
						     "more than %d conditional rules for cgroup %s "
						     "on %s/%u",
						     PG_MAX_ALT, cg->path, proto_word(pv[i].proto),
						     pv[i].port);
				conflict = true;
				continue;
			}
			list[nl++] = pv[j].rule;
		}
		if (conflict)
			continue;
		if (uncond >= 0) {
			e.flags = PG_EF_UNCOND;
			e.ref = (uint32_t)uncond;
		} else {
			if ((err = alts_add(alts, list, nl, &e.ref)))
				goto out;
			e.nalt = (uint8_t)nl;
		}
		if ((err = grow((void **)&ents->v, &ents->cap, ents->n + 1, sizeof(*ents->v))))
			goto out;
		ents->v[ents->n++] = e;
	}
out:
	free(pv);
	return err;
}

/* --------------------------------------------------------------- cuckoo */

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

/* ---------------------------------------------------------------- image */

static uint32_t blocks_for(size_t n, size_t per)
{
	return (uint32_t)((n + per - 1) / per);
}

static int addr_rec(const struct pg_cond *c, struct pg_addr_rec *a)
{
	uint8_t mask[16] = { 0 };
	int i;

	for (i = 0; i < 16; i++) {
		int bits = (int)c->plen - i * 8;

		mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
	memcpy(a->mask, mask, 16);
	for (i = 0; i < 16; i++)
		mask[i] &= c->addr[i];
	memcpy(a->net, mask, 16);
	return 0;
}

/* ------------------------------------------------------------ path table */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The parent of path ("/a/b" -> "/a", "/a" -> "/") into out. */
static void parent_of(const char *path, char *out, size_t len)
{
	const char *sl = strrchr(path, '/');
	size_t n = sl && sl != path ? (size_t)(sl - path) : 1;

	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = 0;
}

/*
 * Every exact selector and each of its ancestors but "/": the paths of the
 * path table, sorted (so a path's ancestors come before it) and unique.
 */
static int trie_paths(const struct pg_policy *p, char ***out, size_t *n)
{
	char **v = NULL;
	size_t nv = 0, cap = 0, i, j;
	int err = 0;

	for (i = 0; i < p->nrules; i++) {
		const char *sel = p->rules[i].selector, *c;

		if (!pg_selector_is_exact(sel) || !strcmp(sel, "/"))
			continue;
		for (c = sel + 1;; c++) {
			if (*c && *c != '/')
				continue;
			if ((err = grow((void **)&v, &cap, nv + 1, sizeof(*v))))
				goto fail;
			if (!(v[nv] = strndup(sel, (size_t)(c - sel)))) {
				err = -ENOMEM;
				goto fail;
			}
			nv++;
			if (!*c)
				break;
		}
	}
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_str);
	for (i = j = 0; i < nv; i++) {
		if (j && !strcmp(v[j - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	*out = v;
	*n = j;
	return 0;
fail:
	for (i = 0; i < nv; i++)
		free(v[i]);
	free(v);
	return err;
}

static long trie_find(char *const *tp, size_t n, const char *path)
{
	char *const *hit;

	if (!n)
		return -1;
	hit = bsearch(&path, tp, n, sizeof(*tp), cmp_str);
	return hit ? (long)(hit - tp) : -1;
}

/*
 * Place the paths (ancestors first: tp is sorted) in a table of h2->ntrie
 * slots, and their names, granule by granule, in names. tids[i] gets path
 * i's id. Returns the longest probe, or -E2BIG if one exceeds PG_TRIE_PROBE.
 */
static int trie_place(const struct pg_hdr2 *h2, char *const *tp, size_t n,
		      const uint32_t *node_of_tp, struct pg_trie_ent *slots, uint8_t *names,
		      uint32_t *tids)
{
	uint32_t n2 = h2->ntrie, gran = 0, worst = 0;
	char parent[PG_NAME_MAX * (PG_MAX_LEVEL + 2)];
	size_t i;

	memset(slots, 0, (size_t)h2->ntrie * sizeof(*slots));
	for (i = 0; i < n; i++) {
		const char *nm = strrchr(tp[i], '/') + 1;
		size_t len = strlen(nm);
		uint32_t ptid, idx, probe;
		long pi;
		uint64_t hh;

		__u64 nb[PG_NAME_MAX / 8] = { 0 };

		parent_of(tp[i], parent, sizeof(parent));
		pi = strcmp(parent, "/") ? trie_find(tp, n, parent) : -1;
		ptid = pi >= 0 ? tids[pi] : PG_TRIE_ROOT;
		memcpy(nb, nm, len < PG_NAME_MAX ? len : PG_NAME_MAX - 1);
		hh = pg_name_hash(h2->trie_seed, ptid, nb);
		for (probe = 0, idx = (uint32_t)hh % n2; slots[idx].ptid; idx = (idx + 1) % n2)
			if (++probe >= PG_TRIE_PROBE)
				return -E2BIG;
		slots[idx] = (struct pg_trie_ent){ .ptid = ptid,
						   .node = node_of_tp[i],
						   .hash = (uint32_t)hh,
						   .name = pg_tname(gran, (uint32_t)len) };
		tids[i] = idx + 2;
		if (names)
			memcpy(names + (size_t)gran * PG_GRAN, nm, len);
		gran += (uint32_t)((len + PG_GRAN - 1) / PG_GRAN);
		if (probe + 1 > worst)
			worst = probe + 1;
	}
	return (int)worst;
}

uint32_t pg_image_counters(const struct pg_image *img, uint32_t ncpus)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;

	return h->cnt_stride * (ncpus ? ncpus : 1);
}

int pg_compile(const struct pg_policy *p, const struct pg_cgroup *tree, size_t ntree,
	       const struct pg_compile_opts *o, struct pg_image *out, struct pg_diags *diags)
{
	struct path_index pi = { 0 };
	struct match *mv = NULL;
	size_t mn = 0, mcap = 0, i, j;
	struct ents ents = { 0 };
	struct alts alts = { 0 };
	struct seen_pairs seen = { 0 };
	uint32_t *rl = NULL;
	size_t rlcap = 0, nodes_cap = 0;
	union pg_block *bkt = NULL;
	uint32_t nbkt = 0, seed = o->seed, naddr = 0;
	uint64_t levels = 0;
	size_t errors0 = diags->nerrors;
	struct pg_hdr *h;
	struct pg_hdr2 h2 = { 0 };
	uint32_t nblocks, addr_off, alt_off, bkt_off, meta_off, nnames = 0;
	struct pg_cgroup *all = NULL;
	size_t nall = ntree, allcap = 0, ntp = 0;
	char **tp = NULL;
	uint32_t *node_of = NULL, *node_of_tp = NULL, *tids = NULL, *um = NULL;
	bool *tp_deleg = NULL; /* per path of tp: delegated as its nearest existing ancestor */
	size_t um_mask = 0, um_cap = 0;
	struct pg_trie_ent *slots = NULL;
	int err = 0, rebuild;

	memset(out, 0, sizeof(*out));
	if (p->nrules > PG_MAX_RULES)
		return -E2BIG;
	if ((err = path_index_build(&pi, tree, ntree)))
		goto out;

	/*
	 * The tree, plus every exact selector (and ancestor) missing from it: a
	 * cgroup made there later gets its node from the path table, inside
	 * mkdir(2). Such a path is delegated as its nearest existing ancestor is.
	 */
	if ((err = trie_paths(p, &tp, &ntp)))
		goto out;
	if ((err = grow((void **)&all, &allcap, ntree + ntp + 1, sizeof(*all))))
		goto out;
	for (i = 0; i < ntree; i++)
		all[i] = tree[i];
	/* tp is sorted, so a path's parent (in the tree, or in tp) comes first */
	tp_deleg = calloc(ntp + 1, sizeof(*tp_deleg));
	if (!tp_deleg) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ntp; i++) {
		char parent[PG_NAME_MAX * (PG_MAX_LEVEL + 2)];
		long c = path_index_find(&pi, tree, tp[i]), k;

		if (c >= 0) {
			tp_deleg[i] = tree[c].delegated;
			continue;
		}
		parent_of(tp[i], parent, sizeof(parent));
		if ((c = path_index_find(&pi, tree, parent)) >= 0)
			tp_deleg[i] = tree[c].delegated;
		else if ((k = trie_find(tp, ntp, parent)) >= 0)
			tp_deleg[i] = tp_deleg[k];
		all[nall++] = (struct pg_cgroup){ .path = tp[i],
						  .id = 0,
						  .level = pg_selector_depth(tp[i]),
						  .delegated = tp_deleg[i] };
	}
	free(pi.slot);
	pi.slot = NULL;
	if ((err = path_index_build(&pi, all, nall)))
		goto out;
	node_of = calloc(nall + 1, sizeof(*node_of));
	node_of_tp = calloc(ntp + 1, sizeof(*node_of_tp));
	if (!node_of || !node_of_tp) {
		err = -ENOMEM;
		goto out;
	}

	/* Which cgroups each selector names. */
	for (um_mask = 15; um_mask < 2 * p->nrules; um_mask = um_mask * 2 + 1)
		;
	um = calloc(um_mask + 1, sizeof(*um));
	if (!um) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->nrules; i++) {
		const struct pg_rule *r = &p->rules[i];
		bool any = false; /* a cgroup that exists now */

		if (pg_selector_is_exact(r->selector)) {
			long c = path_index_find(&pi, all, r->selector);

			if (c >= 0) {
				if ((err = grow((void **)&mv, &mcap, mn + 1, sizeof(*mv))))
					goto out;
				mv[mn++] = (struct match){ (uint32_t)c, (uint32_t)i };
				any = (size_t)c < ntree;
			}
		} else {
			for (j = 0; j < nall; j++) {
				/* A tenant can name cgroups in a subtree delegated to it:
				 * globs never reach in there (portgate.conf(5)). */
				if (all[j].delegated ||
				    !pg_selector_match(r->selector, all[j].path))
					continue;
				if ((err = grow((void **)&mv, &mcap, mn + 1, sizeof(*mv))))
					goto out;
				mv[mn++] = (struct match){ (uint32_t)j, (uint32_t)i };
				any = any || j < ntree;
			}
		}
		if (!any) {
			/* each selector once, in the order of first use */
			size_t hs = fnv1a(r->selector) & um_mask;

			while (um[hs] && strcmp(out->unmatched[um[hs] - 1], r->selector))
				hs = (hs + 1) & um_mask;
			if (!um[hs]) {
				char *d = strdup(r->selector);

				if (!d || (err = grow((void **)&out->unmatched, &um_cap,
						      out->nunmatched + 1, sizeof(char *)))) {
					free(d);
					err = -ENOMEM;
					goto out;
				}
				out->unmatched[out->nunmatched++] = d;
				um[hs] = (uint32_t)out->nunmatched;
			}
		}
	}
	if (mn)
		qsort(mv, mn, sizeof(*mv), cmp_match);

	/* Nodes, in tree order, and their entries. */
	for (i = 0; i < mn; i = j) {
		const struct pg_cgroup *cg = &all[mv[i].cg];
		size_t nr = 0;
		uint32_t node;

		for (j = i; j < mn && mv[j].cg == mv[i].cg; j++) {
			if (nr && rl[nr - 1] == mv[j].rule)
				continue;
			if ((err = grow((void **)&rl, &rlcap, nr + 1, sizeof(*rl))))
				goto out;
			rl[nr++] = mv[j].rule;
		}
		if (cg->level > PG_MAX_LEVEL) {
			pg_diags_add(
			    diags, PG_SEV_ERROR, p->rules[rl[0]].sel_loc,
			    "cgroup %s is %d levels deep; rules can apply at most %d levels "
			    "deep",
			    cg->path, cg->level, PG_MAX_LEVEL);
			continue;
		}
		if (out->nnodes >= PG_MAX_NODES) {
			pg_diags_add(diags, PG_SEV_ERROR, p->rules[rl[0]].sel_loc,
				     "more than %d cgroups carry rules", PG_MAX_NODES);
			err = -E2BIG;
			goto out;
		}
		node = (uint32_t)out->nnodes + 1;
		if ((err = grow((void **)&out->nodes, &nodes_cap, out->nnodes + 1,
				sizeof(*out->nodes))))
			goto out;
		out->nodes[out->nnodes++] =
		    (struct pg_node_out){ cg->id, node, cg->level, cg->path,
					  trie_find(tp, ntp, cg->path) >= 0 };
		node_of[mv[i].cg] = node;
		levels |= 1ULL << cg->level;
		if ((err = node_entries(p, cg, node, rl, nr, &ents, &alts, &seen, diags)))
			goto out;
	}
	if (diags->nerrors > errors0) {
		err = -EINVAL;
		goto out;
	}
	if (__builtin_popcountll(levels) > PG_MAX_LEVELS) {
		pg_diags_add(diags, PG_SEV_ERROR, p->rules[0].sel_loc,
			     "rules sit at %d different cgroup levels; at most %d can carry rules",
			     __builtin_popcountll(levels), PG_MAX_LEVELS);
		err = -EINVAL;
		goto out;
	}

	/* Cuckoo placement; grow the table and change the seed until it fits. */
	if (ents.n) {
		nbkt = (uint32_t)((ents.n * LOAD_DEN + 4 * LOAD_NUM - 1) / (4 * LOAD_NUM));
		if (nbkt < 2)
			nbkt = 2;
		for (rebuild = 0;; rebuild++) {
			union pg_block *nb;

			if (rebuild == MAX_REBUILDS) {
				err = -E2BIG;
				goto out;
			}
			nb = realloc(bkt, (size_t)nbkt * sizeof(*bkt));
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			bkt = nb;
			if (cuckoo_place(bkt, nbkt, seed, ents.v, ents.n))
				break;
			seed = seed * 2654435761u + 1;
			nbkt += nbkt / 16 + 1;
		}
	}

	/* The path table: 80% full at most, grown until no probe is too long. */
	if (ntp) {
		uint64_t sd = (uint64_t)o->seed * 0x9e3779b97f4a7c15ULL;
		int probe = -E2BIG;

		h2.ntrie = (uint32_t)((ntp * 5 / 4 + 4) & ~(size_t)3);
		tids = calloc(ntp, sizeof(*tids));
		if (!tids) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < ntp; i++) {
			long c = path_index_find(&pi, all, tp[i]);

			node_of_tp[i] = c >= 0 ? node_of[c] : 0;
			nnames +=
			    (uint32_t)((strlen(strrchr(tp[i], '/') + 1) + PG_GRAN - 1) / PG_GRAN);
		}
		for (rebuild = 0; probe < 0 && rebuild < MAX_REBUILDS; rebuild++) {
			struct pg_trie_ent *ns = realloc(slots, (size_t)h2.ntrie * sizeof(*slots));

			if (!ns) {
				err = -ENOMEM;
				goto out;
			}
			slots = ns;
			h2.trie_seed = sd = sd * 6364136223846793005ULL + 1442695040888963407ULL;
			probe = trie_place(&h2, tp, ntp, node_of_tp, slots, NULL, tids);
			if (probe < 0 && rebuild % 4 == 3)
				h2.ntrie += (h2.ntrie / 8 + 4) & ~3u;
		}
		if (probe < 0) {
			err = -E2BIG;
			goto out;
		}
		h2.probe = (uint32_t)probe;
		h2.npaths = (uint32_t)ntp;
	}

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].cond.has_addr)
			naddr++;
	addr_off = PG_RULE_OFF + blocks_for(p->nrules, 4);
	alt_off = addr_off + blocks_for(naddr, 2);
	bkt_off = alt_off + blocks_for(alts.n, 16);
	h2.trie_off = bkt_off + nbkt;
	h2.names_off = h2.trie_off + h2.ntrie / 4;
	meta_off = h2.names_off + blocks_for(nnames, 4);
	nblocks = meta_off;
	if (nblocks > PG_MAX_BLOCKS) {
		err = -E2BIG;
		goto out;
	}
	out->blocks = calloc(nblocks, sizeof(*out->blocks));
	if (!out->blocks) {
		err = -ENOMEM;
		goto out;
	}
	out->nblocks = nblocks;
	out->nents = (uint32_t)ents.n;
	out->nalts = (uint32_t)alts.n;

	h = &out->blocks[0].hdr;
	h->magic = PG_MAGIC;
	h->abi = PG_ABI_VERSION;
	h->slot = o->slot & 1;
	h->def = pg_policy_default(p, o->mode) == PG_DEFAULT_KERNEL ? PG_DEF_KERNEL : PG_DEF_DENY;
	h->flags = (p->exempt_root ? PG_HF_EXEMPT_ROOT : 0) | (o->bypass ? PG_HF_BYPASS : 0) |
		   (p->nprotect == 1 ? PG_HF_PROTECT_RANGE : 0) |
		   (o->mode == PG_MODE_SYSCTL ? PG_HF_SYSCTL : 0) |
		   (pg_policy_has_globs(p) ? PG_HF_GLOBS : 0);
	h->prot_lo = p->nprotect ? p->protect[0].lo : 1;
	h->prot_hi = p->nprotect ? p->protect[p->nprotect - 1].hi : 0;
	h->levels = levels;
	h->gen = o->gen;
	h->addr_off = addr_off;
	h->alt_off = alt_off;
	h->bkt_off = bkt_off;
	h->nbkt = nbkt;
	h->seed = seed;
	h->meta_off = meta_off;
	h->nrules = (uint32_t)p->nrules;
	h->cnt_stride = (PG_CNT_RULE0 + (uint32_t)p->nrules + 7) & ~7u;

	for (i = 0; i < p->nprotect; i++) {
		uint32_t port;

		for (port = p->protect[i].lo; port <= p->protect[i].hi; port++)
			out->blocks[PG_BM_OFF + port / 512].bm[(port % 512) / 8] |=
			    (uint8_t)(1u << (port % 8));
	}
	for (i = 0, naddr = 0; i < p->nrules; i++) {
		const struct pg_rule *r = &p->rules[i];
		struct pg_rule_rec *rr = &out->blocks[PG_RULE_OFF + i / 4].rule[i % 4];

		rr->act = r->action == PG_ALLOW ? PG_ACT_ALLOW : PG_ACT_DENY;
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
			addr_rec(&r->cond, &out->blocks[addr_off + naddr / 2].addr[naddr % 2]);
			naddr++;
		}
	}
	for (i = 0; i < alts.n; i++)
		out->blocks[alt_off + i / 16].alt[i % 16] = alts.v[i];
	if (nbkt)
		memcpy(&out->blocks[bkt_off], bkt, (size_t)nbkt * sizeof(*bkt));
	out->blocks[1].hdr2 = h2;
	if (ntp) {
		trie_place(&h2, tp, ntp, node_of_tp, slots, out->blocks[h2.names_off].bytes, tids);
		memcpy(out->blocks[h2.trie_off].trie, slots, (size_t)h2.ntrie * sizeof(*slots));
	}
	out->paths = calloc(ntp + 1, sizeof(*out->paths));
	if (!out->paths) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ntp; i++)
		out->paths[i] = (struct pg_path_out){ tp[i], tids[i], node_of_tp[i] };
	out->npaths = ntp;
	out->owned = tp; /* the nodes' and paths' strings */
	out->nowned = ntp;
	tp = NULL;
	err = 0;
out:
	if (err)
		pg_image_free(out);
	for (i = 0; tp && i < ntp; i++)
		free(tp[i]);
	free(tp);
	free(all);
	free(node_of);
	free(node_of_tp);
	free(tids);
	free(slots);
	free(um);
	free(tp_deleg);
	free(pi.slot);
	free(mv);
	free(ents.v);
	alts_free(&alts);
	free(seen.v);
	free(rl);
	free(bkt);
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

static const struct pg_hdr *image_hdr(const union pg_block *blocks, uint32_t nblocks)
{
	if (!blocks || !nblocks || blocks[0].hdr.magic != PG_MAGIC ||
	    blocks[0].hdr.abi != PG_ABI_VERSION)
		return NULL;
	return &blocks[0].hdr;
}

int pg_image_path(const union pg_block *blocks, uint32_t nblocks, uint32_t ptid, const char *name,
		  uint32_t *tid, uint32_t *node)
{
	const struct pg_hdr *h = image_hdr(blocks, nblocks);
	struct pg_view v = { blocks, nblocks };
	const struct pg_trie_ent *e;
	__u64 buf[PG_NAME_MAX / 8] = { 0 }, hh;
	size_t len = strlen(name), k;

	if (!h || nblocks < 2 || len >= PG_NAME_MAX)
		return -ENOENT;
	memcpy(buf, name, len);
	hh = pg_name_hash(blocks[1].hdr2.trie_seed, ptid, buf);
	for (k = 0;; k++) {
		int r = pg_path_probe(&v, &blocks[1].hdr2, ptid, buf, (uint32_t)len, hh, (__u32)k,
				      &e, tid);

		if (r < 0)
			return -ENOENT;
		if (r > 0)
			break;
	}
	*node = e->node;
	return 0;
}

bool pg_image_protects(const union pg_block *blocks, uint32_t nblocks, uint32_t port)
{
	struct pg_view v = { blocks, nblocks };
	const struct pg_hdr *h = image_hdr(blocks, nblocks);

	return !h || pg_protected(&v, h, port);
}

int pg_image_decide(const union pg_block *blocks, uint32_t nblocks, const uint32_t *nodes, size_t n,
		    uint32_t port, uint32_t proto, uint32_t uid, uint32_t gid,
		    const uint8_t addr[16], uint32_t *rule, int *depth_idx)
{
	struct pg_view v = { blocks, nblocks };
	const struct pg_hdr *h = image_hdr(blocks, nblocks);
	struct pg_req rq = { .port = port, .proto = proto, .uid = uid, .gid = gid };
	size_t i;

	*rule = ~0u;
	*depth_idx = -1;
	if (!h)
		return PG_V_NO_POLICY;
	memcpy(rq.addr, addr, 16);
	rq.wild = !rq.addr[0] && !rq.addr[1] && (!rq.addr[2] || rq.addr[2] == htobe32(0xffff)) &&
		  !rq.addr[3];
	for (i = 0; i < n; i++) {
		const struct pg_ent *e = pg_find(&v, h, nodes[i], &rq);

		if (e) {
			*depth_idx = (int)i;
			return pg_decide_ent(&v, h, e, &rq, rule);
		}
	}
	return pg_default(h, &rq);
}

int pg_image_ret(const union pg_block *blocks, uint32_t nblocks, int v)
{
	const struct pg_hdr *h = image_hdr(blocks, nblocks);

	return pg_verdict_ret(h && (h->flags & PG_HF_BYPASS), v);
}

const char *pg_verdict_name(int v)
{
	switch (v) {
	case PG_V_GRANT:
		return "grant";
	case PG_V_DENY_RULE:
		return "deny";
	case PG_V_DENY_DEFAULT:
		return "deny-default";
	case PG_V_KERNEL:
		return "kernel";
	case PG_V_EXEMPT:
		return "exempt-root";
	case PG_V_NO_POLICY:
		return "no-policy";
	case PG_V_KERN_SOCK:
		return "kernel-socket";
	default:
		return "?";
	}
}
