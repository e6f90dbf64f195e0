// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* newcg.c - cgroups told of before they could be seen (newcg.h). */
#include "newcg.h"

bool pg_newcg_add(struct pg_newcg *w, uint64_t id, uint64_t now)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->q[i].id == id)
			return true;
	if (w->n == PG_NEWCG_MAX)
		return false;
	w->q[w->n].id = id;
	w->q[w->n].since = now;
	w->q[w->n].next = now + 1;
	w->q[w->n].tries = 0;
	w->n++;
	return true;
}

uint64_t pg_newcg_due(const struct pg_newcg *w)
{
	uint64_t due = UINT64_MAX;
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->q[i].next < due)
			due = w->q[i].next;
	return due;
}

static void drop(struct pg_newcg *w, size_t i)
{
	w->q[i] = w->q[--w->n];
}

size_t pg_newcg_run(struct pg_newcg *w, uint64_t now, pg_newcg_find find, pg_newcg_seen seen,
		    void *ud)
{
	size_t i = 0, nseen = 0;

	while (i < w->n) {
		const char *path;
		uint64_t step;

		if (w->q[i].next > now) {
			i++;
			continue;
		}
		path = find(ud, w->q[i].id);
		if (path) {
			seen(ud, w->q[i].id, path);
			nseen++;
			drop(w, i);
			continue;
		}
		if (now - w->q[i].since >= PG_NEWCG_WAIT_MS) {
			w->dropped++;
			drop(w, i);
			continue;
		}
		step = w->q[i].tries < 6 ? 2ull << w->q[i].tries : PG_NEWCG_STEP_MS;
		w->q[i].tries++;
		w->q[i].next = now + (step < PG_NEWCG_STEP_MS ? step : PG_NEWCG_STEP_MS);
		i++;
	}
	return nseen;
}
