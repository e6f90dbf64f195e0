// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * pathtab.c - the path table of a policy image: every exact selector and
 * its ancestors, so that the cgroup_mkdir program can give a cgroup made
 * later its node (bpf/pg_abi.h, struct pg_trie_ent). Each path is found by
 * the hash of its parent's path id and its own name; names are stored in
 * PG_GRAN-byte granules after the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_int.h"

#define MAX_REBUILDS 64

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void pgc_parent_of(const char *path, char *out, size_t len)
{
	const char *sl = strrchr(path, '/');
	size_t n = sl && sl != path ? (size_t)(sl - path) : 1;

	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = 0;
}

/* Sort, then drop repeats; returns the new count. */
static size_t sort_unique(char **v, size_t nv)
{
	size_t i, j;

	if (nv)
		qsort(v, nv, sizeof(*v), cmp_str);
	for (i = j = 0; i < nv; i++) {
		if (j && !strcmp(v[j - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	return j;
}

/* path and each of its ancestors but "/" onto v[0..*nv). */
static int add_with_ancestors(const char *path, char ***v, size_t *nv, size_t *cap)
{
	const char *c;
	int err;

	if (!strcmp(path, "/"))
		return 0;
	for (c = path + 1;; c++) {
		if (*c && *c != '/')
			continue;
		if ((err = pgc_grow((void **)v, cap, *nv + 1, sizeof(**v))))
			return err;
		if (!((*v)[*nv] = strndup(path, (size_t)(c - path))))
			return -ENOMEM;
		(*nv)++;
		if (!*c)
			return 0;
	}
}

/*
 * Every exact selector, every path of extra[0..nextra) (the pod cgroups
 * pod: rules select), and each of their ancestors but "/": the paths of
 * the path table, sorted (so a path's ancestors come before it) and unique.
 */
int pgc_trie_paths(const struct pg_policy *p, char *const *extra, size_t nextra, char ***out,
		   size_t *n)
{
	char **v = NULL;
	size_t nv = 0, cap = 0, i;
	int err = 0;

	for (i = 0; i < p->nrules && !err; i++)
		if (pg_selector_is_exact(p->rules[i].selector))
			err = add_with_ancestors(p->rules[i].selector, &v, &nv, &cap);
	for (i = 0; i < nextra && !err; i++)
		if (extra[i])
			err = add_with_ancestors(extra[i], &v, &nv, &cap);
	if (err) {
		for (i = 0; i < nv; i++)
			free(v[i]);
		free(v);
		return err;
	}
	*out = v;
	*n = sort_unique(v, nv);
	return 0;
}

long pgc_trie_find(char *const *tp, size_t n, const char *path)
{
	char *const *hit;

	if (!n)
		return -1;
	hit = bsearch(&path, tp, n, sizeof(*tp), cmp_str);
	return hit ? (long)(hit - tp) : -1;
}

/*
 * Place the paths (ancestors first: tp is sorted) in a table of h2->ntrie
 * slots, and their names, granule by granule, in names. tids[i] gets path
 * i's id. Returns the longest probe, or -E2BIG if one exceeds PG_TRIE_PROBE.
 */
int pgc_trie_place(const struct pg_hdr2 *h2, char *const *tp, size_t n, const uint32_t *node_of_tp,
		   struct pg_trie_ent *slots, uint8_t *names, uint32_t *tids)
{
	uint32_t n2 = h2->ntrie, gran = 0, worst = 0;
	char parent[PG_NAME_MAX * (PG_MAX_LEVEL + 2)];
	size_t i;

	memset(slots, 0, (size_t)h2->ntrie * sizeof(*slots));
	for (i = 0; i < n; i++) {
		const char *nm = strrchr(tp[i], '/') + 1;
		size_t len = strlen(nm);
		uint32_t ptid, idx, probe;
		long pi;
		uint64_t hh;

		__u64 nb[PG_NAME_MAX / 8] = { 0 };

		pgc_parent_of(tp[i], parent, sizeof(parent));
		pi = strcmp(parent, "/") ? pgc_trie_find(tp, n, parent) : -1;
		ptid = pi >= 0 ? tids[pi] : PG_TRIE_ROOT;
		memcpy(nb, nm, len < PG_NAME_MAX ? len : PG_NAME_MAX - 1);
		hh = pg_name_hash(h2->trie_seed, ptid, nb);
		for (probe = 0, idx = (uint32_t)hh % n2; slots[idx].ptid; idx = (idx + 1) % n2)
			if (++probe >= PG_TRIE_PROBE)
				return -E2BIG;
		slots[idx] = (struct pg_trie_ent){ .ptid = ptid,
						   .node = node_of_tp[i],
						   .hash = (uint32_t)hh,
						   .name = pg_tname(gran, (uint32_t)len) };
		tids[i] = idx + 2;
		if (names)
			memcpy(names + (size_t)gran * PG_GRAN, nm, len);
		gran += (uint32_t)((len + PG_GRAN - 1) / PG_GRAN);
		if (probe + 1 > worst)
			worst = probe + 1;
	}
	return (int)worst;
}

/*
 * Phase: the path table, 80% full at most, grown and reseeded until no
 * probe is too long. The names are written by the emit phase, once the
 * layout says where.
 */
int pgc_path_table(struct pg_compiler *c)
{
	uint64_t sd = (uint64_t)c->o->seed * 0x9e3779b97f4a7c15ULL;
	int probe = -E2BIG, rebuild;
	size_t i;

	if (!c->ntp)
		return 0;
	c->h2.ntrie = (uint32_t)((c->ntp * 5 / 4 + 4) & ~(size_t)3);
	c->tids = calloc(c->ntp, sizeof(*c->tids));
	if (!c->tids)
		return -ENOMEM;
	for (i = 0; i < c->ntp; i++) {
		long k = pgc_path_find(&c->pi, c->all, c->tp[i]);

		c->node_of_tp[i] = k >= 0 ? c->node_of[k] : 0;
		c->nnames +=
		    (uint32_t)((strlen(strrchr(c->tp[i], '/') + 1) + PG_GRAN - 1) / PG_GRAN);
	}
	for (rebuild = 0; probe < 0 && rebuild < MAX_REBUILDS; rebuild++) {
		struct pg_trie_ent *ns = realloc(c->slots, (size_t)c->h2.ntrie * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		c->slots = ns;
		c->h2.trie_seed = sd = sd * 6364136223846793005ULL + 1442695040888963407ULL;
		probe =
		    pgc_trie_place(&c->h2, c->tp, c->ntp, c->node_of_tp, c->slots, NULL, c->tids);
		if (probe < 0 && rebuild % 4 == 3)
			c->h2.ntrie += (c->h2.ntrie / 8 + 4) & ~3u;
	}
	if (probe < 0)
		return -E2BIG;
	c->h2.probe = (uint32_t)probe;
	c->h2.npaths = (uint32_t)c->ntp;
	return 0;
}
