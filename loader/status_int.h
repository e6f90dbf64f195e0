/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* status_int.h - status's view of the live state, shared by its text, JSON and
 * Prometheus outputs and by explain; private to those files. */
#ifndef PORTGATE_STATUS_INT_H
#define PORTGATE_STATUS_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent.h"
#include "meta.h"
#include "netns.h"
#include "state.h"

/* bind4, bind6, ... as status names each link */
extern const char *const view_link_label[PG_NLINKS];

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

/* Gather the state of pin_dir into v: 0 (also when nothing is pinned) or -errno.
 * Call view_free() in either case. */
int view_gather(struct view *v, const char *pin_dir);
void view_free(struct view *v);
/* The counter at idx of the policy in force; 0 when it has none. */
uint64_t view_cnt(const struct view *v, uint32_t idx);
/* Binds with verdict k (PG_V_*). */
uint64_t view_verdict_count(const struct view *v, int k);
/* Audit rollout of the policy in force: whether the policy's rollout is
 * audit, and how many rules are audited and enforced. */
struct view_rollout {
	bool audit;
	uint32_t naudit, nenforce;
	uint32_t native_lo; /* the kernel's own threshold the programs compare with */
	bool caps;	    /* the programs read capabilities; else uid 0 stands for them */
};
void view_rollout(const struct view *v, struct view_rollout *r);
/* Whether rule i is audited: its counter counts would-be changes, not hits. */
bool view_rule_audited(const struct view *v, uint32_t i);
/* "audit" or "enforce", the policy's, with ", some rules enforce" (audit) or
 * ", some rules audit" (enforce) when rules say otherwise. */
const char *view_rollout_word(const struct view_rollout *r);
/* How the programs know the binding task's CAP_NET_BIND_SERVICE. */
const char *view_caps_word(const struct view_rollout *r);

/* "yes", "no" or "unknown": whether the bypass bit is in use. */
const char *view_bypass_word(const struct view *v);
/* PG_VARIANT_* of the loaded programs, PG_VARIANT_NONE without them. */
int view_variant(const struct view *v);

#define VIEW_NFEATURES 5
extern const char *const view_feature_names[VIEW_NFEATURES];
/* This kernel's features, in the order of view_feature_names. */
void view_features(bool *out);

/* The status report of v on stdout. */
void status_text(const struct view *v, const char *pin_dir);
/* The same as a JSON document on stdout: 0 or -errno. */
int status_json(const struct view *v, const char *pin_dir);

/* status_kube.c: the agent's Kubernetes source, when it has one */
struct json_object;
void status_kube_text(const struct view *v);
void status_kube_json(struct json_object *doc, const struct view *v);
void status_kube_prom(FILE *f, const struct view *v);

#endif
