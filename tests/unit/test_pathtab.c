// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_pathtab.c - the path table (policy/pathtab.c): which paths it
 * holds, and finding each the way the cgroup_mkdir program does.
 */

#include "compile_fx.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),
	};

	return cmocka_run_group_tests_name("pathtab", tests, NULL, NULL);
}
