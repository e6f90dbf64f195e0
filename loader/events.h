/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * events.h - subscribe to the BPF side's event stream (pg_abi.h, "Events"):
 * a ring buffer of one's own in a free pg_ev slot, and the decoding of
 * events into lines for people (text) and programs (JSON).
 */
#ifndef PORTGATE_EVENTS_H
#define PORTGATE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kube_names.h"
#include "meta.h"
#include "pg_abi.h"

struct ring_buffer;

typedef int (*pg_event_fn)(void *ud, const struct pg_event *ev);

struct pg_sub {
	char pin_dir[4096];
	int slot;      /* pg_ev slot, -1 if none */
	int ring;      /* the ring buffer map */
	int stats;     /* pg_stats, for the drop count */
	uint32_t mask; /* PG_EVM_* */
	struct ring_buffer *rb;
	pg_event_fn fn;
	void *ud;
	uint64_t lost; /* drops counted when subscribing, or last reported */
};

/*
 * Take a free (or abandoned: its owner died) slot of the pinned state in
 * pin_dir, with a ring buffer of our own, for the events in mask. The
 * state's lock is held only while subscribing. 0 or -errno (printed).
 */
int pg_sub_open(struct pg_sub *s, const char *pin_dir, uint32_t mask, pg_event_fn fn, void *ud);
/* Is slot taken by a live process (its pid, with the start time it had)? */
bool pg_sub_slot_alive(const struct pg_ctl *ctl, int slot);
/* Give the slot back. */
void pg_sub_close(struct pg_sub *s);
/* fd to poll for readable events. */
int pg_sub_fd(const struct pg_sub *s);
/* Call fn for each event waiting; count or -errno. */
int pg_sub_consume(struct pg_sub *s);
/* Events lost (ring full) since the last call; 0 if none. */
uint64_t pg_sub_lost(struct pg_sub *s);

/* Resolves what events name: cgroup ids to paths, rule indexes to file:line. */
struct pg_evfmt {
	char mount[4096];
	int mountfd;
	char pin_dir[4096];
	struct pg_meta meta;
	bool have_meta;
	uint64_t meta_gen;
	struct {
		uint64_t id;
		char path[512];
	} cache[64];
	unsigned int next;
	/* the agent's pod file (kube_names.h): events in a pod's cgroup name it */
	struct pg_podnames pods;
};

int pg_evfmt_init(struct pg_evfmt *f, const char *pin_dir);
void pg_evfmt_free(struct pg_evfmt *f);
/* Load the active policy's meta into f->meta unless it is current; 0 or -ENOENT. */
int pg_evfmt_meta(struct pg_evfmt *f);
/* The path of a cgroup from the cgroup2 root, or NULL (removed since). */
const char *pg_evfmt_cgroup(struct pg_evfmt *f, uint64_t id);
/* One line for a bind event, text or JSON (with the newline). */
void pg_evfmt_print(struct pg_evfmt *f, const struct pg_event *ev, bool json, FILE *out);
/* The JSON line for n events lost: {"version":...,"lost":n}. */
void pg_evfmt_lost_json(uint64_t n, FILE *out);

#endif
