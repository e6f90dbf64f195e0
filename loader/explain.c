// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * explain.c - what `portgate explain` answers, and `explain --policy FILE`:
 * the same decision from a policy file, with no kernel state. The file is
 * compiled against a cgroup tree made of CGROUP and its ancestors (exact
 * selectors add their own paths, as on a live node), and the image is read
 * by pg_image_decide(), which runs bpf/pg_decide.h as the bind hooks do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "cmd.h"
#include "policy_src.h"
#include "state.h"
#include "compile.h"
#include "explain.h"
#include "kube_names.h"
#include "opt.h"

int pg_parse_protoport(const char *s, uint32_t *protos, uint32_t *port)
{
	const char *slash = strchr(s, '/');
	uint64_t v;

	if (!slash)
		return -EINVAL;
	if (!strncmp(s, "tcp/", 4))
		*protos = PG_PROTO_TCP;
	else if (!strncmp(s, "udp/", 4))
		*protos = PG_PROTO_UDP;
	else if (!strncmp(s, "other/", 6))
		*protos = PG_PROTO_OTHER;
	else if (!strncmp(s, "any/", 4))
		*protos = PG_PROTO_ANY;
	else
		return -EINVAL;
	if (pg_parse_u64(slash + 1, 1, 65535, &v))
		return -ERANGE;
	*port = (uint32_t)v;
	return 0;
}

int pg_parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
	struct passwd *pw;
	uint64_t v;

	if (!pg_parse_u64(s, 0, 4294967294u, &v)) {
		*uid = (uint32_t)v;
		pw = getpwuid(*uid);
		*gid = pw ? pw->pw_gid : *uid;
		return 0;
	}
	pw = getpwnam(s);
	if (!pw)
		return -ENOENT;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int pg_parse_group(const char *s, uint32_t *gid)
{
	struct group *gr;
	uint64_t v;

	if (!pg_parse_u64(s, 0, 4294967294u, &v)) {
		*gid = (uint32_t)v;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -ENOENT;
	*gid = gr->gr_gid;
	return 0;
}

int pg_parse_addr(const char *s, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, out) == 1)
		return 0;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 16);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return -EINVAL;
}

const char *pg_proto_word(uint32_t proto)
{
	return proto == PG_P_TCP ? "tcp" : proto == PG_P_UDP ? "udp" : "other";
}

uint32_t pg_proto_of_bit(uint32_t bit)
{
	return bit == PG_PROTO_TCP ? PG_P_TCP : bit == PG_PROTO_UDP ? PG_P_UDP : PG_P_OTHER;
}

void pg_why_text(const struct pg_ask *a, const struct pg_why *w, FILE *f)
{
	const char *pw = pg_proto_word(w->proto);

	if (w->verdict < 0) {
		fprintf(f, "%s %s/%u: port %u is not protected; the kernel decides (returns 1)\n",
			a->cg, pw, a->port, a->port);
		return;
	}
	fprintf(f, "%s %s/%u by uid %u gid %u: %s (bind hook returns %d)\n", a->cg, pw, a->port,
		a->uid, a->gid, pg_verdict_phrase(w->verdict), w->ret);
	if (w->text)
		fprintf(f, "  rule %s:%u: %s\n", w->file ? w->file : "?", w->line, w->text);
	if (w->at)
		fprintf(f, "  decided at cgroup %s\n", w->at);
	else
		fprintf(f, "  no cgroup from %s up to / has a rule for it: the default applies\n",
			a->cg);
}

void pg_why_json(const struct pg_ask *a, const struct pg_why *w, struct json_object *o)
{
	struct json_object *rule = NULL;

	pg_json_set_str(o, "cgroup", a->cg);
	pg_json_set_str(o, "proto", pg_proto_word(w->proto));
	pg_json_set_u64(o, "port", a->port);
	pg_json_set_u64(o, "uid", a->uid);
	pg_json_set_u64(o, "gid", a->gid);
	pg_json_set_bool(o, "protected", w->verdict >= 0);
	pg_json_set_str(o, "verdict",
			w->verdict >= 0 ? pg_verdict_name(w->verdict) : "unprotected");
	pg_json_set_i64(o, "returns", w->verdict >= 0 ? w->ret : 1);
	pg_json_set_bool(o, "audit", pg_verdict_audited(w->verdict));
	pg_json_set_str(o, "decided_at", w->at);
	if (w->text) {
		rule = pg_json_obj();
		pg_json_set_u64(rule, "index", w->rule);
		pg_json_set_str(rule, "file", w->file);
		pg_json_set_u64(rule, "line", w->line);
		pg_json_set_str(rule, "text", w->text);
	}
	pg_json_set(o, "rule", rule);
}

void pg_answers_init(struct pg_answers *an, uint32_t protos)
{
	an->many = protos == PG_PROTO_ANY;
	an->all = an->many ? pg_json_arr() : NULL;
}

void pg_answers_add(struct pg_answers *an, struct json_object *doc)
{
	if (an->many) {
		pg_json_push(an->all, doc);
	} else {
		json_object_put(an->all);
		an->all = doc;
	}
}

int pg_answers_print(struct pg_answers *an)
{
	int err = pg_json_print(stdout, an->all);

	an->all = NULL;
	return err;
}

/* ------------------------------------------------------------ offline */

/* CGROUP and its ancestors, nearest first, as the bind hooks walk them. */
struct chain {
	char *path[PG_MAX_LEVEL + 2];
	size_t n;
};

static void chain_free(struct chain *c)
{
	while (c->n)
		free(c->path[--c->n]);
}

static int chain_make(const char *cg, struct chain *c)
{
	char *p = strdup(cg), *slash;

	c->n = 0;
	while (p) {
		if (c->n >= sizeof(c->path) / sizeof(c->path[0])) {
			free(p);
			return -E2BIG;
		}
		c->path[c->n++] = p;
		if (!strcmp(p, "/"))
			return 0;
		p = strdup(p);
		if (!p)
			break;
		slash = strrchr(p, '/');
		slash[slash == p] = 0;
	}
	return -ENOMEM;
}

/*
 * The tree the policy is compiled against: the chain, root first. Where the
 * cgroup exists here, its ancestors' delegation comes from the live tree
 * (globs never reach into a delegated subtree); ids are made up, since the
 * decision finds nodes by path.
 */
static void chain_tree(const struct chain *c, struct pg_cgroup *t)
{
	struct pg_cgroup *live = NULL;
	char mount[4096];
	size_t nlive = 0, i, k;

	if (!pg_cg2_mount(mount, sizeof(mount)) && pg_cg_tree(mount, &live, &nlive))
		nlive = 0;
	for (i = 0; i < c->n; i++) {
		const char *p = c->path[c->n - 1 - i];

		t[i] = (struct pg_cgroup){ .path = p, .id = i + 1, .level = (int)i };
		for (k = 0; k < nlive; k++)
			if (!strcmp(live[k].path, p))
				t[i].delegated = live[k].delegated;
	}
	pg_cg_tree_free(live, nlive);
}

/* One mode's compiled image of the policy, for the chain. */
struct offline {
	enum pg_mode mode;
	const char *refused; /* the mode cannot run this policy: why */
	struct pg_image img;
	uint32_t nodes[PG_MAX_LEVEL + 2];
};

static int offline_build(const struct pg_policy *p, const struct chain *c,
			 const struct pg_cgroup *tree, enum pg_mode mode, struct offline *o)
{
	struct pg_compile_opts co = {
		.mode = mode, .bypass = mode == PG_MODE_GRANT, .gen = 1, .seed = 1
	};
	struct pg_diags d = { 0 };
	size_t i, k;
	int err;

	memset(o, 0, sizeof(*o));
	o->mode = mode;
	if (mode == PG_MODE_SYSCTL && p->def == PG_DEFAULT_KERNEL) {
		o->refused = "default kernel is not allowed in sysctl mode: it would let every "
			     "unprivileged bind through";
		return 0;
	}
	err = pg_compile(p, tree, c->n, &co, &o->img, &d);
	pg_log_diags(&d, p, 0);
	pg_diags_free(&d);
	if (err == -EINVAL || err == -E2BIG)
		return PG_EXIT_POLICY;
	if (err) {
		pg_err("cannot compile the policy: %s", strerror(-err));
		return PG_EXIT_FAIL;
	}
	for (i = 0; i < c->n; i++)
		for (k = 0; k < o->img.nnodes; k++)
			if (!strcmp(o->img.nodes[k].path, c->path[i]))
				o->nodes[i] = o->img.nodes[k].node;
	return 0;
}

static void offline_decide(const struct pg_policy *p, const struct chain *c, struct offline *o,
			   const struct pg_ask *a, uint32_t proto, struct pg_why *w)
{
	const union pg_block *b = o->img.blocks;
	uint32_t nb = o->img.nblocks;
	size_t n = c->n > PG_MAX_LEVEL + 1 ? PG_MAX_LEVEL + 1 : c->n;
	int at = -1;

	memset(w, 0, sizeof(*w));
	w->proto = proto;
	w->rule = ~0u;
	if (!pg_image_protects(b, nb, a->port)) {
		w->verdict = -1;
		w->ret = 1;
		return;
	}
	w->verdict = pg_image_decide(b, nb, o->nodes, n, a->port, proto, a->uid, a->gid, a->addr,
				     &w->rule, &at);
	w->ret = pg_image_ret(b, nb, w->verdict);
	w->at = at >= 0 ? c->path[at] : NULL;
	if (w->rule < p->nrules) {
		const struct pg_rule *r = &p->rules[w->rule];

		w->file = p->files[r->loc.file];
		w->line = r->loc.line;
		w->text = r->text;
	}
}

static bool why_same(const struct pg_why *x, const struct pg_why *y)
{
	return x->verdict == y->verdict && x->rule == y->rule && x->at == y->at;
}

static const char *mode_word(enum pg_mode m)
{
	return m == PG_MODE_GRANT ? "grant" : m == PG_MODE_SYSCTL ? "sysctl" : "auto";
}

/* In mode auto: what sysctl mode (kernels without the bypass bit) does. */
static void other_text(const struct pg_ask *a, const struct offline *s, const struct pg_why *w,
		       const struct pg_why *g)
{
	if (s->refused) {
		printf("  mode auto: sysctl mode (kernels before 5.12) refuses this policy: %s\n",
		       s->refused);
		return;
	}
	if (why_same(w, g)) {
		printf("  mode auto: sysctl mode (kernels before 5.12) decides the same\n");
		return;
	}
	printf("  mode auto: in sysctl mode (kernels before 5.12): %s (bind hook returns %d)",
	       w->verdict >= 0 ? pg_verdict_phrase(w->verdict) : "unprotected", w->ret);
	if (w->text)
		printf(", by rule %s:%u: %s\n", w->file, w->line, w->text);
	else
		printf(", by the default, no cgroup from %s up to / having a rule for it\n", a->cg);
}

/*
 * pod: rules stand for the cgroups of the pods the agent learns from the
 * API server; offline no pod is known, so they select nothing here. The
 * count of them, and with text the line that says so.
 */
static size_t pod_rules_note(const struct pg_policy *p, bool text)
{
	size_t i, n = 0, first = 0;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].pod && !n++)
			first = i;
	if (n && text)
		printf("  %zu pod: rule%s (the first at %s:%u) select%s nothing here: no pods are "
		       "known offline, only to portgate run with a Kubernetes source\n",
		       n, n == 1 ? "" : "s", p->files[p->rules[first].loc.file],
		       (unsigned int)p->rules[first].loc.line, n == 1 ? "s" : "");
	return n;
}

static void answer(const char *file, const struct pg_policy *p, const struct pg_ask *a,
		   const struct pg_why *w, const struct offline *prim, const struct offline *sys,
		   const struct pg_why *sw, struct pg_answers *out)
{
	struct json_object *doc;
	size_t npod;

	if (!out) {
		pg_why_text(a, w, stdout);
		if (p->mode != PG_MODE_AUTO)
			printf("  mode %s, from %s\n", mode_word(p->mode), file);
		else
			other_text(a, sys, sw, w);
		pod_rules_note(p, true);
		return;
	}
	doc = pg_json_doc();
	pg_why_json(a, w, doc);
	pg_json_set_str(doc, "policy", file);
	pg_json_set_str(doc, "mode", mode_word(p->mode));
	pg_json_set_str(doc, "decided_in", mode_word(prim->mode));
	npod = pod_rules_note(p, false);
	if (npod)
		pg_json_set_u64(doc, "pod_rules_inert", npod);
	if (p->mode == PG_MODE_AUTO) {
		struct json_object *sysctl = NULL;

		if (sys->refused) {
			sysctl = pg_json_obj();
			pg_json_set_str(sysctl, "refused", sys->refused);
		} else if (!why_same(sw, w)) {
			sysctl = pg_json_obj();
			pg_why_json(a, sw, sysctl);
		}
		pg_json_set(doc, "sysctl", sysctl);
	}
	pg_answers_add(out, doc);
}

static int explain_file(const char *file, const struct pg_policy *p, const struct pg_ask *a,
			bool json)
{
	struct pg_cgroup tree[PG_MAX_LEVEL + 2];
	struct offline prim, sys;
	struct chain c = { 0 };
	struct pg_answers out = { 0 };
	uint32_t bit;
	bool auto_mode = p->mode == PG_MODE_AUTO;
	int status;

	memset(&sys, 0, sizeof(sys));
	if (chain_make(a->cg, &c)) {
		chain_free(&c);
		pg_err("cgroup %s is too deep", a->cg);
		return PG_EXIT_USAGE;
	}
	chain_tree(&c, tree);
	/* mode auto is grant wherever the kernel has the bypass bit (5.12+) */
	status = offline_build(p, &c, tree, auto_mode ? PG_MODE_GRANT : p->mode, &prim);
	if (!status && auto_mode)
		status = offline_build(p, &c, tree, PG_MODE_SYSCTL, &sys);
	if (!status && prim.refused) {
		pg_log_at(PG_LOG_ERROR, p, &p->def_loc, "%s", prim.refused);
		status = PG_EXIT_POLICY;
	}
	if (status)
		goto out;
	if (json)
		pg_answers_init(&out, a->protos);
	for (bit = PG_PROTO_TCP; bit <= PG_PROTO_OTHER; bit <<= 1) {
		struct pg_why w, sw = { 0 };

		if (!(a->protos & bit))
			continue;
		offline_decide(p, &c, &prim, a, pg_proto_of_bit(bit), &w);
		if (auto_mode && !sys.refused)
			offline_decide(p, &c, &sys, a, pg_proto_of_bit(bit), &sw);
		answer(file, p, a, &w, &prim, &sys, &sw, json ? &out : NULL);
	}
	if (json)
		status = pg_answers_print(&out) ? PG_EXIT_FAIL : PG_EXIT_OK;
	else
		status = fflush(stdout) ? PG_EXIT_FAIL : PG_EXIT_OK;
out:
	pg_image_free(&prim.img);
	pg_image_free(&sys.img);
	chain_free(&c);
	return status;
}

int pg_explain_policy(const char *file, const struct pg_ask *a, bool json)
{
	struct pg_policy *p;
	int status = PG_EXIT_OK;

	p = pg_load_policy(file, &status);
	if (!p)
		return status;
	status = explain_file(file, p, a, json);
	pg_policy_free(p);
	return status;
}

/* ---------------------------------------------------------------- command */

struct explain_args {
	struct pg_opts o; /* first: see opt.h */
	const char *user, *group, *addr, *policy;
};

static const struct pg_optdef opts[] = {
	{ .name = "user",
	  .letter = 'u',
	  .kind = PG_OPT_STR,
	  .arg = "U",
	  .help = "binding user, a name or a number",
	  .str = "65534",
	  .off = offsetof(struct explain_args, user) },
	{ .name = "group",
	  .letter = 'g',
	  .kind = PG_OPT_STR,
	  .arg = "G",
	  .help = "binding group, a name or a number",
	  .def = "the user's primary group",
	  .off = offsetof(struct explain_args, group) },
	{ .name = "addr",
	  .letter = 'a',
	  .kind = PG_OPT_STR,
	  .arg = "A",
	  .help = "local IPv4 or IPv6 address of the bind",
	  .def = "the wildcard address",
	  .off = offsetof(struct explain_args, addr) },
	{ .name = "policy",
	  .kind = PG_OPT_STR,
	  .arg = "FILE",
	  .help = "decide from FILE, with no kernel state",
	  .def = "the policy in force",
	  .off = offsetof(struct explain_args, policy) },
	PG_OPT_PIN_DIR,
	{ 0 },
};

/* The question from the operands and options; 0, or an exit status after
 * saying what is wrong. */
static int ask(const struct explain_args *e, char **arg, struct pg_ask *a)
{
	a->cg = arg[0];
	if (pg_cg_path_valid(a->cg)) {
		pg_err("invalid cgroup '%s': give a path from the cgroup2 root, like /system.slice",
		       a->cg);
		return PG_EXIT_USAGE;
	}
	if (pg_parse_protoport(arg[1], &a->protos, &a->port)) {
		pg_err("invalid PROTO/PORT '%s': use tcp/N, udp/N, other/N or any/N with N in "
		       "1-65535",
		       arg[1]);
		return PG_EXIT_USAGE;
	}
	if (pg_parse_user(e->user, &a->uid, &a->gid)) {
		pg_err("unknown user '%s'", e->user);
		return PG_EXIT_USAGE;
	}
	if (e->group && pg_parse_group(e->group, &a->gid)) {
		pg_err("unknown group '%s'", e->group);
		return PG_EXIT_USAGE;
	}
	if (e->addr && pg_parse_addr(e->addr, a->addr)) {
		pg_err("invalid address '%s'", e->addr);
		return PG_EXIT_USAGE;
	}
	if (!e->addr)
		a->addr[10] = a->addr[11] = 0xff; /* 0.0.0.0 */
	return 0;
}

/*
 * explain pod NS/NAME: the pod's cgroup from the pod file of the agent of
 * pin_dir (kube_names.h), into buf; 0 or an exit status after saying why.
 */
static int pod_cgroup(const char *pin_dir, const char *nsname, char *buf, size_t len)
{
	struct pg_podnames pn = { 0 };
	const struct pg_podname *p;
	char path[PATH_MAX], ns[256];
	const char *slash = strchr(nsname, '/');
	int err;

	if (!slash || slash == nsname || !slash[1] || (size_t)(slash - nsname) >= sizeof(ns)) {
		pg_err("invalid pod '%s': give NAMESPACE/NAME, like kube-system/coredns-x", nsname);
		return PG_EXIT_USAGE;
	}
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - nsname), nsname);
	if ((err = pg_podnames_path(pin_dir, path, sizeof(path))) ||
	    (err = pg_podnames_load(&pn, path))) {
		pg_err("cannot find pod %s: %s", nsname,
		       err == -ENOENT ? "no agent with a Kubernetes source (run --kubeconfig, or "
					"in a cluster) writes its pods for this pin dir"
				      : strerror(-err));
		return PG_EXIT_FAIL;
	}
	p = pg_podnames_by_name(&pn, ns, slash + 1);
	err = p ? pg_kube_pod_path(&pn.layout, p->uid, p->qos, buf, len) : -ENOENT;
	if (err)
		pg_err("cannot find pod %s: %s", nsname,
		       err == -ENOENT ? "the agent does not know it (not on this node, or no QoS "
					"class yet); its pods are in the pod file"
				      : strerror(-err));
	pg_podnames_free(&pn);
	return err ? PG_EXIT_FAIL : 0;
}

static int cmd_explain(int argc, char **argv, struct pg_opts *o)
{
	struct explain_args e = { .o = *o };
	struct pg_ask a = { 0 };
	char **arg, podcg[PG_KUBE_MAX_ROOT + 128];
	bool pod = argc > 1 && !strcmp(argv[1], "pod");
	int status;

	/* explain pod NS/NAME PROTO/PORT: the operand after "pod" stands for a cgroup */
	if (pod) {
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (!pg_opt_parse(&pg_cmd_explain, argc, argv, &e, &arg, &status))
		return status;
	if (pod && e.policy) {
		pg_err("explain pod asks the policy in force, which knows the pods; not --policy");
		return PG_EXIT_USAGE;
	}
	if (pod && (status = pod_cgroup(e.o.pin_dir, arg[0], podcg, sizeof(podcg))))
		return status;
	if (pod)
		arg[0] = podcg;
	if ((status = ask(&e, arg, &a)))
		return status;
	if (e.policy)
		return pg_explain_policy(e.policy, &a, e.o.json);
	return pg_explain_live(e.o.pin_dir, &a, e.o.json);
}

const struct pg_cmd pg_cmd_explain = {
	.name = "explain",
	.fn = cmd_explain,
	.synopsis = "{CGROUP | pod NAMESPACE/NAME} PROTO/PORT [--user U] [--group G] [--addr A] "
		    "[--policy FILE | --pin-dir DIR] [-j]",
	.help = "which rule decides a bind, from the live kernel state or a policy file",
	.opts = opts,
	.json = true,
	.nargs = 2,
	.nargs_err = "needs a cgroup and a PROTO/PORT, like: explain /system.slice/x.service "
		     "tcp/80",
};
