// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* explain_live.c - `portgate explain`: decide from the policy in force. */
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "cmd.h"
#include "explain.h"
#include "json.h"
#include "status_int.h"
#include "util.h"

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
	if (view_gather(&v, pin_dir))
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
