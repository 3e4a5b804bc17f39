"""API: the real `gpurent agent` (exec runtime, SIMULATED GPUs) against a real server.

Three agent processes (--gpus sim:4xA100-80G --heartbeat-interval 1) each register with a
join token; rentals are placed on them and their workloads run as real processes. The server
runs with --heartbeat-timeout 3 so that a killed agent's host goes down fast, and with
--lost-after 60 so that its rentals survive until the restarted agent is back.

Everything here is asynchronous (agents, workloads, the server's timers): tests wait for
conditions with generous deadlines (SLOW), never for fixed times, and read what an agent may
remove (a rental's record) while it must still be there.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, Server, binary, make_tenant, set_price  # noqa: E402

MODEL = "A100-80G"
GRACE = 2
# Waits for things that are not the promise under test (registration, a rental starting, a
# host coming back) get this much: generous, for a sanitizer build on a loaded machine. The
# time bounds a test asserts (a stop within the grace, a placement within half a heartbeat
# interval) stay as they are.
SLOW = 30


def pgid_alive(pgid):
    """A process of group pgid lives (zombies, orphans waiting for a reaper, do not count)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


class AgentTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        # --lost-after leaves a killed agent's restart (test_zz_...) time to come back before
        # its rentals are lost, on a loaded machine too; the host still goes down in 3 s
        cls.server = Server(args=["--heartbeat-timeout", "3", "--lost-after", "60"])
        cls.server.start()
        cls.agents = {}  # name -> {"dir", "proc", "log"}
        try:
            set_price(cls.server, MODEL, "2.00")
            for n in ("a1", "a2", "a3"):
                cls.start_agent(n, register=True)
            cls.wait_registered()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def wait_registered(cls):
        """Wait until every agent has saved its credentials (agent.json: its host id) and its
        host is ready. The server makes the host ready as it answers the registration; the
        agent writes agent.json only after that answer, so the file may lag the host."""
        deadline = time.time() + SLOW
        while True:
            for a in cls.agents.values():
                if "host_id" not in a:
                    try:
                        with open(os.path.join(a["dir"], "agent.json")) as f:
                            a["host_id"] = json.load(f)["host_id"]
                    except (OSError, ValueError, KeyError):
                        pass
            ids = {a.get("host_id") for a in cls.agents.values()}
            if None not in ids:
                ready = {h["id"] for h in cls.server.admin.list_all("/v1/hosts")
                         if h["state"] == "ready"}
                if ids <= ready:
                    return
            if time.time() > deadline:
                logs = ""
                for n, a in cls.agents.items():
                    with open(a["log"], "rb") as f:
                        logs += "--- %s\n%s" % (n, f.read().decode("utf-8", "replace")[-1500:])
                raise AssertionError("the agents did not register within %d s\n%s" %
                                     (SLOW, logs))
            time.sleep(0.1)

    @classmethod
    def start_agent(cls, name, register=False, interval=1, grace=GRACE, extra=()):
        d = os.path.join(cls.server.tmp, name)
        args = [binary(), "agent", "--server", "http://127.0.0.1:%d" % cls.server.port,
                "--gpus", "sim:4xA100-80G", "--heartbeat-interval", str(interval), "--data-dir", d,
                "--stop-grace", str(grace), "--hostname", "agent-%s-%d" % (name, os.getpid())]
        args += list(extra)
        if register:
            r = cls.server.admin.post("/v1/join-tokens", {})
            assert r.status == 201, r
            args += ["--join-token", r.json["token"]]
        a = cls.agents.setdefault(name, {"dir": d, "starts": 0})
        a["starts"] += 1
        a["log"] = os.path.join(cls.server.tmp, "%s.%d.log" % (name, a["starts"]))
        with open(a["log"], "wb") as log:
            a["proc"] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        return a

    @classmethod
    def tearDownClass(cls):
        for a in cls.agents.values():
            if a["proc"].poll() is None:
                a["proc"].kill()
                a["proc"].wait()
            rdir = os.path.join(a["dir"], "rentals")
            for f in os.listdir(rdir) if os.path.isdir(rdir) else []:
                try:
                    with open(os.path.join(rdir, f)) as fh:
                        os.killpg(json.load(fh)["pgid"], signal.SIGKILL)
                except (OSError, ValueError, KeyError):
                    pass
        super().tearDownClass()

    def wait_for(self, what, fn, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        logs = ""
        for n, a in self.agents.items():
            with open(a["log"], "rb") as f:
                logs += "--- %s\n%s" % (n, f.read().decode("utf-8", "replace")[-1500:])
        self.fail("timed out waiting for %s\n%s" % (what, logs))

    def rent(self, tenant, command, count=2, restart=None):
        workload = {"command": command}
        if restart is not None:
            workload["restart"] = restart
        r = tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": count,
                                        "term": "on_demand", "workload": workload})
        self.assertStatus(r, 201)
        return r.json["id"]

    def rental(self, tenant, rid):
        return tenant.get("/v1/rentals/" + rid).json

    def agent_of(self, host_id):
        return [a for a in self.agents.values() if a["host_id"] == host_id][0]

    def workload_pgid(self, host_id, rid):
        """The workload's process group, from the agent's record of the rental. Read it while
        the workload runs: the agent removes the record once the workload is gone (a stop,
        an exit), so a read after a stop may find nothing."""
        with open(os.path.join(self.agent_of(host_id)["dir"], "rentals", rid + ".json")) as f:
            return json.load(f)["pgid"]

    def test_run_env_and_stop(self):
        _, tenant = make_tenant(self.server)
        out = os.path.join(self.server.tmp, "env-run.txt")
        rid = self.rent(tenant, ["sh", "-c", "env > %s.tmp; mv %s.tmp %s; exec sleep 60" %
                                 (out, out, out)])
        got = self.wait_for("running", lambda: (lambda r: r if r["state"] == "running" else None)(
            self.rental(tenant, rid)), SLOW)
        host = self.admin.get("/v1/hosts/" + got["host_id"]).json
        indices = sorted(g["index"] for g in host["gpus"] if g.get("rental_id") == rid)
        self.assertEqual(len(indices), 2)
        self.wait_for("the env file", lambda: os.path.exists(out), SLOW)
        with open(out) as f:
            env = dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)
        want = ",".join(map(str, indices))
        self.assertEqual(env.get("CUDA_VISIBLE_DEVICES"), want)
        self.assertEqual(env.get("NVIDIA_VISIBLE_DEVICES"), want)
        pgid = self.workload_pgid(got["host_id"], rid)
        self.assertTrue(pgid_alive(pgid))
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))
        t0 = time.time()
        self.wait_for("the workload to be gone", lambda: not pgid_alive(pgid), GRACE + 3)
        self.assertLess(time.time() - t0, GRACE + 3)

    def test_exit_zero_ends_exited(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["sh", "-c", "sleep 1; exit 0"], count=1)
        got = self.wait_for("ended", lambda: (lambda r: r if r["state"] == "ended" else None)(
            self.rental(tenant, rid)), SLOW)
        self.assertEqual(got["end_reason"], "exited", got)
        self.assertEqual(got["exit_code"], 0)

    def test_missing_command_fails(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["/nonexistent/gpurent-no-such-command"], count=1)
        got = self.wait_for("ended", lambda: (lambda r: r if r["state"] not in (
            "starting", "running") else None)(self.rental(tenant, rid)), SLOW)
        self.assertEqual((got["state"], got["end_reason"]), ("ended", "failed_to_start"), got)
        # the agent's words reach the tenant; a start that failed has no exit code, no charge
        want = "cannot run /nonexistent/gpurent-no-such-command: No such file or directory"
        self.assertEqual((got["end_detail"], got["exit_code"], got["cost"]), (want, None, "0.00"))
        listed = [r for r in tenant.list_all("/v1/rentals") if r["id"] == rid]
        self.assertEqual(listed[0]["end_detail"], want)
        again = tenant.post("/v1/rentals/%s/stop" % rid)  # idempotent: the same rental
        self.assertStatus(again, 200)
        self.assertEqual(again.json["end_detail"], want)

    def test_without_workload_holds_the_gpus(self):
        """DESIGN.md: a rental without a workload holds its GPUs until stopped (a reservation),
        with a real agent too: nothing is started, it runs and bills until the stop."""
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": 1, "term": "on_demand"})
        self.assertStatus(r, 201)
        rid = r.json["id"]
        got = self.wait_for("running", lambda: (lambda r: r if r["state"] == "running" else None)(
            self.rental(tenant, rid)), 10)
        self.assertEqual(got["end_detail"], None)
        time.sleep(2.5)  # two heartbeats later it is still held, billing
        got = self.rental(tenant, rid)
        self.assertEqual(got["state"], "running", got)
        self.assertFalse(os.path.exists(os.path.join(self.agent_of(got["host_id"])["dir"],
                                                     "rentals", rid + ".json")), "nothing ran")
        stopped = tenant.post("/v1/rentals/%s/stop" % rid)
        self.assertStatus(stopped, 200)
        self.assertEqual((stopped.json["state"], stopped.json["end_reason"]), ("ended", "stopped"))
        self.assertGreater(stopped.json["billed_seconds"], 0)
        self.assertNotEqual(stopped.json["cost"], "0.00")

    def test_zz_kill9_agent_then_restart_adopts(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["sleep", "60"], count=1)
        got = self.wait_for("running", lambda: (lambda r: r if r["state"] == "running" else None)(
            self.rental(tenant, rid)), SLOW)
        hid = got["host_id"]
        pgid = self.workload_pgid(hid, rid)
        a = self.agent_of(hid)
        hosts_before = len(self.admin.list_all("/v1/hosts"))
        a["proc"].kill()
        a["proc"].wait()
        self.wait_for("the host down", lambda: self.admin.get(
            "/v1/hosts/" + hid).json["state"] == "down", SLOW)
        self.assertTrue(pgid_alive(pgid), "the workload survives its agent")
        name = [n for n, v in self.agents.items() if v is a][0]
        self.start_agent(name, register=False)  # no join token: it must not re-register
        self.wait_for("the host back", lambda: self.admin.get(
            "/v1/hosts/" + hid).json["state"] == "ready", SLOW)
        self.assertEqual(len(self.admin.list_all("/v1/hosts")), hosts_before)
        # it adopted the workload (the log says so) and, heartbeats later, has not restarted it
        self.wait_for("the adoption logged", lambda: b"adopted" in open(a["log"], "rb").read(),
                      SLOW)
        time.sleep(1.5)
        self.assertEqual(self.rental(tenant, rid)["state"], "running")
        self.assertTrue(pgid_alive(pgid))
        self.assertEqual(self.workload_pgid(hid, rid), pgid, "adopted, not restarted")
        with open(a["log"], "rb") as f:
            self.assertIn(b"adopted", f.read())
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))
        self.wait_for("the adopted workload gone", lambda: not pgid_alive(pgid), GRACE + 3)


class LongPollTest(AgentTest):
    """One agent heartbeating only every 20 s: a placement must still reach it at once,
    because its heartbeat is a long-poll the server answers as soon as the host changes."""

    INTERVAL = 20

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.agents = {}
        try:
            set_price(cls.server, MODEL, "2.00")
            cls.start_agent("lp", register=True, interval=cls.INTERVAL)
            cls.wait_registered()
            time.sleep(0.5)  # its first heartbeat is held by the server by now (else the
            # placement rides that first heartbeat: the bound below holds either way)
        except Exception:
            cls.tearDownClass()
            raise

    def test_placement_reaches_a_waiting_agent_at_once(self):
        _, tenant = make_tenant(self.server)
        out = os.path.join(self.server.tmp, "lp-started.txt")
        t0 = time.time()
        rid = self.rent(tenant, ["sh", "-c", "touch %s; exec sleep 60" % out], count=1)
        # well inside one 20 s heartbeat interval: the held heartbeat carried the placement
        # (waited for past the bound, so that a miss fails on the bound, with its time)
        self.wait_for("the workload to start", lambda: os.path.exists(out), self.INTERVAL)
        self.assertLess(time.time() - t0, self.INTERVAL / 2)
        got = self.wait_for("running", lambda: (lambda r: r if r["state"] == "running" else None)(
            self.rental(tenant, rid)), SLOW)
        self.assertEqual(got["host_id"], self.agents["lp"]["host_id"])
        # read before the stop: the agent removes the rental's record once the workload is gone
        pgid = self.workload_pgid(got["host_id"], rid)
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))
        self.wait_for("the workload to be gone", lambda: not pgid_alive(pgid), GRACE + 3)

    # the inherited tests need the three-agent fleet
    test_run_env_and_stop = None
    test_exit_zero_ends_exited = None
    test_missing_command_fails = None
    test_without_workload_holds_the_gpus = None
    test_zz_kill9_agent_then_restart_adopts = None


class SingleAgentTest(AgentTest):
    """One server and one agent `one`, started with AGENT_ARGS, for the classes below."""

    SERVER_ARGS = ()
    AGENT_ARGS = ()
    AGENT_GRACE = GRACE

    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=list(cls.SERVER_ARGS))
        cls.server.start()
        cls.agents = {}
        try:
            set_price(cls.server, MODEL, "2.00")
            cls.start_agent("one", register=True, grace=cls.AGENT_GRACE, extra=cls.AGENT_ARGS)
            cls.wait_registered()
        except Exception:
            cls.tearDownClass()
            raise

    def agent_log(self):
        with open(self.agents["one"]["log"], "rb") as f:
            return f.read().decode("utf-8", "replace")

    # the inherited tests need the three-agent fleet
    test_run_env_and_stop = None
    test_exit_zero_ends_exited = None
    test_missing_command_fails = None
    test_without_workload_holds_the_gpus = None
    test_zz_kill9_agent_then_restart_adopts = None


class PreemptNoticeTest(SingleAgentTest):
    """A spot workload gets SIGTERM as soon as its rental is given a preemption notice (the
    default 30 s before its GPUs are taken), and keeps running through the notice."""

    AGENT_ARGS = ("--heartbeat-interval", "20")  # the notice must ride the long-poll

    def test_spot_workload_gets_sigterm_at_the_notice(self):
        set_price(self.server, MODEL, "2.00", spot_floor="1.00")
        _, spot_tenant = make_tenant(self.server)
        _, od_tenant = make_tenant(self.server)
        marker = os.path.join(self.server.tmp, "got-term")
        r = spot_tenant.post("/v1/rentals", {
            "gpu_model": MODEL, "gpu_count": 4, "term": "spot", "max_hourly": "1.50",
            "workload": {"command": ["sh", "-c", "trap 'echo term > %s' TERM; "
                                     "while true; do sleep 0.1; done" % marker]}})
        self.assertStatus(r, 201)
        spot = r.json["id"]
        self.wait_for("the spot rental running", lambda: self.rental(
            spot_tenant, spot)["state"] == "running", SLOW)
        r = od_tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": 4,
                                           "term": "on_demand"})
        self.assertStatus(r, (201, 202))
        od = r.json["id"]
        got = self.rental(spot_tenant, spot)
        self.assertIsNotNone(got["preempt_at"], got)
        # at once: well inside the agent's 20 s heartbeat interval (the notice rode the
        # held heartbeat), waited for past the bound so that a miss fails on the bound
        t_notice = time.time()
        self.wait_for("SIGTERM at the notice", lambda: os.path.exists(marker), 20)
        self.assertLess(time.time() - t_notice, 10, "the notice waited for a heartbeat")
        self.assertIn("will be preempted", self.agent_log())
        # the notice is not the end: it runs on until its GPUs are taken
        got = self.rental(spot_tenant, spot)
        self.assertEqual(got["state"], "running", got)
        self.assertStatus(spot_tenant.post("/v1/rentals/%s/stop" % spot), (200, 202))
        self.wait_for("the on-demand rental placed", lambda: self.rental(
            od_tenant, od)["state"] in ("starting", "running"), SLOW)
        self.assertStatus(od_tenant.post("/v1/rentals/%s/stop" % od), (200, 202))


class FencingTest(SingleAgentTest):
    """An agent that loses its control plane for --fence-after seconds stops every workload
    (SIGTERM, SIGKILL after --stop-grace), keeps running, and heartbeats again once the
    control plane is back. The server's timeouts are long: its host never goes down."""

    FENCE = 3
    AGENT_GRACE = 1
    SERVER_ARGS = ("--heartbeat-timeout", "60", "--lost-after", "300")
    AGENT_ARGS = ("--fence-after", str(FENCE))

    def test_fenced_without_the_server_then_back(self):
        _, tenant = make_tenant(self.server)
        # the whole group ignores SIGTERM: only the SIGKILL after the grace ends it
        rid = self.rent(tenant, ["sh", "-c", "trap '' TERM; sleep 600"], count=1)
        got = self.wait_for("running", lambda: (lambda r: r if r["state"] == "running" else None)(
            self.rental(tenant, rid)), SLOW)
        hid = got["host_id"]
        pgid = self.workload_pgid(hid, rid)
        self.assertTrue(pgid_alive(pgid))
        port = self.server.port
        t0 = time.time()
        self.assertEqual(self.server.stop(), 0)
        # fenced at most FENCE s after the last answered heartbeat (+ one interval to notice),
        # then killed AGENT_GRACE s later
        self.wait_for("the fenced workload gone", lambda: not pgid_alive(pgid),
                      self.FENCE + self.AGENT_GRACE + 5)
        self.assertGreaterEqual(time.time() - t0, self.FENCE - 1.5, "fenced too early")
        self.assertIsNone(self.agents["one"]["proc"].poll(), "the agent keeps running")
        log = self.agent_log()
        self.assertIn("heartbeat failed", log)
        self.assertIn("(fenced)", log)
        self.assertNotIn("heartbeats answered again", log)

        self.server.start(port=port)
        self.wait_for("heartbeats answered again",
                      lambda: "heartbeats answered again" in self.agent_log(), SLOW)
        self.wait_for("the host ready", lambda: self.admin.get(
            "/v1/hosts/" + hid).json["state"] == "ready", SLOW)
        self.assertIsNone(self.agents["one"]["proc"].poll(), "the agent keeps running")
        # the fenced workload is reported gone (exited, -1), not started afresh: the rental
        # ends and stops billing instead of running on a workload that no longer exists
        got = self.wait_for("ended", lambda: (lambda r: r if r["state"] == "ended" else None)(
            self.rental(tenant, rid)), SLOW)
        self.assertEqual((got["end_reason"], got["exit_code"]), ("exited", -1), got)
        self.assertEqual(self.agent_log().count("started " + rid), 1, self.agent_log())
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))


class RestartPolicyTest(SingleAgentTest):
    """Workload restart policies through the real agent: on_failure brings a failed workload
    back under a new epoch; a clean exit still ends the rental."""

    def test_on_failure_restarts_under_a_new_epoch(self):
        _, tenant = make_tenant(self.server)
        # each run lasts 2 s, so that polling sees it running on a loaded machine too
        rid = self.rent(tenant, ["sh", "-c", "sleep 2; exit 3"], count=1, restart="on_failure")
        first = self.rental(tenant, rid)
        self.assertEqual(first.get("workload", {}).get("restart", "on_failure"), "on_failure",
                         first)
        e0 = first.get("epoch", 0)
        seen = set()

        def restarted():
            r = self.rental(tenant, rid)
            self.assertNotEqual(r["state"], "ended", r)
            seen.add(r["state"])
            return r if r["epoch"] >= e0 + 2 else None

        got = self.wait_for("two restarts", restarted, 2 * SLOW)
        self.assertIn(got["state"], ("starting", "running"), got)
        self.assertIn("running", seen)
        # the server assigns the new epoch when the exit is reported; the agent starts it
        # when it hears the reply, a moment later
        self.wait_for("a third start",
                      lambda: self.agent_log().count("started %s" % rid) >= 3, SLOW)
        self.assertIn("%s exited with 3" % rid, self.agent_log())
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))
        got = self.wait_for("ended", lambda: (lambda r: r if r["state"] == "ended" else None)(
            self.rental(tenant, rid)), SLOW)
        self.assertNotEqual(got["end_reason"], "exited", got)

    def test_on_failure_clean_exit_ends_exited(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["sh", "-c", "sleep 0.5; exit 0"], count=1, restart="on_failure")
        got = self.wait_for("ended", lambda: (lambda r: r if r["state"] == "ended" else None)(
            self.rental(tenant, rid)), SLOW)
        self.assertEqual((got["end_reason"], got["exit_code"]), ("exited", 0), got)
        self.assertEqual(self.agent_log().count("started %s" % rid), 1)

    def test_restart_policy_validated(self):
        _, tenant = make_tenant(self.server)
        r = tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": 1, "term": "on_demand",
                                        "workload": {"command": ["true"], "restart": "sometimes"}})
        self.assertProblem(r, 400, "restart")

    def test_credentials_file_is_private(self):
        path = os.path.join(self.agents["one"]["dir"], "agent.json")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, oct(st.st_mode))
        with open(path) as f:
            creds = json.load(f)
        self.assertTrue(creds.get("agent_key"))
        self.assertEqual(creds["host_id"], self.agents["one"]["host_id"])



class HeldHeartbeatExitTest(ServerTestCase):
    """One agent whose heartbeat the server holds up to 30 s: a workload's exit is reported
    at once (SIGCHLD gives the held request up), not when the 30 s run out; and a workload
    that exits at once is still reported running first (its started_at is set)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.proc = None
        try:
            set_price(cls.server, MODEL, "2.00")
            token = cls.server.admin.post("/v1/join-tokens", {}).json["token"]
            cls.log = os.path.join(cls.server.tmp, "held.log")
            with open(cls.log, "wb") as log:
                cls.proc = subprocess.Popen(
                    [binary(), "agent", "--server", "http://127.0.0.1:%d" % cls.server.port,
                     "--join-token", token, "--gpus", "sim:2xA100-80G",
                     "--heartbeat-interval", "30", "--stop-grace", "1", "--data-dir",
                     os.path.join(cls.server.tmp, "held"), "--hostname", "held-%d" % os.getpid()],
                    stdout=log, stderr=subprocess.STDOUT)
            deadline = time.time() + SLOW
            while not any(h["state"] == "ready" for h in cls.server.admin.list_all("/v1/hosts")):
                if time.time() > deadline:
                    raise AssertionError("the agent did not register")
                time.sleep(0.1)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.proc is not None and cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()
        super().tearDownClass()

    def test_exit_reported_while_held(self):
        _, tenant = make_tenant(self.server)
        time.sleep(1.0)  # the agent's heartbeat is held by now
        for command, code in ((["true"], 0), (["sh", "-c", "sleep 1; exit 3"], 3)):
            r = tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": 1,
                                            "term": "on_demand", "workload": {"command": command}})
            self.assertStatus(r, 201)
            t0 = time.time()
            got = None
            # polled past the 30 s hold, so that a miss fails on the bound below, with its time
            while time.time() - t0 < 40:
                got = tenant.get("/v1/rentals/" + r.json["id"]).json
                if got["state"] == "ended":
                    break
                time.sleep(0.05)
            took = time.time() - t0
            with open(self.log, "rb") as f:
                log = f.read().decode("utf-8", "replace")
            self.assertEqual(got["state"], "ended", log)
            # well inside the 30 s hold (half of it: a loaded machine is slow, but not that
            # slow; an exit that waits for the hold takes 30 s)
            self.assertLess(took, 15, "%s: the exit waited for the held heartbeat (%.1f s)" %
                            (command, took))
            self.assertEqual(got["end_reason"], "exited")
            self.assertEqual(got["exit_code"], code)
            self.assertIsNotNone(got["started_at"], "%s was never reported running" % command)
            time.sleep(1.0)  # held again


class RegisterRateLimitedTest(ServerTestCase):
    """Hosts joining together from one address meet the creation rate limit (here one every
    2 s, bursts of 1: the four first attempts, made together, meet it even when a loaded
    machine spreads them over a second or so): a refused registration (429) changed nothing,
    so each agent retries it after a jittered backoff, and every host joins, once."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=["--rate-limit-create", "0.5:1"])
        cls.server.start()

    def test_all_hosts_join(self):
        procs, logs = [], []
        # the join tokens first (the admin is not limited), so the agents start together
        tokens = [self.server.admin.post("/v1/join-tokens", {}).json["token"] for _ in range(4)]
        try:
            for i, token in enumerate(tokens):
                logs.append(os.path.join(self.server.tmp, "join%d.log" % i))
                with open(logs[-1], "wb") as log:
                    procs.append(subprocess.Popen(
                        [binary(), "agent", "--server", "http://127.0.0.1:%d" % self.server.port,
                         "--join-token", token, "--gpus", "sim:1xA100-80G",
                         "--data-dir", os.path.join(self.server.tmp, "join%d" % i),
                         "--hostname", "join-%d-%d" % (i, os.getpid())],
                        stdout=log, stderr=subprocess.STDOUT))
            deadline = time.time() + 2 * SLOW
            hosts = []
            while time.time() < deadline:
                hosts = [h for h in self.server.admin.list_all("/v1/hosts")
                         if h["hostname"].startswith("join-")]
                if len(hosts) == 4 and all(h["state"] == "ready" for h in hosts):
                    break
                time.sleep(0.2)
            text = ""
            for name in logs:
                with open(name, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            self.assertEqual(sorted(h["hostname"] for h in hosts),
                             sorted("join-%d-%d" % (i, os.getpid()) for i in range(4)), text)
            self.assertTrue(all(h["state"] == "ready" for h in hosts), hosts)
            # the limit was met: at least three of the four were refused at first
            self.assertGreaterEqual(text.count("cannot register yet"), 3, text)
            self.assertNotIn("cannot register:", text)
            for p in procs:
                self.assertIsNone(p.poll(), "an agent exited")
        finally:
            for p in procs:
                p.kill()
                p.wait()


if __name__ == "__main__":
    unittest.main()
