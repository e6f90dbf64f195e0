// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * check.c - whole-policy checks once every file is read: conflicts,
 * duplicates, the alternatives limit, unprotected ports, and warnings for
 * policies that are valid but almost certainly not what was meant.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg_abi.h"
#include "policy_int.h"

/*
 * Conflicts, duplicates and the alternatives limit are found by a sweep
 * over ports, per selector and protocol, instead of comparing every pair of
 * rules: a selector may carry tens of thousands of rules. The sweep keeps
 * the active rules (local index = file order) in bitsets; when a rule starts
 * it is compared with the earliest active rule of the partner class, and
 * rules already active that are later than it are reported against it. So
 * each later rule is reported once, at the lowest port where it collides.
 */

struct finding {
	size_t conflict, dup; /* 1 + index of the earlier rule; 0: none */
	uint16_t conflict_port, alt_port;
	uint32_t conflict_proto, alt_proto;
	bool alt;
};

struct checker {
	struct pg_policy *p;
	struct finding *f;
};

struct bits {
	uint64_t *w, *s; /* s: one bit per nonzero word of w */
	size_t nw, ns;
};

static void bit_set(struct bits *b, size_t i)
{
	b->w[i / 64] |= 1ull << (i % 64);
	b->s[i / 4096] |= 1ull << (i / 64 % 64);
}

static void bit_clear(struct bits *b, size_t i)
{
	b->w[i / 64] &= ~(1ull << (i % 64));
	if (!b->w[i / 64])
		b->s[i / 4096] &= ~(1ull << (i / 64 % 64));
}

/* The first set bit at or after i, or SIZE_MAX. */
static size_t bit_next(const struct bits *b, size_t i)
{
	size_t wi = i / 64, si;
	uint64_t m;

	if (wi >= b->nw)
		return SIZE_MAX;
	m = b->w[wi] & (~0ull << (i % 64));
	if (m)
		return wi * 64 + (size_t)__builtin_ctzll(m);
	wi++;
	si = wi / 64;
	if (si >= b->ns)
		return SIZE_MAX;
	m = b->s[si] & (~0ull << (wi % 64));
	while (!m) {
		if (++si >= b->ns)
			return SIZE_MAX;
		m = b->s[si];
	}
	wi = si * 64 + (size_t)__builtin_ctzll(m);
	return wi * 64 + (size_t)__builtin_ctzll(b->w[wi]);
}

struct ev {
	uint32_t pos; /* port, or hi + 1 for an end */
	uint32_t start;
	size_t j; /* local index */
};

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1; /* ends first */
	return (x->j > y->j) - (x->j < y->j);
}

static bool has_cond(const struct pg_rule *r)
{
	return r->cond.has_user || r->cond.has_group || r->cond.has_addr;
}

static void found(struct checker *ck, size_t later, size_t earlier, uint32_t pos, uint32_t proto,
		  bool dup)
{
	struct finding *f = &ck->f[later];
	uint32_t both = ck->p->rules[later].protos & ck->p->rules[earlier].protos;

	if (dup) {
		f->dup = earlier + 1;
		return;
	}
	f->conflict = earlier + 1;
	f->conflict_port = (uint16_t)pos;
	f->conflict_proto = both == PG_PROTO_ANY ? PG_PROTO_ANY : proto;
}

/* Per class: active rules, those of them not reported yet, and the same two
 * for conditional rules only (the alternatives limit). */
enum { ACT, UNREP, CACT, CUNREP };

/* The state of one sweep; class 0 is allow (or all, for dup), 1 deny. */
struct sweep {
	struct checker *ck;
	const size_t *rix;
	uint32_t proto;
	bool dup;
	struct bits b[4][2];
	size_t ccount[2]; /* active conditional rules */
	struct ev *ev;
	size_t nev;
	uint64_t *mem; /* of the bitsets */
};

/* The start and end events of the rules of rix[0..k) on proto, sorted. */
static int sweep_init(struct sweep *sw, size_t k)
{
	const struct pg_policy *p = sw->ck->p;
	size_t nev = 0, nw = (k + 63) / 64, ns = (nw + 63) / 64, i, q;

	for (i = 0; i < k; i++)
		if (p->rules[sw->rix[i]].protos & sw->proto)
			nev += 2 * p->rules[sw->rix[i]].nports;
	if (!nev)
		return 0;
	sw->ev = malloc(nev * sizeof(*sw->ev));
	sw->mem = calloc(8 * (nw + ns), sizeof(*sw->mem));
	if (!sw->ev || !sw->mem)
		return -ENOMEM;
	for (i = 0; i < 8; i++)
		sw->b[i / 2][i % 2] =
		    (struct bits){ sw->mem + i * (nw + ns), sw->mem + i * (nw + ns) + nw, nw, ns };
	for (i = 0; i < k; i++) {
		const struct pg_rule *r = &p->rules[sw->rix[i]];

		if (!(r->protos & sw->proto))
			continue;
		for (q = 0; q < r->nports; q++) {
			sw->ev[sw->nev++] = (struct ev){ r->ports[q].lo, 1, i };
			sw->ev[sw->nev++] = (struct ev){ (uint32_t)r->ports[q].hi + 1, 0, i };
		}
	}
	qsort(sw->ev, sw->nev, sizeof(*sw->ev), cmp_ev);
	return 0;
}

/* Rule j (local) starts or ends at pos. */
static void sweep_event(struct sweep *sw, const struct ev *ev, uint32_t pos)
{
	struct checker *ck = sw->ck;
	size_t j = ev->j, x, *mark;
	const struct pg_rule *r = &ck->p->rules[sw->rix[j]];
	size_t cl = sw->dup ? 0 : r->action == PG_DENY, pc = sw->dup ? 0 : !cl;
	bool cond = !sw->dup && has_cond(r);
	struct bits(*b)[2] = sw->b;

	if (!ev->start) {
		bit_clear(&b[ACT][cl], j);
		bit_clear(&b[UNREP][cl], j);
		if (cond) {
			bit_clear(&b[CACT][cl], j);
			bit_clear(&b[CUNREP][cl], j);
			sw->ccount[cl]--;
		}
		return;
	}
	mark = sw->dup ? &ck->f[sw->rix[j]].dup : &ck->f[sw->rix[j]].conflict;
	if (!*mark) {
		x = bit_next(&b[ACT][pc], 0);
		if (x < j)
			found(ck, sw->rix[j], sw->rix[x], pos, sw->proto, sw->dup);
		else
			bit_set(&b[UNREP][cl], j);
	}
	bit_set(&b[ACT][cl], j);
	for (x = bit_next(&b[UNREP][pc], j + 1); x != SIZE_MAX;
	     x = bit_next(&b[UNREP][pc], x + 1)) {
		found(ck, sw->rix[x], sw->rix[j], pos, sw->proto, sw->dup);
		bit_clear(&b[UNREP][pc], x);
	}
	if (cond) {
		bit_set(&b[CACT][cl], j);
		if (!ck->f[sw->rix[j]].alt)
			bit_set(&b[CUNREP][cl], j);
		sw->ccount[cl]++;
	}
}

/* At pos, class c has more active conditional rules than PG_MAX_ALT: mark
 * every one after the 16th by file order. */
static void sweep_alts(struct sweep *sw, size_t c, uint32_t pos)
{
	struct bits *cact = &sw->b[CACT][c], *cunrep = &sw->b[CUNREP][c];
	size_t t = 0, x;

	for (x = 0; x <= PG_MAX_ALT; x++)
		t = bit_next(cact, x ? t + 1 : 0);
	for (x = bit_next(cunrep, t); x != SIZE_MAX; x = bit_next(cunrep, x + 1)) {
		struct finding *f = &sw->ck->f[sw->rix[x]];

		f->alt = true;
		f->alt_port = (uint16_t)pos;
		f->alt_proto = sw->proto;
		bit_clear(cunrep, x);
	}
}

/*
 * One sweep over rules rix[0..k) (ascending) for one protocol. dup: find
 * rules overlapping an earlier one (the caller passes rules of one action
 * and identical conditions); else find allow/deny overlaps and count
 * conditional rules per action.
 */
static int sweep(struct checker *ck, const size_t *rix, size_t k, uint32_t proto, bool dup)
{
	struct sweep sw = { .ck = ck, .rix = rix, .proto = proto, .dup = dup };
	size_t e, c;
	int err = sweep_init(&sw, k);

	for (e = 0; !err && e < sw.nev;) {
		uint32_t pos = sw.ev[e].pos;

		for (; e < sw.nev && sw.ev[e].pos == pos; e++)
			sweep_event(&sw, &sw.ev[e], pos);
		for (c = 0; c < 2 && pos <= 65535; c++)
			if (sw.ccount[c] > PG_MAX_ALT)
				sweep_alts(&sw, c, pos);
	}
	free(sw.ev);
	free(sw.mem);
	return err;
}

struct item {
	const struct pg_rule *r;
	size_t i;
};

static int cmp_str_opt(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) : (a != NULL) - (b != NULL);
}

static int cmp_cond(const struct pg_cond *a, const struct pg_cond *b)
{
	int c;

	if ((c = cmp_str_opt(a->has_user ? a->user : NULL, b->has_user ? b->user : NULL)))
		return c;
	if ((c = cmp_str_opt(a->has_group ? a->group : NULL, b->has_group ? b->group : NULL)))
		return c;
	if (a->has_addr != b->has_addr)
		return a->has_addr ? 1 : -1;
	if (!a->has_addr)
		return 0;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/*
 * What makes two selectors the same: a cgroup path as written, a pod
 * selector in its canonical form ("pod:web/b,a" is "pod:web/a,b"). Pod
 * selectors that differ may still select one pod: like globs, they meet in
 * pg_compile(), against the pods of the node.
 */
static const char *sel_key(const struct pg_rule *r)
{
	return r->pod_key ? r->pod_key : r->selector;
}

static int cmp_by_selector(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(sel_key(x->r), sel_key(y->r));

	if (c)
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

static int cmp_by_cond(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c;

	if (x->r->action != y->r->action)
		return x->r->action < y->r->action ? -1 : 1;
	if ((c = cmp_cond(&x->r->cond, &y->r->cond)))
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

static bool same_class(const struct item *x, const struct item *y)
{
	return x->r->action == y->r->action && !cmp_cond(&x->r->cond, &y->r->cond);
}

static int sweep_all(struct checker *ck, const struct item *it, size_t k, size_t *rix, bool dup)
{
	static const uint32_t protos[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	size_t i;
	int err;

	for (i = 0; i < k; i++)
		rix[i] = it[i].i;
	for (i = 0; i < 3; i++)
		if ((err = sweep(ck, rix, k, protos[i], dup)))
			return err;
	return 0;
}

static int find_collisions(struct checker *ck)
{
	struct pg_policy *p = ck->p;
	size_t n = p->nrules, a, b, c, d, i;
	struct item *it = malloc((n ? n : 1) * sizeof(*it));
	size_t *rix = malloc((n ? n : 1) * sizeof(*rix));
	int err = 0;

	if (!it || !rix) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		it[i] = (struct item){ &p->rules[i], i };
	qsort(it, n, sizeof(*it), cmp_by_selector);
	for (a = 0; a < n && !err; a = b) {
		for (b = a + 1; b < n && !strcmp(sel_key(it[a].r), sel_key(it[b].r)); b++)
			;
		if (b - a < 2)
			continue;
		if ((err = sweep_all(ck, it + a, b - a, rix, false)))
			break;
		/* Duplicates: same action and conditions, in file order. */
		qsort(it + a, b - a, sizeof(*it), cmp_by_cond);
		for (c = a; c < b && !err; c = d) {
			for (d = c + 1; d < b && same_class(&it[c], &it[d]); d++)
				;
			if (d - c >= 2)
				err = sweep_all(ck, it + c, d - c, rix, true);
		}
	}
out:
	free(it);
	free(rix);
	return err;
}

static void report_rule(struct parser *ps, const struct finding *f, size_t i)
{
	const struct pg_policy *p = ps->p;
	const struct pg_rule *r = &p->rules[i];
	struct pg_range *out;
	char a[128], b[128];
	size_t n;

	if (f->conflict) {
		const struct pg_rule *e = &p->rules[f->conflict - 1];

		pg_diags_add(ps->d, PG_SEV_ERROR, r->loc, "%s conflicts with %s at %s:%u on %s/%u",
			     pol_action_name(r->action), pol_action_name(e->action),
			     p->files[e->loc.file], (unsigned int)e->loc.line,
			     pol_proto_name(f->conflict_proto), (unsigned int)f->conflict_port);
	}
	if (f->dup) {
		const struct pg_rule *e = &p->rules[f->dup - 1];

		pg_diags_add(ps->d, PG_SEV_WARNING, r->loc, "duplicates the rule at %s:%u",
			     p->files[e->loc.file], (unsigned int)e->loc.line);
	}
	if (f->alt)
		pg_diags_add(ps->d, PG_SEV_ERROR, r->loc,
			     "more than %d %s rules with conditions on '%s' for %s/%u", PG_MAX_ALT,
			     pol_action_name(r->action), r->selector, pol_proto_name(f->alt_proto),
			     (unsigned int)f->alt_port);

	out = malloc((r->nports + p->nprotect) * sizeof(*out));
	if (!out) {
		pol_no_memory(ps);
		return;
	}
	n = pol_ranges_minus(r->ports, r->nports, p->protect, p->nprotect, out);
	if (n) {
		bool one = n == 1 && out[0].lo == out[0].hi;

		pol_fmt_ranges(a, sizeof(a), out, n, MAX_SHOWN);
		pol_fmt_ranges(b, sizeof(b), p->protect, p->nprotect, MAX_SHOWN);
		pg_diags_add(ps->d, PG_SEV_WARNING, r->ports_loc,
			     "%s %s %s not protected (protect %s): this rule has no effect on %s",
			     one ? "port" : "ports", a, one ? "is" : "are", b, one ? "it" : "them");
	}
	free(out);
}

/*
 * Valid policies that almost certainly say something else than was meant.
 * Warnings: apply goes ahead, check --strict refuses.
 */
static void lint(struct parser *ps)
{
	const struct pg_policy *p = ps->p;
	bool deny = p->def == PG_DEFAULT_DENY ||
		    (p->def == PG_DEFAULT_UNSET && p->mode_set && p->mode == PG_MODE_SYSCTL);
	bool kernel = p->def == PG_DEFAULT_KERNEL ||
		      (p->def == PG_DEFAULT_UNSET && p->mode_set && p->mode == PG_MODE_GRANT);

	/* Not when errors dropped the rules: that would be one more error. */
	if (!p->nrules && ps->d->nerrors == ps->nerrors0) {
		pg_diags_hint(ps->d, PG_SEV_WARNING, (struct pg_loc){ 0, 0, 0 },
			      "add allow rules, or check that its includes match files",
			      "the policy has no allow or deny rules: %s",
			      kernel  ? "it changes no bind"
			      : !deny ? "every bind to a protected port gets the default"
			      : p->exempt_root
				  ? "every bind to a protected port but root's is refused"
				  : "every bind to a protected port is refused, root's too");
		return;
	}
	if (deny && !p->exempt_root)
		pg_diags_hint(
		    ps->d, PG_SEV_WARNING, p->def == PG_DEFAULT_DENY ? p->def_loc : p->mode_loc,
		    "add 'exempt root', or rules for the daemons that run as root",
		    "%s without 'exempt root' refuses root too: %s",
		    p->def == PG_DEFAULT_DENY ? "default deny" : "mode sysctl (default deny)",
		    pg_policy_protects(p, 22) ? "sshd could not bind port 22"
					      : "root's daemons need rules");
}

void pol_check_policy(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	struct checker ck = { p, NULL };
	size_t i;

	if (p->mode_set && p->mode == PG_MODE_SYSCTL && p->def == PG_DEFAULT_KERNEL)
		pg_diags_add(ps->d, PG_SEV_ERROR, p->def_loc,
			     "default kernel is not allowed in sysctl mode: it would let every "
			     "unprivileged bind through");
	if (p->mode_set && p->mode == PG_MODE_GRANT)
		for (i = 0; i < p->nnetns; i++)
			pg_diags_add(ps->d, PG_SEV_WARNING, p->netns[i].loc,
				     "netns has no effect in grant mode");

	lint(ps);

	ck.f = calloc(p->nrules ? p->nrules : 1, sizeof(*ck.f));
	if (!ck.f || find_collisions(&ck)) {
		pol_no_memory(ps);
		free(ck.f);
		return;
	}
	for (i = 0; i < p->nrules && !ps->oom; i++)
		report_rule(ps, &ck.f[i], i);
	free(ck.f);
}
