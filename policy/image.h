/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * image.h - read a policy image (layout: bpf/pg_abi.h) back: decisions,
 * path lookups and verdicts, for explain, status and diff. Each function
 * takes the raw blocks, so it reads an image from a file or a map as well
 * as one just compiled; an image with a wrong magic or ABI is no policy.
 */
#ifndef PORTGATE_IMAGE_H
#define PORTGATE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_abi.h"

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

/*
 * The same, walked name by name from the root for a whole path ("/a/b"):
 * the node the cgroup_mkdir program gives a cgroup made at path (0 for a
 * path without a node of its own). 0, or -ENOENT when a name of the path
 * has no entry (or the path is "/" or longer than a cgroup path can be).
 */
int pg_image_path_node(const union pg_block *blocks, uint32_t nblocks, const char *path,
		       uint32_t *node);

/* Is port protected by this image? */
bool pg_image_protects(const union pg_block *blocks, uint32_t nblocks, uint32_t port);

/* PG_V_* as a word, and bind()'s return for it under an image header. */
const char *pg_verdict_name(int v);

/* Whether verdict v is an audited decision (PG_V_AUDIT_GRANT, _DENY). */
bool pg_verdict_audited(int v);

/* What a decision means, in words: the verdict's name, or for an audited
 * one what enforcement would do and that the kernel's own check decides. */
const char *pg_verdict_phrase(int v);
int pg_image_ret(const union pg_block *blocks, uint32_t nblocks, int v);

#endif
