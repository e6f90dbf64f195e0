/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pg_caps.h - whether the binding task has CAP_NET_BIND_SERVICE in the user
 * namespace that owns its network namespace: the kernel's own check of a
 * bind below ip_unprivileged_port_start (ns_capable() -> cap_capable()),
 * read by audit rollout to know the native outcome of a bind.
 *
 * Needs bpf_get_current_task_btf() in bind programs, which kernels allow
 * or refuse by version and configuration: the loader probes it and sets
 * pg_has_caps; a frozen 0 makes the verifier drop the read as dead code.
 */
#ifndef PORTGATE_PG_CAPS_H
#define PORTGATE_PG_CAPS_H

#include <bpf/bpf_core_read.h>

#include "pg_kern.h"

/* Set by the loader before load: the programs may read credentials. */
extern const volatile __u32 pg_has_caps;

#define PG_CAP_NET_BIND_SERVICE 10
#define PG_USERNS_MAX		33 /* user namespaces nest 32 deep below the initial one */

/* Bit cap of the task's effective set, in either layout of kernel_cap_t. */
static __always_inline int pg_cap_raised(const struct cred *c, int cap)
{
	if (bpf_core_field_exists(c->cap_effective.val))
		return (c->cap_effective.val >> cap) & 1;
	return (((const struct cred___old *)c)->cap_effective.cap[0] >> cap) & 1;
}

/*
 * cap_capable(cred, net->user_ns, CAP_NET_BIND_SERVICE): capable in the
 * target namespace, or the owner of a namespace on the way up whose parent
 * is the task's. 1 or 0.
 */
static __always_inline int pg_capable(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *c = t->cred;
	struct user_namespace *ns = t->nsproxy->net_ns->user_ns, *own = c->user_ns;
	int i;

	for (i = 0; i < PG_USERNS_MAX; i++) {
		if (!ns)
			return 0;
		if (ns == own)
			return pg_cap_raised(c, PG_CAP_NET_BIND_SERVICE);
		if (ns->level <= own->level)
			return 0;
		if (ns->parent == own && ns->owner.val == c->euid.val)
			return 1;
		ns = ns->parent;
	}
	return 0;
}

#endif
