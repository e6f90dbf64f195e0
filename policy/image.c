// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * image.c - reading a policy image back, for explain, status and diff:
 * the decision (the same code the bind hooks run, bpf/pg_decide.h, over a
 * plain block array), the path table as cgroup_mkdir reads it, the protect
 * bitmap, and what a verdict means to bind().
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "image.h"

struct pg_view {
	const union pg_block *b;
	uint32_t n;
};

#define PG_CTX const struct pg_view *
static inline const union pg_block *pg_blk(const struct pg_view *v, __u32 idx)
{
	return idx < v->n ? &v->b[idx] : NULL;
}
#include "pg_decide.h"

static const struct pg_hdr *image_hdr(const union pg_block *blocks, uint32_t nblocks)
{
	if (!blocks || !nblocks || blocks[0].hdr.magic != PG_MAGIC ||
	    blocks[0].hdr.abi != PG_ABI_VERSION)
		return NULL;
	return &blocks[0].hdr;
}

int pg_image_path(const union pg_block *blocks, uint32_t nblocks, uint32_t ptid, const char *name,
		  uint32_t *tid, uint32_t *node)
{
	const struct pg_hdr *h = image_hdr(blocks, nblocks);
	struct pg_view v = { blocks, nblocks };
	const struct pg_trie_ent *e;
	__u64 buf[PG_NAME_MAX / 8] = { 0 }, hh;
	size_t len = strlen(name), k;

	if (!h || nblocks < 2 || len >= PG_NAME_MAX)
		return -ENOENT;
	memcpy(buf, name, len);
	hh = pg_name_hash(blocks[1].hdr2.trie_seed, ptid, buf);
	for (k = 0;; k++) {
		int r = pg_path_probe(&v, &blocks[1].hdr2, ptid, buf, (uint32_t)len, hh, (__u32)k,
				      &e, tid);

		if (r < 0)
			return -ENOENT;
		if (r > 0)
			break;
	}
	*node = e->node;
	return 0;
}

int pg_image_path_node(const union pg_block *blocks, uint32_t nblocks, const char *path,
		       uint32_t *node)
{
	char name[PG_NAME_MAX];
	uint32_t ptid = PG_TRIE_ROOT, tid = 0, n = 0;
	const char *c = path;

	if (*c != '/' || !c[1])
		return -ENOENT;
	while (*c == '/') {
		size_t len = strcspn(c + 1, "/");

		if (!len || len >= sizeof(name))
			return -ENOENT;
		memcpy(name, c + 1, len);
		name[len] = '\0';
		if (pg_image_path(blocks, nblocks, ptid, name, &tid, &n))
			return -ENOENT;
		ptid = tid;
		c += 1 + len;
	}
	*node = n;
	return 0;
}

bool pg_image_protects(const union pg_block *blocks, uint32_t nblocks, uint32_t port)
{
	struct pg_view v = { blocks, nblocks };
	const struct pg_hdr *h = image_hdr(blocks, nblocks);

	return !h || pg_protected(&v, h, port);
}

int pg_image_decide(const union pg_block *blocks, uint32_t nblocks, const uint32_t *nodes, size_t n,
		    uint32_t port, uint32_t proto, uint32_t uid, uint32_t gid,
		    const uint8_t addr[16], uint32_t *rule, int *depth_idx)
{
	struct pg_view v = { blocks, nblocks };
	const struct pg_hdr *h = image_hdr(blocks, nblocks);
	struct pg_req rq = { .port = port, .proto = proto, .uid = uid, .gid = gid };
	size_t i;

	*rule = ~0u;
	*depth_idx = -1;
	if (!h)
		return PG_V_NO_POLICY;
	memcpy(rq.addr, addr, 16);
	rq.wild = !rq.addr[0] && !rq.addr[1] && (!rq.addr[2] || rq.addr[2] == htobe32(0xffff)) &&
		  !rq.addr[3];
	for (i = 0; i < n; i++) {
		const struct pg_ent *e = pg_find(&v, h, nodes[i], &rq);

		if (e) {
			*depth_idx = (int)i;
			return pg_decide_ent(&v, h, e, &rq, rule);
		}
	}
	return pg_default(h, &rq);
}

int pg_image_ret(const union pg_block *blocks, uint32_t nblocks, int v)
{
	const struct pg_hdr *h = image_hdr(blocks, nblocks);

	return pg_verdict_ret(h && (h->flags & PG_HF_BYPASS), v);
}

const char *pg_verdict_name(int v)
{
	switch (v) {
	case PG_V_GRANT:
		return "grant";
	case PG_V_DENY_RULE:
		return "deny";
	case PG_V_DENY_DEFAULT:
		return "deny-default";
	case PG_V_KERNEL:
		return "kernel";
	case PG_V_EXEMPT:
		return "exempt-root";
	case PG_V_NO_POLICY:
		return "no-policy";
	case PG_V_KERN_SOCK:
		return "kernel-socket";
	case PG_V_WOULD_DENY:
		return "would-deny";
	case PG_V_WOULD_ALLOW:
		return "would-allow";
	case PG_V_AUDIT_SAME:
		return "audit";
	case PG_V_AUDIT_GRANT:
		return "audit-grant";
	case PG_V_AUDIT_DENY:
		return "audit-deny";
	default:
		return "?";
	}
}

bool pg_verdict_audited(int v)
{
	return v == PG_V_AUDIT_GRANT || v == PG_V_AUDIT_DENY;
}

const char *pg_verdict_phrase(int v)
{
	switch (v) {
	case PG_V_AUDIT_GRANT:
		return "would grant (audit: the kernel's own check decides)";
	case PG_V_AUDIT_DENY:
		return "would refuse (audit: the kernel's own check decides)";
	default:
		return pg_verdict_name(v);
	}
}
