/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pg_maps.h - the maps and load-time constants that more than one of the
 * program objects (pg_bind, pg_guard, pg_cgroup) use, and the small steps
 * over them that they share. Semantics: pg_abi.h.
 *
 * Each object is compiled alone and `bpftool gen object` links them into
 * one per variant. A map defined here is __weak: every object that
 * includes this header carries the same definition, and the linker keeps
 * one map of that name. A map one object alone uses is defined in it.
 * Load-time constants are defined once, in the object that owns them, and
 * declared here.
 */
#ifndef PORTGATE_PG_MAPS_H
#define PORTGATE_PG_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pg_abi.h"

/* What a cgroup's pg_nodes entry starts as, when a program makes it
 * (defined in pg_cgroup.bpf.c). */
extern const volatile struct pg_node_val pg_nv_zero;

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

/* One policy image, published by one update of its only entry. */
struct pg_image_slot {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct pg_tab);
};

/* The active policy image. */
struct pg_image_slot pg_cur SEC(".maps") __weak;

/* The image an apply is installing, from before it scans the cgroup tree
 * until its swap: cgroups made meanwhile get their node in both images. */
struct pg_image_slot pg_next SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PG_ST__NR);
	__type(key, __u32);
	__type(value, __u64);
} pg_stats SEC(".maps") __weak;

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
} pg_nodes SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pg_ctl);
} pg_ctl SEC(".maps") __weak;

static __always_inline struct pg_ctl *pg_ctl_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pg_ctl, &zero);
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

#ifndef PG_SK_CGROUP
#error "build with -DPG_SK_CGROUP=0 or 1"
#endif

/* n steps of fn(i, arg), which returns 1 to stop: bpf_loop() (Linux 5.17)
 * where the variant has it, so the verifier checks one step; else its
 * contract as a plain loop (pg_whose.h). */
#if PG_SK_CGROUP
#define PG_LOOP(n, fn, arg) bpf_loop((n), (fn), (arg), 0)
#else
#define PG_LOOP(n, fn, arg)                                                                        \
	do {                                                                                       \
		__u32 pg_i_;                                                                       \
		for (pg_i_ = 0; pg_i_ < (n); pg_i_++)                                              \
			if ((fn)(pg_i_, (arg)))                                                    \
				break;                                                             \
	} while (0)
#endif

/* Block idx of an image (pg_decide.h's accessor), NULL past its end. */
#define PG_CTX void *
static __always_inline const union pg_block *pg_blk(void *tab, __u32 idx)
{
	return bpf_map_lookup_elem(tab, &idx);
}

#endif
