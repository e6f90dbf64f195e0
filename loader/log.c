// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* log.c - the one sink of messages (log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"

int pg_verbose;
const char *pg_cmd;

static bool agent_form;
static pg_log_hook hook;
static void *hook_ud;

void pg_log_agent_form(void)
{
	agent_form = true;
}

void pg_log_set_hook(pg_log_hook h, void *ud)
{
	hook = h;
	hook_ud = ud;
}

const char *pg_level_word(enum pg_level level)
{
	static const char *const words[] = { "error", "warning", "note", "info", "debug" };

	return level <= PG_LOG_DEBUG ? words[level] : "error";
}

/* Milliseconds since the first call: -v shows where the time goes. */
static double elapsed_ms(void)
{
	static struct timespec t0;
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if (!t0.tv_sec && !t0.tv_nsec)
		t0 = t;
	return (t.tv_sec - t0.tv_sec) * 1e3 + (t.tv_nsec - t0.tv_nsec) / 1e6;
}

bool pg_journal_stderr(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	int n = 0;

	/* "DEV:INO" in decimal, as systemd.exec(5) gives it */
	if (!s || sscanf(s, "%llu:%llu%n", &dev, &ino, &n) != 2 || s[n])
		return false;
	if (fstat(STDERR_FILENO, &sb))
		return false;
	return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

/* syslog(3) priorities, as sd-daemon(3)'s "<N>" prefixes give them to journald */
int pg_log_priority(enum pg_level l)
{
	static const int prio[] = {
		[PG_LOG_ERROR] = 3, [PG_LOG_WARNING] = 4, [PG_LOG_NOTICE] = 5,
		[PG_LOG_INFO] = 6,  [PG_LOG_DEBUG] = 7,
	};

	return (unsigned)l < sizeof(prio) / sizeof(prio[0]) ? prio[l] : 6;
}

/* "portgate[PID]: WORD: [WHERE: ]MSG\n" ("<N>WORD: ..." to journald) in one write(2): lines of
 * concurrent writers never mix. Debug lines (ms >= 0) say when. */
static void put_agent(const struct pg_log_rec *r, double ms)
{
	char *line = NULL, when[32] = "";
	int n;

	if (ms >= 0)
		snprintf(when, sizeof(when), "[%.1f ms] ", ms);
	if (pg_journal_stderr()) /* journald records the pid; it wants a priority */
		n = asprintf(&line, "<%d>%s: %s%s%s%s\n", pg_log_priority(r->level), r->word,
			     r->where ? r->where : "", r->where ? ": " : "", when, r->msg);
	else
		n = asprintf(&line, "portgate[%d]: %s: %s%s%s%s\n", (int)getpid(), r->word,
			     r->where ? r->where : "", r->where ? ": " : "", when, r->msg);
	if (n > 0) {
		fflush(stderr);
		if (write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* nowhere left to say so */
		}
	}
	free(line);
}

/*
 * A command's form: see log.h. On the unbuffered stderr the message goes
 * out in a write(2) of its own, apart from its prefix and newline: the
 * crash tests (tests/integ/harness_storm.c) find apply's phases that way.
 */
static void put_cmd(const struct pg_log_rec *r, double ms)
{
	if (r->where) {
		fprintf(stderr, "%s: %s: %s\n", r->where, r->word, r->msg);
		return;
	}
	fputs("portgate: ", stderr);
	if (pg_cmd)
		fprintf(stderr, "%s: ", pg_cmd);
	if (r->level == PG_LOG_WARNING || r->level == PG_LOG_NOTICE)
		fprintf(stderr, "%s: ", r->word);
	if (ms >= 0)
		fprintf(stderr, "[%8.1f ms] ", ms);
	fputs(r->msg, stderr);
	fputc('\n', stderr);
}

static void emit(const struct pg_log_rec *r, double ms)
{
	if (agent_form)
		put_agent(r, ms);
	else
		put_cmd(r, ms);
	if (hook)
		hook(r, hook_ud);
}

/* Format, make one line of it (a newline in a name must not start another
 * message), and emit. */
static void logv(enum pg_level level, const char *word, const char *where, const char *fmt,
		 va_list ap)
{
	struct pg_log_rec r = { level, word ? word : pg_level_word(level), where, NULL };
	char *msg = NULL;

	if (level == PG_LOG_DEBUG && !pg_verbose)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	for (char *c = msg; c && *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	r.msg = msg ? msg : fmt;
	emit(&r, level == PG_LOG_DEBUG ? elapsed_ms() : -1);
	free(msg);
}

void pg_logv(enum pg_level level, const char *word, const char *fmt, va_list ap)
{
	logv(level, word, NULL, fmt, ap);
}

void pg_log(enum pg_level level, const char *word, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	logv(level, word, NULL, fmt, ap);
	va_end(ap);
}

#define PG_LOG_AT(name, level)                                                                     \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
                                                                                                   \
		va_start(ap, fmt);                                                                 \
		logv(level, NULL, NULL, fmt, ap);                                                  \
		va_end(ap);                                                                        \
	}

PG_LOG_AT(pg_err, PG_LOG_ERROR)
PG_LOG_AT(pg_warn, PG_LOG_WARNING)
PG_LOG_AT(pg_note, PG_LOG_NOTICE)
PG_LOG_AT(pg_info, PG_LOG_INFO)
PG_LOG_AT(pg_dbg, PG_LOG_DEBUG)

void pg_log_diagv(enum pg_level level, const char *where, const char *fmt, va_list ap)
{
	logv(level, NULL, where, fmt, ap);
}

void pg_log_text(enum pg_level level, const char *text)
{
	struct pg_log_rec r = { level, pg_level_word(level), NULL, NULL };
	const char *p = text, *nl;
	char *line;

	if (!agent_form)
		fputs(text, stderr);
	if (!agent_form && !hook)
		return;
	/* the agent's form and the hook take it line by line */
	for (; *p; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		if (nl == p)
			continue;
		line = strndup(p, (size_t)(nl - p));
		if (!line)
			return;
		r.msg = line;
		if (agent_form)
			put_agent(&r, -1);
		if (hook)
			hook(&r, hook_ud);
		free(line);
	}
}

/* ---------------------------------------------------------------- libbpf */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *text = NULL;
	int n;

	if (level == LIBBPF_DEBUG && pg_verbose < 2)
		return 0;
	/* Warnings are printed by the caller with context; keep libbpf's for -v. */
	if (level != LIBBPF_DEBUG && !pg_verbose)
		return 0;
	n = vasprintf(&text, fmt, ap);
	if (n < 0)
		return 0;
	pg_log_text(level == LIBBPF_WARN ? PG_LOG_WARNING : PG_LOG_DEBUG, text);
	free(text);
	return n;
}

void pg_libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}
