// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_attack.c - portgate against someone who wants a port it does not
 * grant, or wants to change what it grants (SPEC.md, "What it must never
 * do"), on the real kernel:
 *
 *  - nobody cannot open, read or change the pinned maps, links and
 *    programs, nor get them by id, nor drive the CLI;
 *  - a tenant with a delegated cgroup subtree cannot name a cgroup into
 *    another tenant's glob, nor stop the administrator from applying;
 *  - sysctl mode's holes (docs/KERNEL.md): a tenant that is root in its own
 *    user and network namespace, and real root in the lowered namespace,
 *    cannot move ip_local_port_range into the protected ports in any
 *    spelling; autobind hands out no protected port; SCTP is refused where
 *    the threshold is lowered; io_uring's IORING_OP_BIND meets the hook;
 *  - another tool's program that returns 3 grants nothing portgate refuses,
 *    and a legacy exclusive program above the attach cgroup is reported;
 *  - every CLI command is clean under valgrind (non-sanitised build).
 *
 * Raw (SOCK_RAW), ping (IPPROTO_ICMP datagram) and packet sockets take no
 * port, so no bind of theirs can be a privileged-port bind: nothing to test.
 *
 * Unprivileged steps run in forked children that drop to uid 65534 (or a
 * tenant uid) with no groups and no capabilities.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "harness.h"
#include "harness_attack.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

#define TENANT_A 1000
#define LPR	 "net/ipv4/ip_local_port_range"
#define UPS	 "net/ipv4/ip_unprivileged_port_start"

static struct hx H;
static const char *sanitised;	 /* $PORTGATE, restored after the valgrind test */
static char deep_root[PATH_MAX]; /* a cgroup chain past PATH_MAX, removed in teardown */

static int setup(void **state)
{
	const char *name = *state;

	return hx_setup(&H, name) ? -1 : 0;
}

/* Whatever a test changed, on every exit path, then the harness's own teardown. */
static int teardown(void **state)
{
	int err;

	(void)state;
	unsetenv("HX_WRAP");
	H.portgate = sanitised;
	if (deep_root[0]) {
		if ((err = hxa_rm_tree(deep_root)))
			fprintf(stderr, "warning: cannot remove %s: %s\n", deep_root,
				strerror(err));
		deep_root[0] = 0;
	}
	/* the scratch directory and the private bpffs are the runner's alone again */
	if (chmod(H.tmp, 0700) || chmod(H.bpffs, 0700))
		fprintf(stderr, "warning: cannot restore mode 0700 on %s\n", H.tmp);
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

/* Value of "key": in a JSON text, up to the next , or } (enough for scalars). */
static void json_scalar(const char *json, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p) {
		snprintf(out, len, "(no %s)", key);
		return;
	}
	p += strlen(pat);
	n = strcspn(p, ",}");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = 0;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ===================================================== 1. privilege */

#define MAX_PINS 32
#define MAX_IDS	 32

struct nobody_probe {
	/* in */
	char pin[1024];
	char names[MAX_PINS][256];
	int npins;
	__u32 map_ids[MAX_IDS], prog_ids[MAX_IDS], link_ids[MAX_IDS];
	int nmaps, nprogs, nlinks;
	/* out: 0 when the operation worked, else its errno */
	int get[MAX_PINS], get_ro[MAX_PINS], open_ro[MAX_PINS];
	int opendir_pin;
	int map_by_id[MAX_IDS], prog_by_id[MAX_IDS], link_by_id[MAX_IDS];
	int next_map_id;
};

static int nobody_probe_fn(void *arg, void *shared)
{
	struct nobody_probe *p = shared;
	DIR *d;
	int i, fd;

	(void)arg;
	for (i = 0; i < p->npins; i++) {
		char path[PATH_MAX];
		LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

		snprintf(path, sizeof(path), "%s/%s", p->pin, p->names[i]);
		fd = bpf_obj_get(path);
		p->get[i] = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
		fd = bpf_obj_get_opts(path, &ro);
		p->get_ro[i] = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		p->open_ro[i] = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
	}
	d = opendir(p->pin);
	p->opendir_pin = d ? 0 : errno;
	if (d)
		closedir(d);
	for (i = 0; i < p->nmaps; i++) {
		fd = bpf_map_get_fd_by_id(p->map_ids[i]);
		p->map_by_id[i] = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < p->nprogs; i++) {
		fd = bpf_prog_get_fd_by_id(p->prog_ids[i]);
		p->prog_by_id[i] = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < p->nlinks; i++) {
		fd = bpf_link_get_fd_by_id(p->link_ids[i]);
		p->link_by_id[i] = fd >= 0 ? 0 : errno;
		if (fd >= 0)
			close(fd);
	}
	{
		__u32 next = 0;

		p->next_map_id = bpf_map_get_next_id(0, &next) ? errno : 0;
	}
	return 0;
}

static bool refused(int e)
{
	return e == EACCES || e == EPERM;
}

/* Ids of the maps (outer and inner), programs and links behind the pins. */
static void collect_ids(struct nobody_probe *p)
{
	int i;

	for (i = 0; i < p->npins; i++) {
		char path[PATH_MAX];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", p->pin, p->names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			fail_msg("root cannot open %s: %s", path, strerror(errno));
		if (!strncmp(p->names[i], "prog_", 5)) {
			struct bpf_prog_info info = { 0 };
			__u32 len = sizeof(info);

			assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
			p->prog_ids[p->nprogs++] = info.id;
		} else if (!strncmp(p->names[i], "link_", 5)) {
			struct bpf_link_info info = { 0 };
			__u32 len = sizeof(info);

			assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
			p->link_ids[p->nlinks++] = info.id;
		} else {
			struct bpf_map_info info = { 0 };
			__u32 len = sizeof(info), k, inner;

			assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
			p->map_ids[p->nmaps++] = info.id;
			/* the policy image and counters are inner maps, reachable only by id */
			if (info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS)
				for (k = 0; k < info.max_entries && p->nmaps < MAX_IDS; k++)
					if (!bpf_map_lookup_elem(fd, &k, &inner) && inner)
						p->map_ids[p->nmaps++] = inner;
		}
		close(fd);
	}
}

static void nobody_cannot_reach_the_state(void **state)
{
	static const char *const documented[] = {
		"pg_cur",     "pg_cnt",	     "pg_nodes",    "pg_ctl",	   "pg_netns",
		"pg_saved",   "pg_next",     "pg_stats",    "pg_ev",	   "prog_bind4",
		"prog_bind6", "prog_sysctl", "prog_sockcr", "prog_mkdir",  "prog_rmdir",
		"link_bind4", "link_bind6",  "link_sysctl", "link_sockcr", "link_mkdir",
		"link_rmdir",
	};
	struct nobody_probe *p;
	char gen0[64], sha0[128], gen1[64], sha1[128], policy[PATH_MAX];
	struct stat sb;
	struct dirent *de;
	DIR *d;
	size_t k;
	int i, rc;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	APPLY_OK("default deny\nallow @/web tcp/80\n");
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	json_scalar(H.out, "generation", gen0, sizeof(gen0));
	json_scalar(H.out, "sha256", sha0, sizeof(sha0));

	p = hxa_shared(sizeof(*p));
	assert_non_null(p);
	/* Everything pinned, as root sees it: root's alone. */
	assert_int_equal(stat(H.pin, &sb), 0);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	d = opendir(H.pin);
	assert_non_null(d);
	while ((de = readdir(d)) && p->npins < MAX_PINS) {
		char path[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p->names[p->npins], sizeof(p->names[0]), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", H.pin, de->d_name);
		assert_int_equal(stat(path, &sb), 0);
		if (sb.st_uid != 0 || (sb.st_mode & 077))
			fail_msg("%s is mode %o uid %u: others may reach it", path,
				 sb.st_mode & 07777, sb.st_uid);
		p->npins++;
	}
	closedir(d);
	for (k = 0; k < sizeof(documented) / sizeof(documented[0]); k++) {
		for (i = 0; i < p->npins; i++)
			if (!strcmp(p->names[i], documented[k]))
				break;
		if (i == p->npins)
			fail_msg("%s is not pinned in %s (portgate(8) FILES)", documented[k],
				 H.pin);
	}
	snprintf(p->pin, sizeof(p->pin), "%s", H.pin);
	collect_ids(p);

	/*
	 * The harness's scratch directory and bpffs are 0700 themselves; open
	 * them for traversal so that what refuses nobody is portgate's own pin
	 * directory and pins, not the harness (teardown restores 0700).
	 */
	assert_int_equal(chmod(H.tmp, 0711), 0);
	assert_int_equal(chmod(H.bpffs, 0711), 0);
	rc = hxa_child(&H, NULL, NOBODY, nobody_probe_fn, NULL, p, sizeof(*p));
	assert_int_equal(rc, 0);
	for (i = 0; i < p->npins; i++) {
		if (!refused(p->get[i]) || !refused(p->get_ro[i]) || !refused(p->open_ro[i]))
			fail_msg("nobody reached %s/%s: BPF_OBJ_GET %s, read-only %s, open %s",
				 H.pin, p->names[i], hx_errname(p->get[i]),
				 hx_errname(p->get_ro[i]), hx_errname(p->open_ro[i]));
	}
	if (!refused(p->opendir_pin))
		fail_msg("nobody can list %s: %s", H.pin, hx_errname(p->opendir_pin));
	assert_true(p->nmaps >= 9 && p->nprogs == 6 && p->nlinks == 6);
	for (i = 0; i < p->nmaps; i++)
		if (!refused(p->map_by_id[i]))
			fail_msg("nobody got map id %u by BPF_MAP_GET_FD_BY_ID: %s", p->map_ids[i],
				 hx_errname(p->map_by_id[i]));
	for (i = 0; i < p->nprogs; i++)
		if (!refused(p->prog_by_id[i]))
			fail_msg("nobody got program id %u by id: %s", p->prog_ids[i],
				 hx_errname(p->prog_by_id[i]));
	for (i = 0; i < p->nlinks; i++)
		if (!refused(p->link_by_id[i]))
			fail_msg("nobody got link id %u by id: %s", p->link_ids[i],
				 hx_errname(p->link_by_id[i]));
	if (!refused(p->next_map_id))
		fail_msg("nobody can enumerate map ids: %s", hx_errname(p->next_map_id));
	hxa_shared_free(p, sizeof(*p));

	/* The CLI as nobody: exit 1 and one line that says root is needed. */
	snprintf(policy, sizeof(policy), "%s",
		 hx_policy(&H, "nobody.conf", "allow @/other tcp/80\n"));
	assert_int_equal(chmod(policy, 0644), 0);
	{
		struct {
			const char *what;
			const char *argv[8];
		} cmds[] = {
			{ "status", { "status", NULL } },
			{ "status --json", { "status", "--json", NULL } },
			{ "apply", { "apply", policy, "--attach", H.cg, NULL } },
			{ "stop", { "stop", NULL } },
			{ "explain", { "explain", hx_path(&H, "web"), "tcp/80", NULL } },
		};

		for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
			const char *const *a = cmds[k].argv;

			rc = hxa_run_as(&H, NOBODY, a[0], a[1], a[2], a[3], a[4], NULL);
			if (rc != 1 || count_lines(H.out) != 1 || !strstr(H.out, "root"))
				fail_msg("portgate %s as nobody: exit %d (want 1), want one line "
					 "naming root:\n%s",
					 cmds[k].what, rc, H.out);
		}
	}
	assert_int_equal(chmod(H.tmp, 0700), 0);
	assert_int_equal(chmod(H.bpffs, 0700), 0);

	/* Nothing changed: same policy, same generation, same pins, same verdicts. */
	assert_int_equal(hx_run(&H, "status", "--json", NULL), 0);
	json_scalar(H.out, "generation", gen1, sizeof(gen1));
	json_scalar(H.out, "sha256", sha1, sizeof(sha1));
	assert_string_equal(gen0, gen1);
	assert_string_equal(sha0, sha1);
	if (!strstr(H.out, "\"enforcing\":true"))
		fail_msg("not enforcing after nobody's attempts:\n%s", H.out);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 1);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET6_BIND, false), 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = 0);
}

/* ============================================= 2. tenant delegation */

/* Delegate cgroup rel to uid as systemd does: the directory and its three files. */
static void delegate(const char *rel, uid_t uid)
{
	static const char *const files[] = { "", "/cgroup.procs", "/cgroup.subtree_control",
					     "/cgroup.threads" };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s%s%s", H.cg2, hx_path(&H, rel), files[i]);
		if (chown(path, uid, uid))
			fail_msg("chown %s: %s", path, strerror(errno));
	}
}

struct mkdirs {
	const char *dirs[8];
};

/* As the tenant: mkdir each (full path); the errno of the first failure. */
static int tenant_mkdir_fn(void *arg, void *shared)
{
	const struct mkdirs *m = arg;
	int i;

	(void)shared;
	for (i = 0; m->dirs[i]; i++)
		if (mkdir(m->dirs[i], 0755))
			return errno;
	return 0;
}

struct tenant_bind {
	char procs[PATH_MAX]; /* cgroup.procs the tenant moves itself into */
	int port;
};

/* As the tenant, placed in its delegated cgroup by root: move itself, then bind. */
static int tenant_bind_fn(void *arg, void *shared)
{
	const struct tenant_bind *t = arg;
	char me[32];
	int fd;

	(void)shared;
	snprintf(me, sizeof(me), "%d\n", getpid());
	fd = open(t->procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, me, strlen(me)) < 0)
		return 253; /* the tenant could not move itself: a setup failure */
	close(fd);
	return hxa_bind_port(AF_INET, SOCK_STREAM, 0, t->port);
}

/* Tenant A moves itself from its delegated root A into rel (under A), then binds. */
static int tenant_bind(const char *rel, int port)
{
	struct tenant_bind t = { .port = port };
	int r;

	snprintf(t.procs, sizeof(t.procs), "%s%s/cgroup.procs", H.cg2, hx_path(&H, rel));
	r = hxa_child(&H, hx_path(&H, "tenants/A"), TENANT_A, tenant_bind_fn, &t, NULL, 0);
	if (r == 253 || r == 255 || r < 0)
		fail_msg("tenant A could not move itself into %s (setup)", rel);
	return r;
}

#define EXPECT_TENANT_BIND(want, rel, port)                                                        \
	do {                                                                                       \
		int got_ = tenant_bind(rel, port);                                                 \
		if (got_ != (want))                                                                \
			fail_msg("%s:%d: tenant A in %s binding tcp/%d: got %s, want %s",          \
				 __FILE__, __LINE__, rel, port, hx_errname(got_),                  \
				 hx_errname(want));                                                \
	} while (0)

static void expect_explain(const char *rel, const char *pp, const char *uid, const char *verdict)
{
	char want[64];

	/* "deny" also matches "deny-default": the default decided, to deny */
	snprintf(want, sizeof(want), "\"verdict\":\"%s%s", verdict,
		 strcmp(verdict, "deny") ? "\"" : "");
	assert_int_equal(hx_run(&H, "explain", hx_path(&H, rel), pp, "--user", uid, "--json", NULL),
			 0);
	if (!hx_out_has(&H, want))
		fail_msg("explain %s %s --user %s: want %s, got:\n%s", rel, pp, uid, want, H.out);
}

static const char tenant_policy[] = "default kernel\n"
				    "allow @/tenants/*/web tcp/80\n"
				    "allow @/**/*pod1f2e*.slice tcp/81\n"
				    "allow @/tenants/A/api tcp/82\n";

static void delegated_tenant_cannot_name_into_a_glob(void **state)
{
	struct mkdirs m = { { 0 } };
	char web[PATH_MAX], pod[PATH_MAX], api[PATH_MAX];
	int r;

	(void)state;
	/* A is delegated to uid 1000; B's cgroups are the administrator's */
	assert_int_equal(hx_mkcg(&H, "tenants/A"), 0);
	assert_int_equal(hx_mkcg(&H, "tenants/B/web"), 0);
	assert_int_equal(hx_mkcg(&H, "tenants/B/kubepods-pod1f2e77.slice"), 0);
	delegate("tenants/A", TENANT_A);
	APPLY_OK(tenant_policy);

	/* The tenant names cgroups into B's globs, and one the admin named exactly. */
	snprintf(web, sizeof(web), "%s%s", H.cg2, hx_path(&H, "tenants/A/web"));
	snprintf(pod, sizeof(pod), "%s%s", H.cg2,
		 hx_path(&H, "tenants/A/kubepods-pod1f2e99.slice"));
	snprintf(api, sizeof(api), "%s%s", H.cg2, hx_path(&H, "tenants/A/api"));
	m.dirs[0] = web;
	m.dirs[1] = pod;
	m.dirs[2] = api;
	r = hxa_child(&H, NULL, TENANT_A, tenant_mkdir_fn, &m, NULL, 0);
	if (r)
		fail_msg("tenant A cannot mkdir in its delegated cgroup: %s", hx_errname(r));
	/* selectors are resolved at apply time in this version */
	APPLY_OK(tenant_policy);

	/* B's cgroups have their grants; A's look-alikes do not (the kernel's EACCES). */
	EXPECT_BIND(0, .cg = "tenants/B/web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "tenants/B/kubepods-pod1f2e77.slice", .port = 81, .uid = NOBODY);
	EXPECT_TENANT_BIND(EACCES, "tenants/A/web", 80);
	EXPECT_TENANT_BIND(EACCES, "tenants/A/kubepods-pod1f2e99.slice", 81);
	EXPECT_BIND(EACCES, .cg = "tenants/A/web", .port = 80, .uid = TENANT_A);
	/* an exact selector the admin wrote for a path inside A still matches */
	EXPECT_TENANT_BIND(0, "tenants/A/api", 82);
	EXPECT_TENANT_BIND(EACCES, "tenants/A/api", 80);

	/* explain, from the live state, agrees */
	expect_explain("tenants/A/web", "tcp/80", "1000", "kernel");
	expect_explain("tenants/A/kubepods-pod1f2e99.slice", "tcp/81", "1000", "kernel");
	expect_explain("tenants/A/api", "tcp/82", "1000", "grant");
	expect_explain("tenants/B/web", "tcp/80", "1000", "grant");
	expect_explain("tenants/B/kubepods-pod1f2e77.slice", "tcp/81", "65534", "grant");

	/* with default deny the look-alikes get portgate's own EPERM */
	APPLY_OK("default deny\n"
		 "allow @/tenants/*/web tcp/80\n"
		 "allow @/**/*pod1f2e*.slice tcp/81\n"
		 "allow @/tenants/A/api tcp/82\n");
	EXPECT_TENANT_BIND(EPERM, "tenants/A/web", 80);
	EXPECT_TENANT_BIND(EPERM, "tenants/A/kubepods-pod1f2e99.slice", 81);
	EXPECT_TENANT_BIND(0, "tenants/A/api", 82);
	EXPECT_BIND(0, .cg = "tenants/B/web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "tenants/B/kubepods-pod1f2e77.slice", .port = 81, .uid = NOBODY);
	expect_explain("tenants/A/web", "tcp/80", "1000", "deny");
	expect_explain("tenants/B/web", "tcp/80", "1000", "grant");
}

struct chain {
	char dir[PATH_MAX];
	int depth, namelen;
};

static int tenant_chain_fn(void *arg, void *shared)
{
	const struct chain *c = arg;

	(void)shared;
	return hxa_mkdir_chain(c->dir, c->depth, c->namelen);
}

/*
 * The cgroup tree portgate reads at apply time includes every delegated
 * subtree. A tenant may nest cgroups there as deep as it likes, past
 * PATH_MAX; that must not stop the administrator from applying (a policy
 * that revokes a grant included): no selector can name such a path, and
 * no glob reaches into a delegated subtree anyway.
 */
static void delegated_tenant_cannot_block_apply(void **state)
{
	struct chain c = { .depth = 20, .namelen = 250 };
	int r;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "tenants/A"), 0);
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	delegate("tenants/A", TENANT_A);
	APPLY_OK("default deny\nallow @/web tcp/80,81\n");
	snprintf(c.dir, sizeof(c.dir), "%s%s", H.cg2, hx_path(&H, "tenants/A"));
	/* the chain's first directory: 250 'a's (hxa_mkdir_chain's naming) */
	{
		char first[256];
		size_t n = strlen(c.dir);

		memset(first, 'a', 250);
		first[250] = 0;
		assert_true(n + 1 + 250 < sizeof(deep_root));
		memcpy(deep_root, c.dir, n);
		deep_root[n] = '/';
		memcpy(deep_root + n + 1, first, 251);
	}
	r = hxa_child(&H, NULL, TENANT_A, tenant_chain_fn, &c, NULL, 0);
	if (r)
		fail_msg("tenant A cannot nest cgroups in its subtree: %s", hx_errname(r));

	/* the admin revokes tcp/81 */
	r = hx_apply(&H, "default deny\nallow @/web tcp/80\n");
	if (r != 0)
		fail_msg("a tenant's deep cgroups (path > PATH_MAX under its delegated subtree) "
			 "make apply fail with %d, so the admin cannot change the policy:\n%s",
			 r, H.out);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	assert_int_equal(hx_run(&H, "status", NULL), 0);
}

/* ==================================== 3. sysctl mode: the range guard */

/*
 * Spellings of ip_local_port_range that overlap ports 1-1023. The kernel
 * reads numbers with base 0 (leading 0 octal, 0x hex) and any blanks
 * between; so must the guard.
 */
static const char *const overlapping[] = {
	"100 200",	     "100\t200",	 "1 65535",   "1023 1023", "100\n200",
	" 100 200",	     "100   \t  200\n",	 "0x64 0xc8", "0144 0310", "100",
	"100 0000000000310", /* the second number longer than 8 characters */
	"100 0x000000000c8", "000000000100 200",
};
#define NOVER (int)(sizeof(overlapping) / sizeof(overlapping[0]))

struct range_try {
	int err[NOVER];	       /* 0: the write worked; else errno */
	char after[NOVER][32]; /* the range after the write */
	int port_after[NOVER]; /* listen() autobind port after a write that worked */
	char before[32];
};

static bool range_overlaps(const char *range)
{
	unsigned lo = 0, hi = 0;

	if (sscanf(range, "%u %u", &lo, &hi) != 2)
		return true; /* unreadable: assume the worst */
	return lo <= 1023 && hi >= 1;
}

/* In the caller's netns: try each spelling; put the range back after one that worked. */
static void try_ranges(struct range_try *t)
{
	int i;

	hxa_sysctl_get(LPR, t->before, sizeof(t->before));
	for (i = 0; i < NOVER; i++) {
		t->err[i] = hxa_sysctl_put(LPR, overlapping[i]);
		hxa_sysctl_get(LPR, t->after[i], sizeof(t->after[i]));
		if (strcmp(t->after[i], t->before)) {
			t->port_after[i] = hxa_autobind_listen(AF_INET);
			hxa_sysctl_put(LPR, t->before);
		}
	}
}

/* Control, outside the attach cgroup, as root in a fresh netns lowered to 0:
 * which spellings the kernel itself takes. */
static int control_fn(void *arg, void *shared)
{
	(void)arg;
	if (unshare(CLONE_NEWNET) || hxa_sysctl_put(UPS, "0"))
		return 1;
	try_ranges(shared);
	return 0;
}

/*
 * No spelling may move the range; those the kernel alone takes must get
 * EPERM. Problems are appended to msg (the test goes on to its other
 * checks and fails at the end); returns how many.
 */
static int check_range_tries(const char *who, const struct range_try *t,
			     const struct range_try *control, char *msg, size_t len)
{
	size_t off = strlen(msg);
	int i, bad = 0;

	for (i = 0; i < NOVER && off < len; i++) {
		bool kernel_takes = !control->err[i] && range_overlaps(control->after[i]);
		int n = 0;

		if (!t->err[i] || strcmp(t->after[i], t->before))
			n = snprintf(msg + off, len - off,
				     "\n  %s: write \"%s\" was ACCEPTED: range %s -> %s; listen() "
				     "then autobinds port %d with no bind check",
				     who, overlapping[i], t->before, t->after[i], t->port_after[i]);
		else if (kernel_takes && t->err[i] != EPERM)
			n = snprintf(msg + off, len - off,
				     "\n  %s: write \"%s\" (the kernel alone takes it: %s) got %s, "
				     "want EPERM from portgate's sysctl guard",
				     who, overlapping[i], control->after[i], hx_errname(t->err[i]));
		if (n > 0) {
			bad++;
			off += (size_t)n;
		}
	}
	return bad;
}

static struct range_try *range_control(void)
{
	struct range_try *ctl = hxa_shared(sizeof(*ctl));
	int r;

	assert_non_null(ctl);
	/* H.base is outside --attach: the guard does not see this child */
	r = hxa_child(&H, H.base, 0, control_fn, NULL, ctl, sizeof(*ctl));
	if (r)
		fail_msg("control child failed (%d)", r);
	/* without portgate the kernel takes the plain spelling: the hole is real */
	if (ctl->err[0] || !range_overlaps(ctl->after[0]))
		fail_msg("control: the kernel refused \"%s\" (%s) in a netns lowered to 0",
			 overlapping[0], hx_errname(ctl->err[0]));
	return ctl;
}

struct userns_res {
	const char *stage;
	int setup_err;
	int lo, lower;
	char ups_after[16];
	struct range_try tries;
	int harmless_range; /* "40000 50000": proves the tenant may write the range */
	int listen4, listen6, udp4;
	int bind80, bind80_v6, bind80_udp, bind22, bind1024;
	int sctp;
	int uring_setup, uring80;
};

/* Nobody, in the test cgroup: root of its own user namespace and netns. */
static int userns_tenant_fn(void *arg, void *shared)
{
	struct userns_res *r = shared;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
	int s;

	(void)arg;
	r->setup_err = -hxa_enter_userns(&r->stage);
	if (r->setup_err)
		return 1;
	r->lo = hxa_lo_up();
	/* allowed: the tenant owns this netns */
	r->lower = hxa_sysctl_put(UPS, "0");
	hxa_sysctl_get(UPS, r->ups_after, sizeof(r->ups_after));
	try_ranges(&r->tries);
	r->harmless_range = hxa_sysctl_put(LPR, "40000 50000");
	r->listen4 = hxa_autobind_listen(AF_INET);
	r->listen6 = hxa_autobind_listen(AF_INET6);
	r->udp4 = hxa_autobind_udp(AF_INET);
	r->bind80 = hxa_bind_port(AF_INET, SOCK_STREAM, 0, 80);
	r->bind80_v6 = hxa_bind_port(AF_INET6, SOCK_STREAM, 0, 80);
	r->bind80_udp = hxa_bind_port(AF_INET, SOCK_DGRAM, 0, 80);
	r->bind22 = hxa_bind_port(AF_INET, SOCK_STREAM, 0, 22);
	r->bind1024 = hxa_bind_port(AF_INET, SOCK_STREAM, 0, 1024);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
	r->sctp = s < 0 ? errno : 0;
	if (s >= 0)
		close(s);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r->uring_setup = s < 0 ? -errno
			       : hxa_uring_bind(s, (struct sockaddr *)&sin, sizeof(sin),
						HXA_URING_INLINE, &r->uring80);
	if (s >= 0)
		close(s);
	return 0;
}

static void userns_root_cannot_open_sysctl_holes(void **state)
{
	static char bad[8192];
	struct range_try *ctl;
	struct userns_res *r;
	int rc, nbad;

	(void)state;
	bad[0] = 0;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "tenant"), 0);
	ctl = range_control();
	APPLY_OK("mode sysctl\ndefault deny\nexempt root\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read(UPS), 1);

	r = hxa_shared(sizeof(*r));
	assert_non_null(r);
	rc = hxa_child(&H, hx_path(&H, "tenant"), NOBODY, userns_tenant_fn, NULL, r, sizeof(*r));
	if (rc == 1)
		fail_msg("cannot become root in a user namespace as nobody: %s: %s "
			 "(see user.max_user_namespaces)",
			 r->stage, strerror(r->setup_err));
	assert_int_equal(rc, 0);
	assert_int_equal(r->lo, 0);
	/* the tenant may lower its own namespace's threshold: the kernel allows it */
	if (r->lower || strcmp(r->ups_after, "0"))
		fail_msg("userns root could not lower its own ip_unprivileged_port_start: %s (%s)",
			 hx_errname(r->lower), r->ups_after);
	nbad =
	    check_range_tries("root of its own user namespace", &r->tries, ctl, bad, sizeof(bad));
	/* EPERM above came from portgate, not from missing permission */
	assert_int_equal(r->harmless_range, 0);
	/* autobind keeps to unprotected ports */
	if (r->listen4 < 1024 || r->listen6 < 1024 || r->udp4 < 1024)
		fail_msg("autobind handed out ports %d (listen v4), %d (listen v6), %d (udp)",
			 r->listen4, r->listen6, r->udp4);
	/* the threshold is 0 in its netns, yet portgate refuses: uid 0 there is not root */
	if (r->bind80 != EPERM || r->bind80_v6 != EPERM || r->bind80_udp != EPERM ||
	    r->bind22 != EPERM)
		fail_msg("userns root binds: tcp/80 %s, tcp6/80 %s, udp/80 %s, tcp/22 %s; want "
			 "EPERM for all",
			 hx_errname(r->bind80), hx_errname(r->bind80_v6), hx_errname(r->bind80_udp),
			 hx_errname(r->bind22));
	assert_int_equal(r->bind1024, 0);
	if (r->uring_setup)
		print_message("note: io_uring unavailable to the tenant (%s); see "
			      "io_uring_bind_meets_the_hook\n",
			      strerror(-r->uring_setup));
	else if (r->uring80 == -EINVAL)
		print_message("note: this kernel's io_uring lacks IORING_OP_BIND (Linux 6.11+)\n");
	else if (r->uring80 != -EPERM)
		fail_msg("userns root, IORING_OP_BIND tcp/80: res %d, want -EPERM", r->uring80);
	/*
	 * SCTP in the tenant's own namespace: portgate refuses SCTP only where
	 * it lowered the threshold (portgate(8)); here the tenant's own
	 * CAP_NET_BIND_SERVICE over its netns decides, with or without portgate.
	 */
	if (r->sctp == EPROTONOSUPPORT || r->sctp == ESOCKTNOSUPPORT)
		print_message("note: this kernel has no SCTP (socket: %s)\n", hx_errname(r->sctp));
	else
		print_message("note: SCTP socket in the tenant's own netns: %s\n",
			      hx_errname(r->sctp));
	hxa_shared_free(r, sizeof(*r));
	hxa_shared_free(ctl, sizeof(*ctl));
	/* and the lowered namespace is unchanged */
	assert_int_equal(hx_sysctl_read(UPS), 1);
	if (nbad)
		fail_msg("%d spellings of an overlapping ip_local_port_range got past the "
			 "sysctl guard:%s",
			 nbad, bad);
}

static int root_tries_fn(void *arg, void *shared)
{
	(void)arg;
	try_ranges(shared);
	return 0;
}

static int autobind_fn(void *arg, void *shared)
{
	int *ports = shared;

	(void)arg;
	ports[0] = hxa_autobind_listen(AF_INET);
	ports[1] = hxa_autobind_listen(AF_INET6);
	ports[2] = hxa_autobind_udp(AF_INET);
	ports[3] = hxa_autobind_udp(AF_INET6);
	return 0;
}

/* The harness's netns, lowered by portgate; real root inside the attach subtree. */
static void lowered_netns_range_guard_and_sctp(void **state)
{
	static char bad[8192];
	struct range_try *ctl, *t;
	char before[32], after[32];
	int *ports, r, i, nbad;

	(void)state;
	bad[0] = 0;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	ctl = range_control();
	APPLY_OK("mode sysctl\ndefault deny\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read(UPS), 1);
	assert_int_equal(hxa_sysctl_get(LPR, before, sizeof(before)), 0);

	t = hxa_shared(sizeof(*t));
	assert_non_null(t);
	assert_int_equal(hxa_child(&H, hx_path(&H, "other"), 0, root_tries_fn, NULL, t, sizeof(*t)),
			 0);
	nbad = check_range_tries("root in the lowered netns", t, ctl, bad, sizeof(bad));
	/* try_ranges() put back what got through */
	assert_int_equal(hxa_sysctl_get(LPR, after, sizeof(after)), 0);
	assert_string_equal(before, after);
	hxa_shared_free(t, sizeof(*t));
	hxa_shared_free(ctl, sizeof(*ctl));

	/* nobody's autobind in the lowered netns: never a protected port */
	ports = hxa_shared(4 * sizeof(int));
	assert_non_null(ports);
	assert_int_equal(
	    hxa_child(&H, hx_path(&H, "other"), NOBODY, autobind_fn, NULL, ports, 4 * sizeof(int)),
	    0);
	for (i = 0; i < 4; i++)
		if (ports[i] < 1024)
			fail_msg("autobind %d in the lowered netns got port %d", i, ports[i]);
	hxa_shared_free(ports, 4 * sizeof(int));

	/* SCTP: refused where the threshold is lowered, for nobody and root alike */
	r = hx_socket(&H, "other", AF_INET, SOCK_STREAM, IPPROTO_SCTP, NOBODY);
	if (r == EPROTONOSUPPORT || r == ESOCKTNOSUPPORT) {
		print_message("note: this kernel lacks SCTP (CONFIG_IP_SCTP not set: socket() "
			      "says %s), so the SCTP gap cannot arise here\n",
			      hx_errname(r));
	} else {
		assert_int_equal(r, EPERM);
		assert_int_equal(hx_socket(&H, "web", AF_INET6, SOCK_STREAM, IPPROTO_SCTP, NOBODY),
				 EPERM);
		assert_int_equal(hx_socket(&H, "other", AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP, 0),
				 EPERM);
	}
	/* the ordinary protocols still work there */
	assert_int_equal(hx_socket(&H, "other", AF_INET, SOCK_STREAM, 0, NOBODY), 0);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	if (nbad)
		fail_msg("%d spellings of an overlapping ip_local_port_range got past the "
			 "sysctl guard:%s",
			 nbad, bad);
}

/* ============================================ 3b. io_uring bind */

struct uring_in {
	int family, port;
	enum hxa_uring_mode mode;
};

struct uring_out {
	int setup, res;
};

/* Nobody, in its cgroup: a socket, then IORING_OP_BIND. */
static int uring_fn(void *arg, void *shared)
{
	const struct uring_in *in = arg;
	struct uring_out *out = shared;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int s;

	s = socket(in->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		out->setup = -errno;
		return 0;
	}
	if (in->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)in->port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)in->port);
		len = sizeof(*sin6);
	}
	out->setup = hxa_uring_bind(s, (struct sockaddr *)&ss, len, in->mode, &out->res);
	close(s);
	return 0;
}

static int uring_probe_fn(void *arg, void *shared)
{
	(void)arg;
	*(int *)shared = hxa_uring_has_bind();
	return 0;
}

/* 1: io_uring with IORING_OP_BIND usable by nobody; 0: the kernel lacks it (noted). */
static int uring_usable(void)
{
	int *has = hxa_shared(sizeof(int)), r;
	char dis[16] = "";

	assert_non_null(has);
	assert_int_equal(hxa_child(&H, NULL, NOBODY, uring_probe_fn, NULL, has, sizeof(int)), 0);
	r = *has;
	hxa_shared_free(has, sizeof(int));
	if (r == 1)
		return 1;
	if (r == 0) {
		print_message("note: this kernel's io_uring lacks IORING_OP_BIND (Linux 6.11+), "
			      "so that path cannot arise here\n");
		return 0;
	}
	if (hxa_sysctl_get("kernel/io_uring_disabled", dis, sizeof(dis)) == ENOENT &&
	    r == -ENOSYS) {
		print_message("note: this kernel has no io_uring (io_uring_setup: ENOSYS), so the "
			      "IORING_OP_BIND path cannot arise here\n");
		return 0;
	}
	fail_msg("io_uring_setup() as nobody fails: %s; kernel.io_uring_disabled = %s (left "
		 "as it is), so the IORING_OP_BIND path cannot be tested",
		 strerror(-r), dis[0] ? dis : "(absent)");
	return 0;
}

/* IORING_OP_BIND by nobody in cg, in each submission mode: the completion's res. */
static void expect_uring(int line, const char *cg, int family, int port, int want)
{
	static const char *const modes[] = { "inline", "IOSQE_ASYNC", "SQPOLL" };
	struct uring_out *out = hxa_shared(sizeof(*out));
	int m, rc;

	assert_non_null(out);
	for (m = HXA_URING_INLINE; m <= HXA_URING_SQPOLL; m++) {
		struct uring_in in = { family, port, (enum hxa_uring_mode)m };

		memset(out, 0, sizeof(*out));
		rc = hxa_child(&H, hx_path(&H, cg), NOBODY, uring_fn, &in, out, sizeof(*out));
		if (rc || out->setup)
			fail_msg("line %d: io_uring (%s) could not be set up: %s", line, modes[m],
				 rc ? "child failed" : strerror(-out->setup));
		if (out->res != want)
			fail_msg("line %d: IORING_OP_BIND (%s) by nobody in %s, %s port %d: res %d "
				 "(%s), want %d (%s)",
				 line, modes[m], cg, family == AF_INET ? "IPv4" : "IPv6", port,
				 out->res, hx_errname(-out->res), want, hx_errname(-want));
	}
	hxa_shared_free(out, sizeof(*out));
}

/*
 * IORING_OP_BIND (Linux 6.11) calls the socket's bind operation, so it
 * meets the bind hooks like bind(2). In sysctl mode a bind that missed the
 * hook would succeed below the lowered threshold; in grant mode it would
 * get the kernel's EACCES instead of a grant.
 */
static void io_uring_bind_meets_the_hook(void **state)
{
	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	if (!uring_usable())
		return;

	APPLY_OK("mode sysctl\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read(UPS), 1);
	expect_uring(__LINE__, "web", AF_INET, 80, 0);
	expect_uring(__LINE__, "web", AF_INET6, 80, 0);
	expect_uring(__LINE__, "web", AF_INET, 81, -EPERM);
	expect_uring(__LINE__, "other", AF_INET, 80, -EPERM);
	expect_uring(__LINE__, "other", AF_INET6, 80, -EPERM);
	expect_uring(__LINE__, "other", AF_INET, 1024, 0);

	APPLY_OK("mode grant\ndefault deny\nallow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read(UPS), 1024);
	expect_uring(__LINE__, "web", AF_INET, 80, 0);
	expect_uring(__LINE__, "web", AF_INET6, 80, 0);
	expect_uring(__LINE__, "other", AF_INET, 80, -EPERM);
	expect_uring(__LINE__, "other", AF_INET6, 80, -EPERM);

	APPLY_OK("mode grant\ndefault kernel\nallow @/web tcp/80\n");
	expect_uring(__LINE__, "web", AF_INET, 80, 0);
	expect_uring(__LINE__, "other", AF_INET, 80, -EACCES);
}

/* ======================================== 4. the CLI under valgrind */

#define VALGRIND                                                                                   \
	"valgrind --error-exitcode=99 --leak-check=full "                                          \
	"--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect -q"

/*
 * valgrind (3.19) models bpf(2) only in part, and reports inside libbpf
 * what is not an error of the program: it checks every field of union
 * bpf_attr whatever size the caller passes (libbpf clears only the fields
 * up to that size), it does not accept the NULL key of
 * BPF_MAP_GET_NEXT_KEY ("give me the first key"), and it does not know that
 * the kernel writes the verifier log when BPF_PROG_LOAD fails, which
 * libbpf_probe_bpf_helper() then reads. These suppressions name exactly
 * those frames; every other error, and every definite or indirect leak,
 * still fails the test.
 */
static const char valgrind_supp[] = "{\n"
				    "   valgrind-bpf-log-written-by-failed-prog-load\n"
				    "   Memcheck:Cond\n"
				    "   fun:strstr\n"
				    "   fun:libbpf_probe_bpf_helper\n"
				    "}\n"
				    "{\n"
				    "   valgrind-bpf-attr-beyond-size-expected_attach_type\n"
				    "   Memcheck:Param\n"
				    "   bpf(attr->expected_attach_type)\n"
				    "   fun:syscall\n"
				    "   obj:*/libbpf.so*\n"
				    "}\n"
				    "{\n"
				    "   valgrind-bpf-attr-beyond-size-prog_ifindex\n"
				    "   Memcheck:Param\n"
				    "   bpf(attr->prog_ifindex)\n"
				    "   fun:syscall\n"
				    "   obj:*/libbpf.so*\n"
				    "}\n"
				    "{\n"
				    "   valgrind-bpf-get-next-key-attr-beyond-size-flags\n"
				    "   Memcheck:Param\n"
				    "   bpf(attr->flags)\n"
				    "   fun:syscall\n"
				    "   fun:bpf_map_get_next_key\n"
				    "}\n"
				    "{\n"
				    "   valgrind-bpf-get-next-key-null-key-means-first\n"
				    "   Memcheck:Param\n"
				    "   bpf(attr->key)\n"
				    "   fun:syscall\n"
				    "   fun:bpf_map_get_next_key\n"
				    "}\n";

/* The non-sanitised build: $PORTGATE_PLAIN, else build/portgate of this tree. */
static void plain_binary(char *out, size_t len)
{
	const char *env = getenv("PORTGATE_PLAIN");
	char exe[PATH_MAX - 32], *cut;
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	/* this binary is ROOT/build/test/integ/test_attack */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		cut = strstr(exe, "/build/test/integ/");
		if (cut) {
			*cut = 0;
			snprintf(out, len, "%s/build/portgate", exe);
			return;
		}
	}
	snprintf(out, len, "build/portgate");
}

/* Does the file contain s (a sanitiser runtime, say)? */
static bool file_has(const char *path, const char *s)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(s), i = 0;
	int c;

	if (!f)
		return false;
	while ((c = fgetc(f)) != EOF) {
		i = (char)c == s[i] ? i + 1 : ((char)c == s[0] ? 1 : 0);
		if (i == n)
			break;
	}
	fclose(f);
	return i == n;
}

#define UNDER_VALGRIND(want, ...)                                                                  \
	do {                                                                                       \
		int rc_ = hx_run(&H, __VA_ARGS__, NULL);                                           \
		if (rc_ != (want))                                                                 \
			fail_msg("under valgrind, portgate %s: exit %d, want %d%s:\n%s",           \
				 #__VA_ARGS__, rc_, want,                                          \
				 rc_ == 99 ? " (valgrind found errors)" : "", H.out);              \
	} while (0)

static void cli_clean_under_valgrind(void **state)
{
	static char plain[PATH_MAX], web[PATH_MAX], good[PATH_MAX], bad[PATH_MAX],
	    wrap[PATH_MAX + 256];
	int rc;

	(void)state;
	plain_binary(plain, sizeof(plain));
	if (access(plain, X_OK))
		fail_msg("no non-sanitised portgate at %s (%s): build it with 'make' or set "
			 "PORTGATE_PLAIN",
			 plain, strerror(errno));
	if (file_has(plain, "__asan_init"))
		fail_msg("%s is built with AddressSanitizer, which cannot run under valgrind; "
			 "set PORTGATE_PLAIN to the plain build",
			 plain);
	rc = system("valgrind --version >/dev/null 2>&1");
	if (rc)
		fail_msg("valgrind is not installed (tests/deps.sh installs it)");

	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	snprintf(web, sizeof(web), "%s", hx_path(&H, "web"));
	snprintf(good, sizeof(good), "%s",
		 hx_policy(&H, "good.conf",
			   "default deny\nallow @/web tcp/80 user=nobody\n"
			   "allow @/web udp/53\ndeny @/other any/1-1023\n"));
	snprintf(bad, sizeof(bad), "%s",
		 hx_policy(&H, "bad.conf", "allow @/web tcp/70000\nallow @/web sctp/80\n"));

	snprintf(wrap, sizeof(wrap), "%s --suppressions=%s", VALGRIND,
		 hx_policy(&H, "valgrind.supp", valgrind_supp));
	H.portgate = plain;
	setenv("HX_WRAP", wrap, 1);
	UNDER_VALGRIND(0, "check", good);
	UNDER_VALGRIND(3, "check", bad);
	UNDER_VALGRIND(0, "check", good, "--json");
	UNDER_VALGRIND(0, "apply", good, "--attach", H.cg);
	UNDER_VALGRIND(0, "status");
	UNDER_VALGRIND(0, "status", "--json");
	UNDER_VALGRIND(0, "explain", web, "tcp/80");
	UNDER_VALGRIND(0, "explain", web, "tcp/80", "--user", "1000", "--json");
	UNDER_VALGRIND(1, "explain", "/no/such/cgroup", "tcp/80");
	/* a re-apply takes over the pinned state; a bad one changes nothing */
	UNDER_VALGRIND(0, "apply", good, "--attach", H.cg);
	UNDER_VALGRIND(3, "apply", bad, "--attach", H.cg);
	unsetenv("HX_WRAP");
	H.portgate = sanitised;

	/* what valgrind's portgate applied enforces */
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .port = 80, .uid = TENANT_A);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);

	H.portgate = plain;
	setenv("HX_WRAP", wrap, 1);
	UNDER_VALGRIND(0, "stop");
	UNDER_VALGRIND(0, "stop");
	unsetenv("HX_WRAP");
	H.portgate = sanitised;
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 0);
}

/*
 * A program returning 3 ("allow, skip the capability check") that another
 * tool attached: every program in the effective array runs, any 0 denies,
 * and the bypass bit is OR-ed (docs/KERNEL.md). So portgate's refusals hold
 * against it, and only where portgate leaves the kernel's check (returns 1)
 * does the other program's grant take effect.
 */
static int bypass_prog(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 3 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_CGROUP_INET4_BIND);

	return bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "other_bypass", "GPL", insns, 2, &o);
}

static int cg_fd(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", H.cg2, hx_path(&H, rel));
	return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void coattached_bypass_cannot_grant(void **state)
{
	int prog, cg, link;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "denied"), 0);
	assert_int_equal(hx_mkcg(&H, "kernel"), 0);
	APPLY_OK("allow @/web tcp/80\n"
		 "deny  @/denied tcp/80\n");
	prog = bypass_prog();
	if (prog < 0)
		fail_msg("loading a bind4 program that returns 3: %s", strerror(errno));
	/* one link on the test cgroup: effective in all three */
	cg = cg_fd("");
	assert_true(cg >= 0);
	link = bpf_link_create(prog, cg, BPF_CGROUP_INET4_BIND, NULL);
	if (link < 0)
		fail_msg("linking it to %s: %s", hx_path(&H, ""), strerror(errno));
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "denied", .port = 80, .uid = NOBODY);
	/* portgate returns 1 here: the other program's bypass does grant */
	EXPECT_BIND(0, .cg = "kernel", .port = 80, .uid = NOBODY);
	close(link);
	EXPECT_BIND(EACCES, .cg = "kernel", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "denied", .port = 80, .uid = NOBODY);
	close(cg);
	close(prog);
}

/*
 * A legacy program attached without BPF_F_ALLOW_MULTI above the attach
 * cgroup makes every link below it fail with EPERM (docs/KERNEL.md): apply
 * says so, exits 1, and leaves nothing attached.
 */
static void legacy_exclusive_program_above_is_reported(void **state)
{
	int prog, cg;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "legacy"), 0);
	assert_int_equal(hx_mkcg(&H, "legacy/svc"), 0);
	prog = bypass_prog();
	if (prog < 0)
		fail_msg("loading a bind4 program: %s", strerror(errno));
	cg = cg_fd("legacy");
	assert_true(cg >= 0);
	if (bpf_prog_attach(prog, cg, BPF_CGROUP_INET4_BIND, 0))
		fail_msg("attaching it without BPF_F_ALLOW_MULTI: %s", strerror(errno));
	assert_int_equal(hx_run(&H, "apply", hx_policy(&H, "p.conf", "allow @/legacy/svc tcp/80\n"),
				"--attach", hx_path(&H, "legacy/svc"), NULL),
			 1);
	if (!hx_out_has(&H, "without BPF_F_ALLOW_MULTI") || !hx_out_has(&H, hx_path(&H, "legacy")))
		fail_msg("want the blocking cgroup and why:\n%s", H.out);
	assert_int_equal(hx_prog_count(&H, "legacy/svc", BPF_CGROUP_INET6_BIND, false), 0);
	assert_int_equal(hx_prog_count(&H, "legacy/svc", BPF_CGROUP_INET4_BIND, false), 0);
	bpf_prog_detach2(prog, cg, BPF_CGROUP_INET4_BIND);
	close(cg);
	close(prog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(nobody_cannot_reach_the_state),
		T(delegated_tenant_cannot_name_into_a_glob),
		T(delegated_tenant_cannot_block_apply),
		T(userns_root_cannot_open_sysctl_holes),
		T(lowered_netns_range_guard_and_sctp),
		T(io_uring_bind_meets_the_hook),
		T(coattached_bypass_cannot_grant),
		T(legacy_exclusive_program_above_is_reported),
		T(cli_clean_under_valgrind),
	};
	int r;

	if (hx_init(&H))
		return 1;
	hx_filters();
	sanitised = H.portgate;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return r;
}
