/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * compile.h - turn a parsed policy and a snapshot of the cgroup tree into
 * the policy image the bind hooks read (layout: bpf/pg_abi.h). Pure: no
 * BPF, no file system; the loader supplies the tree and writes the result.
 * Reading an image back (decisions, path lookups) is image.h, included here.
 */
#ifndef PORTGATE_COMPILE_H
#define PORTGATE_COMPILE_H

#include "image.h"
#include "kube_path.h"
#include "kube_sel.h"
#include "pg_abi.h"
#include "policy.h"

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

/* A pod of the node, as the agent learned it from the API server. */
struct pg_pod {
	const char *ns;
	const char *name;
	const char *uid; /* the UID its cgroup carries (a static pod's config.mirror UID) */
	enum pg_kube_qos qos;
	const struct pg_kube_label *labels; /* keys unique */
	size_t nlabels;
};

/* The pods that pod: selectors choose from, and where their cgroups are. */
struct pg_pods {
	const struct pg_kube_layout *layout;
	const struct pg_pod *v;
	size_t n;
};

struct pg_compile_opts {
	enum pg_mode mode; /* GRANT or SYSCTL: already resolved */
	bool bypass;	   /* the kernel honours return value 3 */
	uint8_t slot;	   /* 0 or 1 */
	uint64_t gen;
	uint32_t seed; /* first cuckoo seed tried */
	/*
	 * NULL: no pod is known, and a pod: selector selects no cgroup. Else
	 * a pod: rule stands for an exact selector of the pod-level cgroup
	 * (pg_kube_pod_path()) of every pod it matches, made or not yet made.
	 */
	const struct pg_pods *pods;
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

#endif
