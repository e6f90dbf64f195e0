/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* probe.h - what the running kernel can do, found out by asking it. */
#ifndef PORTGATE_PROBE_H
#define PORTGATE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The features portgate cannot run without: cgroup sock_addr programs,
 * bpf links, bpf_loop, and the kfunc bpf_cast_to_kern_ctx (Linux 6.2+)
 * through which the bind hooks read the socket's cgroup. 0, or -ENOTSUP
 * with a sentence in why.
 */
int pg_probe_required(char *why, size_t len);

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
