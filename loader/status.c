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

static void json_time(struct pg_json *j, uint64_t secs)
{
	char t[32];

	if (!secs) {
		pg_json_null(j);
		return;
	}
	pg_fmt_time(secs, t, sizeof(t));
	pg_json_str(j, t);
}

static void agent_json(struct pg_json *j, const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;

	pg_json_key(j, "agent");
	if (!v->have_agent) {
		pg_json_null(j);
		return;
	}
	pg_json_obj(j);
	pg_json_key(j, "state_file");
	pg_json_str(j, v->agent_path);
	pg_json_key(j, "pid");
	pg_json_i64(j, a->pid);
	pg_json_key(j, "alive");
	pg_json_bool(j, v->agent_alive);
	pg_json_key(j, "exited_cleanly");
	pg_json_bool(j, !a->running);
	pg_json_key(j, "started_at");
	json_time(j, a->started_at);
	pg_json_key(j, "exited_at");
	json_time(j, a->running ? 0 : a->exited_at);
	pg_json_key(j, "exit_reason");
	pg_json_str(j, a->running ? NULL : a->exit_reason);
	pg_json_key(j, "file");
	pg_json_str(j, a->file);
	pg_json_key(j, "attach");
	pg_json_str(j, a->attach);
	pg_json_key(j, "last_attempt_at");
	json_time(j, a->last_attempt_at);
	pg_json_key(j, "last_attempt_ok");
	pg_json_bool(j, a->last_attempt_ok);
	pg_json_key(j, "last_attempt_status");
	pg_json_i64(j, a->last_attempt_status);
	pg_json_key(j, "last_attempt_trigger");
	pg_json_str(j, a->last_attempt_trigger);
	pg_json_key(j, "last_success_at");
	json_time(j, a->last_success_at);
	pg_json_key(j, "generation");
	pg_json_u64(j, a->generation);
	pg_json_key(j, "sha256");
	pg_json_str(j, a->sha256);
	pg_json_key(j, "reloads_ok");
	pg_json_u64(j, a->reloads_ok);
	pg_json_key(j, "reloads_failed");
	pg_json_u64(j, a->reloads_failed);
	pg_json_key(j, "last_error_at");
	json_time(j, a->last_error_at);
	pg_json_key(j, "last_error");
	pg_json_str(j, a->last_error[0] ? a->last_error : NULL);
	pg_json_obj_end(j);
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

static void json_features(struct pg_json *j)
{
	bool val[5];
	size_t i;

	feature_values(val);
	pg_json_key(j, "features");
	pg_json_obj(j);
	for (i = 0; i < 5; i++) {
		pg_json_key(j, feature_names[i]);
		pg_json_bool(j, val[i]);
	}
	pg_json_obj_end(j);
}

static void status_text(const struct view *v, const char *pin_dir)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;
	char t[32];
	size_t i;
	int k;

	printf("state:      %s (%s)\n", v->active ? "enforcing" : "not enforcing", pin_dir);
	printf("kernel:     %s, bypass bit %s, variant %s (%s)\n", pg_kernel_release(),
	       bypass_word(v), pg_variant_name(variant_of(v)), pg_variant_what(variant_of(v)));
	print_features();
	if (!v->active && !pg_state_any(&v->st)) {
		agent_text(v);
		return;
	}
	if (v->have_meta) {
		pg_fmt_time(v->meta.time, t, sizeof(t));
		printf("mode:       %s%s (%s)\n", v->meta.mode,
		       v->meta.transitional ? ", transitional" : "", v->meta.reason);
		printf("policy:     %s, sha256 %s\n", v->meta.source, v->meta.hash);
		printf("generation: %llu, applied %s\n", (unsigned long long)v->meta.gen, t);
		printf("default:    %s%s\n", h->def == PG_DEF_KERNEL ? "kernel" : "deny",
		       (h->flags & PG_HF_EXEMPT_ROOT) ? ", root exempt" : "");
		printf("protect:    %u-%u%s\n", h->prot_lo, h->prot_hi,
		       (h->flags & PG_HF_PROTECT_RANGE) ? "" : " (not contiguous)");
	} else if (v->active) {
		printf("policy:     none installed: no port is protected (damaged state; apply "
		       "again)\n");
	}
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
	if (v->have_stats) {
		printf("new cgroups: %llu made, %llu got a node inside mkdir, %llu a path id; "
		       "%lld cgroups hold portgate state\n",
		       (unsigned long long)v->stats[PG_ST_MKDIR],
		       (unsigned long long)v->stats[PG_ST_MKDIR_NODE],
		       (unsigned long long)v->stats[PG_ST_MKDIR_PATH], (long long)v->entries);
		printf("events:     subscribers");
		for (k = 0, i = 0; k < PG_EV_SLOTS; k++)
			if (v->ev_pid[k]) {
				printf(" %u", v->ev_pid[k]);
				i++;
			}
		printf("%s, %llu lost\n", i ? "" : " none", (unsigned long long)v->lost);
	}
	if (h) {
		printf("verdicts:  ");
		for (k = 0; k < PG_V__NR; k++)
			printf(" %s %llu", pg_verdict_name(k),
			       (unsigned long long)verdict_count(v, k));
		printf("\n");
	}
	if (v->have_meta && v->meta.nrules) {
		printf("rules:\n");
		for (i = 0; i < v->meta.nrules; i++) {
			const struct pg_meta_rule *r = &v->meta.rules[i];

			printf("  %8llu  %s:%u  %s\n",
			       (unsigned long long)cnt_at(v, PG_CNT_RULE0 + (uint32_t)i),
			       r->file < v->meta.nfiles ? v->meta.files[r->file] : "?", r->line,
			       r->text);
		}
	}
	if (v->have_meta) {
		printf("cgroups:    %zu carry rules\n", v->meta.nnodes);
		for (i = 0; i < v->meta.nnodes; i++)
			printf("  %s (id %llu, level %d)\n", v->meta.nodes[i].path,
			       (unsigned long long)v->meta.nodes[i].cgid, v->meta.nodes[i].level);
		for (i = 0; i < v->meta.nunmatched; i++)
			printf("unmatched:  %s (no cgroup matches this selector)\n",
			       v->meta.unmatched[i]);
	}
	if (v->nsaved) {
		printf("sysctls:\n");
		for (i = 0; i < v->nsaved; i++)
			printf("  netns %llu (%s): ip_unprivileged_port_start %u, was %u%s\n",
			       (unsigned long long)v->saved[i].ino, v->saved[i].v.path,
			       v->saved[i].v.set, v->saved[i].v.orig,
			       v->saved[i].v.state == 2 ? "" : " (lowering did not finish)");
	} else {
		printf("sysctls:    none managed\n");
	}
	printf("memory:     %llu bytes in pinned maps, %llu in the policy image\n",
	       (unsigned long long)v->mem, (unsigned long long)v->nimg * PG_BLOCK_SIZE);
	agent_text(v);
}

static void status_json(const struct view *v, const char *pin_dir)
{
	const struct pg_hdr *h = v->img ? &v->img[0].hdr : NULL;
	struct pg_json j;
	char t[32];
	size_t i;
	int k;

	pg_json_init(&j, stdout);
	pg_json_obj(&j);
	pg_json_key(&j, "enforcing");
	pg_json_bool(&j, v->active);
	pg_json_key(&j, "pin_dir");
	pg_json_str(&j, pin_dir);
	pg_json_key(&j, "kernel");
	pg_json_obj(&j);
	pg_json_key(&j, "release");
	pg_json_str(&j, pg_kernel_release());
	pg_json_key(&j, "bypass");
	pg_json_str(&j, bypass_word(v));
	pg_json_key(&j, "variant");
	pg_json_str(&j, pg_variant_name(variant_of(v)));
	pg_json_key(&j, "identity");
	pg_json_str(&j, variant_of(v) == PG_VARIANT_TASK ? "task cgroup"
			: variant_of(v) == PG_VARIANT_SK ? "socket cgroup"
							 : NULL);
	json_features(&j);
	pg_json_obj_end(&j);
	if (v->have_meta) {
		pg_fmt_time(v->meta.time, t, sizeof(t));
		pg_json_key(&j, "mode");
		pg_json_str(&j, v->meta.mode);
		pg_json_key(&j, "mode_reason");
		pg_json_str(&j, v->meta.reason);
		pg_json_key(&j, "transitional");
		pg_json_bool(&j, v->meta.transitional);
		pg_json_key(&j, "policy");
		pg_json_str(&j, v->meta.source);
		pg_json_key(&j, "sha256");
		pg_json_str(&j, v->meta.hash);
		pg_json_key(&j, "generation");
		pg_json_u64(&j, v->meta.gen);
		pg_json_key(&j, "applied_at");
		pg_json_str(&j, t);
		pg_json_key(&j, "attach");
		pg_json_str(&j, v->meta.attach);
		pg_json_key(&j, "default");
		pg_json_str(&j, h->def == PG_DEF_KERNEL ? "kernel" : "deny");
		pg_json_key(&j, "exempt_root");
		pg_json_bool(&j, h->flags & PG_HF_EXEMPT_ROOT);
		pg_json_key(&j, "protect");
		pg_json_obj(&j);
		pg_json_key(&j, "lo");
		pg_json_u64(&j, h->prot_lo);
		pg_json_key(&j, "hi");
		pg_json_u64(&j, h->prot_hi);
		pg_json_key(&j, "contiguous");
		pg_json_bool(&j, h->flags & PG_HF_PROTECT_RANGE);
		pg_json_obj_end(&j);
	}
	pg_json_key(&j, "links");
	pg_json_arr(&j);
	for (k = 0; k < PG_NLINKS; k++) {
		pg_json_obj(&j);
		pg_json_key(&j, "type");
		pg_json_str(&j, link_label[k]);
		pg_json_key(&j, "attached");
		pg_json_bool(&j, v->link[k].ok);
		pg_json_key(&j, "cgroup_removed");
		pg_json_bool(&j, v->link[k].gone);
		if (v->link[k].ok) {
			pg_json_key(&j, "link_id");
			pg_json_u64(&j, v->link[k].link_id);
			pg_json_key(&j, "prog_id");
			pg_json_u64(&j, v->link[k].prog_id);
			pg_json_key(&j, "cgroup_id");
			pg_json_u64(&j, v->link[k].cgid);
			pg_json_key(&j, "cgroup");
			pg_json_str(&j, v->link[k].path);
		}
		pg_json_obj_end(&j);
	}
	pg_json_arr_end(&j);
	if (v->have_stats) {
		pg_json_key(&j, "cgroup_hooks");
		pg_json_obj(&j);
		pg_json_key(&j, "mkdirs");
		pg_json_u64(&j, v->stats[PG_ST_MKDIR]);
		pg_json_key(&j, "mkdir_got_node");
		pg_json_u64(&j, v->stats[PG_ST_MKDIR_NODE]);
		pg_json_key(&j, "mkdir_got_path");
		pg_json_u64(&j, v->stats[PG_ST_MKDIR_PATH]);
		pg_json_key(&j, "entries");
		pg_json_i64(&j, v->entries);
		pg_json_obj_end(&j);
		pg_json_key(&j, "events");
		pg_json_obj(&j);
		pg_json_key(&j, "subscribers");
		pg_json_arr(&j);
		for (k = 0; k < PG_EV_SLOTS; k++)
			if (v->ev_pid[k])
				pg_json_u64(&j, v->ev_pid[k]);
		pg_json_arr_end(&j);
		pg_json_key(&j, "lost");
		pg_json_u64(&j, v->lost);
		pg_json_obj_end(&j);
	}
	if (h) {
		pg_json_key(&j, "verdicts");
		pg_json_obj(&j);
		for (k = 0; k < PG_V__NR; k++) {
			pg_json_key(&j, pg_verdict_name(k));
			pg_json_u64(&j, verdict_count(v, k));
		}
		pg_json_obj_end(&j);
	}
	if (v->have_meta) {
		pg_json_key(&j, "rules");
		pg_json_arr(&j);
		for (i = 0; i < v->meta.nrules; i++) {
			const struct pg_meta_rule *r = &v->meta.rules[i];

			pg_json_obj(&j);
			pg_json_key(&j, "index");
			pg_json_u64(&j, i);
			pg_json_key(&j, "file");
			pg_json_str(&j, r->file < v->meta.nfiles ? v->meta.files[r->file] : NULL);
			pg_json_key(&j, "line");
			pg_json_u64(&j, r->line);
			pg_json_key(&j, "text");
			pg_json_str(&j, r->text);
			pg_json_key(&j, "hits");
			pg_json_u64(&j, cnt_at(v, PG_CNT_RULE0 + (uint32_t)i));
			pg_json_obj_end(&j);
		}
		pg_json_arr_end(&j);
		pg_json_key(&j, "cgroups");
		pg_json_arr(&j);
		for (i = 0; i < v->meta.nnodes; i++) {
			pg_json_obj(&j);
			pg_json_key(&j, "path");
			pg_json_str(&j, v->meta.nodes[i].path);
			pg_json_key(&j, "id");
			pg_json_u64(&j, v->meta.nodes[i].cgid);
			pg_json_key(&j, "level");
			pg_json_i64(&j, v->meta.nodes[i].level);
			pg_json_obj_end(&j);
		}
		pg_json_arr_end(&j);
		pg_json_key(&j, "unmatched");
		pg_json_arr(&j);
		for (i = 0; i < v->meta.nunmatched; i++)
			pg_json_str(&j, v->meta.unmatched[i]);
		pg_json_arr_end(&j);
	}
	pg_json_key(&j, "sysctls");
	pg_json_arr(&j);
	for (i = 0; i < v->nsaved; i++) {
		pg_json_obj(&j);
		pg_json_key(&j, "netns_inode");
		pg_json_u64(&j, v->saved[i].ino);
		pg_json_key(&j, "path");
		pg_json_str(&j, v->saved[i].v.path);
		pg_json_key(&j, "ip_unprivileged_port_start");
		pg_json_u64(&j, v->saved[i].v.set);
		pg_json_key(&j, "original");
		pg_json_u64(&j, v->saved[i].v.orig);
		pg_json_key(&j, "complete");
		pg_json_bool(&j, v->saved[i].v.state == 2);
		pg_json_obj_end(&j);
	}
	pg_json_arr_end(&j);
	pg_json_key(&j, "map_memory_bytes");
	pg_json_u64(&j, v->mem);
	pg_json_key(&j, "image_bytes");
	pg_json_u64(&j, (uint64_t)v->nimg * PG_BLOCK_SIZE);
	agent_json(&j, v);
	pg_json_obj_end(&j);
	pg_json_end(&j);
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
	int status;

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
		status_json(&v, o->pin_dir);
	else
		status_text(&v, o->pin_dir);
	view_free(&v);
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
	struct pg_json j;
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
	pg_json_init(&j, stdout);
	if (json && a->protos == PG_PROTO_ANY)
		pg_json_arr(&j);
	for (bit = PG_PROTO_TCP; bit <= PG_PROTO_OTHER; bit <<= 1) {
		struct pg_why w;

		if (!(a->protos & bit))
			continue;
		live_decide(&v, a, pg_proto_of_bit(bit), nodes, n, paths, &w);
		if (json) {
			pg_json_obj(&j);
			pg_why_json(a, &w, &j);
			pg_json_obj_end(&j);
		} else {
			pg_why_text(a, &w, stdout);
		}
	}
	if (json && a->protos == PG_PROTO_ANY)
		pg_json_arr_end(&j);
	if (json)
		pg_json_end(&j);
	status = PG_EXIT_OK;
out:
	for (i = 0; i < (int)n; i++)
		free((char *)paths[i]);
	view_free(&v);
	return status;
}
