/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_client.h - follow the pods of one node on the Kubernetes API server,
 * without blocking: made to live in the agent's poll loop.
 *
 * The client lists pods with fieldSelector=spec.nodeName=NODE, then watches
 * from the list's resourceVersion with bookmarks, and keeps that
 * resourceVersion across reconnects. A 410 Gone (history compacted) leads to
 * a relist, which reports the pods that vanished meanwhile as deleted. Any
 * failure (refused connection, timeout, a stream silent for longer than its
 * timeout, 401, garbage, an event over max_event_bytes) leads to a reconnect
 * after an exponential backoff with jitter; the pods known stay as they were
 * until the server says otherwise.
 *
 * The poll loop:
 *
 *	struct pollfd fds[8];
 *	for (;;) {
 *		int n = kube_client_pollfds(kc, fds, 8);
 *		int r = poll(fds, n, kube_client_timeout(kc));
 *		...
 *		kube_client_perform(kc, fds, n);
 *	}
 *
 * The agent adds its own fds after the client's; perform only looks at the
 * first n it was given. Callbacks run inside kube_client_perform() only, and
 * must not free the client; the strings they get live until they return.
 *
 * Functions return 0 or -errno unless said otherwise.
 */
#ifndef PORTGATE_KUBE_CLIENT_H
#define PORTGATE_KUBE_CLIENT_H

#include <poll.h>
#include <stddef.h>

#include "kube_config.h"

struct kube_label {
	const char *key;
	const char *value;
};

struct kube_pod {
	const char *ns;
	const char *name;
	const char *uid;
	const char *qos_class;		 /* "Guaranteed", "Burstable", "BestEffort", or "" */
	const char *phase;		 /* "Pending", "Running", ..., or "" */
	const struct kube_label *labels; /* NULL when nlabels is 0 */
	size_t nlabels;
};

enum kube_conn {
	KUBE_CONNECTING,   /* first list not done yet */
	KUBE_CONNECTED,	   /* listed, watching */
	KUBE_DISCONNECTED, /* waiting to retry; why says what failed */
};

struct kube_callbacks {
	/* A pod is new or changed (labels, phase, ...). */
	void (*pod_upsert)(void *ctx, const struct kube_pod *pod);
	/* A pod is gone, by its uid. */
	void (*pod_delete)(void *ctx, const char *uid);
	/* The first complete list has been reported: stale state may go now. */
	void (*sync_done)(void *ctx);
	/* Connection state; why is "" when connected, rv the last resourceVersion. */
	void (*conn_state)(void *ctx, enum kube_conn state, const char *why, const char *rv);
	/* One error line ("kube: ..."); when NULL, lines go to stderr. */
	void (*log)(void *ctx, const char *line);
};

struct kube_client_opts {
	/* Seconds the server is asked to keep a watch open (timeoutSeconds). */
	unsigned watch_timeout_s;
	/* A watch silent for watch_timeout_s + idle_grace_s is given up. */
	unsigned idle_grace_s;
	/* Whole list request, connection included. */
	unsigned list_timeout_s;
	unsigned connect_timeout_s;
	/* Backoff: first delay and the cap, in milliseconds; jitter takes up to half. */
	unsigned backoff_min_ms;
	unsigned backoff_max_ms;
	/* Bounds: one watch event, one list answer (a page), in bytes. */
	size_t max_event_bytes;
	size_t max_list_bytes;
	/* Page size of a list (limit=); 0 for no paging. */
	unsigned list_limit;
};

/* The defaults: 300 s watches, 30 s grace, 1 MiB events, 64 MiB lists, ... */
void kube_client_opts_default(struct kube_client_opts *o);

struct kube_client;

/*
 * A client for node's pods. cfg is borrowed (its token may be reloaded) and
 * must outlive the client; opts may be NULL for the defaults. The first
 * request is made by the first kube_client_perform(). NULL on failure, with
 * errno set.
 */
struct kube_client *kube_client_new(struct kube_config *cfg, const char *node,
				    const struct kube_client_opts *opts,
				    const struct kube_callbacks *cb, void *ctx);
void kube_client_free(struct kube_client *kc);

/* The sockets to poll, at most max, into fds; returns how many. */
int kube_client_pollfds(struct kube_client *kc, struct pollfd *fds, int max);
/* Milliseconds until kube_client_perform() must run even with no fd ready. */
int kube_client_timeout(struct kube_client *kc);
/*
 * Do whatever is due: the fds poll marked ready (fds as returned by
 * kube_client_pollfds() with revents filled in; NULL, 0 is fine), timers,
 * finished requests, reconnects. Callbacks run from here.
 */
int kube_client_perform(struct kube_client *kc, const struct pollfd *fds, int n);

/* For status: the state, the last resourceVersion ("" if none), pods known. */
enum kube_conn kube_client_state(const struct kube_client *kc);
const char *kube_client_rv(const struct kube_client *kc);
size_t kube_client_npods(const struct kube_client *kc);
/* Reconnects made since the client started (for figures and tests). */
unsigned kube_client_reconnects(const struct kube_client *kc);

#endif
