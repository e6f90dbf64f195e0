/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * run_pods.h - the agent's pod set (run_pods.c): the pods of its node as
 * the Kubernetes source reports them, in the form pg_compile() takes
 * (struct pg_pod, compile.h), every string its own copy.
 */
#ifndef PORTGATE_RUN_PODS_H
#define PORTGATE_RUN_PODS_H

#include <stddef.h>

#include "compile.h"
#include "kube_client.h"
#include "kube_sel.h"

struct pg_podset {
	struct pg_pod *v; /* sorted by uid; qos 0 while the API server has not set it */
	size_t n, cap;
};

/*
 * Add or update the pod k. 1 when the change can alter the policy (a new
 * pod; namespace, QoS class or labels changed), 0 when it cannot (phase or
 * status only), -ENOMEM (the set is as it was).
 */
int pg_podset_upsert(struct pg_podset *s, const struct kube_pod *k);
/* Remove the pod uid: 1 if it was known, 0 if not. */
int pg_podset_delete(struct pg_podset *s, const char *uid);
/* The pod uid, or NULL. */
const struct pg_pod *pg_podset_get(const struct pg_podset *s, const char *uid);
void pg_podset_free(struct pg_podset *s);

#endif
