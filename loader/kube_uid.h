/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_uid.h - arrays of pods sorted by uid, as the API-server client
 * (kube_pods.c) and the agent's pod set (run_pods.c) keep them: where a uid
 * is, or where it would go.
 */
#ifndef PORTGATE_KUBE_UID_H
#define PORTGATE_KUBE_UID_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * Index of uid in v[0..n) (elements of size bytes, each holding its uid as a
 * char pointer at offset off), or where it would go with *found false.
 */
static inline size_t kube_uid_find(const void *v, size_t n, size_t size, size_t off,
				   const char *uid, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *at = *(const char *const *)((const char *)v + mid * size + off);
		int c = strcmp(at, uid);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

#endif
