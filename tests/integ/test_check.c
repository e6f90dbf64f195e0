// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_check.c - `portgate check` as people and CI run it: exit statuses,
 * what goes to standard output and what to standard error, --strict,
 * --no-resolve, -j, standard input, FIFOs and devices, and the limit on
 * what a file of garbage can print. No BPF: check touches no kernel state;
 * it runs here for the harness's scratch directory and binary under test.
 *
 * The parser's messages and the source lines under them have golden files
 * of their own (tests/policies/check/, in the unit tests); this test holds
 * the command's side of the same output.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct hx H;

/* What one run of portgate check gave. */
struct run {
	int rc;
	char out[65536]; /* standard output */
	char err[65536]; /* standard error */
};

struct redirect {
	const char *in;	 /* file for standard input, or NULL */
	const char *err; /* file for standard error */
};

/* In the child: stdin from a file, stderr to another; never hang. */
static int redirect(void *arg)
{
	const struct redirect *r = arg;
	int fd;

	alarm(20); /* survives the exec: a hang becomes SIGALRM */
	if (r->in) {
		fd = open(r->in, O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			return -1;
		close(fd);
	}
	fd = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0)
		return -1;
	close(fd);
	return 0;
}

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run argv, stdin from the file in (or the harness's), the outputs apart. */
static void run_argv(struct run *r, const char *in, char *const argv[])
{
	char err[512];
	struct redirect rd = { in, err };

	snprintf(err, sizeof(err), "%s/stderr.txt", H.tmp);
	r->rc = hx_run_argv(&H, argv, redirect, &rd);
	snprintf(r->out, sizeof(r->out), "%s", H.out);
	slurp(err, r->err, sizeof(r->err));
}

/* portgate check ARGS... (NULL-terminated). */
static void run_check(struct run *r, const char *in, ...)
{
	char *argv[16];
	const char *a;
	va_list ap;
	int n = 0;

	argv[n++] = (char *)H.portgate;
	argv[n++] = "check";
	va_start(ap, in);
	while ((a = va_arg(ap, const char *)) && n < 15)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	run_argv(r, in, argv);
}

/* A file holding text, for standard input. */
static const char *input(const char *text)
{
	return hx_policy(&H, "stdin.conf", text);
}

#define EXPECT_RUN(r, want_rc, want_out, want_err)                                                 \
	do {                                                                                       \
		if ((r)->rc != (want_rc) || strcmp((r)->out, want_out) ||                          \
		    strcmp((r)->err, want_err))                                                    \
			fail_msg("%s:%d: exit %d (want %d)\n--- stdout:\n%s--- want:\n%s"          \
				 "--- stderr:\n%s--- want:\n%s",                                   \
				 __FILE__, __LINE__, (r)->rc, want_rc, (r)->out, want_out,         \
				 (r)->err, want_err);                                              \
	} while (0)

static bool has(const char *s, const char *what)
{
	return strstr(s, what) != NULL;
}

/* Every JSON document starts with "version" (portgate(8), -j): check it and
 * take it out, so that the rest compares whole. */
static void strip_version(char *out)
{
	static const char pre[] = "{\"version\":\"";
	char *end;

	if (strncmp(out, pre, strlen(pre)))
		fail_msg("no \"version\" first:\n%s", out);
	end = strstr(out + strlen(pre), "\",");
	if (!end || end == out + strlen(pre))
		fail_msg("no version string:\n%s", out);
	memmove(out + 1, end + 2, strlen(end + 2) + 1);
}

/* ------------------------------------------------------------------ tests */

/* '-' reads standard input; diagnostics name it <stdin>. */
static void stdin_and_ok(void **state)
{
	static struct run r;

	(void)state;
	run_check(&r, input("allow /system.slice/web.service tcp/80,443\n"), "-", NULL);
	EXPECT_RUN(&r, 0,
		   "<stdin>: policy OK: 1 rule in 1 file, protect 1-1023, sha256 "
		   "f77edb16593eeae9f9c98eeee2bea67a5848eac0ed9bcdcedd33cf8e59f14aab\n",
		   "");
}

static const char warned[] = "default deny\n"
			     "include nothing.d/*.conf\n"
			     "allow /system.slice/web.service tcp/80\n";

static const char warned_err[] =
    "<stdin>:2:9: warning: include pattern 'nothing.d/*.conf' matches no file\n"
    "    2 | include nothing.d/*.conf\n"
    "      |         ^\n"
    "<stdin>:1:1: warning: default deny without 'exempt root' refuses root too: sshd could not "
    "bind port 22; add 'exempt root', or rules for the daemons that run as root\n"
    "    1 | default deny\n"
    "      | ^\n";

/* Warnings: shown with the summary, exit 0; --strict makes them errors. */
static void warnings_and_strict(void **state)
{
	static struct run r;

	(void)state;
	run_check(&r, input(warned), "-", NULL);
	if (r.rc != 0 || !has(r.out, "<stdin>: policy OK: 1 rule in 1 file"))
		fail_msg("exit %d, stdout:\n%s", r.rc, r.out);
	if (strncmp(r.err, warned_err, strlen(warned_err)) ||
	    strcmp(r.err + strlen(warned_err), "0 errors, 2 warnings\n"))
		fail_msg("stderr:\n%s--- want:\n%s0 errors, 2 warnings\n", r.err, warned_err);

	run_check(&r, input(warned), "--strict", "-", NULL);
	if (r.rc != 3 || r.out[0] || !has(r.err, "<stdin>:2:9: error: include pattern") ||
	    !has(r.err, "<stdin>:1:1: error: default deny without") ||
	    !has(r.err, "\n2 errors, 0 warnings\n"))
		fail_msg("--strict: exit %d\n--- stdout:\n%s--- stderr:\n%s", r.rc, r.out, r.err);
}

static const char broken[] = "\xef\xbb\xbf"
			     "mode grant\n"
			     "allow /web tcp/http\n"
			     "allow /web tcp/443-80\n"
			     "allow /caf\xe9 tcp/80\n";

/* The cases, as check shows them: exit 3, nothing on stdout. */
static void errors_shown_with_source(void **state)
{
	static struct run r;

	(void)state;
	run_check(&r, input(broken), "-", NULL);
	EXPECT_RUN(
	    &r, 3, "",
	    "<stdin>:1:1: error: the file starts with a UTF-8 byte order mark; remove it\n"
	    "    1 | \\u{feff}mode grant\n"
	    "      | ^\n"
	    "<stdin>:2:16: error: invalid port 'http': service names are not accepted; use "
	    "80\n"
	    "    2 | allow /web tcp/http\n"
	    "      |                ^\n"
	    "<stdin>:3:16: error: invalid range '443-80': the first port is greater than the "
	    "second; write 80-443\n"
	    "    3 | allow /web tcp/443-80\n"
	    "      |                ^\n"
	    "<stdin>:4:11: error: selector is not valid UTF-8 (byte 0xe9); save the file as "
	    "UTF-8\n"
	    "    4 | allow /caf\\xe9 tcp/80\n"
	    "      |           ^\n"
	    "4 errors, 0 warnings\n");
}

/* -j: one JSON object on stdout, with the diagnostics; nothing on stderr. */
static void json_diagnostics(void **state)
{
	static struct run r;

	(void)state;
	run_check(&r, input(broken), "-j", "-", NULL);
	strip_version(r.out);
	EXPECT_RUN(
	    &r, 3,
	    "{\"file\":\"<stdin>\",\"ok\":false,\"errors\":4,\"warnings\":0,\"diagnostics\":["
	    "{\"file\":\"<stdin>\",\"line\":1,\"column\":1,\"severity\":\"error\","
	    "\"message\":\"the file starts with a UTF-8 byte order mark\","
	    "\"hint\":\"remove it\"},"
	    "{\"file\":\"<stdin>\",\"line\":2,\"column\":16,\"severity\":\"error\","
	    "\"message\":\"invalid port 'http': service names are not accepted\","
	    "\"hint\":\"use 80\"},"
	    "{\"file\":\"<stdin>\",\"line\":3,\"column\":16,\"severity\":\"error\","
	    "\"message\":\"invalid range '443-80': the first port is greater than the "
	    "second\",\"hint\":\"write 80-443\"},"
	    "{\"file\":\"<stdin>\",\"line\":4,\"column\":11,\"severity\":\"error\","
	    "\"message\":\"selector is not valid UTF-8 (byte 0xe9)\","
	    "\"hint\":\"save the file as UTF-8\"}],\"omitted\":0}\n",
	    "");

	/* Global -j, warnings only: ok, with the policy's size and hash. */
	{
		char *argv[] = { (char *)H.portgate, "-j", "check", "-", NULL };

		run_argv(&r, input("default deny\nexempt root\n"), argv);
	}
	strip_version(r.out);
	if (r.rc != 0 || r.err[0] ||
	    !has(r.out, "{\"file\":\"<stdin>\",\"ok\":true,\"errors\":0,\"warnings\":1,"
			"\"diagnostics\":[{\"file\":\"<stdin>\",\"line\":null,\"column\":null,"
			"\"severity\":\"warning\",\"message\":\"the policy has no allow or deny "
			"rules: every bind to a protected port but root's is refused\",\"hint\":"
			"\"add allow rules, or check that its includes match files\"}],"
			"\"omitted\":0,\"rules\":0,\"files\":1,\"sha256\":\""))
		fail_msg("portgate -j check: exit %d\n--- stdout:\n%s--- stderr:\n%s", r.rc, r.out,
			 r.err);
}

/* Names unknown here: an error with a way out, --no-resolve; syntax still checked. */
static void no_resolve(void **state)
{
	static const char text[] = "allow /a tcp/80 user=pg-no-such-user\n";
	static struct run r;

	(void)state;
	run_check(&r, input(text), "-", NULL);
	EXPECT_RUN(&r, 3, "",
		   "<stdin>:1:17: error: unknown user 'pg-no-such-user'; check --no-resolve leaves "
		   "names to the machine that applies the policy\n"
		   "    1 | allow /a tcp/80 user=pg-no-such-user\n"
		   "      |                 ^\n"
		   "1 error, 0 warnings\n");
	run_check(&r, input(text), "--no-resolve", "-", NULL);
	if (r.rc != 0 || r.err[0] || !has(r.out, "<stdin>: policy OK: 1 rule"))
		fail_msg("--no-resolve: exit %d\n--- stdout:\n%s--- stderr:\n%s", r.rc, r.out,
			 r.err);
	run_check(&r, input("allow /a tcp/80 group=web:admins\n"), "--no-resolve", "-", NULL);
	if (r.rc != 3 || !has(r.err, "<stdin>:1:26: error: group name 'web:admins' cannot hold "
				     "':'\n"))
		fail_msg("--no-resolve, bad name: exit %d\n--- stderr:\n%s", r.rc, r.err);
}

/* FIFOs and devices are refused at once, also when included; never a hang. */
static void fifo_and_device(void **state)
{
	char fifo[512], inc[600];
	static struct run r;

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/policy.fifo", H.tmp);
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	run_check(&r, NULL, fifo, NULL);
	if (r.rc != 3 || !has(r.err, "error: cannot read '") ||
	    !has(r.err, "policy.fifo': not a regular file; FIFOs, sockets and devices are "
			"refused\n"))
		fail_msg("FIFO: exit %d (-1: killed by the alarm)\n--- stderr:\n%s", r.rc, r.err);
	run_check(&r, NULL, "/dev/zero", NULL);
	EXPECT_RUN(&r, 3, "",
		   "/dev/zero: error: cannot read '/dev/zero': not a regular file; FIFOs, sockets "
		   "and devices are refused\n"
		   "1 error, 0 warnings\n");
	snprintf(inc, sizeof(inc), "include %s\nallow /a tcp/80\n", fifo);
	run_check(&r, input(inc), "-", NULL);
	if (r.rc != 3 || !has(r.err, "<stdin>:1:9: error: cannot read '"))
		fail_msg("included FIFO: exit %d\n--- stderr:\n%s", r.rc, r.err);
	unlink(fifo);
}

/* Standard input larger than a policy file may be. */
static void stdin_too_large(void **state)
{
	char path[512];
	static struct run r;
	FILE *f;
	size_t i;

	(void)state;
	snprintf(path, sizeof(path), "%s/big.conf", H.tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i < (17u << 20) / 32; i++)
		fputs("# thirty-two bytes of comment.\n", f);
	assert_int_equal(fclose(f), 0);
	run_check(&r, path, "-", NULL);
	EXPECT_RUN(&r, 3, "",
		   "<stdin>: error: cannot read '<stdin>': larger than 16777216 bytes\n"
		   "1 error, 0 warnings\n");
	unlink(path);
}

/* Garbage: 50 errors shown, the rest counted, no byte a terminal acts on. */
static void garbage_is_capped_and_escaped(void **state)
{
	char path[512];
	static struct run r;
	const char *c;
	FILE *f;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/garbage.conf", H.tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i < 2000; i++)
		fprintf(f, "\x1b]0;owned\x07\x1b[2J%c\x9b%d\n", 'a' + i % 26, i);
	assert_int_equal(fclose(f), 0);
	run_check(&r, path, "-", NULL);
	if (r.rc != 3 || r.out[0])
		fail_msg("exit %d, stdout:\n%s", r.rc, r.out);
	for (c = r.err, i = 0; (c = strstr(c, ": error: ")); c++)
		i++;
	if (i != 50 || !has(r.err, "\n1950 more errors not shown\n2000 errors, 0 warnings\n"))
		fail_msg("%d errors shown, stderr ends:\n%s", i, r.err + strlen(r.err) / 2);
	for (c = r.err; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\n') || *c == 0x7f)
			fail_msg("byte 0x%02x in stderr at %zu", (unsigned char)*c,
				 (size_t)(c - r.err));
	if (!has(r.err, "<stdin>:1:1: error: unknown statement "
			"'\\x1b]0;owned\\x07\\x1b[2Ja\\x9b0'\n"))
		fail_msg("stderr:\n%.600s", r.err);
	unlink(path);
}

static void usage(void **state)
{
	static struct run r;

	(void)state;
	run_check(&r, NULL, NULL);
	if (r.rc != 2 || !has(r.err, "portgate: check: needs exactly one policy file, or - "
				     "for standard input"))
		fail_msg("no file: exit %d\n%s", r.rc, r.err);
	run_check(&r, NULL, "a.conf", "b.conf", NULL);
	assert_int_equal(r.rc, 2);
	run_check(&r, NULL, "--bogus", "a.conf", NULL);
	assert_int_equal(r.rc, 2);
	run_check(&r, NULL, "--help", NULL);
	if (r.rc != 0 || !has(r.out, "usage: portgate check FILE|- [--strict] [--no-resolve] "
				     "[-j]"))
		fail_msg("--help: exit %d\n%s", r.rc, r.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stdin_and_ok),
		cmocka_unit_test(warnings_and_strict),
		cmocka_unit_test(errors_shown_with_source),
		cmocka_unit_test(json_diagnostics),
		cmocka_unit_test(no_resolve),
		cmocka_unit_test(fifo_and_device),
		cmocka_unit_test(stdin_too_large),
		cmocka_unit_test(garbage_is_capped_and_escaped),
		cmocka_unit_test(usage),
	};
	int rc;

	if (hx_init(&H))
		return 1;
	hx_filters();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return rc;
}
