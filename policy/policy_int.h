/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * policy_int.h - what the parts of the policy library share and nobody
 * else sees: the parser's state, and the helpers one part gives another.
 * Return conventions as in policy.h: bool true on success; a false return
 * has already put a diagnostic in ps->d.
 */
#ifndef PORTGATE_POLICY_INT_H
#define PORTGATE_POLICY_INT_H

#include "policy.h"

#define MAX_TOKS  (PG_POL_MAX_LINE / 2 + 1)
#define MAX_ID	  4294967294u /* (uid_t)-1 means "no change" to the kernel */
#define MAX_SHOWN 5	      /* ranges listed in one message */

struct tok {
	const char *raw; /* in the line, quotes included */
	size_t rawlen;
	const char *s; /* unquoted, NUL-terminated */
	size_t len;
	uint32_t col;
	bool plain; /* no quotes: s[i] is at column col + i */
};

struct parser {
	struct pg_policy *p;
	const struct pg_source_ops *ops;
	struct pg_diags *d;
	struct pg_sha256 sha;
	uint32_t stack[PG_POL_MAX_INCLUDE_DEPTH + 1]; /* files being read */
	int depth;
	uint32_t file, line;
	char *top_key; /* files[0] cleaned like included paths, to compare */
	size_t files_cap, rules_cap, netns_cap;
	bool oom, too_many_files, too_many_rules, too_many_netns;
	size_t nerrors0; /* errors in the diagnostics before this parse */
	size_t ntok;
	struct tok tok[MAX_TOKS];
	char scratch[2 * PG_POL_MAX_LINE + 2];
};

/* --- policy.c: small helpers ------------------------------------------------ */

const char *pol_action_name(enum pg_action a);
/* "tcp", "udp" or "other" for one protocol bit; "any" for anything else. */
const char *pol_proto_name(uint32_t bits);
/* Decimal digits only, at most max: 0, -EINVAL (empty, not a number) or -ERANGE. */
int pol_parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out);
/* Sort, then merge overlapping and adjacent ranges; returns the new count. */
size_t pol_merge_ranges(struct pg_range *r, size_t n);
/* a minus b, both sorted and merged, into out (room for na + nb); returns its count. */
size_t pol_ranges_minus(const struct pg_range *a, size_t na, const struct pg_range *b, size_t nb,
			struct pg_range *out);
/* "80,443,1000-2000" into buf, at most max items then ",...". */
void pol_fmt_ranges(char *buf, size_t size, const struct pg_range *r, size_t n, size_t max);
void pol_rule_free(struct pg_rule *r);

/* --- parse.c: the parser's own helpers and the line loop -------------------- */

/* Where byte off of token t is. */
struct pg_loc pol_tok_loc(const struct parser *ps, const struct tok *t, size_t off);
void pol_err_at(struct parser *ps, const struct tok *t, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pol_err_hint(struct parser *ps, const struct tok *t, size_t off, const char *hint,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Reports "out of memory" once per parse and sets ps->oom. */
void pol_no_memory(struct parser *ps);
/* Grow *v (of *cap elements of size sz) to hold n + 1; false when out of memory. */
bool pol_grow(struct parser *ps, void **v, size_t *cap, size_t n, size_t sz);
/* Append path (taken) to p->files; false when out of memory. */
bool pol_add_file(struct parser *ps, char *path);
/* Argument count: too few is an error at the keyword, too many at the first extra. */
bool pol_need_args(struct parser *ps, size_t min, size_t max, const char *what);
/* Hash, then parse file (already in p->files) line by line. */
void pol_parse_buffer(struct parser *ps, uint32_t file, const char *buf, size_t len);
/* The statement in ps->tok[0..ntok). */
void pol_statement(struct parser *ps);

/* --- rule.c: allow, deny and port lists ------------------------------------- */

/* PORTLIST from byte off of t into *out (allocated), *n items. */
bool pol_parse_ports(struct parser *ps, const struct tok *t, size_t off, struct pg_range **out,
		     size_t *n);
void pol_st_rule(struct parser *ps, enum pg_action action);

/* --- include.c ---------------------------------------------------------------- */

/* Drop "." components and repeated or trailing slashes; ".." stays (symlinks). */
void pol_clean_path(char *s);
/* The diagnostic for a pol_read_source() error at at. */
void pol_report_read(struct parser *ps, struct pg_loc at, const char *path, int err);
/* Read path through ps->ops: 0, -EFBIG past PG_POL_MAX_FILE_SIZE, or the
 * callback's -errno (-EIO if it returned a positive value). */
int pol_read_source(struct parser *ps, const char *path, char **buf, size_t *len);
void pol_st_include(struct parser *ps);

/* --- check.c ------------------------------------------------------------------ */

/* Whole-policy checks once every file is read; findings go to ps->d. */
void pol_check_policy(struct parser *ps);

#endif
