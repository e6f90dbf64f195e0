// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_compile.c - the policy-image compiler (policy/compile.c): header and
 * region layout, the protect bitmap, nodes and selector matching, entries
 * and the decisions pg_image_decide() takes over them (the same code the
 * bind hooks run, bpf/pg_decide.h), compile-time conflicts and limits, and
 * the bucketised cuckoo table at scale.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
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

/* --- fixtures ----------------------------------------------------------- */

static int fake_user(void *ud, const char *name, uint32_t *uid)
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

static int fake_group(void *ud, const char *name, uint32_t *gid)
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

static void fx_dump(const struct fx *f)
{
	size_t i;

	for (i = 0; i < f->d.n; i++)
		print_message("  diag %zu: line %u: %s: %s\n", i, (unsigned int)f->d.v[i].loc.line,
			      f->d.v[i].sev == PG_SEV_ERROR ? "error" : "warning",
			      f->d.v[i].msg ? f->d.v[i].msg : "?");
}

/* Parse (no errors allowed), resolve with the fake resolver, compile. */
static int fx_build(struct fx *f, const char *text, const struct pg_cgroup *tree, size_t ntree,
		    const struct pg_compile_opts *o)
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
static void fx_ok(struct fx *f, const char *text, const struct pg_cgroup *tree, size_t ntree,
		  const struct pg_compile_opts *o)
{
	if (fx_build(f, text, tree, ntree, o))
		fx_dump(f);
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->d.nerrors, 0);
	assert_non_null(f->img.blocks);
}

static void fx_free(struct fx *f)
{
	pg_image_free(&f->img);
	pg_policy_free(f->p);
	pg_diags_free(&f->d);
}

static const struct pg_hdr *hdr(const struct fx *f)
{
	return &f->img.blocks[0].hdr;
}

static uint32_t node_of(const struct pg_image *img, const char *path)
{
	size_t i;

	for (i = 0; i < img->nnodes; i++)
		if (!strcmp(img->nodes[i].path, path))
			return img->nodes[i].node;
	return 0;
}

/* NULL: the IPv4 wildcard; a ':' makes it IPv6, else IPv4 as ::ffff:a.b.c.d. */
static void mkaddr(const char *s, uint8_t a[16])
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
static void expect_decide(const struct fx *f, const uint32_t *nodes, size_t n, uint32_t port,
			  uint32_t proto, uint32_t uid, uint32_t gid, const char *addr, int v,
			  uint32_t rule, int depth, int line)
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
static void cands(const struct pg_hdr *h, uint32_t node, uint32_t proto, uint32_t port,
		  uint32_t b[2])
{
	uint64_t key = pg_key(node, proto, port);

	b[0] = pg_bkt1(key, h->seed, h->nbkt);
	b[1] = pg_bkt2(key, h->seed, h->nbkt);
}

/* The live entry for a key, by scanning its two candidate buckets; asserts
 * there is at most one. */
static struct pg_ent *find_ent(struct pg_image *img, uint32_t node, uint32_t proto, uint32_t port)
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
static uint32_t count_live(const struct pg_image *img)
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
static int level_of(const char *path)
{
	return pg_selector_depth(path);
}

#define CG(path, id)                                                                               \
	{                                                                                          \
		path, id, -1, false                                                                \
	}

static void fix_levels(struct pg_cgroup *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].level < 0)
			t[i].level = level_of(t[i].path);
}

/* --- header and layout -------------------------------------------------- */

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

/* nrules counts every rule, matched or not; the stride rounds up to 8. */
static void test_counters_stride(void **state)
{
	static const struct {
		size_t nrules;
		uint32_t stride;
	} cases[] = { { 0, 8 }, { 1, 16 }, { 8, 16 }, { 9, 24 }, { 16, 24 }, { 17, 32 } };
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
		assert_true(hdr(&f)->cnt_stride >= PG_CNT_RULE0 + cases[c].nrules);
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

/* --- the protect bitmap ------------------------------------------------- */

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

/* --- nodes and selectors -------------------------------------------------- */

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
		tree[l] = (struct pg_cgroup){ paths[l], 1000 + (uint64_t)l, l == 65 ? 64 : l };

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

/* --- decisions ------------------------------------------------------------ */

/* The worked example of pg_abi.h. */
static const struct pg_cgroup ex_tree[] = {
	{ "/", 1, 0 },
	{ "/system.slice", 2, 1 },
	{ "/system.slice/web.service", 3, 2 },
	{ "/system.slice/web.service/worker", 4, 3 },
	{ "/user.slice", 5, 1 },
};
static const char ex_policy[] = "allow /system.slice/web.service  tcp/80 user=www-data\n"
				"deny  /system.slice              any/1-1023\n";

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

/* --- zeroed and hand-broken tables ---------------------------------------- */

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

/* --- meta and determinism ------------------------------------------------- */

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

/* --- the cuckoo table at scale -------------------------------------------- */

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
	tree[0] = (struct pg_cgroup){ "/", 1, 0 };
	tree[1] = (struct pg_cgroup){ "/s", 2, 1 };
	for (i = 0; i < ncg; i++) {
		snprintf(paths + i * 16, 16, "/s/c%u", (unsigned int)i);
		tree[i + 2] = (struct pg_cgroup){ paths + i * 16, 100 + (uint64_t)i, 2 };
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
		tree[i] = (struct pg_cgroup){ paths + i * 16, 10 + (uint64_t)i, 1 };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_grant),
		cmocka_unit_test(test_header_sysctl),
		cmocka_unit_test(test_counters_stride),
		cmocka_unit_test(test_regions_and_records),
		cmocka_unit_test(test_protect_bitmap),
		cmocka_unit_test(test_nodes_tree_order),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_unmatched),
		cmocka_unit_test(test_delegated_subtrees),
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_level_limit),
		cmocka_unit_test(test_decide_worked_example),
		cmocka_unit_test(test_decide_default_at_level),
		cmocka_unit_test(test_decide_nearest_first),
		cmocka_unit_test(test_decide_user_group),
		cmocka_unit_test(test_decide_addr),
		cmocka_unit_test(test_decide_protocols),
		cmocka_unit_test(test_unprotected_ports),
		cmocka_unit_test(test_uncond_wins),
		cmocka_unit_test(test_alt_limit),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_alts_dedup),
		cmocka_unit_test(test_zero_never_matches),
		cmocka_unit_test(test_set_meta),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_cuckoo_rebuild),
		cmocka_unit_test(test_scale_1),
		cmocka_unit_test(test_scale_100),
		cmocka_unit_test(test_scale_10k),
		cmocka_unit_test(test_scale_100k),
		cmocka_unit_test(test_max_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
