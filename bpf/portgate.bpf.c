// SPDX-License-Identifier: GPL-2.0
/*
 * portgate.bpf.c - the cgroup bind4/bind6 hooks that enforce a port-bind
 * policy, and the guards that sysctl mode needs. Semantics: pg_abi.h.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/socket.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "pg_kern.h"
#include "pg_abi.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load: the kernel honours bind return value 3. */
const volatile __u32 pg_can_bypass = 0;

struct pg_tab {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union pg_block);
};

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

/* The active policy image. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct pg_tab);
} pg_cur SEC(".maps");

/* The image an apply is installing, from before it scans the cgroup tree
 * until its swap: cgroups made meanwhile get their node in both images. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct pg_tab);
} pg_next SEC(".maps");

/* Subscribers' ring buffers (see pg_abi.h, "Events"). */
struct pg_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PG_EV_RINGSZ);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, PG_EV_SLOTS);
	__type(key, __u32);
	__array(values, struct pg_ring);
} pg_ev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PG_ST__NR);
	__type(key, __u32);
	__type(value, __u64);
} pg_stats SEC(".maps");

/* Per-policy counters, indexed by the image's slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct pg_cnts);
} pg_cnt SEC(".maps");

#ifndef BPF_MAP_TYPE_CGRP_STORAGE
#define BPF_MAP_TYPE_CGRP_STORAGE 32 /* Linux 6.2; newer than Debian 12's headers */
#endif

/* cgroup -> node, per image slot: see struct pg_node_val. */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pg_node_val);
} pg_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_ctl);
} pg_ctl SEC(".maps");

/*
 * Sysctl mode: network namespaces whose ip_unprivileged_port_start
 * portgate lowered, by netns cookie. SCTP sockets are refused there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
} pg_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct pg_saved);
} pg_saved SEC(".maps");

#define PG_CTX void *
static __always_inline const union pg_block *pg_blk(void *tab, __u32 idx)
{
	return bpf_map_lookup_elem(tab, &idx);
}
#define PG_INLINE    static __always_inline
#define PG_BUCKET_FN __noinline
#include "pg_decide.h"

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

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
	idx += bpf_get_smp_processor_id() * stride;
	c = bpf_map_lookup_elem(cnt, &idx);
	if (c)
		*c += 1;
}

static __always_inline void pg_stat(__u32 k)
{
	__u64 *c = bpf_map_lookup_elem(&pg_stats, &k);

	if (c)
		*c += 1;
}

/* One event to every subscriber whose mask has bit; a full ring counts a drop. */
static __noinline int pg_emit(struct pg_event *ev, __u32 mask, __u32 bit)
{
	int s;

#pragma unroll
	for (s = 0; s < PG_EV_SLOTS; s++) {
		__u32 key = s;
		void *ring;

		if (!(mask & (bit << (8 * s))))
			continue;
		ring = bpf_map_lookup_elem(&pg_ev, &key);
		if (ring && bpf_ringbuf_output(ring, ev, sizeof(*ev), 0))
			pg_stat(PG_ST_EV_DROP0 + s);
	}
	return 0;
}

static __always_inline int pg_denied(int v)
{
	return v == PG_V_DENY_RULE || v == PG_V_DENY_DEFAULT || v == PG_V_NO_POLICY;
}

/* A bind decision as an event, for the subscribers that want its kind. */
#define PG_EVW(gen, proto, port, v)                                                                \
	(((__u64)(__u32)(gen) << 32) | ((__u32)(__u8)(proto) << 24) | ((__u32)(port) << 8) |       \
	 (__u8)(v))

/*
 * A bind decision as an event, for the subscribers that want its kind. rq
 * holds who and where (pg_who()); what: PG_EVW(generation, protocol, port,
 * verdict), packed since BPF functions take five arguments.
 */
static __always_inline int pg_bind_event(const struct pg_req *rq, struct cgroup *cg, __u32 mask,
					 __u64 what, __u32 rule)
{
	int v = (__u8)what, s;
	__u32 bit = pg_denied(v) ? PG_EVM_DENY : PG_EVM_GRANT;
	__u64 cgid, now, pid;

	if (!rq || !PG_EVM_ANY(mask, bit))
		return 0;
	cgid = cg ? BPF_CORE_READ(cg, kn, id) : 0;
	now = bpf_ktime_get_boot_ns();
	pid = bpf_get_current_pid_tgid() >> 32;
	/* Written in place in each ring: the bind hook's stack has no room. */
#pragma unroll
	for (s = 0; s < PG_EV_SLOTS; s++) {
		struct pg_event *ev;
		__u32 key = s;
		void *ring;

		if (!(mask & (bit << (8 * s))))
			continue;
		ring = bpf_map_lookup_elem(&pg_ev, &key);
		if (!ring)
			continue;
		ev = bpf_ringbuf_reserve(ring, sizeof(*ev), 0);
		if (!ev) {
			pg_stat(PG_ST_EV_DROP0 + s);
			continue;
		}
		ev->time = now;
		ev->cgid = cgid;
		ev->gen = what >> 32;
		ev->pid = (__u32)pid;
		ev->uid = rq->uid;
		ev->gid = rq->gid;
		ev->rule = rule;
		ev->addr[0] = rq->addr[0];
		ev->addr[1] = rq->addr[1];
		ev->addr[2] = rq->addr[2];
		ev->addr[3] = rq->addr[3];
		ev->port = (__u16)(what >> 8);
		ev->kind = PG_EVK_BIND;
		ev->verdict = (__u8)v;
		ev->family = (__u8)rq->fam;
		ev->proto = (__u8)(what >> 24);
		ev->pad[0] = ev->pad[1] = 0;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}

/* The event of a bind, reading who and where first when not yet read. */
#define PG_BIND_EVENT(gen, v, rule, known)                                                         \
	do {                                                                                       \
		if (!(known))                                                                      \
			pg_who(ctx, rq, v6);                                                       \
		pg_bind_event(rq, cg, ctl->evmask, PG_EVW(gen, ctx->protocol, rq->port, v), rule); \
	} while (0)

static __always_inline struct cgroup *pg_parent(struct cgroup *cg)
{
	struct cgroup_subsys_state *p = cg->self.parent;

	return p ? p->cgroup : 0;
}

/*
 * The walk, on a cache miss: the socket's cgroup and its ancestors, nearest
 * first, stopping only at the levels set in hdr.levels (levels where some
 * cgroup carries rules), to collect the nodes among them. One bpf_loop()
 * step per such level: the verifier checks the step once; climbing between
 * them costs two loads per level. The chain it finds is cached in the
 * socket cgroup's pg_nodes entry, so later binds there skip the walk.
 */
struct pg_walk {
	const struct pg_hdr *h;
	struct cgroup *cg; /* at level lvl */
	__u64 mask;	   /* rule-bearing levels not yet visited */
	__u32 lvl;
	__u32 n;		   /* nodes found */
	__u32 node[PG_MAX_LEVELS]; /* nearest first */
};

/*
 * Index of the highest set bit of x != 0, without branches: a value the
 * verifier keeps unknown, so it checks the step once rather than once per
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

static long pg_walk_step(__u32 i, void *arg)
{
	struct pg_walk *w = arg;
	struct cgroup *cg = w->cg;
	struct pg_node_val *nv;
	__u32 target, lvl = w->lvl, k, slot = w->h->slot & 1;

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
	nv = bpf_cgrp_storage_get(&pg_nodes, cg, 0, 0);
	if (nv && nv->gen[slot] == w->h->gen && nv->node[slot] && w->n < PG_MAX_LEVELS)
		w->node[w->n++ & (PG_MAX_LEVELS - 1)] = nv->node[slot];
	return 0;
}

/*
 * w->node[0..w->n): the nodes among the socket's cgroup and its ancestors,
 * nearest first; from the cache when it holds this image's chain, else by
 * the walk, whose result is then cached (a chain longer than the cache is
 * marked so, and walked every time).
 */
static __always_inline struct pg_node_val *pg_chain(struct pg_walk *w, struct cgroup *cg,
						    struct pg_node_val *nv)
{
	const struct pg_hdr *h = w->h;
	__u32 gen = (__u32)h->gen, lvl, i;

	w->n = 0;
	if (nv) {
		for (i = 0; i < PG_CHAIN; i++) {
			__u64 c = *(volatile __u64 *)&nv->chain[i]; /* one load */
			__u32 node = (__u32)c;

			if ((__u32)(c >> 32) != gen || node == PG_CHAIN_LONG)
				break;
			if (!node)
				return nv;
			w->node[i] = node;
			w->n = i + 1;
		}
	}
	lvl = cg->level;
	w->mask = h->levels;
	if (lvl < PG_MAX_LEVEL)
		w->mask &= (2ULL << lvl) - 1;
	w->cg = cg;
	w->lvl = lvl;
	w->n = 0;
	bpf_loop(1 << 16, pg_walk_step, w, 0);
	if (!nv) {
		nv = bpf_cgrp_storage_get(&pg_nodes, cg, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!nv)
			return 0; /* no memory for the cache: correct, only slower */
		pg_stat(PG_ST_STORE_NEW);
	}
	for (i = 0; i < PG_CHAIN; i++) {
		__u32 node = 0;

		if (i < w->n)
			node = i == PG_CHAIN - 1 ? PG_CHAIN_LONG : w->node[i];
		*(volatile __u64 *)&nv->chain[i] = PG_CHAIN_ENT(node, gen); /* one store */
		if (!node || node == PG_CHAIN_LONG)
			break;
	}
	return nv;
}

/* The entry of the nearest node with a rule for this protocol and port:
 * one bpf_loop() step per node, so the verifier checks pg_find() once. */
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

	bpf_loop(PG_MAX_LEVELS, pg_near_step, &n, 0);
	return n.ent;
}

static __always_inline int pg_ret(int bypass, int v)
{
	int r = pg_verdict_ret(bypass, v);

	/* Keeps the verifier's return range at 0..1 on kernels before 5.12. */
	if (!pg_can_bypass)
		r &= 1;
	return r;
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
		rq->addr[2] = bpf_htonl(0xffff);
		rq->addr[3] = ctx->user_ip4;
		rq->wild = !rq->addr[3];
	}
}

/* The decision cache slot of (proto, port) in a socket cgroup's entry. */
static __always_inline __u32 pg_dc_idx(__u32 port, __u32 proto)
{
	return (port ^ (proto << 1)) & (PG_DC_N - 1);
}

static __always_inline int pg_bind(struct bpf_sock_addr *ctx, int v6)
{
	struct bpf_sock_addr_kern *kctx;
	const union pg_block *hb;
	const struct pg_hdr *h;
	const struct pg_ent *e;
	struct pg_node_val *nv;
	struct pg_walk w;
	struct pg_req req, *rq = &req;
	struct pg_ctl *ctl;
	struct cgroup *cg;
	struct sock *sk;
	__u32 zero = 0, rule = ~0u, hull, i, gen;
	__u64 live, dc;
	void *tab;
	int v, cacheable;

	rq->port = bpf_ntohs((__u16)ctx->user_port);
	if (!rq->port)
		return 1; /* the kernel picks an ephemeral port */
	ctl = bpf_map_lookup_elem(&pg_ctl, &zero);
	if (!ctl)
		return 0;
	hull = ctl->hull; /* one load: userspace writes it with one store */
	if (rq->port < (hull & 0xffff) || rq->port > (hull >> 16))
		return 1;
	live = ctl->live;

	kctx = bpf_cast_to_kern_ctx(ctx);
	sk = kctx->sk;
	cg = sk->sk_cgrp_data.cgroup;
	if (!cg)
		return 0;
	/*
	 * Kernel sockets made by kernel threads (NFS and SUNRPC reserved ports)
	 * live in the root cgroup and are left to the kernel. Kernel sockets
	 * elsewhere are policed: an MPTCP bind reaches this hook through its
	 * first subflow, a kernel socket that carries its owner's cgroup.
	 */
	if (cg->level == 0 && BPF_CORE_READ_BITFIELD(sk, sk_kern_sock)) {
		pg_count(PG_LIVE_SLOT(live), PG_LIVE_STRIDE(live), PG_V_KERN_SOCK, ~0u);
		return 1;
	}
	switch (ctx->protocol) {
	case IPPROTO_TCP: /* MPTCP reports IPPROTO_TCP here */
		rq->proto = PG_P_TCP;
		break;
	case IPPROTO_UDP:
		rq->proto = PG_P_UDP;
		break;
	default:
		rq->proto = PG_P_OTHER;
	}

	/* A repeat of a decision this cgroup already had under this image. */
	i = pg_dc_idx(rq->port, rq->proto);
	gen = PG_LIVE_GEN(live);
	nv = bpf_cgrp_storage_get(&pg_nodes, cg, 0, 0);
	if (nv) {
		dc = *(volatile __u64 *)&nv->dc[i];
		if ((dc & 0x00ffffffffffffffULL) == PG_DC_KEY(gen, rq->port, rq->proto)) {
			__u32 r = nv->dcr[i];

			v = PG_DC_VERDICT(dc);
			if (v == PG_V_UNPROTECTED)
				return 1;
			if ((r >> 18) == (gen & 0x3fff) && (r & 0x3ffff) != PG_DCR_NONE)
				rule = r & 0x3ffff;
			pg_count(PG_LIVE_SLOT(live), PG_LIVE_STRIDE(live), v, rule);
			if (ctl->evmask)
				PG_BIND_EVENT(gen, v, rule, 0);
			return pg_ret((live >> 52) & 1, v);
		}
	}

	/* The full decision, from the image. */
	tab = bpf_map_lookup_elem(&pg_cur, &zero);
	hb = tab ? pg_blk(tab, 0) : 0;
	if (!hb || hb->hdr.magic != PG_MAGIC || hb->hdr.abi != PG_ABI_VERSION) {
		pg_count(0, 0, PG_V_NO_POLICY, ~0u);
		if (ctl->evmask)
			PG_BIND_EVENT(0, PG_V_NO_POLICY, ~0u, 0);
		return 0;
	}
	h = &hb->hdr;
	gen = (__u32)h->gen; /* what is cached is this image's */
	if (!pg_protected(tab, h, rq->port)) {
		v = PG_V_UNPROTECTED;
		goto cache;
	}
	/* Who and where are read only when a condition or root's exemption asks. */
	rq->uid = rq->gid = ~0u;
	rq->wild = 1;
	rq->addr[0] = rq->addr[1] = rq->addr[2] = rq->addr[3] = 0;

	w.h = h;
	nv = pg_chain(&w, cg, nv);
	e = pg_nearest(tab, &w, rq);
	cacheable = e ? (e->flags & PG_EF_UNCOND) : !(h->flags & PG_HF_EXEMPT_ROOT);
	if (!cacheable)
		pg_who(ctx, rq, v6);
	v = e ? pg_decide_ent(tab, h, e, rq, &rule) : pg_default(h, rq);
	pg_count(h->slot & 1, h->cnt_stride, v, rule);
	if (ctl->evmask)
		PG_BIND_EVENT(h->gen, v, rule, !cacheable);
	if (!cacheable)
		return pg_ret(h->flags & PG_HF_BYPASS, v);
cache:
	if (nv) {
		nv->dcr[i & (PG_DC_N - 1)] = PG_DCR(gen, rule == ~0u ? PG_DCR_NONE : rule);
		*(volatile __u64 *)&nv->dc[i & (PG_DC_N - 1)] = PG_DC(gen, rq->port, rq->proto, v);
	}
	return v == PG_V_UNPROTECTED ? 1 : pg_ret(h->flags & PG_HF_BYPASS, v);
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

/*
 * Sysctl mode's autobind hole: once ip_unprivileged_port_start is lowered,
 * ip_local_port_range may be lowered into protected ports and listen(),
 * connect() and sendmsg() autobind them without ever reaching the bind
 * hook. Refuse any write of a local range that meets the protected hull.
 */
static __always_inline int pg_streq(const char *a, const char *b, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static __always_inline int pg_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

SEC("cgroup/sysctl")
int pg_sysctl(struct bpf_sysctl *ctx)
{
#define PG_LPR "net/ipv4/ip_local_port_range"
	char name[sizeof(PG_LPR)] = {}, buf[64] = {}, tail[64] = {};
	unsigned long lo = 0, hi = 0;
	struct pg_ctl *ctl;
	__u32 zero = 0, hull;
	long n, off, i;

	if (!ctx->write)
		return 1;
	n = bpf_sysctl_get_name(ctx, name, sizeof(name), 0);
	if (n != sizeof(PG_LPR) - 1 || !pg_streq(name, PG_LPR, sizeof(PG_LPR) - 1))
		return 1;
	ctl = bpf_map_lookup_elem(&pg_ctl, &zero);
	if (!ctl)
		return 0;
	hull = ctl->hull;
	if (!hull)
		return 1;
	/*
	 * Parse as the kernel does (proc_dointvec: base 0, blanks around), and
	 * refuse anything that does not read as exactly two numbers: what this
	 * cannot read, it cannot vouch for.
	 */
	n = bpf_sysctl_get_new_value(ctx, buf, sizeof(buf));
	if (n < 0 || n >= (long)sizeof(buf))
		return 0;
	off = bpf_strtoul(buf, sizeof(buf), 0, &lo);
	if (off <= 0 || off >= n)
		return 0;
	for (i = 0; i < (long)sizeof(tail) - 1; i++) {
		if (off + i >= n)
			break;
		tail[i] = buf[(off + i) & (sizeof(buf) - 1)];
	}
	if (!pg_blank(tail[0]))
		return 0; /* the kernel needs a blank between the two numbers */
	off = bpf_strtoul(tail, sizeof(tail), 0, &hi);
	if (off <= 0)
		return 0;
	for (i = 0; i < (long)sizeof(tail); i++) {
		char c;

		if (i < off)
			continue;
		c = tail[i & (sizeof(tail) - 1)];
		if (c && !pg_blank(c))
			return 0; /* a third token, or trailing garbage */
	}
	if (lo <= (hull >> 16) && hi >= (hull & 0xffff))
		return 0; /* EPERM: the range would autobind protected ports */
	return 1;
}

/*
 * Sysctl mode's SCTP hole: SCTP binds never reach the bind hook and check
 * only the lowered threshold. In namespaces where portgate lowered it,
 * SCTP sockets cannot be created.
 */
SEC("cgroup/sock_create")
int pg_sockcr(struct bpf_sock *sk)
{
	__u64 cookie;

	if (sk->protocol != IPPROTO_SCTP)
		return 1;
	cookie = bpf_get_netns_cookie(sk);
	return bpf_map_lookup_elem(&pg_netns, &cookie) ? 0 : 1;
}

/*
 * A cgroup made after the apply: inside mkdir(2), before its directory is
 * activated (so before anything can enter it), give it its node and path
 * id from the path table of the active image and of the one being
 * installed, looked up under its parent's path id. See pg_abi.h.
 */
struct pg_mk {
	__u64 name[PG_NAME_MAX / 8]; /* zero padded, as the table stores names */
	__u32 len;
	__u32 found; /* bit per slot */
	__u32 tid[2], node[2];
	__u64 gen[2];
	__u32 searched; /* bit per slot: an image of generation sgen[slot] was */
	__u64 sgen[2];
};

/* Scratch for pg_mkdir (too big for the stack). mkdir and rmdir run under
 * cgroup_mutex, so one program at a time uses it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_mk);
} pg_mk_scratch SEC(".maps");

/* One search of the path table, probe by probe in bpf_loop(). */
struct pg_mkf {
	struct pg_mk *mk;
	void *tab;
	const struct pg_hdr2 *h2;
	const struct pg_trie_ent *e;
	__u64 hash;
	__u32 ptid;
	__u32 tid;
};

static long pg_mk_step(__u32 i, void *arg)
{
	struct pg_mkf *f = arg;
	const struct pg_trie_ent *e = 0;
	__u32 tid = 0;
	int r;

	r = pg_path_probe(f->tab, f->h2, f->ptid, f->mk->name, f->mk->len, f->hash, i, &e, &tid);
	if (r > 0) {
		f->e = e;
		f->tid = tid;
	}
	return r ? 1 : 0;
}

static __always_inline void pg_mk_image(struct pg_mk *mk, void *outer, struct pg_node_val *pv,
					int root_parent)
{
	const union pg_block *hb, *hb2;
	struct pg_mkf f = { .mk = mk };
	__u32 zero = 0, one = 1, slot;

	f.tab = bpf_map_lookup_elem(outer, &zero);
	if (!f.tab)
		return;
	hb = bpf_map_lookup_elem(f.tab, &zero);
	hb2 = bpf_map_lookup_elem(f.tab, &one);
	if (!hb || !hb2 || hb->hdr.magic != PG_MAGIC || hb->hdr.abi != PG_ABI_VERSION)
		return;
	slot = hb->hdr.slot & 1;
	/* pg_next still holds the image now in pg_cur once an apply is over */
	if ((mk->searched >> slot) & 1 && mk->sgen[slot] == hb->hdr.gen)
		return;
	mk->searched |= 1u << slot;
	if (slot) /* branches, not an index: see below */
		mk->sgen[1] = hb->hdr.gen;
	else
		mk->sgen[0] = hb->hdr.gen;
	if (root_parent)
		f.ptid = PG_TRIE_ROOT;
	else if (pv && pv->gen[slot] == hb->hdr.gen)
		f.ptid = pv->tid[slot];
	if (!f.ptid)
		return;
	f.h2 = &hb2->hdr2;
	f.hash = pg_name_hash(hb2->hdr2.trie_seed, f.ptid, mk->name);
	bpf_loop(PG_TRIE_PROBE, pg_mk_step, &f, 0);
	if (!f.e)
		return;
	/* branches, not an index: clang turns &mk->tid[slot] into a pointer OR */
	if (slot) {
		mk->tid[1] = f.tid;
		mk->node[1] = f.e->node;
		mk->gen[1] = hb->hdr.gen;
	} else {
		mk->tid[0] = f.tid;
		mk->node[0] = f.e->node;
		mk->gen[0] = hb->hdr.gen;
	}
	mk->found |= 1u << slot;
}

/* The agent resolves glob selectors for new cgroups: tell it of each one. */
static __always_inline void pg_mk_notify(struct cgroup *cg)
{
	struct pg_event ev = {};
	struct pg_ctl *ctl;
	__u32 zero = 0, mask;

	ctl = bpf_map_lookup_elem(&pg_ctl, &zero);
	if (!ctl)
		return;
	mask = ctl->evmask;
	if (!PG_EVM_ANY(mask, PG_EVM_MKDIR))
		return;
	ev.kind = PG_EVK_MKDIR;
	ev.time = bpf_ktime_get_boot_ns();
	ev.cgid = BPF_CORE_READ(cg, kn, id);
	ev.pid = bpf_get_current_pid_tgid() >> 32;
	ev.uid = (__u32)bpf_get_current_uid_gid();
	ev.rule = ~0u;
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	pg_emit(&ev, mask, PG_EVM_MKDIR);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(pg_mkdir, struct cgroup *cg, const char *path)
{
	struct pg_node_val *pv = 0, *nv;
	struct cgroup *parent;
	const char *name;
	struct pg_mk *mk;
	__u32 zero = 0;
	long n;

	if (BPF_CORE_READ(cg, root, hierarchy_id) != 0)
		return 0; /* a cgroup v1 hierarchy */
	pg_stat(PG_ST_MKDIR);
	parent = pg_parent(cg);
	mk = bpf_map_lookup_elem(&pg_mk_scratch, &zero);
	if (!parent || !mk)
		return 0;
	__builtin_memset(mk, 0, sizeof(*mk));
	name = BPF_CORE_READ(cg, kn, name);
	n = bpf_probe_read_kernel_str(mk->name, sizeof(mk->name), name);
	if (n <= 1)
		return 0;
	mk->len = (__u32)n - 1;
	if (parent->level)
		pv = bpf_cgrp_storage_get(&pg_nodes, parent, 0, 0);
	pg_mk_image(mk, &pg_cur, pv, !parent->level);
	pg_mk_image(mk, &pg_next, pv, !parent->level);
	pg_mk_notify(cg);
	if (!mk->found)
		return 0;
	nv = bpf_cgrp_storage_get(&pg_nodes, cg, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!nv)
		return 0;
	pg_stat(PG_ST_STORE_NEW);
	if (mk->found & 1) {
		nv->node[0] = mk->node[0];
		nv->tid[0] = mk->tid[0];
		nv->gen[0] = mk->gen[0];
	}
	if (mk->found & 2) {
		nv->node[1] = mk->node[1];
		nv->tid[1] = mk->tid[1];
		nv->gen[1] = mk->gen[1];
	}
	pg_stat(mk->node[0] || mk->node[1] ? PG_ST_MKDIR_NODE : PG_ST_MKDIR_PATH);
	return 0;
}

/* A removed cgroup's entry goes with it, whoever made it. */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(pg_rmdir, struct cgroup *cg, const char *path)
{
	if (BPF_CORE_READ(cg, root, hierarchy_id) != 0)
		return 0;
	if (!bpf_cgrp_storage_delete(&pg_nodes, cg))
		pg_stat(PG_ST_STORE_DEL);
	return 0;
}
