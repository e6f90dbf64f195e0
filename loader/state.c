// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * state.c - pinned programs, maps and links; the policy swap.
 *
 * The swap (pg_state_install) in order, and why each step is safe:
 *  1. Build the new image and counters in fresh maps: nothing reads them.
 *  2. Publish the counters in pg_cnt[slot] and the new image's nodes in
 *     pg_nodes value slot `slot`, stamped with its generation: the active
 *     image reads the other slot, and only values of its own generation.
 *  3. Widen pg_ctl.hull to cover both images' protected ports.
 *  4. Update pg_cur[0] to the new image. The kernel swaps the pointer and
 *     waits for running programs (maybe_wait_bpf_programs), so when the
 *     update returns no bind still reads the old image or its slot.
 *  5. Narrow the hull to the new image; drop the pg_nodes entries of
 *     cgroups that were nodes of the old image and are not of the new one.
 * Killed before 4: the old policy enforces whole. After 4: the new one.
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
#include "portgate_sk.skel.h"
#include "portgate_task.skel.h"
#include "probe.h"
#include "state.h"
#include "util.h"

const char *const pg_link_names[PG_NLINKS] = { "link_bind4",  "link_bind6", "link_sysctl",
					       "link_sockcr", "link_mkdir", "link_rmdir" };
const char *const pg_prog_names[PG_NLINKS] = { "prog_bind4",  "prog_bind6", "prog_sysctl",
					       "prog_sockcr", "prog_mkdir", "prog_rmdir" };
const char *const pg_map_names[PG_NMAPS] = { "pg_cur",	"pg_cnt",   "pg_nodes",
					     "pg_ctl",	"pg_netns", "pg_saved",
					     "pg_next", "pg_stats", "pg_ev" };
static const enum bpf_attach_type link_type[PG_NLINKS] = {
	BPF_CGROUP_INET4_BIND,	     BPF_CGROUP_INET6_BIND, BPF_CGROUP_SYSCTL,
	BPF_CGROUP_INET_SOCK_CREATE, BPF_TRACE_RAW_TP,	    BPF_TRACE_RAW_TP
};
static const char *const link_what[PG_NLINKS] = { "bind4",	 "bind6",	 "sysctl",
						  "sock_create", "cgroup_mkdir", "cgroup_rmdir" };

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int pin_path(const struct pg_state *st, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s", st->dir, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * A pin is made under NAME_new and renamed onto NAME (pin_replace), so a
 * command killed in between leaves NAME_new. With the lock held
 * exclusively, finish the job: rename it into place if NAME is missing,
 * else drop it. Shared holders only look, and take NAME_new for NAME.
 */
static int obj_get(const struct pg_state *st, const char *name, bool exclusive)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];
	int fd;

	if (pin_path(st, name, p, sizeof(p)))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s_new", p);
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		if (exclusive && !unlink(tmp))
			pg_dbg("dropped %s, left by a command that died", tmp);
		return fd;
	}
	fd = bpf_obj_get(tmp);
	if (fd < 0)
		return -1;
	if (exclusive) {
		if (rename(tmp, p)) {
			pg_err("cannot rename %s to %s: %s", tmp, p, strerror(errno));
			close(fd);
			return -1;
		}
		pg_dbg("finished pinning %s, left half-done by a command that died", p);
	}
	return fd;
}

static int map_ctl(struct pg_state *st)
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

int pg_state_open(struct pg_state *st, const char *dir, bool create, bool exclusive)
{
	int err, i, tries;

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
	for (tries = 0;; tries++) {
		struct stat a, b;

		st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (st->dirfd < 0) {
			err = -errno;
			if (err != -ENOENT || create)
				pg_err("cannot open pin directory %s: %s", dir, strerror(errno));
			return err;
		}
		if (!is_bpffs(dir)) {
			pg_err("cannot use pin directory %s: not on a bpf file system", dir);
			pg_state_close(st);
			return -ENOTDIR;
		}
		/* Root only: the maps decide who binds what. */
		if (create && fchmod(st->dirfd, 0700)) {
			err = -errno;
			pg_err("cannot make %s root-only: %s", dir, strerror(errno));
			pg_state_close(st);
			return err;
		}
		if (flock(st->dirfd, exclusive ? LOCK_EX : LOCK_SH)) {
			err = -errno;
			pg_err("cannot lock %s: %s", dir, strerror(errno));
			pg_state_close(st);
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
	for (i = 0; i < PG_NMAPS; i++)
		st->map[i] = obj_get(st, pg_map_names[i], exclusive);
	for (i = 0; i < PG_NLINKS; i++) {
		st->prog[i] = obj_get(st, pg_prog_names[i], exclusive);
		st->link[i] = obj_get(st, pg_link_names[i], exclusive);
	}
	if ((err = map_ctl(st))) {
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
		close_fd(&st->map[i]);
	for (i = 0; i < PG_NLINKS; i++) {
		close_fd(&st->prog[i]);
		close_fd(&st->link[i]);
	}
	bpf_object__close(st->obj);
	st->obj = NULL;
	free(st->log);
	st->log = NULL;
	close_fd(&st->dirfd);
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

	if (pin_path(st, name, p, sizeof(p)))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s_new", p);
	unlink(tmp); /* a half-done pin_replace() */
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
			pg_err("cannot detach %s link: %s", link_what[i], strerror(errno));
		}
		if ((e = unpin(st, pg_link_names[i])))
			err = e;
		/* A tracepoint link cannot be detached: it goes with its last
		 * reference, the pin just removed and this fd. */
		if (i >= PG_NCGLINKS)
			close_fd(&st->link[i]);
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

/* The programs' function names, by link kind. */
static const char *const prog_fn[PG_NLINKS] = { "pg_bind4",  "pg_bind6", "pg_sysctl",
						"pg_sockcr", "pg_mkdir", "pg_rmdir" };

static const void *variant_elf(int variant, size_t *sz)
{
	switch (variant) {
	case PG_VARIANT_SK:
		return portgate_sk__elf_bytes(sz);
	case PG_VARIANT_TASK:
		return portgate_task__elf_bytes(sz);
	default:
		*sz = 0;
		return NULL;
	}
}

uint64_t pg_build_hash(int variant)
{
	size_t sz, i;
	const uint8_t *b = variant_elf(variant, &sz);
	uint64_t h = 0xcbf29ce484222325ULL;

	for (i = 0; i < sz; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* Set a 32-bit `const volatile` global of the object before its load. */
static int set_rodata_u32(struct bpf_object *obj, const char *name, uint32_t val)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf_var_secinfo *vi;
	const struct btf_type *sec;
	struct btf *btf = bpf_object__btf(obj);
	size_t sz = 0;
	char *data;
	int id, i;

	data = m ? (char *)bpf_map__initial_value(m, &sz) : NULL; /* const in libbpf 1.1 */
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!data || id <= 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vi++) {
		const struct btf_type *var = btf__type_by_id(btf, vi->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vi->size != sizeof(val) || vi->offset + sizeof(val) > sz)
			return -EINVAL;
		memcpy(data + vi->offset, &val, sizeof(val));
		return 0;
	}
	return -ENOENT;
}

static struct bpf_program *obj_prog(const struct pg_state *st, int kind)
{
	return bpf_object__find_program_by_name(st->obj, prog_fn[kind]);
}

static struct bpf_map *obj_map(const struct pg_state *st, int kind)
{
	return bpf_object__find_map_by_name(st->obj, pg_map_names[kind]);
}

/*
 * The verifier's own reason, from the end of a log: its last line that is
 * not one of the summary lines it adds after the error.
 */
static void verifier_reason(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *p, *ls;

	snprintf(out, len, "no verifier log");
	for (p = end; p > log;) {
		size_t n;

		while (p > log && (p[-1] == '\n' || p[-1] == ' '))
			p--;
		for (ls = p; ls > log && ls[-1] != '\n'; ls--)
			;
		n = (size_t)(p - ls);
		if (n && strncmp(ls, "processed ", 10) && strncmp(ls, "verification time", 17) &&
		    strncmp(ls, "stack depth", 11) && strncmp(ls, "mark_precise", 12) &&
		    strncmp(ls, "-- END", 6)) {
			snprintf(out, len, "%.*s", (int)(n > 300 ? 300 : n), ls);
			return;
		}
		p = ls;
	}
}

#define PG_LOG_SIZE (16u << 20) /* old kernels keep a log's head: room for all of it */

/*
 * Load one variant's object. A refusal is reported as the program, the
 * kernel, and the verifier's last word; -v prints the whole log.
 */
static int open_obj(struct pg_state *st, int variant, bool bypass, bool reuse)
{
	size_t sz;
	const void *elf = variant_elf(variant, &sz);
	struct bpf_program *prog;
	char reason[320];
	int err, i;

	if (!st->log && !(st->log = calloc(1, PG_LOG_SIZE)))
		return -ENOMEM;
	st->log[0] = 0;
	{
		LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "portgate",
			    .kernel_log_buf = st->log, .kernel_log_size = PG_LOG_SIZE);

		st->obj = bpf_object__open_mem(elf, sz, &oo);
	}
	if (!st->obj) {
		err = -errno;
		pg_err("cannot open the %s variant's BPF object: %s", pg_variant_name(variant),
		       strerror(errno));
		return err;
	}
	st->variant = variant;
	{
		enum bpf_prog_type t = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
		const char *names[] = { "pg_can_bypass", "pg_has_pid", "pg_has_comm" };
		uint32_t vals[] = {
			bypass,
			libbpf_probe_bpf_helper(t, BPF_FUNC_get_current_pid_tgid, NULL) == 1,
			libbpf_probe_bpf_helper(t, BPF_FUNC_get_current_comm, NULL) == 1,
		};

		for (i = 0; i < 3; i++)
			if ((err = set_rodata_u32(st->obj, names[i], vals[i]))) {
				pg_err("cannot set %s in the BPF object: %s", names[i],
				       strerror(-err));
				return err;
			}
	}
	for (i = 0; reuse && i < PG_NMAPS; i++) {
		if ((err = bpf_map__reuse_fd(obj_map(st, i), st->map[i]))) {
			pg_err("cannot reuse pinned map %s/%s: %s", st->dir, pg_map_names[i],
			       strerror(-err));
			return err;
		}
	}
	err = bpf_object__load(st->obj);
	if (!err)
		return 0;
	/* Programs load in order: the first without an fd is the one refused. */
	bpf_object__for_each_program(prog, st->obj) if (bpf_program__fd(prog) < 0) break;
	verifier_reason(st->log, reason, sizeof(reason));
	if (pg_verbose)
		fprintf(stderr, "%s", st->log);
	pg_err("Linux %s refused the %s variant's program %s: %s: %s%s", pg_kernel_release(),
	       pg_variant_name(variant), prog ? bpf_program__name(prog) : "(unknown)",
	       strerror(-err), reason, pg_verbose ? "" : " (-v prints the whole verifier log)");
	return err;
}

static void close_obj(struct pg_state *st)
{
	bpf_object__close(st->obj);
	st->obj = NULL;
}

/* Pin fd at name, replacing what is there in one rename(). */
static int pin_replace(const struct pg_state *st, int fd, const char *name)
{
	char p[PATH_MAX], tmp[PATH_MAX];

	if (pin_path(st, name, p, sizeof(p)) ||
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

int pg_state_load(struct pg_state *st, bool bypass, const int *variants)
{
	int err = -ENOTSUP, i, v;

	/* The best variant the verifier takes: kernels of one version differ. */
	for (v = 0; variants[v] != PG_VARIANT_NONE; v++) {
		if (!(err = open_obj(st, variants[v], bypass, false)))
			break;
		close_obj(st);
		if (variants[v + 1] != PG_VARIANT_NONE)
			pg_dbg("trying the %s variant (%s)", pg_variant_name(variants[v + 1]),
			       pg_variant_what(variants[v + 1]));
	}
	if (err)
		return err == -EACCES || err == -EINVAL || err == -ENOTSUP ? -ENOTSUP : err;
	if (v)
		pg_err("warning: running the %s variant: %s", pg_variant_name(variants[v]),
		       pg_variant_what(variants[v]));
	for (i = 0; i < PG_NMAPS; i++) {
		st->map[i] = dup(bpf_map__fd(obj_map(st, i)));
		if (st->map[i] < 0 || (err = pin_replace(st, st->map[i], pg_map_names[i])))
			return st->map[i] < 0 ? -errno : err;
	}
	if ((err = map_ctl(st)))
		return err;
	st->ctl->abi = PG_ABI_VERSION;
	st->ctl->variant = (uint32_t)st->variant;
	st->ctl->build = pg_build_hash(st->variant);
	for (i = 0; i < PG_NLINKS; i++) {
		st->prog[i] = dup(bpf_program__fd(obj_prog(st, i)));
		if (st->prog[i] < 0 || (err = pin_replace(st, st->prog[i], pg_prog_names[i])))
			return st->prog[i] < 0 ? -errno : err;
	}
	return 0;
}

int pg_state_upgrade(struct pg_state *st, bool bypass)
{
	int err, i, variant = (int)st->ctl->variant;

	/* The variant stays what the first load found this kernel takes. */
	if (st->ctl->build == pg_build_hash(variant))
		return 0;
	pg_dbg("pinned programs come from another build: swapping in this build's");
	if ((err = open_obj(st, variant, bypass, true)))
		return err == -EACCES || err == -EINVAL ? -ENOTSUP : err;
	for (i = 0; i < PG_NLINKS; i++) {
		int fd = bpf_program__fd(obj_prog(st, i));

		if (i >= PG_NCGLINKS && st->link[i] >= 0) {
			/* Tracepoint links cannot swap programs: attach the new one
			 * first (both run a while, writing the same entries), then
			 * the pin's replacement releases the old one. */
			int nl = bpf_link_create(fd, 0, link_type[i], NULL);

			if (nl < 0) {
				err = -errno;
				pg_err("cannot attach the new %s program: %s", link_what[i],
				       strerror(errno));
				return err;
			}
			err = pin_replace(st, nl, pg_link_names[i]);
			close_fd(&st->link[i]);
			st->link[i] = nl;
			if (err)
				return err;
		} else if (st->link[i] >= 0 && bpf_link_update(st->link[i], fd, NULL)) {
			err = -errno;
			pg_err("cannot swap the %s program behind its link: %s", link_what[i],
			       strerror(errno));
			return err;
		}
		if ((err = pin_replace(st, fd, pg_prog_names[i])))
			return err;
		close_fd(&st->prog[i]);
		st->prog[i] = dup(fd);
	}
	st->ctl->build = pg_build_hash(variant);
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

	if (bpf_prog_query(cgfd, link_type[kind], BPF_F_QUERY_EFFECTIVE, &flags, ids, &cnt))
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
		       link_what[i]);
		unpin(st, pg_link_names[i]);
		close_fd(&st->link[i]);
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
			    link_what[i], (unsigned long long)have, cgpath);
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
						      link_type[i], NULL);
			if (st->link[i] < 0) {
				err = -errno;
				st->link[i] = -1;
				pg_err("cannot attach %s to cgroup %s: %s%s", link_what[i], cgpath,
				       strerror(-err),
				       err == -EPERM ? " (a program attached above it without "
						       "BPF_F_ALLOW_MULTI forbids more)"
						     : "");
				return err;
			}
			if ((err = pin_replace(st, st->link[i], pg_link_names[i])))
				return err;
		}
		if ((err = prog_id(st->prog[i], &pid)))
			return err;
		if (i >= PG_NCGLINKS) {
			uint32_t lp = 0;

			if ((err = link_cgroup(st->link[i], NULL, &lp, NULL)) || lp != pid) {
				pg_err("the %s link does not run portgate's program", link_what[i]);
				return err ? err : -ENOENT;
			}
			continue;
		}
		if ((err = verify_attached(cgfd, i, pid))) {
			pg_err("the kernel does not list the %s program on cgroup %s after "
			       "attaching it: %s",
			       link_what[i], cgpath, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The active image's inner map, or -ENOENT. */
static int cur_inner(const struct pg_state *st)
{
	__u32 zero = 0, id;
	int fd;

	if (st->map[PG_MAP_CUR] < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(st->map[PG_MAP_CUR], &zero, &id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

static int map_entries(int fd, uint32_t *n)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*n = info.max_entries;
	return 0;
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/* Copy an mmapable array map out; len bytes. */
static int read_array(int fd, size_t len, void **out)
{
	void *m, *copy;

	m = mmap(NULL, page_round(len), PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	copy = malloc(len ? len : 1);
	if (copy)
		memcpy(copy, m, len);
	munmap(m, page_round(len));
	if (!copy)
		return -ENOMEM;
	*out = copy;
	return 0;
}

int pg_state_image(const struct pg_state *st, union pg_block **blocks, uint32_t *n)
{
	int fd = cur_inner(st), err;
	void *copy;

	if (fd < 0)
		return fd;
	err = map_entries(fd, n);
	if (!err && !*n)
		err = -ENOENT;
	if (!err)
		err = read_array(fd, (size_t)*n * sizeof(union pg_block), &copy);
	close(fd);
	if (err)
		return err;
	*blocks = copy;
	if ((*blocks)[0].hdr.magic != PG_MAGIC || (*blocks)[0].hdr.abi != PG_ABI_VERSION) {
		free(copy);
		return -EPROTO;
	}
	return 0;
}

int pg_state_counters(const struct pg_state *st, uint8_t slot, uint32_t stride, uint64_t **out)
{
	__u32 key = slot & 1, id, n = 0, rows, r, i;
	uint64_t *v, *sum;
	int fd, err;

	if (!stride || bpf_map_lookup_elem(st->map[PG_MAP_CNT], &key, &id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	err = map_entries(fd, &n);
	if (!err)
		err = read_array(fd, (size_t)n * sizeof(uint64_t), (void **)&v);
	close(fd);
	if (err)
		return err;
	sum = calloc(stride, sizeof(*sum));
	if (!sum) {
		free(v);
		return -ENOMEM;
	}
	rows = n / stride;
	for (r = 0; r < rows; r++)
		for (i = 0; i < stride; i++)
			sum[i] += v[(size_t)r * stride + i];
	free(v);
	*out = sum;
	return 0;
}

/* Open the cgroup at path, and only if it still has the id we know it by. */
static int open_cgroup(const char *mount, const char *path, uint64_t cgid)
{
	uint64_t now = 0;
	int fd = pg_cg_open(mount, path);

	if (fd < 0)
		return fd;
	if (pg_cg_id_fd(fd, &now) || now != cgid) {
		close(fd);
		return -ESTALE; /* removed, or removed and made again */
	}
	return fd;
}

uint32_t pg_state_node(const struct pg_state *st, const char *mount, const char *path,
		       uint64_t cgid, const struct pg_hdr *h)
{
	struct pg_node_val v;
	int fd, r;

	if (st->map[PG_MAP_NODES] < 0 || (fd = open_cgroup(mount, path, cgid)) < 0)
		return 0;
	close(fd);
	r = bpf_map_lookup_elem(st->map[PG_MAP_NODES], &cgid, &v);
	if (r || v.gen[h->slot & 1] != h->gen)
		return 0;
	return v.node[h->slot & 1];
}

static int new_array(const char *name, uint32_t value_size, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size, n, &o);

	return fd < 0 ? -errno : fd;
}

static int write_array(int fd, const void *data, size_t len)
{
	void *m = mmap(NULL, page_round(len), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	memcpy(m, data, len);
	munmap(m, page_round(len));
	return 0;
}

/* The subdirectories of one directory, sorted: a cache of the last one read. */
struct dirlist {
	char dir[PATH_MAX];
	char **names;
	size_t n;
	bool valid;
};

static void dirlist_free(struct dirlist *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	memset(d, 0, sizeof(*d));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Might the cgroup at path (from the cgroup2 root) exist? false only when
 * its parent has no such entry, or no parent; true when it cannot tell. */
static bool dirlist_has(struct dirlist *d, const char *mount, const char *path)
{
	const char *slash = strrchr(path, '/'), *name = slash + 1;
	char dir[PATH_MAX];
	struct dirent *de;
	size_t len = slash == path ? 1 : (size_t)(slash - path), cap = 0;
	DIR *dp;

	if (len >= sizeof(dir))
		return true;
	memcpy(dir, path, len);
	dir[len] = 0;
	if (!d->valid || strcmp(d->dir, dir)) {
		char full[PATH_MAX * 2];

		dirlist_free(d);
		snprintf(d->dir, sizeof(d->dir), "%s", dir);
		snprintf(full, sizeof(full), "%s%s", mount, strcmp(dir, "/") ? dir : "");
		dp = opendir(full);
		if (!dp) {
			if (errno != ENOENT && errno != ENOTDIR)
				return true; /* cannot tell: open the path itself */
			d->valid = true;     /* no parent: no child either */
			return false;
		}
		while ((de = readdir(dp))) {
			char **nv;

			if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
			    !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (d->n == cap) {
				cap = cap ? cap * 2 : 64;
				nv = realloc(d->names, cap * sizeof(*nv));
				if (!nv)
					break;
				d->names = nv;
			}
			if (!(d->names[d->n] = strdup(de->d_name)))
				break;
			d->n++;
		}
		closedir(dp);
		if (de) { /* out of memory: cannot tell */
			dirlist_free(d);
			return true;
		}
		if (d->n)
			qsort(d->names, d->n, sizeof(*d->names), cmp_name);
		d->valid = true;
	}
	return d->n && bsearch(&name, d->names, d->n, sizeof(*d->names), cmp_name);
}

/* Is the cgroup open at fd still the one at path? */
static bool still_there(const char *mount, const char *path, int fd)
{
	uint64_t id = 0, now = 0;
	int f2;

	if (pg_cg_id_fd(fd, &id) || (f2 = pg_cg_open(mount, path)) < 0)
		return false;
	if (pg_cg_id_fd(f2, &now))
		now = 0;
	close(f2);
	return now == id;
}

/* One cgroup's pg_nodes value in slot := (node, tid) of the image. Only
 * ever races with the bind hooks' cache stores, tagged by generation. */
static int record_node(const struct pg_state *st, int fd, const struct pg_hdr *h, uint32_t node,
		       uint32_t tid)
{
	int map = st->map[PG_MAP_NODES], err;
	uint8_t slot = h->slot & 1;
	struct pg_node_val v;
	bool fresh = false;
	uint64_t id;

	/* pg_nodes is keyed by id: the open fd pins which cgroup that is */
	if ((err = pg_cg_id_fd(fd, &id)))
		return err;
	if (bpf_map_lookup_elem(map, &id, &v)) {
		memset(&v, 0, sizeof(v));
		fresh = true;
	}
	v.node[slot] = node;
	v.tid[slot] = tid;
	v.gen[slot] = h->gen;
	if (bpf_map_update_elem(map, &id, &v, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	if (fresh)
		__atomic_add_fetch(&st->ctl->store_new, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * pg_nodes slot `slot` := the image's nodes and path ids, stamped with its
 * generation. Nothing else needs clearing: a slot whose gen is not the
 * reading image's never counts. Paths of the path table are opened by
 * path, whatever cgroup is there now: one made since the tree was read was
 * made before the image was published in pg_next (else the mkdir program
 * recorded it), so it is found here. Other nodes (glob matches) go by id:
 * one whose cgroup went away since the tree was read gets nothing.
 */
/*
 * record_node() for the cgroup open at fd, then close fd. A cgroup removed
 * meanwhile (a restart racing this apply) is no error: whatever is made at
 * its path next gets its node from the mkdir program.
 */
static int record_open(const struct pg_state *st, int fd, const struct pg_hdr *h, uint32_t node,
		       uint32_t tid, const char *mount, const char *path)
{
	int err = record_node(st, fd, h, node, tid);

	if (err && !still_there(mount, path, fd)) {
		pg_dbg("cgroup %s went away while being recorded", path);
		err = 0;
	}
	if (err)
		pg_err("cannot record cgroup %s in pg_nodes: %s%s", path, strerror(-err),
		       err == -ENOSPC ? " (pg_nodes is full: at most 131072 cgroups)" : "");
	close(fd);
	return err;
}

static int publish_nodes(const struct pg_state *st, const struct pg_image *img, const char *mount)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;
	struct dirlist dl = { 0 };
	int err = 0, fd;
	size_t i;

	for (i = 0; i < img->npaths && !err; i++) {
		const struct pg_path_out *pp = &img->paths[i];

		/* Paths of cgroups not made yet are common (pods to come): one
		 * readdir of the parent instead of a failed open each. What is
		 * made after this look was made with pg_next published. */
		if (!dirlist_has(&dl, mount, pp->path))
			continue;
		fd = pg_cg_open(mount, pp->path);
		if (fd < 0)
			continue; /* not made yet: the mkdir program will see it */
		err = record_open(st, fd, h, pp->node, pp->tid, mount, pp->path);
	}
	dirlist_free(&dl);
	for (i = 0; i < img->nnodes && !err; i++) {
		const struct pg_node_out *n = &img->nodes[i];

		if (n->by_path)
			continue;
		fd = open_cgroup(mount, n->path, n->cgid);
		if (fd < 0) {
			pg_dbg("cgroup %s is gone since the tree was read", n->path);
			continue;
		}
		err = record_open(st, fd, h, n->node, 0, mount, n->path);
	}
	return err;
}

static int cmp_path(const void *key, const void *elem)
{
	return strcmp(key, ((const struct pg_path_out *)elem)->path);
}

/* img->paths is sorted by path. */
static bool in_paths(const struct pg_image *img, const char *path)
{
	return img->npaths &&
	       bsearch(path, img->paths, img->npaths, sizeof(*img->paths), cmp_path) != NULL;
}

/* After the swap: the storage of cgroups that were nodes and are nothing now. */
/* Keyed by id, an entry goes by id: a cgroup removed (or removed and made
 * again) lost its entry at rmdir, which the delete then finds gone. */
static void prune_nodes(const struct pg_state *st, const struct pg_image *img,
			const struct pg_node_out *old, size_t nold)
{
	size_t i, k;

	for (i = 0; i < nold; i++) {
		if (!old[i].cgid || in_paths(img, old[i].path))
			continue;
		for (k = 0; k < img->nnodes && img->nodes[k].cgid != old[i].cgid; k++)
			;
		if (k < img->nnodes)
			continue;
		if (!bpf_map_delete_elem(st->map[PG_MAP_NODES], &old[i].cgid))
			__atomic_add_fetch(&st->ctl->store_del, 1, __ATOMIC_RELAXED);
		else if (errno != ENOENT)
			pg_err("cannot drop cgroup %s from pg_nodes: %s", old[i].path,
			       strerror(errno));
	}
}

int pg_state_stats(const struct pg_state *st, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), c, k;
	uint64_t *v;

	memset(out, 0, PG_ST__NR * sizeof(*out));
	if (st->map[PG_MAP_STATS] < 0 || ncpu <= 0)
		return -ENOENT;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (k = 0; k < PG_ST__NR; k++) {
		__u32 key = (__u32)k;

		if (bpf_map_lookup_elem(st->map[PG_MAP_STATS], &key, v))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}

int pg_state_install(struct pg_state *st, const struct pg_image *img, const char *mount,
		     const struct pg_node_out *old, size_t nold)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;
	uint32_t ncpus, ncnt, zero = 0, was = st->ctl->hull, neu, wide;
	uint64_t was_live = st->ctl->live;
	uint8_t slot = h->slot & 1;
	int tab = -1, cnt = -1, err, n;

	n = libbpf_num_possible_cpus();
	if (n <= 0) {
		pg_err("cannot count possible CPUs: %s", strerror(-n));
		return n ? n : -EINVAL;
	}
	ncpus = (uint32_t)n;
	ncnt = h->cnt_stride * ncpus;

	tab = new_array("pg_tab", sizeof(union pg_block), img->nblocks);
	if (tab < 0) {
		err = tab;
		pg_err("cannot create the policy image map (%u blocks): %s", img->nblocks,
		       strerror(-err));
		goto out;
	}
	if ((err = write_array(tab, img->blocks, (size_t)img->nblocks * sizeof(union pg_block)))) {
		pg_err("cannot write the policy image: %s", strerror(-err));
		goto out;
	}
	/* Userspace never writes an image again once it is built. */
	if (bpf_map_freeze(tab)) {
		err = -errno;
		pg_err("cannot freeze the policy image: %s", strerror(errno));
		goto out;
	}
	cnt = new_array("pg_cnts", sizeof(__u64), ncnt);
	if (cnt < 0) {
		err = cnt;
		pg_err("cannot create the counters map (%u entries): %s", ncnt, strerror(-err));
		goto out;
	}
	if (bpf_map_update_elem(st->map[PG_MAP_CNT], &(__u32){ slot }, &cnt, BPF_ANY)) {
		err = -errno;
		pg_err("cannot publish the counters: %s", strerror(errno));
		goto out;
	}
	/* From here, a cgroup made gets its node in this image too (pg_mkdir). */
	if (bpf_map_update_elem(st->map[PG_MAP_NEXT], &zero, &tab, BPF_ANY)) {
		err = -errno;
		pg_err("cannot publish the new policy for cgroups made during the swap: %s",
		       strerror(errno));
		goto out;
	}
	pg_dbg("phase: nodes");
	if ((err = publish_nodes(st, img, mount)))
		goto out;

	neu = h->prot_hi >= h->prot_lo ? pg_hull(h->prot_lo, h->prot_hi) : 0;
	wide = neu;
	if (was && neu)
		wide = pg_hull(pg_hull_lo(was) < h->prot_lo ? pg_hull_lo(was) : h->prot_lo,
			       pg_hull_hi(was) > h->prot_hi ? pg_hull_hi(was) : h->prot_hi);
	else if (was)
		wide = was;
	__atomic_store_n(&st->ctl->hull, wide, __ATOMIC_SEQ_CST);

	/* The decision cache serves the new generation only once it is in. */
	__atomic_store_n(&st->ctl->live,
			 pg_live(h->gen, slot, h->cnt_stride, h->flags & PG_HF_BYPASS),
			 __ATOMIC_SEQ_CST);
	/* The swap. Returns once no running program can still see the old image. */
	pg_dbg("phase: swap");
	if (bpf_map_update_elem(st->map[PG_MAP_CUR], &zero, &tab, BPF_ANY)) {
		err = -errno;
		pg_err("cannot swap in the new policy: %s", strerror(errno));
		__atomic_store_n(&st->ctl->hull, was, __ATOMIC_SEQ_CST);
		__atomic_store_n(&st->ctl->live, was_live, __ATOMIC_SEQ_CST);
		goto out;
	}
	__atomic_store_n(&st->ctl->hull, neu, __ATOMIC_SEQ_CST);
	/* pg_next keeps the same image until the next apply replaces it: the
	 * mkdir program finds the same node twice, and clearing it would cost
	 * this apply another wait for running programs (synchronize_rcu). */
	pg_dbg("phase: prune");
	prune_nodes(st, img, old, nold);
	err = 0;
out:
	if (tab >= 0)
		close(tab);
	if (cnt >= 0)
		close(cnt);
	return err;
}

uint64_t pg_map_memory(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}
