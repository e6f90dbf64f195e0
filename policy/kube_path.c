// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kube_path.c - a pod's cgroup under the kubelet's cgroup drivers, and the
 * driver of a node from its cgroup tree (the layout is in kube_path.h).
 * Reads directories only in pg_kube_layout_detect().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_path.h"

#define SLICE ".slice"

static const char *const driver_names[] = {
	[PG_KUBE_SYSTEMD] = "systemd", [PG_KUBE_CGROUPFS] = "cgroupfs"
};

/* The QoS classes as the API server spells them, and as the kubelet names
 * their cgroups (Guaranteed pods have none). */
static const struct {
	const char *api, *cgroup;
} qos_names[] = {
	[PG_KUBE_GUARANTEED] = { "Guaranteed", NULL },
	[PG_KUBE_BURSTABLE] = { "Burstable", "burstable" },
	[PG_KUBE_BESTEFFORT] = { "BestEffort", "besteffort" },
};

int pg_kube_driver_parse(const char *s, enum pg_kube_driver *out)
{
	enum pg_kube_driver d;

	for (d = PG_KUBE_SYSTEMD; d <= PG_KUBE_CGROUPFS; d++) {
		if (!strcmp(s, driver_names[d])) {
			*out = d;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pg_kube_driver_name(enum pg_kube_driver d)
{
	return d == PG_KUBE_SYSTEMD || d == PG_KUBE_CGROUPFS ? driver_names[d] : "auto";
}

int pg_kube_qos_parse(const char *s, enum pg_kube_qos *out)
{
	enum pg_kube_qos q;

	for (q = PG_KUBE_GUARANTEED; q <= PG_KUBE_BESTEFFORT; q++) {
		if (!strcmp(s, qos_names[q].api)) {
			*out = q;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pg_kube_qos_name(enum pg_kube_qos q)
{
	return q >= PG_KUBE_GUARANTEED && q <= PG_KUBE_BESTEFFORT ? qos_names[q].api : NULL;
}

/* --- the layout ------------------------------------------------------------------ */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

static const char *base_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* The name a systemd kubepods slice gives its children: "kubepods" for
 * /kubepods.slice, "kubelet-kubepods" for .../kubelet-kubepods.slice. */
static size_t slice_stem(const struct pg_kube_layout *l, const char **stem)
{
	*stem = base_name(l->root);
	return strlen(*stem) - strlen(SLICE);
}

/* An absolute cgroup path below the root: no "//", "." or "..", no
 * trailing '/'. */
static bool valid_root(const char *root)
{
	const char *c = root;
	size_t n;

	if (root[0] != '/' || !root[1])
		return false;
	while (*c == '/') {
		c++;
		n = strcspn(c, "/");
		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
	}
	return true;
}

int pg_kube_layout_init(struct pg_kube_layout *l, enum pg_kube_driver driver, const char *root)
{
	size_t n;

	if (!root && driver == PG_KUBE_DRIVER_AUTO)
		return -EINVAL;
	if (!root)
		root = driver == PG_KUBE_SYSTEMD ? "/kubepods" SLICE : "/kubepods";
	if (!valid_root(root))
		return -EINVAL;
	n = strlen(root);
	if (n >= sizeof(l->root))
		return -ENAMETOOLONG;
	if (driver == PG_KUBE_DRIVER_AUTO)
		driver = ends_with(root, n, SLICE) ? PG_KUBE_SYSTEMD : PG_KUBE_CGROUPFS;
	if (driver == PG_KUBE_SYSTEMD &&
	    (!ends_with(root, n, SLICE) || !strcmp(base_name(root), SLICE)))
		return -EINVAL;
	if (driver != PG_KUBE_SYSTEMD && driver != PG_KUBE_CGROUPFS)
		return -EINVAL;
	l->driver = driver;
	memcpy(l->root, root, n + 1);
	return 0;
}

static bool is_dir_at(int dfd, const char *name)
{
	struct stat st;

	return !fstatat(dfd, name, &st, 0) && S_ISDIR(st.st_mode);
}

/* Record a kubepods cgroup found at /path; count them. */
static void found(struct pg_kube_layout *l, int *n, enum pg_kube_driver d, const char *path)
{
	char root[PG_KUBE_MAX_ROOT];

	if (snprintf(root, sizeof(root), "/%s", path) >= (int)sizeof(root))
		return;
	if (!*n && pg_kube_layout_init(l, d, root))
		return;
	(*n)++;
}

/* One level down: X.slice/X-kubepods.slice, or X/kubepods. */
static int detect_nested(struct pg_kube_layout *l, int dfd, int *n)
{
	char path[2 * 256 + 32];
	struct dirent *e;
	size_t len;
	DIR *d;
	int fd = dup(dfd);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		len = strlen(e->d_name);
		if (ends_with(e->d_name, len, SLICE)) {
			snprintf(path, sizeof(path), "%s/%.*s-kubepods" SLICE, e->d_name,
				 (int)(len - strlen(SLICE)), e->d_name);
			if (is_dir_at(dfd, path))
				found(l, n, PG_KUBE_SYSTEMD, path);
		}
		snprintf(path, sizeof(path), "%s/kubepods", e->d_name);
		if (is_dir_at(dfd, path))
			found(l, n, PG_KUBE_CGROUPFS, path);
	}
	closedir(d);
	return 0;
}

int pg_kube_layout_detect(struct pg_kube_layout *l, const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0, rc = 0;

	if (dfd < 0)
		return -errno;
	if (is_dir_at(dfd, "kubepods" SLICE))
		found(l, &n, PG_KUBE_SYSTEMD, "kubepods" SLICE);
	if (is_dir_at(dfd, "kubepods"))
		found(l, &n, PG_KUBE_CGROUPFS, "kubepods");
	if (!n)
		rc = detect_nested(l, dfd, &n);
	close(dfd);
	if (rc)
		return rc;
	return n == 1 ? 0 : n ? -ENOTUNIQ : -ENOENT;
}

/* --- pod paths --------------------------------------------------------------------- */

static bool valid_uid(const char *uid, size_t n, char dash)
{
	size_t i;

	if (!n || n > PG_KUBE_MAX_UID)
		return false;
	for (i = 0; i < n; i++) {
		char c = uid[i];

		if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    c != dash)
			return false;
	}
	return true;
}

/* uid with each from byte written to; the UIDs are checked, so short. */
static void swap_dashes(char *out, const char *uid, size_t n, char from, char to)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = uid[i] == from ? to : uid[i];
	out[n] = '\0';
}

int pg_kube_pod_path(const struct pg_kube_layout *l, const char *uid, enum pg_kube_qos qos,
		     char *buf, size_t size)
{
	char u[PG_KUBE_MAX_UID + 1];
	const char *stem, *q;
	size_t n = strlen(uid);
	int stemlen, len;

	if (!valid_uid(uid, n, '-') || qos < PG_KUBE_GUARANTEED || qos > PG_KUBE_BESTEFFORT)
		return -EINVAL;
	q = qos_names[qos].cgroup;
	if (l->driver == PG_KUBE_CGROUPFS) {
		len = q ? snprintf(buf, size, "%s/%s/pod%s", l->root, q, uid)
			: snprintf(buf, size, "%s/pod%s", l->root, uid);
	} else {
		swap_dashes(u, uid, n, '-', '_');
		stemlen = (int)slice_stem(l, &stem);
		len = q ? snprintf(buf, size, "%s/%.*s-%s" SLICE "/%.*s-%s-pod%s" SLICE, l->root,
				   stemlen, stem, q, stemlen, stem, q, u)
			: snprintf(buf, size, "%s/%.*s-pod%s" SLICE, l->root, stemlen, stem, u);
	}
	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

/* --- and back: the pod of a cgroup ------------------------------------------------ */

/* Does s[0..n) read head + middle + "pod" + UID + tail? The UID then. */
static bool pod_comp(const char *s, size_t n, const char *head, size_t headlen, const char *mid,
		     const char *tail, char dash, const char **uid, size_t *uidlen)
{
	size_t m = strlen(mid), t = strlen(tail);

	if (n < headlen + m + 3 + t || memcmp(s, head, headlen) || memcmp(s + headlen, mid, m) ||
	    memcmp(s + headlen + m, "pod", 3) || !ends_with(s, n, tail))
		return false;
	*uid = s + headlen + m + 3;
	*uidlen = n - headlen - m - 3 - t;
	return valid_uid(*uid, *uidlen, dash);
}

/* The next component of *p ("a" of "/a/b"); its length, 0 at the end. */
static size_t next_comp(const char **p)
{
	size_t n;

	if (**p != '/')
		return 0;
	(*p)++;
	n = strcspn(*p, "/");
	*p += n;
	return n;
}

/* Is s[0..n) head[0..hn) + tail? */
static bool comp_is(const char *s, size_t n, const char *head, size_t hn, const char *tail)
{
	return n == hn + strlen(tail) && !memcmp(s, head, hn) && !memcmp(s + hn, tail, n - hn);
}

/* Components c[0] and c[1] of a path below the kubepods cgroup (n[i] bytes
 * each): the pod of QoS class q? Its UID (as the cgroup writes it) then. */
static bool qos_pod(const struct pg_kube_layout *l, enum pg_kube_qos q, const char *const c[2],
		    const size_t n[2], const char **id, size_t *idlen)
{
	bool sd = l->driver == PG_KUBE_SYSTEMD;
	const char *qn = qos_names[q].cgroup, *stem = "", *tail = sd ? SLICE : "";
	char dash = sd ? '_' : '-', mid[32];
	size_t stemlen = sd ? slice_stem(l, &stem) : 0;

	if (!qn)
		return pod_comp(c[0], n[0], stem, stemlen, sd ? "-" : "", tail, dash, id, idlen);
	/* the QoS level, then the pod below it */
	snprintf(mid, sizeof(mid), sd ? "-%s" SLICE : "%s", qn);
	if (!comp_is(c[0], n[0], stem, stemlen, mid))
		return false;
	if (sd)
		snprintf(mid, sizeof(mid), "-%s-", qn);
	else
		mid[0] = '\0';
	return pod_comp(c[1], n[1], stem, stemlen, mid, tail, dash, id, idlen);
}

int pg_kube_path_pod(const struct pg_kube_layout *l, const char *path, char *uid, size_t size,
		     enum pg_kube_qos *qos)
{
	size_t rl = strlen(l->root), n[2], idlen = 0;
	const char *p, *c[2], *id = NULL;
	enum pg_kube_qos q;

	if (strncmp(path, l->root, rl) || path[rl] != '/')
		return -ENOENT;
	p = path + rl;
	c[0] = p + 1;
	n[0] = next_comp(&p);
	c[1] = p + 1;
	n[1] = next_comp(&p);
	for (q = PG_KUBE_GUARANTEED; q <= PG_KUBE_BESTEFFORT; q++)
		if (qos_pod(l, q, c, n, &id, &idlen))
			break;
	if (q > PG_KUBE_BESTEFFORT)
		return -ENOENT;
	if (idlen >= size)
		return -ENAMETOOLONG;
	swap_dashes(uid, id, idlen, '_', '-');
	if (qos)
		*qos = q;
	return 0;
}
