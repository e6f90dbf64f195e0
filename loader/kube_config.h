/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * kube_config.h - where the Kubernetes API server is and how to prove who we
 * are to it: in-cluster service account files, or a kubeconfig file.
 *
 * Functions return 0 or -errno; on failure they write one line saying what
 * and where into err (when not NULL).
 */
#ifndef PORTGATE_KUBE_CONFIG_H
#define PORTGATE_KUBE_CONFIG_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The service account directory kubelet mounts into every pod. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
	char *server; /* "https://host:port", no trailing slash */
	/* The CA that signs the server's certificate: a file or PEM bytes. */
	char *ca_file;
	char *ca_pem;
	size_t ca_pem_len;
	/* A bearer token, either fixed or read from token_file (see below). */
	char *token;
	char *token_file;
	/* Or a client certificate and key: files or PEM bytes. */
	char *cert_file, *key_file;
	char *cert_pem, *key_pem;
	size_t cert_pem_len, key_pem_len;
	bool insecure; /* insecure-skip-tls-verify, only when allowed */
	/* token_file as last read, to read it again only when it changed */
	dev_t token_dev;
	ino_t token_ino;
	struct timespec token_mtime;
	off_t token_size;
};

/*
 * In-cluster configuration: the server from KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT, token and ca.crt from sa_dir (KUBE_SA_DIR when
 * NULL). -ENOENT when the variables are not set.
 */
int kube_config_in_cluster(struct kube_config *c, const char *sa_dir, char *err, size_t errlen);

/*
 * The current context of the kubeconfig at path. Relative file names in it
 * are taken from the kubeconfig's directory, as kubectl does.
 * insecure-skip-tls-verify is refused (-EPERM) unless allow_insecure.
 */
int kube_config_load(struct kube_config *c, const char *path, bool allow_insecure, char *err,
		     size_t errlen);

/*
 * Read token_file again if it changed since the last read (kubelet rotates
 * projected tokens by replacing the file). 1 if the token changed, 0 if not
 * (or there is no token file), -errno if it cannot be read; the old token
 * stays then.
 */
int kube_config_reload_token(struct kube_config *c, char *err, size_t errlen);

/*
 * Set c's CA, client certificate and bearer token on a libcurl easy handle
 * (PEM bytes are copied). -EINVAL if libcurl refuses one.
 */
int kube_config_curl(const struct kube_config *c, CURL *e);

void kube_config_free(struct kube_config *c);

#endif
