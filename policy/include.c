// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * include.c - the include statement: paths, globs, reading, cycles.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg_abi.h"
#include "policy_int.h"

/* Drop "." components and repeated or trailing slashes; ".." stays (symlinks). */
void pol_clean_path(char *s)
{
	char *w = s;
	const char *r = s;

	if (*r == '/')
		*w++ = *r++;
	while (*r) {
		const char *c;
		size_t n;

		while (*r == '/')
			r++;
		c = r;
		n = strcspn(c, "/");
		r += n;
		if (!n || (n == 1 && c[0] == '.'))
			continue;
		if (w > s && w[-1] != '/')
			*w++ = '/';
		memmove(w, c, n);
		w += n;
	}
	if (w == s)
		*w++ = '.';
	*w = '\0';
}

/* pattern relative to the directory of the file base. */
static char *join_path(const char *base, const char *pattern)
{
	const char *slash = strrchr(base, '/');
	size_t dlen = pattern[0] == '/' || !slash ? 0 : (size_t)(slash - base) + 1;
	size_t plen = strlen(pattern);
	char *s = malloc(dlen + plen + 2);

	if (!s)
		return NULL;
	memcpy(s, base, dlen);
	memcpy(s + dlen, pattern, plen + 1);
	pol_clean_path(s);
	return s;
}

void pol_report_read(struct parser *ps, struct pg_loc at, const char *path, int err)
{
	if (err == -EFBIG)
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "cannot read '%s': larger than %u bytes",
			     path, PG_POL_MAX_FILE_SIZE);
	else if (err == -EINVAL)
		pg_diags_hint(ps->d, PG_SEV_ERROR, at, "FIFOs, sockets and devices are refused",
			      "cannot read '%s': not a regular file", path);
	else
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "cannot read '%s': %s", path, strerror(-err));
}

int pol_read_source(struct parser *ps, const char *path, char **buf, size_t *len)
{
	int err;

	*buf = NULL;
	*len = 0;
	err = ps->ops->read(ps->ops->ud, path, buf, len);
	if (err) {
		*buf = NULL;
		return err < 0 ? err : -EIO;
	}
	if (*len > PG_POL_MAX_FILE_SIZE) {
		free(*buf);
		*buf = NULL;
		return -EFBIG;
	}
	return 0;
}

static void report_cycle(struct parser *ps, struct pg_loc at, int from)
{
	const struct pg_policy *p = ps->p;
	size_t n = 1;
	char *s, *o;
	int k;

	if (from == ps->depth - 1) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "include cycle: '%s' includes itself",
			     p->files[ps->stack[from]]);
		return;
	}
	for (k = from; k < ps->depth; k++)
		n += strlen(p->files[ps->stack[k]]) + 6;
	n += strlen(p->files[ps->stack[from]]) + 2;
	s = o = malloc(n);
	if (!s) {
		pol_no_memory(ps);
		return;
	}
	for (k = from; k < ps->depth; k++)
		o += sprintf(o, "'%s' -> ", p->files[ps->stack[k]]);
	sprintf(o, "'%s'", p->files[ps->stack[from]]);
	pg_diags_add(ps->d, PG_SEV_ERROR, at, "include cycle: %s", s);
	free(s);
}

/* Included paths are cleaned when joined; the top-level one is kept as given. */
static const char *file_key(const struct parser *ps, size_t file)
{
	return file ? ps->p->files[file] : ps->top_key;
}

/* Read and parse one included file; takes path. */
static void include_one(struct parser *ps, char *path, struct pg_loc at)
{
	struct pg_policy *p = ps->p;
	char *buf;
	size_t len, f;
	int k, err;

	if (ps->oom || ps->too_many_files)
		goto drop;
	for (k = 0; k < ps->depth; k++) {
		if (!strcmp(file_key(ps, ps->stack[k]), path)) {
			report_cycle(ps, at, k);
			goto drop;
		}
	}
	for (f = 0; f < p->nfiles; f++) {
		if (!strcmp(file_key(ps, f), path)) {
			pg_diags_add(ps->d, PG_SEV_ERROR, at, "'%s' is already included", path);
			goto drop;
		}
	}
	if (ps->depth > PG_POL_MAX_INCLUDE_DEPTH) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at,
			     "cannot include '%s': includes nest more than %d deep", path,
			     PG_POL_MAX_INCLUDE_DEPTH);
		goto drop;
	}
	if (p->nfiles >= PG_POL_MAX_FILES) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at,
			     "cannot include '%s': more than %d files, includes counted", path,
			     PG_POL_MAX_FILES);
		ps->too_many_files = true;
		goto drop;
	}
	err = pol_read_source(ps, path, &buf, &len);
	if (err) {
		pol_report_read(ps, at, path, err);
		goto drop;
	}
	if (pol_add_file(ps, path))
		pol_parse_buffer(ps, (uint32_t)(p->nfiles - 1), buf, len);
	free(buf);
	return;
drop:
	free(path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void pol_st_include(struct parser *ps)
{
	const struct tok *t = &ps->tok[1];
	struct pg_loc at;
	char *path, **v = NULL;
	size_t n = 0, i;
	int err;

	if (!pol_need_args(ps, 1, 1, "a file name or pattern"))
		return;
	at = pol_tok_loc(ps, t, 0);
	if (!ps->ops || !ps->ops->read) {
		pol_err_at(ps, t, 0, "cannot include '%s': no files can be read here", t->s);
		return;
	}
	path = join_path(ps->p->files[ps->file], t->s);
	if (!path) {
		pol_no_memory(ps);
		return;
	}
	if (!strpbrk(t->s, "*?[")) {
		include_one(ps, path, at);
		return;
	}
	err = ps->ops->glob ? ps->ops->glob(ps->ops->ud, path, &v, &n) : -ENOSYS;
	if (err) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "cannot expand '%s': %s", path,
			     strerror(err < 0 ? -err : EIO));
		free(path);
		return;
	}
	/* Most likely a typo in a directory name (/etc/portgat/conf.d). */
	if (!n)
		pg_diags_add(ps->d, PG_SEV_WARNING, at, "include pattern '%s' matches no file",
			     path);
	free(path);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	/* include_one() re-tokenizes: nothing of this line is used after. */
	for (i = 0; i < n; i++)
		include_one(ps, v[i], at);
	free(v);
}
