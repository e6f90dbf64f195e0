/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_sel.h - pod selectors of portgate.conf(5): "pod:NAMESPACE" and
 * "pod:NAMESPACE/LABEL-SELECTOR". Parse, validate, match. Pure, like the
 * rest of the policy library: no I/O, no globals.
 *
 * NAMESPACE is a DNS-1123 label or "*" (every namespace). LABEL-SELECTOR is
 * Kubernetes' own label selector syntax (k8s.io/apimachinery/pkg/labels),
 * with its lexer's rules and its matching semantics:
 *
 *   app=nginx, app==nginx      the pod has label app, with value nginx
 *   tier!=canary               no label tier, or tier with another value
 *   tier in (a,b)              tier is a or b (the label must exist)
 *   tier notin (c)             no label tier, or tier is not c
 *   canary, !canary            label canary exists, does not exist
 *   replicas>1, replicas<5     the label is a decimal integer above, below
 *
 * Requirements are joined by ',' and all must hold. Whitespace (space, tab,
 * CR, LF) separates tokens and is otherwise ignored, so "tier in (a, b)"
 * needs quoting in a policy file. Kubernetes' corner cases hold too:
 * "x=" means x exists with the empty value, "x in ()" and "x in (a,)" hold
 * the empty value, and "in"/"notin" are plain words as keys and values.
 */
#ifndef PORTGATE_KUBE_SEL_H
#define PORTGATE_KUBE_SEL_H

#include <stdbool.h>
#include <stddef.h>

#include "kube_name.h"

#define PG_KUBE_MAX_SEL 4096 /* bytes of one pod selector */

/* The operators, as Kubernetes' selection package has them. */
enum pg_kube_op {
	PG_KUBE_EQ = 1,	    /* = */
	PG_KUBE_DEQ,	    /* == (same meaning as =) */
	PG_KUBE_NE,	    /* != */
	PG_KUBE_IN,	    /* in (...) */
	PG_KUBE_NOTIN,	    /* notin (...) */
	PG_KUBE_EXISTS,	    /* key */
	PG_KUBE_NOT_EXISTS, /* !key */
	PG_KUBE_GT,	    /* > */
	PG_KUBE_LT,	    /* < */
};

struct pg_kube_req {
	enum pg_kube_op op;
	char *key;
	char **values; /* sorted, no duplicates; one for =, ==, !=, >, <; none for (!)key */
	size_t nvalues;
	long long num; /* the value of > and < */
	size_t off;    /* of the key (or its '!') in the text parsed */
};

struct pg_kube_sel {
	char *ns;		  /* NULL: every namespace ("*") */
	struct pg_kube_req *reqs; /* sorted by key, as Kubernetes sorts them */
	size_t nreqs;
};

/* A label of a pod, as the API server gives it. */
struct pg_kube_label {
	const char *key;
	const char *value;
};

/*
 * Parse text (len bytes, the selector with its "pod:" prefix, unquoted).
 * Returns 0 and fills *out (free it with pg_kube_sel_free()), -EINVAL and
 * fills *err (*out is then empty), or -ENOMEM. Only the first error is
 * reported, as Kubernetes reports it. In a policy file, the error's column
 * is the selector token's plus err->off when the token is unquoted, and the
 * token's own otherwise; err->hint ("" for none) is the diagnostic's hint.
 */
int pg_kube_sel_parse(const char *text, size_t len, struct pg_kube_sel *out,
		      struct pg_kube_err *err);

/* Does text start with "pod:"? What a policy parser asks before the above. */
bool pg_kube_sel_is_pod(const char *text, size_t len);

/*
 * Does the pod in namespace ns with labels[0..n) (keys unique, as the API
 * server keeps them) match s?
 */
bool pg_kube_sel_match(const struct pg_kube_sel *s, const char *ns,
		       const struct pg_kube_label *labels, size_t n);

/*
 * The selector in canonical form, "pod:NS" or "pod:NS/REQ,REQ", requirements
 * sorted by key and written as Kubernetes writes them ("x in (a,b)", "!y").
 * Parsing the result gives the same selector, and two selectors that select
 * the same way by construction (order, spacing, "x in (a,a)") give the same
 * string, so it serves to compare rules. Returns a malloc'd string or NULL.
 */
char *pg_kube_sel_str(const struct pg_kube_sel *s);

void pg_kube_sel_free(struct pg_kube_sel *s);

#endif
