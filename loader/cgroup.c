// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

int pg_cg2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *fields[6], *sep, *save = NULL, *tok;
		int i = 0;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = 0;
		for (tok = strtok_r(line, " ", &save); tok && i < 6;
		     tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		if (i < 5)
			continue;
		unescape(fields[4]);
		if (strlen(fields[4]) >= len) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(out, fields[4]);
		err = 0;
		break;
	}
	free(line);
	fclose(f);
	return err;
}

int pg_cg_path_valid(const char *path)
{
	const char *c = path;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (!strcmp(path, "/"))
		return 0;
	while (*c == '/') {
		const char *e = strchr(c + 1, '/');
		size_t n = e ? (size_t)(e - c - 1) : strlen(c + 1);

		if (!n || (n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
			return -EINVAL;
		if (!e)
			return 0;
		c = e;
	}
	return -EINVAL;
}

int pg_cg_open(const char *mount, const char *path)
{
	char full[PATH_MAX];
	int fd;

	if (pg_cg_path_valid(path))
		return -EINVAL;
	if (snprintf(full, sizeof(full), "%s%s", mount, strcmp(path, "/") ? path : "") >=
	    (int)sizeof(full))
		return -ENAMETOOLONG;
	fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int id_at(int dirfd, const char *name, int flags, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mnt;

	/* cgroupfs file handles are the 64-bit kernfs id: what bpf sees as cgroup id. */
	if (name_to_handle_at(dirfd, name, &h.fh, &mnt, flags))
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EPROTO;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

int pg_cg_id_fd(int fd, uint64_t *id)
{
	return id_at(fd, "", AT_EMPTY_PATH, id);
}

int pg_cg_id(const char *mount, const char *path, uint64_t *id)
{
	int fd = pg_cg_open(mount, path), err;

	if (fd < 0)
		return fd;
	err = pg_cg_id_fd(fd, id);
	close(fd);
	return err;
}

struct tree {
	struct pg_cgroup *v;
	size_t n, cap;
};

static int tree_add(struct tree *t, const char *path, uint64_t id, int level, bool delegated)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 256;
		struct pg_cgroup *nv = realloc(t->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = ncap;
	}
	t->v[t->n].path = strdup(path);
	if (!t->v[t->n].path)
		return -ENOMEM;
	t->v[t->n].id = id;
	t->v[t->n].level = level;
	t->v[t->n].delegated = delegated;
	t->n++;
	return 0;
}

/*
 * Depth-first over directories; a cgroup removed meanwhile is skipped. A
 * cgroup is delegated when its directory, or an ancestor's, belongs to a
 * user other than root: cgroup v2 delegation is a chown of the directory.
 */
static int walk(struct tree *t, int dirfd, char *path, size_t plen, int level, bool delegated)
{
	DIR *d;
	struct dirent *de;
	int err = 0;

	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		uint64_t id = 0;
		struct stat sb;
		bool deleg;
		size_t nlen;
		int fd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		nlen = strlen(de->d_name);
		if (plen + 1 + nlen >= PATH_MAX) {
			/* No selector can name it (a tenant can make such chains below a
			 * delegated cgroup): skip it rather than fail every apply. Its
			 * ancestors' rules still cover it in the kernel. */
			if (!delegated)
				pg_note("skipping a cgroup under %s: its path is longer than "
					"%d bytes",
					plen ? path : "/", PATH_MAX);
			continue;
		}
		if (id_at(dirfd, de->d_name, 0, &id))
			continue;
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &sb)) {
			close(fd);
			continue;
		}
		deleg = delegated || sb.st_uid != 0;
		path[plen] = '/';
		memcpy(path + plen + 1, de->d_name, nlen + 1);
		if ((err = tree_add(t, path, id, level + 1, deleg))) {
			close(fd);
			break;
		}
		err = walk(t, fd, path, plen + 1 + nlen, level + 1, deleg);
		path[plen] = 0;
		if (err)
			break;
	}
	closedir(d);
	return err;
}

int pg_cg_tree(const char *mount, struct pg_cgroup **out, size_t *n)
{
	struct tree t = { 0 };
	char path[PATH_MAX] = "";
	uint64_t id = 0;
	int fd, err;

	fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((err = pg_cg_id_fd(fd, &id)) || (err = tree_add(&t, "/", id, 0, false))) {
		close(fd);
		pg_cg_tree_free(t.v, t.n);
		return err;
	}
	err = walk(&t, fd, path, 0, 0, false);
	if (err) {
		pg_cg_tree_free(t.v, t.n);
		return err;
	}
	*out = t.v;
	*n = t.n;
	return 0;
}

void pg_cg_tree_free(struct pg_cgroup *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)v[i].path);
	free(v);
}

const char *pg_cg_tree_path(const struct pg_cgroup *v, size_t n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].id == id)
			return v[i].path;
	return NULL;
}

/* -EPERM when cgroup path's programs of type block a link there (self) or
 * below it; 1 when they allow it (stop looking); 0 when it has none. */
static int blocks(const char *mount, const char *path, enum bpf_attach_type type, bool self)
{
	__u32 flags = 0, cnt = 0;
	int fd = pg_cg_open(mount, path), err = 0;

	if (fd < 0)
		return fd;
	if (bpf_prog_query(fd, type, 0, &flags, NULL, &cnt))
		err = -errno;
	close(fd);
	if (err == -EINVAL) /* an attach type this kernel does not have: nothing there */
		return 0;
	if (err)
		return err;
	if (flags & BPF_F_ALLOW_MULTI)
		return 1;
	if (!cnt)
		return 0;
	return self || !(flags & BPF_F_ALLOW_OVERRIDE) ? -EPERM : 1;
}

int pg_cg_link_blocked(const char *mount, const char *path, const enum bpf_attach_type *types,
		       size_t ntypes, char *where, size_t len, enum bpf_attach_type *type)
{
	char p[4096];
	size_t i;

	for (i = 0; i < ntypes; i++) {
		bool self = true;
		int r = 0;

		snprintf(p, sizeof(p), "%s", path);
		for (;;) {
			char *slash;

			if ((r = blocks(mount, p, types[i], self)))
				break;
			if (!strcmp(p, "/"))
				break;
			slash = strrchr(p, '/');
			if (slash == p)
				slash[1] = 0;
			else
				*slash = 0;
			self = false;
		}
		if (r == -EPERM) {
			snprintf(where, len, "%s", p);
			*type = types[i];
		}
		if (r < 0)
			return r;
	}
	return 0;
}
