"""API: idle_stop. A rental whose GPUs all report a utilization under its threshold for its
number of minutes ends `idle`; one busy heartbeat resets the clock. The server runs with
--idle-minute-seconds 1 so that a test "minute" is one second."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FakeAgent, ServerTestCase, make_tenant, set_price, unique  # noqa: E402


class IdleStopTest(ServerTestCase):
    args = ["--idle-minute-seconds", "1"]

    def setUp(self):
        self.model = unique("GPU")
        set_price(self.server, self.model, "7.60")

    def uuids_of(self, agent, rid):
        host = self.admin.get("/v1/hosts/" + agent.host_id).json
        return [g["uuid"] for g in host["gpus"] if g.get("rental_id") == rid]

    def test_idle_rental_ends_idle_and_busy_one_runs_on(self):
        agent = FakeAgent(self.server, self.model, gpus=4)
        _, tenant = make_tenant(self.server)
        idle_rule = {"below_util_pct": 10, "minutes": 2}
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand", "idle_stop": idle_rule})
        self.assertStatus(r, 201)
        quiet = r.json["id"]
        r = tenant.post("/v1/rentals", {"gpu_model": self.model, "gpu_count": 2,
                                        "term": "on_demand", "idle_stop": idle_rule})
        self.assertStatus(r, 201)
        busy = r.json["id"]
        agent.run(quiet)
        agent.run(busy)
        for u in self.uuids_of(agent, quiet):
            agent.util[u] = 3
        for u in self.uuids_of(agent, busy):
            agent.util[u] = 40
        # one GPU of `quiet` busy once: the idle clock starts again after it
        t0 = time.time()
        ended = None
        while time.time() - t0 < 30:  # generous: a sanitizer build on a loaded machine
            agent.heartbeat()
            got = tenant.get("/v1/rentals/" + quiet).json
            if got["state"] == "ended":
                ended = got
                break
            time.sleep(0.25)
        self.assertIsNotNone(ended, "the idle rental should have ended")
        self.assertEqual(ended["end_reason"], "idle")
        self.assertGreaterEqual(time.time() - t0, 2.0, "ended before its 2 idle minutes")
        self.assertEqual(tenant.get("/v1/rentals/" + busy).json["state"], "running")
        # the agent is told to stop it
        reply, _, _ = agent.heartbeat()
        self.assertNotIn(quiet, [x["rental_id"] for x in reply["run"]])
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % busy, {}), 200)


if __name__ == "__main__":
    unittest.main()
