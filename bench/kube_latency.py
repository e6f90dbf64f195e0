#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""make bench, Kubernetes part: from a watch event to the new rules in force,
with 250 pods on the node.

`portgate run --kubeconfig` follows the stand-in API server
(tests/kube/apiserver.py) with pod: rules; 250 pods are on the node, their
cgroups made. Each round picks a pod that the policy does not grant, starts
a process as nobody in its cgroup that tries bind(80) every 0.5 ms, takes
CLOCK_MONOTONIC, has the server send a MODIFIED event (the pod's labels now
match the rule), and takes the time of the first bind that succeeds; then
the labels go back (a revoke, timed by a bind that fails again). The figure
includes the server's own delivery and the binder's polling (0.5 ms). Each
event reaches an agent that has finished its last apply; one that arrives
during an apply waits for it (at most one apply, about 30 ms, more in a
burst, which the agent coalesces into one apply).

  bench/kube_latency.py [--rounds N] [--markdown FILE (appended)]

Root; PORTGATE is the binary (make bench: build/portgate, not sanitised).
Reports figures only; nothing is asserted about time.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/kube"))
import agenttest  # noqa: E402
import kubetest  # noqa: E402

PODS = 250
POLICY = """mode grant
protect 1-1023
default kernel
allow pod:web/app=web tcp/80
allow pod:ingress-nginx/app.kubernetes.io/name=ingress-nginx tcp/80,443
allow pod:kube-system/k8s-app=kube-dns tcp,udp/53
deny  pod:* any/1-1023
"""


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def wait_gen(agent, before, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ag = agent.state()
        if ag.get("generation", 0) > before and ag.get("last_attempt_ok"):
            return ag["generation"]
        time.sleep(0.01)
    raise SystemExit("bench: the agent did not apply; its log:\n" + "\n".join(agent.lines[-30:]))


def revoked_after(b, t0, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for x in list(b.lines):
            if x[1] == "refused" and float(x[0]) >= t0:
                return float(x[0])
        time.sleep(0.001)
    return None


def agent_costs(lines):
    """From the agent's -v lines: ms from reading a pod event to the swap's
    end (the new image in force, the kernel's wait for running programs
    done), per apply that one pod change made."""
    rx = re.compile(r"\[\s*([0-9.]+) ms\] (kube: pod .* added or changed|phase: swap|phase: prune)")
    got, t_ev = [], None
    for line in lines:
        m = rx.search(line)
        if not m:
            continue
        t, what = float(m.group(1)), m.group(2)
        if what.startswith("kube:"):
            t_ev = t
        elif what == "phase: prune" and t_ev is not None:
            got.append(t - t_ev)
            t_ev = None
    return got


def run(rounds):
    tmp = kubetest.tmpdir()
    server = kubetest.Server(tmp)
    node = agenttest.Node(tmp, "systemd")
    agent = None
    try:
        kc = kubetest.kubeconfig(os.path.join(tmp, "bench.kubeconfig"), server)
        policy = os.path.join(tmp, "bench.conf")
        with open(policy, "w") as f:
            f.write(POLICY)
        pods = []
        for i in range(PODS):
            qos = ("Guaranteed", "Burstable", "BestEffort")[i % 3]
            uid = server.ctl("add", name=f"p-{i}", namespace="web", labels={"app": "db"},
                             node="node-1", qos=qos)["uid"]
            pods.append((uid, qos, node.start_pod(uid, qos)))
        agent = agenttest.Agent(node, server, kc, policy, ("--kube-watch-timeout", "300"))
        agent.wait(r"kube: first list")
        gen = wait_gen(agent, 0)
        grant, revoke = [], []
        for r in range(rounds):
            uid, _, cg = pods[r % PODS]
            b = agenttest.Binder(node, cg, quiet=True)
            time.sleep(0.02)
            t0 = time.monotonic()
            server.ctl("modify", uid=uid, labels={"app": "web"})
            t1 = b.first_ok_after(t0)
            if t1 is None:
                raise SystemExit(f"bench: round {r}: the grant was not enforced within 10 s")
            # the grant is in force before its apply ends (the swap's wait
            # comes after): let that apply end, so that the revoke meets an
            # agent that is not busy, as a pod event mostly does
            gen = wait_gen(agent, gen)
            t2 = time.monotonic()
            server.ctl("modify", uid=uid, labels={"app": "db"})
            t3 = revoked_after(b, t2)
            b.stop()
            if t3 is None:
                raise SystemExit(f"bench: round {r}: the revoke was not enforced within 10 s")
            gen = wait_gen(agent, gen)
            grant.append((t1 - t0) * 1000)
            revoke.append((t3 - t2) * 1000)
        agent.drain(0.5)
        if os.environ.get("BENCH_AGENT_LOG"):  # the agent's -v lines, to see where time goes
            with open(os.environ["BENCH_AGENT_LOG"], "w") as f:
                f.write("\n".join(agent.lines) + "\n")
        return grant, revoke, agent_costs(agent.lines)
    finally:
        if agent:
            agent.stop()
        subprocess.run([agenttest.PORTGATE, "stop", "--pin-dir", node.pin], capture_output=True)
        node.close()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    agenttest.enter_namespaces()
    grant, revoke, inside = run(a.rounds)
    rows = [("grant (labels now match)", grant), ("revoke (labels no longer match)", revoke),
            ("inside the agent: event read to swap done", inside)]
    out = ["", "## Kubernetes: watch event to enforcement", "",
           f"`bench/kube_latency.py --rounds {a.rounds}`: {PODS} pods on the node, "
           f"{os.path.basename(agenttest.PORTGATE)} run against tests/kube/apiserver.py; "
           "from the server's MODIFIED event to the first bind(80) by nobody in the pod's "
           "cgroup that shows the change (polled every 0.5 ms); and, from the agent's own "
           "-v timestamps, from reading the event to the end of the swap. ms. "
           f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.", "",
           "| event | rounds | p50 | p90 | p99 | max |", "|---|---:|---:|---:|---:|---:|"]
    for name, v in rows:
        out.append(f"| {name} | {len(v)} | {statistics.median(v):.1f} | {pct(v, 90):.1f} | "
                   f"{pct(v, 99):.1f} | {max(v):.1f} |")
    text = "\n".join(out) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
