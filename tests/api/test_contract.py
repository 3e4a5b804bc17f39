"""API: the server against the contract (shared/API.md) as a new user meets it.

Each case is a discrepancy a careful outside client found by driving the real server with only
API.md in hand; it asserts what the contract (or HTTP itself) says, exactly.
"""

import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, FakeAgent, make_tenant, set_price, unique,  # noqa: E402
                     micros, request)


class ContractTest(ServerTestCase):

    # ---- the description itself ---------------------------------------------------------

    def test_openapi_refs_resolve_and_no_mapping_repeats_a_key(self):
        # the Tenant schema's name line was lost once: every $ref to it dangled, and its
        # fields silently replaced Platform's (a YAML mapping that repeats a key)
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                            "openapi.yaml")
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        key_re = re.compile(r"^( *)(- )?([A-Za-z0-9_$'/{}.-]+):(?: |$)(.*)$")
        defined, stack, scalar_indent, top = set(), [], None, {}
        for n, line in enumerate(lines, 1):
            stripped = line.strip()
            indent = len(line) - len(line.lstrip(" "))
            if scalar_indent is not None:
                if not stripped or indent > scalar_indent:
                    continue  # inside a block scalar (| or >)
                scalar_indent = None
            m = key_re.match(line)
            if not stripped or stripped.startswith("#") or not m:
                continue  # a list item of scalars, or a flow continuation
            if m.group(2):  # "- key:": each list item is a new mapping
                indent += 2
                while stack and stack[-1][0] >= indent:
                    stack.pop()
            while stack and stack[-1][0] > indent:
                stack.pop()
            if not stack or stack[-1][0] < indent:
                stack.append((indent, set()))
            key = m.group(3)
            self.assertNotIn(key, stack[-1][1], "openapi.yaml:%d repeats the key %r" % (n, key))
            stack[-1][1].add(key)
            top[indent] = key
            if indent == 4 and top.get(0) == "components":
                defined.add("%s/%s" % (top[2], key))
            if m.group(4).strip() in ("|", ">", "|-", ">-", "|+", ">+"):
                scalar_indent = indent
        refs = set(re.findall(r"\$ref: '#/components/([A-Za-z]+/[A-Za-z0-9_]+)'",
                              "\n".join(lines)))
        self.assertGreater(len(refs), 20)
        self.assertEqual(sorted(r for r in refs if r not in defined), [])

    # ---- HTTP: HEAD and 405 ------------------------------------------------------------

    def test_head_is_a_get_without_the_body(self):
        # RFC 9110: a server that answers GET answers HEAD the same way, without the body
        get = request(self.server.port, "GET", "/healthz")
        head = request(self.server.port, "HEAD", "/healthz")
        self.assertStatus(get, 200)
        self.assertStatus(head, 200)
        self.assertEqual(head.raw, b"")
        self.assertEqual(head.content_type, "application/json")
        self.assertEqual(head.headers.get("content-length"), str(len(get.raw)))
        # a keyed route: the key and role are checked as for GET
        r = request(self.server.port, "HEAD", "/v1/tenants", key=self.server.admin_key)
        self.assertStatus(r, 200)
        self.assertEqual(r.raw, b"")
        r = request(self.server.port, "HEAD", "/v1/tenants")
        self.assertStatus(r, 401)
        # HEAD only stands in for GET: a POST-only path still refuses it
        r = request(self.server.port, "HEAD", "/v1/quotes", key=self.server.admin_key)
        self.assertStatus(r, 405)
        self.assertEqual(r.headers.get("allow"), "POST")

    def test_405_says_which_methods_the_path_takes(self):
        # RFC 9110 15.5.6: a 405 carries Allow
        r = self.admin.delete("/v1/tenants")
        self.assertProblem(r, 405)
        self.assertEqual(r.headers.get("allow"), "POST, GET, HEAD")
        self.assertEqual(r.json["detail"],
                         "method DELETE is not allowed on /v1/tenants (allowed: POST, GET, HEAD)")
        r = self.admin.get("/v1/rentals/rnt_9wdvsq5zmmz0n/stop")
        self.assertProblem(r, 405)
        self.assertEqual(r.headers.get("allow"), "POST")
        r = self.admin.post("/v1/tenants/tnt_9wdvsq5zmmz0n", {})
        self.assertProblem(r, 405)
        self.assertEqual(r.headers.get("allow"), "GET, HEAD, PATCH")

    def test_the_bearer_scheme_is_case_insensitive(self):
        # RFC 9110 11.1: the auth scheme is case-insensitive; 1*SP separates it from the key
        key = self.server.admin_key
        for value in ("bearer " + key, "BEARER " + key, "Bearer   " + key):
            r = request(self.server.port, "GET", "/v1/platform",
                        headers={"Authorization": value})
            self.assertStatus(r, 200, value)
            self.assertEqual(r.json["role"], "admin")
        for value in ("Basic " + key, "Bearer", "bearer", key):
            r = request(self.server.port, "GET", "/v1/platform",
                        headers={"Authorization": value})
            self.assertProblem(r, 401, msg=value)
            self.assertEqual(r.json["detail"], "missing API key: send Authorization: Bearer <key>")
        r = request(self.server.port, "GET", "/v1/platform",
                    headers={"Authorization": "bearer gpr_nope"})
        self.assertProblem(r, 401)
        self.assertEqual(r.json["detail"], "malformed API key")

    def test_a_compressed_body_is_415_not_a_json_error(self):
        import gzip
        before = len(self.server.admin.list_all("/v1/tenants"))
        r = self.admin.post("/v1/tenants", raw=gzip.compress(b'{"name":"zipped"}'),
                            headers={"Content-Encoding": "gzip"})
        self.assertProblem(r, 415)
        self.assertEqual(r.json["detail"],
                         "Content-Encoding gzip is not supported: send the body as is")
        self.assertEqual(r.headers.get("accept-encoding"), "identity")
        self.assertEqual(len(self.server.admin.list_all("/v1/tenants")), before)
        r = self.admin.post("/v1/tenants", {"name": unique("plain")},
                            headers={"Content-Encoding": "identity"})
        self.assertStatus(r, 201)

    def test_a_nul_in_a_string_is_refused_in_the_clients_words(self):
        before = len(self.server.admin.list_all("/v1/tenants"))
        r = self.admin.post("/v1/tenants", raw=b'{"name":"a\\u0000b"}')
        self.assertProblem(r, 400)
        self.assertEqual(r.json["detail"],
                         "request body: line 1 column 18: \\u0000 is not allowed in a string")
        self.assertEqual(len(self.server.admin.list_all("/v1/tenants")), before)

    # ---- lists: every list takes limit and cursor ----------------------------------------

    def page_through(self, client, path, sep="?"):
        items, cursor, pages = [], None, 0
        while True:
            q = path + sep + "limit=1" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
            r = client.get(q)
            self.assertStatus(r, 200, q)
            self.assertLessEqual(len(r.json["data"]), 1, q)
            items.extend(r.json["data"])
            pages += 1
            cursor = r.json["next_cursor"]
            if cursor is None:
                return items, pages
            self.assertIsInstance(cursor, str)

    def test_prices_and_offers_take_limit_and_cursor(self):
        models = [unique("PAGE GPU") for _ in range(3)]  # a space: the cursor is URL-encoded
        for m in models:
            r = self.admin.put("/v1/prices/" + urllib.parse.quote(m), {"on_demand_hourly": "2.00"})
            self.assertStatus(r, 200)
        _, tenant = make_tenant(self.server, credit=None)

        whole = self.admin.get("/v1/prices?limit=500")
        self.assertStatus(whole, 200)
        names = [p["gpu_model"] for p in whole.json["data"]]
        self.assertIsNone(whole.json["next_cursor"])
        self.assertEqual(names[-3:], models)
        items, pages = self.page_through(self.admin, "/v1/prices")
        self.assertEqual([p["gpu_model"] for p in items], names)
        self.assertEqual(pages, len(names))

        whole = tenant.get("/v1/offers")
        offers = [o["gpu_model"] for o in whole.json["data"]]
        self.assertEqual(offers, names)  # every priced model has an offer, in the same order
        items, pages = self.page_through(tenant, "/v1/offers")
        self.assertEqual([o["gpu_model"] for o in items], offers)
        # limit=2 from the second-to-last model's cursor: the last one, and no more
        r = tenant.get("/v1/offers?limit=2&cursor=" + urllib.parse.quote(models[1]))
        self.assertStatus(r, 200)
        self.assertEqual([o["gpu_model"] for o in r.json["data"]], [models[2]])
        self.assertIsNone(r.json["next_cursor"])
        # filters apply before the page is cut
        r = tenant.get("/v1/offers?limit=1&gpu_model=" + urllib.parse.quote(models[2]))
        self.assertEqual([o["gpu_model"] for o in r.json["data"]], [models[2]])
        self.assertIsNone(r.json["next_cursor"])

        for path in ("/v1/prices", "/v1/offers"):
            r = tenant.get(path + "?limit=0")
            self.assertProblem(r, 400, "limit")
            r = tenant.get(path + "?limit=501")
            self.assertProblem(r, 400, "limit")
            r = tenant.get(path + "?cursor=NO-SUCH-GPU")
            self.assertProblem(r, 400, "cursor")

    # ---- rentals ------------------------------------------------------------------------

    def test_an_ended_rental_stays_simulated(self):
        model = unique("SIMGPU")
        set_price(self.server, model, "4.00")
        sim = FakeAgent(self.server, model, gpus=2, hostname=unique("SIM"))  # GPU-SIM-... uuids
        self.assertTrue(sim.uuids[0].startswith("GPU-SIM-"))
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        self.assertIs(r.json["simulated"], True)
        sim.run(rid)
        r = tenant.post("/v1/rentals/%s/stop" % rid)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["state"], "ended")
        self.assertEqual(r.json["gpus"], [])  # it holds none now (openapi: the GPUs it holds)
        self.assertIs(r.json["simulated"], True)
        self.assertIs(tenant.get("/v1/rentals/" + rid).json["simulated"], True)

        real_model = unique("REALGPU")
        set_price(self.server, real_model, "4.00")
        FakeAgent(self.server, real_model, gpus=1)
        r = tenant.post("/v1/rentals", {"gpu_model": real_model, "gpu_count": 1,
                                        "term": "on_demand"})
        self.assertStatus(r, 201)
        self.assertIs(r.json["simulated"], False)
        r = tenant.post("/v1/rentals/%s/stop" % r.json["id"])
        self.assertIs(r.json["simulated"], False)

    def test_a_rental_shows_the_limits_it_was_created_with(self):
        # max_cost and max_duration_seconds end a rental: GET shows them, as created
        model = unique("LIMGPU")
        set_price(self.server, model, "4.00")
        FakeAgent(self.server, model, gpus=2)
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand",
                                        "max_cost": "12.50", "max_duration_seconds": 5400})
        self.assertStatus(r, 201)
        self.assertEqual((r.json["max_cost"], r.json["max_duration_seconds"]), ("12.50", 5400))
        got = tenant.get("/v1/rentals/" + r.json["id"]).json
        self.assertEqual((got["max_cost"], got["max_duration_seconds"]), ("12.50", 5400))
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        self.assertEqual((r.json["max_cost"], r.json["max_duration_seconds"]), (None, None))

    def test_a_model_without_hosts_has_no_capacity(self):
        # priced, but no host has registered its GPUs yet: no capacity (409), not a 400 that
        # says "gpu_count: must be 1 to 0"
        model = unique("NOHOST")
        set_price(self.server, model, "3.00")
        tid, tenant = make_tenant(self.server, credit="100.00")
        want = 'no capacity: no host with %s GPUs is registered' % model
        body = {"gpu_model": model, "gpu_count": 1, "term": "on_demand"}
        r = tenant.post("/v1/rentals", body)
        self.assertProblem(r, 409)
        self.assertEqual(r.json["detail"], want)
        r = tenant.post("/v1/rentals", dict(body, queue=True))
        self.assertProblem(r, 409)
        self.assertEqual(r.json["detail"], want + "; there is nothing to queue for")
        r = tenant.post("/v1/quotes", body)
        self.assertProblem(r, 409)
        self.assertEqual(r.json["detail"], want)
        # nothing changed
        self.assertEqual(tenant.get("/v1/rentals").json["data"], [])
        b = tenant.get("/v1/balance").json
        self.assertEqual((b["balance"], b["live_rentals"]), ("100.00", 0))
        # a bad count is still the count's fault
        r = tenant.post("/v1/rentals", dict(body, gpu_count=0))
        self.assertProblem(r, 400, "gpu_count")

    def test_a_refunded_package_gives_its_monthly_budget_back(self):
        # a package stopped at once is refunded in full: the month's statement nets to 0, and
        # so must the month's spend that the monthly budget caps
        model = unique("PKGGPU")
        set_price(self.server, model, "10.00", packages={"day": "200.00"})
        agent = FakeAgent(self.server, model, gpus=1)
        tid, tenant = make_tenant(self.server, credit="1000.00")
        self.assertStatus(self.admin.patch("/v1/tenants/" + tid, {"monthly_budget": "300.00"}),
                          200)
        body = {"gpu_model": model, "gpu_count": 1, "term": "day"}
        r = tenant.post("/v1/rentals", body)
        self.assertStatus(r, 201)
        rid = r.json["id"]
        self.assertEqual(tenant.get("/v1/balance").json["month_spent"], "200.00")
        agent.run(rid)
        r = tenant.post("/v1/rentals/%s/stop" % rid)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["cost"], "0.00")
        usage = tenant.get("/v1/usage").json
        self.assertEqual([(line["kind"], line["amount"]) for line in usage["data"]],
                         [("package", "200.00"), ("refund", "-200.00")])
        self.assertEqual(usage["total"], "0.00")
        b = tenant.get("/v1/balance").json
        self.assertEqual((b["balance"], b["month_spent"]), ("1000.00", "0.00"))
        # the budget is whole again: another package fits, and the spend counts it once
        r = tenant.post("/v1/rentals", body)
        self.assertStatus(r, 201)
        self.assertEqual(tenant.get("/v1/balance").json["month_spent"], "200.00")
        r = tenant.post("/v1/rentals", body)  # 100.00 left: the budget still binds
        self.assertProblem(r, 402)
        self.assertEqual(r.json["detail"], "monthly budget: 100.00 left, 200.00 needed")

    def test_stopping_another_tenants_rental_names_it_as_get_does(self):
        model = unique("STOPGPU")
        set_price(self.server, model, "3.00")
        agent = FakeAgent(self.server, model, gpus=1)
        _, owner = make_tenant(self.server)
        _, other = make_tenant(self.server)
        r = owner.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        agent.run(rid)
        got = other.get("/v1/rentals/" + rid)
        stop = other.post("/v1/rentals/%s/stop" % rid)
        self.assertProblem(got, 404)
        self.assertProblem(stop, 404)
        self.assertEqual(stop.json["detail"], 'unknown rental "%s"' % rid)
        self.assertEqual(stop.json["detail"], got.json["detail"])
        self.assertEqual(owner.get("/v1/rentals/" + rid).json["state"], "running")

    def test_a_misspelt_filter_is_refused_not_ignored(self):
        # the body refuses unknown fields; a query argument that is no filter of the route
        # was ignored, so ?status=running listed every rental, ended ones included
        _, tenant = make_tenant(self.server)
        key = self.server.admin_key
        cases = [("/v1/rentals?status=running", "status", tenant.key),
                 ("/v1/rentals?state=running&tenat_id=tnt_9wdvsq5zmmz0n", "tenat_id", key),
                 ("/v1/hosts?model=A100-80G", "model", key),
                 ("/v1/offers?gpus=2", "gpus", tenant.key),
                 ("/v1/prices?gpu_model=A100-80G", "gpu_model", key),
                 ("/v1/tenants?name=acme", "name", key),
                 ("/v1/keys?role=admin", "role", key),
                 ("/v1/coupons?code=X", "code", key),
                 ("/v1/usage?month=2026-11", "month", tenant.key),
                 ("/v1/invoices/2026-11?from=2026-11-01T00:00:00Z", "from", tenant.key),
                 ("/v1/economics?gpu_model=A100-80G", "gpu_model", key),
                 ("/v1/economics/series?bucket=day", "bucket", key)]
        for path, name, k in cases:
            r = request(self.server.port, "GET", path, key=k)
            self.assertProblem(r, 400, msg=path)
            self.assertEqual(r.json["detail"], 'unknown query parameter "%s"' % name, path)
        # every documented one still works
        for path, k in (("/v1/rentals?state=running&limit=5", tenant.key),
                        ("/v1/hosts?state=ready&gpu_model=X&limit=5", key),
                        ("/v1/offers?gpu_model=X&gpu_count=1&limit=5", tenant.key),
                        ("/v1/usage?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&format=csv",
                         tenant.key),
                        ("/v1/invoices/2026-11?format=json", tenant.key),
                        ("/v1/economics?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z", key),
                        ("/v1/economics/series?step=day&from=2026-11-01T00:00:00Z", key)):
            self.assertStatus(request(self.server.port, "GET", path, key=k), 200, path)

    def test_the_tenant_filter_has_one_name_for_every_route(self):
        # usage took ?tenant= (API.md), rentals and keys ?tenant_id=; GET /v1/rentals?tenant=
        # was ignored and listed every tenant's rentals
        model = unique("FILTERGPU")
        set_price(self.server, model, "3.00")
        agent = FakeAgent(self.server, model, gpus=2)
        ta, a = make_tenant(self.server)
        tb, b = make_tenant(self.server)
        for client in (a, b):
            r = client.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1,
                                            "term": "on_demand"})
            self.assertStatus(r, 201)
            agent.run(r.json["id"])
        for name in ("tenant", "tenant_id"):
            rentals = self.admin.get("/v1/rentals?%s=%s" % (name, ta)).json["data"]
            self.assertEqual([x["tenant_id"] for x in rentals], [ta], name)
            keys = self.admin.get("/v1/keys?%s=%s" % (name, ta)).json["data"]
            self.assertEqual(set(k["tenant_id"] for k in keys), {ta}, name)
            usage = self.admin.get("/v1/usage?%s=%s" % (name, ta))
            self.assertStatus(usage, 200, name)
            self.assertEqual(usage.json["tenant_id"], ta)
            inv = self.admin.get("/v1/invoices/2026-11?%s=%s" % (name, tb))
            self.assertStatus(inv, 200, name)
            self.assertEqual(inv.json["tenant_id"], tb)
        for path in ("/v1/rentals", "/v1/keys", "/v1/usage", "/v1/invoices/2026-11"):
            r = self.admin.get("%s?tenant=%s&tenant_id=%s" % (path, ta, tb))
            self.assertProblem(r, 400, msg=path)
            self.assertEqual(r.json["detail"],
                             "tenant_id: tenant and tenant_id name different tenants")
            r = self.admin.get("%s?tenant=%s&tenant_id=%s" % (path, ta, ta))
            self.assertStatus(r, 200, path)

    # ---- economics ----------------------------------------------------------------------

    def test_a_model_that_earned_nothing_has_no_margin(self):
        # its costs over zero revenue are not a 0 margin; null, like payback_years
        model = unique("IDLEGPU")
        set_price(self.server, model, "5.00")
        agent = FakeAgent(self.server, model, gpus=2)
        self.assertStatus(self.admin.put("/v1/hosts/%s/cost" % agent.host_id, {
            "purchase_price": "200000.00", "purchased_at": "2026-01-01T00:00:00Z",
            "depreciation_years": 5, "power_watts": 800, "pue": 1.3,
            "electricity_kwh_price": "0.60", "hosting_monthly": "1000.00"}), 200)
        r = self.admin.get("/v1/economics")
        self.assertStatus(r, 200)
        line = [m for m in r.json["models"] if m["gpu_model"] == model]
        self.assertEqual(len(line), 1)
        self.assertEqual((line[0]["revenue"], line[0]["gpus"]), ("0.00", 2))
        self.assertIsNone(line[0]["gross_margin"])
        self.assertIsNone(line[0]["payback_years"])
        # once it earns, the margin is a number again
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 2, "term": "on_demand"})
        self.assertStatus(r, 201)
        agent.run(r.json["id"])
        time.sleep(1.1)
        agent.heartbeat()  # billing runs to the host's last report
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % r.json["id"]), 200)
        r = self.admin.get("/v1/economics")
        line = [m for m in r.json["models"] if m["gpu_model"] == model][0]
        self.assertGreater(micros(line["revenue"]), 0)
        self.assertIsInstance(line["gross_margin"], float)

    # ---- catalogue -----------------------------------------------------------------------

    def test_a_created_coupon_reads_as_the_list_shows_it(self):
        code = unique("NEW")
        r = self.admin.post("/v1/coupons", {"code": code, "percent_off": 20,
                                            "max_redemptions": 3})
        self.assertStatus(r, 201)
        listed = [c for c in self.server.admin.list_all("/v1/coupons") if c["code"] == code]
        self.assertEqual(len(listed), 1)
        self.assertEqual(r.json, listed[0])
        self.assertEqual(r.json["redemptions"], 0)

    def test_a_quote_names_the_promotion_it_applies(self):
        # a discount with "coupon": null left the tenant guessing where it came from
        model = unique("PROMOGPU")
        set_price(self.server, model, "10.00")
        promo, code = unique("AUTO10"), unique("CODE20")
        self.assertStatus(self.admin.post("/v1/coupons", {
            "code": promo, "percent_off": 10, "automatic": True, "gpu_model": model}), 201)
        self.assertStatus(self.admin.post("/v1/coupons", {
            "code": code, "percent_off": 20, "gpu_model": model}), 201)
        FakeAgent(self.server, model, gpus=1)
        _, tenant = make_tenant(self.server)
        body = {"gpu_model": model, "gpu_count": 1, "term": "on_demand"}
        q = tenant.post("/v1/quotes", body)
        self.assertStatus(q, 200)
        self.assertEqual((q.json["coupon"], q.json["hourly_price"], q.json["discount"]),
                         (promo, "9.00", "1.00"))
        q = tenant.post("/v1/quotes", dict(body, coupon=code))
        self.assertEqual((q.json["coupon"], q.json["hourly_price"], q.json["discount"]),
                         (code, "8.00", "2.00"))
        other = unique("PLAINGPU")
        set_price(self.server, other, "10.00")
        FakeAgent(self.server, other, gpus=1)
        q = tenant.post("/v1/quotes", dict(body, gpu_model=other))
        self.assertEqual((q.json["coupon"], q.json["discount"]), (None, "0.00"))
        # the rental is priced as quoted
        r = tenant.post("/v1/rentals", body)
        self.assertStatus(r, 201)
        self.assertEqual(r.json["hourly_price"], "9.00")

    def test_pricing_refusals_name_the_field(self):
        # API.md: a 400's detail names the field
        model = unique("FIELDGPU")
        set_price(self.server, model, "10.00", spot_floor="4.00")
        other = unique("OTHERGPU")
        set_price(self.server, other, "10.00")
        FakeAgent(self.server, model, gpus=1)
        code = unique("ONLYOTHER")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "percent_off": 10,
                                                          "gpu_model": other}), 201)
        _, tenant = make_tenant(self.server)
        base = {"gpu_model": model, "gpu_count": 1}
        cases = [
            (dict(base, term="spot", max_hourly="1.00"),
             "max_hourly: 1.00 is below the spot floor 4.00"),
            (dict(base, term="day"), "term: day is not offered for %s" % model),
            (dict(base, term="on_demand", coupon="NO-SUCH-CODE"),
             'coupon: unknown code "NO-SUCH-CODE"'),
            (dict(base, term="on_demand", coupon=code),
             'coupon: "%s" is only for %s' % (code, other)),
        ]
        for body, detail in cases:
            for path in ("/v1/quotes", "/v1/rentals"):
                r = tenant.post(path, body)
                self.assertProblem(r, 400, msg="%s %r" % (path, body))
                self.assertEqual(r.json["detail"], detail, "%s %r" % (path, body))
        self.assertEqual(tenant.get("/v1/rentals").json["data"], [])


class DownHostContractTest(ServerTestCase):
    args = ("--heartbeat-timeout", "1", "--lost-after", "600")

    def test_a_down_host_has_no_free_gpus(self):
        # its gpus[] are all `unavailable`; free_gpus said 1 of them was free
        model = unique("DOWNGPU")
        set_price(self.server, model, "3.00")
        agent = FakeAgent(self.server, model, gpus=2)
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": model, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        agent.run(r.json["id"])
        host = self.admin.get("/v1/hosts/" + agent.host_id).json
        self.assertEqual((host["state"], host["free_gpus"]), ("ready", 1))
        deadline = time.time() + 10
        while host["state"] != "down" and time.time() < deadline:
            time.sleep(0.2)
            host = self.admin.get("/v1/hosts/" + agent.host_id).json
        self.assertEqual(host["state"], "down")
        self.assertEqual([g["state"] for g in host["gpus"]], ["unavailable", "unavailable"])
        self.assertEqual(host["free_gpus"], 0)
        listed = [h for h in self.server.admin.list_all("/v1/hosts") if h["id"] == agent.host_id]
        self.assertEqual(listed[0]["free_gpus"], 0)
        agent.heartbeat()  # back within lost_after: its rental resumes, one GPU is free again
        host = self.admin.get("/v1/hosts/" + agent.host_id).json
        self.assertEqual((host["state"], host["free_gpus"]), ("ready", 1))
        self.assertEqual(sorted(g["state"] for g in host["gpus"]), ["allocated", "free"])


class MetricsAdminTest(ServerTestCase):
    # API.md: GET /metrics is public, "configurable"; there was no way to configure it
    args = ("--metrics", "admin")

    def test_metrics_want_an_admin_key(self):
        _, tenant = make_tenant(self.server, credit=None)
        r = request(self.server.port, "GET", "/metrics")
        self.assertProblem(r, 401)
        self.assertEqual(r.headers.get("www-authenticate"), "Bearer")
        r = request(self.server.port, "GET", "/metrics", key="gpr_" + "x" * 36)
        self.assertProblem(r, 401)
        r = request(self.server.port, "GET", "/metrics", key=tenant.key)
        self.assertProblem(r, 403)
        self.assertEqual(r.json["detail"], "GET /metrics is for admin keys (serve --metrics admin)")
        r = request(self.server.port, "GET", "/metrics", key=self.server.admin_key)
        self.assertStatus(r, 200)
        self.assertIn("\ngpurent_rentals_live 0\n", "\n" + r.text)
        self.assertStatus(request(self.server.port, "GET", "/healthz"), 200)  # still public


class MetricsOffTest(ServerTestCase):
    args = ("--metrics", "off")

    def test_metrics_are_not_served(self):
        for key in (None, self.server.admin_key):
            r = request(self.server.port, "GET", "/metrics", key=key)
            self.assertProblem(r, 404)
            self.assertEqual(r.json["detail"], "no such route: GET /metrics (serve --metrics off)")

    def test_a_bad_value_is_refused_at_start(self):
        import subprocess
        from harness import binary
        p = subprocess.run([binary(), "serve", "--metrics", "private", "--listen",
                            "127.0.0.1:1", "--data-dir", self.server.tmp + "/unused"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--metrics must be public, admin or off", p.stderr)


if __name__ == "__main__":
    unittest.main()
