/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_name.h - Kubernetes names, checked as the API server checks them:
 * namespaces (DNS-1123 labels), label keys and label values. Pure.
 */
#ifndef PORTGATE_KUBE_NAME_H
#define PORTGATE_KUBE_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define PG_KUBE_MAX_NAME   63  /* namespace, label name, label value */
#define PG_KUBE_MAX_PREFIX 253 /* label key prefix (a DNS-1123 subdomain) */

/* What is wrong and where: off is a byte offset into the text checked. */
struct pg_kube_err {
	size_t off;
	char msg[256];
	char hint[256]; /* "" when there is none */
};

/*
 * Each returns 0, or -EINVAL with *err filled. A namespace is
 * [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes. A label key is an
 * optional prefix (a DNS-1123 subdomain, at most 253 bytes) and '/', then
 * a name: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 bytes. A
 * label value is empty or such a name.
 */
int pg_kube_ns_check(const char *s, size_t len, struct pg_kube_err *err);
int pg_kube_key_check(const char *s, size_t len, struct pg_kube_err *err);
int pg_kube_value_check(const char *s, size_t len, struct pg_kube_err *err);

/* Fill *err (hint may be NULL); returns -EINVAL. */
int pg_kube_fail(struct pg_kube_err *err, size_t off, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Go's strconv.ParseInt(s, 10, 64): an optional sign and decimal digits,
 * in range; how the > and < operators read label values. */
bool pg_kube_int64(const char *s, size_t len, long long *out);

#endif
