// SPDX-License-Identifier: GPL-2.0
/*
 * pg_cgroup.bpf.c - the cgroup lifecycle: a cgroup made after the apply
 * gets its node from the path table inside mkdir(2) (pg_abi.h, "Cgroups
 * made after the apply"); a removed cgroup's pg_nodes entry goes with it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "pg_kern.h"
#include "pg_maps.h"

#define PG_INLINE static __always_inline
#include "pg_decide.h"
#include "pg_events.h"

const volatile struct pg_node_val pg_nv_zero = {};

/*
 * What mkdir learns of the new cgroup: its name, and per image slot the
 * path id and node found under its parent's path id.
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

/*
 * Whether the image of slot, generation gen, is still to be searched, and
 * if so mark it searched: pg_next still holds the image now in pg_cur once
 * an apply is over.
 */
static __always_inline int pg_mk_first(struct pg_mk *mk, __u32 slot, __u64 gen)
{
	if ((mk->searched >> slot) & 1 && mk->sgen[slot & 1] == gen)
		return 0;
	mk->searched |= 1u << slot;
	if (slot) /* branches, not an index: see pg_mk_found() */
		mk->sgen[1] = gen;
	else
		mk->sgen[0] = gen;
	return 1;
}

/* Record what the search of the image of slot found. */
static __always_inline void pg_mk_found(struct pg_mk *mk, __u32 slot, const struct pg_mkf *f,
					__u64 gen)
{
	/* branches, not an index: clang turns &mk->tid[slot] into a pointer OR */
	if (slot) {
		mk->tid[1] = f->tid;
		mk->node[1] = f->e->node;
		mk->gen[1] = gen;
	} else {
		mk->tid[0] = f->tid;
		mk->node[0] = f->e->node;
		mk->gen[0] = gen;
	}
	mk->found |= 1u << slot;
}

/* Search the image in outer (pg_cur or pg_next) for the new cgroup, under
 * its parent's path id (from pv, the parent's entry, or the root's). */
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
	if (!pg_mk_first(mk, slot, hb->hdr.gen))
		return;
	if (root_parent)
		f.ptid = PG_TRIE_ROOT;
	else if (pv && pv->gen[slot] == hb->hdr.gen)
		f.ptid = pv->tid[slot];
	if (!f.ptid)
		return;
	f.h2 = &hb2->hdr2;
	f.hash = pg_name_hash(hb2->hdr2.trie_seed, f.ptid, mk->name);
	PG_LOOP(PG_TRIE_PROBE, pg_mk_step, &f);
	if (f.e)
		pg_mk_found(mk, slot, &f, hb->hdr.gen);
}

#if PG_SK_CGROUP
/* Both images, with the parent's entry looked up once. */
static __always_inline void pg_mk_search_all(struct pg_mk *mk, __u64 parent_id, int root_parent)
{
	struct pg_node_val *pv = 0;

	if (!root_parent)
		pv = bpf_map_lookup_elem(&pg_nodes, &parent_id);
	pg_mk_image(mk, &pg_cur, pv, root_parent);
	pg_mk_image(mk, &pg_next, pv, root_parent);
}
#else
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

/* Both images, each in its own call of the global function. */
static __always_inline void pg_mk_search_all(struct pg_mk *mk, __u64 parent_id, int root_parent)
{
	pg_mk_search(0, parent_id, root_parent);
	pg_mk_search(1, parent_id, root_parent);
}
#endif

/* Give the new cgroup (id) what the searches found, in the slots they found it. */
static __always_inline void pg_mk_store(const struct pg_mk *mk, __u64 id)
{
	struct pg_node_val *nv = pg_entry(id);

	if (!nv)
		return;
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
}

/*
 * Inside mkdir(2), before the new cgroup's directory is activated (so
 * before anything can enter it), give it its node and path id from the
 * path table of the active image and of the one being installed, looked
 * up under its parent's path id. Only ids are read from the cgroup and its
 * parent, by probe reads: no helper is handed a cgroup pointer, so no
 * kernel's pointer trust rules matter here.
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(pg_mkdir, struct cgroup *cg, const char *path)
{
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
	pg_mk_search_all(mk, pid, level == 1);
	pg_mkdir_event(id);
	if (mk->found)
		pg_mk_store(mk, id);
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
