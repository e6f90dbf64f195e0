// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status.c - `portgate status` and `portgate explain`, from the live kernel state. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cgroup.h"
#include "events.h"
#include "explain.h"
#include "json.h"
#include "cmd.h"
#include "compile.h"
#include "meta.h"
#include "netns.h"
#include "opt.h"
#include "probe.h"
#include "state.h"
#include "util.h"

static const char *const link_label[PG_NLINKS] = { "bind4",	  "bind6",	  "sysctl",
						   "sock_create", "cgroup_mkdir", "cgroup_rmdir" };

/* Everything status shows, gathered once for text and JSON alike. */
struct view {
	struct pg_state st;
	bool active;
	union pg_block *img;
	uint32_t nimg;
	struct pg_meta meta;
	bool have_meta;
	uint64_t *cnt;
	struct pg_saved_ent *saved;
	size_t nsaved;
	struct {
		bool ok;
		bool gone; /* pinned, but its cgroup was removed */
		uint64_t cgid;
		uint32_t prog_id, link_id;
		const char *path;
	} link[PG_NLINKS];
	struct pg_cgroup *tree;
	size_t ntree;
	uint64_t mem;
	uint64_t stats[PG_ST__NR];
	bool have_stats;
	uint32_t ev_pid[PG_EV_SLOTS]; /* live subscribers, 0 for a free or dead slot */
	int64_t entries;	      /* cgroups holding portgate state */
	uint64_t lost;		      /* events lost, all slots */
	/* the agent following this pin directory, from its state file */
	char agent_path[PATH_MAX];
	struct pg_agent_state agent;
	bool have_agent, agent_alive;
};

static void view_free(struct view *v)
{
	free(v->img);
	free(v->cnt);
	free(v->saved);
	if (v->have_meta)
		pg_meta_free(&v->meta);
	pg_cg_tree_free(v->tree, v->ntree);
	pg_state_close(&v->st);
}

static int gather(struct view *v, const char *pin_dir)
{
	char mount[4096];
	int err, i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < PG_NMAPS; i++)
		v->st.map[i] = -1;
	for (i = 0; i < PG_NLINKS; i++)
		v->st.prog[i] = v->st.link[i] = -1;
	v->st.dirfd = -1;
	if (geteuid()) {
		pg_err("reading portgate's state needs root: %s and its maps are root-only",
		       pin_dir);
		return -EPERM;
	}
	if (!pg_agent_state_path(pin_dir, v->agent_path, sizeof(v->agent_path))) {
		err = pg_agent_state_read(v->agent_path, &v->agent);
		if (!err) {
			v->have_agent = true;
			v->agent_alive = pg_agent_alive(&v->agent);
		} else if (err != -ENOENT) {
			pg_warn("ignoring the agent state file %s: %s", v->agent_path,
				err == -EPROTO ? "not in the format of this portgate"
					       : strerror(-err));
		}
	}
	err = pg_state_open(&v->st, pin_dir, false, false);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	v->active = pg_state_active(&v->st);
	if (!pg_cg2_mount(mount, sizeof(mount)))
		pg_cg_tree(mount, &v->tree, &v->ntree);
	for (i = 0; i < PG_NLINKS; i++) {
		v->link[i].ok = !pg_state_link_info(&v->st, i, &v->link[i].cgid,
						    &v->link[i].prog_id, &v->link[i].link_id);
		/* rmdir of its cgroup detaches a link (the pin stays): id 0, or an id
		 * no longer in the tree while the detach is pending */
		if (i < PG_NCGLINKS && v->link[i].ok &&
		    (!v->link[i].cgid ||
		     (v->tree && !pg_cg_tree_path(v->tree, v->ntree, v->link[i].cgid)))) {
			v->link[i].ok = false;
			v->link[i].gone = true;
			v->active = false;
		}
		if (i >= PG_NCGLINKS)
			v->link[i].path = "(tracepoint, every cgroup)";
		else if (v->link[i].ok)
			v->link[i].path = pg_cg_tree_path(v->tree, v->ntree, v->link[i].cgid);
	}
	if (!pg_state_image(&v->st, &v->img, &v->nimg)) {
		v->have_meta = !pg_meta_parse(v->img, v->nimg, &v->meta);
		pg_state_counters(&v->st, v->img[0].hdr.slot, v->img[0].hdr.cnt_stride, &v->cnt);
	}
	pg_netns_saved(&v->st, &v->saved, &v->nsaved);
	v->have_stats = !pg_state_stats(&v->st, v->stats);
	if (v->st.ctl && v->have_stats) {
		/* only live ones: a killed subscriber's slot waits to be taken over */
		for (i = 0; i < PG_EV_SLOTS; i++) {
			if (pg_sub_slot_alive(v->st.ctl, (int)i))
				v->ev_pid[i] = v->st.ctl->ev_pid[i];
			v->lost += v->stats[PG_ST_EV_DROP0 + i];
		}
		v->entries = (int64_t)(v->stats[PG_ST_STORE_NEW] + v->st.ctl->store_new) -
			     (int64_t)(v->stats[PG_ST_STORE_DEL] + v->st.ctl->store_del);
	}
	for (i = 0; i < PG_NMAPS; i++)
		if (v->st.map[i] >= 0)
			v->mem += pg_map_memory(v->st.map[i]);
	return 0;
}

static uint64_t cnt_at(const struct view *v, uint32_t idx)
{
	return v->cnt && idx < v->img[0].hdr.cnt_stride ? v->cnt[idx] : 0;
}

/*
 * Binds per verdict. The programs count a bind once: on its deciding rule,
 * or on the verdict when no rule decided; a rule's binds go to its action.
 */
static uint64_t verdict_count(const struct view *v, int k)
{
	const struct pg_hdr *h = &v->img[0].hdr;
	uint64_t n = cnt_at(v, (uint32_t)k);
	uint32_t i;

	if (k != PG_V_GRANT && k != PG_V_DENY_RULE)
		return n;
	for (i = 0; i < h->nrules && PG_RULE_OFF + i / 4 < v->nimg; i++) {
		uint8_t act = v->img[PG_RULE_OFF + i / 4].rule[i % 4].act;

		if ((act == PG_ACT_ALLOW) == (k == PG_V_GRANT))
			n += cnt_at(v, PG_CNT_RULE0 + i);
	}
	return n;
}

static const char *bypass_word(const struct view *v)
{
	if (!v->st.ctl || !v->st.ctl->bypass)
		return "unknown";
	return v->st.ctl->bypass == 2 ? "yes" : "no";
}

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

static int variant_of(const struct view *v)
{
	return v->st.ctl ? (int)v->st.ctl->variant : PG_VARIANT_NONE;
}

static const char *const feature_names[] = { "sock_addr", "btf", "bpf_loop", "bpf_cast_to_kern_ctx",
					     "get_current_ancestor_cgroup_id" };

static void feature_values(bool *out)
{
	struct pg_features f;

	pg_probe_features(&f);
	out[0] = f.sock_addr;
	out[1] = f.btf;
	out[2] = f.loop;
	out[3] = f.kern_ctx;
	out[4] = f.ancestor_id;
}

static void print_features(void)
{
	bool val[5];
	size_t i;

	feature_values(val);
	printf("features:  ");
	for (i = 0; i < 5; i++)
		printf(" %s %s%s", feature_names[i], val[i] ? "yes" : "no", i < 4 ? "," : "\n");
}

static struct json_object *json_features(void)
{
	struct json_object *o = pg_json_obj();
	bool val[5];
	size_t i;

	feature_values(val);
	for (i = 0; i < 5; i++)
		pg_json_set_bool(o, feature_names[i], val[i]);
	return o;
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
}

/* The links, and the cgroup programs' and events' counters. */
static void links_text(const struct view *v)
{
	size_t n;
	int k;

	printf("links:\n");
	for (k = 0; k < PG_NLINKS; k++) {
		if (v->link[k].ok)
			printf("  %-12s link %u, prog %u, cgroup %s\n", link_label[k],
			       v->link[k].link_id, v->link[k].prog_id,
			       v->link[k].path ? v->link[k].path : "(unknown)");
		else
			printf("  %-12s %s\n", link_label[k],
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
		for (k = 0; k < PG_V__NR; k++)
			printf(" %s %llu", pg_verdict_name(k),
			       (unsigned long long)verdict_count(v, k));
		printf("\n");
	}
	if (!v->have_meta)
		return;
	if (v->meta.nrules)
		printf("rules:\n");
	for (i = 0; i < v->meta.nrules; i++) {
		const struct pg_meta_rule *r = &v->meta.rules[i];

		printf("  %8llu  %s:%u  %s\n",
		       (unsigned long long)cnt_at(v, PG_CNT_RULE0 + (uint32_t)i),
		       r->file < v->meta.nfiles ? v->meta.files[r->file] : "?", r->line, r->text);
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

static void status_text(const struct view *v, const char *pin_dir)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;

	printf("state:      %s (%s)\n", v->active ? "enforcing" : "not enforcing", pin_dir);
	printf("kernel:     %s, bypass bit %s, variant %s (%s)\n", pg_kernel_release(),
	       bypass_word(v), pg_variant_name(variant_of(v)), pg_variant_what(variant_of(v)));
	print_features();
	if (!v->active && !pg_state_any(&v->st)) {
		agent_text(v);
		return;
	}
	policy_text(v, h);
	links_text(v);
	counts_text(v, h);
	sysctls_text(v);
	printf("memory:     %llu bytes in pinned maps, %llu in the policy image\n",
	       (unsigned long long)v->mem, (unsigned long long)v->nimg * PG_BLOCK_SIZE);
	agent_text(v);
}

static struct json_object *kernel_json(const struct view *v)
{
	struct json_object *o = pg_json_obj();
	int var = variant_of(v);

	pg_json_set_str(o, "release", pg_kernel_release());
	pg_json_set_str(o, "bypass", bypass_word(v));
	pg_json_set_str(o, "variant", pg_variant_name(var));
	pg_json_set_str(o, "identity",
			var == PG_VARIANT_TASK ? "task cgroup"
			: var == PG_VARIANT_SK ? "socket cgroup"
					       : NULL);
	pg_json_set(o, "features", json_features());
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
}

static struct json_object *links_json(const struct view *v)
{
	struct json_object *arr = pg_json_arr();
	int k;

	for (k = 0; k < PG_NLINKS; k++) {
		struct json_object *o = pg_json_obj();

		pg_json_set_str(o, "type", link_label[k]);
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

	for (k = 0; k < PG_V__NR; k++)
		pg_json_set_u64(o, pg_verdict_name(k), verdict_count(v, k));
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
		pg_json_set_u64(e, "hits", cnt_at(v, PG_CNT_RULE0 + (uint32_t)i));
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
static int status_json(const struct view *v, const char *pin_dir)
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
	return pg_json_print(stdout, doc);
}

/* ------------------------------------------------------------ prometheus */

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
		prom_sample(f, "portgate_rule_hits_total", cnt_at(v, PG_CNT_RULE0 + (uint32_t)i),
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
		prom_sample(f, "portgate_link_attached", v->link[k].ok, "link", link_label[k],
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
			prom_sample(f, "portgate_binds_total", verdict_count(v, k), "verdict",
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

int pg_status_in_force(const char *pin_dir, uint64_t *gen, char hash[65])
{
	struct view v;
	int err = gather(&v, pin_dir);

	if (!err && !v.have_meta)
		err = -ENOENT;
	if (!err) {
		*gen = v.meta.gen;
		snprintf(hash, 65, "%s", v.meta.hash);
	}
	view_free(&v);
	return err;
}

int pg_status_prometheus(FILE *f, const char *pin_dir)
{
	struct view v;
	int err = gather(&v, pin_dir);

	if (!err)
		status_prometheus(f, &v);
	view_free(&v);
	return err;
}

struct status_args {
	struct pg_opts o; /* first: see opt.h */
	bool prom;
};

static const struct pg_optdef status_opts[] = {
	PG_OPT_PIN_DIR,
	{ .name = "prometheus",
	  .help = "Prometheus text format, not with -j",
	  .def = "text",
	  .off = offsetof(struct status_args, prom) },
	{ 0 },
};

static int cmd_status(int argc, char **argv, struct pg_opts *o)
{
	struct status_args sa = { .o = *o };
	struct view v;
	char **arg;
	int status, r = 0;

	if (!pg_opt_parse(&pg_cmd_status, argc, argv, &sa, &arg, &status))
		return status;
	o = &sa.o;
	if (sa.prom && o->json) {
		pg_err("takes --json or --prometheus, not both");
		return PG_EXIT_USAGE;
	}
	if (sa.prom) {
		if (pg_status_prometheus(stdout, o->pin_dir))
			return PG_EXIT_FAIL;
		return fflush(stdout) ? PG_EXIT_FAIL : PG_EXIT_OK;
	}
	if (gather(&v, o->pin_dir)) {
		view_free(&v);
		return PG_EXIT_FAIL;
	}
	if (o->json)
		r = status_json(&v, o->pin_dir);
	else
		status_text(&v, o->pin_dir);
	view_free(&v);
	if (r) {
		pg_err("cannot write the status: %s", strerror(-r));
		return PG_EXIT_FAIL;
	}
	return PG_EXIT_OK;
}

const struct pg_cmd pg_cmd_status = {
	.name = "status",
	.fn = cmd_status,
	.synopsis = "[--pin-dir DIR] [-j | --prometheus]",
	.help = "mode and why, links, policy, counters, managed sysctls, the agent",
	.opts = status_opts,
	.json = true,
	.nargs_err = "takes no arguments besides options",
};

/* ---------------------------------------------------------------- explain */

/* The live decision for one protocol; w's strings point into v. */
static void live_decide(struct view *v, const struct pg_ask *a, uint32_t proto,
			const uint32_t *nodes, size_t n, const char *const *paths, struct pg_why *w)
{
	int at = -1;

	memset(w, 0, sizeof(*w));
	w->proto = proto;
	w->rule = ~0u;
	if (!pg_image_protects(v->img, v->nimg, a->port)) {
		w->verdict = -1;
		w->ret = 1;
		return;
	}
	w->verdict = pg_image_decide(v->img, v->nimg, nodes, n, a->port, proto, a->uid, a->gid,
				     a->addr, &w->rule, &at);
	w->ret = pg_image_ret(v->img, v->nimg, w->verdict);
	w->at = at >= 0 ? paths[at] : NULL;
	if (w->rule != ~0u && v->have_meta && w->rule < v->meta.nrules) {
		const struct pg_meta_rule *r = &v->meta.rules[w->rule];

		w->file = r->file < v->meta.nfiles ? v->meta.files[r->file] : NULL;
		w->line = r->line;
		w->text = r->text;
	}
}

int pg_explain_live(const char *pin_dir, const struct pg_ask *a, bool json)
{
	uint32_t nodes[PG_MAX_LEVEL + 1], bit;
	const char *paths[PG_MAX_LEVEL + 1];
	char mount[4096], path[4096];
	struct view v;
	struct pg_answers out = { 0 };
	size_t n = 0;
	int status = PG_EXIT_FAIL, level, i;
	uint64_t id;

	if (pg_cg2_mount(mount, sizeof(mount))) {
		pg_err("cannot find a cgroup2 mount in /proc/self/mountinfo");
		return PG_EXIT_FAIL;
	}
	if (gather(&v, pin_dir))
		goto out;
	if (!v.img) {
		pg_err("no active policy in %s", pin_dir);
		goto out;
	}
	/* The cgroup and its ancestors, nearest first, as the bind hooks walk them. */
	snprintf(path, sizeof(path), "%s", a->cg);
	for (level = 0;; level++) {
		char *slash;

		if (pg_cg_id(mount, path, &id)) {
			pg_err("cgroup %s does not exist under %s", path, mount);
			goto out;
		}
		if (n <= PG_MAX_LEVEL) {
			paths[n] = strdup(path);
			nodes[n++] = pg_state_node(&v.st, mount, path, id, &v.img[0].hdr);
		}
		if (!strcmp(path, "/"))
			break;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = 0;
		else
			*slash = 0;
	}
	if (json)
		pg_answers_init(&out, a->protos);
	for (bit = PG_PROTO_TCP; bit <= PG_PROTO_OTHER; bit <<= 1) {
		struct pg_why w;

		if (!(a->protos & bit))
			continue;
		live_decide(&v, a, pg_proto_of_bit(bit), nodes, n, paths, &w);
		if (json) {
			struct json_object *doc = pg_json_doc();

			pg_why_json(a, &w, doc);
			pg_answers_add(&out, doc);
		} else {
			pg_why_text(a, &w, stdout);
		}
	}
	status = PG_EXIT_OK;
	if (json && pg_answers_print(&out))
		status = PG_EXIT_FAIL;
out:
	for (i = 0; i < (int)n; i++)
		free((char *)paths[i]);
	view_free(&v);
	return status;
}
