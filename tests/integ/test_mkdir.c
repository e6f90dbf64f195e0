// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_mkdir.c - cgroups made after the apply: a service restarted (same
 * path, new cgroup id), a nested path made from nothing, cgroups made
 * while applies swap policies, and pg_nodes entries going away with their
 * cgroups. No agent runs: the cgroup_mkdir program does it all, inside
 * mkdir(2), before the new cgroup can be entered.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdbool.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pg_abi.h"

#include "cgroup.h"
#include "harness.h"

static struct hx H;

static int setup(void **state)
{
	return hx_setup(&H, *state) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

/* What pg_stats and pg_ctl say, read from the pins like any root tool would. */
struct counts {
	uint64_t st[PG_ST__NR];
	uint64_t user_new, user_del;
};

static void read_counts(struct counts *c)
{
	char path[2048];
	int fd, ncpu = libbpf_num_possible_cpus(), k, i;
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v));
	struct pg_ctl ctl;
	__u32 zero = 0;

	assert_non_null(v);
	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/pg_stats", H.pin);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	for (k = 0; k < PG_ST__NR; k++) {
		__u32 key = (__u32)k;

		assert_int_equal(bpf_map_lookup_elem(fd, &key, v), 0);
		for (i = 0; i < ncpu; i++)
			c->st[k] += v[i];
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/pg_ctl", H.pin);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &ctl), 0);
	c->user_new = ctl.store_new;
	c->user_del = ctl.store_del;
	close(fd);
	free(v);
}

/* pg_nodes entries alive: every creation counted, every deletion counted. */
static int64_t occupancy(const struct counts *c)
{
	return (int64_t)(c->st[PG_ST_STORE_NEW] + c->user_new) -
	       (int64_t)(c->st[PG_ST_STORE_DEL] + c->user_del);
}

/* rmdir (if there) and mkdir again: a service restart, as systemd does it. */
static void remake(const char *rel)
{
	int e = hx_rmcg(&H, rel);

	if (e && e != -ENOENT)
		fail_msg("rmdir %s: %s", rel, strerror(-e));
	assert_int_equal(hx_mkcg(&H, rel), 0);
}

/* ------------------------------------------------------------------ tests */

/*
 * 1000 restarts of a granted service: each new cgroup (new id, same path)
 * is joined and binds at once, as nobody. Not one denial. A nested path
 * that did not exist at apply time works too, made from nothing.
 */
static void restart_loop_exact_path(void **state)
{
	struct hx_bind b = {
		.cg = "svc", .family = AF_INET, .type = SOCK_STREAM, .port = 80, .uid = NOBODY
	};
	int loops = getenv("MKDIR_LOOPS") ? atoi(getenv("MKDIR_LOOPS")) : 1000, i, denied = 0;
	struct counts c0, c1;

	(void)state;
	APPLY_OK("default deny\nallow @/svc tcp/80\nallow @/a/b/c udp/81\n");
	read_counts(&c0);
	for (i = 0; i < loops; i++) {
		int e;

		remake("svc");
		b.family = i & 1 ? AF_INET6 : AF_INET;
		e = hx_bind(&H, &b);
		if (e) {
			denied++;
			print_error("restart %d: bind tcp/80 in a new svc cgroup: %s\n", i,
				    hx_errname(e));
		}
	}
	read_counts(&c1);
	print_message("%d restarts of svc, %d refused binds; mkdir program: %llu mkdirs, "
		      "%llu got a node\n",
		      loops, denied, (unsigned long long)(c1.st[PG_ST_MKDIR] - c0.st[PG_ST_MKDIR]),
		      (unsigned long long)(c1.st[PG_ST_MKDIR_NODE] - c0.st[PG_ST_MKDIR_NODE]));
	assert_int_equal(denied, 0);
	assert_true(c1.st[PG_ST_MKDIR_NODE] - c0.st[PG_ST_MKDIR_NODE] >= (uint64_t)loops);

	/* a/b/c from nothing: a and b get path ids, c its node */
	assert_int_equal(hx_mkcg(&H, "a/b/c"), 0);
	EXPECT_BIND(0, .cg = "a/b/c", .type = SOCK_DGRAM, .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "a/b/c", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "a/b", .type = SOCK_DGRAM, .port = 81, .uid = NOBODY);
	/* below the node, inherited; beside it, nothing */
	assert_int_equal(hx_mkcg(&H, "a/b/c/worker"), 0);
	EXPECT_BIND(0, .cg = "a/b/c/worker", .type = SOCK_DGRAM, .port = 81, .uid = NOBODY);
	assert_int_equal(hx_mkcg(&H, "a/b/d"), 0);
	EXPECT_BIND(EPERM, .cg = "a/b/d", .type = SOCK_DGRAM, .port = 81, .uid = NOBODY);
	assert_int_equal(hx_mkcg(&H, "svc2"), 0);
	EXPECT_BIND(EPERM, .cg = "svc2", .port = 80, .uid = NOBODY);
	/* a name that only shares a prefix or a hash bucket is not the path */
	assert_int_equal(hx_mkcg(&H, "svcx"), 0);
	EXPECT_BIND(EPERM, .cg = "svcx", .port = 80, .uid = NOBODY);
	/* status counts them */
	assert_int_equal(hx_run(&H, "status", NULL), 0);
}

/*
 * Restarts while applies swap between two policies that both grant svc
 * tcp/80: a cgroup made between an apply's tree scan and its swap gets
 * its node in the incoming image too (pg_next), so no bind is refused.
 */
static void restart_during_applies(void **state)
{
	const char *pa = hx_policy(&H, "a.conf", "default deny\nallow @/svc tcp/80\n");
	const char *pb =
	    hx_policy(&H, "b.conf", "default deny\nallow @/svc tcp/80\nallow @/other tcp/81\n");
	struct hx_bind b = {
		.cg = "svc", .family = AF_INET, .type = SOCK_STREAM, .port = 80, .uid = NOBODY
	};
	int loops = getenv("MKDIR_LOOPS") ? atoi(getenv("MKDIR_LOOPS")) / 4 : 250, i, denied = 0,
	    st, applies = 0;
	int pfd[2], min_applies = getenv("MKDIR_APPLIES") ? atoi(getenv("MKDIR_APPLIES")) : 50;
	volatile int *shared;
	pid_t pid;

	(void)state;
	APPLY_OK("default deny\nallow @/svc tcp/80\n");
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the applier: alternate until the parent closes the pipe */
		char buf;
		int n = 0, fails = 0;

		close(pfd[1]);
		for (;;) {
			struct timeval tv = { 0, 0 };
			fd_set rs;

			FD_ZERO(&rs);
			FD_SET(pfd[0], &rs);
			if (select(pfd[0] + 1, &rs, NULL, NULL, &tv) > 0 &&
			    read(pfd[0], &buf, 1) <= 0)
				break;
			if (hx_run(&H, "apply", "--attach", H.cg, n & 1 ? pa : pb, NULL) != 0) {
				fprintf(stderr, "apply %d failed:\n%s\n", n, H.out);
				fails++;
			}
			shared[0] = ++n;
		}
		_exit(fails ? 1 : 0);
	}
	close(pfd[0]);
	/* restart until both enough restarts and enough applies have happened */
	for (i = 0; i < loops || shared[0] < min_applies; i++) {
		int e;

		remake("svc");
		e = hx_bind(&H, &b);
		if (e) {
			denied++;
			print_error("restart %d during applies: %s\n", i, hx_errname(e));
		}
	}
	close(pfd[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0); /* no apply failed */
	applies = shared[0];
	print_message("%d restarts during %d applies: %d refused binds\n", i, applies, denied);
	assert_true(applies >= min_applies);
	munmap((void *)shared, 4096);
	assert_int_equal(denied, 0);
}

/* 10,000 create/remove cycles: pg_nodes holds what it held before. */
static void entries_go_with_cgroups(void **state)
{
	int cycles = getenv("MKDIR_CYCLES") ? atoi(getenv("MKDIR_CYCLES")) : 10000, i;
	struct counts c0, c1;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "g/x"), 0);
	APPLY_OK("default deny\nallow @/svc tcp/80\nallow @/a/b/c udp/81\nallow @/g/* tcp/82\n");
	EXPECT_BIND(0, .cg = "g/x", .port = 82, .uid = NOBODY); /* a bind caches in g/x's entry */
	read_counts(&c0);
	for (i = 0; i < cycles; i++) {
		/* a node, an ancestor path, and a cgroup no selector names */
		assert_int_equal(hx_mkcg(&H, i % 3 == 0	  ? "svc"
					     : i % 3 == 1 ? "a/b/c"
							  : "plain"),
				 0);
		assert_int_equal(hx_rmcg(&H, i % 3 == 0	  ? "svc"
					     : i % 3 == 1 ? "a/b/c"
							  : "plain"),
				 0);
		if (i % 1000 == 999) {
			assert_int_equal(hx_rmcg(&H, "a/b"), 0);
			assert_int_equal(hx_rmcg(&H, "a"), 0);
		}
	}
	/* a and b came with the first a/b/c: they go too */
	hx_rmcg(&H, "a/b");
	hx_rmcg(&H, "a");
	read_counts(&c1);
	print_message("%d cycles: entries %lld before, %lld after; %llu made by the mkdir "
		      "program, %llu deleted at rmdir\n",
		      cycles, (long long)occupancy(&c0), (long long)occupancy(&c1),
		      (unsigned long long)(c1.st[PG_ST_STORE_NEW] - c0.st[PG_ST_STORE_NEW]),
		      (unsigned long long)(c1.st[PG_ST_STORE_DEL] - c0.st[PG_ST_STORE_DEL]));
	assert_true(c1.st[PG_ST_STORE_NEW] - c0.st[PG_ST_STORE_NEW] >= (uint64_t)cycles / 3);
	assert_int_equal(occupancy(&c1), occupancy(&c0));
}

/* Is the cgroup at rel a node of the image in force? (what a bind would find) */
static bool granted_now(const char *rel)
{
	char path[4096];
	struct pg_node_val v;
	struct pg_ctl ctl;
	__u32 zero = 0, slot;
	uint64_t id = 0;
	int cfd, nfd, tfd;
	bool ok = false;

	snprintf(path, sizeof(path), "%s%s", H.cg2, hx_path(&H, rel));
	cfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/pg_nodes", H.pin);
	nfd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/pg_ctl", H.pin);
	tfd = bpf_obj_get(path);
	/* pg_nodes is keyed by cgroup id */
	if (cfd >= 0 && nfd >= 0 && tfd >= 0 && !pg_cg_id_fd(cfd, &id) &&
	    !bpf_map_lookup_elem(tfd, &zero, &ctl) && !bpf_map_lookup_elem(nfd, &id, &v)) {
		slot = pg_live_slot(ctl.live);
		ok = (uint32_t)v.gen[slot] == pg_live_gen(ctl.live) && v.node[slot];
	}
	if (cfd >= 0)
		close(cfd);
	if (nfd >= 0)
		close(nfd);
	if (tfd >= 0)
		close(tfd);
	return ok;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/*
 * Glob selectors are resolved by the agent: the cgroup_mkdir program tells
 * it of each new cgroup, and it applies again. The time from mkdir to the
 * grant being in force, over GLOB_CREATIONS creations (1000 for the
 * figure in the docs), is reported; every creation must get it.
 */
static void glob_grant_latency(void **state)
{
	int n = getenv("GLOB_CREATIONS") ? atoi(getenv("GLOB_CREATIONS")) : 200, i, k;
	const char *pol = hx_policy(&H, "g.conf", "default deny\nallow @/pods/* tcp/80\n");
	uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	char rel[64];
	pid_t agent;
	int st;

	(void)state;
	assert_non_null(lat);
	assert_int_equal(hx_mkcg(&H, "pods"), 0);
	agent = fork();
	assert_true(agent >= 0);
	if (agent == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		{
			char *a[] = { (char *)"run", (char *)"--attach", H.cg, (char *)"--pin-dir",
				      H.pin,	     (char *)pol,	 NULL };
			char *full[16];
			int j;

			full[0] = (char *)H.portgate;
			for (j = 0; a[j]; j++)
				full[j + 1] = a[j];
			full[j + 1] = NULL;
			hx_exec(&H, full);
		}
	}
	/* the agent's first apply: the pins appear */
	for (k = 0; k < 6000; k++) {
		char p[2048];

		snprintf(p, sizeof(p), "%s/link_mkdir", H.pin);
		if (!access(p, F_OK))
			break;
		usleep(10000);
	}
	/* No wait for its event subscription, which follows the apply: the
	 * first creations race it, and the agent's look again after
	 * subscribing must catch them. */
	for (i = 0; i < n; i++) {
		uint64_t t0;

		snprintf(rel, sizeof(rel), "pods/p%d", i);
		t0 = mono_us();
		assert_int_equal(hx_mkcg(&H, rel), 0);
		for (k = 0; k < 600000 && !granted_now(rel); k++)
			usleep(100);
		lat[i] = mono_us() - t0;
		if (!granted_now(rel)) {
			kill(agent, SIGKILL);
			waitpid(agent, NULL, 0);
			free(lat);
			fail_msg("creation %d: %s not granted after a minute", i, rel);
		}
		if (i % 50 == 0) /* and a real bind says so */
			EXPECT_BIND(0, .cg = rel, .port = 80, .uid = NOBODY);
		assert_int_equal(hx_rmcg(&H, rel), 0);
	}
	kill(agent, SIGTERM);
	assert_int_equal(waitpid(agent, &st, 0), agent);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	print_message("glob selector, agent resolving: mkdir to grant over %d creations: "
		      "p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		      n, lat[n / 2] / 1000.0, lat[(n * 99) / 100 - (n >= 100 ? 1 : 0)] / 1000.0,
		      lat[n - 1] / 1000.0);
	free(lat);
}

/*
 * Cgroups that exist at apply time are recorded by path (one readdir of
 * each parent): names starting with a dot are cgroup names too.
 */
static void existing_cgroups_by_path(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, ".dot"), 0);
	assert_int_equal(hx_mkcg(&H, "p/.q/r"), 0);
	APPLY_OK(
	    "default deny\nallow @/.dot tcp/80\nallow @/p/.q/r tcp/81\nallow @/p/none tcp/82\n");
	EXPECT_BIND(0, .cg = ".dot", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "p/.q/r", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "p/.q", .port = 81, .uid = NOBODY);
	/* and after a second apply, from the other slot */
	APPLY_OK("default deny\nallow @/.dot tcp/80\nallow @/p/.q/r tcp/81,83\n");
	EXPECT_BIND(0, .cg = "p/.q/r", .port = 83, .uid = NOBODY);
	EXPECT_BIND(0, .cg = ".dot", .port = 80, .uid = NOBODY);
}

/* stop removes the tracepoint programs too: mkdir no longer consults a policy. */
static void stop_removes_mkdir_program(void **state)
{
	struct counts c0;
	char path[2048];

	(void)state;
	APPLY_OK("default deny\nallow @/svc tcp/80\n");
	read_counts(&c0);
	assert_int_equal(hx_mkcg(&H, "svc"), 0);
	if (hx_run(&H, "stop", NULL) != 0)
		fail_msg("stop failed:\n%s", H.out);
	snprintf(path, sizeof(path), "%s/link_mkdir", H.pin);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/link_rmdir", H.pin);
	assert_int_not_equal(access(path, F_OK), 0);
	/* nothing enforces now: the kernel refuses nobody on its own */
	EXPECT_BIND(EACCES, .cg = "svc", .port = 80, .uid = NOBODY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(restart_loop_exact_path),  T(restart_during_applies),
		T(entries_go_with_cgroups),  T(glob_grant_latency),
		T(existing_cgroups_by_path), T(stop_removes_mkdir_program),
	};
	int rc;

	if (hx_init(&H))
		return 1;
	hx_filters();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return rc;
}
