/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * log.h - the one sink for every message of every command and of the agent:
 * errors, warnings, notes, information, debug output, policy diagnostics
 * (given where they point) and libbpf's own lines. It needs only libc and
 * libbpf, so that whatever links a loader object can link it too.
 *
 * A command's form, on stderr:
 *   "portgate: CMD: MESSAGE"            error, info
 *   "portgate: CMD: warning: MESSAGE"   warning (notice: "note: ")
 *   "portgate: CMD: [  12.3 ms] MESSAGE" debug, with -v
 *   "FILE:LINE:COL: error: MESSAGE"     a policy diagnostic
 * The agent's form (pg_log_agent_form()), one write(2) per line:
 *   "portgate[PID]: WORD: [FILE:LINE:COL: ]MESSAGE"
 * where WORD is the level's word ("error", "warning", "note", "info",
 * "debug") or one the caller gives ("apply", "reload", "deny").
 *
 * A hook (pg_log_set_hook()) sees each message as data, level and text
 * apart, after it is printed: the agent keeps what an apply reported that
 * way, never by reading back what it printed.
 */
#ifndef PORTGATE_LOG_H
#define PORTGATE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum pg_level {
	PG_LOG_ERROR,
	PG_LOG_WARNING,
	PG_LOG_NOTICE,
	PG_LOG_INFO,
	PG_LOG_DEBUG, /* printed only with -v */
};

/* One message as the hook sees it. */
struct pg_log_rec {
	enum pg_level level;
	const char *word;  /* as printed: the level's, or the caller's */
	const char *where; /* "FILE:LINE:COL" of a policy diagnostic, else NULL */
	const char *msg;   /* one line, no newline */
};

typedef void (*pg_log_hook)(const struct pg_log_rec *r, void *ud);

/* -v: 1 debug lines, 2 also libbpf's and the verifier's. */
extern int pg_verbose;

/*
 * The command being run ("apply", ...), set once by main's dispatch:
 * messages then start "portgate: CMD: ". NULL (before a command is
 * chosen): "portgate: ".
 */
extern const char *pg_cmd;

/* Switch to the agent's form for the rest of the process. */
void pg_log_agent_form(void);

/* Call hook after each message printed (NULL: none); one hook at a time. */
void pg_log_set_hook(pg_log_hook hook, void *ud);

/* The level's word: "error", "warning", "note", "info", "debug". */
const char *pg_level_word(enum pg_level level);

void pg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pg_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v; says how long since the first debug line. */
void pg_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A message at level, printed with word (NULL: the level's own). */
void pg_log(enum pg_level level, const char *word, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pg_logv(enum pg_level level, const char *word, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Text that is not portgate's own (libbpf's lines, a verifier log): as it
 * is in a command's form, one message per line in the agent's.
 */
void pg_log_text(enum pg_level level, const char *text);

/* A policy diagnostic: where ("FILE:LINE:COL", or "FILE") and what
 * (policy_src.h formats both from a struct pg_diag). */
void pg_log_diagv(enum pg_level level, const char *where, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Route libbpf's messages here: warnings and information with -v, debug
 * with -vv. */
void pg_libbpf_logging(void);

/*
 * Is stderr the journal (JOURNAL_STREAM names stderr's device and inode,
 * systemd.exec(5))? Checked at each call. Then agent lines carry a syslog
 * priority prefix ("<3>error: ...") instead of "portgate[PID]: ".
 */
bool pg_journal_stderr(void);
/* The syslog(3) priority of a level: 3 error ... 7 debug. */
int pg_log_priority(enum pg_level level);

#endif
