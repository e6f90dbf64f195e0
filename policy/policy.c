// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * policy.c - portgate.conf(5): the policy's lifetime, the entry points
 * (parse, parse a buffer, resolve ids) and the small helpers on port
 * ranges the other parts share.
 *
 * Pure: every byte comes in through struct pg_source_ops, every problem goes
 * out as a diagnostic, and all state lives in a struct parser on the heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube_sel.h"
#include "pg_abi.h"
#include "policy_int.h"

/* --- small helpers ---------------------------------------------------------- */

const char *pol_action_name(enum pg_action a)
{
	return a == PG_DENY ? "deny" : "allow";
}

const char *pol_proto_name(uint32_t bits)
{
	switch (bits) {
	case PG_PROTO_TCP:
		return "tcp";
	case PG_PROTO_UDP:
		return "udp";
	case PG_PROTO_OTHER:
		return "other";
	default:
		return "any";
	}
}

/* Decimal digits only, at most max: 0, -EINVAL (empty, not a number) or -ERANGE. */
int pol_parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max) {
			big = true;
			v = max;
		}
	}
	if (big)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool is_dec(const char *s)
{
	return *s && s[strspn(s, "0123456789")] == '\0';
}

static int cmp_range(const void *a, const void *b)
{
	const struct pg_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sort, then merge overlapping and adjacent ranges; returns the new count. */
size_t pol_merge_ranges(struct pg_range *r, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (i = 1; i < n; i++) {
		if ((unsigned int)r[i].lo <= (unsigned int)r[k].hi + 1) {
			if (r[i].hi > r[k].hi)
				r[k].hi = r[i].hi;
		} else {
			r[++k] = r[i];
		}
	}
	return k + 1;
}

/* a minus b, both sorted and merged, into out (room for na + nb). */
size_t pol_ranges_minus(const struct pg_range *a, size_t na, const struct pg_range *b, size_t nb,
			struct pg_range *out)
{
	size_t i, j = 0, k = 0;

	for (i = 0; i < na; i++) {
		unsigned int lo = a[i].lo, hi = a[i].hi;
		size_t jj;

		while (j < nb && b[j].hi < lo)
			j++;
		for (jj = j; lo <= hi; jj++) {
			if (jj == nb || b[jj].lo > hi) {
				out[k++] = (struct pg_range){ (uint16_t)lo, (uint16_t)hi };
				break;
			}
			if (b[jj].lo > lo)
				out[k++] =
				    (struct pg_range){ (uint16_t)lo, (uint16_t)(b[jj].lo - 1) };
			if (b[jj].hi >= hi)
				break;
			lo = b[jj].hi + 1u;
		}
	}
	return k;
}

/* "80,443,1000-2000", at most max items then ",...". */
void pol_fmt_ranges(char *buf, size_t size, const struct pg_range *r, size_t n, size_t max)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < size; i++) {
		const char *sep = i ? "," : "";
		int w;

		if (i == max) {
			snprintf(buf + off, size - off, ",...");
			return;
		}
		if (r[i].lo == r[i].hi)
			w = snprintf(buf + off, size - off, "%s%u", sep, (unsigned int)r[i].lo);
		else
			w = snprintf(buf + off, size - off, "%s%u-%u", sep, (unsigned int)r[i].lo,
				     (unsigned int)r[i].hi);
		if (w < 0)
			return;
		off += (size_t)w;
	}
}

/* --- policy lifetime ---------------------------------------------------- */

void pol_rule_free(struct pg_rule *r)
{
	free(r->selector);
	if (r->pod)
		pg_kube_sel_free(r->pod);
	free(r->pod);
	free(r->pod_key);
	free(r->ports);
	free(r->cond.user);
	free(r->cond.group);
	free(r->text);
}

void pg_policy_free(struct pg_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->protect);
	for (i = 0; i < p->nnetns; i++)
		free(p->netns[i].path);
	free(p->netns);
	for (i = 0; i < p->nrules; i++)
		pol_rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

static struct pg_policy *policy_new(void)
{
	struct pg_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->protect = malloc(sizeof(*p->protect));
	if (!p->protect) {
		free(p);
		return NULL;
	}
	p->protect[0] = (struct pg_range){ 1, 1023 };
	p->nprotect = 1;
	return p;
}

enum pg_def pg_policy_default(const struct pg_policy *p, enum pg_mode resolved)
{
	if (p && p->def != PG_DEFAULT_UNSET)
		return p->def;
	switch (resolved) {
	case PG_MODE_GRANT:
		return PG_DEFAULT_KERNEL;
	case PG_MODE_SYSCTL:
		return PG_DEFAULT_DENY;
	default:
		return PG_DEFAULT_UNSET;
	}
}

bool pg_policy_protects(const struct pg_policy *p, uint16_t port)
{
	size_t lo = 0, hi = p->nprotect;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (port < p->protect[mid].lo)
			hi = mid;
		else if (port > p->protect[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

char *pg_rule_spec(const struct pg_rule *r)
{
	static const uint32_t order[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	size_t size = sizeof("tcp,udp,other/") + r->nports * sizeof("65535-65535,");
	size_t off = 0, i;
	char *s = malloc(size);

	if (!s)
		return NULL;
	s[0] = '\0';
	if (r->protos == PG_PROTO_ANY) {
		off = (size_t)sprintf(s, "any");
	} else {
		for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
			if (r->protos & order[i])
				off += (size_t)sprintf(s + off, "%s%s", off ? "," : "",
						       pol_proto_name(order[i]));
	}
	s[off++] = '/';
	s[off] = '\0';
	pol_fmt_ranges(s + off, size - off, r->ports, r->nports, SIZE_MAX);
	return s;
}

/* --- entry points ----------------------------------------------------------- */

static struct parser *parser_new(const char *path, const struct pg_source_ops *ops,
				 struct pg_diags *diags)
{
	struct parser *ps = calloc(1, sizeof(*ps));
	char *name = strdup(path), *key = strdup(path);

	if (!ps || !name || !key || !(ps->p = policy_new())) {
		free(ps);
		free(name);
		free(key);
		return NULL;
	}
	pol_clean_path(key);
	ps->top_key = key;
	ps->ops = ops;
	ps->d = diags;
	ps->nerrors0 = diags->nerrors;
	pg_sha256_init(&ps->sha);
	if (!pol_add_file(ps, name)) {
		pg_policy_free(ps->p);
		free(ps->top_key);
		free(ps);
		return NULL;
	}
	return ps;
}

static struct pg_policy *parser_finish(struct parser *ps)
{
	struct pg_policy *p = ps->p;

	if (!ps->oom)
		pol_check_policy(ps);
	pg_sha256_final(&ps->sha, p->sha256);
	free(ps->top_key);
	free(ps);
	return p;
}

struct pg_policy *pg_policy_parse(const char *path, const struct pg_source_ops *ops,
				  struct pg_diags *diags)
{
	struct parser *ps = parser_new(path, ops, diags);
	struct pg_loc top = { 0, 0, 0 };
	char *buf;
	size_t len;
	int err;

	if (!ps)
		return NULL;
	err = ops && ops->read ? pol_read_source(ps, path, &buf, &len) : -ENOSYS;
	if (err) {
		pol_report_read(ps, top, path, err);
	} else {
		pol_parse_buffer(ps, 0, buf, len);
		free(buf);
	}
	return parser_finish(ps);
}

struct pg_policy *pg_policy_parse_buf(const char *path, const char *buf, size_t len,
				      const struct pg_source_ops *ops, struct pg_diags *diags)
{
	struct parser *ps = parser_new(path, ops, diags);

	if (!ps)
		return NULL;
	if (len > PG_POL_MAX_FILE_SIZE)
		pol_report_read(ps, (struct pg_loc){ 0, 0, 0 }, path, -EFBIG);
	else
		pol_parse_buffer(ps, 0, buf, len);
	return parser_finish(ps);
}

static void resolve_one(struct pg_diags *d, const char *what, const struct pg_id_ops *ops,
			bool user, const char *name, struct pg_loc loc, uint32_t *id)
{
	int (*fn)(void *, const char *, uint32_t *) = !ops ? NULL : user ? ops->user : ops->group;
	int err;

	if (is_dec(name))
		return; /* parsed as an id already */
	err = fn ? fn(ops->ud, name, id) : -ENOSYS;
	if (err == -ENOENT)
		pg_diags_hint(d, PG_SEV_ERROR, loc, ops->unknown_hint, "unknown %s '%s'", what,
			      name);
	else if (err)
		pg_diags_add(d, PG_SEV_ERROR, loc, "cannot look up %s '%s': %s", what, name,
			     strerror(err < 0 ? -err : EIO));
}

void pg_policy_resolve(struct pg_policy *p, const struct pg_id_ops *ops, struct pg_diags *diags)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++) {
		struct pg_cond *c = &p->rules[i].cond;

		if (c->has_user)
			resolve_one(diags, "user", ops, true, c->user, c->user_loc, &c->uid);
		if (c->has_group)
			resolve_one(diags, "group", ops, false, c->group, c->group_loc, &c->gid);
	}
}

bool pg_rule_audited(const struct pg_policy *p, const struct pg_rule *r)
{
	if (r->rollout != PG_ROLLOUT_UNSET)
		return r->rollout == PG_ROLLOUT_AUDIT;
	return p->audit;
}

size_t pg_policy_naudited(const struct pg_policy *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->nrules; i++)
		n += pg_rule_audited(p, &p->rules[i]);
	return n;
}

bool pg_policy_has_audit(const struct pg_policy *p)
{
	return p->audit || pg_policy_naudited(p);
}

bool pg_policy_enforces_grant(const struct pg_policy *p)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].action == PG_ALLOW && !pg_rule_audited(p, &p->rules[i]))
			return true;
	return false;
}
