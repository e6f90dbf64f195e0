/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* util.h - exit codes, small helpers (logging: log.h; JSON: json.h). */
#ifndef PORTGATE_UTIL_H
#define PORTGATE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h" /* nearly every user of these also logs */

/* Exit statuses, portgate(8). */
#define PG_EXIT_OK     0
#define PG_EXIT_FAIL   1
#define PG_EXIT_USAGE  2
#define PG_EXIT_POLICY 3
#define PG_EXIT_KERNEL 4

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

/* 64-bit FNV-1a of n bytes, going on from h: PG_FNV1A_INIT to start. */
#define PG_FNV1A_INIT 0xcbf29ce484222325ULL
uint64_t pg_fnv1a(uint64_t h, const void *p, size_t n);

/* Hex of n bytes into out (2n+1). */
void pg_hex(const uint8_t *in, size_t n, char *out);

/* Wall clock seconds as "2026-11-29T03:42:24Z". */
void pg_fmt_time(uint64_t secs, char *out, size_t len);

#endif
