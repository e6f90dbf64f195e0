// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* The agent's pod file (loader/kube_names.c): where it is, written and read
 * back, a cgroup named by its pod. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../loader/agent.c"
#include "../../loader/json.c"
#include "../../loader/kube_names.c"
#include "../../loader/util.c"

const char pg_version[] = "9.8.7-test";

static void test_path_beside_the_state_file(void **state)
{
	char st[PATH_MAX], pods[PATH_MAX];

	(void)state;
	assert_int_equal(pg_podnames_path(PG_DEFAULT_PIN_DIR, pods, sizeof(pods)), 0);
	assert_string_equal(pods, "/run/portgate/pods.json");
	assert_int_equal(pg_agent_state_path("/tmp/x/pins", st, sizeof(st)), 0);
	assert_int_equal(pg_podnames_path("/tmp/x/pins", pods, sizeof(pods)), 0);
	assert_string_equal(pods + strlen("/run/portgate/pods"),
			    st + strlen("/run/portgate/agent"));
	assert_int_equal(pg_podnames_path("/tmp/x/pins", pods, 20), -ENAMETOOLONG);
}

static void test_written_then_named(void **state)
{
	char dir[] = "/tmp/pg-names.XXXXXX", path[PATH_MAX];
	struct pg_kube_layout l;
	struct pg_podnames pn = { 0 };
	const struct pg_pod v[] = {
		{ .ns = "kube-system",
		  .name = "coredns-1",
		  .uid = "0a1b-2c",
		  .qos = PG_KUBE_BURSTABLE },
		{ .ns = "shop", .name = "web-1", .uid = "99-ff", .qos = PG_KUBE_GUARANTEED },
		{ .ns = "shop", .name = "pending", .uid = "77", .qos = 0 }, /* no cgroup known */
	};
	const struct pg_podname *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pods.json", dir);
	assert_int_equal(pg_kube_layout_init(&l, PG_KUBE_SYSTEMD, "/kubepods.slice"), 0);
	assert_int_equal(pg_podnames_write(path, &l, v, 3), 0);
	assert_int_equal(pg_podnames_load(&pn, path), 0);
	assert_int_equal(pn.n, 2);
	assert_int_equal(pn.layout.driver, PG_KUBE_SYSTEMD);
	p = pg_podnames_by_path(&pn, "/kubepods.slice/kubepods-burstable.slice/"
				     "kubepods-burstable-pod0a1b_2c.slice/cri-containerd-1.scope");
	assert_non_null(p);
	assert_string_equal(p->ns, "kube-system");
	assert_string_equal(p->name, "coredns-1");
	p = pg_podnames_by_path(&pn, "/kubepods.slice/kubepods-pod99_ff.slice");
	assert_non_null(p);
	assert_string_equal(p->name, "web-1");
	assert_null(pg_podnames_by_path(&pn, "/system.slice/x.service"));
	assert_null(pg_podnames_by_path(&pn, "/kubepods.slice/kubepods-pod12.slice"));
	assert_non_null(pg_podnames_by_name(&pn, "shop", "web-1"));
	assert_null(pg_podnames_by_name(&pn, "shop", "pending"));
	assert_int_equal(pg_podnames_refresh(&pn), 0); /* unchanged */
	assert_int_equal(pg_podnames_write(path, &l, v, 1), 0);
	assert_int_equal(pg_podnames_refresh(&pn), 1);
	assert_int_equal(pn.n, 1);
	assert_int_equal(pg_write_atomic(path, "{\"version\": 1, \"pods\": 3}", 25, 0644), 0);
	assert_int_equal(pg_podnames_refresh(&pn), -EPROTO);
	assert_int_equal(pn.n, 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(pg_podnames_load(&pn, path), -ENOENT);
	pg_podnames_free(&pn);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_beside_the_state_file),
		cmocka_unit_test(test_written_then_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
