// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* diff_side.c - diff's two sides: a policy file compiled against this
 * machine's cgroups, or the policy in force read from its pinned image. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff_int.h"
#include "policy_src.h"
#include "explain.h"
#include "state.h"
#include "util.h"

static int cmp_pnode(const void *a, const void *b)
{
	return strcmp(((const struct pnode *)a)->path, ((const struct pnode *)b)->path);
}

uint32_t side_node(const struct side *s, const char *path)
{
	struct pnode key = { .path = path }, *hit;

	hit = bsearch(&key, s->nodes, s->nnodes, sizeof(*s->nodes), cmp_pnode);
	return hit ? hit->node : 0;
}

uint32_t side_nrules(const struct side *s)
{
	return s->p ? (uint32_t)s->p->nrules : (uint32_t)s->meta.nrules;
}

/* The rule's place and text; false when the side does not know it. */
bool side_rule(const struct side *s, uint32_t i, const char **file, uint32_t *line,
	       const char **text)
{
	if (i >= side_nrules(s))
		return false;
	if (s->p) {
		*file = s->p->files[s->p->rules[i].loc.file];
		*line = s->p->rules[i].loc.line;
		*text = s->p->rules[i].text;
	} else {
		const struct pg_meta_rule *r = &s->meta.rules[i];

		*file = r->file < s->meta.nfiles ? s->meta.files[r->file] : "?";
		*line = r->line;
		*text = r->text;
	}
	return true;
}

void side_cond(const struct side *s, uint32_t i, struct cond *c)
{
	const struct pg_hdr *h = &s->b[0].hdr;
	const struct pg_rule_rec *r;

	memset(c, 0, sizeof(*c));
	if (s->p) {
		const struct pg_rule *pr = &s->p->rules[i];

		c->has_user = pr->cond.has_user;
		c->has_group = pr->cond.has_group;
		c->has_addr = pr->cond.has_addr;
		c->uid = pr->cond.uid;
		c->gid = pr->cond.gid;
		memcpy(c->addr, pr->cond.addr, 16);
		c->text = pr->text;
		return;
	}
	c->text = s->meta.rules[i].text;
	if (i >= h->nrules || PG_RULE_OFF + i / 4 >= s->nb)
		return;
	r = &s->b[PG_RULE_OFF + i / 4].rule[i % 4];
	c->has_user = r->cflags & PG_C_UID;
	c->has_group = r->cflags & PG_C_GID;
	c->has_addr = r->cflags & PG_C_ADDR;
	c->uid = r->uid;
	c->gid = r->gid;
	if (c->has_addr && h->addr_off + (r->addr >> 1) < s->nb)
		memcpy(c->addr, s->b[h->addr_off + (r->addr >> 1)].addr[r->addr & 1].net, 16);
}

bool side_exempt(const struct side *s)
{
	return s->b[0].hdr.flags & PG_HF_EXEMPT_ROOT;
}

static int side_nodes(struct side *s)
{
	size_t i, n = s->p ? s->img.nnodes : s->meta.nnodes;

	s->nodes = calloc(n + 1, sizeof(*s->nodes));
	if (!s->nodes)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (s->p)
			s->nodes[i] = (struct pnode){ s->img.nodes[i].path, s->img.nodes[i].node };
		else
			s->nodes[i] =
			    (struct pnode){ s->meta.nodes[i].path, s->meta.nodes[i].node };
	}
	s->nnodes = n;
	qsort(s->nodes, n, sizeof(*s->nodes), cmp_pnode);
	return 0;
}

int side_compile(struct side *s, const struct pg_cgroup *tree, size_t ntree)
{
	enum pg_mode m = s->p->mode == PG_MODE_SYSCTL ? PG_MODE_SYSCTL : PG_MODE_GRANT;
	struct pg_compile_opts co = {
		.mode = m, .bypass = m == PG_MODE_GRANT, .gen = 1, .seed = 1
	};
	struct pg_diags d = { 0 };
	int err;

	if (m == PG_MODE_SYSCTL && s->p->def == PG_DEFAULT_KERNEL) {
		pg_log_at(PG_LOG_ERROR, s->p, &s->p->def_loc,
			  "default kernel is not allowed in sysctl mode");
		return -EINVAL;
	}
	err = pg_compile(s->p, tree, ntree, &co, &s->img, &d);
	pg_log_diags(&d, s->p, 0);
	pg_diags_free(&d);
	if (err == -EINVAL || err == -E2BIG)
		return err; /* the diagnostics said why */
	if (err) {
		pg_err("cannot compile %s: %s", s->file, strerror(-err));
		return err;
	}
	s->b = s->img.blocks;
	s->nb = s->img.nblocks;
	return side_nodes(s);
}

/* The policy in force in pin_dir, from its image. */
int side_in_force(struct side *s, const char *pin_dir)
{
	struct pg_state st;
	int err, i;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < PG_NMAPS; i++)
		st.map[i] = -1;
	for (i = 0; i < PG_NLINKS; i++)
		st.prog[i] = st.link[i] = -1;
	st.dirfd = -1;
	err = pg_state_open(&st, pin_dir, false, false);
	if (!err)
		err = pg_state_image(&st, &s->live, &s->nlive);
	pg_state_close(&st);
	if (err == -ENOENT) {
		pg_err("no active policy in %s", pin_dir);
		return err;
	}
	if (err)
		return err;
	if (pg_meta_parse(s->live, s->nlive, &s->meta)) {
		pg_err("the policy in force in %s carries no readable description", pin_dir);
		free(s->live);
		s->live = NULL;
		return -EPROTO;
	}
	s->file = s->meta.source;
	s->b = s->live;
	s->nb = s->nlive;
	return side_nodes(s);
}

void side_free(struct side *s)
{
	free(s->nodes);
	pg_image_free(&s->img);
	pg_policy_free(s->p);
	if (s->live)
		pg_meta_free(&s->meta);
	free(s->live);
}
