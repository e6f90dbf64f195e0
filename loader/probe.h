/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* probe.h - what the running kernel can do, found out by asking it. */
#ifndef PORTGATE_PROBE_H
#define PORTGATE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Program variants (see bpf/pg_whose.h). Each is a BPF object of its own,
 * embedded in the binary; the loader runs the best one the kernel has.
 */
enum pg_variant {
	PG_VARIANT_NONE = 0,
	PG_VARIANT_SK,	 /* the socket's cgroup decides: Linux 6.2+ */
	PG_VARIANT_TASK, /* the binding task's cgroup decides: Linux 5.10+ */
	PG_NVARIANTS
};

/* "socket", "task", or "none". */
const char *pg_variant_name(int variant);
/* What decides in a variant, for status and messages. */
const char *pg_variant_what(int variant);

/* What the kernel has, of what the variants need. */
struct pg_features {
	bool sock_addr;	  /* cgroup sock_addr programs (4.17) */
	bool btf;	  /* /sys/kernel/btf/vmlinux */
	bool loop;	  /* bpf_loop in bind programs (5.17) */
	bool kern_ctx;	  /* kfunc bpf_cast_to_kern_ctx (6.2) */
	bool ancestor_id; /* bpf_get_current_ancestor_cgroup_id in bind programs (5.7) */
};

void pg_probe_features(struct pg_features *f);

/*
 * Whether bind programs may read the binding task's credentials, as audit
 * rollout's capability read (bpf/pg_caps.h) does: BTF, and
 * bpf_get_current_task_btf() allowed in cgroup sock_addr programs, which
 * kernels decide by version and configuration. The load itself is the
 * final word: a refused read is loaded again without it (object.c).
 */
bool pg_probe_caps(void);

/*
 * The variants this kernel can run, best first, into out[PG_NVARIANTS]
 * (ends at PG_VARIANT_NONE), from what it has: cgroup sock_addr programs
 * and BTF for both; the kfunc bpf_cast_to_kern_ctx (6.2) and bpf_loop
 * (5.17) for the socket variant; bpf_get_current_ancestor_cgroup_id in
 * bind programs for the task variant. $PORTGATE_VARIANT (socket or task)
 * narrows the list to that one. why gets what was found, for status.
 * 0, -ENOTSUP when none can run (why says what is missing), -EINVAL for
 * a bad $PORTGATE_VARIANT.
 */
int pg_probe_variants(int *out, char *why, size_t len);

/*
 * The bypass bit (bind return value 3, Linux 5.12+), probed for real: a
 * program returning 3 is attached to a fresh child cgroup of parent_fd, and
 * a process in it with no capabilities, in a new network namespace, binds
 * port 1023. *ok tells whether that bind succeeded; why says what happened.
 * Returns 0, or -errno when the probe itself could not run.
 */
int pg_probe_bypass(int parent_fd, bool *ok, char *why, size_t len);

/* A stable hash of this boot (kernel/random/boot_id), to cache probes. */
uint64_t pg_boot_hash(void);

/* uname -r */
const char *pg_kernel_release(void);

#endif
