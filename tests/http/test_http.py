#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""loader/http.c through the sanitised driver build/test/http/httpd (fake
ops set through its stdin): each route and status code, HEAD, keep-alive,
refused bodies and oversize headers, listen addresses, and clients that
misbehave: a slowloris, idle connections, more connections than the limits.
The /metrics text passes `promtool check metrics` (PROMTOOL).

Clients bind distinct loopback addresses (127.0.0.2 for the well-behaved
one, others for attackers), since the server limits connections per IP.
"""

import http.client
import os
import re
import select
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HTTPD = os.environ.get("HTTPD", "build/test/http/httpd")
PROMTOOL = os.environ.get("PROMTOOL", "")
GOOD = "127.0.0.2"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Driver:
    """httpd LISTEN [CONNS PER_IP TIMEOUT_S MEM]; stop() checks a clean exit."""

    def __init__(self, listen="127.0.0.1:0", limits=None):
        self.err = tempfile.TemporaryFile(mode="w+")
        args = [HTTPD, listen] + [str(x) for x in (limits or [])]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, bufsize=1)
        line = self.readline()
        m = re.match(r"port (\d+)$", line)
        if not m:
            self.p.wait(10)
            raise AssertionError("httpd did not start: %r, stderr:\n%s" % (line, self.stderr()))
        self.port = int(m.group(1))
        self.host = listen.rsplit(":", 1)[0].strip("[]")

    def readline(self, timeout=10):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise AssertionError("httpd said nothing for %ss" % timeout)
        return self.p.stdout.readline().rstrip("\n")

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        got = self.readline()
        if got != "ok":
            raise AssertionError("httpd: %r answered %r" % (line, got))

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        self.p.stdin.close()
        rc = self.p.wait(15)
        err = self.stderr()
        self.err.close()
        self.p.stdout.close()
        return rc, err


def request(port, path, method="GET", headers=None, body=None, src=GOOD, host="127.0.0.1",
            timeout=5):
    """(status, headers, body) of one request on a new connection from src."""
    c = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(src, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def connect(port, src, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=5, source_address=(src, 0))
    s.setblocking(False)
    return s


def closed_by_server(s, wait=0.0):
    """True once the server closed s (EOF or reset) within wait seconds."""
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return False
    try:
        return s.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except BlockingIOError:
        return False


def count_closed(socks, want, wait=3.0):
    """How many of socks the server closed, waiting up to wait s for want of them."""
    gone = set()
    end = time.monotonic() + wait
    while True:
        for i, s in enumerate(socks):
            if i not in gone and closed_by_server(s):
                gone.add(i)
        if len(gone) >= want or time.monotonic() > end:
            return len(gone)
        time.sleep(0.05)


class Base(unittest.TestCase):
    LIMITS = None

    def setUp(self):
        self.d = Driver(limits=self.LIMITS)
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        rc, err = self.d.stop()
        self.assertEqual(rc, 0, "httpd exit %d; stderr:\n%s" % (rc, err))
        self.assertNotRegex(err, r"AddressSanitizer|LeakSanitizer|runtime error")

    def get(self, path, **kw):
        return request(self.d.port, path, **kw)

    def served(self, timeout=5):
        """The well-behaved client gets 200 from /healthz."""
        status, _, body = self.get("/healthz", timeout=timeout)
        self.assertEqual((status, body), (200, b"ok\n"))


class Routes(Base):
    def test_healthz(self):
        status, h, body = self.get("/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        self.assertEqual(h["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(h["Cache-Control"], "no-store")
        self.d.cmd("alive 0 loop last turned 95 s ago")
        self.assertEqual(self.get("/healthz")[::2], (503, b"loop last turned 95 s ago\n"))
        self.d.cmd("alive 0")
        self.assertEqual(self.get("/healthz")[::2], (503, b"not alive\n"))
        self.d.cmd("alive 1")
        self.served()

    def test_readyz(self):
        self.assertEqual(self.get("/readyz")[::2], (200, b"ready\n"))
        self.d.cmd("ready 0 last apply failed: portgate.conf:3: unknown selector")
        self.assertEqual(self.get("/readyz")[::2],
                         (503, b"last apply failed: portgate.conf:3: unknown selector\n"))
        self.d.cmd("ready 0 bind6 link detached")
        self.assertEqual(self.get("/readyz")[::2], (503, b"bind6 link detached\n"))
        self.d.cmd("ready 1 policy sha256:ab12 in force")
        self.assertEqual(self.get("/readyz")[::2], (200, b"policy sha256:ab12 in force\n"))
        # readiness and liveness are apart
        self.assertEqual(self.get("/healthz")[0], 200)

    def promtool(self, text):
        if not PROMTOOL:
            self.fail("no promtool (tests/http/promtool.sh failed; see above)")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True)
        self.assertEqual(r.returncode, 0, "promtool check metrics:\n%s%s" %
                         (r.stdout.decode(), r.stderr.decode()))

    def test_metrics(self):
        status, h, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(h["Content-Type"], METRICS_TYPE)
        self.assertIn(b"\nportgate_enforcing 1\n", body)
        self.assertIn(b'portgate_agent_reloads_total{result="failed"} 1\n', body)
        self.assertEqual(int(h["Content-Length"]), len(body))
        self.promtool(body)

    def test_metrics_big(self):
        self.d.cmd("metrics big 50000")
        status, _, body = self.get("/metrics", timeout=20)
        self.assertEqual(status, 200)
        self.assertEqual(body.count(b"\nportgate_rule_hits_total{"), 50001)
        self.assertTrue(body.endswith(b'"/sys.slice/unit-49999"} 49999\n'))
        self.promtool(body)

    def test_metrics_fail(self):
        self.d.cmd("metrics fail")
        self.assertEqual(self.get("/metrics")[::2], (500, b"metrics: Input/output error\n"))
        self.d.cmd("metrics ok")
        self.assertEqual(self.get("/metrics")[0], 200)

    def test_busy_loop(self):
        """A request that comes while the loop is busy is answered when it turns again."""
        got = {}

        def client():
            time.sleep(0.3)
            t0 = time.monotonic()
            got["r"] = self.get("/healthz", timeout=10)[::2]
            got["t"] = time.monotonic() - t0

        t = threading.Thread(target=client)
        t.start()
        self.d.cmd("busy 2000")
        t.join()
        self.assertEqual(got["r"], (200, b"ok\n"))
        self.assertGreater(got["t"], 1.2)

    def test_not_found(self):
        for path in ("/", "/nope", "/healthz/", "/metricsx", "/HEALTHZ", "/readyz/../healthz"):
            status, _, body = self.get(path)
            self.assertEqual((path, status, body), (path, 404, b"not found\n"))
        # a query string is not part of the path
        self.assertEqual(self.get("/metrics?name[]=x")[0], 200)

    def test_methods(self):
        for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, h, body = self.get("/healthz", method=m)
            self.assertEqual((m, status, body), (m, 405, b"method not allowed\n"))
            self.assertEqual(h["Allow"], "GET, HEAD")
        status, h, body = self.get("/metrics", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(h["Content-Type"], METRICS_TYPE)

    def test_keep_alive(self):
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=5,
                                       source_address=(GOOD, 0))
        try:
            for path, want in (("/healthz", 200), ("/nope", 404), ("/readyz", 200),
                               ("/metrics", 200)):
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, want)
                self.assertNotEqual(r.headers.get("Connection"), "close")
            port = c.sock.getsockname()[1]
            c.request("GET", "/healthz")
            c.getresponse().read()
            self.assertEqual(c.sock.getsockname()[1], port, "a new connection was opened")
        finally:
            c.close()

    def test_body_refused(self):
        status, h, body = self.get("/healthz", body=b"hello")
        self.assertEqual((status, body), (413, b"no request body is accepted\n"))
        self.assertEqual(h["Connection"], "close")
        # answered before the body is read: send only the first part of it
        for head in (b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nxx",
                     b"POST /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n"):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5,
                                         source_address=(GOOD, 0))
            s.sendall(head)
            self.assertRegex(s.recv(1024), rb"^HTTP/1\.1 413 ", head)
            self.assertTrue(closed_by_server(s, 3), "the connection was kept for the body")
            s.close()
        self.served()

class Limits(Base):
    # CONNS PER_IP TIMEOUT_S MEM
    LIMITS = [12, 4, 2, 8192]

    def test_oversize_headers(self):
        status, h, _ = self.get("/healthz", headers={"X-Big": "a" * 9000})
        self.assertEqual(status, 431)
        self.assertEqual(h["Connection"], "close")
        status, _, _ = self.get("/healthz", headers={"X-%d" % i: "b" * 100 for i in range(100)})
        self.assertEqual(status, 431)
        status, _, _ = self.get("/" + "c" * 9000)
        self.assertIn(status, (414, 431))
        # just under the limit is fine
        self.assertEqual(self.get("/healthz", headers={"X-Big": "a" * 6000})[0], 200)
        self.served()

    def test_garbage(self):
        """Answered with 4xx/5xx and closed, or closed by the idle timeout."""
        for junk in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: a\r\nBad header\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=6,
                                         source_address=("127.0.0.5", 0))
            s.sendall(junk)
            got = b""
            while True:
                more = s.recv(4096)
                if not more:
                    break
                got += more
            s.close()
            self.assertRegex(got, rb"^(HTTP/1\.[01] [45]\d\d |$)", junk)
        self.served()

    def test_idle_timeout(self):
        idle = connect(self.d.port, "127.0.0.3")
        half = connect(self.d.port, "127.0.0.3")
        self.socks = [idle, half]
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
        t0 = time.monotonic()
        self.assertTrue(closed_by_server(idle, 6), "an idle connection was kept past 6 s")
        self.assertTrue(closed_by_server(half, 6), "a half request was kept past 6 s")
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.served()

    def test_slowloris(self):
        """Many connections trickling header bytes; the good client is served meanwhile."""
        attackers = ["127.0.0.%d" % a for a in (3, 4)]
        self.socks = [connect(self.d.port, attackers[i % 2]) for i in range(40)]
        stop = threading.Event()

        def trickle():
            for s in self.socks:
                try:
                    s.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
                except OSError:
                    pass
            while not stop.wait(0.3):
                for s in self.socks:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass

        t = threading.Thread(target=trickle)
        t.start()
        try:
            t0 = time.monotonic()
            n = 0
            while time.monotonic() - t0 < 4:  # twice the idle timeout
                start = time.monotonic()
                self.served(timeout=3)
                self.assertLess(time.monotonic() - start, 1.5, "a slow answer to the good client")
                n += 1
                time.sleep(0.2)
            kept = sum(not closed_by_server(s, 0) for s in self.socks)
        finally:
            stop.set()
            t.join()
        self.assertGreaterEqual(n, 10)
        self.assertLessEqual(kept, 8, "want at most 4 connections per attacker kept")


class Slots(Base):
    # an idle timeout longer than the test: only the test frees the slots
    LIMITS = [12, 4, 30, 8192]

    def test_per_ip_limit(self):
        self.socks = [connect(self.d.port, "127.0.0.3") for _ in range(10)]
        self.assertEqual(count_closed(self.socks, 6), 6, "want 6 of 10 from one address closed")
        time.sleep(0.3)
        self.assertEqual(count_closed(self.socks, 7, 0), 6, "want 4 of 10 from one address kept")
        self.served()

    def test_connection_limit(self):
        """Past the limit MHD stops accepting: the next client waits in the backlog."""
        # 3 addresses x 4 = the limit of 12, each sending half a request
        self.socks = [connect(self.d.port, "127.0.0.%d" % (10 + i % 3)) for i in range(12)]
        for s in self.socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.5)  # all 12 taken by the server, not still in its backlog
        c = connect(self.d.port, GOOD)
        self.socks.append(c)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        r, _, _ = select.select([c], [], [], 1)
        self.assertFalse(r, "served past the connection limit")
        # the limit freed: the waiting connection is taken and its request answered
        for s in self.socks[:-1]:
            s.close()
        self.socks = [c]
        r, _, _ = select.select([c], [], [], 3)
        self.assertTrue(r, "not served once the limit freed")
        self.assertRegex(c.recv(1024), rb"^HTTP/1\.1 200 OK\r\n(.|\r\n)*\r\n\r\nok\n$")


class Listen(unittest.TestCase):
    def refused(self, listen, want):
        r = subprocess.run([HTTPD, listen], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=15)
        self.assertEqual(r.returncode, 2, "%s: exit %d, stderr %r" %
                         (listen, r.returncode, r.stderr))
        self.assertIn(want, r.stderr)
        self.assertNotRegex(r.stderr, r"AddressSanitizer|LeakSanitizer|runtime error")

    def test_bad_addresses(self):
        for listen in ("127.0.0.1", ":9464", "[::1]9464", "[::1]", "[]:80"):
            self.refused(listen, "want ADDR:PORT or [ADDR6]:PORT")
        for listen in ("127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x",
                       "127.0.0.1: 80", "[::1]:99999999999999999999"):
            self.refused(listen, "invalid port")
        for listen in ("localhost:80", "::1:80", "[127.0.0.1]:80", "1.2.3:80", "0.0.0.0.0:1"):
            self.refused(listen, "address")

    def test_in_use(self):
        d = Driver()
        try:
            self.refused("127.0.0.1:%d" % d.port, "bind: Address already in use")
        finally:
            self.assertEqual(d.stop()[0], 0)

    def test_ipv6(self):
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 on loopback")
        d = Driver("[::1]:0")
        try:
            status, _, body = request(d.port, "/healthz", host="::1", src="::1")
            self.assertEqual((status, body), (200, b"ok\n"))
        finally:
            rc, err = d.stop()
            self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
