// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <bpf/bpf.h>

#include "cgroup.h"
#include "harness.h"

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int read_all(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return 0;
}

/* Move this process into the cgroup at path (from the root). */
static int move_self(struct hx *h, const char *path)
{
	char p[2048], pid[32];

	snprintf(p, sizeof(p), "%s%s/cgroup.procs", h->cg2, strcmp(path, "/") ? path : "");
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	return write_str(p, pid);
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (s < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)))
		err = -errno;
	close(s);
	return err;
}

/* Remove a cgroup directory and everything under it, deepest first. */
static void rm_cgroup_tree(const char *dir)
{
	char cmd[PATH_MAX + 64];

	/* find -depth lists children before parents; rmdir detaches their links. */
	snprintf(cmd, sizeof(cmd), "find '%s' -depth -type d -exec rmdir {} + 2>/dev/null", dir);
	if (system(cmd)) {
		/* Reported by the caller's check below. */
	}
}

/* Runs that died by SIGKILL leave /portgate-test.PID behind: remove those
 * whose process is gone (they are ours: only this harness makes them). */
static void remove_stale(const char *cg2)
{
	char dir[PATH_MAX], proc[64];
	struct dirent *de;
	DIR *d = opendir(cg2);

	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid;
		struct stat sb;

		if (sscanf(de->d_name, "portgate-test.%d", &pid) != 1 || pid <= 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%d", pid);
		if (!stat(proc, &sb))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", cg2, de->d_name);
		fprintf(stderr, "harness: removing %s, left by a run that died\n", dir);
		rm_cgroup_tree(dir);
	}
	closedir(d);
}

static struct hx *cleanup_h;

/* SIGINT, SIGTERM, SIGHUP: clean up as on a normal exit, then die of it. */
static void on_signal(int sig)
{
	struct hx *h = cleanup_h;

	cleanup_h = NULL;
	if (h) {
		if (h->cg[0])
			hx_teardown(h);
		hx_fini(h);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

int hx_init(struct hx *h)
{
	int err;

	memset(h, 0, sizeof(*h));
	if (geteuid()) {
		fprintf(stderr, "integration tests need root\n");
		return -1;
	}
	h->portgate = getenv("PORTGATE");
	if (!h->portgate) {
		fprintf(stderr, "set PORTGATE to the portgate binary under test\n");
		return -1;
	}
	/* Private mounts and network: nothing here reaches the host's. */
	if (unshare(CLONE_NEWNS | CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNS|CLONE_NEWNET)");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("making mounts private");
		return -1;
	}
	/* portgate run keeps its state file in /run/portgate: a /run of our own */
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")) {
		perror("mounting a private tmpfs on /run");
		return -1;
	}
	if ((err = lo_up())) {
		fprintf(stderr, "cannot bring lo up: %s\n", strerror(-err));
		return -1;
	}
	if ((err = pg_cg2_mount(h->cg2, sizeof(h->cg2)))) {
		fprintf(stderr, "no cgroup2 mount: %s\n", strerror(-err));
		return -1;
	}
	snprintf(h->tmp, sizeof(h->tmp), "/tmp/portgate-test.XXXXXX");
	if (!mkdtemp(h->tmp)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(h->bpffs, sizeof(h->bpffs), "%s/bpffs", h->tmp);
	if (mkdir(h->bpffs, 0700) || mount("bpf", h->bpffs, "bpf", 0, "mode=0700")) {
		perror("mounting a private bpffs");
		return -1;
	}
	{
		char buf[2048], *l;

		if (read_all("/proc/self/cgroup", buf, sizeof(buf)) || !(l = strstr(buf, "0::"))) {
			fprintf(stderr, "cannot read this process's cgroup\n");
			return -1;
		}
		l += 3;
		l[strcspn(l, "\n")] = 0;
		snprintf(h->home, sizeof(h->home), "%s", l);
	}
	remove_stale(h->cg2);
	snprintf(h->base, sizeof(h->base), "/portgate-test.%d", getpid());
	{
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s%s", h->cg2, h->base);
		if (mkdir(dir, 0755)) {
			perror(dir);
			return -1;
		}
	}
	cleanup_h = h;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	return 0;
}

void hx_fini(struct hx *h)
{
	char dir[PATH_MAX], cmd[PATH_MAX + 32];
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s%s", h->cg2, h->base);
	rm_cgroup_tree(dir);
	if (!stat(dir, &sb))
		fprintf(stderr, "warning: could not remove test cgroup %s\n", dir);
	umount2(h->bpffs, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->tmp);
	if (system(cmd))
		fprintf(stderr, "warning: could not remove %s\n", h->tmp);
}

int hx_setup(struct hx *h, const char *name)
{
	char dir[PATH_MAX];
	int err;

	h->nt++;
	snprintf(h->cg, sizeof(h->cg), "%s/%s", h->base, name);
	snprintf(dir, sizeof(dir), "%s%s", h->cg2, h->cg);
	if (mkdir(dir, 0755)) {
		perror(dir);
		return -1;
	}
	snprintf(h->pin, sizeof(h->pin), "%s/%s", h->bpffs, name);
	/* A network namespace of its own: sysctl changes die with it. */
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if ((err = lo_up())) {
		fprintf(stderr, "cannot bring lo up: %s\n", strerror(-err));
		return -1;
	}
	if (hx_mkcg(h, "runner") || move_self(h, hx_path(h, "runner"))) {
		fprintf(stderr, "cannot move the runner into %s/runner\n", h->cg);
		return -1;
	}
	return 0;
}

void hx_teardown(struct hx *h)
{
	char dir[PATH_MAX];
	struct stat sb;

	if (move_self(h, h->home))
		fprintf(stderr, "warning: cannot move the runner back to %s\n", h->home);
	/* stop restores sysctls and detaches; rmdir below detaches whatever is left. */
	if (!stat(h->pin, &sb))
		hx_run(h, "stop", NULL);
	snprintf(dir, sizeof(dir), "%s%s", h->cg2, h->cg);
	rm_cgroup_tree(dir);
	if (!stat(dir, &sb))
		fprintf(stderr, "warning: could not remove test cgroup %s\n", dir);
	h->cg[0] = 0; /* nothing left for a signal's cleanup */
}

const char *hx_path(struct hx *h, const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;
	char *b = buf[i++ & 3];

	if (!rel || !*rel)
		snprintf(b, PATH_MAX, "%s", h->cg);
	else
		snprintf(b, PATH_MAX, "%s/%s", h->cg, rel);
	return b;
}

static void full_dir(struct hx *h, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s%s", h->cg2, hx_path(h, rel));
}

int hx_mkcg(struct hx *h, const char *rel)
{
	char dir[PATH_MAX], *p;

	full_dir(h, rel, dir, sizeof(dir));
	for (p = dir + strlen(h->cg2) + strlen(h->cg) + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int hx_rmcg(struct hx *h, const char *rel)
{
	char dir[PATH_MAX];

	full_dir(h, rel, dir, sizeof(dir));
	return rmdir(dir) ? -errno : 0;
}

unsigned long long hx_cgid(struct hx *h, const char *rel)
{
	uint64_t id = 0;

	pg_cg_id(h->cg2, hx_path(h, rel), &id);
	return (unsigned long long)id;
}

const char *hx_policy(struct hx *h, const char *name, const char *text)
{
	static char path[PATH_MAX];
	FILE *f;
	const char *c;

	snprintf(path, sizeof(path), "%s/%s", h->tmp, name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	for (c = text; *c; c++) {
		if (*c == '@')
			fputs(h->cg, f);
		else
			fputc(*c, f);
	}
	fclose(f);
	return path;
}

void hx_exec(struct hx *h, char *const argv[])
{
	char *wrapped[96], *wrap = getenv("HX_WRAP"), *save = NULL, *t;
	int nw = 0, i;

	/* HX_WRAP="valgrind --error-exitcode=99 ...": run portgate under it */
	if (wrap && *wrap) {
		wrap = strdup(wrap);
		for (t = strtok_r(wrap, " ", &save); t && nw < 32; t = strtok_r(NULL, " ", &save))
			wrapped[nw++] = t;
		for (i = 0; argv[i] && nw < 95; i++)
			wrapped[nw++] = argv[i];
		wrapped[nw] = NULL;
		execvp(wrapped[0], wrapped);
		_exit(127);
	}
	execv(h->portgate, argv);
	_exit(127);
}

const char *hx_errname(int e)
{
	switch (e) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case EINVAL:
		return "EINVAL";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EADDRINUSE:
		return "EADDRINUSE";
	case EPROTONOSUPPORT:
		return "EPROTONOSUPPORT";
	case -1:
		return "setup-failed";
	default:
		return strerror(e);
	}
}

int hx_run_argv(struct hx *h, char *const argv[], int (*pre)(void *arg), void *arg)
{
	int pipefd[2], status;
	size_t off = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		if (pre && pre(arg))
			_exit(126);
		hx_exec(h, argv);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], h->out + off, sizeof(h->out) - 1 - off)) > 0)
		off += (size_t)n;
	h->out[off] = 0;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (getenv("HX_VERBOSE"))
		fprintf(stderr, "--- portgate %s -> %d\n%s", argv[1], status, h->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int hx_argv(struct hx *h, char **argv, int max, const char *cmd, va_list ap)
{
	const char *a;
	int n = 0;

	argv[n++] = (char *)h->portgate;
	argv[n++] = (char *)cmd;
	while ((a = va_arg(ap, const char *)) && n < max - 3)
		argv[n++] = (char *)a;
	if (strcmp(cmd, "check")) {
		argv[n++] = "--pin-dir";
		argv[n++] = h->pin;
	}
	argv[n] = NULL;
	return n;
}

int hx_run(struct hx *h, const char *cmd, ...)
{
	char *argv[64];
	va_list ap;

	va_start(ap, cmd);
	hx_argv(h, argv, 64, cmd, ap);
	va_end(ap);
	return hx_run_argv(h, argv, NULL, NULL);
}

int hx_apply(struct hx *h, const char *policy_text)
{
	const char *p = hx_policy(h, "policy.conf", policy_text);

	return hx_run(h, "apply", p, "--attach", h->cg, NULL);
}

/* Child: join cgroup rel. */
static int join(struct hx *h, const char *rel)
{
	char path[PATH_MAX], pid[32];

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", h->cg2, hx_path(h, rel));
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	return write_str(path, pid);
}

static int drop_to(uid_t uid)
{
	if (!uid)
		return 0;
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -1;
	return 0;
}

/* To uid (not 0) with CAP_NET_BIND_SERVICE alone kept, effective. */
static int drop_to_bind_cap(uid_t uid)
{
	struct __user_cap_header_struct hd = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || drop_to(uid))
		return -1;
	d[0].effective = d[0].permitted = 1u << CAP_NET_BIND_SERVICE;
	return syscall(SYS_capset, &hd, d) ? -1 : 0;
}

static int child_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
		return -1;
	return WEXITSTATUS(status);
}

static int bind_child(struct hx *h, const struct hx_bind *b)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int s, one = 1, zero = 0;

	if (join(h, b->cg))
		_exit(255);
	s = socket(b->family, b->type | SOCK_CLOEXEC, b->proto);
	if (s < 0)
		_exit(errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT ? 254 : 253);
	if (b->move_to && join(h, b->move_to))
		_exit(255);
	if (b->dual && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		_exit(255);
	if (b->freebind &&
	    setsockopt(s, b->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       b->family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one, sizeof(one)))
		_exit(255);
	if (b->bind_cap ? drop_to_bind_cap(b->uid) : drop_to(b->uid))
		_exit(255);
	if (b->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = b->unspec ? AF_UNSPEC : AF_INET;
		sin->sin_port = htons((uint16_t)b->port);
		if (b->addr && inet_pton(AF_INET, b->addr, &sin->sin_addr) != 1)
			_exit(255);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)b->port);
		if (b->addr && inet_pton(AF_INET6, b->addr, &sin6->sin6_addr) != 1)
			_exit(255);
		len = sizeof(*sin6);
	}
	if (bind(s, (struct sockaddr *)&ss, len))
		_exit(errno);
	_exit(0);
}

int hx_bind(struct hx *h, const struct hx_bind *b)
{
	pid_t pid = fork();
	int r;

	if (pid < 0)
		return -1;
	if (!pid)
		bind_child(h, b);
	r = child_wait(pid);
	if (r == 254)
		return EPROTONOSUPPORT;
	if (r == 253)
		return -1;
	return r;
}

int hx_socket(struct hx *h, const char *cg, int family, int type, int proto, uid_t uid)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (join(h, cg) || drop_to(uid))
			_exit(255);
		if (socket(family, type, proto) < 0)
			_exit(errno);
		_exit(0);
	}
	return child_wait(pid);
}

int hx_sysctl_write(struct hx *h, const char *cg, const char *name, const char *value)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		char path[PATH_MAX];
		int err;

		if (join(h, cg))
			_exit(255);
		snprintf(path, sizeof(path), "/proc/sys/%s", name);
		err = write_str(path, value);
		_exit(err ? -err : 0);
	}
	return child_wait(pid);
}

long hx_sysctl_read(const char *name)
{
	char path[PATH_MAX], buf[64];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

int hx_prog_count(struct hx *h, const char *rel, int attach_type, bool effective)
{
	char dir[PATH_MAX];
	__u32 ids[64], cnt = 64, flags = 0;
	int fd, r;

	full_dir(h, rel, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = bpf_prog_query(fd, (enum bpf_attach_type)attach_type,
			   effective ? BPF_F_QUERY_EFFECTIVE : 0, &flags, ids, &cnt);
	close(fd);
	return r ? -1 : (int)cnt;
}

bool hx_out_has(struct hx *h, const char *s)
{
	return strstr(h->out, s) != NULL;
}

pid_t hx_spawn_in(struct hx *h, const char *path)
{
	return hx_spawn(h, path, false);
}

pid_t hx_spawn(struct hx *h, const char *path, bool own_netns)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe2(ready, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(ready[0]);
		if (move_self(h, path))
			_exit(255);
		if (own_netns && unshare(CLONE_NEWNET))
			_exit(255);
		if (write(ready[1], "x", 1) != 1)
			_exit(255);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		hx_kill(pid);
		return -1;
	}
	close(ready[0]);
	return pid;
}

void hx_kill(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

long hx_sysctl_read_in(pid_t pid, const char *name)
{
	char path[PATH_MAX];
	int self, target;
	long v;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	target = open(path, O_RDONLY | O_CLOEXEC);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (target < 0 || self < 0 || setns(target, CLONE_NEWNET)) {
		v = -1;
		goto out;
	}
	v = hx_sysctl_read(name);
	if (setns(self, CLONE_NEWNET))
		abort(); /* never go on in the wrong namespace */
out:
	if (target >= 0)
		close(target);
	if (self >= 0)
		close(self);
	return v;
}
