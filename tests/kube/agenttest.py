# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Harness of the agent's Kubernetes tests (tests/kube/test_agent.py and
tests/kube/bench_agent.py): a private mount and network namespace, a bpffs
and a /run of their own, a unique test cgroup holding a node's kubepods tree
(laid out as either kubelet cgroup driver lays it out), `portgate run`
against the stand-in API server, and processes as nobody that bind in a
pod's cgroup.

Root only; everything made here goes when the test ends: the processes it
started (by pid), the cgroups (bottom up), the namespaces with the process.
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time

import kubetest

PORTGATE = os.environ.get("PORTGATE", os.path.join(kubetest.HERE, "../../build/test/portgate"))
NOBODY = 65534
# one that nobody may run (not a python under root's home)
NOBODY_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
QOS_DIRS = {"Guaranteed": "", "Burstable": "burstable", "BestEffort": "besteffort"}


def enter_namespaces():
    """Run this script again inside new mount and network namespaces (once)."""
    if os.environ.get("PORTGATE_KUBE_NS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", "/run"],
                       check=True)
        return
    if os.geteuid() != 0:
        sys.exit(f"{sys.argv[0]}: FAIL: needs root (real BPF, cgroups, namespaces)")
    env = dict(os.environ, PORTGATE_KUBE_NS="1")
    r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "--",
                        sys.executable] + sys.argv, env=env)
    sys.exit(r.returncode)


def pod_path(driver, root, uid, qos):
    """The pod-level cgroup, as policy/kube_path.h lays it out."""
    q = QOS_DIRS[qos]
    if driver == "cgroupfs":
        return f"{root}/{q}/pod{uid}" if q else f"{root}/pod{uid}"
    stem = os.path.basename(root)[: -len(".slice")]
    u = uid.replace("-", "_")
    if not q:
        return f"{root}/{stem}-pod{u}.slice"
    return f"{root}/{stem}-{q}.slice/{stem}-{q}-pod{u}.slice"


class Node:
    """A test cgroup with a kubepods tree inside, and a bpffs for pins."""

    def __init__(self, tmp, driver):
        self.cg2 = kubetest.cg2_mount()
        self.driver = driver
        self.base = f"/portgate-kube.{os.getpid()}.{driver}"
        self.root = self.base + ("/kubepods.slice" if driver == "systemd" else "/kubepods")
        for q in QOS_DIRS.values():
            if q and driver == "systemd":
                os.makedirs(self.fs(f"{self.root}/kubepods-{q}.slice"), exist_ok=True)
            elif q:
                os.makedirs(self.fs(f"{self.root}/{q}"), exist_ok=True)
        os.makedirs(self.fs(self.root), exist_ok=True)
        self.bpffs = os.path.join(tmp, "bpffs-" + driver)
        os.makedirs(self.bpffs, exist_ok=True)
        subprocess.run(["mount", "-t", "bpf", "-o", "mode=0700", "bpf", self.bpffs], check=True)
        self.pin = os.path.join(self.bpffs, "pg")

    def fs(self, cg):
        return self.cg2 + cg

    def pod_cg(self, uid, qos):
        return pod_path(self.driver, self.root, uid, qos)

    def start_pod(self, uid, qos, container="c1"):
        """What the kubelet does: the pod cgroup, then a container's below it."""
        cg = f"{self.pod_cg(uid, qos)}/{container}"
        os.makedirs(self.fs(cg), exist_ok=True)
        return cg

    def close(self):
        rm_tree(self.fs(self.base))
        subprocess.run(["umount", "-l", self.bpffs], check=False)


def rm_tree(d):
    """Remove a cgroup tree bottom up (its processes must be gone)."""
    if not os.path.isdir(d):
        return
    for top, dirs, _ in os.walk(d, topdown=False):
        for x in dirs:
            for _ in range(50):
                try:
                    os.rmdir(os.path.join(top, x))
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass


def bind_as_nobody(node, cg, port=80, proto=socket.SOCK_STREAM):
    """A child joins cg, becomes nobody and binds port on 127.0.0.1: 0 or its errno."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            with open(node.fs(cg) + "/cgroup.procs", "w") as f:
                f.write("0")
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            s = socket.socket(socket.AF_INET, proto)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                code = e.errno
            s.close()
        except BaseException:  # noqa: BLE001 - a child must never return
            code = 255
        os.write(w, bytes([code & 255]))
        os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    return got[0] if got else 254


class Binder:
    """A process as nobody in cg that binds port again and again and says,
    with CLOCK_MONOTONIC times, its first success after a refusal and every
    refusal (for the restart test and the bench): 'T ok|refused N'."""

    CODE = r"""
import errno, socket, sys, time
port, quiet, last, n = int(sys.argv[1]), sys.argv[2] == "quiet", None, 0
while True:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        r = "ok"
    except OSError as e:
        # another binder of the same port holds it: not a refusal
        r = "busy" if e.errno == errno.EADDRINUSE else "refused"
    s.close()
    if r == "busy":
        time.sleep(0.0005)
        continue
    n += 1
    if r != last or (r == "refused" and not quiet):
        print(f"{time.monotonic():.6f} {r} {n}", flush=True)
        last = r
    time.sleep(0.0005)
"""

    def __init__(self, node, cg, port=80, quiet=False):
        """Binders of one port get in each other's way (EADDRINUSE, not
        counted). quiet: say only changes of outcome, not every refusal."""
        def child():
            with open(node.fs(cg) + "/cgroup.procs", "w") as f:
                f.write("0")
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

        self.proc = subprocess.Popen([NOBODY_PYTHON, "-c", self.CODE, str(port),
                                      "quiet" if quiet else "all"],
                                     stdout=subprocess.PIPE, text=True, preexec_fn=child)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.split())

    def refusals(self):
        return sum(1 for x in list(self.lines) if x[1] == "refused")

    def attempts(self):
        return int(self.lines[-1][2]) if self.lines else 0

    def first_ok_after(self, t0, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for x in list(self.lines):
                if x[1] == "ok" and float(x[0]) >= t0:
                    return float(x[0])
            time.sleep(0.001)
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.t.join(timeout=5)
        self.proc.stdout.close()


class Agent(kubetest.Watch):
    """`portgate run` with the Kubernetes source; its stderr lines kept, and
    waited for as kubetest.Watch waits for kubewatch's (its own start and
    stop: another process, another stream)."""

    def __init__(self, node, server, kc, policy, extra=(), name="node-1"):
        self.node = node
        args = [PORTGATE, "run", policy, "--pin-dir", node.pin, "--attach", node.base,
                "--kubeconfig", kc, "--node-name", name, "--kube-cgroup-driver", node.driver,
                "--kube-cgroup-root", node.root, "--kube-watch-timeout", "5", "-v"] + list(extra)
        self.q = queue.Queue()
        self.lines = []
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def state(self):
        """The agent's state file (agent.h), read directly: cheaper than
        status when polled."""
        if not getattr(self, "state_file", None):
            self.state_file = self.status()["agent"]["state_file"]
        for _ in range(100):
            try:
                with open(self.state_file) as f:
                    return json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.01)
        raise AssertionError(f"cannot read {self.state_file}")

    def status(self):
        out = subprocess.run([PORTGATE, "status", "-j", "--pin-dir", self.node.pin],
                             capture_output=True, text=True)
        return json.loads(out.stdout)

    def stop(self):
        """SIGTERM; the exit status and its stderr (the sanitizers' verdict in it)."""
        self.end(timeout=20)
        self.proc.stderr.close()
        return self.proc.returncode, "\n".join(self.lines)
