"""API: prices, offers, quotes, coupons, and the economics (the brief's what-if figures)."""

import os
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, FakeAgent, make_tenant, set_price, unique,  # noqa: E402
                     money, prorate, micros)


class CatalogueTest(ServerTestCase):

    def prices(self):
        r = self.admin.get("/v1/prices")
        self.assertStatus(r, 200)
        data = r.json["data"] if isinstance(r.json, dict) and "data" in r.json else r.json
        return {p["gpu_model"]: p for p in data}

    def offer(self, client, model):
        r = client.get("/v1/offers?gpu_model=" + model)
        self.assertStatus(r, 200)
        data = r.json["data"] if isinstance(r.json, dict) and "data" in r.json else r.json
        got = [o for o in data if o["gpu_model"] == model]
        return got[0] if got else None

    def test_prices(self):
        model = unique("GPU")
        r = set_price(self.server, model, "7.60", spot_floor="3.00",
                      packages={"day": "150.00", "week": "900.00", "month": "3000.00"})
        self.assertStatus(r, 200)
        p = self.prices()[model]
        self.assertEqual(p["on_demand_hourly"], "7.60")
        self.assertEqual(p["spot_floor_hourly"], "3.00")
        self.assertEqual(p["packages"], {"day": "150.00", "week": "900.00", "month": "3000.00"})
        # any role reads them
        _, tenant = make_tenant(self.server, credit=None)
        r = tenant.get("/v1/prices")
        self.assertStatus(r, 200)
        # a new PUT replaces them
        set_price(self.server, model, "15.10")
        p = self.prices()[model]
        self.assertEqual(p["on_demand_hourly"], "15.10")

    def test_price_bad_input_changes_nothing(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60", spot_floor="3.00", packages={"day": "150.00"})
        before = self.prices()
        cases = [
            ({"on_demand_hourly": 7.6}, "on_demand_hourly"),
            ({"on_demand_hourly": "0"}, "on_demand_hourly"),
            ({"on_demand_hourly": "-7.60"}, "on_demand_hourly"),
            ({"on_demand_hourly": "7,60"}, "on_demand_hourly"),
            ({}, "on_demand_hourly"),
            ({"on_demand_hourly": "7.60", "spot_floor_hourly": 3}, "spot_floor_hourly"),
            ({"on_demand_hourly": "7.60", "packages": {"day": 150}}, "day"),
            ({"on_demand_hourly": "7.60", "packages": {"year": "1.00"}}, "year"),
            ({"on_demand_hourly": "7.60", "packages": []}, "packages"),
            ({"on_demand_hourly": "7.60", "discount": "1"}, "discount"),
        ]
        for body, field in cases:
            r = self.admin.put("/v1/prices/" + model, body)
            self.assertProblem(r, 400, field, msg="PUT prices %r" % body)
        self.assertEqual(self.prices(), before)

    def test_price_model_in_the_path_must_be_text(self):
        # the path is percent-decoded: a model name that is not UTF-8 text cannot be written to
        # the command log (JSON), so it must be refused before the engine takes it (the server
        # used to exit 70 on PUT /v1/prices/%FF, an admin-triggered crash)
        before = self.prices()
        for path in ("/v1/prices/%FF", "/v1/prices/GPU%C3", "/v1/prices/%C0%AF",
                     "/v1/prices/a%0Ab"):
            r = self.admin.put(path, {"on_demand_hourly": "1.00"})
            self.assertProblem(r, 400, "gpu_model", msg="PUT " + path)
            self.assertIsNone(self.server.proc.poll(), "the server exited on PUT " + path)
        self.assertEqual(self.prices(), before)
        # UTF-8 text is a name like any other
        model = unique("GPU") + "\u00e9"
        r = self.admin.put("/v1/prices/" + urllib.parse.quote(model), {"on_demand_hourly": "1.00"})
        self.assertStatus(r, 200)
        self.assertEqual(self.prices()[model]["on_demand_hourly"], "1.00")

    def test_offers(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60", spot_floor="3.00", packages={"day": "150.00"})
        FakeAgent(self.server, model, gpus=8, memory_mib=81920)
        FakeAgent(self.server, model, gpus=4, memory_mib=81920)
        _, tenant = make_tenant(self.server, credit=None)
        for c in (tenant, self.admin):
            o = self.offer(c, model)
            self.assertIsNotNone(o, "no offer for %s" % model)
            self.assertEqual(o["memory_mib"], 81920)
            self.assertEqual(o["available_gpus"], 12)
            self.assertEqual(o["max_gpus_per_host"], 8)
            self.assertEqual(o["on_demand_hourly"], "7.60")
            self.assertEqual(o["spot_floor_hourly"], "3.00")
            self.assertEqual(o["packages"]["day"], "150.00")
        # a filter by count leaves out models that cannot take it now
        r = tenant.get("/v1/offers?gpu_model=%s&gpu_count=9" % model)
        self.assertStatus(r, 200)
        data = r.json["data"] if isinstance(r.json, dict) else r.json
        self.assertEqual([o for o in data if o["gpu_model"] == model], [])

    def test_quotes(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60", spot_floor="3.00",
                  packages={"day": "150.00", "week": "900.00", "month": "3000.00"})
        FakeAgent(self.server, model, gpus=8)
        tid, tenant = make_tenant(self.server)

        def quote(**body):
            b = {"gpu_model": model}
            b.update(body)
            return tenant.post("/v1/quotes", b)

        r = quote(gpu_count=2, term="on_demand", duration_seconds=3600)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["hourly_price"], "7.60")
        self.assertEqual(r.json["hourly_total"], "15.20")
        self.assertEqual(r.json["total"], "15.20")
        self.assertEqual(r.json["discount"], "0.00")
        for secs in (1, 59, 86399, 3 * 86400 + 7):
            r = quote(gpu_count=1, term="on_demand", duration_seconds=secs)
            self.assertStatus(r, 200)
            self.assertEqual(r.json["total"], money(prorate(7600000, secs * 10**6)),
                             "1 GPU for %d s" % secs)
        r = quote(gpu_count=3, term="on_demand", duration_seconds=59)
        self.assertEqual(r.json["total"], money(prorate(3 * 7600000, 59 * 10**6)))
        r = quote(gpu_count=2, term="day")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["total"], "300.00")
        r = quote(gpu_count=1, term="month")
        self.assertEqual(r.json["total"], "3000.00")
        r = quote(gpu_count=2, term="spot", max_hourly="4.00", duration_seconds=3600)
        self.assertStatus(r, 200)
        self.assertEqual(r.json["hourly_price"], "4.00")
        self.assertEqual(r.json["total"], "8.00")
        # a quote changes nothing
        self.assertEqual(self.admin.get("/v1/tenants/" + tid).json["balance"], "1000.00")
        self.assertEqual(self.offer(tenant, model)["available_gpus"], 8)

        bad = [
            (dict(gpu_count=2, term="on_demand", duration_seconds="3600"), "duration_seconds"),
            (dict(gpu_count=2, term="on_demand", duration_seconds=-1), "duration_seconds"),
            (dict(gpu_count=0, term="on_demand", duration_seconds=60), "gpu_count"),
            (dict(gpu_count=9, term="on_demand", duration_seconds=60), "gpu_count"),
            (dict(gpu_count="2", term="on_demand", duration_seconds=60), "gpu_count"),
            (dict(gpu_count=2, term="yearly", duration_seconds=60), "term"),
            (dict(gpu_count=2, term="spot", max_hourly="2.99", duration_seconds=60),
             "max_hourly"),
            (dict(gpu_count=2, term="spot", max_hourly=4, duration_seconds=60), "max_hourly"),
        ]
        for body, field in bad:
            self.assertProblem(quote(**body), 400, field, msg="quote %r" % body)
        r = tenant.post("/v1/quotes", {"gpu_model": "NO-SUCH-GPU", "gpu_count": 1,
                                       "term": "on_demand", "duration_seconds": 60})
        self.assertProblem(r, 400, "gpu_model")

    def test_coupon_percent_off_in_quote(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60")
        FakeAgent(self.server, model, gpus=8)
        _, tenant = make_tenant(self.server)
        code = unique("SAVE").replace("-", "").upper()
        r = self.admin.post("/v1/coupons", {"code": code, "percent_off": 25})
        self.assertStatus(r, 201)
        self.assertRegex(r.json["id"], r"^cpn_")
        r = tenant.post("/v1/quotes", {"gpu_model": model, "gpu_count": 2, "term": "on_demand",
                                       "duration_seconds": 3600, "coupon": code})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["hourly_price"], "5.70")
        self.assertEqual(r.json["hourly_total"], "11.40")
        self.assertEqual(r.json["total"], "11.40")
        self.assertEqual(r.json["discount"], "3.80")
        r = tenant.post("/v1/quotes", {"gpu_model": model, "gpu_count": 2, "term": "on_demand",
                                       "duration_seconds": 3600, "coupon": "NOSUCHCOUPON"})
        self.assertProblem(r, 400, "coupon")
        r = self.admin.post("/v1/coupons", {"code": code, "percent_off": 10})
        self.assertProblem(r, 409, msg="a second coupon with the same code")

    def test_coupon_stacking_and_limits(self):
        """Coupons never stack: a named coupon replaces the promotions; without one, the best
        automatic promotion for the model and term applies (largest percent first). Limits to
        a model or a term refuse other requests. Quotes and rentals agree to the micro-unit."""
        model = unique("GPU")
        set_price(self.server, model, "7.60", spot_floor="3.00",
                  packages={"day": "150.00", "week": "900.00", "month": "3000.00"})
        FakeAgent(self.server, model, gpus=8)
        tid, tenant = make_tenant(self.server, credit="5000.00")

        def coupon(**body):
            code = unique("C").replace("-", "").upper()
            b = {"code": code, "gpu_model": model}
            b.update(body)
            self.assertStatus(self.admin.post("/v1/coupons", b), 201, repr(b))
            return code

        def quote(**body):
            b = {"gpu_model": model, "gpu_count": 1, "duration_seconds": 3600}
            b.update(body)
            return tenant.post("/v1/quotes", b)

        coupon(percent_off=10, automatic=True)
        coupon(percent_off=20, automatic=True, term="day")
        half = coupon(percent_off=50, term="on_demand")
        five = coupon(amount_off="5.00", term="week")
        r = quote(term="on_demand")
        self.assertStatus(r, 200)
        self.assertEqual((r.json["hourly_price"], r.json["list_total"], r.json["discount"],
                          r.json["total"]), ("6.84", "7.60", "0.76", "6.84"))
        r = quote(term="day")  # 20 % beats 10 % for a day
        self.assertEqual((r.json["list_total"], r.json["discount"], r.json["total"]),
                         ("150.00", "30.00", "120.00"))
        r = quote(term="on_demand", coupon=half)  # 50 %, not 50 % and then 10 %
        self.assertEqual((r.json["hourly_price"], r.json["total"]), ("3.80", "3.80"))
        r = quote(term="week", coupon=five)  # 5.00 off, and no promotion on top
        self.assertEqual((r.json["discount"], r.json["total"]), ("5.00", "895.00"))
        self.assertProblem(quote(term="spot", max_hourly="4.00", coupon=half), 400, "coupon")
        self.assertProblem(quote(term="on_demand", coupon=five), 400, "coupon")
        other = unique("GPU")
        set_price(self.server, other, "9.00")
        FakeAgent(self.server, other, gpus=2)
        r = tenant.post("/v1/quotes", {"gpu_model": other, "gpu_count": 1, "term": "on_demand",
                                       "duration_seconds": 3600, "coupon": half})
        self.assertProblem(r, 400, "coupon")
        r = tenant.post("/v1/quotes", {"gpu_model": other, "gpu_count": 1, "term": "on_demand",
                                       "duration_seconds": 3600})
        self.assertEqual(r.json["total"], "9.00", "promotions for one model only")
        # the rentals pay what the quotes said
        rent = {"gpu_model": model, "gpu_count": 1}
        r = tenant.post("/v1/rentals", dict(rent, term="on_demand"))
        self.assertEqual(r.json["hourly_price"], "6.84")
        r = tenant.post("/v1/rentals", dict(rent, term="day"))
        self.assertEqual((r.json["cost"], r.json["discount"]), ("120.00", "30.00"))
        r = tenant.post("/v1/rentals", dict(rent, term="on_demand", coupon=half))
        self.assertEqual(r.json["hourly_price"], "3.80")
        r = tenant.post("/v1/rentals", dict(rent, term="week", coupon=five))
        self.assertEqual((r.json["cost"], r.json["discount"]), ("895.00", "5.00"))
        self.assertEqual(self.admin.get("/v1/tenants/" + tid).json["balance"],
                         "3985.00")

    def test_coupon_code_is_once_per_tenant_unless_said(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60")
        FakeAgent(self.server, model, gpus=8)
        _, a = make_tenant(self.server)
        _, b = make_tenant(self.server)
        once = unique("ONCE").replace("-", "").upper()
        many = unique("MANY").replace("-", "").upper()
        self.assertEqual(self.admin.post("/v1/coupons", {"code": once, "percent_off": 10})
                         .json["once_per_tenant"], True)
        self.assertEqual(self.admin.post("/v1/coupons", {"code": many, "percent_off": 10,
                                                         "once_per_tenant": False})
                         .json["once_per_tenant"], False)
        rent = {"gpu_model": model, "gpu_count": 1, "term": "on_demand"}
        self.assertStatus(a.post("/v1/rentals", dict(rent, coupon=once)), 201)
        r = a.post("/v1/rentals", dict(rent, coupon=once))
        self.assertProblem(r, 400, "already redeemed")
        self.assertStatus(b.post("/v1/rentals", dict(rent, coupon=once)), 201)
        self.assertStatus(a.post("/v1/rentals", dict(rent, coupon=many)), 201)
        self.assertStatus(a.post("/v1/rentals", dict(rent, coupon=many)), 201)

    def test_hundred_parallel_redemptions_of_a_one_use_coupon(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60")
        FakeAgent(self.server, model, gpus=8)
        code = unique("ONEUSE").replace("-", "").upper()
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "percent_off": 50,
                                                          "max_redemptions": 1}), 201)
        tenants = [make_tenant(self.server)[1] for _ in range(100)]
        results = [None] * len(tenants)

        def redeem(i):
            results[i] = tenants[i].post("/v1/rentals", {
                "gpu_model": model, "gpu_count": 1, "term": "on_demand", "queue": True,
                "coupon": code})

        threads = [threading.Thread(target=redeem, args=(i,)) for i in range(len(tenants))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [r for r in results if r.status in (201, 202)]
        self.assertEqual(len(won), 1, [r.status for r in results])
        self.assertEqual(won[0].json["hourly_price"], "3.80")
        for r in results:
            if r.status not in (201, 202):
                self.assertProblem(r, 400, "used up")

    def test_what_if_brief(self):
        r = self.admin.post("/v1/economics/what-if", {
            "card_price": "100000", "hourly_price": "7.6", "utilization": 1,
            "depreciation_years": 5, "opex_hourly": "1.80"})
        self.assertStatus(r, 200)
        w = r.json
        for k in ("revenue_yearly", "depreciation_yearly", "opex_yearly", "gross_profit_yearly",
                  "gross_margin", "payback_years_revenue", "payback_years_cash",
                  "breakeven_utilization"):
            self.assertIn(k, w)
        self.assertEqual(round(w["payback_years_revenue"], 2), 1.50)
        self.assertEqual(round(w["payback_years_cash"], 2), 1.97)
        self.assertEqual(round(w["gross_margin"], 3), 0.463)
        # money figures are decimal strings: 7.6 x 8760 = 66576, 100000 / 5, 1.80 x 8760
        self.assertEqual(w["revenue_yearly"], "66576.00")
        self.assertEqual(w["depreciation_yearly"], "20000.00")
        self.assertEqual(w["opex_yearly"], "15768.00")
        self.assertEqual(w["gross_profit_yearly"], "30808.00")
        # breakeven: utilization where revenue covers depreciation + opex
        self.assertAlmostEqual(w["breakeven_utilization"], (20000 + 15768) / 66576, places=3)

    def test_what_if_power_and_hosting(self):
        # opex = power 400 W / 1000 x PUE 1.5 x 1.00/kWh = 0.60/h, + hosting 730/730 = 1.00/h
        r = self.admin.post("/v1/economics/what-if", {
            "card_price": "100000", "hourly_price": "7.6", "utilization": 0.5,
            "depreciation_years": 5, "power_watts": 400, "pue": 1.5,
            "electricity_kwh_price": "1.00", "hosting_monthly": "730.00"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["revenue_yearly"], "33288.00")
        self.assertEqual(r.json["opex_yearly"], "14016.00")

    def test_what_if_idle_card_has_no_margin(self):
        # utilization 0: no revenue, so the margin is undefined (null), not 0; the costs remain
        r = self.admin.post("/v1/economics/what-if", {
            "card_price": "20000", "hourly_price": "1.50", "utilization": 0,
            "depreciation_years": 5, "opex_hourly": "0.10"})
        self.assertStatus(r, 200)
        self.assertEqual((r.json["revenue_yearly"], r.json["gross_margin"],
                          r.json["payback_years_revenue"]), ("0.00", None, None))
        self.assertEqual(r.json["gross_profit_yearly"], "-4876.00")  # -(4000 + 0.10 x 8760)

    def test_what_if_bad_input(self):
        good = {"card_price": "100000", "hourly_price": "7.6", "utilization": 1,
                "depreciation_years": 5}
        cases = [
            ("card_price", 100000), ("hourly_price", 7.6), ("utilization", "1"),
            ("utilization", 1.5), ("utilization", -0.1), ("depreciation_years", 0),
            ("depreciation_years", "5"), ("opex_hourly", 1.8), ("pue", "1.3"),
        ]
        for field, value in cases:
            body = dict(good)
            body[field] = value
            r = self.admin.post("/v1/economics/what-if", body)
            self.assertProblem(r, 400, field, msg="what-if %s=%r" % (field, value))
        body = dict(good)
        del body["card_price"]
        self.assertProblem(self.admin.post("/v1/economics/what-if", body), 400, "card_price")

    def test_economics_report(self):
        r = self.admin.get("/v1/economics")
        self.assertStatus(r, 200)
        text = r.text
        for k in ("gpu_hours_available", "gpu_hours_rented", "utilization", "list_revenue",
                  "discounts", "revenue", "realized_hourly", "depreciation", "power_cost",
                  "hosting_cost", "gross_margin", "payback_years"):
            self.assertIn('"%s"' % k, text)
        r = self.admin.get("/v1/economics?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z")
        self.assertStatus(r, 200)
        self.assertProblem(self.admin.get("/v1/economics?from=yesterday"), 400, "from")


    def test_economics_match_the_bills(self):
        model = unique("GPU")
        set_price(self.server, model, "7.60")
        agent = FakeAgent(self.server, model, gpus=8)
        self.assertStatus(self.admin.put("/v1/hosts/%s/cost" % agent.host_id, {
            "purchase_price": "800000.00", "purchased_at": "2026-01-01T00:00:00Z",
            "depreciation_years": 5, "power_watts": 6500, "pue": 1.3,
            "electricity_kwh_price": "0.70", "hosting_monthly": "3000.00"}), 200)
        _, tenant = make_tenant(self.server)
        code = unique("Q").replace("-", "")
        self.assertStatus(self.admin.post("/v1/coupons", {"code": code, "percent_off": 25}),
                          201)
        ended = []
        for body in ({"gpu_count": 2}, {"gpu_count": 1, "coupon": code}):
            b = {"gpu_model": model, "term": "on_demand"}
            b.update(body)
            r = tenant.post("/v1/rentals", b)
            self.assertStatus(r, 201)
            agent.run(r.json["id"])
            time.sleep(0.5)
            agent.heartbeat()
            s = tenant.post("/v1/rentals/%s/stop" % r.json["id"], {})
            self.assertStatus(s, 200)
            ended.append(s.json)
        r = self.admin.get("/v1/economics")
        self.assertStatus(r, 200)
        rows = [m for m in r.json["models"] if m["gpu_model"] == model]
        self.assertEqual(len(rows), 1, r.text[:500])
        row = rows[0]
        revenue = sum(micros(x["cost"]) for x in ended)
        discounts = sum(micros(x["discount"]) for x in ended)
        self.assertGreater(discounts, 0)
        self.assertEqual(row["revenue"], money(revenue))
        self.assertEqual(row["discounts"], money(discounts))
        self.assertEqual(row["list_revenue"], money(revenue + discounts))
        self.assertEqual(row["gpus"], 8)
        billed = sum(x["gpu_count"] * x["billed_seconds"] for x in ended)
        self.assertTrue(billed / 3600 <= row["gpu_hours_rented"] <= (billed + 3) / 3600,
                        "gpu_hours_rented %r for %d billed GPU-seconds" %
                        (row["gpu_hours_rented"], billed))
        self.assertAlmostEqual(row["utilization"],
                               row["gpu_hours_rented"] / row["gpu_hours_available"], places=6)
        self.assertEqual(row["hosting_cost"],
                         row["hosting_cost"])  # present; its value depends on the period


if __name__ == "__main__":
    unittest.main()
