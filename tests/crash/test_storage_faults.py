"""Storage faults: a full disk, an I/O error and a failed fsync, injected under the real
server by the LD_PRELOAD shim (crashshim.c: while a control file exists, writes to the
database files fail with ENOSPC, or writes and fsyncs with EIO, or only fsyncs with EIO).

For each fault, while it lasts:
  - every write answers 503 problem+json with Retry-After, and none of them takes effect:
    not in the replies, not in reads, not after the fault, not after a crash;
  - a retry of a refused Idempotency-Key request is refused again (the failed batch left
    no reply behind in memory to replay), while an acknowledged one still replays;
  - reads keep working and show exactly the acknowledged state;
and once the fault is gone, the next writes succeed without a restart, on exactly the
acknowledged state. At the end the server is killed (SIGKILL) and restarted without the
shim: the database passes PRAGMA integrity_check, the replay passes the engine's invariant
check, and every balance, tenant, key and rental is exactly what was acknowledged.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crashlib import shim_env  # noqa: E402
from harness import Server, ServerTestCase, unique, money, micros  # noqa: E402
from checks import (assert_files_sound, assert_gpus_held_once,  # noqa: E402
                    assert_wallets_match_ledger)

FAULTS = ("enospc", "eio", "fsync")
MODEL = "FAULT-GPU"


class StorageFaultTest(ServerTestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        pass  # the test makes its own server, with the shim

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.srv = Server()
        self.fault_file = os.path.join(self.srv.tmp, "fault")
        self.srv.extra_env = shim_env(self.srv.data_dir, fault_file=self.fault_file)
        self.srv.start()

    def tearDown(self):
        self.srv.close()

    def assert503(self, r, what):
        self.assertProblem(r, 503, msg=what)
        self.assertEqual(r.headers.get("retry-after"), "1", "%s: Retry-After" % what)
        self.assertIn("not applied", r.json["detail"])

    def test_full_disk_io_error_failed_fsync(self):
        srv = self.srv
        admin = srv.admin
        # the acknowledged state, built before any fault
        self.assertStatus(admin.put("/v1/prices/" + MODEL, {"on_demand_hourly": "7.60",
                                                            "packages": {"day": "150.00"}}),
                          (200, 201))
        r = admin.post("/v1/tenants", {"name": unique("fault")})
        self.assertStatus(r, 201)
        tid, tenant = r.json["id"], srv.client(r.json["api_key"])
        first_key = unique("crd")
        first = admin.post("/v1/tenants/%s/credits" % tid, {"amount": "1000.00",
                                                           "reference": "first"},
                           headers={"Idempotency-Key": first_key})
        self.assertStatus(first, 201)
        r = admin.post("/v1/join-tokens", {})
        self.assertStatus(r, 201)
        hostname = unique("fault-host")
        r = srv.anon.post("/v1/agent/register", {
            "join_token": r.json["token"], "hostname": hostname,
            "gpus": [{"index": i, "uuid": "GPU-%s-%d" % (hostname, i), "model": MODEL,
                      "memory_mib": 81920, "nvlink_island": 0} for i in range(8)]})
        self.assertStatus(r, 201)
        agent = srv.client(r.json["agent_key"])
        balance = micros("1000.00")
        tenants = [tid]
        names_refused = []
        rentals = []  # acknowledged rental ids

        for fault in FAULTS:
            what = "under %s" % fault
            keys_before = [k["id"] for k in admin.list_all("/v1/keys")]
            tenants_before = admin.list_all("/v1/tenants")
            rentals_before = admin.list_all("/v1/rentals")
            with open(self.fault_file, "w") as f:
                f.write(fault)

            # writes: 503, nothing applied
            credit_key = unique("crd")
            body = {"amount": "50.000001", "reference": fault}
            path = "/v1/tenants/%s/credits" % tid
            self.assert503(admin.post(path, body, headers={"Idempotency-Key": credit_key}),
                           "credit " + what)
            name = unique("refused")
            names_refused.append(name)
            self.assert503(admin.post("/v1/tenants", {"name": name}), "tenant " + what)
            rent_key = unique("rnt")
            rent = {"gpu_model": MODEL, "gpu_count": 2, "term": "day"}
            self.assert503(tenant.post("/v1/rentals", rent,
                                       headers={"Idempotency-Key": rent_key}),
                           "rental " + what)
            self.assert503(admin.post("/v1/keys", {"tenant_id": tid}), "key " + what)
            self.assert503(agent.post("/v1/agent/heartbeat", {"rentals": []}),
                           "heartbeat " + what)
            if rentals:
                self.assert503(tenant.post("/v1/rentals/%s/stop" % rentals[-1], {}),
                               "stop " + what)
            # the refused credit, retried: refused again, not replayed from memory
            self.assert503(admin.post(path, body, headers={"Idempotency-Key": credit_key}),
                           "credit retry " + what)
            # an acknowledged credit, retried: its first reply (it is durable)
            r = admin.post(path, {"amount": "1000.00", "reference": "first"},
                           headers={"Idempotency-Key": first_key})
            self.assertStatus(r, 201, "acknowledged replay " + what)
            self.assertEqual(r.json, first.json, what)

            # reads: working, and exactly the acknowledged state
            r = admin.get("/v1/tenants/" + tid)
            self.assertStatus(r, 200, what)
            self.assertEqual(r.json["balance"], money(balance), what)
            self.assertStatus(tenant.get("/v1/balance"), 200, what)
            self.assertEqual([k["id"] for k in admin.list_all("/v1/keys")], keys_before, what)
            self.assertEqual(admin.list_all("/v1/tenants"), tenants_before, what)
            self.assertEqual(admin.list_all("/v1/rentals"), rentals_before, what)

            # the fault is gone: the next writes succeed, on the acknowledged state
            os.unlink(self.fault_file)
            r = admin.post(path, body, headers={"Idempotency-Key": credit_key})
            self.assertStatus(r, 201, "credit after " + fault)
            balance += micros(body["amount"])
            self.assertEqual(r.json["balance"], money(balance), "after %s" % fault)
            r2 = admin.post(path, body, headers={"Idempotency-Key": credit_key})
            self.assertEqual(r2.json, r.json, "the retry after %s replays" % fault)
            r = tenant.post("/v1/rentals", rent, headers={"Idempotency-Key": rent_key})
            self.assertStatus(r, 201, "rental after " + fault)
            rentals.append(r.json["id"])
            balance -= micros("300.00")  # 2 GPUs x 150.00, prepaid
            r = admin.post("/v1/tenants", {"name": unique("after-" + fault)})
            self.assertStatus(r, 201)
            tenants.append(r.json["id"])
            self.assertStatus(agent.post("/v1/agent/heartbeat", {"rentals": []}), 200)
            self.assertEqual(admin.get("/v1/tenants/" + tid).json["balance"], money(balance))

        out = srv.output()
        self.assertIn("rebuilding the state from the store", out)
        self.assertIn("the store takes writes again", out)

        # a crash now, and a restart without the shim: exactly the acknowledged state
        srv.kill9()
        assert_files_sound(self, srv, "SIGKILL after the faults")
        srv.extra_env = {}
        srv.start()
        admin = srv.admin
        self.assertEqual(admin.get("/v1/tenants/" + tid).json["balance"], money(balance))
        names = {t["name"] for t in admin.list_all("/v1/tenants")}
        for n in names_refused:
            self.assertNotIn(n, names, "a refused tenant exists")
        self.assertEqual(sorted(t["id"] for t in admin.list_all("/v1/tenants")), sorted(tenants))
        mine = tenant.list_all("/v1/rentals")
        self.assertEqual(sorted(x["id"] for x in mine), sorted(rentals))
        assert_gpus_held_once(self, admin)
        assert_wallets_match_ledger(self, srv, tenants)
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
