// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status_text.c - `portgate status` as text. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "probe.h"
#include "status_int.h"
#include "util.h"

/* "agent:" lines: the agent's state file, and whether its pid still runs. */
static void agent_text(const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;
	char t[32], t2[32];
	const char *p, *e;

	if (!v->have_agent) {
		printf("agent:      none (no %s)\n", v->agent_path);
		return;
	}
	pg_fmt_time(a->started_at, t, sizeof(t));
	if (v->agent_alive) {
		printf("agent:      running, pid %lld since %s, following %s\n", (long long)a->pid,
		       t, a->file);
	} else if (!a->running) {
		pg_fmt_time(a->exited_at, t2, sizeof(t2));
		printf("agent:      not running: pid %lld exited %s (%s)\n", (long long)a->pid, t2,
		       a->exit_reason);
	} else {
		printf("agent:      not running: pid %lld (started %s) is gone without exiting "
		       "cleanly\n",
		       (long long)a->pid, t);
	}
	if (a->last_attempt_at) {
		pg_fmt_time(a->last_attempt_at, t, sizeof(t));
		printf("            last apply %s (%s): %s", t, a->last_attempt_trigger,
		       a->last_attempt_ok ? "ok" : "failed");
		if (!a->last_attempt_ok)
			printf(", exit status %lld (%s)", (long long)a->last_attempt_status,
			       pg_exit_word(a->last_attempt_status));
		printf("\n");
	}
	if (a->last_success_at) {
		pg_fmt_time(a->last_success_at, t, sizeof(t));
		printf("            last success %s: generation %llu, sha256 %s\n", t,
		       (unsigned long long)a->generation, a->sha256);
	}
	printf("            reloads %llu ok, %llu failed; state file %s\n",
	       (unsigned long long)a->reloads_ok, (unsigned long long)a->reloads_failed,
	       v->agent_path);
	if (a->last_attempt_at && !a->last_attempt_ok && a->last_error[0]) {
		printf("            last error:\n");
		for (p = a->last_error; *p; p = *e ? e + 1 : e) {
			e = p + strcspn(p, "\n");
			printf("              %.*s\n", (int)(e - p), p);
		}
	}
}

static void print_features(void)
{
	bool val[5];
	size_t i;

	view_features(val);
	printf("features:  ");
	for (i = 0; i < 5; i++)
		printf(" %s %s%s", view_feature_names[i], val[i] ? "yes" : "no",
		       i < 4 ? "," : "\n");
}

/* Which decisions are observe-only, and what the programs compare with. */
static void rollout_text(const struct view *v)
{
	struct view_rollout r;

	view_rollout(v, &r);
	printf("rollout:    %s (%u rule%s audit, %u enforce)", view_rollout_word(&r), r.naudit,
	       r.naudit == 1 ? "" : "s", r.nenforce);
	if (r.audit || r.naudit)
		printf("; the kernel's own check: port >= %u, capability %s", r.native_lo,
		       view_caps_word(&r));
	printf("\n");
}

static void policy_text(const struct view *v, const struct pg_hdr *h)
{
	char t[32];

	if (!v->have_meta) {
		if (v->active)
			printf("policy:     none installed: no port is protected (damaged state; "
			       "apply again)\n");
		return;
	}
	pg_fmt_time(v->meta.time, t, sizeof(t));
	printf("mode:       %s%s (%s)\n", v->meta.mode,
	       v->meta.transitional ? ", transitional" : "", v->meta.reason);
	printf("policy:     %s, sha256 %s\n", v->meta.source, v->meta.hash);
	printf("generation: %llu, applied %s\n", (unsigned long long)v->meta.gen, t);
	printf("default:    %s%s\n", h->def == PG_DEF_KERNEL ? "kernel" : "deny",
	       (h->flags & PG_HF_EXEMPT_ROOT) ? ", root exempt" : "");
	printf("protect:    %u-%u%s\n", h->prot_lo, h->prot_hi,
	       (h->flags & PG_HF_PROTECT_RANGE) ? "" : " (not contiguous)");
	rollout_text(v);
}

/* The links, and the cgroup programs' and events' counters. */
static void links_text(const struct view *v)
{
	size_t n;
	int k;

	printf("links:\n");
	for (k = 0; k < PG_NLINKS; k++) {
		if (v->link[k].ok)
			printf("  %-12s link %u, prog %u, cgroup %s\n", view_link_label[k],
			       v->link[k].link_id, v->link[k].prog_id,
			       v->link[k].path ? v->link[k].path : "(unknown)");
		else
			printf("  %-12s %s\n", view_link_label[k],
			       v->link[k].gone ? "detached: its cgroup was removed (run stop, then "
						 "apply)"
					       : "not attached");
	}
	if (!v->have_stats)
		return;
	printf("new cgroups: %llu made, %llu got a node inside mkdir, %llu a path id; "
	       "%lld cgroups hold portgate state\n",
	       (unsigned long long)v->stats[PG_ST_MKDIR],
	       (unsigned long long)v->stats[PG_ST_MKDIR_NODE],
	       (unsigned long long)v->stats[PG_ST_MKDIR_PATH], (long long)v->entries);
	printf("events:     subscribers");
	for (k = 0, n = 0; k < PG_EV_SLOTS; k++)
		if (v->ev_pid[k]) {
			printf(" %u", v->ev_pid[k]);
			n++;
		}
	printf("%s, %llu lost\n", n ? "" : " none", (unsigned long long)v->lost);
}

/* Verdict counts, rules with their hits, the cgroups the policy names. */
static void counts_text(const struct view *v, const struct pg_hdr *h)
{
	size_t i;
	int k;

	if (h) {
		printf("verdicts:  ");
		for (k = 0; k < PG_V_SHOWN; k++)
			printf(" %s %llu", pg_verdict_name(k),
			       (unsigned long long)view_verdict_count(v, k));
		printf("\n");
	}
	if (!v->have_meta)
		return;
	if (v->meta.nrules)
		printf("rules:\n");
	for (i = 0; i < v->meta.nrules; i++) {
		const struct pg_meta_rule *r = &v->meta.rules[i];

		printf("  %8llu  %s:%u  %s%s\n",
		       (unsigned long long)view_cnt(v, PG_CNT_RULE0 + (uint32_t)i),
		       r->file < v->meta.nfiles ? v->meta.files[r->file] : "?", r->line, r->text,
		       view_rule_audited(v, (uint32_t)i) ? "  (audit: counts would-be changes)"
							 : "");
	}
	printf("cgroups:    %zu carry rules\n", v->meta.nnodes);
	for (i = 0; i < v->meta.nnodes; i++)
		printf("  %s (id %llu, level %d)\n", v->meta.nodes[i].path,
		       (unsigned long long)v->meta.nodes[i].cgid, v->meta.nodes[i].level);
	for (i = 0; i < v->meta.nunmatched; i++)
		printf("unmatched:  %s (no cgroup matches this selector)\n", v->meta.unmatched[i]);
}

static void sysctls_text(const struct view *v)
{
	size_t i;

	if (!v->nsaved) {
		printf("sysctls:    none managed\n");
		return;
	}
	printf("sysctls:\n");
	for (i = 0; i < v->nsaved; i++)
		printf("  netns %llu (%s): ip_unprivileged_port_start %u, was %u%s\n",
		       (unsigned long long)v->saved[i].ino, v->saved[i].v.path, v->saved[i].v.set,
		       v->saved[i].v.orig,
		       v->saved[i].v.state == 2 ? "" : " (lowering did not finish)");
}

void status_text(const struct view *v, const char *pin_dir)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;

	printf("state:      %s (%s)\n", v->active ? "enforcing" : "not enforcing", pin_dir);
	printf("kernel:     %s, bypass bit %s, variant %s (%s)\n", pg_kernel_release(),
	       view_bypass_word(v), pg_variant_name(view_variant(v)),
	       pg_variant_what(view_variant(v)));
	print_features();
	if (!v->active && !pg_state_any(&v->st)) {
		agent_text(v);
		status_kube_text(v);
		return;
	}
	policy_text(v, h);
	links_text(v);
	counts_text(v, h);
	sysctls_text(v);
	printf("memory:     %llu bytes in pinned maps, %llu in the policy image\n",
	       (unsigned long long)v->mem, (unsigned long long)v->nimg * PG_BLOCK_SIZE);
	agent_text(v);
	status_kube_text(v);
}
