/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel structures portgate reads, as CO-RE definitions: libbpf
 * relocates each field against the running kernel's BTF at load time, so
 * no generated vmlinux.h is needed and layouts may differ between kernels.
 */
#ifndef PORTGATE_PG_KERN_H
#define PORTGATE_PG_KERN_H

#include <linux/types.h>

#define PG_CORE __attribute__((preserve_access_index))

struct kernfs_node {
	__u64 id; /* == cgroup id, as in name_to_handle_at() and /proc/PID/cgroup */
	const char *name;
} PG_CORE;

struct cgroup_root {
	int hierarchy_id; /* 0: the cgroup2 (default) hierarchy */
} PG_CORE;

struct cgroup;

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent;
} PG_CORE;

struct cgroup {
	struct cgroup_subsys_state self; /* self.parent: the parent's self */
	int level;			 /* root is 0 */
	struct kernfs_node *kn;
	struct cgroup_root *root;
} PG_CORE;

struct sock_cgroup_data {
	struct cgroup *cgroup; /* cgroup v2 of the task that created the socket */
} PG_CORE;

struct sock {
	struct sock_cgroup_data sk_cgrp_data;
	__u8 sk_kern_sock : 1;
} PG_CORE;

struct bpf_sock_addr_kern {
	struct sock *sk;
} PG_CORE;

#endif
