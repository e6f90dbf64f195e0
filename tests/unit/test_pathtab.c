// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_pathtab.c - the path table (policy/pathtab.c): which paths it
 * holds, and finding each the way the cgroup_mkdir program does.
 */

#include "compile_fx.h"
#include "compile_int.h"

/*
 * The path table: every exact selector and its ancestors, found by (parent
 * path id, name) as the cgroup_mkdir program finds them, whether or not the
 * cgroup exists; a path that does not exist yet is a node carrying the glob
 * rules that would match it, unless its nearest existing ancestor is
 * delegated.
 */
static void test_path_table(void **state)
{
	struct pg_cgroup tree[] = { CG("/", 1), CG("/a", 2), CG("/t", 3) };
	char longname[256], text[1024];
	uint32_t ta, tb, tc, tx, tt, tw, tl, n, nc, nx, ntw;
	struct fx f;

	fix_levels(tree, ARRAY_SIZE(tree));
	tree[2].delegated = true; /* /t chowned to a tenant */
	memset(longname, 'n', 255);
	longname[255] = '\0';
	snprintf(text, sizeof(text),
		 "allow /a/b/c tcp/80\n"
		 "allow /a/b/* tcp/81\n"
		 "allow /x tcp/82\n"
		 "allow /t/web tcp/83\n"
		 "allow /t/* tcp/84\n"
		 "allow /a/%s tcp/85\n",
		 longname);
	fx_ok(&f, text, tree, ARRAY_SIZE(tree), NULL);
	assert_int_equal(f.img.npaths, 7); /* /a /a/b /a/b/c /a/nnn /t /t/web /x */
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "a", &ta, &n), 0);
	assert_int_equal(n, 0); /* /a is on the way, no rule of its own */
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, ta, "b", &tb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, tb, "c", &tc, &nc), 0);
	assert_int_not_equal(nc, 0);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "x", &tx, &nx),
			 0);
	assert_int_not_equal(nx, 0);
	assert_int_not_equal(nx, nc);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, ta, longname, &tl, &n), 0);
	assert_int_not_equal(n, 0);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "t", &tt, &n), 0);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, tt, "web", &tw, &ntw), 0);
	/* path ids are distinct and never the root's */
	assert_true(ta != tb && tb != tc && tc != tx && ta > PG_TRIE_ROOT && tb > PG_TRIE_ROOT);
	/* misses: wrong parent, wrong name, a prefix or an extension of a name */
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, ta, "c", &n, &n), -ENOENT);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "b", &n, &n),
			 -ENOENT);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, tb, "cc", &n, &n), -ENOENT);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "", &n, &n),
			 -ENOENT);
	longname[254] = 'm';
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, ta, longname, &n, &n), -ENOENT);
	assert_int_equal(pg_image_path(f.img.blocks, f.img.nblocks, 0, "a", &n, &n), -ENOENT);
	/* /a/b/c, not made yet, carries its own rule and the glob rule on its parent's children */
	{
		const uint32_t at_c[] = { nc }, at_x[] = { nx }, at_w[] = { ntw };

		EXPECT(&f, at_c, 80, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 0, 0);
		EXPECT(&f, at_c, 81, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 1, 0);
		EXPECT(&f, at_c, 82, PG_P_TCP, 1, 1, NULL, PG_V_KERNEL, ~0u, -1);
		EXPECT(&f, at_x, 82, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 2, 0);
		/* /t is delegated: /t/web, made later, gets its exact rule only */
		EXPECT(&f, at_w, 83, PG_P_TCP, 1, 1, NULL, PG_V_GRANT, 3, 0);
		EXPECT(&f, at_w, 84, PG_P_TCP, 1, 1, NULL, PG_V_KERNEL, ~0u, -1);
	}
	/* nodes to be have id 0 and the path; /x is one, /a is none */
	for (size_t i = 0; i < f.img.nnodes; i++)
		if (!strcmp(f.img.nodes[i].path, "/x"))
			assert_int_equal(f.img.nodes[i].cgid, 0);
	assert_int_equal(f.img.nunmatched, 6); /* the glob under /t meets only delegated cgroups */
	fx_free(&f);
}

/* --- the paths, and placing them (compile_int.h) ---------------------------- */

static void test_parent_of(void **state)
{
	static const char *const cases[][2] = {
		{ "/a/b", "/a" },
		{ "/a", "/" },
		{ "/", "/" },
		{ "/a/b/c", "/a/b" },
	};
	char out[64], small[3];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		pgc_parent_of(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	/* cut to the room given, still terminated */
	pgc_parent_of("/abc/d", small, sizeof(small));
	assert_string_equal(small, "/a");
}

/* Exact selectors and their ancestors, sorted and once each; not "/", not globs. */
static void test_trie_paths(void **state)
{
	static const char *const want[] = { "/a", "/a/b", "/a/b/c", "/a/d", "/z", "/z/y" };
	struct pg_diags d = { 0 };
	const char text[] = "allow /z/y tcp/80\n"
			    "allow / tcp/81\n"
			    "allow /a/b/c tcp/82\n"
			    "deny /a/b tcp/83 user=1\n"
			    "allow /a/* tcp/84\n"
			    "allow /q/**/r tcp/85\n"
			    "allow /a/d udp/86\n"
			    "allow /a/b/c udp/87\n";
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char **tp = NULL;
	size_t n = 0, i;

	assert_int_equal(d.nerrors, 0);
	assert_int_equal(pgc_trie_paths(p, NULL, 0, &tp, &n), 0);
	assert_int_equal(n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++) {
		assert_string_equal(tp[i], want[i]);
		assert_int_equal(pgc_trie_find(tp, n, want[i]), (long)i);
	}
	assert_int_equal(pgc_trie_find(tp, n, "/a/b/"), -1);
	assert_int_equal(pgc_trie_find(tp, n, "/"), -1);
	assert_int_equal(pgc_trie_find(NULL, 0, "/a"), -1);
	for (i = 0; i < n; i++)
		free(tp[i]);
	free(tp);
	pg_policy_free(p);
	pg_diags_free(&d);

	/* no exact selector: no paths */
	p = pg_policy_parse_buf("t.conf", "allow /* tcp/80\n", 16, NULL, &d);
	assert_int_equal(pgc_trie_paths(p, NULL, 0, &tp, &n), 0);
	assert_int_equal(n, 0);
	free(tp);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/*
 * Placement: path ids are slot + 2, a child's parent id is its parent's
 * path id, names sit granule after granule; a table too full for
 * PG_TRIE_PROBE is refused.
 */
static void test_trie_place(void **state)
{
	char *tp[] = { "/a", "/a/bbbbbbbbbbbbbbbbbb", "/c" }; /* b: 18 bytes, 2 granules */
	const uint32_t node_of_tp[] = { 0, 7, 9 };
	struct pg_hdr2 h2 = { .ntrie = 8, .trie_seed = 12345 };
	struct pg_trie_ent slots[8];
	uint8_t names[4 * PG_GRAN] = { 0 };
	uint32_t tids[3];
	int probe = pgc_trie_place(&h2, tp, 3, node_of_tp, slots, names, tids);
	size_t i, live = 0;

	assert_true(probe >= 1 && probe <= PG_TRIE_PROBE);
	for (i = 0; i < 3; i++) {
		const struct pg_trie_ent *e = &slots[tids[i] - 2];

		assert_true(tids[i] >= 2 && tids[i] < 2 + 8);
		assert_int_equal(e->node, node_of_tp[i]);
		assert_int_equal(e->ptid, i == 1 ? tids[0] : PG_TRIE_ROOT);
	}
	assert_int_equal(slots[tids[0] - 2].name, 0u << 8 | 1);
	assert_int_equal(slots[tids[1] - 2].name, 1u << 8 | 18);
	assert_int_equal(slots[tids[2] - 2].name, 3u << 8 | 1);
	assert_memory_equal(names, "a", 1);
	assert_memory_equal(names + PG_GRAN, "bbbbbbbbbbbbbbbbbb", 18);
	assert_memory_equal(names + 3 * PG_GRAN, "c", 1);
	for (i = 0; i < 8; i++)
		live += slots[i].ptid != 0;
	assert_int_equal(live, 3);
}

static void test_trie_place_full(void **state)
{
	enum { N = 8 };
	char *tp[N], buf[N][8];
	uint32_t node_of_tp[N] = { 0 }, tids[N];
	struct pg_trie_ent slots[4];
	struct pg_hdr2 h2 = { .ntrie = 4, .trie_seed = 1 };
	size_t i;

	/* more paths than slots: the fifth probes until PG_TRIE_PROBE, and gives up */
	for (i = 0; i < N; i++) {
		snprintf(buf[i], sizeof(buf[i]), "/p%zu", i);
		tp[i] = buf[i];
	}
	assert_int_equal(pgc_trie_place(&h2, tp, N, node_of_tp, slots, NULL, tids), -E2BIG);
}

/* Many siblings: the table grows until every probe is short, and all are found. */
static void test_path_table_many(void **state)
{
	enum { N = 3000 };
	char *text = malloc(N * 32);
	size_t off = 0, i;
	struct fx f;

	for (i = 0; i < N; i++)
		off += (size_t)sprintf(text + off, "allow /s/c%zu tcp/80\n", i);
	fx_ok(&f, text, NULL, 0, NULL);
	assert_int_equal(f.img.npaths, N + 1);
	assert_true(f.img.blocks[1].hdr2.ntrie * 4 >= (N + 1) * 5);
	assert_true(f.img.blocks[1].hdr2.probe <= PG_TRIE_PROBE);
	assert_int_equal(f.img.blocks[1].hdr2.npaths, N + 1);
	{
		uint32_t ts, tid, node, seen = 0;

		assert_int_equal(
		    pg_image_path(f.img.blocks, f.img.nblocks, PG_TRIE_ROOT, "s", &ts, &node), 0);
		for (i = 0; i < N; i++) {
			char name[16];

			snprintf(name, sizeof(name), "c%zu", i);
			assert_int_equal(
			    pg_image_path(f.img.blocks, f.img.nblocks, ts, name, &tid, &node), 0);
			assert_int_not_equal(node, 0);
			seen++;
		}
		assert_int_equal(seen, N);
	}
	fx_free(&f);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),	cmocka_unit_test(test_parent_of),
		cmocka_unit_test(test_trie_paths),	cmocka_unit_test(test_trie_place),
		cmocka_unit_test(test_trie_place_full), cmocka_unit_test(test_path_table_many),
	};

	return cmocka_run_group_tests_name("pathtab", tests, NULL, NULL);
}
