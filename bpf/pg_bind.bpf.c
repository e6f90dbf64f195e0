// SPDX-License-Identifier: GPL-2.0
/*
 * pg_bind.bpf.c - the cgroup bind4/bind6 hooks: the bind decision of
 * pg_abi.h ("How a bind is decided"), its counters, its decision cache
 * and its events.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "pg_kern.h"
#include "pg_maps.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load: the kernel honours bind return value 3. */
const volatile __u32 pg_can_bypass = 0;
/* See pg_events.h. */
const volatile __u32 pg_has_pid = 0;
/* See pg_caps.h. */
const volatile __u32 pg_has_caps = 0;
const volatile __u32 pg_has_comm = 0;

/*
 * Counters: a plain array with one row per CPU (percpu arrays cannot vary
 * in size as inner maps); a CPU only adds to its own row.
 */
struct pg_cnts {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};

/* Per-policy counters, indexed by the image's slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct pg_cnts);
} pg_cnt SEC(".maps");

#define PG_INLINE static __always_inline
/* The bucket compare: a global function where it may be (verified once);
 * inline in the task variant, since Linux 5.10's global functions take no
 * pointers ("Arg#0 type PTR in pg_bucket_idx() is not supported yet"). */
#if PG_SK_CGROUP
#define PG_BUCKET_FN __noinline
#endif
#include "pg_decide.h"
#include "pg_events.h"
#include "pg_whose.h"
#include "pg_caps.h"

/*
 * One counter per bind: the deciding rule's, or the verdict's when no rule
 * decided (a rule's verdict follows from its action). A CPU only writes its
 * own row, so a plain increment does; status sums the rows.
 */
static __always_inline void pg_count(__u32 slot, __u32 stride, int verdict, __u32 rule)
{
	void *cnt = bpf_map_lookup_elem(&pg_cnt, &slot);
	__u32 idx = (__u32)verdict;
	__u64 *c;

	if (!cnt)
		return;
	if (rule != ~0u && PG_CNT_RULE0 + rule < stride)
		idx = PG_CNT_RULE0 + rule;
	else if (idx >= PG_V_COUNTED)
		return; /* a rule's verdict whose rule a torn cache pair lost */
	idx += bpf_get_smp_processor_id() * stride;
	c = bpf_map_lookup_elem(cnt, &idx);
	if (c)
		*c += 1;
}

/* What bind() gets for verdict v. */
static __always_inline int pg_ret(int bypass, int v)
{
	int r = pg_verdict_ret(bypass, v);

	/* Keeps the verifier's return range at 0..1 on kernels before 5.12. */
	if (!pg_can_bypass)
		r &= 1;
	return r;
}

/* What bind() gets for verdict v: an audited decision gets 1, the kernel's
 * own check, or where that check runs at a lowered threshold the native
 * outcome pg_audited() found (0 refuses with EPERM, not the kernel's EACCES). */
static __always_inline int pg_bind_ret(int bypass, int v, __u32 audit, int native_ok)
{
	if ((v == PG_V_AUDIT_GRANT || v == PG_V_AUDIT_DENY) && pg_audit_native(audit))
		return native_ok ? 1 : 0;
	return pg_ret(bypass, v);
}

/* The binding task's ids and the address, for user=, group=, addr= and exempt root. */
static __always_inline void pg_who(struct bpf_sock_addr *ctx, struct pg_req *rq, int v6)
{
	__u64 ugid = bpf_get_current_uid_gid();

	rq->uid = (__u32)ugid;
	rq->gid = (__u32)(ugid >> 32);
	rq->fam = v6 ? 6 : 4;
	if (v6) {
		rq->addr[0] = ctx->user_ip6[0];
		rq->addr[1] = ctx->user_ip6[1];
		rq->addr[2] = ctx->user_ip6[2];
		rq->addr[3] = ctx->user_ip6[3];
		/* :: and ::ffff:0.0.0.0 are both the wildcard */
		rq->wild = !rq->addr[0] && !rq->addr[1] &&
			   (!rq->addr[2] || rq->addr[2] == bpf_htonl(0xffff)) && !rq->addr[3];
	} else {
		/* also AF_UNSPEC + INADDR_ANY on an AF_INET socket: user_family 0 */
		rq->addr[0] = rq->addr[1] = 0;
		rq->addr[2] = bpf_htonl(0xffff);
		rq->addr[3] = ctx->user_ip4;
		rq->wild = !rq->addr[3];
	}
}

/* Who and where, unread: what a decision that asks for neither sees. */
static __always_inline void pg_who_unread(struct pg_req *rq)
{
	rq->uid = rq->gid = ~0u;
	rq->wild = 1;
	rq->addr[0] = rq->addr[1] = rq->addr[2] = rq->addr[3] = 0;
}

static __always_inline __u32 pg_proto_class(__u32 protocol)
{
	switch (protocol) {
	case IPPROTO_TCP: /* MPTCP reports IPPROTO_TCP here */
		return PG_P_TCP;
	case IPPROTO_UDP:
		return PG_P_UDP;
	default:
		return PG_P_OTHER;
	}
}

/* The decision cache slot of (proto, port) in a socket cgroup's entry. */
static __always_inline __u32 pg_dc_idx(__u32 port, __u32 proto)
{
	return (port ^ (proto << 1)) & (PG_DC_N - 1);
}

/* One bind, as the steps below learn it. */
struct pg_bind {
	struct pg_req rq;
	struct pg_dec d;
	struct pg_cgref c;
	struct pg_node_val *nv; /* the socket cgroup's pg_nodes entry, or NULL */
	__u64 live;		/* pg_ctl.live, read once */
	__u32 evmask;		/* pg_ctl.evmask, read once */
	__u32 audit;		/* pg_ctl.audit, read once */
	int native_ok;		/* audited: the kernel's own outcome (pg_audited()) */
	__u32 dci;		/* the decision cache slot of this proto and port */
};

/*
 * An audited decision against the kernel's own (pg_abi.h, "Verdicts"): the
 * native outcome is port >= the threshold portgate found, or the task may
 * bind below it (pg_caps.h where the kernel lets the programs read that,
 * else estimated as uid 0). Returns the counter's verdict and rule.
 */
static __always_inline int pg_audited(struct bpf_sock_addr *ctx, struct pg_bind *b, __u32 *rule,
				      int v6)
{
	int enforce_ok = b->d.verdict == PG_V_AUDIT_GRANT, native_ok;

	pg_who(ctx, &b->rq, v6);
	native_ok =
	    b->rq.port >= pg_audit_lo(b->audit) || (pg_has_caps ? pg_capable() : b->rq.uid == 0);
	b->native_ok = native_ok;
	if (enforce_ok == native_ok) {
		b->d.verdict = PG_V_AUDIT_SAME;
		*rule = ~0u;
		return PG_V_KERNEL;
	}
	b->d.verdict = enforce_ok ? PG_V_WOULD_ALLOW : PG_V_WOULD_DENY;
	return b->d.verdict;
}

/* Count a decision and report it to the subscribers that asked; who_read:
 * pg_who() has already filled in who and where. */
static __always_inline void pg_account(struct bpf_sock_addr *ctx, struct pg_bind *b, __u32 slot,
				       __u32 stride, int who_read, int v6)
{
	__u32 rule = b->d.rule;
	int cv = b->d.verdict;

	if (cv == PG_V_AUDIT_GRANT || cv == PG_V_AUDIT_DENY) {
		cv = pg_audited(ctx, b, &rule, v6);
		who_read = 1;
	}
	pg_count(slot, stride, cv, rule);
	if (!b->evmask)
		return;
	if (!who_read)
		pg_who(ctx, &b->rq, v6);
	pg_bind_event(&b->rq, &b->d, b->evmask);
}

/*
 * A repeat of a decision this cgroup already had under the live image:
 * the verdict, with d->rule set, or -1 when the cache has none.
 */
static __always_inline int pg_cached(const struct pg_node_val *nv, __u32 i, __u32 gen,
				     const struct pg_req *rq, struct pg_dec *d)
{
	__u64 dc = *(volatile __u64 *)&nv->dc[i & (PG_DC_N - 1)];
	__u32 r;

	if (pg_dc_key(dc) != pg_dc_key(pg_dc(gen, rq->port, rq->proto, 0)))
		return -1;
	r = nv->dcr[i & (PG_DC_N - 1)];
	if (pg_dcr_gen_is(r, gen) && pg_dcr_rule(r) != PG_DCR_NONE)
		d->rule = pg_dcr_rule(r);
	return pg_dc_verdict(dc);
}

/* Remember verdict v of the image of generation gen for repeats. */
static __always_inline void pg_cache(struct pg_bind *b, __u64 gen, int v)
{
	struct pg_node_val *nv = b->nv;
	__u32 i = b->dci & (PG_DC_N - 1);

	if (!nv)
		return;
	/* tagged with this image's generation: what is cached is its */
	nv->dcr[i] = pg_dcr(gen, b->d.rule == ~0u ? PG_DCR_NONE : b->d.rule);
	*(volatile __u64 *)&nv->dc[i] = pg_dc(gen, b->rq.port, b->rq.proto, v);
}

/* The bind's answer from the decision cache, or -1 when it has none. */
static __always_inline int pg_bind_repeat(struct bpf_sock_addr *ctx, struct pg_bind *b, int v6)
{
	__u32 gen = pg_live_gen(b->live);
	int v;

	if (!b->nv)
		return -1;
	v = pg_cached(b->nv, b->dci, gen, &b->rq, &b->d);
	if (v < 0)
		return -1;
	if (v == PG_V_UNPROTECTED)
		return 1;
	b->d.verdict = v;
	b->d.gen = gen;
	pg_account(ctx, b, pg_live_slot(b->live), pg_live_stride(b->live), 0, v6);
	return pg_bind_ret(pg_live_bypass(b->live), v, b->audit, b->native_ok);
}

/* The active image's table, with *h its header, or NULL if it has none
 * that this object can read. */
static __always_inline void *pg_image(const struct pg_hdr **h)
{
	__u32 zero = 0;
	void *tab = bpf_map_lookup_elem(&pg_cur, &zero);
	const union pg_block *hb = tab ? pg_blk(tab, 0) : 0;

	if (!hb || hb->hdr.magic != PG_MAGIC || hb->hdr.abi != PG_ABI_VERSION)
		return 0;
	*h = &hb->hdr;
	return tab;
}

/* The full decision of a protected port, from the image; cached when it
 * depended on cgroup, protocol and port alone. */
static __always_inline int pg_bind_decide(struct bpf_sock_addr *ctx, struct pg_bind *b, void *tab,
					  const struct pg_hdr *h, int v6)
{
	const struct pg_ent *e;
	int cacheable, v;

	/* Who and where are read only when a condition or root's exemption asks. */
	pg_who_unread(&b->rq);
	e = pg_lookup(tab, h, &b->c, &b->rq, &b->nv);
	cacheable = e ? (e->flags & PG_EF_UNCOND) : !(h->flags & PG_HF_EXEMPT_ROOT);
	if (!cacheable)
		pg_who(ctx, &b->rq, v6);
	v = e ? pg_decide_ent(tab, h, e, &b->rq, &b->d.rule) : pg_default(h, &b->rq);
	b->d.verdict = v;
	b->d.gen = h->gen;
	pg_account(ctx, b, h->slot & 1, h->cnt_stride, !cacheable, v6);
	if (cacheable)
		pg_cache(b, h->gen, v);
	return pg_bind_ret(h->flags & PG_HF_BYPASS, v, b->audit, b->native_ok);
}

/*
 * The bind hooks' body, cheapest answers first: port 0 and ports outside
 * the hull (pg_ctl alone), kernel threads' sockets, a repeat the decision
 * cache holds, then the image: unprotected ports, then the full decision.
 */
static __always_inline int pg_bind(struct bpf_sock_addr *ctx, int v6)
{
	struct pg_bind b; /* filled in step by step: the cheap exits store nothing */
	const struct pg_hdr *h = 0;
	struct pg_ctl *ctl;
	void *tab;
	__u32 hull;
	int kern, r;

	b.rq.port = bpf_ntohs((__u16)ctx->user_port);
	if (!b.rq.port)
		return 1; /* the kernel picks an ephemeral port */
	ctl = pg_ctl_get();
	if (!ctl)
		return 0;
	hull = ctl->hull; /* one load: userspace writes it with one store */
	if (b.rq.port < pg_hull_lo(hull) || b.rq.port > pg_hull_hi(hull))
		return 1;
	b.d = (struct pg_dec){ .rule = ~0u };
	b.native_ok = 1;
	b.live = ctl->live;
	b.evmask = ctl->evmask;
	b.audit = ctl->audit;
	if (pg_whose(ctx, &b.c, &kern))
		return 0;
	if (kern) {
		pg_count(pg_live_slot(b.live), pg_live_stride(b.live), PG_V_KERN_SOCK, ~0u);
		return 1;
	}
	b.d.cgid = b.c.id;
	b.d.proto = ctx->protocol;
	b.rq.proto = pg_proto_class(ctx->protocol);
	b.dci = pg_dc_idx(b.rq.port, b.rq.proto);
	b.nv = bpf_map_lookup_elem(&pg_nodes, &b.c.id);
	r = pg_bind_repeat(ctx, &b, v6);
	if (r >= 0)
		return r;
	tab = pg_image(&h);
	if (!tab) {
		b.d.verdict = PG_V_NO_POLICY;
		pg_account(ctx, &b, 0, 0, 0, v6);
		return 0;
	}
	if (!pg_protected(tab, h, b.rq.port)) {
		pg_cache(&b, h->gen, PG_V_UNPROTECTED);
		return 1;
	}
	return pg_bind_decide(ctx, &b, tab, h, v6);
}

SEC("cgroup/bind4")
int pg_bind4(struct bpf_sock_addr *ctx)
{
	return pg_bind(ctx, 0);
}

SEC("cgroup/bind6")
int pg_bind6(struct bpf_sock_addr *ctx)
{
	return pg_bind(ctx, 1);
}
