/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_names.h - the pods the agent knows, by name, for others to read:
 * `monitor` and the agent's own log lines name the pod of a cgroup, and
 * `explain pod NS/NAME` finds a pod's cgroup.
 *
 * The pod file sits beside the agent's state file (agent.h): agent.json
 * goes with pods.json, agent-HASH.json with pods-HASH.json. It is written
 * atomically by the agent whenever its pod set changes:
 *
 *   {"version": 1, "driver": "systemd", "root": "/kubepods.slice",
 *    "pods": [{"uid": "...", "namespace": "...", "name": "...",
 *              "qos": "Burstable"}, ...]}
 *
 * Functions return 0 or -errno.
 */
#ifndef PORTGATE_KUBE_NAMES_H
#define PORTGATE_KUBE_NAMES_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "compile.h"
#include "kube_path.h"

#define PG_PODNAMES_VERSION 1

struct pg_podname {
	char *uid, *ns, *name;
	enum pg_kube_qos qos;
};

struct pg_podnames {
	struct pg_kube_layout layout;
	struct pg_podname *v; /* sorted by uid */
	size_t n;
	/* the file as last read, to read it again only when it changed */
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
};

/* The pod file of the agent of pin_dir; 0 or -ENAMETOOLONG. */
int pg_podnames_path(const char *pin_dir, char *out, size_t len);

/* Write the pods v[n] (those whose qos is 0 are left out: their cgroup is
 * not known) with the layout; 0 or -errno. */
int pg_podnames_write(const char *path, const struct pg_kube_layout *l, const struct pg_pod *v,
		      size_t n);

/* Read path into p (empty it first with pg_podnames_free(), or zero it);
 * -ENOENT when there is none, -EPROTO when it is not a pod file. */
int pg_podnames_load(struct pg_podnames *p, const char *path);

/* Read p->path again if the file was replaced since; 1 if it was, 0 if not,
 * -errno (p is then empty). */
int pg_podnames_refresh(struct pg_podnames *p);

/* The pod whose cgroup is, or holds, the cgroup at path; NULL if none. */
const struct pg_podname *pg_podnames_by_path(const struct pg_podnames *p, const char *path);
/* The pod NS/NAME; NULL if none. */
const struct pg_podname *pg_podnames_by_name(const struct pg_podnames *p, const char *ns,
					     const char *name);

void pg_podnames_free(struct pg_podnames *p);

#endif
