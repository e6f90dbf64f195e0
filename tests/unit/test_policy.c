// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_policy.c - the policy's lifetime and entry points (policy/policy.c):
 * reading the top file, resolution, protects, rule specs, the port-range
 * and number helpers the other parts share (policy_int.h), and the golden
 * diagnostics of tests/policies/ (run from the repository root).
 */
#include <dirent.h>

#include "policy_fx.h"
#include "policy_int.h"

static void test_unreadable_top(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("tests/policies/no-such.conf", &real_ops, &d);
	char *s;

	assert_non_null(p);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(p->nfiles, 1);
	s = diags_text(&d, p);
	assert_string_equal(s, "tests/policies/no-such.conf: error: cannot read "
			       "'tests/policies/no-such.conf': No such file or directory\n");
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_file_too_large(void **state)
{
	size_t n = PG_POL_MAX_FILE_SIZE + 1;
	char *text = malloc(n);
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *s;

	memset(text, '\n', n);
	p = pg_policy_parse_buf("big.conf", text, n, NULL, &d);
	s = diags_text(&d, p);
	assert_string_equal(s, "big.conf: error: cannot read 'big.conf': larger than 16777216 "
			       "bytes\n");
	free(s);
	free(text);
	pg_policy_free(p);
	pg_diags_free(&d);
}

struct ids {
	int user_calls, group_calls;
};

static int fake_user(void *ud, const char *name, uint32_t *uid)
{
	struct ids *ids = ud;

	ids->user_calls++;
	if (!strcmp(name, "www-data")) {
		*uid = 33;
		return 0;
	}
	if (!strcmp(name, "broken"))
		return -EIO;
	return -ENOENT;
}

static int fake_group(void *ud, const char *name, uint32_t *gid)
{
	struct ids *ids = ud;

	ids->group_calls++;
	if (!strcmp(name, "web")) {
		*gid = 1001;
		return 0;
	}
	return -ENOENT;
}

static void test_resolve(void **state)
{
	struct ids ids = { 0, 0 };
	struct pg_id_ops ops = { fake_user, fake_group, &ids, "or give the id" };
	struct pg_policy *p = parse_ok("allow /a tcp/80 user=www-data group=web\n"
				       "allow /b tcp/80 user=0 group=4294967294\n"
				       "allow /c tcp/80 user=nobody-here\n"
				       "allow /d tcp/80 group=nogroup\n"
				       "allow /e tcp/80 user=broken\n"
				       "allow /f tcp/80 addr=10.0.0.1\n");
	struct pg_diags d = { 0 };
	char *s;

	pg_policy_resolve(p, &ops, &d);
	assert_int_equal(p->rules[0].cond.uid, 33);
	assert_int_equal(p->rules[0].cond.gid, 1001);
	assert_int_equal(p->rules[1].cond.uid, 0);
	assert_int_equal(p->rules[1].cond.gid, 4294967294u);
	/* Numeric ids need no lookup. */
	assert_int_equal(ids.user_calls, 3);
	assert_int_equal(ids.group_calls, 2);
	s = diags_text(&d, p);
	assert_string_equal(s, "t.conf:3:17: error: unknown user 'nobody-here'; or give the id\n"
			       "t.conf:4:17: error: unknown group 'nogroup'; or give the id\n"
			       "t.conf:5:17: error: cannot look up user 'broken': Input/output "
			       "error\n");
	assert_int_equal(d.nerrors, 3);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_protects(void **state)
{
	struct pg_policy *p = parse_expect("", NO_RULES);

	assert_false(pg_policy_protects(p, 0));
	assert_true(pg_policy_protects(p, 1));
	assert_true(pg_policy_protects(p, 80));
	assert_true(pg_policy_protects(p, 1023));
	assert_false(pg_policy_protects(p, 1024));
	assert_false(pg_policy_protects(p, 65535));
	pg_policy_free(p);

	p = parse_expect("protect 80,443,8000-8100,65535\n", NO_RULES);
	assert_false(pg_policy_protects(p, 22));
	assert_true(pg_policy_protects(p, 80));
	assert_false(pg_policy_protects(p, 81));
	assert_true(pg_policy_protects(p, 443));
	assert_false(pg_policy_protects(p, 7999));
	assert_true(pg_policy_protects(p, 8000));
	assert_true(pg_policy_protects(p, 8050));
	assert_true(pg_policy_protects(p, 8100));
	assert_false(pg_policy_protects(p, 8101));
	assert_true(pg_policy_protects(p, 65535));
	pg_policy_free(p);
}

static void test_rule_spec(void **state)
{
	static const struct {
		const char *line, *spec;
	} t[] = {
		{ "allow /a tcp/80,443", "tcp/80,443" },
		{ "allow /a udp,tcp/53", "tcp,udp/53" },
		{ "allow /a any/1-1023", "any/1-1023" },
		{ "allow /a tcp,udp/1-1023", "tcp,udp/1-1023" },
		{ "allow /a udp/443,80-85,86", "udp/80-86,443" },
		{ "protect 1-65535\nallow /a tcp/1-65535", "tcp/1-65535" },
	};
	struct pg_rule r = { .protos = PG_PROTO_OTHER | PG_PROTO_UDP };
	struct pg_range one = { 7, 7 };
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pg_policy *p = parse_ok(t[i].line);

		s = pg_rule_spec(&p->rules[0]);
		assert_string_equal(s, t[i].spec);
		free(s);
		pg_policy_free(p);
	}
	r.ports = &one;
	r.nports = 1;
	s = pg_rule_spec(&r);
	assert_string_equal(s, "udp,other/7");
	free(s);
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;

	if (real_read(NULL, path, &buf, &len))
		return NULL;
	buf = realloc(buf, len + 1);
	buf[len] = '\0';
	return buf;
}

/* state: "tests/policies/errors/NAME.conf" */
static void test_golden(void **state)
{
	const char *conf = *state;
	char expected_path[512];
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *want, *got;

	snprintf(expected_path, sizeof(expected_path), "%.*s.expected",
		 (int)(strlen(conf) - strlen(".conf")), conf);
	want = slurp(expected_path);
	if (!want)
		fail_msg("%s: missing", expected_path);
	p = pg_policy_parse(conf, &real_ops, &d);
	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, want);
	/* Every golden file shows at least one problem. */
	assert_true(d.n > 0);
	free(got);
	free(want);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* state: "tests/policies/good/NAME.conf" */
static void test_good(void **state)
{
	const char *conf = *state;
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse(conf, &real_ops, &d);
	char *got = diags_text(&d, p);

	assert_string_equal(got, "");
	assert_true(p->nrules > 0);
	free(got);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* real_read, keeping what it read for the source lines of diagnostics. */
static int keep_read(void *ud, const char *path, char **buf, size_t *len)
{
	int err = real_read(NULL, path, buf, len);

	if (!err)
		assert_int_equal(pg_srcs_add(ud, path, *buf, *len), 0);
	return err;
}

/* What portgate check prints on standard error. */
static char *render_text(const struct pg_diags *d, const struct pg_policy *p,
			 const struct pg_srcs *srcs)
{
	const struct pg_render_opts o = { srcs, PG_DIAGS_SHOWN, true };
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	pg_diags_render(d, p, &o, f);
	fclose(f);
	return s;
}

/* state: "tests/policies/check/NAME.conf", shown as check shows it. */
static void test_golden_check(void **state)
{
	const char *conf = *state;
	char expected_path[512];
	struct pg_srcs srcs = { 0 };
	struct pg_source_ops ops = { keep_read, real_glob, &srcs };
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *want, *got;

	snprintf(expected_path, sizeof(expected_path), "%.*s.expected",
		 (int)(strlen(conf) - strlen(".conf")), conf);
	want = slurp(expected_path);
	if (!want)
		fail_msg("%s: missing", expected_path);
	p = pg_policy_parse(conf, &ops, &d);
	assert_non_null(p);
	got = render_text(&d, p, &srcs);
	if (strcmp(got, want))
		fail_msg("%s differs; got:\n%s", expected_path, got);
	free(got);
	free(want);
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_srcs_free(&srcs);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One named test per DIR/ *.conf. */
static int run_dir(const char *group, const char *dir, CMUnitTestFunction fn)
{
	DIR *dp = opendir(dir);
	struct CMUnitTest *tests = NULL;
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *e;
	int failed;

	if (!dp) {
		fprintf(stderr, "cannot open %s: %s (run from the repository root)\n", dir,
			strerror(errno));
		return 1;
	}
	while ((e = readdir(dp))) {
		size_t len = strlen(e->d_name);

		if (len <= 5 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n] = malloc(strlen(dir) + len + 2);
		sprintf(names[n], "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(dp);
	if (!n) {
		fprintf(stderr, "no .conf files in %s\n", dir);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp_name);
	tests = calloc(n, sizeof(*tests));
	for (i = 0; i < n; i++)
		tests[i] = (struct CMUnitTest){ .name = names[i] + strlen(dir) + 1,
						.test_func = fn,
						.initial_state = names[i] };
	failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return failed;
}

/* --- the helpers policy.c gives the other parts (policy_int.h) ------------- */

static void test_parse_dec(void **state)
{
	uint64_t v = 7;

	assert_int_equal(pol_parse_dec("0", 1, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pol_parse_dec("65535", 5, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(pol_parse_dec("65536", 5, 65535, &v), -ERANGE);
	assert_int_equal(pol_parse_dec("123x", 3, 1000, &v), 0); /* only len bytes */
	assert_int_equal(v, 123);
	assert_int_equal(pol_parse_dec("", 0, 10, &v), -EINVAL);
	assert_int_equal(pol_parse_dec("-1", 2, 10, &v), -EINVAL);
	assert_int_equal(pol_parse_dec("1 ", 2, 10, &v), -EINVAL);
	/* far past 64 bits: a range error, not a wrapped value (v stays at most max) */
	assert_int_equal(pol_parse_dec("99999999999999999999999", 23, MAX_ID, &v), -ERANGE);
}

static void test_merge_ranges(void **state)
{
	struct pg_range r[] = { { 443, 443 }, { 80, 80 },     { 81, 90 },     { 85, 100 },
				{ 1, 1 },     { 1000, 2000 }, { 1500, 1600 }, { 2001, 2001 } };
	size_t n = pol_merge_ranges(r, sizeof(r) / sizeof(r[0]));

	/* sorted; overlapping (85-100 in 81-90) and adjacent (80, 81) merged */
	assert_ranges(r, n, "1,80-100,443,1000-2001");
	assert_int_equal(pol_merge_ranges(r, 1), 1);
}

static void test_ranges_minus(void **state)
{
	static const struct pg_range a[] = { { 1, 100 }, { 400, 500 } };
	static const struct pg_range b[] = { { 80, 80 }, { 90, 450 } };
	static const struct pg_range all[] = { { 1, 65535 } };
	struct pg_range out[4];
	size_t n;

	n = pol_ranges_minus(a, 2, b, 2, out);
	assert_ranges(out, n, "1-79,81-89,451-500");
	n = pol_ranges_minus(a, 2, all, 1, out);
	assert_int_equal(n, 0);
	n = pol_ranges_minus(a, 2, NULL, 0, out);
	assert_ranges(out, n, "1-100,400-500");
	/* b ends where a starts, and starts where a ends */
	n = pol_ranges_minus(all, 1, (const struct pg_range[]){ { 1, 1 }, { 65535, 65535 } }, 2,
			     out);
	assert_ranges(out, n, "2-65534");
}

static void test_fmt_ranges(void **state)
{
	static const struct pg_range r[] = { { 22, 22 }, { 80, 80 }, { 1000, 2000 }, { 5, 6 } };
	char buf[64];

	pol_fmt_ranges(buf, sizeof(buf), r, 4, SIZE_MAX);
	assert_string_equal(buf, "22,80,1000-2000,5-6");
	pol_fmt_ranges(buf, sizeof(buf), r, 4, 2);
	assert_string_equal(buf, "22,80,...");
	pol_fmt_ranges(buf, sizeof(buf), r, 0, SIZE_MAX);
	assert_string_equal(buf, "");
	/* a short buffer is cut, still terminated */
	pol_fmt_ranges(buf, 6, r, 4, SIZE_MAX);
	assert_string_equal(buf, "22,80");
}

static void test_names(void **state)
{
	assert_string_equal(pol_action_name(PG_ALLOW), "allow");
	assert_string_equal(pol_action_name(PG_DENY), "deny");
	assert_string_equal(pol_proto_name(PG_PROTO_TCP), "tcp");
	assert_string_equal(pol_proto_name(PG_PROTO_UDP), "udp");
	assert_string_equal(pol_proto_name(PG_PROTO_OTHER), "other");
	assert_string_equal(pol_proto_name(PG_PROTO_ANY), "any");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreadable_top), cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_resolve),	       cmocka_unit_test(test_protects),
		cmocka_unit_test(test_rule_spec),      cmocka_unit_test(test_parse_dec),
		cmocka_unit_test(test_merge_ranges),   cmocka_unit_test(test_ranges_minus),
		cmocka_unit_test(test_fmt_ranges),     cmocka_unit_test(test_names),
	};
	int failed = cmocka_run_group_tests_name("policy", tests, NULL, NULL);

	failed += run_dir("golden errors", "tests/policies/errors", test_golden);
	failed += run_dir("good policies", "tests/policies/good", test_good);
	failed += run_dir("golden check output", "tests/policies/check", test_golden_check);
	return failed ? 1 : 0;
}
