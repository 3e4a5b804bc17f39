#!/usr/bin/env python3
"""bench/bench_http_setup.py PORT ADMIN_KEY HOSTS GPUS_PER_HOST - fixtures for bench_http.sh.

Against a running `gpurent serve`: sets the price of the model BENCH-A100, registers HOSTS
hosts of GPUS_PER_HOST GPUs each through the real API (join token + agent register, in
parallel), creates a tenant with a huge balance and one rental to read, and prints shell
assignments: TENANT_KEY, MODEL, RENTAL_ID, GPUS.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
from harness import Client  # noqa: E402

MODEL = "BENCH-A100"


class Remote:
    """What harness.Client needs of a server: its port."""

    def __init__(self, port):
        self.port = port


def main():
    port, admin_key, hosts, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    srv = Remote(port)
    admin = Client(srv, admin_key)
    anon = Client(srv, None)

    r = admin.put("/v1/prices/" + MODEL, {"on_demand_hourly": "7.60"})
    assert r.status in (200, 201), r

    errors = []
    next_host = [0]
    lock = threading.Lock()

    def register():
        while True:
            with lock:
                if next_host[0] >= hosts or errors:
                    return
                h = next_host[0]
                next_host[0] += 1
            tok = admin.post("/v1/join-tokens", {})
            if tok.status != 201:
                errors.append(tok)
                return
            gpus = [{"index": i, "uuid": "GPU-bench-%05d-%02d" % (h, i), "model": MODEL,
                     "memory_mib": 81920, "nvlink_island": i // 8} for i in range(per)]
            r = anon.post("/v1/agent/register", {"join_token": tok.json["token"],
                                                 "hostname": "bench-%05d" % h, "gpus": gpus})
            if r.status != 201:
                errors.append(r)
                return

    threads = [threading.Thread(target=register) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("bench_http_setup: registering hosts: %r" % errors[0])

    r = admin.post("/v1/tenants", {"name": "bench"})
    assert r.status == 201, r
    tid, key = r.json["id"], r.json["api_key"]
    r = admin.post("/v1/tenants/%s/credits" % tid, {"amount": "1000000000.00",
                                                    "reference": "bench"})
    assert r.status == 201, r
    tenant = Client(srv, key)
    r = tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": 1, "term": "on_demand"})
    assert r.status == 201, r
    print("TENANT_KEY=%s" % key)
    print("MODEL=%s" % MODEL)
    print("RENTAL_ID=%s" % r.json["id"])
    print("GPUS=%d" % (hosts * per))


if __name__ == "__main__":
    main()
