/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * json.h - every JSON document portgate prints, built as json-c objects and
 * written by pg_json_print() alone: compact, one line, members in the order
 * they were added (json-c keeps insertion order), "/" not escaped.
 *
 * json-c copies strings as they are, and does not check UTF-8. Every string
 * a document holds goes through pg_json_str(), which replaces each byte that
 * does not start a well-formed UTF-8 sequence (or is its truncated start)
 * with U+FFFD, so no raw invalid byte reaches the output (portgate(8), JSON
 * OUTPUT).
 *
 * Out of memory: a value that could not be allocated makes its member null,
 * the pg_json_set_* helpers take a NULL object (one that could not be
 * allocated) and do nothing, and pg_json_print() of a NULL document fails
 * with -ENOMEM. Callers build without checking each step.
 */
#ifndef PORTGATE_JSON_H
#define PORTGATE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json_object.h>

/* portgate's version, PORTGATE_VERSION of the build (loader/version.c). */
extern const char pg_version[];

/* A new document: an object whose first member is "version": pg_version. NULL: no memory. */
struct json_object *pg_json_doc(void);

/* A new object or array; NULL: no memory. */
struct json_object *pg_json_obj(void);
struct json_object *pg_json_arr(void);

/* s as a JSON string, invalid UTF-8 replaced (above); s NULL: JSON null (a NULL object). */
struct json_object *pg_json_str(const char *s);

/*
 * A copy of s with each byte that does not start a well-formed UTF-8
 * sequence replaced by U+FFFD (EF BF BD). NULL: no memory. Well-formed means
 * RFC 3629: shortest form, no surrogates, nothing above U+10FFFF.
 */
char *pg_json_utf8(const char *s);

/* Add key: v to object o (v NULL: null), taking v over; puts v when o is NULL. */
void pg_json_set(struct json_object *o, const char *key, struct json_object *v);
void pg_json_set_str(struct json_object *o, const char *key, const char *s);
void pg_json_set_u64(struct json_object *o, const char *key, uint64_t v);
void pg_json_set_i64(struct json_object *o, const char *key, int64_t v);
void pg_json_set_bool(struct json_object *o, const char *key, bool v);
/* Append v to array a (v NULL: null), taking v over. */
void pg_json_push(struct json_object *a, struct json_object *v);

/* A member of a struct, for blocks of uniform fields (pg_json_set_fields). */
enum pg_json_type {
	PG_JSON_STR,  /* char array member */
	PG_JSON_STRP, /* const char * member, NULL: null */
	PG_JSON_U64,
	PG_JSON_I64,
	PG_JSON_U32,
	PG_JSON_I32,
	PG_JSON_BOOL,
};

struct pg_json_field {
	const char *key;
	enum pg_json_type type;
	size_t off; /* offsetof() in the struct */
};

#define PG_JSON_FIELD(st, member, type)                                                            \
	{                                                                                          \
#member, type, offsetof(st, member)                                                \
	}

/* Add each field of the struct at base to o, in table order. */
void pg_json_set_fields(struct json_object *o, const void *base, const struct pg_json_field *f,
			size_t n);

/*
 * Write doc to f as one compact line with a newline, flush f, and put doc
 * (whatever happens). 0, -ENOMEM (doc NULL, or json-c could not serialise
 * it) or -EIO (the write or flush failed).
 */
int pg_json_print(FILE *f, struct json_object *doc);

#endif
