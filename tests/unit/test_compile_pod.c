// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_compile_pod.c - pod: rules in the compiler (policy/compile_pod.c):
 * the pod-level cgroups of the pods a rule selects, under both kubelet
 * drivers and in the three QoS classes, as nodes (made) and path-table
 * entries (made or not yet made); nearest-cgroup decisions; label changes;
 * conflicts between pod rules; no pods known; pods whose UID names no
 * cgroup; 250 pods.
 */

#include "compile_fx.h"

#define UID_G "11111111-aaaa-4bbb-8ccc-000000000001"
#define UID_B "22222222-aaaa-4bbb-8ccc-000000000002"
#define UID_E "33333333-aaaa-4bbb-8ccc-000000000003"
#define UID_O "44444444-aaaa-4bbb-8ccc-000000000004"

static const struct pg_kube_label web_labels[] = { { "app", "web" }, { "tier", "front" } };
static const struct pg_kube_label canary_labels[] = { { "app", "web" }, { "tier", "canary" } };
static const struct pg_kube_label db_labels[] = { { "app", "db" } };

/* Three web pods, one per QoS class, and a db pod in another namespace. */
static const struct pg_pod four_pods[] = {
	{ "web", "web-g", UID_G, PG_KUBE_GUARANTEED, web_labels, 2 },
	{ "web", "web-b", UID_B, PG_KUBE_BURSTABLE, web_labels, 2 },
	{ "web", "web-e", UID_E, PG_KUBE_BESTEFFORT, canary_labels, 2 },
	{ "data", "db-0", UID_O, PG_KUBE_BURSTABLE, db_labels, 1 },
};

static void layout(struct pg_kube_layout *l, enum pg_kube_driver drv)
{
	assert_int_equal(pg_kube_layout_init(l, drv, NULL), 0);
}

static void pod_path(const struct pg_kube_layout *l, const struct pg_pod *pod, char *buf,
		     size_t size)
{
	assert_int_equal(pg_kube_pod_path(l, pod->uid, pod->qos, buf, size), 0);
}

static const struct pg_node_out *find_node(const struct pg_image *img, const char *path)
{
	size_t i;

	for (i = 0; i < img->nnodes; i++)
		if (!strcmp(img->nodes[i].path, path))
			return &img->nodes[i];
	return NULL;
}

static const struct pg_path_out *find_path(const struct pg_image *img, const char *path)
{
	size_t i;

	for (i = 0; i < img->npaths; i++)
		if (!strcmp(img->paths[i].path, path))
			return &img->paths[i];
	return NULL;
}

/* The node the cgroup_mkdir program gives a cgroup made at path, or 0. */
static uint32_t mkdir_node(const struct pg_image *img, const char *path)
{
	uint32_t node = 0;

	return pg_image_path_node(img->blocks, img->nblocks, path, &node) ? 0 : node;
}

static bool unmatched(const struct pg_image *img, const char *sel)
{
	size_t i;

	for (i = 0; i < img->nunmatched; i++)
		if (!strcmp(img->unmatched[i], sel))
			return true;
	return false;
}

/*
 * Under one driver: the Guaranteed pod's cgroup exists, the others not
 * yet. Every selected pod gets a node and a path-table entry; the existing
 * one is found by id, the others by path; the db pod gets neither.
 */
static void check_driver(enum pg_kube_driver drv)
{
	struct pg_kube_layout l;
	char pg[512], pb[512], pe[512], po[512], qos_b[512], text[1200];
	struct pg_cgroup tree[4];
	struct pg_pods pods = { &l, four_pods, ARRAY_SIZE(four_pods) };
	struct pg_compile_opts o = grant_opts;
	const struct pg_node_out *n;
	const struct pg_path_out *pt;
	uint32_t nodes[2];
	struct fx f;

	layout(&l, drv);
	pod_path(&l, &four_pods[0], pg, sizeof(pg));
	pod_path(&l, &four_pods[1], pb, sizeof(pb));
	pod_path(&l, &four_pods[2], pe, sizeof(pe));
	pod_path(&l, &four_pods[3], po, sizeof(po));
	snprintf(qos_b, sizeof(qos_b), "%s", pb);
	*strrchr(qos_b, '/') = '\0';
	tree[0] = (struct pg_cgroup){ "/", 1, 0, false };
	tree[1] = (struct pg_cgroup){ l.root, 2, 1, false };
	tree[2] = (struct pg_cgroup){ pg, 3, 2, false };
	tree[3] = (struct pg_cgroup){ qos_b, 4, 2, false };
	o.pods = &pods;
	snprintf(text, sizeof(text), "deny %s any/1-1023\nallow pod:web/app=web tcp/80\n", l.root);
	fx_ok(&f, text, tree, ARRAY_SIZE(tree), &o);

	assert_non_null(n = find_node(&f.img, pg)); /* made: by id and in the path table */
	assert_int_equal(n->cgid, 3);
	assert_true(n->by_path);
	assert_int_equal(n->level, 2);
	nodes[0] = n->node;
	nodes[1] = node_of(&f.img, l.root);
	EXPECT(&f, nodes, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_GRANT, 1, 0);
	EXPECT(&f, nodes, 81, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_RULE, 0, 1);

	assert_non_null(n = find_node(&f.img, pb)); /* not made yet: by path */
	assert_int_equal(n->cgid, 0);
	assert_true(n->by_path);
	assert_int_equal(n->level, 3);
	assert_non_null(pt = find_path(&f.img, pb));
	assert_int_equal(pt->node, n->node);
	assert_int_equal(mkdir_node(&f.img, pb), n->node);

	assert_non_null(n = find_node(&f.img, pe)); /* BestEffort, no QoS cgroup yet */
	assert_int_equal(n->cgid, 0);
	assert_int_equal(mkdir_node(&f.img, pe), n->node);
	assert_non_null(pt = find_path(&f.img, qos_b)); /* an ancestor only */
	assert_int_equal(pt->node, 0);

	assert_null(find_node(&f.img, po)); /* other namespace */
	assert_null(find_path(&f.img, po));
	assert_int_equal(mkdir_node(&f.img, po), 0);
	assert_int_equal(f.img.nunmatched, 0);
	assert_int_equal(hdr(&f)->flags & PG_HF_GLOBS, 0);
	fx_free(&f);
}

static void test_systemd_driver(void **state)
{
	check_driver(PG_KUBE_SYSTEMD);
}

static void test_cgroupfs_driver(void **state)
{
	check_driver(PG_KUBE_CGROUPFS);
}

/*
 * Nearest cgroup: a deny on the kubepods cgroup, an allow for the web
 * pods; a container cgroup below a selected pod gets the pod's allow, one
 * below another pod the deny. Conditions hold as for path rules.
 */
static void test_nearest_and_conditions(void **state)
{
	struct pg_kube_layout l;
	char pw[512], po[512];
	struct pg_pods pods = { &l, four_pods, ARRAY_SIZE(four_pods) };
	struct pg_compile_opts o = grant_opts;
	uint32_t in_web[3], in_db[3];
	struct fx f;

	layout(&l, PG_KUBE_CGROUPFS);
	pod_path(&l, &four_pods[1], pw, sizeof(pw));
	pod_path(&l, &four_pods[3], po, sizeof(po));
	o.pods = &pods;
	fx_ok(&f,
	      "deny  /kubepods any/1-1023\n"
	      "allow pod:web/tier=front tcp/80 user=www-data\n",
	      NULL, 0, &o);
	in_web[0] = 0; /* the container's own cgroup: no node */
	in_web[1] = node_of(&f.img, pw);
	in_web[2] = node_of(&f.img, "/kubepods");
	in_db[0] = 0;
	in_db[1] = node_of(&f.img, po);
	in_db[2] = in_web[2];
	assert_int_not_equal(in_web[1], 0);
	assert_int_equal(in_db[1], 0);
	EXPECT(&f, in_web, 80, PG_P_TCP, 33, 33, NULL, PG_V_GRANT, 1, 1);
	/* the nearest entry decides: its condition fails, so the default */
	EXPECT(&f, in_web, 80, PG_P_TCP, 34, 34, NULL, PG_V_KERNEL, NONE, 1);
	EXPECT(&f, in_web, 443, PG_P_TCP, 33, 33, NULL, PG_V_DENY_RULE, 0, 2);
	EXPECT(&f, in_db, 80, PG_P_TCP, 33, 33, NULL, PG_V_DENY_RULE, 0, 2);
	/* the canary (tier=canary) is not selected */
	assert_int_equal(node_of(&f.img, "/kubepods/besteffort/pod" UID_E), 0);
	fx_free(&f);
}

/* A label change, as the agent sees it on a MODIFIED event: another set. */
static void test_label_change(void **state)
{
	struct pg_kube_layout l;
	struct pg_pod v[ARRAY_SIZE(four_pods)];
	struct pg_pods pods = { &l, v, ARRAY_SIZE(v) };
	struct pg_compile_opts o = grant_opts;
	const char *text = "allow \"pod:web/tier notin (canary)\" tcp/80\n";
	struct fx f;

	layout(&l, PG_KUBE_CGROUPFS);
	memcpy(v, four_pods, sizeof(v));
	o.pods = &pods;
	fx_ok(&f, text, NULL, 0, &o);
	assert_int_not_equal(node_of(&f.img, "/kubepods/pod" UID_G), 0);
	assert_int_not_equal(node_of(&f.img, "/kubepods/burstable/pod" UID_B), 0);
	assert_int_equal(node_of(&f.img, "/kubepods/besteffort/pod" UID_E), 0);
	assert_int_equal(f.img.nnodes, 2);
	fx_free(&f);

	v[0].labels = canary_labels; /* web-g becomes a canary, web-e stops being one */
	v[2].labels = web_labels;
	fx_ok(&f, text, NULL, 0, &o);
	assert_int_equal(node_of(&f.img, "/kubepods/pod" UID_G), 0);
	assert_null(find_path(&f.img, "/kubepods/pod" UID_G));
	assert_int_not_equal(node_of(&f.img, "/kubepods/burstable/pod" UID_B), 0);
	assert_int_not_equal(node_of(&f.img, "/kubepods/besteffort/pod" UID_E), 0);
	assert_int_equal(f.img.nnodes, 2);
	fx_free(&f);

	pods.n = 0; /* every pod deleted */
	fx_ok(&f, text, NULL, 0, &o);
	assert_int_equal(f.img.nnodes, 0);
	assert_int_equal(f.img.npaths, 0);
	assert_true(unmatched(&f.img, "pod:web/tier notin (canary)"));
	fx_free(&f);
}

/* No pods known (portgate apply, explain --policy): pod rules select nothing. */
static void test_no_pods(void **state)
{
	struct fx f;

	fx_ok(&f,
	      "allow pod:web tcp/80\n"
	      "deny pod:* any/1-1023\n"
	      "allow /a tcp/80\n",
	      NULL, 0, &grant_opts);
	assert_int_equal(f.img.nnodes, 1); /* /a, by path */
	assert_int_equal(f.img.npaths, 1);
	assert_int_equal(f.img.nunmatched, 3);
	assert_string_equal(f.img.unmatched[0], "pod:web");
	assert_string_equal(f.img.unmatched[1], "pod:*");
	assert_string_equal(f.img.unmatched[2], "/a");
	assert_int_equal(hdr(&f)->flags & PG_HF_GLOBS, 0);
	fx_free(&f);
}

/*
 * Two pod rules of the same rank whose selectors differ but select one pod,
 * with opposite actions on one port: the compile-time conflict of two
 * matching globs. Reported once per pair of rules, at the first cgroup in
 * path order.
 */
static void test_conflict(void **state)
{
	struct pg_kube_layout l;
	struct pg_pods pods = { &l, four_pods, ARRAY_SIZE(four_pods) };
	struct pg_compile_opts o = grant_opts;
	struct fx f;

	layout(&l, PG_KUBE_CGROUPFS);
	o.pods = &pods;
	assert_int_equal(fx_build(&f,
				  "allow pod:web/app=web tcp/80\n"
				  "deny pod:web/tier=canary tcp/80-81\n",
				  NULL, 0, &o),
			 -EINVAL);
	assert_int_equal(f.d.nerrors, 1);
	assert_string_equal(f.d.v[0].msg, "deny conflicts with allow at t.conf:1 on cgroup "
					  "/kubepods/besteffort/pod" UID_E " for tcp/80");
	assert_int_equal(f.d.v[0].loc.line, 2);
	fx_free(&f);

	/* the same rules where no pod is selected by both: no conflict */
	pods.v = &four_pods[0];
	pods.n = 2;
	fx_ok(&f, "allow pod:web/app=web tcp/80\ndeny pod:web/tier=canary tcp/80\n", NULL, 0, &o);
	assert_int_equal(f.img.nnodes, 2);
	fx_free(&f);
}

/*
 * Rules of different ranks on one pod never conflict: on each (protocol,
 * port), a namespace and labels shadow a namespace alone, which shadows
 * labels in every namespace, which shadow "pod:*"; a cgroup path shadows
 * them all. So "deny pod:* any/1-1023" is a catch-all, as in issue 11.
 */
static void test_specificity(void **state)
{
	struct pg_kube_layout l;
	char pg[512], pe[512], po[512];
	struct pg_pods pods = { &l, four_pods, ARRAY_SIZE(four_pods) };
	struct pg_compile_opts o = grant_opts;
	uint32_t g[2], e[2], d[2];
	struct fx f;

	layout(&l, PG_KUBE_SYSTEMD);
	pod_path(&l, &four_pods[0], pg, sizeof(pg));
	pod_path(&l, &four_pods[2], pe, sizeof(pe));
	pod_path(&l, &four_pods[3], po, sizeof(po));
	o.pods = &pods;
	fx_ok(&f,
	      "deny  pod:* any/1-1023\n"	  /* 0: rank 0 */
	      "allow pod:*/app=web tcp/80,8080\n" /* 1: rank 1 */
	      "deny  pod:web tcp/80-81\n"	  /* 2: rank 2 */
	      "allow pod:web/tier=front tcp/80\n" /* 3: rank 3 */
	      "allow /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
	      "33333333_aaaa_4bbb_8ccc_000000000003.slice tcp/81\n", /* 4: a path */
	      NULL, 0, &o);
	assert_int_equal(f.d.nerrors, 0);
	g[0] = node_of(&f.img, pg);
	e[0] = node_of(&f.img, pe);
	d[0] = node_of(&f.img, po);
	/* pod:* is the kubepods cgroup, every pod's ancestor (the QoS cgroup
	 * between them carries no rule) */
	g[1] = e[1] = d[1] = node_of(&f.img, "/kubepods.slice");
	assert_int_not_equal(g[0], 0);
	assert_int_not_equal(e[0], 0);
	assert_int_equal(d[0], 0); /* db-0: only pod:* names it */
	assert_int_not_equal(g[1], 0);
	/* web-g (tier=front): rank 3 grants 80, rank 2 denies 81, rank 0 the rest */
	EXPECT(&f, g, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_GRANT, 3, 0);
	EXPECT(&f, g, 81, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_RULE, 2, 0);
	EXPECT(&f, g, 443, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_RULE, 0, 1);
	/* web-e (the canary): rank 2 denies 80, the path rule grants 81 */
	EXPECT(&f, e, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_RULE, 2, 0);
	EXPECT(&f, e, 81, PG_P_TCP, 1000, 1000, NULL, PG_V_GRANT, 4, 0);
	EXPECT(&f, e, 53, PG_P_UDP, 1000, 1000, NULL, PG_V_DENY_RULE, 0, 1);
	/* db-0 (app=db, namespace data): only the catch-all */
	EXPECT(&f, d, 80, PG_P_TCP, 1000, 1000, NULL, PG_V_DENY_RULE, 0, 1);
	fx_free(&f);
}

/* A pod whose UID names no cgroup is left out, with a warning; the rest compile. */
static void test_bad_uid(void **state)
{
	struct pg_kube_layout l;
	struct pg_pod v[2] = { four_pods[0], four_pods[1] };
	struct pg_pods pods = { &l, v, 2 };
	struct pg_compile_opts o = grant_opts;
	struct fx f;

	layout(&l, PG_KUBE_SYSTEMD);
	v[0].uid = "../../system.slice";
	o.pods = &pods;
	fx_ok(&f, "allow pod:web tcp/80\nallow pod:*/app=web tcp/81\n", NULL, 0, &o);
	assert_int_equal(f.img.nnodes, 1);
	assert_int_equal(pg_diags_nwarnings(&f.d), 1);
	assert_string_equal(f.d.v[0].msg, "pod web/web-g is left out: its UID "
					  "'../../system.slice' or QoS class names no cgroup");
	assert_int_equal(f.d.v[0].loc.line, 1);
	assert_int_equal(f.d.v[0].loc.col, 7);
	fx_free(&f);
}

/*
 * 250 pods in 25 namespaces, 5 pod rules: every pod a rule other than
 * pod:* selects has its node and path, every other pod neither, counted
 * against pg_kube_sel_match(); pod:* is one node, the kubepods cgroup.
 */
static void test_many_pods(void **state)
{
	enum { NPODS = 250 };
	static const char text[] = "allow pod:ns-3 tcp/80\n"
				   "allow pod:*/app=a tcp/443\n"
				   "allow \"pod:*/app in (b, c),tier!=x\" tcp/8443\n"
				   "deny pod:* tcp/1-79\n"
				   "allow pod:ns-7/!canary udp/53\n";
	static const char *const apps[] = { "a", "b", "c", "d" };
	struct pg_kube_layout l;
	struct pg_pod *v = calloc(NPODS, sizeof(*v));
	struct pg_kube_label(*lab)[3] = calloc(NPODS, sizeof(*lab));
	char(*ns)[16] = calloc(NPODS, sizeof(*ns)), (*uid)[40] = calloc(NPODS, sizeof(*uid));
	struct pg_pods pods = { &l, v, NPODS };
	struct pg_compile_opts o = grant_opts;
	size_t i, k, want = 0;
	struct fx f;

	assert_true(v && lab && ns && uid);
	layout(&l, PG_KUBE_SYSTEMD);
	for (i = 0; i < NPODS; i++) {
		snprintf(ns[i], sizeof(ns[i]), "ns-%zu", i % 25);
		snprintf(uid[i], sizeof(uid[i]), "%08zx-0000-4000-8000-%012zx", i, i * 7);
		lab[i][0] = (struct pg_kube_label){ "app", apps[i % 4] };
		lab[i][1] = (struct pg_kube_label){ "tier", i % 3 ? "y" : "x" };
		lab[i][2] = (struct pg_kube_label){ "canary", "" };
		v[i] = (struct pg_pod){ ns[i],	"p",	      uid[i], (enum pg_kube_qos)(1 + i % 3),
					lab[i], i % 5 ? 2 : 3 };
	}
	o.pods = &pods;
	fx_ok(&f, text, NULL, 0, &o);
	for (i = 0; i < NPODS; i++) {
		char path[512];
		bool sel = false;

		for (k = 0; k < f.p->nrules; k++)
			sel = sel || (k != 3 && pg_kube_sel_match(f.p->rules[k].pod, v[i].ns,
								  v[i].labels, v[i].nlabels));
		pod_path(&l, &v[i], path, sizeof(path));
		want += sel;
		assert_int_equal(node_of(&f.img, path) != 0, sel);
		assert_int_equal(mkdir_node(&f.img, path), node_of(&f.img, path));
	}
	assert_int_not_equal(node_of(&f.img, "/kubepods.slice"), 0); /* pod:*, rule 3 */
	assert_int_equal(mkdir_node(&f.img, "/kubepods.slice"), node_of(&f.img, "/kubepods.slice"));
	assert_int_equal(f.img.nnodes, want + 1);
	assert_true(want > NPODS / 2 && want < NPODS);
	fx_free(&f);
	free(v);
	free(lab);
	free(ns);
	free(uid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_driver),
		cmocka_unit_test(test_cgroupfs_driver),
		cmocka_unit_test(test_nearest_and_conditions),
		cmocka_unit_test(test_label_change),
		cmocka_unit_test(test_no_pods),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_specificity),
		cmocka_unit_test(test_bad_uid),
		cmocka_unit_test(test_many_pods),
	};

	return cmocka_run_group_tests_name("compile_pod", tests, NULL, NULL);
}
