// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_enforce.c - portgate against the real kernel: every family and
 * protocol, nearest-cgroup decisions, conditions, defaults, both modes,
 * re-apply, persistence, stop, and a bad policy leaving the old one.
 *
 * Modelled on the kernel's selftests prog_tests/bind_perm.c (own netns,
 * own cgroup, bind4 and bind6, no CAP_NET_BIND_SERVICE: the kernel's own
 * refusal is EACCES) and prog_tests/sock_addr.c (a named table of cases,
 * TCP and UDP, a program's denial is EPERM). Unprivileged binds run as
 * nobody with every capability dropped.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "pg_abi.h"

#include "harness.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

static struct hx H;

static int setup(void **state)
{
	const char *name = *state;

	return hx_setup(&H, name) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

/* ------------------------------------------------------------------ tests */

/* bind_perm.c's case: no capability, 110 refused by the kernel, 111 granted. */
static void grant_like_bind_perm(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "svc"), 0);
	APPLY_OK("default kernel\nallow @/svc tcp,udp/111\n");
	EXPECT_BIND(EACCES, .cg = "svc", .port = 110, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "svc", .port = 111, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "svc", .family = AF_INET6, .port = 110, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "svc", .family = AF_INET6, .port = 111, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "svc", .type = SOCK_DGRAM, .port = 111, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "svc", .family = AF_INET6, .type = SOCK_DGRAM, .port = 111,
		    .uid = NOBODY);
	/* root keeps what the kernel gives it under default kernel */
	EXPECT_BIND(0, .cg = "svc", .port = 110, .uid = 0);
	/* unprotected and ephemeral ports are never touched */
	EXPECT_BIND(0, .cg = "svc", .port = 8080, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "svc", .port = 0, .uid = NOBODY);
}

/* Every path that reaches bind4/bind6 (docs/KERNEL.md), TCP and UDP. */
static void families_and_protocols(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	APPLY_OK("default kernel\n"
		 "allow @/web tcp,udp/80\n"
		 "deny  @/web any/81\n");
	/* IPv4 and IPv6, TCP and UDP */
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .type = SOCK_DGRAM, .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .type = SOCK_DGRAM, .port = 80,
		    .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .family = AF_INET6, .type = SOCK_DGRAM, .port = 81,
		    .uid = NOBODY);
	/* a deny binds root too */
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = 0);
	/* explicit addresses */
	EXPECT_BIND(0, .cg = "web", .addr = "127.0.0.1", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .addr = "::1", .port = 80, .uid = NOBODY);
	/* IPv4-mapped and dual-stack go through bind6 */
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .dual = true, .addr = "::ffff:127.0.0.1",
		    .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .family = AF_INET6, .dual = true,
		    .addr = "::ffff:127.0.0.1", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .dual = true, .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .family = AF_INET6, .dual = true, .port = 81,
		    .uid = NOBODY);
	/* AF_UNSPEC + INADDR_ANY on an AF_INET socket reaches bind4 with user_family 0 */
	EXPECT_BIND(0, .cg = "web", .unspec = true, .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .unspec = true, .port = 81, .uid = NOBODY);
	/* MPTCP is TCP to the hook */
	EXPECT_BIND(0, .cg = "web", .proto = IPPROTO_MPTCP, .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .proto = IPPROTO_MPTCP, .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .family = AF_INET6, .proto = IPPROTO_MPTCP, .port = 80,
		    .uid = NOBODY);
	/* UDP-Lite is neither tcp nor udp: only "any" names it. Newer kernels
	 * (seen: 7.2) build without it, and then there is nothing to police. */
	if (hx_socket(&H, "web", AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE, NOBODY) == EPROTONOSUPPORT) {
		print_message("note: this kernel has no UDP-Lite (EPROTONOSUPPORT)\n");
		return;
	}
	EXPECT_BIND(EACCES, .cg = "web", .type = SOCK_DGRAM, .proto = IPPROTO_UDPLITE, .port = 80,
		    .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .type = SOCK_DGRAM, .proto = IPPROTO_UDPLITE, .port = 81,
		    .uid = NOBODY);
}

/* The nearest cgroup with a rule for the port decides: a deny under an allow. */
static void nearest_cgroup_decides(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "a/b/c"), 0);
	APPLY_OK("default kernel\n"
		 "allow @/a   tcp/80-89\n"
		 "deny  @/a/b tcp/81\n");
	EXPECT_BIND(0, .cg = "a", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "a", .port = 85, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "a", .port = 90, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "a/b", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "a/b", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "a/b/c", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "a/b/c", .port = 89, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "", .port = 80, .uid = NOBODY);
}

static void user_and_group_conditions(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "w"), 0);
	APPLY_OK("default deny\n"
		 "allow @/w tcp/80 user=nobody\n"
		 "allow @/w tcp/82 group=65534\n"
		 "allow @/w tcp/83 user=1000\n"
		 "allow @/w tcp/83 user=nobody\n");
	EXPECT_BIND(0, .cg = "w", .port = 80, .uid = NOBODY);
	/* the level decided (a rule for tcp/80 exists), the condition failed: default deny */
	EXPECT_BIND(EPERM, .cg = "w", .port = 80, .uid = 1000);
	EXPECT_BIND(EPERM, .cg = "w", .port = 80, .uid = 0);
	EXPECT_BIND(0, .cg = "w", .port = 82, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "w", .port = 82, .uid = 1000);
	/* two conditional rules on one port: either matches */
	EXPECT_BIND(0, .cg = "w", .port = 83, .uid = 1000);
	EXPECT_BIND(0, .cg = "w", .port = 83, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "w", .port = 83, .uid = 1001);
}

static void addr_conditions(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "w"), 0);
	APPLY_OK("default kernel\n"
		 "allow @/w tcp/80 addr=127.0.0.1\n"
		 "allow @/w tcp/81 addr=10.0.0.0/8\n"
		 "allow @/w tcp/443 addr=::1\n");
	EXPECT_BIND(0, .cg = "w", .addr = "127.0.0.1", .port = 80, .uid = NOBODY);
	/* a wildcard bind matches only rules without addr= */
	EXPECT_BIND(EACCES, .cg = "w", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "w", .freebind = true, .addr = "10.1.2.3", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "w", .freebind = true, .addr = "11.1.2.3", .port = 81,
		    .uid = NOBODY);
	/* the same IPv4 network through an IPv4-mapped IPv6 bind */
	EXPECT_BIND(0, .cg = "w", .family = AF_INET6, .dual = true, .freebind = true,
		    .addr = "::ffff:10.1.2.3", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "w", .family = AF_INET6, .addr = "::1", .port = 443, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "w", .family = AF_INET6, .port = 443, .uid = NOBODY);
}

static void default_deny_restricts_root(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	APPLY_OK("default deny\nallow @/web tcp/80\n");
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = 0);
	EXPECT_BIND(EPERM, .cg = "other", .port = 22, .uid = 0);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = 0);
	EXPECT_BIND(0, .cg = "other", .port = 1024, .uid = NOBODY);

	/* exempt root: uid 0 keeps its ports where no rule decides */
	APPLY_OK("default deny\nexempt root\nallow @/web tcp/80\ndeny @/other tcp/25\n");
	EXPECT_BIND(0, .cg = "other", .port = 22, .uid = 0);
	EXPECT_BIND(EPERM, .cg = "other", .port = 22, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 25, .uid = 0);
}

static void default_kernel_leaves_kernel_check(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	APPLY_OK("default kernel\nallow @/web tcp/80\n");
	/* the kernel's own refusal, EACCES, not the program's EPERM */
	EXPECT_BIND(EACCES, .cg = "other", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "other", .port = 80, .uid = 0);
}

/* The socket's cgroup decides, fixed when the socket is made (portgate.conf(5)). */
static void moved_socket_follows_its_cgroup(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "granted"), 0);
	assert_int_equal(hx_mkcg(&H, "plain"), 0);
	APPLY_OK("default kernel\nallow @/granted tcp/80\n");
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	if (hx_out_has(&H, "\"variant\":\"task\"")) {
		/* a kernel without bpf_cast_to_kern_ctx: the binder's cgroup decides */
		print_message("note: the task variant runs here: the binder's cgroup decides\n");
		EXPECT_BIND(0, .cg = "plain", .move_to = "granted", .port = 80, .uid = NOBODY);
		EXPECT_BIND(EACCES, .cg = "granted", .move_to = "plain", .port = 80, .uid = NOBODY);
		return;
	}
	if (!hx_out_has(&H, "\"variant\":\"socket\""))
		fail_msg("status names no variant:\n%s", H.out);
	EXPECT_BIND(EACCES, .cg = "plain", .move_to = "granted", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "granted", .move_to = "plain", .port = 80, .uid = NOBODY);
}

/* $PORTGATE_VARIANT := v for the commands run next; NULL: back to what the
 * suite was started with (test-kernels runs whole suites with one). */
static void variant_env(const char *v)
{
	static char saved[32];
	static bool have_saved, saved_set;

	if (!have_saved) {
		const char *e = getenv("PORTGATE_VARIANT");

		saved_set = e != NULL;
		snprintf(saved, sizeof(saved), "%s", e ? e : "");
		have_saved = true;
	}
	if (v)
		assert_int_equal(setenv("PORTGATE_VARIANT", v, 1), 0);
	else if (saved_set)
		assert_int_equal(setenv("PORTGATE_VARIANT", saved, 1), 0);
	else
		unsetenv("PORTGATE_VARIANT");
}

/*
 * The task variant (kernels without bpf_cast_to_kern_ctx, portgate.conf(5))
 * decides by the cgroup of the task that binds: the same moves, the other
 * outcome. $PORTGATE_VARIANT asks for it on any kernel that can run it.
 */
static void task_variant_follows_the_binder(void **state)
{
	(void)state;
	variant_env("task");
	assert_int_equal(hx_mkcg(&H, "granted"), 0);
	assert_int_equal(hx_mkcg(&H, "plain"), 0);
	APPLY_OK("default kernel\nallow @/granted tcp/80\n");
	variant_env(NULL);
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	if (!hx_out_has(&H, "\"variant\":\"task\"") ||
	    !hx_out_has(&H, "\"identity\":\"task cgroup\""))
		fail_msg("status does not show the task variant:\n%s", H.out);
	EXPECT_BIND(0, .cg = "plain", .move_to = "granted", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "granted", .move_to = "plain", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "granted", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "granted", .family = AF_INET6, .port = 80, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "granted", .type = SOCK_DGRAM, .port = 80, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "plain", .port = 80, .uid = NOBODY);
}

/* An unknown $PORTGATE_VARIANT is a usage error (2), before anything is loaded. */
static void bad_variant_is_refused(void **state)
{
	(void)state;
	variant_env("bogus");
	assert_int_equal(hx_apply(&H, "allow @ tcp/80\n"), 2);
	variant_env(NULL);
	if (!hx_out_has(&H, "PORTGATE_VARIANT is 'bogus'; it must be socket or task"))
		fail_msg("want the variant named:\n%s", H.out);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, true), 0);
}

static void globs_match_cgroups(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "pods/kubepods-pod1f2e77.slice/ctr"), 0);
	assert_int_equal(hx_mkcg(&H, "pods/kubepods-podffff.slice"), 0);
	assert_int_equal(hx_mkcg(&H, "deep/x/y/z"), 0);
	APPLY_OK("default kernel\n"
		 "allow @/pods/*pod1f2e*.slice tcp/80\n"
		 "allow @/deep/**/z tcp/81\n");
	EXPECT_BIND(0, .cg = "pods/kubepods-pod1f2e77.slice", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "pods/kubepods-pod1f2e77.slice/ctr", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "pods/kubepods-podffff.slice", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "deep/x/y/z", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "deep/x/y", .port = 81, .uid = NOBODY);
}

/* Two selectors meeting on one cgroup with opposite actions: refused, nothing changes. */
static void conflict_between_selectors_is_refused(void **state)
{
	struct stat sb;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "x/y"), 0);
	assert_int_equal(hx_apply(&H, "allow @/x/* tcp/80\ndeny @/x/y tcp/80\n"), 3);
	if (!hx_out_has(&H, "policy.conf:2:1: error: deny conflicts with allow at") ||
	    !hx_out_has(&H, "policy.conf:1 on cgroup"))
		fail_msg("conflict message missing:\n%s", H.out);
	assert_int_not_equal(stat(H.pin, &sb), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, true), 0);
}

static void reapply_replaces_without_stacking(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	APPLY_OK("default kernel\nallow @/web tcp/80\n");
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	APPLY_OK("default kernel\nallow @/web tcp/81\n");
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	/* idempotent: the same policy again changes nothing observable */
	APPLY_OK("default kernel\nallow @/web tcp/81\n");
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 1);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET6_BIND, false), 1);
	assert_int_equal(hx_prog_count(&H, "web", BPF_CGROUP_INET4_BIND, true), 1);
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	if (!hx_out_has(&H, "\"generation\":3"))
		fail_msg("want generation 3:\n%s", H.out);
}

/* First program id on a cgroup for an attach type, or 0. */
static __u32 prog_id(const char *rel, int type)
{
	char dir[PATH_MAX];
	__u32 ids[8], cnt = 8, flags = 0;
	int fd, r;

	snprintf(dir, sizeof(dir), "%s%s", H.cg2, hx_path(&H, rel));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = bpf_prog_query(fd, (enum bpf_attach_type)type, 0, &flags, ids, &cnt);
	close(fd);
	return r || !cnt ? 0 : ids[0];
}

/* Another build's programs are pinned: apply swaps this build's in behind the links. */
static void upgrade_swaps_programs_behind_the_links(void **state)
{
	char path[PATH_MAX];
	struct pg_ctl ctl;
	__u32 zero = 0, before, after;
	int fd;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	APPLY_OK("default deny\nallow @/web tcp/80\n");
	before = prog_id("", BPF_CGROUP_INET4_BIND);
	assert_int_not_equal(before, 0);
	snprintf(path, sizeof(path), "%s/pg_ctl", H.pin);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &ctl), 0);
	ctl.build ^= 1; /* pretend an older portgate loaded them */
	assert_int_equal(bpf_map_update_elem(fd, &zero, &ctl, BPF_ANY), 0);
	APPLY_OK("default deny\nallow @/web tcp/80,81\n");
	after = prog_id("", BPF_CGROUP_INET4_BIND);
	assert_int_not_equal(after, 0);
	assert_int_not_equal(after, before);
	/* still one program per hook: swapped, not stacked */
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 1);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET6_BIND, false), 1);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &ctl), 0);
	close(fd);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "", .port = 81, .uid = NOBODY);
	/* and the next apply finds nothing to upgrade */
	APPLY_OK("default deny\nallow @/web tcp/80,81\n");
	assert_int_equal(prog_id("", BPF_CGROUP_INET4_BIND), after);
}

static void attach_elsewhere_is_refused(void **state)
{
	const char *p;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "sub"), 0);
	APPLY_OK("allow @/sub tcp/80\n");
	p = hx_policy(&H, "p2.conf", "allow @/sub tcp/81\n");
	assert_int_equal(hx_run(&H, "apply", p, "--attach", hx_path(&H, "sub"), NULL), 1);
	if (!hx_out_has(&H, "attached to another cgroup"))
		fail_msg("want the other cgroup named:\n%s", H.out);
	assert_int_equal(hx_prog_count(&H, "sub", BPF_CGROUP_INET4_BIND, false), 0);
	EXPECT_BIND(0, .cg = "sub", .port = 80, .uid = NOBODY);
}

/* rmdir of the attach cgroup detaches the links: status says so, apply re-attaches. */
static void removed_attach_cgroup_is_reported_and_recovered(void **state)
{
	const char *p;
	char sub[PATH_MAX];

	(void)state;
	assert_int_equal(hx_mkcg(&H, "att/web"), 0);
	p = hx_policy(&H, "p.conf", "default deny\nallow @/att/web tcp/80\n");
	snprintf(sub, sizeof(sub), "%s", hx_path(&H, "att"));
	assert_int_equal(hx_run(&H, "apply", p, "--attach", sub, NULL), 0);
	assert_int_equal(hx_rmcg(&H, "att/web"), 0);
	assert_int_equal(hx_rmcg(&H, "att"), 0);
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	if (!hx_out_has(&H, "not enforcing") || !hx_out_has(&H, "its cgroup was removed"))
		fail_msg("status after rmdir:\n%s", H.out);
	assert_int_equal(hx_mkcg(&H, "att/web"), 0);
	assert_int_equal(hx_run(&H, "apply", p, "--attach", sub, NULL), 0);
	EXPECT_BIND(0, .cg = "att/web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "att", .port = 80, .uid = NOBODY);
	assert_int_equal(hx_prog_count(&H, "att", BPF_CGROUP_INET4_BIND, false), 1);
}

static void bad_policy_keeps_the_old_one(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	APPLY_OK("default kernel\nallow @/web tcp/80\n");
	assert_int_equal(hx_apply(&H, "allow @/web tcp/70000\nallow @/web sctp/80\n"), 3);
	if (!hx_out_has(&H, "policy.conf:1:") || !hx_out_has(&H, "policy.conf:2:"))
		fail_msg("want both errors in one run:\n%s", H.out);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	if (!hx_out_has(&H, "\"generation\":1"))
		fail_msg("the failed apply changed the generation:\n%s", H.out);
}

/* Links are pinned: enforcement outlives the apply process (it has exited here). */
static void enforcement_persists_after_exit(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	APPLY_OK("default deny\nallow @/web tcp/80\n");
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "", .port = 80, .uid = 0);
	/* a second command takes over the pinned state */
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	if (!hx_out_has(&H, "state:      enforcing"))
		fail_msg("status after exit:\n%s", H.out);
}

static void sysctl_mode_lowers_guards_and_restores(void **state)
{
	int r;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	APPLY_OK("mode sysctl\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = 0);
	EXPECT_BIND(0, .cg = "other", .port = 1024, .uid = NOBODY);
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	if (!hx_out_has(&H, "ip_unprivileged_port_start 1, was 1024"))
		fail_msg("status does not show the managed sysctl:\n%s", H.out);

	/* the autobind hole: the local range may not move into protected ports */
	assert_int_equal(hx_sysctl_write(&H, "other", "net/ipv4/ip_local_port_range", "100 200"),
			 EPERM);
	assert_int_equal(hx_sysctl_write(&H, "other", "net/ipv4/ip_local_port_range", "1000\t2000"),
			 EPERM);
	assert_int_equal(
	    hx_sysctl_write(&H, "other", "net/ipv4/ip_local_port_range", "40000 50000"), 0);
	/* the SCTP hole: no SCTP sockets where the threshold is lowered */
	r = hx_socket(&H, "other", AF_INET, SOCK_STREAM, IPPROTO_SCTP, NOBODY);
	if (r == EPROTONOSUPPORT || r == ESOCKTNOSUPPORT)
		print_message("note: this kernel has no SCTP, so the SCTP gap cannot arise\n");
	else
		assert_int_equal(r, EPERM);

	assert_int_equal(hx_run(&H, "stop", NULL), 0);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_SYSCTL, false), 0);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
}

/* netns statements: further namespaces portgate lowers and restores. */
static void sysctl_mode_manages_named_netns(void **state)
{
	char text[512];
	pid_t pid;
	int rc;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "holder"), 0);
	pid = hx_spawn(&H, hx_path(&H, "holder"), true);
	assert_true(pid > 0);
	assert_int_equal(hx_sysctl_read_in(pid, "net/ipv4/ip_unprivileged_port_start"), 1024);
	snprintf(text, sizeof(text), "mode sysctl\nnetns /proc/%d/ns/net\nallow @/web tcp/80\n",
		 pid);
	rc = hx_apply(&H, text);
	if (rc) {
		hx_kill(pid);
		fail_msg("apply failed with %d:\n%s", rc, H.out);
	}
	assert_int_equal(hx_sysctl_read_in(pid, "net/ipv4/ip_unprivileged_port_start"), 1);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1);
	/* dropping the statement restores that namespace, keeps this one lowered */
	APPLY_OK("mode sysctl\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read_in(pid, "net/ipv4/ip_unprivileged_port_start"), 1024);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1);
	rc = hx_apply(&H, text);
	assert_int_equal(hx_run(&H, "stop", NULL), 0);
	assert_int_equal(hx_sysctl_read_in(pid, "net/ipv4/ip_unprivileged_port_start"), 1024);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	hx_kill(pid);
	assert_int_equal(rc, 0);
}

static void sysctl_mode_refuses_unsafe_lowering(void **state)
{
	struct stat sb;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	/* lowering to 80 would open 444-1023, which nothing protects */
	assert_int_equal(hx_apply(&H, "mode sysctl\nprotect 80-443\nallow @/web tcp/80\n"), 1);
	if (!hx_out_has(&H, "would open ports 1-79") && !hx_out_has(&H, "444-1023"))
		fail_msg("want the unprotected gap named:\n%s", H.out);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	assert_int_not_equal(stat(H.pin, &sb), 0);
	/* protected ports inside ip_local_port_range: autobind would reach them */
	assert_int_equal(hx_apply(&H, "mode sysctl\nprotect 1-40000\nallow @/web tcp/80\n"), 1);
	if (!hx_out_has(&H, "ip_local_port_range"))
		fail_msg("want the local range named:\n%s", H.out);
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	/* default kernel cannot be used in sysctl mode */
	assert_int_equal(hx_apply(&H, "mode sysctl\ndefault kernel\n"), 3);

	/* a process of this network namespace outside --attach would go unguarded */
	{
		pid_t pid = hx_spawn_in(&H, H.base);
		int rc;

		assert_true(pid > 0);
		rc = hx_apply(&H, "mode sysctl\nallow @/web tcp/80\n");
		hx_kill(pid);
		assert_int_equal(rc, 1);
		if (!hx_out_has(&H, "outside --attach"))
			fail_msg("want the unguarded process named:\n%s", H.out);
		assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	}
}

static void switching_modes_keeps_grants(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	APPLY_OK("mode sysctl\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1);
	APPLY_OK("mode grant\ndefault kernel\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1024);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "other", .port = 80, .uid = NOBODY);
	APPLY_OK("mode sysctl\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read("net/ipv4/ip_unprivileged_port_start"), 1);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
}

static void stop_removes_everything(void **state)
{
	struct stat sb;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	APPLY_OK("default deny\nallow @/web tcp/80\n");
	/* the pin directory is root's alone */
	assert_int_equal(stat(H.pin, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(hx_run(&H, "stop", NULL), 0);
	assert_int_not_equal(stat(H.pin, &sb), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET6_BIND, false), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET_SOCK_CREATE, false), 0);
	EXPECT_BIND(0, .cg = "", .port = 80, .uid = 0);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	/* stop twice is fine */
	assert_int_equal(hx_run(&H, "stop", NULL), 0);
}

/* explain runs the kernel's decision code over the live image: it must agree. */
static void explain_agrees_with_the_kernel(void **state)
{
	static const struct {
		const char *cg, *pp;
		int port, proto, uid;
		const char *verdict;
	} cases[] = {
		{ "a", "tcp/80", 80, SOCK_STREAM, NOBODY, "\"verdict\":\"grant\"" },
		{ "a/b", "tcp/81", 81, SOCK_STREAM, NOBODY, "\"verdict\":\"deny\"" },
		{ "a/b", "tcp/82", 82, SOCK_STREAM, NOBODY, "\"verdict\":\"grant\"" },
		{ "a", "udp/80", 80, SOCK_DGRAM, NOBODY, "\"verdict\":\"kernel\"" },
		{ "c", "tcp/80", 80, SOCK_STREAM, NOBODY, "\"verdict\":\"kernel\"" },
		{ "a", "tcp/90", 90, SOCK_STREAM, NOBODY, "\"verdict\":\"deny\"" },
		{ "a", "tcp/90", 90, SOCK_STREAM, 1000, "\"verdict\":\"kernel\"" },
	};
	size_t i;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "a/b"), 0);
	assert_int_equal(hx_mkcg(&H, "c"), 0);
	APPLY_OK("default kernel\n"
		 "allow @/a tcp/80-89\n"
		 "deny @/a/b tcp/81\n"
		 "deny @/a tcp/90 user=nobody\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char uid[16];
		int want, got;
		struct hx_bind b = { .cg = cases[i].cg,
				     .family = AF_INET,
				     .type = cases[i].proto,
				     .port = cases[i].port,
				     .uid = (uid_t)cases[i].uid };

		snprintf(uid, sizeof(uid), "%d", cases[i].uid);
		assert_int_equal(hx_run(&H, "explain", hx_path(&H, cases[i].cg), cases[i].pp,
					"--user", uid, "--json", NULL),
				 0);
		if (!hx_out_has(&H, cases[i].verdict))
			fail_msg("case %zu: explain says\n%s\nwant %s", i, H.out, cases[i].verdict);
		want = hx_out_has(&H, "\"returns\":3")	 ? 0
		       : hx_out_has(&H, "\"returns\":0") ? EPERM
							 : EACCES;
		got = hx_bind(&H, &b);
		if (got != want)
			fail_msg("case %zu: explain %s but bind got %s", i, H.out, hx_errname(got));
	}
	/* text form names the rule and the cgroup that decided */
	assert_int_equal(hx_run(&H, "explain", hx_path(&H, "a/b"), "tcp/81", NULL), 0);
	if (!hx_out_has(&H, "policy.conf:3: deny") || !hx_out_has(&H, "decided at cgroup"))
		fail_msg("explain text:\n%s", H.out);
}

/* Drop explain --policy's "  mode ..." lines: what is left is live explain's text. */
static void drop_mode_lines(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		char *nl = strchr(r, '\n');
		size_t len = nl ? (size_t)(nl - r + 1) : strlen(r);

		if (strncmp(r, "  mode ", 7)) {
			memmove(w, r, len);
			w += len;
		}
		r += len;
	}
	*w = 0;
}

/* explain --policy FILE compiles FILE for CGROUP alone; it must say what live
 * explain says over the applied image, and what bind() then gets. */
static void offline_explain_agrees_with_live(void **state)
{
	static const struct {
		const char *cg, *pp;
		int port, proto, uid; /* proto 0: no bind to check */
		const char *verdict;
	} cases[] = {
		{ "a", "tcp/80", 80, SOCK_STREAM, NOBODY, "\"verdict\":\"grant\"" },
		{ "a/b", "tcp/81", 81, SOCK_STREAM, NOBODY, "\"verdict\":\"deny\"" },
		{ "a/b", "tcp/82", 82, SOCK_STREAM, NOBODY, "\"verdict\":\"grant\"" },
		{ "a", "tcp/90", 90, SOCK_STREAM, NOBODY, "\"verdict\":\"deny\"" },
		{ "a", "tcp/90", 90, SOCK_STREAM, 1000, "\"verdict\":\"kernel\"" },
		{ "c", "tcp/80", 80, SOCK_STREAM, NOBODY, "\"verdict\":\"kernel\"" },
		{ "gx/p1", "udp/53", 53, SOCK_DGRAM, NOBODY, "\"verdict\":\"grant\"" },
		{ "gx/q1", "udp/53", 53, SOCK_DGRAM, NOBODY, "\"verdict\":\"kernel\"" },
		{ "a", "any/70", 70, 0, NOBODY, "\"proto\":\"other\"" },
		{ "a", "tcp/2000", 2000, SOCK_STREAM, NOBODY, "\"verdict\":\"unprotected\"" },
	};
	static const char text[] = "allow @/a tcp/80-89\n"
				   "deny @/a/b tcp/81\n"
				   "deny @/a tcp/90 user=nobody\n"
				   "allow @/g*/p* udp/53\n"
				   "allow @/a tcp,udp/70\n"
				   "allow @/later tcp/443\n";
	static char live[sizeof(H.out)];
	char uid[16], *cut;
	const char *pol;
	size_t i;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "a/b"), 0);
	assert_int_equal(hx_mkcg(&H, "c"), 0);
	assert_int_equal(hx_mkcg(&H, "gx/p1"), 0);
	assert_int_equal(hx_mkcg(&H, "gx/q1"), 0);
	APPLY_OK(text);
	pol = hx_policy(&H, "policy.conf", text); /* the file apply read, as apply named it */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *cg = hx_path(&H, cases[i].cg);
		struct hx_bind b = { .cg = cases[i].cg,
				     .family = AF_INET,
				     .type = cases[i].proto,
				     .port = cases[i].port,
				     .uid = (uid_t)cases[i].uid };
		int want, got;

		snprintf(uid, sizeof(uid), "%d", cases[i].uid);
		assert_int_equal(hx_run(&H, "explain", cg, cases[i].pp, "--user", uid, NULL), 0);
		snprintf(live, sizeof(live), "%s", H.out);
		assert_int_equal(
		    hx_run(&H, "explain", "--policy", pol, cg, cases[i].pp, "--user", uid, NULL),
		    0);
		drop_mode_lines(H.out);
		if (strcmp(live, H.out))
			fail_msg("case %zu: live explain says\n%s\nexplain --policy says\n%s", i,
				 live, H.out);
		assert_int_equal(hx_run(&H, "explain", "--policy", pol, cg, cases[i].pp, "--user",
					uid, "-j", NULL),
				 0);
		if (!hx_out_has(&H, cases[i].verdict) || !hx_out_has(&H, "\"mode\":\"auto\""))
			fail_msg("case %zu: explain --policy -j says\n%s\nwant %s", i, H.out,
				 cases[i].verdict);
		if (!cases[i].proto)
			continue;
		cut = strstr(H.out, ",\"policy\":"); /* not the sysctl-mode answer after it */
		if (cut)
			*cut = 0;
		want = hx_out_has(&H, "\"returns\":3")	 ? 0
		       : hx_out_has(&H, "\"returns\":0") ? EPERM
							 : EACCES;
		if (cases[i].port >= 1024)
			want = 0;
		got = hx_bind(&H, &b);
		if (got != want)
			fail_msg("case %zu: explain --policy %s but bind got %s", i, H.out,
				 hx_errname(got));
	}
	/* a cgroup that does not exist here: live explain cannot say, offline can */
	assert_int_equal(hx_run(&H, "explain", hx_path(&H, "later/x"), "tcp/443", NULL), 1);
	assert_int_equal(
	    hx_run(&H, "explain", "--policy", pol, hx_path(&H, "later/x"), "tcp/443", NULL), 0);
	if (!hx_out_has(&H, ": grant (bind hook returns 3)") || !hx_out_has(&H, "later\n"))
		fail_msg("explain --policy of a cgroup yet to be made:\n%s", H.out);
	/* mode auto: what sysctl mode would do instead */
	assert_int_equal(hx_run(&H, "explain", "--policy", pol, hx_path(&H, "c"), "tcp/80", NULL),
			 0);
	if (!hx_out_has(&H, "in sysctl mode (kernels before 5.12): deny-default"))
		fail_msg("explain --policy in mode auto:\n%s", H.out);
}

/* diff decides both files over this machine's cgroups (and the paths exact
 * selectors name) and says who gains or loses which ports. */
static void diff_reports_gains_and_losses(void **state)
{
	char old[PATH_MAX], line[3 * PATH_MAX];
	const char *newp;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "a/b"), 0);
	assert_int_equal(hx_mkcg(&H, "c"), 0);
	snprintf(old, sizeof(old), "%s",
		 hx_policy(&H, "old.conf", "allow @/a tcp/80\nallow @/c tcp/443 user=nobody\n"));
	newp =
	    hx_policy(&H, "new.conf", "allow @/a tcp/80-82\ndeny @/a/b tcp/81\nallow @/d tcp/25\n");
	assert_int_equal(hx_run(&H, "diff", old, old, NULL), 0);
	if (H.out[0])
		fail_msg("diff of a file with itself:\n%s", H.out);
	assert_int_equal(hx_run(&H, "diff", old, newp, NULL), 1);
#define DIFF_HAS(fmt, ...)                                                                         \
	do {                                                                                       \
		snprintf(line, sizeof(line), fmt, __VA_ARGS__);                                    \
		if (!hx_out_has(&H, line))                                                         \
			fail_msg("diff: want '%s' in\n%s", line, H.out);                           \
	} while (0)
	DIFF_HAS("%s\n  + tcp/81-82 (kernel -> grant, default -> %s:1)\n", hx_path(&H, "a"), newp);
	DIFF_HAS("%s\n  ~ tcp/81 (kernel -> deny, default -> %s:2)\n  + tcp/82 (kernel -> grant, "
		 "default -> %s:1)\n",
		 hx_path(&H, "a/b"), newp, newp);
	DIFF_HAS("%s\n  - tcp/443 user=nobody (grant -> kernel, %s:2 -> default)\n",
		 hx_path(&H, "c"), old);
	DIFF_HAS("%s\n  + tcp/25 (kernel -> grant, default -> %s:3)\n", hx_path(&H, "d"), newp);
	if (hx_out_has(&H, "other cgroup"))
		fail_msg("diff reports cgroups no rule reaches:\n%s", H.out);
#undef DIFF_HAS
	assert_int_equal(hx_run(&H, "diff", "-j", old, newp, NULL), 1);
	if (!hx_out_has(&H, "\"change\":\"-\",\"ports\":\"tcp/443\",\"proto\":\"tcp\",\"from\":443,"
			    "\"to\":443,\"who\":\"user=nobody\"") ||
	    !hx_out_has(&H, "\"changed\":true"))
		fail_msg("diff -j:\n%s", H.out);
	/* the new verdicts are the kernel's once it is applied */
	APPLY_OK("allow @/a tcp/80-82\ndeny @/a/b tcp/81\nallow @/d tcp/25\n");
	EXPECT_BIND(EPERM, .cg = "a/b", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "a/b", .port = 82, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "c", .port = 443, .uid = NOBODY);
	/* apply --dry-run diffs the pinned image with a file and changes nothing */
	assert_int_equal(hx_run(&H, "apply", "--dry-run", newp, NULL), 0);
	assert_int_equal(hx_run(&H, "apply", "--dry-run", old, NULL), 1);
	snprintf(line, sizeof(line),
		 "%s\n  - tcp/81-82 (grant -> kernel, %s/policy.conf:1 -> default)\n",
		 hx_path(&H, "a"), H.tmp);
	if (!hx_out_has(&H, line))
		fail_msg("apply --dry-run: want '%s' in\n%s", line, H.out);
	assert_int_equal(hx_run(&H, "apply", "--dry-run", "-j", old, NULL), 1);
	if (!hx_out_has(&H, "\"who\":\"user=nobody\""))
		fail_msg("apply --dry-run -j:\n%s", H.out);
	EXPECT_BIND(0, .cg = "a/b", .port = 82, .uid = NOBODY);
	/* exit statuses as diff(1)'s, and 3 for an invalid policy */
	assert_int_equal(hx_run(&H, "diff", old, NULL), 2);
	assert_int_equal(
	    hx_run(&H, "diff", old, hx_policy(&H, "bad.conf", "allow / tcp/0\n"), NULL), 3);
}

static void exit_statuses(void **state)
{
	const char *bad;

	(void)state;
	bad = hx_policy(&H, "bad.conf", "allow / tcp/0\n");
	assert_int_equal(hx_run(&H, "check", bad, NULL), 3);
	assert_int_equal(hx_run(&H, "check", hx_policy(&H, "ok.conf", "allow /x tcp/80\n"), NULL),
			 0);
	assert_int_equal(hx_run(&H, "frobnicate", NULL), 2);
	if (!hx_out_has(&H, "try 'portgate help'"))
		fail_msg("want a hint on a typo:\n%s", H.out);
	assert_int_equal(hx_run(&H, "apply", NULL), 2);
	assert_int_equal(hx_run(&H, "explain", "/x", "tcp/70000", NULL), 2);
	/* Warnings alone fail neither check nor apply; check --strict they do. */
	bad = hx_policy(&H, "warned.conf",
			"default deny\nexempt root\ninclude no.d/*.conf\n"
			"allow /x tcp/80\n");
	assert_int_equal(hx_run(&H, "check", bad, NULL), 0);
	if (!hx_out_has(&H, "warning: include pattern") || !hx_out_has(&H, "0 errors, 1 warning"))
		fail_msg("check with a warning:\n%s", H.out);
	assert_int_equal(hx_run(&H, "check", "--strict", bad, NULL), 3);
	APPLY_OK("include no.d/*.conf\nallow @ tcp/80\n");
	if (!hx_out_has(&H, "warning: include pattern"))
		fail_msg("apply with a warning:\n%s", H.out);
	APPLY_OK("allow @ tcp/80\n");
	assert_int_equal(hx_run(&H, "explain", "/no/such/cgroup", "tcp/80", NULL), 1);
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	if (!hx_out_has(&H, "\"enforcing\":true") || !hx_out_has(&H, "\"mode\":\"grant\""))
		fail_msg("status --json:\n%s", H.out);
	/* prefix dispatch */
	assert_int_equal(hx_run(&H, "stat", NULL), 0);
}

static int to_dev_full(void *arg)
{
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)arg;
	return fd < 0 || dup2(fd, 1) < 0 ? -1 : 0;
}

/* portgate with exactly these arguments, up to a NULL (no --pin-dir added),
 * pre run in the child first; its exit status. */
static int run_args(int (*pre)(void *), ...)
{
	char *argv[16] = { (char *)H.portgate };
	va_list ap;
	int n = 1;

	va_start(ap, pre);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return hx_run_argv(&H, argv, pre, NULL);
}

#define OUT_HAS(s)                                                                                 \
	do {                                                                                       \
		if (!hx_out_has(&H, s))                                                            \
			fail_msg("want \"%s\" in:\n%s", s, H.out);                                 \
	} while (0)

/* Every message of a command says which; usage errors exit 2 and say what
 * would have been right; no failure is silent. */
static void cli_messages(void **state)
{
	static const char *const cmds[] = { "check",   "apply", "status", "explain",
					    "monitor", "stop",	"run" };
	char none[1100];
	size_t i;

	(void)state;
	/* before a command is chosen: "portgate: ", after: "portgate: CMD: " */
	assert_int_equal(hx_run(&H, "frobnicate", NULL), 2);
	OUT_HAS("portgate: unknown command 'frobnicate'; try 'portgate help'");
	assert_int_equal(hx_run(&H, "apply", NULL), 2);
	OUT_HAS("portgate: apply: needs exactly one policy file");
	assert_int_equal(hx_run(&H, "explain", "/x", "tcp/70000", NULL), 2);
	OUT_HAS("portgate: explain: invalid PROTO/PORT 'tcp/70000'");
	assert_int_equal(hx_run(&H, "check", NULL), 2);
	OUT_HAS("portgate: check: needs exactly one policy file");
	/* a prefix that names two commands names both */
	assert_int_equal(hx_run(&H, "s", NULL), 2);
	OUT_HAS("portgate: ambiguous command 's': status, stop");
	/* help on an unknown topic: exit 2, the topic named, the commands listed */
	assert_int_equal(run_args(NULL, "help", "bogus", NULL), 2);
	OUT_HAS("no help for 'bogus'");
	OUT_HAS("  monitor ");
	assert_int_equal(run_args(NULL, "help", "apply", NULL), 0);
	OUT_HAS("usage: portgate apply FILE");
	/* each flag of each command: one line, with its default */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *l, *save = NULL;

		assert_int_equal(run_args(NULL, (char *)cmds[i], "-h", NULL), 0);
		OUT_HAS("-v, --verbose");
		for (l = strtok_r(H.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			if (!strncmp(l, "  -", 3) && !strstr(l, "--help") &&
			    !strstr(l, "(default: "))
				fail_msg("%s -h: no default in '%s'", cmds[i], l);
	}
	assert_int_equal(run_args(NULL, "monitor", "-h", NULL), 0);
	OUT_HAS("--count N");
	OUT_HAS("(default: refused binds only)");
	/* nothing loaded: monitor says so and fails; explain too; stop has
	 * nothing to do; status reports it */
	snprintf(none, sizeof(none), "%s-none", H.pin); /* bpffs: no dots in names */
	assert_int_equal(run_args(NULL, "monitor", "--pin-dir", none, NULL), 1);
	OUT_HAS("portgate: monitor: nothing is loaded in ");
	OUT_HAS("apply a policy first");
	assert_int_equal(run_args(NULL, "explain", "/", "tcp/80", "--pin-dir", none, NULL), 1);
	OUT_HAS("portgate: explain: no active policy in ");
	assert_int_equal(run_args(NULL, "stop", "--pin-dir", none, NULL), 0);
	OUT_HAS("nothing to stop");
	assert_int_equal(run_args(NULL, "status", "--pin-dir", none, NULL), 0);
	OUT_HAS("not enforcing");
	/* "portgate VERSION (policy ABI N)", VERSION from git describe or the base */
	assert_int_equal(run_args(NULL, "--version", NULL), 0);
	if (strncmp(H.out, "portgate 0.", 11) || !strstr(H.out, " (policy ABI "))
		fail_msg("--version: %s", H.out);
	/* output that cannot be written is a failure, and says so */
	assert_int_equal(run_args(to_dev_full, "status", "--pin-dir", none, NULL), 1);
	OUT_HAS("portgate: status: cannot write to standard output");
	assert_int_equal(run_args(to_dev_full, "version", NULL), 1);
	OUT_HAS("portgate: cannot write to standard output");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(grant_like_bind_perm),
		T(families_and_protocols),
		T(nearest_cgroup_decides),
		T(user_and_group_conditions),
		T(addr_conditions),
		T(default_deny_restricts_root),
		T(default_kernel_leaves_kernel_check),
		T(moved_socket_follows_its_cgroup),
		T(task_variant_follows_the_binder),
		T(bad_variant_is_refused),
		T(globs_match_cgroups),
		T(conflict_between_selectors_is_refused),
		T(reapply_replaces_without_stacking),
		T(bad_policy_keeps_the_old_one),
		T(upgrade_swaps_programs_behind_the_links),
		T(attach_elsewhere_is_refused),
		T(removed_attach_cgroup_is_reported_and_recovered),
		T(enforcement_persists_after_exit),
		T(sysctl_mode_lowers_guards_and_restores),
		T(sysctl_mode_manages_named_netns),
		T(sysctl_mode_refuses_unsafe_lowering),
		T(switching_modes_keeps_grants),
		T(stop_removes_everything),
		T(explain_agrees_with_the_kernel),
		T(offline_explain_agrees_with_live),
		T(diff_reports_gains_and_losses),
		T(exit_statuses),
		T(cli_messages),
	};
	int r;

	if (hx_init(&H))
		return 1;
	hx_filters();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return r;
}
