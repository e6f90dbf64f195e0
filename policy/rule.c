// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * rule.c - the allow and deny statements: port lists, protocols,
 * selectors and conditions (user=, group=, addr=).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube_sel.h"
#include "pg_abi.h"
#include "policy_int.h"

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

	if (!pol_parse_dec(s, n, 65535, &v))
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
		pol_err_hint(ps, t, ioff, "write FIRST-LAST, e.g. 1-1023",
			     "invalid range '%.*s': a range needs a first and a last port",
			     (int)ilen, item);
		return;
	}
	/* A side that starts with a letter is a name; "0x50" is not. */
	if (!is_alpha(item[0]) && (lolen == SIZE_MAX || !is_alpha(item[lolen + 1]))) {
		for (i = 0; i < ilen && !is_alpha(item[i]); i++)
			;
		if (i < ilen)
			pol_err_at(ps, t, ioff, "invalid port '%.*s': ports are decimal numbers",
				   (int)ilen, item);
		else
			pol_err_at(ps, t, ioff, "invalid port '%.*s'", (int)ilen, item);
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
	pol_err_hint(ps, t, ioff, fix, "invalid port '%.*s': service names are not accepted",
		     (int)ilen, item);
}

/*
 * One item of the port list s: "N" or "N-M", ilen bytes at item, byte ioff
 * of t. False when it is not one; the diagnostic is given.
 */
static bool port_item(struct parser *ps, const struct tok *t, size_t ioff, const char *item,
		      size_t ilen, const char *s, struct pg_range *out)
{
	const char *dash = memchr(item, '-', ilen);
	size_t lolen = dash ? (size_t)(dash - item) : ilen, hioff = dash ? lolen + 1 : 0;
	uint64_t lo = 0, hi = 0;
	int rl, rh;

	if (!ilen) {
		pol_err_at(ps, t, ioff, "empty item in port list '%s'", s);
		return false;
	}
	rl = pol_parse_dec(item, lolen, 65535, &lo);
	rh = pol_parse_dec(item + hioff, ilen - hioff, 65535, &hi);
	if (rl == -EINVAL || rh == -EINVAL) {
		bad_port(ps, t, ioff, item, ilen, dash ? lolen : SIZE_MAX);
		return false;
	}
	if (rl || rh) {
		size_t o = rl ? 0 : hioff, l = rl ? lolen : ilen - hioff;

		pol_err_at(ps, t, ioff + o, "port %.*s out of range 1-65535", (int)l, item + o);
		return false;
	}
	if (!lo || !hi) {
		pol_err_at(ps, t, ioff + (lo ? hioff : 0),
			   "port 0 is never protected: the kernel picks a free port");
		return false;
	}
	if (lo > hi) {
		char fix[32];

		snprintf(fix, sizeof(fix), "write %u-%u", (unsigned int)hi, (unsigned int)lo);
		pol_err_hint(ps, t, ioff, fix,
			     "invalid range '%.*s': the first port is greater than the second",
			     (int)ilen, item);
		return false;
	}
	*out = (struct pg_range){ (uint16_t)lo, (uint16_t)hi };
	return true;
}

/* PORTLIST from byte off of t: "N" and "N-M" items separated by ','. */
bool pol_parse_ports(struct parser *ps, const struct tok *t, size_t off, struct pg_range **out,
		     size_t *nout)
{
	const char *s = t->s + off, *end = t->s + t->len, *item = s;
	struct pg_range *r;
	size_t n = 1, k = 0;
	const char *q;

	if (s == end) {
		pol_err_at(ps, t, off, "empty port list");
		return false;
	}
	for (q = s; q < end; q++)
		n += *q == ',';
	r = malloc(n * sizeof(*r));
	if (!r) {
		pol_no_memory(ps);
		return false;
	}
	for (;;) {
		const char *ie = memchr(item, ',', (size_t)(end - item));

		if (!ie)
			ie = end;
		if (!port_item(ps, t, off + (size_t)(item - s), item, (size_t)(ie - item), s,
			       &r[k++])) {
			free(r);
			return false;
		}
		if (ie == end)
			break;
		item = ie + 1;
	}
	*out = r;
	*nout = pol_merge_ranges(r, k);
	return true;
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
		pol_err_hint(ps, t, off + i, "save the file as UTF-8",
			     "%s is not valid UTF-8 (byte 0x%02x)", what, (unsigned char)s[i]);
		return false;
	}
	if (!pg_text_safe(s, len, &i, &cp)) {
		if (cp < 0x80)
			pol_err_at(ps, t, off + i, "%s holds the control character 0x%02x", what,
				   (unsigned int)cp);
		else
			pol_err_at(ps, t, off + i, "%s holds the invisible character U+%04X", what,
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
		pol_err_at(ps, t, 0, "selector must be an absolute cgroup path starting with '/'");
		return false;
	}
	if (!check_text(ps, t, 0, s, len, "selector"))
		return false;
	if (len == 1)
		return true;
	if (s[len - 1] == '/') {
		pol_err_at(ps, t, len - 1, "selector must not end with '/'");
		return false;
	}
	for (i = 1; i <= len;) {
		const char *c = s + i;
		size_t n = strcspn(c, "/"), k;

		if (!n) {
			pol_err_at(ps, t, i, "selector has an empty path component ('//')");
			return false;
		}
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			pol_err_at(ps, t, i, "selector must not contain '.' or '..' components");
			return false;
		}
		if (n > PG_POL_MAX_COMPONENT) {
			pol_err_at(ps, t, i, "selector component is longer than %d bytes",
				   PG_POL_MAX_COMPONENT);
			return false;
		}
		for (k = 0; k < n; k++) {
			if (c[k] == '*' && k + 1 < n && c[k + 1] == '*' && n != 2) {
				pol_err_at(ps, t, i + k, "'**' must be a whole path component");
				return false;
			}
			if (c[k] == '?' || c[k] == '[') {
				pol_err_at(ps, t, i + k,
					   "'%c' is not supported in selectors: use '*' or '**'",
					   c[k]);
				return false;
			}
		}
		if (++ncomp > PG_POL_MAX_DEPTH) {
			pol_err_at(ps, t, i, "selector has more than %d components",
				   PG_POL_MAX_DEPTH);
			return false;
		}
		i += n + 1;
	}
	return true;
}

/*
 * A pod selector, "pod:NS[/LABELS]" (kube_sel.h), parsed into r->pod with
 * its canonical form in r->pod_key. Its error's column is the token's plus
 * the offset kube_sel gives when the token is unquoted, the token's own when
 * it is quoted (pol_tok_loc()).
 */
static bool parse_pod(struct parser *ps, const struct tok *t, struct pg_rule *r)
{
	struct pg_kube_err err = { 0 };
	struct pg_kube_sel *sel;
	int rc;

	if (!check_text(ps, t, 0, t->s, t->len, "selector"))
		return false;
	sel = calloc(1, sizeof(*sel));
	if (!sel) {
		pol_no_memory(ps);
		return false;
	}
	rc = pg_kube_sel_parse(t->s, t->len, sel, &err);
	if (rc) {
		free(sel);
		if (rc == -ENOMEM)
			pol_no_memory(ps);
		else
			pol_err_hint(ps, t, err.off, err.hint[0] ? err.hint : NULL, "%s", err.msg);
		return false;
	}
	r->pod = sel;
	r->pod_key = pg_kube_sel_str(sel);
	if (!r->pod_key) {
		pol_no_memory(ps);
		return false;
	}
	return true;
}

static bool parse_protospec(struct parser *ps, const struct tok *t, struct pg_rule *r)
{
	const char *slash = memchr(t->s, '/', t->len), *item = t->s;
	bool ok = true;

	if (!slash || slash == t->s || slash + 1 == t->s + t->len) {
		pol_err_at(ps, t, 0, "expected PROTO/PORTS, e.g. tcp/80,443");
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
				pol_err_at(ps, t, (size_t)(item - t->s),
					   "sctp binds never reach the bind hook; portgate cannot "
					   "grant them");
			else
				pol_err_at(ps, t, (size_t)(item - t->s),
					   "unknown protocol '%.*s': use tcp, udp or any", (int)n,
					   item);
			ok = false;
			break;
		}
		if (ie == slash)
			break;
		item = ie + 1;
	}
	if (!pol_parse_ports(ps, t, (size_t)(slash + 1 - t->s), &r->ports, &r->nports))
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
	if (slash && pol_parse_dec(slash + 1, strlen(slash + 1), max, &plen)) {
		pol_err_at(ps, t, 0, "invalid prefix length '%s' in addr=%s: use 0-%u for IPv%d",
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
		pol_err_at(ps, t, 0, "addr %s has host bits set; did you mean %s/%u?", v, fix,
			   (unsigned int)plen);
		return false;
	}
	if (sp == 128) {
		static const uint8_t any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

		if (!memcmp(a, any6, 16) || !memcmp(a, any4, 16)) {
			pol_err_at(
			    ps, t, 0,
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
	pol_err_at(ps, t, 0,
		   "invalid address '%.*s': use an IPv4 or IPv6 address, optionally /PREFIX",
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
		pol_err_at(ps, t, off, "%s '%s' cannot start with '-'", what, v);
		return false;
	}
	bad = strcspn(v, ":,/=");
	if (bad < len) {
		pol_err_at(ps, t, off + bad, "%s '%s' cannot hold '%c'", what, v, v[bad]);
		return false;
	}
	if (len > PG_POL_MAX_NAME) {
		pol_err_at(ps, t, off, "%s is longer than %d bytes", what, PG_POL_MAX_NAME);
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
		pol_err_at(ps, t, 0,
			   "unknown condition '%.*s=': use user=, group= or addr=", (int)klen,
			   t->s);
		return false;
	}
	if (*has) {
		pol_err_at(ps, t, 0, "'%.*s=' given twice", (int)klen, t->s);
		return false;
	}
	if (!*v) {
		pol_err_at(ps, t, 0, "'%.*s=' needs %s", (int)klen, t->s,
			   addr	  ? "an address, e.g. 10.0.0.0/8"
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

		if (pol_parse_dec(v, strlen(v), MAX_ID, &id) == -ERANGE) {
			pol_err_at(ps, t, 0, "%s id %s out of range 0-%u", user ? "user" : "group",
				   v, MAX_ID);
			return false;
		}
		if (!check_name(ps, t, klen + 1, v, user ? "user name" : "group name"))
			return false;
		dup = strdup(v);
		if (!dup) {
			pol_no_memory(ps);
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
	*loc = pol_tok_loc(ps, t, 0);
	return true;
}

/* rollout=audit or rollout=enforce; t holds "rollout=". */
static bool parse_rollout(struct parser *ps, const struct tok *t, struct pg_rule *r)
{
	const char *v = t->s + strlen("rollout=");

	if (r->rollout != PG_ROLLOUT_UNSET) {
		pol_err_at(ps, t, 0, "'rollout=' given twice");
		return false;
	}
	if (strcmp(v, "audit") && strcmp(v, "enforce")) {
		pol_err_at(ps, t, strlen("rollout="), "unknown rollout '%s': use audit or enforce",
			   v);
		return false;
	}
	r->rollout = strcmp(v, "audit") ? PG_ROLLOUT_ENFORCE : PG_ROLLOUT_AUDIT;
	r->rollout_loc = pol_tok_loc(ps, t, 0);
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

void pol_st_rule(struct parser *ps, enum pg_action action)
{
	struct pg_policy *p = ps->p;
	struct pg_rule r = { .action = action };
	bool ok = true;
	size_t i;

	if (!pol_need_args(ps, 2, SIZE_MAX - 1, "a selector and a protocol/port list"))
		return;
	r.loc = pol_tok_loc(ps, &ps->tok[0], 0);
	r.sel_loc = pol_tok_loc(ps, &ps->tok[1], 0);
	r.ports_loc = pol_tok_loc(ps, &ps->tok[2], 0);
	if (pg_kube_sel_is_pod(ps->tok[1].s, ps->tok[1].len) ? !parse_pod(ps, &ps->tok[1], &r)
							     : !check_selector(ps, &ps->tok[1]))
		ok = false;
	if (!parse_protospec(ps, &ps->tok[2], &r))
		ok = false;
	for (i = 3; i < ps->ntok; i++) {
		const struct tok *t = &ps->tok[i];

		if (!memchr(t->s, '=', t->len)) {
			pol_err_at(ps, t, 0, "unexpected '%s'", t->s);
			ok = false;
			break;
		}
		if (!strncmp(t->s, "rollout=", strlen("rollout="))) {
			if (!parse_rollout(ps, t, &r))
				ok = false;
		} else if (!parse_cond(ps, t, &r.cond))
			ok = false;
	}
	if (ok && p->nrules >= PG_POL_MAX_RULES) {
		if (!ps->too_many_rules)
			pol_err_at(ps, &ps->tok[0], 0, "more than %d rules", PG_POL_MAX_RULES);
		ps->too_many_rules = true;
		ok = false;
	}
	if (ok) {
		r.selector = strdup(ps->tok[1].s);
		r.text = join_tokens(ps);
		if (!r.selector || !r.text ||
		    !pol_grow(ps, (void **)&p->rules, &ps->rules_cap, p->nrules,
			      sizeof(*p->rules))) {
			pol_no_memory(ps);
			ok = false;
		}
	}
	if (!ok) {
		pol_rule_free(&r);
		return;
	}
	p->rules[p->nrules++] = r;
}
