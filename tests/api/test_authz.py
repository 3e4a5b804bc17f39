"""API: authorization, keys, mass assignment, rate limits and connection timeouts.

RouteMatrixTest is generated from the route table itself (`gpurent routes --json`, the
binary's own table): every route x every caller (no key, a malformed key, an unknown key, a
revoked key, the admin, tenant A, tenant B, an agent) x {the caller's own object, another tenant's object},
with the expected status derived from the route's declared roles:
  - no key or a bad key on a keyed route: 401;
  - a key whose role the route does not declare: 403;
  - a tenant naming another tenant's object: 404, with the same detail as for a well-formed
    id that does not exist (checked for each such case);
  - otherwise the route's success status.
Every refused attempt is followed by a check that nothing changed (tenants and balances,
rentals, keys, hosts, prices). A route in the table without a case here fails the test: a new
route must say how it is called, so it is in the matrix from its first commit.

See docs/security.md for what each test defends against.
"""

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, FakeAgent, binary, fixed_scramble_id, make_tenant,  # noqa: E402
                     set_price, unique, request)

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def well_formed_key(body):
    """A key with a valid checksum (the server's rule: 4 base62 characters of an unkeyed
    BLAKE2b-64 of "gpr_" + 32 characters) that no server ever issued."""
    text = "gpr_" + body
    h = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return text + "".join(BASE62[h[i] % 62] for i in range(4))


def route_table():
    out = subprocess.run([binary(), "routes", "--json"], check=True, capture_output=True,
                         timeout=30)
    return json.loads(out.stdout)


def month_now():
    return time.strftime("%Y-%m", time.gmtime())


COST = {"purchase_price": "800000.00", "purchased_at": "2026-01-01T00:00:00Z",
        "depreciation_years": 5, "power_watts": 6500, "pue": 1.3,
        "electricity_kwh_price": "0.70", "hosting_monthly": "3000.00"}
WHAT_IF = {"card_price": "100000", "hourly_price": "7.6", "utilization": 1,
           "depreciation_years": 5, "opex_hourly": "1.80"}


class AuthzBase(ServerTestCase):
    """Two tenants (A, B), two hosts each running one of their rentals, a spare host."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        cls.model = unique("GPU")
        set_price(srv, cls.model, "2.00")
        cls.tid = {}
        cls.tenant = {}
        for name in ("A", "B"):
            cls.tid[name], cls.tenant[name] = make_tenant(srv, credit="1000.00")
        # host HA carries A's rental and HB B's: each created while the other host is absent
        # or drained, so the agent test knows whose rental runs where
        cls.agent = {"A": FakeAgent(srv, cls.model, gpus=8)}
        cls.rental = {"A": cls.admin_create(cls.tid["A"])}
        cls.agent["B"] = FakeAgent(srv, cls.model, gpus=8)
        srv.admin.post("/v1/hosts/%s/drain" % cls.agent["A"].host_id, {})
        cls.rental["B"] = cls.admin_create(cls.tid["B"])
        srv.admin.post("/v1/hosts/%s/undrain" % cls.agent["A"].host_id, {})
        for name in ("A", "B"):
            r = srv.admin.get("/v1/rentals/" + cls.rental[name])
            assert r.json["host_id"] == cls.agent[name].host_id, r
        cls.spare = FakeAgent(srv, unique("SPARE"), gpus=1)

    @classmethod
    def admin_create(cls, tid, model=None):
        r = cls.server.admin.post("/v1/rentals", {"tenant_id": tid, "gpu_model": model or
                                                  cls.model, "gpu_count": 1,
                                                  "term": "on_demand"})
        if r.status != 201:
            raise AssertionError("admin create: %r" % r)
        return r.json["id"]

    def fresh_key(self, owner):
        r = self.admin.post("/v1/keys", {"tenant_id": self.tid[owner]})
        self.assertStatus(r, 201)
        return r.json["id"]

    def snapshot(self):
        """What a refused request must not change."""
        a = self.admin
        tenants = sorted((t["id"], t["name"], t["balance"], t["credit_limit"],
                          t.get("monthly_budget")) for t in a.list_all("/v1/tenants"))
        rentals = sorted((r["id"], r["state"], r["tenant_id"], r["host_id"])
                         for r in a.list_all("/v1/rentals"))
        keys = sorted((k["id"], k["revoked_at"]) for k in a.list_all("/v1/keys"))
        hosts = sorted((h["id"], h["state"], json.dumps(h["cost"], sort_keys=True),
                        h["free_gpus"]) for h in a.list_all("/v1/hosts"))
        prices = a.get("/v1/prices").json
        return {"tenants": tenants, "rentals": rentals, "keys": keys, "hosts": hosts,
                "prices": prices}


class RouteMatrixTest(AuthzBase):
    # requests in this matrix come in bursts from the same keys; the limits have their own
    # tests below, so they stay at their defaults here (tenants make ~100 requests)

    # ---- how to call each route: (path, body) for an owner ("A" or "B") -----------------
    # scope: "path" (the object is in the path), "body"/"query" (a tenant id in the request
    # that names whose it is), None (no object: only the caller's own view)
    # cross: the status a tenant gets naming another tenant's object (404 unless said)

    def cases(self):
        t = self
        return {
            ("GET", "/healthz"): dict(ok=200, call=lambda o: ("/healthz", None)),
            ("GET", "/metrics"): dict(ok=200, call=lambda o: ("/metrics", None)),
            ("GET", "/v1/platform"): dict(ok=200, call=lambda o: ("/v1/platform", None)),
            ("POST", "/v1/tenants"): dict(ok=201, call=lambda o: (
                "/v1/tenants", {"name": unique("mx")})),
            ("GET", "/v1/tenants"): dict(ok=200, call=lambda o: ("/v1/tenants", None)),
            ("GET", "/v1/tenants/{id}"): dict(ok=200, scope="path", call=lambda o: (
                "/v1/tenants/" + t.tid[o], None)),
            ("PATCH", "/v1/tenants/{id}"): dict(ok=200, scope="path", call=lambda o: (
                "/v1/tenants/" + t.tid[o], {"monthly_budget": None})),
            ("POST", "/v1/tenants/{id}/credits"): dict(ok=201, scope="path", call=lambda o: (
                "/v1/tenants/%s/credits" % t.tid[o], {"amount": "0.01", "reference": "mx"})),
            ("POST", "/v1/tenants/{id}/adjustments"): dict(ok=201, scope="path", call=lambda o: (
                "/v1/tenants/%s/adjustments" % t.tid[o], {"amount": "0.01", "reason": "mx"})),
            ("GET", "/v1/balance"): dict(ok=200, call=lambda o: ("/v1/balance", None)),
            # a tenant reads its own usage and may name no tenant at all (400, which tells
            # nothing about the other tenant); the operator names one
            ("GET", "/v1/usage"): dict(ok=200, scope="query", cross=400, call=lambda o, who=None: (
                "/v1/usage" + ("?tenant=" + t.tid[o] if who != "tenant-own" else ""), None)),
            ("GET", "/v1/invoices/{month}"): dict(
                ok=200, scope="query", cross=400, call=lambda o, who=None: (
                    "/v1/invoices/" + month_now() +
                    ("?tenant=" + t.tid[o] if who != "tenant-own" else ""), None)),
            ("POST", "/v1/keys"): dict(ok=201, scope="body", call=lambda o: (
                "/v1/keys", {"tenant_id": t.tid[o]})),
            ("GET", "/v1/keys"): dict(ok=200, scope="query", call=lambda o: (
                "/v1/keys?tenant_id=" + t.tid[o], None)),
            ("DELETE", "/v1/keys/{id}"): dict(ok=200, scope="path", call=lambda o: (
                "/v1/keys/" + t.fresh_key(o), None)),
            ("POST", "/v1/keys/{id}/rotate"): dict(ok=201, scope="path", call=lambda o: (
                "/v1/keys/%s/rotate" % t.fresh_key(o), {})),
            ("PUT", "/v1/prices/{gpu_model}"): dict(ok=200, call=lambda o: (
                "/v1/prices/" + t.model, {"on_demand_hourly": "2.00"})),
            ("GET", "/v1/prices"): dict(ok=200, call=lambda o: ("/v1/prices", None)),
            ("GET", "/v1/offers"): dict(ok=200, call=lambda o: ("/v1/offers", None)),
            ("POST", "/v1/coupons"): dict(ok=201, call=lambda o: (
                "/v1/coupons", {"code": unique("MX").upper(), "percent_off": 10})),
            ("POST", "/v1/quotes"): dict(ok=200, scope="body", call=lambda o: (
                "/v1/quotes", {"tenant_id": t.tid[o], "gpu_model": t.model, "gpu_count": 1,
                               "term": "on_demand"})),
            ("POST", "/v1/rentals"): dict(ok=201, scope="body", cleanup="rental", call=lambda o: (
                "/v1/rentals", {"tenant_id": t.tid[o], "gpu_model": t.model, "gpu_count": 1,
                                "term": "on_demand"})),
            ("GET", "/v1/rentals"): dict(ok=200, scope="query", call=lambda o: (
                "/v1/rentals?tenant_id=" + t.tid[o], None)),
            ("GET", "/v1/rentals/{id}"): dict(ok=200, scope="path", call=lambda o: (
                "/v1/rentals/" + t.rental[o], None)),
            # refused attempts stop the long-lived rentals (they must survive); allowed ones
            # stop a rental made for the purpose
            ("POST", "/v1/rentals/{id}/stop"): dict(
                ok=200, scope="path", call=lambda o, fresh=False: (
                    "/v1/rentals/%s/stop" % (t.admin_create(t.tid[o]) if fresh else
                                             t.rental[o]), {})),
            ("POST", "/v1/join-tokens"): dict(ok=201, call=lambda o: ("/v1/join-tokens", {})),
            ("POST", "/v1/agent/register"): dict(ok=201, call=lambda o: (
                "/v1/agent/register", t.registration())),
            ("POST", "/v1/agent/heartbeat"): dict(ok=200, call=lambda o: (
                "/v1/agent/heartbeat", {"telemetry": [], "rentals": []})),
            ("GET", "/v1/hosts"): dict(ok=200, call=lambda o: ("/v1/hosts", None)),
            ("GET", "/v1/hosts/{id}"): dict(ok=200, call=lambda o: (
                "/v1/hosts/" + t.agent[o].host_id, None)),
            ("POST", "/v1/hosts/{id}/drain"): dict(ok=200, after="undrain", call=lambda o: (
                "/v1/hosts/%s/drain" % t.spare.host_id, {})),
            ("POST", "/v1/hosts/{id}/undrain"): dict(ok=200, call=lambda o: (
                "/v1/hosts/%s/undrain" % t.spare.host_id, {})),
            ("PUT", "/v1/hosts/{id}/cost"): dict(ok=200, call=lambda o: (
                "/v1/hosts/%s/cost" % t.spare.host_id, COST)),
            ("GET", "/v1/rentals/{id}/telemetry"): dict(ok=200, scope="path", call=lambda o: (
                "/v1/rentals/%s/telemetry" % t.rental[o], None)),
            ("GET", "/v1/economics/series"): dict(ok=200, call=lambda o: (
                "/v1/economics/series", None)),
            ("GET", "/v1/coupons"): dict(ok=200, call=lambda o: ("/v1/coupons", None)),
            ("GET", "/v1/economics"): dict(ok=200, call=lambda o: ("/v1/economics", None)),
            ("POST", "/v1/economics/what-if"): dict(ok=200, call=lambda o: (
                "/v1/economics/what-if", WHAT_IF)),
        }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.tenant["A"].post("/v1/keys", {})
        assert r.status == 201, r
        cls.revoked_key = r.json["api_key"]
        r = cls.server.admin.delete("/v1/keys/" + r.json["id"])
        assert r.status == 200, r

    def registration(self):
        token = self.admin.post("/v1/join-tokens", {}).json["token"]
        host = unique("mxhost")
        return {"join_token": token, "hostname": host,
                "gpus": [{"index": 0, "uuid": "GPU-" + host, "model": unique("MXGPU"),
                          "memory_mib": 1024, "nvlink_island": 0}]}

    def callers(self):
        admin_key = self.server.admin_key
        malformed = admin_key[:-1] + ("A" if admin_key[-1] != "A" else "B")
        return [
            ("none", None, None),
            ("malformed", None, malformed),
            ("unknown", None, well_formed_key("Z" * 32)),
            ("revoked", None, self.revoked_key),
            ("admin", "admin", admin_key),
            ("tenant A", "tenant", self.tenant["A"].key),
            ("tenant B", "tenant", self.tenant["B"].key),
            ("agent", "agent", self.agent["A"].key),
        ]

    def expected(self, route, case, role, own):
        roles = route["roles"]
        if "public" in roles:
            return case["ok"]
        if role is None:
            return 401
        if role not in roles:
            return 403
        if role == "tenant" and not own:
            return case.get("cross", 404)
        return case["ok"]

    def build(self, case, owner, who, fresh):
        call = case["call"]
        argnames = call.__code__.co_varnames[:call.__code__.co_argcount]
        kw = {}
        if "who" in argnames:
            kw["who"] = who
        if "fresh" in argnames:
            kw["fresh"] = fresh
        return call(owner, **kw)

    def test_route_table_matrix(self):
        routes = route_table()
        cases = self.cases()
        names = {(r["method"], r["pattern"]) for r in routes}
        missing = sorted(names - set(cases))
        self.assertEqual(missing, [], "routes without a case in test_authz.py: say how each "
                                      "is called, and the matrix tests its roles")
        self.assertEqual(sorted(set(cases) - names), [], "cases for routes that are gone")
        tried = refused = compared = 0
        for route in routes:
            case = cases[(route["method"], route["pattern"])]
            for label, role, key in self.callers():
                # own: the caller's own object (A's for everyone but tenant B); other: the
                # other tenant's (B's for tenant A, A's for tenant B and everyone else)
                variants = [True, False] if case.get("scope") else [True]
                for own in variants:
                    me = "B" if label == "tenant B" else "A"
                    owner = me if own else ("A" if me == "B" else "B")
                    want = self.expected(route, case, role, own)
                    success = want == case["ok"]
                    who = "tenant-own" if role == "tenant" and own else role
                    path, body = self.build(case, owner, who, fresh=success)
                    before = None if success else self.snapshot()
                    msg = "%s %s as %s on %s's object" % (route["method"], path, label, owner)
                    r = request(self.server.port, route["method"], path, body, key=key)
                    tried += 1
                    if success:
                        self.assertStatus(r, want, msg)
                        self.undo(case, r)
                        continue
                    refused += 1
                    self.assertProblem(r, want, msg=msg)
                    if want == 404 and role == "tenant":
                        self.assertSameAsUnknown(route, path, body, key, r, msg)
                        compared += 1
                    if want == 401:
                        self.assertEqual(r.headers.get("www-authenticate"), "Bearer", msg)
                    self.assertEqual(self.snapshot(), before, msg + ": a refused request "
                                     "changed something")
        print("matrix: %d requests, %d refused, %d of them compared with an unknown id" %
              (tried, refused, compared), file=sys.stderr)
        self.assertGreaterEqual(compared, 10)
        # every route x 8 callers, more with the object variants
        self.assertGreaterEqual(tried, len(routes) * 8)
        self.assertGreater(refused, len(routes) * 4)

    def assertSameAsUnknown(self, route, path, body, key, r, msg):
        """Another tenant's object answers exactly as an id that does not exist: nothing
        tells the caller it is there."""
        text = json.dumps(body) if body is not None else ""
        ids = [w for w in re.findall(r"(?:tnt|rnt|key|hst)_[0-9a-z]+", path + " " + text)]
        self.assertTrue(ids, msg)
        other = ids[-1]
        # well-formed, and names no object (ids are keyed: it decodes to some other number)
        unknown = fixed_scramble_id(other[:3], 4000000000)
        swap = json.loads(text.replace(other, unknown)) if body is not None else None
        r2 = request(self.server.port, route["method"], path.replace(other, unknown), swap,
                     key=key)
        self.assertEqual(r2.status, r.status, msg)
        self.assertEqual(r2.json["detail"].replace(unknown, "ID"),
                         r.json["detail"].replace(other, "ID"), msg + ": tells existing from not")

    def undo(self, case, r):
        if case.get("cleanup") == "rental":
            self.assertStatus(self.admin.post("/v1/rentals/%s/stop" % r.json["id"], {}), 200)
        if case.get("after") == "undrain":
            self.assertStatus(self.admin.post("/v1/hosts/%s/undrain" % self.spare.host_id,
                                              {}), 200)

    def test_the_long_lived_rentals_survived(self):
        # the matrix is in another test method; whichever order, these rentals were only
        # ever the targets of refused requests and are as they were made
        for name in ("A", "B"):
            r = self.admin.get("/v1/rentals/" + self.rental[name])
            self.assertEqual(r.json["state"], "starting")
            self.assertEqual(r.json["tenant_id"], self.tid[name])

    def test_routes_json_matches_declared_roles(self):
        # the exported table is the binary's: roles are non-empty, public goes alone, and the
        # only public routes are the probes and agent registration
        routes = route_table()
        public = sorted("%s %s" % (r["method"], r["pattern"]) for r in routes
                        if "public" in r["roles"])
        self.assertEqual(public, ["GET /healthz", "GET /metrics", "POST /v1/agent/register"])
        for r in routes:
            self.assertTrue(r["roles"], r)
            self.assertTrue(set(r["roles"]) <= {"public", "admin", "tenant", "agent"}, r)
            if "public" in r["roles"]:
                self.assertEqual(r["roles"], ["public"], r)
            if r["pattern"].startswith(("/v1/hosts", "/v1/tenants", "/v1/economics",
                                        "/v1/coupons", "/v1/join-tokens")):
                self.assertEqual(r["roles"], ["admin"], r)


class AgentCrossHostTest(AuthzBase):
    def test_agent_cannot_report_for_another_hosts_rental_or_gpu(self):
        a, b = self.agent["A"], self.agent["B"]
        rid_a = self.rental["A"]
        # A's rental runs on A's host, reported by A's agent
        a.run(rid_a)
        a.util = {u: 37 for u in a.uuids}
        a.heartbeat()
        host_a = self.admin.get("/v1/hosts/" + a.host_id).json
        before = self.snapshot()
        rentals_before = self.admin.get("/v1/rentals/" + rid_a).json
        # B reports A's rental exited and failed, with telemetry for A's GPUs
        for state in ("exited", "failed", "running"):
            r = b.client.post("/v1/agent/heartbeat", {
                "telemetry": [{"uuid": u, "util_pct": 99, "mem_used_mib": 5, "power_w": 1,
                               "temp_c": 99} for u in a.uuids],
                "rentals": [{"id": rid_a, "state": state, "exit_code": 3,
                             "epoch": rentals_before.get("epoch", 1)}]})
            self.assertStatus(r, 200, "B reporting A's rental %s" % state)
            self.assertEqual(r.json["stop"], [rid_a], "B is told to stop what is not its own")
            self.assertNotIn(rid_a, [x["rental_id"] for x in r.json["run"]])
        after = self.admin.get("/v1/rentals/" + rid_a).json
        self.assertEqual(after["state"], "running")
        self.assertIsNone(after["end_reason"])
        self.assertEqual(after["host_id"], a.host_id)
        host_a2 = self.admin.get("/v1/hosts/" + a.host_id).json
        self.assertEqual([g["telemetry"] for g in host_a2["gpus"]],
                         [g["telemetry"] for g in host_a["gpus"]],
                         "B's telemetry for A's GPUs was taken")
        self.assertEqual(before["rentals"], self.snapshot()["rentals"])
        # and an agent key cannot reach anything of a tenant's or the operator's
        for method, path in (("GET", "/v1/rentals/" + rid_a), ("GET", "/v1/hosts/" + a.host_id),
                             ("POST", "/v1/rentals/%s/stop" % rid_a), ("GET", "/v1/keys")):
            self.assertProblem(b.client.req(method, path, {} if method == "POST" else None), 403)
        self.assertEqual(self.admin.get("/v1/rentals/" + rid_a).json["state"], "running")


class MassAssignmentTest(AuthzBase):
    """Fields a caller may not set are refused (400 naming the field), never applied."""

    def check(self, client, method, path, body, field, status=400):
        before = self.snapshot()
        r = client.req(method, path, body)
        self.assertProblem(r, status, field if status == 400 else None,
                           msg="%s %s with %s" % (method, path, field))
        self.assertEqual(self.snapshot(), before, "%s %s with %s changed something" %
                         (method, path, field))

    def test_rental_fields_the_server_decides(self):
        a = self.tenant["A"]
        base = {"gpu_model": self.model, "gpu_count": 1, "term": "on_demand"}
        for field, value in (("state", "running"), ("cost", "0.00"), ("hourly_price", "0.01"),
                             ("price", "0.01"), ("list_hourly", "0.01"), ("balance", "1e9"),
                             ("host_id", self.agent["A"].host_id), ("id", "rnt_0000000000001"),
                             ("epoch", 7), ("created_at", "2020-01-01T00:00:00Z"),
                             ("end_reason", "stopped"), ("gpus", ["GPU-x"])):
            body = dict(base)
            body[field] = value
            self.check(a, "POST", "/v1/rentals", body, field)
        # another tenant's id: that tenant is unknown to A
        body = dict(base, tenant_id=self.tid["B"])
        self.check(a, "POST", "/v1/rentals", body, None, status=404)
        # the stop route takes no fields
        self.check(a, "POST", "/v1/rentals/%s/stop" % self.rental["A"], {"state": "running"},
                   "state")

    def test_tenant_and_key_fields(self):
        a = self.tenant["A"]
        tid = self.tid["A"]
        for field, value in (("balance", "1000000.00"), ("id", "tnt_0000000000001"),
                             ("api_key", "gpr_x"), ("month_spent", "0.00")):
            self.check(self.server.admin, "POST", "/v1/tenants", {"name": unique(), field: value},
                       field)
            self.check(self.server.admin, "PATCH", "/v1/tenants/" + tid, {field: value}, field)
        self.check(self.server.admin, "POST", "/v1/tenants/%s/credits" % tid,
                   {"amount": "1.00", "reference": "x", "balance": "9.00"}, "balance")
        self.check(self.server.admin, "POST", "/v1/tenants/%s/credits" % tid,
                   {"amount": "1.00", "reference": "x", "tenant_id": self.tid["B"]}, "tenant_id")
        # a tenant cannot mint itself another role's key, or a key for someone else
        for field, value in (("role", "admin"), ("revoked_at", None), ("prefix", "gpr_")):
            self.check(a, "POST", "/v1/keys", {field: value}, field)
        self.check(a, "POST", "/v1/keys", {"host_id": self.agent["A"].host_id}, None, 404)
        self.check(a, "POST", "/v1/keys", {"tenant_id": self.tid["B"]}, None, 404)
        key = a.post("/v1/keys", {}).json
        self.assertEqual((key["role"], key["tenant_id"]), ("tenant", tid))
        self.check(a, "POST", "/v1/keys/%s/rotate" % key["id"], {"role": "admin"}, "role")

    def test_agent_and_host_fields(self):
        ag = self.agent["A"]
        self.check(ag.client, "POST", "/v1/agent/heartbeat",
                   {"telemetry": [], "rentals": [], "host_id": self.agent["B"].host_id},
                   "host_id")
        self.check(ag.client, "POST", "/v1/agent/heartbeat",
                   {"telemetry": [], "rentals": [{"id": self.rental["A"], "state": "running",
                                                  "cost": "0.00"}]}, "cost")
        reg = {"join_token": "x", "hostname": unique("h"), "gpus": [], "host_id": "hst_1"}
        self.check(self.server.anon, "POST", "/v1/agent/register", reg, "host_id")
        self.check(self.server.admin, "POST", "/v1/hosts/%s/drain" % self.spare.host_id,
                   {"state": "down"}, "state")


class KeyLifecycleTest(AuthzBase):
    def test_malformed_key_is_refused_before_lookup(self):
        good = self.tenant["A"].key
        bad_sum = good[:-1] + ("A" if good[-1] != "A" else "B")
        for k in (bad_sum, good[:-1], good + "0", "gpr_" + "!" * 36, "xyz_" + good[4:]):
            r = self.server.client(k).get("/v1/balance")
            self.assertProblem(r, 401)
            self.assertIn("malformed", r.json["detail"], k)
        r = self.server.client(well_formed_key("Q" * 32)).get("/v1/balance")
        self.assertProblem(r, 401)
        self.assertIn("unknown", r.json["detail"])

    def test_revoke_takes_effect_on_the_next_request(self):
        tid, t = make_tenant(self.server, credit=None)
        r = t.post("/v1/keys", {})
        self.assertStatus(r, 201)
        k2 = self.server.client(r.json["api_key"])
        self.assertStatus(k2.get("/v1/balance"), 200)
        # the key revokes itself: its very next request is refused
        self.assertStatus(k2.delete("/v1/keys/" + r.json["id"]), 200)
        self.assertProblem(k2.get("/v1/balance"), 401)
        self.assertProblem(k2.post("/v1/keys", {}), 401)
        self.assertStatus(t.get("/v1/balance"), 200)
        # it survives a restart as revoked
        self.server.restart()
        self.assertProblem(k2.get("/v1/balance"), 401)
        self.assertStatus(t.get("/v1/balance"), 200)

    def test_rotate(self):
        tid, t = make_tenant(self.server, credit=None)
        first = [k for k in t.list_all("/v1/keys")]
        self.assertEqual(len(first), 1)
        old_id = first[0]["id"]
        r = t.post("/v1/keys/%s/rotate" % old_id, {})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["replaces"], old_id)
        self.assertEqual(r.json["role"], "tenant")
        self.assertEqual(r.json["tenant_id"], tid)
        self.assertNotEqual(r.json["id"], old_id)
        new = self.server.client(r.json["api_key"])
        # the old key (the one that asked) is refused at once; the new one works
        self.assertProblem(t.get("/v1/balance"), 401)
        self.assertStatus(new.get("/v1/balance"), 200)
        listed = {k["id"]: k for k in self.admin.list_all("/v1/keys?tenant_id=" + tid)}
        self.assertEqual(set(listed), {r.json["id"]})  # the list shows live keys only
        # rotating a revoked key is a conflict, and mints nothing
        before = self.snapshot()
        self.assertProblem(new.post("/v1/keys/%s/rotate" % old_id, {}), 409)
        self.assertEqual(self.snapshot(), before)
        # the operator rotates an agent's key: the agent must use the new one
        ag = self.spare
        keys = [k for k in self.admin.list_all("/v1/keys") if k["role"] == "agent" and
                k["host_id"] == ag.host_id]
        self.assertEqual(len(keys), 1)
        r = self.admin.post("/v1/keys/%s/rotate" % keys[0]["id"], {})
        self.assertStatus(r, 201)
        self.assertEqual((r.json["role"], r.json["host_id"]), ("agent", ag.host_id))
        hb = {"telemetry": [], "rentals": []}
        self.assertProblem(ag.client.post("/v1/agent/heartbeat", hb), 401)
        self.assertStatus(self.server.client(r.json["api_key"]).post("/v1/agent/heartbeat", hb),
                          200)
        self.server.restart()
        self.assertProblem(t.get("/v1/balance"), 401)
        self.assertStatus(new.get("/v1/balance"), 200)


class RateLimitBurstTest(ServerTestCase):
    # a refill of one token in 1000 s: what a burst gets through is exactly the bucket
    args = ("--rate-limit", "0.001:100", "--rate-limit-create", "0.001:5")

    def burst(self, client, method, path, body, n):
        """n requests at once (threads, each its own connection): their replies."""
        out = [None] * n
        barrier = threading.Barrier(50)
        lock = threading.Lock()
        todo = list(range(n))

        def worker():
            barrier.wait()
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                out[i] = client.req(method, path, body)

        ts = [threading.Thread(target=worker) for _ in range(50)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    def test_burst_of_1000_gets_exactly_the_bucket(self):
        _, a = make_tenant(self.server, credit=None)
        _, b = make_tenant(self.server, credit=None)
        replies = self.burst(a, "GET", "/v1/balance", None, 1000)
        statuses = [r.status for r in replies]
        self.assertEqual(statuses.count(200), 100)
        self.assertEqual(statuses.count(429), 900)
        for r in replies:
            if r.status == 429:
                self.assertProblem(r, 429)
                # a whole token takes 1000 s at 0.001 a second: Retry-After says so (ceil)
                self.assertTrue(990 <= int(r.headers["retry-after"]) <= 1000, r.headers)
        # per key: B is not throttled by A, and A stays throttled
        self.assertStatus(b.get("/v1/balance"), 200)
        self.assertProblem(a.get("/v1/balance"), 429)
        # the operator's key is not limited
        for _ in range(150):
            self.assertStatus(self.admin.get("/v1/platform"), 200)

    def test_creation_routes_are_stricter(self):
        _, a = make_tenant(self.server, credit=None)
        before = len(a.list_all("/v1/keys"))
        replies = self.burst(a, "POST", "/v1/keys", {}, 40)
        self.assertEqual(sorted(r.status for r in replies), [201] * 5 + [429] * 35)
        # nothing was created for the refused ones
        self.assertEqual(len(a.list_all("/v1/keys")), before + 5)
        # reads on the same key still go (the general bucket is not empty)
        self.assertStatus(a.get("/v1/balance"), 200)


class RateLimitRefillTest(ServerTestCase):
    args = ("--rate-limit", "5:5", "--rate-limit-create", "1:2")

    def run_until_refused(self, client, n=60):
        """Requests until one is refused: (how many passed, the refusal, the time the first
        was sent, the time the refusal was sent, the time it was answered)."""
        passed = 0
        t_first = time.time()
        for _ in range(n):
            t_sent = time.time()
            r = client.get("/v1/balance")
            if r.status == 429:
                return passed, r, t_first, t_sent, time.time()
            self.assertStatus(r, 200)
            passed += 1
        self.fail("never refused after %d requests" % n)

    def test_refills_at_the_stated_rate(self):
        """5 a second, bursts of 5. What passes is the bucket plus what refilled while the
        requests ran: at most one token when they are fast (as here on an idle machine), more
        on a slow one, so each bound counts the refill over the time the client measured
        (which holds the time the server saw)."""
        _, a = make_tenant(self.server, credit=None)

        def refill(seconds):
            return int(5 * seconds)

        passed, r, t0, t1, t2 = self.run_until_refused(a)
        # the bucket, and at most one token (more on a slow machine) refilled meanwhile
        self.assertTrue(5 <= passed <= 5 + max(1, refill(t2 - t0)), (passed, t2 - t0))
        self.assertProblem(r, 429)
        self.assertEqual(r.headers["retry-after"], "1")  # 1/5 s, rounded up
        time.sleep(0.6)  # 3 tokens at 5 a second
        prev_sent, prev_answered = t1, t2
        passed, _, t0, t1, t2 = self.run_until_refused(a)
        # the bucket was empty (under one token) at the refusal; from then to this refusal
        # at most 1 + 5/s refilled; from its answer to this run's first request at least
        # 5/s did (less one: a token may have been short of whole at either end)
        lo = min(5, refill(t0 - prev_answered)) - 1
        hi = 1 + refill(t2 - prev_sent)
        self.assertTrue(max(2, lo) <= passed <= max(4, hi), (passed, lo, hi))
        time.sleep(2.0)  # far more than a full refill: capped at the burst
        passed, _, t0, t1, t2 = self.run_until_refused(a)
        self.assertTrue(5 <= passed <= 5 + max(1, refill(t2 - t0)), (passed, t2 - t0))

    def test_public_routes_are_limited_per_address(self):
        # agent registration takes no key: the creation bucket of the client address (1 a
        # second, bursts of 2). The join tokens first (the admin is not limited), then the
        # registrations back to back until one is refused: two pass, then one is refused -
        # unless the machine is so slow that a second passed meanwhile and refilled a token
        tokens = [self.admin.post("/v1/join-tokens", {}).json["token"] for _ in range(8)]
        statuses = []
        t0 = time.time()
        for token in tokens:
            h = unique("rl")
            r = self.server.anon.post("/v1/agent/register", {
                "join_token": token, "hostname": h,
                "gpus": [{"index": 0, "uuid": "GPU-" + h, "model": "RL", "memory_mib": 1,
                          "nvlink_island": 0}]})
            statuses.append(r.status)
            if r.status != 201:
                break
        took = time.time() - t0
        self.assertEqual(statuses[:2], [201, 201])
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertEqual(statuses.count(201), len(statuses) - 1, statuses)
        # the burst, and what refilled while they ran (none on an idle machine: the third
        # is refused)
        self.assertLessEqual(statuses.count(201), 2 + int(took), (statuses, took))


class IdleTimeoutTest(ServerTestCase):
    args = ("--idle-timeout", "2")

    def closed_within(self, s, seconds):
        """Wait for the server to close s: the seconds it took, or None."""
        s.settimeout(seconds)
        t0 = time.time()
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    return time.time() - t0
        except (socket.timeout, TimeoutError):
            return None
        except OSError:
            return time.time() - t0

    def test_idle_connection_is_closed(self):
        s = socket.create_connection(("127.0.0.1", self.server.port))
        try:
            took = self.closed_within(s, 10)
            self.assertIsNotNone(took, "an idle connection was kept for 10 s")
            self.assertLess(took, 6)
        finally:
            s.close()

    def trickle(self, first, step, seconds=10):
        """Send first, then one byte of step every 0.5 s (never silent as long as the idle
        timeout): the seconds until the server cut the connection, or None."""
        s = socket.create_connection(("127.0.0.1", self.server.port))
        try:
            s.sendall(first)
            t0 = time.time()
            i = 0
            while time.time() - t0 < seconds:
                time.sleep(0.5)
                try:
                    s.sendall(step[i % len(step):i % len(step) + 1])
                except OSError:
                    return time.time() - t0
                i += 1
                s.settimeout(0.01)
                try:
                    b = s.recv(4096)
                    if b == b"" or b.startswith(b"HTTP/1.1 408"):
                        return time.time() - t0
                except (socket.timeout, TimeoutError):
                    pass
                except OSError:
                    return time.time() - t0
            return None
        finally:
            s.close()

    def test_slowloris_is_cut_off(self):
        # headers trickled a byte every 0.5 s: never idle for 2 s, but the request is not
        # whole 2 s after the connection opened, so it is cut
        took = self.trickle(b"GET /v1/platform HTTP/1.1\r\nHost: x\r\n", b"X-Slow: y\r\n")
        self.assertIsNotNone(took, "a trickled request was kept open for 10 s")
        self.assertLess(took, 5)
        # the same with a body trickled after complete headers
        took = self.trickle(b"POST /v1/agent/register HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                            b"{}      ")
        self.assertIsNotNone(took, "a trickled body was kept open for 10 s")
        self.assertLess(took, 5)
        # and a body trickled after an early answer (401: no key) is no way to hold on either
        took = self.trickle(b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                            b"{}      ")
        self.assertIsNotNone(took, "a body trickled after a 401 was kept open for 10 s")
        self.assertLess(took, 5)
        # and the server is fine
        self.assertStatus(self.admin.get("/v1/platform"), 200)

    def test_keep_alive_requests_each_get_the_full_time(self):
        # a client that sends whole requests on one connection, 1 s apart, for 4 s: each
        # request is on time, so the connection is not cut
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            for _ in range(5):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
                time.sleep(1.0)
        finally:
            conn.close()

    def test_parked_heartbeat_outlives_the_idle_timeout(self):
        agent = FakeAgent(self.server, unique("IDLE"), gpus=1)
        t0 = time.time()
        r = agent.client.post("/v1/agent/heartbeat?wait=4", {"telemetry": [], "rentals": []},
                              timeout=15)
        took = time.time() - t0
        self.assertStatus(r, 200)
        self.assertGreaterEqual(took, 3.5, "the long-poll was not held")
        self.assertLess(took, 10)
        # and a live connection still works after the timeout passed for another
        self.assertStatus(self.admin.get("/v1/platform"), 200)


if __name__ == "__main__":
    unittest.main()
