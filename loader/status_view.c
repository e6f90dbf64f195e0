// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status_view.c - the live state status and explain show, gathered once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "events.h"
#include "probe.h"
#include "status_int.h"
#include "util.h"

const char *const view_link_label[PG_NLINKS] = { "bind4",	"bind6",	"sysctl",
						 "sock_create", "cgroup_mkdir", "cgroup_rmdir" };

void view_free(struct view *v)
{
	free(v->img);
	free(v->cnt);
	free(v->saved);
	if (v->have_meta)
		pg_meta_free(&v->meta);
	pg_cg_tree_free(v->tree, v->ntree);
	pg_state_close(&v->st);
}

int view_gather(struct view *v, const char *pin_dir)
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

uint64_t view_cnt(const struct view *v, uint32_t idx)
{
	return v->cnt && idx < v->img[0].hdr.cnt_stride ? v->cnt[idx] : 0;
}

/* The verdict a rule's counter counts: its action, or its would-be change when audited. */
static int rule_verdict(const struct pg_rule_rec *r)
{
	if (r->rflags & PG_RF_AUDIT)
		return r->act == PG_ACT_ALLOW ? PG_V_WOULD_ALLOW : PG_V_WOULD_DENY;
	return r->act == PG_ACT_ALLOW ? PG_V_GRANT : PG_V_DENY_RULE;
}

/*
 * Binds per verdict (0..PG_V_SHOWN-1). The programs count a bind once: on
 * its deciding rule, or on the verdict when no rule decided; a rule's binds
 * go to its action, or to its would-be change when it is audited.
 */
uint64_t view_verdict_count(const struct view *v, int k)
{
	const struct pg_hdr *h = &v->img[0].hdr;
	uint64_t n = k == PG_V_WOULD_ALLOW ? view_cnt(v, pg_cnt_carried_wa(h->nrules))
					   : view_cnt(v, (uint32_t)k);
	uint32_t i;

	if (k != PG_V_GRANT && k != PG_V_DENY_RULE && k != PG_V_WOULD_ALLOW && k != PG_V_WOULD_DENY)
		return n;
	for (i = 0; i < h->nrules && PG_RULE_OFF + i / 4 < v->nimg; i++)
		if (rule_verdict(&v->img[PG_RULE_OFF + i / 4].rule[i % 4]) == k)
			n += view_cnt(v, PG_CNT_RULE0 + i);
	return n;
}

bool view_rule_audited(const struct view *v, uint32_t i)
{
	return i < v->img[0].hdr.nrules && PG_RULE_OFF + i / 4 < v->nimg &&
	       (v->img[PG_RULE_OFF + i / 4].rule[i % 4].rflags & PG_RF_AUDIT);
}

void view_rollout(const struct view *v, struct view_rollout *r)
{
	const struct pg_hdr *h = &v->img[0].hdr;
	uint32_t i;

	*r = (struct view_rollout){ .audit = h->flags & PG_HF_AUDIT,
				    .native_lo = v->st.ctl ? pg_audit_lo(v->st.ctl->audit) : 0,
				    .caps = v->st.ctl && pg_audit_caps(v->st.ctl->audit) };
	for (i = 0; i < h->nrules && PG_RULE_OFF + i / 4 < v->nimg; i++) {
		if (view_rule_audited(v, i))
			r->naudit++;
		else
			r->nenforce++;
	}
}

const char *view_caps_word(const struct view_rollout *r)
{
	return r->caps ? "read from the task" : "estimate: uid 0";
}

const char *view_rollout_word(const struct view_rollout *r)
{
	if (r->audit)
		return r->nenforce ? "audit, some rules enforce" : "audit";
	return r->naudit ? "enforce, some rules audit" : "enforce";
}

const char *view_bypass_word(const struct view *v)
{
	if (!v->st.ctl || !v->st.ctl->bypass)
		return "unknown";
	return v->st.ctl->bypass == 2 ? "yes" : "no";
}

int view_variant(const struct view *v)
{
	return v->st.ctl ? (int)v->st.ctl->variant : PG_VARIANT_NONE;
}

const char *const view_feature_names[] = { "sock_addr", "btf", "bpf_loop", "bpf_cast_to_kern_ctx",
					   "get_current_ancestor_cgroup_id" };

void view_features(bool *out)
{
	struct pg_features f;

	pg_probe_features(&f);
	out[0] = f.sock_addr;
	out[1] = f.btf;
	out[2] = f.loop;
	out[3] = f.kern_ctx;
	out[4] = f.ancestor_id;
}
