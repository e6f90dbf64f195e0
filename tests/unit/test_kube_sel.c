// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_kube_sel.c - pod selectors: parsing, the canonical form, matching,
 * and the names the API server accepts. The label selector rows restate the
 * cases of Kubernetes' own tests (apimachinery pkg/labels/selector_test.go:
 * TestSelectorParse, TestSetSelectorParser, TestSelectorMatches,
 * TestRequirementSelectorMatching, TestRequirementConstructor), written for
 * this API, with the error offsets Kubernetes does not give.
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

#include "kube_sel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parse "pod:ns/" + labels; the label part of the canonical form in *canon. */
static int parse_labels(const char *labels, struct pg_kube_sel *s, struct pg_kube_err *err)
{
	char text[1024];

	snprintf(text, sizeof(text), "pod:ns/%s", labels);
	return pg_kube_sel_parse(text, strlen(text), s, err);
}

/* --- parsing: selectors Kubernetes accepts, and their canonical form --------- */

static const struct {
	const char *in, *canon;
} good[] = {
	/* TestSelectorParse: good strings */
	{ "x=a,y=b,z=c", "x=a,y=b,z=c" },
	{ "x!=a,y=b", "x!=a,y=b" },
	{ "x=", "x=" },
	{ "x= ", "x=" },
	{ "x=,z= ", "x=,z=" },
	{ "x= ,z= ", "x=,z=" },
	{ "!x", "!x" },
	{ "x>1", "x>1" },
	{ "x>1,z<5", "x>1,z<5" },
	/* TestDeterministicParse: requirements sorted by key */
	{ "x=a,a=x", "a=x,x=a" },
	/* TestSetSelectorParser: valid rows */
	{ "\rx", "x" },
	{ "this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash" },
	{ "this-is-another-dns.domain.com/key-with-dash in (so,what)",
	  "this-is-another-dns.domain.com/key-with-dash in (so,what)" },
	{ "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
	  "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)" },
	{ "foo  in\t (abc)", "foo in (abc)" },
	{ "x notin\n (abc)", "x notin (abc)" },
	{ "x  notin\t\t\t(abc,def)", "x notin (abc,def)" },
	{ "x in (abc,def)", "x in (abc,def)" },
	{ "x in (abc,)", "x in (,abc)" },
	{ "x in (abc,abc)", "x in (abc)" },
	{ "x in ()", "x in ()" },
	{ "x in (a,,)", "x in (,a)" },
	{ "x in (a,,,)", "x in (,a)" },
	{ "x in (a,,,,,,)", "x in (,a)" },
	{ "x in (a,,a,,a,,a,,)", "x in (,a)" },
	{ "x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()" },
	{ "x,y in (a)", "x,y in (a)" },
	{ "x=a", "x=a" },
	{ "x<7", "x<7" },
	{ "x=a,y!=b", "x=a,y!=b" },
	{ "x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)" },
	{ "x notin ( )", "x notin ()" },
	{ "x notin (, a)", "x notin (,a)" },
	{ "a ", "a" },
	{ "a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)" },
	/* TestSelectorMatches: in and notin are words where a value stands */
	{ "notin=in", "notin=in" },
	/* and where a key stands */
	{ "in in (in)", "in in (in)" },
	{ "notin notin (notin)", "notin notin (notin)" },
	{ "x==a", "x==a" },
	{ "x=a , y", "x=a,y" },
	{ "x!=", "x!=" },
	{ "app.kubernetes.io/name=ingress-nginx", "app.kubernetes.io/name=ingress-nginx" },
	{ "k8s-app=kube-dns", "k8s-app=kube-dns" },
	{ "x<007", "x<007" },
	{ "x>9223372036854775807", "x>9223372036854775807" },
	{ "A_b.C-9=Z", "A_b.C-9=Z" },
	/* the same key twice: both must hold */
	{ "x,x=a", "x,x=a" },
};

static char *labels_of(const struct pg_kube_sel *s)
{
	char *str = pg_kube_sel_str(s), *slash;

	assert_non_null(str);
	slash = strchr(str + strlen("pod:"), '/');
	assert_non_null(slash);
	memmove(str, slash + 1, strlen(slash));
	return str;
}

static void test_parse_good(void **state)
{
	struct pg_kube_sel s, again;
	struct pg_kube_err err;
	char *canon, *full;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		if (parse_labels(good[i].in, &s, &err)) {
			print_error("'%s': %s at %zu\n", good[i].in, err.msg, err.off);
			fail();
		}
		canon = labels_of(&s);
		if (strcmp(canon, good[i].canon)) {
			print_error("'%s' gave '%s', want '%s'\n", good[i].in, canon,
				    good[i].canon);
			fail();
		}
		/* the canonical form parses to itself */
		full = pg_kube_sel_str(&s);
		assert_non_null(full);
		assert_int_equal(pg_kube_sel_parse(full, strlen(full), &again, &err), 0);
		free(canon);
		canon = pg_kube_sel_str(&again);
		assert_string_equal(canon, full);
		free(canon);
		free(full);
		pg_kube_sel_free(&again);
		pg_kube_sel_free(&s);
	}
}

/* --- parsing: selectors Kubernetes refuses, and where the error is ----------- */

static const struct {
	const char *in;
	size_t off;	 /* into the label selector */
	const char *msg; /* a part of the message */
} bad[] = {
	/* TestSelectorParse: bad strings */
	{ "x=a||y=b", 3, "invalid character '|'" },
	{ "x==a==b", 4, "unexpected '=='" },
	{ "!x=a", 2, "unexpected '='" },
	{ "x<a", 2, "not an integer" },
	/* TestSetSelectorParser: invalid rows */
	{ "x,,y", 2, "unexpected ','" },
	{ ",x,y", 0, "unexpected ','" },
	{ "x nott in (y)", 2, "unexpected 'nott'" },
	{ "a in (xyz),", 11, "ends after ','" },
	{ "a in (xyz)b notin ()", 10, "unexpected 'b'" },
	{ "a in (xyz abc)", 10, "unexpected 'abc'" },
	{ "a notin(", 8, "ends after '('" },
	{ "a (", 2, "unexpected '('" },
	{ "(", 0, "unexpected '('" },
	/* TestRequirementConstructor */
	{ "x>", 2, "not an integer" },
	{ "x>bar", 2, "not an integer" },
	{ "x<bar", 2, "not an integer" },
	{ "x=a b", 4, "unexpected 'b'" },
	/* more of the grammar */
	{ "x in", 4, "ends after 'in'" },
	{ "x in a", 5, "unexpected 'a'" },
	{ "x in (a", 7, "ends after 'a'" },
	{ "x in (a=", 7, "unexpected '='" },
	{ "x in (a,=)", 8, "unexpected '='" },
	{ "x=(a)", 2, "unexpected '('" },
	{ "x===a", 3, "unexpected '='" },
	{ "!", 1, "ends after '!'" },
	{ "!!x", 1, "unexpected '!'" },
	{ "!=x", 0, "unexpected '!='" },
	{ "x,", 2, "ends after ','" },
	{ "x)", 1, "unexpected ')'" },
	{ "x=a)", 3, "unexpected ')'" },
	{ "x>-1", 2, "must start with a letter or digit" },
	{ "x>+1", 2, "invalid character '+'" },
	{ "x>9223372036854775808", 2, "not an integer" },
	{ "x>1.5", 2, "not an integer" },
	/* names: keys */
	{ "a/b/c", 3, "more than one '/'" },
	{ "/a", 0, "empty label key prefix" },
	{ "a/", 2, "empty label name" },
	{ "Example.com/a", 0, "invalid character 'E'" },
	{ "a..b/c", 2, "empty part" },
	{ "a.b-/c", 3, "must end with a letter or digit" },
	{ "-a", 0, "must start with a letter or digit" },
	{ "a-", 1, "must end with a letter or digit" },
	{ "a@b", 1, "invalid character '@'" },
	{ "\"app\"=x", 0, "invalid character '\"'" },
	{ "app\xc3\xa9=x", 3, "invalid character 0xc3" },
	/* names: values */
	{ "x=-a", 2, "must start with a letter or digit" },
	{ "x in (a,-b)", 8, "must start with a letter or digit" },
	{ "x notin (a, b_)", 13, "must end with a letter or digit" },
	{ "x=a/b", 3, "invalid character '/'" },
	{ "x!=a:b", 4, "invalid character ':'" },
	/* an empty label selector is a mistake: pod:NS selects every pod */
	{ "", 0, "empty label selector" },
	{ " \t", 2, "empty label selector" },
};

static void test_parse_bad(void **state)
{
	const size_t base = strlen("pod:ns/");
	struct pg_kube_sel s;
	struct pg_kube_err err;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&err, 0, sizeof(err));
		if (parse_labels(bad[i].in, &s, &err) != -EINVAL) {
			print_error("'%s': no error\n", bad[i].in);
			fail();
		}
		if (err.off != base + bad[i].off || !strstr(err.msg, bad[i].msg)) {
			print_error("'%s': '%s' at %zu, want '%s' at %zu\n", bad[i].in, err.msg,
				    err.off - base, bad[i].msg, bad[i].off);
			fail();
		}
		/* nothing is left to free */
		assert_null(s.ns);
		assert_null(s.reqs);
		assert_int_equal(s.nreqs, 0);
	}
}

/* Lengths: TestRequirementConstructor's 254-byte key and value. */
static void test_parse_lengths(void **state)
{
	char name[64 + 1], prefix[254 + 1], text[600];
	struct pg_kube_sel s;
	struct pg_kube_err err;

	memset(name, 'a', sizeof(name) - 1);
	name[64] = '\0';
	memset(prefix, 'b', sizeof(prefix) - 1);
	prefix[254] = '\0';

	snprintf(text, sizeof(text), "pod:ns/%.63s=%.63s", name, name);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), 0);
	pg_kube_sel_free(&s);
	snprintf(text, sizeof(text), "pod:ns/%s", name);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), -EINVAL);
	assert_int_equal(err.off, 7 + 63);
	snprintf(text, sizeof(text), "pod:ns/x=%s", name);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), -EINVAL);
	assert_int_equal(err.off, 9 + 63);
	assert_non_null(strstr(err.msg, "64 bytes, more than 63"));

	/* a prefix of 253 bytes in DNS labels is fine, 254 is not */
	snprintf(text, sizeof(text), "pod:ns/%.253s/x", prefix);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), 0);
	pg_kube_sel_free(&s);
	snprintf(text, sizeof(text), "pod:ns/%s/x", prefix);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), -EINVAL);
	assert_int_equal(err.off, 7 + 253);
}

/* --- namespaces --------------------------------------------------------------- */

static void test_namespaces(void **state)
{
	static const struct {
		const char *in;
		int rc;
		size_t off;
		const char *canon; /* or a part of the message */
	} rows[] = {
		{ "pod:kube-system", 0, 0, "pod:kube-system" },
		{ "pod:*", 0, 0, "pod:*" },
		{ "pod:*/app=x", 0, 0, "pod:*/app=x" },
		{ "pod:0", 0, 0, "pod:0" },
		{ "pod:a-0", 0, 0, "pod:a-0" },
		{ "pod:", -EINVAL, 4, "without a namespace" },
		{ "pod:/app=x", -EINVAL, 4, "without a namespace" },
		{ "pod:Kube", -EINVAL, 4, "upper case" },
		{ "pod:a.b", -EINVAL, 5, "invalid character '.'" },
		{ "pod:-a", -EINVAL, 4, "must start" },
		{ "pod:a-", -EINVAL, 5, "must end" },
		{ "pod:a_b", -EINVAL, 5, "invalid character '_'" },
		{ "pod:**", -EINVAL, 4, "invalid character '*'" },
		{ "pod:a b", -EINVAL, 5, "invalid character 0x20" },
		{ "pod:ns/", -EINVAL, 7, "empty label selector" },
		{ "Pod:ns", -EINVAL, 0, "starts with 'pod:'" },
		{ "/kubepods.slice", -EINVAL, 0, "starts with 'pod:'" },
	};
	char text[80];
	struct pg_kube_sel s;
	struct pg_kube_err err;
	size_t i;
	char *str;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		int rc = pg_kube_sel_parse(rows[i].in, strlen(rows[i].in), &s, &err);

		if (rc != rows[i].rc) {
			print_error("'%s': %d (%s), want %d\n", rows[i].in, rc, rc ? err.msg : "",
				    rows[i].rc);
			fail();
		}
		if (rc) {
			if (err.off != rows[i].off || !strstr(err.msg, rows[i].canon)) {
				print_error("'%s': '%s' at %zu\n", rows[i].in, err.msg, err.off);
				fail();
			}
			continue;
		}
		str = pg_kube_sel_str(&s);
		assert_string_equal(str, rows[i].canon);
		free(str);
		pg_kube_sel_free(&s);
	}

	/* 63 bytes, and one more */
	snprintf(text, sizeof(text), "pod:%063d", 0);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), 0);
	pg_kube_sel_free(&s);
	snprintf(text, sizeof(text), "pod:%064d", 0);
	assert_int_equal(pg_kube_sel_parse(text, strlen(text), &s, &err), -EINVAL);
	assert_int_equal(err.off, 4 + 63);

	/* a NUL byte is refused, not taken as the end as Go's lexer does */
	assert_int_equal(pg_kube_sel_parse("pod:ns/a\0b", 10, &s, &err), -EINVAL);
	assert_int_equal(err.off, 8);
	assert_true(pg_kube_sel_is_pod("pod:x", 5));
	assert_false(pg_kube_sel_is_pod("pod", 3));
}

/* Hints: the ones an operator needs most. */
static void test_hints(void **state)
{
	static const struct {
		const char *in, *hint;
	} rows[] = {
		{ "pod:ns/tier in", "quote a selector that holds spaces" },
		{ "pod:ns/app=my app", "label values hold no spaces" },
		{ "pod:ns/a in (x y)", "values are separated by ','" },
		{ "pod:ns/a,,b", "remove the extra ','" },
		{ "pod:Web", "lower case" },
		{ "pod:ns/", "write pod:NAMESPACE" },
		{ "pod:ns/x>a", "decimal integer" },
		{ "pod:ns/x=\"a\"", "quotes hold the whole selector" },
	};
	struct pg_kube_sel s;
	struct pg_kube_err err;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		assert_int_equal(pg_kube_sel_parse(rows[i].in, strlen(rows[i].in), &s, &err),
				 -EINVAL);
		if (!strstr(err.hint, rows[i].hint)) {
			print_error("'%s': hint '%s', want '%s'\n", rows[i].in, err.hint,
				    rows[i].hint);
			fail();
		}
	}
}

/* --- matching ------------------------------------------------------------------ */

#define L(...) ((const struct pg_kube_label[]){ __VA_ARGS__, { NULL, NULL } })

static const struct {
	const char *sel;
	const struct pg_kube_label *labels; /* ends at a NULL key */
	bool match;
} matches[] = {
	/* TestSelectorMatches */
	{ "x=y", L({ "x", "y" }), true },
	{ "x=y,z=w", L({ "x", "y" }, { "z", "w" }), true },
	{ "x!=y,z!=w", L({ "x", "z" }, { "z", "a" }), true },
	{ "notin=in", L({ "notin", "in" }), true },
	{ "x", L({ "x", "z" }), true },
	{ "!x", L({ "y", "z" }), true },
	{ "x>1", L({ "x", "2" }), true },
	{ "x<1", L({ "x", "0" }), true },
	{ "x=z", L({ NULL, NULL }), false },
	{ "x=y", L({ "x", "z" }), false },
	{ "x=y,z=w", L({ "x", "w" }, { "z", "w" }), false },
	{ "x!=y,z!=w", L({ "x", "z" }, { "z", "w" }), false },
	{ "x", L({ "y", "z" }), false },
	{ "!x", L({ "x", "z" }), false },
	{ "x>1", L({ "x", "0" }), false },
	{ "x<1", L({ "x", "2" }), false },
	{ "foo=bar", L({ "foo", "bar" }, { "baz", "blah" }), true },
	{ "baz=blah", L({ "foo", "bar" }, { "baz", "blah" }), true },
	{ "foo=bar,baz=blah", L({ "foo", "bar" }, { "baz", "blah" }), true },
	{ "foo=blah", L({ "foo", "bar" }, { "baz", "blah" }), false },
	{ "baz=bar", L({ "foo", "bar" }, { "baz", "blah" }), false },
	{ "foo=bar,foobar=bar,baz=blah", L({ "foo", "bar" }, { "baz", "blah" }), false },
	/* TestRequirementSelectorMatching */
	{ "x in (foo),y notin (alpha)", L({ "x", "foo" }, { "y", "baz" }), true },
	{ "x in (foo),y in (alpha)", L({ "x", "foo" }, { "y", "baz" }), false },
	{ "x notin (),y", L({ "y", "" }), true },
	{ "!x,y", L({ "y", "" }), true },
	{ "x notin (),!y", L({ "y", "" }), false },
	{ "x in ()", L({ "y", "baz" }), false },
	{ "z>1", L({ "z", "2" }), true },
	{ "z>1", L({ "z", "v2" }), false },
	/* != and notin hold for pods without the key; = and in need it */
	{ "x!=a", L({ NULL, NULL }), true },
	{ "x notin (a)", L({ NULL, NULL }), true },
	{ "x in (a)", L({ NULL, NULL }), false },
	{ "x==a", L({ "x", "a" }), true },
	{ "x!=a", L({ "x", "a" }), false },
	{ "x notin (a,b)", L({ "x", "b" }), false },
	{ "x notin (a,b)", L({ "x", "c" }), true },
	{ "x in (a,b)", L({ "x", "b" }), true },
	/* the empty value */
	{ "x=", L({ "x", "" }), true },
	{ "x=", L({ NULL, NULL }), false },
	{ "x in (a,)", L({ "x", "" }), true },
	{ "x", L({ "x", "" }), true },
	/* numbers: as Go's ParseInt reads the label value */
	{ "x>1", L({ "x", "10" }), true },
	{ "x>1", L({ "x", "007" }), true },
	{ "x<5", L({ NULL, NULL }), false },
	{ "x>0", L({ "x", "1e3" }), false },
	{ "x<9223372036854775807", L({ "x", "9223372036854775808" }), false },
	{ "x>1", L({ "x", "1" }), false },
	/* keys are case-sensitive and compared whole */
	{ "App=x", L({ "app", "x" }), false },
	{ "app.kubernetes.io/name=ingress-nginx",
	  L({ "app.kubernetes.io/name", "ingress-nginx" }, { "pod-template-hash", "5d8f" }), true },
	{ "example.com/app", L({ "app", "x" }), false },
	{ "x,x=a", L({ "x", "b" }), false },
};

static size_t nlabels(const struct pg_kube_label *l)
{
	size_t n = 0;

	while (l[n].key)
		n++;
	return n;
}

static void test_match(void **state)
{
	struct pg_kube_sel s;
	struct pg_kube_err err;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(matches); i++) {
		assert_int_equal(parse_labels(matches[i].sel, &s, &err), 0);
		if (pg_kube_sel_match(&s, "ns", matches[i].labels, nlabels(matches[i].labels)) !=
		    matches[i].match) {
			print_error("'%s' (row %zu): want %s\n", matches[i].sel, i,
				    matches[i].match ? "a match" : "no match");
			fail();
		}
		pg_kube_sel_free(&s);
	}
}

static void test_match_namespace(void **state)
{
	const struct pg_kube_label app[] = { { "k8s-app", "kube-dns" } };
	struct pg_kube_sel s;
	struct pg_kube_err err;
	const char *t;

	t = "pod:kube-system";
	assert_int_equal(pg_kube_sel_parse(t, strlen(t), &s, &err), 0);
	assert_true(pg_kube_sel_match(&s, "kube-system", NULL, 0));
	assert_true(pg_kube_sel_match(&s, "kube-system", app, 1));
	assert_false(pg_kube_sel_match(&s, "kube-public", app, 1));
	assert_false(pg_kube_sel_match(&s, "kube-system-2", app, 1));
	assert_false(pg_kube_sel_match(&s, NULL, app, 1));
	pg_kube_sel_free(&s);

	t = "pod:*/k8s-app=kube-dns";
	assert_int_equal(pg_kube_sel_parse(t, strlen(t), &s, &err), 0);
	assert_true(pg_kube_sel_match(&s, "kube-system", app, 1));
	assert_true(pg_kube_sel_match(&s, "default", app, 1));
	assert_false(pg_kube_sel_match(&s, "default", NULL, 0));
	pg_kube_sel_free(&s);

	/* the parse need not end at a NUL: the length rules */
	t = "pod:kube-system tcp/53";
	assert_int_equal(pg_kube_sel_parse(t, strlen("pod:kube-system"), &s, &err), 0);
	assert_string_equal(s.ns, "kube-system");
	pg_kube_sel_free(&s);
}

/* --- names alone ---------------------------------------------------------------- */

static void test_names(void **state)
{
	struct pg_kube_err err;

	assert_int_equal(pg_kube_key_check("app.kubernetes.io/name", 22, &err), 0);
	assert_int_equal(pg_kube_key_check("a", 1, &err), 0);
	assert_int_equal(pg_kube_key_check("", 0, &err), -EINVAL);
	assert_int_equal(pg_kube_value_check("", 0, &err), 0);
	assert_int_equal(pg_kube_value_check("v1.2_3-x", 8, &err), 0);
	assert_int_equal(pg_kube_value_check("a b", 3, &err), -EINVAL);
	assert_int_equal(err.off, 1);
	assert_int_equal(pg_kube_ns_check("default", 7, &err), 0);
	assert_int_equal(pg_kube_ns_check("", 0, &err), -EINVAL);
}

static void test_int64(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		long long v;
	} rows[] = {
		{ "0", true, 0 },
		{ "-0", true, 0 },
		{ "+7", true, 7 },
		{ "9223372036854775807", true, INT64_MAX },
		{ "-9223372036854775808", true, INT64_MIN },
		{ "9223372036854775808", false, 0 },
		{ "-9223372036854775809", false, 0 },
		{ "", false, 0 },
		{ "-", false, 0 },
		{ "1_000", false, 0 },
		{ " 1", false, 0 },
		{ "0x10", false, 0 },
	};
	long long v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		v = 0;
		assert_int_equal(pg_kube_int64(rows[i].s, strlen(rows[i].s), &v), rows[i].ok);
		assert_true(v == rows[i].v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),	cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_lengths),	cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_hints),		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_namespace), cmocka_unit_test(test_names),
		cmocka_unit_test(test_int64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
