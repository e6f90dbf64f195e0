// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * fuzz_kube_sel.c - libFuzzer target for the path from a pod object to a
 * selector match: parse a pod selector, match it against a pod's namespace
 * and labels, and map the pod's UID to its cgroup and back.
 *
 * Input: fields separated by NUL bytes:
 *   SELECTOR \0 NAMESPACE \0 UID \0 KEY=VALUE \0 KEY=VALUE ...
 * (a label without '=' has the empty value; of labels with the same key
 * the first counts, as the API server keeps one per key).
 *
 * Checks, beyond the sanitizers:
 * - a refused selector's error points inside it and says something;
 * - an accepted one holds only names the API server accepts, sorted, and its
 *   canonical form parses back to itself and matches the same pods;
 * - pg_kube_sel_match() agrees with the reference evaluator below, written
 *   from Kubernetes' Requirement.Matches without sharing code with it;
 * - a pod matches the selector made of its own (valid) labels and namespace,
 *   and fails it when one of them is negated;
 * - a UID's cgroup path under each driver and QoS class reads back to it.
 * FUZZ_KUBE_VERBOSE=1 prints what one input does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_path.h"
#include "kube_sel.h"

#define MAX_LABELS 64

static bool verbose;

struct pod {
	const char *sel, *ns, *uid;
	size_t sel_len;
	struct pg_kube_label labels[MAX_LABELS];
	size_t n;
};

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_kube_sel: %s: ", #cond);                             \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Split buf (NUL-terminated copy of the input, len bytes) into a pod. */
static void split(char *buf, size_t len, struct pod *p)
{
	char *end = buf + len, *f, *next, *eq;
	size_t i, field = 0;

	memset(p, 0, sizeof(*p));
	p->ns = p->uid = "";
	for (f = buf; f <= end && p->n < MAX_LABELS; f = next, field++) {
		next = f + strlen(f) + 1; /* before the label is cut at its '=' */
		if (field == 0) {
			p->sel = f;
			p->sel_len = strlen(f);
		} else if (field == 1) {
			p->ns = f;
		} else if (field == 2) {
			p->uid = f;
		} else {
			eq = strchr(f, '=');
			if (eq)
				*eq = '\0';
			for (i = 0; i < p->n && strcmp(p->labels[i].key, f); i++)
				;
			if (i < p->n)
				continue;
			p->labels[p->n++] = (struct pg_kube_label){ f, eq ? eq + 1 : "" };
		}
	}
}

/* --- the reference evaluator ---------------------------------------------------- */

/* A decimal int64 as Go's ParseInt(s, 10, 64) reads it, through strtoll. */
static bool ref_int(const char *s, long long *v)
{
	const char *d = s + (*s == '+' || *s == '-');
	char *end;

	if (*d < '0' || *d > '9')
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !errno && !*end;
}

static bool ref_req(const struct pg_kube_req *r, const struct pod *p)
{
	const char *v = NULL;
	bool in = false;
	long long x, y;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->labels[i].key, r->key))
			v = p->labels[i].value;
	for (i = 0; v && i < r->nvalues; i++)
		in |= !strcmp(r->values[i], v);
	switch (r->op) {
	case PG_KUBE_EQ:
	case PG_KUBE_DEQ:
	case PG_KUBE_IN:
		return in;
	case PG_KUBE_NE:
	case PG_KUBE_NOTIN:
		return !in;
	case PG_KUBE_EXISTS:
		return v;
	case PG_KUBE_NOT_EXISTS:
		return !v;
	case PG_KUBE_GT:
	case PG_KUBE_LT:
		CHECK(r->nvalues == 1 && ref_int(r->values[0], &y), "%s: bad number", r->key);
		if (!v || !ref_int(v, &x))
			return false;
		return r->op == PG_KUBE_GT ? x > y : x < y;
	}
	CHECK(0, "operator %d", (int)r->op);
	return false;
}

static bool ref_match(const struct pg_kube_sel *s, const struct pod *p)
{
	size_t i;

	if (s->ns && strcmp(s->ns, p->ns))
		return false;
	for (i = 0; i < s->nreqs; i++)
		if (!ref_req(&s->reqs[i], p))
			return false;
	return true;
}

/* --- the checks ---------------------------------------------------------------- */

static void check_shape(const struct pg_kube_sel *s)
{
	struct pg_kube_err err;
	size_t i, j;

	CHECK(!s->ns || !pg_kube_ns_check(s->ns, strlen(s->ns), &err), "ns %s", s->ns);
	for (i = 0; i < s->nreqs; i++) {
		const struct pg_kube_req *r = &s->reqs[i];

		CHECK(!pg_kube_key_check(r->key, strlen(r->key), &err), "key %s", r->key);
		CHECK(!i || strcmp(s->reqs[i - 1].key, r->key) <= 0, "unsorted %s", r->key);
		CHECK((r->op == PG_KUBE_EXISTS || r->op == PG_KUBE_NOT_EXISTS) == !r->nvalues,
		      "%s: %zu values", r->key, r->nvalues);
		for (j = 0; j < r->nvalues; j++) {
			CHECK(!pg_kube_value_check(r->values[j], strlen(r->values[j]), &err),
			      "value %s", r->values[j]);
			CHECK(!j || strcmp(r->values[j - 1], r->values[j]) < 0, "values of %s",
			      r->key);
		}
	}
}

/* The canonical form parses to itself and selects the same pods. */
static void check_canonical(const struct pg_kube_sel *s, const struct pod *p, bool match)
{
	struct pg_kube_sel again;
	struct pg_kube_err err;
	char *str = pg_kube_sel_str(s), *str2;

	if (!str)
		return;
	CHECK(!pg_kube_sel_parse(str, strlen(str), &again, &err), "'%s': %s", str, err.msg);
	str2 = pg_kube_sel_str(&again);
	CHECK(!str2 || !strcmp(str, str2), "'%s' became '%s'", str, str2);
	CHECK(pg_kube_sel_match(&again, p->ns, p->labels, p->n) == match, "'%s'", str);
	if (verbose)
		fprintf(stderr, "canonical: %s\n", str);
	free(str2);
	free(str);
	pg_kube_sel_free(&again);
}

/* A pod matches "pod:NS/k=v,..." of its own labels, and not with one
 * of them negated ("k!=v"). */
static void check_own_labels(const struct pod *p)
{
	struct pg_kube_err err;
	struct pg_kube_sel s;
	char *buf = NULL;
	size_t len = 0, i, n = 0, neg;
	FILE *f;

	if (pg_kube_ns_check(p->ns, strlen(p->ns), &err))
		return;
	for (neg = 0; neg <= p->n; neg++) {
		f = open_memstream(&buf, &len);
		if (!f)
			return;
		fprintf(f, "pod:%s", p->ns);
		for (i = n = 0; i < p->n; i++) {
			const struct pg_kube_label *l = &p->labels[i];

			if (pg_kube_key_check(l->key, strlen(l->key), &err) ||
			    pg_kube_value_check(l->value, strlen(l->value), &err))
				continue;
			fprintf(f, "%c%s%s%s", n++ ? ',' : '/', l->key, i == neg ? "!=" : "=",
				l->value);
		}
		if (fclose(f) || !n || len > PG_KUBE_MAX_SEL ||
		    (neg < p->n && !strstr(buf, "!="))) {
			free(buf);
			continue;
		}
		CHECK(!pg_kube_sel_parse(buf, len, &s, &err), "'%s': %s", buf, err.msg);
		CHECK(pg_kube_sel_match(&s, p->ns, p->labels, p->n) == (neg == p->n), "'%s'", buf);
		pg_kube_sel_free(&s);
		free(buf);
	}
}

static void check_paths(const struct pod *p)
{
	static const char *const roots[] = { NULL, "/kubelet.slice/kubelet-kubepods.slice" };
	char path[PG_KUBE_MAX_ROOT + 256], uid[PG_KUBE_MAX_UID + 1];
	struct pg_kube_layout l;
	enum pg_kube_qos q, back;
	int d, r;

	for (d = PG_KUBE_SYSTEMD; d <= PG_KUBE_CGROUPFS; d++) {
		for (r = 0; r < 2; r++) {
			CHECK(!pg_kube_layout_init(
				  &l, d, roots[r] && d == PG_KUBE_SYSTEMD ? roots[r] : NULL),
			      "layout");
			for (q = PG_KUBE_GUARANTEED; q <= PG_KUBE_BESTEFFORT; q++) {
				if (pg_kube_pod_path(&l, p->uid, q, path, sizeof(path)))
					continue;
				CHECK(!pg_kube_path_pod(&l, path, uid, sizeof(uid), &back), "%s",
				      path);
				CHECK(!strcmp(uid, p->uid) && back == q, "%s: %s", path, uid);
			}
			/* and any cgroup path at all reads as some pod, or none */
			if (!pg_kube_path_pod(&l, p->sel, uid, sizeof(uid), &back))
				CHECK(!pg_kube_pod_path(&l, uid, back, path, sizeof(path)) &&
					  !strncmp(p->sel, path, strlen(path)),
				      "%s", p->sel);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct pg_kube_err err = { 0 };
	struct pg_kube_sel s;
	struct pod p;
	bool m;
	int rc;

	if (!buf)
		return 0;
	verbose = getenv("FUZZ_KUBE_VERBOSE") != NULL;
	memcpy(buf, data, size);
	buf[size] = '\0';
	split(buf, size, &p);

	rc = pg_kube_sel_parse(p.sel, p.sel_len, &s, &err);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -ENOMEM, "rc %d", rc);
		CHECK(rc != -EINVAL || (err.off <= p.sel_len && err.msg[0]), "off %zu of %zu",
		      err.off, p.sel_len);
		if (verbose)
			fprintf(stderr, "refused at %zu: %s; %s\n", err.off, err.msg, err.hint);
	} else {
		check_shape(&s);
		m = pg_kube_sel_match(&s, p.ns, p.labels, p.n);
		CHECK(m == ref_match(&s, &p), "match %d", m);
		if (verbose)
			fprintf(stderr, "%s\n", m ? "match" : "no match");
		check_canonical(&s, &p, m);
		pg_kube_sel_free(&s);
	}
	check_own_labels(&p);
	check_paths(&p);
	free(buf);
	return 0;
}
