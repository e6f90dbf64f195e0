// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * selector.c - cgroup selectors: exact paths and globs, and matching them
 * against cgroup paths.
 */
#include <string.h>

#include "pg_abi.h"
#include "policy_int.h"

bool pg_selector_is_exact(const char *selector)
{
	return selector[0] == '/' && !strchr(selector, '*');
}

bool pg_selector_is_glob(const char *selector)
{
	return selector[0] == '/' && strchr(selector, '*');
}

bool pg_policy_has_globs(const struct pg_policy *p)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (pg_selector_is_glob(p->rules[i].selector))
			return true;
	return false;
}

int pg_selector_depth(const char *selector)
{
	int n = 0;

	if (!strcmp(selector, "/"))
		return 0;
	for (; *selector; selector++)
		n += *selector == '/';
	return n;
}

/*
 * One component against one pattern component, '*' matching any run of
 * bytes. Greedy with one backtrack point: a later '*' can absorb anything
 * an earlier one would have, so O(pn * sn) at worst, no recursion.
 */
static bool comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;

	while (j < sn) {
		if (i < pn && p[i] == '*') {
			star = i++;
			mark = j;
		} else if (i < pn && p[i] == s[j]) {
			i++;
			j++;
		} else if (star != SIZE_MAX) {
			i = star + 1;
			j = ++mark;
		} else {
			return false;
		}
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

static bool is_globstar(const char *c, size_t n)
{
	return n == 2 && c[0] == '*' && c[1] == '*';
}

/*
 * The same greedy scheme one level up: '**' is the star, a component the
 * single element. p and s always point at a '/' or at the end.
 */
bool pg_selector_match(const char *selector, const char *path)
{
	const char *p = strcmp(selector, "/") ? selector : "";
	const char *s = strcmp(path, "/") ? path : "";
	const char *star_p = NULL, *star_s = NULL;

	if (selector[0] != '/')
		return false;
	while (*s) {
		const char *sc = s + 1;
		size_t sn = strcspn(sc, "/");

		if (*p) {
			const char *pc = p + 1;
			size_t pn = strcspn(pc, "/");

			if (is_globstar(pc, pn)) {
				p = star_p = pc + pn;
				star_s = s;
				continue;
			}
			if (comp_match(pc, pn, sc, sn)) {
				p = pc + pn;
				s = sc + sn;
				continue;
			}
		}
		if (!star_p)
			return false;
		/* Let the last '**' swallow one more component, retry. */
		star_s += 1 + strcspn(star_s + 1, "/");
		s = star_s;
		p = star_p;
	}
	while (*p) {
		size_t pn = strcspn(p + 1, "/");

		if (!is_globstar(p + 1, pn))
			return false;
		p += 1 + pn;
	}
	return true;
}
