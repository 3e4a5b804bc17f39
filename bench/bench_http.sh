#!/usr/bin/env bash
# bench/bench_http.sh GPURENT_BIN [SECONDS] - HTTP throughput of `gpurent serve`, with wrk on
# loopback.
#
# Starts the server on a free port with a temporary data dir (with bench/fsync_count.c
# preloaded, counting its fsync and fdatasync calls, when a C compiler is there), registers BENCH_HTTP_GPUS GPUs (hosts of 32) and a tenant
# with a huge balance through the API (bench/bench_http_setup.py), then runs wrk with
# BENCH_HTTP_CONNECTIONS (64) connections on BENCH_HTTP_THREADS (2) threads:
#   1. POST /v1/rentals for SECONDS (10): 1-GPU on_demand creates, each with its own
#      Idempotency-Key (a Lua script); every create must get 201: durable creates/s and p99,
#      and the fsyncs the server made per second meanwhile;
#   2. GET /v1/rentals/{id} for SECONDS: reads/s and p99.
# Targets (the performance issue, on 2 cores): >= 50,000 GETs/s, >= 10,000 durable creates/s,
# p99 <= 20 ms for both.
#
# Output: the figures, then one `RESULT {json}` line per metric (bench/run.sh collects them).
# Exits 0 without results when wrk is missing and cannot be installed (not root).
# Environment: BENCH_HTTP_GPUS (256000), BENCH_HTTP_CONNECTIONS, BENCH_HTTP_THREADS,
# BENCH_HTTP_FSYNC (1: count fsyncs with the preloaded shim; 0: do not),
# BENCH_HTTP_SERVE_ARGS (more `gpurent serve` options, e.g. "--threads 8"),
# BENCH_HTTP_KEEP=1 keeps the data dir and logs.
set -euo pipefail

bin=${1:?usage: bench/bench_http.sh GPURENT_BIN [SECONDS]}
secs=${2:-10}
conns=${BENCH_HTTP_CONNECTIONS:-64}
wthreads=${BENCH_HTTP_THREADS:-2}
gpus=${BENCH_HTTP_GPUS:-256000}
per_host=32
hosts=$(((gpus + per_host - 1) / per_host))
count_fsync=${BENCH_HTTP_FSYNC:-1}
root=$(cd "$(dirname "$0")/.." && pwd)

[ -x "$bin" ] || {
    echo "bench_http: $bin is not an executable" >&2
    exit 1
}

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "bench_http: installing wrk"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends wrk; }
    fi
    if ! command -v wrk >/dev/null; then
        echo "bench_http: skipped: wrk is not installed (apt-get install wrk)"
        exit 0
    fi
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/gpurent-bench-http.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ "${BENCH_HTTP_KEEP:-0}" = 1 ]; then
        echo "bench_http: kept $dir"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

# calc EXPR: floating-point arithmetic and comparisons (1 or 0), without bc
calc() { awk "BEGIN { print ($*) }"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
# the fake hosts never heartbeat: keep them up for the whole run; wrk drives one tenant key
# as fast as it can, which the per-key rate limits exist to stop: they are off here
cmd=("$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir/data"
    --heartbeat-timeout 3600 --lost-after 3600 --rate-limit 0 --rate-limit-create 0
    ${BENCH_HTTP_SERVE_ARGS:-})
preload=()
if [ "$count_fsync" = 1 ]; then
    if ${CC:-cc} -O2 -shared -fPIC -o "$dir/fsync_count.so" "$root/bench/fsync_count.c" \
        -ldl -lpthread 2>"$dir/cc.err"; then
        preload=(LD_PRELOAD="$dir/fsync_count.so" FSYNC_COUNT_FILE="$dir/fsync.count")
    else
        echo "bench_http: cannot build bench/fsync_count.c: fsyncs are not counted" >&2
        count_fsync=0
    fi
fi
env -u GPURENT_ADMIN_KEY "${preload[@]}" "${cmd[@]}" >"$dir/server.out" 2>"$dir/server.err" &
pid=$!

for _ in $(seq 200); do
    curl_ok=$(python3 -c "
import urllib.request,sys
try: print(urllib.request.urlopen('$base/healthz', timeout=1).status)
except Exception: print(0)" 2>/dev/null)
    [ "$curl_ok" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || {
        echo "bench_http: the server exited:" >&2
        tail -20 "$dir/server.err" "$dir/server.out" >&2
        exit 1
    }
    sleep 0.1
done
[ "$curl_ok" = 200 ] || {
    echo "bench_http: the server is not healthy" >&2
    exit 1
}
admin_key=$(grep -ohE 'gpr_[0-9A-Za-z]{36}' "$dir/server.out" "$dir/server.err" | head -1 || true)
[ -n "$admin_key" ] || {
    echo "bench_http: the server printed no admin key" >&2
    exit 1
}
server_pid=$pid

t0=$(date +%s.%N)
setup=$(python3 "$root/bench/bench_http_setup.py" "$port" "$admin_key" "$hosts" "$per_host")
eval "$setup"
t1=$(date +%s.%N)
printf 'setup: %d hosts of %d GPUs, a tenant, in %.1f s (server pid %s)\n' "$hosts" "$per_host" \
    "$(calc "$t1 - $t0")" "$server_pid"

cat >"$dir/create.lua" <<'LUA'
-- POST /v1/rentals with a unique Idempotency-Key per request; counts the non-201 replies.
local threads = {}
local next_id = 1
function setup(thread)
    thread:set("tid", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end
function init(args)
    key, model = args[1], args[2]
    n, bad, last_bad = 0, 0, ""
    body = '{"gpu_model":"' .. model .. '","gpu_count":1,"term":"on_demand"}'
    prefix = "bench-" .. tostring(os.time()) .. "-" .. tostring(tid) .. "-"
end
function request()
    n = n + 1
    return wrk.format("POST", "/v1/rentals", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. key,
        ["Idempotency-Key"] = prefix .. n }, body)
end
function response(status, headers, rbody)
    if status ~= 201 then
        bad = bad + 1
        last_bad = tostring(status) .. " " .. string.sub(rbody, 1, 200)
    end
end
function done(summary, latency, requests)
    local b = 0
    for _, t in ipairs(threads) do
        b = b + t:get("bad")
        if t:get("bad") > 0 then io.write("non-201: " .. t:get("last_bad") .. "\n") end
    end
    io.write(string.format("NON201 %d\n", b))
end
LUA

# wrk_run NAME ARGS...: runs wrk, leaves its output in $dir/NAME.txt
wrk_run() {
    local name=$1
    shift
    wrk -t"$wthreads" -c"$conns" -d"${secs}s" --latency "$@" | tee "$dir/$name.txt"
}
# p99 in ms and req/s from a wrk output file
p99_ms() {
    awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
         printf "%.3f", v }' "$1"
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
# the server's fsync+fdatasync count so far (the shim writes it every 100 ms)
fsyncs() {
    sleep 0.25
    cat "$dir/fsync.count" 2>/dev/null || echo 0
}

echo
echo "== POST /v1/rentals: $conns connections, $secs s"
f0=$(fsyncs)
c0=$(date +%s.%N)
wrk_run create -s "$dir/create.lua" "$base/v1/rentals" -- "$TENANT_KEY" "$MODEL"
c1=$(date +%s.%N)
f1=$(fsyncs)
non201=$(awk '/^NON201/ { print $2 }' "$dir/create.txt")
total=$(awk '/requests in/ { print $1 }' "$dir/create.txt")
create_wall=$(calc "$c1 - $c0")
create_rps=$(calc "($total - $non201) / $secs")
create_p99=$(p99_ms "$dir/create.txt")
fsync_rate=$(calc "($f1 - $f0) / $create_wall")
if [ "$non201" -gt 0 ]; then
    echo "bench_http: $non201 creates were not 201 (out of capacity? raise BENCH_HTTP_GPUS)" >&2
fi

echo
echo "== GET /v1/rentals/$RENTAL_ID: $conns connections, $secs s"
wrk_run get -H "Authorization: Bearer $TENANT_KEY" "$base/v1/rentals/$RENTAL_ID"
get_rps=$(rps "$dir/get.txt")
get_p99=$(p99_ms "$dir/get.txt")
get_bad=$(awk '/Non-2xx/ { print $NF }' "$dir/get.txt")

rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0)
echo
printf '%-34s %12s %12s\n' metric value target
printf '%-34s %12.0f %12s\n' "GET rental, req/s" "$get_rps" ">= 50000"
printf '%-34s %12.2f %12s\n' "GET rental, p99 ms" "$get_p99" "<= 20"
printf '%-34s %12.0f %12s\n' "POST rental (durable), creates/s" "$create_rps" ">= 10000"
printf '%-34s %12.2f %12s\n' "POST rental, p99 ms" "$create_p99" "<= 20"
if [ "$count_fsync" = 1 ]; then
    printf '%-34s %12.0f %12s\n' "fsync+fdatasync/s during creates" "$fsync_rate" ""
    printf '%-34s %12.1f %12s\n' "creates per fsync" \
        "$(calc "($total - $non201) / (($f1 - $f0) + 0.000001)")" ""
fi
printf '%-34s %12d %12s\n' "non-201 creates" "$non201" "0"
printf '%-34s %12d %12s\n' "server RSS after, KiB" "$rss_kb" ""

result() { # metric value unit target cmp
    local pass=null
    if [ -n "$4" ]; then
        if [ "$(calc "$2 $5 $4")" = 1 ]; then pass=true; else pass=false; fi
    fi
    printf 'RESULT {"bench":"http","connections":%d,"seconds":%d,"metric":"%s","value":%.3f,"unit":"%s","target":%s,"cmp":"%s","pass":%s}\n' \
        "$conns" "$secs" "$1" "$2" "$3" "${4:-null}" "$5" "$pass"
}
echo
result get_rps "$get_rps" "req/s" 50000 ">="
result get_p99_ms "$get_p99" ms 20 "<="
result create_rps "$create_rps" "req/s" 10000 ">="
result create_p99_ms "$create_p99" ms 20 "<="
[ "$count_fsync" = 1 ] && result create_fsync_per_s "$fsync_rate" "1/s" "" ""
if [ "$non201" -gt 0 ] || [ -n "$get_bad" ]; then
    echo "bench_http: some requests failed (see above)" >&2
    exit 1
fi
