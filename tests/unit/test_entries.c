// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_entries.c - nodes and the cuckoo table (policy/entries.c): nodes
 * in tree order, the level limits, entries only on protected ports, the
 * unconditional rule winning, alternatives (limit, sharing), conflicts
 * only the tree shows, rebuilds, scale, and the node limit.
 */

#include "compile_fx.h"

static void test_nodes_tree_order(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1),	  CG("/z", 10),	    CG("/a", 11), CG("/m/x", 12),
				    CG("/m", 13), CG("/m/x/y", 14), CG("/zz", 15) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /m/x/y tcp/1\n"
	      "allow /m tcp/2\n"
	      "allow /a tcp/3\n"
	      "allow /z tcp/4\n"
	      "allow /m/x tcp/5\n",
	      tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nnodes, 5);
	assert_string_equal(f.img.nodes[0].path, "/z");
	assert_string_equal(f.img.nodes[1].path, "/a");
	assert_string_equal(f.img.nodes[2].path, "/m/x");
	assert_string_equal(f.img.nodes[3].path, "/m");
	assert_string_equal(f.img.nodes[4].path, "/m/x/y");
	assert_int_equal(f.img.nodes[0].cgid, 10);
	assert_int_equal(f.img.nodes[1].cgid, 11);
	assert_int_equal(f.img.nodes[2].cgid, 12);
	assert_int_equal(f.img.nodes[3].cgid, 13);
	assert_int_equal(f.img.nodes[4].cgid, 14);
	assert_int_equal(f.img.nodes[2].level, 2);
	assert_int_equal(f.img.nodes[4].level, 3);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(f.img.nodes[i].node, i + 1);
	assert_ptr_equal(f.img.nodes[0].path, tree[1].path); /* points into the tree */
	assert_int_equal(hdr(&f)->levels, (1ull << 1) | (1ull << 2) | (1ull << 3));
	assert_int_equal(f.img.nunmatched, 0);
	fx_free(&f);
}

static void test_level_limit(void **state)
{
	struct pg_cgroup tree[66];
	char paths[66][160];
	struct fx f;
	int l;

	/* "/", "/l", "/l/l", ... down to level 64 (65 cgroups), and one more
	 * at level 64 under another name. */
	strcpy(paths[0], "/");
	for (l = 1; l <= 64; l++)
		strcat(strcpy(paths[l], l == 1 ? "" : paths[l - 1]), "/l");
	strcat(strcpy(paths[65], paths[63]), "/m");
	for (l = 0; l <= 65; l++)
		tree[l] =
		    (struct pg_cgroup){ paths[l], 1000 + (uint64_t)l, l == 65 ? 64 : l, false };

	/* Levels 0..31 all carry rules: 32 levels, the most there may be. */
	fx_ok(&f, "allow /** tcp/80\n", tree, 32, NULL);
	assert_int_equal(f.img.nnodes, 32);
	assert_int_equal(hdr(&f)->levels, 0xffffffffull);
	assert_int_equal(f.img.nodes[31].level, 31);
	assert_int_equal(f.img.nents, 32);
	fx_free(&f);
	/* 33 levels is an error; so is 64, but a rule may sit at level 63 */
	assert_int_equal(fx_build(&f, "allow /** tcp/80\n", tree, 33, NULL), -EINVAL);
	assert_int_equal(f.d.nerrors, 1);
	assert_string_equal(f.d.v[0].msg,
			    "rules sit at 33 different cgroup levels; at most 32 can carry rules");
	fx_free(&f);
	fx_ok(&f,
	      "allow /l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/"
	      "l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l tcp/80\n",
	      tree, 64, NULL);
	assert_int_equal(f.img.nnodes, 1);
	assert_int_equal(f.img.nodes[0].level, 63);
	assert_int_equal(hdr(&f)->levels, 1ull << 63);
	fx_free(&f);

	/* Level 64 is an error, named by path and depth. */
	assert_int_equal(fx_build(&f, "allow /** tcp/80\n", tree, 66, NULL), -EINVAL);
	assert_int_equal(f.d.nerrors, 2);
	assert_int_equal(f.d.v[0].sev, PG_SEV_ERROR);
	assert_int_equal(f.d.v[0].loc.line, 1);
	assert_int_equal(f.d.v[0].loc.col, 7); /* the selector */
	{
		char want[300];

		snprintf(want, sizeof(want),
			 "cgroup %s is 64 levels deep; rules can apply at most 63 levels deep",
			 paths[64]);
		assert_string_equal(f.d.v[0].msg, want);
		snprintf(want, sizeof(want),
			 "cgroup %s is 64 levels deep; rules can apply at most 63 levels deep",
			 paths[65]);
		assert_string_equal(f.d.v[1].msg, want);
	}
	assert_null(f.img.blocks);
	assert_int_equal(f.img.nblocks, 0);
	assert_int_equal(f.img.nnodes, 0);
	fx_free(&f);

	/* Only the too-deep cgroup matches: still an error. */
	assert_int_equal(fx_build(&f, "allow /l/**/m tcp/80\n", tree, 66, NULL), -EINVAL);
	assert_int_equal(f.d.nerrors, 1);
	fx_free(&f);
}

static void test_unprotected_ports(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2) };
	struct fx f;
	uint32_t port;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, "protect 80-90\nallow /a tcp/80,100,85-95,1-10\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.d.n, 1); /* the parser's warning */
	assert_int_equal(f.d.v[0].sev, PG_SEV_WARNING);
	assert_int_equal(f.img.nents, 7); /* 80, 85..90 */
	assert_int_equal(count_live(&f.img), 7);
	for (port = 1; port <= 200; port++) {
		bool want = port == 80 || (port >= 85 && port <= 90);
		const uint32_t a[] = { 1 };

		assert_int_equal(pg_image_protects(f.img.blocks, f.img.nblocks, port),
				 port >= 80 && port <= 90);
		assert_int_equal(find_ent(&f.img, 1, PG_P_TCP, port) != NULL, want);
		EXPECT(&f, a, port, PG_P_TCP, 9, 9, NULL, want ? PG_V_GRANT : PG_V_KERNEL,
		       want ? 0 : NONE, want ? 0 : -1);
	}
	fx_free(&f);

	/* Nothing of the rule is protected: a node, but no entries. */
	fx_ok(&f, "protect 80-90\nallow /a tcp/100\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nnodes, 1);
	assert_int_equal(f.img.nents, 0);
	assert_int_equal(hdr(&f)->nbkt, 0);
	assert_false(pg_image_protects(f.img.blocks, f.img.nblocks, 100));
	fx_free(&f);
}

static void test_uncond_wins(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	struct fx f;
	const struct pg_ent *e;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /a tcp/80 user=33\n"  /* 0 */
	      "allow /* tcp/80\n"	   /* 1: /a and /b */
	      "deny /b tcp/81 user=33\n"   /* 2 */
	      "deny /b tcp/81\n"	   /* 3 */
	      "deny /b tcp/81 group=4\n"   /* 4 */
	      "allow /a tcp/82 user=33\n"  /* 5 */
	      "allow /a tcp/82 addr=::1\n" /* 6 */
	      "allow /b tcp/83\n"	   /* 7 */
	      "allow /* tcp/83\n",	   /* 8 */
	      tree, ARRAY_SIZE(tree), NULL);
	e = find_ent(&f.img, 1, PG_P_TCP, 80);
	assert_non_null(e);
	assert_int_equal(e->flags, PG_EF_UNCOND);
	assert_int_equal(e->ref, 1);
	assert_int_equal(e->act, PG_ACT_ALLOW);
	e = find_ent(&f.img, 2, PG_P_TCP, 81);
	assert_non_null(e);
	assert_int_equal(e->flags, PG_EF_UNCOND);
	assert_int_equal(e->ref, 3);
	assert_int_equal(e->act, PG_ACT_DENY);
	e = find_ent(&f.img, 1, PG_P_TCP, 82);
	assert_non_null(e);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->nalt, 2);
	assert_int_equal(f.img.nalts, 2); /* only 82's list is stored */
	{
		const uint32_t a[] = { 1 }, b[] = { 2 };

		EXPECT(&f, a, 80, PG_P_TCP, 33, 0, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 1000, 0, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 1000, 0, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, b, 81, PG_P_TCP, 33, 4, NULL, PG_V_DENY_RULE, 3, 0);
		EXPECT(&f, b, 81, PG_P_TCP, 1000, 0, NULL, PG_V_DENY_RULE, 3, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 33, 0, NULL, PG_V_GRANT, 5, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 34, 0, "::1", PG_V_GRANT, 6, 0);
		EXPECT(&f, a, 82, PG_P_TCP, 34, 0, NULL, PG_V_KERNEL, NONE, 0);
		/* two unconditional rules: the first in the file decides */
		EXPECT(&f, b, 83, PG_P_TCP, 34, 0, NULL, PG_V_GRANT, 7, 0);
		EXPECT(&f, a, 83, PG_P_TCP, 34, 0, NULL, PG_V_GRANT, 8, 0);
	}
	fx_free(&f);
}

/* 16 conditional rules on /a, and more through a second selector. */
static void alt_policy(char *text, size_t size, int n_a, int n_glob)
{
	size_t off = 0;
	int i;

	text[0] = '\0';
	for (i = 0; i < n_a; i++)
		off +=
		    (size_t)snprintf(text + off, size - off, "allow /a tcp/80 user=%d\n", 100 + i);
	for (i = 0; i < n_glob; i++)
		off +=
		    (size_t)snprintf(text + off, size - off, "allow /* tcp/80 user=%d\n", 200 + i);
}

static void test_alt_limit(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	char text[4096];
	struct fx f;
	const struct pg_ent *e;
	int i;

	fix_levels(tree, ARRAY_SIZE(tree));
	/* 15 + 1 = 16 alternatives on /a, 1 on /b. */
	alt_policy(text, sizeof(text), 15, 1);
	fx_ok(&f, text, tree, ARRAY_SIZE(tree), NULL);
	e = find_ent(&f.img, 1, PG_P_TCP, 80);
	assert_non_null(e);
	assert_int_equal(e->nalt, 16);
	assert_int_equal(f.img.nalts, 17);
	{
		const uint32_t a[] = { 1 }, b[] = { 2 };

		for (i = 0; i < 15; i++)
			EXPECT(&f, a, 80, PG_P_TCP, 100 + i, 0, NULL, PG_V_GRANT, i, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 200, 0, NULL, PG_V_GRANT, 15, 0);
		EXPECT(&f, a, 80, PG_P_TCP, 115, 0, NULL, PG_V_KERNEL, NONE, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 200, 0, NULL, PG_V_GRANT, 15, 0);
		EXPECT(&f, b, 80, PG_P_TCP, 100, 0, NULL, PG_V_KERNEL, NONE, 0);
	}
	fx_free(&f);

	/* 16 + 1 on /a: the parser sees 16 per selector, the compiler 17. */
	alt_policy(text, sizeof(text), 16, 1);
	assert_int_equal(fx_build(&f, text, tree, ARRAY_SIZE(tree), NULL), -EINVAL);
	assert_int_equal(f.d.nerrors, 1);
	assert_int_equal(f.d.v[f.d.n - 1].sev, PG_SEV_ERROR);
	assert_int_equal(f.d.v[f.d.n - 1].loc.line, 17);
	assert_string_equal(f.d.v[f.d.n - 1].msg,
			    "more than 16 conditional rules for cgroup /a on tcp/80");
	assert_null(f.img.blocks);
	fx_free(&f);

	/* 16 + 3: each rule past the limit is one error. */
	alt_policy(text, sizeof(text), 16, 3);
	assert_int_equal(fx_build(&f, text, tree, ARRAY_SIZE(tree), NULL), -EINVAL);
	assert_int_equal(f.d.nerrors, 3);
	fx_free(&f);
}

static void test_conflict(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3), CG("/c", 4) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	assert_int_equal(fx_build(&f,
				  "allow /a tcp/80\n"
				  "deny /* tcp/80,443\n",
				  tree, ARRAY_SIZE(tree), NULL),
			 -EINVAL);
	assert_int_equal(f.d.nerrors, 1);
	assert_int_equal(f.d.n, 1);
	assert_int_equal(f.d.v[0].sev, PG_SEV_ERROR);
	assert_int_equal(f.d.v[0].loc.line, 2);
	assert_int_equal(f.d.v[0].loc.col, 1);
	assert_string_equal(f.d.v[0].msg,
			    "deny conflicts with allow at t.conf:1 on cgroup /a for tcp/80");
	assert_null(f.img.blocks);
	assert_int_equal(f.img.nnodes, 0);
	fx_free(&f);

	/* The earlier rule is named whichever action it has; one pair on
	 * many cgroups and ports is one error. */
	assert_int_equal(fx_build(&f,
				  "deny /* udp/53-54\n"
				  "# comment\n"
				  "allow /** udp/53-60 user=named\n",
				  tree, ARRAY_SIZE(tree), NULL),
			 -EINVAL);
	assert_int_equal(f.d.nerrors, 1);
	assert_int_equal(f.d.v[0].loc.line, 3);
	assert_string_equal(f.d.v[0].msg,
			    "allow conflicts with deny at t.conf:1 on cgroup /a for udp/53");
	fx_free(&f);

	/* Different protocols or ports on the same cgroup: no conflict. */
	fx_ok(&f, "allow /a tcp/80\ndeny /* udp/80\ndeny /* tcp/81\n", tree, ARRAY_SIZE(tree),
	      NULL);
	assert_int_equal(f.img.nents, 2 + 3 + 2);
	fx_free(&f);
}

static void test_alts_dedup(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	struct fx f;
	const struct pg_ent *e1, *e2;
	uint32_t port;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, "allow /* tcp,udp/1-1000 user=33\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nents, 2 * 2 * 1000);
	assert_int_equal(f.img.nalts, 1);
	assert_int_equal(hdr(&f)->bkt_off, hdr(&f)->alt_off + 1);
	e1 = find_ent(&f.img, 1, PG_P_TCP, 1);
	e2 = find_ent(&f.img, 2, PG_P_UDP, 1000);
	assert_non_null(e1);
	assert_non_null(e2);
	assert_int_equal(e1->ref, 0);
	assert_int_equal(e2->ref, 0);
	assert_int_equal(f.img.blocks[hdr(&f)->alt_off].alt[0], 0);
	for (port = 1; port <= 1000; port += 37) {
		const uint32_t b[] = { 2 };

		EXPECT(&f, b, port, PG_P_UDP, 33, 0, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, b, port, PG_P_UDP, 34, 0, NULL, PG_V_KERNEL, NONE, 0);
	}
	fx_free(&f);

	/* Two lists over a range: [0,1] on 1-10 and [0] on 11-20. */
	fx_ok(&f, "allow /a tcp/1-20 user=1\nallow /a tcp/1-10 user=2\n", tree, ARRAY_SIZE(tree),
	      NULL);
	assert_int_equal(f.img.nents, 20);
	assert_int_equal(f.img.nalts, 3);
	fx_free(&f);
}

static uint32_t scale_port(size_t i)
{
	return 1 + (uint32_t)(i % 1023);
}

static uint32_t scale_proto(size_t i)
{
	return i % 3 == 0 ? PG_P_UDP : PG_P_TCP;
}

/*
 * nrules single-port rules over ncg cgroups /s/cN (rule i on cgroup i % ncg),
 * alternating allow and deny, tcp or udp.
 */
static void scale(size_t nrules, size_t ncg, double min_load, double max_bpr)
{
	struct pg_cgroup *tree = calloc(ncg + 2, sizeof(*tree));
	char *paths = calloc(ncg, 16), *text = malloc(nrules * 40 + 1);
	struct fx f;
	size_t i, off = 0;
	uint32_t live, node;
	double load, bpr;

	assert_non_null(tree);
	assert_non_null(paths);
	assert_non_null(text);
	tree[0] = (struct pg_cgroup){ "/", 1, 0, false };
	tree[1] = (struct pg_cgroup){ "/s", 2, 1, false };
	for (i = 0; i < ncg; i++) {
		snprintf(paths + i * 16, 16, "/s/c%u", (unsigned int)i);
		tree[i + 2] = (struct pg_cgroup){ paths + i * 16, 100 + (uint64_t)i, 2, false };
	}
	/* Rules sharing a cgroup differ in port. */
	for (i = 0; i + ncg < nrules; i++)
		assert_int_not_equal(scale_port(i), scale_port(i + ncg));
	text[0] = '\0';
	for (i = 0; i < nrules; i++)
		off += (size_t)sprintf(text + off, "%s /s/c%zu %s/%u\n", i % 2 ? "deny" : "allow",
				       i % ncg, scale_proto(i) == PG_P_UDP ? "udp" : "tcp",
				       scale_port(i));
	fx_ok(&f, text, tree, ncg + 2, NULL);
	assert_int_equal(f.img.nnodes, ncg);
	assert_int_equal(f.img.nents, nrules);
	assert_int_equal(f.img.nalts, 0);
	assert_int_equal(hdr(&f)->nrules, nrules);
	assert_int_equal(hdr(&f)->levels, 1ull << 2);
	assert_true(hdr(&f)->nbkt >= 2);
	for (i = 0; i < ncg; i++) {
		assert_int_equal(f.img.nodes[i].node, i + 1);
		assert_int_equal(f.img.nodes[i].cgid, 100 + i);
	}

	/* The table as a whole: every live entry in one of its candidates. */
	live = count_live(&f.img);
	assert_int_equal(live, nrules);

	for (i = 0; i < nrules; i++) {
		const struct pg_ent *e;
		uint32_t port = scale_port(i), proto = scale_proto(i), other, rule;
		int depth, v;
		uint8_t a[16] = { 0 };

		node = (uint32_t)(i % ncg) + 1;
		/* by scanning the candidates */
		e = find_ent(&f.img, node, proto, port);
		if (!e)
			print_error("rule %zu: node %u %u/%u not found\n", i, node, proto, port);
		assert_non_null(e);
		assert_int_equal(e->flags, PG_EF_UNCOND);
		assert_int_equal(e->ref, i);
		assert_int_equal(e->act, i % 2 ? PG_ACT_DENY : PG_ACT_ALLOW);
		/* by the decision */
		v = pg_image_decide(f.img.blocks, f.img.nblocks, &node, 1, port, proto, 5, 5, a,
				    &rule, &depth);
		assert_int_equal(v, i % 2 ? PG_V_DENY_RULE : PG_V_GRANT);
		assert_int_equal(rule, i);
		assert_int_equal(depth, 0);
		/* not for the other protocol, a port not in the policy, or the
		 * next node (cgroups of one rule each: ncg == nrules) */
		other = proto == PG_P_TCP ? PG_P_UDP : PG_P_TCP;
		v = pg_image_decide(f.img.blocks, f.img.nblocks, &node, 1, port, other, 5, 5, a,
				    &rule, &depth);
		assert_int_equal(v, PG_V_KERNEL);
		assert_int_equal(depth, -1);
		v = pg_image_decide(f.img.blocks, f.img.nblocks, &node, 1, 1024 + port, proto, 5, 5,
				    a, &rule, &depth);
		assert_int_equal(v, PG_V_KERNEL);
		assert_int_equal(rule, NONE);
		assert_int_equal(depth, -1);
		assert_null(find_ent(&f.img, node, proto, 1024 + port));
		if (ncg == nrules) {
			uint32_t next = node % (uint32_t)ncg + 1;

			if (next != node &&
			    (scale_port(next - 1) != port || scale_proto(next - 1) != proto))
				assert_null(find_ent(&f.img, next, proto, port));
		}
	}
	/* Nodes beyond the last, and node 0. */
	node = (uint32_t)ncg + 1;
	assert_null(find_ent(&f.img, node, scale_proto(0), scale_port(0)));
	assert_null(find_ent(&f.img, 0, scale_proto(0), scale_port(0)));

	load = (double)f.img.nents / (4.0 * hdr(&f)->nbkt);
	bpr = (double)f.img.nblocks * PG_BLOCK_SIZE / (double)hdr(&f)->nrules;
	print_message("  %zu rules on %zu cgroups: %u buckets, load %.3f, %u blocks, "
		      "%.1f bytes/rule, seed %u\n",
		      nrules, ncg, hdr(&f)->nbkt, load, f.img.nblocks, bpr, hdr(&f)->seed);
	assert_true(load >= min_load);
	assert_true(load <= 1.0);
	assert_true(bpr < max_bpr);
	fx_free(&f);
	free(text);
	free(paths);
	free(tree);
}

/*
 * Seven entries start in two buckets; for some seeds they do not fit, and
 * the compiler grows the table and changes the seed. The header must carry
 * the pair that placed them, and every entry must still be found.
 */
static void test_cuckoo_rebuild(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2) };
	struct pg_compile_opts o = grant_opts;
	uint32_t seed, port, rebuilt = 0;

	fix_levels(tree, ARRAY_SIZE(tree));
	for (seed = 1; seed <= 300; seed++) {
		const uint32_t a[] = { 1 };
		uint32_t s = seed, nb = 2;
		struct fx f;
		int k;

		o.seed = seed;
		/* 7 ports 8 apart: their first buckets (4 consecutive ports
		 * share one) all coincide in a 2-bucket table, so some seeds
		 * must grow and reseed it */
		fx_ok(&f, "allow /a tcp/1,9,17,25,33,41,49\n", tree, ARRAY_SIZE(tree), &o);
		assert_int_equal(f.img.nents, 7);
		/* the seed and size the rebuild schedule gives */
		for (k = 0; s != hdr(&f)->seed && k < 64; k++) {
			s = s * 2654435761u + 1;
			nb += nb / 16 + 1;
		}
		assert_true(k < 64);
		assert_int_equal(hdr(&f)->nbkt, nb);
		assert_int_equal(f.img.blocks[1].hdr2.trie_off, hdr(&f)->bkt_off + nb);
		assert_int_equal(f.img.nblocks, hdr(&f)->meta_off);
		rebuilt += k > 0;
		assert_int_equal(count_live(&f.img), 7);
		for (port = 1; port <= 57; port++) {
			bool in = port % 8 == 1 && port <= 49;

			EXPECT(&f, a, port, PG_P_TCP, 1, 1, NULL, in ? PG_V_GRANT : PG_V_KERNEL,
			       in ? 0 : NONE, in ? 0 : -1);
		}
		fx_free(&f);
	}
	print_message("  %u of 300 seeds rebuilt the table\n", rebuilt);
	assert_true(rebuilt > 0);
}

static void test_scale_1(void **state)
{
	scale(1, 1, 0.0, 1e9);
}

static void test_scale_100(void **state)
{
	scale(100, 100, 0.5, 1e9);
}

static void test_scale_10k(void **state)
{
	scale(10000, 10000, 0.80, 1e9);
}

/* 100,000 rules: more cgroups than PG_MAX_NODES allows, so two rules each. */
static void test_scale_100k(void **state)
{
	scale(100000, 50000, 0.80, 64.0);
}

/* 65,536 rule-bearing cgroups is the limit; one more is an error. */
static void test_max_nodes(void **state)
{
	size_t ncg = PG_MAX_NODES + 1, i, off = 0;
	struct pg_cgroup *tree;
	char *paths, *text;
	struct fx f;

	tree = calloc(ncg, sizeof(*tree));
	paths = calloc(ncg, 16);
	text = malloc(ncg * 24 + 1);
	assert_non_null(tree);
	assert_non_null(paths);
	assert_non_null(text);
	for (i = 0; i < ncg; i++) {
		snprintf(paths + i * 16, 16, "/c%u", (unsigned int)i);
		tree[i] = (struct pg_cgroup){ paths + i * 16, 10 + (uint64_t)i, 1, false };
		off += (size_t)sprintf(text + off, "allow /c%zu tcp/80\n", i);
	}
	assert_int_equal(fx_build(&f, text, tree, ncg, NULL), -E2BIG);
	assert_int_equal(f.d.nerrors, 1);
	assert_string_equal(f.d.v[f.d.n - 1].msg, "more than 65536 cgroups carry rules");
	assert_int_equal(f.d.v[f.d.n - 1].loc.line, 65537);
	assert_null(f.img.blocks);
	fx_free(&f);

	/* a selector whose cgroup does not exist yet counts too: it is a node to be */
	assert_int_equal(fx_build(&f, text, tree, ncg - 1, NULL), -E2BIG);
	fx_free(&f);
	*strstr(text, "allow /c65536 ") = '\0';
	fx_ok(&f, text, tree, ncg - 1, NULL);
	assert_int_equal(f.img.nnodes, PG_MAX_NODES);
	assert_int_equal(f.img.nodes[PG_MAX_NODES - 1].node, PG_MAX_NODES);
	assert_int_equal(f.img.nunmatched, 0);
	assert_int_equal(f.img.nents, PG_MAX_NODES);
	fx_free(&f);
	free(text);
	free(paths);
	free(tree);
}

/* --- the phases' edges --------------------------------------------------------- */

/* Each rule range against each protect range, on each protocol it names. */
static void test_protect_several_ranges(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	static const uint8_t protos[] = { PG_P_TCP, PG_P_UDP, PG_P_OTHER };
	struct fx f;
	uint32_t port;
	size_t k;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "protect 10,20-30,50\n"
	      "allow /a any/1-12,25-60\n"
	      "deny /b udp/31-49\n",
	      tree, ARRAY_SIZE(tree), NULL);
	/* protected: 10, 25..30, 50 on three protocols; /b is a node with nothing protected */
	assert_int_equal(f.img.nents, 3 * (1 + 6 + 1));
	assert_int_equal(count_live(&f.img), f.img.nents);
	assert_int_equal(f.img.nnodes, 2);
	for (k = 0; k < ARRAY_SIZE(protos); k++)
		for (port = 1; port <= 70; port++) {
			bool want = port == 10 || (port >= 25 && port <= 30) || port == 50;

			assert_int_equal(find_ent(&f.img, 1, protos[k], port) != NULL, want);
		}
	fx_free(&f);
}

/* What an entry holds: the unconditional rule, or the conditional ones in file order. */
static void test_entry_kinds(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	const struct pg_ent *e;
	const uint32_t *alt;
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /a tcp/80 user=1\n"
	      "allow /* tcp/80 user=2\n"
	      "allow /a tcp/81\n"
	      "deny /b udp/53\n"
	      "allow /* tcp/81 user=3\n",
	      tree, ARRAY_SIZE(tree), NULL);
	/* /a tcp/80: two conditional rules, both in the list, in file order */
	e = find_ent(&f.img, 1, PG_P_TCP, 80);
	assert_non_null(e);
	assert_int_equal(e->flags & PG_EF_UNCOND, 0);
	assert_int_equal(e->act, PG_ACT_ALLOW);
	assert_int_equal(e->nalt, 2);
	alt = &f.img.blocks[hdr(&f)->alt_off].alt[0];
	assert_int_equal(alt[e->ref], 0);
	assert_int_equal(alt[e->ref + 1], 1);
	/* /a tcp/81: the unconditional rule decides, the later conditional one is not listed */
	e = find_ent(&f.img, 1, PG_P_TCP, 81);
	assert_non_null(e);
	assert_int_equal(e->flags & PG_EF_UNCOND, PG_EF_UNCOND);
	assert_int_equal(e->ref, 2);
	assert_int_equal(e->nalt, 0);
	/* /b udp/53: a deny */
	e = find_ent(&f.img, 2, PG_P_UDP, 53);
	assert_non_null(e);
	assert_int_equal(e->act, PG_ACT_DENY);
	assert_int_equal(e->ref, 3);
	/* /b tcp/80 and tcp/81: the glob's conditional rules alone */
	e = find_ent(&f.img, 2, PG_P_TCP, 80);
	assert_non_null(e);
	assert_int_equal(e->nalt, 1);
	assert_int_equal(alt[e->ref], 1);
	assert_null(find_ent(&f.img, 2, PG_P_UDP, 80));
	fx_free(&f);
}

/* The smallest table is two buckets; the load stays at or under 90%. */
static void test_cuckoo_size(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, "allow /a tcp/80\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nents, 1);
	assert_int_equal(hdr(&f)->nbkt, 2);
	assert_int_equal(hdr(&f)->seed, grant_opts.seed); /* placed at the first try */
	fx_free(&f);
	fx_ok(&f, "protect 1-1000\nallow /a any/1-1000\n", tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nents, 3000);
	assert_true((uint64_t)hdr(&f)->nbkt * 4 * 9 >= (uint64_t)f.img.nents * 10);
	assert_int_equal(count_live(&f.img), 3000);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nodes_tree_order),
		cmocka_unit_test(test_level_limit),
		cmocka_unit_test(test_unprotected_ports),
		cmocka_unit_test(test_uncond_wins),
		cmocka_unit_test(test_alt_limit),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_alts_dedup),
		cmocka_unit_test(test_cuckoo_rebuild),
		cmocka_unit_test(test_scale_1),
		cmocka_unit_test(test_scale_100),
		cmocka_unit_test(test_scale_10k),
		cmocka_unit_test(test_scale_100k),
		cmocka_unit_test(test_max_nodes),
		cmocka_unit_test(test_protect_several_ranges),
		cmocka_unit_test(test_entry_kinds),
		cmocka_unit_test(test_cuckoo_size),
	};

	return cmocka_run_group_tests_name("entries", tests, NULL, NULL);
}
