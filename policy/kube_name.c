// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kube_name.c - Kubernetes names as the API server checks them
 * (k8s.io/apimachinery/pkg/api/validate/content: IsDNS1123Label,
 * IsLabelKey, IsLabelValue), with the offset of the first bad byte and a
 * hint, for portgate check's diagnostics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kube_name.h"

int pg_kube_fail(struct pg_kube_err *err, size_t off, const char *hint, const char *fmt, ...)
{
	va_list ap;

	err->off = off;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->hint, sizeof(err->hint), "%s", hint ? hint : "");
	return -EINVAL;
}

/* --- names, as the API server checks them ------------------------------------ */

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_name_mid(int c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

static bool is_dns_mid(int c)
{
	return is_lower_alnum(c) || c == '-';
}

/* One kind of name: which bytes it may hold at its ends and in between. */
struct word {
	const char *what; /* "namespace", "label value", ... */
	size_t max;
	bool (*edge)(int c);
	bool (*mid)(int c);
	const char *hint;
};

static const struct word ns_word = {
	"namespace", PG_KUBE_MAX_NAME, is_lower_alnum, is_dns_mid,
	"a namespace is a DNS-1123 label: at most 63 lower case letters, digits and '-', "
	"starting and ending with a letter or digit"
};
static const struct word key_word = {
	"label name", PG_KUBE_MAX_NAME, is_alnum, is_name_mid,
	"a label name is at most 63 letters, digits, '-', '_' and '.', starting and ending "
	"with a letter or digit, after an optional DNS prefix and '/' (e.g. app.kubernetes.io/name)"
};
static const struct word value_word = {
	"label value", PG_KUBE_MAX_NAME, is_alnum, is_name_mid,
	"a label value is empty or at most 63 letters, digits, '-', '_' and '.', starting and "
	"ending with a letter or digit"
};
static const struct word prefix_word = {
	"label key prefix", PG_KUBE_MAX_PREFIX, is_lower_alnum, is_dns_mid,
	"a label key prefix is a DNS subdomain: at most 253 lower case letters, digits, '-' and "
	"'.', each part starting and ending with a letter or digit"
};

/* A byte for a message: itself when printable ASCII, else its value. */
static const char *show_byte(int c, char buf[8])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", (unsigned int)(unsigned char)c);
	return buf;
}

/* Is s[0..len) a w? The error's offset is base plus the bad byte's. */
static int check_word(const struct word *w, const char *s, size_t len, size_t base,
		      struct pg_kube_err *err)
{
	char b[8];
	size_t i;

	if (!len)
		return pg_kube_fail(err, base, w->hint, "empty %s", w->what);
	if (len > w->max)
		return pg_kube_fail(err, base + w->max, w->hint,
				    "%s '%.40s...' is %zu bytes, more than %zu", w->what, s, len,
				    w->max);
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		bool edge = i == 0 || i == len - 1;

		if (edge ? w->edge(c) : w->mid(c))
			continue;
		if (w->mid(c))
			return pg_kube_fail(err, base + i, w->hint,
					    "%s '%.*s' must %s with a letter or digit", w->what,
					    (int)len, s, i ? "end" : "start");
		if (c == '\\' || c == '"')
			return pg_kube_fail(err, base + i,
					    "quotes hold the whole selector, not a part of it",
					    "invalid character %s in %s '%.*s'", show_byte(c, b),
					    w->what, (int)len, s);
		return pg_kube_fail(err, base + i, w->hint, "invalid character %s in %s '%.*s'",
				    show_byte(c, b), w->what, (int)len, s);
	}
	return 0;
}

int pg_kube_ns_check(const char *s, size_t len, struct pg_kube_err *err)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return pg_kube_fail(err, i, "Kubernetes namespaces are lower case",
					    "invalid namespace '%.*s': upper case letter '%c'",
					    (int)len, s, s[i]);
	return check_word(&ns_word, s, len, 0, err);
}

/* A DNS-1123 subdomain: dot-separated DNS labels, 253 bytes in all. */
static int check_prefix(const char *s, size_t len, struct pg_kube_err *err)
{
	size_t i, start = 0;
	int rc;

	if (!len)
		return pg_kube_fail(err, 0, prefix_word.hint, "empty label key prefix before '/'");
	if (len > PG_KUBE_MAX_PREFIX)
		return pg_kube_fail(err, PG_KUBE_MAX_PREFIX, prefix_word.hint,
				    "label key prefix is %zu bytes, more than %d", len,
				    PG_KUBE_MAX_PREFIX);
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (i == start)
			return pg_kube_fail(err, i, prefix_word.hint,
					    "empty part in label key prefix '%.*s'", (int)len, s);
		rc = check_word(&prefix_word, s + start, i - start, start, err);
		if (rc)
			return rc;
		start = i + 1;
	}
	return 0;
}

int pg_kube_key_check(const char *s, size_t len, struct pg_kube_err *err)
{
	const char *slash = memchr(s, '/', len), *second;
	size_t p;
	int rc;

	if (!slash)
		return check_word(&key_word, s, len, 0, err);
	p = (size_t)(slash - s);
	second = memchr(slash + 1, '/', len - p - 1);
	if (second)
		return pg_kube_fail(err, (size_t)(second - s), key_word.hint,
				    "label key '%.*s' has more than one '/'", (int)len, s);
	rc = check_prefix(s, p, err);
	if (rc)
		return rc;
	return check_word(&key_word, slash + 1, len - p - 1, p + 1, err);
}

int pg_kube_value_check(const char *s, size_t len, struct pg_kube_err *err)
{
	return len ? check_word(&value_word, s, len, 0, err) : 0;
}

/*
 * Go's strconv.ParseInt(s, 10, 64): an optional sign, then decimal digits
 * only, in range. The > and < operators compare label values so.
 */
bool pg_kube_int64(const char *s, size_t len, long long *out)
{
	unsigned long long v = 0, lim = (unsigned long long)INT64_MAX;
	bool neg = false;
	size_t i = 0;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
		lim += neg;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		unsigned int d = (unsigned int)(unsigned char)s[i] - '0';

		if (d > 9 || v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}
