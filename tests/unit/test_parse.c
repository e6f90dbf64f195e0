// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_parse.c - the tokenizer, the line loop and the simple statements
 * (policy/parse.c): the example of SPEC.md, defaults, quoting, comments,
 * line ends, NUL bytes and long lines, netns, and garbage that must give
 * diagnostics, not crashes.
 */

#include "policy_fx.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example), cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_quoting),	     cmocka_unit_test(test_comments),
		cmocka_unit_test(test_crlf),	     cmocka_unit_test(test_errors_one_run),
		cmocka_unit_test(test_nul_byte),     cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_netns_limit),  cmocka_unit_test(test_many_random_rules),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
