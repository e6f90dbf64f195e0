/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pg_whose.h - whose cgroup decides a bind, and the walk up its ancestors,
 * in the two program variants (included by pg_bind.bpf.c only).
 *
 * PG_SK_CGROUP 1, the "socket" variant (Linux 6.2+): the socket's cgroup,
 * fixed when the socket was made, read through bpf_cast_to_kern_ctx() and
 * sk->sk_cgrp_data.cgroup. Its ancestors are reached by climbing
 * cgroup->self.parent. Every pointer on the way is read with plain loads
 * and used only to load ids: some kernels (seen: 6.18.44) mark pointers
 * walked to from a socket as untrusted and refuse them to every helper and
 * kfunc that takes a cgroup, so no helper ever gets one.
 *
 * PG_SK_CGROUP 0, the "task" variant (Linux 5.10 to 6.1, no
 * bpf_cast_to_kern_ctx): the cgroup of the task calling bind(), and its
 * ancestors, by bpf_get_current_cgroup_id() and
 * bpf_get_current_ancestor_cgroup_id(). It differs from the socket's only
 * for a socket made in one cgroup and bound from another (a process moved
 * between socket() and bind(), or a socket passed over a unix socket):
 * this variant then decides by the binder's cgroup. No bpf_loop() (5.17)
 * either: plain bounded loops, the mkdir program's search in a global
 * function that the verifier checks on its own.
 */
#ifndef PORTGATE_PG_WHOSE_H
#define PORTGATE_PG_WHOSE_H

#ifndef PG_SK_CGROUP
#error "build with -DPG_SK_CGROUP=0 or 1"
#endif

/* The cgroup that decides a bind. */
struct pg_cgref {
	__u64 id;
#if PG_SK_CGROUP
	struct cgroup *cg; /* untrusted: loads only */
	__u32 level;
#endif
};

/*
 * Index of the highest set bit of x != 0, without branches: a value the
 * verifier keeps unknown, so it checks a step once rather than once per
 * possible level.
 */
static __always_inline __u32 pg_fls64(__u64 x)
{
	x |= x >> 1;
	x |= x >> 2;
	x |= x >> 4;
	x |= x >> 8;
	x |= x >> 16;
	x |= x >> 32;
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (__u32)((x * 0x0101010101010101ULL) >> 56) - 1;
}

#if PG_SK_CGROUP

/*
 * The walk, on a cache miss: the deciding cgroup and its ancestors, nearest
 * first, stopping only at the levels set in hdr.levels (levels where some
 * cgroup carries rules), to collect the nodes among them. The chain it
 * finds is cached in the cgroup's pg_nodes entry, so later binds there
 * skip the walk.
 */
struct pg_walk {
	const struct pg_hdr *h;
	__u64 mask;	   /* rule-bearing levels not yet visited */
	struct cgroup *cg; /* at level lvl */
	__u32 lvl;
	__u32 n;		   /* nodes found */
	__u32 node[PG_MAX_LEVELS]; /* nearest first */
};

/* The cgroup with this id, if it is a node of the walk's image. */
static __always_inline void pg_walk_visit(struct pg_walk *w, __u64 id)
{
	__u32 node = pg_node_of(w->h, id);

	if (node && w->n < PG_MAX_LEVELS)
		w->node[w->n++ & (PG_MAX_LEVELS - 1)] = node;
}

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/*
 * The socket's cgroup. Kernel sockets made by kernel threads (NFS and
 * SUNRPC reserved ports) live in the root cgroup and are left to the
 * kernel: *kern is set. Kernel sockets elsewhere are policed: an MPTCP
 * bind reaches the hook through its first subflow, a kernel socket that
 * carries its owner's cgroup.
 */
static __always_inline int pg_whose(struct bpf_sock_addr *ctx, struct pg_cgref *c, int *kern)
{
	struct bpf_sock_addr_kern *kctx = bpf_cast_to_kern_ctx(ctx);
	struct sock *sk = kctx->sk;
	struct cgroup *cg = sk->sk_cgrp_data.cgroup;

	if (!cg)
		return -1;
	c->cg = cg;
	c->id = cg->kn->id;
	c->level = cg->level;
	*kern = c->level == 0 && BPF_CORE_READ_BITFIELD(sk, sk_kern_sock);
	return 0;
}

static __always_inline struct cgroup *pg_parent(struct cgroup *cg)
{
	struct cgroup_subsys_state *p = cg->self.parent;

	return p ? p->cgroup : 0;
}

/* One bpf_loop() step per rule-bearing level: the verifier checks the step
 * once; climbing between them costs two loads per level. */
static long pg_walk_step(__u32 i, void *arg)
{
	struct pg_walk *w = arg;
	struct cgroup *cg = w->cg;
	__u32 target, lvl = w->lvl, k;

	if (!w->mask || !cg)
		return 1;
	target = pg_fls64(w->mask) & 63;
	for (k = 0; k < 64; k++) {
		if (lvl <= target)
			break;
		cg = pg_parent(cg);
		if (!cg)
			return 1;
		lvl--;
	}
	w->cg = cg;
	w->lvl = lvl;
	if (lvl > target)
		return 0; /* a deep cgroup: go on climbing in the next step */
	w->mask &= ~(1ULL << target);
	pg_walk_visit(w, cg->kn->id);
	return 0;
}

static __always_inline void pg_walk_run(struct pg_walk *w, const struct pg_cgref *c)
{
	w->mask = w->h->levels;
	if (c->level < PG_MAX_LEVEL)
		w->mask &= (2ULL << c->level) - 1;
	w->cg = c->cg;
	w->lvl = c->level;
	bpf_loop(1 << 16, pg_walk_step, w, 0);
}

/*
 * w->node[0..w->n): the nodes among the deciding cgroup and its ancestors,
 * nearest first; from the cache in nv when it holds this image's chain,
 * else by the walk, whose result is then cached (a chain longer than the
 * cache is marked so, and walked every time). Returns the cgroup's entry,
 * made if it had none, or NULL when the map is full (correct, only slower).
 */
static __always_inline struct pg_node_val *pg_chain(struct pg_walk *w, const struct pg_cgref *c,
						    struct pg_node_val *nv)
{
	__u32 gen = (__u32)w->h->gen, i;
	__u64 id = c->id;

	w->n = 0;
	if (nv) {
		for (i = 0; i < PG_CHAIN; i++) {
			__u64 ce = *(volatile __u64 *)&nv->chain[i]; /* one load */
			__u32 node = pg_chain_node(ce);

			if (pg_chain_gen(ce) != gen || node == PG_CHAIN_LONG)
				break;
			if (!node)
				return nv;
			w->node[i] = node;
			w->n = i + 1;
		}
	}
	w->n = 0;
	pg_walk_run(w, c);
	if (!nv && !(nv = pg_entry(id)))
		return 0;
	for (i = 0; i < PG_CHAIN; i++) {
		__u32 node = 0;

		if (i < w->n)
			node = i == PG_CHAIN - 1 ? PG_CHAIN_LONG : w->node[i];
		*(volatile __u64 *)&nv->chain[i] = pg_chain_ent(node, gen); /* one store */
		if (!node || node == PG_CHAIN_LONG)
			break;
	}
	return nv;
}

/* The entry of the nearest node with a rule for this protocol and port:
 * one loop step per node, so the verifier checks pg_find() once. */
struct pg_near {
	void *tab;
	const struct pg_walk *w;
	const struct pg_req *rq;
	const struct pg_ent *ent;
};

static long pg_near_step(__u32 i, void *arg)
{
	struct pg_near *n = arg;
	const struct pg_walk *w = n->w;

	if (i >= w->n)
		return 1;
	n->ent = pg_find(n->tab, w->h, w->node[i & (PG_MAX_LEVELS - 1)], n->rq);
	return n->ent ? 1 : 0;
}

static __always_inline const struct pg_ent *pg_nearest(void *tab, const struct pg_walk *w,
						       const struct pg_req *rq)
{
	struct pg_near n = { .tab = tab, .w = w, .rq = rq };

	PG_LOOP(PG_MAX_LEVELS, pg_near_step, &n);
	return n.ent;
}

/*
 * The entry of the nearest node with a rule for this protocol and port,
 * or NULL; *nvp becomes the deciding cgroup's pg_nodes entry, made if it
 * had none (NULL when the map is full).
 */
static __always_inline const struct pg_ent *pg_lookup(void *tab, const struct pg_hdr *h,
						      const struct pg_cgref *c,
						      const struct pg_req *rq,
						      struct pg_node_val **nvp)
{
	struct pg_walk w = { .h = h };

	*nvp = pg_chain(&w, c, *nvp);
	return pg_nearest(tab, &w, rq);
}

#else /* the task variant */

static __always_inline int pg_whose(struct bpf_sock_addr *ctx, struct pg_cgref *c, int *kern)
{
	c->id = bpf_get_current_cgroup_id();
	*kern = 0; /* a kernel thread's bind is decided as its root cgroup's */
	return 0;
}

/*
 * The entry of the nearest node with a rule for this protocol and port,
 * or NULL, in one loop over the rule-bearing levels, deepest first (the
 * helper gives 0 for a level below the task's own). No chain cache: the
 * decision cache serves repeats, and the verifier of old kernels checks
 * one loop, not a walk and a search. *nvp becomes the task cgroup's
 * pg_nodes entry, made if it had none (NULL when the map is full).
 */
static __always_inline const struct pg_ent *pg_lookup(void *tab, const struct pg_hdr *h,
						      const struct pg_cgref *c,
						      const struct pg_req *rq,
						      struct pg_node_val **nvp)
{
	const struct pg_ent *e;
	__u32 i, lvl, node;
	__u64 mask = h->levels, id;

	if (!*nvp)
		*nvp = pg_entry(c->id);
	for (i = 0; i < PG_MAX_LEVELS; i++) {
		if (!mask)
			break;
		lvl = pg_fls64(mask) & 63;
		mask &= ~(1ULL << lvl);
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id || !(node = pg_node_of(h, id)))
			continue;
		e = pg_find(tab, h, node, rq);
		if (e)
			return e;
	}
	return 0;
}

#endif /* PG_SK_CGROUP */

#endif
