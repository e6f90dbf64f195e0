// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_diag.c - diagnostics (policy/diag.c): printing, escaping text for
 * terminals and JSON, and rendering with source lines.
 */

#include "policy_fx.h"

static void test_diags_print(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = parse_expect("", NO_RULES);
	char *s;

	pg_diags_add(&d, PG_SEV_ERROR, (struct pg_loc){ 0, 3, 7 }, "bad %s", "thing");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 4, 0 }, "no column");
	pg_diags_add(&d, PG_SEV_ERROR, (struct pg_loc){ 0, 0, 0 }, "whole file");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 9, 1, 1 }, "bad index");
	assert_int_equal(d.n, 4);
	assert_int_equal(d.nerrors, 2);
	s = diags_text(&d, p);
	assert_string_equal(s, "t.conf:3:7: error: bad thing\n"
			       "t.conf:4: warning: no column\n"
			       "t.conf: error: whole file\n"
			       "<unknown>:1:1: warning: bad index\n");
	free(s);
	s = diags_text(&d, NULL);
	assert_string_equal(s, "<unknown>:3:7: error: bad thing\n"
			       "<unknown>:4: warning: no column\n"
			       "<unknown>: error: whole file\n"
			       "<unknown>:1:1: warning: bad index\n");
	free(s);
	pg_diags_free(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
	pg_policy_free(p);
}

static void test_escape(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain /a.service", "plain /a.service" },
		{ "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m" },
		{ "tab\there", "tab\\there" },
		{ "del\x7f", "del\\x7f" },
		{ "caf\xe9", "caf\\xe9" },	  /* Latin-1 */
		{ "caf\xc3\xa9", "caf\xc3\xa9" }, /* UTF-8 */
		{ "\xef\xbb\xbf"
		  "allow",
		  "\\u{feff}allow" }, /* byte order mark */
		{ "a\xe2\x80\xae"
		  "b",
		  "a\\u{202e}b" },			    /* right-to-left override */
		{ "c1\xc2\x9b", "c1\\u{009b}" },	    /* CSI as a C1 control */
		{ "\xc0\xaf", "\\xc0\\xaf" },		    /* overlong '/' */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },	    /* a surrogate */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" }, /* U+1F600 */
		{ "cut\xe2\x82", "cut\\xe2\\x82" },	    /* truncated */
	};
	size_t i, bad = 99;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = pg_escape(cases[i].in, strlen(cases[i].in));

		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
	assert_true(pg_utf8_valid("a\xc3\xa9", 3, &bad));
	assert_int_equal(bad, 99);
	assert_false(pg_utf8_valid("ab\xe9\x63", 4, &bad)); /* \x63: 'c' */
	assert_int_equal(bad, 2);
	assert_true(pg_utf8_valid("", 0, NULL));
}

/* Source lines, carets, the count past the limit and the summary. */
static void test_render(void **state)
{
	static const char text[] = "mode grant\n"
				   "\tallow /a tcp/x\r\n"
				   "deny /a tcp/80\n"
				   "allow /a tcp/80\n";
	struct pg_srcs srcs = { 0 };
	struct pg_render_opts o = { &srcs, 2, true };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *s = NULL;
	size_t n = 0;
	FILE *f;

	assert_int_equal(pg_srcs_add(&srcs, "t.conf", text, strlen(text)), 0);
	pg_diags_hint(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 1, 0 }, "do this", "no column");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 9, 3 }, "no such line");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 0, 0 }, "whole file");
	pg_diags_add(&d, PG_SEV_ERROR, (struct pg_loc){ 0, 1, 1 }, "and one more");
	f = open_memstream(&s, &n);
	pg_diags_render(&d, p, &o, f);
	fclose(f);
	assert_string_equal(s,
			    "t.conf:2:15: error: invalid port 'x': service names are not accepted; "
			    "write the port number\n"
			    "    2 |         allow /a tcp/x\n"
			    "      |                      ^\n"
			    "t.conf:4:1: error: allow conflicts with deny at t.conf:3 on tcp/80\n"
			    "    4 | allow /a tcp/80\n"
			    "      | ^\n"
			    "t.conf:1: warning: no column; do this\n"
			    "    1 | mode grant\n"
			    "t.conf:9:3: warning: no such line\n"
			    "1 more error and 1 more warning not shown\n"
			    "3 errors, 3 warnings\n");
	free(s);

	/* Without sources, limit or summary: pg_diags_print(). */
	s = diags_text(&d, p);
	assert_string_equal(s,
			    "t.conf:2:15: error: invalid port 'x': service names are not accepted; "
			    "write the port number\n"
			    "t.conf:4:1: error: allow conflicts with deny at t.conf:3 on tcp/80\n"
			    "t.conf:1: warning: no column; do this\n"
			    "t.conf:9:3: warning: no such line\n"
			    "t.conf: warning: whole file\n"
			    "t.conf:1:1: error: and one more\n");
	free(s);

	/* --strict: every warning counts as an error. */
	pg_diags_strict(&d);
	assert_int_equal(d.nerrors, 6);
	assert_int_equal(pg_diags_nwarnings(&d), 0);
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_srcs_free(&srcs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diags_print),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
