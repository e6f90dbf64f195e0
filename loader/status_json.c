// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status_json.c - `portgate status -j`, written through json.h. */
#include "json.h"
#include "probe.h"
#include "status_int.h"
#include "util.h"

/* Unix seconds as "2026-11-29T03:42:24Z"; 0 (never): null. */
static void json_time(struct json_object *o, const char *key, uint64_t secs)
{
	char t[32];

	if (!secs) {
		pg_json_set(o, key, NULL);
		return;
	}
	pg_fmt_time(secs, t, sizeof(t));
	pg_json_set_str(o, key, t);
}

static struct json_object *agent_json(const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;
	struct json_object *o;

	if (!v->have_agent)
		return NULL;
	o = pg_json_obj();
	pg_json_set_str(o, "state_file", v->agent_path);
	pg_json_set_i64(o, "pid", a->pid);
	pg_json_set_bool(o, "alive", v->agent_alive);
	pg_json_set_bool(o, "exited_cleanly", !a->running);
	json_time(o, "started_at", a->started_at);
	json_time(o, "exited_at", a->running ? 0 : a->exited_at);
	pg_json_set_str(o, "exit_reason", a->running ? NULL : a->exit_reason);
	pg_json_set_str(o, "file", a->file);
	pg_json_set_str(o, "attach", a->attach);
	json_time(o, "last_attempt_at", a->last_attempt_at);
	pg_json_set_bool(o, "last_attempt_ok", a->last_attempt_ok);
	pg_json_set_i64(o, "last_attempt_status", a->last_attempt_status);
	pg_json_set_str(o, "last_attempt_trigger", a->last_attempt_trigger);
	json_time(o, "last_success_at", a->last_success_at);
	pg_json_set_u64(o, "generation", a->generation);
	pg_json_set_str(o, "sha256", a->sha256);
	pg_json_set_u64(o, "reloads_ok", a->reloads_ok);
	pg_json_set_u64(o, "reloads_failed", a->reloads_failed);
	json_time(o, "last_error_at", a->last_error_at);
	pg_json_set_str(o, "last_error", a->last_error[0] ? a->last_error : NULL);
	return o;
}

static struct json_object *json_features(void)
{
	struct json_object *o = pg_json_obj();
	bool val[5];
	size_t i;

	view_features(val);
	for (i = 0; i < 5; i++)
		pg_json_set_bool(o, view_feature_names[i], val[i]);
	return o;
}

static struct json_object *kernel_json(const struct view *v)
{
	struct json_object *o = pg_json_obj();
	int var = view_variant(v);

	pg_json_set_str(o, "release", pg_kernel_release());
	pg_json_set_str(o, "bypass", view_bypass_word(v));
	pg_json_set_str(o, "variant", pg_variant_name(var));
	pg_json_set_str(o, "identity",
			var == PG_VARIANT_TASK ? "task cgroup"
			: var == PG_VARIANT_SK ? "socket cgroup"
					       : NULL);
	pg_json_set(o, "features", json_features());
	return o;
}

/* "rollout": the policy's, the rules audited and enforced, what audit compares with. */
static struct json_object *rollout_json(const struct view *v)
{
	struct json_object *o = pg_json_obj();
	struct view_rollout r;

	view_rollout(v, &r);
	pg_json_set_str(o, "policy", r.audit ? "audit" : "enforce");
	pg_json_set_u64(o, "rules_audit", r.naudit);
	pg_json_set_u64(o, "rules_enforce", r.nenforce);
	pg_json_set_u64(o, "native_threshold", r.native_lo);
	pg_json_set_str(o, "capability", r.caps ? "read" : "uid 0");
	return o;
}

/* What the pinned metadata and the image's header say of the policy in force. */
static void policy_json(struct json_object *o, const struct view *v, const struct pg_hdr *h)
{
	struct json_object *prot = pg_json_obj();
	char t[32];

	pg_fmt_time(v->meta.time, t, sizeof(t));
	pg_json_set_str(o, "mode", v->meta.mode);
	pg_json_set_str(o, "mode_reason", v->meta.reason);
	pg_json_set_bool(o, "transitional", v->meta.transitional);
	pg_json_set_str(o, "policy", v->meta.source);
	pg_json_set_str(o, "sha256", v->meta.hash);
	pg_json_set_u64(o, "generation", v->meta.gen);
	pg_json_set_str(o, "applied_at", t);
	pg_json_set_str(o, "attach", v->meta.attach);
	pg_json_set_str(o, "default", h->def == PG_DEF_KERNEL ? "kernel" : "deny");
	pg_json_set_bool(o, "exempt_root", h->flags & PG_HF_EXEMPT_ROOT);
	pg_json_set_u64(prot, "lo", h->prot_lo);
	pg_json_set_u64(prot, "hi", h->prot_hi);
	pg_json_set_bool(prot, "contiguous", h->flags & PG_HF_PROTECT_RANGE);
	pg_json_set(o, "protect", prot);
	pg_json_set(o, "rollout", rollout_json(v));
}

static struct json_object *links_json(const struct view *v)
{
	struct json_object *arr = pg_json_arr();
	int k;

	for (k = 0; k < PG_NLINKS; k++) {
		struct json_object *o = pg_json_obj();

		pg_json_set_str(o, "type", view_link_label[k]);
		pg_json_set_bool(o, "attached", v->link[k].ok);
		pg_json_set_bool(o, "cgroup_removed", v->link[k].gone);
		if (v->link[k].ok) {
			pg_json_set_u64(o, "link_id", v->link[k].link_id);
			pg_json_set_u64(o, "prog_id", v->link[k].prog_id);
			pg_json_set_u64(o, "cgroup_id", v->link[k].cgid);
			pg_json_set_str(o, "cgroup", v->link[k].path);
		}
		pg_json_push(arr, o);
	}
	return arr;
}

/* "cgroup_hooks" and "events": the programs' own counters. */
static void hooks_json(struct json_object *o, const struct view *v)
{
	struct json_object *hooks = pg_json_obj(), *ev = pg_json_obj(), *subs = pg_json_arr();
	int k;

	pg_json_set_u64(hooks, "mkdirs", v->stats[PG_ST_MKDIR]);
	pg_json_set_u64(hooks, "mkdir_got_node", v->stats[PG_ST_MKDIR_NODE]);
	pg_json_set_u64(hooks, "mkdir_got_path", v->stats[PG_ST_MKDIR_PATH]);
	pg_json_set_i64(hooks, "entries", v->entries);
	pg_json_set(o, "cgroup_hooks", hooks);
	for (k = 0; k < PG_EV_SLOTS; k++)
		if (v->ev_pid[k])
			pg_json_push(subs, json_object_new_uint64(v->ev_pid[k]));
	pg_json_set(ev, "subscribers", subs);
	pg_json_set_u64(ev, "lost", v->lost);
	pg_json_set(o, "events", ev);
}

static struct json_object *verdicts_json(const struct view *v)
{
	struct json_object *o = pg_json_obj();
	int k;

	for (k = 0; k < PG_V_SHOWN; k++)
		pg_json_set_u64(o, pg_verdict_name(k), view_verdict_count(v, k));
	return o;
}

/* "rules" with their hits, "cgroups" the policy names, "unmatched" selectors. */
static void meta_json(struct json_object *o, const struct view *v)
{
	struct json_object *rules = pg_json_arr(), *cgs = pg_json_arr(), *unm = pg_json_arr();
	size_t i;

	for (i = 0; i < v->meta.nrules; i++) {
		const struct pg_meta_rule *r = &v->meta.rules[i];
		struct json_object *e = pg_json_obj();

		pg_json_set_u64(e, "index", i);
		pg_json_set_str(e, "file",
				r->file < v->meta.nfiles ? v->meta.files[r->file] : NULL);
		pg_json_set_u64(e, "line", r->line);
		pg_json_set_str(e, "text", r->text);
		pg_json_set_u64(e, "hits", view_cnt(v, PG_CNT_RULE0 + (uint32_t)i));
		pg_json_set_bool(e, "audit", view_rule_audited(v, (uint32_t)i));
		pg_json_push(rules, e);
	}
	pg_json_set(o, "rules", rules);
	for (i = 0; i < v->meta.nnodes; i++) {
		struct json_object *e = pg_json_obj();

		pg_json_set_str(e, "path", v->meta.nodes[i].path);
		pg_json_set_u64(e, "id", v->meta.nodes[i].cgid);
		pg_json_set_i64(e, "level", v->meta.nodes[i].level);
		pg_json_push(cgs, e);
	}
	pg_json_set(o, "cgroups", cgs);
	for (i = 0; i < v->meta.nunmatched; i++)
		pg_json_push(unm, pg_json_str(v->meta.unmatched[i]));
	pg_json_set(o, "unmatched", unm);
}

static struct json_object *sysctls_json(const struct view *v)
{
	struct json_object *arr = pg_json_arr();
	size_t i;

	for (i = 0; i < v->nsaved; i++) {
		struct json_object *e = pg_json_obj();

		pg_json_set_u64(e, "netns_inode", v->saved[i].ino);
		pg_json_set_str(e, "path", v->saved[i].v.path);
		pg_json_set_u64(e, "ip_unprivileged_port_start", v->saved[i].v.set);
		pg_json_set_u64(e, "original", v->saved[i].v.orig);
		pg_json_set_bool(e, "complete", v->saved[i].v.state == 2);
		pg_json_push(arr, e);
	}
	return arr;
}

/* The status document; members in the order portgate(8) lists them. 0 or -errno. */
int status_json(const struct view *v, const char *pin_dir)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;
	struct json_object *doc = pg_json_doc();

	pg_json_set_bool(doc, "enforcing", v->active);
	pg_json_set_str(doc, "pin_dir", pin_dir);
	pg_json_set(doc, "kernel", kernel_json(v));
	if (v->have_meta)
		policy_json(doc, v, h);
	pg_json_set(doc, "links", links_json(v));
	if (v->have_stats)
		hooks_json(doc, v);
	if (h)
		pg_json_set(doc, "verdicts", verdicts_json(v));
	if (v->have_meta)
		meta_json(doc, v);
	pg_json_set(doc, "sysctls", sysctls_json(v));
	pg_json_set_u64(doc, "map_memory_bytes", v->mem);
	pg_json_set_u64(doc, "image_bytes", (uint64_t)v->nimg * PG_BLOCK_SIZE);
	pg_json_set(doc, "agent", agent_json(v));
	status_kube_json(doc, v);
	return pg_json_print(stdout, doc);
}

/* ------------------------------------------------------------ prometheus */
