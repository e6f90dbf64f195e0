# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Harness of tests/kube: test certificates, the stand-in API server as a
child process, kubeconfig files, and the kubewatch driver as a child whose
output lines the tests wait for."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable
KUBEWATCH = os.environ.get("KUBEWATCH", os.path.join(HERE, "../../build/test/kube/kubewatch"))
TOKEN = "token-one"


class Server:
    """tests/kube/apiserver.py on 127.0.0.1, with its control channel."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.certs = os.path.join(tmp, "certs")
        subprocess.run([os.path.join(HERE, "mkcerts.sh"), self.certs], check=True)
        ports = os.path.join(tmp, "ports")
        self.log = open(os.path.join(tmp, "apiserver.log"), "w")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "apiserver.py"), "--cert", self.cert("server.crt"),
             "--key", self.cert("server.key"), "--ca", self.cert("ca.crt"), "--token", TOKEN,
             "--ports-file", ports, "--stdin-lifeline"], stdin=subprocess.PIPE, stdout=self.log,
            stderr=subprocess.STDOUT)
        for _ in range(100):
            if os.path.exists(ports):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("apiserver.py exited; see " + self.log.name)
            time.sleep(0.05)
        with open(ports) as f:
            self.port, self.ctl_port = (int(x) for x in f.read().split())
        self.url = f"https://127.0.0.1:{self.port}"
        self.is_down = False

    def down(self):
        self.ctl("down")
        self.is_down = True

    def up(self):
        self.ctl("up")
        self.is_down = False

    def cert(self, name):
        return os.path.join(self.certs, name)

    def ctl(self, cmd, **body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.ctl_port}/{cmd}",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def reset(self):
        """Undo what a test set: a fresh server as far as clients can tell."""
        if self.is_down:
            self.up()
        for name, body in (("slow", {"seconds": 0}), ("stall", {"on": False}), ("split", {"on": False}),
                           ("token", {"token": TOKEN}), ("bookmarks", {"interval": 1.0})):
            self.ctl(name, **body)

    def close(self):
        try:
            self.ctl("quit")
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - it is going away either way
            self.proc.kill()
            self.proc.wait()
        self.proc.stdin.close()
        self.log.close()


def kubeconfig(path, server, cluster=None, user=None, extra=""):
    """A kubeconfig with one context; cluster and user are YAML field lines."""
    cluster = cluster or [f"certificate-authority: {server.cert('ca.crt')}"]
    user = user or [f"token: {TOKEN}"]
    ind = "\n    "
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server.url}
    {ind.join(cluster)}
users:
- name: me
  user:
    {ind.join(user)}
contexts:
- name: ctx
  context:
    cluster: test
    user: me
current-context: ctx
{extra}""")
    return path


class Watch:
    """kubewatch as a child; its lines collected as they come."""

    def __init__(self, args, env=None):
        self.lines = []
        self.q = queue.Queue()
        self.proc = subprocess.Popen([KUBEWATCH] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait(self, pattern, timeout=10.0):
        """The next line matching pattern (a regex); fails after timeout."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                line = self.q.get(timeout=max(0.01, left))
            except queue.Empty:
                line = ""
            if line is None or (left <= 0 and not line):
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got:\n  "
                                     + "\n  ".join(self.lines[-40:]))
            if line:
                self.lines.append(line)
                if rx.search(line):
                    return line

    def drain(self, seconds):
        """Lines that come within seconds."""
        end = time.monotonic() + seconds
        got = []
        while time.monotonic() < end:
            try:
                line = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            got.append(line)
        return got

    def end(self, timeout=15):
        """SIGTERM (SIGKILL after timeout), then every line it wrote kept."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        while True:
            try:
                line = self.q.get_nowait()
            except queue.Empty:
                break
            if line:
                self.lines.append(line)

    def stop(self):
        """SIGTERM, then the sanitizers' verdict: (exit status, EXIT line, stderr)."""
        self.end()
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        exit_line = next((x for x in self.lines if x.startswith("EXIT ")), "")
        return self.proc.returncode, exit_line, err


def tmpdir():
    """Under KUBE_TMPDIR (make test-kube: build/test/kube) when set."""
    d = os.environ.get("KUBE_TMPDIR")
    if d:
        os.makedirs(d, exist_ok=True)
    return tempfile.mkdtemp(prefix="portgate-kube.", dir=d or None)


def cg2_mount():
    """Where cgroup2 is mounted, from /proc/self/mountinfo (never assumed)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    raise RuntimeError("no cgroup2 mount in /proc/self/mountinfo")
