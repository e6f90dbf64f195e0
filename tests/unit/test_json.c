// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_json.c - loader/json.c: UTF-8 sanitising, the helpers and the one
 * printer. The unit build links the policy library only, so the loader
 * source this tests is compiled in here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../loader/json.c"

const char pg_version[] = "9.8.7-test";

#define FFFD "\xef\xbf\xbd"

/* doc printed by pg_json_print(), into a string the caller frees. */
static char *print(struct json_object *doc, int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*err = pg_json_print(f, doc);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void utf8_is(const char *in, const char *want)
{
	char *got = pg_json_utf8(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_utf8_valid_kept(void **state)
{
	utf8_is("", "");
	utf8_is("web.service", "web.service");
	utf8_is("caf\xc3\xa9", "caf\xc3\xa9");		 /* U+00E9 */
	utf8_is("\xe2\x82\xac", "\xe2\x82\xac");	 /* U+20AC */
	utf8_is("\xed\x9f\xbf", "\xed\x9f\xbf");	 /* U+D7FF, below the surrogates */
	utf8_is("\xef\xbf\xbd", "\xef\xbf\xbd");	 /* U+FFFD itself */
	utf8_is("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"); /* U+1F600 */
	utf8_is("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last */
}

static void test_utf8_invalid_replaced(void **state)
{
	utf8_is("a\xff"
		"b",
		"a" FFFD "b");				  /* never in UTF-8 */
	utf8_is("\x80", FFFD);				  /* a lone continuation */
	utf8_is("\xc3", FFFD);				  /* cut short by the end */
	utf8_is("\xc3(", FFFD "(");			  /* cut short by ASCII */
	utf8_is("\xc0\xaf", FFFD FFFD);			  /* overlong "/" */
	utf8_is("\xe0\x80\xaf", FFFD FFFD FFFD);	  /* overlong, 3 bytes */
	utf8_is("\xed\xa0\x80", FFFD FFFD FFFD);	  /* surrogate U+D800 */
	utf8_is("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* above U+10FFFF */
	utf8_is("\xf5\x80", FFFD FFFD);			  /* no such lead byte */
	utf8_is("\xe2\x82"
		"x\xe2\x82\xac",
		FFFD FFFD "x\xe2\x82\xac"); /* then a good one */
}

static void test_doc_version_first_order_kept(void **state)
{
	struct json_object *doc = pg_json_doc(), *arr = pg_json_arr(), *sub = pg_json_obj();
	char *out;
	int err;

	pg_json_set_bool(doc, "z", true);
	pg_json_set_u64(doc, "big", UINT64_MAX);
	pg_json_set_i64(doc, "neg", -4);
	pg_json_set_str(doc, "none", NULL);
	pg_json_push(arr, pg_json_str("x"));
	pg_json_push(arr, NULL);
	pg_json_set(doc, "arr", arr);
	pg_json_set_bool(sub, "b", false);
	pg_json_set(doc, "a", sub);
	out = print(doc, &err);
	assert_int_equal(err, 0);
	assert_string_equal(out, "{\"version\":\"9.8.7-test\",\"z\":true,"
				 "\"big\":18446744073709551615,\"neg\":-4,\"none\":null,"
				 "\"arr\":[\"x\",null],\"a\":{\"b\":false}}\n");
	free(out);
}

static void test_strings_escaped_and_sanitised(void **state)
{
	struct json_object *doc = pg_json_obj();
	char *out;
	int err;

	pg_json_set_str(doc, "path", "/system.slice/a\"b\\c");
	pg_json_set_str(doc, "ctl", "t\tn\n\x01");
	pg_json_set_str(doc, "raw", "x\xfey");
	out = print(doc, &err);
	assert_int_equal(err, 0);
	/* "/" left as is; JSON's own escapes; the bad byte as U+FFFD */
	assert_string_equal(out, "{\"path\":\"/system.slice/a\\\"b\\\\c\","
				 "\"ctl\":\"t\\tn\\n\\u0001\",\"raw\":\"x" FFFD "y\"}\n");
	free(out);
}

struct rec {
	char name[8];
	const char *ptr;
	uint64_t u;
	int64_t i;
	uint32_t u32;
	int32_t i32;
	bool b;
};

static void test_fields_in_table_order(void **state)
{
	static const struct pg_json_field f[] = {
		PG_JSON_FIELD(struct rec, i32, PG_JSON_I32),
		PG_JSON_FIELD(struct rec, name, PG_JSON_STR),
		PG_JSON_FIELD(struct rec, ptr, PG_JSON_STRP),
		PG_JSON_FIELD(struct rec, u, PG_JSON_U64),
		PG_JSON_FIELD(struct rec, i, PG_JSON_I64),
		PG_JSON_FIELD(struct rec, u32, PG_JSON_U32),
		PG_JSON_FIELD(struct rec, b, PG_JSON_BOOL),
	};
	const struct rec r = { "n\xe9", NULL, 7, -8, 4000000000u, -9, true };
	struct json_object *doc = pg_json_obj();
	char *out;
	int err;

	pg_json_set_fields(doc, &r, f, sizeof(f) / sizeof(f[0]));
	out = print(doc, &err);
	assert_int_equal(err, 0);
	assert_string_equal(out, "{\"i32\":-9,\"name\":\"n" FFFD "\",\"ptr\":null,\"u\":7,"
				 "\"i\":-8,\"u32\":4000000000,\"b\":true}\n");
	free(out);
}

static void test_null_document_fails(void **state)
{
	char *out;
	int err;

	/* what an allocation failure leaves: the helpers ignore it, the printer refuses */
	pg_json_set_str(NULL, "k", "v");
	pg_json_set(NULL, "k", pg_json_obj());
	pg_json_push(NULL, pg_json_str("v"));
	out = print(NULL, &err);
	assert_int_equal(err, -ENOMEM);
	assert_string_equal(out, "");
	free(out);
}

static void test_write_error(void **state)
{
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		skip();
	assert_int_equal(pg_json_print(f, pg_json_doc()), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid_kept),
		cmocka_unit_test(test_utf8_invalid_replaced),
		cmocka_unit_test(test_doc_version_first_order_kept),
		cmocka_unit_test(test_strings_escaped_and_sanitised),
		cmocka_unit_test(test_fields_in_table_order),
		cmocka_unit_test(test_null_document_fails),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
