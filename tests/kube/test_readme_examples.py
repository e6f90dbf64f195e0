#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""deploy/kubernetes/README.md's worked examples, run as an operator would.

From the README it takes the pods (its ```yaml Pod objects), the two
policies of "Every other pod" (the ```conf blocks with the pod: rules: one
whose catch-all is `deny pod:*`, one whose catch-all is the deny on the
kubepods cgroup) and the one-line rules it shows on their own, so the README
cannot drift from what is tested. Then:

1. the stand-in API server (tests/kube/apiserver.py) serves those pods, and
   a decoy or two, on one node; kubectl lists, through it and with the same
   kubeconfig, exactly the pods each pod: rule's namespace and selector name;
2. for each kubelet cgroup driver (systemd, cgroupfs), in a cgroup tree laid
   out like that driver's under a test cgroup, `portgate run --kubeconfig
   ... --kube-cgroup-driver ... --kube-cgroup-root ...` follows the pods and
   the policy, and processes running as nobody in the pods' container
   cgroups bind: ingress-nginx tcp/80 and 443, CoreDNS tcp and udp 53 are
   granted; the same ports from a pod the policy does not grant, and other
   privileged ports from the granted pods, are refused (EPERM);
3. the agent reloads the other policy (the kubepods cgroup's deny instead of
   `deny pod:*`), and the same binds give the same answers.

Root, real BPF, in a mount and network namespace of its own (re-executed
under unshare(1)); the test cgroups are removed at the end. A portgate
without the Kubernetes source's options fails here, loudly: step 1 runs,
then the missing options are named.

    tests/kube/test_readme_examples.py [PORTGATE]

PORTGATE defaults to $PORTGATE, then build/portgate. kubectl: $KUBECTL,
then $KUBE_DEBIAN_KUBECTL, then the one on PATH (tests/kube/deps.sh).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import kubetest  # noqa: E402

README = os.path.join(ROOT, "deploy", "kubernetes", "README.md")
PORTGATE = os.path.abspath((sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "--inner" else None)
                           or os.environ.get("PORTGATE") or os.path.join(ROOT, "build", "portgate"))
NODE = "node-readme"
KUBE_OPTS = ("--kubeconfig", "--node-name", "--kube-cgroup-driver", "--kube-cgroup-root")
# How long the agent may take to learn the pods and apply, before the test
# gives up on it (a harness bound, not a figure under test).
AGENT_WAIT = 60.0

failures = []


def say(msg):
    print("test_readme_examples: " + msg, flush=True)


def fail(msg):
    failures.append(msg)
    print("test_readme_examples: FAIL: " + msg, file=sys.stderr, flush=True)


def check(cond, msg):
    if cond:
        say("ok: " + msg)
    else:
        fail(msg)
    return cond


# --- what the README says ------------------------------------------------------

def readme_examples():
    """(pods, policy text, one-line rules shown on their own) from the README."""
    import yaml  # python3-yaml, from tests/deps.sh

    with open(README) as f:
        text = f.read()
    pods = []
    for block in re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M):
        obj = yaml.safe_load(block)
        if isinstance(obj, dict) and obj.get("kind") == "Pod":
            md = obj["metadata"]
            pods.append({"name": md["name"], "namespace": md["namespace"],
                         "labels": {k: str(v) for k, v in md.get("labels", {}).items()},
                         "qos": obj.get("status", {}).get("qosClass", "BestEffort")})
    policies = [b for b in re.findall(r"^```conf\n(.*?)^```", text, re.S | re.M)
                if re.search(r"^allow pod:", b, re.M) and
                re.search(r"^deny +(?:/kubepods|pod:\*)", b, re.M)]
    shown = re.findall(r"^    ((?:allow|deny) +pod:\S+ +\S+)\s*$", text, re.M)
    return pods, policies, shown


def pod_rules(policy):
    """[(action, namespace, selector or None, protos, ports)] of the pod: rules."""
    out = []
    for line in policy.splitlines():
        m = re.match(r"^(allow|deny)\s+pod:([^/\s]+)(?:/(\S+))?\s+(\S+)/(\S+)", line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3), m.group(4).split(","),
                        m.group(5).split(",")))
    return out


# --- the stand-in and kubectl --------------------------------------------------

def kubectl_bin():
    for k in (os.environ.get("KUBECTL"), os.environ.get("KUBE_DEBIAN_KUBECTL"),
              shutil.which("kubectl")):
        if k and os.access(k, os.X_OK):
            return k
    return None


def kubectl_checks(server, kc, tmp, rules, want):
    """kubectl reads the stand-in: each allow rule's namespace and selector
    name exactly the README's pods meant (want: rule index -> pod names)."""
    k = kubectl_bin()
    if not k:
        fail("no kubectl: tests/kube/deps.sh installs kubernetes-client")
        return
    base = [k, "--kubeconfig", kc, "--cache-dir", os.path.join(tmp, "kubectl-cache"),
            "--request-timeout", "20s"]
    p = subprocess.run(base + ["get", "pods", "-A", "-o", "json"], capture_output=True,
                       text=True, timeout=60)
    if not check(p.returncode == 0, "kubectl get pods -A through the stand-in (%s)" % k):
        say(p.stderr)
        return
    names = sorted(i["metadata"]["name"] for i in json.loads(p.stdout)["items"])
    check(set(x for v in want.values() for x in v) <= set(names),
          "kubectl lists the pods: %s" % " ".join(names))
    for i, (action, ns, sel, _, _) in enumerate(rules):
        if action != "allow" or ns == "*":
            continue
        args = ["get", "pods", "-n", ns, "--field-selector", "spec.nodeName=" + NODE, "-o", "name"]
        if sel:
            args += ["-l", sel]
        p = subprocess.run(base + args, capture_output=True, text=True, timeout=60)
        got = sorted(x.split("/", 1)[1] for x in p.stdout.split())
        check(p.returncode == 0 and got == sorted(want[i]),
              "kubectl get pods -n %s -l %s --field-selector spec.nodeName=%s: %s (want %s)%s" %
              (ns, sel, NODE, got, sorted(want[i]), (" " + p.stderr.strip()) if p.returncode else ""))


# --- cgroups --------------------------------------------------------------------

def pod_path(driver, root, uid, qos):
    """The pod-level cgroup as the kubelet names it (deploy/kubernetes/
    README.md, "The cgroup drivers"): the test's own reading of that table."""
    q = {"Guaranteed": "", "Burstable": "burstable", "BestEffort": "besteffort"}[qos]
    if driver == "cgroupfs":
        return "/".join(x for x in (root, q, "pod" + uid) if x)
    stem = root.rsplit("/", 1)[1][: -len(".slice")]
    u = uid.replace("-", "_")
    if not q:
        return "%s/%s-pod%s.slice" % (root, stem, u)
    return "%s/%s-%s.slice/%s-%s-pod%s.slice" % (root, stem, q, stem, q, u)


def container_path(driver, pod, n):
    cid = "%064x" % (0xC0FFEE + n)
    return pod + ("/cri-containerd-%s.scope" % cid if driver == "systemd" else "/" + cid)


def rm_tree(d):
    """Remove a cgroup directory tree, deepest first."""
    if not os.path.isdir(d):
        return
    for top, dirs, _ in os.walk(d, topdown=False):
        for x in dirs:
            try:
                os.rmdir(os.path.join(top, x))
            except OSError as e:
                say("warning: cannot remove cgroup %s: %s" % (os.path.join(top, x), e))
    try:
        os.rmdir(d)
    except OSError as e:
        say("warning: cannot remove cgroup %s: %s" % (d, e))


BIND = r"""
import errno, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[3] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
try:
    s.bind((sys.argv[3], int(sys.argv[2])))
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"""


def bind_in(cg2, cgroup, proto, port, addr="0.0.0.0"):
    """bind() as nobody, no capabilities, from a process in cgroup: "ok" or
    the errno's name."""
    procs = cg2 + cgroup + "/cgroup.procs"

    def join():
        with open(procs, "w") as f:
            f.write(str(os.getpid()))

    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", sys.executable, "-c", BIND, proto, str(port), addr],
                       capture_output=True, text=True, preexec_fn=join, timeout=30)
    return p.stdout.strip() or "exit %d: %s" % (p.returncode, p.stderr.strip())


# --- the agent -------------------------------------------------------------------

class Agent:
    def __init__(self, args, log):
        self.log = open(log, "w+")
        self.proc = subprocess.Popen([PORTGATE, "run"] + args, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def wait_bind(agent, cg2, cgroup, proto, port):
    """Until the agent has learned the pods and applied: the bind succeeds."""
    deadline = time.monotonic() + AGENT_WAIT
    got = None
    while time.monotonic() < deadline:
        if agent.proc.poll() is not None:
            fail("portgate run exited with status %d:\n%s" % (agent.proc.returncode, agent.output()))
            return False
        got = bind_in(cg2, cgroup, proto, port)
        if got == "ok":
            return True
        time.sleep(0.2)
    fail("%s/%d from %s never granted within %.0f s (last: %s); agent output:\n%s" %
         (proto, port, cgroup, AGENT_WAIT, got, agent.output()))
    return False


def write_policy(conf, policy, top):
    """The README's kubepods paths are the node's; here the tree sits in the test cgroup."""
    with open(conf + ".new", "w") as f:
        f.write(re.sub(r"^(\s*(?:allow|deny)\s+)(/kubepods(?:\.slice)?)(?=[\s/])",
                       lambda m: m.group(1) + top + m.group(2), policy, flags=re.M))
    os.rename(conf + ".new", conf)


def check_binds(driver, cg2, ctr, expect, which):
    for name, proto, port, addr, want in expect:
        got = bind_in(cg2, ctr[name], proto, port, addr)
        check(got == want, "%s, %s: %s binds %s/%d on %s as nobody: %s (want %s)" %
              (driver, which, name, proto, port, addr, got, want))


def run_driver(driver, server, kc, tmp, cg2, pods, policies, expect):
    """One driver: the tree, the agent, the binds under each policy. pods: name -> stand-in pod."""
    top = "/portgate-readme.%d.%s" % (os.getpid(), driver)
    root = top + ("/kubepods.slice" if driver == "systemd" else "/kubepods")
    pin = os.path.join(tmp, "bpffs", driver)
    conf = os.path.join(tmp, "%s.conf" % driver)
    write_policy(conf, policies[0], top)
    os.mkdir(cg2 + top)
    agent = None
    try:
        os.makedirs(cg2 + root)
        agent = Agent(["--pin-dir", pin, "--attach", top, "--kubeconfig", kc, "--node-name", NODE,
                       "--kube-cgroup-driver", driver, "--kube-cgroup-root", root, conf],
                      os.path.join(tmp, "agent-%s.log" % driver))
        # The kubelet makes the pods' cgroups, and their containers', as the agent runs.
        ctr = {}
        for i, (name, p) in enumerate(sorted(pods.items())):
            pp = pod_path(driver, root, p["uid"], p["qos"])
            ctr[name] = container_path(driver, pp, i)
            os.makedirs(cg2 + ctr[name])
        first, fproto, fport, _, _ = next(e for e in expect if e[4] == "ok")
        if not wait_bind(agent, cg2, ctr[first], fproto, fport):
            return
        check_binds(driver, cg2, ctr, expect, "deny pod:*")
        # The other catch-all: the deny on the kubepods cgroup.
        write_policy(conf, policies[1], top)
        r = subprocess.run([PORTGATE, "reload", "--pin-dir", pin], capture_output=True, text=True,
                           timeout=120)
        if check(r.returncode == 0, "%s: reload of the kubepods-cgroup policy (exit %d: %s)" %
                 (driver, r.returncode, r.stderr.strip())):
            check_binds(driver, cg2, ctr, expect, "deny on the kubepods cgroup")
    finally:
        if agent:
            agent.stop()
        if os.path.exists(pin):
            r = subprocess.run([PORTGATE, "stop", "--pin-dir", pin], capture_output=True, text=True)
            if r.returncode:
                say("warning: portgate stop --pin-dir %s: %s" % (pin, r.stderr.strip()))
        rm_tree(cg2 + top)


# --- the test ---------------------------------------------------------------------

def inner():
    pods_md, policies, shown = readme_examples()
    policies.sort(key=lambda b: 0 if re.search(r"^deny +pod:\*", b, re.M) else 1)
    if not check(len(policies) == 2 and re.search(r"^deny +pod:\*", policies[0], re.M) and
                 re.search(r"^deny +/kubepods", policies[1], re.M),
                 "README.md has two policies with pod: rules, one denying pod:*, one the "
                 "kubepods cgroup (found %d)" % len(policies)):
        return
    rules = pod_rules(policies[0])
    tested = [re.sub(r"\s+", " ", x) for b in policies for x in b.splitlines()]
    for line in shown:
        check(re.sub(r"\s+", " ", line) in tested,
              "the README's rule %r is in a tested policy" % line)
    by_ns = {p["namespace"]: p for p in pods_md}
    if not check({"ingress-nginx", "kube-system"} <= set(by_ns),
                 "README.md's pods: %s" % ", ".join("%s/%s" % (p["namespace"], p["name"])
                                                    for p in pods_md)):
        return
    ing, dns = by_ns["ingress-nginx"], by_ns["kube-system"]
    # Decoys: the controller's labels in another namespace, and a pod no rule names.
    # Between them and the README's pods, all three QoS classes.
    decoy = dict(ing, name="ingress-nginx-lookalike", namespace="default", qos="BestEffort")
    web = {"name": "web-0", "namespace": "default", "labels": {"app": "web"}, "qos": "Guaranteed"}

    tmp = kubetest.tmpdir()
    server = kubetest.Server(tmp)
    try:
        pods = {}
        for p in (ing, dns, decoy, web):
            uid = server.ctl("add", name=p["name"], namespace=p["namespace"], labels=p["labels"],
                             qos=p["qos"], node=NODE)["uid"]
            pods[p["name"]] = dict(p, uid=uid)
        server.ctl("add", name="elsewhere", namespace="ingress-nginx", labels=ing["labels"],
                   node="another-node")
        kc = kubetest.kubeconfig(os.path.join(tmp, "kubeconfig"), server)
        want = {}
        for i, (action, ns, sel, _, _) in enumerate(rules):
            want[i] = [p["name"] for p in (ing, dns) if p["namespace"] == ns]
        kubectl_checks(server, kc, tmp, rules, want)

        r = subprocess.run([PORTGATE, "run", "-h"], capture_output=True, text=True)
        missing = [o for o in KUBE_OPTS if o not in r.stdout]
        if missing:
            fail("%s run takes no %s: the agent's Kubernetes source is not in this portgate "
                 "(issue 11, branch kube-agent); the README's examples cannot run" %
                 (PORTGATE, " ".join(missing)))
            return
        cg2 = kubetest.cg2_mount()
        os.makedirs(os.path.join(tmp, "bpffs"))
        subprocess.run(["mount", "-t", "bpf", "bpf", os.path.join(tmp, "bpffs")], check=True)
        n_ing, n_dns, n_dec, n_web = ing["name"], dns["name"], decoy["name"], web["name"]
        expect = [
            (n_ing, "tcp", 80, "0.0.0.0", "ok"), (n_ing, "tcp", 443, "0.0.0.0", "ok"),
            (n_ing, "tcp", 443, "::", "ok"),
            (n_dns, "udp", 53, "0.0.0.0", "ok"), (n_dns, "tcp", 53, "0.0.0.0", "ok"),
            (n_dns, "udp", 53, "::", "ok"),
            # the catch-all decides the ports a pod's own rules do not name
            (n_ing, "tcp", 53, "0.0.0.0", "EPERM"), (n_ing, "udp", 53, "0.0.0.0", "EPERM"),
            (n_dns, "tcp", 80, "0.0.0.0", "EPERM"), (n_dns, "tcp", 443, "0.0.0.0", "EPERM"),
            (n_dec, "tcp", 80, "0.0.0.0", "EPERM"), (n_dec, "tcp", 443, "0.0.0.0", "EPERM"),
            (n_web, "tcp", 80, "0.0.0.0", "EPERM"), (n_web, "udp", 53, "0.0.0.0", "EPERM"),
            # not protected: the kernel's own check, which lets anyone bind
            (n_web, "tcp", 8080, "0.0.0.0", "ok"),
        ]
        for driver in ("systemd", "cgroupfs"):
            run_driver(driver, server, kc, tmp, cg2, pods, policies, expect)
    finally:
        server.close()
        subprocess.run(["umount", "-l", os.path.join(tmp, "bpffs")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.geteuid():
        sys.exit("test_readme_examples: FAIL: needs root (BPF programs, cgroups, namespaces)")
    if "--inner" not in sys.argv:
        if not os.access(PORTGATE, os.X_OK):
            sys.exit("test_readme_examples: FAIL: no portgate binary at %s (run make)" % PORTGATE)
        # A mount and network namespace of our own: the bpffs, /run (the
        # agent's state file) and lo die with it; nothing reaches the host's.
        os.execvp("unshare", ["unshare", "--mount", "--net", "--propagation", "private",
                              sys.executable, os.path.abspath(__file__), PORTGATE, "--inner"])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    try:
        inner()
    except Exception as e:  # noqa: BLE001 - a crash is a failure with its reason
        import traceback
        traceback.print_exc()
        fail("%s: %s" % (type(e).__name__, e))
    if failures:
        print("test_readme_examples: %d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    say("PASS")


if __name__ == "__main__":
    main()
