/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * policy.h - portgate.conf(5): parse, resolve, match. A pure library: bytes
 * in, a policy plus diagnostics out. No BPF, no globals, no I/O except
 * through the callbacks the caller passes, so it can be unit-tested and
 * fuzzed alone.
 */
#ifndef PORTGATE_POLICY_H
#define PORTGATE_POLICY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits (documented in portgate.conf(5)). */
#define PG_POL_MAX_FILE_SIZE	 (16u << 20) /* bytes per file */
#define PG_POL_MAX_FILES	 256	     /* files, includes counted */
#define PG_POL_MAX_INCLUDE_DEPTH 8
#define PG_POL_MAX_RULES	 262144
#define PG_POL_MAX_DEPTH	 63  /* selector components */
#define PG_POL_MAX_COMPONENT	 255 /* bytes per selector component */
#define PG_POL_MAX_NETNS	 64
#define PG_POL_MAX_LINE		 4096
#define PG_POL_MAX_NAME		 255 /* bytes per user or group name */

enum pg_mode { PG_MODE_AUTO = 0, PG_MODE_GRANT, PG_MODE_SYSCTL };
enum pg_def { PG_DEFAULT_UNSET = 0, PG_DEFAULT_DENY, PG_DEFAULT_KERNEL };
enum pg_action { PG_ALLOW = 1, PG_DENY = 2 };
/* A rule's rollout= option: unset follows the policy's rollout statement. */
enum pg_rollout { PG_ROLLOUT_UNSET = 0, PG_ROLLOUT_AUDIT, PG_ROLLOUT_ENFORCE };

/* Protocol bits of a rule; "any" is all three. */
#define PG_PROTO_TCP   0x1u
#define PG_PROTO_UDP   0x2u
#define PG_PROTO_OTHER 0x4u
#define PG_PROTO_ANY   0x7u

enum pg_sev { PG_SEV_ERROR = 0, PG_SEV_WARNING };

/* A place in the sources: file is an index into pg_policy.files. */
struct pg_loc {
	uint32_t file;
	uint32_t line; /* 1-based */
	uint32_t col;  /* 1-based, in bytes */
};

struct pg_diag {
	enum pg_sev sev;
	struct pg_loc loc;
	char *msg;  /* what failed on what, and why */
	char *hint; /* what to do about it, or NULL */
};

struct pg_diags {
	struct pg_diag *v;
	size_t n, cap;
	size_t nerrors;
};

/* An inclusive port range, 1..65535. */
struct pg_range {
	uint16_t lo, hi;
};

struct pg_cond {
	bool has_user, has_group, has_addr;
	struct pg_loc user_loc, group_loc, addr_loc;
	char *user; /* as written: a name or a decimal id */
	char *group;
	uint32_t uid, gid; /* valid after pg_policy_resolve() */
	uint8_t addr[16];  /* IPv6, or IPv4 as ::ffff:a.b.c.d; host bits zero */
	uint8_t plen;	   /* 0..128 (IPv4 /n is stored as 96 + n) */
	bool addr_v4;	   /* written as IPv4, for display */
};

struct pg_kube_sel; /* kube_sel.h */

struct pg_rule {
	struct pg_loc loc; /* the statement's first token */
	enum pg_action action;
	char *selector; /* as written (unquoted) */
	/* A pod selector ("pod:NS[/LABELS]"), parsed, and its canonical form
	 * (pg_kube_sel_str()), which compares rules; both NULL for a cgroup path. */
	struct pg_kube_sel *pod;
	char *pod_key;
	struct pg_loc sel_loc;
	uint32_t protos;	/* PG_PROTO_* bits */
	struct pg_range *ports; /* sorted, merged */
	size_t nports;
	struct pg_loc ports_loc;
	struct pg_cond cond;
	enum pg_rollout rollout; /* rollout=, or UNSET */
	struct pg_loc rollout_loc;
	char *text; /* the statement, whitespace-normalised, no comment */
};

struct pg_netns {
	char *path;
	struct pg_loc loc;
};

struct pg_policy {
	char **files; /* files[0] is the top-level file */
	size_t nfiles;

	enum pg_mode mode;
	struct pg_loc mode_loc;
	bool mode_set;

	struct pg_range *protect; /* sorted, merged; default 1-1023 */
	size_t nprotect;
	struct pg_loc protect_loc;
	bool protect_set;

	enum pg_def def; /* PG_DEFAULT_UNSET: depends on the mode */
	struct pg_loc def_loc;

	bool exempt_root;
	struct pg_loc exempt_loc;

	bool audit; /* rollout audit: decisions are observe-only */
	struct pg_loc rollout_loc;
	bool rollout_set;

	struct pg_netns *netns;
	size_t nnetns;

	struct pg_rule *rules;
	size_t nrules;

	uint8_t sha256[32]; /* of every source file, in include order */
};

/*
 * Reading files and expanding include patterns is the caller's: the real
 * file system in the tool, a table in the tests.
 *
 * read: fill *buf (malloc'd) and *len with the file at path; return 0 or
 *       -errno. Files larger than PG_POL_MAX_FILE_SIZE may be refused with
 *       -EFBIG, and what is not a regular file with -EINVAL.
 * glob: expand pattern (already made absolute) to matching paths, sorted,
 *       malloc'd array of malloc'd strings in *out, count in *n; return 0
 *       (also when nothing matches) or -errno.
 */
struct pg_source_ops {
	int (*read)(void *ud, const char *path, char **buf, size_t *len);
	int (*glob)(void *ud, const char *pattern, char ***out, size_t *n);
	void *ud;
};

/*
 * Parse path and everything it includes. Returns a policy (never NULL
 * unless out of memory) and appends every problem to diags; the policy is
 * usable only if diags->nerrors == 0. The caller frees both.
 */
struct pg_policy *pg_policy_parse(const char *path, const struct pg_source_ops *ops,
				  struct pg_diags *diags);

/* Parse one buffer as the top-level file named path (no includes allowed
 * to resolve unless ops is given). For tests and fuzzing. */
struct pg_policy *pg_policy_parse_buf(const char *path, const char *buf, size_t len,
				      const struct pg_source_ops *ops, struct pg_diags *diags);

/*
 * Resolve user= and group= to ids through the callbacks (getpwnam/getgrnam
 * in the tool); names that are decimal numbers are ids and need no lookup.
 * Unknown names are errors at their location, with unknown_hint.
 */
struct pg_id_ops {
	int (*user)(void *ud, const char *name, uint32_t *uid);	 /* 0 or -ENOENT */
	int (*group)(void *ud, const char *name, uint32_t *gid); /* 0 or -ENOENT */
	void *ud;
	const char *unknown_hint; /* NULL: none */
};
void pg_policy_resolve(struct pg_policy *p, const struct pg_id_ops *ops, struct pg_diags *diags);

void pg_policy_free(struct pg_policy *p);

/* The mode's effective default: UNSET becomes KERNEL for grant, DENY for sysctl. */
enum pg_def pg_policy_default(const struct pg_policy *p, enum pg_mode resolved);

/* Does port lie in the protect set? */
bool pg_policy_protects(const struct pg_policy *p, uint16_t port);

/*
 * Selector matching against a cgroup path from the cgroup2 root ("/" is the
 * root, "/a/b" a cgroup, no trailing slash). "*" matches any run of bytes
 * within one component, "**" as a whole component matches zero or more
 * components. Returns true on a match; a selector that is not a cgroup
 * path (a pod selector) matches no path.
 */
bool pg_selector_match(const char *selector, const char *path);

/* Is the selector a cgroup path free of glob characters? (A pod selector,
 * "pod:...", is neither exact nor a glob: it names no path itself.) */
bool pg_selector_is_exact(const char *selector);

/* Is the selector a cgroup path with glob characters? */
bool pg_selector_is_glob(const char *selector);

/* Does any rule of the policy use a glob selector? */
bool pg_policy_has_globs(const struct pg_policy *p);

/* Is rule r's decision observe-only (its rollout=, else the policy's rollout)? */
bool pg_rule_audited(const struct pg_policy *p, const struct pg_rule *r);

/* How many of the policy's rules are audited. */
size_t pg_policy_naudited(const struct pg_policy *p);

/* Is some decision of the policy observe-only (rollout audit, or a rule's
 * rollout=audit)? */
bool pg_policy_has_audit(const struct pg_policy *p);

/* Does some enforced allow rule grant? Sysctl mode needs a lowered
 * threshold only for those. */
bool pg_policy_enforces_grant(const struct pg_policy *p);

/* Number of components ("/" is 0, "/a/b" is 2); for exact selectors the level. */
int pg_selector_depth(const char *selector);

/* Diagnostics. */
void pg_diags_add(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a hint (copied; NULL for none). */
void pg_diags_hint(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *hint,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void pg_diags_addv(struct pg_diags *d, enum pg_sev sev, struct pg_loc loc, const char *hint,
		   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
size_t pg_diags_nwarnings(const struct pg_diags *d);
/* Make every warning an error (check --strict). */
void pg_diags_strict(struct pg_diags *d);

/* The text of the files a parse read, kept to show the lines diagnostics
 * point at: the caller's read callback adds each file. */
struct pg_src {
	char *path; /* as the parser named it: pg_policy.files[] */
	char *buf;
	size_t len;
};
struct pg_srcs {
	struct pg_src *v;
	size_t n, cap;
};
/* Copy buf in; 0 or -ENOMEM. */
int pg_srcs_add(struct pg_srcs *s, const char *path, const char *buf, size_t len);
void pg_srcs_free(struct pg_srcs *s);

/* Errors, and warnings, that portgate check and apply show at most. */
#define PG_DIAGS_SHOWN 50

struct pg_render_opts {
	const struct pg_srcs *srcs; /* NULL: no source lines */
	size_t max;		    /* errors, and warnings, shown at most; 0: all */
	bool summary;		    /* end with "N errors, M warnings" */
};

/*
 * For each diagnostic, in order, "FILE:LINE:COL: error: MESSAGE; HINT"
 * (without LINE or COL when it has none, without "; HINT" when it has
 * none); with srcs, the source line below it and a caret under the column.
 * Control bytes, bytes that are not UTF-8 and invisible characters are
 * shown escaped (pg_escape()). Past o->max errors or warnings, one line
 * counts the rest.
 */
void pg_diags_render(const struct pg_diags *d, const struct pg_policy *p,
		     const struct pg_render_opts *o, FILE *fp);
/* pg_diags_render() of every diagnostic, one line each, no summary. */
void pg_diags_print(const struct pg_diags *d, const struct pg_policy *p, FILE *fp);
void pg_diags_free(struct pg_diags *d);

/*
 * s (n bytes) as it can safely be shown on a terminal or put in JSON, as
 * pg_diags_render() shows text: control bytes and bytes that are not UTF-8
 * as \xNN, a tab as \t, invisible and bidirectional formatting characters
 * as \u{NNNN}. Returns a malloc'd string, or NULL.
 */
char *pg_escape(const char *s, size_t n);
/* Is s (n bytes) UTF-8? If not, *bad (if not NULL) is the first bad byte. */
bool pg_utf8_valid(const char *s, size_t n, size_t *bad);
/* Would pg_escape() leave s as it is (UTF-8, no control or invisible
 * character, no tab)? If not, the first such character: its offset in
 * *bad, its code point (or the byte, if not UTF-8) in *cp. */
bool pg_text_safe(const char *s, size_t n, size_t *bad, uint32_t *cp);

/* "tcp,udp/80,443" and friends, for display; returns a malloc'd string. */
char *pg_rule_spec(const struct pg_rule *r);

/* SHA-256 (FIPS 180-4), used for the policy hash. */
struct pg_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t nbuf;
};
void pg_sha256_init(struct pg_sha256 *c);
void pg_sha256_update(struct pg_sha256 *c, const void *data, size_t len);
void pg_sha256_final(struct pg_sha256 *c, uint8_t out[32]);

#endif
