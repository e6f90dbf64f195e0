// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_prom.c - loader/prom.c: label values (escaped, never other than
 * UTF-8), samples, rule ids and their keys, and the build's commit. The
 * unit build links the policy library only, so the loader source this
 * tests is compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../loader/prom.c"

#define FFFD "\xef\xbf\xbd"

/* What pg_prom_label_value() writes for s. */
static void label_is(const char *s, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	pg_prom_label_value(f, s);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, want);
	assert_true(pg_utf8_valid(buf, len, NULL));
	free(buf);
}

static void test_label_escapes(void **state)
{
	(void)state;
	label_is("/sys/fs/cgroup/web", "/sys/fs/cgroup/web");
	label_is("a\\b", "a\\\\b");
	label_is("say \"hi\"", "say \\\"hi\\\"");
	label_is("two\nlines", "two\\nlines");
	label_is("\\\"\n", "\\\\\\\"\\n");
	label_is("", "");
	label_is(NULL, "");
}

static void test_label_not_utf8_replaced(void **state)
{
	(void)state;
	/* Latin-1 "café", as a cgroup made by mkdir with those bytes is named */
	label_is("/caf\xe9", "/caf" FFFD);
	label_is("\xe9\xe9", FFFD FFFD);
	/* a sequence cut short, then an escape after it */
	label_is("x\xe2\x82\"", "x" FFFD FFFD "\\\"");
	/* UTF-8 stays as it is */
	label_is("/caf\xc3\xa9", "/caf\xc3\xa9");
	/* an overlong '/' and a surrogate are not UTF-8 either */
	label_is("\xc0\xaf", FFFD FFFD);
	label_is("\xed\xa0\x80", FFFD FFFD FFFD);
}

static void test_sample_lines(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	pg_prom_head(f, "portgate_x", "counter", "Things.");
	pg_prom_sample(f, "portgate_x", 3, NULL);
	pg_prom_sample(f, "portgate_x", UINT64_MAX, "a", "1", "b", "q\"\xff", NULL);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "# HELP portgate_x Things.\n"
				 "# TYPE portgate_x counter\n"
				 "portgate_x 3\n"
				 "portgate_x{a=\"1\",b=\"q\\\"" FFFD "\"} 18446744073709551615\n");
	free(buf);
}

static void set(struct pg_rule_fields *f, const char *a, const char *s, const char *p,
		const char *c)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->action, sizeof(f->action), "%s", a);
	snprintf(f->selector, sizeof(f->selector), "%s", s);
	snprintf(f->ports, sizeof(f->ports), "%s", p);
	snprintf(f->conditions, sizeof(f->conditions), "%s", c);
}

static void test_rule_id_is_a_hash_of_what_the_rule_says(void **state)
{
	struct pg_rule_fields f;
	char id[PG_RULE_ID_LEN + 1], other[PG_RULE_ID_LEN + 1];

	(void)state;
	/* sha256("allow\0/sys/fs/cgroup/web\0tcp/80,81\0user=www\0")[:8], by Python's hashlib */
	set(&f, "allow", "/sys/fs/cgroup/web", "tcp/80,81", "user=www");
	pg_rule_id(&f, id);
	assert_string_equal(id, "b5c8df99d4a2541c");
	/* the same words give the same id, every time */
	pg_rule_id(&f, other);
	assert_string_equal(id, other);
	/* any field changed gives another */
	set(&f, "deny", "/sys/fs/cgroup/web", "tcp/80,81", "user=www");
	pg_rule_id(&f, other);
	assert_string_not_equal(id, other);
	set(&f, "allow", "/sys/fs/cgroup/web", "tcp/80", "user=www");
	pg_rule_id(&f, other);
	assert_string_not_equal(id, other);
	set(&f, "allow", "/sys/fs/cgroup/web", "tcp/80,81", "");
	pg_rule_id(&f, other);
	assert_string_not_equal(id, other);
}

static void test_rule_id_keeps_fields_apart(void **state)
{
	struct pg_rule_fields f;
	char a[PG_RULE_ID_LEN + 1], b[PG_RULE_ID_LEN + 1];

	(void)state;
	/* the same bytes split differently between fields */
	set(&f, "allow", "/a", "tcp/80", "user=x group=y");
	pg_rule_id(&f, a);
	set(&f, "allow", "/a", "tcp/80 user=x", "group=y");
	pg_rule_id(&f, b);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a, "0123456789abcdef"), PG_RULE_ID_LEN);
}

static void test_rule_keys_group_and_find(void **state)
{
	const pg_rule_id_t ids[] = { "cc", "aa", "bb", "aa", "cc", "aa" };
	struct pg_rule_key *k = pg_rule_keys(ids, 6);
	const uint32_t want[] = { 1, 3, 5, 2, 0, 4 };
	size_t i;

	(void)state;
	assert_non_null(k);
	/* by id, then by index: each group of equal ids begins with its first rule */
	for (i = 0; i < 6; i++) {
		assert_int_equal(k[i].idx, want[i]);
		assert_string_equal(k[i].id, ids[want[i]]);
	}
	assert_int_equal(pg_rule_key_find(k, 6, "aa"), 1);
	assert_int_equal(pg_rule_key_find(k, 6, "bb"), 2);
	assert_int_equal(pg_rule_key_find(k, 6, "cc"), 0);
	assert_int_equal(pg_rule_key_find(k, 6, "ab"), -1);
	assert_int_equal(pg_rule_key_find(k, 6, "zz"), -1);
	assert_int_equal(pg_rule_key_find(k, 0, "aa"), -1);
	free(k);
	k = pg_rule_keys(ids, 0);
	assert_non_null(k);
	free(k);
}

static void test_commit_of_version(void **state)
{
	(void)state;
	assert_string_equal(pg_prom_commit("0.1.0-gc875925"), "c875925");
	assert_string_equal(pg_prom_commit("0.2.0-3-gc875925-dirty"), "c875925-dirty");
	assert_string_equal(pg_prom_commit("0.2.0-rc1-gonzo-4-gabc1234"), "abc1234");
	assert_string_equal(pg_prom_commit("0.2.0"), "");
	assert_string_equal(pg_prom_commit("0.2.0-gonzo"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escapes),
		cmocka_unit_test(test_label_not_utf8_replaced),
		cmocka_unit_test(test_sample_lines),
		cmocka_unit_test(test_rule_id_is_a_hash_of_what_the_rule_says),
		cmocka_unit_test(test_rule_id_keeps_fields_apart),
		cmocka_unit_test(test_rule_keys_group_and_find),
		cmocka_unit_test(test_commit_of_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
