/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * agent.h - the agent's state file: `portgate run` writes it (run.h),
 * `status` reads it.
 *
 * State file: /run/portgate/agent.json for the default pin directory,
 * /run/portgate/agent-HASH.json for another (HASH: the first 16 hex digits
 * of the SHA-256 of the pin directory's path, written without "//", "./"
 * or a trailing "/"). A flat JSON object, replaced atomically.
 */
#ifndef PORTGATE_AGENT_H
#define PORTGATE_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PG_AGENT_DIR	       "/run/portgate"
#define PG_AGENT_ERR_MAX       4096 /* bytes of the last error kept */
#define PG_AGENT_STATE_VERSION 1

/* ----------------------------------------------------------- state file */

struct pg_agent_state {
	int64_t pid;
	uint64_t starttime;  /* of pid: /proc/PID/stat field 22, ticks since boot */
	uint64_t started_at; /* unix seconds, as every *_at */
	char file[PATH_MAX];
	char pin_dir[PATH_MAX];
	char attach[PATH_MAX];
	bool running; /* false once the agent exited */
	uint64_t exited_at;
	char exit_reason[256];
	uint64_t last_attempt_at;      /* last apply attempted, 0 if none */
	uint64_t last_attempt_boot_ns; /* when it began, CLOCK_BOOTTIME (`reload` waits for it) */
	bool last_attempt_ok;
	int64_t last_attempt_status; /* its exit status */
	char last_attempt_trigger[64];
	uint64_t last_success_at; /* last apply that succeeded, 0 if none */
	uint64_t generation;	  /* what it put in force */
	char sha256[65];
	uint64_t reloads_ok, reloads_failed; /* after the first apply */
	uint64_t last_error_at;
	char last_error[PG_AGENT_ERR_MAX + 1];
	/* the Kubernetes source (run --kubeconfig, or in a cluster) */
	bool kube;
	char kube_node[256];
	char kube_state[16];   /* connecting, connected, disconnected */
	char kube_reason[512]; /* why disconnected */
	char kube_rv[64];      /* the last resourceVersion */
	uint64_t kube_pods, kube_reconnects;
};

/* The state file for a pin directory; 0 or -ENAMETOOLONG. */
int pg_agent_state_path(const char *pin_dir, char *out, size_t len);

/* Write (atomically, creating PG_AGENT_DIR 0700) or read the state file.
 * Read: 0, -ENOENT when there is none, -EPROTO when it is not ours. */
int pg_agent_state_write(const char *path, const struct pg_agent_state *s);
int pg_agent_state_read(const char *path, struct pg_agent_state *s);

/* Is the agent of the state alive: its pid exists with the same start time
 * (a reused pid has another)? */
bool pg_agent_alive(const struct pg_agent_state *s);

/* Start time of a process (/proc/PID/stat field 22); 0 or -errno (-ESRCH
 * for a zombie, which has ended). */
int pg_proc_starttime(pid_t pid, uint64_t *out);

#endif
