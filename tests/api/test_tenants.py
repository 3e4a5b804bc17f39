"""API: tenants, credits (with Idempotency-Key), limits, balance, keys."""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, make_tenant, parse_time, unique  # noqa: E402

TENANT_FIELDS = {"id", "name", "balance", "credit_limit"}


class TenantsTest(ServerTestCase):

    def get_tenant(self, tid):
        r = self.admin.get("/v1/tenants/" + tid)
        self.assertStatus(r, 200)
        return r.json

    def test_create_credit_get_list(self):
        name = unique("acme")
        r = self.admin.post("/v1/tenants", {"name": name})
        self.assertStatus(r, 201)
        t = r.json
        self.assertTrue(TENANT_FIELDS | {"api_key"} <= set(t), t)
        self.assertRegex(t["id"], r"^tnt_")
        self.assertEqual(t["name"], name)
        self.assertRegex(t["api_key"], r"^gpr_[0-9A-Za-z]{36}$")
        self.assertEqual(t["balance"], "0.00")
        self.assertEqual(t["credit_limit"], "0.00")
        tid = t["id"]

        r = self.admin.post("/v1/tenants/%s/credits" % tid,
                            {"amount": "1000.00", "reference": "wire 1"})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["balance"], "1000.00")
        r = self.admin.post("/v1/tenants/%s/credits" % tid,
                            {"amount": "0.000001", "reference": "tiny"})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["balance"], "1000.000001")

        got = self.get_tenant(tid)
        self.assertEqual(got["id"], tid)
        self.assertEqual(got["name"], name)
        self.assertEqual(got["balance"], "1000.000001")
        self.assertEqual(got["credit_limit"], "0.00")
        self.assertNotIn("api_key", got, "the api key is shown only at creation")

        listed = {x["id"]: x for x in self.admin.list_all("/v1/tenants")}
        self.assertIn(tid, listed)
        self.assertEqual(listed[tid]["balance"], "1000.000001")
        self.assertNotIn("api_key", listed[tid])

        # the tenant's own view
        tenant = self.server.client(t["api_key"])
        r = tenant.get("/v1/balance")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["balance"], "1000.000001")
        self.assertEqual(r.json["credit_limit"], "0.00")
        self.assertEqual(r.json["hourly_burn"], "0.00")
        self.assertIn("runway_seconds", r.json)

    def test_create_with_credit_limit(self):
        r = self.admin.post("/v1/tenants", {"name": unique(), "credit_limit": "50.00"})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["credit_limit"], "50.00")
        self.assertEqual(self.get_tenant(r.json["id"])["credit_limit"], "50.00")

    def test_list_pagination(self):
        ids = {make_tenant(self.server, credit=None)[0] for _ in range(5)}
        r = self.admin.get("/v1/tenants?limit=2")
        self.assertStatus(r, 200)
        self.assertEqual(len(r.json["data"]), 2)
        self.assertIsNotNone(r.json["next_cursor"])
        pages = self.admin.list_all("/v1/tenants", limit=2)
        seen = [t["id"] for t in pages]
        self.assertEqual(len(seen), len(set(seen)), "a tenant listed twice across pages")
        self.assertTrue(ids <= set(seen))
        whole = self.admin.list_all("/v1/tenants")
        self.assertEqual(sorted(seen), sorted(t["id"] for t in whole))
        for bad in ("limit=0", "limit=-1", "limit=abc", "cursor=%%%"):
            r = self.admin.get("/v1/tenants?" + bad)
            self.assertProblem(r, 400, msg=bad)

    def test_patch_limits(self):
        tid, _ = make_tenant(self.server)
        r = self.admin.patch("/v1/tenants/" + tid,
                             {"credit_limit": "100.00", "monthly_budget": "500.50"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["credit_limit"], "100.00")
        self.assertEqual(r.json["monthly_budget"], "500.50")
        t = self.get_tenant(tid)
        self.assertEqual(t["credit_limit"], "100.00")
        self.assertEqual(t["monthly_budget"], "500.50")
        self.assertEqual(t["balance"], "1000.00")
        # one field alone leaves the other
        r = self.admin.patch("/v1/tenants/" + tid, {"monthly_budget": "0"})
        self.assertStatus(r, 200)
        t = self.get_tenant(tid)
        self.assertEqual(t["credit_limit"], "100.00")

    def test_patch_bad_input_changes_nothing(self):
        tid, _ = make_tenant(self.server)
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid, {"credit_limit": "7.00"}), 200)
        before = self.get_tenant(tid)
        cases = [
            ({"credit_limit": 100}, "credit_limit"),
            ({"credit_limit": 100.5}, "credit_limit"),
            ({"credit_limit": "-1.00"}, "credit_limit"),
            ({"credit_limit": "1.0000001"}, "credit_limit"),
            ({"credit_limit": "ten"}, "credit_limit"),
            ({"credit_limit": None}, "credit_limit"),
            ({"monthly_budget": 5}, "monthly_budget"),
            ({"monthly_budget": "-5.00"}, "monthly_budget"),
            ({"credit_limit": "1.00", "bogus": 1}, "bogus"),
            ({"credit_limit": "1.00", "monthly_budget": "x"}, "monthly_budget"),
        ]
        for body, field in cases:
            r = self.admin.patch("/v1/tenants/" + tid, body)
            self.assertProblem(r, 400, field, msg="PATCH %r" % body)
        self.assertEqual(self.get_tenant(tid), before)
        self.assertProblem(self.admin.patch("/v1/tenants/tnt_0000000000000",
                                            {"credit_limit": "1.00"}), 404)

    def test_create_bad_input(self):
        before = len(self.admin.list_all("/v1/tenants"))
        cases = [
            ({}, "name"),
            ({"name": ""}, "name"),
            ({"name": 5}, "name"),
            ({"name": ["a"]}, "name"),
            ({"name": "x" * 65}, "name"),
            ({"name": unique(), "credit_limit": 50}, "credit_limit"),
            ({"name": unique(), "credit_limit": "-50.00"}, "credit_limit"),
            ({"name": unique(), "credit_limit": "5e1"}, "credit_limit"),
            ({"name": unique(), "colour": "red"}, "colour"),
        ]
        for body, field in cases:
            self.assertProblem(self.admin.post("/v1/tenants", body), 400, field,
                               msg="POST /v1/tenants %r" % body)
        self.assertEqual(len(self.admin.list_all("/v1/tenants")), before)

    def test_credit_bad_input_changes_nothing(self):
        tid, _ = make_tenant(self.server)
        path = "/v1/tenants/%s/credits" % tid
        cases = [
            ({"amount": 10, "reference": "r"}, "amount"),
            ({"amount": 10.5, "reference": "r"}, "amount"),
            ({"amount": "0", "reference": "r"}, "amount"),
            ({"amount": "0.00", "reference": "r"}, "amount"),
            ({"amount": "-5.00", "reference": "r"}, "amount"),
            ({"amount": "1.0000001", "reference": "r"}, "amount"),
            ({"amount": "abc", "reference": "r"}, "amount"),
            ({"amount": "1e3", "reference": "r"}, "amount"),
            ({"amount": " 5.00", "reference": "r"}, "amount"),
            ({"amount": "5.", "reference": "r"}, "amount"),
            ({"amount": ".5", "reference": "r"}, "amount"),
            ({"amount": "+5", "reference": "r"}, "amount"),
            ({"amount": "0x10", "reference": "r"}, "amount"),
            ({"amount": "99999999999999999999", "reference": "r"}, "amount"),
            ({"reference": "r"}, "amount"),
            ({"amount": "5.00", "reference": 5}, "reference"),
            ({"amount": "5.00", "reference": "r", "extra": True}, "extra"),
        ]
        for body, field in cases:
            self.assertProblem(self.admin.post(path, body), 400, field, msg="credit %r" % body)
        self.assertEqual(self.get_tenant(tid)["balance"], "1000.00")
        r = self.admin.post("/v1/tenants/tnt_0000000000000/credits",
                            {"amount": "5.00", "reference": "r"})
        self.assertProblem(r, 404)
        r = self.admin.post("/v1/tenants/garbage/credits", {"amount": "5.00", "reference": "r"})
        self.assertProblem(r, 404)

    def test_credit_idempotency(self):
        tid, _ = make_tenant(self.server, credit=None)
        path = "/v1/tenants/%s/credits" % tid
        key = {"Idempotency-Key": unique("credit")}
        body = {"amount": "250.00", "reference": "invoice 7"}
        first = self.admin.post(path, body, headers=key)
        self.assertStatus(first, 201)
        self.assertEqual(first.json["balance"], "250.00")
        again = self.admin.post(path, body, headers=key)
        self.assertEqual(again.status, first.status)
        self.assertEqual(again.json, first.json)
        self.assertEqual(self.get_tenant(tid)["balance"], "250.00")
        # same key, another body: 422, nothing moves
        r = self.admin.post(path, {"amount": "999.00", "reference": "invoice 7"}, headers=key)
        self.assertProblem(r, 422)
        self.assertEqual(self.get_tenant(tid)["balance"], "250.00")
        # a new key is a new credit
        r = self.admin.post(path, body, headers={"Idempotency-Key": unique("credit")})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["balance"], "500.00")
        # the replay still answers the first reply, not the current balance
        again = self.admin.post(path, body, headers=key)
        self.assertEqual(again.json, first.json)
        self.assertEqual(self.get_tenant(tid)["balance"], "500.00")
        # the same key on another tenant is not a replay of this one
        tid2, _ = make_tenant(self.server, credit=None)
        r = self.admin.post("/v1/tenants/%s/credits" % tid2, body, headers=key)
        self.assertIn(r.status, (201, 422), r)
        if r.status == 201:
            self.assertEqual(r.json["balance"], "250.00")
        self.assertEqual(self.get_tenant(tid)["balance"], "500.00")

    def test_concurrent_credits_with_one_key(self):
        tid, _ = make_tenant(self.server, credit=None)
        path = "/v1/tenants/%s/credits" % tid
        key = {"Idempotency-Key": unique("credit-race")}
        body = {"amount": "12.34", "reference": "wire 1"}
        out = [None] * 50
        barrier = threading.Barrier(len(out))

        def run(i):
            barrier.wait()
            out[i] = self.admin.post(path, body, headers=key)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(len(out))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual({r.status for r in out}, {201})
        self.assertEqual(len({r.text for r in out}), 1)
        self.assertEqual(self.get_tenant(tid)["balance"], "12.34")

    def test_tenant_key_sees_only_itself(self):
        tid, tenant = make_tenant(self.server)
        other, _ = make_tenant(self.server, credit="5.00")
        self.assertProblem(tenant.get("/v1/tenants/" + other), 403)
        self.assertProblem(tenant.post("/v1/tenants/%s/credits" % tid,
                                       {"amount": "5.00", "reference": "self"}), 403)
        self.assertEqual(self.get_tenant(tid)["balance"], "1000.00")

    def test_keys(self):
        tid, tenant = make_tenant(self.server, credit=None)
        r = tenant.post("/v1/keys", {})
        self.assertStatus(r, 201)
        secret = r.json.get("key") or r.json.get("api_key")
        self.assertRegex(secret, r"^gpr_[0-9A-Za-z]{36}$")
        kid = r.json["id"]
        r = tenant.get("/v1/keys")
        self.assertStatus(r, 200)
        listed = {k["id"]: k for k in r.json["data"]}
        self.assertIn(kid, listed)
        self.assertEqual(len(listed), 2)
        for k in listed.values():
            self.assertNotIn("key", k)
            self.assertNotIn("api_key", k)
            self.assertIn("prefix", k)
            self.assertTrue(secret.startswith(listed[kid]["prefix"]))
        # another tenant cannot see or revoke it
        _, other = make_tenant(self.server, credit=None)
        self.assertProblem(other.delete("/v1/keys/" + kid), 404)
        self.assertNotIn(kid, {k["id"] for k in other.get("/v1/keys").json["data"]})
        self.assertStatus(self.server.client(secret).get("/v1/balance"), 200)
        # naming another tenant's id is a 404, as on every route (no existence oracle)
        self.assertProblem(other.get("/v1/keys?tenant_id=" + tid), 404)
        # admin sees any
        self.assertIn(kid, {k["id"] for k in self.admin.list_all("/v1/keys")})

    def test_keys_last_used(self):
        # API.md: GET /v1/keys lists each key's prefix, creation and last use
        tid, tenant = make_tenant(self.server, credit=None)
        before = time.time()
        self.assertStatus(tenant.get("/v1/balance"), 200)
        r = tenant.get("/v1/keys")
        self.assertEqual(len(r.json["data"]), 1)
        k = r.json["data"][0]
        self.assertIsNotNone(k["created_at"])
        used, _ = parse_time(k["last_used_at"])
        self.assertGreaterEqual(used, int(before - 1) * 1000000)
        self.assertLessEqual(used, int(time.time() + 1) * 1000000)
        # a clean restart keeps it (it is written at shutdown, and at most once a minute
        # while serving)
        self.server.restart()
        k = [x for x in self.admin.list_all("/v1/keys") if x["id"] == k["id"]][0]
        self.assertGreaterEqual(parse_time(k["last_used_at"])[0], used)


if __name__ == "__main__":
    unittest.main()
