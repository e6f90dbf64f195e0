// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * fuzz_kube_compile.c - libFuzzer target for the path from pod objects to
 * the compiled policy: a policy with pod: rules and a list of pods decoded
 * from the input are compiled (pg_compile() with pg_compile_opts.pods), and
 * the image is checked against a reference built from pg_kube_sel_match()
 * and pg_kube_pod_path() alone.
 *
 * Input: the policy text, then a line "#--pods--", then one pod a line:
 *
 *   [+]NAMESPACE UID QOS [KEY=VALUE ...]
 *
 * QOS is G, B or E (Guaranteed, Burstable, BestEffort); '+' says the pod's
 * cgroup exists already. A line "driver cgroupfs" picks that driver
 * (systemd otherwise, each at its default kubepods cgroup).
 *
 * Checks, beyond the sanitizers:
 * - every pod a pod: rule selects (and whose UID names a cgroup) has a node
 *   at its pod-level cgroup, by id if the cgroup exists and by path in any
 *   case, and the path table gives the cgroup_mkdir program that node;
 * - a pod that no rule names has no node;
 * - each unconditional rule that names a pod decides the protected ports it
 *   names there, with its action, unless a more specific rule (ref_rank())
 *   names them there too;
 * - the compile fails exactly when two rules of one rank that name one
 *   pod's cgroup disagree on a protected port no more specific rule names
 *   there (or for a reason the policy has without pods, or the levels
 *   limit);
 * - with no pods known, every pod: selector is unmatched.
 * FUZZ_KUBE_VERBOSE=1 prints what one input does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

#define MAX_PODS   64
#define MAX_LABELS 16
#define MAX_TREE   (3 * MAX_PODS + 4)

static bool verbose;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_kube_compile: %s: ", #cond);                         \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct input {
	struct pg_kube_layout layout;
	struct pg_pod pods[MAX_PODS];
	struct pg_kube_label labels[MAX_PODS][MAX_LABELS];
	bool exists[MAX_PODS];
	/* [k]: pod k's cgroup (pg_kube_pod_path()), or NULL: its UID names none;
	 * [MAX_PODS + k]: that cgroup's QoS parent when it exists */
	char *path[2 * MAX_PODS];
	size_t npods;
	struct pg_cgroup tree[MAX_TREE];
	size_t ntree;
};

static enum pg_kube_qos qos_of(const char *s)
{
	return !strcmp(s, "G")	 ? PG_KUBE_GUARANTEED
	       : !strcmp(s, "B") ? PG_KUBE_BURSTABLE
	       : !strcmp(s, "E") ? PG_KUBE_BESTEFFORT
				 : (enum pg_kube_qos)0;
}

/* One pod line, cut in place into words. */
static void pod_line(struct input *in, char *line)
{
	struct pg_pod *pod = &in->pods[in->npods];
	struct pg_kube_label *lab = in->labels[in->npods];
	char *save = NULL, *w[3 + MAX_LABELS], *eq;
	size_t n = 0, i, k;

	for (char *t = strtok_r(line, " ", &save); t && n < 3 + MAX_LABELS;
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	if (n < 3)
		return;
	in->exists[in->npods] = w[0][0] == '+';
	*pod = (struct pg_pod){ w[0] + (w[0][0] == '+'), "p", w[1], qos_of(w[2]), lab, 0 };
	for (i = 3; i < n; i++) {
		eq = strchr(w[i], '=');
		if (eq)
			*eq = '\0';
		for (k = 0; k < pod->nlabels && strcmp(lab[k].key, w[i]); k++)
			;
		if (k == pod->nlabels) /* the first of one key counts */
			lab[pod->nlabels++] = (struct pg_kube_label){ w[i], eq ? eq + 1 : "" };
	}
	in->npods++;
}

static void tree_add(struct input *in, const char *path)
{
	size_t i;

	for (i = 0; i < in->ntree; i++)
		if (!strcmp(in->tree[i].path, path))
			return;
	if (in->ntree < MAX_TREE)
		in->tree[in->ntree] =
		    (struct pg_cgroup){ path, 100 + in->ntree, pg_selector_depth(path), false };
	in->ntree++;
}

/* The pods section (cut in place); the tree: /, kubepods, the cgroups that exist. */
static void decode_pods(struct input *in, char *s)
{
	enum pg_kube_driver drv = PG_KUBE_SYSTEMD;
	char *save = NULL, *line, buf[PG_KUBE_MAX_ROOT + 128];
	size_t k;

	for (line = strtok_r(s, "\n", &save); line && in->npods < MAX_PODS;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "driver cgroupfs"))
			drv = PG_KUBE_CGROUPFS;
		else
			pod_line(in, line);
	}
	CHECK(!pg_kube_layout_init(&in->layout, drv, NULL), "default layout");
	tree_add(in, "/");
	tree_add(in, in->layout.root);
	for (k = 0; k < in->npods; k++) {
		if (pg_kube_pod_path(&in->layout, in->pods[k].uid, in->pods[k].qos, buf,
				     sizeof(buf)))
			continue;
		in->path[k] = strdup(buf);
		CHECK(in->path[k], "out of memory");
	}
	/* parents first, so that the tree's order is a walk from the root */
	for (k = 0; k < in->npods; k++)
		if (in->path[k] && in->exists[k] && in->pods[k].qos != PG_KUBE_GUARANTEED) {
			snprintf(buf, sizeof(buf), "%s", in->path[k]);
			*strrchr(buf, '/') = '\0';
			in->path[MAX_PODS + k] = strdup(buf); /* freed with the pods' */
		}
	for (k = 0; k < in->npods; k++) {
		if (in->path[MAX_PODS + k])
			tree_add(in, in->path[MAX_PODS + k]);
		if (in->path[k] && in->exists[k])
			tree_add(in, in->path[k]);
	}
}

/* pod:* alone: every pod, known or not; it names the kubepods cgroup. */
static bool every_pod(const struct pg_rule *r)
{
	return r->pod && !r->pod->ns && !r->pod->nreqs;
}

/* Does rule r name the cgroup at path: a path rule matching it, a pod rule
 * selecting a pod whose cgroup it is, pod:* and the kubepods cgroup? */
static bool names(const struct input *in, const struct pg_rule *r, const char *path)
{
	size_t k;

	if (!r->pod)
		return pg_selector_is_exact(r->selector) ? !strcmp(r->selector, path)
							 : pg_selector_match(r->selector, path);
	if (every_pod(r))
		return !strcmp(in->layout.root, path);
	for (k = 0; k < in->npods; k++)
		if (in->path[k] && !strcmp(in->path[k], path) &&
		    pg_kube_sel_match(r->pod, in->pods[k].ns, in->pods[k].labels,
				      in->pods[k].nlabels))
			return true;
	return false;
}

/*
 * The specificity of portgate.conf(5)'s "Pod selectors": a cgroup path
 * above every pod selector; a namespace counts 2, a label selector 1.
 */
static int ref_rank(const struct pg_rule *r)
{
	if (!r->pod)
		return 4;
	return (r->pod->ns ? 2 : 0) + (r->pod->nreqs ? 1 : 0);
}

/* Does rule r name protected port on a protocol of bits? */
static bool covers(const struct pg_policy *p, const struct pg_rule *r, uint32_t bits, uint32_t port)
{
	size_t i;

	if (!(r->protos & bits) || !pg_policy_protects(p, (uint16_t)port))
		return false;
	for (i = 0; i < r->nports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

/*
 * The highest rank among the rules that name the cgroup at path and
 * (bits, port), or -1: only those decide there.
 */
static int top_rank(const struct input *in, const struct pg_policy *p, const char *path,
		    uint32_t bits, uint32_t port);

/*
 * A protected port and one protocol bit both rules name where no more
 * specific rule naming path shadows them: 0 if none.
 */
static uint32_t shared_port(const struct input *in, const struct pg_policy *p, const char *path,
			    const struct pg_rule *a, const struct pg_rule *b)
{
	static const uint32_t bits[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	size_t i, j, q;

	for (q = 0; q < 3; q++) {
		if (!(a->protos & b->protos & bits[q]))
			continue;
		for (i = 0; i < a->nports; i++)
			for (j = 0; j < b->nports; j++) {
				uint32_t lo = a->ports[i].lo > b->ports[j].lo ? a->ports[i].lo
									      : b->ports[j].lo;
				uint32_t hi = a->ports[i].hi < b->ports[j].hi ? a->ports[i].hi
									      : b->ports[j].hi;

				for (; lo <= hi; lo++)
					if (pg_policy_protects(p, (uint16_t)lo) &&
					    top_rank(in, p, path, bits[q], lo) == ref_rank(a))
						return lo;
			}
	}
	return 0;
}

/* Is path q path itself or below it? */
static bool at_or_below(const char *q, const char *path)
{
	size_t n = strlen(path);

	return !strncmp(q, path, n) && (q[n] == '\0' || q[n] == '/');
}

static bool in_tree(const struct input *in, const char *path)
{
	size_t i;

	for (i = 0; i < in->ntree && i < MAX_TREE; i++)
		if (!strcmp(in->tree[i].path, path))
			return true;
	return false;
}

/*
 * Does the compile see a cgroup at path? If it exists, or if a pod rule
 * selects a pod whose cgroup is at or below it, or an exact selector names
 * it or a cgroup below it (the path table's paths). Globs match only these.
 */
static bool present(const struct input *in, const struct pg_policy *p, const char *path)
{
	size_t i, k;

	if (in_tree(in, path))
		return true;
	for (i = 0; i < p->nrules; i++) {
		const struct pg_rule *r = &p->rules[i];

		if (!r->pod) {
			if (pg_selector_is_exact(r->selector) && at_or_below(r->selector, path))
				return true;
			continue;
		}
		if (every_pod(r)) {
			if (at_or_below(in->layout.root, path))
				return true;
			continue;
		}
		for (k = 0; k < in->npods; k++)
			if (in->path[k] && at_or_below(in->path[k], path) &&
			    pg_kube_sel_match(r->pod, in->pods[k].ns, in->pods[k].labels,
					      in->pods[k].nlabels))
				return true;
	}
	return false;
}

static int top_rank(const struct input *in, const struct pg_policy *p, const char *path,
		    uint32_t bits, uint32_t port)
{
	int top = -1;
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (ref_rank(&p->rules[i]) > top && covers(p, &p->rules[i], bits, port) &&
		    names(in, &p->rules[i], path))
			top = ref_rank(&p->rules[i]);
	return top;
}

/* Two rules of one rank naming the cgroup at path that disagree where they decide. */
static bool conflict_at(const struct input *in, const struct pg_policy *p, const char *path)
{
	size_t a, b;

	if (!present(in, p, path))
		return false;
	for (a = 0; a < p->nrules; a++) {
		if (!names(in, &p->rules[a], path))
			continue;
		for (b = a + 1; b < p->nrules; b++)
			if (p->rules[b].action != p->rules[a].action &&
			    ref_rank(&p->rules[b]) == ref_rank(&p->rules[a]) &&
			    names(in, &p->rules[b], path) &&
			    shared_port(in, p, path, &p->rules[a], &p->rules[b]))
				return true;
	}
	return false;
}

/*
 * The reference: two rules that disagree at a pod's cgroup, at the kubepods
 * cgroup, or at one of their ancestors (which the pod's path brings into
 * the compile, so globs meet them even before the kubelet makes them).
 */
static bool ref_conflict(const struct input *in, const struct pg_policy *p)
{
	char buf[PG_KUBE_MAX_ROOT + 128], *sl;
	size_t k;

	for (k = 0; k <= in->npods; k++) {
		/* [npods]: the kubepods cgroup, which pod:* names */
		const char *start = k < in->npods ? in->path[k] : in->layout.root;

		if (!start)
			continue;
		snprintf(buf, sizeof(buf), "%s", start);
		for (;;) {
			if (conflict_at(in, p, buf))
				return true;
			sl = strrchr(buf, '/');
			if (sl == buf)
				break;
			*sl = '\0';
		}
	}
	return false;
}

static const struct pg_node_out *node_at(const struct pg_image *img, const char *path)
{
	size_t i;

	for (i = 0; i < img->nnodes; i++)
		if (!strcmp(img->nodes[i].path, path))
			return &img->nodes[i];
	return NULL;
}

/* The node the cgroup_mkdir program gives a cgroup made at path, or 0. */
static uint32_t mkdir_node(const struct pg_image *img, const char *path)
{
	uint32_t node = 0;

	return pg_image_path_node(img->blocks, img->nblocks, path, &node) ? 0 : node;
}

static uint64_t tree_id(const struct input *in, const char *path)
{
	size_t i;

	for (i = 0; i < in->ntree && i < MAX_TREE; i++)
		if (!strcmp(in->tree[i].path, path))
			return in->tree[i].id;
	return 0;
}

/*
 * Rule r names the pod cgroup at path, node n: its protected ports decided
 * its way, where no more specific rule shadows it.
 */
static void check_decisions(const struct input *in, const char *path, const struct pg_image *img,
			    const struct pg_policy *p, const struct pg_rule *r, uint32_t n)
{
	static const uint32_t bits[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	static const uint32_t protos[] = { PG_P_TCP, PG_P_UDP, PG_P_OTHER };
	const uint8_t wild[16] = { 0 };
	int want = r->action == PG_ALLOW ? PG_V_GRANT : PG_V_DENY_RULE, v, depth;
	uint32_t port, rule;
	size_t q, b;

	for (q = 0; q < r->nports; q++)
		for (port = r->ports[q].lo; port <= r->ports[q].hi; port++) {
			if (!pg_policy_protects(p, (uint16_t)port))
				continue;
			for (b = 0; b < 3; b++) {
				if (!(r->protos & bits[b]) ||
				    top_rank(in, p, path, bits[b], port) != ref_rank(r))
					continue;
				v = pg_image_decide(img->blocks, img->nblocks, &n, 1, port,
						    protos[b], 12345, 12345, wild, &rule, &depth);
				CHECK(v == want && depth == 0 && rule < p->nrules &&
					  p->rules[rule].action == r->action,
				      "rule at line %u on %u/%u: verdict %d rule %u depth %d",
				      r->loc.line, protos[b], port, v, rule, depth);
			}
			break; /* one protected port per range */
		}
}

/* The compile succeeded: every pod's node as the reference says. */
static void check_image(const struct input *in, const struct pg_policy *p,
			const struct pg_image *img)
{
	const struct pg_node_out *n;
	size_t k, i;

	for (k = 0; k < in->npods; k++) {
		bool named = false, by_pod = false;

		if (!in->path[k])
			continue;
		for (i = 0; i < p->nrules; i++) {
			if (!names(in, &p->rules[i], in->path[k]))
				continue;
			named = true;
			by_pod = by_pod || p->rules[i].pod;
		}
		named = named && present(in, p, in->path[k]);
		n = node_at(img, in->path[k]);
		if (verbose)
			fprintf(stderr, "pod %s %s: %s node %u\n", in->pods[k].ns, in->path[k],
				named ? "named" : "not named", n ? n->node : 0);
		CHECK(named == (n != NULL), "pod %s at %s", in->pods[k].ns, in->path[k]);
		if (!n || !by_pod)
			continue;
		CHECK(n->by_path, "%s not in the path table", in->path[k]);
		CHECK(n->cgid == tree_id(in, in->path[k]), "%s has cgid %llu", in->path[k],
		      (unsigned long long)n->cgid);
		CHECK(mkdir_node(img, in->path[k]) == n->node, "mkdir of %s", in->path[k]);
		for (i = 0; i < p->nrules; i++) {
			const struct pg_rule *r = &p->rules[i];

			if (!r->cond.has_user && !r->cond.has_group && !r->cond.has_addr &&
			    names(in, r, in->path[k]))
				check_decisions(in, in->path[k], img, p, r, n->node);
		}
	}
}

static bool diag_says(const struct pg_diags *d, size_t from, const char *what)
{
	size_t i;

	for (i = from; i < d->n; i++)
		if (d->v[i].sev == PG_SEV_ERROR && strstr(d->v[i].msg, what))
			return true;
	return false;
}

/* With no pods known, every pod: selector is unmatched. */
static void check_no_pods(const struct input *in, const struct pg_policy *p)
{
	struct pg_compile_opts o = { .mode = PG_MODE_GRANT, .gen = 1, .seed = 1 };
	struct pg_diags d = { 0 };
	struct pg_image img;
	size_t i, j;
	int rc = pg_compile(p, in->tree, in->ntree, &o, &img, &d);

	for (i = 0; rc == 0 && i < p->nrules; i++) {
		if (!p->rules[i].pod)
			continue;
		for (j = 0; j < img.nunmatched && strcmp(img.unmatched[j], p->rules[i].selector);
		     j++)
			;
		CHECK(j < img.nunmatched, "%s is not unmatched", p->rules[i].selector);
	}
	if (rc == 0)
		pg_image_free(&img);
	pg_diags_free(&d);
}

static void run(struct input *in, const struct pg_policy *p)
{
	const struct pg_pods pods = { &in->layout, in->pods, in->npods };
	struct pg_compile_opts o = { .mode = PG_MODE_GRANT, .gen = 1, .seed = 1, .pods = &pods };
	struct pg_diags d = { 0 };
	struct pg_image img;
	bool conflict = ref_conflict(in, p);
	int rc = pg_compile(p, in->tree, in->ntree, &o, &img, &d);

	if (verbose)
		fprintf(stderr, "%zu pods, %zu cgroups: compile %d, reference conflict %d\n",
			in->npods, in->ntree, rc, conflict);
	if (rc == -E2BIG || rc == -ENOMEM)
		goto out;
	if (conflict)
		CHECK(rc == -EINVAL && diag_says(&d, 0, "conflicts with"),
		      "a conflict the compile missed (%d)", rc);
	if (rc == -EINVAL && !conflict) {
		struct pg_compile_opts none = o;
		struct pg_diags d2 = { 0 };
		struct pg_image i2;
		int rc2;

		none.pods = NULL;
		rc2 = pg_compile(p, in->tree, in->ntree, &none, &i2, &d2);
		if (!rc2)
			pg_image_free(&i2);
		pg_diags_free(&d2);
		CHECK(rc2 == -EINVAL || diag_says(&d, 0, "different cgroup levels") ||
			  diag_says(&d, 0, "conditional rules") || diag_says(&d, 0, "levels deep"),
		      "compile refused with no conflict: %s", d.n ? d.v[d.n - 1].msg : "?");
	}
	if (rc == 0) {
		check_image(in, p, &img);
		pg_image_free(&img);
	}
	check_no_pods(in, p);
out:
	pg_diags_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "#--pods--\n";
	char *buf = malloc(size + 1), *pods;
	struct input *in = calloc(1, sizeof(*in));
	struct pg_diags d = { 0 };
	struct pg_policy *p = NULL;
	size_t k, plen;

	CHECK(buf && in, "out of memory");
	verbose = getenv("FUZZ_KUBE_VERBOSE") != NULL;
	memcpy(buf, data, size);
	buf[size] = '\0';
	pods = strstr(buf, sep);
	plen = pods ? (size_t)(pods - buf) : size;
	decode_pods(in, pods ? pods + strlen(sep) : buf + size);
	if (in->ntree > MAX_TREE)
		goto out;
	p = pg_policy_parse_buf("portgate.conf", buf, plen, NULL, &d);
	CHECK(p, "out of memory");
	pg_policy_resolve(p, &(struct pg_id_ops){ 0 }, &d);
	if (verbose)
		pg_diags_print(&d, p, stderr);
	if (!d.nerrors)
		run(in, p);
out:
	for (k = 0; k < 2 * MAX_PODS; k++)
		free(in->path[k]);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(in);
	free(buf);
	return 0;
}
