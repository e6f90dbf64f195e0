// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run_pods.c - the agent's pod set: what the Kubernetes source's callbacks
 * report, kept as the compiler reads it (struct pg_pod, own copies, sorted
 * by uid), and whether a change can alter the policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube_uid.h"
#include "run_pods.h"

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct pg_kube_label *)a)->key,
		      ((const struct pg_kube_label *)b)->key);
}

static void pod_clear(struct pg_pod *p)
{
	size_t i;

	for (i = 0; i < p->nlabels; i++) {
		free((char *)p->labels[i].key);
		free((char *)p->labels[i].value);
	}
	free((struct pg_kube_label *)p->labels);
	free((char *)p->uid);
	free((char *)p->ns);
	free((char *)p->name);
	memset(p, 0, sizeof(*p));
}

/* A copy of k into p, labels sorted by key; 0 or -ENOMEM (p cleared). */
static int pod_copy(struct pg_pod *p, const struct kube_pod *k)
{
	struct pg_kube_label *l = calloc(k->nlabels ? k->nlabels : 1, sizeof(*l));
	size_t i;

	memset(p, 0, sizeof(*p));
	p->labels = l;
	p->uid = strdup(k->uid);
	p->ns = strdup(k->ns);
	p->name = strdup(k->name);
	if (pg_kube_qos_parse(k->qos_class, &p->qos))
		p->qos = 0; /* not known yet: no cgroup to name */
	if (!l || !p->uid || !p->ns || !p->name) {
		pod_clear(p);
		return -ENOMEM;
	}
	for (i = 0; i < k->nlabels; i++, p->nlabels++) {
		l[i].key = strdup(k->labels[i].key);
		l[i].value = strdup(k->labels[i].value);
		if (!l[i].key || !l[i].value) {
			p->nlabels++;
			pod_clear(p);
			return -ENOMEM;
		}
	}
	qsort(l, p->nlabels, sizeof(*l), by_key);
	return 0;
}

/* Do a and b differ in what a policy may select by: namespace, name, QoS
 * class (the cgroup), labels? Phase and status do not count. */
static bool pod_differs(const struct pg_pod *a, const struct pg_pod *b)
{
	size_t i;

	if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name) || a->qos != b->qos ||
	    a->nlabels != b->nlabels)
		return true;
	for (i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i].key, b->labels[i].key) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return true;
	return false;
}

/* Index of uid in s, or where it would go (*found false). */
static size_t find(const struct pg_podset *s, const char *uid, bool *found)
{
	return kube_uid_find(s->v, s->n, sizeof(*s->v), offsetof(struct pg_pod, uid), uid, found);
}

int pg_podset_upsert(struct pg_podset *s, const struct kube_pod *k)
{
	struct pg_pod p;
	bool found;
	size_t i;
	int err;

	if ((err = pod_copy(&p, k)))
		return err;
	i = find(s, p.uid, &found);
	if (found) {
		if (!pod_differs(&s->v[i], &p)) {
			pod_clear(&p);
			return 0;
		}
		pod_clear(&s->v[i]);
		s->v[i] = p;
		return 1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pg_pod *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			pod_clear(&p);
			return -ENOMEM;
		}
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = p;
	s->n++;
	return 1;
}

int pg_podset_delete(struct pg_podset *s, const char *uid)
{
	bool found;
	size_t i = find(s, uid, &found);

	if (!found)
		return 0;
	pod_clear(&s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	return 1;
}

const struct pg_pod *pg_podset_get(const struct pg_podset *s, const char *uid)
{
	bool found;
	size_t i = find(s, uid, &found);

	return found ? &s->v[i] : NULL;
}

void pg_podset_free(struct pg_podset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		pod_clear(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
