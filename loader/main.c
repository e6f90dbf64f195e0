// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * portgate - let chosen cgroups bind privileged ports, refuse the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "state.h"
#include "util.h"

#ifndef PORTGATE_VERSION
#define PORTGATE_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct pg_opts *o);
	const char *args;
	const char *help;
	bool json; /* a read command: takes -j */
};

static const struct command commands[] = {
	{ "check", cmd_check, "FILE|- [--strict] [--no-resolve] [-j]",
	  "validate a policy file; change nothing", true },
	{ "apply", cmd_apply, "FILE [--attach CGROUP] [--pin-dir DIR]",
	  "load if needed, pin, and atomically replace the active policy", false },
	{ "status", cmd_status, "[--pin-dir DIR] [-j | --prometheus]",
	  "mode and why, links, policy, counters, managed sysctls, the agent", true },
	{ "explain", cmd_explain,
	  "CGROUP PROTO/PORT [--user U] [--group G] [--addr A] [--pin-dir DIR] [-j]",
	  "which rule decides a bind, from the live kernel state", true },
	{ "monitor", cmd_monitor, "[--all] [--count N] [--pin-dir DIR] [-j]",
	  "stream bind decisions: refused binds, with --all every decision", true },
	{ "stop", cmd_stop, "[--pin-dir DIR]", "restore sysctls, then remove enforcement", false },
	{ "run", cmd_run,
	  "FILE [--attach CGROUP] [--pin-dir DIR] [--detach-on-exit] [--metrics-file PATH] "
	  "[--metrics-interval SEC] [--ready-file PATH]",
	  "the agent: apply, then follow FILE and apply it again when it changes", false },
};

void pg_usage(const char *cmd, FILE *f)
{
	size_t i;

	for (i = 0; cmd && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name))
			continue;
		fprintf(f, "usage: portgate %s %s\n  %s\n", commands[i].name, commands[i].args,
			commands[i].help);
		fprintf(f,
			"options: -v/--verbose more output (twice: libbpf and verifier logs), "
			"-h/--help this text%s\nsee portgate(8) and portgate.conf(5)\n",
			commands[i].json ? ", -j/--json JSON output" : "");
		return;
	}
	fprintf(f, "usage: portgate [-v] [-j] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-8s %s\n  %-8s %s\n", "help", "help [COMMAND]", "version",
		"print the version");
	fprintf(f, "\nexit status: 0 ok, 1 failed, 2 usage, 3 invalid policy, 4 kernel "
		   "unsupported\nsee portgate(8) and portgate.conf(5)\n");
}

/* ---------------------------------------------------------------- policy */

/* Read fd to its end into *buf (malloc'd, NUL-terminated), at most max + 1
 * bytes (then -EFBIG); 0 or -errno. */
int pg_read_fd(int fd, size_t max, char **buf, size_t *len)
{
	size_t off = 0, cap = 4096;
	char *b = malloc(cap), *nb;
	ssize_t n;

	if (!b)
		return -ENOMEM;
	for (;;) {
		if (off + 1 == cap) {
			if (off > max) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		n = read(fd, b + off, cap - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(b);
			return (int)n;
		}
		if (!n)
			break;
		off += (size_t)n;
	}
	if (off > max) {
		free(b);
		return -EFBIG;
	}
	b[off] = '\0';
	*buf = b;
	*len = off;
	return 0;
}

/*
 * A FIFO would block open(2) until a writer came, a device could be read
 * forever: only regular files are read, and what is not one is refused
 * before it is opened (and again after, should it have been swapped).
 */
int pg_src_read(void *ud, const char *path, char **buf, size_t *len)
{
	struct stat sb;
	int fd, err;

	(void)ud;
	if (stat(path, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
	if (sb.st_size > (off_t)PG_POL_MAX_FILE_SIZE)
		return -EFBIG;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb))
		err = -errno;
	else if (!S_ISREG(sb.st_mode))
		err = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
	else
		err = pg_read_fd(fd, PG_POL_MAX_FILE_SIZE, buf, len);
	close(fd);
	return err;
}

int pg_src_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	glob_t g;
	size_t i;
	int r;

	(void)ud;
	*out = NULL;
	*n = 0;
	/* No GLOB_ERR: a missing conf.d matches nothing, as an empty one would. */
	r = glob(pattern, 0, NULL, &g);
	if (r == GLOB_NOMATCH)
		return 0;
	if (r)
		return r == GLOB_NOSPACE ? -ENOMEM : -EIO;
	*out = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(char *));
	if (!*out) {
		globfree(&g);
		return -ENOMEM;
	}
	for (i = 0; i < g.gl_pathc; i++) {
		(*out)[i] = strdup(g.gl_pathv[i]);
		if (!(*out)[i]) {
			while (i--)
				free((*out)[i]);
			free(*out);
			*out = NULL;
			globfree(&g);
			return -ENOMEM;
		}
	}
	*n = g.gl_pathc;
	globfree(&g);
	return 0;
}

static int id_user(void *ud, const char *name, uint32_t *uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	(void)ud;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	*uid = res->pw_uid;
	return 0;
}

static int id_group(void *ud, const char *name, uint32_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];

	(void)ud;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	*gid = res->gr_gid;
	return 0;
}

void pg_resolve_ids(struct pg_policy *p, struct pg_diags *d, const char *unknown_hint)
{
	const struct pg_id_ops ids = { id_user, id_group, NULL, unknown_hint };

	pg_policy_resolve(p, &ids, d);
}

struct pg_policy *pg_load_policy(const char *path, int *status)
{
	const struct pg_source_ops src = { pg_src_read, pg_src_glob, NULL };
	const struct pg_render_opts shown = { NULL, PG_DIAGS_SHOWN, false };
	struct pg_diags d = { 0 };
	struct pg_policy *p;

	p = pg_policy_parse(path, &src, &d);
	if (p) /* unknown users are reported with every other problem */
		pg_resolve_ids(p, &d, NULL);
	pg_diags_render(&d, p, &shown, stderr);
	if (!p || d.nerrors) {
		*status = p ? PG_EXIT_POLICY : PG_EXIT_FAIL;
		if (!p)
			pg_err("out of memory parsing %s", path);
		pg_diags_free(&d);
		pg_policy_free(p);
		return NULL;
	}
	pg_diags_free(&d);
	return p;
}

/* ------------------------------------------------------------------ main */

/* Exact name or unique prefix; *ambiguous set when a prefix names several. */
static const struct command *find_command(const char *name, bool *ambiguous)
{
	const struct command *hit = NULL;
	size_t i, len = strlen(name);

	*ambiguous = false;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(name, commands[i].name))
			return &commands[i];
		if (len && !strncmp(name, commands[i].name, len)) {
			if (hit)
				*ambiguous = true;
			hit = &commands[i];
		}
	}
	return *ambiguous ? NULL : hit;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct pg_opts o = { .pin_dir = PG_DEFAULT_PIN_DIR, .attach = "/" };
	const struct command *c;
	bool ambiguous;
	int ch;

	/* Global options come before the command; "+" stops at the first non-option. */
	while ((ch = getopt_long(argc, argv, "+jvhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o.json = true;
			break;
		case 'v':
			pg_verbose++;
			break;
		case 'h':
			pg_usage(NULL, stdout);
			return PG_EXIT_OK;
		case 'V':
			printf("portgate %s (policy ABI %d)\n", PORTGATE_VERSION, PG_ABI_VERSION);
			return PG_EXIT_OK;
		default:
			pg_usage(NULL, stderr);
			return PG_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		pg_usage(NULL, stderr);
		return PG_EXIT_USAGE;
	}
	pg_libbpf_logging();
	if (!strcmp(argv[optind], "help")) {
		pg_usage(optind + 1 < argc ? argv[optind + 1] : NULL, stdout);
		return PG_EXIT_OK;
	}
	if (!strcmp(argv[optind], "version")) {
		printf("portgate %s (policy ABI %d)\n", PORTGATE_VERSION, PG_ABI_VERSION);
		return PG_EXIT_OK;
	}
	pg_dbg("portgate %s, %s", PORTGATE_VERSION, argv[optind]); /* starts the -v clock */
	c = find_command(argv[optind], &ambiguous);
	if (!c) {
		pg_err("%s command '%s'; try 'portgate help'", ambiguous ? "ambiguous" : "unknown",
		       argv[optind]);
		return PG_EXIT_USAGE;
	}
	argv[optind] = (char *)c->name;
	optind++;
	/* Each command parses its own options from argv[optind - 1] on. */
	return c->fn(argc - optind + 1, argv + optind - 1, &o);
}
