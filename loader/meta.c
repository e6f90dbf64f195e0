// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "meta.h"
#include "util.h"

static void put_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\\')
			fputs("\\\\", f);
		else
			fputc(*s, f);
	}
}

char *pg_meta_build(const struct pg_policy *p, const struct pg_image *img,
		    const struct pg_meta_in *in, size_t *len)
{
	char *buf = NULL, hash[65];
	size_t i;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	pg_hex(p->sha256, 32, hash);
	fprintf(f, "portgate-meta %d\n", PG_META_VERSION);
	fprintf(f, "gen %" PRIu64 "\ntime %" PRIu64 "\nhash %s\n", in->gen, in->time, hash);
	fputs("source ", f), put_esc(f, in->source), fputc('\n', f);
	fputs("mode ", f), put_esc(f, in->mode), fputc('\n', f);
	fputs("reason ", f), put_esc(f, in->reason), fputc('\n', f);
	fputs("attach ", f), put_esc(f, in->attach), fputc('\n', f);
	if (in->transitional)
		fputs("transitional 1\n", f);
	for (i = 0; i < p->nfiles; i++) {
		fprintf(f, "file %zu ", i);
		put_esc(f, p->files[i]);
		fputc('\n', f);
	}
	for (i = 0; i < p->nrules; i++) {
		const struct pg_rule *r = &p->rules[i];

		fprintf(f, "rule %zu %u %u %u ", i, r->loc.file, r->loc.line, r->loc.col);
		put_esc(f, r->text);
		fputc('\n', f);
	}
	for (i = 0; i < img->nnodes; i++) {
		const struct pg_node_out *n = &img->nodes[i];

		fprintf(f, "node %u %" PRIu64 " %d ", n->node, n->cgid, n->level);
		put_esc(f, n->path);
		fputc('\n', f);
	}
	for (i = 0; i < img->nunmatched; i++) {
		fputs("unmatched ", f);
		put_esc(f, img->unmatched[i]);
		fputc('\n', f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *unesc(const char *s, size_t n)
{
	char *out = malloc(n + 1), *d = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			*d++ = s[i] == 'n' ? '\n' : s[i];
		} else {
			*d++ = s[i];
		}
	}
	*d = 0;
	return out;
}

static int push(void **v, size_t *n, size_t elem)
{
	void *nv = realloc(*v, (*n + 1) * elem);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	memset((char *)nv + *n * elem, 0, elem);
	(*n)++;
	return 0;
}

/* Split off the first n space-separated fields; *rest is the remainder. */
static int fields(const char *line, size_t len, unsigned long long *out, int n, const char **rest,
		  size_t *restlen)
{
	const char *p = line, *end = line + len;
	int i;

	for (i = 0; i < n; i++) {
		char *e;

		if (p >= end)
			return -EPROTO;
		errno = 0;
		out[i] = strtoull(p, &e, 10);
		if (e == p || errno || e > end || (e < end && *e != ' '))
			return -EPROTO;
		p = e < end ? e + 1 : e;
	}
	*rest = p;
	*restlen = (size_t)(end - p);
	return 0;
}

/*
 * In the image the text is deflated (zlib, already a dependency of libbpf):
 * "PGMZ", the text's length and the deflated length as 32-bit little-endian
 * numbers, then the deflated bytes. Rule texts repeat their selectors, so a
 * policy's meta shrinks about tenfold and stays a small part of its map.
 */
int pg_meta_pack(const char *text, size_t len, char **out, size_t *outlen)
{
	uLongf zlen = compressBound((uLong)len);
	unsigned char *buf = malloc(12 + zlen);
	int i;

	if (!buf || len > UINT32_MAX)
		return free(buf), -ENOMEM;
	if (compress2(buf + 12, &zlen, (const Bytef *)text, (uLong)len, 1) != Z_OK) {
		free(buf);
		return -EIO;
	}
	memcpy(buf, "PGMZ", 4);
	for (i = 0; i < 4; i++) {
		buf[4 + i] = (unsigned char)(len >> (8 * i));
		buf[8 + i] = (unsigned char)(zlen >> (8 * i));
	}
	*out = (char *)buf;
	*outlen = 12 + zlen;
	return 0;
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int parse_text(const char *s, const char *end, struct pg_meta *m);

int pg_meta_parse(const union pg_block *blocks, uint32_t nblocks, struct pg_meta *m)
{
	const struct pg_hdr *h = &blocks[0].hdr;
	const unsigned char *z;
	size_t avail;
	uLongf tlen;
	uint32_t raw, zlen;
	char *text;
	int err;

	memset(m, 0, sizeof(*m));
	if (h->meta_off >= nblocks)
		return -EPROTO;
	z = (const unsigned char *)&blocks[h->meta_off];
	avail = (size_t)(nblocks - h->meta_off) * sizeof(*blocks);
	if (avail < 12 || memcmp(z, "PGMZ", 4))
		return -EPROTO;
	raw = le32(z + 4);
	zlen = le32(z + 8);
	if (zlen > avail - 12 || raw > (64u << 20))
		return -EPROTO;
	text = malloc((size_t)raw + 1);
	if (!text)
		return -ENOMEM;
	tlen = raw;
	if (uncompress((Bytef *)text, &tlen, z + 12, zlen) != Z_OK || tlen != raw) {
		free(text);
		return -EPROTO;
	}
	text[raw] = 0;
	err = parse_text(text, text + raw, m);
	free(text);
	return err;
}

static int parse_text(const char *s, const char *end, struct pg_meta *m)
{
	const char *line;
	int err = 0;

	if ((size_t)(end - s) < 14 || strncmp(s, "portgate-meta ", 14))
		return -EPROTO;
	for (line = s; line < end && !err;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)) ?: end, *sp, *rest;
		size_t len = (size_t)(nl - line), klen, rlen;
		unsigned long long f[4];

		sp = memchr(line, ' ', len);
		klen = sp ? (size_t)(sp - line) : len;
		rest = sp ? sp + 1 : nl;
		rlen = (size_t)(nl - rest);
#define KEY(k) (klen == sizeof(k) - 1 && !memcmp(line, k, klen))
		if (KEY("gen"))
			m->gen = strtoull(rest, NULL, 10);
		else if (KEY("time"))
			m->time = strtoull(rest, NULL, 10);
		else if (KEY("hash"))
			snprintf(m->hash, sizeof(m->hash), "%.*s", (int)rlen, rest);
		else if (KEY("source"))
			m->source = unesc(rest, rlen);
		else if (KEY("mode"))
			m->mode = unesc(rest, rlen);
		else if (KEY("reason"))
			m->reason = unesc(rest, rlen);
		else if (KEY("attach"))
			m->attach = unesc(rest, rlen);
		else if (KEY("transitional"))
			m->transitional = true;
		else if (KEY("file")) {
			if (!(err = fields(rest, rlen, f, 1, &rest, &rlen)) &&
			    !(err = push((void **)&m->files, &m->nfiles, sizeof(*m->files))))
				m->files[m->nfiles - 1] = unesc(rest, rlen);
		} else if (KEY("rule")) {
			if (!(err = fields(rest, rlen, f, 4, &rest, &rlen)) &&
			    !(err = push((void **)&m->rules, &m->nrules, sizeof(*m->rules)))) {
				struct pg_meta_rule *r = &m->rules[m->nrules - 1];

				r->file = (uint32_t)f[1];
				r->line = (uint32_t)f[2];
				r->col = (uint32_t)f[3];
				r->text = unesc(rest, rlen);
			}
		} else if (KEY("node")) {
			if (!(err = fields(rest, rlen, f, 3, &rest, &rlen)) &&
			    !(err = push((void **)&m->nodes, &m->nnodes, sizeof(*m->nodes)))) {
				struct pg_meta_node *n = &m->nodes[m->nnodes - 1];

				n->node = (uint32_t)f[0];
				n->cgid = f[1];
				n->level = (int)f[2];
				n->path = unesc(rest, rlen);
			}
		} else if (KEY("unmatched")) {
			if (!(err = push((void **)&m->unmatched, &m->nunmatched,
					 sizeof(*m->unmatched))))
				m->unmatched[m->nunmatched - 1] = unesc(rest, rlen);
		}
#undef KEY
		line = nl + 1;
	}
	if (err)
		pg_meta_free(m);
	return err;
}

void pg_meta_free(struct pg_meta *m)
{
	size_t i;

	free(m->source);
	free(m->mode);
	free(m->reason);
	free(m->attach);
	for (i = 0; i < m->nfiles; i++)
		free(m->files[i]);
	free(m->files);
	for (i = 0; i < m->nrules; i++)
		free(m->rules[i].text);
	free(m->rules);
	for (i = 0; i < m->nnodes; i++)
		free(m->nodes[i].path);
	free(m->nodes);
	for (i = 0; i < m->nunmatched; i++)
		free(m->unmatched[i]);
	free(m->unmatched);
	memset(m, 0, sizeof(*m));
}

const char *pg_meta_token(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t o = 0;

	while (*s == ' ')
		s++;
	if (!*s)
		return NULL;
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
				s++;
			if (o + 1 < len)
				out[o++] = *s;
		}
		if (*s == '"')
			s++;
	} else {
		for (; *s && *s != ' '; s++)
			if (o + 1 < len)
				out[o++] = *s;
	}
	out[o] = 0;
	*p = s;
	return out;
}

void pg_meta_rule_fields(const char *text, struct pg_rule_fields *f)
{
	const char *p = text;
	char tok[sizeof(f->conditions)];
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	pg_meta_token(&p, f->action, sizeof(f->action));
	pg_meta_token(&p, f->selector, sizeof(f->selector));
	pg_meta_token(&p, f->ports, sizeof(f->ports));
	while (n + 1 < sizeof(f->conditions) && pg_meta_token(&p, tok, sizeof(tok)))
		n += (size_t)snprintf(f->conditions + n, sizeof(f->conditions) - n, "%s%s",
				      n ? " " : "", tok);
}

pg_rule_id_t *pg_meta_rule_ids(const struct pg_meta *m)
{
	pg_rule_id_t *ids = calloc(m->nrules ? m->nrules : 1, sizeof(*ids));
	struct pg_rule_fields *f = malloc(sizeof(*f)); /* 9 KiB: not on the stack */
	size_t i;

	for (i = 0; ids && f && i < m->nrules; i++) {
		pg_meta_rule_fields(m->rules[i].text, f);
		pg_rule_id(f, ids[i]);
	}
	if (!f) {
		free(ids);
		ids = NULL;
	}
	free(f);
	return ids;
}
