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
 * Whether audited decisions must return the native outcome themselves:
 * sysctl mode with a lowered threshold, where the kernel's own check no
 * longer gives it. That needs the programs to read capabilities.
 */
bool pg_audit_needs_caps(const struct pg_policy *p, enum pg_mode mode);

/*
 * Refuse what cannot stay native: audited decisions that need the
 * capability read (pg_audit_needs_caps()) where caps says the kernel does
 * not allow it. reason: why this mode. 0, or -EINVAL with a message at
 * the policy line.
 */
int pg_audit_check(const struct pg_policy *p, enum pg_mode mode, const char *reason, bool caps);

/*
 * Before the swap: tell the programs the kernel's own threshold (of
 * portgate's network namespace, as saved before any lowering) and whether
 * audited decisions return the native outcome; 0 or -errno. -ENOTSUP with a
 * message when that needs the capability read the loaded programs lack.
 */
int pg_audit_publish(struct pg_state *st, const struct pg_policy *p, enum pg_mode mode);

#endif
