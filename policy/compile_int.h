/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * compile_int.h - the compiler's state, shared by the files of its phases
 * (compile.c, entries.c, pathtab.c) and seen by nothing else.
 *
 * pg_compile() fills one struct pg_compiler, phase by phase: paths,
 * matching, nodes (entries.c), cuckoo placement (entries.c), path table
 * (pathtab.c), layout, emit. Each phase reads what the earlier ones left
 * and returns 0 or -errno (-EINVAL once diags holds errors, -E2BIG past a
 * limit, -ENOMEM).
 */
#ifndef PORTGATE_COMPILE_INT_H
#define PORTGATE_COMPILE_INT_H

#include "compile.h"

/* Exact paths -> index into a cgroup array, by open addressing. */
struct path_index {
	uint32_t *slot; /* tree index + 1, 0 empty */
	size_t mask;
};

/* Pod pod of o->pods is selected by rule rule. */
struct pod_pick {
	uint32_t rule, pod;
};

/* A rule whose selector names a cgroup. */
struct match {
	uint32_t cg;   /* index into all[] */
	uint32_t rule; /* policy rule index */
};

/* Alternative lists, deduplicated: a range rule with a condition shares one list. */
struct alts {
	uint32_t *v;
	size_t n, cap;
	uint64_t *hkey; /* hash of a list */
	uint32_t *hoff; /* its offset + 1 */
	size_t hmask;
	size_t hn;
};

struct ents {
	struct pg_ent *v;
	size_t n, cap;
};

/* One pair of conflicting rules is reported once, however many ports or cgroups. */
struct seen_pairs {
	uint64_t *v;
	size_t n, cap;
};

struct pg_compiler {
	/* inputs, and the image being built */
	const struct pg_policy *p;
	const struct pg_cgroup *tree;
	size_t ntree;
	const struct pg_compile_opts *o;
	struct pg_image *out;
	struct pg_diags *diags;
	size_t errors0; /* errors in diags before this compile */

	/* pods (compile_pod.c): the pod-level cgroup of each pod a pod: rule
	 * selects (NULL for the others), and the (rule, pod) pairs, by rule */
	char **pod_path; /* per pod of o->pods, then the kubepods cgroup (pod:*) */
	struct pod_pick *picks;
	size_t npicks, picks_cap;
	size_t *pick_first; /* per rule, nrules + 1: its first pair in picks */

	/* paths: the tree, then the path table's paths missing from it */
	char **tp; /* the path table's paths, sorted; out->owned once emitted */
	size_t ntp;
	struct pg_cgroup *all;
	size_t nall, allcap;
	struct path_index pi; /* over all[] */

	/* matching: (cgroup, rule) pairs, sorted by cgroup then rule */
	struct match *mv;
	size_t mn, mcap;
	size_t um_cap; /* room in out->unmatched */

	/* nodes and their entries */
	uint32_t *node_of; /* per cgroup of all[]: its node, or 0 */
	size_t nodes_cap;  /* room in out->nodes */
	uint64_t levels;   /* bit n: a node sits n levels deep */
	struct ents ents;
	struct alts alts;
	struct seen_pairs seen;

	/* cuckoo placement */
	union pg_block *bkt;
	uint32_t nbkt, seed; /* seed: the one that placed every entry */

	/* path table */
	struct pg_hdr2 h2;
	uint32_t *node_of_tp, *tids; /* per path of tp */
	struct pg_trie_ent *slots;
	uint32_t nnames; /* name granules */

	/* layout, in blocks */
	uint32_t addr_off, alt_off, bkt_off, meta_off;
};

/* Grow *v (of *cap elements of size elem) to hold need: 0 or -ENOMEM. */
int pgc_grow(void **v, size_t *cap, size_t need, size_t elem);

/* Index in tree of the cgroup at path, or -1. */
long pgc_path_find(const struct path_index *pi, const struct pg_cgroup *tree, const char *path);

/* The parent of path ("/a/b" -> "/a", "/a" -> "/") into out. */
void pgc_parent_of(const char *path, char *out, size_t len);

/* compile_pod.c */
/* Phase: which pods each pod: rule selects, and their pod-level cgroups. */
int pgc_pods(struct pg_compiler *c);
/* The cgroups of all[] pod rule i selects; *any: one of them exists now. */
int pgc_match_pods(struct pg_compiler *c, uint32_t i, bool *any);
void pgc_pods_free(struct pg_compiler *c);
/* compile.c */
int pgc_add_match(struct pg_compiler *c, size_t cg, uint32_t rule);

/* entries.c */
int pgc_nodes(struct pg_compiler *c);
int pgc_cuckoo(struct pg_compiler *c);
void pgc_alts_free(struct alts *a);

/* pathtab.c */
/* Every exact selector, every non-NULL extra[i], and each of their
 * ancestors but "/", sorted and unique. */
int pgc_trie_paths(const struct pg_policy *p, char *const *extra, size_t nextra, char ***out,
		   size_t *n);
/* Index of path in tp (sorted), or -1. */
long pgc_trie_find(char *const *tp, size_t n, const char *path);
/* See pathtab.c; returns the longest probe, or -E2BIG. */
int pgc_trie_place(const struct pg_hdr2 *h2, char *const *tp, size_t n, const uint32_t *node_of_tp,
		   struct pg_trie_ent *slots, uint8_t *names, uint32_t *tids);
int pgc_path_table(struct pg_compiler *c);

#endif
