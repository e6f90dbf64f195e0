// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * swap.c - the policy in the pinned maps: installing an image, publishing
 * and pruning cgroup nodes, and reading the image and counters back.
 *
 * The swap (pg_state_install) in order, and why each step is safe:
 *  1. Build the new image and counters in fresh maps: nothing reads them.
 *     The counters' carry row takes what the old image counted (carry.h).
 *  2. Publish the counters in pg_cnt[slot] and the new image's nodes in
 *     pg_nodes value slot `slot`, stamped with its generation: the active
 *     image reads the other slot, and only values of its own generation.
 *  3. Widen pg_ctl.hull to cover both images' protected ports.
 *  4. Update pg_cur[0] to the new image. The kernel swaps the pointer and
 *     waits for running programs (maybe_wait_bpf_programs), so when the
 *     update returns no bind still reads the old image or its slot.
 *  5. Narrow the hull to the new image; drop the pg_nodes entries of
 *     cgroups that were nodes of the old image and are not of the new one.
 *  6. Write the carry row again, from the old counters' final values.
 * Killed before 4: the old policy enforces whole. After 4: the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "carry.h"
#include "cgroup.h"
#include "state.h"
#include "util.h"

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

/* The counters map of slot; -ENOENT if none. */
static int counters_fd(const struct pg_state *st, uint8_t slot)
{
	__u32 key = slot & 1, id;
	int fd;

	if (bpf_map_lookup_elem(st->map[PG_MAP_CNT], &key, &id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

/* The counters of fd summed over its rows (the CPUs' and the carry row). */
static int sum_counters(int fd, uint32_t stride, uint64_t **out)
{
	uint32_t n = 0, rows, r, i;
	uint64_t *v, *sum;
	int err;

	err = map_entries(fd, &n);
	if (!err)
		err = read_array(fd, (size_t)n * sizeof(uint64_t), (void **)&v);
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

int pg_state_counters(const struct pg_state *st, uint8_t slot, uint32_t stride, uint64_t **out)
{
	int fd, err;

	if (!stride)
		return -ENOENT;
	fd = counters_fd(st, slot);
	if (fd < 0)
		return fd;
	err = sum_counters(fd, stride, out);
	close(fd);
	return err;
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

/*
 * Steps 1 and 2 up to the nodes: the new image (frozen) in *tab, its
 * counters in *cnt, published in pg_cnt[slot] and pg_next; *carry is the
 * counters' carry row (carry.h), after one row per possible CPU. 0 or
 * -errno (logged); the caller closes what it got.
 */
/* One update of a map of maps: map[key] = fd. */
struct outer_upd {
	int map;
	__u32 key;
	int fd;
	int err;
};

static void *outer_update(void *p)
{
	struct outer_upd *u = p;

	u->err = bpf_map_update_elem(u->map, &u->key, &u->fd, BPF_ANY) ? -errno : 0;
	return NULL;
}

/*
 * Both updates at once. Each update of a map of maps returns only after an
 * RCU grace period (the kernel's maybe_wait_bpf_programs()), 5 to 15 ms on
 * a busy machine; made together, they wait for the same one, which is most
 * of what the agent's apply after a pod event costs before the swap
 * (bench/kube_latency.py). Without a thread, one after the other.
 */
static void outer_update_both(struct outer_upd *a, struct outer_upd *b)
{
	pthread_t t;

	if (pthread_create(&t, NULL, outer_update, a)) {
		outer_update(a);
		outer_update(b);
		return;
	}
	outer_update(b);
	pthread_join(t, NULL);
}

static int new_maps(struct pg_state *st, const struct pg_image *img, uint8_t slot, int *tab,
		    int *cnt, uint32_t *carry)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;
	uint32_t ncnt, zero = 0;
	int err, n;

	n = libbpf_num_possible_cpus();
	if (n <= 0) {
		pg_err("cannot count possible CPUs: %s", strerror(-n));
		return n ? n : -EINVAL;
	}
	*carry = (uint32_t)n;
	ncnt = h->cnt_stride * ((uint32_t)n + 1);
	*tab = new_array("pg_tab", sizeof(union pg_block), img->nblocks);
	if (*tab < 0) {
		pg_err("cannot create the policy image map (%u blocks): %s", img->nblocks,
		       strerror(-*tab));
		return *tab;
	}
	if ((err = write_array(*tab, img->blocks, (size_t)img->nblocks * sizeof(union pg_block)))) {
		pg_err("cannot write the policy image: %s", strerror(-err));
		return err;
	}
	/* Userspace never writes an image again once it is built. */
	if (bpf_map_freeze(*tab)) {
		err = -errno;
		pg_err("cannot freeze the policy image: %s", strerror(errno));
		return err;
	}
	*cnt = new_array("pg_cnts", sizeof(__u64), ncnt);
	if (*cnt < 0) {
		pg_err("cannot create the counters map (%u entries): %s", ncnt, strerror(-*cnt));
		return *cnt;
	}
	/* The counters for the slot, and the image that, from here, a cgroup
	 * made gets its node in too (pg_mkdir). */
	struct outer_upd uc = { st->map[PG_MAP_CNT], slot, *cnt, 0 },
			 un = { st->map[PG_MAP_NEXT], zero, *tab, 0 };

	outer_update_both(&uc, &un);
	if (uc.err) {
		pg_err("cannot publish the counters: %s", strerror(-uc.err));
		return uc.err;
	}
	if (un.err) {
		pg_err("cannot publish the new policy for cgroups made during the swap: %s",
		       strerror(-un.err));
		return un.err;
	}
	return 0;
}

/*
 * Write the carry row (carry.h) of the new image's counters cnt from the
 * counters oldcnt of the image old it replaces. A failure costs the
 * exported counters a reset, not the apply: it is a warning.
 */
static void carry_counters(int oldcnt, const union pg_block *old, uint32_t nold,
			   const struct pg_image *img, int cnt, uint32_t row)
{
	uint32_t stride = img->blocks[0].hdr.cnt_stride, i;
	size_t len = (size_t)stride * (row + 1) * sizeof(uint64_t);
	uint64_t *sum = NULL, *carry = NULL, *m = MAP_FAILED;
	int err;

	if (oldcnt < 0)
		return;
	carry = calloc(stride, sizeof(*carry));
	err = carry ? sum_counters(oldcnt, old[0].hdr.cnt_stride, &sum) : -ENOMEM;
	if (!err)
		err = pg_carry_row(old, nold, sum, img->blocks, img->nblocks, carry);
	if (!err && (m = mmap(NULL, page_round(len), PROT_READ | PROT_WRITE, MAP_SHARED, cnt, 0)) ==
			MAP_FAILED)
		err = -errno;
	if (!err) {
		/* whole words: a reader summing the rows never sees half of one */
		for (i = 0; i < stride; i++)
			__atomic_store_n(&m[(size_t)row * stride + i], carry[i], __ATOMIC_RELAXED);
		munmap(m, page_round(len));
	} else {
		pg_warn("cannot carry the counters over to the new policy, they start from zero: "
			"%s",
			strerror(-err));
	}
	free(sum);
	free(carry);
}

/* Step 3's hull: the protected ports of the image in force (was) and h's together. */
static uint32_t hull_both(uint32_t was, const struct pg_hdr *h, uint32_t neu)
{
	if (was && neu)
		return pg_hull(pg_hull_lo(was) < h->prot_lo ? pg_hull_lo(was) : h->prot_lo,
			       pg_hull_hi(was) > h->prot_hi ? pg_hull_hi(was) : h->prot_hi);
	return was ? was : neu;
}

int pg_state_install(struct pg_state *st, const struct pg_image *img, const char *mount,
		     const struct pg_node_out *old, size_t nold)
{
	const struct pg_hdr *h = &img->blocks[0].hdr;
	uint32_t zero = 0, was = st->ctl->hull, neu;
	uint64_t was_live = st->ctl->live;
	uint8_t slot = h->slot & 1;
	union pg_block *was_img = NULL;
	uint32_t nwas = 0, carry;
	int tab = -1, cnt = -1, was_cnt = -1, err;

	/* the counters of the image in force, held before new_maps replaces
	 * them in pg_cnt (if both images have the same slot) */
	if (!pg_state_image(st, &was_img, &nwas) && was_img[0].hdr.cnt_stride)
		was_cnt = counters_fd(st, was_img[0].hdr.slot);
	if ((err = new_maps(st, img, slot, &tab, &cnt, &carry)))
		goto out;
	/* before the swap, so that no series starts lower than it was */
	carry_counters(was_cnt, was_img, nwas, img, cnt, carry);
	pg_dbg("phase: nodes");
	if ((err = publish_nodes(st, img, mount)))
		goto out;

	neu = h->prot_hi >= h->prot_lo ? pg_hull(h->prot_lo, h->prot_hi) : 0;
	__atomic_store_n(&st->ctl->hull, hull_both(was, h, neu), __ATOMIC_SEQ_CST);

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
	/* again, now that nothing counts in the old counters: with the binds
	 * they counted since the first carry */
	carry_counters(was_cnt, was_img, nwas, img, cnt, carry);
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
	if (was_cnt >= 0)
		close(was_cnt);
	free(was_img);
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
