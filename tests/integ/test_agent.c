// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_agent.c - `portgate run` against the real kernel: reloads on every
 * kind of file change (in place, rename-and-replace, the Kubernetes
 * ConfigMap "..data" swap, includes), SIGHUP, a broken update keeping the
 * last good policy, SIGTERM with and without --detach-on-exit, SIGKILL and
 * restart under a bind loop, status's agent section, --prometheus,
 * --metrics-file and --ready-file.
 *
 * The agent is a child of this process, started with the harness's
 * --attach and --pin-dir, killed by pid in teardown. It runs in the
 * harness's private mount namespace, where /run is a tmpfs of its own, so
 * its state file never reaches the host's /run.
 *
 * Waits poll the agent's state file with a deadline of WAIT_S seconds,
 * only so that a broken agent fails the test instead of hanging it; no
 * test asserts how long anything took.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <grp.h>
#include <limits.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "harness.h"
#include "policy.h"

#define WAIT_S 60

static struct hx H;

/* What this test started, ended by pid in teardown. */
static pid_t agent_pid = -1, other_agent = -1;
static pid_t binders[4];
static int nbinders;
static char agent_log[PATH_MAX];
static char state_path[PATH_MAX];

/* ------------------------------------------------------------- helpers */

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static char *slurp(const char *path)
{
	static char buf[1 << 17];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, off = 0;

	buf[0] = 0;
	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - (size_t)off)) > 0)
		off += n;
	buf[off] = 0;
	close(fd);
	return buf;
}

static const char *log_text(void)
{
	const char *s = slurp(agent_log);

	return s ? s : "(no agent log)";
}

/* The state file for the pin dir, as portgate(8) documents it. */
static void derive_state_path(void)
{
	struct pg_sha256 c;
	uint8_t h[32];
	char hex[17];
	int i;

	pg_sha256_init(&c);
	pg_sha256_update(&c, H.pin, strlen(H.pin));
	pg_sha256_final(&c, h);
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(state_path, sizeof(state_path), "/run/portgate/agent-%s.json", hex);
}

/* Start `portgate run FILE --attach CG ARGS... --pin-dir PIN`, output to a log. */
static pid_t start_agent(const char *file, ...)
{
	char *argv[64];
	const char *extra[32];
	int n = 0, i, fd;
	va_list ap;
	pid_t pid;

	va_start(ap, file);
	while (n < 30 && (extra[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char *args[64];
		int k = 0;

		fd = open(agent_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		argv[k++] = (char *)H.portgate;
		argv[k++] = "run";
		argv[k++] = (char *)file;
		argv[k++] = "--attach";
		argv[k++] = H.cg;
		for (i = 0; i < n; i++)
			argv[k++] = (char *)extra[i];
		argv[k++] = "--pin-dir";
		argv[k++] = H.pin;
		argv[k] = NULL;
		memcpy(args, argv, sizeof(args));
		hx_exec(&H, args);
	}
	agent_pid = pid;
	return pid;
}

/* Signal the agent and reap it: its exit status, or -1 if it did not exit. */
static int stop_agent(int sig)
{
	int status;
	pid_t pid = agent_pid;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	agent_pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Has the agent exited on its own? Then reap it and give its status. */
static bool agent_exited(int *code)
{
	int status;

	if (agent_pid <= 0)
		return true;
	if (waitpid(agent_pid, &status, WNOHANG) != agent_pid)
		return false;
	agent_pid = -1;
	if (code)
		*code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return true;
}

/* A number member of a flat JSON object (compact, as portgate writes it). */
static long long jnum(const char *json, const char *key)
{
	char k[128];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = json ? strstr(json, k) : NULL;
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

static bool jhas(const char *json, const char *text)
{
	return json && strstr(json, text);
}

typedef bool (*cond_fn)(void *arg);

/* Poll cond until true; false after WAIT_S seconds or when the agent died. */
static bool wait_for(cond_fn cond, void *arg)
{
	uint64_t end = now_ms() + WAIT_S * 1000;

	while (now_ms() < end) {
		if (cond(arg))
			return true;
		if (agent_exited(NULL))
			return cond(arg);
		usleep(20000);
	}
	return false;
}

#define WAIT(what, cond, arg)                                                                      \
	do {                                                                                       \
		if (!wait_for(cond, arg))                                                          \
			fail_msg("%s:%d: gave up after %d s waiting for %s; agent state:\n%s\n"    \
				 "agent log:\n%s",                                                 \
				 __FILE__, __LINE__, WAIT_S, what, slurp(state_path), log_text()); \
	} while (0)

static bool gen_at_least(void *arg)
{
	const char *s = slurp(state_path);

	return jnum(s, "generation") >= *(long long *)arg && jhas(s, "\"last_attempt_ok\":true");
}

static bool failed_at_least(void *arg)
{
	return jnum(slurp(state_path), "reloads_failed") >= *(long long *)arg;
}

static bool file_exists(void *arg)
{
	struct stat sb;

	return !stat((const char *)arg, &sb);
}

#define WAIT_GEN(g)                                                                                \
	do {                                                                                       \
		long long g_ = (g);                                                                \
		WAIT("generation " #g, gen_at_least, &g_);                                         \
	} while (0)

/* Write a file in place: truncate, write, close (as `cat > FILE` does). */
static void write_in_place(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* Text with "@" replaced by the test's cgroup, as hx_policy() does. */
static const char *expand(const char *text)
{
	static char out[8192];
	size_t o = 0;

	for (; *text && o + sizeof(H.cg) < sizeof(out); text++) {
		if (*text == '@') {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", H.cg);
		} else {
			out[o++] = *text;
		}
	}
	out[o] = 0;
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static const char *tmp_path(const char *name)
{
	static char p[4][PATH_MAX];
	static int i;
	char *b = p[i++ & 3];

	snprintf(b, PATH_MAX, "%s/%s", H.tmp, name);
	return b;
}

/* The "agent" object of `status -j` (points into H.out). */
static const char *status_agent(void)
{
	const char *a;

	if (hx_run(&H, "status", "--json", NULL) != 0)
		fail_msg("status --json failed:\n%s", H.out);
	a = strstr(H.out, "\"agent\":{");
	if (!a)
		fail_msg("status --json has no agent object:\n%s", H.out);
	return a;
}

/* ------------------------------------------------------------ fixtures */

static int setup(void **state)
{
	const char *name = *state;

	if (hx_setup(&H, name))
		return -1;
	snprintf(agent_log, sizeof(agent_log), "%s/agent-%s.log", H.tmp, name);
	unlink(agent_log);
	derive_state_path();
	unlink(state_path);
	if (hx_mkcg(&H, "web") || hx_mkcg(&H, "other"))
		return -1;
	return 0;
}

static void kill_binders(void);

static int teardown(void **state)
{
	(void)state;
	if (agent_pid > 0) {
		hx_kill(agent_pid);
		agent_pid = -1;
	}
	if (other_agent > 0) {
		hx_kill(other_agent);
		other_agent = -1;
	}
	kill_binders();
	unlink(state_path);
	if (getenv("HX_VERBOSE"))
		fprintf(stderr, "--- agent log\n%s", log_text());
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

/* ------------------------------------------------------------- reloads */

static const char *const V1 = "default deny\nallow @/web tcp/80\n";
static const char *const V2 = "default deny\nallow @/web tcp/80,81\n";

static void reload_on_in_place_edit(void **state)
{
	const char *p = hx_policy(&H, "policy.conf", V1);
	char file[PATH_MAX];

	(void)state;
	snprintf(file, sizeof(file), "%s", p);
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	write_in_place(file, expand(V2));
	WAIT_GEN(2);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 81, .uid = NOBODY);
	if (!strstr(log_text(), "reload: applied"))
		fail_msg("want a reload line in the log:\n%s", log_text());
}

static void reload_on_rename_and_replace(void **state)
{
	char file[PATH_MAX];

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	/* as editors and `install` do: a new file, renamed over the old */
	hx_policy(&H, ".policy.conf.swp", V2);
	assert_int_equal(rename(tmp_path(".policy.conf.swp"), file), 0);
	WAIT_GEN(2);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	/* and a second time: the watch survives the first replacement */
	hx_policy(&H, ".policy.conf.swp", "default deny\nallow @/web tcp/82\n");
	assert_int_equal(rename(tmp_path(".policy.conf.swp"), file), 0);
	WAIT_GEN(3);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 82, .uid = NOBODY);
}

/*
 * The kubelet's AtomicWriter: DIR/portgate.conf -> ..data/portgate.conf,
 * ..data -> ..TIMESTAMP; an update writes a new ..TIMESTAMP directory,
 * makes the symlink ..data_tmp to it, renames ..data_tmp over ..data, then
 * removes the old directory.
 */
static void cm_write(const char *dir, const char *ts, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, ts);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/portgate.conf", dir, ts);
	write_file(p, expand(text));
}

/* The swap up to the rename; cm_cleanup() removes the old directory, as the
 * kubelet does next (the reload must not wait for that). */
static void cm_swap(const char *dir, const char *new_ts, const char *text)
{
	char tmp[PATH_MAX], data[PATH_MAX];

	cm_write(dir, new_ts, text);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
	snprintf(data, sizeof(data), "%s/..data", dir);
	assert_int_equal(symlink(new_ts, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
}

static void cm_cleanup(const char *dir, const char *old_ts)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", dir, old_ts);
	assert_int_equal(system(cmd), 0);
}

static void reload_on_configmap_data_swap(void **state)
{
	static const char *const ts1 = "..2026_11_29_07_00_00.000000001",
				 *const ts2 = "..2026_11_29_07_05_00.000000002",
				 *const ts3 = "..2026_11_29_07_10_00.000000003";
	char dir[1024], p[PATH_MAX], file[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/configmap", H.tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	cm_write(dir, ts1, V1);
	snprintf(p, sizeof(p), "%s/..data", dir);
	assert_int_equal(symlink(ts1, p), 0);
	snprintf(file, sizeof(file), "%s/portgate.conf", dir);
	assert_int_equal(symlink("..data/portgate.conf", file), 0);

	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	cm_swap(dir, ts2, V2);
	WAIT_GEN(2);
	cm_cleanup(dir, ts1);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	cm_swap(dir, ts3, "default deny\nallow @/web tcp/83\n");
	WAIT_GEN(3);
	cm_cleanup(dir, ts2);
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 83, .uid = NOBODY);
	/* removing the old directory changed nothing anyone reads: no apply for
	 * it, so the SIGHUP's apply is generation 4 */
	assert_int_equal(kill(agent_pid, SIGHUP), 0);
	WAIT_GEN(4);
	assert_int_equal(jnum(slurp(state_path), "generation"), 4);
	assert_int_equal(jnum(slurp(state_path), "reloads_ok"), 3);
	assert_int_equal(jnum(slurp(state_path), "reloads_failed"), 0);
}

/* "include DIR/conf.d/ *.conf": a file appearing in the empty conf.d, then edited. */
static void reload_on_included_files(void **state)
{
	char confd[1024], text[PATH_MAX + 64], file[PATH_MAX], inc[PATH_MAX];

	(void)state;
	snprintf(confd, sizeof(confd), "%s/conf.d", H.tmp);
	assert_int_equal(mkdir(confd, 0755), 0);
	snprintf(text, sizeof(text), "default deny\ninclude %s/*.conf\n", confd);
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", text));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	EXPECT_BIND(EPERM, .cg = "web", .port = 80, .uid = NOBODY);
	snprintf(inc, sizeof(inc), "%s/.web.tmp", confd);
	write_file(inc, expand("allow @/web tcp/80\n"));
	snprintf(text, sizeof(text), "%s/web.conf", confd);
	assert_int_equal(rename(inc, text), 0);
	WAIT_GEN(2);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	write_in_place(text, expand("allow @/web tcp/81\n"));
	WAIT_GEN(3);
	EXPECT_BIND(EPERM, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
}

static void reload_on_sighup(void **state)
{
	char file[PATH_MAX];

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	/* unchanged content: SIGHUP applies it anyway */
	assert_int_equal(kill(agent_pid, SIGHUP), 0);
	WAIT_GEN(2);
	if (!jhas(slurp(state_path), "\"last_attempt_trigger\":\"SIGHUP\""))
		fail_msg("want the trigger recorded:\n%s", slurp(state_path));
	assert_int_equal(jnum(slurp(state_path), "reloads_ok"), 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
}

/* ---------------------------------------------------- failure and exit */

static void broken_update_keeps_last_good_policy(void **state)
{
	char file[PATH_MAX];
	const char *a;
	long long one = 1, two = 2;

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	/* a parse error */
	hx_policy(&H, ".new", "default deny\nallow @/web tcp/70000\n");
	assert_int_equal(rename(tmp_path(".new"), file), 0);
	WAIT("a failed reload", failed_at_least, &one);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	a = status_agent();
	if (!jhas(a, "\"alive\":true") || !jhas(a, "\"last_attempt_ok\":false") ||
	    !jhas(a, "\"last_attempt_status\":3") || !jhas(a, "policy.conf:2:") ||
	    !jhas(a, "\"generation\":1"))
		fail_msg("status --json after a broken update:\n%s", H.out);
	if (!jhas(H.out, "\"enforcing\":true") || jnum(H.out, "generation") != 1)
		fail_msg("the policy in force changed:\n%s", H.out);
	/* the text form says so too */
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	if (!hx_out_has(&H, "agent:      running") || !hx_out_has(&H, "failed, exit status 3") ||
	    !hx_out_has(&H, "last error:"))
		fail_msg("status after a broken update:\n%s", H.out);
	if (!strstr(log_text(), "the policy in force is unchanged, generation 1"))
		fail_msg("want the failure logged:\n%s", log_text());

	/* a policy that parses but cannot apply: conflicting rules on one cgroup */
	hx_policy(&H, ".new", "default deny\nallow @/* tcp/80\ndeny @/web tcp/80\n");
	assert_int_equal(rename(tmp_path(".new"), file), 0);
	WAIT("a second failed reload", failed_at_least, &two);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);

	/* fixed: applied */
	hx_policy(&H, ".new", V2);
	assert_int_equal(rename(tmp_path(".new"), file), 0);
	WAIT_GEN(2);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	a = status_agent();
	if (!jhas(a, "\"last_attempt_ok\":true") || !jhas(a, "\"reloads_failed\":2") ||
	    !jhas(a, "\"reloads_ok\":1"))
		fail_msg("status --json after the fix:\n%s", H.out);
}

static void first_apply_failure_exits_with_its_status(void **state)
{
	const char *bad = hx_policy(&H, "policy.conf", "allow @/web tcp/0\n");
	char file[PATH_MAX], ready[PATH_MAX];
	struct stat sb;
	int code = -1;
	uint64_t end = now_ms() + WAIT_S * 1000;

	(void)state;
	snprintf(file, sizeof(file), "%s", bad);
	snprintf(ready, sizeof(ready), "%s/ready", H.tmp);
	assert_true(start_agent(file, "--ready-file", ready, NULL) > 0);
	while (!agent_exited(&code) && now_ms() < end)
		usleep(20000);
	if (agent_pid > 0)
		fail_msg("the agent keeps running on a file that never applied:\n%s", log_text());
	assert_int_equal(code, 3);
	assert_int_not_equal(stat(ready, &sb), 0);
	assert_int_not_equal(stat(H.pin, &sb), 0);
	if (!strstr(log_text(), "error: ") || !strstr(log_text(), "policy.conf:1:"))
		fail_msg("want the error in the log:\n%s", log_text());
	/* the state file says what happened */
	if (!jhas(slurp(state_path), "\"running\":false") ||
	    !jhas(slurp(state_path), "\"last_attempt_status\":3"))
		fail_msg("state after a failed start:\n%s", slurp(state_path));
}

static void sigterm_leaves_enforcement(void **state)
{
	char file[PATH_MAX], ready[PATH_MAX];
	struct stat sb;
	const char *a;

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	snprintf(ready, sizeof(ready), "%s/ready", H.tmp);
	assert_true(start_agent(file, "--ready-file", ready, NULL) > 0);
	WAIT("the ready file", file_exists, ready);
	assert_int_equal(stat(ready, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_int_equal(stop_agent(SIGTERM), 0);
	assert_int_not_equal(stat(ready, &sb), 0);
	/* still enforcing, with nobody following the file */
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 1);
	a = status_agent();
	if (!jhas(a, "\"alive\":false") || !jhas(a, "\"exited_cleanly\":true") ||
	    !jhas(a, "enforcement left in place"))
		fail_msg("status --json after SIGTERM:\n%s", H.out);
	if (!jhas(H.out, "\"enforcing\":true"))
		fail_msg("not enforcing after SIGTERM:\n%s", H.out);
	/* SIGINT does the same */
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(2);
	assert_int_equal(stop_agent(SIGINT), 0);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
}

static void detach_on_exit_removes_enforcement(void **state)
{
	char file[PATH_MAX];
	struct stat sb;

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, "--detach-on-exit", NULL) > 0);
	WAIT_GEN(1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	assert_int_equal(stop_agent(SIGTERM), 0);
	/* exactly what stop does */
	assert_int_not_equal(stat(H.pin, &sb), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET6_BIND, false), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET_SOCK_CREATE, false), 0);
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_SYSCTL, false), 0);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EACCES, .cg = "other", .port = 80, .uid = NOBODY);
	if (!strstr(log_text(), "programs detached"))
		fail_msg("want stop's outcome logged:\n%s", log_text());
}

/* ------------------------------------------------- SIGKILL and restart */

struct bind_stats {
	volatile int stop;
	volatile long ok, refused, wrong_grant, other_err;
	volatile int last_errno;
};

static struct bind_stats *stats;

static void kill_binders(void)
{
	int i;

	if (stats)
		stats->stop = 1;
	for (i = 0; i < nbinders; i++)
		hx_kill(binders[i]);
	nbinders = 0;
}

/* A child in cgroup rel, as nobody without capabilities, binding port in a
 * loop: granted counts refusals, otherwise grants are counted as wrong. */
static pid_t start_binder(const char *rel, int port, bool granted)
{
	char path[PATH_MAX], pid_s[32];
	pid_t pid = fork();

	if (pid)
		return pid;
	snprintf(path, sizeof(path), "%s%s/cgroup.procs", H.cg2, hx_path(&H, rel));
	snprintf(pid_s, sizeof(pid_s), "%d\n", getpid());
	{
		int fd = open(path, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, pid_s, strlen(pid_s)) < 0)
			_exit(255);
		close(fd);
	}
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		_exit(255);
	while (!stats->stop) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

		if (s < 0)
			_exit(254);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(s, (struct sockaddr *)&sin, sizeof(sin))) {
			if (granted)
				stats->ok++;
			else
				stats->wrong_grant++;
		} else if (errno == EPERM || errno == EACCES) {
			if (granted)
				stats->refused++;
			else
				stats->ok++;
			stats->last_errno = errno;
		} else {
			stats->other_err++;
			stats->last_errno = errno;
		}
		close(s);
		usleep(300);
	}
	_exit(0);
}

struct progress {
	long target;
};

static bool binds_reached(void *arg)
{
	return stats->ok >= ((struct progress *)arg)->target;
}

static bool agent_is(void *arg)
{
	const char *s = slurp(state_path);

	return jnum(s, "pid") == *(pid_t *)arg && jnum(s, "generation") >= 2 &&
	       jhas(s, "\"last_attempt_ok\":true");
}

static void sigkill_and_restart_keep_enforcing(void **state)
{
	char file[PATH_MAX], ready[PATH_MAX];
	struct progress pr;
	pid_t second;
	int i;

	(void)state;
	stats =
	    mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(stats != MAP_FAILED);
	memset((void *)stats, 0, sizeof(*stats));
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	snprintf(ready, sizeof(ready), "%s/ready", H.tmp);
	assert_true(start_agent(file, "--ready-file", ready, NULL) > 0);
	WAIT_GEN(1);
	binders[nbinders++] = start_binder("web", 80, true);
	binders[nbinders++] = start_binder("other", 80, false);
	assert_true(binders[0] > 0 && binders[1] > 0);
	pr.target = 200;
	WAIT("binds before the kill", binds_reached, &pr);

	for (i = 0; i < 3; i++) {
		stop_agent(SIGKILL);
		/* the ready file of the dead agent stays; the next one starts unready */
		second = start_agent(file, "--ready-file", ready, NULL);
		assert_true(second > 0);
		WAIT("the restarted agent's own apply", agent_is, &second);
		WAIT("the ready file", file_exists, ready);
		pr.target = stats->ok + 200;
		WAIT("binds after the restart", binds_reached, &pr);
	}
	kill_binders();
	print_message("binds during %d SIGKILLs and restarts: %ld as the policy says, %ld granted "
		      "binds refused, %ld ungranted binds granted, %ld other errors\n",
		      i, stats->ok, stats->refused, stats->wrong_grant, stats->other_err);
	if (stats->refused || stats->wrong_grant || stats->other_err)
		fail_msg("wrong decisions across agent restarts: %ld granted binds refused, %ld "
			 "ungranted granted, %ld other errors (last errno %d)",
			 stats->refused, stats->wrong_grant, stats->other_err, stats->last_errno);
	/* still one program per hook: taken over, never stacked */
	assert_int_equal(hx_prog_count(&H, "", BPF_CGROUP_INET4_BIND, false), 1);
	munmap((void *)stats, sizeof(*stats));
	stats = NULL;
}

/* ---------------------------------------------------------- prometheus */

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

struct sample {
	char name[128];
	char labels[16][2][1024]; /* key, unescaped value */
	int nlabels;
	double value;
};

/*
 * One sample line of the text exposition format (0.0.4):
 *   name [ "{" label="value" { "," label="value" } [ "," ] "}" ] value [ timestamp ]
 * with \\, \" and \n the only escapes in a value. 0, or -1 with why.
 */
static int parse_sample(const char *l, struct sample *s, const char **why)
{
	size_t n = 0;
	char *end;

	memset(s, 0, sizeof(*s));
	if (!is_name_start(*l))
		return *why = "metric name", -1;
	while (is_name_char(*l) && n + 1 < sizeof(s->name))
		s->name[n++] = *l++;
	if (*l == '{') {
		l++;
		while (*l != '}') {
			char *k, *v;
			size_t kn = 0, vn = 0;

			if (s->nlabels == 16)
				return *why = "too many labels", -1;
			k = s->labels[s->nlabels][0];
			v = s->labels[s->nlabels][1];
			if (!is_name_start(*l) || *l == ':')
				return *why = "label name", -1;
			while (is_name_char(*l) && *l != ':' && kn + 1 < 1024)
				k[kn++] = *l++;
			if (*l++ != '=' || *l++ != '"')
				return *why = "label =\"", -1;
			while (*l != '"') {
				if (!*l || *l == '\n')
					return *why = "unterminated label value", -1;
				if (*l == '\\') {
					l++;
					if (*l == 'n')
						v[vn++] = '\n';
					else if (*l == '\\' || *l == '"')
						v[vn++] = *l;
					else
						return *why = "bad escape in label value", -1;
					l++;
				} else {
					v[vn++] = *l++;
				}
				if (vn + 1 >= 1024)
					return *why = "label value too long for the test", -1;
			}
			l++;
			s->nlabels++;
			if (*l == ',')
				l++;
			else if (*l != '}')
				return *why = "',' or '}'", -1;
		}
		l++;
	}
	if (*l != ' ')
		return *why = "space before the value", -1;
	while (*l == ' ')
		l++;
	if (!strncmp(l, "+Inf", 4) || !strncmp(l, "-Inf", 4) || !strncmp(l, "NaN", 3)) {
		l += *l == 'N' ? 3 : 4;
	} else {
		s->value = strtod(l, &end);
		if (end == l)
			return *why = "value", -1;
		l = end;
	}
	if (*l == ' ') {
		while (*l == ' ')
			l++;
		strtoll(l, &end, 10);
		if (end == l)
			return *why = "timestamp", -1;
		l = end;
	}
	if (*l)
		return *why = "trailing text", -1;
	return 0;
}

static const char *label(const struct sample *s, const char *k)
{
	int i;

	for (i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i][0], k))
			return s->labels[i][1];
	return NULL;
}

/*
 * Check a whole exposition: every line a comment (HELP and TYPE well
 * formed, one TYPE per family, before its samples) or a sample; fill want
 * with the sample named want->name whose labels include those of want.
 */
static void check_exposition(const char *text, struct sample *want, bool *found)
{
	static char types[128][128];
	static struct sample s;
	int ntypes = 0, i, lineno = 0;
	char *copy = strdup(text), *line, *save = NULL;

	assert_non_null(copy);
	*found = false;
	if (!*text || text[strlen(text) - 1] != '\n')
		fail_msg("the exposition does not end with a newline:\n%s", text);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *why = NULL;

		lineno++;
		if (line[0] == '#') {
			char kind[8], name[128], rest[64];

			if (sscanf(line, "# %7s %127s %63s", kind, name, rest) < 2 ||
			    (strcmp(kind, "HELP") && strcmp(kind, "TYPE")))
				continue; /* a plain comment */
			for (i = 0; name[i]; i++)
				if (!(i ? is_name_char(name[i]) : is_name_start(name[i])))
					fail_msg("line %d: bad metric name in '%s'", lineno, line);
			if (!strcmp(kind, "TYPE")) {
				if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
				    strcmp(rest, "histogram") && strcmp(rest, "summary") &&
				    strcmp(rest, "untyped"))
					fail_msg("line %d: bad type in '%s'", lineno, line);
				for (i = 0; i < ntypes; i++)
					if (!strcmp(types[i], name))
						fail_msg("line %d: second TYPE for %s", lineno,
							 name);
				assert_true(ntypes < 128);
				snprintf(types[ntypes++], sizeof(types[0]), "%s", name);
			}
			continue;
		}
		if (parse_sample(line, &s, &why))
			fail_msg("line %d is not a valid sample (%s): '%s'", lineno, why, line);
		for (i = 0; i < ntypes && strcmp(types[i], s.name); i++)
			;
		if (i == ntypes)
			fail_msg("line %d: sample of %s before (or without) its TYPE", lineno,
				 s.name);
		if (strncmp(s.name, "portgate_", 9))
			fail_msg("line %d: metric %s lacks the portgate_ prefix", lineno, s.name);
		if (!strcmp(s.name, want->name)) {
			bool all = true;

			for (i = 0; i < want->nlabels; i++) {
				const char *v = label(&s, want->labels[i][0]);

				all = all && v && !strcmp(v, want->labels[i][1]);
			}
			if (all) {
				want->value = s.value;
				*found = true;
			}
		}
	}
	free(copy);
}

static void want_label(struct sample *w, const char *k, const char *v)
{
	snprintf(w->labels[w->nlabels][0], 1024, "%s", k);
	snprintf(w->labels[w->nlabels][1], 1024, "%s", v);
	w->nlabels++;
}

static double rule_hits(struct sample *w)
{
	bool found;

	if (hx_run(&H, "status", "--prometheus", NULL) != 0)
		fail_msg("status --prometheus failed:\n%s", H.out);
	check_exposition(H.out, w, &found);
	if (!found)
		fail_msg("no %s sample with the rule's labels in:\n%s", w->name, H.out);
	return w->value;
}

static void prometheus_parses_and_counts(void **state)
{
	/* a file name that needs every escape a label value has */
	const char *name = "we\"ird\\pol\nicy.conf";
	char file[PATH_MAX], sel[PATH_MAX];
	struct sample w = { .name = "portgate_rule_hits_total" };

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, name, V2));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	snprintf(sel, sizeof(sel), "%s/web", H.cg);
	want_label(&w, "action", "allow");
	want_label(&w, "selector", sel);
	want_label(&w, "ports", "tcp/80,81");
	assert_true(rule_hits(&w) == 0);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY);
	assert_true(rule_hits(&w) == 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	assert_true(rule_hits(&w) == 2);
	/* the deny-default verdict counter and the agent's own */
	{
		struct sample v = { .name = "portgate_binds_total" };
		struct sample ag = { .name = "portgate_agent_running" };
		struct sample info = { .name = "portgate_policy_info" };
		bool found;

		EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
		want_label(&v, "verdict", "deny-default");
		assert_int_equal(hx_run(&H, "status", "--prometheus", NULL), 0);
		check_exposition(H.out, &v, &found);
		assert_true(found && v.value == 1);
		check_exposition(H.out, &ag, &found);
		assert_true(found && ag.value == 1);
		want_label(&info, "file", file);
		want_label(&info, "mode", "grant");
		check_exposition(H.out, &info, &found);
		assert_true(found && info.value == 1);
		/* nothing that changes with every apply or edit in a label */
		assert_null(strstr(H.out, "generation=\""));
		assert_null(strstr(H.out, "index=\""));
		assert_null(strstr(H.out, "line=\""));
	}
	/* -j and --prometheus together are a usage error */
	assert_int_equal(hx_run(&H, "status", "--prometheus", "--json", NULL), 2);
}

static void promtool_check(const char *metrics);

/* The labels of the rule series of selector sel and ports in the exposition
 * text, into out ("" if there is none); its value in *value. */
static void rule_series(const char *text, const char *sel, const char *ports, char *out, size_t len,
			double *value)
{
	char want_sel[PATH_MAX + 16], want_ports[64];
	const char *l, *end;

	snprintf(want_sel, sizeof(want_sel), "selector=\"%s\"", sel);
	snprintf(want_ports, sizeof(want_ports), "ports=\"%s\"", ports);
	out[0] = 0;
	for (l = text; l && *l; l = end ? end + 1 : NULL) {
		size_t n;

		end = strchr(l, '\n');
		n = end ? (size_t)(end - l) : strlen(l);
		if (strncmp(l, "portgate_rule_hits_total{", 25) ||
		    !memmem(l, n, want_sel, strlen(want_sel)) ||
		    !memmem(l, n, want_ports, strlen(want_ports)))
			continue;
		assert_false(out[0]); /* one series per rule */
		assert_true(n < len);
		snprintf(out, len, "%.*s", (int)n, l);
		*value = strtod(strrchr(out, '}') + 1, NULL);
		*strrchr(out, '}') = 0;
	}
}

/* status --prometheus, checked whole and by promtool. */
static const char *prometheus(void)
{
	bool found;
	struct sample none = { .name = "portgate_none" };

	if (hx_run(&H, "status", "--prometheus", NULL) != 0)
		fail_msg("status --prometheus failed:\n%s", H.out);
	check_exposition(H.out, &none, &found);
	promtool_check(H.out);
	return H.out;
}

/* The binds counted with verdict v. */
static double binds_of(const char *text, const char *v)
{
	struct sample s = { .name = "portgate_binds_total" };
	bool found;

	want_label(&s, "verdict", v);
	check_exposition(text, &s, &found);
	assert_true(found);
	return s.value;
}

/*
 * Counters across applies: an edit that adds a rule above another keeps
 * the kept rule's series (the same labels: no index, line or generation)
 * and its count, for any reader (status --prometheus is a process of its
 * own); a rule removed ends its series, its binds stay in binds_total. The
 * policy file's name is Latin-1, as a label value it reads U+FFFD.
 */
static void prometheus_counters_survive_applies(void **state)
{
	char file[PATH_MAX], sel[PATH_MAX], first[PATH_MAX + 256], again[PATH_MAX + 256];
	double hits = -1, later = -1, grant;
	const char *out;

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "caf\xe9.conf", V1));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	snprintf(sel, sizeof(sel), "%s/web", H.cg);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 80, .uid = NOBODY);
	out = prometheus();
	assert_non_null(strstr(out, "caf\xef\xbf\xbd.conf\""));
	assert_null(strchr(out, '\xe9'));
	rule_series(out, sel, "tcp/80", first, sizeof(first), &hits);
	if (!first[0] || hits != 2)
		fail_msg("no series of %s tcp/80 with 2 hits in:\n%s", sel,
			 strstr(out, "# HELP portgate_rule_hits_total"));
	assert_non_null(strstr(first, "id=\""));
	assert_true(binds_of(out, "grant") == 2 && binds_of(out, "deny-default") == 1);

	/* a rule added above it: generation 2, the same series, the same count */
	/* renamed over it, so that the agent applies it once (no truncated file) */
	hx_policy(&H, ".swp", "default deny\nallow @/other tcp/81\nallow @/web tcp/80\n");
	assert_int_equal(rename(tmp_path(".swp"), file), 0);
	WAIT_GEN(2);
	out = prometheus();
	if (!strstr(out, "portgate_policy_generation 2\n"))
		fail_msg("not generation 2:\n%s", strstr(out, "portgate_policy_generation"));
	rule_series(out, sel, "tcp/80", again, sizeof(again), &later);
	assert_string_equal(again, first);
	assert_true(later == 2);
	assert_true(binds_of(out, "grant") == 2 && binds_of(out, "deny-default") == 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "other", .port = 81, .uid = NOBODY);
	out = prometheus();
	rule_series(out, sel, "tcp/80", again, sizeof(again), &later);
	assert_string_equal(again, first);
	assert_true(later == 3);
	assert_true(binds_of(out, "grant") == 4);

	/* the rule removed: its series ends, binds_total keeps its binds */
	hx_policy(&H, ".swp", "default deny\nallow @/other tcp/81\n");
	assert_int_equal(rename(tmp_path(".swp"), file), 0);
	WAIT_GEN(3);
	out = prometheus();
	rule_series(out, sel, "tcp/80", again, sizeof(again), &later);
	assert_string_equal(again, "");
	grant = binds_of(out, "grant");
	assert_true(grant == 4);
	assert_true(binds_of(out, "deny-default") == 1);
}

struct metrics_want {
	const char *path;
	const char *text;
};

static bool metrics_has(void *arg)
{
	struct metrics_want *m = arg;
	const char *s = slurp(m->path);

	return s && strstr(s, m->text);
}

static void metrics_file_kept_current(void **state)
{
	char file[PATH_MAX], dir[1024], prom[PATH_MAX], hits[256];
	struct metrics_want m;
	struct sample w = { .name = "portgate_policy_generation" };
	struct dirent *de;
	struct stat sb;
	bool found;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/textfile", H.tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(prom, sizeof(prom), "%s/portgate.prom", dir);
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, "--metrics-file", prom, "--metrics-interval", "1", NULL) > 0);
	WAIT_GEN(1);
	m.path = prom;
	m.text = "portgate_policy_generation 1\n";
	WAIT("the metrics file", metrics_has, &m);
	check_exposition(slurp(prom), &w, &found);
	assert_true(found && w.value == 1);
	assert_int_equal(stat(prom, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	/* every interval: a bind's count shows up without a reload */
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	snprintf(hits, sizeof(hits), "portgate_binds_total{verdict=\"grant\"} 1\n");
	m.text = hits;
	WAIT("the bind counted in the metrics file", metrics_has, &m);
	/* after a reload */
	write_in_place(file, expand(V2));
	WAIT_GEN(2);
	m.text = "portgate_policy_generation 2\n";
	WAIT("generation 2 in the metrics file", metrics_has, &m);
	m.text = "portgate_agent_reloads_total{result=\"ok\"} 1\n";
	WAIT("the reload counted in the metrics file", metrics_has, &m);
	/* nothing but the file itself in the collector's directory */
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "portgate.prom"))
			fail_msg("stray file %s in %s", de->d_name, dir);
	closedir(d);
	/* on exit: rewritten with the agent gone */
	assert_int_equal(stop_agent(SIGTERM), 0);
	assert_non_null(strstr(slurp(prom), "portgate_agent_running 0\n"));
}

/* The state file: where portgate(8) says, root's alone; status follows it. */
static void state_file_and_status(void **state)
{
	char file[PATH_MAX];
	struct stat sb;
	const char *s;
	char pid[32];

	(void)state;
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, NULL) > 0);
	WAIT_GEN(1);
	assert_int_equal(stat("/run/portgate", &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(state_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);
	s = slurp(state_path);
	assert_int_equal(jnum(s, "pid"), agent_pid);
	if (!jhas(s, file) || jnum(s, "starttime") <= 0 || jnum(s, "started_at") <= 0 ||
	    jnum(s, "last_success_at") <= 0)
		fail_msg("state file:\n%s", s);
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	snprintf(pid, sizeof(pid), "pid %d", agent_pid);
	if (!hx_out_has(&H, "agent:      running") || !hx_out_has(&H, pid))
		fail_msg("status:\n%s", H.out);
	/* a second agent on the same pin dir is refused while the first lives */
	{
		int code = -1;
		uint64_t end = now_ms() + WAIT_S * 1000;

		other_agent = agent_pid; /* the first: teardown ends it on any exit path */
		assert_true(start_agent(file, NULL) > 0);
		while (!agent_exited(&code) && now_ms() < end)
			usleep(20000);
		if (agent_pid > 0) {
			hx_kill(agent_pid);
			agent_pid = -1;
		}
		agent_pid = other_agent;
		other_agent = -1;
		assert_int_equal(code, 1);
		if (!strstr(log_text(), "already follows"))
			fail_msg("want the other agent named:\n%s", log_text());
	}
	/* a dead agent is not reported alive */
	assert_int_equal(stop_agent(SIGKILL), -1);
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	if (!hx_out_has(&H, "is gone without exiting cleanly"))
		fail_msg("status after SIGKILL:\n%s", H.out);
}

/* ------------------------------------------------------------- --listen */

/*
 * GET path from 127.0.0.1:port (HTTP/1.0, the test's own few lines: the
 * product's server is libmicrohttpd); the status code, the body in body.
 */
static int http_get(int port, const char *path, char *body, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[256], resp[65536];
	size_t got = 0;
	ssize_t n;
	int fd, code = -1;
	char *p;

	body[0] = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	resp[got] = 0;
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	if ((p = strstr(resp, "\r\n\r\n")))
		snprintf(body, len, "%s", p + 4);
	return code;
}

static bool http_ready(void *arg)
{
	char body[4096];

	return http_get(*(int *)arg, "/readyz", body, sizeof(body)) == 200;
}

static bool http_not_ready(void *arg)
{
	char body[4096];

	return http_get(*(int *)arg, "/readyz", body, sizeof(body)) == 503;
}

/* The metrics as `promtool check metrics` reads them ($PROMTOOL: make integ
 * sets it, fetching Debian's promtool when it is not installed). */
static void promtool_check(const char *metrics)
{
	const char *promtool = getenv("PROMTOOL");
	char path[PATH_MAX], cmd[2 * PATH_MAX + 64];
	FILE *f;
	int rc;

	if (!promtool || !*promtool)
		fail_msg("PROMTOOL is not set: run through make integ, which provides it");
	snprintf(path, sizeof(path), "%s", tmp_path("metrics.txt"));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(metrics, f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' 2>&1", promtool, path);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("promtool check metrics failed (%d) on:\n%s", rc, metrics);
}

/* /healthz, /readyz and /metrics of `run --listen`, and /readyz after a
 * rejected reload: 503 with the reason, while the old policy enforces. */
static void listen_health_ready_metrics(void **state)
{
	char file[PATH_MAX], body[65536], addr[64];
	int port = 20000 + (int)(getpid() % 20000);

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(file, sizeof(file), "%s", hx_policy(&H, "policy.conf", V1));
	assert_true(start_agent(file, "--listen", addr, NULL) > 0);
	WAIT_GEN(1);
	WAIT("/readyz 200", http_ready, &port);
	assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 200);
	if (!strstr(body, "ok"))
		fail_msg("/healthz: %s", body);
	assert_int_equal(http_get(port, "/readyz", body, sizeof(body)), 200);
	if (!strstr(body, "generation 1"))
		fail_msg("/readyz: %s", body);
	assert_int_equal(http_get(port, "/metrics", body, sizeof(body)), 200);
	if (!strstr(body, "portgate_enforcing 1") || !strstr(body, "portgate_policy_generation 1"))
		fail_msg("/metrics:\n%s", body);
	promtool_check(body);
	assert_int_equal(http_get(port, "/nothing", body, sizeof(body)), 404);

	/* a rejected reload: not ready, and why; the old policy enforces */
	hx_policy(&H, ".new", "default deny\nallow @/web tcp/70000\n");
	assert_int_equal(rename(tmp_path(".new"), file), 0);
	WAIT("/readyz 503", http_not_ready, &port);
	assert_int_equal(http_get(port, "/readyz", body, sizeof(body)), 503);
	if (!strstr(body, "failed") || !strstr(body, "generation 1 stays enforced"))
		fail_msg("/readyz after a rejected reload: %s", body);
	assert_int_equal(http_get(port, "/healthz", body, sizeof(body)), 200);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);

	/* fixed: ready again */
	hx_policy(&H, ".new", V2);
	assert_int_equal(rename(tmp_path(".new"), file), 0);
	WAIT_GEN(2);
	WAIT("/readyz 200 again", http_ready, &port);
	assert_int_equal(http_get(port, "/readyz", body, sizeof(body)), 200);
	if (!strstr(body, "generation 2"))
		fail_msg("/readyz after the fix: %s", body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(reload_on_in_place_edit),
		T(reload_on_rename_and_replace),
		T(reload_on_configmap_data_swap),
		T(reload_on_included_files),
		T(reload_on_sighup),
		T(broken_update_keeps_last_good_policy),
		T(first_apply_failure_exits_with_its_status),
		T(sigterm_leaves_enforcement),
		T(detach_on_exit_removes_enforcement),
		T(sigkill_and_restart_keep_enforcing),
		T(prometheus_parses_and_counts),
		T(prometheus_counters_survive_applies),
		T(metrics_file_kept_current),
		T(state_file_and_status),
		T(listen_health_ready_metrics),
	};
	int r;

	if (hx_init(&H))
		return 1;
	hx_filters();
	/* hx_init() gave this mount namespace a /run of its own: the agent's
	 * state directory, /run/portgate, never reaches the host's. */
	r = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return r;
}
