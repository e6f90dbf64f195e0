// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * diag.c - diagnostics of the policy library: collecting them, and printing
 * them for people, with the line they point at and nothing a terminal
 * would act on (a policy file may hold any byte).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* --- collecting ------------------------------------------------------------- */

void pg_diags_addv(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *hint,
		   const char *fmt, va_list ap)
{
	char *msg = NULL;
	va_list aq;
	int n;

	/* Counted even if it cannot be stored: an unstored error still
	 * makes the policy unusable. */
	if (sev == PG_SEV_ERROR)
		d->nerrors++;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		struct pg_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return;
		d->v = v;
		d->cap = cap;
	}
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n >= 0) {
		msg = malloc((size_t)n + 1);
		if (msg)
			vsnprintf(msg, (size_t)n + 1, fmt, ap);
	}
	d->v[d->n++] = (struct pg_diag){
		.sev = sev, .loc = loc, .msg = msg, .hint = hint ? strdup(hint) : NULL
	};
}

void pg_diags_add(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(d, sev, loc, NULL, fmt, ap);
	va_end(ap);
}

void pg_diags_hint(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *hint,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(d, sev, loc, hint, fmt, ap);
	va_end(ap);
}

size_t pg_diags_nwarnings(const struct pg_diags *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->n; i++)
		n += d->v[i].sev == PG_SEV_WARNING;
	return n;
}

void pg_diags_strict(struct pg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->v[i].sev != PG_SEV_WARNING)
			continue;
		d->v[i].sev = PG_SEV_ERROR;
		d->nerrors++;
	}
}

void pg_diags_free(struct pg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].msg);
		free(d->v[i].hint);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* --- sources ------------------------------------------------------------------ */

int pg_srcs_add(struct pg_srcs *s, const char *path, const char *buf, size_t len)
{
	struct pg_src *v;
	char *p, *b;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;

		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	p = strdup(path);
	b = malloc(len ? len : 1);
	if (!p || !b) {
		free(p);
		free(b);
		return -ENOMEM;
	}
	memcpy(b, buf, len);
	s->v[s->n++] = (struct pg_src){ p, b, len };
	return 0;
}

void pg_srcs_free(struct pg_srcs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].buf);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static const struct pg_src *src_find(const struct pg_srcs *s, const char *path)
{
	size_t i;

	for (i = 0; s && path && i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return &s->v[i];
	return NULL;
}

/*
 * Line number line (1-based) of src, without its line end; false if the
 * file has fewer lines. Diagnostics come mostly in file order, so the
 * search goes on from where the last one ended when it can.
 */
struct cursor {
	const struct pg_src *src;
	uint32_t line;
	size_t off;
};

static bool src_line(struct cursor *c, const struct pg_src *src, uint32_t line, const char **s,
		     size_t *n)
{
	const char *nl;

	if (c->src != src || c->line > line)
		*c = (struct cursor){ src, 1, 0 };
	while (c->line < line) {
		nl = memchr(src->buf + c->off, '\n', src->len - c->off);
		if (!nl)
			return false;
		c->off = (size_t)(nl - src->buf) + 1;
		c->line++;
	}
	if (c->off == src->len && line > 1 && src->buf[c->off - 1] == '\n')
		return false; /* past the last line end: no such line */
	*s = src->buf + c->off;
	nl = memchr(*s, '\n', src->len - c->off);
	*n = nl ? (size_t)(nl - *s) : src->len - c->off;
	if (*n && (*s)[*n - 1] == '\r')
		(*n)--;
	return true;
}

/* --- showing bytes safely ----------------------------------------------------- */

/* Length of the UTF-8 sequence at s (1 to 4) with its code point, or 0 if
 * it is not one (overlong forms and surrogates are not). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool pg_utf8_valid(const char *s, size_t n, size_t *bad)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_seq((const unsigned char *)s + i, n - i, &cp);
		if (!k) {
			if (bad)
				*bad = i;
			return false;
		}
		i += k;
	}
	return true;
}

/*
 * Characters that print as nothing, or that reorder or hide text (C1
 * controls, which some terminals obey; zero-width and bidirectional
 * formatting characters; the byte order mark).
 */
static bool invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || cp == 0x61c || cp == 0x180e ||
	       (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff ||
	       (cp >= 0xfff9 && cp <= 0xfffb);
}

bool pg_text_safe(const char *s, size_t n, size_t *bad, uint32_t *cp)
{
	size_t i = 0, k;
	uint32_t c = 0;

	for (; i < n; i += k) {
		k = utf8_seq((const unsigned char *)s + i, n - i, &c);
		if (!k || c < 0x20 || c == 0x7f || invisible(c))
			break;
	}
	if (i == n)
		return true;
	if (bad)
		*bad = i;
	if (cp)
		*cp = k ? c : (unsigned char)s[i];
	return false;
}

/*
 * The next character of s (n > 0 bytes) as shown, into out (NUL-ended):
 * control bytes and bytes that are not UTF-8 as \xNN, invisible characters
 * as \u{NNNN}, a tab as \t, or in a source line (line) as spaces to the
 * next multiple of 8 from column col. Returns the columns it takes; *used
 * is the bytes of s it stands for.
 */
static size_t show_char(const char *s, size_t n, size_t col, bool line, char out[16], size_t *used)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	size_t k = utf8_seq(u, n, &cp), w;

	*used = k ? k : 1;
	if (!k || (cp < 0x20 && cp != '\t') || cp == 0x7f) {
		snprintf(out, 16, "\\x%02x", u[0]);
		return 4;
	}
	if (cp == '\t') {
		if (!line) {
			memcpy(out, "\\t", 3);
			return 2;
		}
		w = 8 - col % 8;
		memset(out, ' ', w);
		out[w] = '\0';
		return w;
	}
	if (invisible(cp))
		return (size_t)snprintf(out, 16, "\\u{%04x}", (unsigned int)cp);
	memcpy(out, s, k);
	out[k] = '\0';
	return 1;
}

/* Print s (to fp, unless NULL) as shown from column col; returns the columns. */
static size_t show(FILE *fp, const char *s, size_t n, size_t col, bool line)
{
	size_t i = 0, w = 0, used;
	char out[16];

	while (i < n) {
		w += show_char(s + i, n - i, col + w, line, out, &used);
		if (fp)
			fputs(out, fp);
		i += used;
	}
	return w;
}

char *pg_escape(const char *s, size_t n)
{
	size_t i = 0, o = 0, used;
	char out[16], *r = malloc(5 * n + 1); /* an escape is at most 5 per byte */

	if (!r)
		return NULL;
	while (i < n) {
		show_char(s + i, n - i, 0, false, out, &used);
		memcpy(r + o, out, strlen(out));
		o += strlen(out);
		i += used;
	}
	r[o] = '\0';
	return r;
}

static void show_str(FILE *fp, const char *s)
{
	show(fp, s, strlen(s), 0, false);
}

/* --- printing ------------------------------------------------------------------ */

#define GUTTER	   "      | " /* beside the caret: as wide as "%5u | " */
#define LINE_SHOWN 100	      /* bytes of a long line shown around the column */
#define LINE_LEAD  40	      /* of them before the column */
#define LINE_LONG  120	      /* lines up to this long are shown whole */

/* "    3 | allow /a tcp/http" and a caret under the column, if any. */
static void print_excerpt(FILE *fp, const char *s, size_t n, uint32_t line, uint32_t col)
{
	size_t c = col ? col - 1 : 0, a = 0, b = n, lead;

	if (c > n)
		c = n;
	if (n > LINE_LONG) {
		a = c > LINE_LEAD + 20 ? c - LINE_LEAD : 0;
		b = a + LINE_SHOWN < n ? a + LINE_SHOWN : n;
		while (a > 0 && (s[a] & 0xc0) == 0x80)
			a--;
		while (b < n && (s[b] & 0xc0) == 0x80)
			b++;
	}
	lead = a ? 3 : 0;
	fprintf(fp, "%5u | %s", (unsigned int)line, a ? "..." : "");
	show(fp, s + a, b - a, lead, true);
	fprintf(fp, "%s\n", b < n ? "..." : "");
	if (!col)
		return;
	fprintf(fp, GUTTER "%*s^\n", (int)(lead + show(NULL, s + a, c - a, lead, true)), "");
}

static void print_one(FILE *fp, const struct pg_diag *g, const struct pg_policy *p,
		      const struct pg_srcs *srcs, struct cursor *cur)
{
	const char *file = p && g->loc.file < p->nfiles ? p->files[g->loc.file] : "<unknown>";
	const struct pg_src *src = g->loc.line ? src_find(srcs, file) : NULL;
	const char *s;
	size_t n;

	show_str(fp, file);
	if (g->loc.line)
		fprintf(fp, ":%u", (unsigned int)g->loc.line);
	if (g->loc.line && g->loc.col)
		fprintf(fp, ":%u", (unsigned int)g->loc.col);
	fprintf(fp, ": %s: ", g->sev == PG_SEV_ERROR ? "error" : "warning");
	show_str(fp, g->msg ? g->msg : "(out of memory for the message)");
	if (g->hint) {
		fputs("; ", fp);
		show_str(fp, g->hint);
	}
	fputc('\n', fp);
	if (src && src_line(cur, src, g->loc.line, &s, &n))
		print_excerpt(fp, s, n, g->loc.line, g->loc.col);
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

void pg_diags_render(const struct pg_diags *d, const struct pg_policy *p,
		     const struct pg_render_opts *o, FILE *fp)
{
	size_t shown[2] = { 0, 0 }, hidden[2] = { 0, 0 }, i, nwarn = pg_diags_nwarnings(d);
	struct cursor cur = { NULL, 0, 0 };

	for (i = 0; i < d->n; i++) {
		const struct pg_diag *g = &d->v[i];
		int k = g->sev == PG_SEV_ERROR ? 0 : 1;

		if (o->max && shown[k] == o->max) {
			hidden[k]++;
			continue;
		}
		shown[k]++;
		print_one(fp, g, p, o->srcs, &cur);
	}
	/* Errors that could not be stored are counted all the same. */
	if (d->nerrors > d->n - nwarn)
		hidden[0] += d->nerrors - (d->n - nwarn);
	if (hidden[0] && hidden[1])
		fprintf(fp, "%zu more error%s and %zu more warning%s not shown\n", hidden[0],
			plural(hidden[0]), hidden[1], plural(hidden[1]));
	else if (hidden[0] || hidden[1])
		fprintf(fp, "%zu more %s%s not shown\n", hidden[0] + hidden[1],
			hidden[0] ? "error" : "warning", plural(hidden[0] + hidden[1]));
	if (o->summary && (d->nerrors || nwarn))
		fprintf(fp, "%zu error%s, %zu warning%s\n", d->nerrors, plural(d->nerrors), nwarn,
			plural(nwarn));
}

void pg_diags_print(const struct pg_diags *d, const struct pg_policy *p, FILE *fp)
{
	const struct pg_render_opts o = { NULL, 0, false };

	pg_diags_render(d, p, &o, fp);
}
