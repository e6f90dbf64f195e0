// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * object.c - the BPF object: the embedded variants, opening one with its
 * read-only config, loading it (the verifier's reason when it refuses),
 * pinning what it made, and swapping a newer build's programs in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "probe.h"
#include "state.h"
/* after state.h: the skeletons name the ABI structs without including it */
#include "portgate_sk.skel.h"
#include "portgate_task.skel.h"
#include "state_int.h"
#include "util.h"

/* The programs' function names, by link kind. */
static const char *const prog_fn[PG_NLINKS] = { "pg_bind4",  "pg_bind6", "pg_sysctl",
						"pg_sockcr", "pg_mkdir", "pg_rmdir" };

static const void *variant_elf(int variant, size_t *sz)
{
	switch (variant) {
	case PG_VARIANT_SK:
		return portgate_sk__elf_bytes(sz);
	case PG_VARIANT_TASK:
		return portgate_task__elf_bytes(sz);
	default:
		*sz = 0;
		return NULL;
	}
}

uint64_t pg_build_hash(int variant)
{
	size_t sz;
	const uint8_t *b = variant_elf(variant, &sz);

	return pg_fnv1a(PG_FNV1A_INIT, b, sz);
}

/* Set a 32-bit `const volatile` global of the object before its load. */
static int set_rodata_u32(struct bpf_object *obj, const char *name, uint32_t val)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf_var_secinfo *vi;
	const struct btf_type *sec;
	struct btf *btf = bpf_object__btf(obj);
	size_t sz = 0;
	char *data;
	int id, i;

	data = m ? (char *)bpf_map__initial_value(m, &sz) : NULL; /* const in libbpf 1.1 */
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!data || id <= 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vi++) {
		const struct btf_type *var = btf__type_by_id(btf, vi->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vi->size != sizeof(val) || vi->offset + sizeof(val) > sz)
			return -EINVAL;
		memcpy(data + vi->offset, &val, sizeof(val));
		return 0;
	}
	return -ENOENT;
}

static struct bpf_program *obj_prog(const struct pg_state *st, int kind)
{
	return bpf_object__find_program_by_name(st->obj, prog_fn[kind]);
}

static struct bpf_map *obj_map(const struct pg_state *st, int kind)
{
	return bpf_object__find_map_by_name(st->obj, pg_map_names[kind]);
}

/*
 * The verifier's own reason, from the end of a log: its last line that is
 * not one of the summary lines it adds after the error.
 */
static void verifier_reason(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *p, *ls;

	snprintf(out, len, "no verifier log");
	for (p = end; p > log;) {
		size_t n;

		while (p > log && (p[-1] == '\n' || p[-1] == ' '))
			p--;
		for (ls = p; ls > log && ls[-1] != '\n'; ls--)
			;
		n = (size_t)(p - ls);
		if (n && strncmp(ls, "processed ", 10) && strncmp(ls, "verification time", 17) &&
		    strncmp(ls, "stack depth", 11) && strncmp(ls, "mark_precise", 12) &&
		    strncmp(ls, "-- END", 6)) {
			snprintf(out, len, "%.*s", (int)(n > 300 ? 300 : n), ls);
			return;
		}
		p = ls;
	}
}

#define PG_LOG_SIZE (16u << 20) /* old kernels keep a log's head: room for all of it */

/*
 * Load one variant's object. A refusal is reported as the program, the
 * kernel, and the verifier's last word; -v prints the whole log.
 */
static int open_obj(struct pg_state *st, int variant, bool bypass, bool reuse)
{
	size_t sz;
	const void *elf = variant_elf(variant, &sz);
	struct bpf_program *prog;
	char reason[320];
	int err, i;

	if (!st->log && !(st->log = calloc(1, PG_LOG_SIZE)))
		return -ENOMEM;
	st->log[0] = 0;
	{
		LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "portgate",
			    .kernel_log_buf = st->log, .kernel_log_size = PG_LOG_SIZE);

		st->obj = bpf_object__open_mem(elf, sz, &oo);
	}
	if (!st->obj) {
		err = -errno;
		pg_err("cannot open the %s variant's BPF object: %s", pg_variant_name(variant),
		       strerror(errno));
		return err;
	}
	st->variant = variant;
	{
		enum bpf_prog_type t = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
		const char *names[] = { "pg_can_bypass", "pg_has_pid", "pg_has_comm",
					"pg_has_caps" };
		uint32_t vals[] = {
			bypass,
			libbpf_probe_bpf_helper(t, BPF_FUNC_get_current_pid_tgid, NULL) == 1,
			libbpf_probe_bpf_helper(t, BPF_FUNC_get_current_comm, NULL) == 1,
			st->caps,
		};

		for (i = 0; i < 4; i++)
			if ((err = set_rodata_u32(st->obj, names[i], vals[i]))) {
				pg_err("cannot set %s in the BPF object: %s", names[i],
				       strerror(-err));
				return err;
			}
	}
	for (i = 0; reuse && i < PG_NMAPS; i++) {
		if ((err = bpf_map__reuse_fd(obj_map(st, i), st->map[i]))) {
			pg_err("cannot reuse pinned map %s/%s: %s", st->dir, pg_map_names[i],
			       strerror(-err));
			return err;
		}
	}
	err = bpf_object__load(st->obj);
	if (!err)
		return 0;
	/* Programs load in order: the first without an fd is the one refused. */
	bpf_object__for_each_program(prog, st->obj) if (bpf_program__fd(prog) < 0) break;
	verifier_reason(st->log, reason, sizeof(reason));
	if (pg_verbose)
		pg_log_text(PG_LOG_DEBUG, st->log);
	pg_log(st->quiet ? PG_LOG_DEBUG : PG_LOG_ERROR, NULL,
	       "Linux %s refused the %s variant's program %s%s: %s: %s%s", pg_kernel_release(),
	       pg_variant_name(variant), prog ? bpf_program__name(prog) : "(unknown)",
	       st->caps ? " (reading capabilities)" : "", strerror(-err), reason,
	       pg_verbose ? "" : " (-v prints the whole verifier log)");
	return err;
}

static void close_obj(struct pg_state *st)
{
	bpf_object__close(st->obj);
	st->obj = NULL;
}

/*
 * open_obj(), with the capability read of audit (bpf/pg_caps.h) where the
 * probe finds its helper, and once more without it if the verifier refuses
 * that: audit then estimates capabilities as uid 0. st->caps says which.
 */
static int open_obj_caps(struct pg_state *st, int variant, bool bypass, bool reuse)
{
	int err;

	st->caps = pg_probe_caps();
	st->quiet = st->caps;
	err = open_obj(st, variant, bypass, reuse);
	st->quiet = false;
	if (!err || !st->caps)
		return err;
	close_obj(st);
	pg_dbg("loading the %s variant without reading capabilities: audit estimates them as "
	       "uid 0",
	       pg_variant_name(variant));
	st->caps = false;
	return open_obj(st, variant, bypass, reuse);
}

/* Say in pg_ctl whether the loaded programs read capabilities. */
static void note_caps(struct pg_state *st)
{
	uint32_t a = st->ctl->audit;

	st->ctl->audit = pg_audit(pg_audit_lo(a), st->caps, pg_audit_native(a));
}

int pg_state_load(struct pg_state *st, bool bypass, const int *variants)
{
	int err = -ENOTSUP, i, v;

	/* The best variant the verifier takes: kernels of one version differ. */
	for (v = 0; variants[v] != PG_VARIANT_NONE; v++) {
		if (!(err = open_obj_caps(st, variants[v], bypass, false)))
			break;
		close_obj(st);
		if (variants[v + 1] != PG_VARIANT_NONE)
			pg_dbg("trying the %s variant (%s)", pg_variant_name(variants[v + 1]),
			       pg_variant_what(variants[v + 1]));
	}
	if (err)
		return err == -EACCES || err == -EINVAL || err == -ENOTSUP ? -ENOTSUP : err;
	if (v)
		pg_warn("running the %s variant: %s", pg_variant_name(variants[v]),
			pg_variant_what(variants[v]));
	for (i = 0; i < PG_NMAPS; i++) {
		st->map[i] = dup(bpf_map__fd(obj_map(st, i)));
		if (st->map[i] < 0 || (err = pg_pin_replace(st, st->map[i], pg_map_names[i])))
			return st->map[i] < 0 ? -errno : err;
	}
	if ((err = pg_state_map_ctl(st)))
		return err;
	st->ctl->abi = PG_ABI_VERSION;
	st->ctl->variant = (uint32_t)st->variant;
	st->ctl->build = pg_build_hash(st->variant);
	note_caps(st);
	for (i = 0; i < PG_NLINKS; i++) {
		st->prog[i] = dup(bpf_program__fd(obj_prog(st, i)));
		if (st->prog[i] < 0 || (err = pg_pin_replace(st, st->prog[i], pg_prog_names[i])))
			return st->prog[i] < 0 ? -errno : err;
	}
	return 0;
}

int pg_state_upgrade(struct pg_state *st, bool bypass)
{
	int err, i, variant = (int)st->ctl->variant;

	/* The variant stays what the first load found this kernel takes. */
	if (st->ctl->build == pg_build_hash(variant))
		return 0;
	pg_dbg("pinned programs come from another build: swapping in this build's");
	if ((err = open_obj_caps(st, variant, bypass, true)))
		return err == -EACCES || err == -EINVAL ? -ENOTSUP : err;
	for (i = 0; i < PG_NLINKS; i++) {
		int fd = bpf_program__fd(obj_prog(st, i));

		if (i >= PG_NCGLINKS && st->link[i] >= 0) {
			/* Tracepoint links cannot swap programs: attach the new one
			 * first (both run a while, writing the same entries), then
			 * the pin's replacement releases the old one. */
			int nl = bpf_link_create(fd, 0, pg_link_type[i], NULL);

			if (nl < 0) {
				err = -errno;
				pg_err("cannot attach the new %s program: %s", pg_link_what[i],
				       strerror(errno));
				return err;
			}
			err = pg_pin_replace(st, nl, pg_link_names[i]);
			pg_close_fd(&st->link[i]);
			st->link[i] = nl;
			if (err)
				return err;
		} else if (st->link[i] >= 0 && bpf_link_update(st->link[i], fd, NULL)) {
			err = -errno;
			pg_err("cannot swap the %s program behind its link: %s", pg_link_what[i],
			       strerror(errno));
			return err;
		}
		if ((err = pg_pin_replace(st, fd, pg_prog_names[i])))
			return err;
		pg_close_fd(&st->prog[i]);
		st->prog[i] = dup(fd);
	}
	st->ctl->build = pg_build_hash(variant);
	note_caps(st);
	return 0;
}
