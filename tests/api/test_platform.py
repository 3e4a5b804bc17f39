"""API: the platform routes, authentication and roles, and the request limits every route
shares (content type, malformed and oversized bodies, nesting depth, problem+json errors)."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, Server, FakeAgent, fixed_scramble_id, make_tenant,  # noqa: E402
                     parse_time, raw_request, unique)

MIB = 1024 * 1024


class PlatformTest(ServerTestCase):

    def tenant_names(self):
        return sorted(t["name"] for t in self.admin.list_all("/v1/tenants"))

    def test_healthz(self):
        r = self.server.anon.get("/healthz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json, {"status": "ok"})

    def test_platform(self):
        tid, tenant = make_tenant(self.server, credit=None)
        for c in (self.admin, tenant):
            r = c.get("/v1/platform")
            self.assertStatus(r, 200)
            self.assertTrue(r.content_type.startswith("application/json"), r.content_type)
            self.assertEqual(r.json["currency"], "CNY")
            self.assertIsInstance(r.json["version"], str)
            parse_time(r.json["time"])
        self.assertProblem(self.server.anon.get("/v1/platform"), 401)

    def test_metrics(self):
        r = self.server.anon.get("/metrics")
        self.assertStatus(r, 200)
        self.assertTrue(r.content_type.startswith("text/plain"), r.content_type)
        self.assertRegex(r.text, r"(?m)^# (TYPE|HELP) ")

    def test_unknown_route(self):
        self.assertProblem(self.admin.get("/v1/nothing-here"), 404)
        self.assertProblem(self.admin.get("/v1/tenants/tnt_0000000000000/nothing"), 404)

    def test_missing_and_bad_keys(self):
        before = self.tenant_names()
        anon = self.server.anon
        self.assertProblem(anon.get("/v1/tenants"), 401)
        self.assertProblem(anon.post("/v1/tenants", {"name": unique()}), 401)
        key = self.server.admin_key
        bad_checksum = key[:-1] + ("A" if key[-1] != "A" else "B")
        for k in ("", "gpr_", "gpr_short", "nope_" + key[4:], bad_checksum, key + "x"):
            r = self.server.client(k).post("/v1/tenants", {"name": unique()})
            self.assertProblem(r, 401, msg="key %r" % k)
        r = self.server.anon.post("/v1/tenants", {"name": unique()},
                                  headers={"Authorization": "Basic " + key})
        self.assertProblem(r, 401, msg="Basic scheme")
        self.assertEqual(self.tenant_names(), before)

    def test_revoked_key(self):
        tid, tenant = make_tenant(self.server, credit=None)
        r = tenant.post("/v1/keys", {})
        self.assertStatus(r, 201)
        key2 = self.server.client(r.json.get("key") or r.json.get("api_key"))
        self.assertStatus(key2.get("/v1/balance"), 200)
        r = tenant.delete("/v1/keys/" + r.json["id"])
        self.assertStatus(r, (200, 204))
        self.assertProblem(key2.get("/v1/balance"), 401)
        self.assertStatus(tenant.get("/v1/balance"), 200)

    def test_wrong_role(self):
        tid, tenant = make_tenant(self.server, credit=None)
        model = unique("GPU")
        agent = FakeAgent(self.server, model, gpus=1)
        before = self.tenant_names()
        cases = [
            ("POST", "/v1/tenants", {"name": unique()}),
            ("GET", "/v1/tenants", None),
            ("GET", "/v1/tenants/" + tid, None),
            ("POST", "/v1/tenants/%s/credits" % tid, {"amount": "5.00", "reference": "x"}),
            ("PUT", "/v1/prices/" + model, {"on_demand_hourly": "1.00"}),
            ("POST", "/v1/join-tokens", {}),
            ("GET", "/v1/hosts", None),
            ("GET", "/v1/hosts/" + agent.host_id, None),
            ("POST", "/v1/hosts/%s/drain" % agent.host_id, {}),
            ("GET", "/v1/economics", None),
            ("POST", "/v1/economics/what-if", {"card_price": "1.00"}),
            ("POST", "/v1/agent/heartbeat", {"telemetry": [], "rentals": []}),
        ]
        for method, path, body in cases:
            r = tenant.req(method, path, body)
            self.assertProblem(r, 403, msg="tenant key on %s %s" % (method, path))
        for method, path, body in cases[:-1] + [("POST", "/v1/rentals",
                                                 {"gpu_model": model, "gpu_count": 1,
                                                  "term": "on_demand"})]:
            r = agent.client.req(method, path, body)
            self.assertProblem(r, 403, msg="agent key on %s %s" % (method, path))
        # nothing changed
        self.assertEqual(self.tenant_names(), before)
        r = self.admin.get("/v1/hosts/" + agent.host_id)
        self.assertEqual(r.json["state"], "ready")
        r = self.admin.get("/v1/tenants/" + tid)
        self.assertEqual(r.json["balance"], "0.00")

    def test_not_json_content_type(self):
        before = self.tenant_names()
        body = ('{"name":"%s"}' % unique()).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded", None):
            r = self.admin.req("POST", "/v1/tenants", raw=body, content_type=ct)
            self.assertProblem(r, 415, msg="content type %r" % ct)
        r = self.admin.req("POST", "/v1/tenants", raw=body,
                           content_type="application/json; charset=utf-8")
        self.assertStatus(r, 201, "application/json with a charset")
        after = self.tenant_names()
        self.assertEqual(len(after), len(before) + 1)

    def test_malformed_json(self):
        before = self.tenant_names()
        for raw in (b"{", b'{"name": }', b"not json", b'{"name":"a",}', b"", b"[1,2]",
                    b'"just a string"', b'{"name":"a"} trailing', b"\xff\xfe"):
            r = self.admin.req("POST", "/v1/tenants", raw=raw)
            self.assertProblem(r, 400, msg="body %r" % raw)
        self.assertEqual(self.tenant_names(), before)

    def test_body_too_large(self):
        before = self.tenant_names()
        big = b'{"name":"' + b"a" * (MIB + 16) + b'"}'
        req = (b"POST /v1/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Authorization: Bearer " + self.server.admin_key.encode() + b"\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n"
               b"Connection: close\r\n\r\n" % len(big)) + big
        status, _ = raw_request(self.server.port, req)
        self.assertEqual(status, 413)
        # chunked, no Content-Length: the limit still holds
        chunk = b"%x\r\n%s\r\n" % (len(big), big)
        req = (b"POST /v1/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Authorization: Bearer " + self.server.admin_key.encode() + b"\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n" + chunk + b"0\r\n\r\n")
        status, _ = raw_request(self.server.port, req)
        self.assertEqual(status, 413, "chunked body over 1 MiB")
        self.assertEqual(self.tenant_names(), before)
        self.assertStatus(self.server.anon.get("/healthz"), 200)

    def test_body_just_under_limit_is_read(self):
        # a valid JSON body close to 1 MiB is read (and refused for its content, not its size)
        body = b'{"name":"' + b"a" * (MIB - 64) + b'"}'
        r = self.admin.req("POST", "/v1/tenants", raw=body)
        self.assertProblem(r, 400, "name", msg="a 1 MiB name")

    def test_deep_nesting(self):
        before = self.tenant_names()
        for depth in (33, 100, 100000):
            raw = b'{"name":"x","a":' + b"[" * depth + b"]" * depth + b"}"
            r = self.admin.req("POST", "/v1/tenants", raw=raw)
            self.assertProblem(r, 400, msg="depth %d" % depth)
        self.assertEqual(self.tenant_names(), before)
        self.assertStatus(self.server.anon.get("/healthz"), 200)

    def test_problem_shape(self):
        r = self.server.anon.get("/v1/tenants")
        self.assertProblem(r, 401)
        self.assertIsInstance(r.json["title"], str)
        self.assertTrue(r.json["title"])
        self.assertIsInstance(r.json["detail"], str)

    def test_problem_body_is_utf8_json_for_any_path(self):
        # a problem's detail echoes the (percent-decoded) path: bytes that are not UTF-8, or a
        # character cut by the detail's length limit, must not make the body invalid JSON
        _, tenant = make_tenant(self.server, credit=None)
        for path in ("/v1/rentals/rnt_%FF%FE", "/v1/rentals/" + "a" * 39 + "%C3%A9",
                     "/v1/rentals/%ED%A0%80", "/v1/nope/%C0%AF"):
            r = tenant.get(path)
            self.assertProblem(r, 404, msg="GET " + path)
            try:
                text = r.raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.fail("GET %s: the problem body is not UTF-8 (%s): %r" % (path, e, r.raw))
            self.assertEqual(json.loads(text)["status"], 404)
        r = tenant.get("/v1/rentals/%C3%A9")
        self.assertIn("\u00e9", r.raw.decode("utf-8"))  # UTF-8 text is kept as it is

    def test_ids_have_prefixes(self):
        tid, _ = make_tenant(self.server, credit=None)
        self.assertRegex(tid, r"^tnt_[0-9a-z]+$")
        agent = FakeAgent(self.server, unique("GPU"), gpus=1)
        self.assertRegex(agent.host_id, r"^hst_[0-9a-z]+$")
        self.assertTrue(re.match(r"^gpr_", agent.key))

    def test_ids_do_not_count(self):
        """Ids are keyed per install (docs/security.md): two fresh installs give their first
        tenants unrelated ids, none is the public fixed scramble of a small number, and a
        restart keeps every id (the key is stored)."""
        self.assertEqual(fixed_scramble_id("tnt", 1), "tnt_9wdvsq5zmmz0n")
        fixed = {fixed_scramble_id("tnt", n) for n in range(0, 100)}
        other = Server()
        other.start()
        try:
            firsts = []
            for srv in (self.server, other):
                tids = [make_tenant(srv, credit=None)[0] for _ in range(3)]
                self.assertFalse(set(tids) & fixed, tids)
                firsts.append(tids)
            self.assertFalse(set(firsts[0]) & set(firsts[1]))
            self.assertNotEqual(firsts[1][0][4:], firsts[1][1][4:])
            other.restart()
            for tid in firsts[1]:
                self.assertStatus(other.admin.get("/v1/tenants/" + tid), 200)
            self.assertNotIn(make_tenant(other, credit=None)[0], firsts[1])
        finally:
            other.close()


    def test_json_edge_cases(self):
        before = self.tenant_names()
        for raw in (b'{"name":"a","name":"b"}',          # duplicate keys
                    b'{"name":"a\\u0000b"}',              # NUL inside a string
                    b'{"name":"\xc3\x28"}',               # invalid UTF-8
                    b'{"name":"a","credit_limit":1e400}',
                    b'{"name":"a","credit_limit":123456789012345678901234567890}',
                    b'{"name":NaN}', b'{"name":"a"}{"name":"b"}'):
            r = self.admin.req("POST", "/v1/tenants", raw=raw)
            self.assertProblem(r, 400, msg="body %r" % raw)
        self.assertEqual(self.tenant_names(), before)

    def test_unicode_name_round_trip(self):
        name = "算力租赁-" + unique()
        r = self.admin.post("/v1/tenants", {"name": name})
        self.assertStatus(r, 201)
        self.assertEqual(r.json["name"], name)
        self.assertEqual(self.admin.get("/v1/tenants/" + r.json["id"]).json["name"], name)

    def test_hostile_requests_do_not_hurt(self):
        port = self.server.port
        # a very long URL, a body shorter than its Content-Length, garbage, a bare newline
        reqs = [
            b"GET /v1/rentals/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{\"name\":",
            b"\x00\x01\x02 garbage\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 10000 + b"\r\n",
        ]
        for raw in reqs:
            try:
                raw_request(port, raw, timeout=1)
            except (AssertionError, OSError):
                pass  # no answer, or a closed connection: fine; staying up is what counts
            self.assertStatus(self.server.anon.get("/healthz"), 200)
        # many idle connections do not starve the others
        import socket
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        try:
            for c in idle[:50]:
                c.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
            t0 = time.time()
            self.assertStatus(self.server.anon.get("/healthz"), 200)
            self.assertLess(time.time() - t0, 2.0, "a request waited behind idle connections")
        finally:
            for c in idle:
                c.close()
        # keep-alive: several requests on one connection
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(5):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
