/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * pg_abi.h - the contract between portgate's BPF programs and userspace.
 *
 * Everything the bind hooks need to decide a bind lives in one BPF array
 * map, the policy image ("tab"), built whole by userspace and published by
 * a single update of the outer map pg_cur. A bind reads pg_cur[0] once and
 * takes every decision from that one image, so it never sees half a policy:
 * the kernel swaps the inner map pointer atomically and waits for running
 * programs before the update returns (maybe_wait_bpf_programs()).
 *
 * The image is an array of 64-byte blocks:
 *
 *   block 0              struct pg_hdr
 *   block 1              struct pg_hdr2 (the cgroup path table)
 *   blocks 2..129        protect bitmap, one bit per port (65536 bits)
 *   rule_off..           struct pg_rule_rec, 4 per block, one per policy rule
 *   addr_off..           struct pg_addr_rec, 2 per block (addr= conditions)
 *   alt_off..           __u32 rule indexes, 16 per block (see below)
 *   bkt_off..            nbkt cuckoo buckets of 4 struct pg_ent
 *   trie_off..           the path table, 4 struct pg_trie_ent per block
 *   names_off..          the path table's names, in 16-byte granules
 *   meta_off..           opaque bytes for userspace (status, explain)
 *
 * Which cgroups carry rules is kept outside the image, in pg_nodes, a hash
 * keyed by cgroup id: cgroup -> node id, with one value per image slot (0
 * or 1) so that the next image can be prepared while the current one
 * enforces.
 *
 * How a bind is decided
 * ---------------------
 * Port 0, or a port outside the protect set: return 1 (the kernel decides).
 * Otherwise walk the socket's cgroup and its ancestors, nearest first, but
 * only at the levels set in hdr.levels (levels where some cgroup carries
 * rules). At each such level, look the ancestor up in pg_nodes; if it is a
 * node, look (node, protocol class, port) up in the cuckoo table. The
 * first entry found decides:
 *
 *   - PG_EF_UNCOND: the entry's action (ALLOW or DENY) with rule = ref.
 *   - otherwise the entry lists nalt rules (alt[ref .. ref+nalt-1]), all
 *     with the same action; the first whose conditions (user=, group=,
 *     addr=) match gives that action. If none matches, the default applies:
 *     the level still decided, the walk does not go on to the ancestors.
 *
 * No entry at any level: the default (hdr.def) applies. DENY returns 0,
 * ALLOW returns 3 (bypass CAP_NET_BIND_SERVICE, Linux 5.12+, PG_HF_BYPASS)
 * or 1, default KERNEL returns 1, default DENY returns 0 unless
 * PG_HF_EXEMPT_ROOT is set and uid is 0, then 1.
 *
 * Audit rollout (PG_RF_AUDIT, PG_EF_AUDIT, PG_HF_AUDIT): see "Verdicts".
 *
 * Worked example, policy
 *     allow /system.slice/web.service  tcp/80 user=www-data
 *     deny  /system.slice              any/1-1023
 *     default kernel
 * - bind tcp/80 by www-data in /system.slice/web.service/worker:
 *   level 2 (web.service) has an entry for tcp/80, condition matches -> 3.
 * - the same bind by uid 1000: level 2 decides, no condition matches, the
 *   default KERNEL applies -> 1 (and the kernel refuses without the cap).
 * - bind tcp/443 there: no entry at level 2, level 1 (system.slice) denies
 *   -> 0, EPERM.
 * - bind tcp/443 in /user.slice: no level has an entry -> default -> 1.
 *
 * Two caches per socket cgroup, in its pg_nodes entry, make repeats cheap:
 * the chain of its node ancestors (so the walk runs once per cgroup and
 * image), and the decisions of recent binds that depended on cgroup,
 * protocol and port alone (so a repeat costs one lookup). Both are tagged
 * with the image generation and serve only pg_ctl.live's.
 *
 * Cgroups made after the apply (a service restarted, a pod started): the
 * path table maps (parent's path id, name) to (path id, node) for every
 * exact selector and each of its ancestors. The cgroup_mkdir tracepoint
 * program looks the new cgroup up under its parent's path id and, inside
 * mkdir(2) and before the directory can be entered, records its node in
 * pg_nodes: an exact-path grant is in place before anything can bind
 * there, with no agent running. Path id 1 is the cgroup2 root.
 *
 * Invariants that keep a zeroed or stale slot from ever matching: node ids
 * start at 1, a live pg_ent has tag == PG_TAG, the header has magic PG_MAGIC
 * and abi PG_ABI_VERSION; a missing or malformed image denies protected
 * ports (fail closed).
 */
#ifndef PORTGATE_PG_ABI_H
#define PORTGATE_PG_ABI_H

#include <linux/types.h>

#define PG_ABI_VERSION 3
#define PG_MAGIC       0x50474154u /* "PGAT" */
#define PG_TAG	       0xa5
#define PG_BLOCK_SIZE  64

#define PG_BM_OFF    2	 /* first block of the protect bitmap */
#define PG_BM_BLOCKS 128 /* 65536 bits / 512 bits per block */
#define PG_RULE_OFF  (PG_BM_OFF + PG_BM_BLOCKS)

/* Limits, enforced by the compiler and relied on by the BPF loops. */
#define PG_MAX_LEVEL  63 /* deepest cgroup level that can carry rules */
#define PG_MAX_LEVELS 32 /* distinct levels that carry rules (a chain's nodes) */
#define PG_MAX_ALT    16 /* conditional rules per cgroup, proto and port */
#define PG_MAX_RULES  262144
#define PG_MAX_NODES  65536 /* rule-bearing cgroups (pg_nodes entries) */
/* pg_nodes entries in all: nodes, the paths above exact selectors, and the
 * caches of cgroups that bound a protected port. Allocated as used. */
#define PG_NODES_MAX  131072
#define PG_MAX_BLOCKS (1u << 24)

/* Protocol classes: MPTCP reaches the hook as IPPROTO_TCP. */
#define PG_P_TCP   1
#define PG_P_UDP   2
#define PG_P_OTHER 3 /* UDP-Lite and anything else that reaches bind() */

#define PG_ACT_ALLOW 1
#define PG_ACT_DENY  2

#define PG_DEF_DENY   1
#define PG_DEF_KERNEL 2

#define PG_HF_EXEMPT_ROOT   (1u << 0)
#define PG_HF_PROTECT_RANGE (1u << 1) /* protect == [prot_lo, prot_hi] */
#define PG_HF_BYPASS	    (1u << 2) /* a grant returns 3, else 1 */
#define PG_HF_SYSCTL	    (1u << 3) /* image was built for sysctl mode */
#define PG_HF_GLOBS	    (1u << 4) /* some selector is a glob: the agent follows mkdir */
#define PG_HF_AUDIT	    (1u << 5) /* rollout audit: the default's refusals are observe-only */

#define PG_EF_UNCOND (1u << 0)
#define PG_EF_AUDIT  (1u << 1) /* UNCOND: the rule is audited (rollout) */

#define PG_RF_AUDIT (1u << 0) /* pg_rule_rec.rflags: the rule is audited */

#define PG_C_UID  (1u << 0)
#define PG_C_GID  (1u << 1)
#define PG_C_ADDR (1u << 2)

/*
 * Verdicts, also the first counter indexes of the per-policy counters.
 * Audit: an audited rule (or the default, PG_HF_AUDIT) decides AUDIT_GRANT
 * or AUDIT_DENY; the bind gets the kernel's own outcome, and is reported
 * as WOULD_ALLOW (enforcement grants what the kernel refuses), WOULD_DENY
 * (the reverse) or AUDIT_SAME. A rule's counter counts its would-be
 * changes; AUDIT_SAME counts as KERNEL, the default's WOULD_DENY here.
 */
enum pg_verdict {
	PG_V_GRANT = 0,	   /* an allow rule matched */
	PG_V_DENY_RULE,	   /* a deny rule matched */
	PG_V_DENY_DEFAULT, /* no rule; default deny */
	PG_V_KERNEL,	   /* no rule; default kernel */
	PG_V_EXEMPT,	   /* no rule; default deny, exempt root, uid 0 */
	PG_V_NO_POLICY,	   /* protected port but no valid image: denied */
	PG_V_KERN_SOCK,	   /* kernel thread's socket (root cgroup): left to the kernel */
	PG_V__NR,
};
#define PG_CNT_RULE0	 8 /* counter index of rule 0 */
#define PG_V_UNPROTECTED 7 /* decision cache only: not protected, not counted */
/* Audit: counted at PG_V_UNPROTECTED's index, which the cache's value never
 * reaches the counters with; older images leave it 0 (no ABI change). */
#define PG_V_WOULD_DENY	 7 /* counters and events: audited, would refuse */
#define PG_V_WOULD_ALLOW 8 /* events only (counted on its rule): would grant */
#define PG_V_AUDIT_SAME	 9 /* events only (counted as PG_V_KERNEL): both agree */
/* Decisions of an audited rule or default, before the per-bind resolution;
 * cached and returned by pg_decide.h, never counted or reported as such. */
#define PG_V_AUDIT_GRANT 10 /* enforcement would grant */
#define PG_V_AUDIT_DENY	 11 /* enforcement would refuse (rule, or the default) */
#define PG_V_COUNTED	 8  /* counter indexes of verdicts: 0..PG_V_COUNTED-1 */
#define PG_V_SHOWN	 9  /* verdicts status and metrics show: 0..PG_V_SHOWN-1 */
#define PG_MAX_CPUS	 4096

struct pg_hdr {
	__u32 magic;
	__u16 abi;
	__u8 slot; /* pg_nodes value slot and pg_cnt slot of this image */
	__u8 def;  /* PG_DEF_* */
	__u32 flags;
	__u16 prot_lo; /* smallest protected port */
	__u16 prot_hi; /* largest protected port */
	__u64 levels;  /* bit l set: a cgroup at level l carries rules */
	__u64 gen;     /* policy generation: only ever grows, may skip numbers */
	__u32 addr_off;
	__u32 alt_off;
	__u32 bkt_off;
	__u32 nbkt; /* cuckoo buckets; 0 if the policy has no rules */
	__u32 seed;
	__u32 meta_off;
	__u32 nrules;
	__u32 cnt_stride; /* counters: cpu * cnt_stride + index */
};

#define PG_TRIE_ROOT  1	  /* path id of the cgroup2 root; entry i has path id i + 2 */
#define PG_TRIE_PROBE 64  /* longest probe sequence the compiler may leave */
#define PG_NAME_MAX   256 /* cgroup name bytes with the NUL (NAME_MAX + 1) */
#define PG_GRAN	      16  /* names are stored in 16-byte granules */

struct pg_hdr2 {
	__u32 trie_off;
	__u32 ntrie; /* slots, a multiple of 4; 0: no exact selectors */
	__u32 names_off;
	__u32 probe; /* longest probe sequence, <= PG_TRIE_PROBE */
	__u64 trie_seed;
	__u32 npaths; /* live entries */
	__u32 pad[9];
};

/*
 * (ptid, name) -> node, 4 per block; the entry in slot i is the cgroup with
 * path id i + 2. name: pg_tname(granule index, length); the name starts at
 * granule g of the names region, zero-padded to whole granules, so names
 * compare 16 bytes at a time.
 */
struct pg_trie_ent {
	__u32 ptid; /* 0: an empty slot (path ids start at 1) */
	__u32 node; /* 0: a path on the way to a selector, not a node */
	__u32 hash; /* low 32 bits of the name hash */
	__u32 name;
};

struct pg_ent {
	__u32 node; /* 0 never matches */
	__u16 port; /* host order */
	__u8 proto; /* PG_P_* */
	__u8 tag;   /* PG_TAG when live */
	__u32 ref;  /* rule index (UNCOND) or first alt index */
	__u8 act;   /* PG_ACT_* */
	__u8 flags; /* PG_EF_* */
	__u8 nalt;  /* 1..PG_MAX_ALT when not UNCOND */
	__u8 pad;
};

struct pg_rule_rec {
	__u8 act;
	__u8 cflags; /* PG_C_* */
	__u8 rflags; /* PG_RF_* */
	__u8 pad;
	__u32 uid;
	__u32 gid;
	__u32 addr; /* index of a pg_addr_rec when PG_C_ADDR */
};

/* IPv6 or IPv4-mapped network and mask, network byte order. */
struct pg_addr_rec {
	__u32 net[4];
	__u32 mask[4];
};

union pg_block {
	struct pg_hdr hdr;
	struct pg_hdr2 hdr2;
	struct pg_trie_ent trie[4];
	__u8 bm[64];
	struct pg_rule_rec rule[4];
	struct pg_addr_rec addr[2];
	__u32 alt[16];
	struct pg_ent ent[4];
	__u8 bytes[64];
};

/*
 * pg_nodes, keyed by cgroup id: the node a cgroup is in each image slot. A
 * slot counts only while its gen is the gen of the image reading it, so a
 * value left by an apply that died before its swap, or by an older image,
 * can never match; the rmdir program deletes a cgroup's entry with the
 * cgroup, and ids are not reused within a boot.
 */
#define PG_CHAIN      6 /* nodes cached per socket cgroup; more: always walk */
#define PG_CHAIN_LONG 0xffffffffu
#define PG_DC_N	      4 /* decision cache entries per socket cgroup */

struct pg_node_val {
	__u32 node[2]; /* node id in the image of slot 0 / slot 1 */
	__u64 gen[2];  /* ... valid for the image of this generation only */
	__u32 tid[2];  /* path id (the path table), 0 if none, same slots */
	/*
	 * Written by the bind hooks, for this cgroup as a socket's cgroup: its
	 * nearest cgroups that are nodes (itself included), nearest first, so
	 * that a bind costs a lookup per rule-bearing ancestor, not a climb
	 * through every level. Each entry is one aligned 8-byte store checked
	 * on its own gen: a reader racing a writer sees old (ignored) or new.
	 */
	__u64 chain[PG_CHAIN];
	/*
	 * The decision cache, also for this cgroup as a socket's cgroup: the
	 * verdicts of recent binds that depended only on cgroup, protocol and
	 * port (no user=, group=, addr=, no root exemption), so that a repeat
	 * costs this one lookup. dc[i] = pg_dc(gen, port, proto, verdict), one
	 * store; dcr[i] = pg_dcr(gen, rule), for the counters: a torn pair can
	 * only misattribute one count, never change a verdict.
	 */
	__u64 dc[PG_DC_N];
	__u32 dcr[PG_DC_N];
};

/*
 * Events: bind decisions (and, for the agent, new cgroups) streamed to up to
 * PG_EV_SLOTS subscribers, each with its own ring buffer in pg_ev[slot] and
 * its wishes in pg_ctl.evmask. A full ring drops the event and counts it in
 * pg_stats[PG_ST_EV_DROP0 + slot]: a flood costs memory bounded by the rings.
 */
#define PG_EV_SLOTS  4
#define PG_EV_RINGSZ (256 * 1024)
#define PG_EVM_DENY  (1u << 0) /* refused binds */
#define PG_EVM_GRANT (1u << 1) /* every other decision on a protected port */
#define PG_EVM_MKDIR (1u << 2) /* cgroups made, when the policy has globs */
#define PG_EVM_ALL   0xffu     /* every bit of one subscriber's byte */

enum pg_ev_kind { PG_EVK_BIND = 1, PG_EVK_MKDIR = 2 };

struct pg_event {
	__u64 time; /* CLOCK_BOOTTIME ns */
	__u64 cgid; /* the socket's cgroup (bind), the new cgroup (mkdir) */
	__u64 gen;  /* image generation that decided */
	__u32 pid;  /* thread group */
	__u32 uid;
	__u32 gid;
	__u32 rule;    /* deciding rule, ~0 if none */
	__u32 addr[4]; /* network order; IPv4 as ::ffff:a.b.c.d */
	__u16 port;
	__u8 kind;    /* PG_EVK_* */
	__u8 verdict; /* PG_V_* */
	__u8 family;  /* 4 or 6 */
	__u8 proto;   /* IPPROTO_TCP (also MPTCP), _UDP, ... */
	__u8 pad[2];
	char comm[16];
};

/* pg_stats: per-CPU event counts of the cgroup hooks and the event stream. */
enum pg_stat {
	PG_ST_MKDIR = 0,  /* cgroup2 mkdirs seen */
	PG_ST_MKDIR_NODE, /* ... that got a node from the path table */
	PG_ST_MKDIR_PATH, /* ... that got only a path id (an ancestor of a selector) */
	PG_ST_STORE_NEW,  /* pg_nodes entries created by the programs */
	PG_ST_STORE_DEL,  /* pg_nodes entries deleted at rmdir */
	PG_ST_EV_DROP0,	  /* events lost, per subscriber slot (4) */
	PG_ST__NR = PG_ST_EV_DROP0 + 4,
};

/*
 * pg_ctl: one mmapable entry, written by userspace with single aligned
 * stores. hull is a superset of the active image's protect set (the union
 * of old and new during a swap), so "port outside hull" may return 1
 * without touching the image: the cheap path every unprivileged bind takes.
 */
struct pg_ctl {
	__u32 hull; /* lo | hi << 16, one store; 0: nothing protected */
	__u32 abi;
	__u32 evmask;		     /* pg_evm(subscriber slot, PG_EVM_*): what each wants */
	__u32 bypass;		     /* probe result: 0 unknown, 1 no, 2 yes */
	__u64 boot;		     /* hash of the boot id the probe ran under */
	__u64 build;		     /* hash of the BPF object that created the state */
	__u64 live;		     /* pg_live() of the image being swapped in, or in */
	__u64 next_gen;		     /* no image may use a generation below this: one that
				      * an apply killed before its swap may have published */
	__u64 store_new;	     /* pg_nodes entries created by userspace */
	__u64 store_del;	     /* ... and deleted by userspace */
	__u32 ev_pid[PG_EV_SLOTS];   /* subscriber of each pg_ev slot, 0 free */
	__u64 ev_start[PG_EV_SLOTS]; /* its start time (/proc/PID/stat field 22) */
	__u32 variant;		     /* the programs' variant (loader/probe.h) */
	__u32 audit;		     /* pg_audit(): the kernel's own threshold, and
				      * whether the programs read capabilities */
};

/*
 * pg_saved (userspace only): network namespaces whose
 * ip_unprivileged_port_start portgate lowered, keyed by netns inode. Written
 * before the sysctl is lowered, so a crash never loses the value to restore.
 */
struct pg_saved {
	__u64 cookie; /* SO_NETNS_COOKIE, also a key of pg_netns */
	__u32 orig;   /* value before portgate */
	__u32 set;    /* value portgate wrote */
	__u32 state;  /* 1 lowering, 2 lowered */
	__u32 pad;
	char path[232]; /* how portgate reached it: /proc/self/ns/net, /run/netns/x */
};

/* pg_netns key for "every namespace": a kernel without SO_NETNS_COOKIE
 * (Linux 5.14) does not tell userspace a namespace's cookie. */
#define PG_NETNS_ANY 0

/*
 * Packed words
 * ------------
 * Several fields pack more than one value so that one aligned store
 * publishes them together (a reader racing the writer sees old or new,
 * never half of each). Each has one encoder and its decoders here, used by
 * both sides; nothing else shifts or masks them.
 */
#define PG_ABI_FN static inline __attribute__((always_inline))

/* pg_ctl.hull: lo | hi << 16, the protected ports' hull; 0: none. */
#define PG_HULL_HI_SHIFT 16
#define PG_HULL_LO_MASK	 0xffffu

PG_ABI_FN __u32 pg_hull(__u32 lo, __u32 hi)
{
	return lo | hi << PG_HULL_HI_SHIFT;
}

PG_ABI_FN __u32 pg_hull_lo(__u32 hull)
{
	return hull & PG_HULL_LO_MASK;
}

PG_ABI_FN __u32 pg_hull_hi(__u32 hull)
{
	return hull >> PG_HULL_HI_SHIFT;
}

/*
 * pg_ctl.live, one store: the generation (low 32 bits), slot, counter
 * stride and bypass flag of the newest image, written just before its swap.
 * The decision cache (struct pg_node_val) serves only entries of that
 * generation; an entry is only ever written with the generation of the
 * image that decided it, so until the swap lands no entry matches and
 * binds take the full path.
 */
#define PG_LIVE_SLOT_SHIFT   32
#define PG_LIVE_STRIDE_SHIFT 33
#define PG_LIVE_STRIDE_BITS  19 /* holds PG_CNT_RULE0 + PG_MAX_RULES */
#define PG_LIVE_BYPASS_SHIFT (PG_LIVE_STRIDE_SHIFT + PG_LIVE_STRIDE_BITS)

PG_ABI_FN __u64 pg_live(__u64 gen, __u32 slot, __u32 stride, __u32 bypass)
{
	return (__u64)(__u32)gen | (__u64)(slot & 1) << PG_LIVE_SLOT_SHIFT |
	       (__u64)stride << PG_LIVE_STRIDE_SHIFT | (__u64) !!bypass << PG_LIVE_BYPASS_SHIFT;
}

PG_ABI_FN __u32 pg_live_gen(__u64 live)
{
	return (__u32)live;
}

PG_ABI_FN __u32 pg_live_slot(__u64 live)
{
	return (__u32)(live >> PG_LIVE_SLOT_SHIFT) & 1;
}

PG_ABI_FN __u32 pg_live_stride(__u64 live)
{
	return (__u32)(live >> PG_LIVE_STRIDE_SHIFT) & ((1u << PG_LIVE_STRIDE_BITS) - 1);
}

PG_ABI_FN __u32 pg_live_bypass(__u64 live)
{
	return (__u32)(live >> PG_LIVE_BYPASS_SHIFT) & 1;
}

/*
 * pg_ctl.audit, one store by apply: the kernel's own threshold (before any
 * lowering); whether the programs read capabilities (pg_caps.h) or take
 * uid 0 for them; whether audited binds return the native outcome (over a
 * lowered threshold) instead of 1.
 */
#define PG_AUDIT_LO_MASK      0xffffu /* the sysctl's largest value is 65535 */
#define PG_AUDIT_CAPS_SHIFT   16
#define PG_AUDIT_NATIVE_SHIFT 17

PG_ABI_FN __u32 pg_audit(__u32 lo, __u32 caps, __u32 native)
{
	return (lo & PG_AUDIT_LO_MASK) | (__u32) !!caps << PG_AUDIT_CAPS_SHIFT |
	       (__u32) !!native << PG_AUDIT_NATIVE_SHIFT;
}

PG_ABI_FN __u32 pg_audit_lo(__u32 audit)
{
	return audit & PG_AUDIT_LO_MASK;
}

PG_ABI_FN __u32 pg_audit_caps(__u32 audit)
{
	return (audit >> PG_AUDIT_CAPS_SHIFT) & 1;
}

PG_ABI_FN __u32 pg_audit_native(__u32 audit)
{
	return (audit >> PG_AUDIT_NATIVE_SHIFT) & 1;
}

/* pg_node_val.chain[i]: node | low 32 bits of the image generation << 32.
 * node 0 ends the chain; PG_CHAIN_LONG: longer than the cache, walk every
 * time. */
#define PG_CHAIN_GEN_SHIFT 32

PG_ABI_FN __u64 pg_chain_ent(__u32 node, __u64 gen)
{
	return (__u64)node | (__u64)(__u32)gen << PG_CHAIN_GEN_SHIFT;
}

PG_ABI_FN __u32 pg_chain_node(__u64 ce)
{
	return (__u32)ce;
}

PG_ABI_FN __u32 pg_chain_gen(__u64 ce)
{
	return (__u32)(ce >> PG_CHAIN_GEN_SHIFT);
}

/*
 * pg_node_val.dc[i], the decision cache: the low 32 bits of the image
 * generation, port, protocol class and verdict. The key is everything but
 * the verdict.
 */
#define PG_DC_PORT_SHIFT  32
#define PG_DC_PROTO_SHIFT 48
#define PG_DC_V_SHIFT	  56
#define PG_DC_KEY_MASK	  ((1ULL << PG_DC_V_SHIFT) - 1)

PG_ABI_FN __u64 pg_dc(__u64 gen, __u32 port, __u32 proto, __u32 verdict)
{
	return (__u64)(__u32)gen | (__u64)port << PG_DC_PORT_SHIFT |
	       (__u64)proto << PG_DC_PROTO_SHIFT | (__u64)verdict << PG_DC_V_SHIFT;
}

PG_ABI_FN __u64 pg_dc_key(__u64 dc)
{
	return dc & PG_DC_KEY_MASK;
}

PG_ABI_FN __u32 pg_dc_verdict(__u64 dc)
{
	return (__u32)(dc >> PG_DC_V_SHIFT);
}

/* pg_node_val.dcr[i], the rule beside dc[i]: the rule index (18 bits, as
 * PG_MAX_RULES needs) under the generation's low 14 bits. */
#define PG_DCR_RULE_BITS 18
#define PG_DCR_RULE_MASK ((1u << PG_DCR_RULE_BITS) - 1)
#define PG_DCR_NONE	 PG_DCR_RULE_MASK /* no rule decided */

PG_ABI_FN __u32 pg_dcr(__u64 gen, __u32 rule)
{
	return (__u32)gen << PG_DCR_RULE_BITS | (rule & PG_DCR_RULE_MASK);
}

PG_ABI_FN __u32 pg_dcr_rule(__u32 dcr)
{
	return dcr & PG_DCR_RULE_MASK;
}

/* Whether dcr was written under generation gen, as far as it can tell. */
PG_ABI_FN int pg_dcr_gen_is(__u32 dcr, __u64 gen)
{
	return dcr >> PG_DCR_RULE_BITS == ((__u32)gen & (~0u >> PG_DCR_RULE_BITS));
}

/* Userspace only: the counter after the rules' holds would-allow counts
 * carried from audited allow rules an apply removed or enforced. */
PG_ABI_FN __u32 pg_cnt_carried_wa(__u32 nrules)
{
	return PG_CNT_RULE0 + nrules;
}

/* pg_ctl.evmask: one byte of PG_EVM_* bits per subscriber slot. */
#define PG_EVM_SLOT_BITS 8

PG_ABI_FN __u32 pg_evm(__u32 slot, __u32 bits)
{
	return (bits & PG_EVM_ALL) << (PG_EVM_SLOT_BITS * slot);
}

/* Whether the subscriber in slot wants events of kind bit. */
PG_ABI_FN int pg_evm_has(__u32 mask, __u32 slot, __u32 bit)
{
	return !!(mask & pg_evm(slot, bit));
}

/* Whether any subscriber wants events of kind bit. */
PG_ABI_FN int pg_evm_any(__u32 mask, __u32 bit)
{
	return !!(mask & (bit * 0x01010101u));
}

/* pg_trie_ent.name: granule index << 8 | length (1..PG_NAME_MAX - 1). */
#define PG_TNAME_LEN_BITS 8
#define PG_TNAME_LEN_MASK ((1u << PG_TNAME_LEN_BITS) - 1)

PG_ABI_FN __u32 pg_tname(__u32 gran, __u32 len)
{
	return gran << PG_TNAME_LEN_BITS | len;
}

PG_ABI_FN __u32 pg_tname_gran(__u32 name)
{
	return name >> PG_TNAME_LEN_BITS;
}

PG_ABI_FN __u32 pg_tname_len(__u32 name)
{
	return name & PG_TNAME_LEN_MASK;
}

/* The cuckoo key: node << 32 | protocol class << 16 | port. */
#define PG_KEY_PROTO_SHIFT 16
#define PG_KEY_NODE_SHIFT  32
#define PG_KEY_PORT_MASK   0xffffu

/* The cuckoo hash, shared so that userspace places what BPF finds. */
PG_ABI_FN __u64 pg_key(__u32 node, __u32 proto, __u32 port)
{
	return ((__u64)node << PG_KEY_NODE_SHIFT) | (proto << PG_KEY_PROTO_SHIFT) | port;
}

/* The bucket a key's port moves its start by: 4 consecutive ports share one. */
PG_ABI_FN __u32 pg_key_port_step(__u64 key)
{
	return ((__u32)key & PG_KEY_PORT_MASK) >> 2;
}

/*
 * Both candidate buckets keep a cgroup's ports together: (node, protocol)
 * picks two independent starts, and every 4 consecutive ports move one
 * bucket on from each, so the ports a service binds, and port ranges,
 * share a few cache lines and pages instead of one each.
 */
PG_ABI_FN __u32 pg_bkt1(__u64 key, __u32 seed, __u32 nbkt)
{
	__u64 x = ((key >> PG_KEY_PROTO_SHIFT) ^ seed) * 0x9e3779b97f4a7c15ULL;
	__u32 start = (__u32)((((x >> 32) & 0xffffffffULL) * nbkt) >> 32);

	return (start + pg_key_port_step(key)) % nbkt;
}

PG_ABI_FN __u32 pg_bkt2(__u64 key, __u32 seed, __u32 nbkt)
{
	__u64 x = ((key >> PG_KEY_PROTO_SHIFT) + ((__u64)seed << 32)) * 0xc2b2ae3d27d4eb4fULL;
	__u32 start;

	x ^= x >> 31;
	start = (__u32)(((x & 0xffffffffULL) * nbkt) >> 32);
	return (start + pg_key_port_step(key)) % nbkt;
}

/* The path table's hash, keyed by seed and parent: over the whole zero-padded
 * name, word by word, so the BPF side hashes with no data-dependent branch. */
PG_ABI_FN __u64 pg_name_hash(__u64 seed, __u32 ptid, const __u64 *name)
{
	__u64 h = seed ^ ((__u64)ptid * 0x9e3779b97f4a7c15ULL);
	int i;

#ifdef __clang__
#pragma unroll
#endif
	for (i = 0; i < PG_NAME_MAX / 8; i++)
		h = (h ^ name[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/*
 * The layout checks: both sides include this header, so the BPF object
 * and userspace cannot build against different shapes. Image structures
 * tile 64-byte blocks; words the programs store or load as one must not
 * straddle their alignment; packed fields must hold their largest values.
 */
#define PG_ABI_CHECK(cond)  _Static_assert(cond, #cond)
#define PG_OFF(type, field) __builtin_offsetof(type, field)

PG_ABI_CHECK(sizeof(union pg_block) == PG_BLOCK_SIZE);
PG_ABI_CHECK(sizeof(struct pg_hdr) == PG_BLOCK_SIZE);
PG_ABI_CHECK(sizeof(struct pg_hdr2) == PG_BLOCK_SIZE);
PG_ABI_CHECK(sizeof(struct pg_trie_ent) * 4 == PG_BLOCK_SIZE);
PG_ABI_CHECK(sizeof(struct pg_ent) * 4 == PG_BLOCK_SIZE);
PG_ABI_CHECK(sizeof(struct pg_rule_rec) * 4 == PG_BLOCK_SIZE);
PG_ABI_CHECK(sizeof(struct pg_addr_rec) * 2 == PG_BLOCK_SIZE);
PG_ABI_CHECK(PG_OFF(struct pg_hdr, levels) == 16 && PG_OFF(struct pg_hdr, gen) == 24);
PG_ABI_CHECK(PG_OFF(struct pg_hdr, cnt_stride) == 60);
PG_ABI_CHECK(PG_OFF(struct pg_hdr2, trie_seed) == 16);
PG_ABI_CHECK(PG_OFF(struct pg_ent, ref) == 8 && PG_OFF(struct pg_ent, act) == 12);
PG_ABI_CHECK(PG_OFF(struct pg_rule_rec, addr) == 12 && PG_OFF(struct pg_rule_rec, rflags) == 2);
PG_ABI_CHECK((PG_BM_BLOCKS * PG_BLOCK_SIZE * 8) == 65536);

PG_ABI_CHECK(sizeof(struct pg_node_val) == 128);
PG_ABI_CHECK(PG_OFF(struct pg_node_val, gen) == 8 && PG_OFF(struct pg_node_val, tid) == 24);
PG_ABI_CHECK(PG_OFF(struct pg_node_val, chain) % 8 == 0);
PG_ABI_CHECK(PG_OFF(struct pg_node_val, dc) % 8 == 0);
PG_ABI_CHECK(PG_OFF(struct pg_node_val, dcr) == 112);

PG_ABI_CHECK(sizeof(struct pg_event) == 80);
PG_ABI_CHECK(PG_OFF(struct pg_event, addr) == 40 && PG_OFF(struct pg_event, port) == 56);
PG_ABI_CHECK(PG_OFF(struct pg_event, comm) == 64);

PG_ABI_CHECK(sizeof(struct pg_ctl) == 120);
PG_ABI_CHECK(PG_OFF(struct pg_ctl, hull) == 0 && PG_OFF(struct pg_ctl, evmask) == 8);
PG_ABI_CHECK(PG_OFF(struct pg_ctl, live) == 32 && PG_OFF(struct pg_ctl, next_gen) == 40);
PG_ABI_CHECK(PG_OFF(struct pg_ctl, ev_start) % 8 == 0 && PG_OFF(struct pg_ctl, variant) == 112);
PG_ABI_CHECK(PG_OFF(struct pg_ctl, audit) == 116);
PG_ABI_CHECK(sizeof(struct pg_saved) == 256);

/* Packed fields hold their largest values; loops' index masks need powers of 2. */
PG_ABI_CHECK(PG_CNT_RULE0 + PG_MAX_RULES < (1u << PG_LIVE_STRIDE_BITS));
PG_ABI_CHECK(PG_LIVE_BYPASS_SHIFT < 64);
PG_ABI_CHECK(PG_MAX_RULES - 1 <= PG_DCR_RULE_MASK);
PG_ABI_CHECK(PG_V_UNPROTECTED < PG_CNT_RULE0 && PG_V__NR <= PG_V_UNPROTECTED);
PG_ABI_CHECK(PG_V_WOULD_DENY < PG_CNT_RULE0 && PG_V_COUNTED == PG_CNT_RULE0);
PG_ABI_CHECK(PG_V_AUDIT_DENY < (1u << 8)); /* pg_dc's verdict byte, pg_event.verdict */
PG_ABI_CHECK(PG_NAME_MAX - 1 <= PG_TNAME_LEN_MASK);
PG_ABI_CHECK((PG_EV_SLOTS * PG_EVM_SLOT_BITS) <= 32);
PG_ABI_CHECK(PG_ST__NR == PG_ST_EV_DROP0 + PG_EV_SLOTS);
PG_ABI_CHECK((PG_DC_N & (PG_DC_N - 1)) == 0 && (PG_MAX_LEVELS & (PG_MAX_LEVELS - 1)) == 0);
PG_ABI_CHECK(PG_CHAIN <= PG_MAX_LEVELS && PG_MAX_LEVEL < 64);
PG_ABI_CHECK(PG_NAME_MAX % PG_GRAN == 0 && PG_GRAN * 4 == PG_BLOCK_SIZE);

#endif
