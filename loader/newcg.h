/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * newcg.h - cgroups the mkdir program told of before they could be seen.
 *
 * The cgroup_mkdir tracepoint fires inside mkdir(2) before kernfs activates
 * the new directory: until then neither readdir(3) nor open_by_handle_at(2)
 * finds it (docs/KERNEL.md). An agent that looks at once can miss the very
 * cgroup it was told of, and then no further event comes. Such an id waits
 * here and is looked up again, with backoff, until it can be seen or the
 * wait ends (the cgroup was removed, or never came to be).
 */
#ifndef PORTGATE_NEWCG_H
#define PORTGATE_NEWCG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_NEWCG_MAX	 256  /* ids waiting at once */
#define PG_NEWCG_WAIT_MS 5000 /* how long one id is looked for */
#define PG_NEWCG_STEP_MS 64   /* longest pause between two looks */

struct pg_newcg {
	struct {
		uint64_t id;
		uint64_t since, next; /* monotonic ms */
		uint32_t tries;
	} q[PG_NEWCG_MAX];
	size_t n;
	uint64_t dropped; /* ids whose wait ended unseen */
};

/*
 * Look an id up: its path from the cgroup2 root (valid until the next
 * call), or NULL while it cannot be seen.
 */
typedef const char *(*pg_newcg_find)(void *ud, uint64_t id);
/* An id became visible at path. */
typedef void (*pg_newcg_seen)(void *ud, uint64_t id, const char *path);

/*
 * Queue id, first looked for again at now + 1 ms. False when the queue is
 * full: the caller must look at the whole tree instead.
 */
bool pg_newcg_add(struct pg_newcg *w, uint64_t id, uint64_t now);
/* When the next look is due (monotonic ms), or UINT64_MAX with none. */
uint64_t pg_newcg_due(const struct pg_newcg *w);
/*
 * Look up every id due at now: seen ones go to seen() and leave the queue;
 * the others wait, twice as long each time up to PG_NEWCG_STEP_MS, and
 * leave unseen after PG_NEWCG_WAIT_MS. Returns how many were seen.
 */
size_t pg_newcg_run(struct pg_newcg *w, uint64_t now, pg_newcg_find find, pg_newcg_seen seen,
		    void *ud);

#endif
