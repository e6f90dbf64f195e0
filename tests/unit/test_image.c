// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_image.c - reading an image back (policy/image.c): decisions over
 * nodes nearest first, defaults, user, group and address conditions,
 * protocols; node 0 and zeroed blocks that never match; verdicts and what
 * bind() returns for them.
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

/* --- verdicts, and blocks that are not an image ----------------------------- */

static void test_verdict_names(void **state)
{
	static const char *const want[] = {
		[PG_V_GRANT] = "grant",
		[PG_V_DENY_RULE] = "deny",
		[PG_V_DENY_DEFAULT] = "deny-default",
		[PG_V_KERNEL] = "kernel",
		[PG_V_EXEMPT] = "exempt-root",
		[PG_V_NO_POLICY] = "no-policy",
		[PG_V_KERN_SOCK] = "kernel-socket",
		[PG_V_WOULD_DENY] = "would-deny",
		[PG_V_WOULD_ALLOW] = "would-allow",
		[PG_V_AUDIT_SAME] = "audit",
		[PG_V_AUDIT_GRANT] = "audit-grant",
		[PG_V_AUDIT_DENY] = "audit-deny",
	};
	int v;

	assert_int_equal(ARRAY_SIZE(want), PG_V_AUDIT_DENY + 1);
	for (v = 0; v <= PG_V_AUDIT_DENY; v++)
		assert_string_equal(pg_verdict_name(v), want[v]);
	assert_string_equal(pg_verdict_name(PG_V_AUDIT_DENY + 1), "?");
	assert_string_equal(pg_verdict_name(-1), "?");
}

/* bind()'s return: 1 lets the kernel's own check run, 3 bypasses it, 0 refuses. */
static void test_image_ret(void **state)
{
	static const struct {
		int v, plain, bypass;
	} cases[] = {
		{ PG_V_GRANT, 1, 3 },	  { PG_V_DENY_RULE, 0, 0 }, { PG_V_DENY_DEFAULT, 0, 0 },
		{ PG_V_KERNEL, 1, 1 },	  { PG_V_EXEMPT, 1, 1 },    { PG_V_NO_POLICY, 0, 0 },
		{ PG_V_KERN_SOCK, 1, 1 },
	};
	struct pg_compile_opts o = grant_opts;
	struct fx plain, bypass;
	size_t i;

	fx_ok(&plain, "allow /a tcp/80\n", NULL, 0, &o);
	o.bypass = true;
	fx_ok(&bypass, "allow /a tcp/80\n", NULL, 0, &o);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int v = cases[i].v;

		assert_int_equal(pg_image_ret(plain.img.blocks, plain.img.nblocks, v),
				 cases[i].plain);
		assert_int_equal(pg_image_ret(bypass.img.blocks, bypass.img.nblocks, v),
				 cases[i].bypass);
		/* no image: as without bypass */
		assert_int_equal(pg_image_ret(NULL, 0, v), cases[i].plain);
	}
	fx_free(&plain);
	fx_free(&bypass);
}

/* Blocks with a wrong magic or ABI, or none: no policy, every port protected. */
static void test_not_an_image(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/a", 2) };
	const uint32_t nodes[] = { 1 };
	uint8_t wild[16] = { 0 };
	uint32_t rule, tid, node;
	struct fx f;
	int k, depth;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, "allow /a tcp/80\n", tree, ARRAY_SIZE(tree), NULL);
	/* the image is good first */
	assert_int_equal(pg_image_decide(f.img.blocks, f.img.nblocks, nodes, 1, 80, PG_P_TCP, 5, 5,
					 wild, &rule, &depth),
			 PG_V_GRANT);
	assert_false(pg_image_protects(f.img.blocks, f.img.nblocks, 2000));
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "a", &tid, &node),
			 0);
	for (k = 0; k < 4; k++) {
		const union pg_block *b = f.img.blocks;
		uint32_t n = f.img.nblocks;

		if (k == 0)
			b = NULL;
		else if (k == 1)
			n = 0;
		else if (k == 2)
			f.img.blocks[0].hdr.magic ^= 1;
		else
			f.img.blocks[0].hdr.abi = PG_ABI_VERSION + 1;
		rule = 12345;
		depth = 12345;
		assert_int_equal(
		    pg_image_decide(b, n, nodes, 1, 80, PG_P_TCP, 5, 5, wild, &rule, &depth),
		    PG_V_NO_POLICY);
		assert_int_equal(rule, ~0u);
		assert_int_equal(depth, -1);
		assert_true(pg_image_protects(b, n, 2000));
		assert_int_equal(pg_image_path(b, n, PG_TRIE_ROOT, "a", &tid, &node), -ENOENT);
		assert_int_equal(pg_image_ret(b, n, PG_V_GRANT), 1);
		if (k == 2)
			f.img.blocks[0].hdr.magic ^= 1;
	}
	/* one block: a header, but no room for the path table's */
	f.img.blocks[0].hdr.abi = PG_ABI_VERSION;
	assert_int_equal(pg_image_path(f.img.blocks, 1, PG_TRIE_ROOT, "a", &tid, &node), -ENOENT);
	fx_free(&f);
}

/* A whole path walked from the root: its node, 0 for an ancestor only, -ENOENT off the table. */
static void test_path_node(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/a", 2) };
	char longname[PG_NAME_MAX + 8];
	uint32_t node = 12345;
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, "allow /a/b/c tcp/80\nallow /a tcp/81\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/a/b/c", &node), 0);
	assert_int_equal(node, node_of(&f.img, "/a/b/c"));
	assert_int_not_equal(node, 0);
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/a", &node), 0);
	assert_int_equal(node, node_of(&f.img, "/a"));
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/a/b", &node), 0);
	assert_int_equal(node, 0); /* an ancestor of a selector only */
	node = 7;
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/a/x", &node), -ENOENT);
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/a/b/c/d", &node),
			 -ENOENT);
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/", &node), -ENOENT);
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "a", &node), -ENOENT);
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, "/a//b", &node), -ENOENT);
	memset(longname, 'x', sizeof(longname));
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pg_image_path_node(f.img.blocks, f.img.nblocks, longname, &node), -ENOENT);
	assert_int_equal(node, 7);
	fx_free(&f);
}

/* Decisions read no block past nblocks: a cut image decides as if the rest were zero. */
static void test_decide_cut_image(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/a", 2) };
	const uint32_t nodes[] = { 1 };
	uint8_t wild[16] = { 0 };
	uint32_t rule;
	int depth;
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, "default deny\nallow /a tcp/80\n", tree, ARRAY_SIZE(tree), NULL);
	/* without its buckets, the entry is gone: the default decides */
	assert_int_equal(pg_image_decide(f.img.blocks, hdr(&f)->bkt_off, nodes, 1, 80, PG_P_TCP, 5,
					 5, wild, &rule, &depth),
			 PG_V_DENY_DEFAULT);
	assert_int_equal(rule, ~0u);
	assert_int_equal(depth, -1);
	fx_free(&f);
}

static void test_zero_never_matches(void **state)
{
	static const union pg_block zero;
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	struct fx f;
	struct pg_ent *e;
	uint32_t b[2];

	fix_levels(tree, ARRAY_SIZE(tree));
	/* A zeroed bucket holds no entry, not even for key (0, 0, 0). */
	assert_int_equal(pg_bucket_idx(&zero, 0, 0, 0), -1);
	assert_int_equal(pg_bucket_idx(&zero, 1, 80, PG_P_TCP), -1);

	/* No rules at all: no table, every decision is the default. */
	fx_ok(&f, "default deny\nexempt root\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(hdr(&f)->nbkt, 0);
	assert_int_equal(f.img.nents, 0);
	assert_int_equal(f.img.nnodes, 0);
	{
		const uint32_t n1[] = { 1, 0 }, n0[] = { 0 };

		EXPECT(&f, n1, 80, PG_P_TCP, 5, 5, NULL, PG_V_DENY_DEFAULT, NONE, -1);
		EXPECT(&f, n0, 0, 0, 5, 5, NULL, PG_V_DENY_DEFAULT, NONE, -1);
		EXPECT(&f, n0, 0, 0, 0, 0, NULL, PG_V_EXEMPT, NONE, -1);
	}
	fx_free(&f);

	fx_ok(&f, "allow /a tcp/80\nallow /b tcp/80 user=1\n", tree, ARRAY_SIZE(tree), NULL);
	{
		const uint32_t n0[] = { 0 }, a[] = { 1 }, bb[] = { 2 };

		/* node 0 never matches */
		EXPECT(&f, n0, 80, PG_P_TCP, 1, 1, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, n0, 0, 0, 1, 1, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, a, 80, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 0, 0);

		/* every bucket slot that is not live is all zero */
		for (uint32_t bi = 0; bi < hdr(&f)->nbkt; bi++)
			for (int i = 0; i < 4; i++) {
				static const struct pg_ent z;
				const struct pg_ent *s =
				    &f.img.blocks[hdr(&f)->bkt_off + bi].ent[i];

				if (s->tag != PG_TAG)
					assert_memory_equal(s, &z, sizeof(z));
			}

		/* a live entry with its tag cleared is gone */
		e = find_ent(&f.img, 2, PG_P_TCP, 80);
		assert_non_null(e);
		e->tag = 0;
		EXPECT(&f, bb, 80, PG_P_TCP, 1, 1, NULL, PG_V_KERNEL, NONE, -1);
		e->tag = PG_TAG;
		EXPECT(&f, bb, 80, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 1, 0);

		/* zero both candidate buckets of /a's entry: no match */
		cands(hdr(&f), 1, PG_P_TCP, 80, b);
		memset(&f.img.blocks[hdr(&f)->bkt_off + b[0]], 0, sizeof(union pg_block));
		memset(&f.img.blocks[hdr(&f)->bkt_off + b[1]], 0, sizeof(union pg_block));
		assert_null(find_ent(&f.img, 1, PG_P_TCP, 80));
		EXPECT(&f, a, 80, PG_P_TCP, 1, 1, NULL, PG_V_KERNEL, NONE, -1);
		EXPECT(&f, n0, 0, 0, 1, 1, NULL, PG_V_KERNEL, NONE, -1);
	}
	fx_free(&f);

	/* A broken header: no policy, and every port protected. */
	{
		union pg_block blk[2] = { 0 };
		const uint32_t n1[] = { 1 };
		uint8_t a[16] = { 0 };
		uint32_t rule;
		int depth;

		assert_int_equal(
		    pg_image_decide(blk, 2, n1, 1, 80, PG_P_TCP, 0, 0, a, &rule, &depth),
		    PG_V_NO_POLICY);
		assert_int_equal(rule, NONE);
		assert_int_equal(depth, -1);
		assert_true(pg_image_protects(blk, 2, 80));
		assert_true(pg_image_protects(NULL, 0, 65535));
		assert_int_equal(pg_image_ret(blk, 2, PG_V_NO_POLICY), 0);
	}
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
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_image_ret),
		cmocka_unit_test(test_not_an_image),
		cmocka_unit_test(test_path_node),
		cmocka_unit_test(test_decide_cut_image),
		cmocka_unit_test(test_zero_never_matches),
	};

	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
