// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kubewatch - the test driver of loader/kube_client.c: follows one node's
 * pods the way the agent will (a poll loop over the client's fds) and prints
 * one line per callback, for tests/kube/test_kube.py to read:
 *
 *	UPSERT NS/NAME UID QOS PHASE KEY=VALUE,...
 *	DELETE UID
 *	SYNC
 *	STATE connecting|connected|disconnected RV WHY
 *	LOG LINE
 *	EXIT reconnects=N pods=N rv=RV          (on SIGTERM or SIGINT)
 *
 *	kubewatch --kubeconfig FILE | --in-cluster SA_DIR  --node NAME
 *		[--allow-insecure] [--dump-config] [--watch-timeout S] [--grace S]
 *		[--list-timeout S] [--backoff MIN_MS,MAX_MS] [--max-event BYTES]
 *		[--max-list BYTES] [--limit N]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_client.h"

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	done = 1;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct kube_label *)a)->key, ((const struct kube_label *)b)->key);
}

static void pod_upsert(void *ctx, const struct kube_pod *p)
{
	struct kube_label *l = calloc(p->nlabels + 1, sizeof(*l));
	size_t i;

	if (!l)
		abort();
	if (p->nlabels)
		memcpy(l, p->labels, p->nlabels * sizeof(*l));
	qsort(l, p->nlabels, sizeof(*l), cmp_label);
	printf("UPSERT %s/%s %s %s %s ", p->ns, p->name, p->uid,
	       p->qos_class[0] ? p->qos_class : "-", p->phase[0] ? p->phase : "-");
	for (i = 0; i < p->nlabels; i++)
		printf("%s%s=%s", i ? "," : "", l[i].key, l[i].value);
	printf("%s\n", p->nlabels ? "" : "-");
	free(l);
}

static void pod_delete(void *ctx, const char *uid)
{
	printf("DELETE %s\n", uid);
}

static void sync_done(void *ctx)
{
	printf("SYNC\n");
}

static void conn_state(void *ctx, enum kube_conn st, const char *why, const char *rv)
{
	static const char *const names[] = { "connecting", "connected", "disconnected" };

	printf("STATE %s %s %s\n", names[st], rv[0] ? rv : "-", why);
}

static void log_line(void *ctx, const char *line)
{
	printf("LOG %s\n", line);
}

static void dump_config(const struct kube_config *c)
{
	printf("server %s\n", c->server);
	printf("ca %s\n", c->ca_pem ? "data" : c->ca_file ? c->ca_file : "-");
	printf("token %s\n", c->token ? c->token : "-");
	printf("token-file %s\n", c->token_file ? c->token_file : "-");
	printf("cert %s\n", c->cert_pem ? "data" : c->cert_file ? c->cert_file : "-");
	printf("key %s\n", c->key_pem ? "data" : c->key_file ? c->key_file : "-");
	printf("insecure %s\n", c->insecure ? "yes" : "no");
}

static int loop(struct kube_client *kc)
{
	struct pollfd fds[8];

	while (!done) {
		int n = kube_client_pollfds(kc, fds, 8);

		if (poll(fds, n, kube_client_timeout(kc)) < 0 && errno != EINTR) {
			perror("kubewatch: poll");
			return 1;
		}
		if (!done)
			kube_client_perform(kc, fds, n);
	}
	printf("EXIT reconnects=%u pods=%zu rv=%s\n", kube_client_reconnects(kc),
	       kube_client_npods(kc), kube_client_rv(kc));
	return 0;
}

/* Parse "A,B" into two unsigned values. */
static int parse_pair(const char *s, unsigned *a, unsigned *b)
{
	return sscanf(s, "%u,%u", a, b) == 2 ? 0 : -EINVAL;
}

struct args {
	const char *kubeconfig, *sa_dir, *node;
	bool insecure, dump;
	struct kube_client_opts o;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = { { "kubeconfig", required_argument, 0, 'k' },
					      { "in-cluster", required_argument, 0, 'i' },
					      { "node", required_argument, 0, 'n' },
					      { "allow-insecure", no_argument, 0, 'I' },
					      { "dump-config", no_argument, 0, 'd' },
					      { "watch-timeout", required_argument, 0, 'w' },
					      { "grace", required_argument, 0, 'g' },
					      { "list-timeout", required_argument, 0, 'l' },
					      { "backoff", required_argument, 0, 'b' },
					      { "max-event", required_argument, 0, 'e' },
					      { "max-list", required_argument, 0, 'L' },
					      { "limit", required_argument, 0, 'p' },
					      { 0 } };
	int c;

	kube_client_opts_default(&a->o);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->kubeconfig = optarg;
			break;
		case 'i':
			a->sa_dir = optarg;
			break;
		case 'n':
			a->node = optarg;
			break;
		case 'I':
			a->insecure = true;
			break;
		case 'd':
			a->dump = true;
			break;
		case 'w':
			a->o.watch_timeout_s = (unsigned)atoi(optarg);
			break;
		case 'g':
			a->o.idle_grace_s = (unsigned)atoi(optarg);
			break;
		case 'l':
			a->o.list_timeout_s = (unsigned)atoi(optarg);
			break;
		case 'e':
			a->o.max_event_bytes = strtoul(optarg, NULL, 0);
			break;
		case 'L':
			a->o.max_list_bytes = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			a->o.list_limit = (unsigned)atoi(optarg);
			break;
		case 'b':
			if (parse_pair(optarg, &a->o.backoff_min_ms, &a->o.backoff_max_ms) < 0)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	if ((!a->kubeconfig == !a->sa_dir) || (!a->node && !a->dump)) {
		fprintf(stderr,
			"usage: kubewatch --kubeconfig FILE | --in-cluster DIR --node NAME\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct kube_callbacks cb = { pod_upsert, pod_delete, sync_done, conn_state,
					   log_line };
	struct sigaction sa = { .sa_handler = on_signal };
	struct kube_config cfg;
	struct kube_client *kc;
	struct args a = { 0 };
	char err[512];
	int ret;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = a.kubeconfig ? kube_config_load(&cfg, a.kubeconfig, a.insecure, err, sizeof(err))
			   : kube_config_in_cluster(&cfg, a.sa_dir, err, sizeof(err));
	if (ret < 0) {
		printf("CONFIG-ERROR %s\n", err);
		return 1;
	}
	if (a.dump) {
		dump_config(&cfg);
		kube_config_free(&cfg);
		return 0;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	kc = kube_client_new(&cfg, a.node, &a.o, &cb, NULL);
	if (!kc) {
		perror("kubewatch: kube_client_new");
		kube_config_free(&cfg);
		return 1;
	}
	ret = loop(kc);
	kube_client_free(kc);
	kube_config_free(&cfg);
	return ret;
}
