#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - run every benchmark against a Release build (what `make bench` does).
#
#   bench_engine   placement throughput and latency, engine memory (bench/bench_engine.c)
#   bench_sim.sh   simulator speed on a 30-day, 10,000-GPU scenario (bench/bench_sim.sh)
#   bench_store    durable commands/s through the SQLite store, batches of 1, 16, 128
#                  (bench/bench_store.c)
#   bench_http.sh  `gpurent serve` over HTTP with wrk: GETs/s, durable creates/s, p99, fsyncs
#   bench_agent.py placement to workload start through a real agent (long-polled heartbeat)
#   bench_agents.py 100 real agents: rentals fully cycled per second, placement to running
#
# Results go to bench/results/<UTC time>/ (git-ignored): each benchmark's output, the machine,
# and results.jsonl with one JSON object per measured metric. Targets that are missed are
# reported as MISSED; the exit status is non-zero only when a benchmark fails to run, or when
# BENCH_STRICT=1 and a target is missed.
#
# Environment: BENCH_ENGINE_ARGS (e.g. "--runs 5"), BENCH_SIM_RUNS (default 5), BENCH_STRICT,
# BENCH_STORE_ARGS (e.g. "--runs 5 --dir /data"),
# BENCH_HTTP_SECONDS (default 10; 0 skips bench_http) and bench_http.sh's own,
# BENCH_AGENTS_SECONDS (default 20; 0 skips bench_agents) and bench_agents.py's own.
set -euo pipefail

build=${1:?usage: bench/run.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
out=$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [ "$type" != "Release" ]; then
    echo "bench: warning: $build is a '${type:-unknown}' build; numbers are for Release" >&2
fi

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        "(family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -1) MHz)"
    echo "nproc: $(nproc)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
    echo "compiler: ${cc:-cc} ($("${cc:-cc}" --version 2>/dev/null | head -1))"
    echo "build: $build ($type)"
} | tee "$out/machine.txt"
echo

status=0
echo "== bench_engine"
# shellcheck disable=SC2086 # BENCH_ENGINE_ARGS is a list of options
if ! "$build/bench/bench_engine" ${BENCH_ENGINE_ARGS:-} | tee "$out/engine.txt"; then
    echo "bench: bench_engine failed" >&2
    status=1
fi
echo
echo "== bench_sim"
if ! "$root/bench/bench_sim.sh" "$build/gpurent" "${BENCH_SIM_RUNS:-5}" | tee "$out/sim.txt"; then
    echo "bench: bench_sim failed" >&2
    status=1
fi
echo
echo "== bench_store"
# shellcheck disable=SC2086 # BENCH_STORE_ARGS is a list of options
if ! "$build/bench/bench_store" ${BENCH_STORE_ARGS:-} | tee "$out/store.txt"; then
    echo "bench: bench_store failed" >&2
    status=1
fi

echo
echo "== bench_http"
if [ "${BENCH_HTTP_SECONDS:-10}" = 0 ]; then
    echo "skipped (BENCH_HTTP_SECONDS=0)" | tee "$out/http.txt"
elif ! "$root/bench/bench_http.sh" "$build/gpurent" "${BENCH_HTTP_SECONDS:-10}" |
    tee "$out/http.txt"; then
    echo "bench: bench_http failed" >&2
    status=1
fi

echo
echo "== bench_agent"
if ! python3 "$root/bench/bench_agent.py" "$build/gpurent" "${BENCH_AGENT_RUNS:-30}" |
    tee "$out/agent.txt"; then
    echo "bench: bench_agent failed" >&2
    status=1
fi

echo
echo "== bench_agents"
if [ "${BENCH_AGENTS_SECONDS:-20}" = 0 ]; then
    echo "skipped (BENCH_AGENTS_SECONDS=0)" | tee "$out/agents.txt"
elif ! python3 "$root/bench/bench_agents.py" "$build/gpurent" "${BENCH_AGENTS_SECONDS:-20}" |
    tee "$out/agents.txt"; then
    echo "bench: bench_agents failed" >&2
    status=1
elif command -v busybox >/dev/null; then
    # the same with a statically linked workload (busybox touch): the platform's own cost
    # without the dynamic loader's (docs/benchmarks.md)
    echo "== bench_agents (BENCH_AGENTS_WORKLOAD=busybox)"
    if ! BENCH_AGENTS_WORKLOAD=busybox python3 "$root/bench/bench_agents.py" "$build/gpurent" \
        "${BENCH_AGENTS_SECONDS:-20}" | tee "$out/agents-busybox.txt"; then
        echo "bench: bench_agents (busybox) failed" >&2
        status=1
    fi
fi

touch "$out/agents-busybox.txt"
sed -n 's/^RESULT //p' "$out/engine.txt" "$out/sim.txt" "$out/store.txt" "$out/http.txt" \
    "$out/agent.txt" "$out/agents.txt" "$out/agents-busybox.txt" >"$out/results.jsonl"
echo
echo "== targets"
missed=0
while IFS= read -r line; do
    case $line in
    *'"pass":true'*) echo "  met     $line" ;;
    *'"pass":false'*)
        echo "  MISSED  $line"
        missed=1
        ;;
    esac
done <"$out/results.jsonl"
echo "results: $out"
if [ $missed -eq 1 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
    status=1
fi
exit $status
