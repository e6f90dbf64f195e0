// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_storm.c - portgate under attack and failure, against the real
 * kernel (SPEC.md, "What it must never do"; portgate(8), SAFETY):
 *
 *  - swap storms: unprivileged processes bind in a tight loop (IPv4 and
 *    IPv6, TCP and UDP) while apply alternates between two policies; a port
 *    both grant is never refused, a port both refuse is never granted;
 *  - crashes: apply and stop are SIGKILLed at random points and right
 *    after a randomly chosen phase line ("portgate: apply: phase: NAME" of
 *    apply -v); after each kill the kernel enforces exactly the old or the
 *    new policy (never nothing), status agrees with the kernel, a lowered
 *    threshold is guarded, and the next command recovers; the agent,
 *    portgate run, is killed the same way at random delays over its first
 *    apply (it shows apply's phase lines only once the apply is over);
 *  - concurrent applies serialise on the pin directory's lock: all succeed,
 *    one program per hook, the generation counts every apply.
 *
 * Sizes for CI by default; raise them with STORM_APPLIES (applies of the
 * main storm, default 300; the other storms make a third of that),
 * CRASH_ITER (apply kills of the grant-mode crash test, default 200; the
 * sysctl-mode one makes half, the protect-change one a quarter; those of
 * portgate run as many as their apply counterparts) and
 * CONC_ROUNDS (rounds of concurrent applies, default 30).
 * For investigation: STORM_SEED=N repeats the random kill points (the seed
 * is printed), STORM_VERBOSE=1 prints every kill with its phase timeline,
 * STORM_STRATEGY=delay|phase|trace makes every kill of one kind,
 * CRASH_RECOVER=same recovers every kill with the killed apply's own policy
 * (by default half the recoveries apply the old policy again),
 * STORM_ONLY=GLOB runs only the tests whose names match.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "harness.h"
#include "harness_storm.h"

static struct hx H;

#define UNPRIV_START "net/ipv4/ip_unprivileged_port_start"

static int setup(void **state)
{
	const char *name = *state;

	return hx_setup(&H, name) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	/* Whatever a failed test left running (binders, a portgate being killed). */
	hs_reap_all();
	hx_teardown(&H);
	return 0;
}

#define T(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)#fn)

/* print_message() cuts at 1024 bytes; failure reports are longer. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static unsigned rng_state;

/* Per test, so that STORM_SEED with STORM_ONLY repeats one test's kill points. */
static void rng_init(void)
{
	rng_state = (unsigned)hs_env_long("STORM_SEED", (long)(time(NULL) ^ getpid()) & 0x7fffffff);
	say("random seed %u (STORM_SEED=%u repeats these kill points)\n", rng_state, rng_state);
}

static unsigned rnd(unsigned n)
{
	return n ? (unsigned)rand_r(&rng_state) % n : 0;
}

/* Append to a policy text. */
static void add(char *buf, size_t len, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + off, off < len ? len - off : 0, fmt, ap);
	va_end(ap);
}

/* Cgroups n00..n(n-1): filler rules that make the two images differ in nodes. */
static void make_fillers(int n)
{
	char name[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%02d", i);
		assert_int_equal(hx_mkcg(&H, name), 0);
	}
}

/* Rules on every other filler (parity 0 or 1), up to n of them. */
static void add_fillers(char *buf, size_t len, int parity, int n, int port)
{
	int i;

	for (i = parity; i < n; i += 2)
		add(buf, len, "allow @/n%02d tcp/%d\n", i, port);
}

static const char *save_policy(const char *name, const char *text, char *out)
{
	const char *p = hx_policy(&H, name, text);

	assert_non_null(p);
	snprintf(out, PATH_MAX, "%s", p);
	return out;
}

/* Count hooks directly on the test cgroup (attached there, effective or not). */
static int hooks_on_test_cg(int type)
{
	return hx_prog_count(&H, "", type, false);
}

static const char *fam_name(int family, int type)
{
	if (family == AF_INET)
		return type == SOCK_STREAM ? "v4/tcp" : "v4/udp";
	return type == SOCK_STREAM ? "v6/tcp" : "v6/udp";
}

/* ================================================================ storm */

/*
 * Binders 0-3 bind in svc (IPv4 and IPv6, TCP and UDP), binder 5 in svc/sub
 * (not a node: svc's rules decide): 100+i granted by A and B (ALWAYS),
 * 200+i denied by a rule in both and 1+i refused in both (default deny, or
 * left to the kernel where B does not protect it) (NEVER), 300+i granted by
 * A only (EITHER). Binder 4 binds in n01, a node of B only: tcp/81 granted
 * by B only (EITHER), tcp/80 (A's filler port) by neither (NEVER). Each
 * binder has its own ports, so a granted bind cannot meet another's socket.
 */
struct storm_cfg {
	const char *mode;      /* "grant" or "sysctl" */
	const char *protect_b; /* B's protect statement */
	long applies;
	int nbinders;
	int nfill; /* filler cgroups */
};

static const char *cls_cg(int binder)
{
	return binder == 4 ? "n01" : binder == 5 ? "svc/sub" : "svc";
}

static void storm(const struct storm_cfg *c)
{
	static const int fam[6] = { AF_INET, AF_INET6, AF_INET, AF_INET6, AF_INET, AF_INET6 };
	static const int typ[6] = { SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM,
				    SOCK_DGRAM,	 SOCK_STREAM, SOCK_DGRAM };
	static const char *const cls_name[HS_NCLASS] = { "granted by A and B", "refused by A and B",
							 "granted by one of them" };
	char a[16384] = "", b[16384] = "", pa[PATH_MAX], pb[PATH_MAX], first_fail[4096] = "";
	long failed = 0, n, total[HS_NCLASS][HS_NOUT] = { { 0 } }, wrong, binds = 0;
	long wrong_ab, wrong_ba;
	long per_binder[HS_MAX_BINDERS] = { 0 };
	struct hs_wrong log[HS_MAX_WRONG];
	struct hs_storm *s;
	uint64_t t0, t1;
	int i, k, o, nlog, rc, setup_err;

	make_fillers(c->nfill);
	assert_int_equal(hx_mkcg(&H, "svc/sub"), 0);
	add(a, sizeof(a), "mode %s\ndefault deny\nprotect 1-1023\n", c->mode);
	add_fillers(a, sizeof(a), 0, c->nfill / 2, 80);
	add(a, sizeof(a),
	    "allow @/svc tcp,udp/100-107\nallow @/svc tcp,udp/300-307\n"
	    "deny @/svc tcp,udp/200-207\n");
	add(b, sizeof(b), "mode %s\ndefault deny\n%s\n", c->mode, c->protect_b);
	add(b, sizeof(b),
	    "deny @/svc tcp,udp/300-307\ndeny @/svc tcp,udp/200-207\n"
	    "allow @/svc tcp,udp/100-107\n");
	add_fillers(b, sizeof(b), 1, c->nfill, 81);
	save_policy("storm-a.conf", a, pa);
	save_policy("storm-b.conf", b, pb);

	/* Before the first apply nothing grants: start the binders after it. */
	rc = hx_run(&H, "apply", pa, "--attach", H.cg, NULL);
	if (rc)
		fail_msg("first apply failed with %d:\n%s", rc, H.out);
	if (!strcmp(c->mode, "sysctl"))
		assert_int_equal(hx_sysctl_read(UNPRIV_START), 1);

	s = hs_storm_new();
	assert_non_null(s);
	s->nbinders = c->nbinders;
	for (i = 0; i < c->nbinders; i++) {
		struct hs_binder_cfg *bc = &s->cfg[i];

		bc->family = fam[i];
		bc->type = typ[i];
		if (i == 4) {
			snprintf(bc->cg, sizeof(bc->cg), "n01");
			bc->nports = 2;
			bc->port[0] = 80, bc->cls[0] = HS_NEVER;
			bc->port[1] = 81, bc->cls[1] = HS_EITHER;
			continue;
		}
		snprintf(bc->cg, sizeof(bc->cg), i == 5 ? "svc/sub" : "svc");
		bc->nports = 4;
		bc->port[0] = 100 + i, bc->cls[0] = HS_ALWAYS;
		bc->port[1] = 200 + i, bc->cls[1] = HS_NEVER;
		bc->port[2] = 1 + i, bc->cls[2] = HS_NEVER;
		bc->port[3] = 300 + i, bc->cls[3] = HS_EITHER;
	}
	if (hs_binders_start(&H, s, "svc", NOBODY)) {
		hs_storm_free(s);
		fail_msg("the binders could not set up");
	}

	/* No assertion until the binders are stopped: they must not outlive a failure. */
	t0 = hs_now_us();
	/* apply n (from 0) installs B when n is even, A when odd; A is in force at first */
	for (n = 0; n < c->applies; n++) {
		rc = hx_run(&H, "apply", n & 1 ? pa : pb, "--attach", H.cg, NULL);
		if (rc) {
			if (!failed++)
				snprintf(first_fail, sizeof(first_fail),
					 "apply %ld -> %d:\n%.3900s", n, rc, H.out);
		}
		s->applies = n + 1;
	}
	t1 = hs_now_us();
	hs_binders_stop(s);

	setup_err = 0;
	for (i = 0; i < c->nbinders; i++)
		setup_err |= s->setup_failed[i];
	for (i = 0; i < c->nbinders; i++)
		for (k = 0; k < HS_NCLASS; k++)
			for (o = 0; o < HS_NOUT; o++) {
				total[k][o] += s->counts[i][k][o];
				per_binder[i] += s->counts[i][k][o];
				binds += s->counts[i][k][o];
			}
	wrong = s->wrong;
	wrong_ab = s->wrong_by_apply[0];
	wrong_ba = s->wrong_by_apply[1];
	nlog = s->nlog < HS_MAX_WRONG ? s->nlog : HS_MAX_WRONG;
	memcpy(log, s->log, sizeof(log));
	hs_storm_free(s);

	say("storm, %s mode, B has '%s': %ld applies (%ld failed) in %.1f s, "
	    "%d binders as nobody, %ld binds\n",
	    c->mode, c->protect_b, c->applies, failed, (double)(t1 - t0) / 1e6, c->nbinders, binds);
	for (i = 0; i < c->nbinders; i++)
		say("  binder %d %s in %s: %ld binds\n", i, fam_name(fam[i], typ[i]), cls_cg(i),
		    per_binder[i]);
	for (k = 0; k < HS_NCLASS; k++) {
		say("  %-22s:", cls_name[k]);
		for (o = 0; o < HS_NOUT; o++)
			say(" %s %ld%s", hs_outcome_name((enum hs_outcome)o), total[k][o],
			    o + 1 < HS_NOUT ? "," : "\n");
	}
	say("  wrong decisions: %ld (%ld while an apply of B ran, %ld while an apply of "
	    "A ran)\n",
	    wrong, wrong_ab, wrong_ba);
	for (i = 0; i < nlog; i++)
		say("    binder %d (%s) port %d (%s): %s (errno %d) during apply %ld\n",
		    log[i].binder, fam_name(fam[log[i].binder], typ[log[i].binder]), log[i].port,
		    cls_name[log[i].cls], hs_outcome_name(hs_outcome_of(log[i].err)), log[i].err,
		    log[i].apply);

	assert_false(setup_err);
	if (failed)
		fail_msg("%ld of %ld applies failed; first: %s", failed, c->applies, first_fail);
	for (i = 0; i < c->nbinders; i++)
		if (!per_binder[i])
			fail_msg("binder %d made no bind", i);
	assert_true(total[HS_ALWAYS][HS_O_OK] > 0);
	assert_true(total[HS_EITHER][HS_O_OK] > 0); /* A was in force at times */
	assert_int_equal(wrong, 0);
	/* still one program per hook: swapped, never stacked */
	assert_int_equal(hooks_on_test_cg(BPF_CGROUP_INET4_BIND), 1);
	assert_int_equal(hooks_on_test_cg(BPF_CGROUP_INET6_BIND), 1);
}

static long storm_applies(void)
{
	return hs_env_long("STORM_APPLIES", 300);
}

static void storm_grant_mode_never_flips_a_common_decision(void **state)
{
	struct storm_cfg c = { .mode = "grant",
			       .protect_b = "protect 1-1023",
			       .applies = storm_applies(),
			       .nbinders = 6,
			       .nfill = 48 };

	(void)state;
	storm(&c);
}

/* B protects less: the hull shrinks and grows with every swap. */
static void storm_grant_mode_protect_set_changes(void **state)
{
	struct storm_cfg c = { .mode = "grant",
			       .protect_b = "protect 10-1023",
			       .applies = storm_applies() / 3,
			       .nbinders = 6,
			       .nfill = 48 };

	(void)state;
	storm(&c);
}

static void storm_sysctl_mode_never_flips_a_common_decision(void **state)
{
	struct storm_cfg c = { .mode = "sysctl",
			       .protect_b = "protect 1-1023",
			       .applies = storm_applies() / 3,
			       .nbinders = 6,
			       .nfill = 48 };

	(void)state;
	storm(&c);
}

/*
 * Sysctl mode where B protects 10-1023: under A the threshold is 1 and A
 * denies ports 1-9; under B the threshold is 10 and the kernel refuses
 * them. Nobody may get port 1-9 at any moment.
 */
static void storm_sysctl_mode_protect_set_changes(void **state)
{
	struct storm_cfg c = { .mode = "sysctl",
			       .protect_b = "protect 10-1023",
			       .applies = storm_applies() / 3,
			       .nbinders = 6,
			       .nfill = 48 };

	(void)state;
	storm(&c);
}

/* ================================================================ probes */

/*
 * Policies of the crash and concurrency tests, told apart by two ports of
 * cgroup svc; a third is denied by all of them, and a fourth (PX, port 5)
 * is refused by all of them, by default deny or, where B protects only
 * 10-1023 ("narrow"), by the kernel:
 *           PD (400)  PS (401)  PN (402)  PX (5)
 *   A       grant     grant     deny      deny (default)
 *   B       deny      grant     deny      deny, or EACCES if narrow
 *   C       grant     deny      deny      deny
 *   nothing EACCES    EACCES    EACCES    EACCES (no program: the kernel's refusal)
 * A and B differ in PD and agree on the others (the crash tests use them).
 */
enum pol { P_NONE = 0, P_A, P_B, P_C, NPOL };
static const char *const pol_name[NPOL] = { "nothing", "A", "B", "C" };

#define PD 400
#define PS 401
#define PN 402
#define PX 5

static bool b_narrow; /* B says "protect 10-1023" */

static int expect_err(enum pol p, int port)
{
	static const bool grant[NPOL][3] = {
		[P_A] = { true, true, false },
		[P_B] = { false, true, false },
		[P_C] = { true, false, false },
	};

	if (p == P_NONE)
		return EACCES;
	if (port == PX)
		return p == P_B && b_narrow ? EACCES : EPERM;
	return grant[p][port - PD] ? 0 : EPERM;
}

static void pol_text(enum pol p, const char *mode, int nfill, char *buf, size_t len)
{
	buf[0] = 0;
	add(buf, len, "mode %s\ndefault deny\n", mode);
	if (p == P_B && b_narrow)
		add(buf, len, "protect 10-1023\n");
	add(buf, len, "%s @/svc tcp,udp/%d\n", expect_err(p, PD) ? "deny" : "allow", PD);
	add(buf, len, "%s @/svc tcp,udp/%d\n", expect_err(p, PS) ? "deny" : "allow", PS);
	add(buf, len, "deny @/svc tcp,udp/%d\n", PN);
	/* A's fillers on even cgroups, B's on odd ones, C's on all */
	add_fillers(buf, len, p == P_B, p == P_C ? nfill / 2 : nfill, 80 + (int)p);
}

/*
 * Also the filler cgroups n00 (a node of A and C) and n01 (a node of B
 * only), over TCP: A grants n00 tcp/81, B grants n01 tcp/82, everything
 * else there (and PD, svc's port) is denied (default deny). A cgroup that
 * is a node of one image only must never be read with another image's
 * node numbers.
 */
static int expect_filler(enum pol p, int n, int port)
{
	if (p == P_NONE)
		return EACCES;
	if (p == P_A && n == 0 && port == 81)
		return 0;
	if (p == P_B && n == 1 && port == 82)
		return 0;
	return EPERM;
}

#define NPORTS	4
#define NSVC	(2 * 2 * NPORTS) /* svc: families x types x ports */
#define NFILL_P (2 * 3)		 /* a filler: families x ports 81, 82, PD (TCP) */
#define NPROBE	(NSVC + 2 * NFILL_P)

struct probe {
	struct hs_probe pr[NPROBE];
	int fam[2]; /* the policy each family enforces, -1: none of them */
	char text[2048];
};

/* Where probe i binds: -1 svc, else filler n. */
static int probe_filler(int i)
{
	return i < NSVC ? -1 : (i - NSVC) / NFILL_P;
}

static int probe_expect(enum pol p, int i, const struct hs_probe *x)
{
	int n = probe_filler(i);

	return n < 0 ? expect_err(p, x->port) : expect_filler(p, n, x->port);
}

/*
 * Bind PD, PS, PN, PX over IPv4 and IPv6, TCP and UDP, as nobody in svc,
 * and 81, 82, PD over TCP in n00 and n01; say which policy each family
 * obeys.
 */
static void probe(struct probe *r)
{
	static const int fams[2] = { AF_INET, AF_INET6 }, types[2] = { SOCK_STREAM, SOCK_DGRAM };
	static const int ports[NPORTS] = { PD, PS, PN, PX };
	int f, t, k, n, i = 0, p;

	for (f = 0; f < 2; f++)
		for (t = 0; t < 2; t++)
			for (k = 0; k < NPORTS; k++)
				r->pr[i++] = (struct hs_probe){ .family = fams[f],
								.type = types[t],
								.port = ports[k] };
	for (n = 0; n < 2; n++)
		for (f = 0; f < 2; f++)
			for (k = 0; k < 3; k++)
				r->pr[i++] = (struct hs_probe){ .family = fams[f],
								.type = SOCK_STREAM,
								.port = k < 2 ? 81 + k : PD };
	if (hs_bind_many(&H, "svc", NOBODY, r->pr, NSVC) ||
	    hs_bind_many(&H, "n00", NOBODY, r->pr + NSVC, NFILL_P) ||
	    hs_bind_many(&H, "n01", NOBODY, r->pr + NSVC + NFILL_P, NFILL_P))
		fail_msg("the probe binds could not set up");
	r->text[0] = 0;
	for (f = 0; f < 2; f++) {
		r->fam[f] = -1;
		for (p = P_NONE; p < NPOL && r->fam[f] < 0; p++) {
			bool all = true;

			for (i = 0; i < NPROBE; i++)
				if (r->pr[i].family == fams[f])
					all &=
					    r->pr[i].err == probe_expect((enum pol)p, i, &r->pr[i]);
			if (all)
				r->fam[f] = p;
		}
	}
	for (i = 0; i < NPROBE; i++) {
		const struct hs_probe *x = &r->pr[i];

		if (i == NSVC || i == NSVC + NFILL_P)
			add(r->text, sizeof(r->text), " | in n0%d:", probe_filler(i));
		add(r->text, sizeof(r->text), "%s%s/%d=%s", i ? " " : "",
		    fam_name(x->family, x->type), x->port,
		    x->err == 0	       ? "ok"
		    : x->err == EPERM  ? "EPERM"
		    : x->err == EACCES ? "EACCES"
				       : strerror(x->err));
	}
}

static const char *fam_pol(int p)
{
	return p < 0 ? "none of the policies" : pol_name[p];
}

/* ================================================================ crashes */

/*
 * Where a kill lands: at a random delay from the start; as soon as the
 * pipe shows a chosen phase line (plus a little); or, with the process
 * under ptrace, at a random system call of a chosen phase (phases of a
 * few microseconds are over before a reader of the pipe wakes up on a
 * busy machine; a system call boundary does not depend on that).
 */
enum strat { S_DELAY = 0, S_PHASE, S_TRACE, S_NSTRAT };
static const char *const strat_name[S_NSTRAT] = { "at a random delay", "after the phase line",
						  "at a system call of" };

struct crash {
	bool sysctl;
	int nfill;
	char file[NPOL][PATH_MAX];
	char hash[NPOL][65];
	enum pol cur;		 /* what the kernel enforces now */
	unsigned long long gen;	 /* its generation (0: nothing) */
	double cal_apply[2];	 /* [fresh] how long a whole apply takes, us */
	double cal_stop;	 /* how long a whole stop takes, us */
	long hits[2][HS_PH__NR]; /* [fresh][last phase seen] */
	long strat[S_NSTRAT];
	long nsys[2][HS_PH__NR]; /* [fresh] most system calls seen in each phase */
	long nsys_stop;		 /* system calls of a stop from its flock() on */
	unsigned next_aim[2];	 /* [fresh] the phase the next traced kill aims at */
	long half_made;		 /* recoveries that cleared a half-made first apply */
	long back_to_old;	 /* recoveries that applied the old policy again */
	long kills, fresh_kills, split_fresh, lowered_checks;
	long stop_kills, stop_out[4]; /* enforcing, stopped, partial, finished first */
	char last_out[2048];	      /* tail of the last killed apply's output */
	bool no_trace;		      /* HX_WRAP: the ptrace strategy is off */
	bool via_run;		      /* kill portgate run (its first apply), not apply */
	long run_mid, run_after;      /* run kills before / after its apply was in force */
};

/* crash_run(): kill the agent, portgate run, instead of apply. */
static bool crash_via_run;

static void learn(struct crash *c, bool fresh, const long nsys[HS_PH__NR])
{
	int ph;

	for (ph = 0; ph < HS_PH__NR; ph++)
		if (nsys[ph] > c->nsys[fresh][ph])
			c->nsys[fresh][ph] = nsys[ph];
}

static const char *const stop_out_name[4] = { "still enforcing", "cleanly stopped",
					      "partly detached (threshold restored)",
					      "finished before the kill" };

static void crash_summary(const struct crash *c, const char *title)
{
	int ph;

	say("%s: %ld %s kills (%ld of a first apply; %ld at a random delay, %ld "
	    "when a chosen phase line showed, %ld at a random system call of a chosen "
	    "phase), %ld stop kills\n",
	    title, c->kills, c->via_run ? "run" : "apply", c->fresh_kills, c->strat[S_DELAY],
	    c->strat[S_PHASE], c->strat[S_TRACE], c->stop_kills);
	say("  last phase seen at the kill      all  first-apply\n");
	for (ph = 0; ph < HS_PH__NR; ph++)
		if (c->hits[0][ph] + c->hits[1][ph])
			say("    %-28s %5ld  %5ld\n", hs_phase_names[ph],
			    c->hits[0][ph] + c->hits[1][ph], c->hits[1][ph]);
	if (c->split_fresh)
		say("  first apply killed while attaching, some hooks attached and "
		    "others not: %ld (documented)\n",
		    c->split_fresh);
	say("  recovered by applying the killed apply's policy %ld times, the old "
	    "one again %ld times\n",
	    c->kills - c->back_to_old, c->back_to_old);
	if (c->half_made)
		say("  first applies killed between pinning maps and programs, cleared "
		    "by the next apply: %ld\n",
		    c->half_made);
	if (c->sysctl)
		say("  kills that left the threshold lowered (checked guarded): %ld\n",
		    c->lowered_checks);
	if (c->stop_kills)
		say("  stop kills: %s %ld, %s %ld, %s %ld, %s %ld\n", stop_out_name[0],
		    c->stop_out[0], stop_out_name[1], c->stop_out[1], stop_out_name[2],
		    c->stop_out[2], stop_out_name[3], c->stop_out[3]);
	say("  wrong states after a kill: 0 (the test stops at the first)\n");
}

/* The whole story on stdout (cmocka cuts long failure messages), then fail. */
#define CRASH_FAIL(c, ...)                                                                         \
	do {                                                                                       \
		if ((c)->kills || (c)->stop_kills)                                                 \
			crash_summary(c, "so far");                                                \
		say("WRONG: ");                                                                    \
		say(__VA_ARGS__);                                                                  \
		say("\n");                                                                         \
		fflush(stdout);                                                                    \
		fail_msg("wrong state after a kill (see WRONG: above)");                           \
	} while (0)

static long threshold(void)
{
	return hx_sysctl_read(UNPRIV_START);
}

/* ip_unprivileged_port_start while policy p enforces. */
static long threshold_of(const struct crash *c, enum pol p)
{
	if (!c->sysctl || p == P_NONE)
		return 1024;
	return p == P_B && b_narrow ? 10 : 1;
}

/* Run portgate to the end with its output collected; exit status, duration in *us. */
static int timed(struct hs_proc *p, double *us)
{
	hs_finish(p);
	if (us)
		*us = (double)(hs_now_us() - p->start);
	snprintf(H.out, sizeof(H.out), "%s", p->out);
	return hs_exit(p);
}

static int timed_apply(enum pol t, struct crash *c, double *us)
{
	struct hs_proc p;

	if (hs_start(&H, &p, "apply", "-v", c->file[t], "--attach", H.cg, NULL))
		fail_msg("cannot start apply");
	return timed(&p, us);
}

static int timed_stop(double *us)
{
	struct hs_proc p;

	if (hs_start(&H, &p, "stop", "-v", NULL))
		fail_msg("cannot start stop");
	return timed(&p, us);
}

/* A whole apply under ptrace: learn how many system calls each phase makes. */
static void traced_apply(struct crash *c, enum pol t, const char *what)
{
	bool fresh = c->cur == P_NONE;
	long nsys[HS_PH__NR];
	struct hs_proc p;

	if (hs_start_traced(&H, &p, "apply", "-v", c->file[t], "--attach", H.cg, NULL))
		fail_msg("cannot start a traced apply");
	hs_trace_kill(&p, HS_PH_EXITED, 0, nsys);
	hs_kill_drain(&p);
	if (hs_exit(&p))
		fail_msg("%s exited %d:\n%s", what, hs_exit(&p), p.out);
	learn(c, fresh, nsys);
}

static void ema(double *cal, double us)
{
	*cal = *cal * 0.75 + us * 0.25;
}

/*
 * After a successful apply or recovery: t enforces whole, at generation gen
 * or later (an apply killed after reserving generations makes the next one
 * skip them: generations are never reused, only ever increase).
 */
static void expect_applied(struct crash *c, enum pol t, unsigned long long gen, const char *what)
{
	struct hs_status st;
	struct probe r;

	probe(&r);
	if (r.fam[0] != (int)t || r.fam[1] != (int)t)
		CRASH_FAIL(c, "%s: want %s enforced, binds say IPv4 %s, IPv6 %s: %s", what,
			   pol_name[t], fam_pol(r.fam[0]), fam_pol(r.fam[1]), r.text);
	if (hs_status(&H, &st) || !st.enforcing || strcmp(st.sha256, c->hash[t]) || st.gen < gen)
		CRASH_FAIL(c, "%s: want %s enforcing at generation %llu or later, status says:\n%s",
			   what, pol_name[t], gen, H.out);
	if (hooks_on_test_cg(BPF_CGROUP_INET4_BIND) != 1 ||
	    hooks_on_test_cg(BPF_CGROUP_INET6_BIND) != 1 ||
	    hooks_on_test_cg(BPF_CGROUP_SYSCTL) != 1 ||
	    hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE) != 1)
		CRASH_FAIL(c,
			   "%s: want one program per hook, have bind4 %d bind6 %d sysctl %d "
			   "sock_create %d",
			   what, hooks_on_test_cg(BPF_CGROUP_INET4_BIND),
			   hooks_on_test_cg(BPF_CGROUP_INET6_BIND),
			   hooks_on_test_cg(BPF_CGROUP_SYSCTL),
			   hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE));
	if (threshold() != threshold_of(c, t))
		CRASH_FAIL(c, "%s: want the threshold at %ld, have %ld", what, threshold_of(c, t),
			   threshold());
	c->cur = t;
	c->gen = st.gen;
}

/* After stop: nothing attached, nothing pinned, the threshold back, the kernel decides. */
static void expect_stopped(struct crash *c, const char *what)
{
	struct probe r;
	struct stat sb;

	if (threshold() != 1024)
		CRASH_FAIL(c, "%s: threshold %ld, want 1024 restored", what, threshold());
	if (hooks_on_test_cg(BPF_CGROUP_INET4_BIND) || hooks_on_test_cg(BPF_CGROUP_INET6_BIND) ||
	    hooks_on_test_cg(BPF_CGROUP_SYSCTL) || hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE))
		CRASH_FAIL(c, "%s: programs still attached", what);
	if (!stat(H.pin, &sb))
		CRASH_FAIL(c, "%s: %s still exists", what, H.pin);
	probe(&r);
	if (r.fam[0] != P_NONE || r.fam[1] != P_NONE)
		CRASH_FAIL(c, "%s: want the kernel's own refusal everywhere: %s", what, r.text);
	c->cur = P_NONE;
	c->gen = 0;
}

/* Threshold lowered: the bind programs must be attached and enforcing. */
static void check_guarded(struct crash *c, const struct probe *r, const char *what)
{
	long t = threshold();

	if (t == 1024)
		return;
	c->lowered_checks++;
	if (hx_prog_count(&H, "svc", BPF_CGROUP_INET4_BIND, true) < 1 ||
	    hx_prog_count(&H, "svc", BPF_CGROUP_INET6_BIND, true) < 1)
		CRASH_FAIL(c,
			   "%s: threshold lowered to %ld with bind4 %d / bind6 %d programs "
			   "in effect: unguarded",
			   what, t, hx_prog_count(&H, "svc", BPF_CGROUP_INET4_BIND, true),
			   hx_prog_count(&H, "svc", BPF_CGROUP_INET6_BIND, true));
	if (r->fam[0] <= P_NONE || r->fam[1] <= P_NONE)
		CRASH_FAIL(c, "%s: threshold lowered to %ld but binds say IPv4 %s, IPv6 %s: %s",
			   what, t, fam_pol(r->fam[0]), fam_pol(r->fam[1]), r->text);
}

/* CRASH_RECOVER=same: always recover with the killed apply's own policy. */
static bool same_recovery(void)
{
	return getenv("CRASH_RECOVER") && !strcmp(getenv("CRASH_RECOVER"), "same");
}

/* Kill an apply of target; force: kill at a system call of that phase (if tracing). */
static void kill_apply(struct crash *c, enum pol target, enum hs_phase force)
{
	static const enum hs_phase aims[] = { HS_PH_PROBE, HS_PH_MODE,	  HS_PH_COMPILE,
					      HS_PH_LOAD,  HS_PH_INSTALL, HS_PH_NODES,
					      HS_PH_SWAP,  HS_PH_PRUNE,	  HS_PH_ATTACH,
					      HS_PH_LOWER, HS_PH_RESTORE };
	bool fresh = c->cur == P_NONE;
	enum pol old = c->cur;
	/* 3 in 10 kills at a delay, 3 at a phase line, 4 at a system call (phases in turn) */
	unsigned pick = (unsigned)(c->kills % 10);
	enum strat s = pick < 3 ? S_DELAY : pick < 6 || c->no_trace ? S_PHASE : S_TRACE;

	if (getenv("STORM_STRATEGY")) /* delay, phase or trace: reproduce one kind of kill */
		s = !strcmp(getenv("STORM_STRATEGY"), "delay")	 ? S_DELAY
		    : !strcmp(getenv("STORM_STRATEGY"), "phase") ? S_PHASE
								 : S_TRACE;
	if (force != HS_PH_NONE && !c->no_trace)
		s = S_TRACE;
	long nsys[HS_PH__NR], k = 0;
	enum hs_phase aim = HS_PH_NONE, last;
	uint64_t delay = 0, extra = 0;
	struct hs_status st;
	struct hs_proc p;
	struct probe r;
	char what[256];
	int e;
	bool verbose = getenv("STORM_VERBOSE") != NULL;
	enum hs_phase seen = HS_PH_NONE;
	char timeline[1024] = "";
	uint64_t killed_at;

	if (c->via_run) {
		/* run relays apply's phase lines only once the apply is over, and
		 * makes system calls of its own first: kill at a delay, over the
		 * whole first apply and a little past it */
		s = S_DELAY;
		delay = rnd((unsigned)(c->cal_apply[fresh] * 1.5) + 20000);
	} else if (s == S_DELAY) {
		delay = rnd((unsigned)(c->cal_apply[fresh] * 1.2) + 1);
	} else {
		do
			aim = s == S_TRACE
				  ? aims[c->next_aim[fresh]++ % (sizeof(aims) / sizeof(aims[0]))]
				  : aims[rnd(sizeof(aims) / sizeof(aims[0]))];
		while (aim == HS_PH_LOWER && !c->sysctl);
		if (s == S_TRACE && force != HS_PH_NONE)
			aim = force;
		/* a system call of the phase (most seen, less a margin: counts vary a little) */
		k = rnd((unsigned)(c->nsys[fresh][aim] > 0 ? c->nsys[fresh][aim] * 9 / 10 : 0) + 1);
		/* mostly at once, else a little later: inside a short phase or past it */
		switch (s == S_TRACE ? 4 : rnd(5)) {
		case 0:
			extra = rnd(200);
			break;
		case 1:
			extra = rnd(3000);
			break;
		default:
			extra = 0;
		}
	}
	if (c->via_run) {
		if (hs_start(&H, &p, "run", "-v", c->file[target], "--attach", H.cg, NULL))
			fail_msg("cannot start run");
	} else if (s == S_TRACE) {
		if (hs_start_traced(&H, &p, "apply", "-v", c->file[target], "--attach", H.cg, NULL))
			fail_msg("cannot start a traced apply");
		hs_trace_kill(&p, aim, k, nsys);
		learn(c, fresh, nsys);
	} else if (hs_start(&H, &p, "apply", "-v", c->file[target], "--attach", H.cg, NULL)) {
		fail_msg("cannot start apply");
	}
	for (; s != S_TRACE;) {
		uint64_t now = hs_now_us(), wait = 1000;
		int rr;

		if (s == S_DELAY) {
			if (now - p.start >= delay)
				break;
			wait = delay - (now - p.start);
		} else if (hs_saw_phase(p.out, p.len, aim)) {
			uint64_t until = now + extra;

			while (extra && hs_now_us() < until)
				; /* spin: a sleep would overshoot */
			break;
		}
		rr = hs_pump(&p, wait > 1000 ? 1000 : (int)wait);
		if (verbose) {
			enum hs_phase now_ph = hs_last_phase(p.out, p.len);

			if (now_ph != seen) {
				seen = now_ph;
				add(timeline, sizeof(timeline), " %s@%llu", hs_phase_names[seen],
				    (unsigned long long)(hs_now_us() - p.start));
			}
		}
		if (rr < 0)
			break; /* it exited before the chosen point */
	}
	killed_at = hs_now_us() - p.start;
	hs_kill_drain(&p);
	e = hs_exit(&p);
	last = hs_last_phase(p.out, p.len);
	snprintf(c->last_out, sizeof(c->last_out), "%.2047s",
		 p.len > sizeof(c->last_out) - 1 ? p.out + p.len - (sizeof(c->last_out) - 1)
						 : p.out);
	if (e == 0)
		last = HS_PH_EXITED;
	else if (e != -SIGKILL)
		CRASH_FAIL(c, "%s of %s exited %d by itself before the kill:\n%s",
			   c->via_run ? "run" : "apply", pol_name[target], e, p.out);
	if (c->via_run && e == 0)
		CRASH_FAIL(c, "run of %s exited 0 by itself:\n%s", pol_name[target], p.out);
	if (verbose)
		say("kill %ld: %s%s aim %s +%lluus/+%ld calls / delay %llu, killed at "
		    "%llu -> %s;%s\n",
		    c->kills, fresh ? "fresh " : "", strat_name[s], hs_phase_names[aim],
		    (unsigned long long)extra, k, (unsigned long long)delay,
		    (unsigned long long)killed_at, hs_phase_names[last], timeline);
	c->kills++;
	c->fresh_kills += fresh;
	c->strat[s]++;
	c->hits[fresh][last]++;
	snprintf(what, sizeof(what), "%s %s -> %s killed %s (last phase seen: %s)",
		 c->via_run ? "run" : "apply", pol_name[old], pol_name[target], strat_name[s],
		 hs_phase_names[last]);
	if (s == S_PHASE)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), ", aimed at %s +%lluus",
			 hs_phase_names[aim], (unsigned long long)extra);
	if (s == S_TRACE)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 ", aimed at system call %ld of %s", k, hs_phase_names[aim]);

	/* The kernel enforces exactly the old or the new policy. */
	probe(&r);
	if ((r.fam[0] != (int)old && r.fam[0] != (int)target) ||
	    (r.fam[1] != (int)old && r.fam[1] != (int)target))
		CRASH_FAIL(c, "%s: binds say IPv4 %s, IPv6 %s, want %s or %s: %s\napply said:\n%s",
			   what, fam_pol(r.fam[0]), fam_pol(r.fam[1]), pol_name[old],
			   pol_name[target], r.text, c->last_out);
	if (!fresh && r.fam[0] != r.fam[1])
		CRASH_FAIL(c, "%s: IPv4 enforces %s, IPv6 %s: %s\napply said:\n%s", what,
			   pol_name[r.fam[0]], pol_name[r.fam[1]], r.text, c->last_out);

	if (c->via_run) {
		if (r.fam[0] == (int)target && r.fam[1] == (int)target && old != target)
			c->run_after++;
		else
			c->run_mid++;
	}
	/* status agrees with the kernel */
	if (hs_status(&H, &st))
		CRASH_FAIL(c, "%s: status --json failed:\n%s", what, H.out);
	if (!fresh) {
		enum pol want = (enum pol)r.fam[0];
		/* the old policy at its generation, or the new one at a later one */
		bool gen_ok = old == target ? st.gen >= c->gen
			      : want == old ? st.gen == c->gen
					    : st.gen > c->gen;

		if (!st.enforcing || strcmp(st.sha256, c->hash[want]) || !gen_ok)
			CRASH_FAIL(c,
				   "%s: the kernel enforces %s, so status must say enforcing, "
				   "generation %s %llu, sha256 %s; it says:\n%s",
				   what, pol_name[want], want == old ? "=" : ">", c->gen,
				   c->hash[want], H.out);
	} else {
		if (st.have_policy && (st.gen != 1 || strcmp(st.sha256, c->hash[target])))
			CRASH_FAIL(c,
				   "%s: first apply: status shows a policy that is not %s at "
				   "generation 1:\n%s",
				   what, pol_name[target], H.out);
		if (st.enforcing && (r.fam[0] != (int)target || r.fam[1] != (int)target))
			CRASH_FAIL(c, "%s: status says enforcing %s, binds say IPv4 %s, IPv6 %s",
				   what, pol_name[target], fam_pol(r.fam[0]), fam_pol(r.fam[1]));
		/* not enforcing with both bind hooks in force: some other hook is missing */
		if (!st.enforcing && r.fam[0] == (int)target && r.fam[1] == (int)target &&
		    hooks_on_test_cg(BPF_CGROUP_SYSCTL) == 1 &&
		    hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE) == 1)
			CRASH_FAIL(c,
				   "%s: %s enforces with all four hooks attached but status says "
				   "not enforcing:\n%s",
				   what, pol_name[target], H.out);
		if (r.fam[0] != r.fam[1] || (!st.enforcing && r.fam[0] == (int)target))
			c->split_fresh++; /* first apply: some links attached, some not */
	}
	if (c->sysctl) {
		long t = threshold();

		if (t != threshold_of(c, old) && t != threshold_of(c, target))
			CRASH_FAIL(c, "%s: threshold %ld; want %ld (%s) or %ld (%s)", what, t,
				   threshold_of(c, old), pol_name[old], threshold_of(c, target),
				   pol_name[target]);
		check_guarded(c, &r, what);
	}

	/*
	 * Recovery: the next apply succeeds and its policy enforces whole. Half
	 * the time that is the old policy again, not the one that was killed:
	 * what the killed apply left behind must not leak into another image.
	 */
	{
		enum pol next = old != P_NONE && !same_recovery() && rnd(2) ? old : target;
		double us;
		int rc = timed_apply(next, c, &us);

		if (rc)
			CRASH_FAIL(c, "%s: the next apply (%s) failed with %d:\n%s", what,
				   pol_name[next], rc, H.out);
		c->half_made += hx_out_has(&H, "clearing a half-made state");
		c->back_to_old += next != target;
		ema(&c->cal_apply[!st.have_policy && fresh], us);
		snprintf(what + strlen(what), sizeof(what) - strlen(what), ", then apply %s",
			 pol_name[next]);
		expect_applied(c, next, (st.have_policy ? st.gen : 0) + 1, what);
	}
}

static void kill_stop(struct crash *c)
{
	enum pol old = c->cur;
	uint64_t delay = rnd((unsigned)(c->cal_stop * 1.2) + 1);
	bool traced = !c->no_trace && c->nsys_stop > 0 && rnd(2);
	long k = rnd((unsigned)c->nsys_stop + 1), nsys[HS_PH__NR];
	struct hs_proc p;
	struct probe r;
	char what[128];
	int e, out;
	long t;

	if (traced) {
		/* at a random system call from its lock on: restore, detach, unpin */
		if (hs_start_traced(&H, &p, "stop", "-v", NULL))
			fail_msg("cannot start a traced stop");
		hs_trace_kill(&p, HS_PH_NONE, k, nsys);
	} else {
		if (hs_start(&H, &p, "stop", "-v", NULL))
			fail_msg("cannot start stop");
		while (hs_now_us() - p.start < delay) {
			uint64_t left = delay - (hs_now_us() - p.start);

			if (hs_pump(&p, left > 1000 ? 1000 : (int)left) < 0)
				break;
		}
	}
	hs_kill_drain(&p);
	e = hs_exit(&p);
	if (e != 0 && e != -SIGKILL)
		CRASH_FAIL(c, "stop exited %d by itself:\n%s", e, p.out);
	if (traced)
		snprintf(what, sizeof(what), "stop of %s killed at its system call %ld of %ld",
			 pol_name[old], k, c->nsys_stop);
	else
		snprintf(what, sizeof(what), "stop of %s killed at %lluus", pol_name[old],
			 (unsigned long long)delay);
	c->stop_kills++;

	probe(&r);
	t = threshold();
	if ((r.fam[0] != (int)old && r.fam[0] != P_NONE) ||
	    (r.fam[1] != (int)old && r.fam[1] != P_NONE))
		CRASH_FAIL(c, "%s: binds say IPv4 %s, IPv6 %s; want %s or nothing: %s", what,
			   fam_pol(r.fam[0]), fam_pol(r.fam[1]), pol_name[old], r.text);
	if (c->sysctl)
		check_guarded(c, &r, what);
	if (e == 0)
		out = 3;
	else if (r.fam[0] == (int)old && r.fam[1] == (int)old)
		out = 0;
	else if (r.fam[0] == P_NONE && r.fam[1] == P_NONE)
		out = 1;
	else
		out = 2;
	if (out == 1 && t != 1024)
		CRASH_FAIL(c, "%s: nothing enforces and the threshold is %ld", what, t);
	c->stop_out[out]++;

	/* stop again recovers */
	e = timed_stop(NULL);
	if (e)
		CRASH_FAIL(c, "%s: the next stop failed with %d:\n%s", what, e, H.out);
	expect_stopped(c, what);
}

static struct crash crash_state;

/* Cgroups, policies A and B and their hashes; nothing applied yet. */
static struct crash *crash_setup(bool sysctl, bool narrow)
{
	char text[16384], name[32];
	struct crash *c;
	int p;

	b_narrow = narrow;
	/* static: a failed assertion leaves the function without freeing anything */
	memset(&crash_state, 0, sizeof(crash_state));
	c = &crash_state;
	c->sysctl = sysctl;
	c->nfill = 48;
	c->no_trace = getenv("HX_WRAP") && *getenv("HX_WRAP");
	make_fillers(c->nfill);
	assert_int_equal(hx_mkcg(&H, "svc"), 0);
	for (p = P_A; p <= P_B; p++) {
		pol_text((enum pol)p, sysctl ? "sysctl" : "grant", c->nfill, text, sizeof(text));
		snprintf(name, sizeof(name), "crash-%s.conf", pol_name[p]);
		save_policy(name, text, c->file[p]);
		if (hs_policy_hash(&H, c->file[p], c->hash[p]))
			fail_msg("check %s:\n%s", c->file[p], H.out);
	}
	assert_string_not_equal(c->hash[P_A], c->hash[P_B]);
	return c;
}

static void crash_run(bool sysctl, bool narrow, long iters)
{
	struct crash *c;
	int i, rc, ph, fresh_every = 8, nstop = 0, nfresh = 0;
	double us;
	uint64_t t0 = hs_now_us();
	static const enum hs_phase must[] = { HS_PH_COMPILE, HS_PH_LOAD, HS_PH_INSTALL,
					      HS_PH_NODES,   HS_PH_SWAP, HS_PH_PRUNE,
					      HS_PH_ATTACH };
	/* how often each phase must have been hit (small runs: not checked) */
	long min_hits = iters >= 150 ? 3 : iters >= 60 ? 2 : 0;
	bool wrapped = getenv("HX_WRAP") && *getenv("HX_WRAP");

	rng_init();
	c = crash_setup(sysctl, narrow);
	c->via_run = crash_via_run;
	crash_via_run = false; /* a failure longjmps out: the next test must not inherit it */

	/* How long whole commands take: the range of the random delays. */
	rc = timed_apply(P_A, c, &c->cal_apply[1]);
	if (rc)
		fail_msg("apply A failed with %d:\n%s", rc, H.out);
	expect_applied(c, P_A, 1, "first apply");
	rc = timed_apply(P_B, c, &c->cal_apply[0]);
	if (rc)
		fail_msg("apply B failed with %d:\n%s", rc, H.out);
	expect_applied(c, P_B, 2, "second apply");
	if (!c->no_trace) {
		/* How many system calls each phase makes, first applies and later ones. */
		traced_apply(c, P_A, "third apply, traced");
		expect_applied(c, P_A, 3, "third apply, traced");
	}
	rc = timed_stop(&c->cal_stop);
	if (rc)
		fail_msg("stop failed with %d:\n%s", rc, H.out);
	expect_stopped(c, "stop");
	if (!c->no_trace) {
		struct hs_proc sp;
		long nsys[HS_PH__NR];

		traced_apply(c, P_A, "first apply, traced");
		expect_applied(c, P_A, 1, "first apply, traced");
		if (hs_start_traced(&H, &sp, "stop", "-v", NULL))
			fail_msg("cannot start a traced stop");
		hs_trace_kill(&sp, HS_PH_EXITED, 0, nsys);
		hs_kill_drain(&sp);
		if ((rc = hs_exit(&sp)))
			fail_msg("stop failed with %d:\n%s", rc, sp.out);
		c->nsys_stop = nsys[HS_PH_EXITED];
		expect_stopped(c, "stop, traced");
	}

	if (getenv("STORM_VERBOSE"))
		for (ph = 0; ph < HS_PH__NR; ph++)
			say("  system calls in phase %-14s first apply %5ld, later %5ld%s\n",
			    hs_phase_names[ph], c->nsys[1][ph], c->nsys[0][ph],
			    ph == HS_PH_EXITED ? " (stop: see below)" : "");
	if (getenv("STORM_VERBOSE"))
		say("  system calls of a stop from its flock() on: %ld\n", c->nsys_stop);
	for (i = 0; i < iters; i++) {
		if (i && i % fresh_every == 0) {
			/* Back to a fresh state: every other time through a killed stop. */
			if (nstop++ & 1) {
				kill_stop(c);
			} else {
				rc = timed_stop(&us);
				if (rc)
					CRASH_FAIL(c, "stop failed with %d:\n%s", rc, H.out);
				ema(&c->cal_stop, us);
				expect_stopped(c, "stop");
			}
		}
		/*
		 * Sysctl mode: every other first apply is killed while it lowers the
		 * threshold (the step that opens the low ports to everyone).
		 */
		kill_apply(c,
			   c->cur == P_A   ? P_B
			   : c->cur == P_B ? P_A
			   : (i & 1)	   ? P_B
					   : P_A,
			   sysctl && c->cur == P_NONE && (nfresh++ & 1) ? HS_PH_LOWER : HS_PH_NONE);
	}
	/* The last stop of the test may be killed too, then recovered. */
	kill_stop(c);

	crash_summary(c, c->via_run ? sysctl ? "crash of portgate run, sysctl mode"
					     : "crash of portgate run, grant mode"
			 : sysctl   ? narrow ? "crash, sysctl mode, B protects 10-1023"
					     : "crash, sysctl mode"
				    : "crash, grant mode");
	if (c->via_run)
		say("  run killed %ld times: %ld before its new policy was in force, %ld after\n",
		    c->kills, c->run_mid, c->run_after);
	say("  %.1f s\n", (double)(hs_now_us() - t0) / 1e6);
	{
		char cgdir[PATH_MAX + 32];
		char cmd[PATH_MAX + 128];
		FILE *f;
		int left = 0;

		/* The probe of a killed first apply may leave its cgroup behind. */
		snprintf(cgdir, sizeof(cgdir), "%s%s", H.cg2, H.cg);
		snprintf(cmd, sizeof(cmd), "ls -d '%s'/portgate-probe.* 2>/dev/null | wc -l",
			 cgdir);
		f = popen(cmd, "r");
		if (f) {
			if (fscanf(f, "%d", &left) != 1)
				left = 0;
			pclose(f);
		}
		if (left)
			say("  note: %d portgate-probe.* cgroups left behind by killed "
			    "applies under %s\n",
			    left, H.cg);
	}
	if (wrapped) {
		/* under a wrapper nothing can be traced: the short phases are left to chance */
		say("  HX_WRAP: phase coverage not checked\n");
		return;
	}
	if (c->via_run) {
		/* no phase lines while run applies: both sides of the swap must be hit */
		if (c->run_mid < min_hits || c->run_after < min_hits)
			fail_msg("run was killed %ld times before its policy was in force and %ld "
				 "after; want %ld of each",
				 c->run_mid, c->run_after, min_hits);
		return;
	}
	for (ph = 0; ph < (int)(sizeof(must) / sizeof(must[0])); ph++)
		if (c->hits[0][must[ph]] + c->hits[1][must[ph]] < min_hits) {
			long got = c->hits[0][must[ph]] + c->hits[1][must[ph]];

			fail_msg("phase %s was the last one seen at only %ld kills; want %ld",
				 hs_phase_names[must[ph]], got, min_hits);
		}
	if (sysctl && c->hits[0][HS_PH_LOWER] + c->hits[1][HS_PH_LOWER] < min_hits) {
		fail_msg("phase lower was hit too rarely");
	}
	if (c->fresh_kills < min_hits) {
		fail_msg("too few kills of a first apply");
	}
}

/*
 * SIGKILL an apply of target right after it wrote the line of phase ph: at
 * its next system call under ptrace, else (HX_WRAP) as soon as the line
 * shows on the pipe.
 */
static void kill_at_phase(struct crash *c, enum pol target, enum hs_phase ph)
{
	long nsys[HS_PH__NR];
	struct hs_proc p;

	if (!c->no_trace) {
		if (hs_start_traced(&H, &p, "apply", "-v", c->file[target], "--attach", H.cg, NULL))
			fail_msg("cannot start a traced apply");
		hs_trace_kill(&p, ph, 0, nsys);
	} else {
		if (hs_start(&H, &p, "apply", "-v", c->file[target], "--attach", H.cg, NULL))
			fail_msg("cannot start apply");
		while (!hs_saw_phase(p.out, p.len, ph) && hs_pump(&p, 1000) >= 0)
			;
	}
	hs_kill_drain(&p);
	if (hs_exit(&p) != -SIGKILL)
		fail_msg("apply of %s was not killed at %s (exit %d):\n%s", pol_name[target],
			 hs_phase_names[ph], hs_exit(&p), p.out);
	snprintf(c->last_out, sizeof(c->last_out), "%.2047s", p.out);
}

/* The kernel enforces want, status shows it at generation gen. */
static void expect_still(struct crash *c, enum pol want, unsigned long long gen, const char *what)
{
	struct hs_status st;
	struct probe r;

	probe(&r);
	if (r.fam[0] != (int)want || r.fam[1] != (int)want)
		CRASH_FAIL(c,
			   "%s: want %s still enforced, binds say IPv4 %s, IPv6 %s: %s\napply "
			   "said:\n%s",
			   what, pol_name[want], fam_pol(r.fam[0]), fam_pol(r.fam[1]), r.text,
			   c->last_out);
	if (hs_status(&H, &st) || !st.enforcing || strcmp(st.sha256, c->hash[want]) ||
	    st.gen != gen)
		CRASH_FAIL(c, "%s: want %s at generation %llu, status says:\n%s", what,
			   pol_name[want], gen, H.out);
	if (c->sysctl)
		check_guarded(c, &r, what);
}

/*
 * An apply of B killed once its nodes are published, just before its swap:
 * A still enforces. The next apply is A again; what B published must not
 * leak into A's image (n01, a node of B only, gets nothing from A).
 */
static void crash_at_swap_then_the_old_policy_again(void **state)
{
	struct crash *c;
	int rc;

	(void)state;
	c = crash_setup(false, false);
	if ((rc = timed_apply(P_A, c, NULL)))
		fail_msg("apply A failed with %d:\n%s", rc, H.out);
	expect_applied(c, P_A, 1, "apply A");
	kill_at_phase(c, P_B, HS_PH_SWAP);
	expect_still(c, P_A, 1, "apply B killed just before its swap");
	if ((rc = timed_apply(P_A, c, NULL)))
		fail_msg("apply A again failed with %d:\n%s", rc, H.out);
	expect_applied(c, P_A, 2, "apply B killed just before its swap, then apply A again");
}

/*
 * Sysctl mode: A protects 1-1023 (threshold 1), B 10-1023 (threshold 10).
 * An apply of B killed after attaching, before it moves the threshold:
 * port 5 must stay refused (A denies it; under B the kernel refuses it).
 */
static void crash_sysctl_before_raising_the_threshold(void **state)
{
	struct crash *c;
	int rc;

	(void)state;
	c = crash_setup(true, true);
	if ((rc = timed_apply(P_A, c, NULL)))
		fail_msg("apply A failed with %d:\n%s", rc, H.out);
	expect_applied(c, P_A, 1, "apply A");
	kill_at_phase(c, P_B, HS_PH_LOWER);
	expect_still(c, P_B, 2, "apply B killed before it moved the threshold");
	if ((rc = timed_apply(P_B, c, NULL)))
		fail_msg("apply B again failed with %d:\n%s", rc, H.out);
	expect_applied(c, P_B, 3, "then apply B again");
}

static long crash_iters(void)
{
	return hs_env_long("CRASH_ITER", 200);
}

static void crash_apply_and_stop_grant_mode(void **state)
{
	(void)state;
	crash_run(false, false, crash_iters());
}

/* The same with the agent: portgate run killed anywhere in its first apply. */
static void crash_run_agent_grant_mode(void **state)
{
	(void)state;
	crash_via_run = true;
	crash_run(false, false, crash_iters());
}

static void crash_run_agent_sysctl_mode(void **state)
{
	(void)state;
	crash_via_run = true;
	crash_run(true, false, crash_iters() / 2);
}

static void crash_apply_and_stop_sysctl_mode(void **state)
{
	(void)state;
	crash_run(true, false, crash_iters() / 2);
}

/*
 * Sysctl mode where B protects 10-1023 (threshold 10) and A all of 1-1023
 * (threshold 1): port 5 is refused under either, by A's default deny or
 * by the kernel under B's threshold. A kill between B's swap and the
 * threshold's move must not leave port 5 open to everyone.
 */
static void crash_sysctl_mode_protect_set_changes(void **state)
{
	(void)state;
	crash_run(true, true, crash_iters() / 4);
}

/* ================================================================ concurrency */

/* Pin a stray map where a first apply that died while pinning would have left its maps. */
static void half_made_state(void)
{
	char path[PATH_MAX];
	int fd;

	mkdir(H.pin, 0700);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pg_cur", 4, 4, 1, NULL);
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/pg_cur", H.pin);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
}

static const char *const start_name[3] = { "enforcing", "fresh", "half-made" };

/*
 * After a round went wrong: say what the kernel and the pins hold, and
 * whether the next apply still reaches the programs that enforce.
 */
static void conc_diagnose(char *msg, size_t len, const char (*file)[PATH_MAX],
			  const char (*hash)[65])
{
	struct hs_status st;
	struct probe pr;
	int rc;

	add(msg, len, "hooks on the test cgroup now: bind4 %d bind6 %d sysctl %d sock_create %d\n",
	    hooks_on_test_cg(BPF_CGROUP_INET4_BIND), hooks_on_test_cg(BPF_CGROUP_INET6_BIND),
	    hooks_on_test_cg(BPF_CGROUP_SYSCTL), hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE));
	probe(&pr);
	add(msg, len, "binds now: IPv4 %s, IPv6 %s (%s)\n", fam_pol(pr.fam[0]), fam_pol(pr.fam[1]),
	    pr.text);
	/* One more apply, alone: does the enforcing program see it? */
	rc = hx_run(&H, "apply", file[P_B], "--attach", H.cg, NULL);
	if (rc)
		add(msg, len, "apply B alone failed:\n%s", H.out);
	hs_status(&H, &st);
	probe(&pr);
	add(msg, len,
	    "then apply B alone: exit %d; status generation %llu, policy %s; binds IPv4 %s, "
	    "IPv6 %s\n",
	    rc, st.gen, !strcmp(st.sha256, hash[P_B]) ? "B" : st.sha256, fam_pol(pr.fam[0]),
	    fam_pol(pr.fam[1]));
}

/*
 * Rounds of 2 or 3 applies started at once (A, B, C in turn). Normal runs
 * start from the enforcing state, every 5th round from a fresh one (after
 * stop); with half_made, every round starts from the state a first apply
 * leaves when it dies while pinning its maps.
 */
static void conc_run(bool half_made, long rounds)
{
	char text[16384], name[32], file[NPOL][PATH_MAX], hash[NPOL][65];
	long r, start_kind[3] = { 0 };
	long per_k[4] = { 0 };
	unsigned long long gen = 0;
	uint64_t t0 = hs_now_us();
	int p, i;

	b_narrow = false;
	make_fillers(24);
	assert_int_equal(hx_mkcg(&H, "svc"), 0);
	for (p = P_A; p < NPOL; p++) {
		pol_text((enum pol)p, "grant", 24, text, sizeof(text));
		snprintf(name, sizeof(name), "conc-%s.conf", pol_name[p]);
		save_policy(name, text, file[p]);
		if (hs_policy_hash(&H, file[p], hash[p]))
			fail_msg("check %s:\n%s", file[p], H.out);
	}
	for (r = 0; r < rounds; r++) {
		static struct hs_proc procs[3];
		static char msg[65536];
		int k = 2 + (int)(r % 2), kind = 0, winner = -1;
		struct hs_status st;
		struct probe pr;

		if (half_made || r % 5 == 0) {
			if (hx_run(&H, "stop", NULL))
				fail_msg("stop failed:\n%s", H.out);
			gen = 0;
			kind = 1;
			if (half_made) {
				half_made_state();
				kind = 2;
			}
		}
		start_kind[kind]++;
		per_k[k]++;
		for (i = 0; i < k; i++)
			if (hs_start(&H, &procs[i], "apply", "-v", file[P_A + (r + i) % 3],
				     "--attach", H.cg, NULL))
				fail_msg("cannot start apply");
		for (i = 0; i < k; i++)
			hs_finish(&procs[i]);

		msg[0] = 0;
		for (i = 0; i < k; i++)
			if (hs_exit(&procs[i]) != 0)
				add(msg, sizeof(msg), "apply %s exited %d\n",
				    pol_name[P_A + (r + i) % 3], hs_exit(&procs[i]));
		if (hs_status(&H, &st) || !st.enforcing)
			add(msg, sizeof(msg), "not enforcing after the applies\n");
		for (i = 0; i < k; i++)
			if (!strcmp(st.sha256, hash[P_A + (r + i) % 3]))
				winner = P_A + (int)((r + i) % 3);
		if (winner < 0)
			add(msg, sizeof(msg), "status shows a policy none of the applies gave\n");
		if (st.gen != gen + (unsigned long long)k)
			add(msg, sizeof(msg),
			    "%d applies from generation %llu, status says generation %llu: they "
			    "did not run one after the other\n",
			    k, gen, st.gen);
		gen = st.gen;
		probe(&pr);
		if (winner >= 0 && (pr.fam[0] != winner || pr.fam[1] != winner))
			add(msg, sizeof(msg), "status says %s, binds say IPv4 %s, IPv6 %s: %s\n",
			    pol_name[winner], fam_pol(pr.fam[0]), fam_pol(pr.fam[1]), pr.text);
		if (hooks_on_test_cg(BPF_CGROUP_INET4_BIND) != 1 ||
		    hooks_on_test_cg(BPF_CGROUP_INET6_BIND) != 1 ||
		    hooks_on_test_cg(BPF_CGROUP_SYSCTL) != 1 ||
		    hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE) != 1 ||
		    hx_prog_count(&H, "svc", BPF_CGROUP_INET4_BIND, true) != 1)
			add(msg, sizeof(msg),
			    "want exactly one program per hook, have bind4 %d bind6 %d sysctl %d "
			    "sock_create %d (bind4 in effect on svc: %d)\n",
			    hooks_on_test_cg(BPF_CGROUP_INET4_BIND),
			    hooks_on_test_cg(BPF_CGROUP_INET6_BIND),
			    hooks_on_test_cg(BPF_CGROUP_SYSCTL),
			    hooks_on_test_cg(BPF_CGROUP_INET_SOCK_CREATE),
			    hx_prog_count(&H, "svc", BPF_CGROUP_INET4_BIND, true));
		if (msg[0]) {
			conc_diagnose(msg, sizeof(msg), (const char(*)[PATH_MAX])file,
				      (const char(*)[65])hash);
			for (i = 0; i < k; i++)
				add(msg, sizeof(msg), "--- apply -v %s:\n%s",
				    pol_name[P_A + (r + i) % 3], procs[i].out);
			say("round %ld (%s start, %d applies at once):\n%s", r, start_name[kind], k,
			    msg);
			fflush(stdout);
			fail_msg("round %ld (%s start, %d applies at once) went wrong; see above",
				 r, start_name[kind], k);
		}
	}
	say("concurrent applies: %ld rounds (%ld of 2 applies, %ld of 3), started "
	    "enforcing %ld, fresh %ld, half-made %ld; all applies exited 0, one program "
	    "per hook after each; %.1f s\n",
	    rounds, per_k[2], per_k[3], start_kind[0], start_kind[1], start_kind[2],
	    (double)(hs_now_us() - t0) / 1e6);
}

static void concurrent_applies_serialise(void **state)
{
	(void)state;
	conc_run(false, hs_env_long("CONC_ROUNDS", 30));
}

/*
 * A first apply died after pinning its maps, before its programs: the
 * next applies clear that state (portgate(8), SAFETY). Started together,
 * they must still run one after the other.
 */
static void concurrent_applies_after_an_interrupted_first_apply(void **state)
{
	(void)state;
	conc_run(true, hs_env_long("CONC_ROUNDS", 30));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(storm_grant_mode_never_flips_a_common_decision),
		T(storm_grant_mode_protect_set_changes),
		T(storm_sysctl_mode_never_flips_a_common_decision),
		T(storm_sysctl_mode_protect_set_changes),
		T(crash_apply_and_stop_grant_mode),
		T(crash_apply_and_stop_sysctl_mode),
		T(crash_run_agent_grant_mode),
		T(crash_run_agent_sysctl_mode),
		T(crash_sysctl_mode_protect_set_changes),
		T(crash_at_swap_then_the_old_policy_again),
		T(crash_sysctl_before_raising_the_threshold),
		T(concurrent_applies_serialise),
		T(concurrent_applies_after_an_interrupted_first_apply),
	};
	int r;

	if (getenv("STORM_ONLY")) /* a glob: run only the tests it names */
		cmocka_set_test_filter(getenv("STORM_ONLY"));
	if (hx_init(&H))
		return 1;
	hx_filters();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	hx_fini(&H);
	return r;
}
