// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_rule.c - allow and deny (policy/rule.c): port lists, protocols,
 * conditions, the rule limit, and pod: selectors.
 */

#include "policy_fx.h"
#include "kube_sel.h"

static void test_ports_sorted_merged(void **state)
{
	struct pg_policy *p = parse_ok("protect 443,80-90,85,91,100-200,150-160,1000,1-1,2\n"
				       "allow /a tcp/443,80,81-85,86 \n"
				       "allow /b tcp/200,1-1,100-150,2\n"
				       "allow /c tcp/0080\n");

	assert_ranges(p->protect, p->nprotect, "1-2,80-91,100-200,443,1000");
	assert_ranges(p->rules[0].ports, p->rules[0].nports, "80-86,443");
	assert_ranges(p->rules[1].ports, p->rules[1].nports, "1-2,100-150,200");
	assert_ranges(p->rules[2].ports, p->rules[2].nports, "80");
	pg_policy_free(p);

	p = parse_ok("protect 1-65535\nallow /a any/65535\n");
	assert_ranges(p->protect, p->nprotect, "1-65535");
	assert_int_equal(p->rules[0].ports[0].lo, 65535);
	pg_policy_free(p);
}

static void test_protocols(void **state)
{
	struct pg_policy *p = parse_ok("allow /a tcp/80\n"
				       "allow /b udp/80\n"
				       "allow /c any/80\n"
				       "allow /d udp,tcp/80\n"
				       "allow /e tcp,any/80\n"
				       "allow /f udp,udp/80\n");

	assert_int_equal(p->rules[0].protos, PG_PROTO_TCP);
	assert_int_equal(p->rules[1].protos, PG_PROTO_UDP);
	assert_int_equal(p->rules[2].protos, PG_PROTO_TCP | PG_PROTO_UDP | PG_PROTO_OTHER);
	assert_int_equal(p->rules[3].protos, PG_PROTO_TCP | PG_PROTO_UDP);
	assert_int_equal(p->rules[4].protos, PG_PROTO_ANY);
	assert_int_equal(p->rules[5].protos, PG_PROTO_UDP);
	pg_policy_free(p);
}

static void test_conditions(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t host4[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	static const uint8_t ll[16] = { 0xfe, 0x80, [15] = 1 };
	static const uint8_t zero4[16] = { [10] = 0xff, [11] = 0xff };
	struct pg_policy *p = parse_ok("allow /a tcp/80 user=33 group=0\n"
				       "allow /b tcp/80 group=www-data addr=2001:db8::/32\n"
				       "allow /c tcp/80 addr=192.0.2.1\n"
				       "allow /d tcp/80 addr=fe80::1\n"
				       "allow /e tcp/80 addr=0.0.0.0/0 user=4294967294\n"
				       "allow /f tcp/80 addr=::/0\n"
				       "allow /g tcp/80 addr=10.0.0.0/8 group=web user=www-data\n");
	const struct pg_cond *c;

	c = &p->rules[0].cond;
	assert_true(c->has_user && c->has_group && !c->has_addr);
	assert_string_equal(c->user, "33");
	assert_int_equal(c->uid, 33);
	assert_string_equal(c->group, "0");
	assert_int_equal(c->gid, 0);
	assert_loc(c->user_loc, 0, 1, 17);
	assert_loc(c->group_loc, 0, 1, 25);

	c = &p->rules[1].cond;
	assert_true(!c->has_user && c->has_group && c->has_addr);
	assert_string_equal(c->group, "www-data");
	assert_false(c->addr_v4);
	assert_int_equal(c->plen, 32);
	assert_memory_equal(c->addr, v6, 16);

	c = &p->rules[2].cond;
	assert_true(c->addr_v4);
	assert_int_equal(c->plen, 128);
	assert_memory_equal(c->addr, host4, 16);

	c = &p->rules[3].cond;
	assert_false(c->addr_v4);
	assert_int_equal(c->plen, 128);
	assert_memory_equal(c->addr, ll, 16);

	c = &p->rules[4].cond;
	assert_true(c->addr_v4);
	assert_int_equal(c->plen, 96);
	assert_memory_equal(c->addr, zero4, 16);
	assert_int_equal(c->uid, 4294967294u);

	c = &p->rules[5].cond;
	assert_false(c->addr_v4);
	assert_int_equal(c->plen, 0);

	c = &p->rules[6].cond;
	assert_true(c->has_user && c->has_group && c->has_addr);
	assert_int_equal(c->plen, 104);
	pg_policy_free(p);
}

static void test_rule_limit(void **state)
{
	size_t n = PG_POL_MAX_RULES + 2, off = 0, i;
	char *text = malloc(n * 32);
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char want[64];

	for (i = 0; i < n; i++)
		off += (size_t)sprintf(text + off, "allow /s%zu tcp/80\n", i);
	p = pg_policy_parse_buf("t.conf", text, off, NULL, &d);
	assert_int_equal(p->nrules, PG_POL_MAX_RULES);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.nerrors, 1);
	snprintf(want, sizeof(want), "more than %d rules", PG_POL_MAX_RULES);
	assert_string_equal(d.v[0].msg, want);
	assert_loc(d.v[0].loc, 0, PG_POL_MAX_RULES + 1, 1);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(text);
}

/*
 * pod: selectors: kept as written, parsed, and in canonical form; a cgroup
 * path has neither. Quoted, a selector may hold spaces.
 */
static void test_pod_rules(void **state)
{
	struct pg_policy *p =
	    parse_ok("allow pod:ingress-nginx/app.kubernetes.io/name=ingress-nginx "
		     "tcp/80,443\n"
		     "deny  pod:* any/1-1023\n"
		     "allow \"pod:web/tier in (b, a),!canary\" tcp/80 user=33\n"
		     "allow /kubepods.slice tcp/81\n");
	const struct pg_rule *r = p->rules;

	assert_int_equal(p->nrules, 4);
	assert_string_equal(r[0].selector,
			    "pod:ingress-nginx/app.kubernetes.io/name=ingress-nginx");
	assert_non_null(r[0].pod);
	assert_string_equal(r[0].pod->ns, "ingress-nginx");
	assert_int_equal(r[0].pod->nreqs, 1);
	assert_string_equal(r[0].pod->reqs[0].key, "app.kubernetes.io/name");
	assert_string_equal(r[0].pod_key, "pod:ingress-nginx/app.kubernetes.io/name=ingress-nginx");
	assert_loc(r[0].sel_loc, 0, 1, 7);

	assert_null(r[1].pod->ns); /* every namespace */
	assert_string_equal(r[1].pod_key, "pod:*");

	assert_string_equal(r[2].selector, "pod:web/tier in (b, a),!canary");
	assert_string_equal(r[2].pod_key, "pod:web/!canary,tier in (a,b)");
	assert_true(r[2].cond.has_user);
	assert_string_equal(r[2].text, "allow \"pod:web/tier in (b, a),!canary\" tcp/80 user=33");

	assert_null(r[3].pod);
	assert_null(r[3].pod_key);
	pg_policy_free(p);
}

/*
 * Errors at FILE:LINE:COL: the token's column plus the offset in it when
 * the token is unquoted, the token's own column when it is quoted; the
 * hint from the selector parser. Bytes that are not UTF-8 are refused
 * before the selector parser sees them.
 */
static void test_pod_errors(void **state)
{
	expect_diags("allow pod:web/app=x,tier=-y tcp/80\n",
		     "t.conf:1:26: error: label value '-y' must start with a letter or digit; a "
		     "label value is empty or at most 63 letters, digits, '-', '_' and '.', "
		     "starting and ending with a letter or digit\n");
	expect_diags("deny \"pod:web/app=x,tier=-y\" tcp/80\nallow /a tcp/80\n",
		     "t.conf:1:6: error: label value '-y' must start with a letter or digit; a "
		     "label value is empty or at most 63 letters, digits, '-', '_' and '.', "
		     "starting and ending with a letter or digit\n");
	expect_diags("allow /a tcp/80\nallow pod:WEB tcp/80\n",
		     "t.conf:2:11: error: invalid namespace 'WEB': upper case letter 'W'; "
		     "Kubernetes namespaces are lower case\n");
	expect_diags(
	    "allow /a tcp/80\nallow pod:web/app=\xff tcp/80\n",
	    "t.conf:2:19: error: selector is not valid UTF-8 (byte 0xff); save the file as "
	    "UTF-8\n");
	/* "pod" without the colon is neither a pod selector nor a path */
	expect_diags("allow /a tcp/80\nallow pod/web tcp/80\n",
		     "t.conf:2:7: error: selector must be an absolute cgroup path starting with "
		     "'/'\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_sorted_merged), cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_conditions),	    cmocka_unit_test(test_rule_limit),
		cmocka_unit_test(test_pod_rules),	    cmocka_unit_test(test_pod_errors),
	};

	return cmocka_run_group_tests_name("rule", tests, NULL, NULL);
}
