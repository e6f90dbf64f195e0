#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""A stand-in Kubernetes API server for portgate's tests: pods only.

It speaks the real API over HTTPS (HTTP/1.1, chunked watch streams) with
bearer-token or client-certificate auth, and has a control channel for the
tests: plain HTTP on 127.0.0.1, `POST /NAME` with a JSON body.

  apiserver.py --cert C --key K --ca CA --token T [--port P] [--ctl-port P]
               [--ports-file F]

Control commands (body fields in brackets):
  add {name, namespace, node, labels, qos, phase, uid, annotations}
  modify {uid, labels, phase, annotations}     delete {uid}
  expire        compact history: watches from older RVs get 410 Gone
  drop          close every open API connection (listener stays)
  down / up     close the listener and all connections / listen again, same port
  slow {seconds}          delay every answer's headers by that much
  token {token}           the old token is refused from now on
  garbage {where: watch|list}   bytes that are not JSON, in open watches or
                                the next list answer
  truncate {where: watch|list}  half an event then end of stream / half a list
  huge {bytes}            an event of that size in every open watch
  stall {on}              watches send nothing at all, not even their end
  split {on}              watch bytes go in pieces of 7, an event's last byte
                          alone, each flushed
  bookmarks {interval}    seconds between BOOKMARK events (0: none)
  stats                   counters and the request log
  quit
"""

import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import kubeobj


class State:
    """Pods, resource versions and the watch history, under one lock."""

    def __init__(self, token):
        self.cond = threading.Condition()
        self.rv = 100
        self.compact_rv = 0  # watches from an RV below this get 410
        self.pods = {}  # uid -> pod
        self.history = []  # (rv, type, old pod or None, new pod or None)
        self.seq = 0
        self.token = token
        self.slow = 0.0
        self.stall = False
        self.split = False
        self.bookmark_interval = 1.0
        self.inject = []  # (serial, raw bytes, end stream after)
        self.inject_serial = 0
        self.list_fault = None  # "garbage" | "truncate" for the next list
        self.log = []  # (time, method, path)
        self.watching = []  # paths of the watches open now
        self.counts = {"list": 0, "watch": 0, "unauthorized": 0, "gone": 0}

    def bump(self):
        self.rv += 1
        return self.rv

    def record(self, kind, old, new):
        self.history.append((self.rv, kind, old, new))
        self.cond.notify_all()


def events_for(reqs, fsel, kind, old, new):
    """The event a watcher with these selectors sees, as the real server
    turns a pod leaving or entering the selection into DELETED or ADDED."""
    def sel(p):
        return p is not None and kubeobj.fields_match(fsel, p) and kubeobj.labels_match(
            reqs, p["metadata"]["labels"])
    was, now = sel(old), sel(new)
    if kind == "DELETED":
        return ("DELETED", old) if was else None
    if was and now:
        return ("MODIFIED", new)
    if now:
        return ("ADDED", new)
    if was:
        return ("DELETED", new)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "portgate-test-apiserver"

    def setup(self):
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        self.request.settimeout(None)
        self.server.app.track(self.request, True)
        super().setup()

    def finish(self):
        self.server.app.track(self.request, False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("apiserver: " + (fmt % args) + "\n")

    # --- plumbing -------------------------------------------------------
    def send_json(self, code, obj, raw=None):
        # Go's json.Encoder, which the API server uses, ends with a newline.
        body = raw if raw is not None else json.dumps(obj).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_status(self, code, reason, message):
        self.send_json(code, kubeobj.status(code, reason, message))

    def chunk(self, data):
        # split: bytes in pieces of 7 and the last byte (an event's newline)
        # alone, each sent at once, for the client's parser to meet events
        # cut anywhere.
        if self.server.app.state.split and len(data) > 1:
            pieces = [data[i:i + 7] for i in range(0, len(data) - 1, 7)] + [data[-1:]]
        else:
            pieces = [data]
        for piece in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()

    def authorized(self):
        st = self.server.app.state
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] == st.token:
            return True
        if self.request.getpeercert():  # verified against --ca
            return True
        with st.cond:
            st.counts["unauthorized"] += 1
        return False

    def do_GET(self):
        app = self.server.app
        st = app.state
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        with st.cond:
            slow = st.slow
            st.log.append((time.time(), "GET", self.path))
        if slow:
            time.sleep(slow)
        if not self.authorized():
            return self.send_status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in url.path.split("/") if p]
        if url.path in app.discovery:
            return self.send_json(200, app.discovery[url.path])
        ns = None
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 5 and parts[4] == "pods":
            ns = parts[3]
        elif parts != ["api", "v1", "pods"]:
            return self.send_status(404, "NotFound", "the server could not find the requested resource")
        try:
            lsel = kubeobj.parse_label_selector(q.get("labelSelector"))
            fsel = kubeobj.parse_field_selector(q.get("fieldSelector"))
        except kubeobj.SelectorError as e:
            return self.send_status(400, "BadRequest", str(e))
        if ns is not None:
            fsel.append(("metadata.namespace", False, ns))
        if q.get("watch") in ("1", "true"):
            return self.watch(q, lsel, fsel)
        return self.list(q, lsel, fsel)

    # --- list -----------------------------------------------------------
    def list(self, q, lsel, fsel):
        st = self.server.app.state
        with st.cond:
            st.counts["list"] += 1
            rv = q.get("resourceVersion", "")
            if rv not in ("", "0") and q.get("resourceVersionMatch") == "Exact" and int(rv) < st.compact_rv:
                st.counts["gone"] += 1
                return self.send_status(410, "Expired", f"too old resource version: {rv} ({st.compact_rv})")
            pods = [p for p in st.pods.values()
                    if kubeobj.fields_match(fsel, p) and kubeobj.labels_match(lsel, p["metadata"]["labels"])]
            pods.sort(key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
            list_rv = st.rv
            fault, st.list_fault = st.list_fault, None
        start = 0
        if q.get("continue"):
            try:
                list_rv, start = (int(x) for x in q["continue"].split(":"))
            except ValueError:
                return self.send_status(400, "BadRequest", "continue key is not valid")
            if list_rv < st.compact_rv:
                return self.send_status(410, "Expired",
                                        "The provided continue parameter is too old to display a consistent "
                                        "list result. You can start a new list without the continue parameter.")
        limit = int(q.get("limit") or 0)
        end = start + limit if limit > 0 else len(pods)
        meta = {"resourceVersion": str(list_rv)}
        if end < len(pods):
            meta["continue"] = f"{list_rv}:{end}"
            meta["remainingItemCount"] = len(pods) - end
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": meta,
                "items": [kubeobj.list_item(p) for p in pods[start:end]]}
        raw = json.dumps(body).encode() + b"\n"
        if fault == "garbage":
            raw = b"<html><body>502 Bad Gateway</body></html>\n" + b"\x00\xff" * 64
        elif fault == "truncate":
            raw = raw[: len(raw) // 2]
        self.send_json(200, None, raw)

    # --- watch ----------------------------------------------------------
    def watch_start(self, rv, lsel, fsel):
        """The first events of a watch from rv, and the RV it goes on from
        (None: it ends after them). Called with the state lock held."""
        st = self.server.app.state
        st.counts["watch"] += 1
        if rv in ("", "0"):
            # As the real server does: ADDED for every pod there is now.
            evs = [events_for(lsel, fsel, "ADDED", None, p) for p in st.pods.values()]
            return [e for e in evs if e], st.rv
        if int(rv) < st.compact_rv:
            st.counts["gone"] += 1
            msg = f"too old resource version: {rv} ({st.compact_rv})"
            return [("ERROR", kubeobj.status(410, "Expired", msg))], None
        return [], int(rv)

    def watch(self, q, lsel, fsel):
        st = self.server.app.state
        timeout = int(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        with st.cond:
            pending, pos = self.watch_start(q.get("resourceVersion", ""), lsel, fsel)
            seen_inject = st.inject_serial
            st.watching.append(self.path)
        last_bm = time.monotonic()
        try:
            while True:
                for kind, obj in pending:
                    self.chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                pending = []
                if pos is None:
                    break
                with st.cond:
                    if st.stall:
                        st.cond.wait(0.5)
                        deadline = float("inf")
                        continue
                    raws = [i for i in st.inject if i[0] > seen_inject]
                    if raws:
                        seen_inject = raws[-1][0]
                    for ev_rv, kind, old, new in st.history:
                        if ev_rv > pos:
                            ev = events_for(lsel, fsel, kind, old, new)
                            if ev:
                                pending.append(ev)
                    pos = st.rv
                    now = time.monotonic()
                    interval = st.bookmark_interval
                    if bookmarks and interval and now - last_bm >= interval and not pending:
                        pending.append(("BOOKMARK", kubeobj.bookmark(st.rv)))
                        last_bm = now
                    if not pending and not raws:
                        if now >= deadline:
                            break
                        st.cond.wait(min(0.2, max(0.01, deadline - now)))
                ended = False
                for _, raw, end in raws:
                    self.chunk(raw)
                    ended = ended or end
                if ended:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            with st.cond:
                st.watching.remove(self.path)


class App:
    def __init__(self, args):
        self.verbose = args.verbose
        self.state = State(args.token)
        self.port = args.port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(args.cert, args.key)
        self.ctx.load_verify_locations(args.ca)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.httpd = None
        self.thread = None
        self.discovery = self.make_discovery()

    @staticmethod
    def make_discovery():
        pods = {"name": "pods", "singularName": "", "namespaced": True, "kind": "Pod",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["po"], "categories": ["all"], "storageVersionHash": "xPOwRZ+Yhw8="}
        return {
            "/api": {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]},
            "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
            "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [pods]},
            "/version": {"major": "1", "minor": "28", "gitVersion": "v1.28.0", "platform": "linux/amd64"},
        }

    def track(self, sock, add):
        with self.conns_lock:
            (self.conns.add if add else self.conns.discard)(sock)

    def drop(self):
        with self.conns_lock:
            conns = list(self.conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def up(self):
        srv = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        srv.allow_reuse_address = True
        srv.daemon_threads = True
        srv.server_bind()
        srv.server_activate()
        srv.socket = self.ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        srv.app = self
        self.port = srv.server_address[1]
        self.httpd = srv
        self.thread = threading.Thread(target=srv.serve_forever, daemon=True)
        self.thread.start()

    def down(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        self.drop()

    def control(self, name, body):
        st = self.state
        with st.cond:
            if name == "add":
                st.seq += 1
                pod = kubeobj.make_pod(body, st.seq, st.bump())
                st.pods[pod["metadata"]["uid"]] = pod
                st.record("ADDED", None, pod)
                return {"uid": pod["metadata"]["uid"], "resourceVersion": str(st.rv)}
            if name == "modify":
                old = st.pods[body["uid"]]
                new = json.loads(json.dumps(old))
                if "labels" in body:
                    new["metadata"]["labels"] = body["labels"]
                if "annotations" in body:
                    new["metadata"]["annotations"].update(body["annotations"])
                if "phase" in body:
                    new["status"]["phase"] = body["phase"]
                new["metadata"]["resourceVersion"] = str(st.bump())
                st.pods[body["uid"]] = new
                st.record("MODIFIED", old, new)
                return {"resourceVersion": str(st.rv)}
            if name == "delete":
                old = st.pods.pop(body["uid"])
                gone = json.loads(json.dumps(old))
                gone["metadata"]["deletionTimestamp"] = kubeobj.now_rfc3339()
                gone["metadata"]["deletionGracePeriodSeconds"] = 0
                gone["metadata"]["resourceVersion"] = str(st.bump())
                st.record("DELETED", gone, None)
                return {"resourceVersion": str(st.rv)}
            if name == "expire":
                st.bump()
                st.compact_rv = st.rv
                st.history = []
                return {"compacted": str(st.rv)}
            if name == "slow":
                st.slow = float(body.get("seconds", 0))
                return {}
            if name == "token":
                st.token = body["token"]
                return {}
            if name == "stall":
                st.stall = bool(body.get("on", True))
                st.cond.notify_all()
                return {}
            if name == "split":
                st.split = bool(body.get("on", True))
                return {}
            if name == "bookmarks":
                st.bookmark_interval = float(body.get("interval", 0))
                return {}
            if name in ("garbage", "truncate", "huge"):
                return self.fault(name, body)
            if name == "stats":
                return {"counts": st.counts, "rv": str(st.rv), "pods": len(st.pods),
                        "connections": len(self.conns), "watching": st.watching, "log": st.log, "port": self.port}
        if name == "drop":
            self.drop()
            return {}
        if name == "down":
            self.down()
            return {}
        if name == "up":
            self.up()
            return {"port": self.port}
        raise KeyError(name)

    def fault(self, name, body):
        """Called with the state lock held."""
        st = self.state
        where = body.get("where", "watch")
        if where == "list":
            st.list_fault = name
            return {}
        if name == "garbage":
            raw, end = b"this is not JSON {{{ \x00\xff\n", False
        elif name == "truncate":
            pod = next(iter(st.pods.values()), kubeobj.make_pod({"name": "x-0"}, 0, st.rv))
            full = json.dumps({"type": "MODIFIED", "object": pod}).encode()
            raw, end = full[: len(full) // 2], True
        else:
            pod = kubeobj.make_pod({"name": "huge-0", "node": body.get("node", "node-1")}, 0, st.rv)
            pod["metadata"]["annotations"]["blob"] = "x" * int(body["bytes"])
            raw, end = json.dumps({"type": "MODIFIED", "object": pod}).encode() + b"\n", False
        st.inject_serial += 1
        st.inject.append((st.inject_serial, raw, end))
        st.cond.notify_all()
        return {}


def control_server(app, port):
    class Ctl(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(n) or b"{}")
            name = self.path.strip("/")
            code = 200
            try:
                res = app.control(name, body)
            except KeyError as e:
                code, res = 404, {"error": f"no such thing: {e}"}
            raw = json.dumps(res).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            if name == "quit":
                threading.Thread(target=self.server.shutdown).start()

    srv = ThreadingHTTPServer(("127.0.0.1", port), Ctl)
    srv.daemon_threads = True
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True, help="CA that client certificates must chain to")
    ap.add_argument("--token", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ctl-port", type=int, default=0)
    ap.add_argument("--ports-file", help="write 'API-PORT CONTROL-PORT' here once listening")
    ap.add_argument("--stdin-lifeline", action="store_true",
                    help="exit when stdin reaches its end (the test that started us died)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if args.stdin_lifeline:
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    app = App(args)
    app.up()
    ctl = control_server(app, args.ctl_port)
    ports = f"{app.port} {ctl.server_address[1]}\n"
    if args.ports_file:
        with open(args.ports_file + ".tmp", "w") as f:
            f.write(ports)
        os.rename(args.ports_file + ".tmp", args.ports_file)
    else:
        sys.stdout.write(ports)
        sys.stdout.flush()
    ctl.serve_forever()
    app.down()


if __name__ == "__main__":
    main()
