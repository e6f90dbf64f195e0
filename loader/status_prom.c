// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status_prom.c - `portgate status --prometheus` and the agent's /metrics. */
#include <stdarg.h>
#include <stdio.h>

#include "cmd.h"
#include "status_int.h"

/* A label value: backslash, double quote and newline escaped. */
static void prom_label_value(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	/* help texts here hold no backslash or newline to escape */
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",...} value; labels as NULL-terminated key, value pairs. */
static void prom_sample(FILE *f, const char *name, uint64_t value, ...)
{
	const char *k, *val;
	va_list ap;
	bool any = false;

	fputs(name, f);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		fprintf(f, "%s%s=\"", any ? "," : "{", k);
		prom_label_value(f, val);
		fputc('"', f);
		any = true;
	}
	va_end(ap);
	fprintf(f, "%s %llu\n", any ? "}" : "", (unsigned long long)value);
}

static void prom_rules(FILE *f, const struct view *v)
{
	size_t i;

	prom_head(f, "portgate_rule_hits_total", "counter",
		  "Binds to protected ports decided by each rule since the policy was applied.");
	for (i = 0; v->have_meta && i < v->meta.nrules; i++) {
		const struct pg_meta_rule *r = &v->meta.rules[i];
		char idx[24], line[24], action[16] = "", sel[4096] = "", ports[1024] = "";
		char cond[4096] = "", tok[4096];
		const char *p = r->text;
		size_t n = 0;

		pg_meta_token(&p, action, sizeof(action));
		pg_meta_token(&p, sel, sizeof(sel));
		pg_meta_token(&p, ports, sizeof(ports));
		while (pg_meta_token(&p, tok, sizeof(tok)))
			n += (size_t)snprintf(cond + n, n < sizeof(cond) ? sizeof(cond) - n : 0,
					      "%s%s", n ? " " : "", tok);
		snprintf(idx, sizeof(idx), "%zu", i);
		snprintf(line, sizeof(line), "%u", r->line);
		prom_sample(f, "portgate_rule_hits_total", view_cnt(v, PG_CNT_RULE0 + (uint32_t)i),
			    "index", idx, "file",
			    r->file < v->meta.nfiles ? v->meta.files[r->file] : "", "line", line,
			    "action", action, "selector", sel, "ports", ports, "conditions", cond,
			    NULL);
	}
}

static void prom_hooks(FILE *f, const struct view *v)
{
	if (!v->have_stats)
		return;
	prom_head(f, "portgate_cgroup_mkdirs_total", "counter",
		  "cgroup2 cgroups made since portgate was loaded.");
	prom_sample(f, "portgate_cgroup_mkdirs_total", v->stats[PG_ST_MKDIR], NULL);
	prom_head(f, "portgate_cgroup_mkdir_nodes_total", "counter",
		  "New cgroups given their node by the path table inside mkdir.");
	prom_sample(f, "portgate_cgroup_mkdir_nodes_total", v->stats[PG_ST_MKDIR_NODE], NULL);
	prom_head(f, "portgate_cgroup_state_entries", "gauge",
		  "Cgroups holding portgate state (pg_nodes entries).");
	prom_sample(f, "portgate_cgroup_state_entries", (uint64_t)v->entries, NULL);
	prom_head(f, "portgate_events_lost_total", "counter",
		  "Events dropped because a subscriber's ring buffer was full.");
	prom_sample(f, "portgate_events_lost_total", v->lost, NULL);
}

static void prom_agent(FILE *f, const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;

	prom_head(f, "portgate_agent_running", "gauge",
		  "1 if the agent (portgate run) of this pin directory is alive.");
	prom_sample(f, "portgate_agent_running", v->have_agent && v->agent_alive, NULL);
	if (!v->have_agent)
		return;
	prom_head(f, "portgate_agent_start_time_seconds", "gauge",
		  "When the agent started, in seconds since the epoch.");
	prom_sample(f, "portgate_agent_start_time_seconds", a->started_at, NULL);
	prom_head(f, "portgate_agent_reloads_total", "counter",
		  "Applies by the agent after its first, by result.");
	prom_sample(f, "portgate_agent_reloads_total", a->reloads_ok, "result", "ok", NULL);
	prom_sample(f, "portgate_agent_reloads_total", a->reloads_failed, "result", "failed", NULL);
	prom_head(f, "portgate_agent_last_reload_success", "gauge",
		  "1 if the agent's last apply succeeded, 0 if it failed (the policy before it "
		  "stays in force).");
	prom_sample(f, "portgate_agent_last_reload_success", a->last_attempt_ok, NULL);
	prom_head(f, "portgate_agent_last_reload_timestamp_seconds", "gauge",
		  "When the agent last tried to apply, in seconds since the epoch.");
	prom_sample(f, "portgate_agent_last_reload_timestamp_seconds", a->last_attempt_at, NULL);
	prom_head(f, "portgate_agent_last_success_timestamp_seconds", "gauge",
		  "When an apply by the agent last succeeded, in seconds since the epoch.");
	prom_sample(f, "portgate_agent_last_success_timestamp_seconds", a->last_success_at, NULL);
}

static void status_prometheus(FILE *f, const struct view *v)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;
	char gen[24], ino[24];
	size_t i;
	int k;

	prom_head(f, "portgate_enforcing", "gauge",
		  "1 if all four programs are attached and a policy is pinned.");
	prom_sample(f, "portgate_enforcing", v->active, NULL);
	prom_head(f, "portgate_link_attached", "gauge", "1 if the program's link is attached.");
	for (k = 0; k < PG_NLINKS; k++)
		prom_sample(f, "portgate_link_attached", v->link[k].ok, "link", view_link_label[k],
			    NULL);
	if (v->have_meta) {
		snprintf(gen, sizeof(gen), "%llu", (unsigned long long)v->meta.gen);
		prom_head(f, "portgate_policy_info", "gauge",
			  "The policy in force: its hash, mode and generation as labels.");
		prom_sample(f, "portgate_policy_info", 1, "sha256", v->meta.hash, "mode",
			    v->meta.mode, "generation", gen, "file", v->meta.source, "attach",
			    v->meta.attach, "transitional", v->meta.transitional ? "true" : "false",
			    "default", h->def == PG_DEF_KERNEL ? "kernel" : "deny", NULL);
		prom_head(f, "portgate_policy_generation", "gauge",
			  "Generation of the policy in force.");
		prom_sample(f, "portgate_policy_generation", v->meta.gen, NULL);
		prom_head(f, "portgate_policy_applied_timestamp_seconds", "gauge",
			  "When the policy in force was applied, in seconds since the epoch.");
		prom_sample(f, "portgate_policy_applied_timestamp_seconds", v->meta.time, NULL);
		prom_head(f, "portgate_policy_rules", "gauge", "Rules in the policy in force.");
		prom_sample(f, "portgate_policy_rules", v->meta.nrules, NULL);
		prom_head(f, "portgate_unmatched_selectors", "gauge",
			  "Selectors of the policy in force that match no cgroup.");
		prom_sample(f, "portgate_unmatched_selectors", v->meta.nunmatched, NULL);
	}
	if (h) {
		prom_head(f, "portgate_binds_total", "counter",
			  "Binds to protected ports since the policy was applied, by verdict.");
		for (k = 0; k < PG_V__NR; k++)
			prom_sample(f, "portgate_binds_total", view_verdict_count(v, k), "verdict",
				    pg_verdict_name(k), NULL);
	}
	if (v->have_meta)
		prom_rules(f, v);
	prom_head(f, "portgate_sysctl_ip_unprivileged_port_start", "gauge",
		  "net.ipv4.ip_unprivileged_port_start as set by portgate, per managed network "
		  "namespace.");
	for (i = 0; i < v->nsaved; i++) {
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)v->saved[i].ino);
		prom_sample(f, "portgate_sysctl_ip_unprivileged_port_start", v->saved[i].v.set,
			    "netns", v->saved[i].v.path, "netns_inode", ino, NULL);
	}
	prom_head(f, "portgate_sysctl_ip_unprivileged_port_start_original", "gauge",
		  "net.ipv4.ip_unprivileged_port_start before portgate lowered it; stop restores "
		  "it.");
	for (i = 0; i < v->nsaved; i++) {
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)v->saved[i].ino);
		prom_sample(f, "portgate_sysctl_ip_unprivileged_port_start_original",
			    v->saved[i].v.orig, "netns", v->saved[i].v.path, "netns_inode", ino,
			    NULL);
	}
	prom_head(f, "portgate_map_memory_bytes", "gauge", "Kernel memory of the pinned maps.");
	prom_sample(f, "portgate_map_memory_bytes", v->mem, NULL);
	prom_agent(f, v);
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
