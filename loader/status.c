// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* status.c - `portgate status`, from the live kernel state; its view is
 * gathered in status_view.c and written by status_text.c, status_json.c and
 * status_prom.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "opt.h"
#include "status_int.h"
#include "util.h"

int pg_status_in_force(const char *pin_dir, uint64_t *gen, char hash[65])
{
	struct view v;
	int err = view_gather(&v, pin_dir);

	if (!err && !v.have_meta)
		err = -ENOENT;
	if (!err) {
		*gen = v.meta.gen;
		snprintf(hash, 65, "%s", v.meta.hash);
	}
	view_free(&v);
	return err;
}

struct status_args {
	struct pg_opts o; /* first: see opt.h */
	bool prom;
};

static const struct pg_optdef status_opts[] = {
	PG_OPT_PIN_DIR,
	{ .name = "prometheus",
	  .help = "Prometheus text format, not with -j",
	  .def = "text",
	  .off = offsetof(struct status_args, prom) },
	{ 0 },
};

static int cmd_status(int argc, char **argv, struct pg_opts *o)
{
	struct status_args sa = { .o = *o };
	struct view v;
	char **arg;
	int status, r = 0;

	if (!pg_opt_parse(&pg_cmd_status, argc, argv, &sa, &arg, &status))
		return status;
	o = &sa.o;
	if (sa.prom && o->json) {
		pg_err("takes --json or --prometheus, not both");
		return PG_EXIT_USAGE;
	}
	if (sa.prom) {
		if (pg_status_prometheus(stdout, o->pin_dir))
			return PG_EXIT_FAIL;
		return fflush(stdout) ? PG_EXIT_FAIL : PG_EXIT_OK;
	}
	if (view_gather(&v, o->pin_dir)) {
		view_free(&v);
		return PG_EXIT_FAIL;
	}
	if (o->json)
		r = status_json(&v, o->pin_dir);
	else
		status_text(&v, o->pin_dir);
	view_free(&v);
	if (r) {
		pg_err("cannot write the status: %s", strerror(-r));
		return PG_EXIT_FAIL;
	}
	return PG_EXIT_OK;
}

const struct pg_cmd pg_cmd_status = {
	.name = "status",
	.fn = cmd_status,
	.synopsis = "[--pin-dir DIR] [-j | --prometheus]",
	.help = "mode and why, links, policy, counters, managed sysctls, the agent",
	.opts = status_opts,
	.json = true,
	.nargs_err = "takes no arguments besides options",
};
