// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run_output.c - what the agent keeps current for others: its state file
 * (agent.h, read by status), the metrics file for node_exporter's textfile
 * collector, and the ready file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "run.h"
#include "util.h"

void pg_agent_write_state(struct pg_agent *a)
{
	int err = pg_agent_state_write(a->state_path, &a->st);

	if (err)
		pg_err("cannot write the agent state file %s: %s", a->state_path, strerror(-err));
}

void pg_agent_write_metrics(struct pg_agent *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	if (!a->metrics_file)
		return;
	a->next_metrics = pg_now_ms() + a->metrics_ms;
	f = open_memstream(&buf, &len);
	if (!f) {
		err = -ENOMEM;
	} else {
		err = pg_status_prometheus(f, a->o->pin_dir);
		if (fclose(f) && !err)
			err = -ENOMEM;
	}
	if (!err)
		err = pg_write_atomic(a->metrics_file, buf, len, 0644);
	free(buf);
	/* once per new trouble, not every interval */
	if (err && err != a->metrics_err)
		pg_err("cannot write the metrics file %s: %s", a->metrics_file, strerror(-err));
	else if (!err && a->metrics_err)
		pg_info("metrics file %s written again", a->metrics_file);
	a->metrics_err = err;
}

int pg_agent_write_ready(struct pg_agent *a)
{
	int err;

	if (!a->ready_file)
		return 0;
	err = pg_write_atomic(a->ready_file, "", 0, 0644);
	if (err)
		pg_err("cannot create the ready file %s: %s", a->ready_file, strerror(-err));
	return err;
}

void pg_agent_remove_ready(struct pg_agent *a)
{
	if (a->ready_file && unlink(a->ready_file) && errno != ENOENT)
		pg_err("cannot remove the ready file %s: %s", a->ready_file, strerror(errno));
}
