"""API: rentals of every term through their lifecycle, driven by a fake agent the test
heartbeats by hand, with exact bills; capacity, funds, isolation between tenants,
idempotency, usage and invoices (line items to the micro-unit, checked against the
database's ledger), and bad input that must change nothing."""

import csv
import io
import os
import sqlite3
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, FakeAgent, make_tenant, set_price, unique,  # noqa: E402
                     micros, money, prorate, parse_time)

RENTAL_FIELDS = {"id", "tenant_id", "state", "end_reason", "exit_code", "gpu_model", "gpu_count",
                 "term", "hourly_price", "host_id", "gpus", "created_at", "started_at",
                 "ends_at", "ended_at", "cost"}
DAY_US = 86400 * 10**6
TERM_US = {"day": DAY_US, "week": 7 * DAY_US, "month": 30 * DAY_US}
PACKAGES = {"day": "150.00", "week": "900.00", "month": "3000.00"}


class RentalsTest(ServerTestCase):
    # 100 concurrent creates on one key (idempotency races) are beyond the default creation
    # rate limit, on purpose: the limits have their own tests (test_authz.py)
    args = ("--rate-limit-create", "0")

    def setUp(self):
        self.model = unique("GPU")
        set_price(self.server, self.model, "7.60", spot_floor="3.00", packages=PACKAGES)

    # ---- helpers ----

    def rental(self, client, rid):
        r = client.get("/v1/rentals/" + rid)
        self.assertStatus(r, 200)
        return r.json

    def balance(self, tid):
        r = self.admin.get("/v1/tenants/" + tid)
        self.assertStatus(r, 200)
        return r.json["balance"]

    def create(self, client, status=201, **body):
        b = {"gpu_model": self.model, "gpu_count": 1, "term": "on_demand"}
        b.update(body)
        r = client.post("/v1/rentals", b)
        self.assertStatus(r, status, "POST /v1/rentals %r" % b)
        return r.json

    def available(self, client=None):
        r = (client or self.admin).get("/v1/offers?gpu_model=" + self.model)
        self.assertStatus(r, 200)
        data = r.json["data"] if isinstance(r.json, dict) else r.json
        got = [o for o in data if o["gpu_model"] == self.model]
        return got[0]["available_gpus"] if got else 0

    def state(self, client):
        """What a bad request must not change: the tenant's rentals, balance, free GPUs."""
        rentals = sorted((x["id"], x["state"]) for x in client.list_all("/v1/rentals"))
        return rentals, client.get("/v1/balance").json["balance"], self.available()

    def last_heartbeat_us(self, agent):
        r = self.admin.get("/v1/hosts/" + agent.host_id)
        self.assertStatus(r, 200)
        return parse_time(r.json["last_heartbeat_at"])

    def assertBilled(self, cost, rate_us, run_hb, last_hb, agent_hb_server=None, started=None):
        """cost == floor(rate * billed / 3.6e9) for billed = the span between the heartbeat
        that reported running and the last heartbeat, as measured by the server. When the
        server's times have microseconds, exactly; else within the client-side bounds."""
        lo = max(0, last_hb[0] - run_hb[1])
        hi = last_hb[1] - run_hb[0]
        if started and agent_hb_server and started[1] >= 6 and agent_hb_server[1] >= 6:
            billed = agent_hb_server[0] - started[0]
            self.assertEqual(cost, money(prorate(rate_us, billed)),
                             "cost of %d µs at %s/h" % (billed, money(rate_us)))
            self.assertTrue(lo - 2000 <= billed <= hi + 2000,
                            "server billed %d µs; the client saw %d..%d" % (billed, lo, hi))
        else:
            c = micros(cost)
            self.assertTrue(prorate(rate_us, lo) <= c <= prorate(rate_us, hi),
                            "cost %s not in [%s, %s] for %d..%d µs at %s/h" %
                            (cost, money(prorate(rate_us, lo)), money(prorate(rate_us, hi)),
                             lo, hi, money(rate_us)))

    def run_and_stop(self, agent, tenant, rid, rate_us, seconds=1.0):
        """Report rid running, heartbeat after `seconds`, wait past the heartbeat, stop.
        Checks the bill against the heartbeat times; returns the ended rental."""
        run_hb = agent.run(rid)
        r = self.rental(tenant, rid)
        self.assertEqual(r["state"], "running")
        started = parse_time(r["started_at"])
        time.sleep(seconds)
        _, h0, h1 = agent.heartbeat()
        hb_server = self.last_heartbeat_us(agent)
        time.sleep(0.3)  # not confirmed by a heartbeat: never billed
        s = tenant.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["state"], "ended")
        self.assertEqual(s.json["end_reason"], "stopped")
        ended = self.rental(tenant, rid)
        self.assertEqual(ended["cost"], s.json["cost"])
        if "billed_seconds" in ended:  # cost agrees with the whole seconds billed
            b = ended["billed_seconds"] * 10**6
            self.assertTrue(prorate(rate_us, b) <= micros(ended["cost"]) <=
                            prorate(rate_us, b + 10**6),
                            "cost %s for billed_seconds %d" % (ended["cost"],
                                                               ended["billed_seconds"]))
        self.assertBilled(ended["cost"], rate_us, run_hb, (h0, h1), hb_server, started)
        return ended

    # ---- lifecycles ----

    def test_on_demand_lifecycle(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        r = self.create(tenant, gpu_count=2)
        self.assertTrue(RENTAL_FIELDS <= set(r), "missing: %s" % (RENTAL_FIELDS - set(r)))
        rid = r["id"]
        self.assertRegex(rid, r"^rnt_")
        self.assertEqual(r["tenant_id"], tid)
        self.assertEqual(r["state"], "starting")
        self.assertEqual(r["term"], "on_demand")
        self.assertEqual(r["gpu_model"], self.model)
        self.assertEqual(r["gpu_count"], 2)
        self.assertEqual(r["hourly_price"], "7.60")
        self.assertEqual(r["cost"], "0.00")
        self.assertEqual(r["host_id"], agent.host_id)
        self.assertEqual(len(r["gpus"]), 2)
        self.assertTrue(set(r["gpus"]) <= set(agent.uuids))
        self.assertIsNone(r["started_at"])
        self.assertIsNone(r["ended_at"])
        self.assertIsNone(r["end_reason"])
        parse_time(r["created_at"])
        self.assertEqual(self.available(), 6)

        # the host shows the GPUs allocated to it
        h = self.admin.get("/v1/hosts/" + agent.host_id).json
        held = {g["uuid"] for g in h["gpus"] if g["rental_id"] == rid}
        self.assertEqual(held, set(r["gpus"]))
        self.assertTrue(all(g["state"] == "allocated" for g in h["gpus"] if g["rental_id"] == rid))

        # starting is not billed; the agent is told to run it, with its GPUs
        agent.heartbeat()
        self.assertIn(rid, agent.assigned)
        idx = sorted(g["index"] for g in h["gpus"] if g["rental_id"] == rid)
        self.assertEqual(sorted(agent.assigned[rid]["gpu_indices"]), idx)
        time.sleep(0.3)
        self.assertEqual(self.rental(tenant, rid)["cost"], "0.00")
        self.assertEqual(self.balance(tid), "1000.00")

        ended = self.run_and_stop(agent, tenant, rid, 2 * 7600000, seconds=1.2)
        self.assertGreater(micros(ended["cost"]), 0)
        self.assertEqual(self.balance(tid), money(1000 * 10**6 - micros(ended["cost"])))
        parse_time(ended["ended_at"])
        self.assertEqual(self.available(), 8)

        # stop again: idempotent, nothing more billed
        time.sleep(0.2)
        agent.heartbeat()
        s = tenant.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["state"], "ended")
        self.assertEqual(s.json["cost"], ended["cost"])
        self.assertEqual(self.balance(tid), money(1000 * 10**6 - micros(ended["cost"])))
        # the agent is told to stop it (or at least no longer to run it)
        reply, _, _ = agent.heartbeat()
        self.assertNotIn(rid, [x["rental_id"] for x in reply.get("run") or []])

        # listed, and filtered by state
        ids = [x["id"] for x in tenant.list_all("/v1/rentals")]
        self.assertEqual(ids.count(rid), 1)
        self.assertIn(rid, [x["id"] for x in tenant.list_all("/v1/rentals?state=ended")])
        self.assertNotIn(rid, [x["id"] for x in tenant.list_all("/v1/rentals?state=running")])
        self.assertProblem(tenant.get("/v1/rentals?state=sleeping"), 400, "state")
        # balance view agrees; nothing burning
        b = tenant.get("/v1/balance").json
        self.assertEqual(b["balance"], self.balance(tid))
        self.assertEqual(b["hourly_burn"], "0.00")

    def test_starting_never_billed(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=4)["id"]
        agent.heartbeat()
        time.sleep(0.8)
        agent.heartbeat()
        s = tenant.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["cost"], "0.00")
        self.assertIsNone(s.json["started_at"])
        self.assertEqual(self.balance(tid), "1000.00")

    def test_spot_lifecycle(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        r = self.create(tenant, gpu_count=2, term="spot", max_hourly="4.25")
        self.assertEqual(r["state"], "starting")
        self.assertEqual(r["hourly_price"], "4.25")
        self.assertEqual(r["term"], "spot")
        ended = self.run_and_stop(agent, tenant, r["id"], 2 * 4250000)
        self.assertEqual(self.balance(tid), money(1000 * 10**6 - micros(ended["cost"])))

    def test_spot_bid_below_floor(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        before = self.state(tenant)
        for bid in ("2.99", "0.000001", "0"):
            r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                            "term": "spot", "max_hourly": bid})
            self.assertProblem(r, 400, "max_hourly", msg="bid %s" % bid)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1, "term": "spot"})
        self.assertProblem(r, 400, "max_hourly", msg="spot without a bid")
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand", "max_hourly": "9.00"})
        self.assertProblem(r, 400, "max_hourly", msg="a bid on on_demand")
        self.assertEqual(self.state(tenant), before)

    def _package(self, term, gpus):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server, credit="10000.00")
        price = micros(PACKAGES[term]) * gpus
        r = self.create(tenant, gpu_count=gpus, term=term)
        self.assertEqual(r["state"], "starting")
        self.assertEqual(r["term"], term)
        # prepaid at creation
        self.assertEqual(self.balance(tid), money(10000 * 10**6 - price))
        self.assertEqual(r["cost"], money(price))
        run_hb = agent.run(r["id"])
        got = self.rental(tenant, r["id"])
        self.assertEqual(got["state"], "running")
        started = parse_time(got["started_at"])
        self.assertEqual(parse_time(got["ends_at"])[0], started[0] + TERM_US[term])
        time.sleep(1.0)
        _, h0, h1 = agent.heartbeat()
        hb_server = self.last_heartbeat_us(agent)
        s = tenant.post("/v1/rentals/%s/stop" % r["id"], {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["end_reason"], "stopped")
        # stopped early: the unearned part comes back; what it cost is the earned share
        cost = micros(s.json["cost"])
        if started[1] >= 6 and hb_server[1] >= 6:
            billed = hb_server[0] - started[0]
            self.assertEqual(cost, price * billed // TERM_US[term])
        else:
            lo, hi = h0 - run_hb[1], h1 - run_hb[0]
            self.assertTrue(price * lo // TERM_US[term] <= cost <= price * hi // TERM_US[term],
                            "package cost %s" % s.json["cost"])
        self.assertEqual(self.balance(tid), money(10000 * 10**6 - cost))

    def test_package_day(self):
        self._package("day", 2)

    def test_package_week(self):
        self._package("week", 1)

    def test_package_month(self):
        self._package("month", 1)

    def test_package_never_ran_is_refunded(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        r = self.create(tenant, gpu_count=2, term="day")
        self.assertEqual(self.balance(tid), "700.00")
        s = tenant.post("/v1/rentals/%s/stop" % r["id"], {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["cost"], "0.00")
        self.assertEqual(self.balance(tid), "1000.00")

    def test_package_needs_its_price(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)  # 1000.00 < 3000.00
        before = self.state(tenant)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "month"})
        self.assertProblem(r, 402)
        self.assertEqual(self.state(tenant), before)

    def test_workload_exit(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        r = self.create(tenant, gpu_count=1,
                        workload={"command": ["python3", "train.py"], "env": {"A": "1"}})
        rid = r["id"]
        agent.heartbeat()
        self.assertEqual(agent.assigned[rid]["workload"]["command"], ["python3", "train.py"])
        run_hb = agent.run(rid)
        time.sleep(0.5)
        _, h0, h1 = agent.exit(rid, 3)
        got = self.rental(tenant, rid)
        self.assertEqual(got["state"], "ended")
        self.assertEqual(got["end_reason"], "exited")
        self.assertEqual(got["exit_code"], 3)
        self.assertBilled(got["cost"], 7600000, run_hb, (h0, h1))
        time.sleep(0.3)
        agent.heartbeat()
        self.assertEqual(self.rental(tenant, rid)["cost"], got["cost"])
        self.assertEqual(self.balance(tid), money(1000 * 10**6 - micros(got["cost"])))

    # ---- capacity and funds ----

    def test_no_capacity_409_and_queue_202(self):
        FakeAgent(self.server, self.model, gpus=2)
        tid, tenant = make_tenant(self.server)
        first = self.create(tenant, gpu_count=2)
        before = self.state(tenant)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand"})
        self.assertProblem(r, 409)
        self.assertEqual(self.state(tenant), before)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand", "queue": True})
        self.assertStatus(r, 202)
        self.assertEqual(r.json["state"], "pending")
        self.assertIsNone(r.json["host_id"])
        self.assertEqual(r.json["gpus"], [])
        queued = r.json["id"]
        self.assertEqual(self.rental(tenant, queued)["state"], "pending")
        # releasing the GPUs places the queued rental at once
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % first["id"], {}), 200)
        got = self.rental(tenant, queued)
        self.assertEqual(got["state"], "starting")
        self.assertEqual(len(got["gpus"]), 1)
        # a pending rental can be stopped too, and is never billed
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand", "queue": True})
        self.assertStatus(r, 202)
        s = tenant.post("/v1/rentals/%s/stop" % r.json["id"], {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["state"], "ended")
        self.assertEqual(s.json["cost"], "0.00")
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % queued, {}), 200)
        self.assertEqual(self.balance(tid), "1000.00")

    def test_insufficient_balance_402(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server, credit="10.00")
        before = self.state(tenant)
        # 2 x 7.60 for the one-hour minimum is 15.20 > 10.00
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand"})
        self.assertProblem(r, 402)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand", "queue": True})
        self.assertProblem(r, 402, msg="queued or not, funds come first")
        self.assertEqual(self.state(tenant), before)
        self.assertEqual(self.balance(tid), "10.00")
        # 7.60 fits
        self.create(tenant, gpu_count=1)
        # a credit limit counts as balance
        tid2, tenant2 = make_tenant(self.server, credit="10.00")
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid2, {"credit_limit": "5.20"}), 200)
        self.create(tenant2, gpu_count=2)

    def test_gpu_count_limits(self):
        FakeAgent(self.server, self.model, gpus=8)
        FakeAgent(self.server, self.model, gpus=4)
        tid, tenant = make_tenant(self.server)
        before = self.state(tenant)
        for n in (0, 9, 1000, -1):
            r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": n,
                                            "term": "on_demand"})
            self.assertProblem(r, 400, "gpu_count", msg="gpu_count %d" % n)
        self.assertEqual(self.state(tenant), before)
        self.create(tenant, gpu_count=8)

    def test_bad_input_changes_nothing(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        before = self.state(tenant)
        m = self.model
        base = {"gpu_model": m, "gpu_count": 1, "term": "on_demand"}

        def w(**kw):
            b = dict(base)
            b.update(kw)
            return b

        cases = [
            ({"gpu_count": 1, "term": "on_demand"}, "gpu_model"),
            (w(gpu_model="NO-SUCH-GPU"), "gpu_model"),
            (w(gpu_model=7), "gpu_model"),
            (w(gpu_count="1"), "gpu_count"),
            (w(gpu_count=1.5), "gpu_count"),
            (w(gpu_count=True), "gpu_count"),
            (w(gpu_count=None), "gpu_count"),
            (w(term="hourly"), "term"),
            (w(term=1), "term"),
            ({"gpu_model": m, "gpu_count": 1}, "term"),
            (w(queue="yes"), "queue"),
            (w(max_cost=10), "max_cost"),
            (w(max_cost=10.5), "max_cost"),
            (w(max_cost="-1.00"), "max_cost"),
            (w(max_cost="1.2.3"), "max_cost"),
            (w(max_cost="1.0000001"), "max_cost"),
            (w(max_duration_seconds="60"), "max_duration_seconds"),
            (w(max_duration_seconds=-5), "max_duration_seconds"),
            (w(max_duration_seconds=1.5), "max_duration_seconds"),
            (w(auto_renew=True), "auto_renew"),
            (w(term="spot", max_hourly=4.0), "max_hourly"),
            (w(term="spot", max_hourly="-4.00"), "max_hourly"),
            (w(term="spot", max_hourly="four"), "max_hourly"),
            (w(coupon=5), "coupon"),
            (w(coupon="NO-SUCH-COUPON"), "coupon"),
            (w(workload={"command": "python3 train.py"}), "command"),
            (w(workload={"command": ["x"], "restart": "sometimes"}), "restart"),
            (w(workload={"command": ["x"], "env": {"A": 1}}), "env"),
            (w(workload="x"), "workload"),
            (w(idle_stop={"below_util_pct": "5", "minutes": 10}), "below_util_pct"),
            (w(colour="red"), "colour"),
            (w(gpu_count=1, gpu_counts=2), "gpu_counts"),
            (w(workload={"command": ["x"], "unknown": 1}), "unknown"),
        ]
        for body, field in cases:
            r = tenant.post("/v1/rentals", body)
            self.assertProblem(r, 400, field, msg="POST /v1/rentals %r" % body)
        r = tenant.req("POST", "/v1/rentals", raw=b'{"gpu_model": "' + m.encode() + b'", ')
        self.assertProblem(r, 400, msg="malformed JSON")
        r = tenant.req("POST", "/v1/rentals", raw=b"gpu_model=x", content_type="text/plain")
        self.assertProblem(r, 415)
        self.assertEqual(self.state(tenant), before)

    # ---- isolation, idempotency ----

    def test_other_tenant_gets_404(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid_a, a = make_tenant(self.server)
        tid_b, b = make_tenant(self.server)
        rid = self.create(a, gpu_count=1)["id"]
        agent.run(rid)
        self.assertProblem(b.get("/v1/rentals/" + rid), 404)
        self.assertProblem(b.post("/v1/rentals/%s/stop" % rid, {}), 404)
        self.assertNotIn(rid, [x["id"] for x in b.list_all("/v1/rentals")])
        # unknown and malformed ids look the same
        self.assertProblem(b.get("/v1/rentals/rnt_0000000000000"), 404)
        self.assertProblem(b.get("/v1/rentals/nonsense"), 404)
        self.assertProblem(b.post("/v1/rentals/rnt_0000000000000/stop", {}), 404)
        # A's rental still runs
        self.assertEqual(self.rental(a, rid)["state"], "running")
        # the operator sees all
        self.assertEqual(self.rental(self.admin, rid)["tenant_id"], tid_a)
        self.assertIn(rid, [x["id"] for x in self.admin.list_all("/v1/rentals")])
        self.assertStatus(a.post("/v1/rentals/%s/stop" % rid, {}), 200)

    def test_admin_stop(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        _, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=1)["id"]
        agent.run(rid)
        s = self.admin.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["state"], "ended")
        self.assertIn(s.json["end_reason"], ("stopped", "admin"))

    def test_idempotent_create(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        key = {"Idempotency-Key": unique("create")}
        body = {"gpu_model": self.model, "gpu_count": 2, "term": "on_demand"}
        first = tenant.post("/v1/rentals", body, headers=key)
        self.assertStatus(first, 201)
        again = tenant.post("/v1/rentals", body, headers=key)
        self.assertEqual(again.status, 201)
        self.assertEqual(again.json, first.json)
        self.assertEqual([x["id"] for x in tenant.list_all("/v1/rentals")], [first.json["id"]])
        self.assertEqual(self.available(), 6)
        r = tenant.post("/v1/rentals", dict(body, gpu_count=3), headers=key)
        self.assertProblem(r, 422)
        self.assertEqual([x["id"] for x in tenant.list_all("/v1/rentals")], [first.json["id"]])
        self.assertEqual(self.available(), 6)
        # an error reply is replayed too: the key is spent on it
        key2 = {"Idempotency-Key": unique("create")}
        bad = {"gpu_model": self.model, "gpu_count": 99, "term": "on_demand"}
        r1 = tenant.post("/v1/rentals", bad, headers=key2)
        self.assertProblem(r1, 400, "gpu_count")
        # a different tenant with the same key is independent
        _, other = make_tenant(self.server)
        r = other.post("/v1/rentals", body, headers=key)
        self.assertStatus(r, 201)
        self.assertNotEqual(r.json["id"], first.json["id"])

    def test_list_pagination(self):
        FakeAgent(self.server, self.model, gpus=8)
        _, tenant = make_tenant(self.server)
        ids = [self.create(tenant, gpu_count=1)["id"] for _ in range(5)]
        pages = [x["id"] for x in tenant.list_all("/v1/rentals", limit=2)]
        self.assertEqual(sorted(pages), sorted(ids))
        r = tenant.get("/v1/rentals?limit=2")
        self.assertEqual(len(r.json["data"]), 2)
        self.assertIsNotNone(r.json["next_cursor"])


    # ---- coupons, preemption, usage ----

    def test_coupon_rental_billed_at_discount(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        code = unique("PCT").replace("-", "")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "percent_off": 25,
                                                          "gpu_model": self.model}), 201)
        r = self.create(tenant, gpu_count=2, coupon=code)
        self.assertEqual(r["hourly_price"], "5.70")
        ended = self.run_and_stop(agent, tenant, r["id"], 2 * 5700000, seconds=0.8)
        self.assertEqual(self.balance(tid), money(1000 * 10**6 - micros(ended["cost"])))
        if "discount" in ended:  # list 7.60 less 5.70: the discount is a third of the cost
            self.assertAlmostEqual(micros(ended["discount"]), micros(ended["cost"]) / 3,
                                   delta=2)

    def test_amount_off_coupon_is_a_budget(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        code = unique("AMT").replace("-", "")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "amount_off": "1.00"}),
                          201)
        q = tenant.post("/v1/quotes", {"gpu_model": self.model, "gpu_count": 1,
                                       "term": "on_demand", "duration_seconds": 3600,
                                       "coupon": code})
        self.assertStatus(q, 200)
        self.assertEqual((q.json["total"], q.json["discount"]), ("6.60", "1.00"))
        rid = self.create(tenant, gpu_count=1, coupon=code)["id"]
        agent.run(rid)
        time.sleep(0.5)
        agent.heartbeat()
        s = tenant.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        # a few seconds' charges are all within the 1.00: nothing to pay
        self.assertEqual(s.json["cost"], "0.00")
        self.assertGreater(micros(s.json["discount"]), 0)
        self.assertEqual(self.balance(tid), "1000.00")

    def test_coupon_limits(self):
        FakeAgent(self.server, self.model, gpus=8)
        _, tenant = make_tenant(self.server)
        code = unique("ONCE").replace("-", "")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "percent_off": 10,
                                                          "max_redemptions": 1}), 201)
        self.create(tenant, gpu_count=1, coupon=code)
        before = self.state(tenant)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand", "coupon": code})
        self.assertIn(r.status, (400, 409), "a used-up coupon: %r" % r)
        self.assertEqual(self.state(tenant), before)
        other = unique("GPU")
        set_price(self.server, other, "1.00")
        code2 = unique("MDL").replace("-", "")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code2, "percent_off": 10,
                                                          "gpu_model": other}), 201)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand", "coupon": code2})
        self.assertProblem(r, 400, "coupon", msg="a coupon for another model")
        self.assertEqual(self.state(tenant), before)

    def test_on_demand_preempts_spot(self):
        agent = FakeAgent(self.server, self.model, gpus=2)
        _, a = make_tenant(self.server)
        _, b = make_tenant(self.server)
        spot = self.create(a, gpu_count=2, term="spot", max_hourly="4.00")["id"]
        agent.run(spot)
        # spot never preempts spot: no room is 409
        r = b.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1, "term": "spot",
                                   "max_hourly": "9.00"})
        self.assertProblem(r, 409)
        # on_demand does: it waits pending (not queued by request) while the spot gets notice
        r = b.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                   "term": "on_demand"})
        self.assertStatus(r, 202)
        self.assertEqual(r.json["state"], "pending")
        od = r.json["id"]
        s = self.rental(a, spot)
        self.assertEqual(s["state"], "running")
        self.assertIsNotNone(s.get("preempt_at"), "the spot rental got no preemption notice")
        # the spot tenant leaves early: the on-demand rental gets the GPUs at once
        self.assertStatus(a.post("/v1/rentals/%s/stop" % spot, {}), 200)
        got = self.rental(b, od)
        self.assertEqual(got["state"], "starting")
        self.assertEqual(got["host_id"], agent.host_id)

    # ---- usage and invoices ----

    def wallet_paid_for_rentals(self, tid, start_us, end_us):
        """What the tenant's wallet paid for rentals with transfers posted in [start, end),
        read from the database file with sqlite3, independently of the server's usage code:
        the wallet's outflows less its inflows, over its transfers that are about a rental."""
        dbs = [p for p in self.server.db_files() if p.endswith(".db")]
        self.assertEqual(len(dbs), 1, dbs)
        con = sqlite3.connect("file:%s?mode=ro" % dbs[0], uri=True)
        try:
            (wallet,) = con.execute("SELECT account FROM tenants WHERE id = ?",
                                    (tid,)).fetchone()
            rows = con.execute(
                "SELECT from_account, amount FROM transfers"
                " WHERE (from_account = ?1 OR to_account = ?1) AND rental_num IS NOT NULL"
                " AND at >= ?2 AND at < ?3", (wallet, start_us, end_us)).fetchall()
        finally:
            con.close()
        return sum(a if f == wallet else -a for f, a in rows)

    @staticmethod
    def month_window(month):
        """'2026-11' -> (first µs of the month, first µs of the next)."""
        y, m = int(month[:4]), int(month[5:])
        start = parse_time("%04d-%02d-01T00:00:00Z" % (y, m))[0]
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return start, parse_time("%04d-%02d-01T00:00:00Z" % (y, m))[0]

    def assertLinesAddUp(self, doc, lines_key):
        """Every line: list = amount + discount; the totals are the sums of the lines."""
        lines = doc[lines_key]
        for x in lines:
            self.assertEqual(micros(x["list_amount"]), micros(x["amount"]) + micros(x["discount"]),
                             x)
        self.assertEqual(micros(doc["total"]), sum(micros(x["amount"]) for x in lines))
        self.assertEqual(micros(doc["discount"]), sum(micros(x["discount"]) for x in lines))
        self.assertEqual(micros(doc["list_amount"]), sum(micros(x["list_amount"]) for x in lines))
        self.assertEqual(micros(doc["credits_total"]),
                         sum(micros(c["amount"]) for c in doc["credits"]))

    def test_usage_and_invoice(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=1)["id"]
        ended = self.run_and_stop(agent, tenant, rid, 7600000, seconds=0.5)
        r = tenant.get("/v1/usage")
        self.assertStatus(r, 200, "GET /v1/usage (API.md)")
        items = r.json["data"]
        mine = [x for x in items if x["rental_id"] == rid]
        self.assertTrue(mine, "no line item for %s: %s" % (rid, r.text[:300]))
        self.assertEqual(money(sum(micros(x["amount"]) for x in mine)), ended["cost"])
        # one on-demand rental: one charge line, at list price (no discount)
        self.assertEqual(len(mine), 1, mine)
        line = mine[0]
        self.assertEqual((line["kind"], line["gpu_model"], line["gpu_count"], line["term"]),
                         ("charge", self.model, 1, "on_demand"))
        self.assertEqual((line["amount"], line["list_amount"], line["discount"]),
                         (ended["cost"], ended["cost"], "0.00"))
        # seconds: the time the amount buys at 7.60/h, to the second
        self.assertEqual(line["seconds"], (micros(ended["cost"]) * 3600 + 3800000) // 7600000)
        self.assertLinesAddUp(r.json, "data")
        self.assertEqual(r.json["tenant_id"], tid)
        self.assertEqual(r.json["total"], ended["cost"])
        self.assertEqual([(c["kind"], c["amount"]) for c in r.json["credits"]],
                         [("topup", "1000.00")])
        # CSV: RFC 4180, a header row, the same line
        r = tenant.get("/v1/usage?format=csv")
        self.assertStatus(r, 200)
        self.assertTrue(r.content_type.startswith("text/csv"), r.content_type)
        self.assertTrue(r.text.endswith("\r\n"), repr(r.text))
        rows = list(csv.reader(io.StringIO(r.text, newline="")))
        self.assertEqual(rows[0], ["rental_id", "kind", "gpu_model", "gpu_count", "term",
                                   "seconds", "list_amount", "discount", "amount", "corrects",
                                   "reason"])
        self.assertIn([rid, "charge", self.model, "1", "on_demand", str(line["seconds"]),
                       ended["cost"], "0.00", ended["cost"], "", ""], rows[1:])
        # the invoice of the month: the same total, and exactly what the wallet paid
        month = ended["ended_at"][:7]
        r = tenant.get("/v1/invoices/" + month)
        self.assertStatus(r, 200, "GET /v1/invoices/{YYYY-MM} (API.md)")
        self.assertEqual(r.json["total"], ended["cost"])
        self.assertEqual(r.json["month"], month)
        self.assertIn(r.json["status"], ("open", "closed"))
        self.assertLinesAddUp(r.json, "lines")
        self.assertEqual(micros(r.json["total"]),
                         self.wallet_paid_for_rentals(tid, *self.month_window(month)))
        self.assertProblem(tenant.get("/v1/invoices/2026-13"), 400, "month")
        self.assertProblem(tenant.get("/v1/invoices/2026-1"), 400, "month")
        self.assertProblem(tenant.get("/v1/invoices/26-11"), 400, "month")
        r = tenant.get("/v1/invoices/2001-01")  # long before: nothing, and closed
        self.assertStatus(r, 200)
        self.assertEqual((r.json["lines"], r.json["total"], r.json["status"]),
                         ([], "0.00", "closed"))

    def wallet_statement(self, tid, start_us, end_us):
        """What an invoice's total must be: the wallet's outflows less its inflows over every
        transfer posted in [start, end) but top-ups (rentals' charges, packages, refunds and
        adjustments), read from the database file independently of the server."""
        dbs = [p for p in self.server.db_files() if p.endswith(".db")]
        con = sqlite3.connect("file:%s?mode=ro" % dbs[0], uri=True)
        try:
            (wallet,) = con.execute("SELECT account FROM tenants WHERE id = ?",
                                    (tid,)).fetchone()
            rows = con.execute(
                "SELECT from_account, amount FROM transfers"
                " WHERE (from_account = ?1 OR to_account = ?1) AND kind <> 'topup'"
                " AND at >= ?2 AND at < ?3", (wallet, start_us, end_us)).fetchall()
        finally:
            con.close()
        return sum(a if f == wallet else -a for f, a in rows)

    def test_adjustments_and_closed_months(self):
        """Operator adjustments land in the open month as lines (with reason and the month
        they correct); a closed month's invoice and a past period's usage read byte for byte
        as before; each invoice total equals its ledger entries to the micro-unit."""
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        _, other = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=1)["id"]
        ended = self.run_and_stop(agent, tenant, rid, 7600000, seconds=0.3)
        theirs = self.create(other, gpu_count=1)["id"]
        time.sleep(1.05)  # times are whole seconds: `cut` comes after every transfer so far
        cut = self.admin.get("/v1/platform").json["time"]
        time.sleep(1.05)  # and before every transfer from here on
        y, m = time.gmtime().tm_year, time.gmtime().tm_mon
        cur = "%04d-%02d" % (y, m)
        prev = "%04d-%02d" % ((y, m - 1) if m > 1 else (y - 1, 12))
        reads = ["/v1/invoices/" + prev, "/v1/invoices/%s?format=csv" % prev,
                 "/v1/usage?to=" + urllib.parse.quote(cut),
                 "/v1/usage?format=csv&to=" + urllib.parse.quote(cut)]
        before = [tenant.get(p) for p in reads]
        for r in before:
            self.assertStatus(r, 200)
        self.assertEqual(before[0].json["status"], "closed")
        self.assertEqual(before[2].json["total"], ended["cost"])  # the period holds the rental
        path = "/v1/tenants/%s/adjustments" % tid
        balance0 = micros(self.balance(tid))

        # a credit for last month, with an Idempotency-Key: replayed, not repeated
        key = {"Idempotency-Key": unique("adj")}
        body = {"amount": "2.50", "reason": "outage, ticket 7", "corrects": prev}
        first = self.admin.post(path, body, headers=key)
        self.assertStatus(first, 201, "POST %s" % path)
        self.assertEqual((first.json["amount"], first.json["reason"], first.json["corrects"],
                          first.json["rental_id"], first.json["balance"]),
                         ("2.50", "outage, ticket 7", prev, None, money(balance0 + 2500000)))
        again = self.admin.post(path, body, headers=key)
        self.assertEqual((again.status, again.json), (201, first.json))
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(micros(self.balance(tid)), balance0 + 2500000)
        # a charge about the rental, this month
        r = self.admin.post(path, {"amount": "-1.25", "reason": "setup fee", "rental_id": rid})
        self.assertStatus(r, 201)
        self.assertEqual((r.json["rental_id"], r.json["corrects"], r.json["balance"]),
                         (rid, None, money(balance0 + 1250000)))

        # refusals change nothing
        state = self.state(tenant)
        bad = [({"amount": "0", "reason": "x"}, 400, "amount"),
               ({"amount": "1.00"}, 400, "reason"),
               ({"amount": "1.00", "reason": ""}, 400, "reason"),
               ({"amount": "1.00", "reason": "x", "corrects": cur}, 400, "corrects"),
               ({"amount": "1.00", "reason": "x", "corrects": "2026-13"}, 400, "corrects"),
               ({"amount": "1.00", "reason": "x", "rental_id": rid, "corrects": prev}, 400,
                "corrects"),
               ({"amount": "1.00", "reason": "x", "rental_id": theirs}, 404, "rental_id"),
               ({"amount": "1.00", "reason": "x", "extra": 1}, 400, "extra"),
               ({"amount": "-100000.00", "reason": "x"}, 402, "balance")]
        for b, status, field in bad:
            self.assertProblem(self.admin.post(path, b), status, field, msg=repr(b))
        self.assertProblem(tenant.post(path, {"amount": "1.00", "reason": "x"}), 403)
        self.assertProblem(self.admin.post("/v1/tenants/tnt_zzzzzzzzzzzzz/adjustments",
                                           {"amount": "1.00", "reason": "x"}), 404)
        self.assertEqual(self.state(tenant), state)

        # the closed month and the past period read exactly as before
        for p, r in zip(reads, before):
            got = tenant.get(p)
            self.assertEqual((got.status, got.raw), (r.status, r.raw), p)
        # the open month has both adjustments; its total is its ledger entries
        inv = tenant.get("/v1/invoices/" + cur)
        self.assertStatus(inv, 200)
        self.assertEqual(inv.json["status"], "open")
        self.assertLinesAddUp(inv.json, "lines")
        lines = [(x["rental_id"], x["kind"], x["amount"], x["corrects"], x["reason"])
                 for x in inv.json["lines"]]
        self.assertEqual(lines, [(rid, "charge", ended["cost"], None, None),
                                 (rid, "adjustment", "1.25", None, "setup fee"),
                                 (None, "adjustment", "-2.50", prev, "outage, ticket 7")])
        self.assertEqual(micros(inv.json["total"]),
                         self.wallet_statement(tid, *self.month_window(cur)))
        self.assertEqual(micros(inv.json["total"]), micros(ended["cost"]) - 1250000)
        self.assertEqual(micros(self.balance(tid)),
                         micros(inv.json["credits_total"]) - micros(inv.json["total"]))
        rows = list(csv.reader(io.StringIO(tenant.get("/v1/invoices/%s?format=csv" % cur).text,
                                           newline="")))
        self.assertIn(["", "adjustment", "", "", "", "0", "-2.50", "0.00", "-2.50", prev,
                       "outage, ticket 7"], rows)
        self.assertIn([rid, "adjustment", self.model, "1", "on_demand", "0", "1.25", "0.00",
                       "1.25", "", "setup fee"], rows)

    def test_usage_packages_and_discounts(self):
        """Every kind of line of a month, each to the micro-unit, and the invoice total equal
        to the wallet's transfers for rentals, read independently from the database."""
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        code = unique("USE").replace("-", "")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "percent_off": 25,
                                                          "gpu_model": self.model}), 201)
        od = self.create(tenant, gpu_count=2, coupon=code)
        ended_od = self.run_and_stop(agent, tenant, od["id"], 2 * 5700000, seconds=0.6)
        day = self.create(tenant, gpu_count=1, term="day")  # runs a moment, stopped
        agent.run(day["id"])
        time.sleep(0.3)
        agent.heartbeat()
        ended_day = tenant.post("/v1/rentals/%s/stop" % day["id"], {}).json
        never = self.create(tenant, gpu_count=2, term="day")  # never runs: all back
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % never["id"], {}), 200)

        r = tenant.get("/v1/usage")
        self.assertStatus(r, 200)
        self.assertLinesAddUp(r.json, "data")
        by = {}
        for x in r.json["data"]:
            by.setdefault(x["rental_id"], []).append(x)
        # on demand with 25 % off: one charge line; the discount is a third of the amount
        (c,) = by[od["id"]]
        self.assertEqual((c["kind"], c["amount"]), ("charge", ended_od["cost"]))
        self.assertAlmostEqual(micros(c["discount"]), micros(c["amount"]) / 3, delta=2)
        self.assertEqual(c["seconds"],
                         (micros(c["list_amount"]) * 3600 + 7600000) // (2 * 7600000))
        # a day package stopped early: bought (a whole day), then the unused part back
        p, back = by[day["id"]]
        self.assertEqual((p["kind"], p["amount"], p["list_amount"], p["discount"], p["seconds"]),
                         ("package", "150.00", "150.00", "0.00", 86400))
        self.assertEqual(back["kind"], "refund")
        self.assertEqual(micros(back["amount"]), micros(ended_day["cost"]) - 150 * 10**6)
        self.assertTrue(-86400 <= back["seconds"] <= -86398, back)
        # a package that never ran: bought and given back in full
        p, back = by[never["id"]]
        self.assertEqual((p["kind"], p["amount"], p["seconds"]), ("package", "300.00", 86400))
        self.assertEqual((back["kind"], back["amount"], back["list_amount"], back["seconds"]),
                         ("refund", "-300.00", "-300.00", -86400))
        # each rental's lines add up to what it cost
        for rental in (ended_od, ended_day, self.rental(tenant, never["id"])):
            self.assertEqual(money(sum(micros(x["amount"]) for x in by[rental["id"]])),
                             rental["cost"])
        # the wallet: 1000.00 in, the lines out
        self.assertEqual(r.json["credits_total"], "1000.00")
        self.assertEqual(micros(self.balance(tid)), 1000 * 10**6 - micros(r.json["total"]))

        # the invoice: its total is what the database says the wallet paid for rentals
        month = ended_day["ended_at"][:7]
        inv = tenant.get("/v1/invoices/" + month)
        self.assertStatus(inv, 200)
        self.assertLinesAddUp(inv.json, "lines")
        self.assertEqual(micros(inv.json["total"]),
                         self.wallet_paid_for_rentals(tid, *self.month_window(month)))
        if inv.json["from"] <= r.json["from"]:  # the same month: the same lines
            self.assertEqual(inv.json["lines"], r.json["data"])
        # the operator reads it with tenant=, and sees the same
        a = self.admin.get("/v1/invoices/%s?tenant=%s" % (month, tid))
        self.assertStatus(a, 200)
        self.assertEqual((a.json["tenant_id"], a.json["total"], a.json["lines"]),
                         (tid, inv.json["total"], inv.json["lines"]))
        csv_text = self.admin.get("/v1/invoices/%s?tenant=%s&format=csv" % (month, tid))
        self.assertStatus(csv_text, 200)
        self.assertTrue(csv_text.content_type.startswith("text/csv"), csv_text.content_type)
        self.assertEqual(len(csv_text.text.split("\r\n")), len(inv.json["lines"]) + 2)

    def test_usage_validation_and_isolation(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid_a, a = make_tenant(self.server)
        tid_b, b = make_tenant(self.server)
        rid = self.create(a, gpu_count=1)["id"]
        self.run_and_stop(agent, a, rid, 7600000, seconds=0.3)
        # B sees none of A's lines; a tenant key may not name a tenant, not even its own
        self.assertNotIn(rid, [x["rental_id"] for x in b.get("/v1/usage").json["data"]])
        self.assertProblem(b.get("/v1/usage?tenant=" + tid_a), 400, "tenant")
        self.assertProblem(a.get("/v1/usage?tenant=" + tid_a), 400, "tenant")
        self.assertProblem(b.get("/v1/invoices/2026-11?tenant=" + tid_a), 400, "tenant")
        # the operator must name the tenant; unknown and malformed ones are 404
        self.assertProblem(self.admin.get("/v1/usage"), 400, "tenant")
        self.assertProblem(self.admin.get("/v1/invoices/2026-11"), 400, "tenant")
        self.assertProblem(self.admin.get("/v1/usage?tenant=tnt_0000000000000"), 404)
        self.assertProblem(self.admin.get("/v1/usage?tenant=nonsense"), 404)
        got = self.admin.get("/v1/usage?tenant=" + tid_a)
        self.assertStatus(got, 200)
        self.assertEqual(got.json["data"], a.get("/v1/usage").json["data"])
        # agents may not read usage
        self.assertProblem(agent.client.get("/v1/usage"), 403)
        # the period
        for q, field in [("from=yesterday", "from"), ("to=2026-11-31T00:00:00Z", "to"),
                         ("from=2026-02-01&to=2026-01-01", "from"),
                         ("from=2026-01-01&to=2026-01-01", "from"),
                         ("from=2025-01-01&to=2026-02-05T00:00:01Z", "to"),
                         ("format=xml", "format")]:
            self.assertProblem(a.get("/v1/usage?" + q), 400, field, msg=q)
        # 400 days is the longest period; a period with nothing in it is empty
        r = a.get("/v1/usage?from=2001-01-01&to=2002-02-05T00:00:00Z")
        self.assertStatus(r, 200)
        self.assertEqual((r.json["data"], r.json["total"], r.json["credits"]), ([], "0.00", []))
        self.assertEqual((r.json["from"], r.json["to"]),
                         ("2001-01-01T00:00:00Z", "2002-02-05T00:00:00Z"))
        r = a.get("/v1/usage?to=2001-03-15T00:00:00Z")  # from: the start of to's month
        self.assertStatus(r, 200)
        self.assertEqual(r.json["from"], "2001-03-01T00:00:00Z")
        r = a.get("/v1/usage?from=2001-01-01&format=csv")
        self.assertProblem(r, 400, "to")  # to defaults to now: far more than 400 days

    # ---- concurrency ----

    def parallel(self, n, fn):
        out = [None] * n
        barrier = threading.Barrier(n)

        def run(i):
            barrier.wait()
            out[i] = fn(i)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    def test_race_for_the_last_gpu(self):
        FakeAgent(self.server, self.model, gpus=1)
        _, tenant = make_tenant(self.server)
        replies = self.parallel(8, lambda i: tenant.post(
            "/v1/rentals", {"gpu_model": self.model, "gpu_count": 1, "term": "on_demand"}))
        statuses = sorted(r.status for r in replies)
        self.assertEqual(statuses, [201] + [409] * 7)
        self.assertEqual(len(tenant.list_all("/v1/rentals")), 1)

    def test_concurrent_idempotent_creates(self):
        FakeAgent(self.server, self.model, gpus=8)
        _, tenant = make_tenant(self.server)
        key = {"Idempotency-Key": unique("race")}
        body = {"gpu_model": self.model, "gpu_count": 1, "term": "on_demand"}
        replies = self.parallel(8, lambda i: tenant.post("/v1/rentals", body, headers=key))
        self.assertEqual({r.status for r in replies}, {201})
        self.assertEqual(len({r.json["id"] for r in replies}), 1)
        self.assertEqual(len(tenant.list_all("/v1/rentals")), 1)

    def test_hundred_concurrent_creates_with_one_key(self):
        # 100 clients retry one request at once: exactly one rental, every reply the same
        FakeAgent(self.server, self.model, gpus=8)
        _, tenant = make_tenant(self.server)
        key = {"Idempotency-Key": unique("race100")}
        body = {"gpu_model": self.model, "gpu_count": 1, "term": "on_demand"}
        before = self.available()
        replies = self.parallel(100, lambda i: tenant.post("/v1/rentals", body, headers=key))
        self.assertEqual({r.status for r in replies}, {201}, [r for r in replies][:3])
        self.assertEqual(len({r.json["id"] for r in replies}), 1)
        self.assertEqual(len({r.text for r in replies}), 1)
        self.assertEqual(sum(1 for r in replies if "idempotent-replayed" not in r.headers), 1)
        self.assertEqual(len(tenant.list_all("/v1/rentals")), 1)
        self.assertEqual(self.available(), before - 1)
        # another tenant's request under the same key is its own, and sees nothing of the first
        _, other = make_tenant(self.server)
        r = other.post("/v1/rentals", body, headers=key)
        self.assertStatus(r, 201)
        self.assertNotIn("idempotent-replayed", r.headers)
        self.assertNotEqual(r.json["id"], replies[0].json["id"])
        self.assertNotEqual(r.json["tenant_id"], replies[0].json["tenant_id"])

    def test_concurrent_credits_add_up(self):
        tid, _ = make_tenant(self.server, credit=None)

        def credit(i):
            return [self.admin.post("/v1/tenants/%s/credits" % tid,
                                    {"amount": "0.000001", "reference": "c"}).status
                    for _ in range(25)]
        got = self.parallel(8, credit)
        self.assertEqual({s for g in got for s in g}, {201})
        self.assertEqual(self.balance(tid), "0.0002")

    def test_balance_and_credit_limit_at_their_largest(self):
        # balance and credit_limit may each be MONEY_MAX (2^62 micro-units): their sum must not
        # wrap (it used to, and the richest tenant got 402 "0.00 available")
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server, credit=None)
        most = money(2**62)
        self.assertStatus(self.admin.post("/v1/tenants/%s/credits" % tid,
                                          {"amount": most, "reference": "max"}), 201)
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid, {"credit_limit": most}), 200)
        rid = self.create(tenant, gpu_count=1)["id"]
        agent.run(rid)  # billing: the balance has a burn and a runway
        b = tenant.get("/v1/balance")
        self.assertStatus(b, 200)
        self.assertGreater(b.json["runway_seconds"], 0, b.json)
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid, {}), 200)

    def test_money_overflow_is_refused(self):
        tid, _ = make_tenant(self.server, credit=None)
        path = "/v1/tenants/%s/credits" % tid
        self.assertStatus(self.admin.post(path, {"amount": "4000000000000.00",
                                                 "reference": "a"}), 201)
        r = self.admin.post(path, {"amount": "4000000000000.00", "reference": "b"})
        self.assertIn(r.status, (400, 409, 422), "a balance past int64: %r" % r)
        self.assertEqual(self.balance(tid), "4000000000000.00")
        # a quote whose total passes int64 is refused, not wrapped
        big = unique("GPU")
        set_price(self.server, big, "10000000.00")
        FakeAgent(self.server, big, gpus=32)
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/quotes", {"gpu_model": big, "gpu_count": 32, "term": "on_demand",
                                       "duration_seconds": 10 * 365 * 86400})
        if r.status == 200:
            self.assertFalse(r.json["total"].startswith("-"), r.json)
            self.assertEqual(micros(r.json["total"]),
                             prorate(32 * 10000000 * 10**6, 10 * 365 * 86400 * 10**6))
        else:
            self.assertProblem(r, 400)


    # ---- workloads: restarts, epochs, failures ----

    def test_restart_on_failure_and_stale_epoch(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        r = self.create(tenant, gpu_count=1,
                        workload={"command": ["train"], "restart": "on_failure"})
        rid = r["id"]
        a0, a1 = agent.run(rid)
        epoch1 = agent.assigned[rid]["epoch"]
        time.sleep(0.4)
        _, b0, b1 = agent.exit(rid, 1)  # fails: restarted with a new epoch, billing stops
        got = self.rental(tenant, rid)
        self.assertEqual(got["state"], "starting")
        self.assertEqual(got["exit_code"], 1)
        self.assertGreater(got["epoch"], epoch1)
        cost1 = got["cost"]
        self.assertCostIn(cost1, b0 - a1, b1 - a0)
        # a report for the old assignment is ignored
        stale = agent.client.post("/v1/agent/heartbeat", {"telemetry": [], "rentals": [
            {"id": rid, "epoch": epoch1, "state": "running"}]})
        self.assertStatus(stale, 200)
        self.assertEqual(self.rental(tenant, rid)["state"], "starting")
        time.sleep(0.3)  # starting again: not billed
        reply, _, _ = agent.heartbeat()
        new = [x for x in reply["run"] if x["rental_id"] == rid]
        self.assertEqual(len(new), 1)
        self.assertEqual(new[0]["epoch"], got["epoch"])
        c0, c1 = agent.run(rid)
        time.sleep(0.4)
        _, d0, d1 = agent.exit(rid, 0)  # success: on_failure does not restart it
        got = self.rental(tenant, rid)
        self.assertEqual(got["state"], "ended")
        self.assertEqual(got["end_reason"], "exited")
        self.assertEqual(got["exit_code"], 0)
        self.assertCostIn(got["cost"], (b0 - a1) + (d0 - c1), (b1 - a0) + (d1 - c0))
        self.assertEqual(self.balance(tid), money(1000 * 10**6 - micros(got["cost"])))

    def test_failed_start_is_never_billed(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=2, workload={"command": ["x"]})["id"]
        agent.heartbeat()
        agent.states[rid] = "failed"
        agent.exit_codes[rid] = 127
        agent.heartbeat()
        got = self.rental(tenant, rid)
        self.assertEqual(got["state"], "ended")
        self.assertEqual(got["end_reason"], "failed_to_start")
        self.assertEqual(got["cost"], "0.00")
        self.assertEqual(self.balance(tid), "1000.00")
        self.assertEqual(self.available(), 8)

    def test_exit_without_workload_is_ignored(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        _, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=1)["id"]
        agent.run(rid)
        agent.exit(rid, 0)  # a reservation: holds its GPUs until stopped
        self.assertEqual(self.rental(tenant, rid)["state"], "running")
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid, {}), 200)

    def assertCostIn(self, cost, lo, hi, rate=7600000):
        c = micros(cost)
        self.assertTrue(prorate(rate, max(0, lo)) <= c <= prorate(rate, hi),
                        "cost %s not in [%s, %s]" % (cost, money(prorate(rate, max(0, lo))),
                                                     money(prorate(rate, hi))))

    # ---- budgets and the balance view ----

    def test_monthly_budget_402(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid, {"monthly_budget": "7.00"}),
                          200)
        before = self.state(tenant)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand"})
        self.assertProblem(r, 402, msg="an hour at 7.60 is over a 7.00 budget")
        self.assertEqual(self.state(tenant), before)
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid, {"monthly_budget": "8.00"}),
                          200)
        self.create(tenant, gpu_count=1)

    def test_budget_and_max_cost_cut_off(self):
        """At 3600.00/h a GPU costs exactly one micro-unit a microsecond. A rental stopped after
        its max_cost (or the tenant's monthly budget) was reached ends `budget`, billed to the
        microsecond the limit affords: exactly the limit, never more."""
        model = unique("GPU")
        set_price(self.server, model, "3600.00")
        agent = FakeAgent(self.server, model, gpus=8)
        tid, tenant = make_tenant(self.server, credit="10000.00")
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand",
                                        "max_cost": "0.50"})
        self.assertStatus(r, 201)
        capped = r.json["id"]
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        budgeted = r.json["id"]
        # the monthly budget set after creation: 1.20 for the month (nothing spent yet)
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid, {"monthly_budget": "1.20"}), 200)
        agent.run(capped)
        agent.run(budgeted)
        started = [parse_time(self.rental(tenant, x)["started_at"])[0] for x in (capped, budgeted)]
        time.sleep(2.2)
        agent.heartbeat()  # confirms more than either limit affords
        s1 = tenant.post("/v1/rentals/%s/stop" % capped, {}).json
        self.assertEqual((s1["end_reason"], s1["cost"]), ("budget", "0.50"))
        s2 = tenant.post("/v1/rentals/%s/stop" % budgeted, {}).json
        # the budget left after the capped rental's 0.50: 0.70
        self.assertEqual((s2["end_reason"], s2["cost"]), ("budget", "0.70"))
        # ended where the limit ran out (times are whole seconds: within one)
        for s, start, us in ((s1, started[0], 500000), (s2, started[1], 700000)):
            self.assertLessEqual(abs(parse_time(s["ended_at"])[0] - (start + us)), 10**6, s)
        b = tenant.get("/v1/balance").json
        self.assertEqual((b["balance"], b["month_spent"]), ("9998.80", "1.20"))
        # the budget is spent: no new rental this month
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        self.assertProblem(r, 402, "budget")

    def test_price_change_keeps_running_price(self):
        """A price change never alters a rental already created: it bills at the price locked
        at its creation; a rental created after the change pays the new price."""
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=1)["id"]
        day = self.create(tenant, gpu_count=1, term="day")
        set_price(self.server, self.model, "20.00", spot_floor="3.00",
                  packages={"day": "400.00", "week": "900.00", "month": "3000.00"})
        self.assertEqual(self.rental(tenant, rid)["hourly_price"], "7.60")
        self.assertEqual(self.rental(tenant, day["id"])["cost"], PACKAGES["day"])
        ended = self.run_and_stop(agent, tenant, rid, 7600000, seconds=0.5)
        self.assertEqual(ended["hourly_price"], "7.60")
        self.assertEqual(self.create(tenant, gpu_count=1)["hourly_price"], "20.00")
        self.assertEqual(self.create(tenant, gpu_count=1, term="day")["cost"], "400.00")

    def test_balance_burn_and_runway(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        rid = self.create(tenant, gpu_count=3)["id"]
        b = tenant.get("/v1/balance").json
        self.assertEqual(b["hourly_burn"], "0.00", "starting does not burn")
        agent.run(rid)
        b = tenant.get("/v1/balance").json
        self.assertEqual(b["hourly_burn"], "22.80")
        # 1000.00 at 22.80/h lasts 157894.7 s
        self.assertTrue(abs(b["runway_seconds"] - 1000 * 3600 / 22.8) <= 2, b)
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid, {}), 200)
        b = tenant.get("/v1/balance").json
        self.assertEqual(b["hourly_burn"], "0.00")

    def test_admin_lists_by_tenant(self):
        FakeAgent(self.server, self.model, gpus=8)
        tid, tenant = make_tenant(self.server)
        ids = [self.create(tenant, gpu_count=1)["id"] for _ in range(3)]
        got = [x["id"] for x in self.admin.list_all("/v1/rentals?tenant_id=" + tid)]
        self.assertEqual(got, list(reversed(ids)), "newest first, only that tenant's")
        other, _ = make_tenant(self.server)
        self.assertProblem(tenant.get("/v1/rentals?tenant_id=" + other), 404)
        r = tenant.post("/v1/rentals", {"tenant_id": other, "gpu_model": self.model,
                                        "gpu_count": 1, "term": "on_demand"})
        self.assertProblem(r, 404, msg="a tenant creating for another tenant")
        r = self.admin.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                            "term": "on_demand"})
        self.assertProblem(r, 400, "tenant_id", msg="the operator must name the tenant")


class NoticeAndFeeTest(ServerTestCase):
    """A server with a 4 s spot notice, a 10 % fee on packages stopped early and a 2 s grace
    once a wallet runs dry: spot requeue after preemption, the fee, and the grace, over HTTP.
    (4 s: the test's heartbeat must reach the server inside the notice, on a loaded machine
    too; preempt_at is in whole seconds, so a 2 s notice could leave barely one.)"""

    args = ("--preempt-notice", "4", "--package-stop-fee-bp", "1000",
            "--insufficient-grace", "2")

    def setUp(self):
        self.model = unique("GPU")
        set_price(self.server, self.model, "7.60", spot_floor="3.00", packages=PACKAGES)

    def rental(self, client, rid):
        r = client.get("/v1/rentals/" + rid)
        self.assertStatus(r, 200)
        return r.json

    def balance(self, tid):
        r = self.admin.get("/v1/tenants/" + tid)
        self.assertStatus(r, 200)
        return micros(r.json["balance"])

    def hb_us(self, agent):
        r = self.admin.get("/v1/hosts/" + agent.host_id)
        self.assertStatus(r, 200)
        return parse_time(r.json["last_heartbeat_at"])

    def assertCost(self, cost, rate_us, start, end, lo_hi):
        """cost == prorate(rate, end - start) with the server's times (exact when they carry
        microseconds), else within the client-side bounds lo_hi."""
        if start[1] >= 6 and end[1] >= 6:
            self.assertEqual(cost, money(prorate(rate_us, end[0] - start[0])))
        else:
            self.assertTrue(prorate(rate_us, lo_hi[0]) <= micros(cost) <=
                            prorate(rate_us, lo_hi[1]), cost)

    def test_spot_requeue(self):
        agent = FakeAgent(self.server, self.model, gpus=4)
        tid, a = make_tenant(self.server)
        _, b = make_tenant(self.server)
        wl = {"command": ["sleep", "600"], "env": {"RUN": "1"}}
        r = a.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 4, "term": "spot",
                                   "max_hourly": "3.00", "requeue": True, "workload": wl})
        self.assertStatus(r, 201)
        first = r.json["id"]
        self.assertEqual((r.json["requeue"], r.json["requeued_from"], r.json["requeued_as"]),
                         (True, None, None))
        self.assertProblem(a.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                                  "term": "on_demand", "requeue": True}),
                           400, "requeue")
        run_hb = agent.run(first)
        started = parse_time(self.rental(a, first)["started_at"])
        # on-demand demand that cannot be placed otherwise: the bid gets 4 s notice
        r = b.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 4, "term": "on_demand"})
        self.assertStatus(r, 202)
        od = r.json["id"]
        s = self.rental(a, first)
        notice = s["preempt_at"]
        preempt_at = parse_time(notice)
        self.assertEqual(s["state"], "running")
        reply, h0, h1 = agent.heartbeat()  # the agent hears of the notice (SIGTERM)
        run = [x for x in reply["run"] if x["rental_id"] == first][0]
        self.assertEqual(run["preempt_at"], s["preempt_at"])
        hb = self.hb_us(agent)
        self.assertLess(hb[0], preempt_at[0])
        # preempt_at is in whole seconds: the notice ends within the second after it
        time.sleep(max(0, (preempt_at[0] - int(time.time() * 1e6)) / 1e6) + 1.0)
        deadline = time.time() + 30  # the server's timer, late on a loaded machine
        while True:
            s = self.rental(a, first)
            if s["state"] == "ended" or time.time() > deadline:
                break
            time.sleep(0.1)
        # preempted at the notice's end, billed up to the last heartbeat before it
        self.assertEqual((s["state"], s["end_reason"], s["ended_at"], s["preempt_at"]),
                         ("ended", "preempted", notice, None))
        self.assertEqual(s["billing"], False)
        self.assertCost(s["cost"], 12000000, started, hb, (h0 - run_hb[1], h1 - run_hb[0]))
        cost1 = micros(s["cost"])
        nxt = s["requeued_as"]
        self.assertIsNotNone(nxt)
        n = self.rental(a, nxt)
        self.assertEqual((n["state"], n["requeued_from"], n["requeue"], n["term"], n["gpu_count"],
                          n["max_hourly"], n["hourly_price"], n["cost"], n["created_at"]),
                         ("pending", first, True, "spot", 4, "3.00", "3.00", "0.00",
                          s["ended_at"]))
        self.assertEqual(self.rental(b, od)["state"], "starting")
        # the on-demand rental leaves: the successor is placed with the first one's workload
        self.assertStatus(b.post("/v1/rentals/%s/stop" % od, {}), 200)
        self.assertEqual(self.rental(a, nxt)["state"], "starting")
        run_hb2 = agent.run(nxt)
        self.assertEqual(agent.assigned[nxt]["workload"]["command"], wl["command"])
        self.assertEqual(agent.assigned[nxt]["workload"]["env"], wl["env"])
        started2 = parse_time(self.rental(a, nxt)["started_at"])
        time.sleep(0.3)
        _, h0, h1 = agent.heartbeat()
        hb2 = self.hb_us(agent)
        time.sleep(0.2)
        s2 = a.post("/v1/rentals/%s/stop" % nxt, {})
        self.assertStatus(s2, 200)
        self.assertEqual(s2.json["end_reason"], "stopped")
        self.assertCost(s2.json["cost"], 12000000, started2, hb2,
                        (h0 - run_hb2[1], h1 - run_hb2[0]))
        self.assertEqual(self.balance(tid), 1000 * 10**6 - cost1 - micros(s2.json["cost"]))
        # both parts are lines of the tenant's usage
        u = a.get("/v1/usage").json
        got = {x["rental_id"]: x["amount"] for x in u["data"] if x["kind"] == "charge"}
        self.assertEqual(got, {first: money(cost1), nxt: s2.json["cost"]})
        # a restart replays the command log (the successor is made again by the preemption
        # timer): the same rentals, links, bills and statements, byte for byte
        self.assertStatus(self.admin.post("/v1/tenants/%s/adjustments" % tid,
                                          {"amount": "1.00", "reason": "sorry",
                                           "rental_id": first}), 201)
        month = time.strftime("%Y-%m", time.gmtime())
        reads = ["/v1/rentals/" + first, "/v1/rentals/" + nxt, "/v1/invoices/" + month,
                 "/v1/invoices/%s?format=csv" % month, "/v1/balance"]
        before = [a.get(p).raw for p in reads]
        self.server.restart()
        self.assertEqual([a.get(p).raw for p in reads], before)

    def test_grace_after_the_wallet_runs_dry(self):
        """A charge takes the wallet below zero (into its credit): its on-demand rentals run
        on for the grace period, then end insufficient_balance; nothing passes the credit
        limit. At 3600.00/h a GPU costs one micro-unit a microsecond."""
        model = unique("GPU")
        set_price(self.server, model, "3600.00")
        agent = FakeAgent(self.server, model, gpus=2)
        tid, t = make_tenant(self.server, credit="0.50", credit_limit="3600.00")
        r = t.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        agent.run(rid)
        a = self.admin.post("/v1/tenants/%s/adjustments" % tid, {"amount": "-1.00",
                                                                 "reason": "setup fee"})
        self.assertStatus(a, 201)
        self.assertEqual(a.json["balance"], "-0.50")
        dry_at = parse_time(a.json["at"])[0]
        self.assertEqual(self.rental(t, rid)["state"], "running")  # not yet: the grace
        # heartbeats confirm the run through the grace (2 s), until the grace's timer ends it
        # (late on a loaded machine: waited for with a generous deadline)
        deadline = time.time() + 30
        for i in range(1000):
            time.sleep(0.5)
            agent.heartbeat()
            s = self.rental(t, rid)
            if i >= 5 and (s["state"] == "ended" or time.time() > deadline):
                break
        self.assertEqual((s["state"], s["end_reason"]), ("ended", "insufficient_balance"))
        ended = parse_time(s["ended_at"])[0]
        self.assertTrue(dry_at + 10**6 <= ended <= dry_at + 3 * 10**6, s)  # whole seconds
        cost = micros(s["cost"])
        self.assertEqual(cost // 10**6, s["billed_seconds"])  # one micro-unit a microsecond
        self.assertEqual(self.balance(tid), 500000 - 1000000 - cost)
        self.assertGreaterEqual(self.balance(tid), -3600 * 10**6)

    def test_package_stop_fee(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        tid, t = make_tenant(self.server, credit="1000.00")
        r = t.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1, "term": "day"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        price = micros(PACKAGES["day"])
        run_hb = agent.run(rid)
        started = parse_time(self.rental(t, rid)["started_at"])
        time.sleep(0.5)
        _, h0, h1 = agent.heartbeat()
        hb = self.hb_us(agent)
        s = t.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        cost = micros(s.json["cost"])

        def charged(billed):
            earned = price * billed // DAY_US
            return earned + (price - earned) * 1000 // 10000

        if started[1] >= 6 and hb[1] >= 6:
            self.assertEqual(cost, charged(hb[0] - started[0]))
        else:
            self.assertTrue(charged(h0 - run_hb[1]) <= cost <= charged(h1 - run_hb[0]), cost)
        # about 15.00 of the unused 150.00 is kept; the rest comes back
        self.assertTrue(15000000 <= cost < 15100000, cost)
        self.assertEqual(self.balance(tid), 1000 * 10**6 - cost)


if __name__ == "__main__":
    unittest.main()
