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

/*
 * Audit's capability read (pg_caps.h): the binding task's effective
 * capabilities and user namespace against its network namespace's owner,
 * as cap_capable() walks them. kernel_cap_t is a u64 from Linux 6.3, two
 * u32s before (struct kernel_cap_struct): cred___old reads that layout.
 */
typedef struct {
	__u32 val;
} PG_CORE kuid_t;

struct user_namespace {
	struct user_namespace *parent;
	int level;
	kuid_t owner;
} PG_CORE;

typedef struct {
	__u64 val;
} PG_CORE kernel_cap_t;

struct kernel_cap_struct {
	__u32 cap[2];
} PG_CORE;

struct cred {
	kuid_t euid;
	kernel_cap_t cap_effective;
	struct user_namespace *user_ns;
} PG_CORE;

struct cred___old {
	struct kernel_cap_struct cap_effective;
} PG_CORE;

struct net {
	struct user_namespace *user_ns;
} PG_CORE;

struct nsproxy {
	struct net *net_ns;
} PG_CORE;

struct task_struct {
	const struct cred *cred;
	struct nsproxy *nsproxy;
} PG_CORE;

#endif
