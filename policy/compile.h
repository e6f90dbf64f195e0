/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * compile.h - turn a parsed policy and a snapshot of the cgroup tree into
 * the policy image the bind hooks read (layout: bpf/pg_abi.h). Pure: no
 * BPF, no file system; the loader supplies the tree and writes the result.
 */
#ifndef PORTGATE_COMPILE_H
#define PORTGATE_COMPILE_H

#include "policy.h"
#include "pg_abi.h"

/* One cgroup of the tree, as the loader saw it. */
struct pg_cgroup {
	const char *path; /* from the cgroup2 root: "/" or "/a/b" */
	uint64_t id;	  /* kernfs id, as name_to_handle_at() returns it */
	int level;	  /* components in path; "/" is 0 */
	bool delegated;	  /* it or an ancestor is owned by a user other than root */
};

/* A rule-bearing cgroup of the compiled policy: pg_nodes[id].node[slot] = node. */
struct pg_node_out {
	uint64_t cgid;
	uint32_t node; /* 1.. */
	int level;
	const char *path; /* into the input tree, or the image's own strings */
	bool by_path;	  /* in the path table: found by path, not by id (cgid 0
			   * if the cgroup did not exist at compile time) */
};

/* A path of the path table: pg_nodes[cgroup at path].tid[slot] = tid. */
struct pg_path_out {
	const char *path;
	uint32_t tid;
	uint32_t node; /* 0: an ancestor of a selector only */
};

struct pg_image {
	union pg_block *blocks;
	uint32_t nblocks;
	struct pg_node_out *nodes;
	size_t nnodes;
	uint32_t nents;	  /* live cuckoo entries */
	uint32_t nalts;	  /* alternative slots used */
	char **unmatched; /* selectors that match no cgroup now */
	size_t nunmatched;
	struct pg_path_out *paths; /* every exact selector and its ancestors, sorted */
	size_t npaths;
	char **owned; /* strings the image owns */
	size_t nowned;
};

struct pg_compile_opts {
	enum pg_mode mode; /* GRANT or SYSCTL: already resolved */
	bool bypass;	   /* the kernel honours return value 3 */
	uint8_t slot;	   /* 0 or 1 */
	uint64_t gen;
	uint32_t seed; /* first cuckoo seed tried */
};

/*
 * Build the image. Conflicts that only show once selectors meet real
 * cgroups (two selectors matching one cgroup with opposite actions on one
 * protocol and port) and limits are errors in diags. Returns 0, or
 * -EINVAL when diags holds errors, -E2BIG past a limit, -ENOMEM.
 */
int pg_compile(const struct pg_policy *p, const struct pg_cgroup *tree, size_t ntree,
	       const struct pg_compile_opts *o, struct pg_image *out, struct pg_diags *diags);

void pg_image_free(struct pg_image *img);

/* Append opaque bytes for userspace (status, explain) after the tables. */
int pg_image_set_meta(struct pg_image *img, const char *meta, size_t len);

/* Counter array size (u64 entries) for an image: ncpus rows. */
uint32_t pg_image_counters(const struct pg_image *img, uint32_t ncpus);

/*
 * The decision in userspace, over an image: nodes[] are the node ids of the
 * socket's cgroup and its rule-bearing ancestors, nearest first (0 where a
 * level is not a node). Returns a PG_V_* verdict; *rule is the deciding
 * rule or ~0u, *depth_idx the index into nodes[] that decided or -1.
 */
int pg_image_decide(const union pg_block *blocks, uint32_t nblocks, const uint32_t *nodes, size_t n,
		    uint32_t port, uint32_t proto, uint32_t uid, uint32_t gid,
		    const uint8_t addr[16], uint32_t *rule, int *depth_idx);

/*
 * The path table as the cgroup_mkdir program reads it: the path id and node
 * of the cgroup called name under the cgroup with path id ptid
 * (PG_TRIE_ROOT for the root). 0, or -ENOENT when it has no entry.
 */
int pg_image_path(const union pg_block *blocks, uint32_t nblocks, uint32_t ptid, const char *name,
		  uint32_t *tid, uint32_t *node);

/* Is port protected by this image? */
bool pg_image_protects(const union pg_block *blocks, uint32_t nblocks, uint32_t port);

/* PG_V_* as a word, and bind()'s return for it under an image header. */
const char *pg_verdict_name(int v);
int pg_image_ret(const union pg_block *blocks, uint32_t nblocks, int v);

#endif
