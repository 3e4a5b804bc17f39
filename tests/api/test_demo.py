"""API: `gpurent serve --demo` - the simulated fleet (2 hosts of 8 A100-80G, 1 of 8 H100-80G:
the real agent loop on threads of the server, with SIMULATED GPUs and the SIMULATED runtime,
heartbeating every second over the real HTTP path) and the demo tenant with 1000.00. A rental
made for the demo tenant is started by the simulated agent and billed; a workload's `sleep N`,
`true` and `false` end as they would; a restart keeps the fleet and the tenant (no second
credit, no duplicate host) and the hosts heartbeat again."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, micros, money, parse_time  # noqa: E402


class DemoTest(ServerTestCase):
    demo = True

    def demo_tenant(self):
        ts = [t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"]
        self.assertEqual(len(ts), 1, "one tenant named demo")
        return ts[0]

    def wait_for(self, what, fn, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        self.fail("timed out waiting for " + what)

    def hosts(self):
        return [self.admin.get("/v1/hosts/" + h["id"]).json
                for h in self.admin.list_all("/v1/hosts")]

    def test_fleet_and_tenant(self):
        hosts = self.wait_for("three demo hosts", lambda: (
            lambda hs: hs if len(hs) == 3 else None)(self.hosts()), 10)
        models = sorted(h["gpus"][0]["model"] for h in hosts)
        self.assertEqual(models, ["A100-80G", "A100-80G", "H100-80G"])
        for h in hosts:
            self.assertEqual(len(h["gpus"]), 8)
            self.assertEqual(h["state"], "ready")
        # they heartbeat about every second
        first = {h["id"]: h["last_heartbeat_at"] for h in hosts}
        time.sleep(2.2)
        for h in self.hosts():
            self.assertIsNotNone(h["last_heartbeat_at"])
            self.assertNotEqual(h["last_heartbeat_at"], first[h["id"]],
                                "host %s did not heartbeat in 2.2 s" % h["hostname"])
        t = self.demo_tenant()
        self.assertEqual(t["balance"], "1000.00")
        offers = self.admin.get("/v1/offers").json
        offers = offers["data"] if isinstance(offers, dict) else offers
        by_model = {o["gpu_model"]: o for o in offers}
        self.assertEqual(by_model["A100-80G"]["available_gpus"], 16)
        self.assertEqual(by_model["H100-80G"]["available_gpus"], 8)

    def test_rental_runs_on_the_simulated_fleet(self):
        self.wait_for("the demo tenant", lambda: [
            t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"], 10)
        tid = self.demo_tenant()["id"]
        balance0 = micros(self.demo_tenant()["balance"])
        r = self.admin.post("/v1/rentals", {"tenant_id": tid, "gpu_model": "A100-80G",
                                            "gpu_count": 2, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        price = micros(r.json["hourly_price"])
        got = self.wait_for("the simulated agent to run it", lambda: (
            lambda x: x if x["state"] == "running" else None)(
                self.admin.get("/v1/rentals/" + rid).json), 6)
        started, _ = parse_time(got["started_at"])
        time.sleep(2.5)
        s = self.admin.post("/v1/rentals/%s/stop" % rid, {})
        self.assertStatus(s, 200)
        self.assertEqual(s.json["end_reason"], "stopped")
        cost = micros(s.json["cost"])
        # billed up to the fleet's last heartbeat: between ~1.5 s and ~4 s of 2 GPUs
        self.assertGreater(cost, 0)
        self.assertLessEqual(cost, 2 * price * 5 // 3600)
        self.assertEqual(self.demo_tenant()["balance"], money(balance0 - cost))
        # the agent lets go: the GPUs come back
        self.wait_for("the GPUs to be free", lambda: all(
            g["rental_id"] != rid for h in self.hosts() for g in h["gpus"]), 5)

    def test_labelled_simulated(self):
        hosts = self.wait_for("three demo hosts", lambda: (
            lambda hs: hs if len(hs) == 3 else None)(self.hosts()), 10)
        for h in hosts:
            self.assertTrue(h["hostname"].startswith("sim-"), h["hostname"])
            for g in h["gpus"]:
                self.assertEqual(g["uuid"], "GPU-SIM-%s-%d" % (h["hostname"], g["index"]))
        out = self.server.output()
        for name in ("sim-a100-1", "sim-a100-2", "sim-h100-1"):
            self.assertIn("gpurent: demo: agent %s (SIMULATED): " % name, out)
        self.assertIn("gpurent: demo: a SIMULATED fleet is running", out)

    def test_simulated_workloads_end(self):
        self.wait_for("the demo tenant", lambda: [
            t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"], 10)
        tid = self.demo_tenant()["id"]
        want = {"sleep 1": 0, "true": 0, "false": 1}
        ids = {}
        for cmd in want:
            r = self.admin.post("/v1/rentals", {
                "tenant_id": tid, "gpu_model": "H100-80G", "gpu_count": 1, "term": "on_demand",
                "workload": {"command": cmd.split()}})
            self.assertStatus(r, 201)
            ids[cmd] = r.json["id"]
        for cmd, code in want.items():
            got = self.wait_for(cmd + " to end", lambda: (
                lambda x: x if x["state"] == "ended" else None)(
                    self.admin.get("/v1/rentals/" + ids[cmd]).json), 8)
            self.assertEqual(got["end_reason"], "exited", cmd)
            self.assertEqual(got["exit_code"], code, cmd)
            # the agent reports a workload running before its exit: the start is never lost
            self.assertIsNotNone(got["started_at"], cmd)
        slept = self.admin.get("/v1/rentals/" + ids["sleep 1"]).json
        s0, _ = parse_time(slept["started_at"])
        s1, _ = parse_time(slept["ended_at"])
        self.assertGreaterEqual(s1 - s0, 900000, "sleep 1 lived a second")
        self.assertLess(s1 - s0, 3500000)
        out = self.server.output()
        self.assertIn("(SIMULATED): %s exited with 1" % ids["false"], out)

    def test_restart_keeps_demo(self):
        self.wait_for("the demo tenant", lambda: [
            t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"], 10)
        before = self.demo_tenant()
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        time.sleep(1.5)
        self.assertEqual(len(self.admin.list_all("/v1/hosts")), 3, "no duplicate demo hosts")
        after = self.demo_tenant()
        self.assertEqual(after["id"], before["id"])
        self.assertEqual(after["balance"], before["balance"], "credited again on restart")
        # the resumed hosts heartbeat again (their agents restarted with the server)
        restarted = time.time()
        time.sleep(1.5)
        for h in self.hosts():
            hb, _ = parse_time(h["last_heartbeat_at"])
            self.assertGreater(hb, (restarted - 0.5) * 1e6,
                               "host %s did not heartbeat" % h["hostname"])
            self.assertEqual(h["state"], "ready")


if __name__ == "__main__":
    unittest.main()
