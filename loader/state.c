// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * state.c - the pinned state: the bpffs directory and its lock, opening and
 * removing the pins, and attaching the links. Loading the BPF object is in
 * object.c, the policy swap in swap.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "probe.h"
#include "state.h"
#include "state_int.h"
#include "util.h"

const char *const pg_link_names[PG_NLINKS] = { "link_bind4",  "link_bind6", "link_sysctl",
					       "link_sockcr", "link_mkdir", "link_rmdir" };
const char *const pg_prog_names[PG_NLINKS] = { "prog_bind4",  "prog_bind6", "prog_sysctl",
					       "prog_sockcr", "prog_mkdir", "prog_rmdir" };
const char *const pg_map_names[PG_NMAPS] = { "pg_cur",	"pg_cnt",   "pg_nodes",
					     "pg_ctl",	"pg_netns", "pg_saved",
					     "pg_next", "pg_stats", "pg_ev" };
const enum bpf_attach_type pg_link_type[PG_NLINKS] = {
	BPF_CGROUP_INET4_BIND,	     BPF_CGROUP_INET6_BIND, BPF_CGROUP_SYSCTL,
	BPF_CGROUP_INET_SOCK_CREATE, BPF_TRACE_RAW_TP,	    BPF_TRACE_RAW_TP
};
const char *const pg_link_what[PG_NLINKS] = { "bind4",	     "bind6",	     "sysctl",
					      "sock_create", "cgroup_mkdir", "cgroup_rmdir" };

void pg_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int pg_pin_path(const struct pg_state *st, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s", st->dir, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * A pin is made under NAME_new and renamed onto NAME (pg_pin_replace), so a
 * command killed in between leaves NAME_new. With the lock held
 * exclusively, finish the job: rename it into place if NAME is missing,
 * else drop it. Shared holders only look, and take NAME_new for NAME.
 * The fd, or -errno (-ENOENT: not pinned).
 */
static int obj_get(const struct pg_state *st, const char *name, bool exclusive)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];
	int fd;

	if (pg_pin_path(st, name, p, sizeof(p)))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s_new", p);
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		if (exclusive && !unlink(tmp))
			pg_dbg("dropped %s, left by a command that died", tmp);
		return fd;
	}
	fd = bpf_obj_get(tmp);
	if (fd < 0)
		return -errno;
	if (exclusive) {
		if (rename(tmp, p)) {
			int err = -errno;

			pg_err("cannot rename %s to %s: %s", tmp, p, strerror(errno));
			close(fd);
			return err;
		}
		pg_dbg("finished pinning %s, left half-done by a command that died", p);
	}
	return fd;
}

int pg_state_map_ctl(struct pg_state *st)
{
	void *m;

	if (st->map[PG_MAP_CTL] < 0)
		return 0;
	m = mmap(NULL, sizeof(struct pg_ctl), PROT_READ | PROT_WRITE, MAP_SHARED,
		 st->map[PG_MAP_CTL], 0);
	if (m == MAP_FAILED) {
		int err = -errno;

		pg_err("cannot map %s/pg_ctl: %s", st->dir, strerror(errno));
		return err;
	}
	st->ctl = m;
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && sf.f_type == BPF_FS_MAGIC;
}

static bool is_bpffs_fd(int fd)
{
	struct statfs sf;

	return !fstatfs(fd, &sf) && sf.f_type == BPF_FS_MAGIC;
}

/* bpffs must be mounted; systemd does it at boot, a bare container may not. */
static int ensure_bpffs(const char *dir, bool create)
{
	char tmp[PATH_MAX], *parent;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	parent = dirname(tmp);
	if (is_bpffs(parent))
		return 0;
	if (!strcmp(parent, "/sys/fs/bpf") || !strncmp(parent, "/sys/fs/bpf/", 12)) {
		if (is_bpffs("/sys/fs/bpf"))
			return 0;
		if (!create)
			return -ENOENT;
		if (mount("bpf", "/sys/fs/bpf", "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0700")) {
			int err = -errno;

			pg_err("cannot mount the bpf file system on /sys/fs/bpf: %s",
			       strerror(errno));
			return err;
		}
		pg_dbg("mounted bpffs on /sys/fs/bpf");
		return is_bpffs(parent) ? 0 : -ENOENT;
	}
	if (!create)
		return -ENOENT;
	pg_err("cannot use pin directory %s: %s is not on a bpf file system", dir, parent);
	return -ENOTDIR;
}

/*
 * Open dir into st->dirfd and flock() it (exclusive or shared), making it
 * when create. 0 or -errno (logged), st->dirfd closed on failure.
 */
static int lock_dir(struct pg_state *st, const char *dir, bool create, bool exclusive)
{
	int err, tries;

	for (tries = 0;; tries++) {
		struct stat a, b;

		st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (st->dirfd < 0) {
			err = -errno;
			if (err != -ENOENT || create)
				pg_err("cannot open pin directory %s: %s", dir, strerror(errno));
			return err;
		}
		/* by the fd: the path may be gone already (see below) */
		if (!is_bpffs_fd(st->dirfd)) {
			pg_err("cannot use pin directory %s: not on a bpf file system", dir);
			pg_close_fd(&st->dirfd);
			return -ENOTDIR;
		}
		/* Root only: the maps decide who binds what. */
		if (create && fchmod(st->dirfd, 0700)) {
			err = -errno;
			pg_err("cannot make %s root-only: %s", dir, strerror(errno));
			pg_close_fd(&st->dirfd);
			return err;
		}
		if (flock(st->dirfd, exclusive ? LOCK_EX : LOCK_SH)) {
			err = -errno;
			pg_err("cannot lock %s: %s", dir, strerror(errno));
			pg_close_fd(&st->dirfd);
			return err;
		}
		/*
		 * stop removes the directory, and so does clearing a half-made state:
		 * a command that waited for the lock may now hold the lock of a
		 * directory that is gone while another makes a new one. Lock the one
		 * that is there.
		 */
		if (!fstat(st->dirfd, &a) && a.st_nlink && !stat(dir, &b) && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			break;
		close(st->dirfd);
		st->dirfd = -1;
		if (tries == 100) {
			pg_err("cannot lock %s: it keeps being removed and made again", dir);
			return -EAGAIN;
		}
		if (create && mkdir(dir, 0700) && errno != EEXIST) {
			err = -errno;
			pg_err("cannot create pin directory %s: %s", dir, strerror(errno));
			return err;
		}
	}
	return 0;
}

int pg_state_open(struct pg_state *st, const char *dir, bool create, bool exclusive)
{
	int err, i;

	memset(st, 0, sizeof(*st));
	st->dirfd = -1;
	for (i = 0; i < PG_NMAPS; i++)
		st->map[i] = -1;
	for (i = 0; i < PG_NLINKS; i++)
		st->prog[i] = st->link[i] = -1;
	if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >= (int)sizeof(st->dir))
		return -ENAMETOOLONG;
	if ((err = ensure_bpffs(dir, create)))
		return err;
	if (create && mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		pg_err("cannot create pin directory %s: %s", dir, strerror(errno));
		return err;
	}
	if ((err = lock_dir(st, dir, create, exclusive)))
		return err;
	for (i = 0; i < PG_NMAPS; i++)
		st->map[i] = obj_get(st, pg_map_names[i], exclusive);
	for (i = 0; i < PG_NLINKS; i++) {
		st->prog[i] = obj_get(st, pg_prog_names[i], exclusive);
		st->link[i] = obj_get(st, pg_link_names[i], exclusive);
	}
	if ((err = pg_state_map_ctl(st))) {
		pg_state_close(st);
		return err;
	}
	if (st->ctl && st->ctl->abi != PG_ABI_VERSION) {
		pg_err("state in %s was made by a portgate with policy ABI %u, this one speaks %u; "
		       "run that version's 'portgate stop' first",
		       dir, st->ctl->abi, PG_ABI_VERSION);
		pg_state_close(st);
		return -EPROTO;
	}
	return 0;
}

void pg_state_close(struct pg_state *st)
{
	int i;

	if (st->ctl)
		munmap(st->ctl, sizeof(struct pg_ctl));
	st->ctl = NULL;
	for (i = 0; i < PG_NMAPS; i++)
		pg_close_fd(&st->map[i]);
	for (i = 0; i < PG_NLINKS; i++) {
		pg_close_fd(&st->prog[i]);
		pg_close_fd(&st->link[i]);
	}
	bpf_object__close(st->obj);
	st->obj = NULL;
	free(st->log);
	st->log = NULL;
	pg_close_fd(&st->dirfd);
}

bool pg_state_loaded(const struct pg_state *st)
{
	int i;

	for (i = 0; i < PG_NMAPS; i++)
		if (st->map[i] < 0)
			return false;
	for (i = 0; i < PG_NLINKS; i++)
		if (st->prog[i] < 0)
			return false;
	return st->ctl != NULL;
}

bool pg_state_active(const struct pg_state *st)
{
	int i;

	if (!pg_state_loaded(st))
		return false;
	for (i = 0; i < PG_NLINKS; i++)
		if (st->link[i] < 0)
			return false;
	return true;
}

bool pg_state_any(const struct pg_state *st)
{
	int i;

	for (i = 0; i < PG_NMAPS; i++)
		if (st->map[i] >= 0)
			return true;
	for (i = 0; i < PG_NLINKS; i++)
		if (st->prog[i] >= 0 || st->link[i] >= 0)
			return true;
	return false;
}

static int unpin(const struct pg_state *st, const char *name)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];

	if (pg_pin_path(st, name, p, sizeof(p)))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s_new", p);
	unlink(tmp); /* a half-done pg_pin_replace() */
	if (unlink(p) && errno != ENOENT) {
		int err = -errno;

		pg_err("cannot remove %s: %s", p, strerror(errno));
		return err;
	}
	return 0;
}

int pg_state_destroy(struct pg_state *st)
{
	int i, err = 0, e;

	/* Links first: once they are gone nothing enforces, then tidy up. */
	for (i = 0; i < PG_NLINKS; i++) {
		if (st->link[i] >= 0 && bpf_link_detach(st->link[i]) && errno != EINVAL &&
		    errno != EOPNOTSUPP) {
			err = -errno;
			pg_err("cannot detach %s link: %s", pg_link_what[i], strerror(errno));
		}
		if ((e = unpin(st, pg_link_names[i])))
			err = e;
		/* A tracepoint link cannot be detached: it goes with its last
		 * reference, the pin just removed and this fd. */
		if (i >= PG_NCGLINKS)
			pg_close_fd(&st->link[i]);
	}
	for (i = 0; i < PG_NLINKS; i++)
		if ((e = unpin(st, pg_prog_names[i])))
			err = e;
	for (i = 0; i < PG_NMAPS; i++)
		if ((e = unpin(st, pg_map_names[i])))
			err = e;
	if (!err && rmdir(st->dir) && errno != ENOENT && errno != ENOTEMPTY) {
		err = -errno;
		pg_err("cannot remove %s: %s", st->dir, strerror(errno));
	}
	return err;
}

/* Pin fd at name, replacing what is there in one rename(). */
int pg_pin_replace(const struct pg_state *st, int fd, const char *name)
{
	char p[PATH_MAX], tmp[PATH_MAX];

	if (pg_pin_path(st, name, p, sizeof(p)) ||
	    snprintf(tmp, sizeof(tmp), "%s_new", p) /* bpffs names cannot hold dots */ >=
		(int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp)) {
		int err = -errno;

		pg_err("cannot pin %s: %s", tmp, strerror(errno));
		return err;
	}
	if (rename(tmp, p)) {
		int err = -errno;

		pg_err("cannot rename %s to %s: %s", tmp, p, strerror(errno));
		unlink(tmp);
		return err;
	}
	return 0;
}

static int link_cgroup(int link, uint64_t *cgid, uint32_t *prog_id, uint32_t *link_id)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(link, &info, &len))
		return -errno;
	if (cgid)
		*cgid = info.cgroup.cgroup_id;
	if (prog_id)
		*prog_id = info.prog_id;
	if (link_id)
		*link_id = info.id;
	return 0;
}

int pg_state_link_info(const struct pg_state *st, int kind, uint64_t *cgid, uint32_t *prog_id,
		       uint32_t *link_id)
{
	if (st->link[kind] < 0)
		return -ENOENT;
	return link_cgroup(st->link[kind], cgid, prog_id, link_id);
}

static int prog_id(int fd, uint32_t *id)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

/* The kernel lists the program among the cgroup's effective programs. */
static int verify_attached(int cgfd, int kind, uint32_t want)
{
	__u32 ids[64], cnt = 64, flags = 0, i;

	if (bpf_prog_query(cgfd, pg_link_type[kind], BPF_F_QUERY_EFFECTIVE, &flags, ids, &cnt))
		return -errno;
	for (i = 0; i < cnt; i++)
		if (ids[i] == want)
			return 0;
	return -ENOENT;
}

void pg_state_drop_dead_links(struct pg_state *st, const struct pg_cgroup *tree, size_t ntree)
{
	uint64_t cgid = 0;
	int i;

	for (i = 0; i < PG_NCGLINKS; i++) {
		/* Detached (id 0), or its cgroup removed and the detach still pending. */
		if (st->link[i] < 0 || link_cgroup(st->link[i], &cgid, NULL, NULL) ||
		    (cgid && pg_cg_tree_path(tree, ntree, cgid)))
			continue;
		pg_err("the %s link was detached when its cgroup was removed; attaching anew",
		       pg_link_what[i]);
		unpin(st, pg_link_names[i]);
		pg_close_fd(&st->link[i]);
	}
}

int pg_state_check_attach(const struct pg_state *st, int cgfd, const char *cgpath)
{
	uint64_t want, have = 0;
	int err, i;

	if ((err = pg_cg_id_fd(cgfd, &want)))
		return err;
	for (i = 0; i < PG_NCGLINKS; i++) {
		if (st->link[i] < 0)
			continue;
		if ((err = link_cgroup(st->link[i], &have, NULL, NULL)))
			return err;
		if (have != want) {
			pg_err(
			    "the %s program is attached to another cgroup (id %llu), not %s; run "
			    "'portgate stop' first to move it",
			    pg_link_what[i], (unsigned long long)have, cgpath);
			return -EEXIST;
		}
	}
	return 0;
}

int pg_state_attach(struct pg_state *st, int cgfd, const char *cgpath)
{
	int err, i, k;

	if ((err = pg_state_check_attach(st, cgfd, cgpath)))
		return err;
	/*
	 * The tracepoint links first, then the cgroup ones: once binds are
	 * policed, every cgroup made gets its node; and a command killed in
	 * between leaves binds not policed at all, which status says.
	 */
	for (k = 0; k < PG_NLINKS; k++) {
		uint32_t pid = 0;

		i = (k + PG_NCGLINKS) % PG_NLINKS;

		if (st->link[i] < 0) {
			st->link[i] = bpf_link_create(st->prog[i], i < PG_NCGLINKS ? cgfd : 0,
						      pg_link_type[i], NULL);
			if (st->link[i] < 0) {
				err = -errno;
				st->link[i] = -1;
				pg_err("cannot attach %s to cgroup %s: %s%s", pg_link_what[i],
				       cgpath, strerror(-err),
				       err == -EPERM ? " (a program attached above it without "
						       "BPF_F_ALLOW_MULTI forbids more)"
						     : "");
				return err;
			}
			if ((err = pg_pin_replace(st, st->link[i], pg_link_names[i])))
				return err;
		}
		if ((err = prog_id(st->prog[i], &pid)))
			return err;
		if (i >= PG_NCGLINKS) {
			uint32_t lp = 0;

			if ((err = link_cgroup(st->link[i], NULL, &lp, NULL)) || lp != pid) {
				pg_err("the %s link does not run portgate's program",
				       pg_link_what[i]);
				return err ? err : -ENOENT;
			}
			continue;
		}
		if ((err = verify_attached(cgfd, i, pid))) {
			pg_err("the kernel does not list the %s program on cgroup %s after "
			       "attaching it: %s",
			       pg_link_what[i], cgpath, strerror(-err));
			return err;
		}
	}
	return 0;
}
