/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * prom.h - the Prometheus text exposition format (0.0.4) as portgate writes
 * it, and the stable id its rule series are keyed by.
 */
#ifndef PORTGATE_PROM_H
#define PORTGATE_PROM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A rule's words, as meta.h's pg_meta_rule_fields() splits its text. */
struct pg_rule_fields {
	char action[16];
	char selector[4096];
	char ports[1024];
	char conditions[4096]; /* the condition words, joined by one space */
};

/* Hex digits of a rule id: 64 bits of SHA-256, unique enough for a policy. */
#define PG_RULE_ID_LEN 16

/*
 * The rule's id: the first PG_RULE_ID_LEN hex digits of the SHA-256 of its
 * action, selector, ports and conditions, each ended by a NUL byte. The
 * same rule has the same id in every generation and on every node, wherever
 * it stands in the file; any change to what it says gives it a new one.
 */
void pg_rule_id(const struct pg_rule_fields *f, char out[PG_RULE_ID_LEN + 1]);
typedef char pg_rule_id_t[PG_RULE_ID_LEN + 1];

/* A rule's id and its index in its policy. */
struct pg_rule_key {
	pg_rule_id_t id;
	uint32_t idx;
};

/* The n ids as keys sorted by id, then by index, so that rules that say the
 * same thing sit together, the first of them first: malloc'd, NULL without
 * memory. A policy may have 262144 rules: nothing here is quadratic. */
struct pg_rule_key *pg_rule_keys(const pg_rule_id_t *ids, size_t n);

/* The lowest index of a rule with id in keys (n of them), or -1. */
int64_t pg_rule_key_find(const struct pg_rule_key *keys, size_t n, const char *id);

/* The commit of a version string as the Makefile makes it from git describe
 * ("0.1.0-gc875925", "0.2.0-3-gc875925-dirty"): what follows its last "-g"
 * ("c875925", "c875925-dirty"); "" for a release or a tarball. */
const char *pg_prom_commit(const char *version);

/* A label value: bytes that are not UTF-8 become U+FFFD; backslash, double
 * quote and newline are escaped. */
void pg_prom_label_value(FILE *f, const char *s);

/* The # HELP and # TYPE lines of a metric; help holds no backslash or newline. */
void pg_prom_head(FILE *f, const char *name, const char *type, const char *help);

/* name{k1="v1",...} value; the labels as NULL-terminated key, value pairs. */
void pg_prom_sample(FILE *f, const char *name, uint64_t value, ...);

#endif
