// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_image.c - reading an image back (policy/image.c): decisions over
 * nodes nearest first, defaults, user, group and address conditions,
 * protocols; verdicts and what bind() returns for them.
 */

#include "compile_fx.h"

static void test_decide_worked_example(void **state)
{
	struct fx f;
	uint32_t web, sys;

	fx_ok(&f, ex_policy, ex_tree, ARRAY_SIZE(ex_tree), NULL);
	sys = node_of(&f.img, "/system.slice");
	web = node_of(&f.img, "/system.slice/web.service");
	assert_int_equal(sys, 1);
	assert_int_equal(web, 2);
	assert_int_equal(f.img.nnodes, 2);
	assert_int_equal(hdr(&f)->levels, (1ull << 1) | (1ull << 2));
	assert_int_equal(f.img.nents, 1 + 3 * 1023);
	{
		/* worker: levels 2 and 1 carry rules, nearest first */
		const uint32_t worker[] = { web, sys };
		const uint32_t user[] = { 0 };
		const uint32_t sysonly[] = { sys };

		EXPECT(&f, worker, 80, PG_P_TCP, 33, 33, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, worker, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, worker, 443, PG_P_TCP, 33, 33, NULL, PG_V_DENY_RULE, 1, 1);
		EXPECT(&f, worker, 80, PG_P_UDP, 33, 33, NULL, PG_V_DENY_RULE, 1, 1);
		EXPECT(&f, worker, 80, PG_P_OTHER, 33, 33, NULL, PG_V_DENY_RULE, 1, 1);
		EXPECT(&f, worker, 1023, PG_P_TCP, 33, 33, NULL, PG_V_DENY_RULE, 1, 1);
		EXPECT(&f, worker, 1024, PG_P_TCP, 33, 33, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, user, 443, PG_P_TCP, 0, 0, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, sysonly, 80, PG_P_TCP, 33, 33, NULL, PG_V_DENY_RULE, 1, 0);
	}
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_GRANT), 1);
	fx_free(&f);
}

/* Default deny, exempt root: a level that decides by default does not pass on. */
static void test_decide_default_at_level(void **state)
{
	struct fx f;
	char text[512];

	snprintf(text, sizeof(text), "default deny\nexempt root\n%s", ex_policy);
	fx_ok(&f, text, ex_tree, ARRAY_SIZE(ex_tree), NULL);
	assert_int_equal(hdr(&f)->def, PG_DEF_DENY);
	assert_int_equal(hdr(&f)->flags, PG_HF_EXEMPT_ROOT | PG_HF_PROTECT_RANGE);
	{
		const uint32_t worker[] = { 2, 1 };
		const uint32_t user[] = { 0 };

		EXPECT(&f, worker, 80, PG_P_TCP, 33, 0, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, worker, 80, PG_P_TCP, 1000, 0, NULL, PG_V_DENY_DEFAULT, NONE, 0);
		EXPECT(&f, worker, 80, PG_P_TCP, 0, 0, NULL, PG_V_EXEMPT, NONE, 0);
		/* root is not exempt from a rule */
		EXPECT(&f, worker, 443, PG_P_TCP, 0, 0, NULL, PG_V_DENY_RULE, 1, 1);
		EXPECT(&f, user, 443, PG_P_TCP, 1000, 0, NULL, PG_V_DENY_DEFAULT, NONE, -1);
		EXPECT(&f, user, 443, PG_P_TCP, 0, 0, NULL, PG_V_EXEMPT, NONE, -1);
	}
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_EXEMPT), 1);
	fx_free(&f);

	/* Without exempt root, uid 0 gets the default like anyone. */
	snprintf(text, sizeof(text), "default deny\n%s", ex_policy);
	fx_ok(&f, text, ex_tree, ARRAY_SIZE(ex_tree), NULL);
	{
		const uint32_t worker[] = { 2, 1 };

		EXPECT(&f, worker, 80, PG_P_TCP, 0, 0, NULL, PG_V_DENY_DEFAULT, NONE, 0);
	}
	fx_free(&f);
}

static void test_decide_nearest_first(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/s", 2), CG("/s/a", 3), CG("/s/a/b", 4) };
	struct fx f;
	uint32_t s, a, b;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "deny /s tcp/80-82\n"
	      "allow /s/a tcp/80\n"
	      "deny /s/a/b tcp/80\n"
	      "allow /s/a/b tcp/81\n",
	      tree, ARRAY_SIZE(tree), NULL);
	s = node_of(&f.img, "/s");
	a = node_of(&f.img, "/s/a");
	b = node_of(&f.img, "/s/a/b");
	assert_int_equal(s, 1);
	assert_int_equal(a, 2);
	assert_int_equal(b, 3);
	{
		const uint32_t from_b[] = { b, a, s };
		const uint32_t from_a[] = { a, s };
		const uint32_t gap[] = { 0, a, 0, s };
		const uint32_t rev[] = { s, a, b };

		EXPECT(&f, from_b, 80, PG_P_TCP, 1, 1, NULL, PG_V_DENY_RULE, 2, 0);
		EXPECT(&f, from_b, 81, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 3, 0);
		EXPECT(&f, from_b, 82, PG_P_TCP, 1, 1, NULL, PG_V_DENY_RULE, 0, 2);
		EXPECT(&f, from_a, 80, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, from_a, 81, PG_P_TCP, 1, 1, NULL, PG_V_DENY_RULE, 0, 1);
		EXPECT(&f, gap, 80, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 1, 1);
		EXPECT(&f, gap, 82, PG_P_TCP, 1, 1, NULL, PG_V_DENY_RULE, 0, 3);
		EXPECT(&f, rev, 80, PG_P_TCP, 1, 1, NULL, PG_V_DENY_RULE, 0, 0);
		EXPECT(&f, from_b, 83, PG_P_TCP, 1, 1, NULL, PG_V_KERNEL, NONE, -1);
	}
	fx_free(&f);
}

static void test_decide_user_group(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /a tcp/80 user=www-data\n"	     /* 0 */
	      "allow /a tcp/81 group=web\n"	     /* 1 */
	      "allow /a tcp/82 user=1000 group=44\n" /* 2 */
	      "allow /a tcp/83 user=1\n"	     /* 3 */
	      "allow /a tcp/83 group=5\n"	     /* 4 */
	      "deny /b tcp/80 user=named\n"	     /* 5 */
	      "deny /b tcp/80 group=7\n",	     /* 6 */
	      tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.p->rules[0].cond.uid, 33);
	assert_int_equal(f.p->rules[1].cond.gid, 44);
	{
		const uint32_t a[] = { node_of(&f.img, "/a") };
		const uint32_t b[] = { node_of(&f.img, "/b") };

		EXPECT(&f, a, 80, PG_P_TCP, 33, 0, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 34, 33, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 81, PG_P_TCP, 0, 44, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, a, 81, PG_P_TCP, 44, 43, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 1000, 44, NULL, PG_V_GRANT, 2, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 1000, 45, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 1001, 44, NULL, PG_V_KERNEL, NONE, 0);
		/* alternatives in file order: the first that matches decides */
		EXPECT(&f, a, 83, PG_P_TCP, 1, 5, NULL, PG_V_GRANT, 3, 0);
		EXPECT(&f, a, 83, PG_P_TCP, 2, 5, NULL, PG_V_GRANT, 4, 0);
		EXPECT(&f, a, 83, PG_P_TCP, 1, 6, NULL, PG_V_GRANT, 3, 0);
		EXPECT(&f, a, 83, PG_P_TCP, 2, 6, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 53, 0, NULL, PG_V_DENY_RULE, 5, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 0, 7, NULL, PG_V_DENY_RULE, 6, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 0, 0, NULL, PG_V_KERNEL, NONE, 0);
	}
	fx_free(&f);
}

static void test_decide_addr(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /a tcp/80 addr=10.0.0.0/8\n"	    /* 0 */
	      "allow /a tcp/81 addr=2001:db8::/32\n"	    /* 1 */
	      "allow /a tcp/82 addr=::ffff:192.0.2.0/120\n" /* 2 */
	      "allow /a tcp/83 addr=192.0.2.1\n"	    /* 3 */
	      "allow /a tcp/84 addr=0.0.0.0/0\n"	    /* 4 */
	      "allow /a tcp/85 addr=::1\n"		    /* 5 */
	      "allow /a tcp/86 addr=10.0.0.0/8 user=5\n"    /* 6 */
	      "allow /a tcp/86\n"			    /* 7 */
	      "allow /a tcp/87 addr=10.0.0.0/12\n"	    /* 8 */
	      "allow /a tcp/88 addr=2001:db8::/29\n"	    /* 9 */
	      "allow /a tcp/89 addr=::/0\n"		    /* 10 */
	      "allow /a tcp/90 addr=192.0.2.128/25\n",	    /* 11 */
	      tree, ARRAY_SIZE(tree), NULL);
	{
		const uint32_t a[] = { 1 };

		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "10.1.2.3", PG_V_GRANT, 0, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "10.255.255.255", PG_V_GRANT, 0, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "11.0.0.1", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "9.255.255.255", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "::ffff:10.1.2.3", PG_V_GRANT, 0, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "::a01:203", PG_V_KERNEL, NONE, 0); /* compat */
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "::", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, "::ffff:0.0.0.0", PG_V_KERNEL, NONE, 0);

		EXPECT(&f, a, 81, PG_P_TCP, 9, 9, "2001:db8::1", PG_V_GRANT, 1, 0);
		EXPECT(&f, a, 81, PG_P_TCP, 9, 9, "2001:db8:ffff:ffff::1", PG_V_GRANT, 1, 0);
		EXPECT(&f, a, 81, PG_P_TCP, 9, 9, "2001:db9::1", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 81, PG_P_TCP, 9, 9, "10.1.2.3", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 81, PG_P_TCP, 9, 9, "::", PG_V_KERNEL, NONE, 0);

		EXPECT(&f, a, 82, PG_P_TCP, 9, 9, "192.0.2.77", PG_V_GRANT, 2, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 9, 9, "192.0.3.1", PG_V_KERNEL, NONE, 0);

		EXPECT(&f, a, 83, PG_P_TCP, 9, 9, "192.0.2.1", PG_V_GRANT, 3, 0);
		EXPECT(&f, a, 83, PG_P_TCP, 9, 9, "192.0.2.2", PG_V_KERNEL, NONE, 0);

		EXPECT(&f, a, 84, PG_P_TCP, 9, 9, "1.2.3.4", PG_V_GRANT, 4, 0);
		EXPECT(&f, a, 84, PG_P_TCP, 9, 9, "255.255.255.255", PG_V_GRANT, 4, 0);
		EXPECT(&f, a, 84, PG_P_TCP, 9, 9, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 84, PG_P_TCP, 9, 9, "::1", PG_V_KERNEL, NONE, 0);

		EXPECT(&f, a, 85, PG_P_TCP, 9, 9, "::1", PG_V_GRANT, 5, 0);
		EXPECT(&f, a, 85, PG_P_TCP, 9, 9, "::2", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 85, PG_P_TCP, 9, 9, "0.0.0.1", PG_V_KERNEL, NONE, 0);

		/* prefixes that end inside a byte */
		EXPECT(&f, a, 87, PG_P_TCP, 9, 9, "10.15.255.255", PG_V_GRANT, 8, 0);
		EXPECT(&f, a, 87, PG_P_TCP, 9, 9, "10.0.0.0", PG_V_GRANT, 8, 0);
		EXPECT(&f, a, 87, PG_P_TCP, 9, 9, "10.16.0.0", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 88, PG_P_TCP, 9, 9, "2001:dbf:ffff::1", PG_V_GRANT, 9, 0);
		EXPECT(&f, a, 88, PG_P_TCP, 9, 9, "2001:db8::", PG_V_GRANT, 9, 0);
		EXPECT(&f, a, 88, PG_P_TCP, 9, 9, "2001:dc0::1", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 88, PG_P_TCP, 9, 9, "2001:db7:ffff::1", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 90, PG_P_TCP, 9, 9, "192.0.2.128", PG_V_GRANT, 11, 0);
		EXPECT(&f, a, 90, PG_P_TCP, 9, 9, "192.0.2.255", PG_V_GRANT, 11, 0);
		EXPECT(&f, a, 90, PG_P_TCP, 9, 9, "192.0.2.127", PG_V_KERNEL, NONE, 0);

		/* The wildcard never matches addr=, even a prefix that covers it:
		 * 0.0.0.0/0 covers ::ffff:0.0.0.0 and ::/0 covers everything. */
		EXPECT(&f, a, 84, PG_P_TCP, 9, 9, "::ffff:0.0.0.0", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 84, PG_P_TCP, 9, 9, "0.0.0.1", PG_V_GRANT, 4, 0);
		EXPECT(&f, a, 89, PG_P_TCP, 9, 9, "::", PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 89, PG_P_TCP, 9, 9, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, a, 89, PG_P_TCP, 9, 9, "::1", PG_V_GRANT, 10, 0);
		EXPECT(&f, a, 89, PG_P_TCP, 9, 9, "1.2.3.4", PG_V_GRANT, 10, 0);
		EXPECT(&f, a, 89, PG_P_TCP, 9, 9, "ffff::", PG_V_GRANT, 10, 0);

		/* unconditional wins over the conditional, whatever the address */
		EXPECT(&f, a, 86, PG_P_TCP, 9, 9, NULL, PG_V_GRANT, 7, 0);
		EXPECT(&f, a, 86, PG_P_TCP, 5, 9, "10.0.0.1", PG_V_GRANT, 7, 0);
	}
	fx_free(&f);
}

static void test_decide_protocols(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3), CG("/c", 4) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /a any/80\n"
	      "allow /b tcp/80\n"
	      "deny /c tcp,udp/80\n",
	      tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nents, 3 + 1 + 2);
	{
		const uint32_t a[] = { 1 }, b[] = { 2 }, c[] = { 3 };

		EXPECT(&f, a, 80, PG_P_TCP, 9, 9, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, a, 80, PG_P_UDP, 9, 9, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, a, 80, PG_P_OTHER, 9, 9, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 9, 9, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, b, 80, PG_P_UDP, 9, 9, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, b, 80, PG_P_OTHER, 9, 9, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, c, 80, PG_P_UDP, 9, 9, NULL, PG_V_DENY_RULE, 2, 0);
		EXPECT(&f, c, 80, PG_P_OTHER, 9, 9, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, a, 81, PG_P_TCP, 9, 9, NULL, PG_V_KERNEL, NONE, -1);
	}
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_worked_example),
		cmocka_unit_test(test_decide_default_at_level),
		cmocka_unit_test(test_decide_nearest_first),
		cmocka_unit_test(test_decide_user_group),
		cmocka_unit_test(test_decide_addr),
		cmocka_unit_test(test_decide_protocols),
	};

	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
