"""API: join tokens, agent registration and heartbeats, hosts (list, get, drain, undrain,
cost basis)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, FakeAgent, make_tenant, set_price, unique,  # noqa: E402
                     parse_time)

HOST_FIELDS = {"id", "hostname", "state", "last_heartbeat_at", "gpus"}
GPU_FIELDS = {"index", "uuid", "model", "memory_mib", "nvlink_island", "state", "rental_id",
              "telemetry"}


class HostsTest(ServerTestCase):

    def setUp(self):
        self.model = unique("GPU")
        set_price(self.server, self.model, "7.60")

    def host(self, hid):
        r = self.admin.get("/v1/hosts/" + hid)
        self.assertStatus(r, 200)
        return r.json

    def available(self):
        r = self.admin.get("/v1/offers?gpu_model=" + self.model)
        data = r.json["data"] if isinstance(r.json, dict) else r.json
        got = [o for o in data if o["gpu_model"] == self.model]
        return got[0]["available_gpus"] if got else 0

    def test_join_token(self):
        r = self.admin.post("/v1/join-tokens", {})
        self.assertStatus(r, 201)
        self.assertIsInstance(r.json["token"], str)
        self.assertGreater(len(r.json["token"]), 16)
        expires, _ = parse_time(r.json["expires_at"])
        now, _ = parse_time(self.admin.get("/v1/platform").json["time"])
        self.assertGreater(expires, now)

    def test_register_and_get(self):
        agent = FakeAgent(self.server, self.model, gpus=8, memory_mib=81920, islands=2)
        self.assertRegex(agent.host_id, r"^hst_")
        self.assertRegex(agent.key, r"^gpr_[0-9A-Za-z]{36}$")
        h = self.host(agent.host_id)
        self.assertTrue(HOST_FIELDS <= set(h), HOST_FIELDS - set(h))
        self.assertEqual(h["id"], agent.host_id)
        self.assertEqual(h["hostname"], agent.hostname)
        self.assertEqual(h["state"], "ready")
        self.assertEqual(len(h["gpus"]), 8)
        for i, g in enumerate(h["gpus"]):
            self.assertTrue(GPU_FIELDS <= set(g), GPU_FIELDS - set(g))
            self.assertEqual(g["index"], i)
            self.assertEqual(g["uuid"], agent.uuids[i])
            self.assertEqual(g["model"], self.model)
            self.assertEqual(g["memory_mib"], 81920)
            self.assertEqual(g["nvlink_island"], i // 4)
            self.assertEqual(g["state"], "free")
            self.assertIsNone(g["rental_id"])
        listed = {x["id"]: x for x in self.admin.list_all("/v1/hosts")}
        self.assertIn(agent.host_id, listed)
        self.assertEqual(listed[agent.host_id]["hostname"], agent.hostname)
        # a heartbeat moves last_heartbeat_at and stores telemetry
        agent.heartbeat()
        h2 = self.host(agent.host_id)
        self.assertIsNotNone(h2["last_heartbeat_at"])
        self.assertEqual(h2["gpus"][0]["telemetry"]["util_pct"], 50)
        self.assertEqual(h2["gpus"][0]["telemetry"]["power_w"], 300)
        self.assertProblem(self.admin.get("/v1/hosts/hst_0000000000000"), 404)
        self.assertProblem(self.admin.get("/v1/hosts/garbage"), 404)

    def test_join_token_is_one_use(self):
        agent = FakeAgent(self.server, self.model, gpus=1)
        before = len(self.admin.list_all("/v1/hosts"))
        r = self.server.anon.post("/v1/agent/register", {
            "join_token": agent.join_token, "hostname": unique("again"),
            "gpus": [{"index": 0, "uuid": "GPU-" + unique(), "model": self.model,
                      "memory_mib": 1024, "nvlink_island": 0}]})
        self.assertProblem(r, 401, msg="a used join token")
        r = self.server.anon.post("/v1/agent/register", {
            "join_token": "not-a-token", "hostname": unique("again"),
            "gpus": [{"index": 0, "uuid": "GPU-" + unique(), "model": self.model,
                      "memory_mib": 1024, "nvlink_island": 0}]})
        self.assertProblem(r, 401, msg="an unknown join token")
        self.assertEqual(len(self.admin.list_all("/v1/hosts")), before)

    def test_register_bad_input(self):
        before = len(self.admin.list_all("/v1/hosts"))
        gpu = {"index": 0, "uuid": "GPU-x", "model": self.model, "memory_mib": 1024,
               "nvlink_island": 0}
        cases = [
            ({"hostname": "h", "gpus": []}, "gpus"),
            ({"hostname": "h", "gpus": "all"}, "gpus"),
            ({"hostname": 5, "gpus": [gpu]}, "hostname"),
            ({"hostname": "h", "gpus": [dict(gpu, index="0")]}, "index"),
            ({"hostname": "h", "gpus": [dict(gpu, memory_mib="1024")]}, "memory_mib"),
            ({"hostname": "h", "gpus": [gpu, dict(gpu, index=1)]}, "uuid"),
            ({"hostname": "h", "gpus": [gpu, dict(gpu, uuid="GPU-y")]}, "index"),
            ({"hostname": "h", "gpus": [gpu, dict(gpu, index=1, uuid="GPU-y", model="OTHER")]},
             "model"),
            ({"hostname": "h", "gpus": [dict(gpu, index=i, uuid="GPU-%d" % i)
                                        for i in range(33)]}, "gpus"),
            ({"hostname": "h", "gpus": [gpu], "rack": 4}, "rack"),
        ]
        for body, field in cases:
            tok = self.admin.post("/v1/join-tokens", {}).json["token"]
            b = dict(body, join_token=tok)
            r = self.server.anon.post("/v1/agent/register", b)
            self.assertProblem(r, 400, field, msg="register %r" % body)
        self.assertEqual(len(self.admin.list_all("/v1/hosts")), before)

    def test_heartbeat_auth_and_input(self):
        agent = FakeAgent(self.server, self.model, gpus=2)
        _, tenant = make_tenant(self.server, credit=None)
        hb = {"telemetry": [], "rentals": []}
        self.assertProblem(self.server.anon.post("/v1/agent/heartbeat", hb), 401)
        self.assertProblem(tenant.post("/v1/agent/heartbeat", hb), 403)
        self.assertProblem(self.admin.post("/v1/agent/heartbeat", hb), 403)
        r = agent.client.post("/v1/agent/heartbeat", hb)
        self.assertStatus(r, 200)
        self.assertEqual(r.json.get("run"), [])
        self.assertEqual(r.json.get("stop"), [])
        # a rental on another host, to report about
        other = FakeAgent(self.server, self.model, gpus=1)
        tid, t2 = make_tenant(self.server)
        r = t2.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid, host = r.json["id"], r.json["host_id"]
        bad = [
            ({"telemetry": "x", "rentals": []}, "telemetry"),
            ({"telemetry": [], "rentals": [{"id": rid, "state": "dancing"}]}, "state"),
            ({"telemetry": [], "rentals": [{"id": 5, "state": "running"}]}, "id"),
            ({"telemetry": [{"uuid": agent.uuids[0], "util_pct": "50"}], "rentals": []},
             "util_pct"),
        ]
        for body, field in bad:
            r = agent.client.post("/v1/agent/heartbeat", body)
            self.assertProblem(r, 400, field, msg="heartbeat %r" % body)
        # a report about a rental that is not this host's is ignored, not an error: it stays
        # starting, and this agent is told to stop it (it should not run it)
        runner = agent if host == agent.host_id else other
        stranger = other if runner is agent else agent
        r = stranger.client.post("/v1/agent/heartbeat", {
            "telemetry": [], "rentals": [{"id": rid, "state": "running"}]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["stop"], [rid])
        self.assertEqual(t2.get("/v1/rentals/" + rid).json["state"], "starting")

    def test_drain_undrain(self):
        agent = FakeAgent(self.server, self.model, gpus=4)
        tid, tenant = make_tenant(self.server)
        self.assertEqual(self.available(), 4)
        rid = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                          "term": "on_demand"}).json["id"]
        agent.run(rid)
        r = self.admin.post("/v1/hosts/%s/drain" % agent.host_id, {})
        self.assertStatus(r, 200)
        self.assertEqual(self.host(agent.host_id)["state"], "draining")
        self.assertEqual(self.available(), 0)
        # no new placements; the running rental goes on
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand"})
        self.assertProblem(r, 409)
        self.assertEqual(tenant.get("/v1/rentals/" + rid).json["state"], "running")
        # draining twice is fine
        self.assertStatus(self.admin.post("/v1/hosts/%s/drain" % agent.host_id, {}), 200)
        r = self.admin.post("/v1/hosts/%s/undrain" % agent.host_id, {})
        self.assertStatus(r, 200)
        self.assertEqual(self.host(agent.host_id)["state"], "ready")
        self.assertEqual(self.available(), 3)
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 1,
                                        "term": "on_demand"})
        self.assertStatus(r, 201)
        self.assertProblem(self.admin.post("/v1/hosts/hst_0000000000000/drain", {}), 404)
        self.assertProblem(self.admin.post("/v1/hosts/hst_0000000000000/undrain", {}), 404)

    def test_cost_basis(self):
        agent = FakeAgent(self.server, self.model, gpus=8)
        good = {"purchase_price": "800000.00", "purchased_at": "2026-01-01T00:00:00Z",
                "depreciation_years": 5, "power_watts": 6500, "pue": 1.3,
                "electricity_kwh_price": "0.70", "hosting_monthly": "3000.00"}
        r = self.admin.put("/v1/hosts/%s/cost" % agent.host_id, good)
        self.assertStatus(r, 200)
        cases = [
            ("purchase_price", 800000), ("purchase_price", "-1.00"), ("purchased_at", "2026"),
            ("depreciation_years", 0), ("depreciation_years", "5"), ("power_watts", "6500"),
            ("pue", "1.3"), ("pue", 0.5), ("electricity_kwh_price", 0.7),
            ("hosting_monthly", 3000),
        ]
        for field, value in cases:
            body = dict(good)
            body[field] = value
            r = self.admin.put("/v1/hosts/%s/cost" % agent.host_id, body)
            self.assertProblem(r, 400, field, msg="cost %s=%r" % (field, value))
        body = dict(good)
        del body["purchase_price"]
        self.assertProblem(self.admin.put("/v1/hosts/%s/cost" % agent.host_id, body), 400,
                           "purchase_price")
        self.assertProblem(self.admin.put("/v1/hosts/hst_0000000000000/cost", good), 404)
        _, tenant = make_tenant(self.server, credit=None)
        self.assertProblem(tenant.put("/v1/hosts/%s/cost" % agent.host_id, good), 403)


    def test_revoked_agent_key(self):
        agent = FakeAgent(self.server, self.model, gpus=1)
        keys = self.admin.list_all("/v1/keys")
        mine = [k for k in keys if agent.key.startswith(k["prefix"]) and
                k.get("role") in (None, "agent")]
        self.assertTrue(mine, "the agent's key is not listed for the operator")
        self.assertStatus(self.admin.delete("/v1/keys/" + mine[0]["id"]), (200, 204))
        r = agent.client.post("/v1/agent/heartbeat", {"telemetry": [], "rentals": []})
        self.assertProblem(r, 401)


    def test_join_token_race_and_duplicate_gpu(self):
        import threading
        agent = FakeAgent(self.server, self.model, gpus=1)
        tok = self.admin.post("/v1/join-tokens", {}).json["token"]
        r = self.server.anon.post("/v1/agent/register", {
            "join_token": tok, "hostname": unique("dup"),
            "gpus": [{"index": 0, "uuid": agent.uuids[0], "model": self.model,
                      "memory_mib": 1024}]})
        self.assertProblem(r, 409, "uuid", msg="a GPU registered twice")
        before = len(self.admin.list_all("/v1/hosts"))
        out = []
        barrier = threading.Barrier(8)

        def register(i):
            barrier.wait()
            out.append(self.server.anon.post("/v1/agent/register", {
                "join_token": tok, "hostname": unique("race"),
                "gpus": [{"index": 0, "uuid": "GPU-" + unique(), "model": self.model,
                          "memory_mib": 1024}]}).status)
        ts = [threading.Thread(target=register, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(out), [201] + [401] * 7, "one token, one host")
        self.assertEqual(len(self.admin.list_all("/v1/hosts")), before + 1)


if __name__ == "__main__":
    unittest.main()
