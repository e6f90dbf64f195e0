/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * watch.h - the agent's watch on the files of its policy (watch.c): which
 * directories to watch, found by reading the policy as apply will; whether
 * what it reads changed; and inotify events, settled before the next look.
 */
#ifndef PORTGATE_WATCH_H
#define PORTGATE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_WATCH_MAX_WRITING 64

struct watch_dir;
struct interest;

struct pg_watch {
	int ifd; /* inotify */
	struct watch_dir *dirs;
	size_t ndirs;
	struct interest *iv; /* what events matter, from the last look */
	size_t niv;
	char *writing[PG_WATCH_MAX_WRITING]; /* "WD/NAME" modified and not closed yet */
	size_t nwriting;
	bool pending; /* events not looked at yet */
	uint64_t first_ev, last_ev;
	uint8_t fp[32]; /* fingerprint of the last look */
	bool have_fp;
};

/* An inotify instance, nothing watched yet; 0 or -errno. */
int pg_watch_init(struct pg_watch *ws);
void pg_watch_free(struct pg_watch *ws);

/*
 * Read file (and what it includes) as apply will, without a word; watch
 * the directories that matter and nothing else; *changed: what was read
 * differs from the last look (or there was none). 0 or -ENOMEM.
 */
int pg_watch_look(struct pg_watch *ws, const char *file, bool *changed);

/* Take the inotify events queued (now: monotonic ms); 0 or -errno. */
int pg_watch_read(struct pg_watch *ws, uint64_t now);

/* Are events waiting for a look? *at: when they will have settled. */
bool pg_watch_due(const struct pg_watch *ws, uint64_t *at);
/* They are being looked at. */
void pg_watch_settled(struct pg_watch *ws);

#endif
