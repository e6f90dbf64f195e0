// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * policy.c - portgate.conf(5): tokenizer, statements, includes, the
 * whole-policy checks, id resolution and selector matching.
 *
 * Pure: every byte comes in through struct pg_source_ops, every problem goes
 * out as a diagnostic, and all state lives in a struct parser on the heap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_abi.h"
#include "policy.h"

#define MAX_TOKS  (PG_POL_MAX_LINE / 2 + 1)
#define MAX_ID	  4294967294u /* (uid_t)-1 means "no change" to the kernel */
#define MAX_SHOWN 5	      /* ranges listed in one message */

/* --- small helpers ---------------------------------------------------------- */

static const char *action_name(enum pg_action a)
{
	return a == PG_DENY ? "deny" : "allow";
}

static const char *proto_name(uint32_t bits)
{
	switch (bits) {
	case PG_PROTO_TCP:
		return "tcp";
	case PG_PROTO_UDP:
		return "udp";
	case PG_PROTO_OTHER:
		return "other";
	default:
		return "any";
	}
}

/* Decimal digits only, at most max: 0, -EINVAL (empty, not a number) or -ERANGE. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max) {
			big = true;
			v = max;
		}
	}
	if (big)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool is_dec(const char *s)
{
	return *s && s[strspn(s, "0123456789")] == '\0';
}

static int cmp_range(const void *a, const void *b)
{
	const struct pg_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sort, then merge overlapping and adjacent ranges; returns the new count. */
static size_t merge_ranges(struct pg_range *r, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (i = 1; i < n; i++) {
		if ((unsigned int)r[i].lo <= (unsigned int)r[k].hi + 1) {
			if (r[i].hi > r[k].hi)
				r[k].hi = r[i].hi;
		} else {
			r[++k] = r[i];
		}
	}
	return k + 1;
}

/* a minus b, both sorted and merged, into out (room for na + nb). */
static size_t ranges_minus(const struct pg_range *a, size_t na, const struct pg_range *b, size_t nb,
			   struct pg_range *out)
{
	size_t i, j = 0, k = 0;

	for (i = 0; i < na; i++) {
		unsigned int lo = a[i].lo, hi = a[i].hi;
		size_t jj;

		while (j < nb && b[j].hi < lo)
			j++;
		for (jj = j; lo <= hi; jj++) {
			if (jj == nb || b[jj].lo > hi) {
				out[k++] = (struct pg_range){ (uint16_t)lo, (uint16_t)hi };
				break;
			}
			if (b[jj].lo > lo)
				out[k++] =
				    (struct pg_range){ (uint16_t)lo, (uint16_t)(b[jj].lo - 1) };
			if (b[jj].hi >= hi)
				break;
			lo = b[jj].hi + 1u;
		}
	}
	return k;
}

/* "80,443,1000-2000", at most max items then ",...". */
static void fmt_ranges(char *buf, size_t size, const struct pg_range *r, size_t n, size_t max)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < size; i++) {
		const char *sep = i ? "," : "";
		int w;

		if (i == max) {
			snprintf(buf + off, size - off, ",...");
			return;
		}
		if (r[i].lo == r[i].hi)
			w = snprintf(buf + off, size - off, "%s%u", sep, (unsigned int)r[i].lo);
		else
			w = snprintf(buf + off, size - off, "%s%u-%u", sep, (unsigned int)r[i].lo,
				     (unsigned int)r[i].hi);
		if (w < 0)
			return;
		off += (size_t)w;
	}
}

/* --- policy lifetime ---------------------------------------------------- */

static void rule_free(struct pg_rule *r)
{
	free(r->selector);
	free(r->ports);
	free(r->cond.user);
	free(r->cond.group);
	free(r->text);
}

void pg_policy_free(struct pg_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->protect);
	for (i = 0; i < p->nnetns; i++)
		free(p->netns[i].path);
	free(p->netns);
	for (i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

static struct pg_policy *policy_new(void)
{
	struct pg_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->protect = malloc(sizeof(*p->protect));
	if (!p->protect) {
		free(p);
		return NULL;
	}
	p->protect[0] = (struct pg_range){ 1, 1023 };
	p->nprotect = 1;
	return p;
}

enum pg_def pg_policy_default(const struct pg_policy *p, enum pg_mode resolved)
{
	if (p && p->def != PG_DEFAULT_UNSET)
		return p->def;
	switch (resolved) {
	case PG_MODE_GRANT:
		return PG_DEFAULT_KERNEL;
	case PG_MODE_SYSCTL:
		return PG_DEFAULT_DENY;
	default:
		return PG_DEFAULT_UNSET;
	}
}

bool pg_policy_protects(const struct pg_policy *p, uint16_t port)
{
	size_t lo = 0, hi = p->nprotect;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (port < p->protect[mid].lo)
			hi = mid;
		else if (port > p->protect[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

char *pg_rule_spec(const struct pg_rule *r)
{
	static const uint32_t order[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	size_t size = sizeof("tcp,udp,other/") + r->nports * sizeof("65535-65535,");
	size_t off = 0, i;
	char *s = malloc(size);

	if (!s)
		return NULL;
	s[0] = '\0';
	if (r->protos == PG_PROTO_ANY) {
		off = (size_t)sprintf(s, "any");
	} else {
		for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
			if (r->protos & order[i])
				off += (size_t)sprintf(s + off, "%s%s", off ? "," : "",
						       proto_name(order[i]));
	}
	s[off++] = '/';
	s[off] = '\0';
	fmt_ranges(s + off, size - off, r->ports, r->nports, SIZE_MAX);
	return s;
}

/* --- selectors ---------------------------------------------------------- */

bool pg_selector_is_exact(const char *selector)
{
	return !strchr(selector, '*');
}

bool pg_policy_has_globs(const struct pg_policy *p)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (!pg_selector_is_exact(p->rules[i].selector))
			return true;
	return false;
}

int pg_selector_depth(const char *selector)
{
	int n = 0;

	if (!strcmp(selector, "/"))
		return 0;
	for (; *selector; selector++)
		n += *selector == '/';
	return n;
}

/*
 * One component against one pattern component, '*' matching any run of
 * bytes. Greedy with one backtrack point: a later '*' can absorb anything
 * an earlier one would have, so O(pn * sn) at worst, no recursion.
 */
static bool comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;

	while (j < sn) {
		if (i < pn && p[i] == '*') {
			star = i++;
			mark = j;
		} else if (i < pn && p[i] == s[j]) {
			i++;
			j++;
		} else if (star != SIZE_MAX) {
			i = star + 1;
			j = ++mark;
		} else {
			return false;
		}
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

static bool is_globstar(const char *c, size_t n)
{
	return n == 2 && c[0] == '*' && c[1] == '*';
}

/*
 * The same greedy scheme one level up: '**' is the star, a component the
 * single element. p and s always point at a '/' or at the end.
 */
bool pg_selector_match(const char *selector, const char *path)
{
	const char *p = strcmp(selector, "/") ? selector : "";
	const char *s = strcmp(path, "/") ? path : "";
	const char *star_p = NULL, *star_s = NULL;

	while (*s) {
		const char *sc = s + 1;
		size_t sn = strcspn(sc, "/");

		if (*p) {
			const char *pc = p + 1;
			size_t pn = strcspn(pc, "/");

			if (is_globstar(pc, pn)) {
				p = star_p = pc + pn;
				star_s = s;
				continue;
			}
			if (comp_match(pc, pn, sc, sn)) {
				p = pc + pn;
				s = sc + sn;
				continue;
			}
		}
		if (!star_p)
			return false;
		/* Let the last '**' swallow one more component, retry. */
		star_s += 1 + strcspn(star_s + 1, "/");
		s = star_s;
		p = star_p;
	}
	while (*p) {
		size_t pn = strcspn(p + 1, "/");

		if (!is_globstar(p + 1, pn))
			return false;
		p += 1 + pn;
	}
	return true;
}

/* --- the parser ----------------------------------------------------------- */

struct tok {
	const char *raw; /* in the line, quotes included */
	size_t rawlen;
	const char *s; /* unquoted, NUL-terminated */
	size_t len;
	uint32_t col;
	bool plain; /* no quotes: s[i] is at column col + i */
};

struct parser {
	struct pg_policy *p;
	const struct pg_source_ops *ops;
	struct pg_diags *d;
	struct pg_sha256 sha;
	uint32_t stack[PG_POL_MAX_INCLUDE_DEPTH + 1]; /* files being read */
	int depth;
	uint32_t file, line;
	char *top_key; /* files[0] cleaned like included paths, to compare */
	size_t files_cap, rules_cap, netns_cap;
	bool oom, too_many_files, too_many_rules, too_many_netns;
	size_t nerrors0; /* errors in the diagnostics before this parse */
	size_t ntok;
	struct tok tok[MAX_TOKS];
	char scratch[2 * PG_POL_MAX_LINE + 2];
};

static struct pg_loc tok_loc(const struct parser *ps, const struct tok *t, size_t off)
{
	return (struct pg_loc){ ps->file, ps->line, t->col + (t->plain ? (uint32_t)off : 0) };
}

static void err_at(struct parser *ps, const struct tok *t, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(struct parser *ps, const struct tok *t, size_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(ps->d, PG_SEV_ERROR, tok_loc(ps, t, off), NULL, fmt, ap);
	va_end(ap);
}

static void err_hint(struct parser *ps, const struct tok *t, size_t off, const char *hint,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void err_hint(struct parser *ps, const struct tok *t, size_t off, const char *hint,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(ps->d, PG_SEV_ERROR, tok_loc(ps, t, off), hint, fmt, ap);
	va_end(ap);
}

static void no_memory(struct parser *ps)
{
	if (!ps->oom)
		pg_diags_add(ps->d, PG_SEV_ERROR, (struct pg_loc){ ps->file, ps->line, 0 },
			     "out of memory");
	ps->oom = true;
}

/* Grow *v (of *cap elements of size sz) to hold n + 1. */
static bool grow(struct parser *ps, void **v, size_t *cap, size_t n, size_t sz)
{
	size_t c;
	void *nv;

	if (n < *cap)
		return true;
	c = *cap ? 2 * *cap : 16;
	nv = realloc(*v, c * sz);
	if (!nv) {
		no_memory(ps);
		return false;
	}
	*v = nv;
	*cap = c;
	return true;
}

static bool add_file(struct parser *ps, char *path)
{
	struct pg_policy *p = ps->p;

	if (!grow(ps, (void **)&p->files, &ps->files_cap, p->nfiles, sizeof(*p->files))) {
		free(path);
		return false;
	}
	p->files[p->nfiles++] = path;
	return true;
}

/*
 * Split a line into tokens: runs of bytes other than space and tab, where
 * "..." quotes (with \" and \\) may hide spaces and '#'. Any other
 * backslash is literal: systemd's unit names contain \x2d. The first skip
 * bytes are passed over (a byte order mark), columns still count them.
 */
static bool tokenize(struct parser *ps, const char *line, size_t len, size_t skip)
{
	char *out = ps->scratch;
	size_t i = skip;

	ps->ntok = 0;
	for (;;) {
		struct tok *t;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i] == '#')
			return true;
		t = &ps->tok[ps->ntok++];
		t->raw = line + i;
		t->col = (uint32_t)i + 1;
		t->s = out;
		t->plain = true;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '#') {
			size_t q = i;

			if (line[i] != '"') {
				*out++ = line[i++];
				continue;
			}
			t->plain = false;
			for (i++; i < len && line[i] != '"'; i++) {
				if (line[i] == '\\' && i + 1 < len &&
				    (line[i + 1] == '"' || line[i + 1] == '\\'))
					i++;
				*out++ = line[i];
			}
			if (i == len) {
				pg_diags_add(ps->d, PG_SEV_ERROR,
					     (struct pg_loc){ ps->file, ps->line, (uint32_t)q + 1 },
					     "unterminated quoted string");
				return false;
			}
			i++;
		}
		t->rawlen = (size_t)(line + i - t->raw);
		t->len = (size_t)(out - t->s);
		*out++ = '\0';
	}
}

/* Argument count: too few is an error at the keyword, too many at the first extra. */
static bool need_args(struct parser *ps, size_t min, size_t max, const char *what)
{
	if (ps->ntok < min + 1) {
		err_at(ps, &ps->tok[0], 0, "'%s' needs %s", ps->tok[0].s, what);
		return false;
	}
	if (ps->ntok > max + 1)
		err_at(ps, &ps->tok[max + 1], 0, "unexpected '%s'", ps->tok[max + 1].s);
	return true;
}

static bool once(struct parser *ps, bool set, struct pg_loc prev, const char *what)
{
	if (!set)
		return true;
	err_at(ps, &ps->tok[0], 0, "%s already set at %s:%u", what, ps->p->files[prev.file],
	       (unsigned int)prev.line);
	return false;
}

/*
 * Well-known services, for the hint when a port is written as a name (the
 * parser reads no /etc/services: the same file means the same everywhere).
 */
static const struct {
	const char *name;
	uint16_t port;
} services[] = {
	{ "ftp", 21 },	      { "ssh", 22 },	 { "telnet", 23 },	{ "smtp", 25 },
	{ "domain", 53 },     { "dns", 53 },	 { "bootps", 67 },	{ "bootpc", 68 },
	{ "tftp", 69 },	      { "http", 80 },	 { "www", 80 },		{ "kerberos", 88 },
	{ "pop3", 110 },      { "sunrpc", 111 }, { "ntp", 123 },	{ "imap", 143 },
	{ "snmp", 161 },      { "bgp", 179 },	 { "ldap", 389 },	{ "https", 443 },
	{ "smtps", 465 },     { "syslog", 514 }, { "submission", 587 }, { "ipp", 631 },
	{ "ldaps", 636 },     { "rsync", 873 },	 { "imaps", 993 },	{ "pop3s", 995 },
	{ "http-alt", 8080 },
};

/* The port of a service name or of a decimal number, or 0. */
static unsigned int port_of(const char *s, size_t n)
{
	uint64_t v;
	size_t i;

	if (!parse_dec(s, n, 65535, &v))
		return (unsigned int)v;
	for (i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (strlen(services[i].name) == n && !strncasecmp(services[i].name, s, n))
			return services[i].port;
	return 0;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* An item that is not N or N-M; lolen: bytes before its '-', or SIZE_MAX. */
static void bad_port(struct parser *ps, const struct tok *t, size_t ioff, const char *item,
		     size_t ilen, size_t lolen)
{
	unsigned int p = port_of(item, ilen), lo = 0, hi = 0;
	char fix[32] = "write the port number";
	size_t i;

	if (lolen != SIZE_MAX && (!lolen || lolen + 1 == ilen)) {
		err_hint(ps, t, ioff, "write FIRST-LAST, e.g. 1-1023",
			 "invalid range '%.*s': a range needs a first and a last port", (int)ilen,
			 item);
		return;
	}
	/* A side that starts with a letter is a name; "0x50" is not. */
	if (!is_alpha(item[0]) && (lolen == SIZE_MAX || !is_alpha(item[lolen + 1]))) {
		for (i = 0; i < ilen && !is_alpha(item[i]); i++)
			;
		if (i < ilen)
			err_at(ps, t, ioff, "invalid port '%.*s': ports are decimal numbers",
			       (int)ilen, item);
		else
			err_at(ps, t, ioff, "invalid port '%.*s'", (int)ilen, item);
		return;
	}
	if (!p && lolen != SIZE_MAX) {
		lo = port_of(item, lolen);
		hi = port_of(item + lolen + 1, ilen - lolen - 1);
	}
	if (p)
		snprintf(fix, sizeof(fix), "use %u", p);
	else if (lo && lo == hi)
		snprintf(fix, sizeof(fix), "use %u", lo);
	else if (lo && hi)
		snprintf(fix, sizeof(fix), "use %u-%u", lo, hi);
	err_hint(ps, t, ioff, fix, "invalid port '%.*s': service names are not accepted", (int)ilen,
		 item);
}

/* PORTLIST from byte off of t: "N" and "N-M" items separated by ','. */
static bool parse_ports(struct parser *ps, const struct tok *t, size_t off, struct pg_range **out,
			size_t *nout)
{
	const char *s = t->s + off, *end = t->s + t->len, *item = s;
	struct pg_range *r;
	size_t n = 1, k = 0;
	const char *q;

	if (s == end) {
		err_at(ps, t, off, "empty port list");
		return false;
	}
	for (q = s; q < end; q++)
		n += *q == ',';
	r = malloc(n * sizeof(*r));
	if (!r) {
		no_memory(ps);
		return false;
	}
	for (;;) {
		const char *ie = memchr(item, ',', (size_t)(end - item));
		size_t ioff = off + (size_t)(item - s), ilen, lolen, hioff;
		const char *dash;
		uint64_t lo = 0, hi = 0;
		int rl, rh;

		if (!ie)
			ie = end;
		ilen = (size_t)(ie - item);
		dash = memchr(item, '-', ilen);
		lolen = dash ? (size_t)(dash - item) : ilen;
		hioff = dash ? lolen + 1 : 0;
		if (!ilen) {
			err_at(ps, t, ioff, "empty item in port list '%s'", s);
			goto fail;
		}
		rl = parse_dec(item, lolen, 65535, &lo);
		rh = parse_dec(item + hioff, ilen - hioff, 65535, &hi);
		if (rl == -EINVAL || rh == -EINVAL) {
			bad_port(ps, t, ioff, item, ilen, dash ? lolen : SIZE_MAX);
			goto fail;
		}
		if (rl || rh) {
			size_t o = rl ? 0 : hioff, l = rl ? lolen : ilen - hioff;

			err_at(ps, t, ioff + o, "port %.*s out of range 1-65535", (int)l, item + o);
			goto fail;
		}
		if (!lo || !hi) {
			err_at(ps, t, ioff + (lo ? hioff : 0),
			       "port 0 is never protected: the kernel picks a free port");
			goto fail;
		}
		if (lo > hi) {
			char fix[32];

			snprintf(fix, sizeof(fix), "write %u-%u", (unsigned int)hi,
				 (unsigned int)lo);
			err_hint(ps, t, ioff, fix,
				 "invalid range '%.*s': the first port is greater than the second",
				 (int)ilen, item);
			goto fail;
		}
		r[k++] = (struct pg_range){ (uint16_t)lo, (uint16_t)hi };
		if (ie == end)
			break;
		item = ie + 1;
	}
	*out = r;
	*nout = merge_ranges(r, k);
	return true;
fail:
	free(r);
	return false;
}

static void st_mode(struct parser *ps)
{
	static const char *const names[] = {
		[PG_MODE_AUTO] = "auto", [PG_MODE_GRANT] = "grant", [PG_MODE_SYSCTL] = "sysctl"
	};
	struct pg_policy *p = ps->p;
	size_t m;

	if (!need_args(ps, 1, 1, "one of auto, grant or sysctl") ||
	    !once(ps, p->mode_set, p->mode_loc, "mode"))
		return;
	for (m = 0; m < sizeof(names) / sizeof(names[0]); m++) {
		if (!strcmp(ps->tok[1].s, names[m])) {
			p->mode = (enum pg_mode)m;
			p->mode_set = true;
			p->mode_loc = tok_loc(ps, &ps->tok[0], 0);
			return;
		}
	}
	err_at(ps, &ps->tok[1], 0, "unknown mode '%s': use auto, grant or sysctl", ps->tok[1].s);
}

static void st_protect(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	struct pg_range *r;
	size_t n;

	if (!need_args(ps, 1, 1, "a port list, e.g. 1-1023") ||
	    !once(ps, p->protect_set, p->protect_loc, "protect") ||
	    !parse_ports(ps, &ps->tok[1], 0, &r, &n))
		return;
	free(p->protect);
	p->protect = r;
	p->nprotect = n;
	p->protect_set = true;
	p->protect_loc = tok_loc(ps, &ps->tok[0], 0);
}

static void st_default(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	const char *v;

	if (!need_args(ps, 1, 1, "deny or kernel") ||
	    !once(ps, p->def != PG_DEFAULT_UNSET, p->def_loc, "default"))
		return;
	v = ps->tok[1].s;
	if (strcmp(v, "deny") && strcmp(v, "kernel")) {
		err_at(ps, &ps->tok[1], 0, "unknown default '%s': use deny or kernel", v);
		return;
	}
	p->def = strcmp(v, "deny") ? PG_DEFAULT_KERNEL : PG_DEFAULT_DENY;
	p->def_loc = tok_loc(ps, &ps->tok[0], 0);
}

static void st_exempt(struct parser *ps)
{
	struct pg_policy *p = ps->p;

	if (!need_args(ps, 1, 1, "'root'") || !once(ps, p->exempt_root, p->exempt_loc, "exempt"))
		return;
	if (strcmp(ps->tok[1].s, "root")) {
		err_at(ps, &ps->tok[1], 0, "cannot exempt '%s': only 'exempt root' is supported",
		       ps->tok[1].s);
		return;
	}
	p->exempt_root = true;
	p->exempt_loc = tok_loc(ps, &ps->tok[0], 0);
}

static void st_netns(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	const struct tok *t = &ps->tok[1];
	size_t i;
	char *path;

	if (!need_args(ps, 1, 1, "the path of a network namespace, e.g. /run/netns/edge"))
		return;
	if (t->s[0] != '/') {
		err_at(ps, t, 0, "netns path '%s' must be absolute", t->s);
		return;
	}
	for (i = 0; i < p->nnetns; i++) {
		if (!strcmp(p->netns[i].path, t->s)) {
			err_at(ps, t, 0, "netns '%s' already given at %s:%u", t->s,
			       p->files[p->netns[i].loc.file], (unsigned int)p->netns[i].loc.line);
			return;
		}
	}
	if (p->nnetns >= PG_POL_MAX_NETNS) {
		if (!ps->too_many_netns)
			err_at(ps, &ps->tok[0], 0, "more than %d netns statements",
			       PG_POL_MAX_NETNS);
		ps->too_many_netns = true;
		return;
	}
	path = strdup(t->s);
	if (!path || !grow(ps, (void **)&p->netns, &ps->netns_cap, p->nnetns, sizeof(*p->netns))) {
		free(path);
		no_memory(ps);
		return;
	}
	p->netns[p->nnetns++] = (struct pg_netns){ path, tok_loc(ps, &ps->tok[0], 0) };
}

/*
 * Text that ends up in status, JSON and Prometheus labels must be UTF-8
 * without control characters: a Latin-1 byte there breaks every reader.
 * Invisible and bidirectional formatting characters could make a rule
 * read as another in review.
 * what: "selector", "user name", ...; off: where s starts in t.
 */
static bool check_text(struct parser *ps, const struct tok *t, size_t off, const char *s,
		       size_t len, const char *what)
{
	uint32_t cp;
	size_t i;

	if (!pg_utf8_valid(s, len, &i)) {
		err_hint(ps, t, off + i, "save the file as UTF-8",
			 "%s is not valid UTF-8 (byte 0x%02x)", what, (unsigned char)s[i]);
		return false;
	}
	if (!pg_text_safe(s, len, &i, &cp)) {
		if (cp < 0x80)
			err_at(ps, t, off + i, "%s holds the control character 0x%02x", what,
			       (unsigned int)cp);
		else
			err_at(ps, t, off + i, "%s holds the invisible character U+%04X", what,
			       (unsigned int)cp);
		return false;
	}
	return true;
}

static bool check_selector(struct parser *ps, const struct tok *t)
{
	const char *s = t->s;
	size_t len = t->len, i, ncomp = 0;

	if (!len || s[0] != '/') {
		err_at(ps, t, 0, "selector must be an absolute cgroup path starting with '/'");
		return false;
	}
	if (!check_text(ps, t, 0, s, len, "selector"))
		return false;
	if (len == 1)
		return true;
	if (s[len - 1] == '/') {
		err_at(ps, t, len - 1, "selector must not end with '/'");
		return false;
	}
	for (i = 1; i <= len;) {
		const char *c = s + i;
		size_t n = strcspn(c, "/"), k;

		if (!n) {
			err_at(ps, t, i, "selector has an empty path component ('//')");
			return false;
		}
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			err_at(ps, t, i, "selector must not contain '.' or '..' components");
			return false;
		}
		if (n > PG_POL_MAX_COMPONENT) {
			err_at(ps, t, i, "selector component is longer than %d bytes",
			       PG_POL_MAX_COMPONENT);
			return false;
		}
		for (k = 0; k < n; k++) {
			if (c[k] == '*' && k + 1 < n && c[k + 1] == '*' && n != 2) {
				err_at(ps, t, i + k, "'**' must be a whole path component");
				return false;
			}
			if (c[k] == '?' || c[k] == '[') {
				err_at(ps, t, i + k,
				       "'%c' is not supported in selectors: use '*' or '**'", c[k]);
				return false;
			}
		}
		if (++ncomp > PG_POL_MAX_DEPTH) {
			err_at(ps, t, i, "selector has more than %d components", PG_POL_MAX_DEPTH);
			return false;
		}
		i += n + 1;
	}
	return true;
}

static bool parse_protospec(struct parser *ps, const struct tok *t, struct pg_rule *r)
{
	const char *slash = memchr(t->s, '/', t->len), *item = t->s;
	bool ok = true;

	if (!slash || slash == t->s || slash + 1 == t->s + t->len) {
		err_at(ps, t, 0, "expected PROTO/PORTS, e.g. tcp/80,443");
		return false;
	}
	for (;;) {
		const char *ie = memchr(item, ',', (size_t)(slash - item));
		size_t n;

		if (!ie)
			ie = slash;
		n = (size_t)(ie - item);
		if (n == 3 && !memcmp(item, "tcp", 3)) {
			r->protos |= PG_PROTO_TCP;
		} else if (n == 3 && !memcmp(item, "udp", 3)) {
			r->protos |= PG_PROTO_UDP;
		} else if (n == 3 && !memcmp(item, "any", 3)) {
			r->protos |= PG_PROTO_ANY;
		} else {
			if (n == 4 && !memcmp(item, "sctp", 4))
				err_at(ps, t, (size_t)(item - t->s),
				       "sctp binds never reach the bind hook; portgate cannot "
				       "grant them");
			else
				err_at(ps, t, (size_t)(item - t->s),
				       "unknown protocol '%.*s': use tcp, udp or any", (int)n,
				       item);
			ok = false;
			break;
		}
		if (ie == slash)
			break;
		item = ie + 1;
	}
	if (!parse_ports(ps, t, (size_t)(slash + 1 - t->s), &r->ports, &r->nports))
		ok = false;
	return ok;
}

static bool parse_addr(struct parser *ps, const struct tok *t, const char *v, struct pg_cond *c)
{
	const char *slash = strchr(v, '/');
	size_t alen = slash ? (size_t)(slash - v) : strlen(v), i;
	bool v6 = memchr(v, ':', alen) != NULL;
	unsigned int max = v6 ? 128 : 32, sp;
	uint8_t a[16] = { 0 }, m[16];
	char buf[INET6_ADDRSTRLEN];
	uint64_t plen = max;

	if (alen >= sizeof(buf))
		goto bad;
	memcpy(buf, v, alen);
	buf[alen] = '\0';
	if (v6 ? inet_pton(AF_INET6, buf, a) != 1 : inet_pton(AF_INET, buf, a + 12) != 1)
		goto bad;
	if (!v6)
		a[10] = a[11] = 0xff;
	if (slash && parse_dec(slash + 1, strlen(slash + 1), max, &plen)) {
		err_at(ps, t, 0, "invalid prefix length '%s' in addr=%s: use 0-%u for IPv%d",
		       slash + 1, v, max, v6 ? 6 : 4);
		return false;
	}
	sp = v6 ? (unsigned int)plen : 96 + (unsigned int)plen;
	for (i = 0; i < 16; i++) {
		unsigned int bits = sp > 8 * i ? sp - 8 * (unsigned int)i : 0;

		m[i] = bits >= 8 ? a[i] : (uint8_t)(a[i] & (0xff00 >> bits));
	}
	if (memcmp(a, m, sizeof(a))) {
		char fix[INET6_ADDRSTRLEN];

		inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? m : m + 12, fix, sizeof(fix));
		err_at(ps, t, 0, "addr %s has host bits set; did you mean %s/%u?", v, fix,
		       (unsigned int)plen);
		return false;
	}
	if (sp == 128) {
		static const uint8_t any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

		if (!memcmp(a, any6, 16) || !memcmp(a, any4, 16)) {
			err_at(ps, t, 0,
			       "addr= cannot be the wildcard address: binds to the wildcard match "
			       "rules without addr=");
			return false;
		}
	}
	memcpy(c->addr, a, sizeof(a));
	c->plen = (uint8_t)sp;
	c->addr_v4 = !v6;
	return true;
bad:
	err_at(ps, t, 0, "invalid address '%.*s': use an IPv4 or IPv6 address, optionally /PREFIX",
	       (int)alen, v);
	return false;
}

/*
 * The syntax of a user or group name, checked also when names are left to
 * apply time (check --no-resolve): what could never be in /etc/passwd or
 * /etc/group, or come back from NSS. Names such as "www-data",
 * "user@example.com" (SSSD), "DOMAIN\\user" (winbind) and, quoted,
 * "domain users" (Active Directory) pass.
 */
static bool check_name(struct parser *ps, const struct tok *t, size_t off, const char *v,
		       const char *what)
{
	size_t len = strlen(v), bad;

	if (!check_text(ps, t, off, v, len, what))
		return false;
	if (v[0] == '-') {
		err_at(ps, t, off, "%s '%s' cannot start with '-'", what, v);
		return false;
	}
	bad = strcspn(v, ":,/=");
	if (bad < len) {
		err_at(ps, t, off + bad, "%s '%s' cannot hold '%c'", what, v, v[bad]);
		return false;
	}
	if (len > PG_POL_MAX_NAME) {
		err_at(ps, t, off, "%s is longer than %d bytes", what, PG_POL_MAX_NAME);
		return false;
	}
	return true;
}

/* user=, group= or addr=; t holds a '='. */
static bool parse_cond(struct parser *ps, const struct tok *t, struct pg_cond *c)
{
	const char *eq = strchr(t->s, '='), *v = eq + 1;
	size_t klen = (size_t)(eq - t->s);
	bool user = klen == 4 && !memcmp(t->s, "user", 4);
	bool group = klen == 5 && !memcmp(t->s, "group", 5);
	bool addr = klen == 4 && !memcmp(t->s, "addr", 4);
	bool *has = user ? &c->has_user : group ? &c->has_group : &c->has_addr;
	struct pg_loc *loc = user ? &c->user_loc : group ? &c->group_loc : &c->addr_loc;

	if (!user && !group && !addr) {
		err_at(ps, t, 0, "unknown condition '%.*s=': use user=, group= or addr=", (int)klen,
		       t->s);
		return false;
	}
	if (*has) {
		err_at(ps, t, 0, "'%.*s=' given twice", (int)klen, t->s);
		return false;
	}
	if (!*v) {
		err_at(ps, t, 0, "'%.*s=' needs %s", (int)klen, t->s,
		       addr   ? "an address, e.g. 10.0.0.0/8"
		       : user ? "a user name or id"
			      : "a group name or id");
		return false;
	}
	if (addr) {
		if (!parse_addr(ps, t, v, c))
			return false;
	} else {
		uint64_t id = 0;
		char *dup;

		if (parse_dec(v, strlen(v), MAX_ID, &id) == -ERANGE) {
			err_at(ps, t, 0, "%s id %s out of range 0-%u", user ? "user" : "group", v,
			       MAX_ID);
			return false;
		}
		if (!check_name(ps, t, klen + 1, v, user ? "user name" : "group name"))
			return false;
		dup = strdup(v);
		if (!dup) {
			no_memory(ps);
			return false;
		}
		if (user) {
			c->user = dup;
			c->uid = (uint32_t)id;
		} else {
			c->group = dup;
			c->gid = (uint32_t)id;
		}
	}
	*has = true;
	*loc = tok_loc(ps, t, 0);
	return true;
}

/* The statement's tokens as written, one space apart. */
static char *join_tokens(const struct parser *ps)
{
	size_t i, n = 0;
	char *s, *o;

	for (i = 0; i < ps->ntok; i++)
		n += ps->tok[i].rawlen + 1;
	s = o = malloc(n);
	if (!s)
		return NULL;
	for (i = 0; i < ps->ntok; i++) {
		if (i)
			*o++ = ' ';
		memcpy(o, ps->tok[i].raw, ps->tok[i].rawlen);
		o += ps->tok[i].rawlen;
	}
	*o = '\0';
	return s;
}

static void st_rule(struct parser *ps, enum pg_action action)
{
	struct pg_policy *p = ps->p;
	struct pg_rule r = { .action = action };
	bool ok = true;
	size_t i;

	if (!need_args(ps, 2, SIZE_MAX - 1, "a selector and a protocol/port list"))
		return;
	r.loc = tok_loc(ps, &ps->tok[0], 0);
	r.sel_loc = tok_loc(ps, &ps->tok[1], 0);
	r.ports_loc = tok_loc(ps, &ps->tok[2], 0);
	if (!check_selector(ps, &ps->tok[1]))
		ok = false;
	if (!parse_protospec(ps, &ps->tok[2], &r))
		ok = false;
	for (i = 3; i < ps->ntok; i++) {
		const struct tok *t = &ps->tok[i];

		if (!memchr(t->s, '=', t->len)) {
			err_at(ps, t, 0, "unexpected '%s'", t->s);
			ok = false;
			break;
		}
		if (!parse_cond(ps, t, &r.cond))
			ok = false;
	}
	if (ok && p->nrules >= PG_POL_MAX_RULES) {
		if (!ps->too_many_rules)
			err_at(ps, &ps->tok[0], 0, "more than %d rules", PG_POL_MAX_RULES);
		ps->too_many_rules = true;
		ok = false;
	}
	if (ok) {
		r.selector = strdup(ps->tok[1].s);
		r.text = join_tokens(ps);
		if (!r.selector || !r.text ||
		    !grow(ps, (void **)&p->rules, &ps->rules_cap, p->nrules, sizeof(*p->rules))) {
			no_memory(ps);
			ok = false;
		}
	}
	if (!ok) {
		rule_free(&r);
		return;
	}
	p->rules[p->nrules++] = r;
}

/* --- includes --------------------------------------------------------------- */

/* Drop "." components and repeated or trailing slashes; ".." stays (symlinks). */
static void clean_path(char *s)
{
	char *w = s;
	const char *r = s;

	if (*r == '/')
		*w++ = *r++;
	while (*r) {
		const char *c;
		size_t n;

		while (*r == '/')
			r++;
		c = r;
		n = strcspn(c, "/");
		r += n;
		if (!n || (n == 1 && c[0] == '.'))
			continue;
		if (w > s && w[-1] != '/')
			*w++ = '/';
		memmove(w, c, n);
		w += n;
	}
	if (w == s)
		*w++ = '.';
	*w = '\0';
}

/* pattern relative to the directory of the file base. */
static char *join_path(const char *base, const char *pattern)
{
	const char *slash = strrchr(base, '/');
	size_t dlen = pattern[0] == '/' || !slash ? 0 : (size_t)(slash - base) + 1;
	size_t plen = strlen(pattern);
	char *s = malloc(dlen + plen + 2);

	if (!s)
		return NULL;
	memcpy(s, base, dlen);
	memcpy(s + dlen, pattern, plen + 1);
	clean_path(s);
	return s;
}

static void report_read(struct parser *ps, struct pg_loc at, const char *path, int err)
{
	if (err == -EFBIG)
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "cannot read '%s': larger than %u bytes",
			     path, PG_POL_MAX_FILE_SIZE);
	else if (err == -EINVAL)
		pg_diags_hint(ps->d, PG_SEV_ERROR, at, "FIFOs, sockets and devices are refused",
			      "cannot read '%s': not a regular file", path);
	else
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "cannot read '%s': %s", path, strerror(-err));
}

static int read_source(struct parser *ps, const char *path, char **buf, size_t *len)
{
	int err;

	*buf = NULL;
	*len = 0;
	err = ps->ops->read(ps->ops->ud, path, buf, len);
	if (err) {
		*buf = NULL;
		return err < 0 ? err : -EIO;
	}
	if (*len > PG_POL_MAX_FILE_SIZE) {
		free(*buf);
		*buf = NULL;
		return -EFBIG;
	}
	return 0;
}

static void statement(struct parser *ps);

/* Hash, then parse file (already in p->files) line by line. */
static void parse_buffer(struct parser *ps, uint32_t file, const char *buf, size_t len)
{
	uint32_t save_file = ps->file, save_line = ps->line, line;
	const char *nul = memchr(buf, '\0', len);
	uint8_t be[8];
	size_t pos, i;

	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	pg_sha256_update(&ps->sha, be, sizeof(be));
	pg_sha256_update(&ps->sha, buf, len);

	ps->stack[ps->depth++] = file;
	ps->file = file;
	if (len >= 2 && (!memcmp(buf, "\xff\xfe", 2) || !memcmp(buf, "\xfe\xff", 2))) {
		pg_diags_hint(ps->d, PG_SEV_ERROR, (struct pg_loc){ file, 1, 1 },
			      "save it as UTF-8",
			      "the file is UTF-16 (it starts with a UTF-16 byte order mark)");
		goto out;
	}
	if (nul) {
		/* A binary file: report where, do not parse its garbage. */
		const char *l = buf;

		for (line = 1, pos = 0; buf + pos < nul; pos++) {
			if (buf[pos] == '\n') {
				line++;
				l = buf + pos + 1;
			}
		}
		pg_diags_add(ps->d, PG_SEV_ERROR,
			     (struct pg_loc){ file, line, (uint32_t)(nul - l) + 1 },
			     "NUL byte in file");
		goto out;
	}
	for (line = 1, pos = 0; pos < len && !ps->oom; line++) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos, bom = 0;

		pos += n + (nl ? 1 : 0);
		if (n && l[n - 1] == '\r')
			n--;
		ps->line = line;
		if (n > PG_POL_MAX_LINE) {
			pg_diags_add(ps->d, PG_SEV_ERROR, (struct pg_loc){ file, line, 1 },
				     "line is longer than %d bytes", PG_POL_MAX_LINE);
			continue;
		}
		/* Editors write one at the start; cat(1) of such files puts one
		 * at the start of a line. Reported, then read past, to find more. */
		if (n >= 3 && !memcmp(l, "\xef\xbb\xbf", 3)) {
			bom = 3;
			pg_diags_hint(ps->d, PG_SEV_ERROR, (struct pg_loc){ file, line, 1 },
				      "remove it", "the %s starts with a UTF-8 byte order mark",
				      line == 1 ? "file" : "line");
		}
		if (tokenize(ps, l, n, bom) && ps->ntok)
			statement(ps);
	}
out:
	ps->depth--;
	ps->file = save_file;
	ps->line = save_line;
}

static void report_cycle(struct parser *ps, struct pg_loc at, int from)
{
	const struct pg_policy *p = ps->p;
	size_t n = 1;
	char *s, *o;
	int k;

	if (from == ps->depth - 1) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "include cycle: '%s' includes itself",
			     p->files[ps->stack[from]]);
		return;
	}
	for (k = from; k < ps->depth; k++)
		n += strlen(p->files[ps->stack[k]]) + 6;
	n += strlen(p->files[ps->stack[from]]) + 2;
	s = o = malloc(n);
	if (!s) {
		no_memory(ps);
		return;
	}
	for (k = from; k < ps->depth; k++)
		o += sprintf(o, "'%s' -> ", p->files[ps->stack[k]]);
	sprintf(o, "'%s'", p->files[ps->stack[from]]);
	pg_diags_add(ps->d, PG_SEV_ERROR, at, "include cycle: %s", s);
	free(s);
}

/* Included paths are cleaned when joined; the top-level one is kept as given. */
static const char *file_key(const struct parser *ps, size_t file)
{
	return file ? ps->p->files[file] : ps->top_key;
}

/* Read and parse one included file; takes path. */
static void include_one(struct parser *ps, char *path, struct pg_loc at)
{
	struct pg_policy *p = ps->p;
	char *buf;
	size_t len, f;
	int k, err;

	if (ps->oom || ps->too_many_files)
		goto drop;
	for (k = 0; k < ps->depth; k++) {
		if (!strcmp(file_key(ps, ps->stack[k]), path)) {
			report_cycle(ps, at, k);
			goto drop;
		}
	}
	for (f = 0; f < p->nfiles; f++) {
		if (!strcmp(file_key(ps, f), path)) {
			pg_diags_add(ps->d, PG_SEV_ERROR, at, "'%s' is already included", path);
			goto drop;
		}
	}
	if (ps->depth > PG_POL_MAX_INCLUDE_DEPTH) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at,
			     "cannot include '%s': includes nest more than %d deep", path,
			     PG_POL_MAX_INCLUDE_DEPTH);
		goto drop;
	}
	if (p->nfiles >= PG_POL_MAX_FILES) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at,
			     "cannot include '%s': more than %d files, includes counted", path,
			     PG_POL_MAX_FILES);
		ps->too_many_files = true;
		goto drop;
	}
	err = read_source(ps, path, &buf, &len);
	if (err) {
		report_read(ps, at, path, err);
		goto drop;
	}
	if (add_file(ps, path))
		parse_buffer(ps, (uint32_t)(p->nfiles - 1), buf, len);
	free(buf);
	return;
drop:
	free(path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void st_include(struct parser *ps)
{
	const struct tok *t = &ps->tok[1];
	struct pg_loc at;
	char *path, **v = NULL;
	size_t n = 0, i;
	int err;

	if (!need_args(ps, 1, 1, "a file name or pattern"))
		return;
	at = tok_loc(ps, t, 0);
	if (!ps->ops || !ps->ops->read) {
		err_at(ps, t, 0, "cannot include '%s': no files can be read here", t->s);
		return;
	}
	path = join_path(ps->p->files[ps->file], t->s);
	if (!path) {
		no_memory(ps);
		return;
	}
	if (!strpbrk(t->s, "*?[")) {
		include_one(ps, path, at);
		return;
	}
	err = ps->ops->glob ? ps->ops->glob(ps->ops->ud, path, &v, &n) : -ENOSYS;
	if (err) {
		pg_diags_add(ps->d, PG_SEV_ERROR, at, "cannot expand '%s': %s", path,
			     strerror(err < 0 ? -err : EIO));
		free(path);
		return;
	}
	/* Most likely a typo in a directory name (/etc/portgat/conf.d). */
	if (!n)
		pg_diags_add(ps->d, PG_SEV_WARNING, at, "include pattern '%s' matches no file",
			     path);
	free(path);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	/* include_one() re-tokenizes: nothing of this line is used after. */
	for (i = 0; i < n; i++)
		include_one(ps, v[i], at);
	free(v);
}

static const char *const keywords[] = {
	"mode", "protect", "default", "exempt", "netns", "allow", "deny", "include",
};

/* Optimal string alignment distance; both strings are short here. */
static size_t edit_distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t d[12][12], i, j;

	for (i = 0; i <= n; i++)
		d[i][0] = i;
	for (j = 0; j <= m; j++)
		d[0][j] = j;
	for (i = 1; i <= n; i++) {
		for (j = 1; j <= m; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[n][m];
}

static const char *suggest(const char *word, size_t len)
{
	const char *best = NULL;
	size_t i, bestd = 3;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		size_t kl = strlen(keywords[i]), dist;

		if (len > kl + 2 || kl > len + 2)
			continue;
		dist = edit_distance(word, len, keywords[i], kl);
		if (dist < bestd) {
			bestd = dist;
			best = keywords[i];
		}
	}
	return best;
}

static void statement(struct parser *ps)
{
	const struct tok *kw = &ps->tok[0];
	const char *hint;

	if (!strcmp(kw->s, "mode"))
		st_mode(ps);
	else if (!strcmp(kw->s, "protect"))
		st_protect(ps);
	else if (!strcmp(kw->s, "default"))
		st_default(ps);
	else if (!strcmp(kw->s, "exempt"))
		st_exempt(ps);
	else if (!strcmp(kw->s, "netns"))
		st_netns(ps);
	else if (!strcmp(kw->s, "allow"))
		st_rule(ps, PG_ALLOW);
	else if (!strcmp(kw->s, "deny"))
		st_rule(ps, PG_DENY);
	else if (!strcmp(kw->s, "include"))
		st_include(ps);
	else if ((hint = suggest(kw->s, kw->len))) {
		char q[32];

		snprintf(q, sizeof(q), "did you mean '%s'?", hint);
		err_hint(ps, kw, 0, q, "unknown statement '%s'", kw->s);
	} else
		err_at(ps, kw, 0, "unknown statement '%s'", kw->s);
}

/* --- whole-policy checks -------------------------------------------------- */

/*
 * Conflicts, duplicates and the alternatives limit are found by a sweep
 * over ports, per selector and protocol, instead of comparing every pair of
 * rules: a selector may carry tens of thousands of rules. The sweep keeps
 * the active rules (local index = file order) in bitsets; when a rule starts
 * it is compared with the earliest active rule of the partner class, and
 * rules already active that are later than it are reported against it. So
 * each later rule is reported once, at the lowest port where it collides.
 */

struct finding {
	size_t conflict, dup; /* 1 + index of the earlier rule; 0: none */
	uint16_t conflict_port, alt_port;
	uint32_t conflict_proto, alt_proto;
	bool alt;
};

struct checker {
	struct pg_policy *p;
	struct finding *f;
};

struct bits {
	uint64_t *w, *s; /* s: one bit per nonzero word of w */
	size_t nw, ns;
};

static void bit_set(struct bits *b, size_t i)
{
	b->w[i / 64] |= 1ull << (i % 64);
	b->s[i / 4096] |= 1ull << (i / 64 % 64);
}

static void bit_clear(struct bits *b, size_t i)
{
	b->w[i / 64] &= ~(1ull << (i % 64));
	if (!b->w[i / 64])
		b->s[i / 4096] &= ~(1ull << (i / 64 % 64));
}

/* The first set bit at or after i, or SIZE_MAX. */
static size_t bit_next(const struct bits *b, size_t i)
{
	size_t wi = i / 64, si;
	uint64_t m;

	if (wi >= b->nw)
		return SIZE_MAX;
	m = b->w[wi] & (~0ull << (i % 64));
	if (m)
		return wi * 64 + (size_t)__builtin_ctzll(m);
	wi++;
	si = wi / 64;
	if (si >= b->ns)
		return SIZE_MAX;
	m = b->s[si] & (~0ull << (wi % 64));
	while (!m) {
		if (++si >= b->ns)
			return SIZE_MAX;
		m = b->s[si];
	}
	wi = si * 64 + (size_t)__builtin_ctzll(m);
	return wi * 64 + (size_t)__builtin_ctzll(b->w[wi]);
}

struct ev {
	uint32_t pos; /* port, or hi + 1 for an end */
	uint32_t start;
	size_t j; /* local index */
};

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1; /* ends first */
	return (x->j > y->j) - (x->j < y->j);
}

static bool has_cond(const struct pg_rule *r)
{
	return r->cond.has_user || r->cond.has_group || r->cond.has_addr;
}

static void found(struct checker *ck, size_t later, size_t earlier, uint32_t pos, uint32_t proto,
		  bool dup)
{
	struct finding *f = &ck->f[later];
	uint32_t both = ck->p->rules[later].protos & ck->p->rules[earlier].protos;

	if (dup) {
		f->dup = earlier + 1;
		return;
	}
	f->conflict = earlier + 1;
	f->conflict_port = (uint16_t)pos;
	f->conflict_proto = both == PG_PROTO_ANY ? PG_PROTO_ANY : proto;
}

/*
 * One sweep over rules rix[0..k) (ascending) for one protocol. dup: find
 * rules overlapping an earlier one (the caller passes rules of one action
 * and identical conditions); else find allow/deny overlaps and count
 * conditional rules per action.
 */
static int sweep(struct checker *ck, const size_t *rix, size_t k, uint32_t proto, bool dup)
{
	const struct pg_policy *p = ck->p;
	size_t nev = 0, nw = (k + 63) / 64, ns = (nw + 63) / 64, i, e, c;
	/* Per class: active rules, those of them not reported yet, and the
	 * same two for conditional rules only (the alternatives limit). */
	enum { ACT, UNREP, CACT, CUNREP };
	struct bits b[4][2];
	size_t ccount[2] = { 0, 0 };
	uint64_t *mem;
	struct ev *ev;

	for (i = 0; i < k; i++)
		if (p->rules[rix[i]].protos & proto)
			nev += 2 * p->rules[rix[i]].nports;
	if (!nev)
		return 0;
	ev = malloc(nev * sizeof(*ev));
	mem = calloc(8 * (nw + ns), sizeof(*mem));
	if (!ev || !mem) {
		free(ev);
		free(mem);
		return -ENOMEM;
	}
	for (i = 0; i < 8; i++)
		b[i / 2][i % 2] =
		    (struct bits){ mem + i * (nw + ns), mem + i * (nw + ns) + nw, nw, ns };

	nev = 0;
	for (i = 0; i < k; i++) {
		const struct pg_rule *r = &p->rules[rix[i]];
		size_t q;

		if (!(r->protos & proto))
			continue;
		for (q = 0; q < r->nports; q++) {
			ev[nev++] = (struct ev){ r->ports[q].lo, 1, i };
			ev[nev++] = (struct ev){ (uint32_t)r->ports[q].hi + 1, 0, i };
		}
	}
	qsort(ev, nev, sizeof(*ev), cmp_ev);

	for (e = 0; e < nev;) {
		uint32_t pos = ev[e].pos;

		for (; e < nev && ev[e].pos == pos; e++) {
			size_t j = ev[e].j, x, *mark;
			const struct pg_rule *r = &p->rules[rix[j]];
			size_t cl = dup ? 0 : r->action == PG_DENY, pc = dup ? 0 : !cl;
			bool cond = !dup && has_cond(r);

			if (!ev[e].start) {
				bit_clear(&b[ACT][cl], j);
				bit_clear(&b[UNREP][cl], j);
				if (cond) {
					bit_clear(&b[CACT][cl], j);
					bit_clear(&b[CUNREP][cl], j);
					ccount[cl]--;
				}
				continue;
			}
			mark = dup ? &ck->f[rix[j]].dup : &ck->f[rix[j]].conflict;
			if (!*mark) {
				x = bit_next(&b[ACT][pc], 0);
				if (x < j)
					found(ck, rix[j], rix[x], pos, proto, dup);
				else
					bit_set(&b[UNREP][cl], j);
			}
			bit_set(&b[ACT][cl], j);
			for (x = bit_next(&b[UNREP][pc], j + 1); x != SIZE_MAX;
			     x = bit_next(&b[UNREP][pc], x + 1)) {
				found(ck, rix[x], rix[j], pos, proto, dup);
				bit_clear(&b[UNREP][pc], x);
			}
			if (cond) {
				bit_set(&b[CACT][cl], j);
				if (!ck->f[rix[j]].alt)
					bit_set(&b[CUNREP][cl], j);
				ccount[cl]++;
			}
		}
		for (c = 0; c < 2 && pos <= 65535; c++) {
			size_t t = 0, x;

			if (ccount[c] <= PG_MAX_ALT)
				continue;
			/* Every active conditional rule after the 16th by file order. */
			for (x = 0; x <= PG_MAX_ALT; x++)
				t = bit_next(&b[CACT][c], x ? t + 1 : 0);
			for (x = bit_next(&b[CUNREP][c], t); x != SIZE_MAX;
			     x = bit_next(&b[CUNREP][c], x + 1)) {
				ck->f[rix[x]].alt = true;
				ck->f[rix[x]].alt_port = (uint16_t)pos;
				ck->f[rix[x]].alt_proto = proto;
				bit_clear(&b[CUNREP][c], x);
			}
		}
	}
	free(ev);
	free(mem);
	return 0;
}

struct item {
	const struct pg_rule *r;
	size_t i;
};

static int cmp_str_opt(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) : (a != NULL) - (b != NULL);
}

static int cmp_cond(const struct pg_cond *a, const struct pg_cond *b)
{
	int c;

	if ((c = cmp_str_opt(a->has_user ? a->user : NULL, b->has_user ? b->user : NULL)))
		return c;
	if ((c = cmp_str_opt(a->has_group ? a->group : NULL, b->has_group ? b->group : NULL)))
		return c;
	if (a->has_addr != b->has_addr)
		return a->has_addr ? 1 : -1;
	if (!a->has_addr)
		return 0;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int cmp_by_selector(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->r->selector, y->r->selector);

	if (c)
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

static int cmp_by_cond(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c;

	if (x->r->action != y->r->action)
		return x->r->action < y->r->action ? -1 : 1;
	if ((c = cmp_cond(&x->r->cond, &y->r->cond)))
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

static bool same_class(const struct item *x, const struct item *y)
{
	return x->r->action == y->r->action && !cmp_cond(&x->r->cond, &y->r->cond);
}

static int sweep_all(struct checker *ck, const struct item *it, size_t k, size_t *rix, bool dup)
{
	static const uint32_t protos[] = { PG_PROTO_TCP, PG_PROTO_UDP, PG_PROTO_OTHER };
	size_t i;
	int err;

	for (i = 0; i < k; i++)
		rix[i] = it[i].i;
	for (i = 0; i < 3; i++)
		if ((err = sweep(ck, rix, k, protos[i], dup)))
			return err;
	return 0;
}

static int find_collisions(struct checker *ck)
{
	struct pg_policy *p = ck->p;
	size_t n = p->nrules, a, b, c, d, i;
	struct item *it = malloc((n ? n : 1) * sizeof(*it));
	size_t *rix = malloc((n ? n : 1) * sizeof(*rix));
	int err = 0;

	if (!it || !rix) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		it[i] = (struct item){ &p->rules[i], i };
	qsort(it, n, sizeof(*it), cmp_by_selector);
	for (a = 0; a < n && !err; a = b) {
		for (b = a + 1; b < n && !strcmp(it[a].r->selector, it[b].r->selector); b++)
			;
		if (b - a < 2)
			continue;
		if ((err = sweep_all(ck, it + a, b - a, rix, false)))
			break;
		/* Duplicates: same action and conditions, in file order. */
		qsort(it + a, b - a, sizeof(*it), cmp_by_cond);
		for (c = a; c < b && !err; c = d) {
			for (d = c + 1; d < b && same_class(&it[c], &it[d]); d++)
				;
			if (d - c >= 2)
				err = sweep_all(ck, it + c, d - c, rix, true);
		}
	}
out:
	free(it);
	free(rix);
	return err;
}

static void report_rule(struct parser *ps, const struct finding *f, size_t i)
{
	const struct pg_policy *p = ps->p;
	const struct pg_rule *r = &p->rules[i];
	struct pg_range *out;
	char a[128], b[128];
	size_t n;

	if (f->conflict) {
		const struct pg_rule *e = &p->rules[f->conflict - 1];

		pg_diags_add(ps->d, PG_SEV_ERROR, r->loc, "%s conflicts with %s at %s:%u on %s/%u",
			     action_name(r->action), action_name(e->action), p->files[e->loc.file],
			     (unsigned int)e->loc.line, proto_name(f->conflict_proto),
			     (unsigned int)f->conflict_port);
	}
	if (f->dup) {
		const struct pg_rule *e = &p->rules[f->dup - 1];

		pg_diags_add(ps->d, PG_SEV_WARNING, r->loc, "duplicates the rule at %s:%u",
			     p->files[e->loc.file], (unsigned int)e->loc.line);
	}
	if (f->alt)
		pg_diags_add(ps->d, PG_SEV_ERROR, r->loc,
			     "more than %d %s rules with conditions on '%s' for %s/%u", PG_MAX_ALT,
			     action_name(r->action), r->selector, proto_name(f->alt_proto),
			     (unsigned int)f->alt_port);

	out = malloc((r->nports + p->nprotect) * sizeof(*out));
	if (!out) {
		no_memory(ps);
		return;
	}
	n = ranges_minus(r->ports, r->nports, p->protect, p->nprotect, out);
	if (n) {
		bool one = n == 1 && out[0].lo == out[0].hi;

		fmt_ranges(a, sizeof(a), out, n, MAX_SHOWN);
		fmt_ranges(b, sizeof(b), p->protect, p->nprotect, MAX_SHOWN);
		pg_diags_add(ps->d, PG_SEV_WARNING, r->ports_loc,
			     "%s %s %s not protected (protect %s): this rule has no effect on %s",
			     one ? "port" : "ports", a, one ? "is" : "are", b, one ? "it" : "them");
	}
	free(out);
}

/*
 * Valid policies that almost certainly say something else than was meant.
 * Warnings: apply goes ahead, check --strict refuses.
 */
static void lint(struct parser *ps)
{
	const struct pg_policy *p = ps->p;
	bool deny = p->def == PG_DEFAULT_DENY ||
		    (p->def == PG_DEFAULT_UNSET && p->mode_set && p->mode == PG_MODE_SYSCTL);
	bool kernel = p->def == PG_DEFAULT_KERNEL ||
		      (p->def == PG_DEFAULT_UNSET && p->mode_set && p->mode == PG_MODE_GRANT);

	/* Not when errors dropped the rules: that would be one more error. */
	if (!p->nrules && ps->d->nerrors == ps->nerrors0) {
		pg_diags_hint(ps->d, PG_SEV_WARNING, (struct pg_loc){ 0, 0, 0 },
			      "add allow rules, or check that its includes match files",
			      "the policy has no allow or deny rules: %s",
			      kernel  ? "it changes no bind"
			      : !deny ? "every bind to a protected port gets the default"
			      : p->exempt_root
				  ? "every bind to a protected port but root's is refused"
				  : "every bind to a protected port is refused, root's too");
		return;
	}
	if (deny && !p->exempt_root)
		pg_diags_hint(
		    ps->d, PG_SEV_WARNING, p->def == PG_DEFAULT_DENY ? p->def_loc : p->mode_loc,
		    "add 'exempt root', or rules for the daemons that run as root",
		    "%s without 'exempt root' refuses root too: %s",
		    p->def == PG_DEFAULT_DENY ? "default deny" : "mode sysctl (default deny)",
		    pg_policy_protects(p, 22) ? "sshd could not bind port 22"
					      : "root's daemons need rules");
}

static void check_policy(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	struct checker ck = { p, NULL };
	size_t i;

	if (p->mode_set && p->mode == PG_MODE_SYSCTL && p->def == PG_DEFAULT_KERNEL)
		pg_diags_add(ps->d, PG_SEV_ERROR, p->def_loc,
			     "default kernel is not allowed in sysctl mode: it would let every "
			     "unprivileged bind through");
	if (p->mode_set && p->mode == PG_MODE_GRANT)
		for (i = 0; i < p->nnetns; i++)
			pg_diags_add(ps->d, PG_SEV_WARNING, p->netns[i].loc,
				     "netns has no effect in grant mode");

	lint(ps);

	ck.f = calloc(p->nrules ? p->nrules : 1, sizeof(*ck.f));
	if (!ck.f || find_collisions(&ck)) {
		no_memory(ps);
		free(ck.f);
		return;
	}
	for (i = 0; i < p->nrules && !ps->oom; i++)
		report_rule(ps, &ck.f[i], i);
	free(ck.f);
}

/* --- entry points ----------------------------------------------------------- */

static struct parser *parser_new(const char *path, const struct pg_source_ops *ops,
				 struct pg_diags *diags)
{
	struct parser *ps = calloc(1, sizeof(*ps));
	char *name = strdup(path), *key = strdup(path);

	if (!ps || !name || !key || !(ps->p = policy_new())) {
		free(ps);
		free(name);
		free(key);
		return NULL;
	}
	clean_path(key);
	ps->top_key = key;
	ps->ops = ops;
	ps->d = diags;
	ps->nerrors0 = diags->nerrors;
	pg_sha256_init(&ps->sha);
	if (!add_file(ps, name)) {
		pg_policy_free(ps->p);
		free(ps->top_key);
		free(ps);
		return NULL;
	}
	return ps;
}

static struct pg_policy *parser_finish(struct parser *ps)
{
	struct pg_policy *p = ps->p;

	if (!ps->oom)
		check_policy(ps);
	pg_sha256_final(&ps->sha, p->sha256);
	free(ps->top_key);
	free(ps);
	return p;
}

struct pg_policy *pg_policy_parse(const char *path, const struct pg_source_ops *ops,
				  struct pg_diags *diags)
{
	struct parser *ps = parser_new(path, ops, diags);
	struct pg_loc top = { 0, 0, 0 };
	char *buf;
	size_t len;
	int err;

	if (!ps)
		return NULL;
	err = ops && ops->read ? read_source(ps, path, &buf, &len) : -ENOSYS;
	if (err) {
		report_read(ps, top, path, err);
	} else {
		parse_buffer(ps, 0, buf, len);
		free(buf);
	}
	return parser_finish(ps);
}

struct pg_policy *pg_policy_parse_buf(const char *path, const char *buf, size_t len,
				      const struct pg_source_ops *ops, struct pg_diags *diags)
{
	struct parser *ps = parser_new(path, ops, diags);

	if (!ps)
		return NULL;
	if (len > PG_POL_MAX_FILE_SIZE)
		report_read(ps, (struct pg_loc){ 0, 0, 0 }, path, -EFBIG);
	else
		parse_buffer(ps, 0, buf, len);
	return parser_finish(ps);
}

static void resolve_one(struct pg_diags *d, const char *what, const struct pg_id_ops *ops,
			bool user, const char *name, struct pg_loc loc, uint32_t *id)
{
	int (*fn)(void *, const char *, uint32_t *) = !ops ? NULL : user ? ops->user : ops->group;
	int err;

	if (is_dec(name))
		return; /* parsed as an id already */
	err = fn ? fn(ops->ud, name, id) : -ENOSYS;
	if (err == -ENOENT)
		pg_diags_hint(d, PG_SEV_ERROR, loc, ops->unknown_hint, "unknown %s '%s'", what,
			      name);
	else if (err)
		pg_diags_add(d, PG_SEV_ERROR, loc, "cannot look up %s '%s': %s", what, name,
			     strerror(err < 0 ? -err : EIO));
}

void pg_policy_resolve(struct pg_policy *p, const struct pg_id_ops *ops, struct pg_diags *diags)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++) {
		struct pg_cond *c = &p->rules[i].cond;

		if (c->has_user)
			resolve_one(diags, "user", ops, true, c->user, c->user_loc, &c->uid);
		if (c->has_group)
			resolve_one(diags, "group", ops, false, c->group, c->group_loc, &c->gid);
	}
}
