// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * harness_attack.c - helpers for test_attack.c (see harness_attack.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/io_uring.h>

#include "harness_attack.h"

/* IORING_OP_BIND is Linux 6.11; the build machine's headers may be older. */
#define HXA_IORING_OP_BIND 56
#ifndef IORING_REGISTER_PROBE
#define IORING_REGISTER_PROBE 8
#endif
#ifndef IO_URING_OP_SUPPORTED
#define IO_URING_OP_SUPPORTED (1U << 0)
#endif

static int put_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t n = strlen(s);

	if (fd < 0)
		return errno;
	if (write(fd, s, n) != (ssize_t)n)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In a child: no groups, uid/gid, no capabilities; dumpable again. */
static int drop(uid_t uid)
{
	if (!uid)
		return 0;
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -1;
	/* a uid change clears dumpable; /proc/self/{uid,gid}_map need it */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -1;
	return 0;
}

static int drop_hook(void *arg)
{
	return drop(*(const uid_t *)arg);
}

int hxa_run_as(struct hx *h, uid_t uid, const char *cmd, ...)
{
	char *argv[64];
	va_list ap;

	va_start(ap, cmd);
	hx_argv(h, argv, 64, cmd, ap);
	va_end(ap);
	return hx_run_argv(h, argv, drop_hook, &uid);
}

void *hxa_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void hxa_shared_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

int hxa_child(struct hx *h, const char *path, uid_t uid, int (*fn)(void *arg, void *shared),
	      void *arg, void *shared, size_t len)
{
	pid_t pid;

	(void)len;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int r;

		if (path) {
			char procs[PATH_MAX], me[32];

			snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", h->cg2, path);
			snprintf(me, sizeof(me), "%d\n", getpid());
			if (put_str(procs, me))
				_exit(255);
		}
		if (drop(uid))
			_exit(255);
		r = fn(arg, shared);
		_exit(r < 0 || r > 254 ? 254 : r);
	}
	return wait_child(pid);
}

int hxa_enter_userns(const char **stage)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int err;

	*stage = "unshare(CLONE_NEWUSER|CLONE_NEWNET)";
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -errno;
	*stage = "writing /proc/self/setgroups";
	err = put_str("/proc/self/setgroups", "deny");
	if (err && err != ENOENT)
		return -err;
	*stage = "writing /proc/self/uid_map";
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	if ((err = put_str("/proc/self/uid_map", map)))
		return -err;
	*stage = "writing /proc/self/gid_map";
	snprintf(map, sizeof(map), "0 %u 1\n", gid);
	if ((err = put_str("/proc/self/gid_map", map)))
		return -err;
	*stage = "becoming uid 0 in the user namespace";
	if (geteuid() != 0)
		return -EPERM;
	*stage = NULL;
	return 0;
}

int hxa_sysctl_put(const char *name, const char *value)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	return put_str(path, value);
}

int hxa_sysctl_get(const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int hxa_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (s < 0)
		return errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)))
		err = errno;
	close(s);
	return err;
}

static int local_port(int s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(s, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int hxa_autobind_listen(int family)
{
	int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	if (s < 0)
		return -errno;
	if (listen(s, 1)) {
		port = -errno;
		close(s);
		return port;
	}
	port = local_port(s);
	close(s);
	return port;
}

int hxa_autobind_udp(int family)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), port;

	if (s < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (connect(s, (struct sockaddr *)&ss, len)) {
		port = -errno;
		close(s);
		return port;
	}
	port = local_port(s);
	close(s);
	return port;
}

int hxa_bind_port(int family, int type, int proto, int port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int s = socket(family, type | SOCK_CLOEXEC, proto), err = 0;

	if (s < 0)
		return errno;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	}
	if (bind(s, (struct sockaddr *)&ss, len))
		err = errno;
	close(s);
	return err;
}

/* ------------------------------------------------------------ io_uring */

struct ring {
	int fd;
	void *sq_ptr, *cq_ptr, *sqe_ptr;
	size_t sq_len, cq_len, sqe_len;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static void ring_free(struct ring *r)
{
	if (r->sqe_ptr && r->sqe_ptr != MAP_FAILED)
		munmap(r->sqe_ptr, r->sqe_len);
	if (r->cq_ptr && r->cq_ptr != MAP_FAILED && r->cq_ptr != r->sq_ptr)
		munmap(r->cq_ptr, r->cq_len);
	if (r->sq_ptr && r->sq_ptr != MAP_FAILED)
		munmap(r->sq_ptr, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);
}

static int ring_init(struct ring *r, unsigned flags)
{
	struct io_uring_params p;
	int err;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (flags & IORING_SETUP_SQPOLL)
		p.sq_thread_idle = 1000; /* ms the SQ thread spins before it sleeps */
	r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_len > r->sq_len)
			r->sq_len = r->cq_len;
		r->cq_len = r->sq_len;
	}
	r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			 IORING_OFF_SQ_RING);
	if (r->sq_ptr == MAP_FAILED)
		goto fail;
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		r->cq_ptr = r->sq_ptr;
	} else {
		r->cq_ptr = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
				 r->fd, IORING_OFF_CQ_RING);
		if (r->cq_ptr == MAP_FAILED)
			goto fail;
	}
	r->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqe_ptr = mmap(NULL, r->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  r->fd, IORING_OFF_SQES);
	if (r->sqe_ptr == MAP_FAILED)
		goto fail;
	r->sq_tail = (unsigned *)((char *)r->sq_ptr + p.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)r->sq_ptr + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)r->sq_ptr + p.sq_off.array);
	r->cq_head = (unsigned *)((char *)r->cq_ptr + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)r->cq_ptr + p.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)r->cq_ptr + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_ptr + p.cq_off.cqes);
	r->sqes = r->sqe_ptr;
	return 0;
fail:
	err = -errno;
	ring_free(r);
	return err;
}

int hxa_uring_has_bind(void)
{
	struct io_uring_probe *pr;
	size_t len = sizeof(*pr) + 256 * sizeof(struct io_uring_probe_op);
	struct ring r;
	int err, has;

	if ((err = ring_init(&r, 0)))
		return err;
	pr = calloc(1, len);
	if (!pr) {
		ring_free(&r);
		return -ENOMEM;
	}
	if (syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_PROBE, pr, 256)) {
		err = -errno;
		free(pr);
		ring_free(&r);
		return err;
	}
	has = pr->last_op >= HXA_IORING_OP_BIND &&
	      (pr->ops[HXA_IORING_OP_BIND].flags & IO_URING_OP_SUPPORTED);
	free(pr);
	ring_free(&r);
	return has;
}

int hxa_uring_bind(int s, const struct sockaddr *sa, socklen_t len, enum hxa_uring_mode mode,
		   int *res)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned tail, idx, head, flags = IORING_ENTER_GETEVENTS, to_submit = 1;
	struct ring r;
	int err;

	if ((err = ring_init(&r, mode == HXA_URING_SQPOLL ? IORING_SETUP_SQPOLL : 0)))
		return err;
	tail = *r.sq_tail;
	idx = tail & *r.sq_mask;
	sqe = &r.sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = HXA_IORING_OP_BIND;
	sqe->fd = s;
	sqe->addr = (uint64_t)(uintptr_t)sa;
	sqe->addr2 = len;
	sqe->user_data = 0x5eed;
	if (mode == HXA_URING_ASYNC)
		sqe->flags = IOSQE_ASYNC;
	r.sq_array[idx] = idx;
	__atomic_store_n(r.sq_tail, tail + 1, __ATOMIC_RELEASE);
	/* SQPOLL: the SQ thread submits; io_uring_enter() only wakes it and waits */
	if (mode == HXA_URING_SQPOLL) {
		flags |= IORING_ENTER_SQ_WAKEUP;
		to_submit = 0;
	}
	for (;;) {
		long n;

		head = __atomic_load_n(r.cq_head, __ATOMIC_ACQUIRE);
		if (head != __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE))
			break;
		n = syscall(__NR_io_uring_enter, r.fd, to_submit, 1, flags, NULL, 0);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			ring_free(&r);
			return err;
		}
		if (n > 0)
			to_submit = 0; /* submitted: from now on only wait */
	}
	cqe = &r.cqes[head & *r.cq_mask];
	if (cqe->user_data != 0x5eed) {
		ring_free(&r);
		return -EPROTO;
	}
	*res = cqe->res;
	__atomic_store_n(r.cq_head, head + 1, __ATOMIC_RELEASE);
	ring_free(&r);
	return 0;
}

/* ------------------------------------------------------ deep cgroups */

int hxa_mkdir_chain(const char *dir, int depth, int namelen)
{
	char name[NAME_MAX + 1];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), nfd, i;

	if (fd < 0)
		return errno;
	if (namelen > NAME_MAX)
		namelen = NAME_MAX;
	for (i = 0; i < depth; i++) {
		memset(name, 'a' + i % 26, (size_t)namelen);
		name[namelen] = 0;
		if (mkdirat(fd, name, 0755) && errno != EEXIST) {
			int err = errno;

			close(fd);
			return err;
		}
		nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return errno;
		fd = nfd;
	}
	close(fd);
	return 0;
}

/* Remove name (a directory) under parent, its subdirectories first. */
static int rm_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), err = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : errno;
	d = fdopendir(fd);
	if (!d) {
		err = errno;
		close(fd);
		return err;
	}
	for (;;) {
		char child[NAME_MAX + 1];
		bool found = false;

		rewinddir(d);
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(child, sizeof(child), "%s", de->d_name);
			found = true;
			break;
		}
		if (!found)
			break;
		if ((err = rm_at(dirfd(d), child)))
			break;
	}
	closedir(d);
	if (!err && unlinkat(parent, name, AT_REMOVEDIR) && errno != ENOENT)
		err = errno;
	return err;
}

int hxa_rm_tree(const char *path)
{
	char parent[PATH_MAX], *slash;
	int pfd, err;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return EINVAL;
	*slash = 0;
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return errno;
	err = rm_at(pfd, slash + 1);
	close(pfd);
	return err;
}
