// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "notify.h"
#include "util.h"

int pg_verbose;
bool pg_log_agent;
const char *pg_cmd;

/* "portgate: " or "portgate: CMD: ", the prefix of every message outside the agent. */
static void put_prefix(void)
{
	fputs("portgate: ", stderr);
	if (pg_cmd)
		fprintf(stderr, "%s: ", pg_cmd);
}

/* One line, one write(2): lines of concurrent writers never mix. */
static void log_line(const char *level, const char *fmt, va_list ap)
{
	char *msg = NULL, *line = NULL;
	int n;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	/* one event, one line: a newline in a name must not start another */
	for (char *c = msg; c && *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (pg_journal_stderr()) /* journald records the pid; it wants a priority */
		n = asprintf(&line, "%s%s%s%s\n", pg_sd_prefix(level, msg ? msg : fmt),
			     level ? level : "", level ? ": " : "", msg ? msg : fmt);
	else
		n = asprintf(&line, "portgate[%d]: %s%s%s\n", (int)getpid(), level ? level : "",
			     level ? ": " : "", msg ? msg : fmt);
	if (n > 0) {
		fflush(stderr);
		if (write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* nowhere left to say so */
		}
	}
	free(line);
	free(msg);
}

static bool has_level(const char *fmt)
{
	return !strncmp(fmt, "note:", 5) || !strncmp(fmt, "warning:", 8) ||
	       !strncmp(fmt, "error:", 6);
}

void pg_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (pg_log_agent) {
		log_line(has_level(fmt) ? NULL : "error", fmt, ap);
		va_end(ap);
		return;
	}
	put_prefix();
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void pg_log(const char *level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, fmt, ap);
	va_end(ap);
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

void pg_dbg(const char *fmt, ...)
{
	va_list ap;

	if (!pg_verbose)
		return;
	if (pg_log_agent) {
		char f[1024];

		snprintf(f, sizeof(f), "[%.1f ms] %s", elapsed_ms(), fmt);
		va_start(ap, fmt);
		log_line("debug", f, ap);
		va_end(ap);
		return;
	}
	put_prefix();
	fprintf(stderr, "[%8.1f ms] ", elapsed_ms());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && pg_verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && !pg_verbose)
		return 0;
	/* Warnings are printed by the caller with context; keep libbpf's for -v. */
	if (level == LIBBPF_WARN && !pg_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void pg_libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}

/* ------------------------------------------------------------------ JSON */

void pg_json_init(struct pg_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void pre(struct pg_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
}

static void open_(struct pg_json *j, char c)
{
	pre(j);
	fputc(c, j->f);
	if (j->depth < 31)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct pg_json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void pg_json_obj(struct pg_json *j)
{
	open_(j, '{');
}

void pg_json_obj_end(struct pg_json *j)
{
	close_(j, '}');
}

void pg_json_arr(struct pg_json *j)
{
	open_(j, '[');
}

void pg_json_arr_end(struct pg_json *j)
{
	close_(j, ']');
}

static void raw_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void pg_json_key(struct pg_json *j, const char *k)
{
	pre(j);
	raw_str(j->f, k);
	fputc(':', j->f);
	j->after_key = true;
}

void pg_json_str(struct pg_json *j, const char *s)
{
	pre(j);
	if (s)
		raw_str(j->f, s);
	else
		fputs("null", j->f);
}

void pg_json_u64(struct pg_json *j, uint64_t v)
{
	pre(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void pg_json_i64(struct pg_json *j, int64_t v)
{
	pre(j);
	fprintf(j->f, "%lld", (long long)v);
}

void pg_json_bool(struct pg_json *j, bool v)
{
	pre(j);
	fputs(v ? "true" : "false", j->f);
}

void pg_json_null(struct pg_json *j)
{
	pre(j);
	fputs("null", j->f);
}

void pg_json_end(struct pg_json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

/* --------------------------------------------------------------- helpers */

int pg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

ssize_t pg_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)off + 1 < len) {
		n = read(fd, buf + off, len - 1 - (size_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		off += n;
	}
	buf[off] = 0;
	close(fd);
	return off;
}

int pg_write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

int pg_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	const char *slash = strrchr(path, '/');
	char tmp[4096];
	size_t off = 0;
	ssize_t n;
	int fd, err = 0;

	/* ".NAME.PID.tmp": hidden, and not *.prom for node_exporter's collector */
	if (slash)
		n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.%d.tmp", (int)(slash - path), path,
			     slash + 1, (int)getpid());
	else
		n = snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	if (fd < 0)
		return -errno;
	while (off < len) {
		n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (!err && fchmod(fd, mode & 07777)) /* whatever the umask */
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

void pg_hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

void pg_fmt_time(uint64_t secs, char *out, size_t len)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "%llu", (unsigned long long)secs);
}

const char *pg_exit_word(int64_t status)
{
	switch (status) {
	case PG_EXIT_OK:
		return "ok";
	case PG_EXIT_USAGE:
		return "usage";
	case PG_EXIT_POLICY:
		return "invalid policy";
	case PG_EXIT_KERNEL:
		return "kernel unsupported";
	default:
		return "failed";
	}
}
