"""API durability: what the server acknowledged survives kill -9.

Eight client threads create tenants, credit them (with Idempotency-Keys) and create and stop
rentals (with Idempotency-Keys) while an agent thread heartbeats twenty fake hosts and reports
every assigned rental running, so rentals are billed. Mid-load the server gets SIGKILL (and, in a second test, SIGTERM). After
a restart on the same data directory:
  - the database files as the crash left them pass PRAGMA integrity_check;
  - every acknowledged tenant, credit, rental and stop is there with the same values, and
    every rental an acknowledged heartbeat reported running has started;
  - requests whose outcome the crash hid are retried with their Idempotency-Key (as a client
    would), and acknowledged ones replay their first reply;
  - no GPU is held by two live rentals, and the hosts' view agrees with the rentals';
  - after stopping everything, every balance equals its credits minus its rentals' costs,
    and its wallet's net in the stored transfers;
  - after a clean stop the database passes PRAGMA integrity_check again.
run_load and verify_recovery are shared with tests/crash/test_kill9_trials.py (a hundred
kills at random moments); the checks themselves are in checks.py.
"""

import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Server, FakeAgent, set_price, unique, micros, money,  # noqa: E402
                     ServerTestCase)
from checks import (integrity, assert_files_sound, assert_gpus_held_once,  # noqa: E402
                    assert_wallets_match_ledger)

THREADS = 8
LOAD_SECONDS = float(os.environ.get("GPURENT_DURABILITY_SECONDS", "2.5"))
HOSTS = 20
GPUS_PER_HOST = 8
MAX_LIVE_PER_THREAD = 12


class Unknown(Exception):
    """The request's outcome is unknown: the connection failed."""


class Worker(threading.Thread):
    def __init__(self, server, model, seed, stop_flag):
        super().__init__(daemon=True)
        self.server = server
        self.model = model
        self.rng = random.Random(seed)
        self.stop_flag = stop_flag
        self.tenants = {}        # tid -> {"name", "client"}
        self.credits = []        # dicts: tid, key, body, status ("ack"/"unknown"), reply
        self.creates = []        # dicts: tid, key, body, status, reply
        self.stops = []          # dicts: rid, status
        self.live = []           # (tid, rid) created and not stopped by us
        self.unknown_tenants = 0
        self.errors = []

    def call(self, client, method, path, body, headers=None):
        try:
            return client.req(method, path, body, headers=headers, timeout=10)
        except OSError as e:  # refused, reset, timeout: the server died under us
            raise Unknown(str(e))

    def new_tenant(self):
        name = unique("dur")
        r = self.call(self.server.admin, "POST", "/v1/tenants", {"name": name})
        if r.status != 201:
            self.errors.append("POST /v1/tenants: %r" % r)
            return None
        tid = r.json["id"]
        self.tenants[tid] = {"name": name, "client": self.server.client(r.json["api_key"])}
        return tid

    def credit(self, tid):
        amt = "%d.%06d" % (self.rng.randint(100, 2000), self.rng.randint(0, 999999))
        rec = {"tid": tid, "key": unique("crd"), "body": {"amount": amt, "reference": "load"},
               "status": "unknown", "reply": None}
        self.credits.append(rec)
        r = self.call(self.server.admin, "POST", "/v1/tenants/%s/credits" % tid, rec["body"],
                      {"Idempotency-Key": rec["key"]})
        if r.status != 201:
            self.errors.append("credit: %r" % r)
            rec["status"] = "refused"
            return
        rec["status"], rec["reply"] = "ack", r.json

    def create(self, tid):
        body = {"gpu_model": self.model, "gpu_count": self.rng.choice((1, 1, 2)),
                "term": "on_demand"}
        rec = {"tid": tid, "key": unique("rnt"), "body": body, "status": "unknown",
               "reply": None}
        self.creates.append(rec)
        r = self.call(self.tenants[tid]["client"], "POST", "/v1/rentals", body,
                      {"Idempotency-Key": rec["key"]})
        if r.status == 201:
            rec["status"], rec["reply"] = "ack", r.json
            self.live.append((tid, r.json["id"]))
        elif r.status in (402, 409):
            rec["status"], rec["reply"] = "refused", r.json
        else:
            rec["status"] = "refused"
            self.errors.append("create: %r" % r)

    def stop_one(self):
        tid, rid = self.live.pop(self.rng.randrange(len(self.live)))
        rec = {"rid": rid, "tid": tid, "status": "unknown"}
        self.stops.append(rec)
        r = self.call(self.tenants[tid]["client"], "POST", "/v1/rentals/%s/stop" % rid, {})
        if r.status != 200:
            self.errors.append("stop: %r" % r)
            rec["status"] = "refused"
            return
        rec["status"] = "ack"
        rec["reply"] = r.json

    def run(self):
        try:
            tid = None
            while not self.stop_flag.is_set():
                if tid is None or self.rng.random() < 0.05:
                    self.unknown_tenants += 1
                    tid = self.new_tenant()
                    self.unknown_tenants -= 1
                    if tid is None:
                        continue
                    self.credit(tid)
                    continue
                x = self.rng.random()
                if x < 0.15:
                    self.credit(self.rng.choice(list(self.tenants)))
                elif x < 0.6 or not self.live:
                    if len(self.live) >= MAX_LIVE_PER_THREAD:
                        self.stop_one()
                    else:
                        self.create(tid)
                else:
                    self.stop_one()
        except Unknown:
            pass
        except Exception as e:  # a bug in the test: report it
            self.errors.append("worker: %r" % e)


class AgentLoop(threading.Thread):
    """Heartbeats every host in turn and reports every assigned rental running."""

    def __init__(self, agents, stop_flag):
        super().__init__(daemon=True)
        self.agents = agents
        self.stop_flag = stop_flag
        self.beats = 0
        self.reported_running = set()  # rentals an acknowledged heartbeat reported running
        self.running_acks = {}  # rental -> how many acknowledged heartbeats reported it running

    def billed(self):
        """A rental was billed: a second acknowledged heartbeat confirmed time after the one
        that reported it running (docs/engine.md: billing is confirmed by heartbeats)."""
        return any(n >= 2 for n in list(self.running_acks.values()))

    def run(self):
        try:
            while not self.stop_flag.is_set():
                for a in self.agents:
                    for rid in list(a.assigned):
                        a.states[rid] = "running"
                    reported = {rid for rid, st in a.states.items() if st == "running"}
                    reply, _, _ = a.heartbeat()
                    # acknowledged, and still live after the report was applied (a stop may
                    # have ended it while still starting)
                    live = {x["rental_id"] for x in reply.get("run") or []}
                    self.reported_running.update(reported & live)
                    for rid in reported & live:
                        self.running_acks[rid] = self.running_acks.get(rid, 0) + 1
                    self.beats += 1
                time.sleep(0.05)
        except Exception:
            pass  # the server was killed


def _status(tc, r, status, msg=""):
    ServerTestCase.assertStatus(tc, r, status, msg)


def run_load(tc, srv, how, seconds, hosts=HOSTS, threads=THREADS, seed=0, until_billed=False):
    """Load srv (tenants, credits, rentals, stops, heartbeats) for `seconds`, then kill it
    ("SIGKILL") or stop it ("SIGTERM") mid-load. until_billed: and not before a rental was
    billed (on a loaded machine the agent loop's rounds over the hosts are slow: a fixed time
    may not see one rental assigned, reported running and confirmed). Returns (workers,
    agent loop)."""
    model = unique("DUR")
    set_price(srv, model, "7.60")
    agents = [FakeAgent(srv, model, gpus=GPUS_PER_HOST) for _ in range(hosts)]

    stop_flag = threading.Event()
    workers = [Worker(srv, model, seed=seed * 1000 + i, stop_flag=stop_flag)
               for i in range(threads)]
    loop = AgentLoop(agents, stop_flag)
    loop.start()
    for w in workers:
        w.start()
    time.sleep(seconds)
    deadline = time.time() + 60
    while until_billed and not loop.billed() and time.time() < deadline and loop.is_alive():
        time.sleep(0.05)
    if how == "SIGKILL":
        srv.kill9()  # mid-load: requests are in flight
    else:
        tc.assertEqual(srv.stop(), 0, "exit status on SIGTERM under load")
    stop_flag.set()
    for w in workers + [loop]:
        w.join(15)
        tc.assertFalse(w.is_alive(), "a load thread hangs after the kill")
    for w in workers:
        tc.assertEqual(w.errors, [], "unexpected replies under load")
    return workers, loop


def verify_recovery(tc, srv, workers, loop, how, min_creates=20, want_billing=True):
    """After run_load: restart srv and check everything acknowledged survived (the list at
    the top of this file). Returns the acknowledged counts (tenants, credits, creates,
    stops); every one of them was found, or an assertion failed."""
    acked = lambda recs: [r for r in recs if r["status"] == "ack"]  # noqa: E731
    credits = [c for w in workers for c in w.credits]
    creates = [c for w in workers for c in w.creates]
    stops = [s for w in workers for s in w.stops]
    tenants = {tid: t for w in workers for tid, t in w.tenants.items()}
    n_ack = (len(tenants), len(acked(credits)), len(acked(creates)), len(acked(stops)))
    if min_creates is not None:
        tc.assertGreater(n_ack[2], min_creates, "too little load to test anything: %r" %
                         (n_ack,))
        tc.assertGreater(loop.beats, 0)

    # the files as the crash left them are a sound database
    assert_files_sound(tc, srv, how)

    srv.start()
    admin = srv.admin

    # every acknowledged tenant is there, with its key
    for tid, t in tenants.items():
        r = admin.get("/v1/tenants/" + tid)
        _status(tc, r, 200, "tenant %s" % tid)
        tc.assertEqual(r.json["name"], t["name"])
        _status(tc, t["client"].get("/v1/balance"), 200, "the tenant's key")

    # acknowledged requests replay their first reply; unknown ones are retried
    for c in credits:
        if c["status"] == "refused":
            continue
        r = admin.post("/v1/tenants/%s/credits" % c["tid"], c["body"],
                       headers={"Idempotency-Key": c["key"]})
        _status(tc, r, 201, "credit retry")
        if c["status"] == "ack":
            tc.assertEqual(r.json, c["reply"], "the replay of an acknowledged credit")
        c["status"] = "done"
    for c in creates:
        if c["status"] == "refused":
            continue
        r = tenants[c["tid"]]["client"].post("/v1/rentals", c["body"],
                                             headers={"Idempotency-Key": c["key"]})
        if c["status"] == "ack":
            _status(tc, r, 201, "create replay")
            tc.assertEqual(r.json, c["reply"], "the replay of an acknowledged create")
        else:
            _status(tc, r, (201, 402, 409), "create retry")
            c["reply"] = r.json if r.status == 201 else None

    # every acknowledged rental is there with the same values; acknowledged stops held
    for c in creates:
        if c["status"] != "ack":
            continue
        want = c["reply"]
        r = admin.get("/v1/rentals/" + want["id"])
        _status(tc, r, 200, "rental %s" % want["id"])
        for k in ("tenant_id", "gpu_model", "gpu_count", "term", "hourly_price", "created_at",
                  "host_id"):
            tc.assertEqual(r.json[k], want[k], "rental %s field %s" % (want["id"], k))
        if r.json["state"] != "ended":  # an ended rental holds no GPUs
            tc.assertEqual(r.json["gpus"], want["gpus"], "rental %s gpus" % want["id"])
    for s in stops:
        if s["status"] == "ack":
            r = admin.get("/v1/rentals/" + s["rid"])
            tc.assertEqual(r.json["state"], "ended", "an acknowledged stop was lost")
            tc.assertEqual(r.json["end_reason"], "stopped")
            tc.assertEqual(r.json["cost"], s["reply"]["cost"],
                             "an ended rental's cost changed across the crash")

    # every rental an acknowledged heartbeat reported running has started
    for rid in loop.reported_running:
        r = admin.get("/v1/rentals/" + rid)
        _status(tc, r, 200, "rental %s" % rid)
        tc.assertIsNotNone(r.json["started_at"], "an acknowledged running report was lost")

    # no GPU in two live rentals; the hosts agree with the rentals
    live = assert_gpus_held_once(tc, admin)

    # stop everything; then balance == credits - costs, exactly, for every tenant
    for x in live:
        _status(tc, admin.post("/v1/rentals/%s/stop" % x["id"], {}), 200)
    credit_sum = {tid: 0 for tid in tenants}
    for c in credits:
        if c["status"] == "done":
            credit_sum[c["tid"]] += micros(c["body"]["amount"])
    known_ids = {c["reply"]["id"] for c in creates if c.get("reply") and "id" in c["reply"]}
    billed_any = False
    for tid, t in tenants.items():
        mine = t["client"].list_all("/v1/rentals")
        tc.assertTrue({x["id"] for x in mine} <= known_ids,
                        "a rental nobody asked for: %s" %
                        ({x["id"] for x in mine} - known_ids))
        tc.assertTrue(all(x["state"] == "ended" for x in mine))
        costs = sum(micros(x["cost"]) for x in mine)
        billed_any = billed_any or costs > 0
        r = admin.get("/v1/tenants/" + tid)
        tc.assertEqual(r.json["balance"], money(credit_sum[tid] - costs),
                         "tenant %s: credits %s, costs %s" %
                         (tid, money(credit_sum[tid]), money(costs)))
    if want_billing:
        tc.assertTrue(billed_any, "no rental was billed: the agent loop did not run them")
    assert_wallets_match_ledger(tc, srv, list(tenants))
    mine_all = {x["id"] for x in admin.list_all("/v1/rentals")}
    tc.assertTrue(known_ids <= mine_all)

    rc = srv.stop()
    tc.assertEqual(rc, 0)
    for db in srv.db_files():
        tc.assertEqual(integrity(db), ["ok"], db)
    return n_ack


# load tests, not rate-limit tests: the limits have their own (test_authz)
NO_LIMITS = ("--rate-limit", "0", "--rate-limit-create", "0")


class DurabilityTest(unittest.TestCase):

    def setUp(self):
        self.server = Server(args=NO_LIMITS)
        self.server.start()

    def tearDown(self):
        self.server.close()

    def test_kill9_mid_load(self):
        self.crash_mid_load("SIGKILL")

    def test_sigterm_mid_load(self):
        # a clean stop under load: in-flight requests are answered or refused, never half done
        self.crash_mid_load("SIGTERM")

    def crash_mid_load(self, how):
        workers, loop = run_load(self, self.server, how, LOAD_SECONDS, until_billed=True)
        n_ack = verify_recovery(self, self.server, workers, loop, how)
        print("\ndurability (%s): %d tenants, %d credits, %d rentals, %d stops acknowledged; "
              "%d heartbeats" % ((how,) + n_ack + (loop.beats,)), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
