/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * http.h - the agent's HTTP endpoint (portgate run --listen ADDR:PORT):
 * GET /healthz, /readyz and /metrics, served by libmicrohttpd.
 *
 *   /healthz  200 "ok" while ops->healthz says the agent's loop is alive,
 *             else 503 with its text
 *   /readyz   200 while ops->readyz says the last apply succeeded and the
 *             BPF state matches it, else 503 with the reason
 *   /metrics  200, Prometheus text (text/plain; version=0.0.4) written by
 *             ops->metrics; 500 with the error if it fails
 *   other paths 404; other methods than GET and HEAD 405 (with Allow);
 *   a request that declares a body 413, before the body is read.
 *
 * Threading: none. The server runs inside the caller's poll(2) loop, on the
 * caller's thread, so the ops callbacks can read the agent's state without
 * a lock. libmicrohttpd is started in epoll mode without a thread of its
 * own: pg_http_fd() is one epoll descriptor that becomes readable when any
 * client socket or the listening socket is, pg_http_timeout() bounds the
 * poll, and pg_http_run() does the work that is ready without blocking.
 * The loop:
 *
 *   struct pollfd p[] = { ..., { pg_http_fd(h), POLLIN, 0 } };
 *   int t = pg_http_timeout(h);    // min() it with the loop's own timeout
 *   poll(p, n, t);
 *   pg_http_run(h);                // each turn, readable or not
 *
 * A thread of libmicrohttpd's own (MHD_USE_INTERNAL_POLLING_THREAD) was not
 * taken: its callbacks would race the agent's applies on every field they
 * read. As a consequence a request waits while the loop is busy (an apply),
 * which is what a liveness probe should see: a loop that stops turning
 * stops answering. Probes' timeoutSeconds must cover the longest apply.
 *
 * Slow and abusive clients (struct pg_http_limits): a per-IP connection
 * limit (the connection past it is closed at once); a total one (past it
 * MHD stops accepting: new clients wait in the listen backlog, 16, until a
 * slot frees, and the kernel drops SYNs beyond that); an idle timeout; a
 * memory limit per connection that bounds the request line and headers
 * (past it: 431 and close); and no request body ever read. The idle timeout
 * restarts on every byte, so a client trickling bytes keeps its connection:
 * the per-IP limit is what keeps one such client from holding every slot,
 * and only clients from more addresses than conns / per_ip can fill them
 * all. Every socket is non-blocking, so a slow client never stalls another
 * one or the agent.
 *
 * Return convention: 0 or -errno, as everywhere below the command layer.
 */
#ifndef PORTGATE_HTTP_H
#define PORTGATE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct pg_http;

/* Called on the caller's thread, from pg_http_run(). */
struct pg_http_ops {
	/* true if alive; may write a short text (one line) to msg */
	bool (*healthz)(void *ud, char *msg, size_t len);
	/* true if ready; else writes the reason (one line) to msg */
	bool (*readyz)(void *ud, char *msg, size_t len);
	/* Prometheus text to out; 0 or -errno (then 500) */
	int (*metrics)(void *ud, FILE *out);
};

/* A zero field takes its default (PG_HTTP_DEF_*). */
struct pg_http_limits {
	unsigned int conns;	/* open connections in all */
	unsigned int per_ip;	/* open connections from one address */
	unsigned int timeout_s; /* idle seconds before a connection is closed */
	size_t mem;		/* bytes per connection: request line + headers */
};

/*
 * Kubelet probes come from the node's address, three of them at most at
 * once; Prometheus scrapes through one kept-alive connection. 4 per IP
 * leaves room for both and a human with curl.
 */
#define PG_HTTP_DEF_CONNS   32
#define PG_HTTP_DEF_PER_IP  4
#define PG_HTTP_DEF_TIMEOUT 10
#define PG_HTTP_DEF_MEM	    16384

/*
 * "ADDR:PORT" or "[ADDR6]:PORT", numeric addresses only (no name lookup in
 * the agent), port 0-65535 (0: the kernel picks one, see pg_http_port()).
 * "[::]:PORT" takes IPv4 too unless net.ipv6.bindv6only is set.
 * 0, or -EINVAL with the reason in err.
 */
int pg_http_parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
			 size_t errlen);

/*
 * Bind addr and start serving through ops with ud; lim may be NULL. ops
 * and ud must outlive the server. 0 and *hp set, or -errno with the reason
 * in err ("listen 127.0.0.1:80: bind: Address already in use").
 */
int pg_http_start(struct pg_http **hp, const char *addr, const struct pg_http_ops *ops, void *ud,
		  const struct pg_http_limits *lim, char *err, size_t errlen);

/* The descriptor to poll for POLLIN. */
int pg_http_fd(const struct pg_http *h);

/* Milliseconds the caller's poll may wait at most; -1: no bound. */
int pg_http_timeout(const struct pg_http *h);

/* Serve what is ready, without blocking. 0 or -EIO. */
int pg_http_run(struct pg_http *h);

/* The bound port (the one the kernel picked for port 0). */
uint16_t pg_http_port(const struct pg_http *h);

/* Close every connection and the listening socket. NULL is a no-op. */
void pg_http_stop(struct pg_http *h);

#endif
