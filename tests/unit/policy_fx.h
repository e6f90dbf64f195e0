/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * policy_fx.h - fixtures of the policy language's unit tests: sources (the
 * real file system, and a table of files), diagnostics as text, and
 * asserts on ranges and locations. Header-only: each test is one file.
 */
#ifndef PORTGATE_POLICY_FX_H
#define PORTGATE_POLICY_FX_H

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

#include "policy.h"

static inline int real_read(void *ud, const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *b, *nb;

	if (!f)
		return -errno;
	b = malloc(cap);
	if (!b) {
		fclose(f);
		return -ENOMEM;
	}
	for (;;) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		nb = realloc(b, cap *= 2);
		if (!nb) {
			free(b);
			fclose(f);
			return -ENOMEM;
		}
		b = nb;
	}
	if (ferror(f)) {
		free(b);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

static inline int real_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	glob_t g;
	size_t i;
	int rc = glob(pattern, 0, NULL, &g);

	*out = NULL;
	*n = 0;
	if (rc == GLOB_NOMATCH)
		return 0;
	if (rc)
		return -EIO;
	*out = calloc(g.gl_pathc, sizeof(**out));
	if (!*out) {
		globfree(&g);
		return -ENOMEM;
	}
	for (i = 0; i < g.gl_pathc; i++)
		(*out)[i] = strdup(g.gl_pathv[i]);
	*n = g.gl_pathc;
	globfree(&g);
	return 0;
}

static const struct pg_source_ops real_ops = { real_read, real_glob, NULL };

struct ffile {
	const char *path, *text;
};

struct ffs {
	const struct ffile *f;
	size_t n;
	int glob_err;
	char last_glob[256];
};

static inline int fake_read(void *ud, const char *path, char **buf, size_t *len)
{
	const struct ffs *fs = ud;
	size_t i;

	for (i = 0; i < fs->n; i++) {
		if (!strcmp(fs->f[i].path, path)) {
			*len = strlen(fs->f[i].text);
			*buf = malloc(*len + 1);
			memcpy(*buf, fs->f[i].text, *len + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* Matches in table order, not sorted: the parser must sort. */
static inline int fake_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	struct ffs *fs = ud;
	size_t i;

	snprintf(fs->last_glob, sizeof(fs->last_glob), "%s", pattern);
	*out = NULL;
	*n = 0;
	if (fs->glob_err)
		return fs->glob_err;
	*out = calloc(fs->n + 1, sizeof(**out));
	for (i = 0; i < fs->n; i++)
		if (!fnmatch(pattern, fs->f[i].path, FNM_PATHNAME))
			(*out)[(*n)++] = strdup(fs->f[i].path);
	return 0;
}

static inline char *diags_text(const struct pg_diags *d, const struct pg_policy *p)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	pg_diags_print(d, p, f);
	fclose(f);
	return s;
}

/* Parse text as "t.conf" and compare every diagnostic printed. */
static inline void expect_diags(const char *text, const char *want)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *got;

	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, want);
	free(got);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* What an empty policy draws, with mode auto and no default. */
#define NO_RULES                                                                                   \
	"t.conf: warning: the policy has no allow or deny rules: every bind to a protected port "  \
	"gets the default; add allow rules, or check that its includes match files\n"

/* Parse text as "t.conf", compare the diagnostics, return the policy. */
static inline struct pg_policy *parse_expect(const char *text, const char *want)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *got;

	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, want);
	free(got);
	pg_diags_free(&d);
	return p;
}

static inline struct pg_policy *parse_ok(const char *text)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *got;

	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, "");
	free(got);
	pg_diags_free(&d);
	return p;
}

static inline void assert_ranges(const struct pg_range *r, size_t n, const char *want)
{
	struct pg_rule rule = { .protos = PG_PROTO_TCP,
				.ports = (struct pg_range *)r,
				.nports = n };
	char *s = pg_rule_spec(&rule);

	assert_non_null(s);
	assert_string_equal(s + strlen("tcp/"), want);
	free(s);
}

static inline void assert_loc(struct pg_loc l, uint32_t file, uint32_t line, uint32_t col)
{
	assert_int_equal(l.file, file);
	assert_int_equal(l.line, line);
	assert_int_equal(l.col, col);
}

static inline uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

#endif
