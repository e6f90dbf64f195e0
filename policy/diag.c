// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * diag.c - diagnostics of the policy library: collecting them, and printing
 * them for people.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

void pg_diags_addv(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *fmt,
		   va_list ap)
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
	d->v[d->n++] = (struct pg_diag){ .sev = sev, .loc = loc, .msg = msg };
}

void pg_diags_add(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(d, sev, loc, fmt, ap);
	va_end(ap);
}

void pg_diags_print(const struct pg_diags *d, const struct pg_policy *p, FILE *fp)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct pg_diag *g = &d->v[i];
		const char *file =
		    p && g->loc.file < p->nfiles ? p->files[g->loc.file] : "<unknown>";
		const char *sev = g->sev == PG_SEV_ERROR ? "error" : "warning";
		const char *msg = g->msg ? g->msg : "(out of memory for the message)";

		if (!g->loc.line)
			fprintf(fp, "%s: %s: %s\n", file, sev, msg);
		else if (!g->loc.col)
			fprintf(fp, "%s:%u: %s: %s\n", file, (unsigned int)g->loc.line, sev, msg);
		else
			fprintf(fp, "%s:%u:%u: %s: %s\n", file, (unsigned int)g->loc.line,
				(unsigned int)g->loc.col, sev, msg);
	}
}

void pg_diags_free(struct pg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	memset(d, 0, sizeof(*d));
}
