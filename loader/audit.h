/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * audit.h - apply's part of audit rollout (rollout audit, rollout=audit):
 * whether the mode can keep every audited bind's outcome native, and the
 * threshold the programs compare with to report would-be changes.
 */
#ifndef PORTGATE_AUDIT_H
#define PORTGATE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "state.h"

/*
 * Sysctl mode leaves ip_unprivileged_port_start alone when the policy
 * audits and enforces no grant: audited binds then meet the kernel's own
 * check at its own threshold, and enforced refusals need no lowering.
 */
bool pg_audit_keeps_threshold(const struct pg_policy *p, enum pg_mode mode);

/*
 * Refuse what cannot stay native: in sysctl mode with a lowered threshold
 * an audited bind would pass the kernel's check at the lowered value.
 * reason: why this mode. 0, or -EINVAL with a message at the policy line.
 */
int pg_audit_check(const struct pg_policy *p, enum pg_mode mode, const char *reason);

/*
 * Tell the programs the kernel's own threshold (of portgate's network
 * namespace, as saved before any lowering) before the swap; 0 or -errno.
 */
int pg_audit_publish(struct pg_state *st);

#endif
