/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_pods.h - the pods the client knows, and what a PodList or a watch
 * event (parsed by json-c) does to them. Internal to kube_client.c; kept
 * apart so the HTTP machinery and the Kubernetes object model each read on
 * their own.
 *
 * Functions return 0 or -errno; on -EPROTO (the server sent something that
 * is not what the API says), -ESTALE (410 Gone) or another error they write
 * one line into why.
 */
#ifndef PORTGATE_KUBE_PODS_H
#define PORTGATE_KUBE_PODS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube_client.h"

struct kube_known {
	char *uid;
	char *rv; /* the object's resourceVersion, to skip unchanged pods */
	unsigned gen;
};

struct kube_pods {
	struct kube_known *v; /* sorted by uid */
	size_t n, cap;
	unsigned gen; /* of the list being read */
	const struct kube_callbacks *cb;
	void *ctx;
	char rv[64]; /* the last resourceVersion seen */
	bool events; /* the current watch delivered something */
};

void kube_pods_free(struct kube_pods *p);

/* A new list starts: pods not in it will be reported deleted at its end. */
void kube_pods_list_begin(struct kube_pods *p);
/*
 * One page of a PodList. *cont is set to its continue token (NULL at the
 * last page, owned by the caller then).
 */
int kube_pods_list_page(struct kube_pods *p, json_object *list, char **cont, char *why,
			size_t whylen);
/* The last page was read: report the pods it lacked as deleted. */
void kube_pods_list_end(struct kube_pods *p);

/* One watch event {"type": ..., "object": ...}. */
int kube_pods_event(struct kube_pods *p, json_object *ev, char *why, size_t whylen);

/* The message of a Status object, or "" (for error answers). */
const char *kube_status_message(json_object *status);

#endif
