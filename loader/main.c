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

/* One option of a command for its usage: what it does, and its default. */
struct flag {
	const char *name;
	const char *help;
};

#define PIN_DIR_FLAG                                                                               \
	{                                                                                          \
		"-p, --pin-dir DIR",                                                               \
		    "bpffs directory of the pinned state (default: " PG_DEFAULT_PIN_DIR ")"        \
	}
#define ATTACH_FLAG                                                                                \
	{                                                                                          \
		"-a, --attach CGROUP",                                                             \
		    "cgroup, from the cgroup2 root, whose subtree is policed (default: /)"         \
	}

static const struct flag check_flags[] = {
	{ "--strict", "warnings are errors, exit status 3 (default: warnings alone pass)" },
	{ "--no-resolve", "check user= and group= syntax only, do not look the names up "
			  "(default: look them up)" },
	{ NULL, NULL },
};

static const struct flag apply_flags[] = { ATTACH_FLAG, PIN_DIR_FLAG, { NULL, NULL } };

static const struct flag status_flags[] = {
	PIN_DIR_FLAG,
	{ "--prometheus", "Prometheus text format, not with -j (default: text)" },
	{ NULL, NULL },
};

static const struct flag explain_flags[] = {
	{ "-u, --user U", "binding user, a name or a number (default: 65534)" },
	{ "-g, --group G", "binding group, a name or a number (default: the user's primary "
			   "group)" },
	{ "-a, --addr A", "local IPv4 or IPv6 address of the bind (default: the wildcard "
			  "address)" },
	PIN_DIR_FLAG,
	{ NULL, NULL },
};

static const struct flag monitor_flags[] = {
	{ "-a, --all", "every decision on a protected port (default: refused binds only)" },
	{ "-c, --count N", "exit after N events (default: run until interrupted)" },
	PIN_DIR_FLAG,
	{ NULL, NULL },
};

static const struct flag stop_flags[] = { PIN_DIR_FLAG, { NULL, NULL } };

static const struct flag run_flags[] = {
	ATTACH_FLAG,
	PIN_DIR_FLAG,
	{ "--detach-on-exit", "on SIGTERM or SIGINT, stop enforcement as stop does (default: "
			      "leave it in place)" },
	{ "--metrics-file PATH", "keep PATH holding status --prometheus output (default: none)" },
	{ "--metrics-interval SEC", "seconds between metrics file rewrites, 1-86400 (default: "
				    "15)" },
	{ "--ready-file PATH", "created once the first apply succeeds, removed at exit "
			       "(default: none)" },
	{ NULL, NULL },
};

struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct pg_opts *o);
	const char *args;
	const char *help;
	const struct flag *flags;
	bool json; /* a read command: takes -j */
};

static const struct command commands[] = {
	{ "check", cmd_check, "FILE|- [--strict] [--no-resolve] [-j]",
	  "validate a policy file; change nothing", check_flags, true },
	{ "apply", cmd_apply, "FILE [--attach CGROUP] [--pin-dir DIR]",
	  "load if needed, pin, and atomically replace the active policy", apply_flags, false },
	{ "status", cmd_status, "[--pin-dir DIR] [-j | --prometheus]",
	  "mode and why, links, policy, counters, managed sysctls, the agent", status_flags, true },
	{ "explain", cmd_explain,
	  "CGROUP PROTO/PORT [--user U] [--group G] [--addr A] [--pin-dir DIR] [-j]",
	  "which rule decides a bind, from the live kernel state", explain_flags, true },
	{ "monitor", cmd_monitor, "[--all] [--count N] [--pin-dir DIR] [-j]",
	  "stream bind decisions: refused binds, with --all every decision", monitor_flags, true },
	{ "stop", cmd_stop, "[--pin-dir DIR]", "restore sysctls, then remove enforcement",
	  stop_flags, false },
	{ "run", cmd_run,
	  "FILE [--attach CGROUP] [--pin-dir DIR] [--detach-on-exit] [--metrics-file PATH] "
	  "[--metrics-interval SEC] [--ready-file PATH]",
	  "the agent: apply, then follow FILE and apply it again when it changes", run_flags,
	  false },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct flag common_flags[] = {
	{ "-j, --json", "JSON output (default: text)" },
	{ "-v, --verbose", "more output; twice: also libbpf and verifier logs "
			   "(default: errors and warnings)" },
	{ "-h, --help", "this text" },
};

static void print_flag(FILE *f, const struct flag *fl)
{
	fprintf(f, "  %-24s %s\n", fl->name, fl->help);
}

static void command_usage(const struct command *c, FILE *f)
{
	const struct flag *fl;
	size_t i;

	fprintf(f, "usage: portgate %s %s\n  %s\n\noptions:\n", c->name, c->args, c->help);
	for (fl = c->flags; fl && fl->name; fl++)
		print_flag(f, fl);
	/* -j only where the command has JSON output */
	for (i = c->json ? 0 : 1; i < sizeof(common_flags) / sizeof(common_flags[0]); i++)
		print_flag(f, &common_flags[i]);
	fprintf(f, "\nsee portgate(8) and portgate.conf(5)\n");
}

static void command_list(FILE *f)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-8s %s\n  %-8s %s\n", "help", "help [COMMAND]", "version",
		"print the version");
}

void pg_usage(const char *cmd, FILE *f)
{
	size_t i;

	for (i = 0; cmd && i < NCOMMANDS; i++) {
		if (!strcmp(cmd, commands[i].name)) {
			command_usage(&commands[i], f);
			return;
		}
	}
	fprintf(f, "usage: portgate [-v] [-j] COMMAND [ARGS]\n\ncommands:\n");
	command_list(f);
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

/* Exact name or unique prefix; NULL otherwise, *nhits the number of
 * commands the prefix names (0: unknown, 2 or more: ambiguous). */
static const struct command *find_command(const char *name, size_t *nhits)
{
	const struct command *hit = NULL;
	size_t i, len = strlen(name);

	*nhits = 0;
	for (i = 0; i < NCOMMANDS; i++) {
		if (!strcmp(name, commands[i].name)) {
			*nhits = 1;
			return &commands[i];
		}
		if (len && !strncmp(name, commands[i].name, len)) {
			++*nhits;
			hit = &commands[i];
		}
	}
	return *nhits == 1 ? hit : NULL;
}

/* "ambiguous command 's': status, stop" or "unknown command 'x'"; exit 2. */
static int bad_command(const char *name, size_t nhits)
{
	char list[256] = "";
	size_t i, len = strlen(name), off = 0;

	if (!nhits) {
		pg_err("unknown command '%s'; try 'portgate help'", name);
		return PG_EXIT_USAGE;
	}
	for (i = 0; i < NCOMMANDS && off < sizeof(list); i++)
		if (!strncmp(name, commands[i].name, len))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? ", " : "", commands[i].name);
	pg_err("ambiguous command '%s': %s; try 'portgate help'", name, list);
	return PG_EXIT_USAGE;
}

/* 'portgate help [TOPIC]': an unknown topic is a usage error that says what
 * the topics are. */
static int help(const char *topic)
{
	size_t i;

	if (!topic || !strcmp(topic, "help") || !strcmp(topic, "version")) {
		pg_usage(NULL, stdout);
		return PG_EXIT_OK;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (!strcmp(topic, commands[i].name)) {
			command_usage(&commands[i], stdout);
			return PG_EXIT_OK;
		}
	}
	pg_err("no help for '%s': not a command; the commands are:", topic);
	command_list(stderr);
	return PG_EXIT_USAGE;
}

/*
 * A command's output that could not be written is a failure that says so
 * (a full disk, a closed file), never a silent exit 1, nor an exit 0. A
 * reader that went away (EPIPE: monitor | head) is no error.
 */
static int finish_stdout(int status)
{
	if (!fflush(stdout) && !ferror(stdout))
		return status;
	if (errno == EPIPE)
		return status;
	pg_err("cannot write to standard output: %s", strerror(errno));
	return status ? status : PG_EXIT_FAIL;
}

static void print_version(void)
{
	printf("portgate %s (policy ABI %d)\n", PORTGATE_VERSION, PG_ABI_VERSION);
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
	size_t nhits;
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
			print_version();
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
	if (!strcmp(argv[optind], "help"))
		return finish_stdout(help(optind + 1 < argc ? argv[optind + 1] : NULL));
	if (!strcmp(argv[optind], "version")) {
		print_version();
		return finish_stdout(PG_EXIT_OK);
	}
	pg_dbg("portgate %s, %s", PORTGATE_VERSION, argv[optind]); /* starts the -v clock */
	c = find_command(argv[optind], &nhits);
	if (!c)
		return bad_command(argv[optind], nhits);
	argv[optind] = (char *)c->name;
	pg_cmd = c->name; /* from here on, messages say "portgate: CMD: " */
	optind++;
	/* Each command parses its own options from argv[optind - 1] on. */
	return finish_stdout(c->fn(argc - optind + 1, argv + optind - 1, &o));
}
