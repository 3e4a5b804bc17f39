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
from harness import ServerTestCase, micros, money, parse_time, prorate  # noqa: E402

# Waits for the simulated fleet (heartbeats, starts, exits) get this much: generous, for a
# sanitizer build on a loaded machine; none of them is a time bound the demo promises.
SLOW = 30


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
            lambda hs: hs if len(hs) == 3 else None)(self.hosts()), SLOW)
        models = sorted(h["gpus"][0]["model"] for h in hosts)
        self.assertEqual(models, ["A100-80G", "A100-80G", "H100-80G"])
        for h in hosts:
            self.assertEqual(len(h["gpus"]), 8)
            self.assertEqual(h["state"], "ready")
        # they heartbeat again and again (about every second: each host's last heartbeat,
        # shown to the second, moves on)
        first = {h["id"]: h["last_heartbeat_at"] for h in hosts}
        self.wait_for("every host to heartbeat again", lambda: all(
            h["last_heartbeat_at"] is not None and h["last_heartbeat_at"] != first[h["id"]]
            for h in self.hosts()), SLOW)
        t = self.demo_tenant()
        self.assertEqual(t["balance"], "1000.00")
        offers = self.admin.get("/v1/offers").json
        offers = offers["data"] if isinstance(offers, dict) else offers
        by_model = {o["gpu_model"]: o for o in offers}
        self.assertEqual(by_model["A100-80G"]["available_gpus"], 16)
        self.assertEqual(by_model["H100-80G"]["available_gpus"], 8)

    def test_rental_runs_on_the_simulated_fleet(self):
        self.wait_for("the demo tenant", lambda: [
            t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"], SLOW)
        tid = self.demo_tenant()["id"]
        balance0 = micros(self.demo_tenant()["balance"])
        t_create = time.time()
        r = self.admin.post("/v1/rentals", {"tenant_id": tid, "gpu_model": "A100-80G",
                                            "gpu_count": 2, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        price = micros(r.json["hourly_price"])
        got = self.wait_for("the simulated agent to run it", lambda: (
            lambda x: x if x["state"] == "running" else None)(
                self.admin.get("/v1/rentals/" + rid).json), SLOW)
        started, _ = parse_time(got["started_at"])
        time.sleep(2.5)
        s = self.admin.post("/v1/rentals/%s/stop" % rid, {})
        t_stopped = time.time()
        self.assertStatus(s, 200)
        self.assertEqual(s.json["end_reason"], "stopped")
        cost = micros(s.json["cost"])
        # billed up to the fleet's last heartbeat: some of the 2.5 s, never more than the
        # rental lived as the client saw it (+ 1 s: the server's times are whole seconds)
        self.assertGreater(cost, 0)
        lived_us = int((t_stopped - t_create + 1) * 1e6)
        self.assertLessEqual(cost, prorate(2 * price, lived_us),
                             "cost %s for at most %d µs" % (money(cost), lived_us))
        self.assertEqual(self.demo_tenant()["balance"], money(balance0 - cost))
        # the agent lets go: the GPUs come back
        self.wait_for("the GPUs to be free", lambda: all(
            g["rental_id"] != rid for h in self.hosts() for g in h["gpus"]), SLOW)

    def test_labelled_simulated(self):
        hosts = self.wait_for("three demo hosts", lambda: (
            lambda hs: hs if len(hs) == 3 else None)(self.hosts()), SLOW)
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
            t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"], SLOW)
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
                    self.admin.get("/v1/rentals/" + ids[cmd]).json), SLOW)
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
            t for t in self.admin.list_all("/v1/tenants") if t["name"] == "demo"], SLOW)
        before = self.demo_tenant()
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        restarted = time.time()
        # the resumed hosts heartbeat again (their agents restarted with the server); by
        # then the demo set-up has run again: it made no duplicate host and no second credit
        self.wait_for("every host to heartbeat after the restart", lambda: all(
            parse_time(h["last_heartbeat_at"])[0] > (restarted - 0.5) * 1e6
            for h in self.hosts()), SLOW)
        self.assertEqual(len(self.admin.list_all("/v1/hosts")), 3, "no duplicate demo hosts")
        for h in self.hosts():
            self.assertEqual(h["state"], "ready")
        after = self.demo_tenant()
        self.assertEqual(after["id"], before["id"])
        self.assertEqual(after["balance"], before["balance"], "credited again on restart")


if __name__ == "__main__":
    unittest.main()
