// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* test_newcg.c - loader/newcg.c: ids looked up again until seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../loader/newcg.c" /* the unit, compiled in: loader objects are not in the unit link */

/* A fake cgroup tree: id i becomes visible at time visible_at[i]. */
struct fake {
	uint64_t now;
	uint64_t visible_at[8];
	unsigned finds[8];
	unsigned seen[8];
	char path[32];
};

static const char *find(void *ud, uint64_t id)
{
	struct fake *f = ud;

	f->finds[id]++;
	if (f->now < f->visible_at[id])
		return NULL;
	snprintf(f->path, sizeof(f->path), "/pods/p%u", (unsigned)id);
	return f->path;
}

static void seen(void *ud, uint64_t id, const char *path)
{
	struct fake *f = ud;
	char want[32];

	snprintf(want, sizeof(want), "/pods/p%u", (unsigned)id);
	assert_string_equal(path, want);
	f->seen[id]++;
}

/* Run the queue as the agent's loop does: sleep until due, look. */
static void drive(struct pg_newcg *w, struct fake *f, uint64_t until)
{
	while (w->n && f->now < until) {
		uint64_t due = pg_newcg_due(w);

		assert_true(due != UINT64_MAX);
		if (due > f->now)
			f->now = due;
		pg_newcg_run(w, f->now, find, seen, f);
	}
}

static void seen_once_when_it_appears(void **state)
{
	static struct pg_newcg w;
	struct fake f = { .now = 1000, .visible_at = { [1] = 1030 } };

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_true(pg_newcg_add(&w, 1, f.now));
	assert_int_equal(pg_newcg_due(&w), 1001);
	drive(&w, &f, 100000);
	assert_int_equal(f.seen[1], 1);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.dropped, 0);
	/* backoff: 1, 2, 4, 8, 16 ms ... not a look per millisecond */
	assert_in_range(f.finds[1], 3, 8);
	assert_int_equal(pg_newcg_due(&w), UINT64_MAX);
}

static void visible_at_once_needs_one_look(void **state)
{
	static struct pg_newcg w;
	struct fake f = { .now = 5 };

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_true(pg_newcg_add(&w, 2, f.now));
	assert_true(pg_newcg_add(&w, 2, f.now)); /* the same id once */
	assert_int_equal(w.n, 1);
	/* nothing is due before its time */
	assert_int_equal(pg_newcg_run(&w, 5, find, seen, &f), 0);
	assert_int_equal(f.finds[2], 0);
	assert_int_equal(pg_newcg_run(&w, 6, find, seen, &f), 1);
	assert_int_equal(f.seen[2], 1);
	assert_int_equal(f.finds[2], 1);
}

static void never_seen_leaves_after_the_wait(void **state)
{
	static struct pg_newcg w;
	struct fake f = { .now = 0, .visible_at = { [3] = UINT64_MAX } };

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_true(pg_newcg_add(&w, 3, f.now));
	drive(&w, &f, UINT64_MAX);
	assert_int_equal(f.seen[3], 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(w.dropped, 1);
	assert_true(f.now >= PG_NEWCG_WAIT_MS);
	assert_true(f.now <= PG_NEWCG_WAIT_MS + PG_NEWCG_STEP_MS);
	/* at most one look per PG_NEWCG_STEP_MS once backed off */
	assert_true(f.finds[3] <= 6 + PG_NEWCG_WAIT_MS / PG_NEWCG_STEP_MS + 1);
}

static void several_ids_each_in_their_time(void **state)
{
	static struct pg_newcg w;
	struct fake f = { .now = 0, .visible_at = { 0, 10, 300, UINT64_MAX, 0, 2 } };
	uint64_t id;

	(void)state;
	memset(&w, 0, sizeof(w));
	for (id = 1; id <= 5; id++)
		assert_true(pg_newcg_add(&w, id, f.now));
	drive(&w, &f, UINT64_MAX);
	assert_int_equal(f.seen[1], 1);
	assert_int_equal(f.seen[2], 1);
	assert_int_equal(f.seen[3], 0);
	assert_int_equal(f.seen[4], 1);
	assert_int_equal(f.seen[5], 1);
	assert_int_equal(w.dropped, 1);
}

static void full_queue_says_so(void **state)
{
	static struct pg_newcg w;
	uint64_t id;

	(void)state;
	memset(&w, 0, sizeof(w));
	for (id = 1; id <= PG_NEWCG_MAX; id++)
		assert_true(pg_newcg_add(&w, id, 0));
	assert_false(pg_newcg_add(&w, PG_NEWCG_MAX + 1, 0));
	assert_true(pg_newcg_add(&w, 7, 0)); /* already there */
	assert_int_equal(w.n, PG_NEWCG_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seen_once_when_it_appears),
		cmocka_unit_test(visible_at_once_needs_one_look),
		cmocka_unit_test(never_seen_leaves_after_the_wait),
		cmocka_unit_test(several_ids_each_in_their_time),
		cmocka_unit_test(full_queue_says_so),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
