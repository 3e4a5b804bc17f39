"""Crash points: the server is killed at its k-th durable write, for k = 1, 2, ... until a
run completes with no crash point left (SQLite's crash loop, against the real binary).

One fixed script of requests runs against a fresh server whose durable writes (write, pwrite,
ftruncate, fsync, fdatasync on its database files) are counted by an LD_PRELOAD shim
(crashshim.c), which SIGKILLs it at the k-th. The script: set a price, create a tenant,
credit it (Idempotency-Key), register an agent, rent 2 GPUs on demand and 1 GPU for a day
(a package), heartbeat them running, stop one, credit again and retry that credit, create a
second tenant with a credit and a 4-GPU rental, heartbeat, stop it, mint a key. The first
server start (migrations, the admin key) and the final clean stop count too.

After each crash the server restarts without the shim on the same files, and:
  - the files as the crash left them pass PRAGMA integrity_check;
  - the restart succeeds: the server replays its log and checks the engine's invariants
    (ledger sums to zero, no GPU held twice, charges follow the billing rule) before it
    answers;
  - every acknowledged request's effect is there (prices, tenants, keys, credits, rentals
    with their GPUs, hosts, running reports, stops with their costs);
  - every acknowledged Idempotency-Key request, retried, replays its first reply and changes
    nothing; the one request in flight at the crash, retried, is applied exactly once;
  - no GPU is held by two live rentals, and the hosts agree;
  - after stopping everything, each balance equals its credits minus its rentals' costs, and
    equals its wallet's net in the stored transfers.

Modes (GPURENT_CRASH_MODES, comma-separated; default both):
  process    SIGKILL instead of performing the k-th write (a process crash);
  powerloss  the k-th write is torn (half of it written), then every write not yet made
             durable by an fsync of its file is undone, then SIGKILL (a power cut).
GPURENT_CRASH_STRIDE=n tests every n-th crash point only (default 1: all of them).
"""

import http.client
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crashlib import shim_env, sanitized  # noqa: E402
from harness import Server, unique, micros, money  # noqa: E402
from checks import (assert_files_sound, assert_gpus_held_once,  # noqa: E402
                    assert_wallets_match_ledger)

MODES = [m for m in os.environ.get("GPURENT_CRASH_MODES", "process,powerloss").split(",") if m]
STRIDE = max(1, int(os.environ.get("GPURENT_CRASH_STRIDE", "1")))
GPUS = 8
FAILURES = (OSError, http.client.HTTPException)


class Lost(Exception):
    """The server died under a request: its outcome is unknown."""


class Script:
    """The fixed operation script. Each step is acknowledged (2xx received), in flight (the
    server died under it: unknown), or never run."""

    def __init__(self, srv):
        self.srv = srv
        self.model = "CRASH-GPU"
        self.acked = []       # names of acknowledged steps, in order
        self.inflight = None  # the step the crash hid
        self.tenants = {}     # label -> {"name", "id", "key"}
        self.credits = []     # {"tenant", "key", "amount", "status", "reply"}
        self.creates = []     # {"label", "tenant", "key", "body", "status", "reply"}
        self.rentals = {}     # label -> rental id
        self.stops = []       # {"label", "reply"} (acknowledged)
        self.running = set()  # labels an acknowledged heartbeat reported running
        self.host = None      # {"id", "key"}
        self.assigned = {}    # rental id -> epoch the server asked to run
        self.keys = []        # extra keys acknowledged

    # ---- requests -----------------------------------------------------------------------
    def call(self, key, method, path, body=None, headers=None, want=(200, 201)):
        try:
            r = self.srv.client(key).req(method, path, body if body is not None else {},
                                         headers=headers, timeout=20)
        except FAILURES as e:
            raise Lost(str(e))
        if r.status not in want:
            raise AssertionError("%s %s: %r" % (method, path, r))
        return r

    def admin(self, method, path, body=None, **kw):
        return self.call(self.srv.admin_key, method, path, body, **kw)

    # ---- the steps ----------------------------------------------------------------------
    def price(self):
        self.admin("PUT", "/v1/prices/" + self.model,
                   {"on_demand_hourly": "7.60", "packages": {"day": "150.00"}})

    def tenant(self, label):
        t = {"name": unique("crash-" + label), "id": None, "key": None}
        self.tenants[label] = t
        r = self.admin("POST", "/v1/tenants", {"name": t["name"]}, want=(201,))
        t["id"], t["key"] = r.json["id"], r.json["api_key"]

    def credit(self, label, amount, key=None):
        c = {"tenant": label, "key": key or unique("crd"), "amount": amount, "status": "unknown",
             "reply": None}
        if key is None:
            self.credits.append(c)
        r = self.admin("POST", "/v1/tenants/%s/credits" % self.tenants[label]["id"],
                       {"amount": amount, "reference": "crash"},
                       headers={"Idempotency-Key": c["key"]}, want=(201,))
        if key is not None:  # a retry: the first reply again, applied once
            first = [x for x in self.credits if x["key"] == key][0]
            if r.json != first["reply"]:
                raise AssertionError("a retried credit did not replay: %r vs %r" %
                                     (r.json, first["reply"]))
            return
        c["status"], c["reply"] = "ack", r.json

    def register(self):
        r = self.admin("POST", "/v1/join-tokens", {}, want=(201,))
        hostname = unique("crash-host")
        gpus = [{"index": i, "uuid": "GPU-%s-%d" % (hostname, i), "model": self.model,
                 "memory_mib": 81920, "nvlink_island": i // 4} for i in range(GPUS)]
        r = self.call(None, "POST", "/v1/agent/register",
                      {"join_token": r.json["token"], "hostname": hostname, "gpus": gpus},
                      want=(201,))
        self.host = {"id": r.json["host_id"], "key": r.json["agent_key"]}

    def create(self, label, tenant, body):
        c = {"label": label, "tenant": tenant, "key": unique("rnt"), "body": body,
             "status": "unknown", "reply": None}
        self.creates.append(c)
        r = self.call(self.tenants[tenant]["key"], "POST", "/v1/rentals", body,
                      headers={"Idempotency-Key": c["key"]}, want=(201,))
        c["status"], c["reply"] = "ack", r.json
        self.rentals[label] = r.json["id"]

    def heartbeat(self, running=()):
        report = [{"id": self.rentals[x], "state": "running",
                   "epoch": self.assigned[self.rentals[x]]} for x in running]
        r = self.call(self.host["key"], "POST", "/v1/agent/heartbeat", {"rentals": report})
        for run in r.json.get("run") or []:
            self.assigned[run["rental_id"]] = run["epoch"]
        self.running |= set(running)

    def stop(self, label):
        r = self.call(self.tenants[self.creates_by_label(label)["tenant"]]["key"], "POST",
                      "/v1/rentals/%s/stop" % self.rentals[label], {})
        self.stops.append({"label": label, "reply": r.json})

    def mint_key(self, tenant):
        r = self.admin("POST", "/v1/keys", {"tenant_id": self.tenants[tenant]["id"]},
                       want=(201,))
        self.keys.append(r.json["api_key"])

    def creates_by_label(self, label):
        return [c for c in self.creates if c["label"] == label][0]

    def steps(self):
        od = {"gpu_model": self.model, "term": "on_demand"}
        return [
            ("price", self.price),
            ("tenant A", lambda: self.tenant("A")),
            ("credit A 500", lambda: self.credit("A", "500.123456")),
            ("register host", self.register),
            ("rent r1", lambda: self.create("r1", "A", dict(od, gpu_count=2))),
            ("rent r2 (day)", lambda: self.create("r2", "A", {"gpu_model": self.model,
                                                              "gpu_count": 1, "term": "day"})),
            ("heartbeat", lambda: self.heartbeat()),
            ("heartbeat r1 r2 running", lambda: self.heartbeat(("r1", "r2"))),
            ("stop r1", lambda: self.stop("r1")),
            ("credit A 250", lambda: self.credit("A", "250.000001")),
            ("retry credit A 250", lambda: self.credit("A", "250.000001",
                                                       key=self.credits[-1]["key"])),
            ("tenant B", lambda: self.tenant("B")),
            ("credit B 100", lambda: self.credit("B", "100.00")),
            ("rent r3", lambda: self.create("r3", "B", dict(od, gpu_count=4))),
            ("heartbeat 2", lambda: self.heartbeat(("r2",))),
            ("heartbeat r3 running", lambda: self.heartbeat(("r2", "r3"))),
            ("stop r3", lambda: self.stop("r3")),
            ("key for A", lambda: self.mint_key("A")),
        ]

    def run(self):
        """True when every step was acknowledged."""
        for name, fn in self.steps():
            try:
                fn()
            except Lost:
                self.inflight = name
                return False
            self.acked.append(name)
        return True


class CrashPointTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # the first server of the process makes the admin key every later one is given
        srv = Server()
        try:
            srv.start()
            srv.stop()
        finally:
            srv.close()

    def test_every_crash_point(self):
        summary = []
        for mode in MODES:
            k, crashes, t0 = 0, 0, time.time()
            while True:
                k += STRIDE
                crashed = self.one_point(k, mode)
                if not crashed:
                    break
                crashes += 1
            summary.append("%s: %d crash points tested (every %s up to k=%d, where the "
                           "script and a clean stop completed), all recovered, %.0f s" %
                           (mode, crashes, "one" if STRIDE == 1 else "%dth" % STRIDE, k,
                            time.time() - t0))
            self.assertGreater(k, 50, "too few durable writes to test anything")
        print("\ncrash points%s:\n  %s" % (" (sanitizer build)" if sanitized() else "",
                                           "\n  ".join(summary)), file=sys.stderr)

    def one_point(self, k, mode):
        """Run the script against a server that dies at durable write k. True if it died."""
        srv = Server()
        label = "%s crash at durable write %d" % (mode, k)
        try:
            srv.extra_env = shim_env(srv.data_dir, at=k, torn=mode == "powerloss",
                                     powerloss=mode == "powerloss")
            script = None
            try:
                srv.start()
            except RuntimeError as e:  # died during its first start
                if srv.proc.returncode != -9:
                    raise
                del e
            if srv.proc.returncode is None:
                script = Script(srv)
                if script.run():
                    rc = srv.stop()
                    if rc == 0:
                        return False  # no crash point left
                    self.assertEqual(rc, -9, "%s: exit status %s" % (label, rc))
            srv.proc.wait(20)
            self.assertEqual(srv.proc.returncode, -9, "%s: the server did not die" % label)
            assert_files_sound(self, srv, label, may_be_new=script is None)
            srv.extra_env = {}
            srv.start()
            if script is not None:
                self.verify(srv, script, label)
            rc = srv.stop()
            self.assertEqual(rc, 0, label)
            return True
        except Exception:
            print("\nfailed at %s; server output:\n%s" % (label, srv.output()[-3000:]),
                  file=sys.stderr)
            raise
        finally:
            srv.close()

    # ---- after the restart ------------------------------------------------------------------
    def verify(self, srv, s, label):
        admin = srv.admin
        acked = set(s.acked)
        msg = "%s (acknowledged: %s; in flight: %s)" % (label, ", ".join(s.acked), s.inflight)

        if "price" in acked:
            r = admin.get("/v1/prices")
            p = [x for x in r.json["data"] if x["gpu_model"] == s.model]
            self.assertEqual(len(p), 1, msg)
            self.assertEqual(p[0]["on_demand_hourly"], "7.60", msg)
            self.assertEqual(p[0]["packages"]["day"], "150.00", msg)

        # tenants: acknowledged ones with their keys; one in flight exists at most once
        for lab, t in s.tenants.items():
            if t["id"] is not None:
                r = admin.get("/v1/tenants/" + t["id"])
                self.assertEqual(r.status, 200, msg)
                self.assertEqual(r.json["name"], t["name"], msg)
                self.assertEqual(srv.client(t["key"]).get("/v1/balance").status, 200, msg)
            else:
                named = [x for x in admin.list_all("/v1/tenants") if x["name"] == t["name"]]
                self.assertLessEqual(len(named), 1, msg)
        for key in s.keys:
            self.assertEqual(srv.client(key).get("/v1/balance").status, 200, msg)

        if "register host" in acked:
            r = admin.get("/v1/hosts/" + s.host["id"])
            self.assertEqual(r.status, 200, msg)
            self.assertEqual(len(r.json["gpus"]), GPUS, msg)
            r = srv.client(s.host["key"]).post("/v1/agent/heartbeat?wait=0", {"rentals": []})
            self.assertEqual(r.status, 200, "%s: the agent key after the crash" % msg)

        # credits: an acknowledged one replays its reply; the one in flight is applied now
        # or was already; either way exactly once
        applied = {lab: 0 for lab in s.tenants}
        for c in s.credits:
            tid = s.tenants[c["tenant"]]["id"]
            if tid is None:
                continue
            r = admin.post("/v1/tenants/%s/credits" % tid,
                           {"amount": c["amount"], "reference": "crash"},
                           headers={"Idempotency-Key": c["key"]})
            self.assertEqual(r.status, 201, "%s: credit retry %r" % (msg, r))
            if c["status"] == "ack":
                self.assertEqual(r.json, c["reply"], "%s: replay of an acknowledged credit" %
                                 msg)
            applied[c["tenant"]] += micros(c["amount"])

        # rentals: acknowledged ones are there as acknowledged; the one in flight, retried,
        # exists exactly once
        for c in s.creates:
            tkey = s.tenants[c["tenant"]]["key"]
            r = srv.client(tkey).post("/v1/rentals", c["body"],
                                      headers={"Idempotency-Key": c["key"]})
            self.assertEqual(r.status, 201, "%s: create retry %r" % (msg, r))
            if c["status"] == "ack":
                self.assertEqual(r.json, c["reply"], "%s: replay of an acknowledged create" %
                                 msg)
                got = admin.get("/v1/rentals/" + c["reply"]["id"]).json
                for f in ("tenant_id", "gpu_model", "gpu_count", "term", "hourly_price",
                          "created_at", "host_id"):
                    self.assertEqual(got[f], c["reply"][f], "%s: %s.%s" % (msg, c["label"], f))
                if got["state"] != "ended":
                    self.assertEqual(got["gpus"], c["reply"]["gpus"], msg)
            s.rentals[c["label"]] = r.json["id"]
        for lab in s.running:
            got = admin.get("/v1/rentals/" + s.rentals[lab]).json
            self.assertIsNotNone(got["started_at"], "%s: %s was reported running" % (msg, lab))
        for st in s.stops:
            got = admin.get("/v1/rentals/" + s.rentals[st["label"]]).json
            self.assertEqual(got["state"], "ended", "%s: an acknowledged stop was lost" % msg)
            self.assertEqual(got["end_reason"], "stopped", msg)
            self.assertEqual(got["cost"], st["reply"]["cost"], msg)

        live = assert_gpus_held_once(self, admin)

        # stop everything: then each balance is its credits less its rentals' costs
        for x in live:
            self.assertEqual(admin.post("/v1/rentals/%s/stop" % x["id"], {}).status, 200, msg)
        known = set(s.rentals.values())
        tids = []
        for lab, t in s.tenants.items():
            if t["id"] is None:
                continue
            tids.append(t["id"])
            mine = srv.client(t["key"]).list_all("/v1/rentals")
            self.assertTrue({x["id"] for x in mine} <= known,
                            "%s: a rental nobody asked for" % msg)
            costs = sum(micros(x["cost"]) for x in mine)
            r = admin.get("/v1/tenants/" + t["id"])
            self.assertEqual(r.json["balance"], money(applied[lab] - costs),
                             "%s: tenant %s" % (msg, lab))
        assert_wallets_match_ledger(self, srv, tids)


if __name__ == "__main__":
    unittest.main()
