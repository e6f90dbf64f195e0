// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * compile_pod.c - pod: rules in the compiler. A pod rule stands for an
 * exact selector of the pod-level cgroup (kube_path.h) of every pod of
 * pg_compile_opts.pods that its selector matches (kube_sel.h). Those paths
 * then go where exact selectors go: into the path table whether or not the
 * kubelet has made the cgroup yet (so cgroup_mkdir gives it its node inside
 * mkdir(2)), and into the matching phase as the cgroups the rule names.
 *
 * Cost: one label match per (pod rule, pod), and one path per selected pod,
 * made once however many rules select it: the agent compiles again on every
 * pod event.
 *
 * "pod:*" alone selects every pod, known or not yet: it stands for the
 * kubepods cgroup itself (the layout's root), every pod's ancestor, rather
 * than for each pod's cgroup. By nearest cgroup, a pod's own rules then
 * decide the ports they name and pod:* the rest, which is the order of
 * specificity (entries.c, rule_rank()), at the cost of one node instead of
 * one per pod: "deny pod:* any/1-1023" would otherwise put 3069 entries on
 * every pod of the node into the image, and into each compile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

/* The pod-level cgroup of pod k, made once; 0, or -errno of pg_kube_pod_path(). */
static int pod_path(struct pg_compiler *c, size_t k)
{
	const struct pg_pods *pods = c->o->pods;
	char buf[PG_KUBE_MAX_ROOT + 128];
	int err;

	if (c->pod_path[k])
		return 0;
	err = pg_kube_pod_path(pods->layout, pods->v[k].uid, pods->v[k].qos, buf, sizeof(buf));
	if (err)
		return err;
	c->pod_path[k] = strdup(buf);
	return c->pod_path[k] ? 0 : -ENOMEM;
}

/*
 * A pod whose UID or QoS class names no cgroup cannot be selected: the
 * rules skip it, and say so once, at the first rule that matched it.
 */
static void bad_pod(struct pg_compiler *c, size_t k, uint32_t rule, bool *told)
{
	const struct pg_pod *pod = &c->o->pods->v[k];

	if (told[k])
		return;
	told[k] = true;
	pg_diags_add(c->diags, PG_SEV_WARNING, c->p->rules[rule].sel_loc,
		     "pod %s/%s is left out: its UID '%.64s' or QoS class names no cgroup", pod->ns,
		     pod->name, pod->uid);
}

/* Does the pod selector select every pod, whatever its namespace and labels? */
static bool every_pod(const struct pg_kube_sel *sel)
{
	return !sel->ns && !sel->nreqs;
}

/* The pods rule i selects, into c->picks; pod:* picks the kubepods cgroup. */
static int pick_rule(struct pg_compiler *c, uint32_t i, bool *told)
{
	const struct pg_pods *pods = c->o->pods;
	const struct pg_kube_sel *sel = c->p->rules[i].pod;
	size_t k;
	int err;

	if (every_pod(sel)) {
		if (!c->pod_path[pods->n] && !(c->pod_path[pods->n] = strdup(pods->layout->root)))
			return -ENOMEM;
		if ((err = pgc_grow((void **)&c->picks, &c->picks_cap, c->npicks + 1,
				    sizeof(*c->picks))))
			return err;
		c->picks[c->npicks++] = (struct pod_pick){ i, (uint32_t)pods->n };
		return 0;
	}
	for (k = 0; k < pods->n; k++) {
		const struct pg_pod *pod = &pods->v[k];

		if (!pg_kube_sel_match(sel, pod->ns, pod->labels, pod->nlabels))
			continue;
		err = pod_path(c, k);
		if (err == -EINVAL || err == -ENAMETOOLONG) {
			bad_pod(c, k, i, told);
			continue;
		}
		if (err || (err = pgc_grow((void **)&c->picks, &c->picks_cap, c->npicks + 1,
					   sizeof(*c->picks))))
			return err;
		c->picks[c->npicks++] = (struct pod_pick){ i, (uint32_t)k };
	}
	return 0;
}

/* Phase: which pods each pod: rule selects, and their pod-level cgroups. */
int pgc_pods(struct pg_compiler *c)
{
	const struct pg_pods *pods = c->o->pods;
	bool *told = NULL; /* per pod: a warning was given */
	size_t i;
	int err = 0;

	c->pick_first = calloc(c->p->nrules + 1, sizeof(*c->pick_first));
	if (!c->pick_first)
		return -ENOMEM;
	if (pods) {
		/* one more: [pods->n] is the kubepods cgroup, for pod:* */
		c->pod_path = calloc(pods->n + 1, sizeof(*c->pod_path));
		told = calloc(pods->n + 1, sizeof(*told));
		if (!c->pod_path || !told)
			err = -ENOMEM;
	}
	for (i = 0; i < c->p->nrules && !err; i++) {
		c->pick_first[i] = c->npicks;
		if (c->p->rules[i].pod && c->pod_path)
			err = pick_rule(c, (uint32_t)i, told);
	}
	c->pick_first[c->p->nrules] = c->npicks;
	free(told);
	return err;
}

int pgc_match_pods(struct pg_compiler *c, uint32_t i, bool *any)
{
	size_t x;
	int err;

	for (x = c->pick_first[i]; x < c->pick_first[i + 1]; x++) {
		/* compile_paths put every selected pod's path in all[] */
		long k = pgc_path_find(&c->pi, c->all, c->pod_path[c->picks[x].pod]);

		if (k < 0)
			return -ENOENT;
		if ((err = pgc_add_match(c, (size_t)k, i)))
			return err;
		*any = *any || (size_t)k < c->ntree;
	}
	return 0;
}

void pgc_pods_free(struct pg_compiler *c)
{
	size_t k;

	for (k = 0; c->pod_path && k <= c->o->pods->n; k++)
		free(c->pod_path[k]);
	free(c->pod_path);
	free(c->picks);
	free(c->pick_first);
}
