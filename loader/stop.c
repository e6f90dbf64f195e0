// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* stop.c - `portgate stop`: restore every lowered threshold, then detach. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "netns.h"
#include "opt.h"
#include "state.h"
#include "util.h"

int pg_stop(const char *pin_dir, bool quiet)
{
	struct pg_state st;
	int err;

	if (geteuid()) {
		pg_err("needs root: it restores sysctls and detaches BPF programs");
		return -EPERM;
	}
	err = pg_state_open(&st, pin_dir, false, true);
	if (err && err != -ENOENT)
		return err;
	if (err == -ENOENT || !pg_state_any(&st)) {
		if (!err) { /* an empty pin directory: remove it */
			pg_state_destroy(&st);
			pg_state_close(&st);
		}
		if (!quiet)
			printf("portgate: not enforcing (nothing in %s); nothing to stop\n",
			       pin_dir);
		return 0;
	}
	/* A lowered threshold is never left without the programs that guard it. */
	if ((err = pg_netns_restore(&st, NULL, 0))) {
		pg_err("enforcement left in place because a lowered threshold could not be "
		       "restored");
		pg_state_close(&st);
		return err;
	}
	err = pg_state_destroy(&st);
	pg_state_close(&st);
	if (err)
		return err;
	if (!quiet)
		printf("portgate: stopped: sysctls restored, programs detached, %s removed\n",
		       pin_dir);
	return 0;
}

static const struct pg_optdef opts[] = { PG_OPT_PIN_DIR, { 0 } };

static int cmd_stop(int argc, char **argv, struct pg_opts *o)
{
	char **arg;
	int status;

	if (!pg_opt_parse(&pg_cmd_stop, argc, argv, o, &arg, &status))
		return status;
	return pg_stop(o->pin_dir, false) ? PG_EXIT_FAIL : PG_EXIT_OK;
}

const struct pg_cmd pg_cmd_stop = {
	.name = "stop",
	.fn = cmd_stop,
	.synopsis = "[--pin-dir DIR]",
	.help = "restore sysctls, then remove enforcement",
	.opts = opts,
	.nargs_err = "takes no arguments besides options",
};
