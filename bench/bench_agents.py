#!/usr/bin/env python3
"""bench/bench_agents.py GPURENT_BIN [SECONDS] - rentals fully cycled through 100 real agents.

The agent issue's benchmark: AGENTS (100) real `gpurent agent` processes (SIMULATED GPUs,
sim:8xA100-80G each, the exec runtime: workloads are real processes) against one
`gpurent serve` on loopback with a temporary data dir. bench_agents_load (C, beside the
binary in BUILD/bench/) with THREADS (32) threads, one keep-alive connection each, creates
1-GPU on-demand rentals back to back, as fast as the API takes them, for
SECONDS (20), each with the workload `touch FILE` (a coreutils binary like `true` that exits
at once, so the rental ends `exited`; FILE, unique per rental, records when the workload ran).
Then it waits for every rental to end and reads them all back.

Definitions (every time is CLOCK_REALTIME on this one machine):
  - cycled: a rental created in the run that has ended `exited` with its charge final (an
    ended rental is settled when it ends; its `cost` in GET /v1/rentals is final). The run
    checks that the tenant's balance fell by exactly the sum of those costs.
  - cycled/s: cycled rentals / (the last rental's ended_at, rounded up to the end of its
    second as the API gives whole seconds, - the first create's send time).
    The creators stop after SECONDS; the tail the agents still owe then counts against it.
  - placement to running: the workload's FILE's mtime (the workload process running, ns
    resolution) minus the time the client received the create's 201 ("placement = create
    acknowledged"). The API's started_at (when the server applied the agent's `running`
    report) is checked to be set on every cycled rental, but it has whole seconds only.
  - creates/s: 201s / SECONDS.
  - start_p99_after_warmup_ms (reported, not the target's figure): the p99 of placement to
    running over the rentals acknowledged after the first WARMUP (5) seconds, when the opening
    burst (every GPU idle at once, every agent spawning several workloads together) is over.
Target (the agent issue, on 2 cores): >= 1,000 cycled rentals/s and placement-to-running p99
<= 250 ms.

Output: the figures, then one `RESULT {json}` line per metric (bench/run.sh collects them).
Environment: BENCH_AGENTS (100), BENCH_AGENTS_THREADS (32),
BENCH_AGENTS_SERVE_ARGS (`gpurent serve` options; default "--rate-limit 0 --rate-limit-create 0"), BENCH_AGENTS_KEEP=1 (keep the data
dir and the agents' logs), BENCH_AGENTS_HEARTBEAT (the agents' --heartbeat-interval, 5),
BENCH_AGENTS_WORKLOAD (`touch`: coreutils' touch, dynamically linked, the default; `busybox`:
`busybox touch`, statically linked, so the workload's own exec skips the dynamic loader, which
costs ~0.8 ms of CPU per start on this VM), BENCH_AGENTS_NICE (run the agents and their workloads at this niceness, 0: as the server;
on a real fleet they are on other machines and take no CPU from the control plane).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
from harness import Server, make_tenant, micros, parse_time, set_price  # noqa: E402

CREDIT = "100000000.00"
WARMUP = 5  # seconds: start_p99_after_warmup_ms leaves out rentals acknowledged before


def cpu_s(pid):
    """CPU seconds of pid and of its reaped children (the agents' workloads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    binary = os.path.abspath(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    n_agents = int(os.environ.get("BENCH_AGENTS", "100"))
    threads = os.environ.get("BENCH_AGENTS_THREADS", "32")
    load = os.path.join(os.path.dirname(binary), "bench", "bench_agents_load")
    if not os.access(load, os.X_OK):
        raise SystemExit("bench_agents: %s is missing (built with GPURENT_BENCH)" % load)
    heartbeat = os.environ.get("BENCH_AGENTS_HEARTBEAT", "5")
    keep = os.environ.get("BENCH_AGENTS_KEEP") == "1"
    nice = os.environ.get("BENCH_AGENTS_NICE", "0")
    workload = os.environ.get("BENCH_AGENTS_WORKLOAD", "touch")
    if workload not in ("touch", "busybox"):
        raise SystemExit("bench_agents: BENCH_AGENTS_WORKLOAD is touch or busybox")
    os.environ["GPURENT_BIN"] = binary
    # one tenant creating as fast as the API takes them: the per-key rate limits (default
    # 10 creates a second) would measure the limiter, so they are off unless asked for
    server = Server(args=os.environ.get("BENCH_AGENTS_SERVE_ARGS",
                                        "--rate-limit 0 --rate-limit-create 0").split())
    server.start()
    agents = []
    try:
        set_price(server, "A100-80G", "2.00")
        url = "http://127.0.0.1:%d" % server.port
        for i in range(n_agents):
            token = server.admin.post("/v1/join-tokens", {}).json["token"]
            d = os.path.join(server.tmp, "agent-%03d" % i)
            os.makedirs(d)
            log = open(os.path.join(d, "agent.log"), "wb") if keep else subprocess.DEVNULL
            agents.append(subprocess.Popen(
                (["nice", "-n", nice] if nice != "0" else []) + [binary, "agent", "--server", url, "--join-token", token,
                 "--gpus", "sim:8xA100-80G", "--runtime", "exec", "--heartbeat-interval",
                 heartbeat, "--stop-grace", "1", "--data-dir", d, "--hostname",
                 "bench-%03d" % i], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))
        deadline = time.time() + 60
        while True:
            ready = sum(h["state"] == "ready" for h in server.admin.list_all("/v1/hosts?limit=500"))
            if ready == n_agents:
                break
            if time.time() > deadline:
                raise SystemExit("bench_agents: %d of %d agents registered" % (ready, n_agents))
            time.sleep(0.2)
        tid, tenant = make_tenant(server, credit=CREDIT)
        balance0 = micros(server.admin.get("/v1/tenants/" + tid).json["balance"])
        time.sleep(float(heartbeat) + 0.5)  # every agent's heartbeat is now held (long-poll)

        cpu0 = {"server": cpu_s(server.proc.pid),
                "agents": sum(cpu_s(a.pid) for a in agents),
                "load": resource.getrusage(resource.RUSAGE_CHILDREN)}
        start_at = time.time() + 0.5
        touch_dir = os.path.join(server.tmp, "touched")
        os.makedirs(touch_dir)
        out = os.path.join(server.tmp, "creates.txt")
        subprocess.run([load, url, tenant.key, "%.6f" % start_at, str(seconds), threads,
                        touch_dir, out] + (["busybox"] if workload == "busybox" else []),
                       check=True)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_cpu = (ru.ru_utime + ru.ru_stime - cpu0["load"].ru_utime - cpu0["load"].ru_stime)
        created, errors = {}, {}
        with open(out) as f:
            for line in f:
                w = line.split()
                if w[0] == "error":
                    errors[w[1]] = errors.get(w[1], 0) + 1
                else:
                    created[w[0]] = (float(w[1]), float(w[2]), w[3])

        # wait for every rental to end (the agents finish what was created)
        deadline = time.time() + 120
        while time.time() < deadline:
            live = [r for r in tenant.list_all("/v1/rentals?state=starting", 500)]
            live += [r for r in tenant.list_all("/v1/rentals?state=running", 500)]
            live += [r for r in tenant.list_all("/v1/rentals?state=pending", 500)]
            if not live:
                break
            time.sleep(0.5)
        cpu = {"server": cpu_s(server.proc.pid) - cpu0["server"],
               "agents": sum(cpu_s(a.pid) for a in agents) - cpu0["agents"], "load": load_cpu}
        everything = tenant.list_all("/v1/rentals", 500)
        balance1 = micros(server.admin.get("/v1/tenants/" + tid).json["balance"])
        ran = {}
        for rid, v in created.items():
            try:
                ran[rid] = os.stat(v[2]).st_mtime_ns / 1e9
            except OSError:
                pass
    finally:
        for a in agents:
            a.terminate()
        for a in agents:
            try:
                a.wait(timeout=10)
            except subprocess.TimeoutExpired:
                a.kill()
                a.wait()
        if keep:
            print("bench_agents: kept %s" % server.tmp)
            server.proc.terminate()
            server.proc.wait()
        else:
            server.close()

    mine = [r for r in everything if r["id"] in created]
    cycled = [r for r in mine if r["state"] == "ended" and r["end_reason"] == "exited"]
    other = {}
    for r in mine:
        if not (r["state"] == "ended" and r["end_reason"] == "exited"):
            k = "%s/%s" % (r["state"], r.get("end_reason"))
            other[k] = other.get(k, 0) + 1
    cost = sum(micros(r["cost"]) for r in mine)
    billed_ok = balance0 - balance1 == cost
    first_send = min(v[0] for v in created.values())
    # ended_at has whole seconds: the last end is taken at the end of its second
    last_end = max(parse_time(r["ended_at"])[0] for r in cycled) / 1e6 + 1.0
    span = last_end - first_send
    rate = len(cycled) / span
    no_start = sum(1 for r in cycled if not r["started_at"])
    lat = [(ran[r["id"]] - created[r["id"]][1]) * 1000 for r in cycled if r["id"] in ran]
    acks = [(v[1] - v[0]) * 1000 for v in created.values()]
    med, p99 = statistics.median(lat), pct(lat, 99)
    # the same after the first WARMUP seconds: the opening burst (800 idle GPUs filled at once,
    # every agent spawning several workloads together) is where the tail is
    warm = [(ran[r["id"]] - created[r["id"]][1]) * 1000 for r in cycled
            if r["id"] in ran and created[r["id"]][1] - first_send >= WARMUP]
    p99_warm = pct(warm, 99) if warm else float("nan")

    print("agents                                %8d (sim:8xA100-80G, exec runtime, `%s`)" %
          (n_agents, "busybox touch" if workload == "busybox" else "touch"))
    print("create load                           %8s threads (connections), %.0f s; agents' nice %s" %
          (threads, seconds, nice))
    print("creates answered 201                  %8d (%.0f/s)   errors: %s" %
          (len(created), len(created) / seconds, errors or "none"))
    print("create call, median / p99 ms          %8.2f / %.2f" % (statistics.median(acks),
                                                                   pct(acks, 99)))
    print("cycled (ended exited, billed)         %8d   other: %s" % (len(cycled), other or "none"))
    print("first create -> last end, s           %8.2f" % span)
    print("cycled rentals/s                      %8.0f   target >= 1000" % rate)
    print("201 -> workload ran, median / p99 ms  %8.1f / %.1f   target p99 <= 250" % (med, p99))
    print("  p99 of those acknowledged after the first %d s: %.1f ms (%d rentals)" % (
        WARMUP, p99_warm, len(warm)))
    print("  (%d of %d cycled workloads left their file; %d cycled without started_at)" % (
        len(lat), len(cycled), no_start))
    print("CPU ms per cycled rental: server %.2f, agents with their workloads %.2f, create load "
          "%.2f" % tuple(cpu[k] * 1000 / max(1, len(cycled)) for k in ("server", "agents", "load")))
    print("charges: balance fell by the sum of the rentals' costs: %s (%d us)" % (
        "yes" if billed_ok else "NO", cost))
    if not billed_ok or len(cycled) == 0 or no_start or len(lat) != len(cycled):
        raise SystemExit("bench_agents: the rentals were not all billed exactly")
    for metric, value, unit, target, cmp in (
            ("cycled_per_s", rate, "rentals/s", 1000, ">="),
            ("start_median_ms", med, "ms", None, None),
            ("start_p99_ms", p99, "ms", 250, "<="),
            ("start_p99_after_warmup_ms", p99_warm, "ms", None, None)):
        res = {"bench": "agents" if workload == "touch" else "agents_busybox", "metric": metric, "value": round(value, 3), "unit": unit,
               "runs": len(cycled)}
        if target is not None:
            res.update({"target": target, "cmp": cmp,
                        "pass": value >= target if cmp == ">=" else value <= target})
        print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
