// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kube_config.c - in-cluster service account configuration and kubeconfig
 * files (read with libyaml's document API), and how a libcurl handle uses
 * them.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "kube_config.h"

/* A kubeconfig, a token or a PEM file is never near this big. */
#define KUBE_FILE_MAX (4u << 20)

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Read a whole file (at most KUBE_FILE_MAX) into a NUL-terminated buffer. */
static int read_all(const char *path, char **out, size_t *len, struct stat *st)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		ret = -errno;
		goto cleanup;
	}
	buf = malloc(KUBE_FILE_MAX + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while ((r = read(fd, buf + n, KUBE_FILE_MAX - n)) > 0)
		n += r;
	if (r < 0) {
		ret = -errno;
		goto cleanup;
	}
	if (n == KUBE_FILE_MAX) {
		ret = -EFBIG;
		goto cleanup;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return ret;
}

/* A token file's bytes without the trailing newline kubectl also drops. */
static int read_token(struct kube_config *c, char *err, size_t errlen)
{
	struct stat st;
	size_t len;
	char *tok;
	int ret;

	ret = read_all(c->token_file, &tok, &len, &st);
	if (ret < 0)
		return fail(err, errlen, ret, "cannot read token file %s: %s", c->token_file,
			    strerror(-ret));
	while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
		tok[--len] = '\0';
	if (!len) {
		free(tok);
		return fail(err, errlen, -EINVAL, "token file %s is empty", c->token_file);
	}
	free(c->token);
	c->token = tok;
	c->token_dev = st.st_dev;
	c->token_ino = st.st_ino;
	c->token_mtime = st.st_mtim;
	c->token_size = st.st_size;
	return 0;
}

int kube_config_reload_token(struct kube_config *c, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (!c->token_file)
		return 0;
	if (stat(c->token_file, &st) < 0)
		return fail(err, errlen, -errno, "cannot read token file %s: %s", c->token_file,
			    strerror(errno));
	if (st.st_dev == c->token_dev && st.st_ino == c->token_ino && st.st_size == c->token_size &&
	    st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_mtime.tv_nsec)
		return 0;
	ret = read_token(c, err, errlen);
	return ret < 0 ? ret : 1;
}

int kube_config_in_cluster(struct kube_config *c, const char *sa_dir, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[PATH_MAX];
	int ret;

	memset(c, 0, sizeof(*c));
	if (!host || !*host || !port || !*port)
		return fail(err, errlen, -ENOENT,
			    "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	/* An IPv6 service address needs brackets in a URL. */
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port) < 0)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	c->ca_file = strdup(path);
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	c->token_file = strdup(path);
	if (!c->ca_file || !c->token_file) {
		kube_config_free(c);
		return -ENOMEM;
	}
	if (access(c->ca_file, R_OK) < 0) {
		ret = fail(err, errlen, -errno, "cannot read %s: %s", c->ca_file, strerror(errno));
		kube_config_free(c);
		return ret;
	}
	ret = read_token(c, err, errlen);
	if (ret < 0)
		kube_config_free(c);
	return ret;
}

/* --- kubeconfig ----------------------------------------------------------- */

struct kc {
	yaml_document_t doc;
	const char *path;
	char dir[PATH_MAX];
	char *err;
	size_t errlen;
};

static yaml_node_t *map_get(struct kc *k, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(&k->doc, p->key);

		if (kn && kn->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)kn->data.scalar.value, key))
			return yaml_document_get_node(&k->doc, p->value);
	}
	return NULL;
}

/* A scalar's text, NULL when absent, not a scalar, or empty. */
static const char *map_str(struct kc *k, yaml_node_t *map, const char *key)
{
	yaml_node_t *n = map_get(k, map, key);

	if (!n || n->type != YAML_SCALAR_NODE || !n->data.scalar.length)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* In the list at root[list], the item named name, and its field (e.g. "cluster"). */
static yaml_node_t *named(struct kc *k, const char *list, const char *name, const char *field)
{
	yaml_node_t *seq = map_get(k, yaml_document_get_root_node(&k->doc), list);
	yaml_node_item_t *i;

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(&k->doc, *i);
		const char *n = map_str(k, item, "name");

		if (n && !strcmp(n, name))
			return map_get(k, item, field);
	}
	return NULL;
}

/* A file name from the kubeconfig, relative to its directory. */
static int kc_path(struct kc *k, const char *name, char **out)
{
	if (!name)
		return 0;
	if (name[0] == '/')
		*out = strdup(name);
	else if (asprintf(out, "%s/%s", k->dir, name) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Standard base64 with padding, whitespace ignored; the *-data fields. */
static int b64_decode(const char *in, char **out, size_t *outlen)
{
	size_t n = 0, len = strlen(in);
	unsigned acc = 0, bits = 0;
	char *buf = malloc(len / 4 * 3 + 4);

	if (!buf)
		return -ENOMEM;
	for (; *in && *in != '='; in++) {
		int v = b64val((unsigned char)*in);

		if (v < 0) {
			if (*in == ' ' || *in == '\n' || *in == '\r' || *in == '\t')
				continue;
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* A file field and its -data twin (certificate-authority, client-key, ...). */
static int kc_pem(struct kc *k, yaml_node_t *map, const char *field, char **file, char **pem,
		  size_t *pem_len)
{
	char datakey[64];
	const char *data;
	int ret;

	snprintf(datakey, sizeof(datakey), "%s-data", field);
	data = map_str(k, map, datakey);
	if (data) {
		ret = b64_decode(data, pem, pem_len);
		if (ret < 0)
			return fail(k->err, k->errlen, ret, "%s: %s is not valid base64", k->path,
				    datakey);
		return 0;
	}
	ret = kc_path(k, map_str(k, map, field), file);
	if (ret < 0)
		return ret;
	if (*file && access(*file, R_OK) < 0)
		return fail(k->err, k->errlen, -errno, "%s: %s %s: %s", k->path, field, *file,
			    strerror(errno));
	return 0;
}

static int kc_user(struct kc *k, struct kube_config *c, yaml_node_t *user)
{
	const char *tok = map_str(k, user, "token");
	int ret;

	if (map_get(k, user, "exec") || map_get(k, user, "auth-provider"))
		return fail(
		    k->err, k->errlen, -EOPNOTSUPP,
		    "%s: exec and auth-provider credentials are not supported; use a token, "
		    "tokenFile or a client certificate",
		    k->path);
	if (tok) {
		c->token = strdup(tok);
		if (!c->token)
			return -ENOMEM;
	} else {
		ret = kc_path(k, map_str(k, user, "tokenFile"), &c->token_file);
		if (ret < 0)
			return ret;
		if (c->token_file) {
			ret = read_token(c, k->err, k->errlen);
			if (ret < 0)
				return ret;
		}
	}
	ret = kc_pem(k, user, "client-certificate", &c->cert_file, &c->cert_pem, &c->cert_pem_len);
	if (ret < 0)
		return ret;
	ret = kc_pem(k, user, "client-key", &c->key_file, &c->key_pem, &c->key_pem_len);
	if (ret < 0)
		return ret;
	if (!(c->cert_file || c->cert_pem) != !(c->key_file || c->key_pem))
		return fail(k->err, k->errlen, -EINVAL,
			    "%s: a client certificate needs its key, and a key its certificate",
			    k->path);
	return 0;
}

/* The current context's cluster and user, into c. */
static int kc_read(struct kc *k, struct kube_config *c, bool allow_insecure)
{
	yaml_node_t *root = yaml_document_get_root_node(&k->doc);
	const char *cur, *cluster_name, *user_name, *server, *insecure;
	yaml_node_t *ctx, *cluster, *user;
	int ret;

	cur = map_str(k, root, "current-context");
	if (!cur)
		return fail(k->err, k->errlen, -EINVAL, "%s: no current-context", k->path);
	ctx = named(k, "contexts", cur, "context");
	if (!ctx)
		return fail(k->err, k->errlen, -EINVAL, "%s: context \"%s\" not found", k->path,
			    cur);
	cluster_name = map_str(k, ctx, "cluster");
	user_name = map_str(k, ctx, "user");
	cluster = cluster_name ? named(k, "clusters", cluster_name, "cluster") : NULL;
	if (!cluster)
		return fail(k->err, k->errlen, -EINVAL,
			    "%s: context \"%s\": cluster \"%s\" not found", k->path, cur,
			    cluster_name ? cluster_name : "");
	server = map_str(k, cluster, "server");
	if (!server || strncmp(server, "https://", 8))
		return fail(k->err, k->errlen, -EINVAL,
			    "%s: cluster \"%s\": server must be an https:// URL", k->path,
			    cluster_name);
	c->server = strdup(server);
	if (!c->server)
		return -ENOMEM;
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	insecure = map_str(k, cluster, "insecure-skip-tls-verify");
	if (insecure && !strcmp(insecure, "true")) {
		if (!allow_insecure)
			return fail(k->err, k->errlen, -EPERM,
				    "%s: cluster \"%s\": insecure-skip-tls-verify refused: the "
				    "server's certificate would not be checked",
				    k->path, cluster_name);
		c->insecure = true;
	}
	ret = kc_pem(k, cluster, "certificate-authority", &c->ca_file, &c->ca_pem, &c->ca_pem_len);
	if (ret < 0)
		return ret;
	user = user_name ? named(k, "users", user_name, "user") : NULL;
	if (user_name && !user)
		return fail(k->err, k->errlen, -EINVAL, "%s: context \"%s\": user \"%s\" not found",
			    k->path, cur, user_name);
	return user ? kc_user(k, c, user) : 0;
}

int kube_config_load(struct kube_config *c, const char *path, bool allow_insecure, char *err,
		     size_t errlen)
{
	struct kc k = { .path = path, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	struct stat st;
	char *text = NULL, *slash;
	size_t len;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = read_all(path, &text, &len, &st);
	if (ret < 0)
		return fail(err, errlen, ret, "cannot read kubeconfig %s: %s", path,
			    strerror(-ret));
	snprintf(k.dir, sizeof(k.dir), "%s", path);
	slash = strrchr(k.dir, '/');
	if (slash)
		*(slash == k.dir ? slash + 1 : slash) = '\0';
	else
		snprintf(k.dir, sizeof(k.dir), ".");

	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &k.doc)) {
		ret = fail(err, errlen, -EINVAL, "%s:%zu:%zu: %s", path,
			   parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			   parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		free(text);
		return ret;
	}
	if (!yaml_document_get_root_node(&k.doc))
		ret = fail(err, errlen, -EINVAL, "%s: empty kubeconfig", path);
	else
		ret = kc_read(&k, c, allow_insecure);
	yaml_document_delete(&k.doc);
	yaml_parser_delete(&parser);
	free(text);
	if (ret < 0)
		kube_config_free(c);
	return ret;
}

/* --- applying it ---------------------------------------------------------- */

int kube_config_curl(const struct kube_config *c, CURL *e)
{
	struct curl_blob blob = { .flags = CURL_BLOB_COPY };
	CURLcode r = CURLE_OK;

	if (c->ca_pem) {
		blob.data = c->ca_pem;
		blob.len = c->ca_pem_len;
		r = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->ca_file) {
		r = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (!r && c->cert_pem) {
		blob.data = c->cert_pem;
		blob.len = c->cert_pem_len;
		r = curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
	} else if (!r && c->cert_file) {
		r = curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	}
	if (!r && c->key_pem) {
		blob.data = c->key_pem;
		blob.len = c->key_pem_len;
		r = curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
	} else if (!r && c->key_file) {
		r = curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	}
	if (!r && c->insecure) {
		r = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		if (!r)
			r = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!r && c->token) {
		r = curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		if (!r)
			r = curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, c->token);
	}
	return r ? -EINVAL : 0;
}

void kube_config_free(struct kube_config *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_pem);
	free(c->key_pem);
	memset(c, 0, sizeof(*c));
}
