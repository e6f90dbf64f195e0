// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_kube_path.c - pod cgroup paths under both kubelet cgroup drivers and
 * the three QoS classes, back from a cgroup path to its pod, and driver
 * detection on temporary directory trees laid out like each driver's.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube_path.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define UID  "6a0b37cd-3f2c-4e69-9a6e-2c0e6d5a1f00"
#define UID_ "6a0b37cd_3f2c_4e69_9a6e_2c0e6d5a1f00"
/* a static pod's UID: the hash of its manifest, no dashes */
#define HASH "3f1c0e8b9a2d4c5e6f708192a3b4c5d6"

static void layout(struct pg_kube_layout *l, enum pg_kube_driver d, const char *root)
{
	int rc = pg_kube_layout_init(l, d, root);

	if (rc) {
		print_error("layout %d '%s': %d\n", d, root ? root : "(default)", rc);
		fail();
	}
}

static void test_names(void **state)
{
	enum pg_kube_driver d;
	enum pg_kube_qos q;

	assert_int_equal(pg_kube_driver_parse("systemd", &d), 0);
	assert_int_equal(d, PG_KUBE_SYSTEMD);
	assert_int_equal(pg_kube_driver_parse("cgroupfs", &d), 0);
	assert_int_equal(d, PG_KUBE_CGROUPFS);
	assert_int_equal(pg_kube_driver_parse("Systemd", &d), -EINVAL);
	assert_int_equal(pg_kube_driver_parse("", &d), -EINVAL);
	assert_string_equal(pg_kube_driver_name(PG_KUBE_SYSTEMD), "systemd");
	assert_string_equal(pg_kube_driver_name(PG_KUBE_CGROUPFS), "cgroupfs");
	assert_string_equal(pg_kube_driver_name(PG_KUBE_DRIVER_AUTO), "auto");

	assert_int_equal(pg_kube_qos_parse("Guaranteed", &q), 0);
	assert_int_equal(q, PG_KUBE_GUARANTEED);
	assert_int_equal(pg_kube_qos_parse("Burstable", &q), 0);
	assert_int_equal(q, PG_KUBE_BURSTABLE);
	assert_int_equal(pg_kube_qos_parse("BestEffort", &q), 0);
	assert_int_equal(q, PG_KUBE_BESTEFFORT);
	assert_int_equal(pg_kube_qos_parse("besteffort", &q), -EINVAL);
	assert_int_equal(pg_kube_qos_parse("", &q), -EINVAL);
	for (q = PG_KUBE_GUARANTEED; q <= PG_KUBE_BESTEFFORT; q++) {
		enum pg_kube_qos back = 0;

		assert_int_equal(pg_kube_qos_parse(pg_kube_qos_name(q), &back), 0);
		assert_int_equal(back, q);
	}
	assert_null(pg_kube_qos_name(0));
}

static void test_layout_init(void **state)
{
	static const struct {
		enum pg_kube_driver d;
		const char *root;
		int rc;
		enum pg_kube_driver want;
		const char *want_root;
	} rows[] = {
		{ PG_KUBE_SYSTEMD, NULL, 0, PG_KUBE_SYSTEMD, "/kubepods.slice" },
		{ PG_KUBE_CGROUPFS, NULL, 0, PG_KUBE_CGROUPFS, "/kubepods" },
		{ PG_KUBE_DRIVER_AUTO, "/kubepods.slice", 0, PG_KUBE_SYSTEMD, "/kubepods.slice" },
		{ PG_KUBE_DRIVER_AUTO, "/kubepods", 0, PG_KUBE_CGROUPFS, "/kubepods" },
		{ PG_KUBE_DRIVER_AUTO, "/kubelet.slice/kubelet-kubepods.slice", 0, PG_KUBE_SYSTEMD,
		  "/kubelet.slice/kubelet-kubepods.slice" },
		{ PG_KUBE_CGROUPFS, "/test/kp.slice", 0, PG_KUBE_CGROUPFS, "/test/kp.slice" },
		{ PG_KUBE_DRIVER_AUTO, NULL, -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "kubepods", -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "/", -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "", -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "/kubepods/", -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "/a//kubepods", -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "/a/../kubepods", -EINVAL, 0, NULL },
		{ PG_KUBE_DRIVER_AUTO, "/./kubepods", -EINVAL, 0, NULL },
		{ PG_KUBE_SYSTEMD, "/kubepods", -EINVAL, 0, NULL },
		{ PG_KUBE_SYSTEMD, "/a/.slice", -EINVAL, 0, NULL },
		{ (enum pg_kube_driver)7, "/kubepods", -EINVAL, 0, NULL },
	};
	char longroot[PG_KUBE_MAX_ROOT + 8];
	struct pg_kube_layout l;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		int rc = pg_kube_layout_init(&l, rows[i].d, rows[i].root);

		if (rc != rows[i].rc) {
			print_error("row %zu '%s': %d, want %d\n", i,
				    rows[i].root ? rows[i].root : "(null)", rc, rows[i].rc);
			fail();
		}
		if (rc)
			continue;
		assert_int_equal(l.driver, rows[i].want);
		assert_string_equal(l.root, rows[i].want_root);
	}
	longroot[0] = '/';
	memset(longroot + 1, 'a', sizeof(longroot) - 2);
	longroot[sizeof(longroot) - 1] = '\0';
	assert_int_equal(pg_kube_layout_init(&l, PG_KUBE_CGROUPFS, longroot), -ENAMETOOLONG);
}

/* --- pod paths ------------------------------------------------------------------ */

static const struct {
	enum pg_kube_driver d;
	const char *root; /* NULL: the driver's default */
	const char *uid;
	enum pg_kube_qos qos;
	const char *path;
} paths[] = {
	{ PG_KUBE_SYSTEMD, NULL, UID, PG_KUBE_GUARANTEED,
	  "/kubepods.slice/kubepods-pod" UID_ ".slice" },
	{ PG_KUBE_SYSTEMD, NULL, UID, PG_KUBE_BURSTABLE,
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice" },
	{ PG_KUBE_SYSTEMD, NULL, UID, PG_KUBE_BESTEFFORT,
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice" },
	{ PG_KUBE_CGROUPFS, NULL, UID, PG_KUBE_GUARANTEED, "/kubepods/pod" UID },
	{ PG_KUBE_CGROUPFS, NULL, UID, PG_KUBE_BURSTABLE, "/kubepods/burstable/pod" UID },
	{ PG_KUBE_CGROUPFS, NULL, UID, PG_KUBE_BESTEFFORT, "/kubepods/besteffort/pod" UID },
	/* the kubelet's --cgroup-root /kubelet, as kind runs it */
	{ PG_KUBE_SYSTEMD, "/kubelet.slice/kubelet-kubepods.slice", UID, PG_KUBE_BURSTABLE,
	  "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
	  "kubelet-kubepods-burstable-pod" UID_ ".slice" },
	{ PG_KUBE_SYSTEMD, "/kubelet.slice/kubelet-kubepods.slice", UID, PG_KUBE_GUARANTEED,
	  "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UID_ ".slice" },
	{ PG_KUBE_CGROUPFS, "/kubelet/kubepods", UID, PG_KUBE_BESTEFFORT,
	  "/kubelet/kubepods/besteffort/pod" UID },
	/* a test's tree below a cgroup of its own */
	{ PG_KUBE_CGROUPFS, "/portgate-test/kp", "a", PG_KUBE_GUARANTEED,
	  "/portgate-test/kp/poda" },
	/* static pods */
	{ PG_KUBE_SYSTEMD, NULL, HASH, PG_KUBE_BURSTABLE,
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" HASH ".slice" },
	{ PG_KUBE_CGROUPFS, NULL, HASH, PG_KUBE_GUARANTEED, "/kubepods/pod" HASH },
};

static void test_pod_path(void **state)
{
	struct pg_kube_layout l;
	enum pg_kube_qos q;
	char buf[512], uid[PG_KUBE_MAX_UID + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		layout(&l, paths[i].d, paths[i].root);
		assert_int_equal(pg_kube_pod_path(&l, paths[i].uid, paths[i].qos, buf, sizeof(buf)),
				 0);
		assert_string_equal(buf, paths[i].path);

		/* and back, from the pod's cgroup and from a container's */
		q = 0;
		assert_int_equal(pg_kube_path_pod(&l, buf, uid, sizeof(uid), &q), 0);
		assert_string_equal(uid, paths[i].uid);
		assert_int_equal(q, paths[i].qos);
		strcat(buf, "/cri-containerd-0123abcd.scope");
		assert_int_equal(pg_kube_path_pod(&l, buf, uid, sizeof(uid), NULL), 0);
		assert_string_equal(uid, paths[i].uid);

		/* a buffer one byte short */
		assert_int_equal(
		    pg_kube_pod_path(&l, paths[i].uid, paths[i].qos, buf, strlen(paths[i].path)),
		    -ENAMETOOLONG);
		assert_int_equal(
		    pg_kube_path_pod(&l, paths[i].path, uid, strlen(paths[i].uid), NULL),
		    -ENAMETOOLONG);
	}
}

static void test_pod_path_bad(void **state)
{
	static const char *const uids[] = {
		"",
		"../../system.slice",
		"a/b",
		"a_b", /* would read back as a-b under systemd */
		"a.b",
		"a b",
		"0123456789012345678901234567890123456789012345678901234567890123x",
	};
	struct pg_kube_layout l;
	char buf[512];
	size_t i;

	layout(&l, PG_KUBE_SYSTEMD, NULL);
	for (i = 0; i < ARRAY_SIZE(uids); i++) {
		if (pg_kube_pod_path(&l, uids[i], PG_KUBE_BURSTABLE, buf, sizeof(buf)) != -EINVAL) {
			print_error("uid '%s' taken\n", uids[i]);
			fail();
		}
	}
	assert_int_equal(pg_kube_pod_path(&l, UID, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pg_kube_pod_path(&l, UID, PG_KUBE_BESTEFFORT + 1, buf, sizeof(buf)),
			 -EINVAL);
	/* 64 bytes is the most */
	assert_int_equal(pg_kube_pod_path(&l, HASH HASH, PG_KUBE_GUARANTEED, buf, sizeof(buf)), 0);
}

/* Cgroups that are not a pod's, or not of this layout. */
static void test_path_pod_none(void **state)
{
	static const struct {
		enum pg_kube_driver d;
		const char *path;
	} rows[] = {
		{ PG_KUBE_SYSTEMD, "/" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/kubepods-burstable.slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slicex/kubepods-pod" UID_ ".slice" },
		{ PG_KUBE_SYSTEMD, "/system.slice/kubepods-pod" UID_ ".slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/kubepods-pod.slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/kubepods-pod" UID ".slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/kubepods-pod" UID_ },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/other-pod" UID_ ".slice" },
		{ PG_KUBE_SYSTEMD,
		  "/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_
		  ".slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/kubepods-burstable.slice/pod" UID_ ".slice" },
		{ PG_KUBE_SYSTEMD, "/kubepods.slice/kubepods-guaranteed.slice/"
				   "kubepods-guaranteed-pod" UID_ ".slice" },
		{ PG_KUBE_CGROUPFS, "/kubepods" },
		{ PG_KUBE_CGROUPFS, "/kubepods/burstable" },
		{ PG_KUBE_CGROUPFS, "/kubepods/pod" },
		{ PG_KUBE_CGROUPFS, "/kubepods/pod" UID_ },
		{ PG_KUBE_CGROUPFS, "/kubepods/guaranteed/pod" UID },
		{ PG_KUBE_CGROUPFS, "/kubepods/burstable/x/pod" UID },
		{ PG_KUBE_CGROUPFS, "/kubepods.slice/kubepods-pod" UID_ ".slice" },
	};
	struct pg_kube_layout l;
	char uid[PG_KUBE_MAX_UID + 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		layout(&l, rows[i].d, NULL);
		if (pg_kube_path_pod(&l, rows[i].path, uid, sizeof(uid), NULL) != -ENOENT) {
			print_error("'%s' taken for a pod's cgroup\n", rows[i].path);
			fail();
		}
	}
}

/* --- detection on directory trees ---------------------------------------------- */

struct tree {
	char dir[256];
};

static int tree_setup(void **state)
{
	static struct tree t;
	const char *tmp = getenv("TMPDIR");

	snprintf(t.dir, sizeof(t.dir), "%s/portgate-kube-path.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t.dir))
		return -1;
	*state = &t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	return nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p of each rel (NULL-terminated) below the tree. */
static void tree_make(const struct tree *t, const char *const *rel)
{
	char path[PATH_MAX], *p;

	for (; *rel; rel++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, *rel);
		for (p = path + strlen(t->dir) + 1; (p = strchr(p, '/')); p++) {
			*p = '\0';
			assert_true(!mkdir(path, 0755) || errno == EEXIST);
			*p = '/';
		}
		assert_true(!mkdir(path, 0755) || errno == EEXIST);
	}
}

static void expect_detect(const struct tree *t, int rc, enum pg_kube_driver d, const char *root)
{
	struct pg_kube_layout l;
	int got = pg_kube_layout_detect(&l, t->dir);

	if (got != rc) {
		print_error("detect: %d, want %d\n", got, rc);
		fail();
	}
	if (rc)
		return;
	assert_int_equal(l.driver, d);
	assert_string_equal(l.root, root);
}

static void test_detect_systemd(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = {
		"init.scope",
		"system.slice/containerd.service",
		"kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-1.scope",
		"kubepods.slice/kubepods-burstable.slice",
		"kubepods.slice/kubepods-besteffort.slice",
		NULL,
	};

	tree_make(t, dirs);
	expect_detect(t, 0, PG_KUBE_SYSTEMD, "/kubepods.slice");
}

static void test_detect_cgroupfs(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = {
		"system.slice/docker.service",
		"kubepods/pod" UID "/0123abcd",
		"kubepods/burstable",
		"kubepods/besteffort",
		NULL,
	};

	tree_make(t, dirs);
	expect_detect(t, 0, PG_KUBE_CGROUPFS, "/kubepods");
}

/* kind: the kubelet's --cgroup-root /kubelet under the systemd driver. */
static void test_detect_nested(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = {
		"system.slice",
		"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice",
		NULL,
	};

	tree_make(t, dirs);
	expect_detect(t, 0, PG_KUBE_SYSTEMD, "/kubelet.slice/kubelet-kubepods.slice");
}

static void test_detect_nested_cgroupfs(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = { "docker/kubepods/burstable", NULL };

	tree_make(t, dirs);
	expect_detect(t, 0, PG_KUBE_CGROUPFS, "/docker/kubepods");
}

static void test_detect_none(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = { "system.slice/kubepods.service", "user.slice",
				     "kube.slice/kubepods.slice", NULL };
	char path[PATH_MAX];
	FILE *f;

	tree_make(t, dirs);
	/* a file is not a cgroup */
	snprintf(path, sizeof(path), "%s/kubepods", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	expect_detect(t, -ENOENT, 0, NULL);
	snprintf(path, sizeof(path), "%s/missing", t->dir);
	assert_int_equal(pg_kube_layout_detect(&(struct pg_kube_layout){ 0 }, path), -ENOENT);
	snprintf(path, sizeof(path), "%s/kubepods", t->dir);
	assert_int_equal(pg_kube_layout_detect(&(struct pg_kube_layout){ 0 }, path), -ENOTDIR);
}

/* Both drivers' trees (a node moved from one to the other): ask. */
static void test_detect_both(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = { "kubepods.slice", "kubepods", NULL };

	tree_make(t, dirs);
	expect_detect(t, -ENOTUNIQ, 0, NULL);
}

static void test_detect_two_nested(void **state)
{
	const struct tree *t = *state;
	const char *const dirs[] = { "a.slice/a-kubepods.slice", "b/kubepods", NULL };

	tree_make(t, dirs);
	expect_detect(t, -ENOTUNIQ, 0, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_layout_init),
		cmocka_unit_test(test_pod_path),
		cmocka_unit_test(test_pod_path_bad),
		cmocka_unit_test(test_path_pod_none),
		cmocka_unit_test_setup_teardown(test_detect_systemd, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_detect_cgroupfs, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_detect_nested, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_detect_nested_cgroupfs, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_detect_none, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_detect_both, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_detect_two_nested, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
