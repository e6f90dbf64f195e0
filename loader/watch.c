// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * watch.c - the agent's watch on its policy files (watch.h).
 *
 * inotify watches the directory of FILE and of every file the policy reads
 * (as named, and where symlinks lead), so that in-place writes,
 * rename-and-replace and the Kubernetes ConfigMap "..data" symlink swap all
 * show up as events there. A look reads the files as apply will, into a
 * fingerprint over every file read and every include pattern's matches,
 * errors included, and re-arms the watches, as includes may have changed.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "policy_src.h"
#include "util.h"
#include "watch.h"

#define SETTLE_MS     100   /* quiet after the last event before reading */
#define WRITER_MS     2000  /* how long a file written in place may stay open */
#define SETTLE_MAX_MS 10000 /* events never hold a look off longer than this */

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |        \
	 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* A directory watched. */
struct watch_dir {
	int wd;
	char *path;
	bool seen;
};

/*
 * A name in a directory whose change changes what reading the policy gives:
 * each symlink on the way to a file read, the file itself (or the first
 * missing component, whose appearance matters), and for an include pattern
 * the names its first glob component matches. dir is fully resolved.
 */
struct interest {
	char *dir;
	char *name; /* a name, or with pattern an fnmatch(3) pattern */
	bool pattern;
	int wd; /* of dir, once armed; -1 if it cannot be watched */
};

struct fp_ctx {
	struct pg_sha256 sha;
	struct interest *iv;
	size_t niv;
	bool nomem;
};

static void free_interests(struct interest *iv, size_t n)
{
	while (n--) {
		free(iv[n].dir);
		free(iv[n].name);
	}
	free(iv);
}

static void note(struct fp_ctx *c, const char *dir, const char *name, size_t namelen, bool pattern)
{
	struct interest *v;
	size_t i;

	if (!*dir)
		dir = "/";
	for (i = 0; i < c->niv; i++)
		if (c->iv[i].pattern == pattern && !strcmp(c->iv[i].dir, dir) &&
		    strlen(c->iv[i].name) == namelen && !strncmp(c->iv[i].name, name, namelen))
			return;
	v = realloc(c->iv, (c->niv + 1) * sizeof(*v));
	if (!v) {
		c->nomem = true;
		return;
	}
	c->iv = v;
	v[c->niv] = (struct interest){ strdup(dir), strndup(name, namelen), pattern, -1 };
	if (!v[c->niv].dir || !v[c->niv].name) {
		free(v[c->niv].dir);
		free(v[c->niv].name);
		c->nomem = true;
		return;
	}
	c->niv++;
}

/*
 * Walk path as the kernel resolves it, noting the symlinks on the way and
 * the last component; with pattern, path is a directory and the names in it
 * that match pattern are noted too.
 */
static void note_path(struct fp_ctx *c, const char *path, const char *pattern)
{
	char todo[PATH_MAX * 2], cur[PATH_MAX] = "", full[PATH_MAX * 2], target[PATH_MAX];
	const char *p = todo;
	int links = 0;

	if (path[0] != '/' && !getcwd(cur, sizeof(cur)))
		return;
	if (!strcmp(cur, "/"))
		cur[0] = 0;
	snprintf(todo, sizeof(todo), "%s", path);
	for (;;) {
		const char *comp, *rest;
		size_t len;
		struct stat sb;
		ssize_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		len = strcspn(comp, "/");
		rest = comp + len;
		p = rest;
		if (len == 1 && comp[0] == '.')
			continue;
		if (len == 2 && comp[0] == '.' && comp[1] == '.') {
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = 0;
			continue;
		}
		snprintf(full, sizeof(full), "%s/%.*s", cur, (int)len, comp);
		if (lstat(full, &sb)) {
			note(c, cur, comp, len, false); /* its appearance matters */
			return;
		}
		if (S_ISLNK(sb.st_mode)) {
			note(c, cur, comp, len, false);
			n = readlink(full, target, sizeof(target) - 1);
			if (n <= 0 || ++links > 40)
				return;
			target[n] = 0;
			if (target[0] == '/')
				cur[0] = 0;
			snprintf(full, sizeof(full), "%s%s", target, rest);
			snprintf(todo, sizeof(todo), "%s", full);
			p = todo;
			continue;
		}
		while (*p == '/')
			p++;
		if (!*p) /* the last component */
			note(c, cur, comp, len, false);
		if (strlen(cur) + 1 + len >= sizeof(cur))
			return;
		snprintf(cur + strlen(cur), sizeof(cur) - strlen(cur), "/%.*s", (int)len, comp);
	}
	if (pattern)
		note(c, cur, pattern, strlen(pattern), true);
}

static void fp_u64(struct fp_ctx *c, uint64_t v)
{
	pg_sha256_update(&c->sha, &v, sizeof(v));
}

static int fp_read(void *ud, const char *path, char **buf, size_t *len)
{
	struct fp_ctx *c = ud;
	int err = pg_src_read(NULL, path, buf, len);

	pg_sha256_update(&c->sha, "R", 1);
	pg_sha256_update(&c->sha, path, strlen(path) + 1);
	fp_u64(c, (uint64_t)(int64_t)err);
	if (!err) {
		fp_u64(c, *len);
		pg_sha256_update(&c->sha, *buf, *len);
	}
	note_path(c, path, NULL);
	return err;
}

static int fp_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	struct fp_ctx *c = ud;
	int err = pg_src_glob(NULL, pattern, out, n);
	size_t i, at = strcspn(pattern, "*?["), start, end;
	char dir[PATH_MAX], comp[NAME_MAX + 1];

	pg_sha256_update(&c->sha, "G", 1);
	pg_sha256_update(&c->sha, pattern, strlen(pattern) + 1);
	fp_u64(c, (uint64_t)(int64_t)err);
	if (!err) {
		fp_u64(c, *n);
		for (i = 0; i < *n; i++)
			pg_sha256_update(&c->sha, (*out)[i], strlen((*out)[i]) + 1);
	}
	/* The first component with a glob character, in the directory before it:
	 * a name appearing there that matches it (in an empty conf.d, say) matters. */
	for (start = at; start > 0 && pattern[start - 1] != '/'; start--)
		;
	end = at + strcspn(pattern + at, "/");
	if (end - start <= NAME_MAX && start < sizeof(dir)) {
		snprintf(dir, sizeof(dir), "%.*s", (int)start, pattern);
		snprintf(comp, sizeof(comp), "%.*s", (int)(end - start), pattern + start);
		note_path(c, *dir ? dir : ".", comp);
	}
	return err;
}

/* Read the policy as apply will, quietly: its fingerprint, and what matters. */
static int fingerprint(const char *file, uint8_t fp[32], struct interest **iv, size_t *niv)
{
	struct fp_ctx c = { 0 };
	struct pg_source_ops ops = { fp_read, fp_glob, &c };
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	bool nomem;

	pg_sha256_init(&c.sha);
	note_path(&c, file, NULL);
	p = pg_policy_parse(file, &ops, &d);
	nomem = !p || c.nomem;
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_sha256_final(&c.sha, fp);
	*iv = c.iv;
	*niv = c.niv;
	return nomem ? -ENOMEM : 0;
}

/*
 * Watch the directories of iv and nothing else, and take iv as what events
 * are matched against; true when a directory was not watched before.
 */
static bool arm(struct pg_watch *ws, struct interest *iv, size_t niv)
{
	bool added = false;
	size_t i, j, k;

	for (k = 0; k < ws->ndirs; k++)
		ws->dirs[k].seen = false;
	for (i = 0; i < niv; i++) {
		struct watch_dir *nw;
		int wd;

		for (j = 0; j < i && strcmp(iv[j].dir, iv[i].dir); j++)
			;
		if (j < i) { /* the same directory as an earlier one */
			iv[i].wd = iv[j].wd;
			continue;
		}
		wd = inotify_add_watch(ws->ifd, iv[i].dir, WATCH_MASK);
		iv[i].wd = wd;
		if (wd < 0) {
			pg_dbg("cannot watch %s: %s", iv[i].dir, strerror(errno));
			continue;
		}
		for (k = 0; k < ws->ndirs && ws->dirs[k].wd != wd; k++)
			;
		if (k < ws->ndirs) {
			ws->dirs[k].seen = true;
			continue;
		}
		nw = realloc(ws->dirs, (ws->ndirs + 1) * sizeof(*nw));
		if (!nw)
			continue;
		ws->dirs = nw;
		ws->dirs[ws->ndirs] = (struct watch_dir){ wd, strdup(iv[i].dir), true };
		ws->ndirs++;
		added = true;
		pg_dbg("watching %s", iv[i].dir);
	}
	for (k = 0; k < ws->ndirs;) {
		if (ws->dirs[k].seen) {
			k++;
			continue;
		}
		pg_dbg("no longer watching %s", ws->dirs[k].path ? ws->dirs[k].path : "?");
		inotify_rm_watch(ws->ifd, ws->dirs[k].wd);
		free(ws->dirs[k].path);
		ws->dirs[k] = ws->dirs[--ws->ndirs];
	}
	for (i = 0; i < niv; i++)
		pg_dbg("following %s%s%s in %s", iv[i].pattern ? "names matching " : "", iv[i].name,
		       iv[i].wd < 0 ? " (unwatched)" : "", iv[i].dir);
	free_interests(ws->iv, ws->niv);
	ws->iv = iv;
	ws->niv = niv;
	return added;
}

/* Does an event concern the policy? Other names in its directories do not. */
static bool relevant(const struct pg_watch *ws, const struct inotify_event *ev)
{
	size_t i;

	if ((ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF)) || !ev->len)
		return true;
	for (i = 0; i < ws->niv; i++) {
		const struct interest *it = &ws->iv[i];

		if (it->wd != ev->wd)
			continue;
		if (it->pattern ? !fnmatch(it->name, ev->name, FNM_PERIOD)
				: !strcmp(it->name, ev->name))
			return true;
	}
	return false;
}

static void writing_set(struct pg_watch *ws, const char *key, bool open)
{
	size_t i;

	for (i = 0; i < ws->nwriting; i++)
		if (!strcmp(ws->writing[i], key))
			break;
	if (open && i == ws->nwriting && ws->nwriting < PG_WATCH_MAX_WRITING) {
		char *k = strdup(key);

		if (k)
			ws->writing[ws->nwriting++] = k;
	} else if (!open && i < ws->nwriting) {
		free(ws->writing[i]);
		ws->writing[i] = ws->writing[--ws->nwriting];
	}
}

static void writing_clear(struct pg_watch *ws)
{
	while (ws->nwriting)
		free(ws->writing[--ws->nwriting]);
}

int pg_watch_read(struct pg_watch *ws, uint64_t now)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	while ((n = read(ws->ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			char key[PATH_MAX];
			size_t k;

			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_IGNORED) {
				/* its directory is gone (or unwatched): forget the wd */
				for (k = 0; k < ws->ndirs; k++)
					if (ws->dirs[k].wd == ev->wd) {
						free(ws->dirs[k].path);
						ws->dirs[k] = ws->dirs[--ws->ndirs];
						break;
					}
				continue;
			}
			if (ev->mask & IN_Q_OVERFLOW)
				pg_warn("inotify queue overflowed: reading every file");
			if (!relevant(ws, ev))
				continue;
			snprintf(key, sizeof(key), "%d/%s", ev->wd, ev->len ? ev->name : "");
			if (ev->mask & IN_MODIFY)
				writing_set(ws, key, true);
			if (ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM))
				writing_set(ws, key, false);
			if (!ws->pending)
				ws->first_ev = now;
			ws->pending = true;
			ws->last_ev = now;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -errno;
	return 0;
}

/* When the pending events are to be looked at (monotonic ms). */
static uint64_t settle_at(const struct pg_watch *ws)
{
	uint64_t t = ws->last_ev + (ws->nwriting ? WRITER_MS : SETTLE_MS);

	return t < ws->first_ev + SETTLE_MAX_MS ? t : ws->first_ev + SETTLE_MAX_MS;
}

int pg_watch_init(struct pg_watch *ws)
{
	memset(ws, 0, sizeof(*ws));
	ws->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return ws->ifd < 0 ? -errno : 0;
}

void pg_watch_free(struct pg_watch *ws)
{
	size_t k;

	for (k = 0; k < ws->ndirs; k++)
		free(ws->dirs[k].path);
	free(ws->dirs);
	free_interests(ws->iv, ws->niv);
	writing_clear(ws);
	if (ws->ifd >= 0)
		close(ws->ifd);
	memset(ws, 0, sizeof(*ws));
	ws->ifd = -1;
}

int pg_watch_look(struct pg_watch *ws, const char *file, bool *changed)
{
	uint8_t fp[32];
	struct interest *iv = NULL;
	size_t niv = 0, i;
	bool added = true;

	/* a directory added was not watched while it was read: read again */
	for (i = 0; i < 4 && added; i++) {
		if (fingerprint(file, fp, &iv, &niv)) {
			free_interests(iv, niv);
			return -ENOMEM;
		}
		added = arm(ws, iv, niv); /* takes iv */
	}
	*changed = !ws->have_fp || memcmp(fp, ws->fp, sizeof(fp));
	memcpy(ws->fp, fp, sizeof(fp));
	ws->have_fp = true;
	return 0;
}

bool pg_watch_due(const struct pg_watch *ws, uint64_t *at)
{
	if (!ws->pending)
		return false;
	*at = settle_at(ws);
	return true;
}

void pg_watch_settled(struct pg_watch *ws)
{
	ws->pending = false;
	writing_clear(ws);
}
