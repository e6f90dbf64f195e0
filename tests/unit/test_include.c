// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_include.c - includes (policy/include.c): globs in order, relative
 * paths, cycles, failures, the file limit, and the hash over every file.
 */

#include "policy_fx.h"
#include "policy_int.h"

static void test_include_glob_sorted(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("tests/policies/good/confd.conf", &real_ops, &d);
	char *s = diags_text(&d, p);

	assert_string_equal(s, "");
	assert_int_equal(p->nfiles, 3);
	assert_string_equal(p->files[0], "tests/policies/good/confd.conf");
	assert_string_equal(p->files[1], "tests/policies/good/conf.d/10-dns.conf");
	assert_string_equal(p->files[2], "tests/policies/good/conf.d/20-web.conf");
	assert_int_equal(p->nrules, 3);
	assert_string_equal(p->rules[0].selector, "/system.slice/named.service");
	assert_loc(p->rules[0].loc, 1, 1, 1);
	assert_string_equal(p->rules[1].selector, "/system.slice/web.service");
	assert_loc(p->rules[1].loc, 2, 1, 1);
	assert_string_equal(p->rules[2].selector, "/system.slice/last.service");
	assert_loc(p->rules[2].loc, 0, 3, 1);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_include_relative(void **state)
{
	static const struct ffile files[] = {
		{ "/etc/pg/main.conf", "include sub/a.conf\ninclude /abs/b.conf\n" },
		{ "/etc/pg/sub/a.conf", "include ./../c.conf\ninclude d.conf\n" },
		{ "/etc/pg/sub/../c.conf", "allow /c tcp/80\n" },
		{ "/etc/pg/sub/d.conf", "allow /d tcp/80\n" },
		{ "/abs/b.conf", "allow /b tcp/80\n" },
		{ "main.conf", "include x//y.conf\n" },
		{ "x/y.conf", "mode grant\nallow /y tcp/80\n" },
	};
	struct ffs fs = { files, 7, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/etc/pg/main.conf", &ops, &d);

	assert_int_equal(d.n, 0);
	assert_int_equal(p->nfiles, 5);
	assert_string_equal(p->files[1], "/etc/pg/sub/a.conf");
	assert_string_equal(p->files[2], "/etc/pg/sub/../c.conf");
	assert_string_equal(p->files[3], "/etc/pg/sub/d.conf");
	assert_string_equal(p->files[4], "/abs/b.conf");
	assert_string_equal(p->rules[0].selector, "/c");
	assert_string_equal(p->rules[1].selector, "/d");
	assert_string_equal(p->rules[2].selector, "/b");
	pg_policy_free(p);

	/* A top-level file without a directory: includes are relative to ".". */
	p = pg_policy_parse("main.conf", &ops, &d);
	assert_int_equal(d.n, 0);
	assert_int_equal(p->mode, PG_MODE_GRANT);
	assert_string_equal(p->files[1], "x/y.conf");
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* The top-level file as given ("./x.conf") is still the file "x.conf". */
static void test_include_top_level_self(void **state)
{
	static const struct ffile files[] = {
		{ "./main.conf", "include main.conf\n" },
		{ "main.conf", "include main.conf\n" },
	};
	struct ffs fs = { files, 2, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("./main.conf", &ops, &d);
	char *s = diags_text(&d, p);

	assert_string_equal(s, "./main.conf:1:9: error: include cycle: './main.conf' includes "
			       "itself\n");
	assert_int_equal(p->nfiles, 1);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_include_glob_failure(void **state)
{
	static const struct ffile files[] = {
		{ "/etc/pg/main.conf", "include conf.d/*.conf\n" },
	};
	struct ffs fs = { files, 1, -EACCES, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/etc/pg/main.conf", &ops, &d);
	char *s = diags_text(&d, p);

	assert_string_equal(s, "/etc/pg/main.conf:1:9: error: cannot expand "
			       "'/etc/pg/conf.d/*.conf': Permission denied\n");
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);

	expect_diags("include other.conf\n",
		     "t.conf:1:9: error: cannot include 'other.conf': no files can be read here\n");
}

static void test_include_too_many_files(void **state)
{
	enum { N = PG_POL_MAX_FILES + 5 };
	struct ffile *files = calloc(N + 1, sizeof(*files));
	char(*names)[32] = calloc(N, sizeof(*names));
	struct ffs fs = { files, N + 1, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char want[128];
	size_t i;

	files[0] = (struct ffile){ "/m.conf", "include /d/*.conf\n" };
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "/d/%04zu.conf", i);
		files[i + 1] = (struct ffile){ names[i], "# empty\n" };
	}
	p = pg_policy_parse("/m.conf", &ops, &d);
	assert_int_equal(p->nfiles, PG_POL_MAX_FILES);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want),
		 "cannot include '/d/0255.conf': more than %d files, "
		 "includes counted",
		 PG_POL_MAX_FILES);
	assert_string_equal(d.v[0].msg, want);
	assert_loc(d.v[0].loc, 0, 1, 9);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(files);
	free(names);
}

static void test_policy_hash(void **state)
{
	static const struct ffile files[] = {
		{ "/a.conf", "mode grant\ninclude b.conf\n" },
		{ "/b.conf", "allow /b tcp/80\n" },
	};
	struct ffs fs = { files, 2, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/a.conf", &ops, &d);
	struct pg_sha256 c;
	uint8_t want[32];
	size_t i, k;

	pg_sha256_init(&c);
	for (i = 0; i < 2; i++) {
		uint64_t len = strlen(files[i].text);
		uint8_t be[8];

		for (k = 0; k < 8; k++)
			be[k] = (uint8_t)(len >> (56 - 8 * k));
		pg_sha256_update(&c, be, 8);
		pg_sha256_update(&c, files[i].text, len);
	}
	pg_sha256_final(&c, want);
	assert_int_equal(d.n, 0);
	assert_memory_equal(p->sha256, want, 32);
	pg_policy_free(p);

	/* One byte more anywhere changes it. */
	p = pg_policy_parse_buf("/a.conf", "mode grant\n", 11, NULL, &d);
	assert_memory_not_equal(p->sha256, want, 32);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* --- paths and reading (policy_int.h) --------------------------------------- */

static void test_clean_path(void **state)
{
	static const char *const cases[][2] = {
		{ "/a/./b//c/", "/a/b/c" },
		{ "./x", "x" },
		{ ".", "." },
		{ "", "." },
		{ "/", "/" },
		{ "/./", "/" },
		{ "//a", "/a" },
		{ "a/../b", "a/../b" },
		{ "conf.d/./10.conf", "conf.d/10.conf" },
		{ "a/.hidden", "a/.hidden" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", cases[i][0]);
		pol_clean_path(buf);
		if (strcmp(buf, cases[i][1]))
			fail_msg("clean_path(\"%s\") = \"%s\", want \"%s\"", cases[i][0], buf,
				 cases[i][1]);
	}
}

/* A read callback that fails with the error in ud, or returns a positive value. */
static int failing_read(void *ud, const char *path, char **buf, size_t *len)
{
	*buf = (char *)"junk"; /* must not be taken, or freed */
	return *(const int *)ud;
}

static void test_read_errors(void **state)
{
	static const struct {
		int ret;
		const char *want;
	} cases[] = {
		{ -EINVAL,
		  "t.conf:1:9: error: cannot read 'x.conf': not a regular file; FIFOs, sockets and "
		  "devices are refused\n" },
		{ -EACCES, "t.conf:1:9: error: cannot read 'x.conf': Permission denied\n" },
		/* a callback that breaks the convention still gives an error */
		{ 1, "t.conf:1:9: error: cannot read 'x.conf': Input/output error\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static const char text[] = "include x.conf\nallow /a tcp/80\n";
		struct pg_source_ops ops = { failing_read, NULL, (void *)&cases[i].ret };
		struct pg_diags d = { 0 };
		struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), &ops, &d);
		char *s = diags_text(&d, p);

		assert_string_equal(s, cases[i].want);
		free(s);
		pg_policy_free(p);
		pg_diags_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_include_glob_sorted),
		cmocka_unit_test(test_include_relative),
		cmocka_unit_test(test_include_top_level_self),
		cmocka_unit_test(test_include_glob_failure),
		cmocka_unit_test(test_include_too_many_files),
		cmocka_unit_test(test_policy_hash),
		cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_read_errors),
	};

	return cmocka_run_group_tests_name("include", tests, NULL, NULL);
}
