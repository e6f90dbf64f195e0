// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * policy_src.c - policy files as the loader reads them: from the real file
 * system, user and group names from the system's databases (policy_src.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_src.h"
#include "util.h"

/* Read fd to its end into *buf (malloc'd, NUL-terminated), at most max + 1
 * bytes (then -EFBIG); 0 or -errno. */
int pg_read_fd(int fd, size_t max, char **buf, size_t *len)
{
	size_t off = 0, cap = 4096;
	char *b = malloc(cap), *nb;
	ssize_t n;

	if (!b)
		return -ENOMEM;
	for (;;) {
		if (off + 1 == cap) {
			if (off > max) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		n = read(fd, b + off, cap - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(b);
			return (int)n;
		}
		if (!n)
			break;
		off += (size_t)n;
	}
	if (off > max) {
		free(b);
		return -EFBIG;
	}
	b[off] = '\0';
	*buf = b;
	*len = off;
	return 0;
}

/*
 * A FIFO would block open(2) until a writer came, a device could be read
 * forever: only regular files are read, and what is not one is refused
 * before it is opened (and again after, should it have been swapped).
 */
int pg_src_read(void *ud, const char *path, char **buf, size_t *len)
{
	struct stat sb;
	int fd, err;

	(void)ud;
	if (stat(path, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
	if (sb.st_size > (off_t)PG_POL_MAX_FILE_SIZE)
		return -EFBIG;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb))
		err = -errno;
	else if (!S_ISREG(sb.st_mode))
		err = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
	else
		err = pg_read_fd(fd, PG_POL_MAX_FILE_SIZE, buf, len);
	close(fd);
	return err;
}

int pg_src_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	glob_t g;
	size_t i;
	int r;

	(void)ud;
	*out = NULL;
	*n = 0;
	/* No GLOB_ERR: a missing conf.d matches nothing, as an empty one would. */
	r = glob(pattern, 0, NULL, &g);
	if (r == GLOB_NOMATCH)
		return 0;
	if (r)
		return r == GLOB_NOSPACE ? -ENOMEM : -EIO;
	*out = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(char *));
	if (!*out) {
		globfree(&g);
		return -ENOMEM;
	}
	for (i = 0; i < g.gl_pathc; i++) {
		(*out)[i] = strdup(g.gl_pathv[i]);
		if (!(*out)[i]) {
			while (i--)
				free((*out)[i]);
			free(*out);
			*out = NULL;
			globfree(&g);
			return -ENOMEM;
		}
	}
	*n = g.gl_pathc;
	globfree(&g);
	return 0;
}

static int id_user(void *ud, const char *name, uint32_t *uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	(void)ud;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	*uid = res->pw_uid;
	return 0;
}

static int id_group(void *ud, const char *name, uint32_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];

	(void)ud;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	*gid = res->gr_gid;
	return 0;
}

void pg_resolve_ids(struct pg_policy *p, struct pg_diags *d, const char *unknown_hint)
{
	const struct pg_id_ops ids = { id_user, id_group, NULL, unknown_hint };

	pg_policy_resolve(p, &ids, d);
}

struct pg_policy *pg_load_policy(const char *path, int *status)
{
	const struct pg_source_ops src = { pg_src_read, pg_src_glob, NULL };
	struct pg_diags d = { 0 };
	struct pg_policy *p;

	p = pg_policy_parse(path, &src, &d);
	if (p) /* unknown users are reported with every other problem */
		pg_resolve_ids(p, &d, NULL);
	pg_log_diags(&d, p, PG_DIAGS_SHOWN);
	if (!p || d.nerrors) {
		*status = p ? PG_EXIT_POLICY : PG_EXIT_FAIL;
		if (!p)
			pg_err("out of memory parsing %s", path);
		pg_diags_free(&d);
		pg_policy_free(p);
		return NULL;
	}
	pg_diags_free(&d);
	return p;
}

/* ----------------------------------------------------------- diagnostics */

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* "FILE:LINE:COL" of loc, escaped as pg_diags_render() shows it. */
static void where_of(const struct pg_policy *p, const struct pg_loc *loc, char *out, size_t len)
{
	const char *file = p && loc->file < p->nfiles ? p->files[loc->file] : "<unknown>";
	char *efile = pg_escape(file, strlen(file));

	if (!loc->line)
		snprintf(out, len, "%s", efile ? efile : file);
	else if (!loc->col)
		snprintf(out, len, "%s:%u", efile ? efile : file, (unsigned)loc->line);
	else
		snprintf(out, len, "%s:%u:%u", efile ? efile : file, (unsigned)loc->line,
			 (unsigned)loc->col);
	free(efile);
}

void pg_log_at(enum pg_level level, const struct pg_policy *p, const struct pg_loc *loc,
	       const char *fmt, ...)
{
	char where[4200];
	va_list ap;

	where_of(p, loc, where, sizeof(where));
	va_start(ap, fmt);
	pg_log_diagv(level, where, fmt, ap);
	va_end(ap);
}

/* One diagnostic, with its message and hint shown as pg_diags_render()
 * shows them (pg_escape()). */
static void log_one(const struct pg_diag *g, const struct pg_policy *p)
{
	const char *msg = g->msg ? g->msg : "(out of memory for the message)";
	char *emsg = pg_escape(msg, strlen(msg));
	char *ehint = g->hint ? pg_escape(g->hint, strlen(g->hint)) : NULL;

	pg_log_at(g->sev == PG_SEV_ERROR ? PG_LOG_ERROR : PG_LOG_WARNING, p, &g->loc, "%s%s%s",
		  emsg ? emsg : msg, g->hint ? "; " : "", g->hint ? (ehint ? ehint : g->hint) : "");
	free(emsg);
	free(ehint);
}

void pg_log_diags(const struct pg_diags *d, const struct pg_policy *p, size_t max)
{
	size_t shown[2] = { 0, 0 }, hidden[2] = { 0, 0 }, i, nwarn = pg_diags_nwarnings(d);
	char line[128];

	for (i = 0; i < d->n; i++) {
		int k = d->v[i].sev == PG_SEV_ERROR ? 0 : 1;

		if (max && shown[k] == max) {
			hidden[k]++;
			continue;
		}
		shown[k]++;
		log_one(&d->v[i], p);
	}
	/* Errors that could not be stored are counted all the same. */
	if (d->nerrors > d->n - nwarn)
		hidden[0] += d->nerrors - (d->n - nwarn);
	if (hidden[0] && hidden[1])
		snprintf(line, sizeof(line), "%zu more error%s and %zu more warning%s not shown\n",
			 hidden[0], plural(hidden[0]), hidden[1], plural(hidden[1]));
	else if (hidden[0] || hidden[1])
		snprintf(line, sizeof(line), "%zu more %s%s not shown\n", hidden[0] + hidden[1],
			 hidden[0] ? "error" : "warning", plural(hidden[0] + hidden[1]));
	else
		return;
	pg_log_text(hidden[0] ? PG_LOG_ERROR : PG_LOG_WARNING, line);
}
