/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * state_int.h - what state.c (pins, links) shares with object.c (loading
 * and upgrading programs), not for other callers: the public API is state.h.
 */
#ifndef PORTGATE_STATE_INT_H
#define PORTGATE_STATE_INT_H

#include <stddef.h>

#include <bpf/bpf.h>

#include "state.h"

/* Each link kind's attach type, and its name in messages ("bind4", ...). */
extern const enum bpf_attach_type pg_link_type[PG_NLINKS];
extern const char *const pg_link_what[PG_NLINKS];

/* Close *fd if open, and mark it closed (-1). */
void pg_close_fd(int *fd);

/* DIR/name of the pin directory into out; 0 or -ENAMETOOLONG. */
int pg_pin_path(const struct pg_state *st, const char *name, char *out, size_t len);

/* Pin fd at name, replacing what is there in one rename(); 0 or -errno (logged). */
int pg_pin_replace(const struct pg_state *st, int fd, const char *name);

/* mmap pg_ctl into st->ctl (nothing if the map is not open); 0 or -errno (logged). */
int pg_state_map_ctl(struct pg_state *st);

#endif
