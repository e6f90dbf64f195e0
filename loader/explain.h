/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * explain.h - `portgate explain`: what it asks and how it answers, shared by
 * the command and the offline form (explain.c, over an image compiled from
 * a file) and the live form (explain_live.c, over the pinned image). Both
 * decide with pg_image_decide(), the kernel's own decision code.
 */
#ifndef PORTGATE_EXPLAIN_H
#define PORTGATE_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "util.h"

/* The question; protos is PG_PROTO_* bits (any/PORT: all three). */
struct pg_ask {
	const char *cg;
	uint32_t protos, port, uid, gid;
	uint8_t addr[16]; /* ::ffff:0.0.0.0 for the wildcard */
};

/* One protocol's answer. */
struct pg_why {
	uint32_t proto;	  /* PG_P_* */
	int verdict;	  /* PG_V_*, or -1: the port is not protected */
	int ret;	  /* what the bind hook returns */
	const char *at;	  /* the cgroup whose rules decided, or NULL: the default */
	const char *file; /* the deciding rule, or NULL */
	uint32_t rule, line;
	const char *text;
};

/* Parse the arguments both forms take; 0 or -EINVAL/-ERANGE/-ENOENT. */
int pg_parse_protoport(const char *s, uint32_t *protos, uint32_t *port);
int pg_parse_user(const char *s, uint32_t *uid, uint32_t *gid);
int pg_parse_group(const char *s, uint32_t *gid);
int pg_parse_addr(const char *s, uint8_t out[16]);

/* "tcp", "udp" or "other" for a PG_P_*, and the PG_P_* of a PG_PROTO_* bit. */
const char *pg_proto_word(uint32_t proto);
uint32_t pg_proto_of_bit(uint32_t bit);

/* The answer as text, and as members added to the JSON object o (the
 * caller may add its own after them). */
void pg_why_text(const struct pg_ask *a, const struct pg_why *w, FILE *f);
void pg_why_json(const struct pg_ask *a, const struct pg_why *w, struct json_object *o);

/*
 * explain -j's output: the answers of a one-protocol question as one
 * document, those of any/PORT (several) as an array of documents, each with
 * its "version". pg_answers_add() takes doc over; pg_answers_print() prints
 * and frees: 0 or -errno (pg_json_print()).
 */
struct pg_answers {
	bool many;
	struct json_object *all; /* the array (many), or the one document */
};
void pg_answers_init(struct pg_answers *an, uint32_t protos);
void pg_answers_add(struct pg_answers *an, struct json_object *doc);
int pg_answers_print(struct pg_answers *an);

/* explain --policy FILE: decide from the file alone; a PG_EXIT_* status. */
int pg_explain_policy(const char *file, const struct pg_ask *a, bool json);
/* explain: decide from the policy in force in pin_dir (explain_live.c, over
 * the view status_view.c gathers); a PG_EXIT_* status. */
int pg_explain_live(const char *pin_dir, const struct pg_ask *a, bool json);

#endif
