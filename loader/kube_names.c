// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* kube_names.c - the agent's pod file: writing it, and reading it back to
 * name the pod of a cgroup (kube_names.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"
#include "kube_names.h"
#include "util.h"

int pg_podnames_path(const char *pin_dir, char *out, size_t len)
{
	char st[PATH_MAX], *base;
	int err = pg_agent_state_path(pin_dir, st, sizeof(st));

	if (err)
		return err;
	/* .../agent[-HASH].json -> .../pods[-HASH].json */
	base = strrchr(st, '/') + 1;
	if ((size_t)snprintf(out, len, "%.*spods%s", (int)(base - st), st,
			     base + strlen("agent")) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int pg_podnames_write(const char *path, const struct pg_kube_layout *l, const struct pg_pod *v,
		      size_t n)
{
	struct json_object *doc = pg_json_obj(), *arr = pg_json_arr();
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;
	int err;

	pg_json_set_u64(doc, "version", PG_PODNAMES_VERSION);
	pg_json_set_str(doc, "driver", pg_kube_driver_name(l->driver));
	pg_json_set_str(doc, "root", l->root);
	for (i = 0; i < n; i++) {
		const char *qos = pg_kube_qos_name(v[i].qos);
		struct json_object *o;

		if (!qos)
			continue; /* no QoS class yet: no cgroup to name */
		o = pg_json_obj();
		pg_json_set_str(o, "uid", v[i].uid);
		pg_json_set_str(o, "namespace", v[i].ns);
		pg_json_set_str(o, "name", v[i].name);
		pg_json_set_str(o, "qos", qos);
		pg_json_push(arr, o);
	}
	pg_json_set(doc, "pods", arr);
	f = open_memstream(&buf, &len);
	if (!f) {
		json_object_put(doc);
		return -ENOMEM;
	}
	err = pg_json_print(f, doc); /* puts doc */
	if (fclose(f) || err) {
		free(buf);
		return err ? err : -ENOMEM;
	}
	err = pg_write_atomic(path, buf, len, 0644);
	free(buf);
	return err;
}

static int by_uid(const void *a, const void *b)
{
	return strcmp(((const struct pg_podname *)a)->uid, ((const struct pg_podname *)b)->uid);
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* One entry of "pods" into p->v[p->n]; -EPROTO when it lacks a field. */
static int take_pod(struct pg_podnames *p, json_object *o)
{
	const char *uid = str_of(o, "uid"), *ns = str_of(o, "namespace"), *name = str_of(o, "name"),
		   *qos = str_of(o, "qos");
	struct pg_podname *e = &p->v[p->n];

	if (!uid || !ns || !name || !qos || pg_kube_qos_parse(qos, &e->qos))
		return -EPROTO;
	e->uid = strdup(uid);
	e->ns = strdup(ns);
	e->name = strdup(name);
	p->n++;
	return e->uid && e->ns && e->name ? 0 : -ENOMEM;
}

/* The document into p; 0, -EPROTO or -ENOMEM. */
static int take_doc(struct pg_podnames *p, json_object *doc)
{
	const char *drv = str_of(doc, "driver"), *root = str_of(doc, "root");
	enum pg_kube_driver d;
	json_object *ver, *pods;
	size_t i, n;
	int err;

	if (!json_object_object_get_ex(doc, "version", &ver) ||
	    json_object_get_int64(ver) != PG_PODNAMES_VERSION || !drv || !root ||
	    pg_kube_driver_parse(drv, &d) || pg_kube_layout_init(&p->layout, d, root) ||
	    !json_object_object_get_ex(doc, "pods", &pods) ||
	    !json_object_is_type(pods, json_type_array))
		return -EPROTO;
	n = json_object_array_length(pods);
	p->v = calloc(n ? n : 1, sizeof(*p->v));
	if (!p->v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((err = take_pod(p, json_object_array_get_idx(pods, i))))
			return err;
	qsort(p->v, p->n, sizeof(*p->v), by_uid);
	return 0;
}

int pg_podnames_load(struct pg_podnames *p, const char *path)
{
	json_object *doc;
	struct stat sb;
	int err;

	pg_podnames_free(p);
	if ((size_t)snprintf(p->path, sizeof(p->path), "%s", path) >= sizeof(p->path))
		return -ENAMETOOLONG;
	if (stat(path, &sb))
		return -errno;
	doc = json_object_from_file(path);
	if (!doc)
		return access(path, R_OK) ? -errno : -EPROTO;
	err = take_doc(p, doc);
	json_object_put(doc);
	if (err) {
		pg_podnames_free(p);
		return err;
	}
	p->dev = sb.st_dev;
	p->ino = sb.st_ino;
	p->mtime = sb.st_mtim;
	return 0;
}

int pg_podnames_refresh(struct pg_podnames *p)
{
	char path[PATH_MAX];
	struct stat sb;
	int err;

	if (!stat(p->path, &sb) && sb.st_dev == p->dev && sb.st_ino == p->ino &&
	    sb.st_mtim.tv_sec == p->mtime.tv_sec && sb.st_mtim.tv_nsec == p->mtime.tv_nsec)
		return 0;
	snprintf(path, sizeof(path), "%s", p->path);
	err = pg_podnames_load(p, path);
	snprintf(p->path, sizeof(p->path), "%s", path); /* to look again later */
	return err ? err : 1;
}

const struct pg_podname *pg_podnames_by_path(const struct pg_podnames *p, const char *path)
{
	struct pg_podname key = { 0 };
	char uid[PG_KUBE_MAX_UID];

	if (!p->n || pg_kube_path_pod(&p->layout, path, uid, sizeof(uid), NULL))
		return NULL;
	key.uid = uid;
	return bsearch(&key, p->v, p->n, sizeof(*p->v), by_uid);
}

const struct pg_podname *pg_podnames_by_name(const struct pg_podnames *p, const char *ns,
					     const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].ns, ns) && !strcmp(p->v[i].name, name))
			return &p->v[i];
	return NULL;
}

void pg_podnames_free(struct pg_podnames *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->v[i].uid);
		free(p->v[i].ns);
		free(p->v[i].name);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
	p->dev = 0;
	p->ino = 0;
}
