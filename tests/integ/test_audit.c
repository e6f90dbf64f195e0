// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_audit.c - audit rollout against real binds, in grant and in sysctl
 * mode: under `rollout audit` (or a rule's rollout=audit) every bind gets
 * the outcome the kernel gives without portgate (EACCES for nobody below
 * the threshold, success for root), and each bind whose outcome
 * enforcement would change is reported: a would-allow or would-deny event
 * naming the rule, the verdict counters, the rule's counter, the metrics.
 * A bind that enforcement and the kernel agree on is not reported. The
 * one-word edit to `rollout enforce` then makes the same binds follow the
 * policy, with the counters carried. In sysctl mode an audit-only policy
 * leaves ip_unprivileged_port_start alone, and puts back a value an
 * earlier enforcing apply lowered.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>

#include "pg_abi.h"

#include "harness.h"
#include "harness_mon.h"

static struct hx H;

static int setup(void **state)
{
	return hx_setup(&H, *state) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	hx_mon_reap();
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

#define START "net/ipv4/ip_unprivileged_port_start"

/* Output of the last run must hold s. */
#define OUT_HAS(s)                                                                                 \
	do {                                                                                       \
		if (!hx_out_has(&H, (s)))                                                          \
			fail_msg("%s:%d: want '%s' in:\n%s", __FILE__, __LINE__, (s), H.out);      \
	} while (0)

/* The policy files of a test, written once, applied as the test goes
 * (hx_policy() returns one static buffer: each name gets its own copy). */
static char pol_paths[4][PATH_MAX];

static const char *pol_file(int k, const char *name, const char *text)
{
	const char *p = hx_policy(&H, name, text);

	assert_non_null(p);
	snprintf(pol_paths[k], sizeof(pol_paths[k]), "%s", p);
	return pol_paths[k];
}

static void apply_file(const char *file)
{
	if (hx_run(&H, "apply", "--attach", H.cg, file, NULL))
		fail_msg("apply %s failed:\n%s", file, H.out);
}

/* Whether the loaded programs read capabilities (status says; else uid 0 stands for them). */
static bool caps_read(void)
{
	assert_int_equal(hx_run(&H, "status", "-j", NULL), 0);
	if (hx_out_has(&H, "\"capability\":\"read\"")) {
		print_message("note: the programs read capabilities on this kernel\n");
		return true;
	}
	if (!hx_out_has(&H, "\"capability\":\"uid 0\""))
		fail_msg("status -j says neither capability read nor uid 0:\n%s", H.out);
	print_message("note: the programs estimate capabilities as uid 0 on this kernel\n");
	return false;
}

/* status -j holds "verdict":n for each pair given (NULL-terminated). */
static void expect_verdicts(const char *first, ...)
{
	char want[128];
	const char *name;
	va_list ap;

	assert_int_equal(hx_run(&H, "status", "-j", NULL), 0);
	va_start(ap, first);
	for (name = first; name; name = va_arg(ap, const char *)) {
		snprintf(want, sizeof(want), "\"%s\":%d", name, va_arg(ap, int));
		if (!hx_out_has(&H, want)) {
			va_end(ap);
			fail_msg("status -j lacks %s:\n%s", want, H.out);
		}
	}
	va_end(ap);
}

/*
 * The binds of the rollout, under the policy
 *     rollout audit | enforce
 *     default deny
 *     allow @/web tcp/80
 * and what monitor -j reports of them under audit: nobody binding 80 in
 * web (enforcement grants, the kernel refuses: would-allow), root binding
 * 81 in other (enforcement refuses, the kernel allows: would-deny); root
 * on 80 in web and nobody on 82 in other agree, and are not reported.
 */
static void audited_binds(const char *file)
{
	struct hx_mon m;
	char *out, *err, want[2048];

	assert_int_equal(hx_mon_start(&H, &m, "-j", "--count", "2", NULL), 0);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = 0);
	EXPECT_BIND(EACCES, .cg = "other", .port = 82, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "other", .family = AF_INET6, .port = 81, .uid = 0);
	EXPECT_BIND(0, .cg = "other", .port = 2000, .uid = NOBODY);
	assert_int_equal(hx_mon_wait(&m, &out, &err), 0);
	print_message("monitor: %s", out);
	{
		char *nl = strchr(out, '\n'), *first = out, *second = nl ? nl + 1 : out;
		bool ok;

		if (nl)
			*nl = 0;
		snprintf(want, sizeof(want), "\"rule\":\"%s:4\"", file);
		ok = strstr(first, "\"verdict\":\"would-allow\"") && strstr(first, "\"port\":80") &&
		     strstr(first, "\"uid\":65534") && strstr(first, "\"audit\":true") &&
		     strstr(first, "\"denied\":false") && strstr(first, want) &&
		     strstr(second, "\"verdict\":\"would-deny\"") &&
		     strstr(second, "\"port\":81") && strstr(second, "\"uid\":0") &&
		     strstr(second, "\"family\":\"ipv6\"") && strstr(second, "\"rule\":null") &&
		     !strstr(second, "\"port\":82");
		free(out);
		free(err);
		assert_true(ok);
	}
}

/* grant mode: audit, the reports, then the one-word edit to enforce. */
static void grant_mode_audit_then_enforce(void **state)
{
	const char *audit, *enforce;
	bool caps;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	audit = pol_file(0, "audit.conf",
			 "mode grant\nrollout audit\ndefault deny\n"
			 "allow @/web tcp/80\n");
	enforce = pol_file(1, "enforce.conf",
			   "mode grant\nrollout enforce\ndefault deny\n"
			   "allow @/web tcp/80\n");
	assert_int_equal(hx_run(&H, "check", audit, NULL), 0);
	apply_file(audit);
	caps = caps_read();
	audited_binds(audit);
	/* counted: the rule's would-allow, the default's would-deny, the agreeing
	 * two as the kernel's own check */
	expect_verdicts("would-allow", 1, "would-deny", 1, "kernel", 2, "grant", 0, "deny-default",
			0, NULL);
	OUT_HAS("\"rollout\":{\"policy\":\"audit\",\"rules_audit\":1,\"rules_enforce\":0");
	/* nobody holding CAP_NET_BIND_SERVICE: the kernel allows, the default
	 * would refuse. Reported where the programs read capabilities; the uid 0
	 * estimate takes it for a bind both refuse. The outcome is the kernel's
	 * either way. */
	EXPECT_BIND(0, .cg = "other", .port = 84, .uid = NOBODY, .bind_cap = true);
	expect_verdicts("would-deny", caps ? 2 : 1, "kernel", caps ? 2 : 3, NULL);
	OUT_HAS("\"native_threshold\":1024");
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	OUT_HAS(
	    caps ? "rollout:    audit (1 rule audit, 0 enforce); the kernel's own check: port >= "
		   "1024, capability read from the task"
		 : "rollout:    audit (1 rule audit, 0 enforce); the kernel's own check: port >= "
		   "1024, capability estimate: uid 0");
	OUT_HAS("allow ");
	OUT_HAS("(audit: counts would-be changes)");
	assert_int_equal(hx_run(&H, "status", "--prometheus", NULL), 0);
	OUT_HAS("portgate_binds_total{verdict=\"would-allow\"} 1");
	OUT_HAS(caps ? "portgate_binds_total{verdict=\"would-deny\"} 2"
		     : "portgate_binds_total{verdict=\"would-deny\"} 1");
	OUT_HAS("portgate_policy_audit 1");
	OUT_HAS("portgate_policy_audit_rules 1");
	/* explain, live and from the file, says the decision is audit-only */
	assert_int_equal(hx_run(&H, "explain", hx_path(&H, "other"), "tcp/81", "--user", "0", NULL),
			 0);
	OUT_HAS("would refuse (audit: the kernel's own check decides) (bind hook returns 1)");
	assert_int_equal(hx_run(&H, "explain", "--policy", audit, hx_path(&H, "web"), "tcp/80",
				"--user", "65534", NULL),
			 0);
	OUT_HAS("would grant (audit: the kernel's own check decides)");
	/* diff: the edit changes the decisions from audit to enforce */
	assert_int_equal(hx_run(&H, "diff", audit, enforce, NULL), 1);
	OUT_HAS("audit-grant -> grant");
	OUT_HAS("audit-deny -> deny-default");

	/* the one-word edit: the same binds follow the policy */
	apply_file(enforce);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 81, .uid = 0);
	expect_verdicts("would-allow", 1, "would-deny", caps ? 2 : 1, "kernel", caps ? 2 : 3,
			"grant", 1, "deny-default", 1, NULL);
	OUT_HAS("\"rollout\":{\"policy\":\"enforce\",\"rules_audit\":0,\"rules_enforce\":1");
	/* and back: the rule's enforced grant is carried to grant, not to would-allow */
	apply_file(audit);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	expect_verdicts("would-allow", 2, "grant", 1, NULL);
}

/* An enforced policy with audited rules: only those observe. */
static void grant_mode_rule_audit(void **state)
{
	struct hx_mon m;
	char *out, *err, want[2048];
	const char *pol;
	bool ok;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	pol = pol_file(0, "p.conf",
		       "mode grant\ndefault deny\n"
		       "allow @/web tcp/80\n"
		       "allow @/web tcp/81 rollout=audit\n"
		       "deny @/other tcp/82 rollout=audit\n");
	apply_file(pol);
	assert_int_equal(hx_mon_start(&H, &m, "-j", "--count", "2", NULL), 0);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);	       /* enforced grant */
	EXPECT_BIND(EACCES, .cg = "web", .port = 81, .uid = NOBODY);   /* would-allow */
	EXPECT_BIND(EACCES, .cg = "other", .port = 82, .uid = NOBODY); /* both refuse */
	EXPECT_BIND(0, .cg = "other", .port = 82, .uid = 0);	       /* would-deny */
	assert_int_equal(hx_mon_wait(&m, &out, &err), 0);
	print_message("monitor: %s", out);
	snprintf(want, sizeof(want), "\"rule\":\"%s:4\"", pol);
	ok = strstr(out, "\"verdict\":\"would-allow\"") && strstr(out, want);
	snprintf(want, sizeof(want), "\"rule\":\"%s:5\"", pol);
	ok = ok && strstr(out, "\"verdict\":\"would-deny\"") && strstr(out, want);
	free(out);
	free(err);
	assert_true(ok);
	EXPECT_BIND(EPERM, .cg = "other", .port = 83, .uid = 0); /* enforced default */
	expect_verdicts("grant", 1, "would-allow", 1, "would-deny", 1, "deny-default", 1, "kernel",
			1, NULL);
	OUT_HAS("\"rules_audit\":2,\"rules_enforce\":1");
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	OUT_HAS("rollout:    enforce, some rules audit (2 rules audit, 1 enforce)");
}

/*
 * sysctl mode: an audit-only policy leaves the threshold where the kernel
 * has it; enforcing lowers it; audit again puts back the saved value.
 */
static void sysctl_mode_audit_keeps_the_threshold(void **state)
{
	const char *audit, *enforce;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	audit = pol_file(0, "audit.conf",
			 "mode sysctl\nrollout audit\ndefault deny\n"
			 "allow @/web tcp/80\n");
	enforce = pol_file(1, "enforce.conf",
			   "mode sysctl\nrollout enforce\ndefault deny\n"
			   "allow @/web tcp/80\n");
	assert_int_equal(hx_sysctl_read(START), 1024);
	apply_file(audit);
	assert_int_equal(hx_sysctl_read(START), 1024);
	audited_binds(audit);
	expect_verdicts("would-allow", 1, "would-deny", 1, "kernel", 2, NULL);
	assert_int_equal(hx_run(&H, "status", NULL), 0);
	OUT_HAS("sysctls:    none managed");

	apply_file(enforce);
	assert_int_equal(hx_sysctl_read(START), 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 81, .uid = 0);
	EXPECT_BIND(EPERM, .cg = "other", .port = 82, .uid = NOBODY);

	/* back to audit: the saved value returns before the audited image decides */
	apply_file(audit);
	assert_int_equal(hx_sysctl_read(START), 1024);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	EXPECT_BIND(0, .cg = "other", .port = 81, .uid = 0);
	expect_verdicts("would-allow", 2, "would-deny", 2, "grant", 1, NULL);
}

/*
 * sysctl mode with enforced grants lowers the threshold, where the kernel's
 * own check no longer gives an audited bind its native outcome: the
 * programs return it themselves, which needs them to read capabilities
 * (refusing with EPERM where the kernel says EACCES); where the kernel does
 * not let them, the policy is refused, naming the line. Audited refusals
 * alone need no lowering.
 */
static void sysctl_mode_rule_audit(void **state)
{
	char want[1024];
	const char *pol;
	bool caps;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	/* no enforced grant: nothing to lower, the audited deny is native */
	pol = pol_file(1, "deny.conf",
		       "mode sysctl\ndefault deny\n"
		       "deny @/other tcp/82 rollout=audit\n");
	apply_file(pol);
	caps = caps_read();
	assert_int_equal(hx_sysctl_read(START), 1024);
	EXPECT_BIND(0, .cg = "other", .port = 82, .uid = 0);
	EXPECT_BIND(EACCES, .cg = "other", .port = 82, .uid = NOBODY);
	EXPECT_BIND(EPERM, .cg = "other", .port = 83, .uid = NOBODY);
	expect_verdicts("would-deny", 1, "kernel", 1, "deny-default", 1, NULL);

	pol = pol_file(0, "mixed.conf",
		       "mode sysctl\ndefault deny\n"
		       "allow @/web tcp/80\n"
		       "allow @/web tcp/81 rollout=audit\n");
	if (!caps) {
		assert_int_equal(hx_run(&H, "apply", "--attach", H.cg, pol, NULL), 3);
		snprintf(want, sizeof(want), "%s:4:", pol);
		OUT_HAS(want);
		OUT_HAS("audit needs the kernel's own check, but sysctl mode");
		OUT_HAS("audit every allow rule too, or use mode grant");
		assert_int_equal(hx_sysctl_read(START), 1024);
		return;
	}
	apply_file(pol);
	assert_int_equal(hx_sysctl_read(START), 1);
	EXPECT_BIND(0, .cg = "web", .port = 80, .uid = NOBODY);	    /* enforced */
	EXPECT_BIND(EPERM, .cg = "web", .port = 81, .uid = NOBODY); /* native: refused */
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = 0);
	EXPECT_BIND(0, .cg = "web", .port = 81, .uid = NOBODY, .bind_cap = true);
	EXPECT_BIND(EPERM, .cg = "other", .port = 81, .uid = 0); /* enforced default */
	EXPECT_BIND(0, .cg = "other", .port = 1500, .uid = NOBODY);
	/* carried from deny.conf: would-deny 1, kernel 1, deny-default 1 */
	expect_verdicts("grant", 1, "would-allow", 1, "kernel", 3, "deny-default", 2, NULL);
	OUT_HAS("\"rules_audit\":1,\"rules_enforce\":1");
}

/* Programs of an older build are pinned (enforcing): an apply of an audit
 * policy swaps this build's in, and audit works at once. */
static void upgrade_to_audit(void **state)
{
	char path[PATH_MAX];
	struct pg_ctl ctl;
	__u32 zero = 0;
	int fd;

	(void)state;
	assert_int_equal(hx_mkcg(&H, "web"), 0);
	assert_int_equal(hx_mkcg(&H, "other"), 0);
	APPLY_OK("mode grant\ndefault deny\nallow @/web tcp/80\n");
	EXPECT_BIND(EPERM, .cg = "other", .port = 81, .uid = 0);
	snprintf(path, sizeof(path), "%s/pg_ctl", H.pin);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &ctl), 0);
	ctl.build ^= 1; /* pretend an older portgate loaded them */
	assert_int_equal(bpf_map_update_elem(fd, &zero, &ctl, BPF_ANY), 0);
	close(fd);
	APPLY_OK("mode grant\nrollout audit\ndefault deny\nallow @/web tcp/80\n");
	EXPECT_BIND(0, .cg = "other", .port = 81, .uid = 0);
	EXPECT_BIND(EACCES, .cg = "web", .port = 80, .uid = NOBODY);
	expect_verdicts("deny-default", 1, "would-deny", 1, "would-allow", 1, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(grant_mode_audit_then_enforce),
		T(grant_mode_rule_audit),
		T(sysctl_mode_audit_keeps_the_threshold),
		T(sysctl_mode_rule_audit),
		T(upgrade_to_audit),
	};
	int rc;

	if (hx_init(&H))
		return 1;
	hx_filters();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return rc;
}
