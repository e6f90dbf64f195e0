// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "netns.h"
#include "util.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define START "/proc/sys/net/ipv4/ip_unprivileged_port_start"
#define RANGE "/proc/sys/net/ipv4/ip_local_port_range"

/*
 * Run fn inside the namespace at path: /proc/sys/net and new sockets follow
 * the calling thread's namespace, and portgate is single-threaded.
 */
static int in_netns(const char *path, int (*fn)(void *), void *arg)
{
	int self, target, err, back;

	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return -errno;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		close(target);
		return err;
	}
	if (setns(target, CLONE_NEWNET)) {
		err = -errno;
		goto out;
	}
	err = fn(arg);
	back = setns(self, CLONE_NEWNET);
	if (back) {
		/* Never carry on in a namespace we did not start in. */
		pg_err("cannot return to the original network namespace: %s", strerror(errno));
		abort();
	}
out:
	close(self);
	close(target);
	return err;
}

static int read_u32s(const char *file, uint32_t *a, uint32_t *b)
{
	char buf[64];
	unsigned long x = 0, y = 0;
	int n;

	if (pg_read_file(file, buf, sizeof(buf)) < 0)
		return -errno ? -errno : -EIO;
	n = sscanf(buf, "%lu %lu", &x, &y);
	if (n < 1 || (b && n < 2))
		return -EPROTO;
	*a = (uint32_t)x;
	if (b)
		*b = (uint32_t)y;
	return 0;
}

static int inspect_fn(void *arg)
{
	struct pg_netns_info *in = arg;
	socklen_t len = sizeof(in->cookie);
	struct stat sb;
	int s, err;

	if (stat("/proc/thread-self/ns/net", &sb))
		return -errno;
	in->ino = sb.st_ino;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	err = getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &in->cookie, &len) ? -errno : 0;
	close(s);
	/* Before Linux 5.14 there is no SO_NETNS_COOKIE: the SCTP guard then
	 * covers every namespace (PG_NETNS_ANY) while one is lowered. */
	if (err == -ENOPROTOOPT) {
		in->cookie = PG_NETNS_ANY;
		err = 0;
	}
	if (err)
		return err;
	if ((err = read_u32s(START, &in->start, NULL)))
		return err;
	return read_u32s(RANGE, &in->range_lo, &in->range_hi);
}

int pg_netns_inspect(const char *path, struct pg_netns_info *out)
{
	memset(out, 0, sizeof(*out));
	return in_netns(path, inspect_fn, out);
}

int pg_netns_native(const struct pg_state *st, const char *path, uint32_t *start)
{
	struct pg_netns_info in;
	struct pg_saved sv;
	int err;

	if ((err = pg_netns_inspect(path, &in))) {
		pg_err("cannot inspect network namespace %s: %s", path, strerror(-err));
		return err;
	}
	*start = in.start;
	if (st->map[PG_MAP_SAVED] >= 0 && !bpf_map_lookup_elem(st->map[PG_MAP_SAVED], &in.ino, &sv))
		*start = sv.orig; /* lowered by portgate: the kernel's own is the saved one */
	return 0;
}

struct write_arg {
	uint32_t value;
	uint32_t readback;
};

static int write_fn(void *arg)
{
	struct write_arg *w = arg;
	char v[16];
	int err;

	snprintf(v, sizeof(v), "%u\n", w->value);
	if ((err = pg_write_file(START, v)))
		return err;
	return read_u32s(START, &w->readback, NULL);
}

static int set_start(const char *path, uint32_t value)
{
	struct write_arg w = { .value = value };
	int err = in_netns(path, write_fn, &w);

	if (!err && w.readback != value)
		err = -EIO;
	return err;
}

/* Ports of [lo, hi] outside the protect set, as "a-b,c" (for messages). */
static bool gap(const struct pg_policy *p, uint32_t lo, uint32_t hi, char *out, size_t len)
{
	uint32_t port, start = 0;
	size_t off = 0;
	bool any = false;

	out[0] = 0;
	for (port = lo; port <= hi + 1; port++) {
		bool open_ = port <= hi && !pg_policy_protects(p, (uint16_t)port);

		if (open_ && !start)
			start = port;
		if (!open_ && start) {
			int n = snprintf(out + off, off < len ? len - off : 0, "%s%u",
					 any ? "," : "", start);

			off += n > 0 ? (size_t)n : 0;
			if (port - 1 > start) {
				n = snprintf(out + off, off < len ? len - off : 0, "-%u", port - 1);
				off += n > 0 ? (size_t)n : 0;
			}
			any = true;
			start = 0;
		}
	}
	return any;
}

static bool range_protected(const struct pg_policy *p, uint32_t lo, uint32_t hi)
{
	size_t i;

	for (i = 0; i < p->nprotect; i++)
		if (p->protect[i].lo <= hi && p->protect[i].hi >= lo)
			return true;
	return false;
}

/*
 * What lowering the threshold in the namespace at path would do: the value
 * to restore later and the value to set, or an error if it would open ports
 * the policy does not protect or leave autobind a way into protected ones.
 * *lower is false when there is nothing to lower.
 */
static int plan(const struct pg_state *st, const struct pg_policy *p, const char *path,
		struct pg_netns_info *in, struct pg_saved *sv, bool *lower)
{
	uint32_t lowest = p->nprotect ? p->protect[0].lo : 0, orig;
	char g[128];
	int err;

	*lower = false;
	memset(sv, 0, sizeof(*sv));
	if (!lowest)
		return 0; /* nothing protected: nothing to lower */
	if ((err = pg_netns_inspect(path, in))) {
		pg_err("cannot inspect network namespace %s: %s", path, strerror(-err));
		return err;
	}
	orig = in->start;
	if (st->map[PG_MAP_SAVED] >= 0 && !bpf_map_lookup_elem(st->map[PG_MAP_SAVED], &in->ino, sv))
		orig = sv->orig; /* lowered by an earlier apply: keep the first value */
	if (orig <= lowest) {
		/* Already at or below (a container's 0): not portgate's to manage; if
		 * an earlier policy lowered it, the restore puts it back. */
		pg_dbg("%s: ip_unprivileged_port_start was %u, nothing to lower", path, orig);
		return 0;
	}
	if (orig > lowest && gap(p, lowest, orig - 1, g, sizeof(g))) {
		pg_err("sysctl mode: lowering ip_unprivileged_port_start in %s from %u to %u would "
		       "open ports %s to everyone; protect them too, or use grant mode",
		       path, orig, lowest, g);
		return -EINVAL;
	}
	if (range_protected(p, in->range_lo, in->range_hi)) {
		pg_err("sysctl mode: ip_local_port_range %u-%u in %s includes protected ports; "
		       "autobind (listen or connect without bind) would hand them out past the "
		       "policy",
		       in->range_lo, in->range_hi, path);
		return -EINVAL;
	}
	sv->cookie = in->cookie;
	sv->orig = orig;
	sv->set = lowest;
	snprintf(sv->path, sizeof(sv->path), "%s", path);
	*lower = true;
	return 0;
}

int pg_netns_check(const struct pg_state *st, const struct pg_policy *p, const char *path)
{
	struct pg_netns_info in;
	struct pg_saved sv;
	bool lower;

	return plan(st, p, path, &in, &sv, &lower);
}

int pg_netns_lower(struct pg_state *st, const struct pg_policy *p, const char *path,
		   uint64_t *managed)
{
	struct pg_netns_info in;
	struct pg_saved sv;
	uint32_t one = 1;
	bool lower;
	int err;

	*managed = 0;
	if ((err = plan(st, p, path, &in, &sv, &lower)) || !lower)
		return err;
	*managed = in.ino;
	/* SCTP never reaches the bind hook: refuse SCTP sockets there first. */
	if (bpf_map_update_elem(st->map[PG_MAP_NETNS], &in.cookie, &one, BPF_ANY)) {
		err = -errno;
		pg_err("cannot register network namespace %s: %s", path, strerror(errno));
		return err;
	}
	sv.state = 1;
	/* Saved before lowering: a crash after this line still knows what to restore. */
	if (bpf_map_update_elem(st->map[PG_MAP_SAVED], &in.ino, &sv, BPF_ANY)) {
		err = -errno;
		pg_err("cannot save the sysctl of %s: %s", path, strerror(errno));
		return err;
	}
	if (in.start != sv.set && (err = set_start(path, sv.set))) {
		pg_err("cannot lower ip_unprivileged_port_start to %u in %s: %s", sv.set, path,
		       strerror(-err));
		return err;
	}
	sv.state = 2;
	if (bpf_map_update_elem(st->map[PG_MAP_SAVED], &in.ino, &sv, BPF_ANY)) {
		err = -errno;
		pg_err("cannot save the sysctl of %s: %s", path, strerror(errno));
		return err;
	}
	pg_dbg("%s: ip_unprivileged_port_start %u -> %u", path, in.start, sv.set);
	return 0;
}

#define PF_KTHREAD 0x00200000

static bool kthread(const char *pid)
{
	char path[300], buf[1024], *p;
	unsigned long flags = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if (pg_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	/* "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS": after the last ')'. */
	p = strrchr(buf, ')');
	for (i = 0; p && i < 7; i++)
		p = strchr(p + 1, ' ');
	if (p)
		flags = strtoul(p + 1, NULL, 10);
	return flags & PF_KTHREAD;
}

static bool under(const char *cg, const char *attach)
{
	size_t n = strlen(attach);

	return !strncmp(cg, attach, n) && (cg[n] == 0 || cg[n] == '/');
}

int pg_netns_confined(const char *path, const char *attach)
{
	struct stat target, sb;
	struct dirent *de;
	char p[PATH_MAX], buf[4096];
	DIR *d;
	int err = 0;

	if (!strcmp(attach, "/"))
		return 0;
	if (stat(path, &target)) {
		err = -errno;
		pg_err("cannot stat network namespace %s: %s", path, strerror(errno));
		return err;
	}
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d)) && !err) {
		char *line;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/net", de->d_name);
		if (stat(p, &sb) || sb.st_ino != target.st_ino || sb.st_dev != target.st_dev)
			continue;
		if (kthread(de->d_name))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cgroup", de->d_name);
		if (pg_read_file(p, buf, sizeof(buf)) <= 0)
			continue; /* exited meanwhile */
		/* the cgroup v2 line: "0::/path" */
		line = strstr(buf, "0::");
		while (line && line != buf && line[-1] != '\n')
			line = strstr(line + 1, "0::");
		if (!line)
			continue;
		line += 3;
		line[strcspn(line, "\n")] = 0;
		if (!under(line, attach)) {
			pg_err("sysctl mode: process %s in network namespace %s is in cgroup %s, "
			       "outside --attach %s; its binds would not be guarded once the "
			       "threshold is lowered (attach at / or move it)",
			       de->d_name, path, line, attach);
			err = -EPERM;
		}
	}
	closedir(d);
	return err;
}

/* The namespace by inode: the saved path if it still leads there, else a process in it. */
static int find_ns(const struct pg_saved *sv, uint64_t ino, char *out, size_t len)
{
	struct stat sb;
	struct dirent *de;
	DIR *d;

	if (!stat(sv->path, &sb) && sb.st_ino == ino) {
		snprintf(out, len, "%s", sv->path);
		return 0;
	}
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(out, len, "/proc/%s/ns/net", de->d_name);
		if (!stat(out, &sb) && sb.st_ino == ino) {
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -ENOENT;
}

int pg_netns_saved(const struct pg_state *st, struct pg_saved_ent **out, size_t *n)
{
	uint64_t key, next, *kp = NULL;
	struct pg_saved_ent *v = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (st->map[PG_MAP_SAVED] < 0)
		return 0;
	while (!bpf_map_get_next_key(st->map[PG_MAP_SAVED], kp, &next)) {
		struct pg_saved_ent *nv;

		key = next;
		kp = &key;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[cnt].ino = key;
		if (bpf_map_lookup_elem(st->map[PG_MAP_SAVED], &key, &v[cnt].v))
			continue;
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int pg_netns_raise(struct pg_state *st, const struct pg_policy *p)
{
	uint32_t lowest = p->nprotect ? p->protect[0].lo : 65535;
	struct pg_saved_ent *v;
	size_t n, i;
	int err, ret = 0;

	if ((err = pg_netns_saved(st, &v, &n)))
		return err;
	for (i = 0; i < n; i++) {
		struct pg_saved *sv = &v[i].v;
		uint32_t to = lowest < sv->orig ? lowest : sv->orig;
		char path[PATH_MAX];

		if (sv->set >= to)
			continue; /* lowering, if any, waits until after the swap */
		err = find_ns(sv, v[i].ino, path, sizeof(path));
		if (err == -ENOENT)
			continue; /* gone: restore forgets it */
		if (err || (err = set_start(path, to))) {
			pg_err("cannot raise ip_unprivileged_port_start to %u in %s before the "
			       "new policy stops protecting ports below it: %s",
			       to, sv->path, strerror(-err));
			ret = err;
			continue;
		}
		pg_dbg("%s: ip_unprivileged_port_start %u -> %u before the swap", path, sv->set,
		       to);
		sv->set = to;
		if (bpf_map_update_elem(st->map[PG_MAP_SAVED], &v[i].ino, sv, BPF_EXIST)) {
			ret = -errno;
			pg_err("cannot save the sysctl of %s: %s", sv->path, strerror(errno));
		}
	}
	free(v);
	return ret;
}

/* PG_NETNS_ANY stands for every namespace lowered without a cookie: it
 * goes when the last of them is restored. */
static int drop_any(struct pg_state *st)
{
	uint64_t any = PG_NETNS_ANY;
	struct pg_saved_ent *v;
	size_t n, i;
	int err;

	if ((err = pg_netns_saved(st, &v, &n)))
		return err;
	for (i = 0; i < n && v[i].v.cookie != PG_NETNS_ANY; i++)
		;
	free(v);
	if (i == n)
		bpf_map_delete_elem(st->map[PG_MAP_NETNS], &any);
	return 0;
}

int pg_netns_restore(struct pg_state *st, const uint64_t *keep, size_t nkeep)
{
	struct pg_saved_ent *v;
	size_t n, i, k;
	int err, ret = 0;

	if ((err = pg_netns_saved(st, &v, &n)))
		return err;
	for (i = 0; i < n; i++) {
		char path[PATH_MAX];

		for (k = 0; k < nkeep && keep[k] != v[i].ino; k++)
			;
		if (k < nkeep)
			continue;
		err = find_ns(&v[i].v, v[i].ino, path, sizeof(path));
		if (err == -ENOENT) {
			pg_err("network namespace %llu (%s) is gone; nothing to restore there",
			       (unsigned long long)v[i].ino, v[i].v.path);
		} else if (err || (err = set_start(path, v[i].v.orig))) {
			pg_err("cannot restore ip_unprivileged_port_start to %u in %s: %s",
			       v[i].v.orig, v[i].v.path, strerror(-err));
			ret = err;
			continue; /* keep it saved, and keep enforcing */
		} else {
			pg_dbg("%s: ip_unprivileged_port_start restored to %u", path, v[i].v.orig);
		}
		if (v[i].v.cookie != PG_NETNS_ANY)
			bpf_map_delete_elem(st->map[PG_MAP_NETNS], &v[i].v.cookie);
		if (bpf_map_delete_elem(st->map[PG_MAP_SAVED], &v[i].ino) && errno != ENOENT) {
			ret = -errno;
			pg_err("cannot forget the saved sysctl of %s: %s", v[i].v.path,
			       strerror(errno));
		}
	}
	free(v);
	return ret ? ret : drop_any(st);
}
