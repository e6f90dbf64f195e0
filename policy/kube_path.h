/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_path.h - where the kubelet puts a pod's cgroup, under both of its
 * cgroup drivers and in the three QoS classes, and which driver a node uses.
 *
 * A pod's cgroup, from the cgroup2 root, with the kubelet's defaults
 * (pkg/kubelet/cm: CgroupName.ToSystemd() and ToCgroupfs(), and the QoS
 * containers of qos_container_manager_linux.go):
 *
 *   driver    QoS class    pod cgroup
 *   systemd   Guaranteed   /kubepods.slice/kubepods-pod<UID>.slice
 *   systemd   Burstable /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<UID>.slice
 *   systemd   BestEffort
 * /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<UID>.slice cgroupfs  Guaranteed
 * /kubepods/pod<uid> cgroupfs  Burstable    /kubepods/burstable/pod<uid> cgroupfs  BestEffort
 * /kubepods/besteffort/pod<uid>
 *
 * where <UID> is the pod's UID with each '-' written '_' (systemd uses '-'
 * for nesting). With systemd, every slice below the kubepods slice repeats
 * its name, so a kubepods cgroup elsewhere (the kubelet's --cgroup-root
 * /kubelet gives /kubelet.slice/kubelet-kubepods.slice) names its children
 * kubelet-kubepods-burstable.slice and so on.
 *
 * For a static pod, the cgroup carries the UID the kubelet gave it (the
 * mirror pod's kubernetes.io/config.mirror annotation), not the mirror
 * pod's metadata.uid: the caller passes the former.
 *
 * Paths are as portgate.conf(5) selectors write them: from the cgroup2
 * root, starting with '/', no trailing '/'.
 */
#ifndef PORTGATE_KUBE_PATH_H
#define PORTGATE_KUBE_PATH_H

#include <stddef.h>

#define PG_KUBE_MAX_ROOT 1024 /* bytes of the kubepods cgroup path, NUL included */
#define PG_KUBE_MAX_UID	 64   /* bytes of a pod UID */

enum pg_kube_driver { PG_KUBE_DRIVER_AUTO = 0, PG_KUBE_SYSTEMD, PG_KUBE_CGROUPFS };

/* status.qosClass of a pod */
enum pg_kube_qos { PG_KUBE_GUARANTEED = 1, PG_KUBE_BURSTABLE, PG_KUBE_BESTEFFORT };

struct pg_kube_layout {
	enum pg_kube_driver driver;
	char root[PG_KUBE_MAX_ROOT]; /* the kubepods cgroup: "/kubepods.slice" */
};

/* "systemd" or "cgroupfs" (--kube-cgroup-driver): 0 or -EINVAL. */
int pg_kube_driver_parse(const char *s, enum pg_kube_driver *out);
const char *pg_kube_driver_name(enum pg_kube_driver d);

/* "Guaranteed", "Burstable" or "BestEffort", as the API server spells
 * them: 0 or -EINVAL. */
int pg_kube_qos_parse(const char *s, enum pg_kube_qos *out);
/* The other way: the API server's spelling, or NULL for no such class. */
const char *pg_kube_qos_name(enum pg_kube_qos q);

/*
 * A layout from the flags: root (--kube-cgroup-root) or NULL for the
 * driver's default, driver PG_KUBE_DRIVER_AUTO to take it from root's name
 * (a systemd slice ends in ".slice"). Returns 0, -EINVAL (root not an
 * absolute cgroup path, or not a slice for systemd; no driver and no root)
 * or -ENAMETOOLONG.
 */
int pg_kube_layout_init(struct pg_kube_layout *l, enum pg_kube_driver driver, const char *root);

/*
 * Find the kubepods cgroup in the cgroup tree mounted at dir (the cgroup2
 * mount, or a test's tree): kubepods.slice (systemd) or kubepods
 * (cgroupfs) at the top, or else one level down (X.slice/X-kubepods.slice,
 * X/kubepods). Returns 0, -ENOENT (none: not a Kubernetes node, or the
 * kubelet has not started), -ENOTUNIQ (more than one: set the driver and
 * root by hand), or -errno of reading dir.
 */
int pg_kube_layout_detect(struct pg_kube_layout *l, const char *dir);

/*
 * The pod-level cgroup of the pod with this UID and QoS class, into
 * buf[size]. Returns 0, -EINVAL (a UID that is not 1 to 64 letters, digits
 * and '-', or no such QoS class) or -ENAMETOOLONG.
 */
int pg_kube_pod_path(const struct pg_kube_layout *l, const char *uid, enum pg_kube_qos qos,
		     char *buf, size_t size);

/*
 * The other way: the UID (with '-', as the API server writes it) and QoS
 * class of the pod whose cgroup path is, or holds, path (a container's
 * cgroup below it). Returns 0, -ENOENT (not in a pod cgroup) or
 * -ENAMETOOLONG (uid[size] too small). qos may be NULL.
 */
int pg_kube_path_pod(const struct pg_kube_layout *l, const char *path, char *uid, size_t size,
		     enum pg_kube_qos *qos);

#endif
