// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * events.c - the event stream's subscriber side: slots, ring buffers, and
 * turning events into lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "cgroup.h"
#include "events.h"
#include "state.h"
#include "json.h"
#include "util.h"

/* Start time of a live process; 0 if there is none (or a zombie). */
static uint64_t proc_start(uint32_t pid)
{
	uint64_t t = 0;

	return pg_proc_starttime((pid_t)pid, &t) ? 0 : t;
}

bool pg_sub_slot_alive(const struct pg_ctl *ctl, int slot)
{
	uint32_t pid = ctl->ev_pid[slot];

	return pid && ctl->ev_start[slot] && proc_start(pid) == ctl->ev_start[slot];
}

static void slot_clear(struct pg_state *st, int slot)
{
	__u32 key = (__u32)slot;

	__atomic_and_fetch(&st->ctl->evmask, ~pg_evm(slot, PG_EVM_ALL), __ATOMIC_SEQ_CST);
	bpf_map_delete_elem(st->map[PG_MAP_EV], &key);
	st->ctl->ev_start[slot] = 0;
	__atomic_store_n(&st->ctl->ev_pid[slot], 0, __ATOMIC_SEQ_CST);
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct pg_sub *s = ctx;

	if (len < sizeof(struct pg_event))
		return 0;
	return s->fn ? s->fn(s->ud, data) : 0;
}

static uint64_t drops(const struct pg_sub *s)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	__u32 key = PG_ST_EV_DROP0 + (__u32)s->slot;
	uint64_t *v, sum = 0;

	if (s->stats < 0 || s->slot < 0 || ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return 0;
	if (!bpf_map_lookup_elem(s->stats, &key, v))
		for (c = 0; c < ncpu; c++)
			sum += v[c];
	free(v);
	return sum;
}

int pg_sub_open(struct pg_sub *s, const char *pin_dir, uint32_t mask, pg_event_fn fn, void *ud)
{
	struct pg_state st;
	int err, i;

	memset(s, 0, sizeof(*s));
	s->slot = -1;
	s->ring = s->stats = -1;
	s->fn = fn;
	s->ud = ud;
	s->mask = mask & 0xff;
	snprintf(s->pin_dir, sizeof(s->pin_dir), "%s", pin_dir);
	if ((err = pg_state_open(&st, pin_dir, false, true))) {
		if (err == -ENOENT) /* pg_state_open() says nothing of a missing directory */
			pg_err("nothing is loaded in %s: apply a policy first", pin_dir);
		return err;
	}
	if (!pg_state_loaded(&st)) {
		pg_err("nothing is loaded in %s: apply a policy first", pin_dir);
		pg_state_close(&st);
		return -ENOENT;
	}
	for (i = 0; i < PG_EV_SLOTS; i++) {
		uint32_t pid = st.ctl->ev_pid[i];

		if (pg_sub_slot_alive(st.ctl, i))
			continue; /* taken, its owner alive */
		if (pid)
			pg_dbg("event slot %d: owner %u is gone; taking it over", i, pid);
		slot_clear(&st, i);
		s->slot = i;
		break;
	}
	if (s->slot < 0) {
		pg_err("all %d event slots of %s are in use by live processes (pids %u %u %u %u)",
		       PG_EV_SLOTS, pin_dir, st.ctl->ev_pid[0], st.ctl->ev_pid[1],
		       st.ctl->ev_pid[2], st.ctl->ev_pid[3]);
		pg_state_close(&st);
		return -EBUSY;
	}
	s->ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "pg_ring", 0, 0, PG_EV_RINGSZ, NULL);
	if (s->ring < 0) {
		err = -errno;
		pg_err("cannot create a %d KiB event ring buffer: %s", PG_EV_RINGSZ / 1024,
		       strerror(errno));
		goto fail;
	}
	if (bpf_map_update_elem(st.map[PG_MAP_EV], &(__u32){ (__u32)s->slot }, &s->ring, BPF_ANY)) {
		err = -errno;
		pg_err("cannot publish the event ring buffer in %s/pg_ev: %s", pin_dir,
		       strerror(errno));
		goto fail;
	}
	s->stats = dup(st.map[PG_MAP_STATS]);
	s->lost = drops(s);
	st.ctl->ev_start[s->slot] = proc_start((uint32_t)getpid());
	__atomic_store_n(&st.ctl->ev_pid[s->slot], (uint32_t)getpid(), __ATOMIC_SEQ_CST);
	s->rb = ring_buffer__new(s->ring, on_sample, s, NULL);
	if (!s->rb) {
		err = -errno;
		pg_err("cannot read the event ring buffer: %s", strerror(errno));
		goto fail;
	}
	/* Last: from here on the programs write to it. */
	__atomic_or_fetch(&st.ctl->evmask, pg_evm(s->slot, s->mask), __ATOMIC_SEQ_CST);
	pg_state_close(&st);
	return 0;
fail:
	if (s->slot >= 0)
		slot_clear(&st, s->slot);
	pg_state_close(&st);
	pg_sub_close(s);
	return err;
}

void pg_sub_close(struct pg_sub *s)
{
	struct pg_state st;

	if (s->slot >= 0 && !pg_state_open(&st, s->pin_dir, false, true)) {
		if (st.ctl && st.ctl->ev_pid[s->slot] == (uint32_t)getpid())
			slot_clear(&st, s->slot);
		pg_state_close(&st);
	}
	s->slot = -1;
	if (s->rb)
		ring_buffer__free(s->rb);
	s->rb = NULL;
	if (s->ring >= 0)
		close(s->ring);
	if (s->stats >= 0)
		close(s->stats);
	s->ring = s->stats = -1;
}

int pg_sub_fd(const struct pg_sub *s)
{
	return s->rb ? ring_buffer__epoll_fd(s->rb) : -1;
}

int pg_sub_consume(struct pg_sub *s)
{
	return s->rb ? ring_buffer__consume(s->rb) : -ENOENT;
}

uint64_t pg_sub_lost(struct pg_sub *s)
{
	uint64_t now = drops(s), n = now > s->lost ? now - s->lost : 0;

	s->lost = now;
	return n;
}

/* ------------------------------------------------------------ formatting */

int pg_evfmt_init(struct pg_evfmt *f, const char *pin_dir)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->mountfd = -1;
	snprintf(f->pin_dir, sizeof(f->pin_dir), "%s", pin_dir);
	if ((err = pg_cg2_mount(f->mount, sizeof(f->mount)))) {
		pg_err("cannot find a cgroup2 mount in /proc/self/mountinfo: %s", strerror(-err));
		return err;
	}
	f->mountfd = open(f->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->mountfd < 0) {
		err = -errno;
		pg_err("cannot open %s: %s", f->mount, strerror(errno));
		return err;
	}
	/* read at the first event in a cgroup (pod_of()); none is fine */
	if (pg_podnames_path(pin_dir, f->pods.path, sizeof(f->pods.path)))
		f->pods.path[0] = 0;
	return 0;
}

/* "NS/NAME" of the pod whose cgroup is, or holds, cg, into buf; NULL if none. */
static const char *pod_of(struct pg_evfmt *f, const char *cg, char *buf, size_t len)
{
	const struct pg_podname *p;

	if (!cg || !f->pods.path[0])
		return NULL;
	(void)pg_podnames_refresh(&f->pods); /* no pod file: no names */
	p = pg_podnames_by_path(&f->pods, cg);
	if (!p)
		return NULL;
	snprintf(buf, len, "%s/%s", p->ns, p->name);
	return buf;
}

void pg_evfmt_free(struct pg_evfmt *f)
{
	if (f->have_meta)
		pg_meta_free(&f->meta);
	f->have_meta = false;
	if (f->mountfd >= 0)
		close(f->mountfd);
	f->mountfd = -1;
	pg_podnames_free(&f->pods);
}

/* cgroup2 file handles are the cgroup id (FILEID_KERNFS). */
const char *pg_evfmt_cgroup(struct pg_evfmt *f, uint64_t id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	char link[64], target[4096];
	unsigned int i;
	size_t ml = strlen(f->mount);
	ssize_t n;
	int fd;

	for (i = 0; i < sizeof(f->cache) / sizeof(f->cache[0]); i++)
		if (f->cache[i].id == id && id)
			return f->cache[i].path;
	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = 0xfe; /* FILEID_KERNFS */
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(f->mountfd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	target[n] = 0;
	if (strncmp(target, f->mount, ml) || (target[ml] && target[ml] != '/'))
		return NULL;
	i = f->next++ % (sizeof(f->cache) / sizeof(f->cache[0]));
	f->cache[i].id = id;
	snprintf(f->cache[i].path, sizeof(f->cache[i].path), "%s", target[ml] ? target + ml : "/");
	return f->cache[i].path;
}

static void meta_load(struct pg_evfmt *f)
{
	struct pg_state st;
	union pg_block *img = NULL;
	uint32_t n = 0;

	if (f->have_meta)
		pg_meta_free(&f->meta);
	f->have_meta = false;
	if (pg_state_open(&st, f->pin_dir, false, false))
		return;
	if (!pg_state_image(&st, &img, &n) && !pg_meta_parse(img, n, &f->meta)) {
		f->have_meta = true;
		f->meta_gen = f->meta.gen;
	}
	free(img);
	pg_state_close(&st);
}

int pg_evfmt_meta(struct pg_evfmt *f)
{
	struct pg_state st;
	uint64_t live = 0;

	/* the live generation, cheaply, to know whether the cached meta is current */
	if (!pg_state_open(&st, f->pin_dir, false, false)) {
		live = st.ctl ? pg_live_gen(st.ctl->live) : 0;
		pg_state_close(&st);
	}
	if (!f->have_meta || (uint32_t)f->meta_gen != (uint32_t)live)
		meta_load(f);
	return f->have_meta ? 0 : -ENOENT;
}

/* The rule's "file:line" and text under generation gen, from its image. */
static const struct pg_meta_rule *rule_of(struct pg_evfmt *f, uint64_t gen, uint32_t rule,
					  const char **file)
{
	if (rule == ~0u)
		return NULL;
	if (!f->have_meta || (uint32_t)f->meta_gen != (uint32_t)gen)
		meta_load(f);
	if (!f->have_meta || (uint32_t)f->meta_gen != (uint32_t)gen || rule >= f->meta.nrules)
		return NULL; /* decided by a policy no longer in force */
	*file = f->meta.rules[rule].file < f->meta.nfiles ? f->meta.files[f->meta.rules[rule].file]
							  : "?";
	return &f->meta.rules[rule];
}

static const char *proto_name(unsigned int p)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_UDPLITE:
		return "udplite";
	default:
		return "other";
	}
}

static void fmt_time(uint64_t boot_ns, char *out, size_t len)
{
	struct timespec rt, bt;
	int64_t ago;
	uint64_t ns;
	time_t secs;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	ago = ((int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec) - (int64_t)boot_ns;
	ns = (uint64_t)((int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec - ago);
	secs = (time_t)(ns / 1000000000ULL);
	gmtime_r(&secs, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned int)(ns % 1000000000ULL / 1000000ULL));
}

static bool denied(int v)
{
	return v == PG_V_DENY_RULE || v == PG_V_DENY_DEFAULT || v == PG_V_NO_POLICY;
}

/* An audited decision's report: the bind's outcome was the kernel's own. */
static bool audit_report(int v)
{
	return v == PG_V_WOULD_ALLOW || v == PG_V_WOULD_DENY || v == PG_V_AUDIT_SAME;
}

/* One event as one JSON document (a line of monitor -j); where: its rule, or NULL. */
static void event_json(FILE *out, const struct pg_event *ev, const char *when, const char *cg,
		       const char *pod, const char *comm, const char *addr, const char *where,
		       const char *text)
{
	struct json_object *doc = pg_json_doc();

	pg_json_set_str(doc, "time", when);
	pg_json_set_str(doc, "verdict", pg_verdict_name(ev->verdict));
	pg_json_set_bool(doc, "denied", denied(ev->verdict));
	pg_json_set_bool(doc, "audit", audit_report(ev->verdict));
	pg_json_set_str(doc, "cgroup", cg);
	pg_json_set_u64(doc, "cgroup_id", ev->cgid);
	pg_json_set_str(doc, "pod", pod);
	pg_json_set_u64(doc, "pid", ev->pid);
	pg_json_set_u64(doc, "uid", ev->uid);
	pg_json_set_u64(doc, "gid", ev->gid);
	pg_json_set_str(doc, "comm", comm);
	pg_json_set_str(doc, "family", ev->family == 6 ? "ipv6" : "ipv4");
	pg_json_set_str(doc, "proto", proto_name(ev->proto));
	pg_json_set_str(doc, "addr", addr);
	pg_json_set_u64(doc, "port", ev->port);
	pg_json_set_str(doc, "rule", where);
	pg_json_set_str(doc, "rule_text", text);
	pg_json_set_u64(doc, "generation", ev->gen);
	/* as with the text form, a failed write shows in ferror(out), the caller's to check */
	(void)pg_json_print(out, doc);
}

void pg_evfmt_print(struct pg_evfmt *f, const struct pg_event *ev, bool json, FILE *out)
{
	char when[80], addr[INET6_ADDRSTRLEN] = "?", comm[17], where[4200], podbuf[512];
	const char *cg = pg_evfmt_cgroup(f, ev->cgid), *file = NULL;
	const char *pod = pod_of(f, cg, podbuf, sizeof(podbuf));
	const struct pg_meta_rule *r = rule_of(f, ev->gen, ev->rule, &file);
	size_t i;

	fmt_time(ev->time, when, sizeof(when));
	for (i = 0; i < 16 && ev->comm[i]; i++)
		comm[i] = (ev->comm[i] >= 32 && ev->comm[i] < 127) ? ev->comm[i] : '?';
	comm[i] = 0;
	if (ev->family == 4)
		inet_ntop(AF_INET, &ev->addr[3], addr, sizeof(addr));
	else
		inet_ntop(AF_INET6, ev->addr, addr, sizeof(addr));
	if (r)
		snprintf(where, sizeof(where), "%s:%u", file, r->line);
	else if (ev->rule != ~0u)
		snprintf(where, sizeof(where), "rule #%u of generation %llu", ev->rule,
			 (unsigned long long)ev->gen);
	else
		snprintf(where, sizeof(where), "-");
	if (!json) {
		fprintf(out, "%s %s %s/%u %s%s%s%s cgroup %s%s%s pid %u uid %u comm %s rule %s\n",
			when, pg_verdict_name(ev->verdict), proto_name(ev->proto), ev->port,
			ev->family == 6 ? "[" : "", addr, ev->family == 6 ? "]" : "",
			ev->family == 6 ? " (ipv6)" : " (ipv4)", cg ? cg : "(removed)",
			pod ? " pod " : "", pod ? pod : "", ev->pid, ev->uid, comm, where);
		return;
	}
	event_json(out, ev, when, cg, pod, comm, addr, r ? where : NULL, r ? r->text : NULL);
}

void pg_evfmt_lost_json(uint64_t n, FILE *out)
{
	struct json_object *doc = pg_json_doc();

	pg_json_set_u64(doc, "lost", n);
	(void)pg_json_print(out, doc); /* as pg_evfmt_print() */
}
