// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* prom.c - the Prometheus exposition format's label values and samples, and
 * the rule ids the rule series are keyed by (prom.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h" /* pg_utf8_valid, pg_sha256 */
#include "prom.h"

void pg_rule_id(const struct pg_rule_fields *f, char out[PG_RULE_ID_LEN + 1])
{
	const char *part[] = { f->action, f->selector, f->ports, f->conditions };
	struct pg_sha256 c;
	uint8_t sum[32];
	size_t i;

	pg_sha256_init(&c);
	/* the NUL after each part keeps ("a b", "c") apart from ("a", "b c") */
	for (i = 0; i < sizeof(part) / sizeof(part[0]); i++)
		pg_sha256_update(&c, part[i], strlen(part[i]) + 1);
	pg_sha256_final(&c, sum);
	for (i = 0; i < PG_RULE_ID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", sum[i]);
}

static int key_cmp(const void *a, const void *b)
{
	const struct pg_rule_key *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

struct pg_rule_key *pg_rule_keys(const pg_rule_id_t *ids, size_t n)
{
	struct pg_rule_key *k = calloc(n ? n : 1, sizeof(*k));
	size_t i;

	if (!k)
		return NULL;
	for (i = 0; i < n; i++) {
		memcpy(k[i].id, ids[i], sizeof(k[i].id));
		k[i].idx = (uint32_t)i;
	}
	qsort(k, n, sizeof(*k), key_cmp);
	return k;
}

int64_t pg_rule_key_find(const struct pg_rule_key *keys, size_t n, const char *id)
{
	size_t lo = 0, hi = n, mid;

	/* the first key not below id: the lowest index among equal ids */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(keys[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(keys[lo].id, id) ? (int64_t)keys[lo].idx : -1;
}

const char *pg_prom_commit(const char *version)
{
	const char *p, *g = NULL;

	for (p = version; (p = strstr(p, "-g")); p++)
		if (isxdigit((unsigned char)p[2]))
			g = p + 2;
	return g ? g : "";
}

/* The bytes of s, escaped for a label value; none of them outside UTF-8. */
static void escaped(FILE *f, const char *s, size_t n)
{
	for (; n--; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void pg_prom_label_value(FILE *f, const char *s)
{
	size_t len, i = 0, bad;

	if (!s)
		s = "";
	len = strlen(s);
	/* the policy library's UTF-8 check, as the JSON output's (json.c) */
	while (!pg_utf8_valid(s + i, len - i, &bad)) {
		escaped(f, s + i, bad);
		fputs("\xef\xbf\xbd", f);
		i += bad + 1;
	}
	escaped(f, s + i, len - i);
}

void pg_prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pg_prom_sample(FILE *f, const char *name, uint64_t value, ...)
{
	const char *k, *val;
	va_list ap;
	bool any = false;

	fputs(name, f);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		fprintf(f, "%s%s=\"", any ? "," : "{", k);
		pg_prom_label_value(f, val);
		fputc('"', f);
		any = true;
	}
	va_end(ap);
	fprintf(f, "%s %llu\n", any ? "}" : "", (unsigned long long)value);
}
