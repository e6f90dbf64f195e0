#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""loader/kube_client.c against the stand-in API server (tests/kube/
apiserver.py), through the sanitised driver build/test/kube/kubewatch: list,
watch, bookmarks, 410 Gone, dropped connections and backoff, slow answers, a
rotated token, garbage, huge objects, a silent watch, kubeconfig and
in-cluster configuration. And the stand-in's fidelity, checked with kubectl.

Each test follows its own node's pods, so tests share one server.
"""

import json
import os
import re
import shutil
import ssl
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import kubeobj
import kubetest
from kubetest import Watch, kubeconfig

S = None
TMP = None


def setUpModule():
    global S, TMP
    TMP = kubetest.tmpdir()
    S = kubetest.Server(TMP)


def tearDownModule():
    S.close()
    shutil.rmtree(TMP, ignore_errors=True)


class Base(unittest.TestCase):
    # Short timeouts so that every failure path shows within seconds.
    FAST = ["--watch-timeout", "5", "--grace", "2", "--list-timeout", "5", "--backoff", "100,800"]

    def setUp(self):
        self.node = "node-" + self._testMethodName.replace("_", "-")
        self.kc = kubeconfig(os.path.join(TMP, self.node + ".kubeconfig"), S)
        self.watches = []

    def tearDown(self):
        for w in self.watches:
            if w.proc.poll() is None:
                self.stopped(w)
        S.reset()

    def add(self, name, ns="default", labels=None, node=None, **kw):
        return S.ctl("add", name=name, namespace=ns, labels=labels or {}, node=node or self.node,
                     **kw)["uid"]

    def watch(self, *extra, kc=None, args=None):
        w = Watch(args or (["--kubeconfig", kc or self.kc, "--node", self.node] + self.FAST
                           + list(extra)))
        self.watches.append(w)
        return w

    def stopped(self, w):
        """Stop a driver; it must exit cleanly, sanitizers silent."""
        rc, exit_line, err = w.stop()
        self.assertEqual(rc, 0, f"kubewatch exit {rc}; stderr:\n{err}")
        self.assertNotRegex(err, r"AddressSanitizer|LeakSanitizer|runtime error")
        return exit_line

    def synced(self, w):
        w.wait(r"^SYNC$")
        w.wait(r"^STATE connected ")
        self.watching()

    def watching(self):
        """Until the server holds a watch of our node open."""
        deadline = time.monotonic() + 10
        while not [p for p in S.ctl("stats")["watching"] if f"nodeName%3D{self.node}&" in p]:
            self.assertLess(time.monotonic(), deadline, "no watch open")
            time.sleep(0.02)

    def cpu_over(self, w, seconds):
        """CPU seconds the driver spends in the next seconds of wall time."""
        def cpu():
            with open(f"/proc/{w.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        before = cpu()
        w.drain(seconds)
        return cpu() - before

    def no_deletes(self, w):
        self.assertFalse([x for x in w.lines if x.startswith("DELETE ")], "\n".join(w.lines))


class ListWatch(Base):
    def test_list_then_watch(self):
        a = self.add("web-a", "ingress", {"app": "web", "tier": "fe"}, qos="Guaranteed")
        self.add("elsewhere", node="some-other-node")
        w = self.watch()
        line = w.wait(r"^UPSERT ")
        self.assertEqual(line, f"UPSERT ingress/web-a {a} Guaranteed Running app=web,tier=fe")
        self.synced(w)
        b = self.add("dns-b", "kube-system", {"k8s-app": "kube-dns"}, qos="Burstable", phase="Pending")
        self.assertEqual(w.wait(r"^UPSERT "), f"UPSERT kube-system/dns-b {b} Burstable Pending k8s-app=kube-dns")
        S.ctl("modify", uid=a, labels={"app": "web", "tier": "canary"})
        self.assertEqual(w.wait(r"^UPSERT "), f"UPSERT ingress/web-a {a} Guaranteed Running app=web,tier=canary")
        S.ctl("modify", uid=b, phase="Running")
        self.assertIn(" Running ", w.wait(r"^UPSERT kube-system/dns-b"))
        S.ctl("delete", uid=a)
        self.assertEqual(w.wait(r"^DELETE "), f"DELETE {a}")
        self.assertRegex(self.stopped(w), r"^EXIT reconnects=0 pods=1 rv=\d+$")
        self.assertFalse([x for x in w.lines if "elsewhere" in x])

    def test_events_cut_anywhere(self):
        a = self.add("cut", labels={"n": "0"})
        S.ctl("split", on=True)
        S.ctl("bookmarks", interval=0.2)
        w = self.watch("--watch-timeout", "2")
        self.synced(w)
        for i in range(1, 4):
            S.ctl("modify", uid=a, labels={"n": str(i)})
            self.assertIn(f" n={i}", w.wait(r"^UPSERT "))
        self.watching()
        time.sleep(2.5)  # a watch or two end, between events
        self.assertFalse([x for x in w.lines if x.startswith("LOG ")], "\n".join(w.lines))
        self.assertRegex(self.stopped(w), r"^EXIT reconnects=0 pods=1 ")

    def test_paged_list(self):
        uids = {self.add(f"p-{i}", labels={"i": str(i)}) for i in range(7)}
        w = self.watch("--limit", "3")
        self.synced(w)
        got = {x.split()[2] for x in w.lines if x.startswith("UPSERT ")}
        self.assertEqual(got, uids)
        log = S.ctl("stats")["log"]
        pages = [e[2] for e in log if self.node in e[2] and "continue=" in e[2]]
        self.assertEqual(len(pages), 2, pages)
        self.stopped(w)

    def test_expired_continue_token_starts_the_list_over(self):
        uids = {self.add(f"c-{i}") for i in range(7)}
        S.ctl("slow", seconds=0.5)
        w = self.watch("--limit", "3")
        deadline = time.monotonic() + 10
        while not [e for e in S.ctl("stats")["log"] if self.node in e[2] and "continue=" in e[2]]:
            self.assertLess(time.monotonic(), deadline, "no second page asked for")
            time.sleep(0.02)
        S.ctl("expire")  # while the second page's answer is held back
        w.wait(r"^LOG kube: list: HTTP 410: The provided continue parameter is too old")
        S.ctl("slow", seconds=0)
        self.synced(w)
        self.assertEqual({x.split()[2] for x in w.lines if x.startswith("UPSERT ")}, uids)
        self.no_deletes(w)
        self.stopped(w)

    def test_250_pods(self):
        uids = {self.add(f"many-{i}", "bulk", {"app": f"a{i % 10}"}) for i in range(250)}
        w = self.watch()
        self.synced(w)
        self.assertEqual({x.split()[2] for x in w.lines if x.startswith("UPSERT ")}, uids)
        self.assertRegex(self.stopped(w), r" pods=250 ")

    def test_bookmarks_keep_the_resource_version(self):
        S.ctl("bookmarks", interval=0.3)
        self.add("bm")
        w = self.watch("--watch-timeout", "2")
        self.synced(w)
        # Changes on another node move the RV on; only bookmarks tell us.
        for i in range(3):
            self.add(f"other-{i}", node="node-bookmark-other")
        rv = S.ctl("stats")["rv"]
        # The watch ends at its timeoutSeconds; the next one starts from the
        # RV of the last bookmark.
        deadline = time.monotonic() + 10
        while True:
            watches = [e[2] for e in S.ctl("stats")["log"] if self.node in e[2] and "watch=1" in e[2]]
            if f"resourceVersion={rv}&" in watches[-1] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(len(watches), 2, watches)
        self.assertIn("allowWatchBookmarks=true", watches[0])
        self.assertRegex(watches[0], r"fieldSelector=spec.nodeName%3Dnode-test-bookmarks")
        self.assertIn(f"resourceVersion={rv}&", watches[-1])
        self.assertNotIn(f"resourceVersion={rv}&", watches[0])
        self.stopped(w)

    def test_410_gone_relists_and_reports_vanished_pods(self):
        keep = self.add("keep")
        gone = self.add("gone")
        w = self.watch()
        self.synced(w)
        S.down()
        S.ctl("delete", uid=gone)
        new = self.add("new")
        S.ctl("expire")
        S.up()
        w.wait(r"^LOG kube: watch: resourceVersion \d+ is too old \(410 Gone")
        self.assertEqual(w.wait(r"^(UPSERT|DELETE) "), f"UPSERT default/new {new} BestEffort Running -")
        self.assertEqual(w.wait(r"^(UPSERT|DELETE) "), f"DELETE {gone}")
        w.wait(r"^STATE connected ")
        self.assertFalse([x for x in w.lines if keep in x and not x.startswith("UPSERT default/keep")])
        self.assertRegex(self.stopped(w), r" pods=2 ")


class Failures(Base):
    def test_server_down_backoff_then_back(self):
        self.add("steady")
        w = self.watch()
        self.synced(w)
        # Connected and idle, the poll loop sleeps.
        self.assertLess(self.cpu_over(w, 2.0), 0.2)
        S.down()
        t0 = time.monotonic()
        w.wait(r"^STATE disconnected ")
        self.assertLess(self.cpu_over(w, 4.0), 0.4)  # and waiting to retry, too
        lines = w.lines
        S.up()
        w.wait(r"^STATE connected ", timeout=5)
        retries = [float(m.group(1)) for m in
                   (re.search(r"retrying in (\d+\.\d) s", x) for x in w.lines) if m]
        # 100 ms doubling to 800 ms, jitter taking up to half: never a busy loop.
        self.assertLessEqual(len(retries), 16, lines)
        self.assertGreaterEqual(len(retries), 3, lines)
        self.assertTrue(all(r <= 0.8 for r in retries), retries)
        self.assertGreaterEqual(max(retries), 0.4, retries)
        self.assertGreater(time.monotonic() - t0, 4.0)
        self.no_deletes(w)
        self.assertRegex(self.stopped(w), r"reconnects=([3-9]|1\d) pods=1 ")

    def test_dropped_connections(self):
        a = self.add("d1")
        w = self.watch()
        self.synced(w)
        for _ in range(3):
            S.ctl("drop")
            w.wait(r"^STATE disconnected ")
            w.wait(r"^STATE connected ", timeout=5)
            self.watching()
        S.ctl("modify", uid=a, labels={"after": "drops"})
        self.assertIn("after=drops", w.wait(r"^UPSERT "))
        self.no_deletes(w)
        self.stopped(w)

    def test_slow_answers(self):
        self.add("slow")
        S.ctl("slow", seconds=1)
        w = self.watch()
        self.synced(w)  # slower than usual, within the timeouts
        self.stopped(w)
        S.ctl("slow", seconds=4)
        w = self.watch("--list-timeout", "1")
        w.wait(r"^LOG kube: list https://127.0.0.1:\d+: Operation timed out")
        S.ctl("slow", seconds=0)
        self.synced(w)
        self.stopped(w)

    def test_silent_watch_is_given_up(self):
        a = self.add("silent")
        w = self.watch("--watch-timeout", "1", "--grace", "1")
        self.synced(w)
        S.ctl("stall", on=True)
        t0 = time.monotonic()
        w.wait(r"^LOG kube: watch https://127.0.0.1:\d+: (Operation too slow|Operation timed out)",
               timeout=15)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        S.ctl("stall", on=False)
        w.wait(r"^STATE connected ")
        S.ctl("modify", uid=a, labels={"x": "y"})
        self.assertIn("x=y", w.wait(r"^UPSERT "))
        self.stopped(w)

    def test_rotated_token(self):
        tok = os.path.join(TMP, self.node + ".token")
        with open(tok, "w") as f:
            f.write(kubetest.TOKEN + "\n")
        kc = kubeconfig(os.path.join(TMP, self.node + ".tf.kubeconfig"), S,
                        user=[f"tokenFile: {tok}"])
        a = self.add("rot")
        w = self.watch(kc=kc)
        self.synced(w)
        S.ctl("token", token="token-two")
        S.ctl("drop")
        w.wait(r"^LOG kube: watch: 401 Unauthorized: the server refused our credentials "
               r"\(token from .*\.token, read again before the next try\)")
        w.wait(r"^STATE disconnected ")
        # kubelet replaces the projected token file; the client reads it again.
        with open(tok + ".new", "w") as f:
            f.write("token-two\n")
        os.rename(tok + ".new", tok)
        w.wait(r"^STATE connected ", timeout=5)
        S.ctl("modify", uid=a, labels={"token": "two"})
        self.assertIn("token=two", w.wait(r"^UPSERT "))
        self.no_deletes(w)
        self.stopped(w)
        w = self.watch()  # the kubeconfig's fixed old token: refused, clearly
        w.wait(r"^LOG kube: list: 401 Unauthorized: the server refused our credentials; retrying")
        self.stopped(w)


class BadInput(Base):
    def test_garbage_in_the_watch(self):
        a = self.add("g")
        w = self.watch()
        self.synced(w)
        S.ctl("garbage", where="watch")
        w.wait(r"^LOG kube: watch: not JSON: .*; retrying in")
        w.wait(r"^STATE connected ")
        S.ctl("modify", uid=a, labels={"still": "here"})
        self.assertIn("still=here", w.wait(r"^UPSERT "))
        self.no_deletes(w)
        self.stopped(w)

    def test_garbage_and_truncated_lists(self):
        self.add("gl")
        for fault in ("garbage", "truncate"):
            S.ctl(fault, where="list")
            w = self.watch()
            w.wait(r"^LOG kube: list: the answer is not JSON \(or cut short\); retrying in")
            self.synced(w)
            self.stopped(w)

    def test_truncated_watch_event(self):
        self.add("tr")
        w = self.watch()
        self.synced(w)
        S.ctl("truncate", where="watch")
        w.wait(r"^LOG kube: watch: the stream ended inside an event; retrying in")
        w.wait(r"^STATE connected ")
        self.no_deletes(w)
        self.stopped(w)

    def test_huge_event(self):
        self.add("h")
        w = self.watch()
        self.synced(w)
        S.ctl("huge", bytes=3 << 20, node=self.node)
        w.wait(r"^LOG kube: watch: an event over 1048576 bytes; listing again; retrying in")
        w.wait(r"^STATE connected ")
        self.assertFalse([x for x in w.lines if "huge-0" in x])
        self.no_deletes(w)
        self.assertRegex(self.stopped(w), r" pods=1 ")

    def test_huge_list(self):
        big = self.add("big", annotations={"blob": "x" * 300000})
        w = self.watch("--max-list", "200000")
        w.wait(r"^LOG kube: list: an answer over 200000 bytes; retrying in")
        S.ctl("delete", uid=big)
        self.synced(w)
        self.stopped(w)


class Config(Base):
    def dump(self, kc, *extra):
        p = subprocess.run([kubetest.KUBEWATCH, "--kubeconfig", kc, "--dump-config"] + list(extra),
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def write(self, name, **kw):
        return kubeconfig(os.path.join(TMP, name), S, **kw)

    def b64(self, name):
        import base64
        with open(S.cert(name), "rb") as f:
            return base64.b64encode(f.read()).decode()

    def test_client_certificate_from_data(self):
        self.add("cc")
        kc = self.write("cc.kubeconfig", cluster=[f"certificate-authority-data: {self.b64('ca.crt')}"],
                        user=[f"client-certificate-data: {self.b64('client.crt')}",
                              f"client-key-data: {self.b64('client.key')}"])
        rc, out = self.dump(kc)
        self.assertEqual(rc, 0, out)
        self.assertIn("ca data\ntoken -\n", out)
        self.assertIn("cert data\nkey data\n", out)
        w = self.watch(kc=kc)
        self.synced(w)
        self.stopped(w)

    def test_relative_paths_and_files(self):
        d = os.path.join(TMP, "rel")
        os.makedirs(d, exist_ok=True)
        for f in ("ca.crt", "client.crt", "client.key"):
            shutil.copy(S.cert(f), d)
        kc = self.write("rel/kubeconfig", cluster=["certificate-authority: ca.crt"],
                        user=["client-certificate: client.crt", "client-key: client.key"])
        rc, out = self.dump(kc)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"ca {d}/ca.crt\n", out)
        self.assertIn(f"cert {d}/client.crt\nkey {d}/client.key\n", out)

    def test_insecure_refused_unless_allowed(self):
        kc = self.write("insecure.kubeconfig", cluster=["insecure-skip-tls-verify: true"])
        rc, out = self.dump(kc)
        self.assertEqual(rc, 1)
        self.assertRegex(out, r"CONFIG-ERROR .*insecure.kubeconfig: cluster \"test\": "
                              r"insecure-skip-tls-verify refused")
        rc, out = self.dump(kc, "--allow-insecure")
        self.assertEqual(rc, 0, out)
        self.assertIn("insecure yes", out)

    def test_bad_kubeconfigs(self):
        cases = [
            ("current-context: nope", r'context "nope" not found'),
            ("current-context: [", r"bad.kubeconfig:\d+:\d+: "),
        ]
        for extra, want in cases:
            path = os.path.join(TMP, "bad.kubeconfig")
            with open(path, "w") as f:
                f.write(extra + "\n")
            rc, out = self.dump(path)
            self.assertEqual(rc, 1, out)
            self.assertRegex(out, want)
        kc = self.write("half.kubeconfig", user=[f"client-certificate: {S.cert('client.crt')}"])
        self.assertRegex(self.dump(kc)[1], r"a client certificate needs its key")
        kc = self.write("exec.kubeconfig", user=["exec: {command: aws}"])
        self.assertRegex(self.dump(kc)[1], r"exec and auth-provider credentials are not supported")

    def test_wrong_ca_is_refused(self):
        kc = self.write("other-ca.kubeconfig", cluster=[f"certificate-authority: {S.cert('other-ca.crt')}"])
        w = self.watch(kc=kc)
        w.wait(r"^LOG kube: list https://127.0.0.1:\d+: SSL certificate problem")
        self.assertFalse([x for x in w.lines if x == "SYNC"])
        self.stopped(w)

    def test_in_cluster(self):
        sa = os.path.join(TMP, "sa")
        os.makedirs(sa, exist_ok=True)
        shutil.copy(S.cert("ca.crt"), sa)
        with open(os.path.join(sa, "token"), "w") as f:
            f.write(kubetest.TOKEN)
        self.add("ic")
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(S.port))
        w = Watch(["--in-cluster", sa, "--node", self.node] + self.FAST, env=env)
        self.watches.append(w)
        self.synced(w)
        self.stopped(w)
        p = subprocess.run([kubetest.KUBEWATCH, "--in-cluster", sa, "--dump-config"],
                           env=dict(env, KUBERNETES_SERVICE_HOST="fd00::1", KUBERNETES_SERVICE_PORT="443"),
                           capture_output=True, text=True)
        self.assertIn("server https://[fd00::1]:443\n", p.stdout)
        self.assertIn(f"token-file {sa}/token\n", p.stdout)
        env.pop("KUBERNETES_SERVICE_HOST")
        p = subprocess.run([kubetest.KUBEWATCH, "--in-cluster", sa, "--node", "x"], env=env,
                           capture_output=True, text=True)
        self.assertIn("CONFIG-ERROR KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set",
                      p.stdout)


class StandIn(Base):
    """The stand-in's own answers, as the real API server gives them."""

    def get(self, path, token=kubetest.TOKEN):
        ctx = ssl.create_default_context(cafile=S.cert("ca.crt"))
        req = urllib.request.Request(S.url + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_label_selectors(self):
        for sel, labels, want in [
            ("app=web", {"app": "web"}, True), ("app==web", {"app": "db"}, False),
            ("app.kubernetes.io/name=x", {"app.kubernetes.io/name": "x"}, True),
            ("tier!=canary", {"tier": "canary"}, False), ("tier!=canary", {}, True),
            ("tier in (a, b)", {"tier": "b"}, True), ("tier notin (a)", {"tier": "a"}, False),
            ("canary", {}, False), ("!canary", {}, True), ("a=1,b in (2)", {"a": "1", "b": "2"}, True),
        ]:
            self.assertEqual(kubeobj.labels_match(kubeobj.parse_label_selector(sel), labels), want, sel)

    def test_answers(self):
        uid = self.add("sa", "ns1", {"app": "a", "tier": "x"})
        self.add("sb", "ns2", {"app": "a"})
        sel = f"fieldSelector=spec.nodeName%3D{self.node}"
        code, body = self.get(f"/api/v1/pods?{sel}&labelSelector=tier%20in%20(x,y)")
        self.assertEqual((code, body["kind"]), (200, "PodList"))
        self.assertEqual([i["metadata"]["uid"] for i in body["items"]], [uid])
        self.assertNotIn("kind", body["items"][0])  # list items carry none
        code, body = self.get(f"/api/v1/namespaces/ns2/pods?{sel}")
        self.assertEqual([i["metadata"]["name"] for i in body["items"]], ["sb"])
        code, body = self.get(f"/api/v1/pods?{sel}", token="wrong")
        self.assertEqual((code, body["reason"]), (401, "Unauthorized"))
        code, body = self.get("/api/v1/pods?fieldSelector=spec.hostname%3Dx")
        self.assertEqual(code, 400)
        rv = S.ctl("expire")["compacted"]
        code, body = self.get(f"/api/v1/pods?{sel}&resourceVersion={int(rv) - 1}&resourceVersionMatch=Exact")
        self.assertEqual((code, body["code"], body["reason"]), (410, 410, "Expired"))


def kubectls():
    """Every kubectl to check the stand-in with: Debian's (kubernetes-client,
    installed or unpacked into build/ by tests/kube/deps.sh) and the one on
    PATH, once each."""
    found = []
    for k in (os.environ.get("KUBE_DEBIAN_KUBECTL"), shutil.which("kubectl")):
        if k and os.access(k, os.X_OK) and os.path.realpath(k) not in map(os.path.realpath, found):
            found.append(k)
    return found


@unittest.skipUnless(kubectls(), "no kubectl (tests/kube/deps.sh installs kubernetes-client)")
class Kubectl(Base):
    """The stand-in's fidelity: real clients read it with the same kubeconfig."""

    def cmd(self, kubectl, *args):
        return [kubectl, "--kubeconfig", self.kc, "--cache-dir", os.path.join(TMP, "kubectl-cache"),
                "--request-timeout", "20s"] + list(args)

    def test_kubectl_lists_pods(self):
        uid = self.add("nginx-1", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
        for k in kubectls():
            with self.subTest(kubectl=k):
                p = subprocess.run(self.cmd(k, "get", "pods", "-A", "-o", "json"),
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                items = {i["metadata"]["uid"]: i for i in json.loads(p.stdout)["items"]}
                pod = items[uid]
                self.assertEqual(pod["metadata"]["labels"], {"app.kubernetes.io/name": "ingress-nginx"})
                self.assertEqual(pod["spec"]["nodeName"], self.node)
                p = subprocess.run(self.cmd(k, "get", "pods", "-n", "ingress-nginx", "-l",
                                            "app.kubernetes.io/name=ingress-nginx", "--field-selector",
                                            f"spec.nodeName={self.node}", "-o", "name"),
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.split(), ["pod/nginx-1"])

    def watch_sees(self, kubectl, name):
        """kubectl get --watch -o json shows a pod added while it watches."""
        # A file, not a pipe: a full pipe would stop kubectl before the event.
        outf = open(os.path.join(TMP, "kubectl-watch.out"), "w+")
        proc = subprocess.Popen(self.cmd(kubectl, "get", "pods", "-A", "--watch", "-o", "json"),
                                stdout=outf, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while not [p for p in S.ctl("stats")["watching"] if "watch=true" in p]:
                self.assertLess(time.monotonic(), deadline, "kubectl does not watch")
                time.sleep(0.1)
            uid = self.add(name, "kube-system", {"k8s-app": "kube-dns"})
            time.sleep(3)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
            outf.seek(0)
            out = outf.read().strip()
            outf.close()
        dec = json.JSONDecoder()
        objs, pos = [], 0
        while pos < len(out):
            try:
                obj, pos = dec.raw_decode(out, pos)
            except ValueError:
                break  # the last object, cut by terminate()
            objs.append(obj)
            while pos < len(out) and out[pos].isspace():
                pos += 1
        self.assertIn(uid, [o["metadata"]["uid"] for o in objs], err)

    def test_kubectl_watch_sees_an_added_pod(self):
        self.add("before", "kube-system", {"k8s-app": "kube-dns"})
        for i, k in enumerate(kubectls()):
            with self.subTest(kubectl=k):
                self.watch_sees(k, f"after-{i}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
