// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_rollout.c - audit rollout: the 'rollout' statement and the rule
 * option rollout= (values, errors at FILE:LINE:COL), which rules a policy
 * audits, the flags the compiler writes (header, rule records, entries),
 * and the decisions read back (explain --policy, diff): audited verdicts,
 * their phrases, and bind()'s 1 for them.
 */

#include "compile_fx.h"

/* Parse text as "t.conf"; the diagnostics as printed, in *out (free it). */
static struct pg_policy *parse_diags(const char *text, char **out)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	size_t len = 0;
	FILE *f;

	assert_non_null(p);
	f = open_memstream(out, &len);
	assert_non_null(f);
	pg_diags_print(&d, p, f);
	fclose(f);
	pg_diags_free(&d);
	return p;
}

/* The first line of the diagnostics for text, which must be an error. */
static void expect_error(const char *text, const char *want, int line)
{
	char *got, *nl;
	struct pg_policy *p = parse_diags(text, &got);

	nl = strchr(got, '\n');
	if (nl)
		*nl = 0;
	if (strcmp(got, want)) {
		print_error("line %d: got '%s', want '%s'\n", line, got, want);
		fail();
	}
	free(got);
	pg_policy_free(p);
}

#define ERR(text, want) expect_error(text, want, __LINE__)

static void test_parse_statement(void **state)
{
	char *diags;
	struct pg_policy *p = parse_diags("default deny\nrollout audit\nallow /a tcp/80\n", &diags);

	assert_true(p->audit);
	assert_true(p->rollout_set);
	assert_int_equal(p->rollout_loc.line, 2);
	assert_int_equal(p->rollout_loc.col, 1);
	assert_true(pg_rule_audited(p, &p->rules[0]));
	assert_true(pg_policy_has_audit(p));
	assert_false(pg_policy_enforces_grant(p));
	free(diags);
	pg_policy_free(p);

	p = parse_diags("rollout enforce\nallow /a tcp/80\n", &diags);
	assert_false(p->audit);
	assert_true(p->rollout_set);
	assert_false(pg_rule_audited(p, &p->rules[0]));
	assert_false(pg_policy_has_audit(p));
	assert_true(pg_policy_enforces_grant(p));
	free(diags);
	pg_policy_free(p);

	/* the default is enforce */
	p = parse_diags("allow /a tcp/80\n", &diags);
	assert_false(p->audit);
	assert_false(p->rollout_set);
	assert_false(pg_policy_has_audit(p));
	free(diags);
	pg_policy_free(p);

	ERR("rollout\n", "t.conf:1:1: error: 'rollout' needs audit or enforce");
	ERR("rollout observe\n",
	    "t.conf:1:9: error: unknown rollout 'observe': use audit or enforce");
	ERR("rollout audit enforce\n", "t.conf:1:15: error: unexpected 'enforce'");
	ERR("rollout audit\nrollout enforce\n",
	    "t.conf:2:1: error: rollout already set at t.conf:1");
	ERR("rollot audit\n",
	    "t.conf:1:1: error: unknown statement 'rollot'; did you mean 'rollout'?");
}

static void test_parse_option(void **state)
{
	char *diags;
	struct pg_policy *p = parse_diags("rollout audit\n"
					  "allow /a tcp/80 rollout=enforce\n"
					  "deny /b tcp/81 user=5 rollout=audit\n"
					  "allow /c tcp/82\n",
					  &diags);

	assert_int_equal(p->nrules, 3);
	assert_int_equal(p->rules[0].rollout, PG_ROLLOUT_ENFORCE);
	assert_int_equal(p->rules[0].rollout_loc.line, 2);
	assert_int_equal(p->rules[0].rollout_loc.col, 17);
	assert_int_equal(p->rules[1].rollout, PG_ROLLOUT_AUDIT);
	assert_true(p->rules[1].cond.has_user);
	assert_int_equal(p->rules[2].rollout, PG_ROLLOUT_UNSET);
	/* the rule's option wins over the policy's statement */
	assert_false(pg_rule_audited(p, &p->rules[0]));
	assert_true(pg_rule_audited(p, &p->rules[1]));
	assert_true(pg_rule_audited(p, &p->rules[2]));
	assert_int_equal(pg_policy_naudited(p), 2);
	assert_true(pg_policy_enforces_grant(p));
	/* the option is part of the rule as written */
	assert_string_equal(p->rules[0].text, "allow /a tcp/80 rollout=enforce");
	free(diags);
	pg_policy_free(p);

	/* an enforced policy with one audited rule */
	p = parse_diags("allow /a tcp/80 rollout=audit\ndeny /b tcp/81\n", &diags);
	assert_false(p->audit);
	assert_true(pg_policy_has_audit(p));
	assert_false(pg_policy_enforces_grant(p));
	free(diags);
	pg_policy_free(p);

	ERR("allow /a tcp/80 rollout=observe\n",
	    "t.conf:1:25: error: unknown rollout 'observe': use audit or enforce");
	ERR("allow /a tcp/80 rollout=\n", "t.conf:1:25: error: unknown rollout '': use audit or "
					  "enforce");
	ERR("allow /a tcp/80 rollout=audit rollout=enforce\n",
	    "t.conf:1:31: error: 'rollout=' given twice");
}

static const struct pg_cgroup tree[] = {
	{ "/", 1, 0, false },
	{ "/a", 2, 1, false },
	{ "/b", 3, 1, false },
};

/* The compiler's flags: header (the default's audit), rule records, entries. */
static void test_compile_flags(void **state)
{
	struct fx f;
	const struct pg_ent *e;
	const union pg_block *rb;

	fx_ok(&f,
	      "rollout audit\ndefault deny\n"
	      "allow /a tcp/80\n"
	      "allow /a tcp/81 rollout=enforce\n"
	      "allow /b tcp/80 user=5\n"
	      "allow /b tcp/80 user=6 rollout=enforce\n",
	      tree, ARRAY_SIZE(tree), NULL);
	assert_true(hdr(&f)->flags & PG_HF_AUDIT);
	rb = &f.img.blocks[PG_RULE_OFF];
	assert_int_equal(rb->rule[0].rflags, PG_RF_AUDIT);
	assert_int_equal(rb->rule[1].rflags, 0);
	assert_int_equal(rb->rule[2].rflags, PG_RF_AUDIT);
	assert_int_equal(rb->rule[3].rflags, 0);
	e = find_ent(&f.img, node_of(&f.img, "/a"), PG_P_TCP, 80);
	assert_non_null(e);
	assert_int_equal(e->flags, PG_EF_UNCOND | PG_EF_AUDIT);
	e = find_ent(&f.img, node_of(&f.img, "/a"), PG_P_TCP, 81);
	assert_non_null(e);
	assert_int_equal(e->flags, PG_EF_UNCOND);
	/* conditional entries carry no audit flag: their rules do */
	e = find_ent(&f.img, node_of(&f.img, "/b"), PG_P_TCP, 80);
	assert_non_null(e);
	assert_int_equal(e->flags, 0);
	/* room for the carried would-allow counter after the rules' */
	assert_true(pg_cnt_carried_wa(hdr(&f)->nrules) < hdr(&f)->cnt_stride);
	fx_free(&f);

	fx_ok(&f, "default deny\nallow /a tcp/80\n", tree, ARRAY_SIZE(tree), NULL);
	assert_false(hdr(&f)->flags & PG_HF_AUDIT);
	assert_int_equal(f.img.blocks[PG_RULE_OFF].rule[0].rflags, 0);
	e = find_ent(&f.img, node_of(&f.img, "/a"), PG_P_TCP, 80);
	assert_int_equal(e->flags, PG_EF_UNCOND);
	fx_free(&f);
}

/* Decisions read back, as explain --policy and diff make them. */
static void test_decide(void **state)
{
	const uint32_t none[] = { 0 };
	struct fx f;

	fx_ok(&f,
	      "rollout audit\ndefault deny\nexempt root\n"
	      "allow /a tcp/80\n"
	      "deny /a tcp/82\n"
	      "allow /a tcp/81 rollout=enforce\n"
	      "allow /b tcp/80 user=5\n"
	      "allow /b tcp/80 user=6 rollout=enforce\n",
	      tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(node_of(&f.img, "/a"), 1);
	assert_int_equal(node_of(&f.img, "/b"), 2);
	{
		const uint32_t na[] = { 1 }, nb[] = { 2 };

		EXPECT(&f, na, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_AUDIT_GRANT, 0, 0);
		EXPECT(&f, na, 82, PG_P_TCP, 1000, 1000, NULL, PG_V_AUDIT_DENY, 1, 0);
		EXPECT(&f, na, 81, PG_P_TCP, 1000, 1000, NULL, PG_V_GRANT, 2, 0);
		EXPECT(&f, nb, 80, PG_P_TCP, 5, 5, NULL, PG_V_AUDIT_GRANT, 3, 0);
		EXPECT(&f, nb, 80, PG_P_TCP, 6, 6, NULL, PG_V_GRANT, 4, 0);
		/* no condition matches: the audited default */
		EXPECT(&f, nb, 80, PG_P_TCP, 7, 7, NULL, PG_V_AUDIT_DENY, NONE, 0);
		/* the default elsewhere: audited, but root is exempt */
		EXPECT(&f, none, 443, PG_P_TCP, 1000, 1000, NULL, PG_V_AUDIT_DENY, NONE, -1);
		EXPECT(&f, none, 443, PG_P_TCP, 0, 0, NULL, PG_V_EXEMPT, NONE, -1);
	}
	/* an audited decision leaves bind() to the kernel, with or without bypass */
	assert_int_equal(pg_verdict_ret(1, PG_V_AUDIT_GRANT), 1);
	assert_int_equal(pg_verdict_ret(1, PG_V_AUDIT_DENY), 1);
	assert_int_equal(pg_verdict_ret(0, PG_V_AUDIT_DENY), 1);
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_AUDIT_DENY), 1);
	fx_free(&f);

	/* the one-word edit: the same binds now follow the policy */
	fx_ok(&f,
	      "rollout enforce\ndefault deny\nexempt root\n"
	      "allow /a tcp/80\n"
	      "deny /a tcp/82\n",
	      tree, ARRAY_SIZE(tree), NULL);
	{
		const uint32_t na[] = { 1 };

		EXPECT(&f, na, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, na, 82, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_RULE, 1, 0);
		EXPECT(&f, none, 443, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_DEFAULT, NONE, -1);
	}
	fx_free(&f);
}

static void test_phrases(void **state)
{
	assert_true(pg_verdict_audited(PG_V_AUDIT_GRANT));
	assert_true(pg_verdict_audited(PG_V_AUDIT_DENY));
	assert_false(pg_verdict_audited(PG_V_GRANT));
	assert_false(pg_verdict_audited(PG_V_WOULD_DENY));
	assert_string_equal(pg_verdict_phrase(PG_V_AUDIT_DENY),
			    "would refuse (audit: the kernel's own check decides)");
	assert_string_equal(pg_verdict_phrase(PG_V_AUDIT_GRANT),
			    "would grant (audit: the kernel's own check decides)");
	assert_string_equal(pg_verdict_phrase(PG_V_DENY_RULE), "deny");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_statement), cmocka_unit_test(test_parse_option),
		cmocka_unit_test(test_compile_flags),	cmocka_unit_test(test_decide),
		cmocka_unit_test(test_phrases),
	};

	return cmocka_run_group_tests_name("rollout", tests, NULL, NULL);
}
