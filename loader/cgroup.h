/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* cgroup.h - the cgroup2 hierarchy: where it is, ids, paths, the tree. */
#ifndef PORTGATE_CGROUP_H
#define PORTGATE_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h> /* enum bpf_attach_type */

#include "compile.h"

/* Mount point of cgroup2, read from /proc/self/mountinfo; 0 or -errno. */
int pg_cg2_mount(char *out, size_t len);

/*
 * Check a cgroup path as users write it ("/", "/a/b": from the cgroup2
 * root, no trailing slash, no "." or ".." components); 0 or -EINVAL.
 */
int pg_cg_path_valid(const char *path);

/* Open the cgroup directory at path under mount; fd or -errno. */
int pg_cg_open(const char *mount, const char *path);

/* The cgroup id (kernfs id) of an open cgroup directory; 0 or -errno. */
int pg_cg_id_fd(int fd, uint64_t *id);
int pg_cg_id(const char *mount, const char *path, uint64_t *id);

/* Every cgroup under mount, with paths from the root ("/" first). */
int pg_cg_tree(const char *mount, struct pg_cgroup **out, size_t *n);
void pg_cg_tree_free(struct pg_cgroup *v, size_t n);

/* Path of the cgroup with this id in a tree, or NULL. */
const char *pg_cg_tree_path(const struct pg_cgroup *v, size_t n, uint64_t id);

/*
 * Would the kernel refuse a link of any of these attach types at path? A
 * program attached without BPF_F_ALLOW_MULTI at path, or at the nearest
 * ancestor that has one of that type (unless it allowed override), makes
 * bpf_link_create() fail with EPERM (docs/KERNEL.md). 0 when nothing
 * blocks; -EPERM with the blocking cgroup's path in where and its attach
 * type in *type; another -errno when a cgroup cannot be queried.
 */
int pg_cg_link_blocked(const char *mount, const char *path, const enum bpf_attach_type *types,
		       size_t ntypes, char *where, size_t len, enum bpf_attach_type *type);

#endif
