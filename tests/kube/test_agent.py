#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""`portgate run --kubeconfig` against the stand-in API server, with real BPF:
pod: rules granted as pods come (no gap at pod start), revoked when labels
change or pods go, kept while the API server is away or the agent restarts,
250 pods on a node, and bad answers from the server. Both kubelet cgroup
drivers, all three QoS classes, in a test cgroup of its own (agenttest.py).

Root; make test-kube runs it. POD_STARTS sets how many pod starts the first
test makes (1000 by default).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

import agenttest
import kubetest
from agenttest import Agent, Binder, Node, bind_as_nobody

agenttest.enter_namespaces()

S = None
TMP = None
POD_STARTS = int(os.environ.get("POD_STARTS", "1000"))
QOS = ("Guaranteed", "Burstable", "BestEffort")
POLICY = """mode grant
protect 1-1023
default kernel
allow pod:web/app=web tcp/80
allow pod:kube-system/k8s-app=kube-dns tcp,udp/53
deny pod:other any/1-1023
"""


def setUpModule():
    global S, TMP
    TMP = kubetest.tmpdir()
    S = kubetest.Server(TMP)


def tearDownModule():
    S.close()
    shutil.rmtree(TMP, ignore_errors=True)


class Base(unittest.TestCase):
    DRIVER = "systemd"

    def setUp(self):
        self.node_name = ("node-" + type(self).__name__ + "-" + self._testMethodName).lower().replace("_", "-")
        self.node = Node(TMP, self.DRIVER)
        self.kc = kubetest.kubeconfig(os.path.join(TMP, self.node_name + ".kubeconfig"), S)
        self.policy = os.path.join(TMP, self.node_name + ".conf")
        with open(self.policy, "w") as f:
            f.write(POLICY)
        self.agents = []
        self.binders = []
        self.uids = []

    def tearDown(self):
        for uid in self.uids:
            S.ctl("delete", uid=uid)
        for b in self.binders:
            b.stop()
        for a in self.agents:
            if a.proc.poll() is None:
                self.stopped(a)
        subprocess.run([agenttest.PORTGATE, "stop", "--pin-dir", self.node.pin],
                       capture_output=True)
        self.node.close()
        S.reset()

    def agent(self, *extra):
        a = Agent(self.node, S, self.kc, self.policy, extra, name=self.node_name)
        self.agents.append(a)
        return a

    def stopped(self, a):
        rc, out = a.stop()
        self.assertEqual(rc, 0, f"agent exit {rc}:\n{out}")
        self.assertNotRegex(out, r"AddressSanitizer|LeakSanitizer|runtime error")
        return out

    def add(self, name, ns="web", labels=None, qos="Burstable"):
        uid = S.ctl("add", name=name, namespace=ns, labels=labels or {}, node=self.node_name,
                    qos=qos)["uid"]
        self.uids.append(uid)
        return uid

    def applied(self, a, gen_before, timeout=20.0):
        """Until the agent has put a generation after gen_before in force."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ag = a.state()
            if ag.get("generation", 0) > gen_before and ag.get("last_attempt_ok"):
                return ag["generation"]
            time.sleep(0.005)
        self.fail(f"no apply after generation {gen_before} within {timeout} s:\n"
                  + "\n".join(a.lines[-30:]))

    def gen(self, a):
        return a.state().get("generation", 0)

    def started(self):
        a = self.agent()
        a.wait(r"kube: first list of node \S+'s pods in", timeout=30)
        a.wait(r"applied .*generation", timeout=30)
        return a

    def kube(self, a):
        return a.status()["kubernetes"]


class PodStart(Base):
    def test_pod_starts_bind_at_once(self):
        """Pod added, its cgroup made, a process as nobody in it binds 80 at
        once: never refused. Each QoS class; a pod of another namespace is
        refused."""
        a = self.started()
        refused = 0
        for i in range(POD_STARTS):
            qos = QOS[i % 3]
            g = self.gen(a)
            uid = self.add(f"web-{i}", labels={"app": "web"}, qos=qos)
            self.applied(a, g)
            cg = self.node.start_pod(uid, qos)
            r = bind_as_nobody(self.node, cg)
            refused += r != 0
            self.assertIn(r, (0,), f"pod {i} ({qos}) refused: errno {r}")
        print(f"\n  pod starts: {POD_STARTS}, refused: {refused} ({self.DRIVER})", file=sys.stderr)
        g = self.gen(a)
        uid = self.add("other", ns="other", labels={"app": "web"})
        self.applied(a, g)
        self.assertNotEqual(bind_as_nobody(self.node, self.node.start_pod(uid, "Burstable")), 0)
        self.assertGreaterEqual(self.kube(a)["pods"], POD_STARTS + 1)


class PodStartCgroupfs(PodStart):
    DRIVER = "cgroupfs"


class Changes(Base):
    def test_label_change_revokes(self):
        a = self.started()
        g = self.gen(a)
        uid = self.add("web-1", labels={"app": "web"}, qos="Guaranteed")
        g = self.applied(a, g)
        cg = self.node.start_pod(uid, "Guaranteed")
        self.assertEqual(bind_as_nobody(self.node, cg), 0)
        S.ctl("modify", uid=uid, labels={"app": "web", "tier": "x"})
        time.sleep(0.5)  # a label the policy does not look at: no apply needed
        self.assertEqual(bind_as_nobody(self.node, cg), 0)
        g = self.gen(a)
        S.ctl("modify", uid=uid, labels={"app": "canary"})
        self.applied(a, g)
        self.assertNotEqual(bind_as_nobody(self.node, cg), 0)
        S.ctl("modify", uid=uid, phase="Succeeded")  # status only: nothing to apply
        self.assertNotEqual(bind_as_nobody(self.node, cg), 0)

    def test_phase_change_does_not_apply(self):
        a = self.started()
        g = self.gen(a)
        uid = self.add("web-1", labels={"app": "web"})
        g = self.applied(a, g)
        S.ctl("modify", uid=uid, phase="Succeeded")
        S.ctl("modify", uid=uid, annotations={"x": "y"})
        time.sleep(1.0)
        self.assertEqual(self.gen(a), g, "a phase or annotation change made an apply")

    def test_pod_deletion(self):
        a = self.started()
        g = self.gen(a)
        uid = self.add("dns-1", ns="kube-system", labels={"k8s-app": "kube-dns"},
                       qos="BestEffort")
        g = self.applied(a, g)
        cg = self.node.start_pod(uid, "BestEffort")
        self.assertEqual(bind_as_nobody(self.node, cg, 53), 0)
        self.assertEqual(bind_as_nobody(self.node, cg, 53, socket.SOCK_DGRAM), 0)
        S.ctl("delete", uid=uid)
        self.uids.remove(uid)
        self.applied(a, g)
        self.assertNotEqual(bind_as_nobody(self.node, cg, 53), 0)
        self.assertEqual(self.kube(a)["pods"], 0)

    def test_burst_is_one_apply(self):
        """Pods added together while the agent is busy come in one apply or a few,
        not one each."""
        a = self.started()
        g = self.gen(a)
        S.ctl("slow", seconds=0)
        uids = [self.add(f"web-{i}", labels={"app": "web"}) for i in range(50)]
        end = time.monotonic() + 20
        while self.kube(a)["pods"] < 50 and time.monotonic() < end:
            time.sleep(0.05)
        g2 = self.applied(a, g)
        time.sleep(0.5)
        applies = self.gen(a) - g
        self.assertLess(applies, 50, f"{applies} applies for 50 pods added together")
        for u in uids[:5]:
            self.assertEqual(bind_as_nobody(self.node, self.node.start_pod(u, "Burstable")), 0)
        self.assertGreater(g2, g)


class Names(Base):
    def test_events_and_explain_name_pods(self):
        """A refused bind in a pod's container cgroup names ns/pod in the
        agent's log and in monitor; explain pod finds the pod's cgroup."""
        a = self.started()
        mon = subprocess.Popen([agenttest.PORTGATE, "monitor", "-j", "--pin-dir", self.node.pin],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            g = self.gen(a)
            other = self.add("intruder-1", ns="other", labels={"app": "web"}, qos="BestEffort")
            web = self.add("web-1", labels={"app": "web"}, qos="Guaranteed")
            self.applied(a, g)
            while self.kube(a)["pods"] < 2:
                time.sleep(0.02)
            time.sleep(0.3)  # monitor subscribed
            self.assertNotEqual(bind_as_nobody(self.node, self.node.start_pod(other, "BestEffort")), 0)
            a.wait(r"deny: .* pod other/intruder-1 ")
        finally:
            time.sleep(0.3)
            mon.terminate()
            out, err = mon.communicate(timeout=10)
        self.assertIn('"pod":"other/intruder-1"', out.replace(" ", ""), err)
        self.node.start_pod(web, "Guaranteed")  # explain asks the kernel state of a cgroup made
        ex = subprocess.run([agenttest.PORTGATE, "explain", "pod", "web/web-1", "tcp/80", "-j",
                             "--pin-dir", self.node.pin], capture_output=True, text=True)
        self.assertEqual(ex.returncode, 0, ex.stderr)
        self.assertIn(self.node.pod_cg(web, "Guaranteed"), ex.stdout)
        self.assertIn('"verdict":"grant"', ex.stdout)
        self.assertIn('"text":"allow pod:web/app=web tcp/80"', ex.stdout)
        ex = subprocess.run([agenttest.PORTGATE, "explain", "pod", "web/nope", "tcp/80",
                             "--pin-dir", self.node.pin], capture_output=True, text=True)
        self.assertNotEqual(ex.returncode, 0)
        self.assertIn("cannot find pod web/nope", ex.stderr)


class Flags(Base):
    def run_once(self, *args, env=None):
        return subprocess.run([agenttest.PORTGATE, "run", self.policy, "--pin-dir", self.node.pin,
                               "--attach", self.node.base] + list(args), capture_output=True,
                              text=True, timeout=60, env=env)

    def test_clear_errors(self):
        env = {k: v for k, v in os.environ.items() if k not in ("NODE_NAME",
                                                                "KUBERNETES_SERVICE_HOST")}
        r = self.run_once("--kubeconfig", self.kc, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("give --node-name or set NODE_NAME", r.stderr)
        r = self.run_once("--kubeconfig", self.kc, "--node-name", "n", "--kube-cgroup-driver",
                          "docker", env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--kube-cgroup-driver docker: give systemd or cgroupfs", r.stderr)
        r = self.run_once("--kubeconfig", os.path.join(TMP, "missing.kubeconfig"), "--node-name",
                          "n", env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"kube: .*missing\.kubeconfig")

    def test_pod_rules_without_source_warn(self):
        env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
        p = subprocess.Popen([agenttest.PORTGATE, "run", self.policy, "--pin-dir", self.node.pin,
                              "--attach", self.node.base], stderr=subprocess.PIPE, text=True,
                             env=env)
        try:
            for line in p.stderr:
                if "pod: rules select no pod" in line:
                    break
            else:
                self.fail("no warning about pod: rules without a Kubernetes source")
        finally:
            p.terminate()
            p.wait(timeout=20)
            p.stderr.close()
        self.assertEqual(p.returncode, 0)


class Outage(Base):
    def test_api_server_down_and_back(self):
        a = self.started()
        g = self.gen(a)
        uid = self.add("web-1", labels={"app": "web"})
        self.applied(a, g)
        cg = self.node.start_pod(uid, "Burstable")
        b = Binder(self.node, cg)
        self.binders.append(b)
        S.down()
        a.wait(r"kube: disconnected from")
        self.assertEqual(self.kube(a)["state"], "disconnected")
        time.sleep(2)
        self.assertEqual(bind_as_nobody(self.node, cg), 0)
        S.up()
        a.wait(r"kube: watching node", timeout=40)
        k = self.kube(a)
        self.assertEqual(k["state"], "connected")
        self.assertGreaterEqual(k["reconnects"], 1)
        self.assertEqual(b.refusals(), 0, "a bind was refused while the API server was away")
        print(f"\n  reconnects survived: {k['reconnects']}", file=sys.stderr)

    def test_agent_restart_keeps_grants(self):
        a = self.started()
        g = self.gen(a)
        uids = [self.add(f"web-{i}", labels={"app": "web"}) for i in range(5)]
        self.applied(a, g)
        while self.kube(a)["pods"] < 5:
            time.sleep(0.05)
        cgs = [self.node.start_pod(u, "Burstable") for u in uids]
        self.applied(a, g)
        bs = [Binder(self.node, cg, 80) for cg in cgs]
        self.binders += bs
        time.sleep(0.3)
        self.stopped(a)
        # a new agent while the API server is away: what is pinned enforces
        S.down()
        a2 = self.agent()
        a2.wait(r"keeps enforcing until the first list of pods is in")
        time.sleep(1.5)
        S.up()
        a2.wait(r"kube: first list", timeout=40)
        a2.wait(r"applied .*generation")
        time.sleep(0.3)
        for b in bs:
            self.assertGreater(b.attempts(), 0)
            self.assertEqual(b.refusals(), 0, "a bind was refused during the agent's restart: "
                             + repr(b.lines[:5]) + "\n" + "\n".join(a2.lines))


class Many(Base):
    def test_250_pods(self):
        a = self.started()
        g = self.gen(a)
        uids = []
        for i in range(250):
            labels = {"app": "web"} if i % 2 == 0 else {"app": "db"}
            uids.append((self.add(f"p-{i}", labels=labels, qos=QOS[i % 3]), QOS[i % 3], i % 2 == 0))
        end = time.monotonic() + 60
        while self.kube(a)["pods"] < 250 and time.monotonic() < end:
            time.sleep(0.1)
        self.assertEqual(self.kube(a)["pods"], 250)
        self.applied(a, g)
        time.sleep(0.5)
        for uid, qos, granted in uids[::10]:
            r = bind_as_nobody(self.node, self.node.start_pod(uid, qos))
            self.assertEqual(r == 0, granted, f"pod {uid} ({qos}) granted={granted}: errno {r}")
        out = subprocess.run([agenttest.PORTGATE, "status", "--prometheus", "--pin-dir",
                              self.node.pin], capture_output=True, text=True).stdout
        self.assertIn("portgate_kube_pods 250", out)
        self.assertNotIn(uids[0][0], out, "a pod's uid in the metrics")


class BadInput(Base):
    def keeps(self, a, cg):
        self.assertEqual(bind_as_nobody(self.node, cg), 0)
        self.assertIsNone(a.proc.poll(), "the agent exited")

    def granted_pod(self, a):
        g = self.gen(a)
        uid = self.add("web-1", labels={"app": "web"})
        self.applied(a, g)
        return self.node.start_pod(uid, "Burstable")

    def test_garbage(self):
        a = self.started()
        cg = self.granted_pod(a)
        kubetest_wait_watch(self.node_name)
        S.ctl("garbage", where="watch")
        line = a.wait(r"kube: .*(JSON|garbage|parse)")
        self.assertNotIn("\x00", line)
        self.keeps(a, cg)
        a.wait(r"kube: watching node", timeout=30)

    def test_huge_object(self):
        a = self.started()
        cg = self.granted_pod(a)
        kubetest_wait_watch(self.node_name)
        S.ctl("huge", bytes=3 << 20, node=self.node_name)
        a.wait(r"kube: .*(bytes|large|big)")
        self.keeps(a, cg)

    def test_never_ending_watch(self):
        a = self.started()
        cg = self.granted_pod(a)
        S.ctl("bookmarks", interval=0)
        S.ctl("stall", on=True)
        a.wait(r"kube: .*(silent|timed out|timeout)", timeout=30)
        self.keeps(a, cg)

    def test_expired_token(self):
        a = self.started()
        cg = self.granted_pod(a)
        S.ctl("token", token="another-token")
        S.ctl("drop")
        a.wait(r"kube: .*(401|Unauthorized)", timeout=30)
        self.assertEqual(self.kube(a)["state"], "disconnected")
        self.keeps(a, cg)


def kubetest_wait_watch(node):
    """Until the server holds a watch of node open."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if any(node in w for w in S.ctl("stats")["watching"]):
            return
        time.sleep(0.02)
    raise AssertionError(f"no watch of {node} open")


class BindCgroupfs(Changes):
    DRIVER = "cgroupfs"


if __name__ == "__main__":
    unittest.main(verbosity=2)
