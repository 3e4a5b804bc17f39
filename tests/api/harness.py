"""harness.py - run the real `gpurent serve` for the API tests (Python 3 standard library only).

A test starts the binary on a loopback port of its own (it listens on port 0 and prints the
port the kernel gave it: two test runs on one machine cannot collide) with a temporary data
directory, talks to it over HTTP exactly as any client would, and stops it with SIGTERM (or
SIGKILL, to test what survives a crash).

Timing (CI runs the suite again under ASan + UBSan, on machines that may be slow and
loaded): a test waits for a condition with a generous deadline, never sleeps in place of one;
reads what an asynchronous actor (the server's timers, an agent) may change or remove while
it must still be there; and asserts a time bound only where the bound is the product's
promise, with its waits running past it so that a miss fails on the bound. The binary comes from $GPURENT_BIN (ctest sets it), else build/gpurent.

    srv = Server().start()                # or Server(demo=True)
    r = srv.admin.post("/v1/tenants", {"name": "acme"})
    assert r.status == 201
    agent = FakeAgent(srv, "A100-80G", gpus=8)   # a host the test drives by hand
    srv.stop(); srv.start()               # same data dir, same admin key

The admin key: the first server of a test process starts without GPURENT_ADMIN_KEY, so it
generates one and prints it once; the harness reads it from the server's output and every
later server of the process gets it through GPURENT_ADMIN_KEY (both paths are exercised).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY_RE = re.compile(r"gpr_[0-9A-Za-z]{36}(?![0-9A-Za-z])")
SERVING_RE = re.compile(r"gpurent: serving on http://127\.0\.0\.1:(\d+) ")
# generous: a sanitizer build on a loaded two-core machine starts (and answers) slowly
START_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0

_admin_key_cache = None  # the admin key the first server of this process generated
_lock = threading.Lock()
_seq = [0]


def binary():
    b = os.environ.get("GPURENT_BIN") or os.path.join(ROOT, "build", "gpurent")
    if not os.access(b, os.X_OK):
        raise unittest.SkipTest("no gpurent binary at %s (set GPURENT_BIN)" % b)
    return b


def unique(prefix="t"):
    """A name unique within this test process: prefix-<pid>-<n>."""
    with _lock:
        _seq[0] += 1
        return "%s-%d-%d" % (prefix, os.getpid(), _seq[0])


# ---- money: exact decimal strings <-> int micro-units ------------------------------------

MONEY_RE = re.compile(r"^-?[0-9]+(\.[0-9]{1,6})?$")


def micros(text):
    """'15.20' -> 15200000. Fails the test if text is not a money string."""
    if not isinstance(text, str) or not MONEY_RE.match(text):
        raise AssertionError("not a money string: %r" % (text,))
    neg = text.startswith("-")
    if neg:
        text = text[1:]
    whole, _, frac = text.partition(".")
    v = int(whole) * 1000000 + int((frac + "000000")[:6])
    return -v if neg else v


def money(us):
    """15200000 -> '15.20' (the server's form: at least 2 decimals, trailing zeros trimmed)."""
    neg = us < 0
    us = abs(us)
    s = "%d.%06d" % (us // 1000000, us % 1000000)
    s = s.rstrip("0")
    whole, frac = s.split(".")
    frac = (frac + "00")[:max(2, len(frac))]
    return ("-" if neg else "") + whole + "." + frac


def prorate(rate_per_hour_us, us):
    """The one charging rule: floor(rate * us / 3.6e9), exact integers."""
    return (rate_per_hour_us * us) // 3600000000


def parse_time(text):
    """RFC 3339 UTC -> (µs since the epoch, fraction digits given)."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z$", text or "")
    if not m:
        raise AssertionError("not an RFC 3339 UTC time: %r" % (text,))
    import calendar
    secs = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)))
    frac = m.group(7) or ""
    us = int((frac[1:] + "000000")[:6]) if frac else 0
    return secs * 1000000 + us, max(0, len(frac) - 1)


# ---- HTTP --------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.raw = raw
        self.text = raw.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def __getitem__(self, k):
        return self.json[k]

    def __repr__(self):
        return "<%d %s>" % (self.status, self.text[:400])


def request(port, method, path, body=None, key=None, headers=None, raw=None,
         content_type="application/json", timeout=HTTP_TIMEOUT):
    """One request on a fresh connection. body: a JSON value (encoded); raw: bytes as they are."""
    hdrs = {}
    data = None
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None and content_type is not None:
        hdrs["Content-Type"] = content_type
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        payload = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
    finally:
        conn.close()


def raw_request(port, data, timeout=HTTP_TIMEOUT):
    """Send raw bytes (a whole HTTP request) and return (status, body text). The server may
    answer and close before the body is all sent (413): that is fine, its answer is read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    text = b"".join(chunks).decode("utf-8", "replace")
    m = re.match(r"HTTP/1\.[01] (\d{3})", text)
    if not m:
        raise AssertionError("no HTTP response to the raw request: %r" % text[:200])
    return int(m.group(1)), text.partition("\r\n\r\n")[2]


class Client:
    """Requests as one caller (a key, or none)."""

    def __init__(self, server, key):
        self.server = server
        self.key = key

    def req(self, method, path, body=None, **kw):
        kw.setdefault("key", self.key)
        return request(self.server.port, method, path, body, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.req("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.req("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def list_all(self, path, limit=None):
        """Every item of a paginated list, following next_cursor."""
        out = []
        cursor = None
        sep = "&" if "?" in path else "?"
        for _ in range(100000):
            q = []
            if limit:
                q.append("limit=%d" % limit)
            if cursor:
                q.append("cursor=" + cursor)
            r = self.get(path + (sep + "&".join(q) if q else ""))
            if r.status != 200:
                raise AssertionError("GET %s: %r" % (path, r))
            out.extend(r.json["data"])
            cursor = r.json.get("next_cursor")
            if not cursor:
                return out
        raise AssertionError("GET %s: the cursor never ends" % path)


# ---- the server process ------------------------------------------------------------------

class Server:
    def __init__(self, demo=False, data_dir=None, args=(), env=None, use_env_key=True):
        self.demo = demo
        self.own_dir = data_dir is None
        self.tmp = tempfile.mkdtemp(prefix="gpurent-api-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.use_env_key = use_env_key
        self.proc = None
        self.port = None
        self.admin_key = None
        self.starts = 0
        self.log_paths = []

    # the admin client (None until started)
    @property
    def admin(self):
        return Client(self, self.admin_key)

    def client(self, key):
        return Client(self, key)

    @property
    def anon(self):
        return Client(self, None)

    def output(self):
        """Everything the server wrote, over all its starts."""
        out = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def _current_output(self):
        out = ""
        for p in self.log_paths[-2:]:
            try:
                with open(p, "rb") as f:
                    out += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return out

    def start(self, tries=3, port=None):
        """port: listen there (a restart on the port clients already know), else on port 0:
        the kernel picks a free port at bind time and the server prints it, so that two test
        runs on one machine can never pick the same port (a port probed free and bound later
        could be taken in between, and the harness would then talk to another run's server)."""
        global _admin_key_cache
        last = None
        for attempt in range(tries):
            if port is not None and attempt:
                time.sleep(1)  # the old listener's port may linger a moment
            self.port = None
            self.starts += 1
            env = dict(os.environ)
            env.pop("GPURENT_ADMIN_KEY", None)
            env.pop("GPURENT_LOG_LEVEL", None)  # the harness reads the "serving on" line
            env.pop("GPURENT_LISTEN", None)
            key = self.admin_key or (_admin_key_cache if self.use_env_key else None)
            if key:
                env["GPURENT_ADMIN_KEY"] = key
            env.update(self.extra_env)
            os.makedirs(self.data_dir, exist_ok=True)
            outp = os.path.join(self.tmp, "out.%d.log" % self.starts)
            errp = os.path.join(self.tmp, "err.%d.log" % self.starts)
            self.log_paths += [outp, errp]
            cmd = [binary(), "serve", "--listen", "127.0.0.1:%d" % (port or 0),
                   "--data-dir", self.data_dir] + (["--demo"] if self.demo else []) + self.args
            with open(outp, "wb") as fo, open(errp, "wb") as fe:
                self.proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                             env=env, cwd=self.tmp)
            try:
                self._wait_healthy(port)
            except RuntimeError as e:
                last = e
                self._reap()
                if port is not None and "in use" in self._current_output().lower():
                    continue
                raise
            if not key:
                m = None
                deadline = time.time() + START_TIMEOUT
                while m is None and time.time() < deadline:
                    m = KEY_RE.search(self._current_output())
                    if m is None:
                        time.sleep(0.05)
                if m is None:
                    raise RuntimeError("the server printed no admin key on first start; "
                                       "output:\n" + self._current_output()[-2000:])
                key = m.group(0)
                if self.use_env_key and _admin_key_cache is None:
                    _admin_key_cache = key
            self.admin_key = key
            return self
        raise last

    def _wait_healthy(self, port=None):
        """Wait for this start's "serving on" line (printed once it listens: the port is its
        own), then for /healthz to answer 200 there."""
        deadline = time.time() + START_TIMEOUT
        outp = self.log_paths[-2]
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gpurent serve exited with %s at start; output:\n%s" %
                                   (self.proc.returncode, self._current_output()[-3000:]))
            if self.port is None:
                try:
                    with open(outp, "rb") as f:
                        m = SERVING_RE.search(f.read().decode("utf-8", "replace"))
                except OSError:
                    m = None
                if m is not None:
                    self.port = int(m.group(1))
                    if port is not None and self.port != port:
                        raise RuntimeError("gpurent serve listens on %d, not %d" %
                                           (self.port, port))
            if self.port is not None:
                try:
                    r = request(self.port, "GET", "/healthz", timeout=5)
                    if r.status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.03)
        raise RuntimeError("gpurent serve not healthy after %.0f s; output:\n%s" %
                           (START_TIMEOUT, self._current_output()[-3000:]))

    def _reap(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit status (SIGKILL after timeout, and fails)."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("gpurent serve ignored SIGTERM for %.0f s" % timeout)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        try:
            self._reap()
        finally:
            if os.environ.get("GPURENT_API_KEEP") != "1":
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                print("kept", self.tmp)

    def db_files(self):
        """The SQLite database file(s) in the data dir (by the SQLite header)."""
        found = []
        for dirpath, _, names in os.walk(self.data_dir):
            for n in names:
                p = os.path.join(dirpath, n)
                try:
                    with open(p, "rb") as f:
                        if f.read(16) == b"SQLite format 3\x00":
                            found.append(p)
                except OSError:
                    pass
        return found


# ---- a host agent driven by the test ---------------------------------------------------

class FakeAgent:
    """A host registered through the real API (join token, register) whose heartbeats the
    test sends by hand: the test decides when a rental's workload is 'running'.

    self.assigned: rental_id -> the `run` entry the server last asked for.
    self.states:   rental_id -> the state this agent reports ('starting', 'running', ...).
    """

    def __init__(self, server, model, gpus=8, hostname=None, memory_mib=81920, islands=2):
        self.server = server
        self.model = model
        self.hostname = hostname or unique("host")
        self.uuids = ["GPU-%s-%02d" % (self.hostname, i) for i in range(gpus)]
        r = server.admin.post("/v1/join-tokens", {})
        if r.status != 201:
            raise AssertionError("POST /v1/join-tokens: %r" % r)
        self.join_token = r.json["token"]
        per = max(1, gpus // islands)
        self.gpu_specs = [{"index": i, "uuid": self.uuids[i], "model": model,
                           "memory_mib": memory_mib, "nvlink_island": i // per}
                          for i in range(gpus)]
        r = server.anon.post("/v1/agent/register", {"join_token": self.join_token,
                                                    "hostname": self.hostname,
                                                    "gpus": self.gpu_specs})
        if r.status != 201:
            raise AssertionError("POST /v1/agent/register: %r" % r)
        self.host_id = r.json["host_id"]
        self.key = r.json["agent_key"]
        self.assigned = {}
        self.states = {}
        self.exit_codes = {}
        self.last_reply = None
        self.util = {}  # uuid -> the utilization this agent reports (50 when not set)

    @property
    def client(self):
        return Client(self.server, self.key)

    def report(self):
        out = []
        for rid, st in self.states.items():
            item = {"id": rid, "state": st}
            run = self.assigned.get(rid) or {}
            if "epoch" in run:
                item["epoch"] = run["epoch"]
            if st == "exited":
                item["exit_code"] = self.exit_codes.get(rid, 0)
            out.append(item)
        return out

    def heartbeat(self):
        """One heartbeat with the current report; applies the reply (run / stop).
        Returns (reply, t_sent, t_received) with times from time.time() in µs."""
        body = {"telemetry": [{"uuid": u, "util_pct": self.util.get(u, 50), "mem_used_mib": 1000,
                               "power_w": 300, "temp_c": 60} for u in self.uuids],
                "rentals": self.report()}
        t0 = int(time.time() * 1e6)
        r = self.client.post("/v1/agent/heartbeat", body)
        t1 = int(time.time() * 1e6)
        if r.status != 200:
            raise AssertionError("POST /v1/agent/heartbeat: %r" % r)
        self.last_reply = r.json
        for run in r.json.get("run") or []:
            rid = run["rental_id"]
            prev = self.assigned.get(rid)
            self.assigned[rid] = run
            if prev is None or prev.get("epoch") != run.get("epoch"):
                self.states[rid] = "starting"  # a new assignment: (re)start the workload
        for rid in r.json.get("stop") or []:
            self.states.pop(rid, None)
            self.assigned.pop(rid, None)
        return r.json, t0, t1

    def run(self, rental_id):
        """Heartbeat until the server assigns rental_id, then report it running.
        Returns (t_sent, t_received) of the heartbeat that reported it running."""
        for _ in range(3):
            if rental_id in self.assigned:
                break
            self.heartbeat()
        if rental_id not in self.assigned:
            raise AssertionError("the server never asked %s to run %s: %r" %
                                 (self.host_id, rental_id, self.last_reply))
        self.states[rental_id] = "running"
        _, t0, t1 = self.heartbeat()
        return t0, t1

    def exit(self, rental_id, code=0):
        self.states[rental_id] = "exited"
        self.exit_codes[rental_id] = code
        return self.heartbeat()


# ---- common fixtures -----------------------------------------------------------------

def fixed_scramble_id(prefix, n):
    """The id of object number n under the fixed scramble (src/common/ids.c without a key:
    tools, and databases made before ids were keyed): prefix + 13 Crockford base32 characters
    of n x 0x9E3779B97F4A7C15 (mod 2^64). `gpurent serve` keys its ids, so under it this is a
    well-formed id naming some unrelated number."""
    x = (n * 0x9E3779B97F4A7C15) % (1 << 64)
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    return prefix + "_" + "".join(alphabet[(x >> (5 * i)) & 31] for i in range(12, -1, -1))


def make_tenant(server, credit="1000.00", name=None, **extra):
    """A tenant with a credit: (tenant id, its Client)."""
    body = {"name": name or unique("tenant")}
    body.update(extra)
    r = server.admin.post("/v1/tenants", body)
    if r.status != 201:
        raise AssertionError("POST /v1/tenants: %r" % r)
    tid = r.json["id"]
    if credit and micros(credit) > 0:
        c = server.admin.post("/v1/tenants/%s/credits" % tid,
                              {"amount": credit, "reference": "test"})
        if c.status != 201:
            raise AssertionError("POST credits: %r" % c)
    return tid, server.client(r.json["api_key"])


def set_price(server, model, on_demand="7.60", spot_floor=None, packages=None):
    body = {"on_demand_hourly": on_demand}
    if spot_floor is not None:
        body["spot_floor_hourly"] = spot_floor
    if packages is not None:
        body["packages"] = packages
    r = server.admin.put("/v1/prices/" + model, body)
    if r.status not in (200, 201):
        raise AssertionError("PUT /v1/prices/%s: %r" % (model, r))
    return r


class ServerTestCase(unittest.TestCase):
    """One server for the whole class (started in setUpClass, stopped in tearDownClass)."""
    demo = False
    server = None
    args = ()  # extra `gpurent serve` options for the class's server

    @classmethod
    def setUpClass(cls):
        cls.server = Server(demo=cls.demo, args=cls.args)
        try:
            cls.server.start()
        except Exception:
            cls.server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            rc = cls.server.stop()
            cls.server.close()
            cls.server = None
            if rc not in (0, None):
                raise AssertionError("gpurent serve exited with %s on SIGTERM" % rc)

    @property
    def admin(self):
        return self.server.admin

    # assertions that say what the server answered
    def assertStatus(self, r, status, msg=""):
        if isinstance(status, int):
            status = (status,)
        if r.status not in status:
            self.fail("%sexpected HTTP %s, got %d: %s" %
                      (msg + ": " if msg else "", "/".join(map(str, status)), r.status,
                       r.text[:600]))

    def assertProblem(self, r, status, field=None, msg=""):
        """An RFC 9457 problem with this status; detail names `field` when given."""
        self.assertStatus(r, status, msg)
        self.assertTrue(r.content_type.startswith("application/problem+json"),
                        "%s: content type %r, want application/problem+json" %
                        (msg, r.content_type))
        self.assertIsInstance(r.json, dict, msg)
        for k in ("type", "title", "status", "detail"):
            self.assertIn(k, r.json, "%s: problem without %r: %s" % (msg, k, r.text))
        self.assertEqual(r.json["status"], status, msg)
        if field:
            self.assertIn(field, r.json["detail"],
                          "%s: the detail does not name %r: %r" % (msg, field, r.json["detail"]))
