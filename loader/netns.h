/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * netns.h - sysctl mode's network namespaces: read and lower
 * net.ipv4.ip_unprivileged_port_start, remember the old value in pg_saved
 * before touching it, and put it back.
 */
#ifndef PORTGATE_NETNS_H
#define PORTGATE_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "state.h"

#define PG_SELF_NETNS "/proc/self/ns/net"

struct pg_netns_info {
	uint64_t ino;
	uint64_t cookie;
	uint32_t start;		     /* ip_unprivileged_port_start now */
	uint32_t range_lo, range_hi; /* ip_local_port_range now */
};

/* Look at the namespace at path; 0 or -errno. */
int pg_netns_inspect(const char *path, struct pg_netns_info *out);

/* The threshold the kernel's own check uses in the namespace at path
 * without portgate: the value saved before portgate lowered it, else the
 * current one. 0, or -errno with a message. */
int pg_netns_native(const struct pg_state *st, const char *path, uint32_t *start);

/*
 * Lower the threshold in the namespace at path to the policy's lowest
 * protected port, after checking that doing so opens nothing the policy
 * does not protect and that autobind cannot reach protected ports. The old
 * value goes to pg_saved first. *managed: the namespace's inode when
 * portgate now manages it, 0 when there was nothing to lower. 0, or -errno
 * with a message.
 */
int pg_netns_lower(struct pg_state *st, const struct pg_policy *p, const char *path,
		   uint64_t *managed);

/* The checks of pg_netns_lower() alone, changing nothing: run before apply
 * touches the kernel, so a policy that cannot be lowered safely is refused
 * whole. */
int pg_netns_check(const struct pg_state *st, const struct pg_policy *p, const char *path);

/*
 * Every process in the namespace at path (kernel threads aside) is in the
 * cgroup attach or below it, so the bind hooks and the sysctl guard see all
 * of them. Trivially true for attach "/". 0, or -EPERM naming a process.
 */
int pg_netns_confined(const char *path, const char *attach);

/*
 * Before a policy whose lowest protected port is higher is swapped in:
 * raise every saved namespace's threshold to that port (never above its
 * original value), so that no moment has ports below the new lowest
 * protected port open in a lowered namespace. Lowering waits for the swap.
 */
int pg_netns_raise(struct pg_state *st, const struct pg_policy *p);

/* Restore every saved namespace whose inode is not in keep[]; 0 or -errno.
 * Namespaces that no longer exist are forgotten with a note. */
int pg_netns_restore(struct pg_state *st, const uint64_t *keep, size_t nkeep);

/* Saved entries, for status. */
struct pg_saved_ent {
	uint64_t ino;
	struct pg_saved v;
};
int pg_netns_saved(const struct pg_state *st, struct pg_saved_ent **out, size_t *n);

#endif
