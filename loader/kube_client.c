// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * kube_client.c - list and watch one node's pods over libcurl's multi
 * interface (socket and timer callbacks), so the agent polls our sockets
 * with its own. HTTP and TLS are libcurl's, JSON is json-c's: the watch
 * stream goes through one incremental json_tokener, which needs no newline
 * framing and bounds the bytes of one event.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_client.h"
#include "kube_pods.h"

#define KUBE_MAX_SOCKS	  8
#define KUBE_ERR_BODY_MAX (64u << 10) /* of an error answer, for its message */
#define KUBE_JSON_DEPTH	  64	      /* managedFields nest deeper than json-c's 32 */

enum kube_req { REQ_NONE, REQ_LIST, REQ_WATCH };

struct kube_client {
	struct kube_config *cfg;
	char *node;
	struct kube_client_opts o;
	struct kube_callbacks cb;
	void *ctx;

	CURLM *multi;
	CURL *easy;
	enum kube_req req;
	long long req_start; /* ms */
	curl_socket_t socks[KUBE_MAX_SOCKS];
	short sock_events[KUBE_MAX_SOCKS];
	int nsocks;
	long long curl_deadline; /* ms, CLOCK_MONOTONIC; -1: none */
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers; /* Accept: application/json */

	/* the answer being read */
	long http_code;
	char *body;
	size_t body_len, body_cap;
	json_tokener *tok;
	size_t ev_bytes;
	int abort_err; /* set when a callback stopped the transfer */
	char why[512];

	/* what to do next */
	bool need_list;
	char *cont; /* continue token of the list being paged */
	long long retry_at;
	unsigned failures;
	unsigned reconnects;
	enum kube_conn state;
	bool synced;
	unsigned long long rng;

	struct kube_pods pods;
};

static int curl_users;

void kube_client_opts_default(struct kube_client_opts *o)
{
	*o = (struct kube_client_opts){
		.watch_timeout_s = 300,
		.idle_grace_s = 30,
		.list_timeout_s = 60,
		.connect_timeout_s = 10,
		.backoff_min_ms = 500,
		.backoff_max_ms = 30000,
		.max_event_bytes = 1u << 20,
		.max_list_bytes = 64u << 20,
		.list_limit = 500,
	};
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(struct kube_client *kc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(struct kube_client *kc, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "kube: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (kc->cb.log)
		kc->cb.log(kc->ctx, line);
	else
		fprintf(stderr, "%s\n", line);
}

static void set_state(struct kube_client *kc, enum kube_conn st, const char *why)
{
	if (st == kc->state && st == KUBE_CONNECTED)
		return;
	kc->state = st;
	if (kc->cb.conn_state)
		kc->cb.conn_state(kc->ctx, st, why, kc->pods.rv);
}

/* --- libcurl's socket and timer callbacks --------------------------------- */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct kube_client *kc = userp;
	int i;

	for (i = 0; i < kc->nsocks && kc->socks[i] != s; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < kc->nsocks) {
			kc->socks[i] = kc->socks[kc->nsocks - 1];
			kc->sock_events[i] = kc->sock_events[kc->nsocks - 1];
			kc->nsocks--;
		}
		return 0;
	}
	if (i == kc->nsocks) {
		if (kc->nsocks == KUBE_MAX_SOCKS)
			return -1;
		kc->nsocks++;
	}
	kc->socks[i] = s;
	kc->sock_events[i] =
	    (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct kube_client *kc = userp;

	kc->curl_deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

/* --- reading answers ------------------------------------------------------ */

static size_t stop(struct kube_client *kc, int err)
{
	kc->abort_err = err;
	return 0; /* fewer bytes than given: libcurl ends the transfer */
}

static int keep_body(struct kube_client *kc, const char *p, size_t n, size_t max)
{
	if (kc->body_len + n > max)
		return -EFBIG;
	if (kc->body_len + n + 1 > kc->body_cap) {
		size_t cap = (kc->body_len + n + 1) * 2;
		char *b = realloc(kc->body, cap < max + 1 ? cap : max + 1);

		if (!b)
			return -ENOMEM;
		kc->body = b;
		kc->body_cap = cap < max + 1 ? cap : max + 1;
	}
	memcpy(kc->body + kc->body_len, p, n);
	kc->body_len += n;
	kc->body[kc->body_len] = '\0';
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Watch bytes: complete events go to kube_pods_event(), the rest waits. */
static int feed_watch(struct kube_client *kc, const char *p, size_t n)
{
	while (n) {
		json_object *ev;
		enum json_tokener_error e;
		size_t used;
		int ret;

		/* Newlines between events are no event: a stream may end on one. */
		if (!kc->ev_bytes && is_space(*p)) {
			p++;
			n--;
			continue;
		}
		ev = json_tokener_parse_ex(kc->tok, p, (int)n);
		e = json_tokener_get_error(kc->tok);
		if (e == json_tokener_continue) {
			kc->ev_bytes += n;
			break;
		}
		if (e != json_tokener_success) {
			snprintf(kc->why, sizeof(kc->why), "watch: not JSON: %s",
				 json_tokener_error_desc(e));
			return -EPROTO;
		}
		used = json_tokener_get_parse_end(kc->tok);
		kc->ev_bytes += used;
		json_tokener_reset(kc->tok);
		if (kc->ev_bytes > kc->o.max_event_bytes) {
			json_object_put(ev);
			break;
		}
		kc->ev_bytes = 0;
		ret = kube_pods_event(&kc->pods, ev, kc->why, sizeof(kc->why));
		json_object_put(ev);
		if (ret < 0)
			return ret;
		if (kc->pods.events)
			kc->failures = 0; /* a watch that delivers is a healthy one */
		p += used;
		n -= used;
	}
	if (kc->ev_bytes > kc->o.max_event_bytes) {
		snprintf(kc->why, sizeof(kc->why), "watch: an event over %zu bytes; listing again",
			 kc->o.max_event_bytes);
		return -EFBIG;
	}
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
	struct kube_client *kc = userp;

	/* The blank line ends the headers: the status is known now. */
	if (n <= 2 && (n == 0 || p[0] == '\r' || p[0] == '\n')) {
		curl_easy_getinfo(kc->easy, CURLINFO_RESPONSE_CODE, &kc->http_code);
		if (kc->http_code == 200 && kc->req == REQ_WATCH)
			set_state(kc, KUBE_CONNECTED, "");
	}
	return n;
}

static size_t on_data(char *p, size_t size, size_t n, void *userp)
{
	struct kube_client *kc = userp;
	int ret;

	if (kc->http_code != 200) {
		/* An error answer: keep the start, for the Status message. */
		if (keep_body(kc, p, n, KUBE_ERR_BODY_MAX) < 0)
			return stop(kc, -EFBIG);
		return n;
	}
	if (kc->req == REQ_LIST) {
		ret = keep_body(kc, p, n, kc->o.max_list_bytes);
		if (ret == -EFBIG)
			snprintf(kc->why, sizeof(kc->why), "list: an answer over %zu bytes",
				 kc->o.max_list_bytes);
		return ret < 0 ? stop(kc, ret) : n;
	}
	ret = feed_watch(kc, p, n);
	return ret < 0 ? stop(kc, ret) : n;
}

/* --- making requests ------------------------------------------------------ */

/* The URL of the next request: a list page, or a watch from the last RV. */
static char *make_url(struct kube_client *kc)
{
	char *node = curl_easy_escape(kc->easy, kc->node, 0);
	char *cont = kc->cont ? curl_easy_escape(kc->easy, kc->cont, 0) : NULL;
	char *url = NULL;
	char limit[32] = "";
	int n;

	if (!node || (kc->cont && !cont))
		goto cleanup;
	if (kc->o.list_limit)
		snprintf(limit, sizeof(limit), "&limit=%u", kc->o.list_limit);
	if (kc->req == REQ_LIST)
		n = asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s%s%s%s",
			     kc->cfg->server, node, limit, cont ? "&continue=" : "",
			     cont ? cont : "");
	else
		n = asprintf(&url,
			     "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1"
			     "&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u",
			     kc->cfg->server, node, kc->pods.rv, kc->o.watch_timeout_s);
	if (n < 0)
		url = NULL;
cleanup:
	curl_free(node);
	curl_free(cont);
	return url;
}

static int set_request(struct kube_client *kc, const char *url)
{
	CURL *e = kc->easy;
	long timeout = kc->req == REQ_LIST ? kc->o.list_timeout_s
					   : kc->o.watch_timeout_s + 2L * kc->o.idle_grace_s;
	/* A watch silent past its own timeout and the grace is given up. */
	long silent = kc->req == REQ_LIST ? kc->o.list_timeout_s
					  : kc->o.watch_timeout_s + (long)kc->o.idle_grace_s;
	CURLcode r;

	curl_easy_reset(e);
	r = curl_easy_setopt(e, CURLOPT_URL, url);
	r = r ?: curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	r = r ?: curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	r = r ?: curl_easy_setopt(e, CURLOPT_USERAGENT, "portgate");
	r = r ?: curl_easy_setopt(e, CURLOPT_ERRORBUFFER, kc->errbuf);
	r = r ?: curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)kc->o.connect_timeout_s);
	r = r ?: curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout);
	r = r ?: curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	r = r ?: curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, silent);
	r = r ?: curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	r = r ?: curl_easy_setopt(e, CURLOPT_HTTPHEADER, kc->headers);
	r = r ?: curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	r = r ?: curl_easy_setopt(e, CURLOPT_HEADERDATA, kc);
	r = r ?: curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	r = r ?: curl_easy_setopt(e, CURLOPT_WRITEDATA, kc);
	if (r)
		return -EINVAL;
	return kube_config_curl(kc->cfg, e);
}

static void reset_answer(struct kube_client *kc)
{
	kc->http_code = 0;
	kc->body_len = 0;
	kc->ev_bytes = 0;
	kc->abort_err = 0;
	kc->why[0] = '\0';
	kc->errbuf[0] = '\0';
	kc->pods.events = false;
	json_tokener_reset(kc->tok);
}

static void retry_later(struct kube_client *kc, bool relist);

static void start_request(struct kube_client *kc)
{
	char err[256];
	char *url;
	int ret;

	/* The token file is read again whenever it changed (kubelet rotates it). */
	if (kube_config_reload_token(kc->cfg, err, sizeof(err)) < 0)
		logf_(kc, "%s; the previous token is used", err);
	kc->req = kc->need_list ? REQ_LIST : REQ_WATCH;
	kc->req_start = now_ms();
	reset_answer(kc);
	url = make_url(kc);
	ret = url ? set_request(kc, url) : -ENOMEM;
	free(url);
	if (!ret && curl_multi_add_handle(kc->multi, kc->easy) != CURLM_OK)
		ret = -EIO;
	if (ret < 0) {
		kc->req = REQ_NONE;
		snprintf(kc->why, sizeof(kc->why), "cannot start a request: %s", strerror(-ret));
		retry_later(kc, false);
	}
}

/*
 * Exponential backoff with jitter: the delay doubles with each failure in a
 * row, up to the cap, and a random part of up to half of it spreads the
 * nodes of a cluster so they do not all come back at once.
 */
static void retry_later(struct kube_client *kc, bool relist)
{
	unsigned long long d = kc->o.backoff_min_ms;
	unsigned shift = kc->failures < 20 ? kc->failures : 20;

	kc->failures++;
	kc->reconnects++;
	d <<= shift;
	if (d > kc->o.backoff_max_ms)
		d = kc->o.backoff_max_ms;
	kc->rng ^= kc->rng << 13;
	kc->rng ^= kc->rng >> 7;
	kc->rng ^= kc->rng << 17;
	d = d / 2 + kc->rng % (d / 2 + 1);
	kc->retry_at = now_ms() + (long long)d;
	if (relist) {
		kc->need_list = true;
		free(kc->cont);
		kc->cont = NULL;
	}
	logf_(kc, "%s; retrying in %llu.%01llu s", kc->why, d / 1000, d % 1000 / 100);
	set_state(kc, KUBE_DISCONNECTED, kc->why);
}

/* --- finished requests ---------------------------------------------------- */

static void list_done(struct kube_client *kc)
{
	json_object *list;
	char *cont = NULL;
	int ret;

	/* The API server ends its JSON with a newline (Go's json.Encoder). */
	while (kc->body_len && is_space(kc->body[kc->body_len - 1]))
		kc->body[--kc->body_len] = '\0';
	list = json_tokener_parse_ex(kc->tok, kc->body, (int)kc->body_len);
	if (!list || json_tokener_get_error(kc->tok) != json_tokener_success ||
	    json_tokener_get_parse_end(kc->tok) != kc->body_len) {
		json_object_put(list);
		snprintf(kc->why, sizeof(kc->why), "list: the answer is not JSON (or cut short)");
		return retry_later(kc, true);
	}
	if (!kc->cont)
		kube_pods_list_begin(&kc->pods);
	ret = kube_pods_list_page(&kc->pods, list, &cont, kc->why, sizeof(kc->why));
	json_object_put(list);
	free(kc->cont);
	kc->cont = cont;
	if (ret < 0) {
		if (ret == -ENOMEM)
			snprintf(kc->why, sizeof(kc->why), "list: out of memory");
		return retry_later(kc, true);
	}
	if (kc->cont) {
		kc->retry_at = 0; /* the next page now */
		return;
	}
	kube_pods_list_end(&kc->pods);
	kc->need_list = false;
	kc->retry_at = 0;
	if (!kc->synced) {
		kc->synced = true;
		if (kc->cb.sync_done)
			kc->cb.sync_done(kc->ctx);
	}
	set_state(kc, KUBE_CONNECTED, "");
}

/* A non-200 answer: its Status message says why. */
static void http_error(struct kube_client *kc, const char *what)
{
	json_object *st = kc->body ? json_tokener_parse(kc->body) : NULL;
	const char *msg = st ? kube_status_message(st) : "";

	if (kc->http_code == 401)
		snprintf(kc->why, sizeof(kc->why),
			 "%s: 401 Unauthorized: the server refused our credentials%s%s%s", what,
			 kc->cfg->token_file ? " (token from " : "",
			 kc->cfg->token_file ? kc->cfg->token_file : "",
			 kc->cfg->token_file ? ", read again before the next try)" : "");
	else
		snprintf(kc->why, sizeof(kc->why), "%s: HTTP %ld%s%.300s", what, kc->http_code,
			 *msg ? ": " : "", msg);
	json_object_put(st);
	/* 410 on a list: the continue token expired; start the list over. */
	retry_later(kc, kc->http_code == 410);
}

static void request_done(struct kube_client *kc, CURLcode res)
{
	enum kube_req req = kc->req;
	const char *what = req == REQ_LIST ? "list" : "watch";

	curl_multi_remove_handle(kc->multi, kc->easy);
	kc->req = REQ_NONE;
	if (kc->abort_err) {
		if (!kc->why[0])
			snprintf(kc->why, sizeof(kc->why), "%s: %s", what,
				 strerror(-kc->abort_err));
		/* 410 and bad bytes both relist: that skips what the stream choked on. */
		return retry_later(kc, true);
	}
	if (res != CURLE_OK) {
		snprintf(kc->why, sizeof(kc->why), "%s %s: %s", what, kc->cfg->server,
			 kc->errbuf[0] ? kc->errbuf : curl_easy_strerror(res));
		return retry_later(kc, false);
	}
	if (kc->http_code != 200)
		return http_error(kc, what);
	if (req == REQ_LIST)
		return list_done(kc);
	if (kc->ev_bytes && json_tokener_get_error(kc->tok) == json_tokener_continue) {
		snprintf(kc->why, sizeof(kc->why), "watch: the stream ended inside an event");
		return retry_later(kc, true);
	}
	/*
	 * The server ended the watch at timeoutSeconds: watch again at once. One
	 * that ends early with nothing in it counts as a failure, or a server
	 * (or proxy) that closes every watch at once would make a busy loop.
	 */
	if (!kc->pods.events && now_ms() - kc->req_start < kc->o.watch_timeout_s * 500LL) {
		snprintf(kc->why, sizeof(kc->why), "watch: the server ended the stream at once");
		return retry_later(kc, false);
	}
	kc->failures = 0;
	kc->retry_at = 0;
}

/* --- the public side ------------------------------------------------------ */

struct kube_client *kube_client_new(struct kube_config *cfg, const char *node,
				    const struct kube_client_opts *opts,
				    const struct kube_callbacks *cb, void *ctx)
{
	struct kube_client *kc = calloc(1, sizeof(*kc));

	if (!kc)
		return NULL;
	if (!curl_users++ && curl_global_init(CURL_GLOBAL_DEFAULT)) {
		curl_users--;
		free(kc);
		errno = EIO;
		return NULL;
	}
	kc->cfg = cfg;
	if (opts)
		kc->o = *opts;
	else
		kube_client_opts_default(&kc->o);
	if (cb)
		kc->cb = *cb;
	kc->ctx = ctx;
	kc->pods.cb = &kc->cb;
	kc->pods.ctx = ctx;
	kc->node = strdup(node);
	kc->multi = curl_multi_init();
	kc->easy = curl_easy_init();
	kc->tok = json_tokener_new_ex(KUBE_JSON_DEPTH);
	kc->headers = curl_slist_append(NULL, "Accept: application/json");
	kc->curl_deadline = -1;
	kc->need_list = true;
	kc->state = KUBE_CONNECTING;
	kc->rng = (unsigned long long)now_ms() * 6364136223846793005ULL ^
		  (unsigned long long)getpid() ^ (unsigned long long)(uintptr_t)kc;
	kc->rng |= 1;
	if (!kc->node || !kc->multi || !kc->easy || !kc->tok || !kc->headers ||
	    curl_multi_setopt(kc->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
	    curl_multi_setopt(kc->multi, CURLMOPT_SOCKETDATA, kc) ||
	    curl_multi_setopt(kc->multi, CURLMOPT_TIMERFUNCTION, on_timer) ||
	    curl_multi_setopt(kc->multi, CURLMOPT_TIMERDATA, kc)) {
		kube_client_free(kc);
		errno = ENOMEM;
		return NULL;
	}
	return kc;
}

void kube_client_free(struct kube_client *kc)
{
	if (!kc)
		return;
	if (kc->req != REQ_NONE)
		curl_multi_remove_handle(kc->multi, kc->easy);
	if (kc->easy)
		curl_easy_cleanup(kc->easy);
	if (kc->multi)
		curl_multi_cleanup(kc->multi);
	if (kc->tok)
		json_tokener_free(kc->tok);
	curl_slist_free_all(kc->headers);
	kube_pods_free(&kc->pods);
	free(kc->body);
	free(kc->cont);
	free(kc->node);
	free(kc);
	if (!--curl_users)
		curl_global_cleanup();
}

int kube_client_pollfds(struct kube_client *kc, struct pollfd *fds, int max)
{
	int i;

	for (i = 0; i < kc->nsocks && i < max; i++)
		fds[i] = (struct pollfd){ .fd = kc->socks[i], .events = kc->sock_events[i] };
	return i;
}

int kube_client_timeout(struct kube_client *kc)
{
	long long now = now_ms(), t = -1;

	if (kc->curl_deadline >= 0)
		t = kc->curl_deadline - now;
	if (kc->req == REQ_NONE && (t < 0 || kc->retry_at - now < t))
		t = kc->retry_at - now;
	if (t < 0)
		return kc->curl_deadline >= 0 || kc->req == REQ_NONE ? 0 : -1;
	return t > 60000 ? 60000 : (int)t;
}

/* Finished transfers, at most one: there is one request at a time. */
static void drain(struct kube_client *kc)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(kc->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == kc->easy)
			request_done(kc, msg->data.result);
}

int kube_client_perform(struct kube_client *kc, const struct pollfd *fds, int n)
{
	int running, i, j;

	for (i = 0; i < n; i++) {
		int ev = 0;

		if (!fds[i].revents)
			continue;
		for (j = 0; j < kc->nsocks && kc->socks[j] != fds[i].fd; j++)
			;
		if (j == kc->nsocks)
			continue; /* not ours, or gone since pollfds */
		ev |= (fds[i].revents & POLLIN) ? CURL_CSELECT_IN : 0;
		ev |= (fds[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0;
		ev |= (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0;
		curl_multi_socket_action(kc->multi, fds[i].fd, ev, &running);
	}
	if (kc->curl_deadline >= 0 && now_ms() >= kc->curl_deadline) {
		kc->curl_deadline = -1;
		curl_multi_socket_action(kc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	drain(kc);
	if (kc->req == REQ_NONE && now_ms() >= kc->retry_at) {
		start_request(kc);
		/* Let libcurl begin now rather than after one more poll round. */
		curl_multi_socket_action(kc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		drain(kc);
	}
	return 0;
}

enum kube_conn kube_client_state(const struct kube_client *kc)
{
	return kc->state;
}

const char *kube_client_rv(const struct kube_client *kc)
{
	return kc->pods.rv;
}

size_t kube_client_npods(const struct kube_client *kc)
{
	return kc->pods.n;
}

unsigned kube_client_reconnects(const struct kube_client *kc)
{
	return kc->reconnects;
}
