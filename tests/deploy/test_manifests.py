#!/usr/bin/env python3
"""Check the Kubernetes manifests in deploy/kubernetes.

Parses every YAML file there (python3-yaml), checks the objects against one
another and against what the agent needs, extracts the ConfigMap's policy
and every ```conf example of deploy/kubernetes/README.md and runs
`portgate check` on each; checks the RBAC the agent's Kubernetes source
needs, and that every option the DaemonSet gives `portgate run` is one it
takes. No cluster and no network needed.

    tests/deploy/test_manifests.py [PORTGATE]

PORTGATE defaults to $PORTGATE, then build/portgate.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit("test_manifests: FAIL: python3-yaml is missing (tests/deps.sh installs it)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KDIR = os.path.join(ROOT, "deploy", "kubernetes")
PORTGATE = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("PORTGATE") \
    or os.path.join(ROOT, "build", "portgate")

failures = []


def fail(msg):
    failures.append(msg)
    print("test_manifests: FAIL: " + msg, file=sys.stderr)


def ok(msg):
    print("test_manifests: ok: " + msg)


# pod: selectors (issue 11) reach the policy parser in one change and the
# agent in another. A binary whose parser predates them refuses every pod:
# rule with this error; then each pod: selector of a policy is checked as an
# exact path of its own (one per distinct selector text, so duplicates and
# conflicts still show), the rest of the rule as it is, and that is said.
# Once the tree's parser takes
# them (policy/*.c calls pg_kube_sel_parse), the binary must take them too.
PRE_POD_ERROR = "selector must be an absolute cgroup path starting with '/'"
POD_LINE = re.compile(r"^(\s*(?:allow|deny)\s+)(\"pod:[^\"]*\"|'pod:[^']*'|pod:\S+)", re.M)


def pod_support():
    """True when portgate check takes pod: selectors, False when it predates
    them (and the tree agrees); fails the test on any other answer."""
    r = subprocess.run([PORTGATE, "check", "-"], input="allow pod:default tcp/80\n",
                       capture_output=True, text=True)
    if r.returncode == 0 and not r.stderr.strip():
        return True
    wired = []
    pdir = os.path.join(ROOT, "policy")
    for name in sorted(os.listdir(pdir)):
        if name.endswith(".c") and not name.startswith("kube_"):
            with open(os.path.join(pdir, name), errors="replace") as f:
                if "pg_kube_sel_parse" in f.read():
                    wired.append(name)
    if PRE_POD_ERROR in r.stderr and not wired:
        return False
    fail("portgate check does not take 'allow pod:default tcp/80' (exit %d, stderr %r)%s" %
         (r.returncode, r.stderr.strip(),
          "; policy/%s parse pod: selectors: rebuild %s" % (", ".join(wired), PORTGATE)
          if wired else ""))
    return False


POD_SUPPORT = None
pod_lines_skipped = []


def check_policy(text, what):
    """portgate check on text; warnings count as failures too."""
    global POD_SUPPORT
    if POD_LINE.search(text):
        if POD_SUPPORT is None:
            POD_SUPPORT = pod_support()
        if not POD_SUPPORT:
            stand_in = {}
            text = POD_LINE.sub(lambda m: m.group(1) + stand_in.setdefault(
                m.group(2), "/pod-selector-%d" % (len(stand_in) + 1)), text)
            pod_lines_skipped.append("%s: %d" % (what, len(stand_in)))
    with tempfile.NamedTemporaryFile("w", suffix=".conf", prefix="portgate-manifest-",
                                     delete=False) as f:
        f.write(text)
        path = f.name
    try:
        r = subprocess.run([PORTGATE, "check", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        fail("%s does not pass portgate check (exit status %d):\n%s" %
             (what, r.returncode, r.stderr.replace(path, what)))
        return False
    if r.stderr.strip():
        fail("%s draws diagnostics from portgate check:\n%s" % (what, r.stderr.replace(path, what)))
        return False
    return True


# --- parse ---------------------------------------------------------------------
if not os.access(PORTGATE, os.X_OK):
    sys.exit("test_manifests: FAIL: no portgate binary at %s (run make first)" % PORTGATE)

def yaml_files(d):
    return sorted(f for f in os.listdir(d) if f.endswith((".yaml", ".yml")))


def parse(d, names, prefix=""):
    """[(file, object)] of every document in d's names."""
    got = []
    for name in names:
        try:
            with open(os.path.join(d, name)) as f:
                docs = [x for x in yaml.safe_load_all(f) if x is not None]
        except yaml.YAMLError as e:
            fail("%s%s is not valid YAML: %s" % (prefix, name, e))
            continue
        for x in docs:
            if not isinstance(x, dict) or "kind" not in x or "apiVersion" not in x:
                fail("%s%s: a document without kind and apiVersion" % (prefix, name))
                continue
            got.append((prefix + name, x))
    return got


# The Prometheus Operator's kinds live apart, in monitoring/: a cluster
# without its CRDs would refuse them in `kubectl apply -k deploy/kubernetes`.
MDIR = os.path.join(KDIR, "monitoring")
files = yaml_files(KDIR)
if not files:
    sys.exit("test_manifests: FAIL: no YAML files in %s" % KDIR)
mfiles = yaml_files(MDIR) if os.path.isdir(MDIR) else []
objs = parse(KDIR, files)  # (file, object)
mobjs = parse(MDIR, mfiles, "monitoring/")
ok("parsed %d YAML files, %d objects; monitoring/: %d files, %d objects" %
   (len(files), len(objs), len(mfiles), len(mobjs)))


def one(kind, among=None):
    found = [(f, o) for f, o in (objs if among is None else among) if o["kind"] == kind]
    if len(found) != 1:
        fail("want exactly one %s, found %d" % (kind, len(found)))
        return None
    return found[0][1]


ns = one("Namespace")
sa = one("ServiceAccount")
crole = one("ClusterRole")
cbind = one("ClusterRoleBinding")
ds = one("DaemonSet")
kust = one("Kustomization")
svc = one("Service")
mkust = one("Kustomization", mobjs)
smon = one("ServiceMonitor", mobjs)
prule = one("PrometheusRule", mobjs)
cms = {o["metadata"]["name"]: o for f, o in objs if o["kind"] == "ConfigMap"}
cm = cms.get("portgate-policy")
if cm is None:
    fail("no ConfigMap named portgate-policy")
if None in (ns, sa, crole, cbind, ds, cm, svc, mkust, smon, prule):
    sys.exit("test_manifests: FAIL: %d failure(s), cannot go on" % len(failures))
ok("kinds: Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap portgate-policy, "
   "DaemonSet, Service, "
   "Kustomization; monitoring/: ServiceMonitor, PrometheusRule, Kustomization")

# --- names, namespaces, kustomization ------------------------------------------
nsname = ns["metadata"]["name"]
CLUSTER_SCOPED = ("Namespace", "ClusterRole", "ClusterRoleBinding")
for f, o in objs + mobjs:
    if o["kind"] == "Kustomization":
        continue
    got = o["metadata"].get("namespace")
    if o["kind"] in CLUSTER_SCOPED:
        if got is not None:
            fail("%s %s is cluster-scoped but names namespace %r" % (o["kind"], o["metadata"]["name"], got))
        continue
    if got != nsname:
        fail("%s %s is in namespace %r, want %r" % (o["kind"], o["metadata"]["name"], got, nsname))
labels = ns["metadata"].get("labels", {})
if labels.get("pod-security.kubernetes.io/enforce") != "privileged":
    fail("namespace %s is not labelled pod-security.kubernetes.io/enforce=privileged: "
         "hostPID, hostPath and added capabilities would be refused" % nsname)
want = sorted(f for f in files if f != "kustomization.yaml")
if sorted(kust.get("resources", [])) != want:
    fail("kustomization.yaml resources %s, want every manifest %s" % (kust.get("resources"), want))
mwant = [".."] + sorted(f for f in mfiles if f != "kustomization.yaml")
if sorted(mkust.get("resources", [])) != sorted(mwant):
    fail("monitoring/kustomization.yaml resources %s, want %s" % (mkust.get("resources"), mwant))
ok("namespaces consistent, Pod Security label, kustomization lists every manifest, "
   "monitoring/ adds its own to ..")

# --- RBAC: the agent reads pods, nothing more ----------------------------------
# The agent lists and watches its node's pods (loader/kube_client.c); a
# role that grants more is a hole, one that grants less breaks the watch.
want_rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
got_rules = [{k: (sorted(v) if isinstance(v, list) else v) for k, v in r.items()}
             for r in crole.get("rules", [])]
if got_rules != [{k: sorted(v) for k, v in r.items()} for r in want_rules]:
    fail("ClusterRole %s grants %s, want exactly get, list and watch on pods: %s" %
         (crole["metadata"]["name"], crole.get("rules"), want_rules))
if "aggregationRule" in crole:
    fail("ClusterRole %s aggregates other roles' rules" % crole["metadata"]["name"])
rr = cbind.get("roleRef", {})
if rr != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
          "name": crole["metadata"]["name"]}:
    fail("ClusterRoleBinding %s binds %s, want the ClusterRole %s" %
         (cbind["metadata"]["name"], rr, crole["metadata"]["name"]))
want_subj = [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": nsname}]
if cbind.get("subjects") != want_subj:
    fail("ClusterRoleBinding %s binds %s, want only %s" %
         (cbind["metadata"]["name"], cbind.get("subjects"), want_subj))
ok("RBAC: ClusterRole %s grants get, list, watch on pods and nothing more; bound to "
   "ServiceAccount %s/%s" % (crole["metadata"]["name"], nsname, sa["metadata"]["name"]))

# --- the DaemonSet -------------------------------------------------------------
spec = ds["spec"]
tmpl = spec["template"]
pod = tmpl["spec"]
sel = spec.get("selector", {}).get("matchLabels", {})
if not sel or any(tmpl["metadata"].get("labels", {}).get(k) != v for k, v in sel.items()):
    fail("DaemonSet selector %s does not match the template's labels" % sel)
if pod.get("serviceAccountName") != sa["metadata"]["name"]:
    fail("DaemonSet serviceAccountName %r, want %r" %
         (pod.get("serviceAccountName"), sa["metadata"]["name"]))
# The in-cluster configuration reads the account's token from its standard
# mount; the pod's setting wins over the account's.
automount = pod.get("automountServiceAccountToken", sa.get("automountServiceAccountToken", True))
if automount is not True:
    fail("the ServiceAccount token is not mounted (automountServiceAccountToken %r): the agent's "
         "in-cluster configuration reads it" % automount)
if pod.get("priorityClassName") != "system-node-critical":
    fail("DaemonSet priorityClassName is not system-node-critical")
if {"operator": "Exists"} not in pod.get("tolerations", []):
    fail("DaemonSet does not tolerate every taint (a toleration {operator: Exists})")
ru = spec.get("updateStrategy", {})
if ru.get("type") != "RollingUpdate" or ru.get("rollingUpdate", {}).get("maxUnavailable") != "10%":
    fail("updateStrategy is not RollingUpdate with maxUnavailable 10%%: %s" % ru)
if not pod.get("terminationGracePeriodSeconds"):
    fail("no terminationGracePeriodSeconds")
if pod.get("hostPID") is not True:
    fail("hostPID is not true: the agent enters PID 1's cgroup namespace")
if pod.get("hostNetwork"):
    fail("hostNetwork is set: grant mode does not need it (see daemonset.yaml)")

containers = pod.get("containers", [])
if len(containers) != 1:
    sys.exit("test_manifests: FAIL: want one container in the DaemonSet, found %d" % len(containers))
c = containers[0]
argv = [str(a) for a in c.get("command", []) + c.get("args", [])]
volumes = {v["name"]: v for v in pod.get("volumes", [])}
mounts = c.get("volumeMounts", [])

# volumes and mounts match
mnames = [m["name"] for m in mounts]
for m in mounts:
    if m["name"] not in volumes:
        fail("volumeMount %s (%s) has no volume" % (m["name"], m["mountPath"]))
for v in volumes:
    if v not in mnames:
        fail("volume %s is never mounted" % v)
if len(set(mnames)) != len(mnames):
    fail("a volume is mounted twice: %s" % mnames)
ok("volume mounts and volumes match: %s" % ", ".join(mnames))

# the policy mount: the ConfigMap, as a directory
pmounts = [m for m in mounts
           if volumes.get(m["name"], {}).get("configMap", {}).get("name") == "portgate-policy"]
if len(pmounts) != 1:
    sys.exit("test_manifests: FAIL: the ConfigMap portgate-policy is mounted %d times, want once"
             % len(pmounts))
pm = pmounts[0]
if "subPath" in pm or "subPathExpr" in pm:
    fail("the policy is mounted with subPath: it would never see the kubelet's ..data swaps")
if volumes[pm["name"]]["configMap"].get("items"):
    fail("the policy volume picks items: mount the whole ConfigMap")
if pm.get("readOnly") is not True:
    fail("the policy mount is not readOnly")
policy_path = pm["mountPath"].rstrip("/") + "/portgate.conf"
if "portgate.conf" not in cm.get("data", {}):
    fail("ConfigMap portgate-policy has no key portgate.conf")
if not argv or argv[-1] != policy_path:
    fail("the agent's last argument is %r, want the mounted policy %s" %
         (argv[-1] if argv else None, policy_path))
ok("policy: ConfigMap mounted as a directory at %s, no subPath, passed as %s" %
   (pm["mountPath"], policy_path))

# The node's name, from the downward API: --node-name's default.
envs = [e for e in c.get("env", []) if e.get("name") == "NODE_NAME"]
if len(envs) != 1:
    fail("the container sets NODE_NAME %d times, want once, from the downward API" % len(envs))
elif envs[0].get("valueFrom", {}) != {"fieldRef": {"fieldPath": "spec.nodeName"}} \
        and envs[0].get("valueFrom", {}).get("fieldRef", {}) != {"apiVersion": "v1",
                                                                   "fieldPath": "spec.nodeName"}:
    fail("NODE_NAME is %s, want valueFrom.fieldRef.fieldPath spec.nodeName" % envs[0])
elif "value" in envs[0]:
    fail("NODE_NAME has a fixed value as well as the downward API: %s" % envs[0])
else:
    ok("NODE_NAME from the downward API (spec.nodeName)")

# the command
if "run" not in argv:
    fail("the container does not run `portgate run`: %s" % argv)
if not any("portgate" in a for a in argv):
    fail("the container command never names portgate: %s" % argv)


def opt(name):
    if name in argv and argv.index(name) + 1 < len(argv):
        return argv[argv.index(name) + 1]
    return None


# Every option given to `portgate run` is one it takes. The Kubernetes
# source's options (issue 11) come with the agent's change; a binary whose
# `run -h` lists none of them predates it, and they are checked against the
# list that change implements instead. One that lists any of them must list
# every option the DaemonSet uses.
KUBE_OPTS = {"--kubeconfig", "--node-name", "--kube-cgroup-driver", "--kube-cgroup-root"}
r = subprocess.run([PORTGATE, "run", "-h"], capture_output=True, text=True)
run_opts = set(re.findall(r"^\s+(?:-[a-zA-Z], )?(--[a-z][a-z0-9-]*)", r.stdout, re.M))
if r.returncode != 0 or "--listen" not in run_opts:
    fail("portgate run -h (exit %d) lists no options: %r" % (r.returncode, r.stdout + r.stderr))
known = run_opts if run_opts & KUBE_OPTS else run_opts | KUBE_OPTS
given = [a.split("=", 1)[0] for a in argv[argv.index("run") + 1:] if a.startswith("--")] \
    if "run" in argv else []
unknown = [a for a in given if a not in known]
if unknown:
    fail("the DaemonSet gives portgate run %s, which it does not take (portgate run -h: %s)" %
         (unknown, " ".join(sorted(run_opts))))
else:
    ok("every option given to portgate run is one it takes: %s (%s)" %
       (" ".join(given), "its -h lists the Kubernetes options" if run_opts & KUBE_OPTS else
        "Kubernetes options checked against %s: this binary predates them" %
        " ".join(sorted(KUBE_OPTS))))
drv = next((a.split("=", 1)[1] if "=" in a else argv[i + 1] for i, a in enumerate(argv)
            if a.split("=", 1)[0] == "--kube-cgroup-driver" and ("=" in a or i + 1 < len(argv))),
           None)
if drv is not None and drv not in ("systemd", "cgroupfs"):
    fail("--kube-cgroup-driver %s: want systemd or cgroupfs" % drv)
if any(a.split("=", 1)[0] == "--kubeconfig" for a in argv):
    fail("the DaemonSet gives --kubeconfig: in a pod the in-cluster configuration is the one")

listen = opt("--listen")
lport = None
if listen is None:
    fail("the agent is not given --listen ADDR:PORT: %s" % argv)
else:
    m = re.fullmatch(r"(0\.0\.0\.0|\[::\]):(\d+)", listen)
    if not m:
        fail("--listen %s: want 0.0.0.0:PORT or [::]:PORT, the pod's IP is what the kubelet "
             "probes and Prometheus scrapes" % listen)
    else:
        lport = int(m.group(2))
        if not 1024 <= lport <= 65535:
            fail("--listen port %d: want 1024-65535, a lower one needs NET_BIND_SERVICE" % lport)
for gone in ("--ready-file", "--metrics-file"):
    if gone in argv:
        fail("%s is given: the probes and Prometheus use --listen" % gone)


def on_volume(path, kind):
    """The mount holding path, whose volume must be of this kind."""
    best = None
    for m in mounts:
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    if best is None or kind not in volumes.get(best["name"], {}):
        fail("%s is not on a %s volume (the root file system is read-only)" % (path, kind))
    elif best.get("readOnly"):
        fail("%s is mounted read-only" % path)
    return best


# the agent's state file, /run/portgate/agent.json (loader/agent.h)
on_volume("/run/portgate/agent.json", "emptyDir")

# the port, named, and the probes on it
cports = {p.get("name"): p for p in c.get("ports", [])}
mp = cports.get("metrics")
if mp is None:
    fail("the container has no port named metrics: %s" % c.get("ports"))
elif mp.get("containerPort") != lport or mp.get("protocol", "TCP") != "TCP":
    fail("the metrics port %s is not TCP %s, the --listen port" % (mp, lport))


def http_probe(name, path):
    p = c.get(name)
    if not p:
        fail("no %s" % name)
        return None
    g = p.get("httpGet", {})
    if g.get("path") != path or g.get("port") not in ("metrics", lport):
        fail("%s is %s, want httpGet %s on the metrics port" % (name, p, path))
    if "exec" in p or g.get("scheme", "HTTP") != "HTTP":
        fail("%s is not a plain httpGet: %s" % (name, p))
    # the agent answers between applies (loader/http.h): give it time
    if p.get("timeoutSeconds", 1) < 5:
        fail("%s timeoutSeconds %s: want 5 or more, an apply delays the answer" %
             (name, p.get("timeoutSeconds", 1)))
    return p


sp = http_probe("startupProbe", "/healthz")
lp = http_probe("livenessProbe", "/healthz")
rp = http_probe("readinessProbe", "/readyz")
if sp and sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3) < 60:
    fail("the startupProbe gives the first apply less than 60 s: %s" % sp)
if lp and lp.get("failureThreshold", 3) < 2:
    fail("the livenessProbe restarts the agent on one missed answer: %s" % lp)
ok("command: portgate run %s; port metrics %s; probes: startup and liveness /healthz, "
   "readiness /readyz" % (" ".join(argv[argv.index("run") + 1:]) if "run" in argv else "?",
                          lport))

# the Service Prometheus finds the agents by
pod_labels = tmpl["metadata"].get("labels", {})
ssel = svc["spec"].get("selector", {})
if not ssel or any(pod_labels.get(k) != v for k, v in ssel.items()):
    fail("Service %s selects %s, not the DaemonSet's pods %s" %
         (svc["metadata"]["name"], ssel, pod_labels))
if svc["spec"].get("clusterIP") != "None":
    fail("Service %s is not headless (clusterIP: None): it must name every agent" %
         svc["metadata"]["name"])
sports = [p for p in svc["spec"].get("ports", []) if p.get("name") == "metrics"]
if len(sports) != 1 or sports[0].get("targetPort") not in ("metrics", lport):
    fail("Service %s has no port metrics onto the container's: %s" %
         (svc["metadata"]["name"], svc["spec"].get("ports")))
ok("Service %s: headless, selects the agents, port metrics" % svc["metadata"]["name"])

# security context
sc = c.get("securityContext", {})
caps = sc.get("capabilities", {})
if sc.get("privileged") is not False:
    fail("securityContext.privileged is not false")
if caps.get("drop") != ["ALL"]:
    fail("capabilities.drop is %s, want [ALL]" % caps.get("drop"))
need = {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "DAC_READ_SEARCH", "DAC_OVERRIDE", "SETUID", "SETGID"}
added = set(caps.get("add", []))
if need - added:
    fail("capabilities.add lacks %s" % sorted(need - added))
if "NET_BIND_SERVICE" in added:
    fail("NET_BIND_SERVICE is added: the bypass probe must bind without it")
if sc.get("allowPrivilegeEscalation") is False and "SYS_ADMIN" in added:
    fail("allowPrivilegeEscalation: false with SYS_ADMIN is refused by the API server")
if sc.get("readOnlyRootFilesystem") is not True:
    fail("readOnlyRootFilesystem is not true")
ok("securityContext: not privileged, drop ALL, add %s" % " ".join(caps.get("add", [])))

# host mounts


def host_mount(path):
    for m in mounts:
        hp = volumes.get(m["name"], {}).get("hostPath", {}).get("path")
        if hp == path:
            return m
    fail("the host's %s is not mounted" % path)
    return None


cg = host_mount("/sys/fs/cgroup")
if cg:
    if cg["mountPath"] != "/sys/fs/cgroup":
        fail("the host's cgroup tree is mounted at %s, want /sys/fs/cgroup" % cg["mountPath"])
    if cg.get("readOnly"):
        fail("the host's cgroup tree is mounted read-only: programs attach there")
bpf = host_mount("/sys/fs/bpf")
if bpf:
    if bpf["mountPath"] != "/sys/fs/bpf":
        fail("the host's bpffs is mounted at %s, want /sys/fs/bpf" % bpf["mountPath"])
    if bpf.get("readOnly"):
        fail("the host's bpffs is mounted read-only: portgate pins there")
    if bpf.get("mountPropagation") == "Bidirectional" and not sc.get("privileged"):
        fail("Bidirectional mount propagation needs a privileged container")
script = " ".join(argv)
ok("host mounts: /sys/fs/cgroup read-write, /sys/fs/bpf (%s)" %
   (bpf or {}).get("mountPropagation", "None"))


# Run the container's command with stand-ins for stat and nsenter: it must
# refuse a /sys/fs/bpf that is not bpffs, and otherwise exec portgate with
# the args unchanged, inside PID 1's cgroup namespace.
def run_entry(fstype):
    with tempfile.TemporaryDirectory(prefix="portgate-entry-") as bindir:
        for name, body in (("stat", 'echo %s\n' % fstype),
                           ("nsenter", 'printf "%s\\n" "$@"\n')):
            path = os.path.join(bindir, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + body)
            os.chmod(path, 0o755)
        env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        return subprocess.run(argv, capture_output=True, text=True, env=env)


if not c.get("command") or not os.path.isabs(c["command"][0]):
    fail("the container command does not start with an absolute program path: %s" % argv)
else:
    r = run_entry("sysfs")
    if r.returncode == 0 or "/sys/fs/bpf" not in r.stderr:
        fail("the container starts although /sys/fs/bpf is not bpffs (exit %d, stderr %r)" %
             (r.returncode, r.stderr))
    r = run_entry("bpf_fs")
    got = r.stdout.split("\n")[:-1]
    want_tail = [str(a) for a in c.get("args", [])]
    ran = got[got.index("--") + 1:] if "--" in got else []
    if r.returncode != 0 or "--cgroup" not in got or "--target=1" not in got \
            or not ran or not ran[0].endswith("/portgate") or ran[1:] != want_tail:
        fail("with bpffs the container does not exec nsenter --target=1 --cgroup -- "
             ".../portgate %s (exit %d): %s %s" % (" ".join(want_tail), r.returncode, got, r.stderr))
    else:
        ok("entry: refuses a /sys/fs/bpf that is not bpffs; else nsenter --target=1 --cgroup -- %s"
           % " ".join(ran))

# --- monitoring/: the ServiceMonitor and the alert rules ------------------------
se = smon["spec"]
msel = se.get("selector", {}).get("matchLabels", {})
if not msel or any(svc["metadata"].get("labels", {}).get(k) != v for k, v in msel.items()):
    fail("the ServiceMonitor selects %s, not the Service's labels %s" %
         (msel, svc["metadata"].get("labels")))
if nsname not in se.get("namespaceSelector", {}).get("matchNames", [nsname]):
    fail("the ServiceMonitor does not look in namespace %s" % nsname)
eps = se.get("endpoints", [])
if len(eps) != 1 or eps[0].get("port") != "metrics" or eps[0].get("path", "/metrics") != "/metrics":
    fail("the ServiceMonitor does not scrape port metrics at /metrics: %s" % eps)
elif "node" not in [r.get("targetLabel") for r in eps[0].get("relabelings", [])]:
    fail("the ServiceMonitor does not label series with their node")
ok("ServiceMonitor: scrapes the Service's port metrics at /metrics, labels node")

# Every metric an alert names is one the agent writes (loader/*.c)
written = set()
for name in os.listdir(os.path.join(ROOT, "loader")):
    if name.endswith(".c"):
        with open(os.path.join(ROOT, "loader", name), errors="replace") as f:
            written |= set(re.findall(r'"(portgate_[a-z0-9_]+)"', f.read()))
alerts = {}
for g in prule["spec"].get("groups", []):
    for r in g.get("rules", []):
        if "alert" not in r:
            continue
        alerts[r["alert"]] = r
        expr = r.get("expr", "")
        for m in sorted(set(re.findall(r"\bportgate_[a-z0-9_]+", expr))):
            if m not in written:
                fail("alert %s uses %s, a metric the agent does not write" % (r["alert"], m))
        if r.get("labels", {}).get("severity") not in ("info", "warning", "critical"):
            fail("alert %s has no severity label" % r["alert"])
        if not r.get("annotations", {}).get("summary"):
            fail("alert %s has no summary" % r["alert"])


def alert_on(what, pattern):
    """Some alert's expr matches pattern."""
    if not any(re.search(pattern, r.get("expr", "")) for r in alerts.values()):
        fail("no alert on %s (an expr matching %s)" % (what, pattern))


alert_on("a failing reload", r"portgate_agent_last_reload_success\s*==\s*0|"
         r"portgate_agent_reloads_total\{[^}]*result=\"failed\"")
alert_on("enforcement missing", r"portgate_enforcing\s*==\s*0")
alert_on("a detached link", r"portgate_link_attached\s*==\s*0")
alert_on("lost events", r"(increase|rate)\(portgate_events_lost_total\[")
if not written:
    fail("found no portgate_* metric names in loader/*.c")

promtool = shutil.which("promtool") or os.path.join(ROOT, "build", "http", "promtool", "usr",
                                                    "bin", "promtool")
if os.access(promtool, os.X_OK):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="portgate-rules-") as f:
        yaml.safe_dump({"groups": prule["spec"].get("groups", [])}, f)
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    if r.returncode != 0:
        fail("promtool check rules on the PrometheusRule:\n%s%s" % (r.stdout, r.stderr))
    checked = "promtool check rules passes"
else:
    checked = "promtool check rules not run: no promtool (make test-http unpacks one)"
ok("PrometheusRule: %s; metrics all written by the agent; %s" %
   (", ".join(sorted(alerts)), checked))

# --- the policies --------------------------------------------------------------
policy = cm.get("data", {}).get("portgate.conf", "")
if check_policy(policy, "configmap.yaml portgate.conf"):
    ok("the ConfigMap's policy passes portgate check")
if not re.search(r"^\s*mode\s+grant\b", policy, re.M):
    fail("the ConfigMap's policy does not say mode grant (sysctl mode cannot work here)")

with open(os.path.join(KDIR, "README.md")) as f:
    readme = f.read()
examples = re.findall(r"^```conf\n(.*?)^```", readme, re.S | re.M)
if not examples:
    fail("deploy/kubernetes/README.md has no ```conf policy examples")
good = sum(check_policy(e, "README.md example %d" % (i + 1)) for i, e in enumerate(examples))
if good == len(examples):
    ok("all %d policy examples of README.md pass portgate check" % len(examples))
if pod_lines_skipped:
    print("test_manifests: note: pod: selectors checked as stand-in paths, this portgate predates "
          "them (policy/ does not parse them yet); selectors per policy: " +
          ", ".join(pod_lines_skipped))
elif POD_SUPPORT:
    ok("pod: rules checked with the rest")

with open(os.path.join(KDIR, "Dockerfile")) as f:
    dockerfile = f.read()
for needle in ("debian:12", "libbpf1", "build/portgate"):
    if needle not in dockerfile:
        fail("the Dockerfile does not mention %s" % needle)
img_bin = re.search(r"COPY\s+(?:--from=\S+\s+)?\S*build/portgate\s+(\S+)", dockerfile)
if not img_bin:
    fail("the Dockerfile copies no build/portgate into the image")
elif img_bin.group(1) not in script:
    fail("the container runs a portgate other than the image's %s" % img_bin.group(1))

if failures:
    print("test_manifests: %d failure(s)" % len(failures), file=sys.stderr)
    sys.exit(1)
print("test_manifests: PASS")
