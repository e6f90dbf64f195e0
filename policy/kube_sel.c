// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kube_sel.c - pod selectors: "pod:NAMESPACE[/LABEL-SELECTOR]".
 *
 * The label selector grammar, its lexer and its matching follow
 * k8s.io/apimachinery/pkg/labels/selector.go (Parse, Lexer, Requirement.
 * Matches), and names are checked as pkg/api/validate/content does it
 * (IsDNS1123Label, IsLabelKey, IsLabelValue), so that a selector means
 * here what kubectl get pods -l means. Unlike Kubernetes, errors say where.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_sel.h"

#define POD_PREFIX "pod:"
#define QUOTE_HINT "quote a selector that holds spaces, e.g. \"pod:web/tier in (a, b)\""

/* A name check on s, which stands at offset base of the text parsed. */
static int check_at(int (*check)(const char *, size_t, struct pg_kube_err *), const char *s,
		    size_t len, size_t base, struct pg_kube_err *err)
{
	int rc = check(s, len, err);

	if (rc)
		err->off += base;
	return rc;
}

/* --- the lexer (selector.go's Lexer) ------------------------------------------ */

enum tok {
	T_END,
	T_ID,
	T_COMMA,
	T_OPAR,
	T_CPAR,
	T_NOT, /* ! */
	T_EQ,
	T_DEQ,
	T_NE,
	T_GT,
	T_LT,
	T_IN,
	T_NOTIN,
};

struct token {
	enum tok t;
	size_t off, len; /* in the text; len 0 at the end */
	bool space;	 /* whitespace before it */
};

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(int c)
{
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

/* The longest operator at s: "!=" and "==" are the only two-byte ones. */
static enum tok lex_special(const char *s, size_t n, size_t *len)
{
	*len = 1;
	if (n > 1 && s[1] == '=' && (s[0] == '!' || s[0] == '=')) {
		*len = 2;
		return s[0] == '!' ? T_NE : T_DEQ;
	}
	switch (s[0]) {
	case '!':
		return T_NOT;
	case '=':
		return T_EQ;
	case '(':
		return T_OPAR;
	case ')':
		return T_CPAR;
	case ',':
		return T_COMMA;
	case '>':
		return T_GT;
	default:
		return T_LT;
	}
}

/* The token at *pos of s[0..end), which then moves past it. */
static struct token lex(const char *s, size_t end, size_t *pos)
{
	struct token t = { T_END, *pos, 0, false };
	size_t i = *pos;

	while (i < end && is_space((unsigned char)s[i]))
		i++;
	t.space = i > *pos;
	t.off = i;
	if (i == end) {
		*pos = i;
		return t;
	}
	if (is_special((unsigned char)s[i])) {
		t.t = lex_special(s + i, end - i, &t.len);
	} else {
		while (i + t.len < end && !is_special((unsigned char)s[i + t.len]) &&
		       !is_space((unsigned char)s[i + t.len]))
			t.len++;
		t.t = T_ID;
		if (t.len == 2 && !memcmp(s + i, "in", 2))
			t.t = T_IN;
		else if (t.len == 5 && !memcmp(s + i, "notin", 5))
			t.t = T_NOTIN;
	}
	*pos = i + t.len;
	return t;
}

/* --- the parser (selector.go's Parser) ---------------------------------------- */

struct parser {
	const char *s;
	size_t end, pos;
	struct token cur;  /* the lookahead */
	struct token prev; /* the token consumed last */
	struct token last; /* the last one before the end, for messages */
	struct pg_kube_err *err;
};

/* The lookahead; where a value may stand, "in" and "notin" are words. */
static enum tok peek(const struct parser *p, bool values)
{
	if (values && (p->cur.t == T_IN || p->cur.t == T_NOTIN))
		return T_ID;
	return p->cur.t;
}

static enum tok next(struct parser *p, bool values)
{
	enum tok t = peek(p, values);

	p->prev = p->cur;
	if (p->cur.t != T_END)
		p->last = p->cur;
	p->cur = lex(p->s, p->end, &p->pos);
	return t;
}

/* "unexpected 'X': expected WHAT", or at the end, "... ends after 'Y'". */
static int unexpected(struct parser *p, const struct token *t, const char *expected,
		      const char *hint)
{
	if (t->t == T_END)
		return pg_kube_fail(p->err, t->off, hint ? hint : QUOTE_HINT,
				    "label selector ends after '%.*s': expected %s",
				    (int)p->prev.len, p->s + p->prev.off, expected);
	return pg_kube_fail(p->err, t->off, hint,
			    "unexpected '%.*s' in label selector: expected %s",
			    (int)(t->len > 64 ? 64 : t->len), p->s + t->off, expected);
}

static char *dup_span(const char *s, size_t len)
{
	char *r = malloc(len + 1);

	if (r) {
		memcpy(r, s, len);
		r[len] = '\0';
	}
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add a value (a set: sorted, no duplicates, as sets.String.List()). */
static int add_value(struct pg_kube_req *r, const char *s, size_t len)
{
	char **v, *d = dup_span(s, len);
	size_t i;

	if (!d)
		return -ENOMEM;
	for (i = 0; i < r->nvalues; i++) {
		if (!strcmp(r->values[i], d)) {
			free(d);
			return 0;
		}
	}
	v = realloc(r->values, (r->nvalues + 1) * sizeof(*v));
	if (!v) {
		free(d);
		return -ENOMEM;
	}
	r->values = v;
	v[r->nvalues++] = d;
	qsort(v, r->nvalues, sizeof(*v), cmp_str);
	return 0;
}

/*
 * "( v, v, ... )" after in or notin. As in Kubernetes, "()" is the set of
 * the empty value, and a comma with nothing on one side adds the empty value:
 * "(a,)", "(,a)" and "(a,,b)" all hold "".
 */
static int parse_set(struct parser *p, struct pg_kube_req *r)
{
	struct token t;
	int rc;

	if (peek(p, true) != T_OPAR)
		return unexpected(p, &p->cur, "'(' after in or notin", NULL);
	next(p, true);
	if (peek(p, true) == T_CPAR) {
		next(p, true);
		return add_value(r, "", 0);
	}
	if (peek(p, true) != T_ID && peek(p, true) != T_COMMA)
		return unexpected(p, &p->cur, "a value, ',' or ')'", NULL);
	for (;;) {
		t = p->cur;
		switch (next(p, true)) {
		case T_ID:
			rc = check_at(pg_kube_value_check, p->s + t.off, t.len, t.off, p->err);
			if (!rc)
				rc = add_value(r, p->s + t.off, t.len);
			if (rc)
				return rc;
			if (peek(p, true) == T_CPAR) {
				next(p, true);
				return 0;
			}
			if (peek(p, true) != T_COMMA)
				return unexpected(p, &p->cur, "',' or ')'",
						  peek(p, true) == T_ID && p->cur.space
						      ? "values are separated by ','"
						      : NULL);
			break;
		case T_COMMA:
			/* "(," ",)" and ",," stand for the empty value */
			if (!r->nvalues || peek(p, true) == T_CPAR || peek(p, true) == T_COMMA) {
				rc = add_value(r, "", 0);
				if (rc)
					return rc;
			}
			if (peek(p, true) == T_CPAR) {
				next(p, true);
				return 0;
			}
			break;
		default:
			return unexpected(p, &p->prev, "a value or ','", NULL);
		}
	}
}

/* The value after =, ==, !=, > or <; none at all is the empty value. */
static int parse_exact(struct parser *p, struct pg_kube_req *r)
{
	struct token t = p->cur;

	if (peek(p, true) == T_END || peek(p, true) == T_COMMA)
		return add_value(r, "", 0);
	if (next(p, true) != T_ID)
		return unexpected(p, &t, "a value", NULL);
	return add_value(r, p->s + t.off, t.len);
}

static enum pg_kube_op op_of(enum tok t)
{
	switch (t) {
	case T_EQ:
		return PG_KUBE_EQ;
	case T_DEQ:
		return PG_KUBE_DEQ;
	case T_NE:
		return PG_KUBE_NE;
	case T_GT:
		return PG_KUBE_GT;
	case T_LT:
		return PG_KUBE_LT;
	case T_IN:
		return PG_KUBE_IN;
	case T_NOTIN:
		return PG_KUBE_NOTIN;
	default:
		return 0;
	}
}

/*
 * What NewRequirement checks once a requirement is read, for the value of
 * =, ==, !=, > and < at voff (in and notin check theirs as they are read).
 */
static int check_exact(struct parser *p, struct pg_kube_req *r, size_t voff)
{
	const char *v = r->values[0];

	if ((r->op == PG_KUBE_GT || r->op == PG_KUBE_LT) && !pg_kube_int64(v, strlen(v), &r->num))
		return pg_kube_fail(p->err, voff, "write a decimal integer, e.g. replicas>1",
				    "'%s' is not an integer: '>' and '<' compare numbers", v);
	return check_at(pg_kube_value_check, v, strlen(v), voff, p->err);
}

/* One requirement: "[!]key", "key OP value" or "key in|notin (values)". */
static int parse_req(struct parser *p, struct pg_kube_req *r)
{
	struct token t;
	size_t voff;
	int rc;

	r->off = p->cur.off;
	if (next(p, true) == T_NOT) {
		r->op = PG_KUBE_NOT_EXISTS;
		if (peek(p, true) != T_ID)
			return unexpected(p, &p->cur, "a label key after '!'", NULL);
		next(p, true);
	}
	t = p->prev;
	rc = check_at(pg_kube_key_check, p->s + t.off, t.len, t.off, p->err);
	if (rc)
		return rc;
	r->key = dup_span(p->s + t.off, t.len);
	if (!r->key)
		return -ENOMEM;
	if (peek(p, true) == T_END || peek(p, true) == T_COMMA || r->op == PG_KUBE_NOT_EXISTS) {
		if (!r->op)
			r->op = PG_KUBE_EXISTS;
		return 0;
	}
	t = p->cur;
	r->op = op_of(next(p, false));
	if (!r->op)
		return unexpected(p, &t, "an operator: in, notin, =, ==, !=, > or <",
				  t.space ? "a label key holds no spaces" : NULL);
	if (r->op == PG_KUBE_IN || r->op == PG_KUBE_NOTIN)
		return parse_set(p, r);
	voff = p->cur.off;
	rc = parse_exact(p, r);
	return rc ? rc : check_exact(p, r, voff);
}

static void req_free(struct pg_kube_req *r)
{
	size_t i;

	for (i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
	free(r->key);
}

static int cmp_req(const void *a, const void *b)
{
	const struct pg_kube_req *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->off > y->off) - (x->off < y->off);
}

/* Requirements separated by ',' up to the end; at least one. */
static int parse_labels(struct parser *p, struct pg_kube_sel *out)
{
	struct pg_kube_req *v;
	int rc;

	p->cur = lex(p->s, p->end, &p->pos);
	if (peek(p, true) == T_END)
		return pg_kube_fail(p->err, p->cur.off,
				    "write pod:NAMESPACE to select every pod in it",
				    "empty label selector after '/'");
	for (;;) {
		if (peek(p, true) != T_ID && peek(p, true) != T_NOT)
			return unexpected(p, &p->cur, "'!' or a label key",
					  p->prev.t == T_COMMA ? "remove the extra ','" : NULL);
		v = realloc(out->reqs, (out->nreqs + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->reqs = v;
		v[out->nreqs] = (struct pg_kube_req){ 0 };
		rc = parse_req(p, &v[out->nreqs]);
		out->nreqs++;
		if (rc)
			return rc;
		if (next(p, true) == T_END)
			break;
		if (p->prev.t != T_COMMA)
			return unexpected(p, &p->prev, "',' or the end of the selector",
					  p->prev.t == T_ID && p->prev.space
					      ? "label values hold no spaces; separate "
						"requirements with ','"
					      : NULL);
	}
	qsort(out->reqs, out->nreqs, sizeof(*out->reqs), cmp_req);
	return 0;
}

bool pg_kube_sel_is_pod(const char *text, size_t len)
{
	return len >= strlen(POD_PREFIX) && !memcmp(text, POD_PREFIX, strlen(POD_PREFIX));
}

static int parse_ns(const char *text, size_t len, struct pg_kube_sel *out, struct pg_kube_err *err)
{
	size_t base = strlen(POD_PREFIX);
	int rc;

	if (!len)
		return pg_kube_fail(err, base, "write pod:NAMESPACE, or pod:* for every namespace",
				    "pod selector without a namespace");
	if (len == 1 && text[base] == '*')
		return 0;
	rc = check_at(pg_kube_ns_check, text + base, len, base, err);
	if (rc)
		return rc;
	out->ns = dup_span(text + base, len);
	return out->ns ? 0 : -ENOMEM;
}

int pg_kube_sel_parse(const char *text, size_t len, struct pg_kube_sel *out,
		      struct pg_kube_err *err)
{
	struct parser p = { .s = text, .end = len, .err = err };
	const char *nul = memchr(text, '\0', len), *slash;
	size_t base = strlen(POD_PREFIX), nslen;
	int rc;

	*out = (struct pg_kube_sel){ NULL, NULL, 0 };
	if (!pg_kube_sel_is_pod(text, len))
		return pg_kube_fail(err, 0, NULL, "a pod selector starts with 'pod:'");
	if (nul)
		return pg_kube_fail(err, (size_t)(nul - text), NULL, "NUL byte in pod selector");
	if (len > PG_KUBE_MAX_SEL)
		return pg_kube_fail(err, PG_KUBE_MAX_SEL, NULL, "pod selector longer than %d bytes",
				    PG_KUBE_MAX_SEL);
	slash = memchr(text + base, '/', len - base);
	nslen = slash ? (size_t)(slash - text) - base : len - base;
	rc = parse_ns(text, nslen, out, err);
	if (!rc && slash) {
		p.pos = (size_t)(slash - text) + 1;
		rc = parse_labels(&p, out);
	}
	if (rc)
		pg_kube_sel_free(out);
	return rc;
}

void pg_kube_sel_free(struct pg_kube_sel *s)
{
	size_t i;

	for (i = 0; i < s->nreqs; i++)
		req_free(&s->reqs[i]);
	free(s->reqs);
	free(s->ns);
	*s = (struct pg_kube_sel){ NULL, NULL, 0 };
}

/* --- matching (Requirement.Matches) ------------------------------------------- */

static const char *lookup(const struct pg_kube_label *l, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i].key && !strcmp(l[i].key, key))
			return l[i].value ? l[i].value : "";
	return NULL;
}

static bool has_value(const struct pg_kube_req *r, const char *v)
{
	return bsearch(&v, r->values, r->nvalues, sizeof(*r->values), cmp_str) != NULL;
}

static bool req_match(const struct pg_kube_req *r, const struct pg_kube_label *l, size_t n)
{
	const char *v = lookup(l, n, r->key);
	long long x;

	switch (r->op) {
	case PG_KUBE_EQ:
	case PG_KUBE_DEQ:
	case PG_KUBE_IN:
		return v && has_value(r, v);
	case PG_KUBE_NE:
	case PG_KUBE_NOTIN:
		return !v || !has_value(r, v);
	case PG_KUBE_EXISTS:
		return v;
	case PG_KUBE_NOT_EXISTS:
		return !v;
	case PG_KUBE_GT:
	case PG_KUBE_LT:
		if (!v || !pg_kube_int64(v, strlen(v), &x))
			return false;
		return r->op == PG_KUBE_GT ? x > r->num : x < r->num;
	}
	return false;
}

bool pg_kube_sel_match(const struct pg_kube_sel *s, const char *ns,
		       const struct pg_kube_label *labels, size_t n)
{
	size_t i;

	if (s->ns && (!ns || strcmp(s->ns, ns)))
		return false;
	for (i = 0; i < s->nreqs; i++)
		if (!req_match(&s->reqs[i], labels, n))
			return false;
	return true;
}

/* --- the canonical form (Requirement.String) ---------------------------------- */

static const char *op_str(enum pg_kube_op op)
{
	static const char *const s[] = {
		[PG_KUBE_EQ] = "=",    [PG_KUBE_DEQ] = "==",	    [PG_KUBE_NE] = "!=",
		[PG_KUBE_IN] = " in ", [PG_KUBE_NOTIN] = " notin ", [PG_KUBE_GT] = ">",
		[PG_KUBE_LT] = "<",    [PG_KUBE_EXISTS] = "",	    [PG_KUBE_NOT_EXISTS] = "",
	};

	return s[op];
}

static void req_str(const struct pg_kube_req *r, FILE *f)
{
	bool set = r->op == PG_KUBE_IN || r->op == PG_KUBE_NOTIN;
	size_t i;

	fprintf(f, "%s%s%s%s", r->op == PG_KUBE_NOT_EXISTS ? "!" : "", r->key, op_str(r->op),
		set ? "(" : "");
	for (i = 0; i < r->nvalues; i++)
		fprintf(f, "%s%s", i ? "," : "", r->values[i]);
	if (set)
		fputc(')', f);
}

char *pg_kube_sel_str(const struct pg_kube_sel *s)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, POD_PREFIX "%s", s->ns ? s->ns : "*");
	for (i = 0; i < s->nreqs; i++) {
		fputc(i ? ',' : '/', f);
		req_str(&s->reqs[i], f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
