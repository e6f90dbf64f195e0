// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_compile.c - the compiler's pipeline (policy/compile.c): header and
 * region layout, rule and address records, the protect bitmap, which
 * cgroups selectors match (delegated subtrees included), unmatched
 * selectors, the meta region, and determinism.
 */

#include "compile_fx.h"

static void test_header_grant(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/a", 100), CG("/a/b", 101), CG("/c", 102) };
	struct pg_compile_opts o = {
		.mode = PG_MODE_GRANT, .bypass = true, .slot = 1, .gen = 42, .seed = 7
	};
	struct fx f;
	const struct pg_hdr *h;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "mode grant\n"
	      "exempt root\n"
	      "allow /a tcp/80\n"
	      "deny /a/b udp/53\n"
	      "allow /a/b tcp/443 user=33\n",
	      tree, ARRAY_SIZE(tree), &o);
	h = hdr(&f);
	assert_int_equal(h->magic, PG_MAGIC);
	assert_int_equal(h->abi, PG_ABI_VERSION);
	assert_int_equal(h->slot, 1);
	assert_int_equal(h->gen, 42);
	assert_int_equal(h->def, PG_DEF_KERNEL);
	assert_int_equal(h->flags, PG_HF_EXEMPT_ROOT | PG_HF_PROTECT_RANGE | PG_HF_BYPASS);
	assert_int_equal(h->abi, 3);
	assert_int_equal(h->prot_lo, 1);
	assert_int_equal(h->prot_hi, 1023);
	assert_int_equal(h->levels, (1ull << 1) | (1ull << 2));
	assert_int_equal(h->nrules, 3);
	assert_int_equal(h->cnt_stride, 16);
	assert_int_equal(pg_image_counters(&f.img, 4), 64);
	assert_int_equal(pg_image_counters(&f.img, 0), 16);
	assert_int_equal(f.img.nents, 3);
	assert_int_equal(f.img.nalts, 1);
	assert_int_equal(f.img.nnodes, 2);
	assert_int_equal(f.img.nunmatched, 0);
	/* A grant returns 3 with bypass, the rest as pg_verdict_ret says. */
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_GRANT), 3);
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_DENY_RULE), 0);
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_KERNEL), 1);
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_DENY_DEFAULT), 0);
	/* Regions: rules at 129, one rule block, no addr, one alt block, then buckets. */
	assert_int_equal(h->addr_off, PG_RULE_OFF + 1);
	assert_int_equal(h->alt_off, h->addr_off);
	assert_int_equal(h->bkt_off, h->alt_off + 1);
	assert_int_equal(h->nbkt, 2);
	/* then the path table, 4 entries per block, names in 16-byte granules */
	assert_int_equal(f.img.blocks[1].hdr2.trie_off, h->bkt_off + h->nbkt);
	assert_int_equal(f.img.blocks[1].hdr2.npaths, 2); /* /a, /a/b */
	assert_int_equal(f.img.blocks[1].hdr2.ntrie, 4);
	assert_int_equal(f.img.blocks[1].hdr2.names_off, f.img.blocks[1].hdr2.trie_off + 1);
	assert_int_equal(h->meta_off, f.img.blocks[1].hdr2.names_off + 1);
	assert_int_equal(f.img.nblocks, h->meta_off);
	fx_free(&f);
}

static void test_header_sysctl(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 5) };
	struct pg_compile_opts o = {
		.mode = PG_MODE_SYSCTL, .bypass = false, .slot = 0, .gen = 9, .seed = 3
	};
	struct fx f;
	const struct pg_hdr *h;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "protect 22,80-90,8080\n"
	      "allow /a tcp/22\n",
	      tree, ARRAY_SIZE(tree), &o);
	h = hdr(&f);
	assert_int_equal(h->slot, 0);
	assert_int_equal(h->gen, 9);
	assert_int_equal(h->def, PG_DEF_DENY); /* unset default under sysctl */
	assert_int_equal(h->flags, PG_HF_SYSCTL);
	assert_int_equal(h->prot_lo, 22);
	assert_int_equal(h->prot_hi, 8080);
	assert_int_equal(h->levels, 1ull << 1);
	assert_int_equal(pg_image_ret(f.img.blocks, f.img.nblocks, PG_V_GRANT), 1);
	fx_free(&f);

	/* Two ranges: no PROTECT_RANGE; explicit defaults win over the mode. */
	fx_ok(&f, "protect 80,443\ndefault kernel\nallow /a tcp/80\n", tree, ARRAY_SIZE(tree),
	      NULL);
	assert_int_equal(hdr(&f)->flags, 0);
	assert_int_equal(hdr(&f)->def, PG_DEF_KERNEL);
	assert_int_equal(hdr(&f)->prot_lo, 80);
	assert_int_equal(hdr(&f)->prot_hi, 443);
	fx_free(&f);

	fx_ok(&f, "protect 1-100,101-200\ndefault deny\nallow /a tcp/80\n", tree, ARRAY_SIZE(tree),
	      NULL);
	assert_int_equal(hdr(&f)->flags, PG_HF_PROTECT_RANGE); /* merged: one range */
	assert_int_equal(hdr(&f)->def, PG_DEF_DENY);
	assert_int_equal(hdr(&f)->prot_lo, 1);
	assert_int_equal(hdr(&f)->prot_hi, 200);
	fx_free(&f);

	/* slot is masked to one bit */
	o.slot = 3;
	fx_ok(&f, "allow /a tcp/80\n", tree, ARRAY_SIZE(tree), &o);
	assert_int_equal(hdr(&f)->slot, 1);
	assert_int_equal(hdr(&f)->flags, PG_HF_SYSCTL | PG_HF_PROTECT_RANGE);
	fx_free(&f);
}

/* nrules counts every rule, matched or not; the stride holds the verdicts,
 * the rules and the carried would-allow counter, rounded up to 8. */
static void test_counters_stride(void **state)
{
	static const struct {
		size_t nrules;
		uint32_t stride;
	} cases[] = {
		{ 0, 16 }, { 1, 16 }, { 7, 16 }, { 8, 24 }, { 9, 24 }, { 16, 32 }, { 17, 32 }
	};
	struct pg_cgroup tree[] = { CG("/a", 5) };
	size_t c, i;

	fix_levels(tree, ARRAY_SIZE(tree));
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		char text[2048];
		size_t off = 0;
		struct fx f;

		text[0] = '\0';
		for (i = 0; i < cases[c].nrules; i++)
			off += (size_t)snprintf(text + off, sizeof(text) - off,
						"allow /r%zu tcp/%zu\n", i, i + 1);
		fx_ok(&f, text, tree, ARRAY_SIZE(tree), NULL);
		assert_int_equal(hdr(&f)->nrules, cases[c].nrules);
		assert_int_equal(hdr(&f)->cnt_stride, cases[c].stride);
		assert_int_equal(hdr(&f)->cnt_stride % 8, 0);
		assert_true(hdr(&f)->cnt_stride > pg_cnt_carried_wa((uint32_t)cases[c].nrules));
		assert_int_equal(hdr(&f)->addr_off, PG_RULE_OFF + (cases[c].nrules + 3) / 4);
		/* /rN do not exist: each is still a node, for a cgroup made there */
		assert_int_equal(f.img.nunmatched, cases[c].nrules);
		assert_int_equal(f.img.nents, cases[c].nrules);
		assert_int_equal(f.img.nnodes, cases[c].nrules);
		assert_int_equal(f.img.npaths, cases[c].nrules);
		assert_int_equal(hdr(&f)->levels, cases[c].nrules ? 2 : 0);
		fx_free(&f);
	}
}

/* Every region in order, sized exactly, and the records in them. */
static void test_regions_and_records(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 5), CG("/b", 6) };
	struct fx f;
	const struct pg_hdr *h;
	const struct pg_rule_rec *r;
	const struct pg_addr_rec *a;
	const struct pg_ent *e;
	char text[4096];
	size_t off = 0, i;

	fix_levels(tree, ARRAY_SIZE(tree));
	/* 0..5: six rules, three with addr=, two with user/group; then 20
	 * conditional rules on /b over distinct ports to need two alt blocks. */
	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"allow /a tcp/80 addr=10.0.0.0/8\n"
				"allow /a tcp/81 user=www-data group=web\n"
				"deny /a udp/82\n"
				"allow /a tcp/83 addr=2001:db8::/32\n"
				"allow /a tcp/84 addr=192.0.2.1 user=7\n"
				"allow /nowhere tcp/85 addr=10.0.0.0/16\n");
	for (i = 0; i < 20; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"allow /b tcp/%zu user=%zu\n", 100 + i, i);
	fx_ok(&f, text, tree, ARRAY_SIZE(tree), NULL);
	h = hdr(&f);
	assert_int_equal(h->nrules, 26);
	assert_int_equal(h->addr_off, PG_RULE_OFF + 7); /* 26 rules / 4 */
	assert_int_equal(h->alt_off, h->addr_off + 2);	/* 4 addr records / 2 */
	assert_int_equal(f.img.nalts, 25); /* 80, 81, 83, 84 on /a, 20 on /b, 85 on /nowhere */
	assert_int_equal(h->bkt_off, h->alt_off + 2);	/* 24 alts / 16 */
	assert_int_equal(f.img.nents, 26);		/* /nowhere's too: a node to be */
	assert_int_equal(h->nbkt, (26 * 10 + 35) / 36); /* 90% of 4 per bucket */
	assert_int_equal(f.img.blocks[1].hdr2.trie_off, h->bkt_off + h->nbkt);
	assert_int_equal(h->meta_off, f.img.blocks[1].hdr2.names_off + 1); /* 3 names */
	assert_int_equal(f.img.nblocks, h->meta_off);
	assert_true(PG_RULE_OFF < h->addr_off && h->addr_off < h->alt_off &&
		    h->alt_off < h->bkt_off && h->bkt_off < h->meta_off);
	assert_int_equal(count_live(&f.img), 26);

	r = &f.img.blocks[PG_RULE_OFF].rule[0];
	assert_int_equal(r->act, PG_ACT_ALLOW);
	assert_int_equal(r->cflags, PG_C_ADDR);
	assert_int_equal(r->addr, 0);
	r = &f.img.blocks[PG_RULE_OFF].rule[1];
	assert_int_equal(r->cflags, PG_C_UID | PG_C_GID);
	assert_int_equal(r->uid, 33);
	assert_int_equal(r->gid, 44);
	r = &f.img.blocks[PG_RULE_OFF].rule[2];
	assert_int_equal(r->act, PG_ACT_DENY);
	assert_int_equal(r->cflags, 0);
	r = &f.img.blocks[PG_RULE_OFF].rule[3];
	assert_int_equal(r->cflags, PG_C_ADDR);
	assert_int_equal(r->addr, 1);
	r = &f.img.blocks[PG_RULE_OFF + 1].rule[0];
	assert_int_equal(r->cflags, PG_C_ADDR | PG_C_UID);
	assert_int_equal(r->uid, 7);
	assert_int_equal(r->addr, 2);
	r = &f.img.blocks[PG_RULE_OFF + 1].rule[1];
	assert_int_equal(r->addr, 3);
	r = &f.img.blocks[PG_RULE_OFF + 6].rule[1]; /* rule 25: user=19 */
	assert_int_equal(r->act, PG_ACT_ALLOW);
	assert_int_equal(r->cflags, PG_C_UID);
	assert_int_equal(r->uid, 19);

	a = &f.img.blocks[h->addr_off].addr[0]; /* 10.0.0.0/8 as ::ffff:10.0.0.0/104 */
	assert_int_equal(a->net[0], 0);
	assert_int_equal(a->net[1], 0);
	assert_int_equal(a->net[2], htobe32(0xffff));
	assert_int_equal(a->net[3], htobe32(0x0a000000));
	assert_int_equal(a->mask[0], 0xffffffffu);
	assert_int_equal(a->mask[1], 0xffffffffu);
	assert_int_equal(a->mask[2], 0xffffffffu);
	assert_int_equal(a->mask[3], htobe32(0xff000000));
	a = &f.img.blocks[h->addr_off].addr[1]; /* 2001:db8::/32 */
	assert_int_equal(a->net[0], htobe32(0x20010db8));
	assert_int_equal(a->net[1], 0);
	assert_int_equal(a->mask[0], 0xffffffffu);
	assert_int_equal(a->mask[1], 0);
	assert_int_equal(a->mask[3], 0);
	a = &f.img.blocks[h->addr_off + 1].addr[0]; /* 192.0.2.1/32 */
	assert_int_equal(a->net[3], htobe32(0xc0000201));
	assert_int_equal(a->mask[3], 0xffffffffu);

	/* Entries: unconditional deny, and a conditional list of one. */
	e = find_ent(&f.img, node_of(&f.img, "/a"), PG_P_UDP, 82);
	assert_non_null(e);
	assert_int_equal(e->flags, PG_EF_UNCOND);
	assert_int_equal(e->act, PG_ACT_DENY);
	assert_int_equal(e->ref, 2);
	assert_int_equal(e->nalt, 0);
	e = find_ent(&f.img, node_of(&f.img, "/b"), PG_P_TCP, 119);
	assert_non_null(e);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->act, PG_ACT_ALLOW);
	assert_int_equal(e->nalt, 1);
	assert_true(e->ref < f.img.nalts);
	assert_int_equal(f.img.blocks[h->alt_off + e->ref / 16].alt[e->ref % 16], 25);
	assert_null(find_ent(&f.img, node_of(&f.img, "/b"), PG_P_UDP, 119));
	assert_null(find_ent(&f.img, node_of(&f.img, "/b"), PG_P_TCP, 120));
	fx_free(&f);
}

static int bm_bit(const struct fx *f, uint32_t port)
{
	return (f->img.blocks[PG_BM_OFF + port / 512].bm[(port % 512) / 8] >> (port % 8)) & 1;
}

static void check_protect(const char *text, const uint32_t *yes, size_t nyes, const uint32_t *no,
			  size_t nno, uint32_t flags)
{
	struct pg_cgroup tree[] = { CG("/a", 5) };
	struct fx f;
	uint32_t port;
	size_t i, nset = 0;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f, text, tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(hdr(&f)->flags & PG_HF_PROTECT_RANGE, flags);
	for (i = 0; i < nyes; i++) {
		if (!bm_bit(&f, yes[i]) || !pg_image_protects(f.img.blocks, f.img.nblocks, yes[i]))
			print_error("port %u should be protected\n", yes[i]);
		assert_true(bm_bit(&f, yes[i]));
		assert_true(pg_image_protects(f.img.blocks, f.img.nblocks, yes[i]));
	}
	for (i = 0; i < nno; i++) {
		if (bm_bit(&f, no[i]) || pg_image_protects(f.img.blocks, f.img.nblocks, no[i]))
			print_error("port %u should not be protected\n", no[i]);
		assert_false(bm_bit(&f, no[i]));
		assert_false(pg_image_protects(f.img.blocks, f.img.nblocks, no[i]));
	}
	/* Exactly the policy's ports, bit by bit and through the header. */
	for (port = 0; port <= 65535; port++) {
		bool want = port && pg_policy_protects(f.p, (uint16_t)port);

		nset += bm_bit(&f, port);
		if (bm_bit(&f, port) != want ||
		    pg_image_protects(f.img.blocks, f.img.nblocks, port) != want)
			print_error("port %u: bit %d, want %d\n", port, bm_bit(&f, port), want);
		assert_int_equal(bm_bit(&f, port), want);
		assert_int_equal(pg_image_protects(f.img.blocks, f.img.nblocks, port), want);
	}
	for (i = 0, port = 0; i < f.p->nprotect; i++)
		port += f.p->protect[i].hi - f.p->protect[i].lo + 1u;
	assert_int_equal(nset, port);
	fx_free(&f);
}

static void test_protect_bitmap(void **state)
{
	static const uint32_t y1[] = { 1, 2, 511, 512, 1022, 1023 };
	static const uint32_t n1[] = { 0, 1024, 1025, 8080, 65535 };
	static const uint32_t y2[] = { 22, 80, 85, 90, 8080 };
	static const uint32_t n2[] = { 0, 1, 21, 23, 79, 91, 1023, 1024, 8079, 8081, 65535 };
	static const uint32_t y3[] = { 1023, 1024, 65535 };
	static const uint32_t n3[] = { 0, 1, 1022, 1025, 65534 };
	static const uint32_t y4[] = { 1, 1023, 1024, 65535 };
	static const uint32_t n4[] = { 0 };

	check_protect("protect 1-1023\nallow /a tcp/80\n", y1, ARRAY_SIZE(y1), n1, ARRAY_SIZE(n1),
		      PG_HF_PROTECT_RANGE);
	check_protect("protect 22,80-90,8080\nallow /a tcp/80\n", y2, ARRAY_SIZE(y2), n2,
		      ARRAY_SIZE(n2), 0);
	/* Across a bitmap block boundary and the very last bit. */
	check_protect("protect 1023-1024,65535\nallow /a tcp/1023\n", y3, ARRAY_SIZE(y3), n3,
		      ARRAY_SIZE(n3), 0);
	check_protect("protect 1-65535\nallow /a tcp/80\n", y4, ARRAY_SIZE(y4), n4, ARRAY_SIZE(n4),
		      PG_HF_PROTECT_RANGE);
}

/* Which cgroups one selector turns into nodes: "|"-separated, tree order. */
static void check_match(const char *selector, const char *want)
{
	struct pg_cgroup tree[] = { CG("/", 1),		CG("/a", 2),	    CG("/ab", 3),
				    CG("/a/b", 4),	CG("/a/b/c", 5),    CG("/b", 6),
				    CG("/b/a", 7),	CG("/xa.slice", 8), CG("/k/p1/x", 9),
				    CG("/k/p2/x/y", 10) };
	char text[256], got[512];
	struct fx f;
	size_t i, off = 0;

	fix_levels(tree, ARRAY_SIZE(tree));
	snprintf(text, sizeof(text), "allow %s tcp/80\n", selector);
	fx_ok(&f, text, tree, ARRAY_SIZE(tree), NULL);
	got[0] = '\0';
	for (i = 0; i < f.img.nnodes; i++)
		if (f.img.nodes[i].cgid) /* not a node to be made later */
			off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s",
						off ? "|" : "", f.img.nodes[i].path);
	if (strcmp(got, want))
		print_error("selector %s matched '%s', want '%s'\n", selector, got, want);
	assert_string_equal(got, want);
	assert_int_equal(f.img.nunmatched, *want ? 0 : 1);
	assert_int_equal(f.img.nents, f.img.nnodes);
	/* an exact selector is a node even before its cgroup exists */
	assert_int_equal(f.img.nnodes, off || !pg_selector_is_exact(selector) ? f.img.nnodes : 1);
	fx_free(&f);
}

static void test_selectors(void **state)
{
	check_match("/a", "/a");
	check_match("/a/b", "/a/b");
	check_match("/", "/");
	check_match("/b/a", "/b/a");
	check_match("/a/b/c/d", "");
	check_match("/*", "/a|/ab|/b|/xa.slice");
	check_match("/a*", "/a|/ab");
	check_match("/*a", "/a");
	check_match("/*a*", "/a|/ab|/xa.slice");
	check_match("/*.slice", "/xa.slice");
	check_match("/*/a", "/b/a");
	check_match("/*/*", "/a/b|/b/a");
	check_match("/**", "/|/a|/ab|/a/b|/a/b/c|/b|/b/a|/xa.slice|/k/p1/x|/k/p2/x/y");
	check_match("/a/**", "/a|/a/b|/a/b/c");
	check_match("/**/a", "/a|/b/a");
	check_match("/**/b", "/a/b|/b");
	check_match("/k/*/x", "/k/p1/x");
	check_match("/k/**/x", "/k/p1/x");
	check_match("/k/**/y", "/k/p2/x/y");
	check_match("/k/*2/**", "/k/p2/x/y");
	check_match("/q/**", "");
}

static void test_unmatched(void **state)
{
	struct pg_cgroup tree[] = { CG("/a", 2), CG("/b", 3) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f,
	      "allow /nope tcp/80\n"
	      "allow /a tcp/80\n"
	      "deny /nope udp/81\n"
	      "allow /x/* tcp/82\n"
	      "allow /nope tcp/83 user=1\n"
	      "allow /b/** tcp/84\n"
	      "allow /x/* tcp/85\n",
	      tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.nunmatched, 2);
	assert_string_equal(f.img.unmatched[0], "/nope");
	assert_string_equal(f.img.unmatched[1], "/x/*");
	/* /nope is still a node, with id 0, for a cgroup made there later */
	assert_int_equal(f.img.nnodes, 3);
	assert_int_equal(f.img.nents, 5);
	assert_string_equal(f.img.nodes[2].path, "/nope");
	assert_int_equal(f.img.nodes[2].cgid, 0);
	fx_free(&f);
}

/* Globs never match in a delegated subtree; exact selectors still do. */
static void test_delegated_subtrees(void **state)
{
	struct pg_cgroup tree[] = { CG("/t", 2), CG("/t/alice", 3), CG("/t/alice/web", 4),
				    CG("/t/bob", 5), CG("/t/bob/web", 6) };
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	tree[1].delegated = tree[2].delegated = true; /* /t/alice chowned to alice */
	fx_ok(&f,
	      "allow /t/*/web tcp/80\n"
	      "allow /t/** tcp/81\n"
	      "allow /t/alice/web tcp/82\n",
	      tree, ARRAY_SIZE(tree), NULL);
	/* nodes: /t (rule 2), /t/alice/web (rule 3, exact), /t/bob, /t/bob/web */
	assert_int_equal(f.img.nnodes, 4);
	assert_string_equal(f.img.nodes[0].path, "/t");
	assert_string_equal(f.img.nodes[1].path, "/t/alice/web");
	assert_string_equal(f.img.nodes[2].path, "/t/bob");
	assert_string_equal(f.img.nodes[3].path, "/t/bob/web");
	{
		uint32_t alice[] = { f.img.nodes[1].node, 0, f.img.nodes[0].node }, rule;
		uint8_t any[16] = { 0 };
		int at;

		/* alice's web does not get the glob grant of tcp/80 ... */
		assert_int_equal(pg_image_decide(f.img.blocks, f.img.nblocks, alice, 3, 80,
						 PG_P_TCP, 65534, 65534, any, &rule, &at),
				 PG_V_KERNEL);
		/* ... only what names it exactly, and what its ancestors have */
		assert_int_equal(pg_image_decide(f.img.blocks, f.img.nblocks, alice, 3, 82,
						 PG_P_TCP, 65534, 65534, any, &rule, &at),
				 PG_V_GRANT);
		assert_int_equal(rule, 2);
		assert_int_equal(pg_image_decide(f.img.blocks, f.img.nblocks, alice, 3, 81,
						 PG_P_TCP, 65534, 65534, any, &rule, &at),
				 PG_V_GRANT);
		assert_int_equal(at, 2);
	}
	fx_free(&f);
}

static void test_set_meta(void **state)
{
	struct fx f;
	union pg_block *copy;
	uint32_t n0, off;
	char big[200];
	size_t i;

	fx_ok(&f, ex_policy, ex_tree, ARRAY_SIZE(ex_tree), NULL);
	n0 = f.img.nblocks;
	off = hdr(&f)->meta_off;
	assert_int_equal(off, n0);
	copy = malloc((size_t)n0 * sizeof(*copy));
	assert_non_null(copy);
	memcpy(copy, f.img.blocks, (size_t)n0 * sizeof(*copy));

	assert_int_equal(pg_image_set_meta(&f.img, "hello", 5), 0);
	assert_int_equal(f.img.nblocks, off + 1);
	assert_memory_equal(f.img.blocks, copy, (size_t)n0 * sizeof(*copy));
	assert_memory_equal(f.img.blocks[off].bytes, "hello", 5);
	for (i = 5; i < 64; i++)
		assert_int_equal(f.img.blocks[off].bytes[i], 0);

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i + 1);
	assert_int_equal(pg_image_set_meta(&f.img, big, sizeof(big)), 0);
	assert_int_equal(f.img.nblocks, off + 4); /* 200 bytes: 4 blocks */
	assert_memory_equal(f.img.blocks, copy, (size_t)n0 * sizeof(*copy));
	assert_memory_equal(f.img.blocks[off].bytes, big, sizeof(big));
	for (i = sizeof(big); i < 256; i++)
		assert_int_equal(f.img.blocks[off].bytes[i], 0);

	/* Replacing it with less shrinks it again; the tables still decide. */
	assert_int_equal(pg_image_set_meta(&f.img, "x", 1), 0);
	assert_int_equal(f.img.nblocks, off + 1);
	assert_int_equal(f.img.blocks[off].bytes[0], 'x');
	assert_int_equal(f.img.blocks[off].bytes[1], 0);
	assert_memory_equal(f.img.blocks, copy, (size_t)n0 * sizeof(*copy));
	{
		const uint32_t worker[] = { 2, 1 };

		EXPECT(&f, worker, 80, PG_P_TCP, 33, 33, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, worker, 443, PG_P_TCP, 33, 33, NULL, PG_V_DENY_RULE, 1, 1);
	}
	assert_int_equal(pg_image_set_meta(&f.img, "", 0), 0);
	assert_int_equal(f.img.nblocks, off);
	free(copy);
	fx_free(&f);
}

static void test_deterministic(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/a", 2), CG("/a/b", 3), CG("/c", 4),
				    CG("/c/d", 5) };
	static const char text[] = "default deny\nexempt root\n"
				   "allow /a tcp,udp/1-600 user=www-data\n"
				   "allow /a tcp/1-600 addr=10.0.0.0/8\n"
				   "deny /a/** any/700-800\n"
				   "allow /c/* tcp/80 group=web addr=2001:db8::/32\n"
				   "allow /c tcp/443\n"
				   "allow /nope tcp/1\n";
	struct fx f1, f2;

	fix_levels(tree, ARRAY_SIZE(tree));
	fx_ok(&f1, text, tree, ARRAY_SIZE(tree), NULL);
	fx_ok(&f2, text, tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f1.img.nblocks, f2.img.nblocks);
	assert_memory_equal(f1.img.blocks, f2.img.blocks,
			    (size_t)f1.img.nblocks * sizeof(union pg_block));
	assert_int_equal(f1.img.nnodes, f2.img.nnodes);
	for (size_t i = 0; i < f1.img.nnodes; i++) {
		assert_int_equal(f1.img.nodes[i].cgid, f2.img.nodes[i].cgid);
		assert_int_equal(f1.img.nodes[i].node, f2.img.nodes[i].node);
		assert_string_equal(f1.img.nodes[i].path, f2.img.nodes[i].path);
	}
	assert_int_equal(f1.img.nents, f2.img.nents);
	assert_int_equal(f1.img.nalts, f2.img.nalts);
	assert_int_equal(count_live(&f1.img), f1.img.nents);
	fx_free(&f2);

	/* Another seed: another table, the same decisions. */
	{
		struct pg_compile_opts o = grant_opts;
		const uint32_t ab[] = { 2, 1 };

		o.seed = 0xdeadbeef;
		fx_ok(&f2, text, tree, ARRAY_SIZE(tree), &o);
		assert_int_equal(f2.img.nents, f1.img.nents);
		assert_int_not_equal(hdr(&f2)->seed, hdr(&f1)->seed);
		/* everything but the header's seed and the table */
		assert_int_equal(hdr(&f2)->bkt_off, hdr(&f1)->bkt_off);
		assert_memory_equal(f1.img.blocks + 2, f2.img.blocks + 2,
				    (size_t)(hdr(&f1)->bkt_off - 2) * sizeof(union pg_block));
		EXPECT(&f2, ab, 1, PG_P_UDP, 33, 0, NULL, PG_V_GRANT, 0, 1);
		EXPECT(&f2, ab, 750, PG_P_OTHER, 33, 0, NULL, PG_V_DENY_RULE, 2, 0);
		EXPECT(&f2, ab, 80, PG_P_TCP, 33, 0, "10.0.0.1", PG_V_GRANT, 0, 1);
		EXPECT(&f2, ab, 80, PG_P_TCP, 34, 0, "10.0.0.1", PG_V_GRANT, 1, 1);
		EXPECT(&f2, ab, 80, PG_P_TCP, 34, 0, "11.0.0.1", PG_V_DENY_DEFAULT, NONE, 1);
		EXPECT(&f2, ab, 80, PG_P_TCP, 0, 0, "11.0.0.1", PG_V_EXEMPT, NONE, 1);
		fx_free(&f2);
	}
	fx_free(&f1);
}

/* --- layout and emit at their edges -------------------------------------------- */

/* No rules: every region is empty and starts where the rules would. */
static void test_layout_empty(void **state)
{
	struct fx f;
	const struct pg_hdr *h;

	fx_ok(&f, "default deny\nexempt root\n", NULL, 0, NULL);
	h = hdr(&f);
	assert_int_equal(h->nrules, 0);
	assert_int_equal(h->addr_off, PG_RULE_OFF);
	assert_int_equal(h->alt_off, PG_RULE_OFF);
	assert_int_equal(h->bkt_off, PG_RULE_OFF);
	assert_int_equal(h->nbkt, 0);
	assert_int_equal(f.img.blocks[1].hdr2.ntrie, 0);
	assert_int_equal(f.img.blocks[1].hdr2.trie_off, PG_RULE_OFF);
	assert_int_equal(f.img.blocks[1].hdr2.names_off, PG_RULE_OFF);
	assert_int_equal(h->meta_off, PG_RULE_OFF);
	assert_int_equal(f.img.nblocks, PG_RULE_OFF);
	assert_int_equal(f.img.npaths, 0);
	assert_non_null(f.img.paths); /* empty, but there */
	fx_free(&f);
}

/* Address records: prefixes that end inside a byte, and /0. */
static void test_addr_masks(void **state)
{
	static const struct {
		const char *addr;
		uint8_t net[16], mask[16];
	} cases[] = {
		{ "10.128.0.0/9",
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0x80, 0, 0 },
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0x80, 0, 0 } },
		{ "2001:db8::/127",
		  { 0x20, 0x01, 0x0d, 0xb8 },
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xfe } },
		{ "::/0", { 0 }, { 0 } },
		{ "192.0.2.7",
		  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7 },
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff, 0xff, 0xff } },
	};
	char text[512];
	size_t off = 0, i;
	struct fx f;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"allow /a tcp/%zu addr=%s\n", 80 + i, cases[i].addr);
	fx_ok(&f, text, NULL, 0, NULL);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct pg_rule_rec *r = &f.img.blocks[PG_RULE_OFF + i / 4].rule[i % 4];
		const struct pg_addr_rec *a = &f.img.blocks[hdr(&f)->addr_off + i / 2].addr[i % 2];

		assert_int_equal(r->cflags, PG_C_ADDR);
		assert_int_equal(r->addr, i);
		assert_memory_equal(a->net, cases[i].net, 16);
		assert_memory_equal(a->mask, cases[i].mask, 16);
	}
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_grant),	cmocka_unit_test(test_header_sysctl),
		cmocka_unit_test(test_counters_stride), cmocka_unit_test(test_regions_and_records),
		cmocka_unit_test(test_protect_bitmap),	cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_unmatched),	cmocka_unit_test(test_delegated_subtrees),
		cmocka_unit_test(test_set_meta),	cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_layout_empty),	cmocka_unit_test(test_addr_masks),
	};

	return cmocka_run_group_tests_name("compile", tests, NULL, NULL);
}
