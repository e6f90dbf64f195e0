// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run.c - `portgate run FILE`: apply, then follow FILE and apply it again
 * whenever it changes.
 *
 * One loop, poll(2) over registered fds: a signalfd (SIGHUP reloads,
 * SIGTERM and SIGINT end the agent), an inotify fd, and whatever
 * pg_agent_add_fd() adds. inotify watches the directory of FILE and of
 * every file the policy reads (as named, and where symlinks lead), so that
 * in-place writes, rename-and-replace and the Kubernetes ConfigMap "..data"
 * symlink swap all show up as events there. On events, once they settle,
 * the agent reads the files again and applies only if what it read differs
 * from what it last tried (a fingerprint over every file read and every
 * include pattern's matches, errors included); watches are re-armed after
 * every look, as includes may have changed. pg_apply() changes nothing when
 * it fails, so a broken file leaves the last good policy enforcing.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "events.h"
#include "cgroup.h"
#include "cmd.h"
#include "notify.h"
#include "policy.h"
#include "util.h"

#define SETTLE_MS     100   /* quiet after the last event before reading */
#define WRITER_MS     2000  /* how long a file written in place may stay open */
#define SETTLE_MAX_MS 10000 /* events never hold a look off longer than this */
#define CAPTURE_MAX   (1u << 20)
#define MAX_WRITING   64

#define WATCH_MASK                                                                                 \
	(IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |        \
	 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct fdreg {
	int fd;
	short events;
	pg_agent_fd_cb cb;
	void *ud;
};

struct watch {
	int wd;
	char *path;
	bool seen;
};

struct pg_agent {
	char file[PATH_MAX]; /* absolute, symlinks kept: they are followed at each read */
	struct pg_opts *o;
	bool detach_on_exit;
	const char *metrics_file, *ready_file;
	uint64_t metrics_ms;
	char state_path[PATH_MAX];
	struct pg_agent_state st;

	struct fdreg fds[PG_AGENT_MAX_FDS];
	size_t nfds;
	int sfd, ifd;

	struct watch *w;
	size_t nw;
	struct interest *iv; /* what events matter, from the last look */
	size_t niv;
	char *writing[MAX_WRITING]; /* "WD/NAME" modified and not closed yet */
	size_t nwriting;
	bool pending; /* events not looked at yet */
	uint64_t first_ev, last_ev;
	const char *force; /* apply at the next turn, and why */

	uint8_t fp[32]; /* fingerprint of what was last tried */
	bool have_fp;
	bool applied; /* the first apply succeeded */
	int stop_sig;
	uint64_t next_metrics;
	int metrics_err;
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ loop */

int pg_agent_add_fd(struct pg_agent *a, int fd, short events, pg_agent_fd_cb cb, void *ud)
{
	if (fd < 0 || !cb)
		return -EINVAL;
	if (a->nfds == PG_AGENT_MAX_FDS)
		return -ENOSPC;
	a->fds[a->nfds++] = (struct fdreg){ fd, events, cb, ud };
	return 0;
}

int pg_agent_del_fd(struct pg_agent *a, int fd)
{
	size_t i;

	for (i = 0; i < a->nfds; i++)
		if (a->fds[i].fd == fd) {
			memmove(&a->fds[i], &a->fds[i + 1], (a->nfds - i - 1) * sizeof(a->fds[0]));
			a->nfds--;
			return 0;
		}
	return -ENOENT;
}

void pg_agent_reload(struct pg_agent *a, const char *why)
{
	a->force = why;
}

const struct pg_opts *pg_agent_opts(const struct pg_agent *a)
{
	return a->o;
}

/*
 * The BPF event stream: refused binds are logged, and a cgroup made where a
 * glob selector may match it makes the agent apply again (exact selectors
 * need nothing: the cgroup_mkdir program gives such a cgroup its node
 * inside mkdir(2)).
 */
static struct {
	struct pg_sub sub;
	struct pg_evfmt fmt;
	bool on;
	char why[600];
} ev_src;

/*
 * A glob selector of the policy in force (from its image) that matches
 * path, or with path NULL any glob selector at all; true when the image's
 * meta cannot be read (apply, and let the compiler decide).
 */
static bool glob_may_match(const char *path)
{
	struct pg_evfmt *f = &ev_src.fmt;
	size_t i;

	if (pg_evfmt_meta(f) < 0)
		return true;
	for (i = 0; i < f->meta.nrules; i++) {
		char action[16], sel[4096];
		const char *t = f->meta.rules[i].text;

		/* "ACTION SELECTOR ...", the selector quoted if it holds spaces */
		if (!pg_meta_token(&t, action, sizeof(action)) ||
		    !pg_meta_token(&t, sel, sizeof(sel)))
			continue;
		if (!pg_selector_is_exact(sel) && (!path || pg_selector_match(sel, path)))
			return true;
	}
	return false;
}

static int on_event(void *ud, const struct pg_event *ev)
{
	struct pg_agent *a = ud;

	if (ev->kind == PG_EVK_MKDIR) {
		const char *path = pg_evfmt_cgroup(&ev_src.fmt, ev->cgid);

		if (path && glob_may_match(path)) {
			snprintf(ev_src.why, sizeof(ev_src.why),
				 "cgroup %s was made (a glob selector matches it)", path);
			pg_agent_reload(a, ev_src.why);
		}
		return 0;
	}
	if (ev->kind == PG_EVK_BIND) {
		char *line = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&line, &len);

		if (!m)
			return 0;
		pg_evfmt_print(&ev_src.fmt, ev, false, m);
		fclose(m);
		if (len && line[len - 1] == '\n')
			line[len - 1] = 0;
		pg_log("deny", "%s", line);
		free(line);
	}
	return 0;
}

static int on_ring(struct pg_agent *a, int fd, short revents, void *ud)
{
	uint64_t lost;
	int err;

	(void)fd;
	(void)revents;
	(void)ud;
	err = pg_sub_consume(&ev_src.sub);
	if (err < 0 && err != -EINTR) {
		pg_log("error", "cannot read the event ring buffer: %s; events stop here",
		       strerror(-err));
		return 1;
	}
	lost = pg_sub_lost(&ev_src.sub);
	if (lost) {
		pg_log("warning", "%llu events lost: the ring buffer was full",
		       (unsigned long long)lost);
		/* a lost mkdir may have been one a glob matches */
		pg_agent_reload(a, "events were lost");
	}
	return 0;
}

static int start_events(struct pg_agent *a)
{
	const struct pg_opts *o = pg_agent_opts(a);

	if (pg_evfmt_init(&ev_src.fmt, o->pin_dir))
		return -1;
	if (pg_sub_open(&ev_src.sub, o->pin_dir, PG_EVM_DENY | PG_EVM_MKDIR, on_event, a)) {
		pg_evfmt_free(&ev_src.fmt);
		return -1;
	}
	ev_src.on = true;
	if (pg_agent_add_fd(a, pg_sub_fd(&ev_src.sub), POLLIN, on_ring, NULL)) {
		pg_log("error", "cannot add the event ring buffer to the loop");
		return -1;
	}
	/* Cgroups made between the first apply's look at the tree and this
	 * subscription sent no event (seen under emulation: a pod made then
	 * stayed without its glob grant): apply once more to catch them. */
	if (glob_may_match(NULL))
		pg_agent_reload(a, "subscribed to cgroup events: looking again for cgroups made "
				   "during the first apply");
	return 0;
}

static void stop_events(void)
{
	if (!ev_src.on)
		return;
	pg_sub_close(&ev_src.sub);
	pg_evfmt_free(&ev_src.fmt);
	ev_src.on = false;
}

/*
 * Further event sources, started after the first apply succeeded: each
 * adds its fds to the loop; nonzero (after saying why) ends the agent.
 */
static int (*const sources[])(struct pg_agent *a) = {
	start_events,
};

static int start_sources(struct pg_agent *a)
{
	size_t i;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (sources[i] && sources[i](a))
			return -1;
	return 0;
}

/* ----------------------------------------------------------- fingerprint */

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
static bool arm(struct pg_agent *a, struct interest *iv, size_t niv)
{
	bool added = false;
	size_t i, j, k;

	for (k = 0; k < a->nw; k++)
		a->w[k].seen = false;
	for (i = 0; i < niv; i++) {
		struct watch *nw;
		int wd;

		for (j = 0; j < i && strcmp(iv[j].dir, iv[i].dir); j++)
			;
		if (j < i) { /* the same directory as an earlier one */
			iv[i].wd = iv[j].wd;
			continue;
		}
		wd = inotify_add_watch(a->ifd, iv[i].dir, WATCH_MASK);
		iv[i].wd = wd;
		if (wd < 0) {
			pg_dbg("cannot watch %s: %s", iv[i].dir, strerror(errno));
			continue;
		}
		for (k = 0; k < a->nw && a->w[k].wd != wd; k++)
			;
		if (k < a->nw) {
			a->w[k].seen = true;
			continue;
		}
		nw = realloc(a->w, (a->nw + 1) * sizeof(*nw));
		if (!nw)
			continue;
		a->w = nw;
		a->w[a->nw] = (struct watch){ wd, strdup(iv[i].dir), true };
		a->nw++;
		added = true;
		pg_dbg("watching %s", iv[i].dir);
	}
	for (k = 0; k < a->nw;) {
		if (a->w[k].seen) {
			k++;
			continue;
		}
		pg_dbg("no longer watching %s", a->w[k].path ? a->w[k].path : "?");
		inotify_rm_watch(a->ifd, a->w[k].wd);
		free(a->w[k].path);
		a->w[k] = a->w[--a->nw];
	}
	for (i = 0; i < niv; i++)
		pg_dbg("following %s%s%s in %s", iv[i].pattern ? "names matching " : "", iv[i].name,
		       iv[i].wd < 0 ? " (unwatched)" : "", iv[i].dir);
	free_interests(a->iv, a->niv);
	a->iv = iv;
	a->niv = niv;
	return added;
}

/* Does an event concern the policy? Other names in its directories do not. */
static bool relevant(const struct pg_agent *a, const struct inotify_event *ev)
{
	size_t i;

	if ((ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF)) || !ev->len)
		return true;
	for (i = 0; i < a->niv; i++) {
		const struct interest *it = &a->iv[i];

		if (it->wd != ev->wd)
			continue;
		if (it->pattern ? !fnmatch(it->name, ev->name, FNM_PERIOD)
				: !strcmp(it->name, ev->name))
			return true;
	}
	return false;
}

/* --------------------------------------------------------------- capture */

/*
 * What pg_apply() prints goes to memfds while it runs; afterwards its
 * stderr is logged line by line in the agent's form and kept for the state
 * file. Its one stdout line is replaced by the agent's own.
 */
struct capture {
	int save1, save2, m1, m2;
	bool on;
};

static void capture_begin(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->save1 = c->save2 = c->m1 = c->m2 = -1;
	fflush(stdout);
	fflush(stderr);
	c->m1 = memfd_create("portgate-stdout", MFD_CLOEXEC);
	c->m2 = memfd_create("portgate-stderr", MFD_CLOEXEC);
	c->save1 = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	c->save2 = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (c->m1 < 0 || c->m2 < 0 || c->save1 < 0 || c->save2 < 0 ||
	    dup2(c->m1, STDOUT_FILENO) < 0 || dup2(c->m2, STDERR_FILENO) < 0) {
		pg_err("cannot capture the output of apply: %s; it goes to stderr unprocessed",
		       strerror(errno));
		if (c->save1 >= 0)
			dup2(c->save1, STDOUT_FILENO);
		if (c->save2 >= 0)
			dup2(c->save2, STDERR_FILENO);
		return;
	}
	c->on = true;
}

/* The captured stderr, NUL-terminated (malloc'd), or NULL. */
static char *capture_end(struct capture *c)
{
	char *buf = NULL;
	off_t size;
	ssize_t n;
	size_t off = 0;

	fflush(stdout);
	fflush(stderr);
	if (c->on) {
		dup2(c->save1, STDOUT_FILENO);
		dup2(c->save2, STDERR_FILENO);
		size = lseek(c->m2, 0, SEEK_END);
		if (size > (off_t)CAPTURE_MAX)
			size = CAPTURE_MAX;
		if (size >= 0 && lseek(c->m2, 0, SEEK_SET) == 0 &&
		    (buf = malloc((size_t)size + 1))) {
			while (off < (size_t)size &&
			       (n = read(c->m2, buf + off, (size_t)size - off)) > 0)
				off += (size_t)n;
			buf[off] = 0;
		}
	}
	if (c->m1 >= 0)
		close(c->m1);
	if (c->m2 >= 0)
		close(c->m2);
	if (c->save1 >= 0)
		close(c->save1);
	if (c->save2 >= 0)
		close(c->save2);
	return buf;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/*
 * One captured line as "LEVEL: MESSAGE": lines in the agent's form lose
 * their "portgate[PID]: ", diagnostics "FILE:L:C: error: MSG" become
 * "error: FILE:L:C: MSG", anything else gets a level from the outcome.
 */
static void normalize_line(const char *line, bool ok, char *out, size_t len)
{
	static const char *const levels[] = { "error", "warning", "note" };
	const char *p = line, *c;
	size_t i;

	if (starts(p, "portgate[") && (c = strstr(p, "]: "))) {
		snprintf(out, len, "%s", c + 3);
		return;
	}
	if (starts(p, "portgate: "))
		p += 10;
	if (starts(p, "error:") || starts(p, "warning:") || starts(p, "note:") ||
	    starts(p, "debug:")) {
		snprintf(out, len, "%s", p);
		return;
	}
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), ": %s: ", levels[i]);
		c = strstr(p, tag);
		if (c && c > p && c[-1] >= '0' && c[-1] <= '9') {
			snprintf(out, len, "%s: %.*s: %s", levels[i], (int)(c - p), p,
				 c + strlen(tag));
			return;
		}
	}
	snprintf(out, len, "%s: %s", ok ? "info" : "error", p);
}

/* Log every captured line; keep the first PG_AGENT_ERR_MAX bytes (whole
 * lines) in keep when given. */
static void relay(char *text, bool ok, char *keep, size_t keeplen)
{
	char *line, *save = NULL, norm[8192];
	size_t used = 0;

	if (keep && keeplen)
		keep[0] = 0;
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n;

		if (!*line)
			continue;
		normalize_line(line, ok, norm, sizeof(norm));
		pg_log(NULL, "%s", norm);
		n = strlen(norm);
		if (keep && !starts(norm, "debug:") && used + n + 2 <= keeplen) {
			if (used)
				keep[used++] = '\n';
			memcpy(keep + used, norm, n + 1);
			used += n;
		}
	}
}

/* ---------------------------------------------------------------- output */

static void write_state(struct pg_agent *a)
{
	int err = pg_agent_state_write(a->state_path, &a->st);

	if (err)
		pg_err("cannot write the agent state file %s: %s", a->state_path, strerror(-err));
}

static void write_metrics(struct pg_agent *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	if (!a->metrics_file)
		return;
	a->next_metrics = now_ms() + a->metrics_ms;
	f = open_memstream(&buf, &len);
	if (!f) {
		err = -ENOMEM;
	} else {
		err = pg_status_prometheus(f, a->o->pin_dir);
		if (fclose(f) && !err)
			err = -ENOMEM;
	}
	if (!err)
		err = pg_write_atomic(a->metrics_file, buf, len, 0644);
	free(buf);
	/* once per new trouble, not every interval */
	if (err && err != a->metrics_err)
		pg_err("cannot write the metrics file %s: %s", a->metrics_file, strerror(-err));
	else if (!err && a->metrics_err)
		pg_log("info", "metrics file %s written again", a->metrics_file);
	a->metrics_err = err;
}

static int write_ready(struct pg_agent *a)
{
	int err;

	if (!a->ready_file)
		return 0;
	err = pg_write_atomic(a->ready_file, "", 0, 0644);
	if (err)
		pg_err("cannot create the ready file %s: %s", a->ready_file, strerror(-err));
	return err;
}

static void remove_ready(struct pg_agent *a)
{
	if (a->ready_file && unlink(a->ready_file) && errno != ENOENT)
		pg_err("cannot remove the ready file %s: %s", a->ready_file, strerror(errno));
}

/* --------------------------------------------------------------- applying */

/*
 * A failed apply changes nothing, except when it fails after its swap (in
 * sysctl mode, a threshold that could not be lowered): say what is in force
 * as the pins tell it, not as this agent last left it.
 */
static void log_failed_reload(struct pg_agent *a, const char *trigger, int status)
{
	char hash[65];
	uint64_t gen;
	int err = pg_status_in_force(a->o->pin_dir, &gen, hash);

	if (!err && gen == a->st.generation && !strcmp(hash, a->st.sha256))
		pg_log("error",
		       "reload: %s failed (%s; exit status %d, %s): the policy in force is "
		       "unchanged, generation %llu sha256 %s; fix the file, or send SIGHUP to "
		       "retry",
		       a->file, trigger, status, pg_exit_word(status), (unsigned long long)gen,
		       hash);
	else if (!err)
		pg_log("error",
		       "reload: %s failed (%s; exit status %d, %s): in force now: generation %llu "
		       "sha256 %s (see the errors above)",
		       a->file, trigger, status, pg_exit_word(status), (unsigned long long)gen,
		       hash);
	else
		pg_log("error",
		       "reload: %s failed (%s; exit status %d, %s), and what is in force cannot "
		       "be read: %s",
		       a->file, trigger, status, pg_exit_word(status),
		       err == -ENOENT ? "no policy installed" : strerror(-err));
}

static int apply_now(struct pg_agent *a, const char *trigger)
{
	struct pg_apply_result res = { 0 };
	struct capture cap;
	bool first = !a->applied, ok;
	char *text, hash[65];
	int status;

	pg_dbg("applying %s (%s)", a->file, trigger);
	a->st.last_attempt_at = (uint64_t)time(NULL);
	a->st.last_attempt_boot_ns = pg_reload_clock_ns();
	pg_notify_apply_begin(first);
	capture_begin(&cap);
	status = pg_apply(a->file, a->o, &res);
	text = capture_end(&cap);
	ok = status == PG_EXIT_OK;
	snprintf(a->st.last_attempt_trigger, sizeof(a->st.last_attempt_trigger), "%s", trigger);
	a->st.last_attempt_ok = ok;
	a->st.last_attempt_status = status;
	if (ok) {
		relay(text, true, NULL, 0);
		pg_hex(res.sha256, 32, hash);
		a->st.last_success_at = (uint64_t)time(NULL);
		a->st.generation = res.gen;
		snprintf(a->st.sha256, sizeof(a->st.sha256), "%s", hash);
		if (!first)
			a->st.reloads_ok++;
		a->applied = true;
		pg_log(first ? "apply" : "reload",
		       "applied %s generation %llu sha256 %s (%s; %zu rule%s on %zu cgroup%s, %s "
		       "mode)",
		       a->file, (unsigned long long)res.gen, hash, trigger, res.nrules,
		       res.nrules == 1 ? "" : "s", res.nnodes, res.nnodes == 1 ? "" : "s",
		       res.grant ? "grant" : "sysctl");
	} else {
		relay(text, false, a->st.last_error, sizeof(a->st.last_error));
		if (!a->st.last_error[0])
			snprintf(a->st.last_error, sizeof(a->st.last_error),
				 "error: apply exited with status %d (%s)", status,
				 pg_exit_word(status));
		a->st.last_error_at = a->st.last_attempt_at;
		if (!first) {
			a->st.reloads_failed++;
			log_failed_reload(a, trigger, status);
		} else {
			pg_log("error",
			       "apply: %s failed (exit status %d, %s): the agent did not start "
			       "following it",
			       a->file, status, pg_exit_word(status));
		}
	}
	free(text);
	if (ok || !first)
		write_state(a);
	if (ok && first)
		write_ready(a);
	if (ok || !first)
		write_metrics(a);
	pg_notify_apply_end(first, &a->st);
	return status;
}

/*
 * Look at the files: fingerprint, re-arm the watches (and look again when a
 * directory was added: it was not watched while being read), then apply if
 * the fingerprint differs from the last one tried, or always when forced.
 */
static int look(struct pg_agent *a, const char *why, bool forced)
{
	uint8_t fp[32];
	struct interest *iv = NULL;
	size_t niv = 0, i;
	bool added = true;

	for (i = 0; i < 4 && added; i++) {
		if (fingerprint(a->file, fp, &iv, &niv)) {
			free_interests(iv, niv);
			pg_err("cannot read %s: out of memory", a->file);
			return PG_EXIT_FAIL;
		}
		added = arm(a, iv, niv); /* takes iv */
	}
	if (!forced && a->have_fp && !memcmp(fp, a->fp, sizeof(fp))) {
		pg_dbg("%s: unchanged", why);
		return PG_EXIT_OK;
	}
	memcpy(a->fp, fp, sizeof(fp));
	a->have_fp = true;
	return apply_now(a, why);
}

/* ------------------------------------------------------------ callbacks */

static int on_signal(struct pg_agent *a, int fd, short revents, void *ud)
{
	struct signalfd_siginfo si;

	(void)revents;
	(void)ud;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pg_log("info", "SIGHUP from pid %u: applying %s again", si.ssi_pid,
			       a->file);
			pg_agent_reload(a, "SIGHUP");
		} else if (!a->stop_sig) {
			a->stop_sig = (int)si.ssi_signo;
		}
	}
	return 0;
}

static void writing_set(struct pg_agent *a, const char *key, bool open)
{
	size_t i;

	for (i = 0; i < a->nwriting; i++)
		if (!strcmp(a->writing[i], key))
			break;
	if (open && i == a->nwriting && a->nwriting < MAX_WRITING) {
		char *k = strdup(key);

		if (k)
			a->writing[a->nwriting++] = k;
	} else if (!open && i < a->nwriting) {
		free(a->writing[i]);
		a->writing[i] = a->writing[--a->nwriting];
	}
}

static void writing_clear(struct pg_agent *a)
{
	while (a->nwriting)
		free(a->writing[--a->nwriting]);
}

static int on_inotify(struct pg_agent *a, int fd, short revents, void *ud)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	uint64_t now = now_ms();
	ssize_t n;
	char *p;

	(void)revents;
	(void)ud;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			char key[PATH_MAX];
			size_t k;

			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_IGNORED) {
				/* its directory is gone (or unwatched): forget the wd */
				for (k = 0; k < a->nw; k++)
					if (a->w[k].wd == ev->wd) {
						free(a->w[k].path);
						a->w[k] = a->w[--a->nw];
						break;
					}
				continue;
			}
			if (ev->mask & IN_Q_OVERFLOW)
				pg_log("warning", "inotify queue overflowed: reading every file");
			if (!relevant(a, ev))
				continue;
			snprintf(key, sizeof(key), "%d/%s", ev->wd, ev->len ? ev->name : "");
			if (ev->mask & IN_MODIFY)
				writing_set(a, key, true);
			if (ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM))
				writing_set(a, key, false);
			if (!a->pending)
				a->first_ev = now;
			a->pending = true;
			a->last_ev = now;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		pg_err("cannot read inotify events: %s; following %s stopped (SIGHUP still "
		       "reloads)",
		       strerror(errno), a->file);
		return -1;
	}
	return 0;
}

/* When the pending events are to be looked at (monotonic ms). */
static uint64_t settle_at(const struct pg_agent *a)
{
	uint64_t t = a->last_ev + (a->nwriting ? WRITER_MS : SETTLE_MS);

	return t < a->first_ev + SETTLE_MAX_MS ? t : a->first_ev + SETTLE_MAX_MS;
}

/* ------------------------------------------------------------------- main */

static void usage_err(const char *msg)
{
	pg_err("%s", msg);
	pg_usage("run", stderr);
}

static int parse_args(int argc, char **argv, struct pg_agent *a)
{
	static const struct option lo[] = { { "attach", required_argument, NULL, 'a' },
					    { "pin-dir", required_argument, NULL, 'p' },
					    { "detach-on-exit", no_argument, NULL, 'D' },
					    { "metrics-file", required_argument, NULL, 'm' },
					    { "metrics-interval", required_argument, NULL, 'i' },
					    { "ready-file", required_argument, NULL, 'r' },
					    { "verbose", no_argument, NULL, 'v' },
					    { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	uint64_t secs = 15;
	int ch;

	optind = 0; /* glibc: reinitialise after main()'s "+" scan */
	while ((ch = getopt_long(argc, argv, "a:p:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'a':
			a->o->attach = optarg;
			break;
		case 'p':
			a->o->pin_dir = optarg;
			break;
		case 'D':
			a->detach_on_exit = true;
			break;
		case 'm':
			a->metrics_file = optarg;
			break;
		case 'i':
			if (pg_parse_u64(optarg, 1, 86400, &secs)) {
				pg_err("invalid --metrics-interval '%s': give seconds, 1 to 86400",
				       optarg);
				return -1;
			}
			break;
		case 'r':
			a->ready_file = optarg;
			break;
		case 'v':
			pg_verbose++;
			break;
		case 'h':
			pg_usage("run", stdout);
			return 1;
		default:
			pg_usage("run", stderr);
			return -1;
		}
	}
	a->metrics_ms = secs * 1000;
	if (argc - optind != 1) {
		usage_err("run needs exactly one policy file");
		return -1;
	}
	if (pg_cg_path_valid(a->o->attach)) {
		pg_err("invalid --attach '%s': give a cgroup path from the cgroup2 root, like / or "
		       "/system.slice",
		       a->o->attach);
		return -1;
	}
	if ((a->metrics_file && !*a->metrics_file) || (a->ready_file && !*a->ready_file)) {
		pg_err("--metrics-file and --ready-file need a path");
		return -1;
	}
	/* Absolute, symlinks kept: they are followed again at every read. */
	if (argv[optind][0] == '/') {
		snprintf(a->file, sizeof(a->file), "%s", argv[optind]);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(a->file, sizeof(a->file), "%s/%s", cwd, argv[optind]) >=
			sizeof(a->file)) {
			pg_err("cannot make %s an absolute path: %s", argv[optind],
			       strerror(errno ? errno : ENAMETOOLONG));
			return -1;
		}
	}
	return 0;
}

/* Refuse to start beside a live agent of the same pin directory. */
static int check_other_agent(struct pg_agent *a)
{
	struct pg_agent_state old;
	int err = pg_agent_state_read(a->state_path, &old);

	if (err == -ENOENT)
		return 0;
	if (err) {
		pg_log("warning", "ignoring the unreadable agent state file %s: %s", a->state_path,
		       strerror(-err));
		return 0;
	}
	if (old.pid != getpid() && pg_agent_alive(&old)) {
		pg_err("cannot start: agent pid %lld already follows %s for pin dir %s (state file "
		       "%s); stop it first",
		       (long long)old.pid, old.file, a->o->pin_dir, a->state_path);
		return -1;
	}
	return 0;
}

static int setup(struct pg_agent *a)
{
	sigset_t set;
	uint64_t st;
	int err;

	if ((err = pg_agent_state_path(a->o->pin_dir, a->state_path, sizeof(a->state_path)))) {
		pg_err("cannot name the agent state file for pin dir %s: %s", a->o->pin_dir,
		       strerror(-err));
		return -1;
	}
	a->st.pid = getpid();
	if ((err = pg_proc_starttime(getpid(), &st))) {
		pg_err("cannot read this process's start time from /proc/self/stat: %s",
		       strerror(-err));
		return -1;
	}
	a->st.starttime = st;
	a->st.started_at = (uint64_t)time(NULL);
	a->st.running = true;
	snprintf(a->st.file, sizeof(a->st.file), "%s", a->file);
	snprintf(a->st.pin_dir, sizeof(a->st.pin_dir), "%s", a->o->pin_dir);
	snprintf(a->st.attach, sizeof(a->st.attach), "%s", a->o->attach);
	if (check_other_agent(a))
		return -1;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		pg_err("cannot block SIGHUP, SIGTERM and SIGINT: %s", strerror(errno));
		return -1;
	}
	a->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sfd < 0) {
		pg_err("cannot create a signalfd: %s", strerror(errno));
		return -1;
	}
	a->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->ifd < 0) {
		pg_err("cannot create an inotify instance: %s (see fs.inotify.max_user_instances)",
		       strerror(errno));
		return -1;
	}
	if (pg_agent_add_fd(a, a->sfd, POLLIN, on_signal, NULL) ||
	    pg_agent_add_fd(a, a->ifd, POLLIN, on_inotify, NULL))
		return -1;
	pg_notify_init();
	return 0;
}

static int loop(struct pg_agent *a)
{
	struct pollfd pfd[PG_AGENT_MAX_FDS];
	struct fdreg ready[PG_AGENT_MAX_FDS];
	short rev[PG_AGENT_MAX_FDS];
	size_t i, n, nready;

	while (!a->stop_sig) {
		uint64_t now = now_ms(), due = UINT64_MAX;
		int timeout, r;

		if (a->force)
			due = now;
		if (a->pending && settle_at(a) < due)
			due = settle_at(a);
		if (a->metrics_file && a->next_metrics < due)
			due = a->next_metrics;
		if (pg_notify_watchdog_due() < due)
			due = pg_notify_watchdog_due();
		timeout = due == UINT64_MAX ? -1 : due <= now ? 0 : (int)(due - now);
		n = a->nfds;
		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ a->fds[i].fd, a->fds[i].events, 0 };
		r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR) {
			pg_err("poll failed: %s", strerror(errno));
			return PG_EXIT_FAIL;
		}
		/* Callbacks may add or remove fds: work from a copy. */
		for (i = 0, nready = 0; r > 0 && i < n; i++)
			if (pfd[i].revents) {
				ready[nready] = a->fds[i];
				rev[nready++] = pfd[i].revents;
			}
		for (i = 0; i < nready; i++)
			if (ready[i].cb(a, ready[i].fd, rev[i], ready[i].ud)) {
				pg_agent_del_fd(a, ready[i].fd);
			} else if (rev[i] & (POLLNVAL | POLLERR | POLLHUP) && !(rev[i] & POLLIN)) {
				pg_err("fd %d left the loop: poll reports %s", ready[i].fd,
				       rev[i] & POLLNVAL ? "it is not open"
							 : "an error or hang-up");
				pg_agent_del_fd(a, ready[i].fd);
			}
		if (a->stop_sig)
			break;
		now = now_ms();
		if (a->force || (a->pending && settle_at(a) <= now)) {
			const char *why = a->force ? a->force : "file change";

			a->pending = false;
			writing_clear(a);
			look(a, why, a->force != NULL);
			a->force = NULL;
		}
		if (a->metrics_file && a->next_metrics <= now_ms())
			write_metrics(a);
		pg_notify_watchdog(now_ms());
	}
	return PG_EXIT_OK;
}

static void finish(struct pg_agent *a, const char *why)
{
	size_t k;

	pg_notify_stopping();
	a->st.running = false;
	a->st.exited_at = (uint64_t)time(NULL);
	snprintf(a->st.exit_reason, sizeof(a->st.exit_reason), "%s", why);
	write_state(a);
	write_metrics(a);
	for (k = 0; k < a->nw; k++)
		free(a->w[k].path);
	free(a->w);
	free_interests(a->iv, a->niv);
	writing_clear(a);
}

int cmd_run(int argc, char **argv, struct pg_opts *o)
{
	struct pg_agent *a = calloc(1, sizeof(*a));
	char why[320], sig[32];
	int r, status;

	if (!a) {
		pg_err("cannot start the agent: out of memory");
		return PG_EXIT_FAIL;
	}
	a->o = o;
	a->sfd = a->ifd = -1;
	r = parse_args(argc, argv, a);
	if (r) {
		free(a);
		return r > 0 ? PG_EXIT_OK : PG_EXIT_USAGE;
	}
	if (geteuid()) {
		pg_err("needs root: it loads BPF programs, pins them and attaches them to "
		       "cgroups");
		free(a);
		return PG_EXIT_FAIL;
	}
	pg_log_agent = true;
	if (setup(a)) {
		status = PG_EXIT_FAIL;
		goto out;
	}
	/* not ready until this agent's first apply succeeds */
	remove_ready(a);
	pg_log("info", "start: following %s (pin dir %s, attach %s, state file %s)", a->file,
	       o->pin_dir, o->attach, a->state_path);
	status = look(a, "start", true);
	if (status) {
		snprintf(why, sizeof(why), "the first apply failed with exit status %d (%s)",
			 status, pg_exit_word(status));
		finish(a, why);
		goto out;
	}
	if (start_sources(a)) {
		status = PG_EXIT_FAIL;
		snprintf(why, sizeof(why),
			 "an event source failed to start; enforcement left in "
			 "place");
		stop_events();
		remove_ready(a);
		finish(a, why);
		goto out;
	}
	status = loop(a);
	stop_events();
	if (a->stop_sig)
		snprintf(sig, sizeof(sig), "SIG%s", sigabbrev_np(a->stop_sig));
	else
		snprintf(sig, sizeof(sig), "the loop ended");
	remove_ready(a);
	if (status) {
		snprintf(why, sizeof(why), "the loop failed; enforcement left in place");
	} else if (a->detach_on_exit) {
		struct capture cap;
		char *text;

		pg_log("info", "exit: %s; --detach-on-exit: stopping enforcement", sig);
		capture_begin(&cap);
		status = pg_stop(o->pin_dir);
		text = capture_end(&cap);
		relay(text, status == PG_EXIT_OK, NULL, 0);
		free(text);
		snprintf(why, sizeof(why), "%s; %s", sig,
			 status ? "--detach-on-exit: stop failed, enforcement left in place"
				: "--detach-on-exit: sysctls restored, programs detached");
	} else {
		snprintf(why, sizeof(why), "%s; enforcement left in place (generation %llu)", sig,
			 (unsigned long long)a->st.generation);
	}
	finish(a, why);
	if (status)
		pg_log("error", "exit: %s", why);
	else
		pg_log("info", "exit: %s", why);
out:
	if (a->sfd >= 0)
		close(a->sfd);
	if (a->ifd >= 0)
		close(a->ifd);
	free(a);
	return status;
}
