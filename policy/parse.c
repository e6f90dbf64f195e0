// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * parse.c - the tokenizer, the line loop and the statements other than
 * allow/deny and include.
 */
#include <stdlib.h>
#include <string.h>

#include "pg_abi.h"
#include "policy_int.h"

struct pg_loc pol_tok_loc(const struct parser *ps, const struct tok *t, size_t off)
{
	return (struct pg_loc){ ps->file, ps->line, t->col + (t->plain ? (uint32_t)off : 0) };
}

void pol_err_at(struct parser *ps, const struct tok *t, size_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(ps->d, PG_SEV_ERROR, pol_tok_loc(ps, t, off), NULL, fmt, ap);
	va_end(ap);
}

void pol_err_hint(struct parser *ps, const struct tok *t, size_t off, const char *hint,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pg_diags_addv(ps->d, PG_SEV_ERROR, pol_tok_loc(ps, t, off), hint, fmt, ap);
	va_end(ap);
}

void pol_no_memory(struct parser *ps)
{
	if (!ps->oom)
		pg_diags_add(ps->d, PG_SEV_ERROR, (struct pg_loc){ ps->file, ps->line, 0 },
			     "out of memory");
	ps->oom = true;
}

/* Grow *v (of *cap elements of size sz) to hold n + 1. */
bool pol_grow(struct parser *ps, void **v, size_t *cap, size_t n, size_t sz)
{
	size_t c;
	void *nv;

	if (n < *cap)
		return true;
	c = *cap ? 2 * *cap : 16;
	nv = realloc(*v, c * sz);
	if (!nv) {
		pol_no_memory(ps);
		return false;
	}
	*v = nv;
	*cap = c;
	return true;
}

bool pol_add_file(struct parser *ps, char *path)
{
	struct pg_policy *p = ps->p;

	if (!pol_grow(ps, (void **)&p->files, &ps->files_cap, p->nfiles, sizeof(*p->files))) {
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
bool pol_need_args(struct parser *ps, size_t min, size_t max, const char *what)
{
	if (ps->ntok < min + 1) {
		pol_err_at(ps, &ps->tok[0], 0, "'%s' needs %s", ps->tok[0].s, what);
		return false;
	}
	if (ps->ntok > max + 1)
		pol_err_at(ps, &ps->tok[max + 1], 0, "unexpected '%s'", ps->tok[max + 1].s);
	return true;
}

static bool once(struct parser *ps, bool set, struct pg_loc prev, const char *what)
{
	if (!set)
		return true;
	pol_err_at(ps, &ps->tok[0], 0, "%s already set at %s:%u", what, ps->p->files[prev.file],
		   (unsigned int)prev.line);
	return false;
}

/* Hash, then parse file (already in p->files) line by line. */
void pol_parse_buffer(struct parser *ps, uint32_t file, const char *buf, size_t len)
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
			pol_statement(ps);
	}
out:
	ps->depth--;
	ps->file = save_file;
	ps->line = save_line;
}

static void st_mode(struct parser *ps)
{
	static const char *const names[] = {
		[PG_MODE_AUTO] = "auto", [PG_MODE_GRANT] = "grant", [PG_MODE_SYSCTL] = "sysctl"
	};
	struct pg_policy *p = ps->p;
	size_t m;

	if (!pol_need_args(ps, 1, 1, "one of auto, grant or sysctl") ||
	    !once(ps, p->mode_set, p->mode_loc, "mode"))
		return;
	for (m = 0; m < sizeof(names) / sizeof(names[0]); m++) {
		if (!strcmp(ps->tok[1].s, names[m])) {
			p->mode = (enum pg_mode)m;
			p->mode_set = true;
			p->mode_loc = pol_tok_loc(ps, &ps->tok[0], 0);
			return;
		}
	}
	pol_err_at(ps, &ps->tok[1], 0, "unknown mode '%s': use auto, grant or sysctl",
		   ps->tok[1].s);
}

static void st_protect(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	struct pg_range *r;
	size_t n;

	if (!pol_need_args(ps, 1, 1, "a port list, e.g. 1-1023") ||
	    !once(ps, p->protect_set, p->protect_loc, "protect") ||
	    !pol_parse_ports(ps, &ps->tok[1], 0, &r, &n))
		return;
	free(p->protect);
	p->protect = r;
	p->nprotect = n;
	p->protect_set = true;
	p->protect_loc = pol_tok_loc(ps, &ps->tok[0], 0);
}

static void st_default(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	const char *v;

	if (!pol_need_args(ps, 1, 1, "deny or kernel") ||
	    !once(ps, p->def != PG_DEFAULT_UNSET, p->def_loc, "default"))
		return;
	v = ps->tok[1].s;
	if (strcmp(v, "deny") && strcmp(v, "kernel")) {
		pol_err_at(ps, &ps->tok[1], 0, "unknown default '%s': use deny or kernel", v);
		return;
	}
	p->def = strcmp(v, "deny") ? PG_DEFAULT_KERNEL : PG_DEFAULT_DENY;
	p->def_loc = pol_tok_loc(ps, &ps->tok[0], 0);
}

static void st_exempt(struct parser *ps)
{
	struct pg_policy *p = ps->p;

	if (!pol_need_args(ps, 1, 1, "'root'") ||
	    !once(ps, p->exempt_root, p->exempt_loc, "exempt"))
		return;
	if (strcmp(ps->tok[1].s, "root")) {
		pol_err_at(ps, &ps->tok[1], 0,
			   "cannot exempt '%s': only 'exempt root' is supported", ps->tok[1].s);
		return;
	}
	p->exempt_root = true;
	p->exempt_loc = pol_tok_loc(ps, &ps->tok[0], 0);
}

/* rollout audit | enforce: whether the policy's decisions are observe-only. */
static void st_rollout(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	const char *v;

	if (!pol_need_args(ps, 1, 1, "audit or enforce") ||
	    !once(ps, p->rollout_set, p->rollout_loc, "rollout"))
		return;
	v = ps->tok[1].s;
	if (strcmp(v, "audit") && strcmp(v, "enforce")) {
		pol_err_at(ps, &ps->tok[1], 0, "unknown rollout '%s': use audit or enforce", v);
		return;
	}
	p->audit = !strcmp(v, "audit");
	p->rollout_set = true;
	p->rollout_loc = pol_tok_loc(ps, &ps->tok[0], 0);
}

static void st_netns(struct parser *ps)
{
	struct pg_policy *p = ps->p;
	const struct tok *t = &ps->tok[1];
	size_t i;
	char *path;

	if (!pol_need_args(ps, 1, 1, "the path of a network namespace, e.g. /run/netns/edge"))
		return;
	if (t->s[0] != '/') {
		pol_err_at(ps, t, 0, "netns path '%s' must be absolute", t->s);
		return;
	}
	for (i = 0; i < p->nnetns; i++) {
		if (!strcmp(p->netns[i].path, t->s)) {
			pol_err_at(ps, t, 0, "netns '%s' already given at %s:%u", t->s,
				   p->files[p->netns[i].loc.file],
				   (unsigned int)p->netns[i].loc.line);
			return;
		}
	}
	if (p->nnetns >= PG_POL_MAX_NETNS) {
		if (!ps->too_many_netns)
			pol_err_at(ps, &ps->tok[0], 0, "more than %d netns statements",
				   PG_POL_MAX_NETNS);
		ps->too_many_netns = true;
		return;
	}
	path = strdup(t->s);
	if (!path ||
	    !pol_grow(ps, (void **)&p->netns, &ps->netns_cap, p->nnetns, sizeof(*p->netns))) {
		free(path);
		pol_no_memory(ps);
		return;
	}
	p->netns[p->nnetns++] = (struct pg_netns){ path, pol_tok_loc(ps, &ps->tok[0], 0) };
}

static const char *const keywords[] = {
	"mode", "protect", "default", "exempt", "netns", "allow", "deny", "include", "rollout",
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

void pol_statement(struct parser *ps)
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
	else if (!strcmp(kw->s, "rollout"))
		st_rollout(ps);
	else if (!strcmp(kw->s, "allow"))
		pol_st_rule(ps, PG_ALLOW);
	else if (!strcmp(kw->s, "deny"))
		pol_st_rule(ps, PG_DENY);
	else if (!strcmp(kw->s, "include"))
		pol_st_include(ps);
	else if ((hint = suggest(kw->s, kw->len))) {
		char q[32];

		snprintf(q, sizeof(q), "did you mean '%s'?", hint);
		pol_err_hint(ps, kw, 0, q, "unknown statement '%s'", kw->s);
	} else
		pol_err_at(ps, kw, 0, "unknown statement '%s'", kw->s);
}
