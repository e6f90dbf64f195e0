// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run_kube.c - the agent's Kubernetes source: the API-server client
 * (kube_client.c) in the agent's poll loop, the pod set it reports
 * (run_pods.c), and an apply with the pods whenever a change can alter the
 * policy (a burst of events in one turn of the loop makes one apply).
 *
 * Nothing is applied before the first pod list is in: the policy in force
 * (pinned, from an earlier agent) keeps enforcing until then, so a restart
 * drops no pod's grant. While the API server cannot be reached the pods
 * stay as last known, and so do the rules made from them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "cmd.h"
#include "kube_names.h"
#include "run.h"
#include "run_pods.h"
#include "util.h"

struct pg_kube_src {
	struct kube_config cfg;
	struct kube_client *kc;
	struct pg_kube_layout layout;
	struct pg_podset set;
	struct pg_pods pods; /* what applies see, through a->o->pods */
	char names_path[PATH_MAX];
	bool synced;	   /* the first list is in */
	bool changed;	   /* since the last apply was asked for */
	unsigned nchanges; /* pod changes in the burst being coalesced */
	char why[64];	   /* the apply's trigger */
};

static const char *const conn_word[] = { [KUBE_CONNECTING] = "connecting",
					 [KUBE_CONNECTED] = "connected",
					 [KUBE_DISCONNECTED] = "disconnected" };

static void on_upsert(void *ud, const struct kube_pod *k)
{
	struct pg_agent *a = ud;
	struct pg_kube_src *s = a->kube;
	int r = pg_podset_upsert(&s->set, k);

	if (r < 0)
		pg_err("kube: cannot keep pod %s/%s (uid %s): out of memory; it is left as it was",
		       k->ns, k->name, k->uid);
	if (r > 0) {
		pg_dbg("kube: pod %s/%s (uid %s, %s) added or changed", k->ns, k->name, k->uid,
		       k->qos_class[0] ? k->qos_class : "no QoS class yet");
		s->changed = true;
		s->nchanges++;
	}
}

static void on_delete(void *ud, const char *uid)
{
	struct pg_agent *a = ud;
	struct pg_kube_src *s = a->kube;
	const struct pg_pod *p = pg_podset_get(&s->set, uid);

	if (p)
		pg_dbg("kube: pod %s/%s (uid %s) deleted", p->ns, p->name, uid);
	if (pg_podset_delete(&s->set, uid) > 0) {
		s->changed = true;
		s->nchanges++;
	}
}

static void on_sync(void *ud)
{
	struct pg_agent *a = ud;
	struct pg_kube_src *s = a->kube;

	if (!s->synced)
		pg_info("kube: first list of node %s's pods in: %zu pod%s", a->st.kube_node,
			s->set.n, s->set.n == 1 ? "" : "s");
	s->synced = true;
	s->changed = true; /* the first synced apply replaces what is pinned */
}

static void on_conn(void *ud, enum kube_conn state, const char *why, const char *rv)
{
	struct pg_agent *a = ud;
	bool was = !strcmp(a->st.kube_state, conn_word[KUBE_CONNECTED]);

	snprintf(a->st.kube_state, sizeof(a->st.kube_state), "%s", conn_word[state]);
	snprintf(a->st.kube_reason, sizeof(a->st.kube_reason), "%s", why ? why : "");
	snprintf(a->st.kube_rv, sizeof(a->st.kube_rv), "%s", rv ? rv : "");
	if (state == KUBE_DISCONNECTED)
		pg_warn("kube: disconnected from %s: %s; the last known pods (%zu) stay enforced",
			a->kube->cfg.server, why, a->kube->set.n);
	else if (state == KUBE_CONNECTED && !was)
		pg_info("kube: watching node %s's pods on %s (resourceVersion %s)", a->st.kube_node,
			a->kube->cfg.server, rv);
	pg_agent_write_state(a);
}

static void on_log(void *ud, const char *line)
{
	(void)ud;
	pg_warn("%s", line);
}

static const struct kube_callbacks callbacks = {
	.pod_upsert = on_upsert,
	.pod_delete = on_delete,
	.sync_done = on_sync,
	.conn_state = on_conn,
	.log = on_log,
};

/* Where the API server is: --kubeconfig, else in-cluster; 0, 1 when
 * neither is given, -errno (said). */
static int load_config(struct pg_kube_src *s, const struct pg_kube_args *k)
{
	char err[512];
	int r;

	if (k->kubeconfig)
		r = kube_config_load(&s->cfg, k->kubeconfig, false, err, sizeof(err));
	else if (getenv("KUBERNETES_SERVICE_HOST"))
		r = kube_config_in_cluster(&s->cfg, NULL, err, sizeof(err));
	else
		return 1;
	if (r)
		pg_err("kube: %s", err);
	return r;
}

/* Where pod cgroups are: the flags, else found in the cgroup tree; 0 or -errno (said). */
static int find_layout(struct pg_kube_layout *l, const struct pg_kube_args *k)
{
	enum pg_kube_driver d = PG_KUBE_DRIVER_AUTO;
	char mount[PATH_MAX];
	int err;

	if (k->driver && pg_kube_driver_parse(k->driver, &d)) {
		pg_err("--kube-cgroup-driver %s: give systemd or cgroupfs", k->driver);
		return -EINVAL;
	}
	if (k->root || d != PG_KUBE_DRIVER_AUTO) {
		err = pg_kube_layout_init(l, d, k->root);
		if (err)
			pg_err("--kube-cgroup-root %s: %s", k->root ? k->root : "(default)",
			       err == -ENAMETOOLONG ? "too long"
						    : "not an absolute cgroup path (a systemd "
						      "driver's root is a .slice)");
		return err;
	}
	if ((err = pg_cg2_mount(mount, sizeof(mount)))) {
		pg_err("kube: cannot find the cgroup2 mount to look for the kubepods cgroup: %s",
		       strerror(-err));
		return err;
	}
	err = pg_kube_layout_detect(l, mount);
	if (err == -ENOENT)
		pg_err("kube: no kubepods cgroup under %s (not a Kubernetes node, or the kubelet "
		       "has not started); give --kube-cgroup-driver and --kube-cgroup-root",
		       mount);
	else if (err == -ENOTUNIQ)
		pg_err("kube: more than one kubepods cgroup under %s; give "
		       "--kube-cgroup-driver and --kube-cgroup-root",
		       mount);
	else if (err)
		pg_err("kube: cannot look for the kubepods cgroup under %s: %s", mount,
		       strerror(-err));
	return err;
}

/* Check the flags and find everything the source needs; 0 or -errno (said). */
static int kube_setup(struct pg_agent *a, struct pg_kube_src *s, const struct pg_kube_args *k)
{
	const char *node = k->node ? k->node : getenv("NODE_NAME");
	struct kube_client_opts co;
	int err;

	if (!node || !*node) {
		pg_err("kube: which node's pods to follow: give --node-name or set NODE_NAME");
		return -EINVAL;
	}
	snprintf(a->st.kube_node, sizeof(a->st.kube_node), "%s", node);
	if ((err = find_layout(&s->layout, k)))
		return err;
	if ((err = pg_podnames_path(a->o->pin_dir, s->names_path, sizeof(s->names_path)))) {
		pg_err("kube: cannot name the pod file for pin dir %s: %s", a->o->pin_dir,
		       strerror(-err));
		return err;
	}
	kube_client_opts_default(&co);
	co.watch_timeout_s = (unsigned)k->watch_timeout;
	co.idle_grace_s = co.watch_timeout_s / 10 < 2 ? 2 : co.watch_timeout_s / 10;
	s->kc = kube_client_new(&s->cfg, node, &co, &callbacks, a);
	if (!s->kc) {
		err = -errno;
		pg_err("kube: cannot start the client of %s: %s", s->cfg.server, strerror(-err));
		return err;
	}
	s->pods.layout = &s->layout;
	a->o->pods = &s->pods;
	a->st.kube = true;
	snprintf(a->st.kube_state, sizeof(a->st.kube_state), "%s", conn_word[KUBE_CONNECTING]);
	pg_info("kube: following node %s's pods on %s (%s driver, kubepods cgroup %s)", node,
		s->cfg.server, pg_kube_driver_name(s->layout.driver), s->layout.root);
	return 0;
}

int pg_agent_kube_init(struct pg_agent *a, const struct pg_kube_args *k)
{
	struct pg_kube_src *s = calloc(1, sizeof(*s));
	int err;

	if (!s) {
		pg_err("kube: out of memory");
		return -ENOMEM;
	}
	a->kube = s;
	err = load_config(s, k);
	if (err == 1) {
		if (k->node || k->driver || k->root)
			pg_warn("kube: --node-name, --kube-cgroup-driver and --kube-cgroup-root "
				"do nothing without --kubeconfig or KUBERNETES_SERVICE_HOST");
		free(s);
		a->kube = NULL;
		return 0;
	}
	if (!err)
		err = kube_setup(a, s, k);
	return err;
}

bool pg_agent_kube_hold(const struct pg_agent *a)
{
	return a->kube && !a->kube->synced;
}

int pg_agent_kube_pollfds(struct pg_agent *a, struct pollfd *fds, int max)
{
	return a->kube ? kube_client_pollfds(a->kube->kc, fds, max) : 0;
}

int pg_agent_kube_timeout(struct pg_agent *a)
{
	return a->kube ? kube_client_timeout(a->kube->kc) : -1;
}

/* The pod file, for monitor and explain (and this agent's own deny lines). */
static void write_names(struct pg_agent *a)
{
	struct pg_kube_src *s = a->kube;
	int err = pg_podnames_write(s->names_path, &s->layout, s->set.v, s->set.n);

	if (err)
		pg_err("kube: cannot write the pod file %s: %s", s->names_path, strerror(-err));
}

void pg_agent_kube_perform(struct pg_agent *a, const struct pollfd *fds, int n)
{
	struct pg_kube_src *s = a->kube;
	int err;

	if (!s)
		return;
	if ((err = kube_client_perform(s->kc, fds, n)))
		pg_err("kube: the client failed: %s", strerror(-err));
	a->st.kube_pods = s->set.n;
	a->st.kube_reconnects = kube_client_reconnects(s->kc);
	snprintf(a->st.kube_rv, sizeof(a->st.kube_rv), "%s", kube_client_rv(s->kc));
	if (!s->changed || !s->synced)
		return;
	s->pods.v = s->set.v;
	s->pods.n = s->set.n;
	write_names(a);
	snprintf(s->why, sizeof(s->why), "%u pod change%s", s->nchanges,
		 s->nchanges == 1 ? "" : "s");
	pg_agent_reload_pods(a, s->why);
	s->changed = false;
	s->nchanges = 0;
}

void pg_agent_kube_free(struct pg_agent *a)
{
	struct pg_kube_src *s = a->kube;

	if (!s)
		return;
	kube_client_free(s->kc);
	kube_config_free(&s->cfg);
	pg_podset_free(&s->set);
	a->o->pods = NULL;
	free(s);
	a->kube = NULL;
}
