// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_selector.c - selectors (policy/selector.c): matching paths against
 * exact selectors and globs, depth, and deep patterns that must stay fast.
 */

#include "policy_fx.h"

struct match_case {
	const char *sel, *path;
	bool match;
};

static const struct match_case match_table[] = {
	{ "/", "/", true },
	{ "/", "/a", false },
	{ "/a", "/a", true },
	{ "/a", "/", false },
	{ "/a", "/ab", false },
	{ "/a", "/a/b", false },
	{ "/a/b", "/a", false },
	{ "/system.slice/nginx.service", "/system.slice/nginx.service", true },
	{ "/system.slice/nginx.service", "/system.slice/nginx.service/x", false },
	{ "/*", "/", false },
	{ "/*", "/anything", true },
	{ "/*", "/a/b", false },
	{ "/a*", "/a", true },
	{ "/a*", "/abc", true },
	{ "/a*", "/ba", false },
	{ "/*.service", "/nginx.service", true },
	{ "/*.service", "/nginx.socket", false },
	{ "/a*b*c", "/abbbc", true },
	{ "/a*b*c", "/acb", false },
	{ "/*a*b*", "/xaybz", true },
	{ "/*a*b*", "/xbya", false },
	{ "/a/*/c", "/a/b/c", true },
	{ "/a/*/c", "/a/c", false },
	{ "/a/*/c", "/a/b/x/c", false },
	{ "/kubepods.slice/*/*pod1f2e*.slice",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1f2e3d4c.slice", true },
	{ "/kubepods.slice/*/*pod1f2e*.slice", "/kubepods.slice/kubepods-pod1f2e.slice", false },
	{ "/kubepods.slice/*/*pod1f2e*.slice",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2f.slice", false },
	{ "/kubepods.slice/*/*pod1f2e*.slice",
	  "/kubepods.slice/x/kubepods-pod1f2e.slice/container.scope", false },
	{ "/**", "/", true },
	{ "/**", "/a", true },
	{ "/**", "/a/b/c", true },
	{ "/**/nginx.service", "/nginx.service", true },
	{ "/**/nginx.service", "/system.slice/nginx.service", true },
	{ "/**/nginx.service", "/a/b/c/nginx.service", true },
	{ "/**/nginx.service", "/a/nginx.service/x", false },
	{ "/**/nginx.service", "/a/xnginx.service", false },
	{ "/a/**/b", "/a/b", true },
	{ "/a/**/b", "/a/x/b", true },
	{ "/a/**/b", "/a/x/y/z/b", true },
	{ "/a/**/b", "/a/x/y/z/c", false },
	{ "/a/**/b", "/b", false },
	{ "/a/**", "/a", true },
	{ "/a/**", "/a/b/c", true },
	{ "/a/**", "/ab", false },
	{ "/a/**", "/", false },
	{ "/a/**/b/**/c", "/a/b/c", true },
	{ "/a/**/b/**/c", "/a/q/b/r/s/c", true },
	{ "/a/**/b/**/c", "/a/c/b", false },
	{ "/**/**", "/", true },
	{ "/**/**/x", "/x", true },
	{ "/**/*pod*/**", "/kubepods.slice/burst/pod1/ctr", true },
	{ "/**/*pod*/**", "/kube.slice/burst/ctr", false },
	{ "/**/b/*", "/a/b/b/c", true },
	{ "/**/b/*", "/a/b/c/d", false },
};

static void test_selector_match(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(match_table) / sizeof(match_table[0]); i++) {
		bool got = pg_selector_match(match_table[i].sel, match_table[i].path);

		if (got != match_table[i].match)
			fail_msg("pg_selector_match(\"%s\", \"%s\") = %d, want %d",
				 match_table[i].sel, match_table[i].path, got,
				 match_table[i].match);
	}
}

static void test_selector_exact_depth(void **state)
{
	assert_true(pg_selector_is_exact("/"));
	assert_true(pg_selector_is_exact("/system.slice/a.service"));
	assert_false(pg_selector_is_exact("/system.slice/*.service"));
	assert_false(pg_selector_is_exact("/**"));
	assert_true(pg_selector_is_glob("/**"));
	assert_false(pg_selector_is_glob("/a"));
	/* a pod selector names no path: neither exact nor a glob, matches none */
	assert_false(pg_selector_is_exact("pod:web/app=x"));
	assert_false(pg_selector_is_glob("pod:*"));
	assert_false(pg_selector_match("pod:*", "/"));
	assert_false(pg_selector_match("pod:*", "/kubepods"));
	assert_int_equal(pg_selector_depth("/"), 0);
	assert_int_equal(pg_selector_depth("/a"), 1);
	assert_int_equal(pg_selector_depth("/a/b"), 2);
	assert_int_equal(pg_selector_depth("/kubepods.slice/x/y.slice"), 3);
}

static void test_deep_selectors(void **state)
{
	char sel[PG_POL_MAX_DEPTH * 8 + 64], path[4096 * 2], line[sizeof(sel) + 64];
	size_t off = 0, i;
	struct pg_policy *p;

	/* 63 components of stars: parses, and matching stays fast. */
	for (i = 0; i < PG_POL_MAX_DEPTH; i++)
		off += (size_t)sprintf(sel + off, "/%s", i % 2 ? "**" : "*a*a*a*");
	snprintf(line, sizeof(line), "allow %s tcp/80\n", sel);
	p = parse_ok(line);
	assert_string_equal(p->rules[0].selector, sel);
	pg_policy_free(p);

	/* A long path that almost matches: each component lacks a third 'a'. */
	for (off = 0, i = 0; i < 1000; i++)
		off += (size_t)sprintf(path + off, "/xaab");
	assert_false(pg_selector_match(sel, path));
	for (off = 0, i = 0; i < 1000; i++)
		off += (size_t)sprintf(path + off, "/aaaa");
	assert_true(pg_selector_match(sel, path));

	/* Every component a globstar, the last one literal and absent. */
	for (off = 0, i = 0; i < PG_POL_MAX_DEPTH - 1; i++)
		off += (size_t)sprintf(sel + off, "/**");
	sprintf(sel + off, "/needle");
	for (off = 0, i = 0; i < 1000; i++)
		off += (size_t)sprintf(path + off, "/hay");
	assert_false(pg_selector_match(sel, path));
	sprintf(path + off, "/needle");
	assert_true(pg_selector_match(sel, path));

	/* Many stars inside one component against a long component. */
	memset(sel, 0, sizeof(sel));
	sel[0] = '/';
	for (i = 1; i < 255; i++)
		sel[i] = i % 2 ? '*' : 'a';
	path[0] = '/';
	memset(path + 1, 'a', 3000);
	path[3001] = 'b';
	path[3002] = '\0';
	assert_false(pg_selector_match(sel, path));
	path[3001] = '\0';
	assert_true(pg_selector_match(sel, path));

	/* 64 components is one too many. */
	for (off = 0, i = 0; i <= PG_POL_MAX_DEPTH; i++)
		off += (size_t)sprintf(sel + off, "/c");
	snprintf(line, sizeof(line), "allow %s tcp/80\n", sel);
	{
		struct pg_diags d = { 0 };

		p = pg_policy_parse_buf("t.conf", line, strlen(line), NULL, &d);
		assert_int_equal(d.nerrors, 1);
		assert_string_equal(d.v[0].msg, "selector has more than 63 components");
		assert_int_equal(d.v[0].loc.col, 8 + 2 * PG_POL_MAX_DEPTH);
		pg_policy_free(p);
		pg_diags_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selector_match),
		cmocka_unit_test(test_selector_exact_depth),
		cmocka_unit_test(test_deep_selectors),
	};

	return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}
