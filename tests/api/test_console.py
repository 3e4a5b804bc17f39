"""API: what the web console needs. The console's files are served at / without a key, with
their security and caching headers; GET /v1/rentals/{id}/telemetry (a rental's GPUs over
time, tenant-scoped), GET /v1/economics/series (the report per hour or day), GET /v1/coupons,
and the fields the fleet grid reads (simulated, rental_state, rental_term)."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, FakeAgent, make_tenant, set_price, unique,  # noqa: E402
                     request, micros, money)


class ConsoleFilesTest(ServerTestCase):

    def get(self, path, method="GET", headers=None):
        return request(self.server.port, method, path, headers=headers)

    def test_index_and_assets(self):
        r = self.get("/")
        self.assertStatus(r, 200)
        self.assertEqual(r.content_type, "text/html; charset=utf-8")
        self.assertIn("<title>gpurent", r.text)
        csp = r.headers["content-security-policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertRegex(r.headers["etag"], r'^"[0-9a-f]{16}"$')
        # everything the page loads comes from this server: no CDN, no inline script
        for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            self.assertTrue(ref.startswith("/") or ref.startswith("#"),
                            "the page loads %r from elsewhere" % ref)
            self.assertFalse(ref.startswith("//"), ref)
        self.assertNotRegex(r.text, r"<script>(?!\s*</script>)", "inline script")
        scripts = re.findall(r'<script[^>]* src="([^"]+)"', r.text)
        self.assertEqual(scripts, ["/app.js"])
        js = self.get("/app.js")
        self.assertStatus(js, 200)
        self.assertEqual(js.content_type, "text/javascript; charset=utf-8")
        self.assertEqual(js.headers["x-content-type-options"], "nosniff")
        css = self.get("/style.css")
        self.assertEqual(css.content_type, "text/css; charset=utf-8")
        # the chart library npm installed, embedded at build time
        up = self.get("/vendor/uPlot.esm.js")
        self.assertStatus(up, 200)
        self.assertIn("uPlot", up.text)
        self.assertEqual(self.get("/vendor/uPlot.min.css").content_type,
                         "text/css; charset=utf-8")

    def test_revalidation_and_head(self):
        r = self.get("/app.js")
        tag = r.headers["etag"]
        again = self.get("/app.js", headers={"If-None-Match": tag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.raw, b"")
        other = self.get("/app.js", headers={"If-None-Match": '"0000000000000000"'})
        self.assertEqual(other.status, 200)
        self.assertEqual(other.raw, r.raw)
        head = self.get("/", method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.raw, b"")
        self.assertEqual(head.headers["content-type"], "text/html; charset=utf-8")

    def test_not_assets(self):
        # unknown paths are the API's 404; the console's paths take no other method
        self.assertProblem(self.get("/nope.js"), 404)
        self.assertProblem(self.get("/index.html/../app.js"), 404)
        r = request(self.server.port, "POST", "/", body={})
        self.assertProblem(r, 404)
        # the API is untouched: a key is still needed there
        self.assertProblem(self.get("/v1/rentals"), 401)


class ConsoleApiTest(ServerTestCase):

    def setUp(self):
        self.model = unique("GPU")
        set_price(self.server, self.model, "3.60")

    def test_rental_telemetry(self):
        agent = FakeAgent(self.server, self.model, gpus=4, islands=1)
        agent.util = {u: 99 for u in agent.uuids}
        agent.heartbeat()  # before the rental: not its telemetry
        tid, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        self.assertFalse(r.json["simulated"])
        mine = set(r.json["gpus"])
        self.assertEqual(len(mine), 2)
        agent.run(rid)
        for util in (10, 20, 30):
            agent.util = {u: util for u in agent.uuids}
            agent.heartbeat()
        t = tenant.get("/v1/rentals/%s/telemetry" % rid)
        self.assertStatus(t, 200)
        self.assertEqual(t.json["object"], "rental_telemetry")
        self.assertEqual(t.json["rental_id"], rid)
        self.assertEqual(t.json["host_id"], agent.host_id)
        self.assertEqual({g["uuid"] for g in t.json["gpus"]}, mine)
        for g in t.json["gpus"]:
            self.assertFalse(g["simulated"])
            utils = [s["util_pct"] for s in g["samples"]]
            # the heartbeats since placement (run() sent two at 99: start, then running)
            self.assertNotIn(99, utils[-3:])
            self.assertEqual(utils[-3:], [10, 20, 30])
            self.assertTrue(all(u in (99, 10, 20, 30) for u in utils))
            s = g["samples"][-1]
            self.assertEqual((s["mem_used_mib"], s["power_w"], s["temp_c"]), (1000, 300, 60))
            ats = [x["at"] for x in g["samples"]]
            self.assertEqual(ats, sorted(ats))
        # the first heartbeat (before the rental existed) is not in it
        placed = tenant.get("/v1/rentals/" + rid).json["placed_at"]
        for g in t.json["gpus"]:
            self.assertTrue(all(s["at"] >= placed for s in g["samples"]))
        # after the end, later reports are not the rental's
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid, {}), 200)
        agent.util = {u: 77 for u in agent.uuids}
        agent.heartbeat()
        t2 = tenant.get("/v1/rentals/%s/telemetry" % rid).json
        for g in t2["gpus"]:
            self.assertNotIn(77, [s["util_pct"] for s in g["samples"]])
        # the operator sees it; another tenant does not (404, like an unknown id)
        self.assertStatus(self.admin.get("/v1/rentals/%s/telemetry" % rid), 200)
        _, other = make_tenant(self.server)
        self.assertProblem(other.get("/v1/rentals/%s/telemetry" % rid), 404)
        self.assertProblem(tenant.get("/v1/rentals/rnt_0000000000000/telemetry"), 404)
        self.assertProblem(tenant.get("/v1/rentals/nope/telemetry"), 404)
        # an agent key cannot read it
        self.assertProblem(agent.client.get("/v1/rentals/%s/telemetry" % rid), 403)

    def test_fleet_fields(self):
        sim = FakeAgent(self.server, self.model, gpus=2, hostname=unique("SIM-h"), islands=1)
        real = FakeAgent(self.server, self.model, gpus=2, islands=1)
        self.assertTrue(sim.uuids[0].startswith("GPU-SIM-"))
        hs = self.admin.get("/v1/hosts/" + sim.host_id).json
        self.assertTrue(hs["simulated"])
        self.assertTrue(all(g["simulated"] for g in hs["gpus"]))
        hr = self.admin.get("/v1/hosts/" + real.host_id).json
        self.assertFalse(hr["simulated"])
        self.assertFalse(any(g["simulated"] for g in hr["gpus"]))
        for g in hr["gpus"]:
            self.assertIsNone(g["rental_state"])
            self.assertIsNone(g["rental_term"])
        # drain the simulated host so the rental lands on the real one
        self.assertStatus(self.admin.post("/v1/hosts/%s/drain" % sim.host_id, {}), 200)
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        self.assertEqual(r.json["host_id"], real.host_id)

        def held():
            h = self.admin.get("/v1/hosts/" + real.host_id).json
            return [g for g in h["gpus"] if g["rental_id"] == rid]
        self.assertEqual([(g["rental_state"], g["rental_term"]) for g in held()],
                         [("starting", "on_demand")])
        real.run(rid)
        self.assertEqual([(g["rental_state"], g["rental_term"]) for g in held()],
                         [("running", "on_demand")])
        self.assertStatus(self.admin.post("/v1/hosts/%s/undrain" % sim.host_id, {}), 200)

    def test_platform_says_who_calls(self):
        tid, tenant = make_tenant(self.server, credit=None)
        p = tenant.get("/v1/platform").json
        self.assertEqual((p["role"], p["tenant_id"]), ("tenant", tid))
        p = self.admin.get("/v1/platform").json
        self.assertEqual((p["role"], p["tenant_id"]), ("admin", None))
        agent = FakeAgent(self.server, self.model, gpus=1)
        p = agent.client.get("/v1/platform").json
        self.assertEqual((p["role"], p["tenant_id"]), ("agent", None))

    def test_economics_series(self):
        agent = FakeAgent(self.server, self.model, gpus=2, islands=1)
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        agent.run(rid)
        time.sleep(1.2)
        agent.heartbeat()
        stopped = tenant.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(stopped, 200)
        cost = micros(stopped.json["cost"])
        self.assertGreater(cost, 0)
        now = self.admin.get("/v1/platform").json["time"]
        s = self.admin.get("/v1/economics/series?gpu_model=%s&to=%s" % (self.model, now))
        self.assertStatus(s, 200)
        self.assertEqual(s.json["object"], "economics_series")
        self.assertEqual(s.json["step"], "hour")
        self.assertEqual(s.json["gpu_model"], self.model)
        pts = s.json["points"]
        # 24 hours before to, rounded down to the hour: 24 points, or 25 when to is not on
        # an hour
        self.assertIn(len(pts), (24, 25))
        self.assertTrue(pts[0]["start"].endswith(":00:00Z"))
        # each point is the report of its hour: together they are the report of the period
        total = sum(micros(p["revenue"]) for p in pts)
        self.assertEqual(total, cost)
        report = self.admin.get("/v1/economics?from=%s&to=%s" %
                                (pts[0]["start"], now)).json
        line = [m for m in report["models"] if m["gpu_model"] == self.model][0]
        self.assertEqual(money(total), line["revenue"])
        self.assertEqual(sum(micros(p["list_revenue"]) for p in pts), micros(line["list_revenue"]))
        self.assertAlmostEqual(sum(p["gpu_hours_rented"] for p in pts), line["gpu_hours_rented"],
                               places=6)
        # a fixed past day: 24 empty hours with exact starts; by day: one point
        day = self.admin.get("/v1/economics/series?gpu_model=%s&from=2020-01-01T00:30:00Z"
                             "&to=2020-01-02T00:00:00Z" % self.model).json
        self.assertEqual([p["start"] for p in day["points"]],
                         ["2020-01-01T%02d:00:00Z" % h for h in range(24)])
        self.assertTrue(all(p["revenue"] == "0.00" and p["gpu_hours_rented"] == 0
                            for p in day["points"]))
        d = self.admin.get("/v1/economics/series?step=day&from=2020-01-01T12:00:00Z"
                           "&to=2020-01-03T00:00:00Z").json
        self.assertEqual(d["step"], "day")
        self.assertEqual([p["start"] for p in d["points"]],
                         ["2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"])

    def test_economics_series_bad_input(self):
        for q, field in (("step=week", "step"), ("from=yesterday", "from"),
                         ("from=2020-01-02T00:00:00Z&to=2020-01-01T00:00:00Z", "from"),
                         ("from=2000-01-01T00:00:00Z&to=2020-01-01T00:00:00Z", "steps"),
                         ("gpu_model=NOSUCH-" + unique(), "gpu_model")):
            self.assertProblem(self.admin.get("/v1/economics/series?" + q), 400, field, q)
        _, tenant = make_tenant(self.server, credit=None)
        self.assertProblem(tenant.get("/v1/economics/series"), 403)

    def test_coupons_list(self):
        a = self.admin.post("/v1/coupons", {"code": unique("A"), "percent_off": 10,
                                            "gpu_model": self.model})
        b = self.admin.post("/v1/coupons", {"code": unique("B"), "amount_off": "5.00",
                                            "max_redemptions": 3})
        self.assertStatus(a, 201)
        self.assertStatus(b, 201)
        listed = {c["id"]: c for c in self.admin.list_all("/v1/coupons")}
        for made in (a.json, b.json):
            got = listed[made["id"]]
            for k, v in made.items():
                self.assertEqual(got[k], v, k)
            self.assertEqual(got["redemptions"], 0)
        # a redemption counts
        agent = FakeAgent(self.server, self.model, gpus=1)
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand", "coupon": a.json["code"]})
        self.assertStatus(r, 201)
        listed = {c["id"]: c for c in self.admin.list_all("/v1/coupons")}
        self.assertEqual(listed[a.json["id"]]["redemptions"], 1)
        self.assertEqual(listed[b.json["id"]]["redemptions"], 0)
        # pages of one follow the cursor in creation order
        ids = [c["id"] for c in self.admin.list_all("/v1/coupons", limit=1)]
        self.assertEqual(ids, list(listed))
        self.assertEqual(len(ids), len(set(ids)))
        self.assertProblem(self.admin.get("/v1/coupons?cursor=tnt_0000000000000"), 400, "cursor")
        _, t2 = make_tenant(self.server, credit=None)
        self.assertProblem(t2.get("/v1/coupons"), 403)
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % r.json["id"], {}), 200)
        del agent


if __name__ == "__main__":
    unittest.main()
