"""API: the real `gpurent agent --runtime docker` (SIMULATED GPUs) against a real server and
a real Docker engine.

The engine: the one DOCKER_HOST (or the default socket) reaches; when none answers and we run
as root with a dockerd binary, the test starts its own dockerd (its own data root, exec root,
pid file and socket in a temporary directory, --iptables=false --bridge=none) and stops it at
the end; GPURENT_TEST_OWN_DOCKERD=1 asks for that even when an engine answers (what CI on a
fresh machine does). Without docker, or not root and no engine, the test skips, saying why.

The image is built here, offline: a static busybox (Debian's busybox-static) imported with
`docker import` as gpurent-test/busybox:1. Containers run with no network: the agent's
`docker run` gets none, the test's own --network none.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ServerTestCase, Server, binary, make_tenant, micros, parse_time,  # noqa: E402
                     prorate, set_price)

MODEL = "A100-80G"
GRACE = 2
IMAGE = "gpurent-test/busybox:1"
APPLETS = ("sh", "sleep", "env", "echo", "cat", "true")
# Waits for the agent and the engine (not a bound under test) get this much: generous, for a
# sanitizer build on a loaded machine.
SLOW = 30


def docker(env, *args, check=True, timeout=60):
    p = subprocess.run(["docker"] + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args), out))
    return p.returncode, out


def engine_answers(env):
    try:
        rc, _ = docker(env, "version", "--format", "{{.Server.Version}}", check=False, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return rc == 0


def static_busybox():
    """The path of a statically linked busybox (no ELF interpreter), or None."""
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"/lib64/ld-linux" not in data and b"/lib/ld-linux" not in data:
            return p
    return None


class Engine:
    """A reachable Docker engine: env (for subprocess) and what to stop at the end."""

    def __init__(self):
        self.env = dict(os.environ)
        self.proc = None
        self.tmp = None
        self.why_not = None

    def start(self):
        if shutil.which("docker") is None:
            self.why_not = "no docker CLI (scripts/install-deps.sh installs docker.io)"
            return False
        own = os.environ.get("GPURENT_TEST_OWN_DOCKERD") == "1"
        if not own and engine_answers(self.env):
            return True
        dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if os.path.exists(
            "/usr/sbin/dockerd") else None)
        if os.geteuid() != 0 or dockerd is None:
            self.why_not = "no Docker engine answers, and %s" % (
                "no dockerd binary" if dockerd is None else "not root: cannot start dockerd")
            return False
        # a short path: the socket's name must fit a sockaddr_un
        self.tmp = tempfile.mkdtemp(prefix="gpd-", dir="/tmp")
        sock = os.path.join(self.tmp, "docker.sock")
        self.log_path = os.path.join(self.tmp, "dockerd.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [dockerd, "--data-root", os.path.join(self.tmp, "root"),
                 "--exec-root", os.path.join(self.tmp, "exec"),
                 "--pidfile", os.path.join(self.tmp, "dockerd.pid"),
                 "-H", "unix://" + sock, "--iptables=false", "--ip-masq=false",
                 "--bridge=none"], stdout=log, stderr=subprocess.STDOUT)
        self.env["DOCKER_HOST"] = "unix://" + sock
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(sock) and engine_answers(self.env):
                return True
            time.sleep(0.3)
        with open(self.log_path, "rb") as f:
            tail = f.read().decode("utf-8", "replace")[-2000:]
        self.stop()
        raise AssertionError("our own dockerd did not come up:\n" + tail)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.tmp is not None:
            subprocess.run(["umount", "-R", os.path.join(self.tmp, "root")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class DockerRuntimeTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = Engine()
        if not cls.engine.start():
            raise unittest.SkipTest(cls.engine.why_not)
        cls.agent = None
        try:
            cls.build_image()
            # --lost-after 60: the kill -9 test's restarted agent (after docker runs that are
            # slow on a loaded machine) is back before its rentals are lost
            cls.server = Server(args=["--heartbeat-timeout", "3", "--lost-after", "60"])
            cls.server.start()
            set_price(cls.server, MODEL, "2.00")
            cls.dir = os.path.join(cls.server.tmp, "agent")
            r = cls.server.admin.post("/v1/join-tokens", {})
            assert r.status == 201, r
            cls.starts = 0
            cls.start_agent(["--join-token", r.json["token"]])
            deadline = time.time() + SLOW
            while time.time() < deadline and not os.path.exists(
                    os.path.join(cls.dir, "agent.json")):
                time.sleep(0.1)
            with open(os.path.join(cls.dir, "agent.json")) as f:
                cls.host_id = json.load(f)["host_id"]
            with open(os.path.join(cls.dir, "docker-agent-id")) as f:
                cls.agent_label = f.read()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def build_image(cls):
        bb = static_busybox()
        assert bb is not None, "no static busybox (scripts/install-deps.sh installs busybox-static)"
        root = tempfile.mkdtemp(prefix="gpurent-bb-")
        try:
            os.makedirs(os.path.join(root, "bin"))
            os.makedirs(os.path.join(root, "tmp"))
            shutil.copy(bb, os.path.join(root, "bin", "busybox"))
            for a in APPLETS:
                os.symlink("busybox", os.path.join(root, "bin", a))
            tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
            imp = subprocess.run(["docker", "import", "-", IMAGE], stdin=tar.stdout,
                                 env=cls.engine.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=60)
            tar.stdout.close()
            tar.wait()
            assert imp.returncode == 0, imp.stdout
        finally:
            shutil.rmtree(root, ignore_errors=True)
        _, out = docker(cls.engine.env, "run", "--rm", "--network", "none", IMAGE, "echo", "hi")
        assert out.strip() == "hi", out

    @classmethod
    def start_agent(cls, extra=()):
        args = [binary(), "agent", "--server", "http://127.0.0.1:%d" % cls.server.port,
                "--gpus", "sim:2xA100-80G", "--runtime", "docker", "--heartbeat-interval", "1",
                "--data-dir", cls.dir, "--stop-grace", str(GRACE),
                "--hostname", "docker-agent-%d" % os.getpid()] + list(extra)
        cls.starts += 1
        cls.agent_log = os.path.join(cls.server.tmp, "agent.%d.log" % cls.starts)
        with open(cls.agent_log, "wb") as log:
            cls.agent = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         env=cls.engine.env)

    @classmethod
    def tearDownClass(cls):
        if cls.agent is not None and cls.agent.poll() is None:
            cls.agent.kill()
            cls.agent.wait()
        label = getattr(cls, "agent_label", None)
        if label:
            _, out = docker(cls.engine.env, "ps", "-aq", "--filter",
                            "label=gpurent.agent=" + label, check=False)
            for cid in out.split():
                docker(cls.engine.env, "rm", "-f", cid, check=False)
        try:
            if cls.server is not None:
                super().tearDownClass()
        finally:
            cls.engine.stop()

    # ---- helpers --------------------------------------------------------------------------

    def wait_for(self, what, fn, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        with open(self.agent_log, "rb") as f:
            log = f.read().decode("utf-8", "replace")[-2000:]
        self.fail("timed out waiting for %s\n--- agent\n%s" % (what, log))

    def rent(self, tenant, command, env=None, image=IMAGE, count=2):
        workload = {"command": command, "image": image}
        if env is not None:
            workload["env"] = env
        r = tenant.post("/v1/rentals", {"gpu_model": MODEL, "gpu_count": count,
                                        "term": "on_demand", "workload": workload})
        self.assertStatus(r, 201)
        return r.json["id"]

    def rental(self, tenant, rid):
        return tenant.get("/v1/rentals/" + rid).json

    def wait_state(self, tenant, rid, states, timeout=SLOW):
        return self.wait_for("%s %s" % (rid, states), lambda: (
            lambda r: r if r["state"] in states else None)(self.rental(tenant, rid)), timeout)

    def inspect(self, rid):
        """docker inspect of the rental's container, or None when there is none."""
        rc, out = docker(self.engine.env, "inspect", "gpurent-" + rid, check=False)
        return json.loads(out)[0] if rc == 0 else None

    def gpu_indices(self, rid):
        host = self.admin.get("/v1/hosts/" + self.host_id).json
        return sorted(g["index"] for g in host["gpus"] if g.get("rental_id") == rid)

    # ---- tests ----------------------------------------------------------------------------

    def test_a_env_labels_logs_and_stop(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["sh", "-c", "echo started; env; exec sleep 300"],
                        env={"GREETING": "hello world", "CUDA_VISIBLE_DEVICES": "7"})
        self.wait_state(tenant, rid, ("running",))
        c = self.inspect(rid)
        self.assertIsNotNone(c)
        self.assertTrue(c["State"]["Running"])
        want = ",".join(map(str, self.gpu_indices(rid)))
        self.assertEqual(len(want.split(",")), 2)
        env = [e for e in c["Config"]["Env"]]
        self.assertIn("GREETING=hello world", env)
        # the rental's GPUs win over the workload's own CUDA_VISIBLE_DEVICES
        self.assertIn("NVIDIA_VISIBLE_DEVICES=" + want, env)
        self.assertIn("CUDA_VISIBLE_DEVICES=" + want, env)
        self.assertNotIn("CUDA_VISIBLE_DEVICES=7", env)
        # SIMULATED GPUs: no --gpus (no device request for the NVIDIA toolkit)
        self.assertFalse(c["HostConfig"].get("DeviceRequests"))
        self.assertEqual(c["Config"]["Labels"]["gpurent.rental"], rid)
        self.assertEqual(c["Config"]["Labels"]["gpurent.agent"], self.agent_label)
        self.assertEqual(c["Config"]["Image"], IMAGE)
        with open(self.agent_log, "rb") as f:
            self.assertIn(b"SIMULATED", f.read())
        # stop: sleep as the container's pid 1 ignores SIGTERM: killed after the grace
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))
        t0 = time.time()
        self.wait_for("the container gone", lambda: self.inspect(rid) is None, GRACE + 5)
        self.assertLess(time.time() - t0, GRACE + 5)
        got = self.wait_state(tenant, rid, ("ended",))
        self.assertEqual(got["end_reason"], "stopped", got)
        # its output was saved before the container went
        with open(os.path.join(self.dir, "logs", rid + ".log")) as f:
            log = f.read().splitlines()
        self.assertEqual(log[0], "started")
        self.assertIn("GREETING=hello world", log)
        self.assertIn("NVIDIA_VISIBLE_DEVICES=" + want, log)

    def test_b_exit_code(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["sh", "-c", "sleep 1; echo bye; exit 3"], count=1)
        got = self.wait_state(tenant, rid, ("ended",))
        self.assertEqual((got["end_reason"], got["exit_code"]), ("exited", 3), got)
        self.wait_for("the exited container removed", lambda: self.inspect(rid) is None, SLOW)
        with open(os.path.join(self.dir, "logs", rid + ".log")) as f:
            self.assertEqual(f.read(), "bye\n")

    def test_c_unknown_image_fails_uncharged(self):
        _, tenant = make_tenant(self.server)
        rid = self.rent(tenant, ["true"], image="gpurent-test/no-such-image:1", count=1)
        got = self.wait_state(tenant, rid, ("ended",))
        self.assertEqual(got["end_reason"], "failed_to_start", got)
        self.assertEqual(micros(got["cost"]), 0, got)
        self.assertIsNone(self.inspect(rid))
        with open(self.agent_log, "rb") as f:
            self.assertIn(b"failed to start: docker run", f.read())

    def test_d_kill9_restart_adopts_and_removes_orphans(self):
        _, tenant = make_tenant(self.server)
        # an ended rental: its id on a container labelled as ours is one no rental runs
        done = self.rent(tenant, ["true"], count=1)
        self.wait_state(tenant, done, ("ended",))
        rid = self.rent(tenant, ["sleep", "300"], count=1)
        self.wait_state(tenant, rid, ("running",))
        # one that exits while no agent watches: reported with its code after the restart
        short = self.rent(tenant, ["sh", "-c", "sleep 2; exit 5"], count=1)
        self.wait_state(tenant, short, ("running",))
        before = self.inspect(rid)
        self.assertTrue(before["State"]["Running"])
        self.agent.kill()
        self.agent.wait()
        self.assertTrue(self.inspect(rid)["State"]["Running"], "the container outlives its agent")
        self.wait_for("the short one exited", lambda: not self.inspect(short)["State"]["Running"],
                      SLOW)
        # what the agent must not keep: a container for an ended rental, one without a rental
        docker(self.engine.env, "run", "-d", "--network", "none", "--name", "gpurent-" + done,
               "--label", "gpurent.rental=" + done, "--label", "gpurent.epoch=1",
               "--label", "gpurent.agent=" + self.agent_label, IMAGE, "sleep", "300")
        _, stray = docker(self.engine.env, "run", "-d", "--network", "none",
                          "--label", "gpurent.agent=" + self.agent_label, IMAGE, "sleep", "300")
        stray = stray.strip()
        t_start = time.time()
        self.start_agent()
        self.wait_for("the orphans removed", lambda: self.inspect(done) is None and docker(
            self.engine.env, "inspect", stray, check=False)[0] != 0, SLOW)
        # billed again from the restarted agent's first heartbeat (the host may have gone down
        # meanwhile: a slow restart's gap is not billed): wait for a heartbeat surely after
        # the start (the times are whole seconds) and the host ready
        def back():
            h = self.admin.get("/v1/hosts/" + self.host_id).json
            return h["state"] == "ready" and h["last_heartbeat_at"] is not None and \
                parse_time(h["last_heartbeat_at"])[0] >= math.ceil(t_start) * 10**6
        self.wait_for("a heartbeat of the restarted agent", back, SLOW)
        restarted = time.time()
        time.sleep(2)
        after = self.inspect(rid)
        self.assertEqual(after["Id"], before["Id"], "adopted, not started again")
        self.assertEqual(after["State"]["StartedAt"], before["State"]["StartedAt"])
        self.assertTrue(after["State"]["Running"])
        _, ours = docker(self.engine.env, "ps", "-aq", "--filter",
                         "label=gpurent.rental=" + rid)
        self.assertEqual(len(ours.split()), 1, "no duplicate")
        got = self.rental(tenant, rid)
        self.assertEqual(got["state"], "running", got)
        got = self.wait_state(tenant, short, ("ended",))
        self.assertEqual((got["end_reason"], got["exit_code"]), ("exited", 5), got)
        self.wait_for("the exited one removed", lambda: self.inspect(short) is None, SLOW)
        with open(self.agent_log, "rb") as f:
            log = f.read()
        self.assertIn(("%s adopted" % rid).encode(), log)
        self.assertIn(("%s ended while the agent was away" % short).encode(), log)
        stopped = time.time()
        self.assertStatus(tenant.post("/v1/rentals/%s/stop" % rid), (200, 202))
        self.wait_for("the adopted container gone", lambda: self.inspect(rid) is None,
                      GRACE + 5)
        got = self.wait_state(tenant, rid, ("ended",))
        self.assertEqual(got["end_reason"], "stopped", got)
        # billing went on through the restart: at least the span the restarted agent ran it
        # (1 GPU at 2.00/h), less a second for the heartbeats' edges
        span_us = int((stopped - restarted - 1.0) * 1e6)
        self.assertGreater(span_us, 0)
        self.assertGreaterEqual(micros(got["cost"]), prorate(2000000, span_us), got)


if __name__ == "__main__":
    unittest.main()
