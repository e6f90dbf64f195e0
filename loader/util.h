/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* util.h - logging, exit codes, small helpers (JSON: json.h). */
#ifndef PORTGATE_UTIL_H
#define PORTGATE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

/* Exit statuses, portgate(8). */
#define PG_EXIT_OK     0
#define PG_EXIT_FAIL   1
#define PG_EXIT_USAGE  2
#define PG_EXIT_POLICY 3
#define PG_EXIT_KERNEL 4

extern int pg_verbose;

/*
 * Set by the agent (run): messages become "portgate[PID]: LEVEL: MESSAGE",
 * one write(2) each, the form journald and kubectl logs read well. LEVEL is
 * "error" for pg_err() unless the message starts with its own ("note:",
 * "warning:"), "debug" for pg_dbg().
 */
extern bool pg_log_agent;

/*
 * The command being run ("apply", ...), set once by main's dispatch: pg_err()
 * and pg_dbg() then print "portgate: CMD: MESSAGE". NULL (before a command is
 * chosen): "portgate: MESSAGE".
 */
extern const char *pg_cmd;

/* "portgate: CMD: MESSAGE\n" on stderr (see pg_cmd). */
void pg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void pg_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "portgate[PID]: LEVEL: MESSAGE\n" on stderr, whatever pg_log_agent says. */
void pg_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Route libbpf's messages through pg_dbg (warnings always). */
void pg_libbpf_logging(void);

/* An exit status as a word: "ok", "usage", "invalid policy", ... */
const char *pg_exit_word(int64_t status);

/* Parse a decimal unsigned in [min, max]; 0 or -EINVAL / -ERANGE. */
int pg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Read a small file whole into buf (NUL-terminated); bytes read or -errno. */
ssize_t pg_read_file(const char *path, char *buf, size_t len);
/* Write s to path (no O_CREAT); 0 or -errno. */
int pg_write_file(const char *path, const char *s);

/*
 * Replace path with a file holding len bytes of data, atomically: a
 * temporary file in the same directory, then rename(2). 0 or -errno.
 */
int pg_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Hex of n bytes into out (2n+1). */
void pg_hex(const uint8_t *in, size_t n, char *out);

/* Wall clock seconds as "2026-11-29T03:42:24Z". */
void pg_fmt_time(uint64_t secs, char *out, size_t len);

#endif
