// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * apply.c - `portgate apply`.
 *
 * apply, in order: parse and compile everything first (a bad policy changes
 * nothing); then load or take over the pinned state; swap the image in; make
 * sure the links are attached (and listed by the kernel); only then lower
 * sysctls in sysctl mode. Leaving sysctl mode restores before detaching.
 *
 * pg_apply() runs these as phases over one struct apply (prepare, open
 * state, probe, current policy, compile, sysctl checks, load, install and
 * attach, sysctls, report); each returns 0 or -errno and has logged why,
 * apply_free() releases everything on every path, and only pg_apply() turns
 * the failure into an exit status.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cmd.h"
#include "policy_src.h"
#include "compile.h"
#include "meta.h"
#include "audit.h"
#include "netns.h"
#include "opt.h"
#include "probe.h"
#include "state.h"
#include "util.h"

/* ------------------------------------------------------------------ apply */

/*
 * Why an apply failed, which its exit status tells (apply_exit()): the
 * phases return 0 or -errno, and set this when the failure is not simply
 * "failed".
 */
enum apply_fail {
	FAIL_OTHER,	  /* 1 */
	FAIL_POLICY,	  /* 3: the policy is invalid, or cannot be enforced as written */
	FAIL_KERNEL,	  /* 4: this kernel cannot enforce it */
	FAIL_ENVIRONMENT, /* 2: a bad setting ($PORTGATE_VARIANT) */
};

struct plan {
	enum pg_mode mode;
	bool bypass;
	char reason[512];
};

/* The mode to enforce in, and why; 0 or -errno, *fail set when not FAIL_OTHER. */
static int decide_mode(const struct pg_policy *p, struct pg_state *st, int attach_fd,
		       struct plan *pl, enum apply_fail *fail)
{
	char why[400] = "";
	uint64_t boot = pg_boot_hash();
	int err;

	/* The probe creates a cgroup and a process; once per boot is enough. */
	if (st->ctl && st->ctl->boot == boot && st->ctl->bypass) {
		pl->bypass = st->ctl->bypass == 2;
		snprintf(why, sizeof(why), "bypass bit %s (probed earlier this boot)",
			 pl->bypass ? "available" : "unavailable");
	} else {
		err = pg_probe_bypass(attach_fd, &pl->bypass, why, sizeof(why));
		if (err) {
			pg_err("cannot probe the bind bypass bit: %s", why);
			return err;
		}
	}
	switch (p->mode) {
	case PG_MODE_GRANT:
		if (!pl->bypass) {
			pg_err(
			    "grant mode needs the bind bypass bit (Linux 5.12+), which kernel %s "
			    "lacks: %s; use mode sysctl",
			    pg_kernel_release(), why);
			*fail = FAIL_KERNEL;
			return -ENOTSUP;
		}
		pl->mode = PG_MODE_GRANT;
		snprintf(pl->reason, sizeof(pl->reason), "mode grant in the policy; %s", why);
		break;
	case PG_MODE_SYSCTL:
		pl->mode = PG_MODE_SYSCTL;
		snprintf(pl->reason, sizeof(pl->reason), "mode sysctl in the policy; %s", why);
		break;
	default:
		pl->mode = pl->bypass ? PG_MODE_GRANT : PG_MODE_SYSCTL;
		snprintf(pl->reason, sizeof(pl->reason), "mode auto chose %s: %s",
			 pl->bypass ? "grant" : "sysctl", why);
	}
	if (pl->mode == PG_MODE_SYSCTL && p->def == PG_DEFAULT_KERNEL) {
		pg_log_at(PG_LOG_ERROR, p, &p->def_loc,
			  "default kernel is not allowed in sysctl mode (%s): it would let every "
			  "unprivileged bind through",
			  pl->reason);
		*fail = FAIL_POLICY;
		return -EINVAL;
	}
	if ((err = pg_audit_check(p, pl->mode, pl->reason, pg_probe_caps())))
		*fail = FAIL_POLICY;
	return err;
}

/* A copy of the policy whose default is deny with root exempt: the image that
 * enforces while a lowered threshold is being restored under a policy whose
 * default is kernel (which, over a lowered threshold, would let everyone in). */
static void make_transitional(struct pg_policy *p, enum pg_def *saved_def, bool *saved_exempt)
{
	*saved_def = p->def;
	*saved_exempt = p->exempt_root;
	p->def = PG_DEFAULT_DENY;
	p->exempt_root = true;
}

/* Compile p into img, with its metadata; 0 or -errno, *fail set when the policy is at fault. */
static int build(const struct pg_policy *p, const struct pg_cgroup *tree, size_t ntree,
		 const struct plan *pl, uint8_t slot, uint64_t gen, const char *file,
		 const struct pg_opts *o, bool transitional, struct pg_image *img,
		 enum apply_fail *fail)
{
	const char *attach = o->attach;
	struct pg_compile_opts co = { .mode = pl->mode,
				      .bypass = pl->bypass,
				      .slot = slot,
				      .gen = gen,
				      .seed = (uint32_t)(gen * 2654435761u) | 1,
				      .pods = o->pods };
	struct pg_meta_in mi = { .gen = gen,
				 .time = (uint64_t)time(NULL),
				 .source = file,
				 .mode = pl->mode == PG_MODE_GRANT ? "grant" : "sysctl",
				 .reason = pl->reason,
				 .attach = attach,
				 .transitional = transitional };
	struct pg_diags d = { 0 };
	char *meta, *packed = NULL;
	size_t len, plen;
	int err;

	err = pg_compile(p, tree, ntree, &co, img, &d);
	pg_log_diags(&d, p, 0);
	pg_diags_free(&d);
	if (err == -EINVAL || err == -E2BIG)
		*fail = FAIL_POLICY;
	if (err && err != -EINVAL)
		pg_err("cannot compile %s: %s", file, strerror(-err));
	if (err)
		return err;
	meta = pg_meta_build(p, img, &mi, &len);
	if (!meta || pg_meta_pack(meta, len, &packed, &plen) ||
	    pg_image_set_meta(img, packed, plen)) {
		free(meta);
		free(packed);
		pg_image_free(img);
		pg_err("out of memory building the policy image");
		return -ENOMEM;
	}
	free(meta);
	free(packed);
	return 0;
}

struct apply_args {
	struct pg_opts o; /* first: see opt.h */
	bool dry;
};

static const struct pg_optdef opts[] = {
	PG_OPT_ATTACH,
	PG_OPT_PIN_DIR,
	{ .name = "dry-run",
	  .letter = 'n',
	  .help = "change nothing: show what would change, as diff does, against the policy in "
		  "force; with -j, as JSON",
	  .def = "apply",
	  .off = offsetof(struct apply_args, dry) },
	/* taken with --dry-run only, which says so */
	{ .name = "json", .letter = 'j', .off = offsetof(struct pg_opts, json) },
	{ 0 },
};

static int cmd_apply(int argc, char **argv, struct pg_opts *o)
{
	struct apply_args a = { .o = *o };
	char **arg;
	int status;

	if (!pg_opt_parse(&pg_cmd_apply, argc, argv, &a, &arg, &status))
		return status;
	o = &a.o;
	if (o->json && !a.dry) {
		pg_err("-j goes with --dry-run only");
		return PG_EXIT_USAGE;
	}
	if (a.dry)
		return pg_diff_in_force(arg[0], o->pin_dir, o->json);
	return pg_apply(arg[0], o, NULL);
}

const struct pg_cmd pg_cmd_apply = {
	.name = "apply",
	.fn = cmd_apply,
	.synopsis = "FILE [--attach CGROUP] [--pin-dir DIR] [--dry-run [-j]]",
	.help = "load if needed, pin, and atomically replace the active policy",
	.opts = opts,
	.nargs = 1,
	.nargs_err = "needs exactly one policy file",
	.nargs_usage = true,
};

/* Everything one apply holds, released by apply_free() on every exit path. */
struct apply {
	const char *file;
	const struct pg_opts *o;
	enum apply_fail fail;
	struct pg_policy *p;
	char mount[4096];
	int attach_fd;
	struct pg_state st;
	bool st_open; /* st holds fds to close (pg_state_open() was called) */
	bool created; /* the pin directory did not exist before */
	bool fresh;   /* nothing was loaded: this apply loads the programs */
	int variants[PG_NVARIANTS + 1];
	char why[512]; /* what the variant probe found */
	struct pg_cgroup *tree;
	size_t ntree;
	bool tree_kept; /* tree is o->trees's: not ours to free */
	struct plan pl;
	/* the policy in force: its image, and its nodes the new one may drop */
	union pg_block *cur;
	uint32_t ncur;
	struct pg_meta cur_meta;
	bool have_cur_meta;
	struct pg_node_out *old;
	size_t nold;
	uint8_t slot;
	uint64_t gen;
	/* the images to install: trans first, when need_trans */
	struct pg_image img, trans;
	bool need_trans;
	struct pg_saved_ent *saved;
	size_t nsaved;
	uint64_t *keep; /* namespaces whose lowered threshold stays */
	size_t nkeep;
};

/* Parse and resolve the file, then open the cgroup to attach at. */
/*
 * A program another tool attached without BPF_F_ALLOW_MULTI at or above the
 * attach cgroup makes the kernel refuse every link portgate needs there:
 * name it, rather than fail later on a bare EPERM.
 */
static int check_links_allowed(struct apply *a)
{
	static const enum bpf_attach_type types[] = {
		BPF_CGROUP_INET4_BIND,
		BPF_CGROUP_INET6_BIND,
		BPF_CGROUP_SYSCTL,
		BPF_CGROUP_INET_SOCK_CREATE,
	};
	enum bpf_attach_type type = types[0];
	char where[4096];
	int err = pg_cg_link_blocked(a->mount, a->o->attach, types,
				     sizeof(types) / sizeof(types[0]), where, sizeof(where), &type);

	if (err == -EPERM)
		pg_err("cannot attach at cgroup %s: cgroup %s holds a %s program attached without "
		       "BPF_F_ALLOW_MULTI, so the kernel refuses every link %s it (detach that "
		       "program, or have its owner attach it with BPF_F_ALLOW_MULTI)",
		       a->o->attach, where, libbpf_bpf_attach_type_str(type),
		       strcmp(where, a->o->attach) ? "below" : "at");
	else if (err)
		pg_err("cannot query the programs attached at or above cgroup %s: %s", a->o->attach,
		       strerror(-err));
	return err;
}

static int apply_prepare(struct apply *a)
{
	int status, err;

	a->p = pg_load_policy(a->file, &status);
	if (!a->p) {
		a->fail = status == PG_EXIT_POLICY ? FAIL_POLICY : FAIL_OTHER;
		return -EINVAL;
	}
	if (geteuid()) {
		pg_err("needs root: it loads BPF programs, pins them and attaches them to "
		       "cgroups");
		return -EPERM;
	}
	pg_dbg("phase: probe");
	if ((err = pg_cg2_mount(a->mount, sizeof(a->mount)))) {
		pg_err("cannot find a cgroup2 mount in /proc/self/mountinfo: %s", strerror(-err));
		return err;
	}
	a->attach_fd = pg_cg_open(a->mount, a->o->attach);
	if (a->attach_fd < 0) {
		pg_err("cannot open cgroup %s under %s: %s", a->o->attach, a->mount,
		       strerror(-a->attach_fd));
		return a->attach_fd;
	}
	return check_links_allowed(a);
}

/* Open the pinned state, or start over from one a first apply left half-made. */
static int apply_open_state(struct apply *a)
{
	struct pg_state *st = &a->st;
	int err, i;

	if (access(a->o->pin_dir, F_OK))
		a->created = true; /* removed again if this apply fails before loading */
	a->st_open = true;
	if ((err = pg_state_open(st, a->o->pin_dir, true, true)))
		return err;
	if (!pg_state_any(st) || pg_state_loaded(st))
		return 0;
	for (i = 0; i < PG_NLINKS; i++)
		if (st->link[i] >= 0) {
			pg_err("state in %s is damaged (links without their programs or "
			       "maps); run 'portgate stop' to clear it",
			       st->dir);
			return -EUCLEAN;
		}
	/* An earlier first apply died before attaching anything: start over. */
	pg_dbg("clearing a half-made state in %s", st->dir);
	if ((err = pg_state_destroy(st)))
		return err;
	pg_state_close(st);
	return pg_state_open(st, a->o->pin_dir, true, true);
}

/* The cgroup tree: read, or the agent's kept one (struct pg_tree_cache). */
static int apply_tree(struct apply *a)
{
	struct pg_tree_cache *tc = a->o->trees;
	int err;

	if (tc && tc->reuse && tc->v) {
		pg_dbg("cgroup tree: the one of the last apply (%zu cgroups)", tc->n);
		a->tree = tc->v;
		a->ntree = tc->n;
		a->tree_kept = true;
		return 0;
	}
	if ((err = pg_cg_tree(a->mount, &a->tree, &a->ntree))) {
		pg_err("cannot read the cgroup tree under %s: %s", a->mount, strerror(-err));
		return err;
	}
	if (tc) {
		pg_cg_tree_free(tc->v, tc->n);
		tc->v = a->tree;
		tc->n = a->ntree;
		a->tree_kept = true;
	}
	return 0;
}

/* What this kernel and this machine offer: variants, cgroups, links, mode. */
static int apply_probe(struct apply *a)
{
	int err;

	a->fresh = !pg_state_loaded(&a->st);
	/* Programs already loaded prove the kernel has what they need; reading the
	 * kernel's BTF to check costs tens of milliseconds, so only when fresh. */
	if (a->fresh && (err = pg_probe_variants(a->variants, a->why, sizeof(a->why)))) {
		if (err == -EINVAL) {
			pg_err("%s", a->why);
			a->fail = FAIL_ENVIRONMENT;
		} else {
			pg_err("kernel %s unsupported: %s", pg_kernel_release(), a->why);
			a->fail = FAIL_KERNEL;
		}
		return err;
	}
	if ((err = apply_tree(a)))
		return err;
	pg_state_drop_dead_links(&a->st, a->tree, a->ntree);
	if ((err = pg_state_check_attach(&a->st, a->attach_fd, a->o->attach)))
		return err;
	pg_dbg("phase: mode");
	return decide_mode(a->p, &a->st, a->attach_fd, &a->pl, &a->fail);
}

/* The policy in force, if any: the slot and generation to use next, and its nodes. */
static int apply_current(struct apply *a)
{
	const struct pg_meta *m = &a->cur_meta;
	size_t i;

	a->gen = 1;
	if (a->fresh || pg_state_image(&a->st, &a->cur, &a->ncur))
		return 0;
	a->slot = !a->cur[0].hdr.slot;
	a->gen = a->cur[0].hdr.gen + 1;
	/* An apply killed after publishing nodes for a generation but before
	 * its swap left pg_nodes entries stamped with it: never reuse one. */
	if (a->st.ctl->next_gen > a->gen)
		a->gen = a->st.ctl->next_gen;
	/* its nodes, whose pg_nodes entries the new image may drop */
	if (pg_meta_parse(a->cur, a->ncur, &a->cur_meta))
		return 0;
	a->have_cur_meta = true;
	a->old = calloc(m->nnodes + 1, sizeof(*a->old));
	if (!a->old)
		return -ENOMEM;
	for (i = 0; i < m->nnodes; i++)
		a->old[a->nold++] =
		    (struct pg_node_out){ m->nodes[i].cgid, m->nodes[i].node, m->nodes[i].level,
					  m->nodes[i].path, false };
	return 0;
}

/* Compile the image (and the transitional one first, when needed). */
static int apply_compile(struct apply *a)
{
	int err;

	pg_dbg("phase: compile");
	/* Leaving a lowered threshold under a default-kernel policy needs a
	 * stricter image first; see make_transitional(). */
	if (!a->fresh && !pg_netns_saved(&a->st, &a->saved, &a->nsaved) && a->nsaved &&
	    pg_policy_default(a->p, a->pl.mode) == PG_DEFAULT_KERNEL)
		a->need_trans = true;
	if (a->need_trans) {
		enum pg_def d0;
		bool e0;

		make_transitional(a->p, &d0, &e0);
		err = build(a->p, a->tree, a->ntree, &a->pl, a->slot, a->gen, a->file, a->o, true,
			    &a->trans, &a->fail);
		a->p->def = d0;
		a->p->exempt_root = e0;
		if (err)
			return err;
		a->slot = !a->slot;
		a->gen++;
	}
	return build(a->p, a->tree, a->ntree, &a->pl, a->slot, a->gen, a->file, a->o, false,
		     &a->img, &a->fail);
}

/*
 * Sysctl mode's checks, before anything changes: lowering must open nothing
 * unprotected, and every process of a managed namespace must sit where the
 * programs are attached, or its binds would go unguarded.
 */
static int apply_check_sysctls(struct apply *a)
{
	const struct pg_policy *p = a->p;
	int err;
	size_t i;

	if (a->pl.mode != PG_MODE_SYSCTL || pg_audit_keeps_threshold(p, a->pl.mode))
		return 0; /* nothing is lowered */
	if ((err = pg_netns_check(&a->st, p, PG_SELF_NETNS)) ||
	    (err = pg_netns_confined(PG_SELF_NETNS, a->o->attach)))
		return err;
	for (i = 0; i < p->nnetns; i++)
		if ((err = pg_netns_check(&a->st, p, p->netns[i].path)) ||
		    (err = pg_netns_confined(p->netns[i].path, a->o->attach)))
			return err;
	return 0;
}

/* From here on the kernel changes: load the programs, or upgrade them. */
static int apply_load(struct apply *a)
{
	struct pg_state *st = &a->st;
	int err;

	pg_dbg("phase: load");
	err = a->fresh ? pg_state_load(st, a->pl.bypass, a->variants)
		       : pg_state_upgrade(st, a->pl.bypass);
	if (err == -ENOTSUP) {
		pg_err("kernel %s: no program variant loads (%s); the sysctl mode needs the same "
		       "programs, so nothing can enforce here",
		       pg_kernel_release(), a->why);
		a->fail = FAIL_KERNEL;
	}
	if (err)
		return err;
	st->ctl->bypass = a->pl.bypass ? 2 : 1;
	st->ctl->boot = pg_boot_hash();
	/* Reserve this apply's generations before anything is stamped with them. */
	__atomic_store_n(&st->ctl->next_gen, a->img.blocks[0].hdr.gen + 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* Before an audited image is swapped in: the kernel's own threshold back
 * where sysctl mode keeps it (a stricter moment under the old image, never
 * a looser one), and told to the programs. */
static int apply_audit(struct apply *a)
{
	int err;

	if (!pg_policy_has_audit(a->p))
		return 0;
	if (!a->fresh && pg_audit_keeps_threshold(a->p, a->pl.mode) &&
	    (err = pg_netns_restore(&a->st, NULL, 0))) {
		pg_err("nothing swapped: audit needs the kernel's own threshold back first");
		return err;
	}
	return pg_audit_publish(&a->st, a->p, a->pl.mode);
}

/* Swap the image in (the transitional one first), then attach. */
static int apply_install(struct apply *a)
{
	int err;

	/* Thresholds go up before the swap (the new image may protect less at
	 * the bottom), down only after it. */
	if (!a->fresh && (err = pg_netns_raise(&a->st, a->p))) {
		pg_err("nothing swapped: the policy in force is unchanged");
		return err;
	}
	if ((err = apply_audit(a)))
		return err;
	if (a->need_trans) {
		pg_dbg("phase: transitional");
		if ((err = pg_state_install(&a->st, &a->trans, a->mount, a->old, a->nold)))
			return err;
		if ((err = pg_netns_restore(&a->st, NULL, 0))) {
			pg_err("the stricter transitional policy stays in force until the sysctls "
			       "can be restored; fix that and apply again");
			return err;
		}
	}
	pg_dbg("phase: install");
	err = a->need_trans
		  ? pg_state_install(&a->st, &a->img, a->mount, a->trans.nodes, a->trans.nnodes)
		  : pg_state_install(&a->st, &a->img, a->mount, a->old, a->nold);
	if (err)
		return err;
	/* Attach (or check the links of an earlier apply), and verify. */
	pg_dbg("phase: attach");
	if ((err = pg_state_attach(&a->st, a->attach_fd, a->o->attach))) {
		if (a->fresh) {
			pg_err("attach failed: removing the half-made state (nothing was "
			       "enforcing before this apply, and nothing is lowered)");
			pg_state_destroy(&a->st);
		}
		return err;
	}
	return 0;
}

/* Only now, with the programs attached and verified, lower thresholds. */
static int apply_lower(struct apply *a)
{
	const struct pg_policy *p = a->p;
	int err = 0;
	size_t i;

	pg_dbg("phase: lower");
	a->keep = calloc(p->nnetns + 1, sizeof(*a->keep));
	if (!a->keep)
		return -ENOMEM;
	for (i = 0; i <= p->nnetns && !err; i++) {
		err = pg_netns_lower(&a->st, p, i ? p->netns[i - 1].path : PG_SELF_NETNS,
				     &a->keep[a->nkeep]);
		a->nkeep += !err && a->keep[a->nkeep];
	}
	if (err)
		pg_err("the policy is applied and enforcing, but sysctl mode could not lower "
		       "every threshold%s",
		       a->pl.bypass ? "" : "; granted binds in those namespaces still fail");
	return err;
}

static int apply_sysctls(struct apply *a)
{
	int err;

	if (a->pl.mode == PG_MODE_SYSCTL && !pg_audit_keeps_threshold(a->p, a->pl.mode) &&
	    (err = apply_lower(a)))
		return err;
	/* Namespaces the policy no longer manages (or grant mode: all) get their value back. */
	pg_dbg("phase: restore");
	return pg_netns_restore(&a->st, a->keep, a->nkeep);
}

/*
 * Has the list of selectors that match no cgroup changed since the last
 * apply of this process? The agent applies again on every pod event, and
 * on most nodes some pod: rules select no pod: it says so once, and again
 * when the list changes, not on every apply. A command applies once.
 */
static bool unmatched_changed(const struct pg_image *img)
{
	static uint64_t last;
	static bool said;
	uint64_t h = PG_FNV1A_INIT;
	size_t i;

	/* each with its NUL: "ab","c" is not "a","bc" */
	for (i = 0; i < img->nunmatched; i++)
		h = pg_fnv1a(h, img->unmatched[i], strlen(img->unmatched[i]) + 1);
	if (said && h == last)
		return false;
	said = true;
	last = h;
	return true;
}

static void apply_report(const struct apply *a, struct pg_apply_result *res)
{
	const struct pg_policy *p = a->p;
	const struct pg_image *img = &a->img;
	char hash[65];
	size_t i;

	pg_hex(p->sha256, 32, hash);
	if (res) {
		res->gen = img->blocks[0].hdr.gen;
		memcpy(res->sha256, p->sha256, sizeof(res->sha256));
		res->nrules = p->nrules;
		res->nnodes = img->nnodes;
		res->grant = a->pl.mode == PG_MODE_GRANT;
	}
	if (!a->o->quiet)
		printf(
		    "portgate: applied %s: generation %llu, %zu rule%s on %zu cgroup%s, %s mode, "
		    "sha256 %.12s\n",
		    a->file, (unsigned long long)img->blocks[0].hdr.gen, p->nrules,
		    p->nrules == 1 ? "" : "s", img->nnodes, img->nnodes == 1 ? "" : "s",
		    a->pl.mode == PG_MODE_GRANT ? "grant" : "sysctl", hash);
	if (unmatched_changed(img))
		for (i = 0; i < img->nunmatched; i++)
			pg_note("selector %s matches no cgroup yet", img->unmatched[i]);
}

static void apply_free(struct apply *a, bool failed)
{
	/* A refused first apply leaves no empty pin directory behind. */
	if (failed && a->created && a->fresh && !pg_state_any(&a->st) && a->st.dirfd >= 0)
		rmdir(a->o->pin_dir);
	free(a->keep);
	free(a->saved);
	free(a->old);
	if (a->have_cur_meta)
		pg_meta_free(&a->cur_meta);
	free(a->cur);
	pg_image_free(&a->img);
	pg_image_free(&a->trans);
	if (!a->tree_kept)
		pg_cg_tree_free(a->tree, a->ntree);
	if (a->st_open)
		pg_state_close(&a->st);
	if (a->attach_fd >= 0)
		close(a->attach_fd);
	pg_policy_free(a->p);
}

static int apply_exit(enum apply_fail fail)
{
	switch (fail) {
	case FAIL_POLICY:
		return PG_EXIT_POLICY;
	case FAIL_KERNEL:
		return PG_EXIT_KERNEL;
	case FAIL_ENVIRONMENT:
		return PG_EXIT_USAGE;
	default:
		return PG_EXIT_FAIL;
	}
}

int pg_apply(const char *file, const struct pg_opts *o, struct pg_apply_result *res)
{
	/* the phases in order; each returns 0 or -errno, having said why */
	static int (*const phases[])(struct apply *) = {
		apply_prepare,	     apply_open_state, apply_probe,   apply_current, apply_compile,
		apply_check_sysctls, apply_load,       apply_install, apply_sysctls,
	};
	struct apply a = { .file = file,
			   .o = o,
			   .attach_fd = -1,
			   .st = { .dirfd = -1 },
			   .variants = { PG_VARIANT_NONE } };
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(phases) / sizeof(phases[0]) && !err; i++)
		err = phases[i](&a);
	if (!err)
		apply_report(&a, res);
	apply_free(&a, err != 0);
	return err ? apply_exit(a.fail) : PG_EXIT_OK;
}
