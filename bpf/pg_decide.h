/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * pg_decide.h - the decision at one rule-bearing cgroup, compiled twice:
 * into the bind hooks, and into userspace, where `portgate explain` and the
 * tests run it over the live image. One implementation, so explain cannot
 * drift from the kernel.
 *
 * The includer defines PG_CTX (a type) and
 *     static const union pg_block *pg_blk(PG_CTX ctx, __u32 idx);
 * which returns block idx of the image, or NULL when it is out of range.
 * The shapes below (bounded loops, index masks) are what the verifier
 * accepts; see pg_abi.h for the semantics.
 */
#ifndef PORTGATE_PG_DECIDE_H
#define PORTGATE_PG_DECIDE_H

#include "pg_abi.h"

#ifndef PG_INLINE
#define PG_INLINE static inline __attribute__((always_inline))
#endif
#ifdef __clang__
#define PG_UNROLL _Pragma("unroll")
#else
#define PG_UNROLL
#endif
#ifndef PG_BUCKET_FN
#define PG_BUCKET_FN PG_INLINE
#endif

struct pg_req {
	__u32 port;  /* host order, 1..65535 */
	__u32 proto; /* PG_P_* */
	__u32 uid;
	__u32 gid;
	__u32 addr[4]; /* network order; IPv4 as ::ffff:a.b.c.d */
	__u32 wild;    /* bound to 0.0.0.0, :: or ::ffff:0.0.0.0 */
	__u32 fam;     /* 4 or 6: the bind's address family (events only) */
};

PG_INLINE int pg_protected(PG_CTX ctx, const struct pg_hdr *h, __u32 port)
{
	const union pg_block *b;
	__u32 bit;

	if (port < h->prot_lo || port > h->prot_hi)
		return 0;
	if (h->flags & PG_HF_PROTECT_RANGE)
		return 1;
	b = pg_blk(ctx, PG_BM_OFF + ((port >> 9) & 127));
	if (!b)
		return 1; /* a malformed image protects, never opens */
	bit = port & 511;
	return (b->bm[(bit >> 3) & 63] >> (bit & 7)) & 1;
}

PG_INLINE int pg_default(const struct pg_hdr *h, const struct pg_req *rq)
{
	if (h->def == PG_DEF_KERNEL)
		return PG_V_KERNEL;
	if ((h->flags & PG_HF_EXEMPT_ROOT) && rq->uid == 0)
		return PG_V_EXEMPT;
	return (h->flags & PG_HF_AUDIT) ? PG_V_AUDIT_DENY : PG_V_DENY_DEFAULT;
}

/*
 * Index (0..3) of the live entry for (node, proto, port) in bucket b, or -1.
 * The BPF side builds this as a global function so the verifier checks its
 * branches once instead of once per level of the walk.
 */
PG_BUCKET_FN int pg_bucket_idx(const union pg_block *b, __u32 node, __u32 port, __u32 proto)
{
	int i;

	if (!b)
		return -1;
	PG_UNROLL
	for (i = 0; i < 4; i++) {
		const struct pg_ent *e = &b->ent[i];

		if (e->tag == PG_TAG && e->node == node && e->port == port && e->proto == proto)
			return i;
	}
	return -1;
}

PG_INLINE const struct pg_ent *pg_bucket_find(const union pg_block *b, __u32 node,
					      const struct pg_req *rq)
{
	int i;

	if (!b)
		return 0;
	i = pg_bucket_idx(b, node, rq->port, rq->proto);
	if (i < 0)
		return 0;
	return &b->ent[i & 3];
}

PG_INLINE const struct pg_ent *pg_find(PG_CTX ctx, const struct pg_hdr *h, __u32 node,
				       const struct pg_req *rq)
{
	const struct pg_ent *e;
	__u64 key;
	__u32 nbkt = h->nbkt;

	if (!nbkt || !node)
		return 0;
	key = pg_key(node, rq->proto, rq->port);
	e = pg_bucket_find(pg_blk(ctx, h->bkt_off + pg_bkt1(key, h->seed, nbkt)), node, rq);
	if (e)
		return e;
	return pg_bucket_find(pg_blk(ctx, h->bkt_off + pg_bkt2(key, h->seed, nbkt)), node, rq);
}

PG_INLINE int pg_cond_match(PG_CTX ctx, const struct pg_hdr *h, const struct pg_rule_rec *r,
			    const struct pg_req *rq)
{
	const union pg_block *b;
	const struct pg_addr_rec *a;
	int k;

	if ((r->cflags & PG_C_UID) && r->uid != rq->uid)
		return 0;
	if ((r->cflags & PG_C_GID) && r->gid != rq->gid)
		return 0;
	if (!(r->cflags & PG_C_ADDR))
		return 1;
	if (rq->wild)
		return 0; /* a wildcard bind matches only rules without addr= */
	b = pg_blk(ctx, h->addr_off + (r->addr >> 1));
	if (!b)
		return 0;
	a = &b->addr[r->addr & 1];
	PG_UNROLL
	for (k = 0; k < 4; k++)
		if ((rq->addr[k] & a->mask[k]) != a->net[k])
			return 0;
	return 1;
}

/* A rule's verdict: its action, observe-only when audited. */
PG_INLINE int pg_rule_verdict(__u32 act, int audit)
{
	if (audit)
		return act == PG_ACT_ALLOW ? PG_V_AUDIT_GRANT : PG_V_AUDIT_DENY;
	return act == PG_ACT_ALLOW ? PG_V_GRANT : PG_V_DENY_RULE;
}

/*
 * Decide by the entry found at the nearest rule-bearing level: a PG_V_*
 * verdict, with *rule set to the deciding rule (left alone for a default).
 */
PG_INLINE int pg_decide_ent(PG_CTX ctx, const struct pg_hdr *h, const struct pg_ent *e,
			    const struct pg_req *rq, __u32 *rule)
{
	__u32 i, first, nalt;

	if (e->flags & PG_EF_UNCOND) {
		*rule = e->ref;
		return pg_rule_verdict(e->act, e->flags & PG_EF_AUDIT);
	}
	first = e->ref;
	nalt = e->nalt;
	for (i = 0; i < PG_MAX_ALT; i++) {
		const union pg_block *ab, *rb;
		const struct pg_rule_rec *r;
		__u32 idx = first + i, ri;

		if (i >= nalt)
			break;
		ab = pg_blk(ctx, h->alt_off + (idx >> 4));
		if (!ab)
			break;
		ri = ab->alt[idx & 15];
		rb = pg_blk(ctx, PG_RULE_OFF + (ri >> 2));
		if (!rb)
			break;
		r = &rb->rule[ri & 3];
		if (pg_cond_match(ctx, h, r, rq)) {
			*rule = ri;
			return pg_rule_verdict(r->act, r->rflags & PG_RF_AUDIT);
		}
	}
	return pg_default(h, rq);
}

/* What bind() gets for a verdict. */
PG_INLINE int pg_verdict_ret(int bypass, int v)
{
	switch (v) {
	case PG_V_GRANT:
		return bypass ? 3 : 1;
	case PG_V_KERNEL:
	case PG_V_EXEMPT:
	case PG_V_KERN_SOCK:
	case PG_V_AUDIT_GRANT: /* audited: the kernel's own check decides */
	case PG_V_AUDIT_DENY:
		return 1;
	default:
		return 0;
	}
}

/*
 * The path table: the entry for the cgroup called name (len bytes, zero
 * padded to PG_NAME_MAX) under the cgroup whose path id is ptid, or NULL;
 * *tid gets its path id. hash is pg_name_hash over ptid and the name.
 * Linear probing, never more than h2->probe slots; the table has no
 * deletions, so an empty slot ends the search.
 */
PG_INLINE int pg_name_eq(PG_CTX ctx, const struct pg_hdr2 *h2, __u32 gran, __u32 len,
			 const __u64 *name)
{
	__u32 k;

	PG_UNROLL
	for (k = 0; k < PG_NAME_MAX / PG_GRAN; k++) {
		const union pg_block *nb;
		const __u64 *w;
		__u32 g = gran + k;

		if (k * PG_GRAN >= len)
			break;
		nb = pg_blk(ctx, h2->names_off + (g >> 2));
		if (!nb)
			return 0;
		w = (const __u64 *)&nb->bytes[(g & 3) * PG_GRAN];
		if (w[0] != name[(k * 2) & 31] || w[1] != name[(k * 2 + 1) & 31])
			return 0;
	}
	return 1;
}

/*
 * Probe i of the search: 1 with *found set when slot i holds the entry, 0
 * to go on, -1 when the search ends without it. The BPF side runs the
 * probes in bpf_loop(), so the verifier checks one probe, not every one.
 */
PG_INLINE int pg_path_probe(PG_CTX ctx, const struct pg_hdr2 *h2, __u32 ptid, const __u64 *name,
			    __u32 len, __u64 hash, __u32 i, const struct pg_trie_ent **found,
			    __u32 *tid)
{
	const union pg_block *b;
	const struct pg_trie_ent *e;
	__u32 n = h2->ntrie, idx;

	if (!n || !ptid || i >= h2->probe || i >= PG_TRIE_PROBE)
		return -1;
	idx = ((__u32)hash % n + i) % n;
	b = pg_blk(ctx, h2->trie_off + (idx >> 2));
	if (!b)
		return -1;
	e = &b->trie[idx & 3];
	if (!e->ptid)
		return -1;
	if (e->hash != (__u32)hash || e->ptid != ptid || pg_tname_len(e->name) != len ||
	    !pg_name_eq(ctx, h2, pg_tname_gran(e->name), len, name))
		return 0;
	*found = e;
	*tid = idx + 2;
	return 1;
}

#endif
