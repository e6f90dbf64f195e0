// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_check.c - the whole-policy checks (policy/check.c): conflicts,
 * duplicates, the alternatives limit, unprotected ports, mode checks, lint
 * warnings, scale, and a reference model of the sweep.
 */

#include "policy_fx.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_alternatives_limit),
		cmocka_unit_test(test_unprotected),
		cmocka_unit_test(test_mode_checks),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_one_selector_many_rules),
		cmocka_unit_test(test_checks_match_reference),
	};

	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
