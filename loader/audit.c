// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* audit.c - apply's part of audit rollout (audit.h). */
#include <errno.h>

#include "audit.h"
#include "log.h"
#include "netns.h"
#include "probe.h"
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

bool pg_audit_needs_caps(const struct pg_policy *p, enum pg_mode mode)
{
	return mode == PG_MODE_SYSCTL && pg_policy_has_audit(p) &&
	       !pg_audit_keeps_threshold(p, mode);
}

#define NO_CAPS_FMT                                                                                \
	"audit needs the kernel's own check, but sysctl mode (%s) lowers "                         \
	"ip_unprivileged_port_start for the enforced allow rules, and Linux %s does not let "      \
	"portgate's programs read the binding task's capabilities to check in its place; audit "   \
	"every allow rule too, or use mode grant"

int pg_audit_check(const struct pg_policy *p, enum pg_mode mode, const char *reason, bool caps)
{
	if (!pg_audit_needs_caps(p, mode) || caps)
		return 0;
	pg_log_at(PG_LOG_ERROR, p, audit_loc(p), NO_CAPS_FMT, reason, pg_kernel_release());
	return -EINVAL;
}

int pg_audit_publish(struct pg_state *st, const struct pg_policy *p, enum pg_mode mode)
{
	bool native = pg_audit_needs_caps(p, mode);
	uint32_t lo, caps;
	int err;

	if (!st->ctl)
		return -EBADF;
	caps = pg_audit_caps(st->ctl->audit);
	if (native && !caps) {
		/* the probe found the helper, the verifier then refused the read */
		pg_log_at(PG_LOG_ERROR, p, audit_loc(p), NO_CAPS_FMT, "sysctl mode",
			  pg_kernel_release());
		return -ENOTSUP;
	}
	if ((err = pg_netns_native(st, PG_SELF_NETNS, &lo)))
		return err;
	/* one aligned store, read once per bind */
	__atomic_store_n(&st->ctl->audit, pg_audit(lo, caps, native), __ATOMIC_RELEASE);
	pg_dbg("audit: the kernel's own threshold is %u; capabilities %s; audited binds return %s",
	       lo, caps ? "read" : "estimated as uid 0",
	       native ? "the native outcome" : "1 (the kernel's own check)");
	return 0;
}
