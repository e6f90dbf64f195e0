// SPDX-License-Identifier: GPL-2.0
/*
 * pg_guard.bpf.c - the guards sysctl mode needs: once portgate lowers
 * ip_unprivileged_port_start, two paths reach protected ports without the
 * bind hook (autobind and SCTP); these programs close them.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "pg_maps.h"

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

/*
 * Network namespaces whose ip_unprivileged_port_start portgate lowered,
 * by netns cookie. SCTP sockets are refused there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
} pg_netns SEC(".maps");

/* Userspace's record of the same namespaces (struct pg_saved). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct pg_saved);
} pg_saved SEC(".maps");

/*
 * Sysctl mode's autobind hole: once ip_unprivileged_port_start is lowered,
 * ip_local_port_range may be lowered into protected ports and listen(),
 * connect() and sendmsg() autobind them without ever reaching the bind
 * hook. Refuse any write of a local range that meets the protected hull.
 */
static __always_inline int pg_streq(const char *a, const char *b, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static __always_inline int pg_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

#define PG_LPR	   "net/ipv4/ip_local_port_range"
#define PG_LPR_BUF 64

/*
 * Parse as the kernel does (proc_dointvec: base 0, blanks around): 0 with
 * *lo and *hi set when buf (n bytes) reads as exactly two numbers, else -1.
 * What this cannot read, it cannot vouch for.
 */
static __always_inline int pg_range_parse(char *buf, long n, unsigned long *lo, unsigned long *hi)
{
	char tail[PG_LPR_BUF] = {};
	long off, i;

	off = bpf_strtoul(buf, PG_LPR_BUF, 0, lo);
	if (off <= 0 || off >= n)
		return -1;
	for (i = 0; i < PG_LPR_BUF - 1; i++) {
		if (off + i >= n)
			break;
		tail[i] = buf[(off + i) & (PG_LPR_BUF - 1)];
	}
	if (!pg_blank(tail[0]))
		return -1; /* the kernel needs a blank between the two numbers */
	off = bpf_strtoul(tail, sizeof(tail), 0, hi);
	if (off <= 0)
		return -1;
	for (i = 0; i < PG_LPR_BUF; i++) {
		char c;

		if (i < off)
			continue;
		c = tail[i & (PG_LPR_BUF - 1)];
		if (c && !pg_blank(c))
			return -1; /* a third token, or trailing garbage */
	}
	return 0;
}

SEC("cgroup/sysctl")
int pg_sysctl(struct bpf_sysctl *ctx)
{
	char name[sizeof(PG_LPR)] = {}, buf[PG_LPR_BUF] = {};
	unsigned long lo = 0, hi = 0;
	struct pg_ctl *ctl;
	__u32 hull;
	long n;

	if (!ctx->write)
		return 1;
	n = bpf_sysctl_get_name(ctx, name, sizeof(name), 0);
	if (n != sizeof(PG_LPR) - 1 || !pg_streq(name, PG_LPR, sizeof(PG_LPR) - 1))
		return 1;
	ctl = pg_ctl_get();
	if (!ctl)
		return 0;
	hull = ctl->hull;
	if (!hull)
		return 1;
	n = bpf_sysctl_get_new_value(ctx, buf, sizeof(buf));
	if (n < 0 || n >= (long)sizeof(buf))
		return 0;
	if (pg_range_parse(buf, n, &lo, &hi))
		return 0;
	if (lo <= pg_hull_hi(hull) && hi >= pg_hull_lo(hull))
		return 0; /* EPERM: the range would autobind protected ports */
	return 1;
}

/*
 * Sysctl mode's SCTP hole: SCTP binds never reach the bind hook and check
 * only the lowered threshold. In namespaces where portgate lowered it,
 * SCTP sockets cannot be created. Key PG_NETNS_ANY: userspace could not
 * learn a namespace's cookie (no SO_NETNS_COOKIE before Linux 5.14), so
 * SCTP is refused in every namespace while one is lowered.
 */
SEC("cgroup/sock_create")
int pg_sockcr(struct bpf_sock *sk)
{
	__u64 cookie, any = PG_NETNS_ANY;

	if (sk->protocol != IPPROTO_SCTP)
		return 1;
	cookie = bpf_get_netns_cookie(sk);
	if (bpf_map_lookup_elem(&pg_netns, &cookie) || bpf_map_lookup_elem(&pg_netns, &any))
		return 0;
	return 1;
}
