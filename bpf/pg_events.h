/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pg_events.h - the event stream (pg_abi.h, "Events"): bind decisions from
 * the bind hooks, new cgroups from the mkdir program, written into the
 * ring buffer of every subscriber that asked for their kind. Included by
 * the objects whose programs emit them.
 *
 * Needs struct pg_req (pg_decide.h) included first.
 */
#ifndef PORTGATE_PG_EVENTS_H
#define PORTGATE_PG_EVENTS_H

#include "pg_maps.h"

/*
 * Set by the loader before load: bind programs may call these helpers
 * (cgroup sock_addr programs got them in different releases). A frozen
 * zero makes the verifier drop the call as dead code. Defined in
 * pg_bind.bpf.c.
 */
extern const volatile __u32 pg_has_pid;
extern const volatile __u32 pg_has_comm;

/* Subscribers' ring buffers. */
struct pg_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PG_EV_RINGSZ);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, PG_EV_SLOTS);
	__type(key, __u32);
	__array(values, struct pg_ring);
} pg_ev SEC(".maps") __weak;

/* The ring of subscriber slot s if it wants events of kind bit, else NULL. */
static __always_inline void *pg_ring_for(__u32 mask, __u32 s, __u32 bit)
{
	if (!pg_evm_has(mask, s, bit))
		return 0;
	return bpf_map_lookup_elem(&pg_ev, &s);
}

/* One event to every subscriber whose mask has bit; a full ring counts a drop. */
static __noinline int pg_emit(struct pg_event *ev, __u32 mask, __u32 bit)
{
	int s;

#pragma unroll
	for (s = 0; s < PG_EV_SLOTS; s++) {
		void *ring = pg_ring_for(mask, s, bit);

		if (ring && bpf_ringbuf_output(ring, ev, sizeof(*ev), 0))
			pg_stat(PG_ST_EV_DROP0 + s);
	}
	return 0;
}

/* A decision, as counted and reported. */
struct pg_dec {
	__u64 cgid;  /* the deciding cgroup (pg_whose.h) */
	__u64 gen;   /* of the image that decided; 0: none */
	__u32 rule;  /* ~0: no rule */
	__u32 proto; /* IPPROTO_*, for events */
	int verdict;
};

static __always_inline int pg_denied(int v)
{
	return v == PG_V_DENY_RULE || v == PG_V_DENY_DEFAULT || v == PG_V_NO_POLICY;
}

/* Reported to the subscribers of refusals: refusals, and the binds whose
 * outcome an audited policy would change (pg_abi.h, "Verdicts"). */
static __always_inline int pg_refusal_like(int v)
{
	return pg_denied(v) || v == PG_V_WOULD_DENY || v == PG_V_WOULD_ALLOW;
}

/* A bind event's fields, from who and where (rq) and the decision (d). */
static __always_inline void pg_bind_event_fill(struct pg_event *ev, const struct pg_req *rq,
					       const struct pg_dec *d, __u64 now, __u32 pid)
{
	ev->time = now;
	ev->cgid = d->cgid;
	ev->gen = d->gen;
	ev->pid = pid;
	ev->uid = rq->uid;
	ev->gid = rq->gid;
	ev->rule = d->rule;
	ev->addr[0] = rq->addr[0];
	ev->addr[1] = rq->addr[1];
	ev->addr[2] = rq->addr[2];
	ev->addr[3] = rq->addr[3];
	ev->port = (__u16)rq->port;
	ev->kind = PG_EVK_BIND;
	ev->verdict = (__u8)d->verdict;
	ev->family = (__u8)rq->fam;
	ev->proto = (__u8)d->proto;
	ev->pad[0] = ev->pad[1] = 0;
	if (pg_has_comm)
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	else
		__builtin_memset(ev->comm, 0, sizeof(ev->comm));
}

/*
 * A bind decision as an event, for the subscribers that want its kind: rq
 * holds who and where (pg_who() has run), d the decision.
 */
static __always_inline void pg_bind_event(const struct pg_req *rq, const struct pg_dec *d,
					  __u32 mask)
{
	__u32 bit = pg_refusal_like(d->verdict) ? PG_EVM_DENY : PG_EVM_GRANT;
	__u64 now, pid;
	int s;

	if (!pg_evm_any(mask, bit))
		return;
	now = bpf_ktime_get_boot_ns();
	pid = pg_has_pid ? bpf_get_current_pid_tgid() >> 32 : 0;
	/* Written in place in each ring: the bind hook's stack has no room. */
#pragma unroll
	for (s = 0; s < PG_EV_SLOTS; s++) {
		void *ring = pg_ring_for(mask, s, bit);
		struct pg_event *ev;

		if (!ring)
			continue;
		ev = bpf_ringbuf_reserve(ring, sizeof(*ev), 0);
		if (!ev) {
			pg_stat(PG_ST_EV_DROP0 + s);
			continue;
		}
		pg_bind_event_fill(ev, rq, d, now, (__u32)pid);
		bpf_ringbuf_submit(ev, 0);
	}
}

/* A cgroup made: the agent resolves glob selectors for new cgroups. */
static __always_inline void pg_mkdir_event(__u64 cgid)
{
	struct pg_event ev = {};
	struct pg_ctl *ctl = pg_ctl_get();
	__u32 mask;

	if (!ctl)
		return;
	mask = ctl->evmask;
	if (!pg_evm_any(mask, PG_EVM_MKDIR))
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

#endif
