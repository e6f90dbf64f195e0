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

/*
 * Set by the loader before load: bind programs may call these helpers
 * (cgroup sock_addr programs got them in different releases). A frozen
 * zero makes the verifier drop the call as dead code.
 */
const volatile __u32 pg_has_pid = 0;
const volatile __u32 pg_has_comm = 0;

/* What a cgroup's pg_nodes entry starts as, when a program makes it. */
const volatile struct pg_node_val pg_nv_zero = {};

/* Sizes, not types: where no global function takes a pg_block (the task
 * variant) clang emits only a forward declaration of it, which libbpf
 * cannot size; and without BTF for the value, none for the key either. */
struct pg_tab {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(union pg_block));
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

/*
 * cgroup id -> node, per image slot, and the socket cgroup's caches: see
 * struct pg_node_val. A hash keyed by id, not cgroup local storage: every
 * kernel has it, and it needs no trusted cgroup pointer, which kernels of
 * one version grant differently (README, "Supported kernels"). The rmdir
 * program deletes a cgroup's entry; ids are never reused within a boot.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PG_NODES_MAX);
	__type(key, __u64);
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
#define PG_INLINE static __always_inline
/* The bucket compare: a global function where it may be (verified once);
 * inline in the task variant, since Linux 5.10's global functions take no
 * pointers ("Arg#0 type PTR in pg_bucket_idx() is not supported yet"). */
#if PG_SK_CGROUP
#define PG_BUCKET_FN __noinline
#endif
#include "pg_decide.h"

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

/*
 * Atomic although per CPU: a program can be preempted on its CPU by another
 * run of itself (preemptible kernels only disable migration), and a plain
 * increment then loses a count; a lost count of lost events would hide a
 * loss from the agent, which resyncs on every counted one.
 */
static __always_inline void pg_stat(__u32 k)
{
	__u64 *c = bpf_map_lookup_elem(&pg_stats, &k);

	if (c)
		__sync_fetch_and_add(c, 1);
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

/* A decision, as counted and reported. */
struct pg_dec {
	__u64 cgid;  /* the deciding cgroup (pg_whose.h) */
	__u64 gen;   /* of the image that decided; 0: none */
	__u32 rule;  /* ~0: no rule */
	__u32 proto; /* IPPROTO_*, for events */
	int verdict;
};

/*
 * A bind decision as an event, for the subscribers that want its kind: rq
 * holds who and where (pg_who() has run), d the decision.
 */
static __always_inline int pg_bind_event(const struct pg_req *rq, const struct pg_dec *d,
					 __u32 mask)
{
	int v = d->verdict, s;
	__u32 bit = pg_denied(v) ? PG_EVM_DENY : PG_EVM_GRANT;
	__u64 now, pid;

	if (!PG_EVM_ANY(mask, bit))
		return 0;
	now = bpf_ktime_get_boot_ns();
	pid = pg_has_pid ? bpf_get_current_pid_tgid() >> 32 : 0;
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
		ev->cgid = d->cgid;
		ev->gen = d->gen;
		ev->pid = (__u32)pid;
		ev->uid = rq->uid;
		ev->gid = rq->gid;
		ev->rule = d->rule;
		ev->addr[0] = rq->addr[0];
		ev->addr[1] = rq->addr[1];
		ev->addr[2] = rq->addr[2];
		ev->addr[3] = rq->addr[3];
		ev->port = (__u16)rq->port;
		ev->kind = PG_EVK_BIND;
		ev->verdict = (__u8)v;
		ev->family = (__u8)rq->fam;
		ev->proto = (__u8)d->proto;
		ev->pad[0] = ev->pad[1] = 0;
		if (pg_has_comm)
			bpf_get_current_comm(ev->comm, sizeof(ev->comm));
		else
			__builtin_memset(ev->comm, 0, sizeof(ev->comm));
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}

/* Count a decision and report it to the subscribers that asked. */
static __always_inline void pg_account(struct bpf_sock_addr *ctx, struct pg_req *rq,
				       const struct pg_dec *d, __u32 slot, __u32 stride,
				       __u32 evmask, int who_read, int v6)
{
	pg_count(slot, stride, d->verdict, d->rule);
	if (!evmask)
		return;
	if (!who_read)
		pg_who(ctx, rq, v6);
	pg_bind_event(rq, d, evmask);
}

/*
 * A cgroup's pg_nodes entry, made empty if it has none, or NULL when the
 * map is full (for a bind: correct, only slower). NOEXIST: a racing bind,
 * mkdir or apply may have made it meanwhile.
 */
static __always_inline struct pg_node_val *pg_entry(__u64 id)
{
	if (!bpf_map_update_elem(&pg_nodes, &id, (void *)&pg_nv_zero, BPF_NOEXIST))
		pg_stat(PG_ST_STORE_NEW);
	return bpf_map_lookup_elem(&pg_nodes, &id);
}

/* The node of the cgroup with this id in the image h, 0 if none. */
static __always_inline __u32 pg_node_of(const struct pg_hdr *h, __u64 id)
{
	const struct pg_node_val *nv = bpf_map_lookup_elem(&pg_nodes, &id);
	__u32 slot = h->slot & 1;

	return nv && nv->gen[slot] == h->gen ? nv->node[slot] : 0;
}

#include "pg_whose.h"

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

/*
 * A repeat of a decision this cgroup already had under the live image:
 * the verdict, with d->rule set, or -1 when the cache has none.
 */
static __always_inline int pg_cached(const struct pg_node_val *nv, __u32 i, __u32 gen,
				     const struct pg_req *rq, struct pg_dec *d)
{
	__u64 dc = *(volatile __u64 *)&nv->dc[i & (PG_DC_N - 1)];
	__u32 r;

	if ((dc & 0x00ffffffffffffffULL) != PG_DC_KEY(gen, rq->port, rq->proto))
		return -1;
	r = nv->dcr[i & (PG_DC_N - 1)];
	if ((r >> 18) == (gen & 0x3fff) && (r & 0x3ffff) != PG_DCR_NONE)
		d->rule = r & 0x3ffff;
	return PG_DC_VERDICT(dc);
}

static __always_inline int pg_bind(struct bpf_sock_addr *ctx, int v6)
{
	const union pg_block *hb;
	const struct pg_hdr *h;
	const struct pg_ent *e;
	struct pg_node_val *nv;
	struct pg_req req, *rq = &req;
	struct pg_dec d = { .rule = ~0u };
	struct pg_cgref c;
	struct pg_ctl *ctl;
	__u32 zero = 0, hull, i;
	__u64 live;
	void *tab;
	int v, cacheable, kern;

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

	if (pg_whose(ctx, &c, &kern))
		return 0;
	if (kern) {
		pg_count(PG_LIVE_SLOT(live), PG_LIVE_STRIDE(live), PG_V_KERN_SOCK, ~0u);
		return 1;
	}
	d.cgid = c.id;
	d.proto = ctx->protocol;
	rq->proto = pg_proto_class(ctx->protocol);

	/* A repeat of a decision this cgroup already had under this image. */
	i = pg_dc_idx(rq->port, rq->proto);
	nv = bpf_map_lookup_elem(&pg_nodes, &c.id);
	if (nv) {
		v = pg_cached(nv, i, PG_LIVE_GEN(live), rq, &d);
		if (v == PG_V_UNPROTECTED)
			return 1;
		if (v >= 0) {
			d.verdict = v;
			d.gen = PG_LIVE_GEN(live);
			pg_account(ctx, rq, &d, PG_LIVE_SLOT(live), PG_LIVE_STRIDE(live),
				   ctl->evmask, 0, v6);
			return pg_ret((live >> 52) & 1, v);
		}
	}

	/* The full decision, from the image. */
	tab = bpf_map_lookup_elem(&pg_cur, &zero);
	hb = tab ? pg_blk(tab, 0) : 0;
	if (!hb || hb->hdr.magic != PG_MAGIC || hb->hdr.abi != PG_ABI_VERSION) {
		d.verdict = PG_V_NO_POLICY;
		pg_account(ctx, rq, &d, 0, 0, ctl->evmask, 0, v6);
		return 0;
	}
	h = &hb->hdr;
	if (!pg_protected(tab, h, rq->port)) {
		v = PG_V_UNPROTECTED;
		goto cache;
	}
	/* Who and where are read only when a condition or root's exemption asks. */
	rq->uid = rq->gid = ~0u;
	rq->wild = 1;
	rq->addr[0] = rq->addr[1] = rq->addr[2] = rq->addr[3] = 0;

	e = pg_lookup(tab, h, &c, rq, &nv);
	cacheable = e ? (e->flags & PG_EF_UNCOND) : !(h->flags & PG_HF_EXEMPT_ROOT);
	if (!cacheable)
		pg_who(ctx, rq, v6);
	v = e ? pg_decide_ent(tab, h, e, rq, &d.rule) : pg_default(h, rq);
	d.verdict = v;
	d.gen = h->gen;
	pg_account(ctx, rq, &d, h->slot & 1, h->cnt_stride, ctl->evmask, !cacheable, v6);
	if (!cacheable)
		return pg_ret(h->flags & PG_HF_BYPASS, v);
cache:
	if (nv) {
		/* tagged with this image's generation: what is cached is its */
		__u32 gen = (__u32)h->gen;

		nv->dcr[i & (PG_DC_N - 1)] = PG_DCR(gen, d.rule == ~0u ? PG_DCR_NONE : d.rule);
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
 * SCTP sockets cannot be created. Key PG_NETNS_ANY: userspace could not
 * learn a namespace's cookie (no SO_NETNS_COOKIE before Linux 5.14), so
 * SCTP is refused in every namespace while one is lowered.
 */
SEC("cgroup/sock_create")
int pg_sockcr(struct bpf_sock *sk)
{
	__u64 cookie, any = PG_NETNS_ANY;

	if (sk->protocol != IPPROTO_SCTP)
		return 1;
	cookie = bpf_get_netns_cookie(sk);
	if (bpf_map_lookup_elem(&pg_netns, &cookie) || bpf_map_lookup_elem(&pg_netns, &any))
		return 0;
	return 1;
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
	PG_LOOP(PG_TRIE_PROBE, pg_mk_step, &f);
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

#if !PG_SK_CGROUP
/*
 * pg_mk_image() for pg_cur (which 0) or pg_next (1), with the parent's
 * entry looked up by its id, for kernels without bpf_loop(): a global
 * function, which the verifier checks once, alone, with unknown
 * arguments. Inlined as a plain loop into the program, the 64 probes'
 * states multiply with the caller's past the verifier's limit.
 */
__noinline int pg_mk_search(__u32 which, __u64 parent_id, __u32 root_parent)
{
	struct pg_node_val *pv = 0;
	struct pg_mk *mk;
	__u32 zero = 0;

	mk = bpf_map_lookup_elem(&pg_mk_scratch, &zero);
	if (!mk)
		return 0;
	if (!root_parent)
		pv = bpf_map_lookup_elem(&pg_nodes, &parent_id);
	if (which)
		pg_mk_image(mk, &pg_next, pv, root_parent);
	else
		pg_mk_image(mk, &pg_cur, pv, root_parent);
	return 0;
}
#endif

/* The agent resolves glob selectors for new cgroups: tell it of each one. */
static __always_inline void pg_mk_notify(__u64 cgid)
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
	ev.cgid = cgid;
	ev.pid = bpf_get_current_pid_tgid() >> 32;
	ev.uid = (__u32)bpf_get_current_uid_gid();
	ev.rule = ~0u;
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	pg_emit(&ev, mask, PG_EVM_MKDIR);
}

/*
 * Only ids are read from the cgroup and its parent, by probe reads: no
 * helper is handed a cgroup pointer, so no kernel's pointer trust rules
 * matter here.
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(pg_mkdir, struct cgroup *cg, const char *path)
{
#if PG_SK_CGROUP
	struct pg_node_val *pv = 0;
#endif
	struct pg_node_val *nv;
	const char *name;
	struct pg_mk *mk;
	__u64 id, pid;
	__u32 zero = 0;
	int level;
	long n;

	if (BPF_CORE_READ(cg, root, hierarchy_id) != 0)
		return 0; /* a cgroup v1 hierarchy */
	pg_stat(PG_ST_MKDIR);
	level = BPF_CORE_READ(cg, level);
	mk = bpf_map_lookup_elem(&pg_mk_scratch, &zero);
	if (level <= 0 || !mk)
		return 0;
	__builtin_memset(mk, 0, sizeof(*mk));
	id = BPF_CORE_READ(cg, kn, id);
	pid = BPF_CORE_READ(cg, self.parent, cgroup, kn, id);
	name = BPF_CORE_READ(cg, kn, name);
	n = bpf_probe_read_kernel_str(mk->name, sizeof(mk->name), name);
	if (n <= 1)
		return 0;
	mk->len = (__u32)n - 1;
#if PG_SK_CGROUP
	if (level > 1)
		pv = bpf_map_lookup_elem(&pg_nodes, &pid);
	pg_mk_image(mk, &pg_cur, pv, level == 1);
	pg_mk_image(mk, &pg_next, pv, level == 1);
#else
	pg_mk_search(0, pid, level == 1);
	pg_mk_search(1, pid, level == 1);
#endif
	pg_mk_notify(id);
	if (!mk->found)
		return 0;
	nv = pg_entry(id);
	if (!nv)
		return 0;
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
	__u64 id;

	if (BPF_CORE_READ(cg, root, hierarchy_id) != 0)
		return 0;
	id = BPF_CORE_READ(cg, kn, id);
	if (!bpf_map_delete_elem(&pg_nodes, &id))
		pg_stat(PG_ST_STORE_DEL);
	return 0;
}
