/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * notify.h - the agent under systemd: sd_notify(3) for readiness, reloads,
 * status and the watchdog, and journald priorities on log lines.
 *
 * Protocol (systemd 252, Type=notify; portgate.service says why not
 * notify-reload):
 *   first apply ok       READY=1, STATUS=enforcing ...
 *   first apply failed   STATUS=the error (the agent then exits)
 *   any later apply      RELOADING=1 + MONOTONIC_USEC= before, then READY=1
 *                        and STATUS= (in force, or the error and what stays
 *                        in force) after: a failed reload leaves the old
 *                        policy enforcing, so the service is ready again
 *   every WatchdogSec/2  WATCHDOG=1, from the agent's poll loop only
 *   exit                 STOPPING=1
 * Every call is a no-op when NOTIFY_SOCKET is unset (not under systemd).
 */
#ifndef PORTGATE_NOTIFY_H
#define PORTGATE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct pg_agent_state;

/* Read NOTIFY_SOCKET and the watchdog interval (WATCHDOG_USEC, for this pid
 * only); call once, before the first apply. */
void pg_notify_init(void);

/* Around each apply: first is the agent's first apply; st is the state as
 * the apply left it (generation, sha256, last_attempt_ok, last_error). */
void pg_notify_apply_begin(bool first);
void pg_notify_apply_end(bool first, const struct pg_agent_state *st);

/* When the next WATCHDOG=1 is due (CLOCK_MONOTONIC ms), UINT64_MAX when the
 * watchdog is off; pg_notify_watchdog() sends it once it is due. */
uint64_t pg_notify_watchdog_due(void);
void pg_notify_watchdog(uint64_t now_ms);

void pg_notify_stopping(void);

/* The clock of the `portgate reload` handshake (state file
 * last_attempt_boot_ns): CLOCK_BOOTTIME in ns, one clock for every process. */
uint64_t pg_reload_clock_ns(void);

#endif
