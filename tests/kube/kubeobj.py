# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Pod objects in the JSON shape the Kubernetes API server returns, and the
label and field selectors it applies to them. Used by apiserver.py.

The shapes follow what `kubectl get pod -o json` prints from a v1.2x API
server: list items carry no kind/apiVersion, watch objects do; metadata holds
managedFields, ownerReferences and annotations the client must ignore.
"""

import copy
import hashlib
import re
import time

QOS_CLASSES = ("Guaranteed", "Burstable", "BestEffort")


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def make_uid(namespace, name, seq):
    h = hashlib.sha256(f"{namespace}/{name}/{seq}".encode()).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _resources(qos):
    if qos == "Guaranteed":
        lim = {"cpu": "100m", "memory": "64Mi"}
        return {"limits": dict(lim), "requests": dict(lim)}
    if qos == "Burstable":
        return {"requests": {"cpu": "50m", "memory": "32Mi"}}
    return {}


def _managed_fields(ts, labels):
    return [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": ts,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {
                    "f:generateName": {},
                    "f:labels": {f"f:{k}": {} for k in labels},
                    "f:ownerReferences": {'k:{"uid":"x"}': {}},
                },
                "f:spec": {"f:containers": {'k:{"name":"main"}': {".": {}, "f:image": {}}}},
            },
        },
        {
            "manager": "kubelet",
            "operation": "Update",
            "apiVersion": "v1",
            "time": ts,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {"f:conditions": {}, "f:podIP": {}}},
            "subresource": "status",
        },
    ]


def make_pod(spec, seq, rv):
    """A pod from a control request: name, namespace, node, labels, qos,
    phase, uid (made up when absent), annotations. One long literal, laid
    out as `kubectl get pod -o json` prints a Deployment's pod, on purpose:
    its length is the shape the client must read past."""
    ns = spec.get("namespace", "default")
    name = spec["name"]
    qos = spec.get("qos", "BestEffort")
    labels = dict(spec.get("labels", {}))
    ts = now_rfc3339()
    uid = spec.get("uid") or make_uid(ns, name, seq)
    annotations = {"kubernetes.io/config.seen": ts, "kubectl.kubernetes.io/restartedAt": ts}
    annotations.update(spec.get("annotations", {}))
    ip = f"10.244.{(seq >> 8) & 255}.{seq & 255}"
    phase = spec.get("phase", "Running")
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "generateName": name.rsplit("-", 1)[0] + "-",
            "namespace": ns,
            "uid": uid,
            "resourceVersion": str(rv),
            "creationTimestamp": ts,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": name.rsplit("-", 1)[0],
                    "uid": make_uid(ns, "rs-" + name, seq),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": _managed_fields(ts, labels),
        },
        "spec": {
            "volumes": [
                {
                    "name": "kube-api-access-x1",
                    "projected": {
                        "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": [
                {
                    "name": "main",
                    "image": "registry.k8s.io/pause:3.9",
                    "ports": [{"containerPort": 80, "hostPort": 80, "protocol": "TCP"}],
                    "resources": _resources(qos),
                    "volumeMounts": [
                        {
                            "name": "kube-api-access-x1",
                            "readOnly": True,
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        }
                    ],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "nodeName": spec.get("node", "node-1"),
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": phase,
            "conditions": [
                {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "192.168.0.10",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": ts,
            "containerStatuses": [
                {
                    "name": "main",
                    "state": {"running": {"startedAt": ts}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": "registry.k8s.io/pause:3.9",
                    "imageID": "registry.k8s.io/pause@sha256:" + "0" * 64,
                    "containerID": "containerd://" + hashlib.sha256(uid.encode()).hexdigest(),
                    "started": True,
                }
            ],
            "qosClass": qos,
        },
    }


def list_item(pod):
    """List items carry no kind/apiVersion, as the real server sends them."""
    item = copy.copy(pod)
    item.pop("kind", None)
    item.pop("apiVersion", None)
    return item


def bookmark(rv):
    """What a v1.2x server sends as a BOOKMARK: an empty pod but for its RV."""
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(rv), "creationTimestamp": None},
        "spec": {"containers": None},
        "status": {},
    }


def status(code, reason, message):
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class SelectorError(ValueError):
    pass


_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"


def _split_top(text):
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text):
    """Kubernetes label selector syntax -> list of (key, op, values)."""
    reqs = []
    for part in _split_top(text or ""):
        m = re.fullmatch(rf"({_NAME})\s+(in|notin)\s+\(([^)]*)\)", part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.fullmatch(rf"({_NAME})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)", part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((m.group(1), op, {m.group(3)}))
            continue
        m = re.fullmatch(rf"(!?)\s*({_NAME})", part)
        if m:
            reqs.append((m.group(2), "!" if m.group(1) else "exists", set()))
            continue
        raise SelectorError(f"unable to parse requirement: {part!r}")
    return reqs


def labels_match(reqs, labels):
    for key, op, vals in reqs:
        have = key in labels
        val = labels.get(key)
        ok = {
            "=": have and val in vals,
            "in": have and val in vals,
            "!=": not have or val not in vals,
            "notin": not have or val not in vals,
            "exists": have,
            "!": not have,
        }[op]
        if not ok:
            return False
    return True


_FIELDS = {
    "spec.nodeName": lambda p: p["spec"].get("nodeName", ""),
    "metadata.name": lambda p: p["metadata"]["name"],
    "metadata.namespace": lambda p: p["metadata"]["namespace"],
    "status.phase": lambda p: p["status"].get("phase", ""),
}


def parse_field_selector(text):
    reqs = []
    for part in _split_top(text or ""):
        m = re.fullmatch(r"([A-Za-z.]+)\s*(==|!=|=)\s*(.*)", part)
        if not m:
            raise SelectorError(f"invalid selector: {part!r}")
        if m.group(1) not in _FIELDS:
            raise SelectorError(f'field label not supported: {m.group(1)}')
        reqs.append((m.group(1), m.group(2) == "!=", m.group(3)))
    return reqs


def fields_match(reqs, pod):
    return all((_FIELDS[f](pod) == v) != neg for f, neg, v in reqs)
