"""crashlib.py - the crash-safety tests' access to the LD_PRELOAD shim (crashshim.c).

    env = shim_env(srv.data_dir, at=k)        # die at the k-th durable write
    env = shim_env(srv.data_dir, fault_file=p) # fail writes while p exists
    srv.extra_env = env; srv.start()

The shim comes from $GPURENT_CRASHSHIM (ctest sets it), else build/tests/libcrashshim.so.

Under the sanitizer build ($GPURENT_SANITIZED true) the binary links GCC's shared ASan
runtime, which must come first among the loaded libraries: the shim is preloaded right after
it (LD_PRELOAD="libasan.so crashshim.so"), so ASan's interceptors run first and call on into
the shim, which calls libc. The shim itself is built without sanitizers.
"""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

import harness  # noqa: E402,F401


def sanitized():
    return os.environ.get("GPURENT_SANITIZED", "").lower() in ("1", "true", "on", "yes")


def shim_path():
    p = os.environ.get("GPURENT_CRASHSHIM") or os.path.join(ROOT, "build", "tests",
                                                            "libcrashshim.so")
    if not os.path.exists(p):
        raise unittest.SkipTest("no crash shim at %s (set GPURENT_CRASHSHIM)" % p)
    return p


def _asan_runtime():
    """The shared ASan runtime the binary links, or None (a static runtime needs nothing)."""
    try:
        out = subprocess.run(["ldd", harness.binary()], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return line.split("=>")[1].split("(")[0].strip()
    return None


def shim_env(data_dir, at=0, torn=False, powerloss=False, count_file=None, fault_file=None):
    preload = [shim_path()]
    asan = _asan_runtime()
    if asan:
        preload.insert(0, asan)
    env = {"LD_PRELOAD": " ".join(preload), "CRASHSHIM_DIR": data_dir,
           "CRASHSHIM_AT": str(at)}
    if torn:
        env["CRASHSHIM_TORN"] = "1"
    if powerloss:
        env["CRASHSHIM_POWERLOSS"] = "1"
    if count_file:
        env["CRASHSHIM_COUNT_FILE"] = count_file
    if fault_file:
        env["CRASHSHIM_FAULT_FILE"] = fault_file
    return env
