// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kube_pods.c - from Kubernetes pod objects (json-c) to the agent's
 * callbacks, and the set of pods known, which a relist compares against.
 * Every field not named here (managedFields, spec, most of status) is
 * ignored, as the API adds fields over time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_pods.h"
#include "kube_uid.h"

static int fail(char *why, size_t whylen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t whylen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return ret;
}

/* obj.k1.k2... as a string, NULL when a step is missing or not a string. */
static const char *str_at(json_object *obj, const char *k1, const char *k2)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Index of uid in the sorted set, or where it would go (*found false). */
static size_t find(const struct kube_pods *p, const char *uid, bool *found)
{
	return kube_uid_find(p->v, p->n, sizeof(*p->v), offsetof(struct kube_known, uid), uid,
			     found);
}

/* Remember uid at rv; 1 if it is new or changed, 0 if unchanged. */
static int remember(struct kube_pods *p, const char *uid, const char *rv)
{
	bool found;
	size_t i = find(p, uid, &found);
	struct kube_known *k;
	char *nrv;

	if (found) {
		k = &p->v[i];
		k->gen = p->gen;
		if (rv && k->rv && !strcmp(rv, k->rv))
			return 0;
		nrv = rv ? strdup(rv) : NULL;
		if (rv && !nrv)
			return -ENOMEM;
		free(k->rv);
		k->rv = nrv;
		return 1;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct kube_known *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	k = &(struct kube_known){ .uid = strdup(uid), .rv = rv ? strdup(rv) : NULL, .gen = p->gen };
	if (!k->uid || (rv && !k->rv)) {
		free(k->uid);
		free(k->rv);
		return -ENOMEM;
	}
	memmove(&p->v[i + 1], &p->v[i], (p->n - i) * sizeof(*p->v));
	p->v[i] = *k;
	p->n++;
	return 1;
}

static void forget_at(struct kube_pods *p, size_t i)
{
	char *uid = p->v[i].uid;

	free(p->v[i].rv);
	memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof(*p->v));
	p->n--;
	if (p->cb->pod_delete)
		p->cb->pod_delete(p->ctx, uid);
	free(uid);
}

static void set_rv(struct kube_pods *p, const char *rv)
{
	if (rv)
		snprintf(p->rv, sizeof(p->rv), "%s", rv);
}

/* Labels of a pod into a new array (NULL when there are none). */
static int labels_of(json_object *meta, struct kube_label **out, size_t *n)
{
	json_object *labels;
	struct kube_label *v;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (!json_object_object_get_ex(meta, "labels", &labels) ||
	    !json_object_is_type(labels, json_type_object) || !json_object_object_length(labels))
		return 0;
	v = calloc(json_object_object_length(labels), sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_object_object_foreach(labels, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			continue;
		v[i].key = key;
		v[i++].value = json_object_get_string(val);
	}
	if (!i) { /* none was a string: none, as the header promises (NULL) */
		free(v);
		return 0;
	}
	*out = v;
	*n = i;
	return 0;
}

/* A pod object (list item or watch object) is new or changed. */
static int upsert(struct kube_pods *p, json_object *pod, char *why, size_t whylen)
{
	json_object *meta = NULL;
	struct kube_pod kp = { 0 };
	struct kube_label *labels;
	const char *rv;
	int ret;

	json_object_object_get_ex(pod, "metadata", &meta);
	kp.uid = str_at(pod, "metadata", "uid");
	kp.ns = str_at(pod, "metadata", "namespace");
	kp.name = str_at(pod, "metadata", "name");
	rv = str_at(pod, "metadata", "resourceVersion");
	if (!kp.uid || !kp.ns || !kp.name)
		return fail(why, whylen, -EPROTO, "a pod without metadata.uid, namespace or name");
	kp.qos_class = str_at(pod, "status", "qosClass");
	kp.phase = str_at(pod, "status", "phase");
	if (!kp.qos_class)
		kp.qos_class = "";
	if (!kp.phase)
		kp.phase = "";
	ret = remember(p, kp.uid, rv);
	if (ret <= 0)
		return ret;
	ret = labels_of(meta, &labels, &kp.nlabels);
	if (ret < 0)
		return ret;
	kp.labels = labels;
	if (p->cb->pod_upsert)
		p->cb->pod_upsert(p->ctx, &kp);
	free(labels);
	return 0;
}

void kube_pods_list_begin(struct kube_pods *p)
{
	p->gen++;
}

int kube_pods_list_page(struct kube_pods *p, json_object *list, char **cont, char *why,
			size_t whylen)
{
	const char *rv = str_at(list, "metadata", "resourceVersion");
	const char *c = str_at(list, "metadata", "continue");
	json_object *items;
	size_t i;
	int ret;

	*cont = NULL;
	if (!json_object_is_type(list, json_type_object) ||
	    !json_object_object_get_ex(list, "items", &items) ||
	    !json_object_is_type(items, json_type_array) || !rv)
		return fail(why, whylen, -EPROTO,
			    "list: not a PodList (no items or metadata.resourceVersion)");
	for (i = 0; i < json_object_array_length(items); i++) {
		ret = upsert(p, json_object_array_get_idx(items, i), why, whylen);
		if (ret < 0)
			return ret;
	}
	set_rv(p, rv);
	if (c && *c) {
		*cont = strdup(c);
		if (!*cont)
			return -ENOMEM;
	}
	return 0;
}

void kube_pods_list_end(struct kube_pods *p)
{
	size_t i = 0;

	while (i < p->n) {
		if (p->v[i].gen != p->gen)
			forget_at(p, i);
		else
			i++;
	}
}

static int delete_event(struct kube_pods *p, json_object *pod, char *why, size_t whylen)
{
	const char *uid = str_at(pod, "metadata", "uid");
	bool found;
	size_t i;

	if (!uid)
		return fail(why, whylen, -EPROTO, "watch: a DELETED pod without metadata.uid");
	i = find(p, uid, &found);
	if (found)
		forget_at(p, i);
	return 0;
}

/* An ERROR event: a Status, 410 when the resourceVersion is too old. */
static int error_event(struct kube_pods *p, json_object *status, char *why, size_t whylen)
{
	json_object *code = NULL;
	int c;

	json_object_object_get_ex(status, "code", &code);
	c = code ? json_object_get_int(code) : 0;
	if (c == 410)
		return fail(why, whylen, -ESTALE,
			    "watch: resourceVersion %s is too old (410 Gone: %s); listing again",
			    p->rv, kube_status_message(status));
	return fail(why, whylen, -EPROTO, "watch: error event %d: %s", c,
		    kube_status_message(status));
}

int kube_pods_event(struct kube_pods *p, json_object *ev, char *why, size_t whylen)
{
	const char *type = str_at(ev, "type", NULL);
	json_object *obj;
	int ret;

	if (!type || !json_object_object_get_ex(ev, "object", &obj) ||
	    !json_object_is_type(obj, json_type_object))
		return fail(why, whylen, -EPROTO, "watch: an event without type or object");
	if (!strcmp(type, "ERROR"))
		return error_event(p, obj, why, whylen);
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		ret = upsert(p, obj, why, whylen);
	else if (!strcmp(type, "DELETED"))
		ret = delete_event(p, obj, why, whylen);
	else if (!strcmp(type, "BOOKMARK"))
		ret = 0;
	else
		return fail(why, whylen, -EPROTO, "watch: unknown event type \"%.32s\"", type);
	if (ret < 0)
		return ret;
	set_rv(p, str_at(obj, "metadata", "resourceVersion"));
	p->events = true;
	return 0;
}

const char *kube_status_message(json_object *status)
{
	const char *m = str_at(status, "message", NULL);

	return m ? m : "";
}

void kube_pods_free(struct kube_pods *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->v[i].uid);
		free(p->v[i].rv);
	}
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}
