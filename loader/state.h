/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * state.h - portgate's kernel state: programs, maps and links pinned under
 * one bpffs directory, and the atomic swap of the policy image.
 *
 * Pins (PIN_DIR, default /sys/fs/bpf/portgate, mode 0700):
 *   pg_cur pg_cnt pg_nodes pg_ctl pg_netns pg_saved the maps, pinned first
 *   pg_next pg_stats pg_ev
 *   prog_bind4 prog_bind6 prog_sysctl prog_sockcr   the programs, then
 *   prog_mkdir prog_rmdir
 *   link_bind4 link_bind6 link_sysctl link_sockcr   the links, last
 *   link_mkdir link_rmdir                           (tracepoints, global)
 * so that a command killed at any point leaves a state the next one can
 * finish: programs pinned but links missing are attached by the next apply.
 * The directory itself is flock()ed by every command (shared for reads).
 */
#ifndef PORTGATE_STATE_H
#define PORTGATE_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "compile.h"
#include "pg_abi.h"

#define PG_DEFAULT_PIN_DIR "/sys/fs/bpf/portgate"

enum pg_link_kind {
	PG_LINK_BIND4,
	PG_LINK_BIND6,
	PG_LINK_SYSCTL,
	PG_LINK_SOCK,
	PG_NCGLINKS, /* the links above attach to a cgroup; those below do not */
	PG_LINK_MKDIR = PG_NCGLINKS,
	PG_LINK_RMDIR,
	PG_NLINKS
};
enum pg_map_kind {
	PG_MAP_CUR,
	PG_MAP_CNT,
	PG_MAP_NODES,
	PG_MAP_CTL,
	PG_MAP_NETNS,
	PG_MAP_SAVED,
	PG_MAP_NEXT,
	PG_MAP_STATS,
	PG_MAP_EV,
	PG_NMAPS
};

extern const char *const pg_link_names[PG_NLINKS];
extern const char *const pg_prog_names[PG_NLINKS];
extern const char *const pg_map_names[PG_NMAPS];

struct bpf_object;

struct pg_state {
	char dir[PATH_MAX];
	int dirfd; /* flock()ed */
	int map[PG_NMAPS];
	int prog[PG_NLINKS];
	int link[PG_NLINKS];
	struct pg_ctl *ctl;	/* pg_ctl, mmapped read-write */
	struct bpf_object *obj; /* while loading */
	int variant;		/* PG_VARIANT_* of obj */
	char *log;		/* the verifier's log of obj's load */
	bool caps;		/* obj reads the binding task's capabilities (bpf/pg_caps.h) */
	bool quiet;		/* a refusal of obj is expected: say it at debug level */
};

/* Open (and with create, make) the pin directory, mounting bpffs on
 * /sys/fs/bpf if nothing is mounted there, and lock it. Opens whatever is
 * pinned; missing pins stay -1. 0 or -errno (message printed). */
int pg_state_open(struct pg_state *st, const char *dir, bool create, bool exclusive);
void pg_state_close(struct pg_state *st);

/* Every map and program is pinned: the state can be used and completed. */
bool pg_state_loaded(const struct pg_state *st);
/* Every link is pinned too: portgate enforces. */
bool pg_state_active(const struct pg_state *st);
/* Any pin at all. */
bool pg_state_any(const struct pg_state *st);

/* Remove every pin (links are detached first). 0 or -errno. */
int pg_state_destroy(struct pg_state *st);

/* Load the programs and maps of the first variant in variants (ended by
 * PG_VARIANT_NONE) that the kernel takes, pin them (no links yet). 0,
 * -ENOTSUP when the kernel refused every one (printed), or -errno. */
int pg_state_load(struct pg_state *st, bool bypass, const int *variants);

/* Programs of this binary differ from the pinned ones: load ours (the
 * pinned variant) against the pinned maps and swap them in behind the
 * links. 0 when nothing to do; -ENOTSUP when the kernel refuses them. */
int pg_state_upgrade(struct pg_state *st, bool bypass);

/* Attach the four programs to the cgroup and pin the links; then check the
 * kernel lists them on the cgroup. */
int pg_state_attach(struct pg_state *st, int cgfd, const char *cgpath);

/* Forget pinned links whose cgroup is gone (rmdir detaches them). */
void pg_state_drop_dead_links(struct pg_state *st, const struct pg_cgroup *tree, size_t ntree);

/* Links already pinned are on the cgroup cgfd (else -EEXIST, printed). */
int pg_state_check_attach(const struct pg_state *st, int cgfd, const char *cgpath);

/* Make img the active policy in one step (see state.c). old: the nodes of
 * the image it replaces, whose cgroups' pg_nodes entries it may drop. */
int pg_state_install(struct pg_state *st, const struct pg_image *img, const char *mount,
		     const struct pg_node_out *old, size_t nold);

/* A private copy of the active image; -ENOENT if none. */
int pg_state_image(const struct pg_state *st, union pg_block **blocks, uint32_t *n);

/* Counters of the image in slot, summed over CPUs; -ENOENT if none. */
int pg_state_counters(const struct pg_state *st, uint8_t slot, uint32_t stride, uint64_t **out);

/* Node of the cgroup at path (with that id) in the image h, 0 if none. */
uint32_t pg_state_node(const struct pg_state *st, const char *mount, const char *path,
		       uint64_t cgid, const struct pg_hdr *h);

/* The cgroup id a link is attached to, and its program id. */
int pg_state_link_info(const struct pg_state *st, int kind, uint64_t *cgid, uint32_t *prog_id,
		       uint32_t *link_id);

/* pg_stats summed over CPUs into out[PG_ST__NR]. */
int pg_state_stats(const struct pg_state *st, uint64_t *out);

/* Kernel memory of a map (bpf_map_info / fdinfo memlock). */
uint64_t pg_map_memory(int fd);

/* Hash of a variant's embedded BPF object, to tell builds apart. */
uint64_t pg_build_hash(int variant);

#endif
