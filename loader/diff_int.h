/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* diff_int.h - diff's two sides, spans, users and changes; private to diff.c,
 * diff_side.c and diff_decide.c. */
#ifndef PORTGATE_DIFF_INT_H
#define PORTGATE_DIFF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "meta.h"

/* A rule-bearing cgroup of an image, by path. */
struct pnode {
	const char *path;
	uint32_t node;
};

/* One side of the diff: a policy file compiled here, or the policy in force. */
struct side {
	const char *file;
	struct pg_policy *p; /* NULL: the policy in force */
	struct pg_image img; /* compiled from p */
	union pg_block *live;
	uint32_t nlive;
	struct pg_meta meta; /* of live */
	const union pg_block *b;
	uint32_t nb;
	struct pnode *nodes; /* sorted by path */
	size_t nnodes;
};

/* A rule's condition, from the policy or from the image. */
struct cond {
	bool has_user, has_group, has_addr;
	uint32_t uid, gid;
	uint8_t addr[16];
	const char *text; /* the rule's text */
};

/* Who binds: a condition of either policy, or nobody any rule names. */
struct who {
	char label[160];
	uint32_t uid, gid;
	uint8_t addr[16];
};

/* What one side decides for one span. */
struct res {
	int verdict; /* PG_V_*, or -1: unprotected */
	uint32_t rule;
};

/* The ports of one protocol, cut where any decision may change. */
struct spans {
	uint32_t *v; /* starts of spans, sorted, unique; 65536 ends the last */
	size_t n, cap;
};

/* One change: for whom, which ports, what each side decides. */
struct chg {
	size_t who;
	uint32_t proto, lo, hi;
	struct res o, n;
};

/* The diff under way: both sides, their spans and users, and the changes of
 * the cgroup at hand. */
struct report {
	const struct side *sd;
	const struct who *w;
	size_t nw;
	struct spans sp[3];
	struct chg *c;
	size_t nc, cap;
};

/* diff_side.c: the sides. side_compile and side_in_force return 0 or -errno;
 * side_compile's -EINVAL or -E2BIG: the policy is at fault, its diagnostics
 * printed. */
int side_compile(struct side *s, const struct pg_cgroup *tree, size_t ntree);
int side_in_force(struct side *s, const char *pin_dir);
void side_free(struct side *s);
/* The node of the cgroup at path, 0 when no rule of s reaches it. */
uint32_t side_node(const struct side *s, const char *path);
uint32_t side_nrules(const struct side *s);
/* The rule's place and text; false when the side does not know it. */
bool side_rule(const struct side *s, uint32_t i, const char **file, uint32_t *line,
	       const char **text);
void side_cond(const struct side *s, uint32_t i, struct cond *c);
bool side_exempt(const struct side *s);

/* diff_decide.c: 0 or -ENOMEM. */
int spans_make(const struct side *sd, uint32_t bit, struct spans *s);
int whos_make(const struct side *sd, struct who **out, size_t *n);
int cgroup_changes(struct report *rp, const char *path, bool known, bool *any);

#endif
