// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status_prom.c - `portgate status --prometheus` and the agent's /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json.h" /* pg_version */
#include "prom.h"
#include "status_int.h"
#include "util.h"

/* Audit rollout: whether the policy's rollout is audit, and its audited rules. */
static void prom_rollout(FILE *f, const struct view *v)
{
	struct view_rollout r;

	view_rollout(v, &r);
	pg_prom_head(f, "portgate_policy_audit", "gauge",
		     "1 when the policy in force says rollout audit: its default only observes.");
	pg_prom_sample(f, "portgate_policy_audit", r.audit, NULL);
	pg_prom_head(f, "portgate_policy_audit_rules", "gauge",
		     "Rules of the policy in force that only observe (rollout audit or "
		     "rollout=audit); their rule_hits count would-be changes.");
	pg_prom_sample(f, "portgate_policy_audit_rules", r.naudit, NULL);
}

/*
 * One series per rule id (prom.h), labelled with what the rule says and
 * nothing that moves with an edit elsewhere (index, file, line): an apply
 * that keeps a rule keeps its series, and its count (carry.h). Rules that
 * say the same thing share an id and one series, the sum of their counts.
 */
static void prom_rules(FILE *f, const struct view *v)
{
	size_t n = v->meta.nrules, g, e, i;
	pg_rule_id_t *ids = pg_meta_rule_ids(&v->meta);
	struct pg_rule_key *keys = ids ? pg_rule_keys(ids, n) : NULL;
	uint64_t *total = calloc(n ? n : 1, sizeof(*total));
	bool *first = calloc(n ? n : 1, sizeof(*first));
	struct pg_rule_fields *rf = malloc(sizeof(*rf));

	pg_prom_head(f, "portgate_rule_hits_total", "counter",
		     "Binds to protected ports decided by each rule, by rule id, while portgate's "
		     "maps stay pinned.");
	if (!keys || !total || !first || !rf) {
		pg_err("out of memory for the rule series");
		goto out;
	}
	/* each group of equal ids counted on its first rule */
	for (g = 0; g < n; g = e) {
		first[keys[g].idx] = true;
		for (e = g; e < n && !strcmp(keys[e].id, keys[g].id); e++)
			total[keys[g].idx] += view_cnt(v, PG_CNT_RULE0 + keys[e].idx);
	}
	for (i = 0; i < n; i++) {
		if (!first[i])
			continue;
		pg_meta_rule_fields(v->meta.rules[i].text, rf);
		pg_prom_sample(f, "portgate_rule_hits_total", total[i], "id", ids[i], "action",
			       rf->action, "selector", rf->selector, "ports", rf->ports,
			       "conditions", rf->conditions, NULL);
	}
out:
	free(ids);
	free(keys);
	free(total);
	free(first);
	free(rf);
}

static void prom_hooks(FILE *f, const struct view *v)
{
	if (!v->have_stats)
		return;
	pg_prom_head(f, "portgate_cgroup_mkdirs_total", "counter",
		     "cgroup2 cgroups made since portgate was loaded.");
	pg_prom_sample(f, "portgate_cgroup_mkdirs_total", v->stats[PG_ST_MKDIR], NULL);
	pg_prom_head(f, "portgate_cgroup_mkdir_nodes_total", "counter",
		     "New cgroups given their node by the path table inside mkdir.");
	pg_prom_sample(f, "portgate_cgroup_mkdir_nodes_total", v->stats[PG_ST_MKDIR_NODE], NULL);
	pg_prom_head(f, "portgate_cgroup_state_entries", "gauge",
		     "Cgroups holding portgate state (pg_nodes entries).");
	pg_prom_sample(f, "portgate_cgroup_state_entries", (uint64_t)v->entries, NULL);
	pg_prom_head(f, "portgate_events_lost_total", "counter",
		     "Events dropped because a subscriber's ring buffer was full.");
	pg_prom_sample(f, "portgate_events_lost_total", v->lost, NULL);
}

static void prom_agent(FILE *f, const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;

	pg_prom_head(f, "portgate_agent_running", "gauge",
		     "1 if the agent (portgate run) of this pin directory is alive.");
	pg_prom_sample(f, "portgate_agent_running", v->have_agent && v->agent_alive, NULL);
	if (!v->have_agent)
		return;
	pg_prom_head(f, "portgate_agent_start_time_seconds", "gauge",
		     "When the agent started, in seconds since the epoch.");
	pg_prom_sample(f, "portgate_agent_start_time_seconds", a->started_at, NULL);
	pg_prom_head(f, "portgate_agent_reloads_total", "counter",
		     "Applies by the agent after its first, by result.");
	pg_prom_sample(f, "portgate_agent_reloads_total", a->reloads_ok, "result", "ok", NULL);
	pg_prom_sample(f, "portgate_agent_reloads_total", a->reloads_failed, "result", "failed",
		       NULL);
	pg_prom_head(f, "portgate_agent_last_reload_success", "gauge",
		     "1 if the agent's last apply succeeded, 0 if it failed (the policy before it "
		     "stays in force).");
	pg_prom_sample(f, "portgate_agent_last_reload_success", a->last_attempt_ok, NULL);
	pg_prom_head(f, "portgate_agent_last_reload_timestamp_seconds", "gauge",
		     "When the agent last tried to apply, in seconds since the epoch.");
	pg_prom_sample(f, "portgate_agent_last_reload_timestamp_seconds", a->last_attempt_at, NULL);
	pg_prom_head(f, "portgate_agent_last_success_timestamp_seconds", "gauge",
		     "When an apply by the agent last succeeded, in seconds since the epoch.");
	pg_prom_sample(f, "portgate_agent_last_success_timestamp_seconds", a->last_success_at,
		       NULL);
}

static void status_prometheus(FILE *f, const struct view *v)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;
	char ino[24];
	size_t i;
	int k;

	pg_prom_head(f, "portgate_build_info", "gauge",
		     "The portgate binary: its version and the commit it was built from.");
	pg_prom_sample(f, "portgate_build_info", 1, "version", pg_version, "commit",
		       pg_prom_commit(pg_version), NULL);
	pg_prom_head(f, "portgate_enforcing", "gauge",
		     "1 if all four programs are attached and a policy is pinned.");
	pg_prom_sample(f, "portgate_enforcing", v->active, NULL);
	pg_prom_head(f, "portgate_link_attached", "gauge", "1 if the program's link is attached.");
	for (k = 0; k < PG_NLINKS; k++)
		pg_prom_sample(f, "portgate_link_attached", v->link[k].ok, "link",
			       view_link_label[k], NULL);
	if (v->have_meta) {
		pg_prom_head(f, "portgate_policy_info", "gauge",
			     "The policy in force: its hash, mode and settings as labels.");
		pg_prom_sample(f, "portgate_policy_info", 1, "sha256", v->meta.hash, "mode",
			       v->meta.mode, "file", v->meta.source, "attach", v->meta.attach,
			       "transitional", v->meta.transitional ? "true" : "false", "default",
			       h->def == PG_DEF_KERNEL ? "kernel" : "deny", NULL);
		pg_prom_head(f, "portgate_policy_generation", "gauge",
			     "Generation of the policy in force.");
		pg_prom_sample(f, "portgate_policy_generation", v->meta.gen, NULL);
		pg_prom_head(f, "portgate_policy_applied_timestamp_seconds", "gauge",
			     "When the policy in force was applied, in seconds since the epoch.");
		pg_prom_sample(f, "portgate_policy_applied_timestamp_seconds", v->meta.time, NULL);
		pg_prom_head(f, "portgate_policy_rules", "gauge", "Rules in the policy in force.");
		pg_prom_sample(f, "portgate_policy_rules", v->meta.nrules, NULL);
		prom_rollout(f, v);
		pg_prom_head(f, "portgate_unmatched_selectors", "gauge",
			     "Selectors of the policy in force that match no cgroup.");
		pg_prom_sample(f, "portgate_unmatched_selectors", v->meta.nunmatched, NULL);
	}
	if (h) {
		pg_prom_head(
		    f, "portgate_binds_total", "counter",
		    "Binds to protected ports by verdict, while portgate's maps stay pinned.");
		for (k = 0; k < PG_V_SHOWN; k++)
			pg_prom_sample(f, "portgate_binds_total", view_verdict_count(v, k),
				       "verdict", pg_verdict_name(k), NULL);
	}
	if (v->have_meta)
		prom_rules(f, v);
	pg_prom_head(f, "portgate_sysctl_ip_unprivileged_port_start", "gauge",
		     "net.ipv4.ip_unprivileged_port_start as set by portgate, per managed network "
		     "namespace.");
	for (i = 0; i < v->nsaved; i++) {
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)v->saved[i].ino);
		pg_prom_sample(f, "portgate_sysctl_ip_unprivileged_port_start", v->saved[i].v.set,
			       "netns", v->saved[i].v.path, "netns_inode", ino, NULL);
	}
	pg_prom_head(
	    f, "portgate_sysctl_ip_unprivileged_port_start_original", "gauge",
	    "net.ipv4.ip_unprivileged_port_start before portgate lowered it; stop restores "
	    "it.");
	for (i = 0; i < v->nsaved; i++) {
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)v->saved[i].ino);
		pg_prom_sample(f, "portgate_sysctl_ip_unprivileged_port_start_original",
			       v->saved[i].v.orig, "netns", v->saved[i].v.path, "netns_inode", ino,
			       NULL);
	}
	pg_prom_head(f, "portgate_map_memory_bytes", "gauge", "Kernel memory of the pinned maps.");
	pg_prom_sample(f, "portgate_map_memory_bytes", v->mem, NULL);
	prom_agent(f, v);
	status_kube_prom(f, v);
	prom_hooks(f, v);
}

int pg_status_prometheus(FILE *f, const char *pin_dir)
{
	struct view v;
	int err = view_gather(&v, pin_dir);

	if (!err)
		status_prometheus(f, &v);
	view_free(&v);
	return err;
}
