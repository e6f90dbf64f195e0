// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* The agent's pod set (loader/run_pods.c): which changes can alter the
 * policy, own copies, order by uid. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../loader/run_pods.c"

static const struct kube_label web[] = { { "app", "web" }, { "tier", "front" } };
static const struct kube_label web_swapped[] = { { "tier", "front" }, { "app", "web" } };
static const struct kube_label canary[] = { { "app", "web" }, { "tier", "canary" } };

static struct kube_pod pod(const char *uid, const char *qos, const char *phase,
			   const struct kube_label *l, size_t n)
{
	return (struct kube_pod){ .ns = "shop",
				  .name = "web-1",
				  .uid = uid,
				  .qos_class = qos,
				  .phase = phase,
				  .labels = l,
				  .nlabels = n };
}

static void test_what_changes_the_policy(void **state)
{
	struct pg_podset s = { 0 };
	struct kube_pod p = pod("u-1", "Burstable", "Pending", web, 2);

	(void)state;
	assert_int_equal(pg_podset_upsert(&s, &p), 1); /* new */
	assert_int_equal(pg_podset_upsert(&s, &p), 0); /* the same */
	p.phase = "Running";
	assert_int_equal(pg_podset_upsert(&s, &p), 0); /* phase only */
	p.labels = web_swapped;
	assert_int_equal(pg_podset_upsert(&s, &p), 0); /* labels in another order */
	p.labels = canary;
	assert_int_equal(pg_podset_upsert(&s, &p), 1); /* a label value */
	p.nlabels = 1;
	assert_int_equal(pg_podset_upsert(&s, &p), 1); /* a label gone */
	p.qos_class = "Guaranteed";
	assert_int_equal(pg_podset_upsert(&s, &p), 1); /* another cgroup */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].qos, PG_KUBE_GUARANTEED);
	assert_int_equal(pg_podset_delete(&s, "u-1"), 1);
	assert_int_equal(pg_podset_delete(&s, "u-1"), 0);
	assert_int_equal(s.n, 0);
	pg_podset_free(&s);
}

static void test_own_copies_sorted(void **state)
{
	struct pg_podset s = { 0 };
	const char *uids[] = { "c", "a", "d", "b" };
	char buf[8], key[8], val[8];
	struct kube_label l = { key, val };
	struct kube_pod p;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "%s", uids[i]);
		snprintf(key, sizeof(key), "k%zu", i);
		snprintf(val, sizeof(val), "v%zu", i);
		p = pod(buf, "", "", &l, 1);
		assert_int_equal(pg_podset_upsert(&s, &p), 1);
		memset(buf, 'x', sizeof(buf) - 1); /* the set keeps its own */
		memset(key, 'x', sizeof(key) - 1);
	}
	assert_int_equal(s.n, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(s.v[i].uid[0], "abcd"[i]);
	assert_string_equal(pg_podset_get(&s, "c")->labels[0].key, "k0");
	assert_int_equal(pg_podset_get(&s, "a")->qos, 0); /* no QoS class yet */
	assert_null(pg_podset_get(&s, "e"));
	assert_int_equal(pg_podset_delete(&s, "b"), 1);
	assert_string_equal(s.v[1].uid, "c");
	pg_podset_free(&s);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_changes_the_policy),
		cmocka_unit_test(test_own_copies_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
