/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * compile_fx.h - fixtures of the compiler's unit tests: parse, resolve and
 * compile one policy text over a tree; decisions checked with the verdict,
 * the deciding rule and the level; entries found in their buckets.
 * Header-only: each test is one file.
 */
#ifndef PORTGATE_COMPILE_FX_H
#define PORTGATE_COMPILE_FX_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile.h"

/* The bucket probe of pg_decide.h, over a plain block array. */
struct tview {
	const union pg_block *b;
	uint32_t n;
};

#define PG_CTX const struct tview *

static inline const union pg_block *pg_blk(const struct tview *v, __u32 idx)
{
	return idx < v->n ? &v->b[idx] : NULL;
}
#include "pg_decide.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline int fake_user(void *ud, const char *name, uint32_t *uid)
{
	if (!strcmp(name, "www-data")) {
		*uid = 33;
		return 0;
	}
	if (!strcmp(name, "named")) {
		*uid = 53;
		return 0;
	}
	return -ENOENT;
}

static inline int fake_group(void *ud, const char *name, uint32_t *gid)
{
	if (!strcmp(name, "web")) {
		*gid = 44;
		return 0;
	}
	return -ENOENT;
}

static const struct pg_id_ops id_ops = { fake_user, fake_group, NULL, NULL };

static const struct pg_compile_opts grant_opts = {
	.mode = PG_MODE_GRANT, .bypass = false, .slot = 0, .gen = 1, .seed = 1
};

struct fx {
	struct pg_policy *p;
	struct pg_diags d;
	struct pg_image img;
	int rc;
};

static inline void fx_dump(const struct fx *f)
{
	size_t i;

	for (i = 0; i < f->d.n; i++)
		print_message("  diag %zu: line %u: %s: %s\n", i, (unsigned int)f->d.v[i].loc.line,
			      f->d.v[i].sev == PG_SEV_ERROR ? "error" : "warning",
			      f->d.v[i].msg ? f->d.v[i].msg : "?");
}

/* Parse (no errors allowed), resolve with the fake resolver, compile. */
static inline int fx_build(struct fx *f, const char *text, const struct pg_cgroup *tree,
			   size_t ntree, const struct pg_compile_opts *o)
{
	memset(f, 0, sizeof(*f));
	f->p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &f->d);
	assert_non_null(f->p);
	pg_policy_resolve(f->p, &id_ops, &f->d);
	if (f->d.nerrors)
		fx_dump(f);
	assert_int_equal(f->d.nerrors, 0);
	f->rc = pg_compile(f->p, tree, ntree, o ? o : &grant_opts, &f->img, &f->d);
	return f->rc;
}

/* As fx_build, and the compile must succeed. */
static inline void fx_ok(struct fx *f, const char *text, const struct pg_cgroup *tree, size_t ntree,
			 const struct pg_compile_opts *o)
{
	if (fx_build(f, text, tree, ntree, o))
		fx_dump(f);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->d.nerrors, 0);
	assert_non_null(f->img.blocks);
}

static inline void fx_free(struct fx *f)
{
	pg_image_free(&f->img);
	pg_policy_free(f->p);
	pg_diags_free(&f->d);
}

static inline const struct pg_hdr *hdr(const struct fx *f)
{
	return &f->img.blocks[0].hdr;
}

static inline uint32_t node_of(const struct pg_image *img, const char *path)
{
	size_t i;

	for (i = 0; i < img->nnodes; i++)
		if (!strcmp(img->nodes[i].path, path))
			return img->nodes[i].node;
	return 0;
}

/* NULL: the IPv4 wildcard; a ':' makes it IPv6, else IPv4 as ::ffff:a.b.c.d. */
static inline void mkaddr(const char *s, uint8_t a[16])
{
	memset(a, 0, 16);
	if (!s)
		return;
	if (strchr(s, ':')) {
		assert_int_equal(inet_pton(AF_INET6, s, a), 1);
	} else {
		a[10] = a[11] = 0xff;
		assert_int_equal(inet_pton(AF_INET, s, a + 12), 1);
	}
}

/*
 * One decision, checked against the expected verdict, deciding rule (~0u
 * for a default) and index into nodes[] (-1 when no level had an entry).
 */
static inline void expect_decide(const struct fx *f, const uint32_t *nodes, size_t n, uint32_t port,
				 uint32_t proto, uint32_t uid, uint32_t gid, const char *addr,
				 int v, uint32_t rule, int depth, int line)
{
	uint8_t a[16];
	uint32_t got_rule = 12345;
	int got_depth = 12345, got;

	mkaddr(addr, a);
	got = pg_image_decide(f->img.blocks, f->img.nblocks, nodes, n, port, proto, uid, gid, a,
			      &got_rule, &got_depth);
	if (got != v || got_rule != rule || got_depth != depth) {
		print_error("line %d: port %u proto %u uid %u gid %u addr %s: got %s rule %d "
			    "depth %d, want %s rule %d depth %d\n",
			    line, port, proto, uid, gid, addr ? addr : "(wild)",
			    pg_verdict_name(got), (int)got_rule, got_depth, pg_verdict_name(v),
			    (int)rule, depth);
		fail();
	}
}

#define NONE ~0u

#define EXPECT(f, nodes, port, proto, uid, gid, addr, v, rule, depth)                              \
	expect_decide(f, nodes, ARRAY_SIZE(nodes), port, proto, uid, gid, addr, v, rule, depth,    \
		      __LINE__)

/* Candidate buckets of a key under the image's header. */
static inline void cands(const struct pg_hdr *h, uint32_t node, uint32_t proto, uint32_t port,
			 uint32_t b[2])
{
	uint64_t key = pg_key(node, proto, port);

	b[0] = pg_bkt1(key, h->seed, h->nbkt);
	b[1] = pg_bkt2(key, h->seed, h->nbkt);
}

/* The live entry for a key, by scanning its two candidate buckets; asserts
 * there is at most one. */
static inline struct pg_ent *find_ent(struct pg_image *img, uint32_t node, uint32_t proto,
				      uint32_t port)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;
	struct pg_ent *found = NULL;
	uint32_t b[2];
	int k, i, nfound = 0;

	if (!h->nbkt)
		return NULL;
	cands(h, node, proto, port, b);
	for (k = 0; k < 2; k++) {
		union pg_block *blk;

		if (k == 1 && b[1] == b[0])
			break;
		assert_true(b[k] < h->nbkt);
		assert_true(h->bkt_off + b[k] < img->nblocks);
		blk = &img->blocks[h->bkt_off + b[k]];
		for (i = 0; i < 4; i++) {
			struct pg_ent *e = &blk->ent[i];

			if (e->tag == PG_TAG && e->node == node && e->proto == proto &&
			    e->port == port) {
				found = e;
				nfound++;
			}
		}
	}
	assert_true(nfound <= 1);
	return found;
}

/* Live entries in the whole table; each must sit in one of its candidates. */
static inline uint32_t count_live(const struct pg_image *img)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;
	uint32_t n = 0, bi, b[2];
	int i;

	for (bi = 0; bi < h->nbkt; bi++) {
		const union pg_block *blk = &img->blocks[h->bkt_off + bi];

		for (i = 0; i < 4; i++) {
			const struct pg_ent *e = &blk->ent[i];

			if (e->tag != PG_TAG)
				continue;
			assert_int_not_equal(e->node, 0);
			cands(h, e->node, e->proto, e->port, b);
			assert_true(bi == b[0] || bi == b[1]);
			n++;
		}
	}
	return n;
}

/* A tree of cgroups, paths given, levels counted from the path. */
static inline int level_of(const char *path)
{
	return pg_selector_depth(path);
}

#define CG(path, id)                                                                               \
	{                                                                                          \
		path, id, -1, false                                                                \
	}

static inline void fix_levels(struct pg_cgroup *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].level < 0)
			t[i].level = level_of(t[i].path);
}

/* The worked example of pg_abi.h. */
static const struct pg_cgroup ex_tree[] = {
	{ "/", 1, 0, false },
	{ "/system.slice", 2, 1, false },
	{ "/system.slice/web.service", 3, 2, false },
	{ "/system.slice/web.service/worker", 4, 3, false },
	{ "/user.slice", 5, 1, false },
};

static const char ex_policy[] = "allow /system.slice/web.service  tcp/80 user=www-data\n"
				"deny  /system.slice              any/1-1023\n";

#endif
