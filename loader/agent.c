// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* agent.c - the agent's state file: where it lives, writing and reading it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"
#include "policy.h"
#include "state.h"
#include "util.h"

/* The pin directory as one spelling: absolute, no "//", "." or trailing "/". */
static int normalize(const char *in, char *out, size_t len)
{
	char buf[PATH_MAX * 2], cwd[PATH_MAX];
	const char *p, *e;
	size_t o = 0;

	if (in[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, in) >= sizeof(buf))
			return -ENAMETOOLONG;
	} else if ((size_t)snprintf(buf, sizeof(buf), "%s", in) >= sizeof(buf)) {
		return -ENAMETOOLONG;
	}
	for (p = buf; *p; p = e) {
		while (*p == '/')
			p++;
		e = p + strcspn(p, "/");
		if (e == p || (e - p == 1 && *p == '.'))
			continue;
		if (o + 1 + (size_t)(e - p) + 1 > len)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
	}
	if (!o) {
		if (len < 2)
			return -ENAMETOOLONG;
		out[o++] = '/';
	}
	out[o] = 0;
	return 0;
}

int pg_agent_state_path(const char *pin_dir, char *out, size_t len)
{
	char norm[PATH_MAX], hex[65];
	struct pg_sha256 c;
	uint8_t h[32];
	int err = normalize(pin_dir, norm, sizeof(norm)), n;

	if (err)
		return err;
	if (!strcmp(norm, PG_DEFAULT_PIN_DIR)) {
		n = snprintf(out, len, "%s/agent.json", PG_AGENT_DIR);
	} else {
		pg_sha256_init(&c);
		pg_sha256_update(&c, norm, strlen(norm));
		pg_sha256_final(&c, h);
		pg_hex(h, 8, hex);
		n = snprintf(out, len, "%s/agent-%s.json", PG_AGENT_DIR, hex);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pg_proc_starttime(pid_t pid, uint64_t *out)
{
	char path[64], buf[4096], *p;
	unsigned long long v;
	ssize_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = pg_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* "PID (COMM) STATE ...": COMM may hold spaces and ')'; the last ')' ends it. */
	p = strrchr(buf, ')');
	if (!p)
		return -EPROTO;
	p++;
	/* A zombie has ended: only its parent has not reaped it yet. */
	if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
		return -ESRCH;
	/* after ')' come fields 3, 4, ...; starttime is field 22 */
	for (i = 3; i < 22; i++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EPROTO;
	}
	if (sscanf(p, " %llu", &v) != 1)
		return -EPROTO;
	*out = v;
	return 0;
}

bool pg_agent_alive(const struct pg_agent_state *s)
{
	uint64_t st;

	if (s->pid <= 0 || !s->running)
		return false;
	if (pg_proc_starttime((pid_t)s->pid, &st))
		return false;
	return st == s->starttime;
}

/* ------------------------------------------------------------------ write */

#define AF(m, t) PG_JSON_FIELD(struct pg_agent_state, m, PG_JSON_##t)
static const struct pg_json_field state_fields[] = {
	AF(pid, I64),
	AF(starttime, U64),
	AF(started_at, U64),
	AF(file, STR),
	AF(pin_dir, STR),
	AF(attach, STR),
	AF(running, BOOL),
	AF(exited_at, U64),
	AF(exit_reason, STR),
	AF(last_attempt_at, U64),
	AF(last_attempt_boot_ns, U64),
	AF(last_attempt_ok, BOOL),
	AF(last_attempt_status, I64),
	AF(last_attempt_trigger, STR),
	AF(last_success_at, U64),
	AF(generation, U64),
	AF(sha256, STR),
	AF(reloads_ok, U64),
	AF(reloads_failed, U64),
	AF(last_error_at, U64),
	AF(last_error, STR),
	AF(kube, BOOL),
	AF(kube_node, STR),
	AF(kube_state, STR),
	AF(kube_reason, STR),
	AF(kube_rv, STR),
	AF(kube_pods, U64),
	AF(kube_reconnects, U64),
};
#undef AF

int pg_agent_state_write(const char *path, const struct pg_agent_state *s)
{
	char *buf = NULL;
	size_t len = 0;
	struct json_object *doc;
	struct stat sb;
	FILE *f;
	int err;

	if (mkdir(PG_AGENT_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(PG_AGENT_DIR, &sb))
		return -errno;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != 0)
		return -ENOTDIR; /* not ours: write nothing there */
	if ((sb.st_mode & 07777) != 0700 && chmod(PG_AGENT_DIR, 0700))
		return -errno;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	doc = pg_json_obj();
	/* its own format's version: pg_agent_state_read() checks it */
	pg_json_set_u64(doc, "version", PG_AGENT_STATE_VERSION);
	pg_json_set_fields(doc, s, state_fields, sizeof(state_fields) / sizeof(state_fields[0]));
	err = pg_json_print(f, doc);
	if (fclose(f) || err) {
		free(buf);
		return err ? err : -ENOMEM;
	}
	err = pg_write_atomic(path, buf, len, 0600);
	free(buf);
	return err;
}

/* ------------------------------------------------------------------- read */

/*
 * The flat object the writer makes: "key": string | number | true | false |
 * null. Strings are unescaped into out (at most outlen - 1 bytes kept).
 */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *parse_str(const char *p, char *out, size_t outlen)
{
	size_t o = 0;

	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		char c = *p;

		if (c == '\\') {
			p++;
			switch (*p) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u': {
				unsigned v;

				if (sscanf(p + 1, "%4x", &v) != 1)
					return NULL;
				p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			case '"':
			case '\\':
			case '/':
				c = *p;
				break;
			default:
				return NULL;
			}
		}
		if (o + 1 < outlen)
			out[o++] = c;
	}
	if (*p != '"')
		return NULL;
	if (outlen)
		out[o] = 0;
	return p + 1;
}

static void set_field(struct pg_agent_state *s, const char *key, const char *v, bool is_str)
{
	static const struct {
		const char *key;
		size_t off, len; /* len 0: a number or bool */
		bool is_bool;
	} f[] = {
#define NUM(k) { #k, offsetof(struct pg_agent_state, k), 0, false }
#define BOOL(k)                                                                                    \
	{                                                                                          \
#k, offsetof(struct pg_agent_state, k), 0, true                                    \
	}
#define STR(k)                                                                                     \
	{                                                                                          \
#k, offsetof(struct pg_agent_state, k), sizeof(((struct pg_agent_state *)0)->k),   \
		    false                                                                          \
	}
		NUM(pid),
		NUM(starttime),
		NUM(started_at),
		STR(file),
		STR(pin_dir),
		STR(attach),
		BOOL(running),
		NUM(exited_at),
		STR(exit_reason),
		NUM(last_attempt_at),
		NUM(last_attempt_boot_ns),
		BOOL(last_attempt_ok),
		NUM(last_attempt_status),
		STR(last_attempt_trigger),
		NUM(last_success_at),
		NUM(generation),
		STR(sha256),
		NUM(reloads_ok),
		NUM(reloads_failed),
		NUM(last_error_at),
		STR(last_error),
		BOOL(kube),
		STR(kube_node),
		STR(kube_state),
		STR(kube_reason),
		STR(kube_rv),
		NUM(kube_pods),
		NUM(kube_reconnects),
#undef NUM
#undef BOOL
#undef STR
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char *at = (char *)s + f[i].off;

		if (strcmp(key, f[i].key))
			continue;
		if (f[i].len) {
			if (is_str)
				snprintf(at, f[i].len, "%s", v);
		} else if (f[i].is_bool) {
			*(bool *)at = !strcmp(v, "true");
		} else if (!strcmp(key, "pid") || !strcmp(key, "last_attempt_status")) {
			*(int64_t *)at = strtoll(v, NULL, 10);
		} else {
			*(uint64_t *)at = strtoull(v, NULL, 10);
		}
		return;
	}
}

static int parse_state(const char *p, struct pg_agent_state *s)
{
	static char key[64], val[PG_AGENT_ERR_MAX * 2];
	bool seen_version = false;

	memset(s, 0, sizeof(*s));
	p = skip_ws(p);
	if (*p++ != '{')
		return -EPROTO;
	for (p = skip_ws(p); *p != '}'; p = skip_ws(p)) {
		bool is_str;

		if (!(p = parse_str(p, key, sizeof(key))))
			return -EPROTO;
		p = skip_ws(p);
		if (*p++ != ':')
			return -EPROTO;
		p = skip_ws(p);
		is_str = *p == '"';
		if (is_str) {
			if (!(p = parse_str(p, val, sizeof(val))))
				return -EPROTO;
		} else {
			size_t n = strcspn(p, ",} \t\r\n");

			if (!n || n >= sizeof(val))
				return -EPROTO;
			memcpy(val, p, n);
			val[n] = 0;
			p += n;
		}
		if (!strcmp(key, "version")) {
			if (strtoull(val, NULL, 10) != PG_AGENT_STATE_VERSION)
				return -EPROTO;
			seen_version = true;
		}
		set_field(s, key, val, is_str);
		p = skip_ws(p);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return -EPROTO;
	}
	return seen_version ? 0 : -EPROTO;
}

int pg_agent_state_read(const char *path, struct pg_agent_state *s)
{
	static char buf[PATH_MAX * 3 + PG_AGENT_ERR_MAX * 7 + 8192];
	ssize_t n = pg_read_file(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return parse_state(buf, s);
}
