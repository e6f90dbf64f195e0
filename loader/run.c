// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * run.c - `portgate run FILE`: apply, then follow FILE and apply it again
 * whenever it changes (the agent; run.h lists its parts).
 *
 * On events in the directories of its files, once they settle, the agent
 * reads the files again (watch.c) and applies only if what it read differs
 * from what it last tried. pg_apply() changes nothing when it fails, so a
 * broken file leaves the last good policy enforcing; what the failed apply
 * reported, the log hook kept for the state file.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cmd.h"
#include "http.h"
#include "notify.h"
#include "opt.h"
#include "run.h"
#include "state.h"
#include "util.h"

/*
 * A failed apply changes nothing, except when it fails after its swap (in
 * sysctl mode, a threshold that could not be lowered): say what is in force
 * as the pins tell it, not as this agent last left it.
 */
static void log_failed_reload(struct pg_agent *a, const char *trigger, int status)
{
	char hash[65];
	uint64_t gen;
	int err = pg_status_in_force(a->o->pin_dir, &gen, hash);

	if (!err && gen == a->st.generation && !strcmp(hash, a->st.sha256))
		pg_err("reload: %s failed (%s; exit status %d, %s): the policy in force is "
		       "unchanged, generation %llu sha256 %s; fix the file, or send SIGHUP to "
		       "retry",
		       a->file, trigger, status, pg_exit_word(status), (unsigned long long)gen,
		       hash);
	else if (!err)
		pg_err("reload: %s failed (%s; exit status %d, %s): in force now: generation %llu "
		       "sha256 %s (see the errors above)",
		       a->file, trigger, status, pg_exit_word(status), (unsigned long long)gen,
		       hash);
	else
		pg_err("reload: %s failed (%s; exit status %d, %s), and what is in force cannot "
		       "be read: %s",
		       a->file, trigger, status, pg_exit_word(status),
		       err == -ENOENT ? "no policy installed" : strerror(-err));
}

/* What an apply reported, as the log hook saw it: whole lines, "WORD:
 * [WHERE: ]MESSAGE", debug left out, up to the state file's limit. */
struct said {
	char text[PG_AGENT_ERR_MAX + 1];
	size_t used;
};

static void keep_said(const struct pg_log_rec *r, void *ud)
{
	struct said *s = ud;
	int n;

	if (r->level == PG_LOG_DEBUG)
		return;
	n = snprintf(s->text + s->used, sizeof(s->text) - s->used, "%s%s: %s%s%s",
		     s->used ? "\n" : "", r->word, r->where ? r->where : "", r->where ? ": " : "",
		     r->msg);
	if (n < 0 || (size_t)n >= sizeof(s->text) - s->used)
		s->text[s->used] = 0; /* no room for this line: keep the lines before it */
	else
		s->used += (size_t)n;
}

static int apply_now(struct pg_agent *a, const char *trigger)
{
	struct pg_apply_result res = { 0 };
	struct said *said = calloc(1, sizeof(*said));
	bool first = !a->applied, ok;
	char hash[65];
	int status;

	pg_dbg("applying %s (%s)", a->file, trigger);
	a->st.last_attempt_at = (uint64_t)time(NULL);
	a->st.last_attempt_boot_ns = pg_reload_clock_ns();
	pg_notify_apply_begin(first);
	if (said)
		pg_log_set_hook(keep_said, said);
	status = pg_apply(a->file, a->o, &res);
	a->trees.reuse = false; /* only a pods-only trigger asks again */
	pg_log_set_hook(NULL, NULL);
	ok = status == PG_EXIT_OK;
	snprintf(a->st.last_attempt_trigger, sizeof(a->st.last_attempt_trigger), "%s", trigger);
	a->st.last_attempt_ok = ok;
	a->st.last_attempt_status = status;
	if (ok) {
		pg_hex(res.sha256, 32, hash);
		a->st.last_success_at = (uint64_t)time(NULL);
		a->st.generation = res.gen;
		snprintf(a->st.sha256, sizeof(a->st.sha256), "%s", hash);
		if (!first)
			a->st.reloads_ok++;
		a->applied = true;
		pg_log(PG_LOG_INFO, first ? "apply" : "reload",
		       "applied %s generation %llu sha256 %s (%s; %zu rule%s on %zu cgroup%s, %s "
		       "mode)",
		       a->file, (unsigned long long)res.gen, hash, trigger, res.nrules,
		       res.nrules == 1 ? "" : "s", res.nnodes, res.nnodes == 1 ? "" : "s",
		       res.grant ? "grant" : "sysctl");
	} else {
		snprintf(a->st.last_error, sizeof(a->st.last_error), "%s", said ? said->text : "");
		if (!a->st.last_error[0])
			snprintf(a->st.last_error, sizeof(a->st.last_error),
				 "error: apply exited with status %d (%s)", status,
				 pg_exit_word(status));
		a->st.last_error_at = a->st.last_attempt_at;
		if (!first) {
			a->st.reloads_failed++;
			log_failed_reload(a, trigger, status);
		} else {
			pg_err("apply: %s failed (exit status %d, %s): the agent did not start "
			       "following it",
			       a->file, status, pg_exit_word(status));
		}
	}
	free(said);
	pg_notify_apply_end(first, &a->st);
	if (ok || !first)
		pg_agent_write_state(a);
	if (ok && first)
		pg_agent_write_ready(a);
	if (ok || !first)
		pg_agent_write_metrics(a);
	return status;
}

/*
 * Look at the files (watch.c), then apply if what they hold differs from
 * what was last tried, or always when forced.
 */
int pg_agent_look(struct pg_agent *a, const char *why, bool forced)
{
	bool changed;

	if (pg_watch_look(&a->watch, a->file, &changed)) {
		pg_err("cannot read %s: out of memory", a->file);
		return PG_EXIT_FAIL;
	}
	if (!forced && !changed) {
		pg_dbg("%s: unchanged", why);
		return PG_EXIT_OK;
	}
	/* pods-only asked for the kept tree; an edited policy may hold a new
	 * glob, which only a fresh read of the tree matches */
	if (changed)
		a->trees.reuse = false;
	return apply_now(a, why);
}

struct run_args {
	struct pg_opts o; /* first: see opt.h */
	bool detach_on_exit;
	const char *metrics_file, *ready_file, *listen;
	uint64_t metrics_interval;
	struct pg_kube_args kube;
};

static const struct pg_optdef opts[] = {
	PG_OPT_ATTACH,
	PG_OPT_PIN_DIR,
	{ .name = "detach-on-exit",
	  .help = "on SIGTERM or SIGINT, stop enforcement as stop does",
	  .def = "leave it in place",
	  .off = offsetof(struct run_args, detach_on_exit) },
	{ .name = "metrics-file",
	  .kind = PG_OPT_STR,
	  .arg = "PATH",
	  .help = "keep PATH holding status --prometheus output",
	  .def = "none",
	  .off = offsetof(struct run_args, metrics_file) },
	{ .name = "metrics-interval",
	  .kind = PG_OPT_U64,
	  .arg = "SEC",
	  .help = "seconds between metrics file rewrites, 1-86400",
	  .num = 15,
	  .min = 1,
	  .max = 86400,
	  .give = "give seconds, 1 to 86400",
	  .off = offsetof(struct run_args, metrics_interval) },
	{ .name = "ready-file",
	  .kind = PG_OPT_STR,
	  .arg = "PATH",
	  .help = "created once the first apply succeeds, removed at exit",
	  .def = "none",
	  .off = offsetof(struct run_args, ready_file) },
	{ .name = "listen",
	  .kind = PG_OPT_STR,
	  .arg = "ADDR:PORT",
	  .help = "serve /healthz, /readyz and /metrics over HTTP there (\"[::]:9464\", "
		  "\"127.0.0.1:9464\")",
	  .def = "none",
	  .off = offsetof(struct run_args, listen) },
	{ .name = "kubeconfig",
	  .kind = PG_OPT_STR,
	  .arg = "FILE",
	  .help = "follow this node's pods on the API server FILE names, for pod: rules",
	  .def = "in-cluster when KUBERNETES_SERVICE_HOST is set, else none",
	  .off = offsetof(struct run_args, kube.kubeconfig) },
	{ .name = "node-name",
	  .kind = PG_OPT_STR,
	  .arg = "NAME",
	  .help = "the node whose pods to follow",
	  .def = "$NODE_NAME",
	  .off = offsetof(struct run_args, kube.node) },
	{ .name = "kube-cgroup-driver",
	  .kind = PG_OPT_STR,
	  .arg = "DRIVER",
	  .help = "the kubelet's cgroup driver: systemd or cgroupfs",
	  .def = "found in the cgroup tree",
	  .off = offsetof(struct run_args, kube.driver) },
	{ .name = "kube-cgroup-root",
	  .kind = PG_OPT_STR,
	  .arg = "PATH",
	  .help = "the kubepods cgroup, from the cgroup2 root (\"/kubepods.slice\")",
	  .def = "found in the cgroup tree",
	  .off = offsetof(struct run_args, kube.root) },
	{ .name = "kube-watch-timeout",
	  .kind = PG_OPT_U64,
	  .arg = "SEC",
	  .help = "seconds a watch of the pods stays open; one silent for longer (plus a "
		  "tenth, at least 2 s) is given up and made again, 5-3600",
	  .num = 300,
	  .min = 5,
	  .max = 3600,
	  .give = "give seconds, 5 to 3600",
	  .off = offsetof(struct run_args, kube.watch_timeout) },
	{ 0 },
};

/* Check what was parsed, and fill the agent from it; 0 or an exit status. */
static int take_args(const struct run_args *r, const char *file, struct pg_agent *a)
{
	if ((r->metrics_file && !*r->metrics_file) || (r->ready_file && !*r->ready_file)) {
		pg_err("--metrics-file and --ready-file need a path");
		return PG_EXIT_USAGE;
	}
	a->detach_on_exit = r->detach_on_exit;
	a->metrics_file = r->metrics_file;
	a->ready_file = r->ready_file;
	if (r->listen) {
		struct sockaddr_storage ss;
		socklen_t sslen;
		char why[256];

		if (pg_http_parse_listen(r->listen, &ss, &sslen, why, sizeof(why))) {
			pg_err("--listen %s: %s", r->listen, why);
			return PG_EXIT_USAGE;
		}
		a->listen = r->listen;
	}
	a->metrics_ms = r->metrics_interval * 1000;
	/* Absolute, symlinks kept: they are followed again at every read. */
	if (file[0] == '/') {
		snprintf(a->file, sizeof(a->file), "%s", file);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) || (size_t)snprintf(a->file, sizeof(a->file), "%s/%s",
								  cwd, file) >= sizeof(a->file)) {
			pg_err("cannot make %s an absolute path: %s", file,
			       strerror(errno ? errno : ENAMETOOLONG));
			return PG_EXIT_USAGE;
		}
	}
	return 0;
}

/* Refuse to start beside a live agent of the same pin directory. */
static int check_other_agent(struct pg_agent *a)
{
	struct pg_agent_state old;
	int err = pg_agent_state_read(a->state_path, &old);

	if (err == -ENOENT)
		return 0;
	if (err) {
		pg_warn("ignoring the unreadable agent state file %s: %s", a->state_path,
			strerror(-err));
		return 0;
	}
	if (old.pid != getpid() && pg_agent_alive(&old)) {
		pg_err("cannot start: agent pid %lld already follows %s for pin dir %s (state file "
		       "%s); stop it first",
		       (long long)old.pid, old.file, a->o->pin_dir, a->state_path);
		return -EEXIST;
	}
	return 0;
}

/* The state file's first fields, signals and the watch; 0 or -errno (said). */
static int setup(struct pg_agent *a)
{
	uint64_t st;
	int err;

	if ((err = pg_agent_state_path(a->o->pin_dir, a->state_path, sizeof(a->state_path)))) {
		pg_err("cannot name the agent state file for pin dir %s: %s", a->o->pin_dir,
		       strerror(-err));
		return err;
	}
	a->st.pid = getpid();
	if ((err = pg_proc_starttime(getpid(), &st))) {
		pg_err("cannot read this process's start time from /proc/self/stat: %s",
		       strerror(-err));
		return err;
	}
	a->st.starttime = st;
	a->st.started_at = (uint64_t)time(NULL);
	a->st.running = true;
	snprintf(a->st.file, sizeof(a->st.file), "%s", a->file);
	snprintf(a->st.pin_dir, sizeof(a->st.pin_dir), "%s", a->o->pin_dir);
	snprintf(a->st.attach, sizeof(a->st.attach), "%s", a->o->attach);
	if ((err = check_other_agent(a)))
		return err;

	err = pg_watch_init(&a->watch);
	if (err) {
		pg_err("cannot create an inotify instance: %s (see fs.inotify.max_user_instances)",
		       strerror(-err));
		return err;
	}
	pg_notify_init();
	if ((err = pg_agent_listen(a)))
		return err;
	return pg_agent_http_start(a);
}

static void finish(struct pg_agent *a, const char *why)
{
	a->st.running = false;
	a->st.exited_at = (uint64_t)time(NULL);
	snprintf(a->st.exit_reason, sizeof(a->st.exit_reason), "%s", why);
	pg_agent_write_state(a);
	pg_agent_write_metrics(a);
	pg_notify_stopping();
}

/* The end of a loop: stop enforcing with --detach-on-exit, say why the
 * agent ends, in its state file too; an exit status. */
static int leave(struct pg_agent *a, int status)
{
	char why[256], sig[32]; /* why: as long as the state's exit_reason */

	pg_agent_stop_sources();
	if (a->stop_sig)
		snprintf(sig, sizeof(sig), "SIG%s", sigabbrev_np(a->stop_sig));
	else
		snprintf(sig, sizeof(sig), "the loop ended");
	pg_agent_remove_ready(a);
	if (status) {
		snprintf(why, sizeof(why), "the loop failed; enforcement left in place");
	} else if (a->detach_on_exit) {
		pg_info("exit: %s; --detach-on-exit: stopping enforcement", sig);
		status = pg_stop(a->o->pin_dir, true) ? PG_EXIT_FAIL : PG_EXIT_OK;
		snprintf(why, sizeof(why), "%s; %s", sig,
			 status ? "--detach-on-exit: stop failed, enforcement left in place"
				: "--detach-on-exit: sysctls restored, programs detached");
	} else {
		snprintf(why, sizeof(why), "%s; enforcement left in place (generation %llu)", sig,
			 (unsigned long long)a->st.generation);
	}
	finish(a, why);
	if (status)
		pg_err("exit: %s", why);
	else
		pg_info("exit: %s", why);
	return status;
}

/* The agent's life once set up: the first apply, the event sources, the
 * loop, the exit; an exit status. */
static int serve(struct pg_agent *a)
{
	char why[256], hash[65];
	uint64_t gen;
	int status;

	/* not ready until this agent's first apply succeeds */
	pg_agent_remove_ready(a);
	pg_info("start: following %s (pin dir %s, attach %s, state file %s)", a->file,
		a->o->pin_dir, a->o->attach, a->state_path);
	if (pg_agent_kube_hold(a) && !pg_status_in_force(a->o->pin_dir, &gen, hash)) {
		/* an agent restart: what is pinned keeps the pods' grants until
		 * the first list of pods is in (run_kube.c) */
		pg_info("start: generation %llu (sha256 %s) keeps enforcing until the first list "
			"of pods is in",
			(unsigned long long)gen, hash);
		pg_watch_look(&a->watch, a->file, &(bool){ false });
		status = PG_EXIT_OK;
	} else {
		status = pg_agent_look(a, "start", true);
	}
	if (status) {
		snprintf(why, sizeof(why), "the first apply failed with exit status %d (%s)",
			 status, pg_exit_word(status));
		finish(a, why);
		return status;
	}
	if (pg_agent_start_sources(a)) {
		pg_agent_stop_sources();
		pg_agent_remove_ready(a);
		finish(a, "an event source failed to start; enforcement left in place");
		return PG_EXIT_FAIL;
	}
	return leave(a, pg_agent_loop(a) ? PG_EXIT_FAIL : PG_EXIT_OK);
}

static int cmd_run(int argc, char **argv, struct pg_opts *given)
{
	struct run_args r = { .o = *given };
	struct pg_agent *a;
	char **arg;
	int status;

	if (!pg_opt_parse(&pg_cmd_run, argc, argv, &r, &arg, &status))
		return status;
	a = calloc(1, sizeof(*a));
	if (!a) {
		pg_err("cannot start the agent: out of memory");
		return PG_EXIT_FAIL;
	}
	a->o = &r.o;
	r.o.trees = &a->trees;
	a->sfd = a->watch.ifd = -1;
	status = take_args(&r, arg[0], a);
	if (!status && geteuid()) {
		pg_err("needs root: it loads BPF programs, pins them and attaches them to "
		       "cgroups");
		status = PG_EXIT_FAIL;
	}
	if (status) {
		free(a);
		return status;
	}
	pg_log_agent_form();
	r.o.quiet = true; /* the agent says what an apply did, in its own form */
	status = setup(a) || pg_agent_kube_init(a, &r.kube) ? PG_EXIT_FAIL : serve(a);
	pg_agent_kube_free(a);
	if (a->sfd >= 0)
		close(a->sfd);
	pg_agent_http_stop(a);
	pg_watch_free(&a->watch);
	pg_cg_tree_free(a->trees.v, a->trees.n);
	free(a);
	return status;
}

const struct pg_cmd pg_cmd_run = {
	.name = "run",
	.fn = cmd_run,
	.synopsis = "FILE [--attach CGROUP] [--pin-dir DIR] [--detach-on-exit] "
		    "[--metrics-file PATH] [--metrics-interval SEC] [--ready-file PATH] [--listen "
		    "ADDR:PORT] [--kubeconfig FILE] [--node-name NAME] [--kube-cgroup-driver "
		    "DRIVER] [--kube-cgroup-root PATH] [--kube-watch-timeout SEC]",
	.help = "the agent: apply, then follow FILE and apply it again when it changes",
	.opts = opts,
	.nargs = 1,
	.nargs_err = "run needs exactly one policy file",
	.nargs_usage = true,
};
