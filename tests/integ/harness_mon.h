/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * harness_mon.h - `portgate monitor` in the background for the event
 * tests: start it, wait until its subscription is in pg_ctl, read what it
 * printed. A monitor still running at hx_mon_reap() is killed and reaped.
 */
#ifndef PORTGATE_HARNESS_MON_H
#define PORTGATE_HARNESS_MON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

struct hx_mon {
	pid_t pid;
	int out; /* read end of its stdout */
	int err; /* read end of its stderr */
};

/*
 * Start portgate monitor ARGS... (NULL-terminated; --pin-dir added) and
 * wait until it has subscribed: a pg_ev slot is its own, with its wishes
 * in pg_ctl.evmask. 0, or -1 with a message printed (it is killed then).
 */
int hx_mon_start(struct hx *h, struct hx_mon *m, ...);

/* Everything it wrote, until it exits (*out and *err: free them); its exit
 * status, or -1 when it did not exit normally. */
int hx_mon_wait(struct hx_mon *m, char **out, char **err);

/* Kill and reap every monitor started and not waited for (teardown). */
void hx_mon_reap(void);

/* pg_ctl.evmask of h's pin directory (0 when it cannot be read). */
uint32_t hx_evmask(struct hx *h);

#endif
