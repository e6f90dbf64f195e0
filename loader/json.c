// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* json.c - json-c object building and the one place documents are written. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h" /* pg_utf8_valid */

struct json_object *pg_json_obj(void)
{
	return json_object_new_object();
}

struct json_object *pg_json_arr(void)
{
	return json_object_new_array();
}

struct json_object *pg_json_doc(void)
{
	struct json_object *o = pg_json_obj();

	pg_json_set_str(o, "version", pg_version);
	return o;
}

char *pg_json_utf8(const char *s)
{
	size_t len = strlen(s), i = 0, o = 0, bad;
	char *out = malloc(len * 3 + 1); /* each byte at worst becomes 3 */

	if (!out)
		return NULL;
	/* the policy library's UTF-8 check, which the parser holds files to */
	while (!pg_utf8_valid(s + i, len - i, &bad)) {
		memcpy(out + o, s + i, bad);
		memcpy(out + o + bad, "\xef\xbf\xbd", 3);
		o += bad + 3;
		i += bad + 1;
	}
	memcpy(out + o, s + i, len - i + 1);
	return out;
}

struct json_object *pg_json_str(const char *s)
{
	struct json_object *v;
	char *clean;

	if (!s)
		return NULL;
	clean = pg_json_utf8(s);
	if (!clean)
		return NULL;
	v = json_object_new_string(clean);
	free(clean);
	return v;
}

void pg_json_set(struct json_object *o, const char *key, struct json_object *v)
{
	/* json_object_object_add puts v itself when it fails */
	if (o)
		json_object_object_add(o, key, v);
	else
		json_object_put(v);
}

void pg_json_set_str(struct json_object *o, const char *key, const char *s)
{
	pg_json_set(o, key, pg_json_str(s));
}

void pg_json_set_u64(struct json_object *o, const char *key, uint64_t v)
{
	pg_json_set(o, key, json_object_new_uint64(v));
}

void pg_json_set_i64(struct json_object *o, const char *key, int64_t v)
{
	pg_json_set(o, key, json_object_new_int64(v));
}

void pg_json_set_bool(struct json_object *o, const char *key, bool v)
{
	pg_json_set(o, key, json_object_new_boolean(v));
}

void pg_json_push(struct json_object *a, struct json_object *v)
{
	if (!a || json_object_array_add(a, v))
		json_object_put(v);
}

void pg_json_set_fields(struct json_object *o, const void *base, const struct pg_json_field *f,
			size_t n)
{
	const char *b = base;
	size_t i;

	for (i = 0; i < n; i++) {
		const void *m = b + f[i].off;

		switch (f[i].type) {
		case PG_JSON_STR:
			pg_json_set_str(o, f[i].key, m);
			break;
		case PG_JSON_STRP:
			pg_json_set_str(o, f[i].key, *(const char *const *)m);
			break;
		case PG_JSON_U64:
			pg_json_set_u64(o, f[i].key, *(const uint64_t *)m);
			break;
		case PG_JSON_I64:
			pg_json_set_i64(o, f[i].key, *(const int64_t *)m);
			break;
		case PG_JSON_U32:
			pg_json_set_u64(o, f[i].key, *(const uint32_t *)m);
			break;
		case PG_JSON_I32:
			pg_json_set_i64(o, f[i].key, *(const int32_t *)m);
			break;
		case PG_JSON_BOOL:
			pg_json_set_bool(o, f[i].key, *(const bool *)m);
			break;
		}
	}
}

int pg_json_print(FILE *f, struct json_object *doc)
{
	const char *s;
	int err = 0;

	if (!doc)
		return -ENOMEM;
	s = json_object_to_json_string_ext(doc,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		err = -ENOMEM;
	else if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
		err = -EIO;
	if (fflush(f) && !err)
		err = -EIO;
	json_object_put(doc);
	return err;
}
