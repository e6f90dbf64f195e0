/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * meta.h - what status and explain need to know about the active policy,
 * stored in the policy image itself (after the tables, deflated) so that it
 * is swapped with the policy, never out of step with it. Text lines:
 * "KEY FIELD...", the last field of rule/node/etc may hold spaces; \n and
 * \\ are escaped.
 */
#ifndef PORTGATE_META_H
#define PORTGATE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "prom.h"

#define PG_META_VERSION 1

struct pg_meta_rule {
	uint32_t file, line, col;
	char *text;
};

struct pg_meta_node {
	uint32_t node;
	uint64_t cgid;
	int level;
	char *path;
};

struct pg_meta {
	uint64_t gen, time;
	char hash[65];
	char *source;
	char *mode;   /* grant | sysctl */
	char *reason; /* why that mode */
	char *attach; /* cgroup path */
	bool transitional;
	char **files;
	size_t nfiles;
	struct pg_meta_rule *rules;
	size_t nrules;
	struct pg_meta_node *nodes;
	size_t nnodes;
	char **unmatched;
	size_t nunmatched;
};

struct pg_meta_in {
	uint64_t gen, time;
	const char *source, *mode, *reason, *attach;
	bool transitional;
};

/* The meta text for a compiled policy (malloc'd, NUL-terminated). */
char *pg_meta_build(const struct pg_policy *p, const struct pg_image *img,
		    const struct pg_meta_in *in, size_t *len);

/* Deflate the text into the form stored in the image (malloc'd). */
int pg_meta_pack(const char *text, size_t len, char **out, size_t *outlen);

/* Parse the meta region of an image. 0 or -EPROTO. */
int pg_meta_parse(const union pg_block *blocks, uint32_t nblocks, struct pg_meta *m);
void pg_meta_free(struct pg_meta *m);

/* Next word of a rule's text into out, quotes removed ("ACTION SELECTOR
 * PORTS COND..."); NULL at the end. *p moves past it. */
const char *pg_meta_token(const char **p, char *out, size_t len);

/* A rule's text split into its action, selector, ports and conditions
 * (each cut at its field's size). */
void pg_meta_rule_fields(const char *text, struct pg_rule_fields *f);

/* The ids (prom.h) of m's rules, in order, malloc'd; NULL without memory. */
pg_rule_id_t *pg_meta_rule_ids(const struct pg_meta *m);

#endif
