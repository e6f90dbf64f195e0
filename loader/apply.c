// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * apply.c - `portgate apply`.
 *
 * apply, in order: parse and compile everything first (a bad policy changes
 * nothing); then load or take over the pinned state; swap the image in; make
 * sure the links are attached (and listed by the kernel); only then lower
 * sysctls in sysctl mode. Leaving sysctl mode restores before detaching.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cgroup.h"
#include "cmd.h"
#include "policy_src.h"
#include "compile.h"
#include "meta.h"
#include "netns.h"
#include "opt.h"
#include "probe.h"
#include "state.h"
#include "util.h"

/* ------------------------------------------------------------------ apply */

struct plan {
	enum pg_mode mode;
	bool bypass;
	char reason[512];
};

static int decide_mode(const struct pg_policy *p, struct pg_state *st, int attach_fd,
		       struct plan *pl)
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
			return PG_EXIT_FAIL;
		}
	}
	switch (p->mode) {
	case PG_MODE_GRANT:
		if (!pl->bypass) {
			pg_err(
			    "grant mode needs the bind bypass bit (Linux 5.12+), which kernel %s "
			    "lacks: %s; use mode sysctl",
			    pg_kernel_release(), why);
			return PG_EXIT_KERNEL;
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
		return PG_EXIT_POLICY;
	}
	return 0;
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

static int build(const struct pg_policy *p, const struct pg_cgroup *tree, size_t ntree,
		 const struct plan *pl, uint8_t slot, uint64_t gen, const char *file,
		 const char *attach, bool transitional, struct pg_image *img)
{
	struct pg_compile_opts co = { .mode = pl->mode,
				      .bypass = pl->bypass,
				      .slot = slot,
				      .gen = gen,
				      .seed = (uint32_t)(gen * 2654435761u) | 1 };
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
	if (err == -EINVAL)
		return PG_EXIT_POLICY;
	if (err) {
		pg_err("cannot compile %s: %s", file, strerror(-err));
		return err == -E2BIG ? PG_EXIT_POLICY : PG_EXIT_FAIL;
	}
	meta = pg_meta_build(p, img, &mi, &len);
	if (!meta || pg_meta_pack(meta, len, &packed, &plen) ||
	    pg_image_set_meta(img, packed, plen)) {
		free(meta);
		free(packed);
		pg_image_free(img);
		pg_err("out of memory building the policy image");
		return PG_EXIT_FAIL;
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

int pg_apply(const char *file, const struct pg_opts *o, struct pg_apply_result *res)
{
	struct pg_state st = { .dirfd = -1 };
	struct pg_policy *p = NULL;
	struct pg_cgroup *tree = NULL;
	struct pg_image img = { 0 }, trans = { 0 };
	union pg_block *cur = NULL;
	uint32_t ncur = 0;
	struct pg_meta cur_meta;
	bool have_cur_meta = false;
	struct pg_node_out *old = NULL;
	size_t nold = 0;
	uint64_t *keep = NULL, gen = 1;
	size_t ntree = 0, nkeep = 0, i, nsaved = 0;
	struct pg_saved_ent *saved = NULL;
	char mount[4096], why[512], hash[65];
	int variants[PG_NVARIANTS + 1] = { PG_VARIANT_NONE };
	struct plan pl = { 0 };
	uint8_t slot = 0;
	int status = PG_EXIT_FAIL, attach_fd = -1, err;
	bool fresh = false, need_trans = false, created = false;

	p = pg_load_policy(file, &status);
	if (!p)
		return status;
	status = PG_EXIT_FAIL;
	if (geteuid()) {
		pg_err("needs root: it loads BPF programs, pins them and attaches them to "
		       "cgroups");
		goto out;
	}
	pg_dbg("phase: probe");
	if ((err = pg_cg2_mount(mount, sizeof(mount)))) {
		pg_err("cannot find a cgroup2 mount in /proc/self/mountinfo: %s", strerror(-err));
		goto out;
	}
	attach_fd = pg_cg_open(mount, o->attach);
	if (attach_fd < 0) {
		pg_err("cannot open cgroup %s under %s: %s", o->attach, mount,
		       strerror(-attach_fd));
		goto out;
	}
	if (access(o->pin_dir, F_OK))
		created = true; /* removed again if this apply fails before loading */
	if (pg_state_open(&st, o->pin_dir, true, true))
		goto out;
	if (pg_state_any(&st) && !pg_state_loaded(&st)) {
		for (i = 0; i < PG_NLINKS; i++)
			if (st.link[i] >= 0) {
				pg_err("state in %s is damaged (links without their programs or "
				       "maps); run 'portgate stop' to clear it",
				       st.dir);
				goto out;
			}
		/* An earlier first apply died before attaching anything: start over. */
		pg_dbg("clearing a half-made state in %s", st.dir);
		if (pg_state_destroy(&st))
			goto out;
		pg_state_close(&st);
		if (pg_state_open(&st, o->pin_dir, true, true))
			goto out;
	}
	fresh = !pg_state_loaded(&st);
	/* Programs already loaded prove the kernel has what they need; reading the
	 * kernel's BTF to check costs tens of milliseconds, so only when fresh. */
	if (fresh && (err = pg_probe_variants(variants, why, sizeof(why)))) {
		if (err == -EINVAL) {
			pg_err("%s", why);
			status = PG_EXIT_USAGE;
		} else {
			pg_err("kernel %s unsupported: %s", pg_kernel_release(), why);
			status = PG_EXIT_KERNEL;
		}
		goto out;
	}
	if ((err = pg_cg_tree(mount, &tree, &ntree))) {
		pg_err("cannot read the cgroup tree under %s: %s", mount, strerror(-err));
		goto out;
	}
	pg_state_drop_dead_links(&st, tree, ntree);
	if (pg_state_check_attach(&st, attach_fd, o->attach))
		goto out;
	pg_dbg("phase: mode");
	if ((status = decide_mode(p, &st, attach_fd, &pl)))
		goto out;
	status = PG_EXIT_FAIL;

	if (!fresh && !pg_state_image(&st, &cur, &ncur)) {
		slot = !cur[0].hdr.slot;
		gen = cur[0].hdr.gen + 1;
		/* An apply killed after publishing nodes for a generation but before
		 * its swap left pg_nodes entries stamped with it: never reuse one. */
		if (st.ctl->next_gen > gen)
			gen = st.ctl->next_gen;
		/* its nodes, whose pg_nodes entries the new image may drop */
		if (!pg_meta_parse(cur, ncur, &cur_meta)) {
			have_cur_meta = true;
			old = calloc(cur_meta.nnodes + 1, sizeof(*old));
			if (!old)
				goto out;
			for (i = 0; i < cur_meta.nnodes; i++)
				old[nold++] = (struct pg_node_out){ cur_meta.nodes[i].cgid,
								    cur_meta.nodes[i].node,
								    cur_meta.nodes[i].level,
								    cur_meta.nodes[i].path, false };
		}
	}
	pg_dbg("phase: compile");
	/* Leaving a lowered threshold under a default-kernel policy needs a
	 * stricter image first; see make_transitional(). */
	if (!fresh && (err = pg_netns_saved(&st, &saved, &nsaved)) == 0 && nsaved &&
	    pg_policy_default(p, pl.mode) == PG_DEFAULT_KERNEL)
		need_trans = true;
	if (need_trans) {
		enum pg_def d0;
		bool e0;

		make_transitional(p, &d0, &e0);
		status = build(p, tree, ntree, &pl, slot, gen, file, o->attach, true, &trans);
		p->def = d0;
		p->exempt_root = e0;
		if (status)
			goto out;
		slot = !slot;
		gen++;
	}
	if ((status = build(p, tree, ntree, &pl, slot, gen, file, o->attach, false, &img)))
		goto out;
	status = PG_EXIT_FAIL;

	/* Sysctl mode's checks, before anything changes: lowering must open
	 * nothing unprotected, and every process of a managed namespace must sit
	 * where the programs are attached, or its binds would go unguarded. */
	if (pl.mode == PG_MODE_SYSCTL) {
		if (pg_netns_check(&st, p, PG_SELF_NETNS) ||
		    pg_netns_confined(PG_SELF_NETNS, o->attach))
			goto out;
		for (i = 0; i < p->nnetns; i++)
			if (pg_netns_check(&st, p, p->netns[i].path) ||
			    pg_netns_confined(p->netns[i].path, o->attach))
				goto out;
	}

	/* From here on the kernel changes. */
	pg_dbg("phase: load");
	err = fresh ? pg_state_load(&st, pl.bypass, variants) : pg_state_upgrade(&st, pl.bypass);
	if (err == -ENOTSUP) {
		pg_err("kernel %s: no program variant loads (%s); the sysctl mode needs the same "
		       "programs, so nothing can enforce here",
		       pg_kernel_release(), why);
		status = PG_EXIT_KERNEL;
	}
	if (err)
		goto out;
	st.ctl->bypass = pl.bypass ? 2 : 1;
	st.ctl->boot = pg_boot_hash();
	/* Reserve this apply's generations before anything is stamped with them. */
	__atomic_store_n(&st.ctl->next_gen, img.blocks[0].hdr.gen + 1, __ATOMIC_SEQ_CST);

	/* Thresholds go up before the swap (the new image may protect less at
	 * the bottom), down only after it. */
	if (!fresh && pg_netns_raise(&st, p)) {
		pg_err("nothing swapped: the policy in force is unchanged");
		goto out;
	}
	if (need_trans) {
		pg_dbg("phase: transitional");
		if (pg_state_install(&st, &trans, mount, old, nold))
			goto out;
		if (pg_netns_restore(&st, NULL, 0)) {
			pg_err("the stricter transitional policy stays in force until the sysctls "
			       "can be restored; fix that and apply again");
			goto out;
		}
	}
	pg_dbg("phase: install");
	if (need_trans ? pg_state_install(&st, &img, mount, trans.nodes, trans.nnodes)
		       : pg_state_install(&st, &img, mount, old, nold))
		goto out;
	/* Attach (or check the links of an earlier apply), and verify. */
	pg_dbg("phase: attach");
	if (pg_state_attach(&st, attach_fd, o->attach)) {
		if (fresh) {
			pg_err("attach failed: removing the half-made state (nothing was "
			       "enforcing before this apply, and nothing is lowered)");
			pg_state_destroy(&st);
		}
		goto out;
	}

	/* Only now, with the programs attached and verified, lower thresholds. */
	if (pl.mode == PG_MODE_SYSCTL) {
		pg_dbg("phase: lower");
		keep = calloc(p->nnetns + 1, sizeof(*keep));
		if (!keep)
			goto out;
		if (pg_netns_lower(&st, p, PG_SELF_NETNS, &keep[nkeep]))
			goto sysctl_fail;
		nkeep += !!keep[nkeep];
		for (i = 0; i < p->nnetns; i++) {
			if (pg_netns_lower(&st, p, p->netns[i].path, &keep[nkeep]))
				goto sysctl_fail;
			nkeep += !!keep[nkeep];
		}
	}
	/* Namespaces the policy no longer manages (or grant mode: all) get their value back. */
	pg_dbg("phase: restore");
	if (pg_netns_restore(&st, keep, nkeep))
		goto out;

	pg_hex(p->sha256, 32, hash);
	if (res) {
		res->gen = img.blocks[0].hdr.gen;
		memcpy(res->sha256, p->sha256, sizeof(res->sha256));
		res->nrules = p->nrules;
		res->nnodes = img.nnodes;
		res->grant = pl.mode == PG_MODE_GRANT;
	}
	if (!o->quiet)
		printf(
		    "portgate: applied %s: generation %llu, %zu rule%s on %zu cgroup%s, %s mode, "
		    "sha256 %.12s\n",
		    file, (unsigned long long)img.blocks[0].hdr.gen, p->nrules,
		    p->nrules == 1 ? "" : "s", img.nnodes, img.nnodes == 1 ? "" : "s",
		    pl.mode == PG_MODE_GRANT ? "grant" : "sysctl", hash);
	for (i = 0; i < img.nunmatched; i++)
		pg_note("selector %s matches no cgroup yet", img.unmatched[i]);
	status = PG_EXIT_OK;
	goto out;

sysctl_fail:
	pg_err("the policy is applied and enforcing, but sysctl mode could not lower every "
	       "threshold%s",
	       pl.bypass ? "" : "; granted binds in those namespaces still fail");
out:
	/* A refused first apply leaves no empty pin directory behind. */
	if (status && created && fresh && !pg_state_any(&st) && st.dirfd >= 0)
		rmdir(o->pin_dir);
	free(keep);
	free(saved);
	free(old);
	if (have_cur_meta)
		pg_meta_free(&cur_meta);
	free(cur);
	pg_image_free(&img);
	pg_image_free(&trans);
	pg_cg_tree_free(tree, ntree);
	pg_state_close(&st);
	if (attach_fd >= 0)
		close(attach_fd);
	pg_policy_free(p);
	return status;
}
