// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status_kube.c - the agent's Kubernetes source in `portgate status`: text,
 * JSON and Prometheus (no per-pod label: pods come and go). */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "prom.h"
#include "status_int.h"

/* Only an agent that has the source says anything of it. */
static bool has_kube(const struct view *v)
{
	return v->have_agent && v->agent.kube;
}

void status_kube_text(const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;

	if (!has_kube(v))
		return;
	printf("kubernetes: %s, node %s, %llu pod%s known, resourceVersion %s, %llu reconnect%s\n",
	       a->kube_state, a->kube_node, (unsigned long long)a->kube_pods,
	       a->kube_pods == 1 ? "" : "s", a->kube_rv[0] ? a->kube_rv : "none",
	       (unsigned long long)a->kube_reconnects, a->kube_reconnects == 1 ? "" : "s");
	if (a->kube_reason[0])
		printf("            last connection error: %s\n", a->kube_reason);
}

void status_kube_json(struct json_object *doc, const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;
	struct json_object *o;

	if (!has_kube(v)) {
		pg_json_set(doc, "kubernetes", NULL);
		return;
	}
	o = pg_json_obj();
	pg_json_set_str(o, "state", a->kube_state);
	pg_json_set_str(o, "reason", a->kube_reason[0] ? a->kube_reason : NULL);
	pg_json_set_str(o, "node", a->kube_node);
	pg_json_set_str(o, "resource_version", a->kube_rv[0] ? a->kube_rv : NULL);
	pg_json_set_u64(o, "pods", a->kube_pods);
	pg_json_set_u64(o, "reconnects", a->kube_reconnects);
	pg_json_set(doc, "kubernetes", o);
}

void status_kube_prom(FILE *f, const struct view *v)
{
	const struct pg_agent_state *a = &v->agent;

	if (!has_kube(v) || !v->agent_alive)
		return;
	pg_prom_head(f, "portgate_kube_connected", "gauge",
		     "1 while the agent watches its node's pods on the API server.");
	pg_prom_sample(f, "portgate_kube_connected", !strcmp(a->kube_state, "connected"), NULL);
	pg_prom_head(f, "portgate_kube_pods", "gauge", "Pods of the node the agent knows.");
	pg_prom_sample(f, "portgate_kube_pods", a->kube_pods, NULL);
	pg_prom_head(f, "portgate_kube_reconnects_total", "counter",
		     "Times the agent connected to the API server again after a failure.");
	pg_prom_sample(f, "portgate_kube_reconnects_total", a->kube_reconnects, NULL);
}
