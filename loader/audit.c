// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* audit.c - apply's part of audit rollout (audit.h). */
#include <errno.h>

#include "audit.h"
#include "log.h"
#include "netns.h"
#include "policy_src.h"

bool pg_audit_keeps_threshold(const struct pg_policy *p, enum pg_mode mode)
{
	return mode == PG_MODE_SYSCTL && pg_policy_has_audit(p) && !pg_policy_enforces_grant(p);
}

/* Where the policy asks for audit: its rollout statement, else the first rollout=audit. */
static const struct pg_loc *audit_loc(const struct pg_policy *p)
{
	size_t i;

	if (p->audit)
		return &p->rollout_loc;
	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].rollout == PG_ROLLOUT_AUDIT)
			return &p->rules[i].rollout_loc;
	return &p->rollout_loc;
}

int pg_audit_check(const struct pg_policy *p, enum pg_mode mode, const char *reason)
{
	if (mode != PG_MODE_SYSCTL || !pg_policy_has_audit(p) || pg_audit_keeps_threshold(p, mode))
		return 0;
	pg_log_at(PG_LOG_ERROR, p, audit_loc(p),
		  "audit needs the kernel's own check, but sysctl mode (%s) lowers "
		  "ip_unprivileged_port_start for the enforced allow rules, and portgate's "
		  "programs do not read capabilities to check in its place; audit every allow rule "
		  "too, or use mode grant",
		  reason);
	return -EINVAL;
}

int pg_audit_publish(struct pg_state *st)
{
	uint32_t lo;
	int err;

	if (!st->ctl)
		return -EBADF;
	if ((err = pg_netns_native(st, PG_SELF_NETNS, &lo)))
		return err;
	/* one aligned store, read once per bind */
	__atomic_store_n(&st->ctl->native_lo, lo, __ATOMIC_RELEASE);
	pg_dbg("audit: the kernel's own threshold is %u", lo);
	return 0;
}
