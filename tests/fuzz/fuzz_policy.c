// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * fuzz_policy.c - libFuzzer target for the policy library: parser, compiler.
 *
 * The input is up to four policy files, separated by the line "#--file--":
 * /p/portgate.conf (the top-level file), /p/a.conf, /p/b.conf and
 * /p/conf.d/10.conf, served from memory, so "include a.conf", "include
 * b.conf" and patterns such as conf.d/[*].conf reach them (/p/eio.conf,
 * /p/big.conf and patterns under /p/err/ fail on purpose). Each input is
 * parsed and resolved with a fixed table of users and groups; when that
 * gives no errors, it is compiled in grant and in sysctl mode against a fixed
 * tree of cgroups. Checked:
 *
 *  - for every input, the parser's findings over the rules it kept: which
 *    rules it reports as conflicting, duplicated, past the 16 conditional
 *    rules or naming unprotected ports is what portgate.conf(5) says;
 *  - a reference evaluator, written from portgate.conf(5) and the comment at
 *    the top of bpf/pg_abi.h and reading only the parsed policy and the tree,
 *    decides binds (cgroup, protocol class, port, uid, gid, address) picked
 *    from the policy; pg_image_decide() over the image must agree, with
 *    nodes[] built as the bind hook's walk sees them;
 *  - the reference predicts whether pg_compile() must refuse the policy (an
 *    allow and a deny meeting on one cgroup, protocol and protected port,
 *    more than 16 conditional rules there, or rules at more than 32 levels),
 *    the errors it reports, and the image's header, layout, nodes, levels,
 *    entries and unmatched selectors;
 *  - the cgroups of the reference are the tree's plus every exact selector
 *    and ancestor of one that is not in the tree: a cgroup made there later
 *    gets its node from the path table, so such a path is a node when rules
 *    name it (exact rules, and globs unless its nearest existing ancestor is
 *    delegated), and binds there are decided as in any other cgroup, with
 *    nodes[] as the cgroup_mkdir program records them;
 *  - the path table: every exact selector and ancestor resolves, component
 *    by component from the root, to the path id and node the image lists,
 *    and names that are not paths (siblings, prefixes, longer names, other
 *    parents) do not;
 *  - the parsed policy keeps the promises of policy.h (sorted and merged
 *    ranges, host bits zero, ...), each rule's text and pg_rule_spec() parse
 *    back to the same rule, pg_diags_print() prints every diagnostic.
 *
 * Any disagreement aborts with a message saying what differs; ASan, UBSan
 * and LeakSanitizer catch the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * pg_compile() walks every port of every rule on every cgroup it names, and
 * places every entry: past these, one input takes tens of milliseconds under
 * the sanitizers, so it is not compiled.
 */
#define ENTRY_CAP 30000u
#define WORK_CAP  300000u
/* Random queries per compiled image, and rules swept over every cgroup. */
#define NQUERIES    32
#define SWEEP_RULES 8
#define SWEEP_VIRT  24 /* cgroups not in the tree swept, at most */
#define MAX_ALT	    16
#define ANCESTORS   (MAX_COMPS + 1) /* a cgroup and its ancestors, at most */
/*
 * The reference matches every glob against every cgroup, its own and the
 * paths of exact selectors, at a cost up to (glob bytes) x (path bytes):
 * past this, the input is not compiled either.
 */
#define MATCH_CAP 40000000ull

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_policy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fail("out of memory");
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		fail("out of memory");
	return p;
}

/* --- the cgroup tree -------------------------------------------------------- */

/*
 * Names the corpus's selectors (and the man page's examples) can hit; depth up
 * to 6. Delegated: the subtree of a directory chowned to a user (systemd's
 * user@.service, a tenant): set on the top of the subtree and below.
 */
static const struct {
	const char *path;
	bool delegated;
} tree_src[] = {
	{ "/", false },
	{ "/init.scope", false },
	{ "/system.slice", false },
	{ "/system.slice/nginx.service", false },
	{ "/system.slice/named.service", false },
	{ "/system.slice/web.service", false },
	{ "/system.slice/web.service/worker", false },
	{ "/system.slice/api.service", false },
	{ "/system.slice/legacy.service", false },
	{ "/system.slice/legacy.service/child", false },
	{ "/system.slice/a.service", false },
	{ "/system.slice/a.service/child", false },
	{ "/system.slice/b.service", false },
	{ "/system.slice/c.service", false },
	{ "/system.slice/my app.service", false },
	{ "/system.slice/system-getty.slice", false },
	{ "/system.slice/system-getty.slice/getty@tty1.service", false },
	{ "/system.slice/dev-disk-by\\x2duuid.service", false },
	{ "/system.slice/v4.service", false },
	{ "/system.slice/v6.service", false },
	{ "/user.slice", false },
	{ "/user.slice/user-1000.slice", false },
	{ "/user.slice/user-1000.slice/session-1.scope", false },
	{ "/user.slice/user-1000.slice/user@1000.service", true },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice", true },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/app-web.scope", true },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/app-web.scope/sub", true },
	{ "/kubepods.slice", false },
	{ "/kubepods.slice/kubepods-besteffort.slice", false },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1f2e3d4c_5b6a.slice",
	  false },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1f2e3d4c_5b6a.slice/"
	  "cri-containerd-abc.scope",
	  false },
	{ "/kubepods.slice/kubepods-burstable.slice", false },
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e9999.slice", false },
	{ "/kubepods.slice/kubepods-pod77aa.slice", false },
	{ "/a", false },
	{ "/a/b", false },
	{ "/a/b/c", false },
	{ "/a/b/c/d", false },
	{ "/a/b/c/d/e", false },
	{ "/a/b/c/d/e/f", false },
	{ "/a/x", false },
	{ "/c", false },
	{ "/common", false },
	{ "/depth1", false },
	{ "/tenant", true },
	{ "/tenant/web", true },
	{ "/tenant/web/deep", true },
};

#define NTREE	  ARRAY_SIZE(tree_src)
#define MAX_COMPS 64  /* PG_POL_MAX_DEPTH, and more */
#define MAX_CLEN  256 /* PG_POL_MAX_COMPONENT, and more */

static struct pg_cgroup tree[NTREE];
static int parent_of[NTREE];
static FILE *devnull;
static bool verbose; /* FUZZ_POLICY_VERBOSE=1: a line per input and image */

/* Components of a path or selector: "/" has none. */
struct comps {
	const char *c[MAX_COMPS];
	size_t n[MAX_COMPS];
	size_t k;
};

static bool split_comps(const char *s, struct comps *out)
{
	out->k = 0;
	if (!strcmp(s, "/"))
		return true;
	while (*s == '/') {
		size_t n = strcspn(s + 1, "/");

		if (out->k == MAX_COMPS)
			return false;
		out->c[out->k] = s + 1;
		out->n[out->k++] = n;
		s += 1 + n;
	}
	return !*s;
}

static struct comps tree_comps[NTREE];

static void tree_init(void)
{
	size_t i, j;

	for (i = 0; i < NTREE; i++) {
		const char *path = tree_src[i].path, *slash = strrchr(path, '/');

		if (!split_comps(path, &tree_comps[i]))
			fail("tree: bad path %s", path);
		for (j = 0; j < tree_comps[i].k; j++)
			if (tree_comps[i].n[j] >= MAX_CLEN)
				fail("tree: component too long in %s", path);
		tree[i] = (struct pg_cgroup){ .path = path,
					      .id = 0x100000000ULL * (i % 3) + 4099 + 13 * i,
					      .level = (int)tree_comps[i].k,
					      .delegated = tree_src[i].delegated };
		parent_of[i] = -1;
		if (i == 0)
			continue;
		for (j = 0; j < NTREE; j++) {
			size_t plen = slash == path ? 1 : (size_t)(slash - path);

			if (strlen(tree_src[j].path) == plen &&
			    !strncmp(tree_src[j].path, path, plen))
				parent_of[i] = (int)j;
		}
		if (parent_of[i] < 0 || parent_of[i] >= (int)i)
			fail("tree: %s has no parent listed before it", path);
		if (tree[parent_of[i]].delegated && !tree[i].delegated)
			fail("tree: %s is below a delegated cgroup", path);
		if (tree[i].level > ANCESTORS - 1)
			fail("tree: %s is too deep", path);
	}
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		fail("cannot open /dev/null");
	verbose = getenv("FUZZ_POLICY_VERBOSE") && *getenv("FUZZ_POLICY_VERBOSE") == '1';
}

/* --- in-memory files -------------------------------------------------------- */

#define NVFILES 4
static const char *const vpath[NVFILES] = {
	"/p/portgate.conf",
	"/p/a.conf",
	"/p/b.conf",
	"/p/conf.d/10.conf",
};
static const char vsep[] = "\n#--file--\n";

/*
 * Bytes one input may read through includes: a file included under many
 * names ("../p/a.conf", "conf.d/../a.conf") multiplies the text to parse, and
 * 256 such files would take most of the fuzzing time. Past this, reads fail
 * with EMFILE (the 256-file limit stays reachable with short files).
 */
#define VFS_BUDGET (128u << 10)

struct vfs {
	const char *buf[NVFILES];
	size_t len[NVFILES];
	bool present[NVFILES];
	size_t served;
	struct pg_srcs srcs; /* what was read, for the source lines of diagnostics */
};

static void vfs_split(const uint8_t *data, size_t size, struct vfs *fs)
{
	const char *s = (const char *)data, *end = s + size;
	size_t i;

	memset(fs, 0, sizeof(*fs));
	for (i = 0; i < NVFILES; i++) {
		const char *e =
		    i + 1 < NVFILES ? memmem(s, (size_t)(end - s), vsep, sizeof(vsep) - 1) : NULL;

		fs->present[i] = true;
		fs->buf[i] = s;
		fs->len[i] = e ? (size_t)(e - s) : (size_t)(end - s);
		if (!e)
			break;
		s = e + sizeof(vsep) - 1;
	}
}

/* What the file system would make of path: ".", ".." and "//" resolved. */
static char *norm_path(const char *in)
{
	size_t n = strlen(in);
	char *out = xmalloc(n + 2);
	size_t o = 0;
	const char *s = in;

	while (*s) {
		size_t k;

		while (*s == '/')
			s++;
		k = strcspn(s, "/");
		if (!k)
			break;
		if (k == 1 && s[0] == '.') {
			/* nothing */
		} else if (k == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, s, k);
			o += k;
		}
		s += k;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

static int vfs_read(void *ud, const char *path, char **buf, size_t *len)
{
	struct vfs *fs = ud;
	char *n;
	int err = -ENOENT;
	size_t i;

	if (path[0] != '/')
		return -ENOENT;
	n = norm_path(path);
	if (!strcmp(n, "/p/eio.conf"))
		err = -EIO;
	else if (!strcmp(n, "/p/big.conf"))
		err = -EFBIG;
	else if (!strcmp(n, "/p") || !strcmp(n, "/p/conf.d"))
		err = -EISDIR;
	for (i = 0; i < NVFILES && err == -ENOENT; i++) {
		if (!fs->present[i] || strcmp(n, vpath[i]))
			continue;
		if (fs->served + fs->len[i] > VFS_BUDGET) {
			err = -EMFILE;
			break;
		}
		fs->served += fs->len[i];
		*buf = xmalloc(fs->len[i]);
		memcpy(*buf, fs->buf[i], fs->len[i]);
		*len = fs->len[i];
		if (pg_srcs_add(&fs->srcs, path, fs->buf[i], fs->len[i]))
			fail("out of memory");
		err = 0;
	}
	free(n);
	return err;
}

static int vfs_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	const struct vfs *fs = ud;
	const char *slash;
	char *np, **v;
	size_t k = 0, dlen;
	bool literal_dir;
	int i;

	if (pattern[0] != '/')
		return -ENOENT;
	np = norm_path(pattern);
	if (!strncmp(np, "/p/err/", 7)) {
		free(np);
		return -EACCES;
	}
	/* As glob(3): a match is named under the pattern's own directory
	 * (a pattern in /p/conf.d/.. gives /p/conf.d/../a.conf) when only the
	 * last component has pattern characters. */
	slash = strrchr(pattern, '/');
	dlen = (size_t)(slash - pattern) + 1;
	literal_dir = !memchr(pattern, '*', dlen) && !memchr(pattern, '?', dlen) &&
		      !memchr(pattern, '[', dlen);
	v = xcalloc(NVFILES, sizeof(*v));
	/* Backwards: the parser must sort. */
	for (i = NVFILES - 1; i >= 0; i--) {
		const char *base = strrchr(vpath[i], '/') + 1;

		if (!fs->present[i] || fnmatch(np, vpath[i], FNM_PATHNAME | FNM_PERIOD))
			continue;
		if (literal_dir) {
			v[k] = xmalloc(dlen + strlen(base) + 1);
			memcpy(v[k], pattern, dlen);
			strcpy(v[k] + dlen, base);
		} else {
			v[k] = strdup(vpath[i]);
			if (!v[k])
				fail("out of memory");
		}
		k++;
	}
	free(np);
	*out = v;
	*n = k;
	return 0;
}

/* --- users and groups --------------------------------------------------------- */

struct name_id {
	const char *name;
	uint32_t id;
};

static const struct name_id users[] = {
	{ "root", 0 }, { "www-data", 33 }, { "named", 53 }, { "alice", 1000 }, { "nobody", 65534 },
};
static const struct name_id groups[] = {
	{ "root", 0 }, { "www-data", 33 }, { "web", 44 }, { "users", 100 }, { "nogroup", 65534 },
};

static int lookup(const struct name_id *t, size_t n, const char *name, uint32_t *id)
{
	size_t i;

	if (!strcmp(name, "ldap-down"))
		return -EIO;
	for (i = 0; i < n; i++) {
		if (!strcmp(t[i].name, name)) {
			*id = t[i].id;
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_user(void *ud, const char *name, uint32_t *uid)
{
	return lookup(users, ARRAY_SIZE(users), name, uid);
}

static int fake_group(void *ud, const char *name, uint32_t *gid)
{
	return lookup(groups, ARRAY_SIZE(groups), name, gid);
}

static const struct pg_id_ops id_ops = { fake_user, fake_group, NULL, NULL };

/* The id a user= or group= value stands for, by the man page. */
static uint32_t ref_id(const char *name, bool user)
{
	uint32_t id = 0;

	if (*name && name[strspn(name, "0123456789")] == '\0') {
		unsigned long long v = strtoull(name, NULL, 10);

		if (v > 4294967294ULL)
			fail("%s id %s out of range was accepted", user ? "user" : "group", name);
		return (uint32_t)v;
	}
	if ((user ? fake_user : fake_group)(NULL, name, &id))
		fail("unknown %s '%s' was resolved without an error", user ? "user" : "group",
		     name);
	return id;
}

/* --- a deterministic generator seeded from the input ----------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static uint64_t hash_bytes(const uint8_t *d, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 0x100000001b3ULL;
	return h;
}

/* --- range sets ------------------------------------------------------------ */

struct rset {
	struct pg_range *v;
	size_t n, cap;
};

static void rs_push(struct rset *s, unsigned int lo, unsigned int hi)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			fail("out of memory");
	}
	s->v[s->n++] = (struct pg_range){ (uint16_t)lo, (uint16_t)hi };
}

static int cmp_rng(const void *a, const void *b)
{
	const struct pg_range *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sort and merge overlapping and adjacent ranges. */
static void rs_norm(struct rset *s)
{
	size_t i, k = 0;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_rng);
	for (i = 1; i < s->n; i++) {
		if ((unsigned int)s->v[i].lo <= (unsigned int)s->v[k].hi + 1) {
			if (s->v[i].hi > s->v[k].hi)
				s->v[k].hi = s->v[i].hi;
		} else {
			s->v[++k] = s->v[i];
		}
	}
	s->n = k + 1;
}

static uint64_t rs_size(const struct rset *s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		n += (uint64_t)s->v[i].hi - s->v[i].lo + 1;
	return n;
}

/* Append a ∩ b (both sorted, disjoint) to out. */
static void rs_isect(const struct pg_range *a, size_t na, const struct pg_range *b, size_t nb,
		     struct rset *out)
{
	size_t i = 0, j = 0;

	while (i < na && j < nb) {
		unsigned int lo = a[i].lo > b[j].lo ? a[i].lo : b[j].lo;
		unsigned int hi = a[i].hi < b[j].hi ? a[i].hi : b[j].hi;

		if (lo <= hi)
			rs_push(out, lo, hi);
		if (a[i].hi < b[j].hi)
			i++;
		else
			j++;
	}
}

static bool in_ranges(const struct pg_range *r, size_t n, uint32_t port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	return false;
}

static uint32_t proto_bit(uint32_t proto)
{
	return proto == PG_P_TCP ? PG_PROTO_TCP : proto == PG_P_UDP ? PG_PROTO_UDP : PG_PROTO_OTHER;
}

static const char *proto_str(uint32_t proto)
{
	return proto == PG_P_TCP ? "tcp" : proto == PG_P_UDP ? "udp" : "other";
}

/* --- the parsed policy keeps policy.h's promises ---------------------------- */

static void check_ranges(const struct pg_range *r, size_t n, const char *what)
{
	size_t i;

	if (!n)
		fail("%s: empty port list", what);
	for (i = 0; i < n; i++) {
		if (!r[i].lo || r[i].lo > r[i].hi)
			fail("%s: bad range %u-%u", what, r[i].lo, r[i].hi);
		if (i && (unsigned int)r[i].lo <= (unsigned int)r[i - 1].hi + 1)
			fail("%s: ranges %u-%u and %u-%u not sorted and merged", what, r[i - 1].lo,
			     r[i - 1].hi, r[i].lo, r[i].hi);
	}
}

static bool is_wild(const uint8_t a[16])
{
	static const uint8_t any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, any6, 16) || !memcmp(a, any4, 16);
}

/* Do the first plen bits of a and b agree? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int plen)
{
	unsigned int i;

	for (i = 0; i < plen; i++) {
		unsigned int bit = 7 - (i & 7);

		if (((a[i / 8] >> bit) & 1) != ((b[i / 8] >> bit) & 1))
			return false;
	}
	return true;
}

static bool has_cond(const struct pg_rule *r)
{
	return r->cond.has_user || r->cond.has_group || r->cond.has_addr;
}

static void check_shape(const struct pg_policy *p)
{
	static const uint8_t zero[16];
	size_t i;

	if (!p->nfiles || p->nfiles > PG_POL_MAX_FILES || strcmp(p->files[0], vpath[0]))
		fail("files: %zu, first %s", p->nfiles, p->nfiles ? p->files[0] : "-");
	check_ranges(p->protect, p->nprotect, "protect");
	if (p->def != PG_DEFAULT_UNSET && p->def != PG_DEFAULT_DENY && p->def != PG_DEFAULT_KERNEL)
		fail("default %d", p->def);
	if (p->mode_set && p->mode != PG_MODE_AUTO && p->mode != PG_MODE_GRANT &&
	    p->mode != PG_MODE_SYSCTL)
		fail("mode %d", p->mode);
	if (p->nnetns > PG_POL_MAX_NETNS)
		fail("%zu netns", p->nnetns);
	for (i = 0; i < p->nnetns; i++)
		if (!p->netns[i].path || p->netns[i].path[0] != '/')
			fail("netns %zu: not absolute", i);
	for (i = 0; i < p->nrules; i++) {
		const struct pg_rule *r = &p->rules[i];
		const struct pg_cond *c = &r->cond;
		uint8_t masked[16];
		unsigned int b;

		if (r->action != PG_ALLOW && r->action != PG_DENY)
			fail("rule %zu: action %d", i, r->action);
		if (!r->selector || !r->text ||
		    (r->pod ? !r->pod_key || strncmp(r->selector, "pod:", 4) || r->pod_key[0] != 'p'
			    : r->selector[0] != '/' || r->pod_key))
			fail("rule %zu: selector or text missing", i);
		if (!r->protos || (r->protos & ~PG_PROTO_ANY))
			fail("rule %zu: protos %#x", i, r->protos);
		if (r->loc.file >= p->nfiles || r->loc.line == 0)
			fail("rule %zu: location %u:%u", i, r->loc.file, r->loc.line);
		check_ranges(r->ports, r->nports, r->text);
		if ((c->has_user && !c->user) || (c->has_group && !c->group))
			fail("rule %zu: condition without its text", i);
		if (!c->has_addr)
			continue;
		if (c->plen > 128)
			fail("rule %s: prefix %u", r->text, c->plen);
		if (c->addr_v4 && (c->plen < 96 || memcmp(c->addr, zero, 10) ||
				   c->addr[10] != 0xff || c->addr[11] != 0xff))
			fail("rule %s: IPv4 address not stored as ::ffff:a.b.c.d/96+n", r->text);
		memset(masked, 0, sizeof(masked));
		for (b = 0; b < c->plen; b++)
			masked[b / 8] |= c->addr[b / 8] & (0x80 >> (b & 7));
		if (memcmp(masked, c->addr, 16))
			fail("rule %s: host bits set", r->text);
		if (c->plen == 128 && is_wild(c->addr))
			fail("rule %s: the wildcard address as a condition", r->text);
	}
}

static void check_diags(const struct pg_diags *d, const struct pg_policy *p)
{
	size_t i, nerr = 0;

	if (d->n > d->cap)
		fail("diags: n %zu > cap %zu", d->n, d->cap);
	for (i = 0; i < d->n; i++) {
		const struct pg_diag *g = &d->v[i];

		if (g->sev != PG_SEV_ERROR && g->sev != PG_SEV_WARNING)
			fail("diag %zu: severity %d", i, g->sev);
		nerr += g->sev == PG_SEV_ERROR;
		if (!g->msg)
			fail("diag %zu: no message", i);
		if (p && g->loc.file >= p->nfiles)
			fail("diag %zu (%s): file %u of %zu", i, g->msg, g->loc.file, p->nfiles);
	}
	if (nerr != d->nerrors)
		fail("diags: %zu errors stored, %zu counted", nerr, d->nerrors);
	pg_diags_print(d, p, devnull);
}

/*
 * What check shows, with source lines: nothing a terminal acts on (no
 * control byte but the line ends, no C1 control or invisible character,
 * UTF-8 only), whatever bytes the files hold.
 */
static void check_render(const struct pg_diags *d, const struct pg_policy *p,
			 const struct pg_srcs *srcs)
{
	const struct pg_render_opts o = { srcs, PG_DIAGS_SHOWN, true };
	char *s = NULL, *e;
	size_t n = 0, i, k, bad;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		fail("out of memory");
	pg_diags_render(d, p, &o, f);
	if (fclose(f))
		fail("out of memory");
	if (!pg_utf8_valid(s, n, &bad))
		fail("rendered diagnostics are not UTF-8 at byte %zu", bad);
	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
			fail("rendered diagnostics hold the byte 0x%02x at %zu", s[i], i);
	/* Escaping the shown text again changes nothing but the line ends. */
	e = pg_escape(s, n);
	if (!e)
		fail("out of memory");
	for (i = 0, k = 0; i < n; i++, k++) {
		if (s[i] != '\n' ? e[k] != s[i] : strncmp(e + k, "\\x0a", 4))
			fail("rendered diagnostics hold something shown escaped at byte %zu", i);
		k += s[i] == '\n' ? 3 : 0;
	}
	free(e);
	free(s);
}

/* --- the whole-policy findings of the parser --------------------------------- */

static bool ranges_meet(const struct pg_range *a, size_t na, const struct pg_range *b, size_t nb)
{
	size_t i = 0, j = 0;

	while (i < na && j < nb) {
		if (a[i].hi < b[j].lo)
			i++;
		else if (b[j].hi < a[i].lo)
			j++;
		else
			return true;
	}
	return false;
}

struct sel_ix {
	const char *sel;
	const struct pg_rule *r;
	size_t i;
};

static int cmp_opt(bool ha, const char *a, bool hb, const char *b)
{
	if (ha != hb)
		return ha ? 1 : -1;
	return ha ? strcmp(a, b) : 0;
}

/* An order of (action, conditions as written); 0: "the same conditions". */
static int cmp_cond_ix_class(const struct sel_ix *x, const struct sel_ix *y)
{
	const struct pg_rule *ra = x->r, *rb = y->r;
	const struct pg_cond *a = &ra->cond, *b = &rb->cond;
	int c;

	if (ra->action != rb->action)
		return ra->action < rb->action ? -1 : 1;
	if ((c = cmp_opt(a->has_user, a->user, b->has_user, b->user)) ||
	    (c = cmp_opt(a->has_group, a->group, b->has_group, b->group)))
		return c;
	if (a->has_addr != b->has_addr)
		return a->has_addr ? 1 : -1;
	if (!a->has_addr)
		return 0;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

static int cmp_cond_ix(const void *a, const void *b)
{
	const struct sel_ix *x = a, *y = b;
	int c = cmp_cond_ix_class(x, y);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Conditional rules cls[0..nc) (ascending, one selector and action): those
 * with at least 16 earlier ones on one protocol and port get "more than 16
 * ... rules with conditions" (an error of check). Over port segments cut at
 * every range's ends.
 */
static void expect_alts(const struct pg_policy *p, const size_t *cls, size_t nc, bool *alt)
{
	uint32_t *pt = NULL, *cnt = NULL, proto;
	size_t cap = 0, k, q, j;

	for (proto = PG_P_TCP; proto <= PG_P_OTHER; proto++) {
		size_t npt = 0;

		for (k = 0; k < nc; k++) {
			const struct pg_rule *r = &p->rules[cls[k]];

			if (!(r->protos & proto_bit(proto)))
				continue;
			for (q = 0; q < r->nports; q++) {
				if (npt + 2 > cap) {
					cap = 2 * (npt + 2);
					pt = realloc(pt, cap * sizeof(*pt));
					if (!pt)
						fail("out of memory");
				}
				pt[npt++] = r->ports[q].lo;
				pt[npt++] = (uint32_t)r->ports[q].hi + 1;
			}
		}
		if (!npt)
			continue;
		qsort(pt, npt, sizeof(*pt), cmp_u32);
		for (j = 1, q = 1; j < npt; j++)
			if (pt[j] != pt[q - 1])
				pt[q++] = pt[j];
		npt = q;
		free(cnt);
		cnt = xcalloc(npt, sizeof(*cnt));
		/* segment s is [pt[s], pt[s + 1]); a range covers whole segments */
		for (k = 0; k < nc; k++) {
			const struct pg_rule *r = &p->rules[cls[k]];

			if (!(r->protos & proto_bit(proto)))
				continue;
			for (q = 0; q < r->nports; q++) {
				uint32_t key = r->ports[q].lo;
				const uint32_t *at = bsearch(&key, pt, npt, sizeof(*pt), cmp_u32);
				size_t s;

				if (!at)
					fail("expect_alts: no segment starts at %u", key);
				for (s = (size_t)(at - pt); s + 1 < npt && pt[s] <= r->ports[q].hi;
				     s++)
					if (cnt[s]++ >= MAX_ALT)
						alt[cls[k]] = true;
			}
		}
	}
	free(pt);
	free(cnt);
}

static int cmp_sel_ix(const void *a, const void *b)
{
	const struct sel_ix *x = a, *y = b;
	int c = strcmp(x->sel, y->sel);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

struct line_ix {
	struct pg_loc loc;
	size_t i;
};

static int cmp_line_ix(const void *a, const void *b)
{
	const struct line_ix *x = a, *y = b;

	if (x->loc.file != y->loc.file)
		return x->loc.file < y->loc.file ? -1 : 1;
	return (x->loc.line > y->loc.line) - (x->loc.line < y->loc.line);
}

static bool loc_eq(struct pg_loc a, struct pg_loc b)
{
	return a.file == b.file && a.line == b.line && a.col == b.col;
}

enum { F_CONFLICT, F_DUP, F_ALT, F_UNPROT, F__NR };

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static int finding_kind(const char *m)
{
	if (starts(m, "allow conflicts with ") || starts(m, "deny conflicts with "))
		return F_CONFLICT;
	if (starts(m, "duplicates the rule at "))
		return F_DUP;
	if (starts(m, "more than 16 allow rules with conditions on '") ||
	    starts(m, "more than 16 deny rules with conditions on '"))
		return F_ALT;
	if ((starts(m, "port ") || starts(m, "ports ")) && strstr(m, " not protected (protect "))
		return F_UNPROT;
	return -1;
}

/*
 * portgate.conf(5), CONFLICTS and PROTOCOLS AND PORTS: for each rule, which
 * of these the parser reports, against the rules it kept.
 */
static void check_findings(const struct pg_policy *p, const struct pg_diags *d)
{
	static const char *const kind[F__NR] = { "conflict", "duplicate", "alternatives",
						 "unprotected" };
	size_t n = p->nrules, i, j, ga, gb, ca, cb, x, y;
	bool *want = xcalloc(n * F__NR, 1), *alt = xcalloc(n, 1);
	unsigned char *got = xcalloc(n * F__NR, 1);
	struct sel_ix *ix = xcalloc(n, sizeof(*ix)), *cx = xcalloc(n, sizeof(*cx));
	size_t *cls = xcalloc(n, sizeof(*cls));
	struct line_ix *lx = xcalloc(n, sizeof(*lx)), key = { { 0 }, 0 };
	const struct line_ix *at;
	struct rset out = { 0 }, all = { 0 };

	for (i = 0; i < n; i++) {
		/* pod selectors are one selector when their canonical forms are */
		ix[i] = (struct sel_ix){ p->rules[i].pod_key ? p->rules[i].pod_key
							     : p->rules[i].selector,
					 &p->rules[i], i };
		lx[i] = (struct line_ix){ p->rules[i].loc, i };
		/* ports outside protect: the rule minus (rule ∩ protect) */
		out.n = 0;
		rs_isect(p->rules[i].ports, p->rules[i].nports, p->protect, p->nprotect, &out);
		all.n = 0;
		for (j = 0; j < p->rules[i].nports; j++)
			rs_push(&all, p->rules[i].ports[j].lo, p->rules[i].ports[j].hi);
		want[i * F__NR + F_UNPROT] = rs_size(&out) != rs_size(&all);
	}
	qsort(ix, n, sizeof(*ix), cmp_sel_ix);
	qsort(lx, n, sizeof(*lx), cmp_line_ix);
	for (i = 1; i < n; i++)
		if (!cmp_line_ix(&lx[i - 1], &lx[i]))
			fail("two rules at %u:%u", lx[i].loc.file, lx[i].loc.line);
	for (ga = 0; ga < n; ga = gb) {
		int act;

		for (gb = ga + 1; gb < n && !strcmp(ix[gb].sel, ix[ga].sel); gb++)
			;
		/* Conflicts: an earlier rule of the other action. */
		for (x = ga; x < gb; x++) {
			const struct pg_rule *a = &p->rules[ix[x].i];

			for (y = ga; y < x; y++) {
				const struct pg_rule *b = &p->rules[ix[y].i];

				if (a->action != b->action && (a->protos & b->protos) &&
				    ranges_meet(a->ports, a->nports, b->ports, b->nports)) {
					want[ix[x].i * F__NR + F_CONFLICT] = true;
					break;
				}
			}
		}
		/* Duplicates: an earlier rule of the same action and conditions. */
		memcpy(cx, ix + ga, (gb - ga) * sizeof(*cx));
		qsort(cx, gb - ga, sizeof(*cx), cmp_cond_ix);
		for (ca = 0; ca < gb - ga; ca = cb) {
			for (cb = ca + 1; cb < gb - ga && !cmp_cond_ix_class(&cx[ca], &cx[cb]);
			     cb++)
				;
			for (x = ca; x < cb; x++) {
				const struct pg_rule *a = &p->rules[cx[x].i];

				for (y = ca; y < x; y++) {
					const struct pg_rule *b = &p->rules[cx[y].i];

					if ((a->protos & b->protos) &&
					    ranges_meet(a->ports, a->nports, b->ports, b->nports)) {
						want[cx[x].i * F__NR + F_DUP] = true;
						break;
					}
				}
			}
		}
		for (act = PG_ALLOW; act <= PG_DENY; act++) {
			size_t nc = 0;

			for (x = ga; x < gb; x++)
				if (p->rules[ix[x].i].action == (enum pg_action)act &&
				    has_cond(&p->rules[ix[x].i]))
					cls[nc++] = ix[x].i;
			if (nc > MAX_ALT)
				expect_alts(p, cls, nc, alt);
		}
	}
	for (i = 0; i < n; i++)
		want[i * F__NR + F_ALT] = alt[i];
	for (j = 0; j < d->n; j++) {
		const struct pg_diag *g = &d->v[j];
		int k = g->msg ? finding_kind(g->msg) : -1;

		if (k < 0)
			continue;
		if ((k == F_CONFLICT || k == F_ALT) != (g->sev == PG_SEV_ERROR))
			fail("'%s' has the wrong severity", g->msg);
		/* One statement a line: find the rule by file and line. */
		key.loc = g->loc;
		at = bsearch(&key, lx, n, sizeof(*lx), cmp_line_ix);
		i = at ? at->i : n;
		if (i == n ||
		    !loc_eq(g->loc, k == F_UNPROT ? p->rules[i].ports_loc : p->rules[i].loc))
			fail("'%s' at %u:%u:%u belongs to no rule", g->msg, g->loc.file,
			     g->loc.line, g->loc.col);
		if (got[i * F__NR + k]++)
			fail("%s reported twice for '%s'", kind[k], p->rules[i].text);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < F__NR; j++)
			if (want[i * F__NR + j] != !!got[i * F__NR + j])
				fail("%s %s for rule %zu '%s' (%s:%u)", kind[j],
				     want[i * F__NR + j] ? "not reported" : "reported", i,
				     p->rules[i].text, p->files[p->rules[i].loc.file],
				     p->rules[i].loc.line);
	free(out.v);
	free(all.v);
	free(want);
	free(alt);
	free(got);
	free(ix);
	free(cx);
	free(lx);
	free(cls);
}

/* --- round trips: rule text and pg_rule_spec() parse back ---------------- */

static void check_same_ports(const struct pg_rule *a, const struct pg_rule *b, const char *what)
{
	if (a->protos != b->protos || a->nports != b->nports ||
	    memcmp(a->ports, b->ports, a->nports * sizeof(*a->ports)))
		fail("%s: '%s' parses back to other protocols or ports", what, a->text);
}

static void check_roundtrips(const struct pg_policy *p)
{
	size_t i, len = 1, off = 0;
	struct pg_diags d = { 0 };
	struct pg_policy *q;
	char **spec = xcalloc(p->nrules, sizeof(*spec));
	char *buf;

	/* Each rule's text, one a line (CR LF: the parser drops one CR). */
	for (i = 0; i < p->nrules; i++)
		len += strlen(p->rules[i].text) + 2;
	buf = xmalloc(len);
	for (i = 0; i < p->nrules; i++)
		off += (size_t)sprintf(buf + off, "%s\r\n", p->rules[i].text);
	q = pg_policy_parse_buf("text.conf", buf, off, NULL, &d);
	if (!q)
		fail("out of memory");
	check_diags(&d, q);
	if (d.nerrors || q->nrules != p->nrules) {
		pg_diags_print(&d, q, stderr);
		fail("rule texts parse back with %zu errors into %zu of %zu rules", d.nerrors,
		     q->nrules, p->nrules);
	}
	for (i = 0; i < p->nrules; i++) {
		const struct pg_rule *a = &p->rules[i], *b = &q->rules[i];
		const struct pg_cond *x = &a->cond, *y = &b->cond;

		check_same_ports(a, b, "text");
		if (a->action != b->action || strcmp(a->selector, b->selector) ||
		    strcmp(a->text, b->text) || x->has_user != y->has_user ||
		    x->has_group != y->has_group || x->has_addr != y->has_addr ||
		    (x->has_user && strcmp(x->user, y->user)) ||
		    (x->has_group && strcmp(x->group, y->group)) ||
		    (x->has_addr && (x->plen != y->plen || x->addr_v4 != y->addr_v4 ||
				     memcmp(x->addr, y->addr, 16))))
			fail("text: '%s' parses back to another rule ('%s')", a->text, b->text);
	}
	pg_policy_free(q);
	pg_diags_free(&d);
	free(buf);

	/* "allow / SPEC" for each rule. */
	len = 1;
	for (i = 0; i < p->nrules; i++) {
		spec[i] = pg_rule_spec(&p->rules[i]);
		if (!spec[i])
			fail("out of memory");
		len += strlen(spec[i]) + 10;
	}
	buf = xmalloc(len);
	off = 0;
	for (i = 0; i < p->nrules; i++)
		off += (size_t)sprintf(buf + off, "allow / %s\n", spec[i]);
	q = pg_policy_parse_buf("spec.conf", buf, off, NULL, &d);
	if (!q)
		fail("out of memory");
	check_diags(&d, q);
	if (d.nerrors || q->nrules != p->nrules) {
		pg_diags_print(&d, q, stderr);
		fail("pg_rule_spec() output parses back with %zu errors", d.nerrors);
	}
	for (i = 0; i < p->nrules; i++)
		check_same_ports(&p->rules[i], &q->rules[i], spec[i]);
	pg_policy_free(q);
	pg_diags_free(&d);
	free(buf);
	for (i = 0; i < p->nrules; i++)
		free(spec[i]);
	free(spec);
}

/* --- the reference --------------------------------------------------------- */

/* One selector component against one path component: DP, '*' any run. */
static bool ref_comp(const char *p, size_t pn, const char *s, size_t sn)
{
	bool dp[MAX_CLEN + 1], nx[MAX_CLEN + 1];
	size_t i, j;

	if (sn > MAX_CLEN)
		fail("path component of %zu bytes", sn);
	dp[0] = true;
	for (j = 1; j <= sn; j++)
		dp[j] = false;
	for (i = 0; i < pn; i++) {
		if (p[i] == '*') {
			bool any = false;

			for (j = 0; j <= sn; j++)
				nx[j] = any = any || dp[j];
		} else {
			nx[0] = false;
			for (j = 1; j <= sn; j++)
				nx[j] = dp[j - 1] && s[j - 1] == p[i];
		}
		memcpy(dp, nx, (sn + 1) * sizeof(*dp));
	}
	return dp[sn];
}

/* A selector against a path split in components, "**" any run of whole components. */
static bool ref_glob(const char *sel, const struct comps *s)
{
	bool dp[ANCESTORS + 1], nx[ANCESTORS + 1];
	struct comps p;
	size_t i, j;

	if (!split_comps(sel, &p))
		fail("selector %s: more than %d components", sel, MAX_COMPS);
	dp[0] = true;
	for (j = 1; j <= s->k; j++)
		dp[j] = false;
	for (i = 0; i < p.k; i++) {
		if (p.n[i] == 2 && p.c[i][0] == '*' && p.c[i][1] == '*') {
			bool any = false;

			for (j = 0; j <= s->k; j++)
				nx[j] = any = any || dp[j];
		} else {
			nx[0] = false;
			for (j = 1; j <= s->k; j++)
				nx[j] =
				    dp[j - 1] && ref_comp(p.c[i], p.n[i], s->c[j - 1], s->n[j - 1]);
		}
		memcpy(dp, nx, (s->k + 1) * sizeof(*dp));
	}
	return dp[s->k];
}

/*
 * A cgroup of the reference: the tree's (index < NTREE, as in tree[]), then
 * the paths of the path table that are not in the tree, "virtual": a cgroup
 * made there later is found by path, so rules that name the path make it a
 * node now (portgate.conf(5), CGROUPS THAT APPEAR LATER).
 */
struct ucg {
	const char *path;
	struct comps comps;
	int parent;	/* -1 for "/" */
	int level;	/* components */
	bool exists;	/* in the tree */
	bool delegated; /* the tree's flag; virtual: its nearest existing ancestor's */
	long pix;	/* index into ref.paths, or -1: not in the path table */
	int kid, sib;	/* first child, next sibling; -1 none */
};

struct ref {
	const struct pg_policy *p;
	size_t nr;
	struct ucg *u; /* NTREE of the tree, then the virtual ones */
	size_t nu;
	char **paths;		/* the path table: exact selectors but "/", and their */
	size_t npaths;		/* ancestors but "/", sorted (strcmp), distinct */
	size_t *path_u;		/* the cgroup of each path */
	uint64_t grans;		/* 16-byte granules of the paths' last components */
	uint32_t *uid, *gid;	/* per rule, when it has user= / group= */
	uint32_t *rcg;		/* the cgroups each rule names, ascending: */
	size_t *roff;		/* rule i's are rcg[roff[i] .. roff[i + 1]) */
	uint32_t *list;		/* the rules each cgroup carries, ascending: */
	size_t *off;		/* cgroup c's are list[off[c] .. off[c + 1]) */
	bool *node;		/* some rule names the cgroup */
	uint64_t levels;	/* levels of those cgroups */
	size_t nnodes, nvnodes; /* nodes, and of them virtual ones */
	uint64_t nents;		/* (cgroup, protocol class, protected port) with a rule */
	uint64_t work;		/* (cgroup, protocol class, port) that pg_compile() visits */
	uint64_t match;		/* cost of matching every glob against every cgroup */
	bool globs;		/* some selector has a '*' */
	bool refuse;		/* compile must fail: a conflict or too many alternatives */
	bool refuse_levels;	/* ... or, with neither, rules at too many levels */
	char why[256];		/* why it must */
	char **unmatched;	/* distinct selectors that name no cgroup of the tree */
	size_t nunmatched;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index into R->paths of path, or -1. */
static long ref_path_ix(const struct ref *R, const char *path)
{
	char *const *at;

	if (!R->npaths)
		return -1;
	at = bsearch(&path, R->paths, R->npaths, sizeof(*R->paths), cmp_str);
	return at ? (long)(at - R->paths) : -1;
}

/* The reference cgroup at path, or -1. */
static long ref_find(const struct ref *R, const char *path)
{
	long k;
	size_t cg;

	for (cg = 0; cg < NTREE; cg++)
		if (!strcmp(tree[cg].path, path))
			return (long)cg;
	k = ref_path_ix(R, path);
	return k < 0 ? -1 : (long)R->path_u[k];
}

/* Bytes of the last component of a path ("/a/bc": 2). */
static size_t last_len(const char *path)
{
	return strlen(strrchr(path, '/') + 1);
}

/*
 * The path table's paths, and the cgroups of the reference: the tree, then
 * each path not in it, with its parent (a path's ancestors are paths, or
 * "/") and, for globs, the delegated flag of its nearest existing ancestor.
 */
static void ref_universe(struct ref *R)
{
	const struct pg_policy *p = R->p;
	size_t i, k, n = 0, cap = 0;
	char **v = NULL;

	for (i = 0; i < p->nrules; i++) {
		const char *sel = p->rules[i].selector, *c;

		if (p->rules[i].pod || strchr(sel, '*') || !strcmp(sel, "/"))
			continue;
		for (c = sel + 1;; c++) {
			if (*c && *c != '/')
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = realloc(v, cap * sizeof(*v));
				if (!v)
					fail("out of memory");
			}
			v[n] = strndup(sel, (size_t)(c - sel));
			if (!v[n++])
				fail("out of memory");
			if (!*c)
				break;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	for (i = k = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1], v[i]))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	R->paths = v;
	R->npaths = k;
	R->path_u = xcalloc(k, sizeof(*R->path_u));
	R->u = xcalloc(NTREE + k, sizeof(*R->u));
	for (i = 0; i < NTREE; i++)
		R->u[i] = (struct ucg){ .path = tree[i].path,
					.comps = tree_comps[i],
					.parent = parent_of[i],
					.level = tree[i].level,
					.exists = true,
					.delegated = tree[i].delegated,
					.pix = -1 };
	R->nu = NTREE;
	for (k = 0; k < R->npaths; k++) {
		const char *path = R->paths[k];
		struct ucg *c;
		char *up;
		long pu;

		R->grans += (last_len(path) + PG_GRAN - 1) / PG_GRAN;
		for (i = 0; i < NTREE && strcmp(tree[i].path, path); i++)
			;
		if (i < NTREE) {
			R->u[i].pix = (long)k;
			R->path_u[k] = i;
			continue;
		}
		c = &R->u[R->nu];
		*c = (struct ucg){ .path = path, .pix = (long)k };
		if (!split_comps(path, &c->comps) || c->comps.k < 1)
			fail("path table: bad path %s", path);
		c->level = (int)c->comps.k;
		/* Sorted: the parent ("/a" of "/a/b") is placed already. */
		up = strndup(path, (size_t)(strrchr(path, '/') - path));
		if (!up)
			fail("out of memory");
		pu = *up ? ref_find(R, up) : 0;
		if (pu < 0 || pu >= (long)R->nu)
			fail("path table: no parent for %s", path);
		free(up);
		c->parent = (int)pu;
		c->delegated = R->u[pu].delegated;
		R->path_u[k] = R->nu++;
	}
	for (i = 0; i < R->nu; i++)
		R->u[i].kid = R->u[i].sib = -1;
	for (i = R->nu; i-- > 1;) {
		struct ucg *par = &R->u[R->u[i].parent];

		R->u[i].sib = par->kid;
		par->kid = (int)i;
	}
}

/* Does rule i name cgroup c? */
static bool names(const struct ref *R, size_t c, size_t i)
{
	const uint32_t key = (uint32_t)i;

	return R->off[c + 1] > R->off[c] &&
	       bsearch(&key, R->list + R->off[c], R->off[c + 1] - R->off[c], sizeof(key), cmp_u32);
}

/* False when matching would cost past MATCH_CAP. */
static bool ref_matches(struct ref *R)
{
	const struct pg_policy *p = R->p;
	size_t i, c, j, x, nc, n = 0, cap = 0;
	uint64_t gbytes = 0, pbytes = 0;
	struct {
		uint32_t c, rule;
	} *mv = NULL;

	for (c = 0; c < R->nu; c++)
		pbytes += strlen(R->u[c].path);
	for (i = 0; i < p->nrules; i++)
		if (!p->rules[i].pod && strchr(p->rules[i].selector, '*'))
			gbytes += strlen(p->rules[i].selector);
	R->match = gbytes * pbytes;
	if (R->match > MATCH_CAP)
		return false;

	R->roff = xcalloc(p->nrules + 1, sizeof(*R->roff));
	for (i = 0; i < p->nrules; i++) {
		const char *sel = p->rules[i].selector;
		bool exact = !strchr(sel, '*'), any = false;
		long at = exact ? ref_find(R, sel) : -1;

		R->roff[i] = n;
		if (p->rules[i].pod) {
			/* portgate.conf(5), Pod selectors: with no pods known
			 * (this target gives none), one selects no cgroup. */
			if (pg_selector_is_exact(sel) || pg_selector_is_glob(sel) ||
			    pg_selector_match(sel, "/"))
				fail("pod selector %s taken for a cgroup path", sel);
			goto unmatched;
		}
		if (pg_selector_is_exact(sel) != exact)
			fail("pg_selector_is_exact(\"%s\") = %d", sel, !exact);
		R->globs = R->globs || !exact;
		/* An exact selector names only its own path: past the tree, it
		 * is looked up, not matched against every virtual path. */
		nc = exact ? NTREE + (at >= (long)NTREE) : R->nu;
		for (x = 0; x < nc; x++) {
			size_t cg = exact && x == NTREE ? (size_t)at : x;
			const struct ucg *u = &R->u[cg];
			bool g, lib, hit;

			g = ref_glob(sel, &u->comps);
			lib = pg_selector_match(sel, u->path);
			if (g != lib)
				fail(
				    "pg_selector_match(\"%s\", \"%s\") = %d, the reference says %d",
				    sel, u->path, lib, g);
			if (exact && g != !strcmp(sel, u->path))
				fail("exact selector \"%s\" against \"%s\": glob %d, strcmp %d",
				     sel, u->path, g, !strcmp(sel, u->path));
			/* Globs never reach into a delegated subtree; for a path
			 * not made yet, it counts as its nearest existing
			 * ancestor does. */
			hit = exact ? (long)cg == at : g && !u->delegated;
			if (!hit)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				mv = realloc(mv, cap * sizeof(*mv));
				if (!mv)
					fail("out of memory");
			}
			mv[n].c = (uint32_t)cg;
			mv[n++].rule = (uint32_t)i;
			any = any || u->exists;
		}
		if (any)
			continue;
	unmatched:
		for (j = 0; j < R->nunmatched; j++)
			if (!strcmp(R->unmatched[j], sel))
				break;
		if (j == R->nunmatched)
			R->unmatched[R->nunmatched++] = p->rules[i].selector;
	}
	R->roff[p->nrules] = n;
	R->rcg = xcalloc(n, sizeof(*R->rcg));
	R->list = xcalloc(n, sizeof(*R->list));
	R->off = xcalloc(R->nu + 1, sizeof(*R->off));
	R->node = xcalloc(R->nu, sizeof(*R->node));
	/* By rule as matched; by cgroup, rules ascending (a counting sort). */
	for (j = 0; j < n; j++) {
		R->rcg[j] = mv[j].c;
		R->off[mv[j].c + 1]++;
	}
	for (c = 0; c < R->nu; c++)
		R->off[c + 1] += R->off[c];
	{
		size_t *fill = xcalloc(R->nu, sizeof(*fill));

		for (j = 0; j < n; j++)
			R->list[R->off[mv[j].c] + fill[mv[j].c]++] = mv[j].rule;
		free(fill);
	}
	free(mv);
	for (c = 0; c < R->nu; c++) {
		if (R->off[c + 1] == R->off[c])
			continue;
		R->node[c] = true;
		R->nnodes++;
		R->nvnodes += !R->u[c].exists;
		R->levels |= 1ULL << R->u[c].level;
	}
	return true;
}

static int cmp_ev(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

/*
 * Entries and refusals, per cgroup and protocol class, over protected ports
 * only: allow and deny rules meeting on a port, or more than 16 conditional
 * rules on one, make compile fail; so do, with neither, rules at more than
 * PG_MAX_LEVELS levels (a chain the BPF walk could not hold).
 */
static void ref_entries(struct ref *R)
{
	const struct pg_policy *p = R->p;
	struct rset act[2] = { { 0 } }, all = { 0 }, both = { 0 }, one = { 0 };
	int64_t *ev = NULL;
	size_t evcap = 0, cg, i;
	uint32_t proto;

	for (cg = 0; cg < R->nu; cg++) {
		if (!R->node[cg])
			continue;
		for (proto = PG_P_TCP; proto <= PG_P_OTHER; proto++) {
			size_t ncond = 0, nev = 0, k;
			int depth = 0;

			act[0].n = act[1].n = all.n = both.n = 0;
			for (i = R->off[cg]; i < R->off[cg + 1]; i++) {
				const struct pg_rule *r = &p->rules[R->list[i]];

				if (!(r->protos & proto_bit(proto)))
					continue;
				for (k = 0; k < r->nports; k++)
					R->work += (uint64_t)r->ports[k].hi - r->ports[k].lo + 1;
				one.n = 0;
				rs_isect(r->ports, r->nports, p->protect, p->nprotect, &one);
				for (k = 0; k < one.n; k++) {
					rs_push(&act[r->action == PG_DENY], one.v[k].lo,
						one.v[k].hi);
					rs_push(&all, one.v[k].lo, one.v[k].hi);
				}
				if (!has_cond(r) || !one.n)
					continue;
				ncond++;
				if (nev + 2 * one.n > evcap) {
					evcap = 2 * (nev + 2 * one.n);
					ev = realloc(ev, evcap * sizeof(*ev));
					if (!ev)
						fail("out of memory");
				}
				/* ends sort before starts at the same port */
				for (k = 0; k < one.n; k++) {
					ev[nev++] = 2 * (int64_t)one.v[k].lo + 1;
					ev[nev++] = 2 * ((int64_t)one.v[k].hi + 1);
				}
			}
			rs_norm(&all);
			R->nents += rs_size(&all);
			rs_norm(&act[0]);
			rs_norm(&act[1]);
			rs_isect(act[0].v, act[0].n, act[1].v, act[1].n, &both);
			if (both.n && !R->refuse) {
				R->refuse = true;
				snprintf(R->why, sizeof(R->why),
					 "allow and deny rules meet on cgroup %s for %s/%u",
					 R->u[cg].path, proto_str(proto), both.v[0].lo);
			}
			if (ncond <= MAX_ALT)
				continue;
			qsort(ev, nev, sizeof(*ev), cmp_ev);
			for (k = 0; k < nev; k++) {
				depth += (ev[k] & 1) ? 1 : -1;
				if (depth > MAX_ALT && !R->refuse) {
					R->refuse = true;
					snprintf(R->why, sizeof(R->why),
						 "more than %d conditional rules on cgroup %s for "
						 "%s/%u",
						 MAX_ALT, R->u[cg].path, proto_str(proto),
						 (unsigned int)(ev[k] / 2));
				}
			}
		}
	}
	if (!R->refuse && __builtin_popcountll(R->levels) > PG_MAX_LEVELS) {
		R->refuse_levels = true;
		snprintf(R->why, sizeof(R->why), "rules sit at %d levels (%#llx)",
			 __builtin_popcountll(R->levels), (unsigned long long)R->levels);
	}
	free(act[0].v);
	free(act[1].v);
	free(all.v);
	free(both.v);
	free(one.v);
	free(ev);
}

/* False when the input is too costly to check (MATCH_CAP). */
static bool ref_init(struct ref *R, const struct pg_policy *p)
{
	size_t i;

	memset(R, 0, sizeof(*R));
	R->p = p;
	R->nr = p->nrules;
	R->uid = xcalloc(p->nrules, sizeof(*R->uid));
	R->gid = xcalloc(p->nrules, sizeof(*R->gid));
	R->unmatched = xcalloc(p->nrules, sizeof(*R->unmatched));
	for (i = 0; i < p->nrules; i++) {
		const struct pg_cond *c = &p->rules[i].cond;

		if (c->has_user && (R->uid[i] = ref_id(c->user, true)) != c->uid)
			fail("user=%s resolved to %u, expected %u", c->user, c->uid, R->uid[i]);
		if (c->has_group && (R->gid[i] = ref_id(c->group, false)) != c->gid)
			fail("group=%s resolved to %u, expected %u", c->group, c->gid, R->gid[i]);
	}
	ref_universe(R);
	if (!ref_matches(R))
		return false;
	ref_entries(R);
	return true;
}

static void ref_free(struct ref *R)
{
	size_t i;

	for (i = 0; i < R->npaths; i++)
		free(R->paths[i]);
	free(R->paths);
	free(R->path_u);
	free(R->u);
	free(R->rcg);
	free(R->roff);
	free(R->list);
	free(R->off);
	free(R->node);
	free(R->uid);
	free(R->gid);
	free(R->unmatched);
}

struct query {
	size_t cg;
	uint32_t proto, port, uid, gid;
	uint8_t addr[16];
};

enum { BY_DEFAULT, BY_UNCOND, BY_COND };

struct answer {
	int v;	   /* PG_V_*, or -1: the port is not protected */
	int depth; /* steps up from the socket's cgroup to the deciding one, or -1 */
	int how;   /* BY_* */
	uint32_t rule;
};

static bool ref_protected(const struct pg_policy *p, uint32_t port)
{
	return port != 0 && in_ranges(p->protect, p->nprotect, port);
}

static bool ref_cond(const struct ref *R, size_t i, const struct query *q)
{
	const struct pg_cond *c = &R->p->rules[i].cond;

	if (c->has_user && R->uid[i] != q->uid)
		return false;
	if (c->has_group && R->gid[i] != q->gid)
		return false;
	if (!c->has_addr)
		return true;
	/* "A bind to the wildcard address (0.0.0.0, :: or ::ffff:0.0.0.0)
	 * matches only rules without addr=". */
	if (is_wild(q->addr))
		return false;
	if (c->addr_v4) {
		/* IPv4 rules match IPv4 binds, seen as ::ffff:a.b.c.d. */
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		return !memcmp(q->addr, mapped, 12) &&
		       prefix_eq(q->addr + 12, c->addr + 12, c->plen - 96u);
	}
	return prefix_eq(q->addr, c->addr, c->plen);
}

/* portgate.conf(5), "AUDIT ROLLOUT": under rollout audit, the default's
 * refusal is observe-only; exempt root and default kernel are as they were. */
static int ref_default(const struct pg_policy *p, enum pg_mode mode, uint32_t uid)
{
	enum pg_def def = p->def;

	if (def == PG_DEFAULT_UNSET)
		def = mode == PG_MODE_GRANT ? PG_DEFAULT_KERNEL : PG_DEFAULT_DENY;
	if (def == PG_DEFAULT_KERNEL)
		return PG_V_KERNEL;
	if (p->exempt_root && uid == 0)
		return PG_V_EXEMPT;
	return p->audit ? PG_V_AUDIT_DENY : PG_V_DENY_DEFAULT;
}

/* A rule's decision: its action, observe-only when its rollout= (else the
 * policy's rollout statement) says audit. */
static int ref_rule_verdict(const struct pg_policy *p, const struct pg_rule *r)
{
	bool audit = r->rollout == PG_ROLLOUT_UNSET ? p->audit : r->rollout == PG_ROLLOUT_AUDIT;

	if (r->action == PG_ALLOW)
		return audit ? PG_V_AUDIT_GRANT : PG_V_GRANT;
	return audit ? PG_V_AUDIT_DENY : PG_V_DENY_RULE;
}

/*
 * portgate.conf(5), "How a bind is decided": the socket's cgroup, then its
 * ancestors; the first that carries a rule for the protocol and port
 * decides: its unconditional rule, else its first conditional rule (file
 * order) that matches, else the default; no such cgroup: the default.
 */
static struct answer ref_decide(const struct ref *R, enum pg_mode mode, const struct query *q)
{
	const struct pg_policy *p = R->p;
	struct answer a = { -1, -1, BY_DEFAULT, ~0u };
	int c, depth;

	if (!ref_protected(p, q->port))
		return a;
	for (c = (int)q->cg, depth = 0; c >= 0; c = R->u[c].parent, depth++) {
		long uncond = -1, cond = -1;
		bool any = false;
		size_t k;

		if (!R->node[c])
			continue;
		for (k = R->off[c]; k < R->off[c + 1]; k++) {
			size_t i = R->list[k];
			const struct pg_rule *r = &p->rules[i];

			if (!(r->protos & proto_bit(q->proto)) ||
			    !in_ranges(r->ports, r->nports, q->port))
				continue;
			any = true;
			if (!has_cond(r)) {
				if (uncond < 0)
					uncond = (long)i;
			} else if (cond < 0 && ref_cond(R, i, q)) {
				cond = (long)i;
			}
		}
		if (!any)
			continue;
		a.depth = depth;
		if (uncond >= 0 || cond >= 0) {
			a.how = uncond >= 0 ? BY_UNCOND : BY_COND;
			a.rule = (uint32_t)(uncond >= 0 ? uncond : cond);
			a.v = ref_rule_verdict(p, &p->rules[a.rule]);
			return a;
		}
		a.v = ref_default(p, mode, q->uid);
		return a;
	}
	a.v = ref_default(p, mode, q->uid);
	return a;
}

/* --- queries ------------------------------------------------------------------ */

static const uint8_t fixed_addrs[][16] = {
	{ [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 },
	{ [10] = 0xff, [11] = 0xff, 10, 1, 2, 3 },
	{ [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 },
	{ [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 },
	{ [10] = 0xff, [11] = 0xff, 255, 255, 255, 255 },
	{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	{ 0xfe, 0x80, [15] = 1 },
	{ [15] = 1 },		/* ::1 */
	{ [12] = 10, 0, 0, 1 }, /* ::10.0.0.1, IPv4-compatible, not mapped */
	{ [10] = 0xff, [11] = 0xfe, 10, 0, 0, 1 },
};

/* A cgroup rule i names (ok), or any cgroup of the reference. */
static size_t pick_cg_of_rule(const struct ref *R, size_t i, bool *ok)
{
	size_t n = R->roff[i + 1] - R->roff[i];

	*ok = n > 0;
	if (!n)
		return below((uint32_t)R->nu);
	return R->rcg[R->roff[i] + below((uint32_t)n)];
}

/* A random descendant (or the cgroup itself), made yet or not. */
static size_t descend(const struct ref *R, size_t cg)
{
	while (rnd() & 1) {
		size_t n = 0, k;
		int c;

		for (c = R->u[cg].kid; c >= 0; c = R->u[c].sib)
			n++;
		if (!n)
			break;
		k = below((uint32_t)n);
		for (c = R->u[cg].kid; k--; c = R->u[c].sib)
			;
		cg = (size_t)c;
	}
	return cg;
}

static uint32_t port_near(const struct pg_range *r, size_t n)
{
	const struct pg_range *x = &r[below((uint32_t)n)];
	uint32_t lo = x->lo, hi = x->hi;

	switch (below(5)) {
	case 0:
		return lo;
	case 1:
		return hi;
	case 2:
		return lo - 1;
	case 3:
		return hi < 65535 ? hi + 1 : hi;
	default:
		return lo + below(hi - lo + 1);
	}
}

static void gen_addr(const struct pg_rule *r, uint8_t a[16])
{
	const struct pg_cond *c = r ? &r->cond : NULL;
	uint32_t k = below(c && c->has_addr ? 10 : 5);
	unsigned int bit;

	memset(a, 0, 16);
	switch (k) {
	case 0:
		return; /* :: */
	case 1:
		a[10] = a[11] = 0xff; /* 0.0.0.0 */
		return;
	case 2:
	case 3:
		memcpy(a, fixed_addrs[below(ARRAY_SIZE(fixed_addrs))], 16);
		return;
	case 4:
		for (bit = 0; bit < 16; bit++)
			a[bit] = (uint8_t)rnd();
		if (rnd() & 1) {
			memset(a, 0, 10);
			a[10] = a[11] = 0xff;
		}
		return;
	}
	memcpy(a, c->addr, 16);
	switch (k) {
	case 5: /* the network itself */
		return;
	case 6: /* a host inside it */
	case 7:
		for (bit = c->plen; bit < 128; bit++)
			if (rnd() & 1)
				a[bit / 8] ^= (uint8_t)(0x80 >> (bit & 7));
		return;
	case 8: /* just outside: the last bit of the prefix flipped */
		if (c->plen)
			a[(c->plen - 1) / 8] ^= (uint8_t)(0x80 >> ((c->plen - 1) & 7));
		return;
	default: /* an IPv4 rule's address, IPv4-compatible instead of mapped */
		a[10] = a[11] = 0;
		return;
	}
}

static void gen_query(const struct ref *R, struct query *q, long focus)
{
	static const uint32_t uids[] = { 0, 33, 53, 1000, 65534, 4294967294u };
	static const uint32_t gids[] = { 0, 33, 44, 100, 65534 };
	const struct pg_policy *p = R->p;
	const struct pg_rule *r = NULL;
	bool ok = false;

	if (focus < 0 && p->nrules && (rnd() & 3))
		focus = below((uint32_t)p->nrules);
	if (focus >= 0)
		r = &p->rules[focus];
	q->cg = r ? pick_cg_of_rule(R, (size_t)focus, &ok) : below((uint32_t)R->nu);
	if (ok)
		q->cg = descend(R, q->cg);
	q->proto = 1 + below(3);
	if (r && (rnd() & 3)) {
		do
			q->proto = 1 + below(3);
		while (!(r->protos & proto_bit(q->proto)));
	}
	switch (below(r ? 8 : 4)) {
	case 0:
		q->port = port_near(p->protect, p->nprotect);
		break;
	case 1:
		q->port = below(65536);
		break;
	case 2:
		q->port = 1 + below(1023);
		break;
	case 3:
		if (p->nrules) {
			const struct pg_rule *o = &p->rules[below((uint32_t)p->nrules)];

			q->port = port_near(o->ports, o->nports);
		} else {
			q->port = 80;
		}
		break;
	default:
		q->port = port_near(r->ports, r->nports);
	}
	q->uid = uids[below(ARRAY_SIZE(uids))];
	q->gid = gids[below(ARRAY_SIZE(gids))];
	if (r && r->cond.has_user && (rnd() & 3))
		q->uid = r->cond.uid;
	if (r && r->cond.has_group && (rnd() & 3))
		q->gid = r->cond.gid;
	gen_addr(r, q->addr);
}

/* --- the image against the reference ---------------------------------------- */

static const char *vname(int v)
{
	return v < 0 ? "not-protected" : pg_verdict_name(v);
}

static void fmt_query(const struct ref *R, const struct query *q, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, q->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u uid %u gid %u addr %s in %s%s", proto_str(q->proto), q->port,
		 q->uid, q->gid, a, R->u[q->cg].path,
		 R->u[q->cg].exists ? "" : " (made after the apply)");
}

struct image_ctx {
	const struct ref *R;
	const struct pg_image *img;
	const struct pg_compile_opts *o;
	uint32_t *node_of; /* per reference cgroup, 0: not a node */
	uint32_t *tid;	   /* per path of R->paths: its path id in the image */
};

static const char *mode_str(enum pg_mode m)
{
	return m == PG_MODE_GRANT ? "grant" : "sysctl";
}

static void mismatch(const struct image_ctx *X, const struct query *q, const struct answer *want,
		     int v, uint32_t rule, int depth, const char *what)
{
	char b[1024];

	fmt_query(X->R, q, b, sizeof(b));
	fail("MISMATCH (%s, %s mode): bind %s: reference %s (rule %d, %d levels up), image %s "
	     "(rule %d, %d levels up)",
	     what, mode_str(X->o->mode), b, vname(want->v), (int)want->rule, want->depth, vname(v),
	     (int)rule, depth);
}

static int want_ret(const struct pg_compile_opts *o, int v)
{
	if (v == PG_V_GRANT)
		return o->bypass ? 3 : 1;
	return v == PG_V_KERNEL || v == PG_V_EXEMPT || v == PG_V_AUDIT_GRANT || v == PG_V_AUDIT_DENY
		   ? 1
		   : 0;
}

#define NV_UNPROTECTED (PG_V_AUDIT_DENY + 1) /* nverdicts[]: not protected */
static unsigned int nverdicts[NV_UNPROTECTED + 1];

static void check_query(const struct image_ctx *X, const struct query *q)
{
	const struct ref *R = X->R;
	const struct pg_policy *p = R->p;
	const union pg_block *bl = X->img->blocks;
	uint32_t nb = X->img->nblocks;
	struct answer want = ref_decide(R, X->o->mode, q);
	uint32_t nodes[ANCESTORS], wnodes[ANCESTORS], rule, wrule;
	int wlvl[ANCESTORS], c, v, wv, depth, wdepth, lvl;
	uint64_t mask;
	size_t n = 0, wn = 0;

	if (pg_image_protects(bl, nb, q->port) != (want.v >= 0)) {
		char b[1024];

		fmt_query(R, q, b, sizeof(b));
		fail("MISMATCH (protect set, %s mode): bind %s: reference says %sprotected, "
		     "pg_image_protects() the opposite",
		     mode_str(X->o->mode), b, want.v >= 0 ? "" : "not ");
	}
	nverdicts[want.v < 0 ? NV_UNPROTECTED : want.v]++;
	if (want.v < 0)
		return;

	/*
	 * The socket's cgroup and every ancestor, nearest first: the node of
	 * each as pg_nodes holds it, by id for a cgroup of the tree, and for one
	 * made after the apply (and its ancestors made after it) what the
	 * cgroup_mkdir program recorded from the path table.
	 */
	for (c = (int)q->cg; c >= 0; c = R->u[c].parent)
		nodes[n++] = X->node_of[c];
	v = pg_image_decide(bl, nb, nodes, n, q->port, q->proto, q->uid, q->gid, q->addr, &rule,
			    &depth);
	if (v != want.v || depth != want.depth)
		mismatch(X, q, &want, v, rule, depth, "verdict");
	if (want.how == BY_DEFAULT && rule != ~0u)
		mismatch(X, q, &want, v, rule, depth, "a default names a rule");
	if (want.how == BY_COND && rule != want.rule)
		mismatch(X, q, &want, v, rule, depth, "first matching conditional rule");
	if (want.how == BY_UNCOND) {
		/* Which of several unconditional rules is reported is not specified. */
		int at = (int)q->cg, k;

		for (k = 0; k < depth; k++)
			at = R->u[at].parent;
		if (rule >= p->nrules || has_cond(&p->rules[rule]) || !names(R, (size_t)at, rule) ||
		    !(p->rules[rule].protos & proto_bit(q->proto)) ||
		    !in_ranges(p->rules[rule].ports, p->rules[rule].nports, q->port) ||
		    p->rules[rule].action != p->rules[want.rule].action)
			mismatch(X, q, &want, v, rule, depth, "deciding unconditional rule");
	}
	if (pg_image_ret(bl, nb, v) != want_ret(X->o, want.v))
		mismatch(X, q, &want, v, rule, depth, "bind() return value");

	/* The bind hook's walk: only the levels in hdr.levels, nearest first. */
	mask = bl[0].hdr.levels;
	lvl = R->u[q->cg].level;
	if (lvl < PG_MAX_LEVEL)
		mask &= (2ULL << lvl) - 1;
	while (mask) {
		int target = 63 - __builtin_clzll(mask);

		for (c = (int)q->cg; R->u[c].level > target; c = R->u[c].parent)
			;
		wlvl[wn] = target;
		wnodes[wn++] = X->node_of[c];
		mask &= ~(1ULL << target);
	}
	wv = pg_image_decide(bl, nb, wnodes, wn, q->port, q->proto, q->uid, q->gid, q->addr, &wrule,
			     &wdepth);
	if (wv != v || wrule != rule || (wdepth < 0) != (depth < 0) ||
	    (wdepth >= 0 && lvl - wlvl[wdepth] != depth))
		mismatch(X, q, &want, wv, wrule, wdepth >= 0 ? lvl - wlvl[wdepth] : -1,
			 "walk over hdr.levels");
}

static uint32_t blocks_of(uint64_t n, uint32_t per)
{
	return (uint32_t)((n + per - 1) / per);
}

/*
 * The regions of bpf/pg_abi.h, in order, each big enough for what it
 * holds: rules, addr= conditions, alternatives, buckets, the path table's
 * slots and names, then meta at the end.
 */
static void check_layout(const struct image_ctx *X)
{
	const struct ref *R = X->R;
	const struct pg_policy *p = R->p;
	const struct pg_image *img = X->img;
	const struct pg_hdr *h = &img->blocks[0].hdr;
	const struct pg_hdr2 *h2 = &img->blocks[1].hdr2;
	uint32_t naddr = 0, i;

	for (i = 0; i < p->nrules; i++)
		naddr += p->rules[i].cond.has_addr;
	if (img->nblocks < PG_RULE_OFF || h->meta_off != img->nblocks)
		fail("image layout: meta_off %u, %u blocks (the protect bitmap ends at %u)",
		     h->meta_off, img->nblocks, PG_RULE_OFF);
	if (h->addr_off < PG_RULE_OFF + blocks_of(p->nrules, 4))
		fail("image layout: rules %u..%u, too few for %zu rules", PG_RULE_OFF, h->addr_off,
		     p->nrules);
	if (h->alt_off < h->addr_off + blocks_of(naddr, 2))
		fail("image layout: addr= records %u..%u, too few for %u conditions", h->addr_off,
		     h->alt_off, naddr);
	if (h->bkt_off < h->alt_off + blocks_of(img->nalts, 16))
		fail("image layout: alternatives %u..%u, too few for %u", h->alt_off, h->bkt_off,
		     img->nalts);
	if (h->nbkt * 4ull < img->nents || (!img->nents) != (!h->nbkt))
		fail("image layout: %u buckets for %u entries", h->nbkt, img->nents);
	if (h2->trie_off != h->bkt_off + h->nbkt)
		fail("image layout: path table at %u, buckets %u+%u end at %u", h2->trie_off,
		     h->bkt_off, h->nbkt, h->bkt_off + h->nbkt);
	if (h2->ntrie % 4 || h2->ntrie < R->npaths || (!h2->ntrie) != (!R->npaths))
		fail("image layout: %u path table slots for %zu paths", h2->ntrie, R->npaths);
	if (h2->names_off != h2->trie_off + h2->ntrie / 4)
		fail("image layout: names at %u, %u slots from %u end at %u", h2->names_off,
		     h2->ntrie, h2->trie_off, h2->trie_off + h2->ntrie / 4);
	if (h->meta_off != h2->names_off + blocks_of(R->grans, 4))
		fail("image layout: meta at %u, names from %u hold %llu granules (%u blocks)",
		     h->meta_off, h2->names_off, (unsigned long long)R->grans,
		     blocks_of(R->grans, 4));
	if (h2->npaths != R->npaths || h2->probe > PG_TRIE_PROBE || (!h2->probe) != (!R->npaths))
		fail("image path table header: %u paths (reference %zu), probe %u", h2->npaths,
		     R->npaths, h2->probe);
	for (i = 0; i < ARRAY_SIZE(h2->pad); i++)
		if (h2->pad[i])
			fail("image path table header: pad[%u] = %#x", i, h2->pad[i]);
}

/*
 * What the cgroup_mkdir program sees: name under the path id ptid (of the
 * path parent, "/" for the root) resolves iff parent/name is a path, to its
 * path id and node.
 */
static void check_lookup(const struct image_ctx *X, uint32_t ptid, const char *parent,
			 const char *name, const char *what)
{
	const struct ref *R = X->R;
	size_t plen = strcmp(parent, "/") ? strlen(parent) : 0, nlen = strlen(name);
	char *full = xmalloc(plen + nlen + 2);
	uint32_t tid = 0, node = 0;
	long k;
	int rc;

	memcpy(full, parent, plen);
	full[plen] = '/';
	memcpy(full + plen + 1, name, nlen + 1);
	k = ref_path_ix(R, full);
	rc = pg_image_path(X->img->blocks, X->img->nblocks, ptid, name, &tid, &node);
	if (k < 0 && rc != -ENOENT)
		fail("path table: %s: '%s' under path id %u (%s) gives %d, tid %u node %u; "
		     "%s is not a path",
		     what, name, ptid, parent, rc, tid, node, full);
	if (k >= 0 && (rc || tid != X->tid[k] || node != X->node_of[R->path_u[k]]))
		fail("path table: %s: '%s' under path id %u (%s) gives %d, tid %u node %u; "
		     "want tid %u node %u",
		     what, name, ptid, parent, rc, tid, node, X->tid[k], X->node_of[R->path_u[k]]);
	free(full);
}

/*
 * img->paths lists the reference's paths, with their nodes; each resolves
 * by walking its components from the root; names that are not paths do
 * not resolve. Sets X->tid.
 */
static void check_paths(struct image_ctx *X)
{
	const struct ref *R = X->R;
	const struct pg_image *img = X->img;
	const struct pg_hdr2 *h2 = &img->blocks[1].hdr2;
	uint32_t *ptid = xcalloc(R->npaths, sizeof(*ptid)), live = 0, s;
	bool *seen = xcalloc(R->npaths, 1);
	char name[PG_NAME_MAX + 2];
	size_t i, k;

	if (img->npaths != R->npaths)
		fail("image has %zu paths, reference %zu", img->npaths, R->npaths);
	for (i = 0; i < img->npaths; i++) {
		const struct pg_path_out *po = &img->paths[i];
		long at = ref_path_ix(R, po->path);

		if (at < 0)
			fail("image path %zu: %s is no exact selector nor an ancestor of one", i,
			     po->path);
		if (seen[at])
			fail("image path %zu: %s twice", i, po->path);
		seen[at] = true;
		if (po->tid < 2 || po->tid >= h2->ntrie + 2)
			fail("image path %s: path id %u, the table has %u slots", po->path, po->tid,
			     h2->ntrie);
		if (po->node != X->node_of[R->path_u[at]])
			fail("image path %s: node %u, the image's node for that %s is %u", po->path,
			     po->node, R->u[R->path_u[at]].exists ? "cgroup" : "path",
			     X->node_of[R->path_u[at]]);
		X->tid[at] = po->tid;
	}
	for (k = 0; k < R->npaths; k++)
		for (i = 0; i < k; i++)
			if (X->tid[i] == X->tid[k])
				fail("path table: %s and %s share path id %u", R->paths[i],
				     R->paths[k], X->tid[k]);
	for (s = 0; s < h2->ntrie; s++) {
		const struct pg_trie_ent *e = &img->blocks[h2->trie_off + s / 4].trie[s % 4];

		if (!e->ptid)
			continue;
		live++;
		if ((e->name >> 8) + ((e->name & 0xff) + PG_GRAN - 1) / PG_GRAN > R->grans ||
		    !(e->name & 0xff))
			fail("path table slot %u: name %u bytes at granule %u of %llu", s,
			     e->name & 0xff, e->name >> 8, (unsigned long long)R->grans);
	}
	if (live != R->npaths)
		fail("path table: %u live slots for %zu paths", live, R->npaths);

	/* Walk: sorted, so a path's parent comes before it. */
	for (k = 0; k < R->npaths; k++) {
		const struct ucg *u = &R->u[R->path_u[k]];
		const struct ucg *up = &R->u[u->parent];
		const char *nm = strrchr(R->paths[k], '/') + 1;
		size_t len = strlen(nm);

		if (u->parent && up->pix < 0)
			fail("path table: the parent of %s is not a path", R->paths[k]);
		ptid[k] = u->parent ? X->tid[up->pix] : PG_TRIE_ROOT;
		check_lookup(X, ptid[k], up->path, nm, "walk from the root");
		/* Not paths, unless the reference says so: longer and shorter
		 * names, the name under its grandparent. */
		if (len + 1 < PG_NAME_MAX) {
			memcpy(name, nm, len);
			name[len] = "x_.-*"[k % 5];
			name[len + 1] = 0;
			check_lookup(X, ptid[k], up->path, name, "a longer name");
		}
		if (len > 1) {
			memcpy(name, nm, len - 1);
			name[len - 1] = 0;
			check_lookup(X, ptid[k], up->path, name, "a prefix of the name");
		}
		if (u->parent) {
			const struct ucg *gp = &R->u[up->parent];

			check_lookup(X, up->parent ? X->tid[gp->pix] : PG_TRIE_ROOT, gp->path, nm,
				     "the name one level up");
		}
	}
	/* Siblings: the tree's cgroups under a parent that is a path. */
	for (i = 1; i < NTREE; i++) {
		const struct ucg *up = &R->u[parent_of[i]];

		if (parent_of[i] && up->pix < 0)
			continue;
		check_lookup(X, parent_of[i] ? X->tid[up->pix] : PG_TRIE_ROOT, up->path,
			     strrchr(tree[i].path, '/') + 1, "a cgroup of the tree");
	}
	check_lookup(X, PG_TRIE_ROOT, "/", "", "the empty name");
	if (R->npaths) {
		uint32_t tid = 0, node = 0;
		int rc = pg_image_path(img->blocks, img->nblocks, 0, strrchr(R->paths[0], '/') + 1,
				       &tid, &node);

		if (rc != -ENOENT)
			fail("path table: '%s' under path id 0 gives %d, tid %u node %u",
			     strrchr(R->paths[0], '/') + 1, rc, tid, node);
	}
	free(ptid);
	free(seen);
}

static void check_image(struct image_ctx *X)
{
	const struct ref *R = X->R;
	const struct pg_policy *p = R->p;
	const struct pg_image *img = X->img;
	const struct pg_hdr *h = &img->blocks[0].hdr;
	enum pg_def def = p->def;
	uint32_t flags, bi, live = 0;
	size_t i, j, cg;

	if (def == PG_DEFAULT_UNSET)
		def = X->o->mode == PG_MODE_GRANT ? PG_DEFAULT_KERNEL : PG_DEFAULT_DENY;
	flags = (p->exempt_root ? PG_HF_EXEMPT_ROOT : 0) | (X->o->bypass ? PG_HF_BYPASS : 0) |
		(p->nprotect == 1 ? PG_HF_PROTECT_RANGE : 0) |
		(X->o->mode == PG_MODE_SYSCTL ? PG_HF_SYSCTL : 0) | (R->globs ? PG_HF_GLOBS : 0) |
		(p->audit ? PG_HF_AUDIT : 0);
	if (img->nblocks < 2)
		fail("image of %u blocks", img->nblocks);
	if (h->magic != PG_MAGIC || h->abi != PG_ABI_VERSION || h->slot != (X->o->slot & 1) ||
	    h->gen != X->o->gen || h->nrules != p->nrules || h->flags != flags ||
	    h->def != (def == PG_DEFAULT_KERNEL ? PG_DEF_KERNEL : PG_DEF_DENY) ||
	    h->prot_lo != p->protect[0].lo || h->prot_hi != p->protect[p->nprotect - 1].hi)
		fail("image header: slot %u gen %llu nrules %u flags %#x (want %#x) def %u "
		     "prot %u-%u",
		     h->slot, (unsigned long long)h->gen, h->nrules, h->flags, flags, h->def,
		     h->prot_lo, h->prot_hi);
	if (h->levels != R->levels)
		fail("image levels %#llx, reference %#llx", (unsigned long long)h->levels,
		     (unsigned long long)R->levels);
	check_layout(X);

	/* Nodes: exactly the cgroups that some selector names, the tree's by
	 * id, the paths not in it by path (cgid 0). */
	if (img->nnodes != R->nnodes)
		fail("image has %zu nodes, reference %zu (%zu of them for paths not in the tree)",
		     img->nnodes, R->nnodes, R->nvnodes);
	memset(X->node_of, 0, R->nu * sizeof(*X->node_of));
	for (i = 0; i < img->nnodes; i++) {
		const struct pg_node_out *nd = &img->nodes[i];
		const struct ucg *u;
		long at;

		if (nd->cgid) {
			for (cg = 0; cg < NTREE && tree[cg].id != nd->cgid; cg++)
				;
			if (cg == NTREE)
				fail("image node %zu: cgid %llu is in no cgroup of the tree", i,
				     (unsigned long long)nd->cgid);
			if (nd->path != tree[cg].path)
				fail("image node %zu: cgid %llu of %s, path %s", i,
				     (unsigned long long)nd->cgid, tree[cg].path,
				     nd->path ? nd->path : "(null)");
		} else {
			at = nd->path ? ref_path_ix(R, nd->path) : -1;
			if (at < 0)
				fail("image node %zu: cgid 0 and path %s, not a path of the path "
				     "table",
				     i, nd->path ? nd->path : "(null)");
			cg = R->path_u[at];
			if (R->u[cg].exists)
				fail("image node %zu: cgid 0 for %s, a cgroup of the tree", i,
				     nd->path);
		}
		u = &R->u[cg];
		if (!R->node[cg])
			fail("image node %zu: %s carries no rule", i, u->path);
		if (X->node_of[cg])
			fail("image node %zu: %s is node %u already", i, u->path, X->node_of[cg]);
		if (nd->node == 0 || nd->node > img->nnodes || nd->level != u->level)
			fail("image node %zu: %s: node %u level %d (want level %d)", i, u->path,
			     nd->node, nd->level, u->level);
		if (nd->by_path != (u->pix >= 0))
			fail("image node %zu: %s: by_path %d, but it is %sin the path table", i,
			     u->path, nd->by_path, u->pix >= 0 ? "" : "not ");
		for (j = 0; j < i; j++)
			if (img->nodes[j].node == nd->node)
				fail("image node id %u twice", nd->node);
		X->node_of[cg] = nd->node;
	}

	/* Unmatched selectors: none of the tree's cgroups. */
	if (img->nunmatched != R->nunmatched)
		fail("image lists %zu unmatched selectors, reference %zu", img->nunmatched,
		     R->nunmatched);
	for (i = 0; i < img->nunmatched; i++) {
		for (j = 0; j < R->nunmatched && strcmp(img->unmatched[i], R->unmatched[j]); j++)
			;
		if (j == R->nunmatched)
			fail("image lists %s as unmatched", img->unmatched[i]);
	}

	/* Entries: each live one in one of its two buckets, once. */
	for (bi = 0; bi < h->nbkt; bi++) {
		const union pg_block *b = &img->blocks[h->bkt_off + bi];
		int s;

		for (s = 0; s < 4; s++) {
			const struct pg_ent *e = &b->ent[s];
			uint64_t key = pg_key(e->node, e->proto, e->port);

			if (e->tag != PG_TAG)
				continue;
			live++;
			if (!e->node || e->node > img->nnodes || e->proto < PG_P_TCP ||
			    e->proto > PG_P_OTHER || !ref_protected(p, e->port) ||
			    (bi != pg_bkt1(key, h->seed, h->nbkt) &&
			     bi != pg_bkt2(key, h->seed, h->nbkt)) ||
			    (!(e->flags & PG_EF_UNCOND) && (!e->nalt || e->nalt > MAX_ALT)))
				fail("image entry node %u %s/%u in bucket %u is malformed", e->node,
				     proto_str(e->proto), e->port, bi);
		}
	}
	if (live != img->nents || live != R->nents)
		fail("image has %u live entries (nents %u), reference %llu", live, img->nents,
		     (unsigned long long)R->nents);

	check_paths(X);
}

/* Counters and the meta area appended for userspace leave the decisions alone. */
static void check_meta(struct image_ctx *X, struct pg_image *img)
{
	const struct pg_policy *p = X->R->p;
	uint32_t stride = img->blocks[0].hdr.cnt_stride, off = img->blocks[0].hdr.meta_off;
	/* the verdicts, the rules, the carried would-allow count; whole cache lines */
	uint32_t ncpus = below(5), want = (PG_CNT_RULE0 + (uint32_t)p->nrules + 1 + 7) / 8 * 8;
	char meta[300];
	size_t len = below(sizeof(meta) + 1), i;
	const uint8_t *mb;

	if (stride != want || pg_image_counters(img, ncpus) != stride * (ncpus ? ncpus : 1))
		fail("counters: stride %u for %zu rules, %u for %u cpus", stride, p->nrules,
		     pg_image_counters(img, ncpus), ncpus);
	for (i = 0; i < len; i++)
		meta[i] = (char)rnd();
	if (pg_image_set_meta(img, meta, len))
		fail("pg_image_set_meta(%zu bytes) failed", len);
	mb = (const uint8_t *)&img->blocks[off];
	if (img->nblocks != off + (len + PG_BLOCK_SIZE - 1) / PG_BLOCK_SIZE ||
	    img->blocks[0].hdr.meta_off != off || memcmp(mb, meta, len))
		fail("meta of %zu bytes: %u blocks, meta_off %u", len, img->nblocks, off);
	for (i = len; i < (size_t)(img->nblocks - off) * PG_BLOCK_SIZE; i++)
		if (mb[i])
			fail("meta of %zu bytes: byte %zu not zeroed", len, i);
}

/*
 * The rules of cgroup c on proto/port (protected): n[a] of action a
 * (PG_ALLOW, PG_DENY), nc[a] of them with conditions.
 */
static void ref_at(const struct ref *R, size_t c, uint32_t proto, uint32_t port, size_t n[3],
		   size_t nc[3])
{
	const struct pg_policy *p = R->p;
	size_t k;

	memset(n, 0, 3 * sizeof(*n));
	memset(nc, 0, 3 * sizeof(*nc));
	if (!ref_protected(p, port))
		return;
	for (k = R->off[c]; k < R->off[c + 1]; k++) {
		const struct pg_rule *r = &p->rules[R->list[k]];
		int a = r->action == PG_DENY ? PG_DENY : PG_ALLOW;

		if (!(r->protos & proto_bit(proto)) || !in_ranges(r->ports, r->nports, port))
			continue;
		n[a]++;
		nc[a] += has_cond(r);
	}
}

/*
 * msg names "<pre>PATH<post>PROTO/PORT" at its end, where the reference
 * has an allow and a deny (conflict) or more than 16 conditional rules of
 * one action (!conflict) on the cgroup at PATH for PROTO/PORT. A path may
 * hold pre or post itself: every split is tried.
 */
static bool msg_names_problem(const struct ref *R, const char *msg, const char *pre,
			      const char *post, bool conflict)
{
	const char *s, *e;

	for (s = strstr(msg, pre); s; s = strstr(s + 1, pre)) {
		const char *path = s + strlen(pre);

		for (e = strstr(path, post); e; e = strstr(e + 1, post)) {
			const char *tail = e + strlen(post), *num;
			uint32_t proto;
			unsigned long port;
			char *path_s, *end;
			size_t n[3], nc[3];
			long c;

			if (starts(tail, "tcp/"))
				proto = PG_P_TCP, num = tail + 4;
			else if (starts(tail, "udp/"))
				proto = PG_P_UDP, num = tail + 4;
			else if (starts(tail, "other/"))
				proto = PG_P_OTHER, num = tail + 6;
			else
				continue;
			port = strtoul(num, &end, 10);
			if (end == num || *end || port > 65535)
				continue;
			path_s = strndup(path, (size_t)(e - path));
			if (!path_s)
				fail("out of memory");
			c = ref_find(R, path_s);
			free(path_s);
			if (c < 0)
				continue;
			ref_at(R, (size_t)c, proto, (uint32_t)port, n, nc);
			if (conflict ? n[PG_ALLOW] && n[PG_DENY]
				     : nc[PG_ALLOW] > MAX_ALT || nc[PG_DENY] > MAX_ALT)
				return true;
		}
	}
	return false;
}

/*
 * A refused compile's errors: each names a cgroup (of the tree or a path
 * not made yet), protocol and port where the reference sees the problem, or
 * is the one about levels, which comes only without the others.
 */
static void check_refusal(const struct ref *R, const struct pg_diags *d)
{
	char lev[160];
	size_t i, nrule = 0, nlev = 0;

	snprintf(lev, sizeof(lev),
		 "rules sit at %d different cgroup levels; at most %d can carry rules",
		 __builtin_popcountll(R->levels), PG_MAX_LEVELS);
	for (i = 0; i < d->n; i++) {
		const char *m = d->v[i].msg;
		char pre[64];

		if (d->v[i].sev != PG_SEV_ERROR)
			continue;
		if (!strcmp(m, lev)) {
			nlev++;
		} else if (starts(m, "rules sit at ")) {
			fail("compile: '%s'; the reference has rules at %d levels", m,
			     __builtin_popcountll(R->levels));
		} else if (starts(m, "allow conflicts with ") ||
			   starts(m, "deny conflicts with ")) {
			if (!msg_names_problem(R, m, " on cgroup ", " for ", true))
				fail("compile: '%s': the reference sees no allow and deny meet "
				     "there",
				     m);
			nrule++;
		} else if (snprintf(pre, sizeof(pre), "more than %d conditional rules for cgroup ",
				    MAX_ALT),
			   starts(m, pre)) {
			if (!msg_names_problem(R, m, pre, " on ", false))
				fail("compile: '%s': the reference sees at most %d conditional "
				     "rules of an action there",
				     m, MAX_ALT);
			nrule++;
		} else {
			fail("compile: unexpected error '%s'", m);
		}
	}
	if (R->refuse && (nlev || !nrule))
		fail("compile refused with %zu conflict errors and %zu about levels; the "
		     "reference: %s",
		     nrule, nlev, R->why);
	if (R->refuse_levels && (nlev != 1 || nrule))
		fail("compile refused with %zu conflict errors and %zu about levels; the "
		     "reference: %s, so only '%s'",
		     nrule, nlev, R->why, lev);
}

static void differential(const struct pg_policy *p)
{
	static const enum pg_mode modes[2] = { PG_MODE_GRANT, PG_MODE_SYSCTL };
	struct ref R;
	struct query *qs;
	size_t nq = 0, i, cg, mi, nsweep = 0, *sweep;

	if (!ref_init(&R, p) || R.nents > ENTRY_CAP || R.work > WORK_CAP) {
		if (verbose)
			fprintf(stderr,
				"  %llu glob x path bytes, %llu entries, %llu ports to visit: not "
				"compiled\n",
				(unsigned long long)R.match, (unsigned long long)R.nents,
				(unsigned long long)R.work);
		ref_free(&R);
		return;
	}

	/* The same binds for both modes: random ones, and for each of the
	 * first rules, a port at or near it from every cgroup of the tree and
	 * from the first virtual nodes. */
	sweep = xcalloc(NTREE + SWEEP_VIRT, sizeof(*sweep));
	for (cg = 0; cg < R.nu; cg++)
		if (cg < NTREE || (R.node[cg] && nsweep < NTREE + SWEEP_VIRT))
			sweep[nsweep++] = cg;
	qs = xcalloc(NQUERIES + SWEEP_RULES * nsweep, sizeof(*qs));
	for (i = 0; i < NQUERIES; i++)
		gen_query(&R, &qs[nq++], -1);
	for (i = 0; i < p->nrules && i < SWEEP_RULES; i++) {
		for (cg = 0; cg < nsweep; cg++) {
			struct query *q = &qs[nq++];

			gen_query(&R, q, (long)i);
			q->cg = sweep[cg];
			q->port = port_near(p->rules[i].ports, p->rules[i].nports);
		}
	}

	for (mi = 0; mi < 2; mi++) {
		struct pg_compile_opts o = { .mode = modes[mi],
					     .bypass = rnd() & 1,
					     .slot = (uint8_t)(rnd() & 3),
					     .gen = rnd(),
					     .seed = (uint32_t)rnd() };
		struct pg_diags d = { 0 };
		struct pg_image img;
		struct image_ctx X = { &R, &img, &o, xcalloc(R.nu, sizeof(uint32_t)),
				       xcalloc(R.npaths, sizeof(uint32_t)) };
		int rc = pg_compile(p, tree, NTREE, &o, &img, &d);

		check_diags(&d, p);
		if (R.refuse || R.refuse_levels) {
			if (rc != -EINVAL || !d.nerrors || img.blocks)
				fail("compile returned %d with %zu errors, but %s", rc, d.nerrors,
				     R.why);
			check_refusal(&R, &d);
		} else if (rc || d.nerrors) {
			pg_diags_print(&d, p, stderr);
			fail("compile returned %d with %zu errors; the reference sees no conflict "
			     "and rules at %d levels",
			     rc, d.nerrors, __builtin_popcountll(R.levels));
		} else {
			check_image(&X);
			memset(nverdicts, 0, sizeof(nverdicts));
			for (i = 0; i < nq; i++)
				check_query(&X, &qs[i]);
			check_meta(&X, &img);
			for (i = 0; i < NQUERIES; i++)
				check_query(&X, &qs[i]);
		}
		if (verbose && (R.refuse || R.refuse_levels))
			fprintf(stderr, "  %s: refused as expected: %s\n", mode_str(o.mode), R.why);
		else if (verbose)
			fprintf(stderr,
				"  %s: %zu nodes (%zu not made yet), %zu paths, %u entries, %zu "
				"binds: %u grant, %u deny, %u deny-default, %u kernel, %u exempt, "
				"%u audit-grant, %u audit-deny, %u unprotected\n",
				mode_str(o.mode), img.nnodes, R.nvnodes, img.npaths, img.nents, nq,
				nverdicts[PG_V_GRANT], nverdicts[PG_V_DENY_RULE],
				nverdicts[PG_V_DENY_DEFAULT], nverdicts[PG_V_KERNEL],
				nverdicts[PG_V_EXEMPT], nverdicts[PG_V_AUDIT_GRANT],
				nverdicts[PG_V_AUDIT_DENY], nverdicts[NV_UNPROTECTED]);
		pg_image_free(&img);
		pg_diags_free(&d);
		free(X.node_of);
		free(X.tid);
	}
	free(qs);
	free(sweep);
	ref_free(&R);
}

/* --- entry point ---------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	struct vfs fs;
	struct pg_source_ops ops = { vfs_read, vfs_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p;

	if (!inited) {
		tree_init();
		inited = true;
	}
	if (!data)
		data = (const uint8_t *)"";
	rng = hash_bytes(data, size);
	vfs_split(data, size, &fs);
	if (pg_srcs_add(&fs.srcs, vpath[0], fs.buf[0], fs.len[0]))
		fail("out of memory");
	p = pg_policy_parse_buf(vpath[0], fs.buf[0], fs.len[0], &ops, &d);
	if (!p)
		fail("pg_policy_parse_buf returned NULL");
	check_diags(&d, p);
	check_render(&d, p, &fs.srcs);
	check_findings(p, &d);
	if (verbose)
		fprintf(stderr, "fuzz_policy: %zu files, %zu rules, %zu errors, %zu warnings\n",
			p->nfiles, p->nrules, d.nerrors, d.n - d.nerrors);
	if (verbose)
		pg_diags_print(&d, p, stderr);
	if (!d.nerrors) {
		check_shape(p);
		check_roundtrips(p);
		pg_policy_resolve(p, &id_ops, &d);
		check_diags(&d, p);
		if (!d.nerrors)
			differential(p);
	} else {
		/* Resolving a policy with errors must still be safe. */
		pg_policy_resolve(p, &id_ops, &d);
		check_diags(&d, p);
	}
	check_render(&d, p, &fs.srcs);
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_srcs_free(&fs.srcs);
	return 0;
}
