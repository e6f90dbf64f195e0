// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* http.c - the agent's /healthz, /readyz and /metrics, on libmicrohttpd (http.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

struct pg_http {
	struct MHD_Daemon *d;
	const struct pg_http_ops *ops;
	void *ud;
	int epfd;
	uint16_t port;
};

/* The text of a status page: a line from the callback, or the fallback. */
#define MSG_MAX 512

/* ---------------------------------------------------------------- listen */

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int pg_http_parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
			 size_t errlen)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *colon, *h = addr;
	size_t hlen;
	uint16_t port;
	bool v6 = addr[0] == '[';

	memset(ss, 0, sizeof(*ss));
	colon = v6 ? strstr(addr, "]:") : strrchr(addr, ':');
	if (v6) {
		h++;
		hlen = colon ? (size_t)(colon - h) : 0;
		colon = colon ? colon + 1 : NULL;
	} else {
		hlen = colon ? (size_t)(colon - h) : 0;
	}
	if (!colon || !hlen || hlen >= sizeof(host)) {
		snprintf(err, errlen,
			 "invalid listen address \"%s\": want ADDR:PORT or [ADDR6]:PORT", addr);
		return -EINVAL;
	}
	if (parse_port(colon + 1, &port)) {
		snprintf(err, errlen, "invalid port in listen address \"%s\": want 0-65535", addr);
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (v6 && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*sslen = sizeof(*s6);
	} else if (!v6 && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*sslen = sizeof(*s4);
	} else {
		snprintf(err, errlen, "invalid %s address \"%s\" in listen address \"%s\"",
			 v6 ? "IPv6" : "IPv4", host, addr);
		return -EINVAL;
	}
	return 0;
}

/* A bound, listening, non-blocking socket for addr, and its port. */
static int open_listener(const char *addr, int *fdp, uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *what;
	int fd, one = 1, ret;

	ret = pg_http_parse_listen(addr, &ss, &len, err, errlen);
	if (ret)
		return ret;
	what = "socket";
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* a restarted agent binds again while the old sockets sit in TIME_WAIT */
	what = "setsockopt SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	what = "bind";
	if (bind(fd, (struct sockaddr *)&ss, len))
		goto fail;
	what = "listen";
	if (listen(fd, 16))
		goto fail;
	what = "getsockname";
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		goto fail;
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	*fdp = fd;
	return 0;
fail:
	ret = -errno;
	snprintf(err, errlen, "listen %s: %s: %s", addr, what, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

/* -------------------------------------------------------------- requests */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret = MHD_NO;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_YES &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES &&
	    (status != MHD_HTTP_METHOD_NOT_ALLOWED ||
	     MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") == MHD_YES))
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	char line[MSG_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", text);

	if (n < 0)
		return MHD_NO;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	return reply(c, status, "text/plain; charset=utf-8", line, (size_t)n,
		     MHD_RESPMEM_MUST_COPY);
}

/* /healthz and /readyz: the callback's verdict and its line of text. */
static enum MHD_Result reply_probe(struct MHD_Connection *c, bool (*probe)(void *, char *, size_t),
				   void *ud, const char *good, const char *bad)
{
	char msg[MSG_MAX] = "";
	bool ok = probe(ud, msg, sizeof(msg));

	msg[strcspn(msg, "\r\n")] = '\0';
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", ok ? good : bad);
	return reply_text(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

static enum MHD_Result reply_metrics(struct MHD_Connection *c, const struct pg_http *h)
{
	char *buf = NULL, msg[MSG_MAX];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f) {
		snprintf(msg, sizeof(msg), "metrics: %s", strerror(errno));
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	err = h->ops->metrics(h->ud, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		snprintf(msg, sizeof(msg), "metrics: %s", strerror(-err));
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, len,
		     MHD_RESPMEM_MUST_FREE);
}

/* A body is never read: a request that declares one is answered at once. */
static bool has_body(struct MHD_Connection *c)
{
	const char *cl =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0")) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

enum route { R_NONE, R_HEALTHZ, R_READYZ, R_METRICS };

static enum route route_of(const char *url)
{
	if (!strcmp(url, "/healthz"))
		return R_HEALTHZ;
	if (!strcmp(url, "/readyz"))
		return R_READYZ;
	if (!strcmp(url, "/metrics"))
		return R_METRICS;
	return R_NONE;
}

/*
 * MHD calls this first when the request line and headers are in, then again
 * for each piece of body, then once more with none left. A request that
 * declares a body is answered (413) on the first call, so MHD never reads
 * the body and closes the connection. Others are answered on the second
 * call: a response queued on the first would cost a kept-alive connection.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static int headers_seen;
	const struct pg_http *h = cls;
	enum route r = route_of(url);

	if (*upload_size || has_body(c))
		return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "no request body is accepted");
	if (!*con_cls) {
		*con_cls = &headers_seen;
		return MHD_YES;
	}
	if (r == R_NONE)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	if (r == R_HEALTHZ)
		return reply_probe(c, h->ops->healthz, h->ud, "ok", "not alive");
	if (r == R_READYZ)
		return reply_probe(c, h->ops->readyz, h->ud, "ready", "not ready");
	return reply_metrics(c, h);
}

/* ---------------------------------------------------------------- daemon */

int pg_http_start(struct pg_http **hp, const char *addr, const struct pg_http_ops *ops, void *ud,
		  const struct pg_http_limits *lim, char *err, size_t errlen)
{
	struct pg_http_limits l = lim ? *lim : (struct pg_http_limits){ 0 };
	const union MHD_DaemonInfo *info;
	struct pg_http *h;
	int fd = -1, ret;

	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(ENOMEM));
		return -ENOMEM;
	}
	h->ops = ops;
	h->ud = ud;
	ret = open_listener(addr, &fd, &h->port, err, errlen);
	if (ret)
		goto fail;
	/*
	 * MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD: the caller
	 * polls the epoll descriptor (http.h). MHD takes the listening socket
	 * and closes it in MHD_stop_daemon().
	 */
	h->d = MHD_start_daemon(
	    MHD_USE_EPOLL, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, l.conns ? l.conns : PG_HTTP_DEF_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, l.per_ip ? l.per_ip : PG_HTTP_DEF_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, l.timeout_s ? l.timeout_s : PG_HTTP_DEF_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, l.mem ? l.mem : (size_t)PG_HTTP_DEF_MEM,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (!h->d) {
		ret = -EINVAL;
		snprintf(err, errlen, "listen %s: libmicrohttpd refused to start", addr);
		goto fail;
	}
	fd = -1;
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		ret = -EINVAL;
		snprintf(err, errlen, "listen %s: libmicrohttpd has no epoll descriptor", addr);
		goto fail;
	}
	h->epfd = info->epoll_fd;
	*hp = h;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	pg_http_stop(h);
	return ret;
}

int pg_http_fd(const struct pg_http *h)
{
	return h->epfd;
}

int pg_http_timeout(const struct pg_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->d, &ms) != MHD_YES)
		return -1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static unsigned int open_conns(const struct pg_http *h)
{
	const union MHD_DaemonInfo *i =
	    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

/*
 * At the connection limit MHD takes the listening socket out of its epoll
 * set, and puts it back only at the start of a run, while it closes
 * connections at the end of one. A run that closed some is followed by
 * another, or a client waiting in the backlog would wait until some other
 * socket woke the caller's poll.
 */
int pg_http_run(struct pg_http *h)
{
	unsigned int before = open_conns(h);

	if (MHD_run(h->d) != MHD_YES)
		return -EIO;
	if (open_conns(h) < before && MHD_run(h->d) != MHD_YES)
		return -EIO;
	return 0;
}

uint16_t pg_http_port(const struct pg_http *h)
{
	return h->port;
}

void pg_http_stop(struct pg_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
}
