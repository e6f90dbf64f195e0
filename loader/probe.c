// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "probe.h"
#include "util.h"

const char *pg_variant_name(int variant)
{
	switch (variant) {
	case PG_VARIANT_SK:
		return "socket";
	case PG_VARIANT_TASK:
		return "task";
	default:
		return "none";
	}
}

const char *pg_variant_what(int variant)
{
	switch (variant) {
	case PG_VARIANT_SK:
		return "the socket's cgroup decides";
	case PG_VARIANT_TASK:
		return "the binding task's cgroup decides";
	default:
		return "nothing loaded";
	}
}

static bool has_kfunc(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id;

	if (libbpf_get_error(vmlinux))
		return false;
	id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC);
	btf__free(vmlinux);
	return id > 0;
}

void pg_probe_features(struct pg_features *f)
{
	enum bpf_prog_type t = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;

	f->sock_addr = libbpf_probe_bpf_prog_type(t, NULL) == 1;
	f->btf = !access("/sys/kernel/btf/vmlinux", R_OK);
	f->loop = libbpf_probe_bpf_helper(t, BPF_FUNC_loop, NULL) == 1;
	f->kern_ctx = f->btf && has_kfunc("bpf_cast_to_kern_ctx");
	f->ancestor_id =
	    libbpf_probe_bpf_helper(t, BPF_FUNC_get_current_ancestor_cgroup_id, NULL) == 1;
}

bool pg_probe_caps(void)
{
	return !access("/sys/kernel/btf/vmlinux", R_OK) &&
	       libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
				       BPF_FUNC_get_current_task_btf, NULL) == 1;
}

int pg_probe_variants(int *out, char *why, size_t len)
{
	const char *want = getenv("PORTGATE_VARIANT");
	struct pg_features f;
	bool sk, task, any = !want || !*want;
	int n = 0;

	out[0] = PG_VARIANT_NONE;
	if (!any && strcmp(want, "socket") && strcmp(want, "task")) {
		snprintf(why, len, "PORTGATE_VARIANT is '%s'; it must be socket or task", want);
		return -EINVAL;
	}
	pg_probe_features(&f);
	if (!f.sock_addr) {
		snprintf(why, len, "the kernel lacks cgroup sock_addr BPF programs (Linux 4.17+)");
		return -ENOTSUP;
	}
	if (!f.btf) {
		snprintf(why, len,
			 "the kernel has no BTF (/sys/kernel/btf/vmlinux); portgate needs "
			 "CONFIG_DEBUG_INFO_BTF");
		return -ENOTSUP;
	}
	sk = f.loop && f.kern_ctx;
	task = f.ancestor_id;
	if (sk && (any || !strcmp(want, "socket")))
		out[n++] = PG_VARIANT_SK;
	if (task && (any || !strcmp(want, "task")))
		out[n++] = PG_VARIANT_TASK;
	out[n] = PG_VARIANT_NONE;
	snprintf(
	    why, len,
	    "socket variant %s (kfunc bpf_cast_to_kern_ctx, Linux 6.2+: %s; bpf_loop, 5.17+: "
	    "%s), task variant %s (bpf_get_current_ancestor_cgroup_id in bind programs: %s)%s%s",
	    sk ? "possible" : "impossible", f.kern_ctx ? "yes" : "no", f.loop ? "yes" : "no",
	    task ? "possible" : "impossible", f.ancestor_id ? "yes" : "no",
	    any ? "" : "; PORTGATE_VARIANT=", any ? "" : want);
	return n ? 0 : -ENOTSUP;
}

/* A bind4 program that only returns 3 (allow, skip CAP_NET_BIND_SERVICE). */
static int load_ret3(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 3 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET4_BIND);

	return bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "pg_probe3", "GPL", insns, 2, &opts);
}

/* In the child: join the cgroup, new netns, drop every capability, bind 1023. */
static int probe_child(int cgfd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(1023) };
	char pid[32];
	int fd, s;

	snprintf(pid, sizeof(pid), "%d\n", getpid());
	fd = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		return 100;
	close(fd);
	if (unshare(CLONE_NEWNET))
		return 101;
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 102;
	/* The socket is made here, inside the probe cgroup: its cgroup decides. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 103;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)))
		return errno == EACCES ? 10 : 11;
	return 0;
}

/* Probe cgroups of a portgate killed mid-probe: remove the ones whose process is gone. */
static void remove_stale_probes(int parent_fd)
{
	int fd = dup(parent_fd);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char proc[64];
		int pid;

		if (sscanf(de->d_name, "portgate-probe.%d", &pid) != 1 || pid <= 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%d", pid);
		if (!access(proc, F_OK))
			continue;
		if (!unlinkat(parent_fd, de->d_name, AT_REMOVEDIR))
			pg_dbg("removed %s, left by a portgate that died probing", de->d_name);
	}
	closedir(d);
}

/*
 * Bind port 1023 in a child with no capabilities inside cgroup cg (the probe
 * program attached), and say what that shows. 0 (*ok set), or -errno when
 * the probe itself failed.
 */
static int run_probe(int cg, bool *ok, char *why, size_t len)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		int err = -errno;

		snprintf(why, len, "fork: %s", strerror(-err));
		return err;
	}
	if (!pid)
		_exit(probe_child(cg));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			int err = -errno;

			snprintf(why, len, "waitpid: %s", strerror(errno));
			return err;
		}
	/* Only the kernel's own refusal (EACCES) means "no bypass bit"; anything
	 * else is a failed probe, never a quiet fall back to sysctl mode. */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		*ok = true;
		snprintf(why, len,
			 "bypass bit probed: with a program returning 3, an unprivileged "
			 "bind of port 1023 succeeded");
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 10) {
		snprintf(why, len,
			 "bypass bit probed: with a program returning 3, an unprivileged "
			 "bind of port 1023 still failed with EACCES");
		return 0;
	}
	snprintf(why, len, "the probe process failed (%s %d)",
		 WIFEXITED(status) ? "exit status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -EIO;
}

int pg_probe_bypass(int parent_fd, bool *ok, char *why, size_t len)
{
	char name[64];
	int prog = -1, cg = -1, link = -1, err = 0;

	*ok = false;
	remove_stale_probes(parent_fd);
	prog = load_ret3();
	if (prog < 0) {
		snprintf(why, len,
			 "the verifier refuses return value 3 from a bind program "
			 "(needs Linux 5.12+)");
		return 0;
	}
	snprintf(name, sizeof(name), "portgate-probe.%d", getpid());
	if (mkdirat(parent_fd, name, 0700) && errno != EEXIST) {
		err = -errno;
		snprintf(why, len, "cannot create probe cgroup %s: %s", name, strerror(errno));
		goto out;
	}
	cg = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		err = -errno;
		snprintf(why, len, "cannot open probe cgroup %s: %s", name, strerror(errno));
		goto out;
	}
	link = bpf_link_create(prog, cg, BPF_CGROUP_INET4_BIND, NULL);
	if (link < 0) {
		err = -errno;
		snprintf(why, len, "cannot attach the probe program to cgroup %s: %s", name,
			 strerror(errno));
		goto out;
	}
	err = run_probe(cg, ok, why, len);
out:
	if (link >= 0)
		close(link);
	if (cg >= 0) {
		close(cg);
		/* rmdir detaches what is left; the child is reaped, the cgroup empties. */
		for (int i = 0; unlinkat(parent_fd, name, AT_REMOVEDIR); i++) {
			if (errno != EBUSY || i == 200) {
				pg_err("cannot remove probe cgroup %s: %s", name, strerror(errno));
				break;
			}
			usleep(5000);
		}
	}
	if (prog >= 0)
		close(prog);
	return err;
}

uint64_t pg_boot_hash(void)
{
	char buf[64];
	ssize_t n = pg_read_file("/proc/sys/kernel/random/boot_id", buf, sizeof(buf));
	uint64_t h = pg_fnv1a(PG_FNV1A_INIT, buf, n > 0 ? (size_t)n : 0);

	return h ? h : 1;
}

const char *pg_kernel_release(void)
{
	static struct utsname u;

	if (!u.release[0] && uname(&u))
		return "unknown";
	return u.release;
}
