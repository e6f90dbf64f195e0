// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_policy.c - the policy language: parsing, includes, the whole-policy
 * checks, resolution, selector matching, and the golden diagnostics of
 * tests/policies/errors/ (run from the repository root).
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

/* --- sources: the real file system, and a table ------------------------- */

static int real_read(void *ud, const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *b, *nb;

	if (!f)
		return -errno;
	b = malloc(cap);
	if (!b) {
		fclose(f);
		return -ENOMEM;
	}
	for (;;) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		nb = realloc(b, cap *= 2);
		if (!nb) {
			free(b);
			fclose(f);
			return -ENOMEM;
		}
		b = nb;
	}
	if (ferror(f)) {
		free(b);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

static int real_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	glob_t g;
	size_t i;
	int rc = glob(pattern, 0, NULL, &g);

	*out = NULL;
	*n = 0;
	if (rc == GLOB_NOMATCH)
		return 0;
	if (rc)
		return -EIO;
	*out = calloc(g.gl_pathc, sizeof(**out));
	if (!*out) {
		globfree(&g);
		return -ENOMEM;
	}
	for (i = 0; i < g.gl_pathc; i++)
		(*out)[i] = strdup(g.gl_pathv[i]);
	*n = g.gl_pathc;
	globfree(&g);
	return 0;
}

static const struct pg_source_ops real_ops = { real_read, real_glob, NULL };

struct ffile {
	const char *path, *text;
};

struct ffs {
	const struct ffile *f;
	size_t n;
	int glob_err;
	char last_glob[256];
};

static int fake_read(void *ud, const char *path, char **buf, size_t *len)
{
	const struct ffs *fs = ud;
	size_t i;

	for (i = 0; i < fs->n; i++) {
		if (!strcmp(fs->f[i].path, path)) {
			*len = strlen(fs->f[i].text);
			*buf = malloc(*len + 1);
			memcpy(*buf, fs->f[i].text, *len + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* Matches in table order, not sorted: the parser must sort. */
static int fake_glob(void *ud, const char *pattern, char ***out, size_t *n)
{
	struct ffs *fs = ud;
	size_t i;

	snprintf(fs->last_glob, sizeof(fs->last_glob), "%s", pattern);
	*out = NULL;
	*n = 0;
	if (fs->glob_err)
		return fs->glob_err;
	*out = calloc(fs->n + 1, sizeof(**out));
	for (i = 0; i < fs->n; i++)
		if (!fnmatch(pattern, fs->f[i].path, FNM_PATHNAME))
			(*out)[(*n)++] = strdup(fs->f[i].path);
	return 0;
}

static char *diags_text(const struct pg_diags *d, const struct pg_policy *p)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	pg_diags_print(d, p, f);
	fclose(f);
	return s;
}

/* Parse text as "t.conf" and compare every diagnostic printed. */
static void expect_diags(const char *text, const char *want)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *got;

	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, want);
	free(got);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* What an empty policy draws, with mode auto and no default. */
#define NO_RULES                                                                                   \
	"t.conf: warning: the policy has no allow or deny rules: every bind to a protected port "  \
	"gets the default; add allow rules, or check that its includes match files\n"

/* Parse text as "t.conf", compare the diagnostics, return the policy. */
static struct pg_policy *parse_expect(const char *text, const char *want)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *got;

	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, want);
	free(got);
	pg_diags_free(&d);
	return p;
}

static struct pg_policy *parse_ok(const char *text)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *got;

	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, "");
	free(got);
	pg_diags_free(&d);
	return p;
}

static void assert_ranges(const struct pg_range *r, size_t n, const char *want)
{
	struct pg_rule rule = { .protos = PG_PROTO_TCP,
				.ports = (struct pg_range *)r,
				.nports = n };
	char *s = pg_rule_spec(&rule);

	assert_non_null(s);
	assert_string_equal(s + strlen("tcp/"), want);
	free(s);
}

static void assert_loc(struct pg_loc l, uint32_t file, uint32_t line, uint32_t col)
{
	assert_int_equal(l.file, file);
	assert_int_equal(l.line, line);
	assert_int_equal(l.col, col);
}

/* --- the example of SPEC.md ---------------------------------------------- */

static const char spec_example[] =
    "mode auto                 # auto | grant | sysctl\n"
    "protect 1-1023            # ports that need a grant\n"
    "default deny              # deny | kernel (kernel: ungranted binds get the kernel's own "
    "check; grant mode only)\n"
    "exempt root               # sysctl mode: uid 0 keeps its low ports (mac_portacl's "
    "suser_exempt)\n"
    "netns /run/netns/edge     # sysctl mode: extra network namespaces whose threshold "
    "portgate manages\n"
    "\n"
    "allow /system.slice/nginx.service        tcp/80,443\n"
    "allow /system.slice/named.service        tcp,udp/53\n"
    "allow /system.slice/web.service          tcp/80 user=www-data\n"
    "allow /system.slice/api.service          tcp/443 addr=10.0.0.0/8\n"
    "allow /kubepods.slice/*/*pod1f2e*.slice  tcp/80-89\n"
    "deny  /system.slice/legacy.service       any/1-1023\n"
    "include /etc/portgate/conf.d/*.conf\n";

static void test_spec_example(void **state)
{
	static const struct ffile files[] = {
		{ "/etc/portgate/portgate.conf", spec_example },
		{ "/etc/portgate/conf.d/20-b.conf", "deny /system.slice/b.service udp/53\n" },
		{ "/etc/portgate/conf.d/README", "not a policy\n" },
		{ "/etc/portgate/conf.d/10-a.conf", "allow /system.slice/a.service tcp/22\n" },
	};
	struct ffs fs = { files, 4, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/etc/portgate/portgate.conf", &ops, &d);
	const struct pg_rule *r;
	uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, [12] = 10 };
	char *s;

	assert_non_null(p);
	s = diags_text(&d, p);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(d.nerrors, 0);

	assert_int_equal(p->mode, PG_MODE_AUTO);
	assert_true(p->mode_set);
	assert_loc(p->mode_loc, 0, 1, 1);
	assert_true(p->protect_set);
	assert_int_equal(p->nprotect, 1);
	assert_int_equal(p->protect[0].lo, 1);
	assert_int_equal(p->protect[0].hi, 1023);
	assert_int_equal(p->def, PG_DEFAULT_DENY);
	assert_loc(p->def_loc, 0, 3, 1);
	assert_true(p->exempt_root);
	assert_loc(p->exempt_loc, 0, 4, 1);
	assert_int_equal(p->nnetns, 1);
	assert_string_equal(p->netns[0].path, "/run/netns/edge");
	assert_loc(p->netns[0].loc, 0, 5, 1);

	assert_string_equal(fs.last_glob, "/etc/portgate/conf.d/*.conf");
	assert_int_equal(p->nfiles, 3);
	assert_string_equal(p->files[0], "/etc/portgate/portgate.conf");
	assert_string_equal(p->files[1], "/etc/portgate/conf.d/10-a.conf");
	assert_string_equal(p->files[2], "/etc/portgate/conf.d/20-b.conf");

	assert_int_equal(p->nrules, 8);
	r = &p->rules[0];
	assert_int_equal(r->action, PG_ALLOW);
	assert_string_equal(r->selector, "/system.slice/nginx.service");
	assert_int_equal(r->protos, PG_PROTO_TCP);
	assert_ranges(r->ports, r->nports, "80,443");
	assert_false(r->cond.has_user || r->cond.has_group || r->cond.has_addr);
	assert_string_equal(r->text, "allow /system.slice/nginx.service tcp/80,443");
	assert_loc(r->loc, 0, 7, 1);
	assert_loc(r->sel_loc, 0, 7, 7);
	assert_loc(r->ports_loc, 0, 7, 42);

	r = &p->rules[1];
	assert_string_equal(r->selector, "/system.slice/named.service");
	assert_int_equal(r->protos, PG_PROTO_TCP | PG_PROTO_UDP);
	assert_ranges(r->ports, r->nports, "53");

	r = &p->rules[2];
	assert_string_equal(r->selector, "/system.slice/web.service");
	assert_int_equal(r->protos, PG_PROTO_TCP);
	assert_ranges(r->ports, r->nports, "80");
	assert_true(r->cond.has_user);
	assert_false(r->cond.has_group);
	assert_false(r->cond.has_addr);
	assert_string_equal(r->cond.user, "www-data");
	assert_loc(r->cond.user_loc, 0, 9, 49);

	r = &p->rules[3];
	assert_string_equal(r->selector, "/system.slice/api.service");
	assert_ranges(r->ports, r->nports, "443");
	assert_true(r->cond.has_addr);
	assert_false(r->cond.has_user);
	assert_true(r->cond.addr_v4);
	assert_int_equal(r->cond.plen, 96 + 8);
	assert_memory_equal(r->cond.addr, v4, 16);
	assert_loc(r->cond.addr_loc, 0, 10, 50);

	r = &p->rules[4];
	assert_string_equal(r->selector, "/kubepods.slice/*/*pod1f2e*.slice");
	assert_int_equal(r->protos, PG_PROTO_TCP);
	assert_int_equal(r->nports, 1);
	assert_int_equal(r->ports[0].lo, 80);
	assert_int_equal(r->ports[0].hi, 89);

	r = &p->rules[5];
	assert_int_equal(r->action, PG_DENY);
	assert_string_equal(r->selector, "/system.slice/legacy.service");
	assert_int_equal(r->protos, PG_PROTO_ANY);
	assert_ranges(r->ports, r->nports, "1-1023");
	assert_string_equal(r->text, "deny /system.slice/legacy.service any/1-1023");

	/* The include expanded in place, sorted, in file order. */
	r = &p->rules[6];
	assert_string_equal(r->selector, "/system.slice/a.service");
	assert_loc(r->loc, 1, 1, 1);
	r = &p->rules[7];
	assert_int_equal(r->action, PG_DENY);
	assert_int_equal(r->protos, PG_PROTO_UDP);
	assert_loc(r->loc, 2, 1, 1);

	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_defaults(void **state)
{
	struct pg_policy *p = parse_expect("# nothing but a comment\n\n   \t\n", NO_RULES);

	assert_int_equal(p->mode, PG_MODE_AUTO);
	assert_false(p->mode_set);
	assert_false(p->protect_set);
	assert_int_equal(p->nprotect, 1);
	assert_int_equal(p->protect[0].lo, 1);
	assert_int_equal(p->protect[0].hi, 1023);
	assert_int_equal(p->def, PG_DEFAULT_UNSET);
	assert_false(p->exempt_root);
	assert_int_equal(p->nnetns, 0);
	assert_int_equal(p->nrules, 0);
	assert_int_equal(p->nfiles, 1);
	assert_string_equal(p->files[0], "t.conf");

	assert_int_equal(pg_policy_default(p, PG_MODE_GRANT), PG_DEFAULT_KERNEL);
	assert_int_equal(pg_policy_default(p, PG_MODE_SYSCTL), PG_DEFAULT_DENY);
	assert_int_equal(pg_policy_default(p, PG_MODE_AUTO), PG_DEFAULT_UNSET);
	pg_policy_free(p);

	p = parse_ok("default kernel\nallow /a tcp/80\n");
	assert_int_equal(pg_policy_default(p, PG_MODE_GRANT), PG_DEFAULT_KERNEL);
	assert_int_equal(pg_policy_default(p, PG_MODE_SYSCTL), PG_DEFAULT_KERNEL);
	pg_policy_free(p);
	p = parse_ok("default deny\nexempt root\nmode grant\nallow /a tcp/80\n");
	assert_int_equal(p->mode, PG_MODE_GRANT);
	assert_int_equal(pg_policy_default(p, PG_MODE_GRANT), PG_DEFAULT_DENY);
	assert_int_equal(pg_policy_default(p, PG_MODE_AUTO), PG_DEFAULT_DENY);
	pg_policy_free(p);
	p = parse_ok("mode sysctl\ndefault deny\nexempt root\nallow /a tcp/80\n");
	assert_int_equal(p->mode, PG_MODE_SYSCTL);
	pg_policy_free(p);
}

static void test_quoting(void **state)
{
	struct pg_policy *p =
	    parse_ok("allow \"/system.slice/my app.service\" tcp/80 user=\"www data\"\n"
		     "allow \"/a#b\" tcp/81 # the '#' in quotes is not a comment\n"
		     "allow /q\"uo\"ted tcp/82\n"
		     "allow \"/esc\\\"aped\\\\x\" tcp/83\n"
		     "allow /system.slice/dev-disk-by\\x2duuid.service tcp/84\n"
		     "allow \"/other\\n\" tcp/85\n");

	assert_int_equal(p->nrules, 6);
	assert_string_equal(p->rules[0].selector, "/system.slice/my app.service");
	assert_string_equal(p->rules[0].cond.user, "www data");
	assert_string_equal(p->rules[0].text,
			    "allow \"/system.slice/my app.service\" tcp/80 user=\"www data\"");
	assert_loc(p->rules[0].ports_loc, 0, 1, 38);
	assert_loc(p->rules[0].cond.user_loc, 0, 1, 45);
	assert_string_equal(p->rules[1].selector, "/a#b");
	assert_string_equal(p->rules[1].text, "allow \"/a#b\" tcp/81");
	assert_string_equal(p->rules[2].selector, "/quoted");
	assert_string_equal(p->rules[3].selector, "/esc\"aped\\x");
	assert_string_equal(p->rules[4].selector, "/system.slice/dev-disk-by\\x2duuid.service");
	/* Only \" and \\ are escapes; any other backslash is itself. */
	assert_string_equal(p->rules[5].selector, "/other\\n");
	pg_policy_free(p);

	expect_diags("allow /a tcp/80 user=\"www\n",
		     "t.conf:1:22: error: unterminated quoted string\n");
	/* An empty quoted token is a token. */
	expect_diags("allow \"\" tcp/80\n", "t.conf:1:7: error: selector must be an absolute "
					    "cgroup path starting with '/'\n");
}

static void test_comments(void **state)
{
	struct pg_policy *p = parse_ok("# a comment\n"
				       "   # an indented comment\n"
				       "mode grant# right after a token\n"
				       "allow /a tcp/80 # user=x is inside the comment\n"
				       "#allow /b tcp/80\n");

	assert_int_equal(p->mode, PG_MODE_GRANT);
	assert_int_equal(p->nrules, 1);
	assert_false(p->rules[0].cond.has_user);
	assert_string_equal(p->rules[0].text, "allow /a tcp/80");
	pg_policy_free(p);
}

static void test_crlf(void **state)
{
	struct pg_policy *p = parse_ok("mode grant\r\n"
				       "\r\n"
				       "# comment\r\n"
				       "allow /a tcp/80 user=www-data\r\n"
				       "deny /b udp/53");

	assert_int_equal(p->mode, PG_MODE_GRANT);
	assert_int_equal(p->nrules, 2);
	assert_string_equal(p->rules[0].cond.user, "www-data");
	assert_string_equal(p->rules[0].text, "allow /a tcp/80 user=www-data");
	assert_loc(p->rules[1].loc, 0, 5, 1);
	assert_ranges(p->rules[1].ports, p->rules[1].nports, "53");
	pg_policy_free(p);

	/* Only one trailing \r is the line ending; a \r inside stays, and is
	 * shown escaped. */
	expect_diags("mode grant\r\r\n", "t.conf:1:6: error: unknown mode 'grant\\x0d': use "
					 "auto, grant or sysctl\n");
}

static void test_ports_sorted_merged(void **state)
{
	struct pg_policy *p = parse_ok("protect 443,80-90,85,91,100-200,150-160,1000,1-1,2\n"
				       "allow /a tcp/443,80,81-85,86 \n"
				       "allow /b tcp/200,1-1,100-150,2\n"
				       "allow /c tcp/0080\n");

	assert_ranges(p->protect, p->nprotect, "1-2,80-91,100-200,443,1000");
	assert_ranges(p->rules[0].ports, p->rules[0].nports, "80-86,443");
	assert_ranges(p->rules[1].ports, p->rules[1].nports, "1-2,100-150,200");
	assert_ranges(p->rules[2].ports, p->rules[2].nports, "80");
	pg_policy_free(p);

	p = parse_ok("protect 1-65535\nallow /a any/65535\n");
	assert_ranges(p->protect, p->nprotect, "1-65535");
	assert_int_equal(p->rules[0].ports[0].lo, 65535);
	pg_policy_free(p);
}

static void test_protocols(void **state)
{
	struct pg_policy *p = parse_ok("allow /a tcp/80\n"
				       "allow /b udp/80\n"
				       "allow /c any/80\n"
				       "allow /d udp,tcp/80\n"
				       "allow /e tcp,any/80\n"
				       "allow /f udp,udp/80\n");

	assert_int_equal(p->rules[0].protos, PG_PROTO_TCP);
	assert_int_equal(p->rules[1].protos, PG_PROTO_UDP);
	assert_int_equal(p->rules[2].protos, PG_PROTO_TCP | PG_PROTO_UDP | PG_PROTO_OTHER);
	assert_int_equal(p->rules[3].protos, PG_PROTO_TCP | PG_PROTO_UDP);
	assert_int_equal(p->rules[4].protos, PG_PROTO_ANY);
	assert_int_equal(p->rules[5].protos, PG_PROTO_UDP);
	pg_policy_free(p);
}

static void test_conditions(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t host4[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	static const uint8_t ll[16] = { 0xfe, 0x80, [15] = 1 };
	static const uint8_t zero4[16] = { [10] = 0xff, [11] = 0xff };
	struct pg_policy *p = parse_ok("allow /a tcp/80 user=33 group=0\n"
				       "allow /b tcp/80 group=www-data addr=2001:db8::/32\n"
				       "allow /c tcp/80 addr=192.0.2.1\n"
				       "allow /d tcp/80 addr=fe80::1\n"
				       "allow /e tcp/80 addr=0.0.0.0/0 user=4294967294\n"
				       "allow /f tcp/80 addr=::/0\n"
				       "allow /g tcp/80 addr=10.0.0.0/8 group=web user=www-data\n");
	const struct pg_cond *c;

	c = &p->rules[0].cond;
	assert_true(c->has_user && c->has_group && !c->has_addr);
	assert_string_equal(c->user, "33");
	assert_int_equal(c->uid, 33);
	assert_string_equal(c->group, "0");
	assert_int_equal(c->gid, 0);
	assert_loc(c->user_loc, 0, 1, 17);
	assert_loc(c->group_loc, 0, 1, 25);

	c = &p->rules[1].cond;
	assert_true(!c->has_user && c->has_group && c->has_addr);
	assert_string_equal(c->group, "www-data");
	assert_false(c->addr_v4);
	assert_int_equal(c->plen, 32);
	assert_memory_equal(c->addr, v6, 16);

	c = &p->rules[2].cond;
	assert_true(c->addr_v4);
	assert_int_equal(c->plen, 128);
	assert_memory_equal(c->addr, host4, 16);

	c = &p->rules[3].cond;
	assert_false(c->addr_v4);
	assert_int_equal(c->plen, 128);
	assert_memory_equal(c->addr, ll, 16);

	c = &p->rules[4].cond;
	assert_true(c->addr_v4);
	assert_int_equal(c->plen, 96);
	assert_memory_equal(c->addr, zero4, 16);
	assert_int_equal(c->uid, 4294967294u);

	c = &p->rules[5].cond;
	assert_false(c->addr_v4);
	assert_int_equal(c->plen, 0);

	c = &p->rules[6].cond;
	assert_true(c->has_user && c->has_group && c->has_addr);
	assert_int_equal(c->plen, 104);
	pg_policy_free(p);
}

static void test_errors_one_run(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p =
	    pg_policy_parse("tests/policies/errors/many-errors.conf", &real_ops, &d);

	assert_non_null(p);
	assert_int_equal(d.n, 10);
	assert_int_equal(d.nerrors, 10);
	/* The lines without errors still parsed. */
	assert_true(p->mode_set);
	assert_int_equal(p->mode, PG_MODE_AUTO);
	assert_int_equal(p->nrules, 1);
	assert_string_equal(p->rules[0].text, "deny /a tcp/80");
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_unreadable_top(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("tests/policies/no-such.conf", &real_ops, &d);
	char *s;

	assert_non_null(p);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(p->nfiles, 1);
	s = diags_text(&d, p);
	assert_string_equal(s, "tests/policies/no-such.conf: error: cannot read "
			       "'tests/policies/no-such.conf': No such file or directory\n");
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "mode grant\nallow /a tc\0p/80\nfrobnicate\n";
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, sizeof(text) - 1, NULL, &d);
	char *s = diags_text(&d, p);

	/* The file is binary: reported at the NUL, and nothing of it is used. */
	assert_string_equal(s, "t.conf:2:12: error: NUL byte in file\n");
	assert_false(p->mode_set);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_long_line(void **state)
{
	size_t n = PG_POL_MAX_LINE;
	char *text = malloc(2 * n + 64);
	struct pg_policy *p;
	struct pg_diags d = { 0 };
	char *s;

	/* Exactly PG_POL_MAX_LINE bytes (a comment) is fine, one more is not. */
	memset(text, '#', n);
	memcpy(text + n, "\r\nmode grant\n", 13);
	memset(text + n + 13, '#', n + 1);
	strcpy(text + 2 * n + 14, "\n");
	p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	s = diags_text(&d, p);
	assert_string_equal(s, "t.conf:3:1: error: line is longer than 4096 bytes\n");
	assert_int_equal(p->mode, PG_MODE_GRANT);
	free(s);
	free(text);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_file_too_large(void **state)
{
	size_t n = PG_POL_MAX_FILE_SIZE + 1;
	char *text = malloc(n);
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *s;

	memset(text, '\n', n);
	p = pg_policy_parse_buf("big.conf", text, n, NULL, &d);
	s = diags_text(&d, p);
	assert_string_equal(s, "big.conf: error: cannot read 'big.conf': larger than 16777216 "
			       "bytes\n");
	free(s);
	free(text);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* --- includes -------------------------------------------------------------- */

static void test_include_glob_sorted(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("tests/policies/good/confd.conf", &real_ops, &d);
	char *s = diags_text(&d, p);

	assert_string_equal(s, "");
	assert_int_equal(p->nfiles, 3);
	assert_string_equal(p->files[0], "tests/policies/good/confd.conf");
	assert_string_equal(p->files[1], "tests/policies/good/conf.d/10-dns.conf");
	assert_string_equal(p->files[2], "tests/policies/good/conf.d/20-web.conf");
	assert_int_equal(p->nrules, 3);
	assert_string_equal(p->rules[0].selector, "/system.slice/named.service");
	assert_loc(p->rules[0].loc, 1, 1, 1);
	assert_string_equal(p->rules[1].selector, "/system.slice/web.service");
	assert_loc(p->rules[1].loc, 2, 1, 1);
	assert_string_equal(p->rules[2].selector, "/system.slice/last.service");
	assert_loc(p->rules[2].loc, 0, 3, 1);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_include_relative(void **state)
{
	static const struct ffile files[] = {
		{ "/etc/pg/main.conf", "include sub/a.conf\ninclude /abs/b.conf\n" },
		{ "/etc/pg/sub/a.conf", "include ./../c.conf\ninclude d.conf\n" },
		{ "/etc/pg/sub/../c.conf", "allow /c tcp/80\n" },
		{ "/etc/pg/sub/d.conf", "allow /d tcp/80\n" },
		{ "/abs/b.conf", "allow /b tcp/80\n" },
		{ "main.conf", "include x//y.conf\n" },
		{ "x/y.conf", "mode grant\nallow /y tcp/80\n" },
	};
	struct ffs fs = { files, 7, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/etc/pg/main.conf", &ops, &d);

	assert_int_equal(d.n, 0);
	assert_int_equal(p->nfiles, 5);
	assert_string_equal(p->files[1], "/etc/pg/sub/a.conf");
	assert_string_equal(p->files[2], "/etc/pg/sub/../c.conf");
	assert_string_equal(p->files[3], "/etc/pg/sub/d.conf");
	assert_string_equal(p->files[4], "/abs/b.conf");
	assert_string_equal(p->rules[0].selector, "/c");
	assert_string_equal(p->rules[1].selector, "/d");
	assert_string_equal(p->rules[2].selector, "/b");
	pg_policy_free(p);

	/* A top-level file without a directory: includes are relative to ".". */
	p = pg_policy_parse("main.conf", &ops, &d);
	assert_int_equal(d.n, 0);
	assert_int_equal(p->mode, PG_MODE_GRANT);
	assert_string_equal(p->files[1], "x/y.conf");
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* The top-level file as given ("./x.conf") is still the file "x.conf". */
static void test_include_top_level_self(void **state)
{
	static const struct ffile files[] = {
		{ "./main.conf", "include main.conf\n" },
		{ "main.conf", "include main.conf\n" },
	};
	struct ffs fs = { files, 2, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("./main.conf", &ops, &d);
	char *s = diags_text(&d, p);

	assert_string_equal(s, "./main.conf:1:9: error: include cycle: './main.conf' includes "
			       "itself\n");
	assert_int_equal(p->nfiles, 1);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

static void test_include_glob_failure(void **state)
{
	static const struct ffile files[] = {
		{ "/etc/pg/main.conf", "include conf.d/*.conf\n" },
	};
	struct ffs fs = { files, 1, -EACCES, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/etc/pg/main.conf", &ops, &d);
	char *s = diags_text(&d, p);

	assert_string_equal(s, "/etc/pg/main.conf:1:9: error: cannot expand "
			       "'/etc/pg/conf.d/*.conf': Permission denied\n");
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);

	expect_diags("include other.conf\n",
		     "t.conf:1:9: error: cannot include 'other.conf': no files can be read here\n");
}

static void test_include_too_many_files(void **state)
{
	enum { N = PG_POL_MAX_FILES + 5 };
	struct ffile *files = calloc(N + 1, sizeof(*files));
	char(*names)[32] = calloc(N, sizeof(*names));
	struct ffs fs = { files, N + 1, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char want[128];
	size_t i;

	files[0] = (struct ffile){ "/m.conf", "include /d/*.conf\n" };
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "/d/%04zu.conf", i);
		files[i + 1] = (struct ffile){ names[i], "# empty\n" };
	}
	p = pg_policy_parse("/m.conf", &ops, &d);
	assert_int_equal(p->nfiles, PG_POL_MAX_FILES);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want),
		 "cannot include '/d/0255.conf': more than %d files, "
		 "includes counted",
		 PG_POL_MAX_FILES);
	assert_string_equal(d.v[0].msg, want);
	assert_loc(d.v[0].loc, 0, 1, 9);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(files);
	free(names);
}

static void test_policy_hash(void **state)
{
	static const struct ffile files[] = {
		{ "/a.conf", "mode grant\ninclude b.conf\n" },
		{ "/b.conf", "allow /b tcp/80\n" },
	};
	struct ffs fs = { files, 2, 0, "" };
	struct pg_source_ops ops = { fake_read, fake_glob, &fs };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse("/a.conf", &ops, &d);
	struct pg_sha256 c;
	uint8_t want[32];
	size_t i, k;

	pg_sha256_init(&c);
	for (i = 0; i < 2; i++) {
		uint64_t len = strlen(files[i].text);
		uint8_t be[8];

		for (k = 0; k < 8; k++)
			be[k] = (uint8_t)(len >> (56 - 8 * k));
		pg_sha256_update(&c, be, 8);
		pg_sha256_update(&c, files[i].text, len);
	}
	pg_sha256_final(&c, want);
	assert_int_equal(d.n, 0);
	assert_memory_equal(p->sha256, want, 32);
	pg_policy_free(p);

	/* One byte more anywhere changes it. */
	p = pg_policy_parse_buf("/a.conf", "mode grant\n", 11, NULL, &d);
	assert_memory_not_equal(p->sha256, want, 32);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* --- whole-policy checks ------------------------------------------------- */

static void test_conflicts(void **state)
{
	expect_diags("allow /a tcp/80\n"
		     "allow /a tcp/1-1023 user=x\n"
		     "deny /a tcp,udp/80 addr=10.0.0.0/8\n",
		     "t.conf:3:1: error: deny conflicts with allow at t.conf:1 on tcp/80\n");
	/* Reported at the lowest colliding port, tcp before udp. */
	expect_diags("deny /a udp/10-20\n"
		     "deny /a tcp/500\n"
		     "allow /a tcp,udp/15,500\n",
		     "t.conf:3:1: error: allow conflicts with deny at t.conf:2 on tcp/500\n");
	expect_diags("deny /a udp/10-20\n"
		     "deny /a tcp/500\n"
		     "allow /a udp/15,500\n",
		     "t.conf:3:1: error: allow conflicts with deny at t.conf:1 on udp/15\n");
	expect_diags("deny /a any/100-200\n"
		     "allow /a any/150\n",
		     "t.conf:2:1: error: allow conflicts with deny at t.conf:1 on any/150\n");
	/* The earlier rule starting later in the port space is still found. */
	expect_diags("allow /a tcp/200-300\n"
		     "deny /a tcp/100-250\n",
		     "t.conf:2:1: error: deny conflicts with allow at t.conf:1 on tcp/200\n");
	/* Each later rule once, against its own earliest collision. */
	expect_diags("allow /a tcp/80\n"
		     "deny /a tcp/80\n"
		     "deny /a tcp/80-81\n"
		     "allow /a tcp/81\n",
		     "t.conf:2:1: error: deny conflicts with allow at t.conf:1 on tcp/80\n"
		     "t.conf:3:1: error: deny conflicts with allow at t.conf:1 on tcp/80\n"
		     "t.conf:3:1: warning: duplicates the rule at t.conf:2\n"
		     "t.conf:4:1: error: allow conflicts with deny at t.conf:3 on tcp/81\n");
	/* Across files, naming the file of the earlier rule. */
	{
		static const struct ffile files[] = {
			{ "/m.conf", "allow /a tcp/80\ninclude x.conf\n" },
			{ "/x.conf", "\ndeny /a tcp/80\n" },
		};
		struct ffs fs = { files, 2, 0, "" };
		struct pg_source_ops ops = { fake_read, fake_glob, &fs };
		struct pg_diags d = { 0 };
		struct pg_policy *p = pg_policy_parse("/m.conf", &ops, &d);
		char *s = diags_text(&d, p);

		assert_string_equal(s, "/x.conf:2:1: error: deny conflicts with allow at "
				       "/m.conf:1 on tcp/80\n");
		free(s);
		pg_policy_free(p);
		pg_diags_free(&d);
	}
}

static void test_duplicates(void **state)
{
	expect_diags("allow /a tcp/80 user=x group=y\n"
		     "allow /a any/1-100 group=y user=x\n"
		     "allow /a tcp/80 user=x\n",
		     "t.conf:2:1: warning: duplicates the rule at t.conf:1\n");
	expect_diags("allow /a tcp/80 addr=10.0.0.0/8\n"
		     "allow /a tcp/80 addr=10.0.0.0/8\n"
		     "allow /a tcp/80 addr=::ffff:10.0.0.0/104\n",
		     "t.conf:2:1: warning: duplicates the rule at t.conf:1\n"
		     "t.conf:3:1: warning: duplicates the rule at t.conf:1\n");
	/* Warnings do not make the policy unusable. */
	{
		struct pg_diags d = { 0 };
		struct pg_policy *p =
		    pg_policy_parse_buf("t.conf", "deny /a tcp/80\ndeny /a tcp/80\n", 30, NULL, &d);

		assert_int_equal(d.n, 1);
		assert_int_equal(d.nerrors, 0);
		assert_int_equal(d.v[0].sev, PG_SEV_WARNING);
		pg_policy_free(p);
		pg_diags_free(&d);
	}
}

static char *alt_policy(const char *action, int n, const char *extra)
{
	size_t cap = (size_t)n * 64 + strlen(extra) + 1, off = 0;
	char *s = malloc(cap);
	int i;

	s[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, cap - off, "%s /a tcp/80-81 user=%d\n", action, i);
	snprintf(s + off, cap - off, "%s", extra);
	return s;
}

static void test_alternatives_limit(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *text;

	/* 16 conditional rules per selector, action, protocol and port are fine. */
	text = alt_policy("allow", 16, "allow /a tcp/80\nallow /a udp/80 user=16\n");
	p = parse_ok(text);
	pg_policy_free(p);
	free(text);

	text = alt_policy("allow", 18, "");
	p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	free(text);
	text = diags_text(&d, p);
	assert_string_equal(text, "t.conf:17:1: error: more than 16 allow rules with conditions "
				  "on '/a' for tcp/80\n"
				  "t.conf:18:1: error: more than 16 allow rules with conditions "
				  "on '/a' for tcp/80\n");
	free(text);
	pg_policy_free(p);
	pg_diags_free(&d);

	/* Counted per port: the 17th on port 81 is the rule on line 18. */
	text = alt_policy("deny", 16, "deny /a tcp/90 user=x\ndeny /a tcp/81 group=y\n");
	expect_diags(text, "t.conf:18:1: error: more than 16 deny rules with conditions on '/a' "
			   "for tcp/81\n");
	free(text);
}

static void test_unprotected(void **state)
{
	expect_diags("allow /a tcp/80,1024\n", "t.conf:1:10: warning: port 1024 is not protected "
					       "(protect 1-1023): this rule has no effect on it\n");
	expect_diags("protect 80,443\n"
		     "allow /a any/1-100,400-500\n",
		     "t.conf:2:10: warning: ports 1-79,81-100,400-442,444-500 are not protected "
		     "(protect 80,443): this rule has no effect on them\n");
	expect_diags("protect 10,20,30,40,50,60\n"
		     "allow /a tcp/5-65\n",
		     "t.conf:2:10: warning: ports 5-9,11-19,21-29,31-39,41-49,... are not "
		     "protected (protect 10,20,30,40,50,...): this rule has no effect on them\n");
	expect_diags("protect 1-1023,8080\nallow /a tcp/8080,80\n", "");
}

static void test_mode_checks(void **state)
{
	expect_diags(
	    "default kernel\nmode sysctl\nallow /a tcp/80\n",
	    "t.conf:1:1: error: default kernel is not allowed in sysctl mode: it would let "
	    "every unprivileged bind through\n");
	/* Not explicit: for the loader to decide. */
	expect_diags("default kernel\nallow /a tcp/80\n", "");
	expect_diags("mode grant\ndefault kernel\nnetns /run/netns/a\nallow /a tcp/80\n",
		     "t.conf:3:1: warning: netns has no effect in grant mode\n");
	expect_diags("mode sysctl\nexempt root\nnetns /run/netns/a\nallow /a tcp/80\n", "");
}

/* Valid, but almost certainly not what was meant: warnings. */
static void test_lint(void **state)
{
	static const char hint_empty[] =
	    "; add allow rules, or check that its includes match files\n";
	static const char hint_root[] =
	    "; add 'exempt root', or rules for the daemons that run as root\n";
	char want[512];

	/* No rules: what the default then does. */
	snprintf(want, sizeof(want), "t.conf: warning: the policy has no allow or deny rules: %s%s",
		 "it changes no bind", hint_empty);
	expect_diags("mode grant\n", want);
	expect_diags("default kernel\n", want);
	snprintf(want, sizeof(want), "t.conf: warning: the policy has no allow or deny rules: %s%s",
		 "every bind to a protected port is refused, root's too", hint_empty);
	expect_diags("default deny\n", want);
	expect_diags("mode sysctl\n", want);
	snprintf(want, sizeof(want), "t.conf: warning: the policy has no allow or deny rules: %s%s",
		 "every bind to a protected port but root's is refused", hint_empty);
	expect_diags("default deny\nexempt root\n", want);
	/* Not as well as errors that dropped rules. */
	expect_diags(
	    "allow /a tcp/0\n",
	    "t.conf:1:14: error: port 0 is never protected: the kernel picks a free port\n");

	/* default deny refuses root too, unless exempt. */
	snprintf(want, sizeof(want),
		 "t.conf:2:1: warning: default deny without 'exempt root' refuses root too: sshd "
		 "could not bind port 22%s",
		 hint_root);
	expect_diags("allow /a tcp/80\ndefault deny\n", want);
	snprintf(want, sizeof(want),
		 "t.conf:1:1: warning: mode sysctl (default deny) without 'exempt root' refuses "
		 "root too: sshd could not bind port 22%s",
		 hint_root);
	expect_diags("mode sysctl\nallow /a tcp/80\n", want);
	snprintf(want, sizeof(want),
		 "t.conf:2:1: warning: default deny without 'exempt root' refuses root too: "
		 "root's daemons need rules%s",
		 hint_root);
	expect_diags("protect 80\ndefault deny\nallow /a tcp/80\n", want);
	expect_diags("default deny\nexempt root\nallow /a tcp/80\n", "");
	expect_diags("mode sysctl\nexempt root\nallow /a tcp/80\n", "");
	/* Auto mode's default is the kernel's choice: nothing to say yet. */
	expect_diags("allow /a tcp/80\n", "");
}

static void test_netns_limit(void **state)
{
	char *text = malloc(80 * (PG_POL_MAX_NETNS + 3));
	size_t off = 0;
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	int i;

	for (i = 0; i < PG_POL_MAX_NETNS + 2; i++)
		off += (size_t)sprintf(text + off, "netns /run/netns/n%d\n", i);
	p = pg_policy_parse_buf("t.conf", text, off, NULL, &d);
	assert_int_equal(p->nnetns, PG_POL_MAX_NETNS);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, "more than 64 netns statements");
	assert_loc(d.v[0].loc, 0, PG_POL_MAX_NETNS + 1, 1);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(text);
}

static void test_rule_limit(void **state)
{
	size_t n = PG_POL_MAX_RULES + 2, off = 0, i;
	char *text = malloc(n * 32);
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char want[64];

	for (i = 0; i < n; i++)
		off += (size_t)sprintf(text + off, "allow /s%zu tcp/80\n", i);
	p = pg_policy_parse_buf("t.conf", text, off, NULL, &d);
	assert_int_equal(p->nrules, PG_POL_MAX_RULES);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.nerrors, 1);
	snprintf(want, sizeof(want), "more than %d rules", PG_POL_MAX_RULES);
	assert_string_equal(d.v[0].msg, want);
	assert_loc(d.v[0].loc, 0, PG_POL_MAX_RULES + 1, 1);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(text);
}

/* --- resolve --------------------------------------------------------------- */

struct ids {
	int user_calls, group_calls;
};

static int fake_user(void *ud, const char *name, uint32_t *uid)
{
	struct ids *ids = ud;

	ids->user_calls++;
	if (!strcmp(name, "www-data")) {
		*uid = 33;
		return 0;
	}
	if (!strcmp(name, "broken"))
		return -EIO;
	return -ENOENT;
}

static int fake_group(void *ud, const char *name, uint32_t *gid)
{
	struct ids *ids = ud;

	ids->group_calls++;
	if (!strcmp(name, "web")) {
		*gid = 1001;
		return 0;
	}
	return -ENOENT;
}

static void test_resolve(void **state)
{
	struct ids ids = { 0, 0 };
	struct pg_id_ops ops = { fake_user, fake_group, &ids, "or give the id" };
	struct pg_policy *p = parse_ok("allow /a tcp/80 user=www-data group=web\n"
				       "allow /b tcp/80 user=0 group=4294967294\n"
				       "allow /c tcp/80 user=nobody-here\n"
				       "allow /d tcp/80 group=nogroup\n"
				       "allow /e tcp/80 user=broken\n"
				       "allow /f tcp/80 addr=10.0.0.1\n");
	struct pg_diags d = { 0 };
	char *s;

	pg_policy_resolve(p, &ops, &d);
	assert_int_equal(p->rules[0].cond.uid, 33);
	assert_int_equal(p->rules[0].cond.gid, 1001);
	assert_int_equal(p->rules[1].cond.uid, 0);
	assert_int_equal(p->rules[1].cond.gid, 4294967294u);
	/* Numeric ids need no lookup. */
	assert_int_equal(ids.user_calls, 3);
	assert_int_equal(ids.group_calls, 2);
	s = diags_text(&d, p);
	assert_string_equal(s, "t.conf:3:17: error: unknown user 'nobody-here'; or give the id\n"
			       "t.conf:4:17: error: unknown group 'nogroup'; or give the id\n"
			       "t.conf:5:17: error: cannot look up user 'broken': Input/output "
			       "error\n");
	assert_int_equal(d.nerrors, 3);
	free(s);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* --- selectors --------------------------------------------------------------- */

struct match_case {
	const char *sel, *path;
	bool match;
};

static const struct match_case match_table[] = {
	{ "/", "/", true },
	{ "/", "/a", false },
	{ "/a", "/a", true },
	{ "/a", "/", false },
	{ "/a", "/ab", false },
	{ "/a", "/a/b", false },
	{ "/a/b", "/a", false },
	{ "/system.slice/nginx.service", "/system.slice/nginx.service", true },
	{ "/system.slice/nginx.service", "/system.slice/nginx.service/x", false },
	{ "/*", "/", false },
	{ "/*", "/anything", true },
	{ "/*", "/a/b", false },
	{ "/a*", "/a", true },
	{ "/a*", "/abc", true },
	{ "/a*", "/ba", false },
	{ "/*.service", "/nginx.service", true },
	{ "/*.service", "/nginx.socket", false },
	{ "/a*b*c", "/abbbc", true },
	{ "/a*b*c", "/acb", false },
	{ "/*a*b*", "/xaybz", true },
	{ "/*a*b*", "/xbya", false },
	{ "/a/*/c", "/a/b/c", true },
	{ "/a/*/c", "/a/c", false },
	{ "/a/*/c", "/a/b/x/c", false },
	{ "/kubepods.slice/*/*pod1f2e*.slice",
	  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1f2e3d4c.slice", true },
	{ "/kubepods.slice/*/*pod1f2e*.slice", "/kubepods.slice/kubepods-pod1f2e.slice", false },
	{ "/kubepods.slice/*/*pod1f2e*.slice",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2f.slice", false },
	{ "/kubepods.slice/*/*pod1f2e*.slice",
	  "/kubepods.slice/x/kubepods-pod1f2e.slice/container.scope", false },
	{ "/**", "/", true },
	{ "/**", "/a", true },
	{ "/**", "/a/b/c", true },
	{ "/**/nginx.service", "/nginx.service", true },
	{ "/**/nginx.service", "/system.slice/nginx.service", true },
	{ "/**/nginx.service", "/a/b/c/nginx.service", true },
	{ "/**/nginx.service", "/a/nginx.service/x", false },
	{ "/**/nginx.service", "/a/xnginx.service", false },
	{ "/a/**/b", "/a/b", true },
	{ "/a/**/b", "/a/x/b", true },
	{ "/a/**/b", "/a/x/y/z/b", true },
	{ "/a/**/b", "/a/x/y/z/c", false },
	{ "/a/**/b", "/b", false },
	{ "/a/**", "/a", true },
	{ "/a/**", "/a/b/c", true },
	{ "/a/**", "/ab", false },
	{ "/a/**", "/", false },
	{ "/a/**/b/**/c", "/a/b/c", true },
	{ "/a/**/b/**/c", "/a/q/b/r/s/c", true },
	{ "/a/**/b/**/c", "/a/c/b", false },
	{ "/**/**", "/", true },
	{ "/**/**/x", "/x", true },
	{ "/**/*pod*/**", "/kubepods.slice/burst/pod1/ctr", true },
	{ "/**/*pod*/**", "/kube.slice/burst/ctr", false },
	{ "/**/b/*", "/a/b/b/c", true },
	{ "/**/b/*", "/a/b/c/d", false },
};

static void test_selector_match(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(match_table) / sizeof(match_table[0]); i++) {
		bool got = pg_selector_match(match_table[i].sel, match_table[i].path);

		if (got != match_table[i].match)
			fail_msg("pg_selector_match(\"%s\", \"%s\") = %d, want %d",
				 match_table[i].sel, match_table[i].path, got,
				 match_table[i].match);
	}
}

static void test_selector_exact_depth(void **state)
{
	assert_true(pg_selector_is_exact("/"));
	assert_true(pg_selector_is_exact("/system.slice/a.service"));
	assert_false(pg_selector_is_exact("/system.slice/*.service"));
	assert_false(pg_selector_is_exact("/**"));
	assert_int_equal(pg_selector_depth("/"), 0);
	assert_int_equal(pg_selector_depth("/a"), 1);
	assert_int_equal(pg_selector_depth("/a/b"), 2);
	assert_int_equal(pg_selector_depth("/kubepods.slice/x/y.slice"), 3);
}

static void test_protects(void **state)
{
	struct pg_policy *p = parse_expect("", NO_RULES);

	assert_false(pg_policy_protects(p, 0));
	assert_true(pg_policy_protects(p, 1));
	assert_true(pg_policy_protects(p, 80));
	assert_true(pg_policy_protects(p, 1023));
	assert_false(pg_policy_protects(p, 1024));
	assert_false(pg_policy_protects(p, 65535));
	pg_policy_free(p);

	p = parse_expect("protect 80,443,8000-8100,65535\n", NO_RULES);
	assert_false(pg_policy_protects(p, 22));
	assert_true(pg_policy_protects(p, 80));
	assert_false(pg_policy_protects(p, 81));
	assert_true(pg_policy_protects(p, 443));
	assert_false(pg_policy_protects(p, 7999));
	assert_true(pg_policy_protects(p, 8000));
	assert_true(pg_policy_protects(p, 8050));
	assert_true(pg_policy_protects(p, 8100));
	assert_false(pg_policy_protects(p, 8101));
	assert_true(pg_policy_protects(p, 65535));
	pg_policy_free(p);
}

static void test_rule_spec(void **state)
{
	static const struct {
		const char *line, *spec;
	} t[] = {
		{ "allow /a tcp/80,443", "tcp/80,443" },
		{ "allow /a udp,tcp/53", "tcp,udp/53" },
		{ "allow /a any/1-1023", "any/1-1023" },
		{ "allow /a tcp,udp/1-1023", "tcp,udp/1-1023" },
		{ "allow /a udp/443,80-85,86", "udp/80-86,443" },
		{ "protect 1-65535\nallow /a tcp/1-65535", "tcp/1-65535" },
	};
	struct pg_rule r = { .protos = PG_PROTO_OTHER | PG_PROTO_UDP };
	struct pg_range one = { 7, 7 };
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pg_policy *p = parse_ok(t[i].line);

		s = pg_rule_spec(&p->rules[0]);
		assert_string_equal(s, t[i].spec);
		free(s);
		pg_policy_free(p);
	}
	r.ports = &one;
	r.nports = 1;
	s = pg_rule_spec(&r);
	assert_string_equal(s, "udp,other/7");
	free(s);
}

static void test_diags_print(void **state)
{
	struct pg_diags d = { 0 };
	struct pg_policy *p = parse_expect("", NO_RULES);
	char *s;

	pg_diags_add(&d, PG_SEV_ERROR, (struct pg_loc){ 0, 3, 7 }, "bad %s", "thing");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 4, 0 }, "no column");
	pg_diags_add(&d, PG_SEV_ERROR, (struct pg_loc){ 0, 0, 0 }, "whole file");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 9, 1, 1 }, "bad index");
	assert_int_equal(d.n, 4);
	assert_int_equal(d.nerrors, 2);
	s = diags_text(&d, p);
	assert_string_equal(s, "t.conf:3:7: error: bad thing\n"
			       "t.conf:4: warning: no column\n"
			       "t.conf: error: whole file\n"
			       "<unknown>:1:1: warning: bad index\n");
	free(s);
	s = diags_text(&d, NULL);
	assert_string_equal(s, "<unknown>:3:7: error: bad thing\n"
			       "<unknown>:4: warning: no column\n"
			       "<unknown>: error: whole file\n"
			       "<unknown>:1:1: warning: bad index\n");
	free(s);
	pg_diags_free(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
	pg_policy_free(p);
}

static void test_escape(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain /a.service", "plain /a.service" },
		{ "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m" },
		{ "tab\there", "tab\\there" },
		{ "del\x7f", "del\\x7f" },
		{ "caf\xe9", "caf\\xe9" },	  /* Latin-1 */
		{ "caf\xc3\xa9", "caf\xc3\xa9" }, /* UTF-8 */
		{ "\xef\xbb\xbf"
		  "allow",
		  "\\u{feff}allow" }, /* byte order mark */
		{ "a\xe2\x80\xae"
		  "b",
		  "a\\u{202e}b" },			    /* right-to-left override */
		{ "c1\xc2\x9b", "c1\\u{009b}" },	    /* CSI as a C1 control */
		{ "\xc0\xaf", "\\xc0\\xaf" },		    /* overlong '/' */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },	    /* a surrogate */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" }, /* U+1F600 */
		{ "cut\xe2\x82", "cut\\xe2\\x82" },	    /* truncated */
	};
	size_t i, bad = 99;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = pg_escape(cases[i].in, strlen(cases[i].in));

		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
	assert_true(pg_utf8_valid("a\xc3\xa9", 3, &bad));
	assert_int_equal(bad, 99);
	assert_false(pg_utf8_valid("ab\xe9c", 4, &bad));
	assert_int_equal(bad, 2);
	assert_true(pg_utf8_valid("", 0, NULL));
}

/* Source lines, carets, the count past the limit and the summary. */
static void test_render(void **state)
{
	static const char text[] = "mode grant\n"
				   "\tallow /a tcp/x\r\n"
				   "deny /a tcp/80\n"
				   "allow /a tcp/80\n";
	struct pg_srcs srcs = { 0 };
	struct pg_render_opts o = { &srcs, 2, true };
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse_buf("t.conf", text, strlen(text), NULL, &d);
	char *s = NULL;
	size_t n = 0;
	FILE *f;

	assert_int_equal(pg_srcs_add(&srcs, "t.conf", text, strlen(text)), 0);
	pg_diags_hint(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 1, 0 }, "do this", "no column");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 9, 3 }, "no such line");
	pg_diags_add(&d, PG_SEV_WARNING, (struct pg_loc){ 0, 0, 0 }, "whole file");
	pg_diags_add(&d, PG_SEV_ERROR, (struct pg_loc){ 0, 1, 1 }, "and one more");
	f = open_memstream(&s, &n);
	pg_diags_render(&d, p, &o, f);
	fclose(f);
	assert_string_equal(s,
			    "t.conf:2:15: error: invalid port 'x': service names are not accepted; "
			    "write the port number\n"
			    "    2 |         allow /a tcp/x\n"
			    "      |                      ^\n"
			    "t.conf:4:1: error: allow conflicts with deny at t.conf:3 on tcp/80\n"
			    "    4 | allow /a tcp/80\n"
			    "      | ^\n"
			    "t.conf:1: warning: no column; do this\n"
			    "    1 | mode grant\n"
			    "t.conf:9:3: warning: no such line\n"
			    "1 more error and 1 more warning not shown\n"
			    "3 errors, 3 warnings\n");
	free(s);

	/* Without sources, limit or summary: pg_diags_print(). */
	s = diags_text(&d, p);
	assert_string_equal(s,
			    "t.conf:2:15: error: invalid port 'x': service names are not accepted; "
			    "write the port number\n"
			    "t.conf:4:1: error: allow conflicts with deny at t.conf:3 on tcp/80\n"
			    "t.conf:1: warning: no column; do this\n"
			    "t.conf:9:3: warning: no such line\n"
			    "t.conf: warning: whole file\n"
			    "t.conf:1:1: error: and one more\n");
	free(s);

	/* --strict: every warning counts as an error. */
	pg_diags_strict(&d);
	assert_int_equal(d.nerrors, 6);
	assert_int_equal(pg_diags_nwarnings(&d), 0);
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_srcs_free(&srcs);
}

/* --- pathological inputs ----------------------------------------------------- */

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* 10,000 valid but varied lines: every rule kept, no diagnostic. */
static void test_many_random_rules(void **state)
{
	static const char *const acts[] = { "allow", "deny" };
	static const char *const protos[] = { "tcp", "udp", "tcp,udp", "any" };
	static const char *const comps[] = { "system.slice", "kubepods.slice", "*",	   "**",
					     "a*b",	     "*pod*",	       "x.service" };
	int next_port[50] = { 0 };
	uint32_t seed = 42;
	size_t cap = 10000 * 160, off = 0;
	char *text = malloc(cap);
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	int i, nrules = 0;

	for (i = 0; i < 10000; i++) {
		uint32_t r = lcg(&seed);
		int sel = (int)(r % 50), k, depth = sel % 6;
		uint32_t s2 = (uint32_t)sel * 7919u;
		const char *q = r % 7 ? "" : "\"";

		if (r % 10 == 0) {
			off += (size_t)snprintf(text + off, cap - off, "  # comment %u\n", r);
			continue;
		}
		/* One of 50 selectors, each port used once per selector. */
		off += (size_t)snprintf(text + off, cap - off, "%s%s %s", r % 3 ? "" : "\t",
					acts[(r >> 4) % 2], q);
		for (k = 0; k < depth; k++)
			off += (size_t)snprintf(text + off, cap - off, "/%s", comps[lcg(&s2) % 7]);
		off += (size_t)snprintf(text + off, cap - off, "/s%d%s %s/%d%s\n", sel, q,
					protos[(r >> 8) % 4], 1 + next_port[sel]++,
					r % 5 ? "" : " user=www-data addr=10.0.0.0/8");
		nrules++;
	}
	p = pg_policy_parse_buf("random.conf", text, off, NULL, &d);
	if (d.n) {
		char *s = diags_text(&d, p);

		fail_msg("unexpected diagnostics:\n%.2000s", s);
	}
	assert_int_equal(p->nrules, (size_t)nrules);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(text);
}

/* Random bytes, quotes and keywords: diagnostics, not crashes. */
static void test_garbage(void **state)
{
	static const char alphabet[] = "  \t\"\\#/*,-=09aztcpudyl\r";
	static const char *const words[] = { "allow ", "deny ", "mode ", "protect ", "include ",
					     "netns ", "tcp/",	"user=", "addr=",    "/a/**/" };
	uint32_t seed = 7;
	size_t cap = 10000 * 80, off = 0;
	char *text = malloc(cap);
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	int i, k;

	for (i = 0; i < 10000; i++) {
		int n = (int)(lcg(&seed) % 60);

		for (k = 0; k < n; k++) {
			uint32_t r = lcg(&seed);

			if (r % 8 == 0)
				off += (size_t)snprintf(text + off, cap - off, "%s", words[r % 10]);
			else
				text[off++] = alphabet[r % (sizeof(alphabet) - 1)];
			if (off > cap - 20)
				break;
		}
		text[off++] = '\n';
	}
	p = pg_policy_parse_buf("garbage.conf", text, off, NULL, &d);
	assert_non_null(p);
	assert_true(d.nerrors > 0);
	pg_policy_free(p);
	pg_diags_free(&d);
	free(text);
}

static void test_deep_selectors(void **state)
{
	char sel[PG_POL_MAX_DEPTH * 8 + 64], path[4096 * 2], line[sizeof(sel) + 64];
	size_t off = 0, i;
	struct pg_policy *p;

	/* 63 components of stars: parses, and matching stays fast. */
	for (i = 0; i < PG_POL_MAX_DEPTH; i++)
		off += (size_t)sprintf(sel + off, "/%s", i % 2 ? "**" : "*a*a*a*");
	snprintf(line, sizeof(line), "allow %s tcp/80\n", sel);
	p = parse_ok(line);
	assert_string_equal(p->rules[0].selector, sel);
	pg_policy_free(p);

	/* A long path that almost matches: each component lacks a third 'a'. */
	for (off = 0, i = 0; i < 1000; i++)
		off += (size_t)sprintf(path + off, "/xaab");
	assert_false(pg_selector_match(sel, path));
	for (off = 0, i = 0; i < 1000; i++)
		off += (size_t)sprintf(path + off, "/aaaa");
	assert_true(pg_selector_match(sel, path));

	/* Every component a globstar, the last one literal and absent. */
	for (off = 0, i = 0; i < PG_POL_MAX_DEPTH - 1; i++)
		off += (size_t)sprintf(sel + off, "/**");
	sprintf(sel + off, "/needle");
	for (off = 0, i = 0; i < 1000; i++)
		off += (size_t)sprintf(path + off, "/hay");
	assert_false(pg_selector_match(sel, path));
	sprintf(path + off, "/needle");
	assert_true(pg_selector_match(sel, path));

	/* Many stars inside one component against a long component. */
	memset(sel, 0, sizeof(sel));
	sel[0] = '/';
	for (i = 1; i < 255; i++)
		sel[i] = i % 2 ? '*' : 'a';
	path[0] = '/';
	memset(path + 1, 'a', 3000);
	path[3001] = 'b';
	path[3002] = '\0';
	assert_false(pg_selector_match(sel, path));
	path[3001] = '\0';
	assert_true(pg_selector_match(sel, path));

	/* 64 components is one too many. */
	for (off = 0, i = 0; i <= PG_POL_MAX_DEPTH; i++)
		off += (size_t)sprintf(sel + off, "/c");
	snprintf(line, sizeof(line), "allow %s tcp/80\n", sel);
	{
		struct pg_diags d = { 0 };

		p = pg_policy_parse_buf("t.conf", line, strlen(line), NULL, &d);
		assert_int_equal(d.nerrors, 1);
		assert_string_equal(d.v[0].msg, "selector has more than 63 components");
		assert_int_equal(d.v[0].loc.col, 8 + 2 * PG_POL_MAX_DEPTH);
		pg_policy_free(p);
		pg_diags_free(&d);
	}
}

/* Tens of thousands of rules on one selector: the checks must not be quadratic. */
static void test_one_selector_many_rules(void **state)
{
	size_t n = 65535, off = 0, i;
	char *text = malloc(n * 40 + 64);
	struct pg_diags d = { 0 };
	struct pg_policy *p;

	off += (size_t)sprintf(text, "protect 1-65535\n");
	for (i = 1; i <= n; i++)
		off += (size_t)sprintf(text + off, "%s /a tcp/%zu\n", i % 2 ? "allow" : "deny", i);
	off += (size_t)sprintf(text + off, "deny /a tcp/1-65535\n");
	p = pg_policy_parse_buf("t.conf", text, off, NULL, &d);
	assert_int_equal(p->nrules, n + 1);
	/* The last rule collides with the first allow and duplicates the first deny. */
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[0].msg, "deny conflicts with allow at t.conf:2 on tcp/1");
	assert_string_equal(d.v[1].msg, "duplicates the rule at t.conf:3");
	pg_policy_free(p);
	pg_diags_free(&d);
	free(text);
}

/*
 * The checks against a brute-force reference on random small policies: each
 * later rule reported once, at the first protocol (tcp, udp, other) and
 * lowest port where it collides, against the earliest rule colliding there.
 */
struct ref_rule {
	int sel, action, cond; /* cond 0: none */
	uint32_t protos;
	bool port[9];
};

static bool ref_covers(const struct ref_rule *r, uint32_t proto, int port)
{
	return (r->protos & proto) && r->port[port];
}

static void test_checks_match_reference(void **state)
{
	static const uint32_t protos[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	static const char *const pnames[] = { "tcp", "udp", "tcp,udp", "any" };
	static const uint32_t pbits[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_TCP | PG_PROTO_UDP,
					  PG_PROTO_ANY };
	enum { NR = 100, NPORT = 8 };
	uint32_t seed = 1;
	int round;

	for (round = 0; round < 300; round++) {
		struct ref_rule r[NR];
		char *text = malloc(NR * 80), *want = malloc(NR * 3 * 128), *got;
		size_t off = 0, woff = 0;
		struct pg_diags d = { 0 };
		struct pg_policy *p;
		int i, k, port, q;

		for (i = 0; i < NR; i++) {
			uint32_t x = lcg(&seed);
			int pi = (int)(x % 4), nports = 0;

			/* Odd rounds crowd one selector: the alternatives limit fires. */
			r[i].sel = round % 2 ? 0 : (int)(x / 4 % 2);
			r[i].action = (int)(x / 8 % 2);
			/* Mostly conditional, few distinct conditions: all three checks fire. */
			r[i].cond = (int)(x / 16 % 5);
			r[i].protos = pbits[pi];
			off +=
			    (size_t)sprintf(text + off, "%s /s%d %s/",
					    r[i].action ? "deny" : "allow", r[i].sel, pnames[pi]);
			for (port = 1; port <= NPORT; port++) {
				r[i].port[port] = lcg(&seed) % 3 < (uint32_t)(1 + round % 2);
				if (r[i].port[port])
					off += (size_t)sprintf(text + off, "%s%d",
							       nports++ ? "," : "", port);
			}
			if (!nports) {
				r[i].port[1] = true;
				off += (size_t)sprintf(text + off, "1");
			}
			if (r[i].cond)
				off += (size_t)sprintf(text + off, " user=u%d", r[i].cond);
			off += (size_t)sprintf(text + off, "\n");
		}

		for (i = 0; i < NR; i++) {
			bool conflict = false, dup = false, alt = false;

			for (q = 0; q < 3; q++) {
				for (port = 1; port <= NPORT; port++) {
					if (!ref_covers(&r[i], protos[q], port))
						continue;
					for (k = 0; k < i; k++) {
						if (r[k].sel != r[i].sel ||
						    !ref_covers(&r[k], protos[q], port))
							continue;
						if (!conflict && r[k].action != r[i].action) {
							conflict = true;
							woff += (size_t)sprintf(
							    want + woff,
							    "t.conf:%d:1: error: %s conflicts with "
							    "%s "
							    "at t.conf:%d on %s/%d\n",
							    i + 1, r[i].action ? "deny" : "allow",
							    r[k].action ? "deny" : "allow", k + 1,
							    (r[i].protos & r[k].protos) ==
								    PG_PROTO_ANY
								? "any"
								: pnames[q],
							    port);
						}
					}
				}
			}
			for (q = 0; q < 3 && !dup; q++) {
				for (port = 1; port <= NPORT && !dup; port++) {
					if (!ref_covers(&r[i], protos[q], port))
						continue;
					for (k = 0; k < i && !dup; k++) {
						if (r[k].sel == r[i].sel &&
						    r[k].action == r[i].action &&
						    r[k].cond == r[i].cond &&
						    ref_covers(&r[k], protos[q], port)) {
							dup = true;
							woff +=
							    (size_t)sprintf(want + woff,
									    "t.conf:%d:1: warning: "
									    "duplicates the rule "
									    "at t.conf:%d\n",
									    i + 1, k + 1);
						}
					}
				}
			}
			for (q = 0; q < 3 && !alt && r[i].cond; q++) {
				for (port = 1; port <= NPORT && !alt; port++) {
					int rank = 0;

					if (!ref_covers(&r[i], protos[q], port))
						continue;
					for (k = 0; k < i; k++)
						rank += r[k].sel == r[i].sel &&
							r[k].action == r[i].action && r[k].cond &&
							ref_covers(&r[k], protos[q], port);
					if (rank >= 16) {
						alt = true;
						woff += (size_t)sprintf(
						    want + woff,
						    "t.conf:%d:1: error: more than 16 %s rules "
						    "with "
						    "conditions on '/s%d' for %s/%d\n",
						    i + 1, r[i].action ? "deny" : "allow", r[i].sel,
						    q == 0   ? "tcp"
						    : q == 1 ? "udp"
							     : "other",
						    port);
					}
				}
			}
		}

		p = pg_policy_parse_buf("t.conf", text, off, NULL, &d);
		got = diags_text(&d, p);
		if (strcmp(got, want))
			fail_msg("round %d, policy:\n%s\nwant:\n%s\ngot:\n%s", round, text, want,
				 got);
		free(got);
		free(text);
		free(want);
		pg_policy_free(p);
		pg_diags_free(&d);
	}
}

/* --- golden files -------------------------------------------------------------- */

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;

	if (real_read(NULL, path, &buf, &len))
		return NULL;
	buf = realloc(buf, len + 1);
	buf[len] = '\0';
	return buf;
}

/* state: "tests/policies/errors/NAME.conf" */
static void test_golden(void **state)
{
	const char *conf = *state;
	char expected_path[512];
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *want, *got;

	snprintf(expected_path, sizeof(expected_path), "%.*s.expected",
		 (int)(strlen(conf) - strlen(".conf")), conf);
	want = slurp(expected_path);
	if (!want)
		fail_msg("%s: missing", expected_path);
	p = pg_policy_parse(conf, &real_ops, &d);
	assert_non_null(p);
	got = diags_text(&d, p);
	assert_string_equal(got, want);
	/* Every golden file shows at least one problem. */
	assert_true(d.n > 0);
	free(got);
	free(want);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* state: "tests/policies/good/NAME.conf" */
static void test_good(void **state)
{
	const char *conf = *state;
	struct pg_diags d = { 0 };
	struct pg_policy *p = pg_policy_parse(conf, &real_ops, &d);
	char *got = diags_text(&d, p);

	assert_string_equal(got, "");
	assert_true(p->nrules > 0);
	free(got);
	pg_policy_free(p);
	pg_diags_free(&d);
}

/* real_read, keeping what it read for the source lines of diagnostics. */
static int keep_read(void *ud, const char *path, char **buf, size_t *len)
{
	int err = real_read(NULL, path, buf, len);

	if (!err)
		assert_int_equal(pg_srcs_add(ud, path, *buf, *len), 0);
	return err;
}

/* What portgate check prints on standard error. */
static char *render_text(const struct pg_diags *d, const struct pg_policy *p,
			 const struct pg_srcs *srcs)
{
	const struct pg_render_opts o = { srcs, PG_DIAGS_SHOWN, true };
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	pg_diags_render(d, p, &o, f);
	fclose(f);
	return s;
}

/* state: "tests/policies/check/NAME.conf", shown as check shows it. */
static void test_golden_check(void **state)
{
	const char *conf = *state;
	char expected_path[512];
	struct pg_srcs srcs = { 0 };
	struct pg_source_ops ops = { keep_read, real_glob, &srcs };
	struct pg_diags d = { 0 };
	struct pg_policy *p;
	char *want, *got;

	snprintf(expected_path, sizeof(expected_path), "%.*s.expected",
		 (int)(strlen(conf) - strlen(".conf")), conf);
	want = slurp(expected_path);
	if (!want)
		fail_msg("%s: missing", expected_path);
	p = pg_policy_parse(conf, &ops, &d);
	assert_non_null(p);
	got = render_text(&d, p, &srcs);
	if (strcmp(got, want))
		fail_msg("%s differs; got:\n%s", expected_path, got);
	free(got);
	free(want);
	pg_policy_free(p);
	pg_diags_free(&d);
	pg_srcs_free(&srcs);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One named test per DIR/ *.conf. */
static int run_dir(const char *group, const char *dir, CMUnitTestFunction fn)
{
	DIR *dp = opendir(dir);
	struct CMUnitTest *tests = NULL;
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *e;
	int failed;

	if (!dp) {
		fprintf(stderr, "cannot open %s: %s (run from the repository root)\n", dir,
			strerror(errno));
		return 1;
	}
	while ((e = readdir(dp))) {
		size_t len = strlen(e->d_name);

		if (len <= 5 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n] = malloc(strlen(dir) + len + 2);
		sprintf(names[n], "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(dp);
	if (!n) {
		fprintf(stderr, "no .conf files in %s\n", dir);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp_name);
	tests = calloc(n, sizeof(*tests));
	for (i = 0; i < n; i++)
		tests[i] = (struct CMUnitTest){ .name = names[i] + strlen(dir) + 1,
						.test_func = fn,
						.initial_state = names[i] };
	failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return failed;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_ports_sorted_merged),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_errors_one_run),
		cmocka_unit_test(test_unreadable_top),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_include_glob_sorted),
		cmocka_unit_test(test_include_relative),
		cmocka_unit_test(test_include_top_level_self),
		cmocka_unit_test(test_include_glob_failure),
		cmocka_unit_test(test_include_too_many_files),
		cmocka_unit_test(test_policy_hash),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_alternatives_limit),
		cmocka_unit_test(test_unprotected),
		cmocka_unit_test(test_mode_checks),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_netns_limit),
		cmocka_unit_test(test_rule_limit),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_selector_match),
		cmocka_unit_test(test_selector_exact_depth),
		cmocka_unit_test(test_protects),
		cmocka_unit_test(test_rule_spec),
		cmocka_unit_test(test_diags_print),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_many_random_rules),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_deep_selectors),
		cmocka_unit_test(test_one_selector_many_rules),
		cmocka_unit_test(test_checks_match_reference),
	};
	int failed = cmocka_run_group_tests_name("policy", tests, NULL, NULL);

	failed += run_dir("golden errors", "tests/policies/errors", test_golden);
	failed += run_dir("good policies", "tests/policies/good", test_good);
	failed += run_dir("golden check output", "tests/policies/check", test_golden_check);
	return failed ? 1 : 0;
}
