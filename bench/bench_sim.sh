#!/usr/bin/env bash
# bench/bench_sim.sh GPURENT_BIN [RUNS] - simulator speed: a 30-day, 10,000-GPU scenario.
#
# Writes a scenario to a temporary directory (nothing is committed): 1250 hosts of 8 A100-80G
# GPUs (two NVLink islands each), the brief's prices and promotion, and Poisson demand of 1,400
# requests an hour (~1,000,000 over 30 days) of 1/2/4/8 GPUs with exponential durations (mean
# 9400 s), 90% on demand and 10% spot: about 95% of the fleet is asked for, so some requests
# queue and some spot rentals are preempted. Then it runs
# `gpurent simulate DIR --days 30 --json` RUNS times (default 5) and reports the median wall
# time, simulated fleet GPU-hours per wall second, and rentals per wall second.
#
# Output: a table, then one `RESULT {json}` line per metric (bench/run.sh collects them).
# Environment: BENCH_SIM_KEEP=1 keeps the scenario and the last report (the path is printed).
set -euo pipefail

bin=${1:?usage: bench/bench_sim.sh GPURENT_BIN [RUNS]}
runs=${2:-5}
hosts=1250
gpus_per_host=8
gpus=$((hosts * gpus_per_host))
days=30
target_wall_s=10

[ -x "$bin" ] || {
    echo "bench_sim: $bin is not an executable" >&2
    exit 1
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/gpurent-bench-sim.XXXXXX")
if [ "${BENCH_SIM_KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$dir"' EXIT
fi

cat >"$dir/scenario.json" <<JSON
{
  "description": "bench: 10,000 A100 GPUs for 30 days, about 1,000,000 rentals",
  "start": "2026-01-01T00:00:00Z",
  "days": $days,
  "seed": 7,
  "settle_interval_seconds": 3600,
  "agent_start_delay_seconds": 30,
  "tenants": 1000,
  "tenant_credit": "1000000000.00"
}
JSON

cat >"$dir/fleet.json" <<JSON
{
  "host_groups": [
    {
      "count": $hosts,
      "hostname_prefix": "bench",
      "gpu_model": "A100-80G",
      "memory_mib": 81920,
      "gpus_per_host": $gpus_per_host,
      "nvlink_islands": 2,
      "cost": {
        "purchase_price": "800000.00",
        "purchased_at": "2026-01-01T00:00:00Z",
        "depreciation_years": 5,
        "salvage_fraction": 0,
        "power_watts": 3200,
        "pue": 1.25,
        "electricity_kwh_price": "0.60",
        "hosting_monthly": "8760.00"
      }
    }
  ]
}
JSON

cat >"$dir/prices.json" <<JSON
{
  "prices": {
    "A100-80G": {
      "on_demand_hourly": "15.10",
      "spot_floor_hourly": "6.00",
      "packages": { "day": "182.40", "week": "1209.60", "month": "4968.00" }
    }
  },
  "coupons": [
    { "code": "LAUNCH-A100", "automatic": true, "percent_off": 49,
      "gpu_model": "A100-80G", "term": "on_demand" }
  ]
}
JSON

# Offered load: 1400/h x 2.6 GPUs (mean size) x 9400 s / 3600 = 9,504 GPUs of 10,000 (95%).
cat >"$dir/demand.json" <<JSON
{
  "models": [
    {
      "gpu_model": "A100-80G",
      "arrivals_per_hour": 1400,
      "duration": { "distribution": "exponential", "mean_seconds": 9400, "max_seconds": 604800 },
      "sizes": { "1": 0.4, "2": 0.3, "4": 0.2, "8": 0.1 },
      "terms": { "on_demand": 0.9, "spot": 0.1 },
      "spot_bid": { "min": "6.00", "max": "9.00" },
      "queue_share": 0.8
    }
  ]
}
JSON

# json_field FILE EXPR: a number from the report (jq, else python3).
json_field() {
    if command -v jq >/dev/null 2>&1; then
        jq -r "$2" "$1"
    else
        python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"d": d}))' "$1" "$3"
    fi
}

median() {
    sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "bench_sim: $gpus GPUs ($hosts hosts x $gpus_per_host), $days days, $runs run(s)"
echo "scenario: $dir"
walls=()
rsss=()
for i in $(seq 1 "$runs"); do
    t0=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$dir/rss.txt" "$bin" simulate "$dir" --days "$days" --json \
            >"$dir/report.json"
        rsss+=("$(tail -1 "$dir/rss.txt")")
    else
        "$bin" simulate "$dir" --days "$days" --json >"$dir/report.json"
    fi
    t1=$(date +%s%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    walls+=("$wall")
    echo "  run $i: ${wall} s"
done

report=$dir/report.json
avail=$(json_field "$report" '.total.gpu_hours_available' 'd["total"]["gpu_hours_available"]')
rented=$(json_field "$report" '.total.gpu_hours_rented' 'd["total"]["gpu_hours_rented"]')
util=$(json_field "$report" '.total.utilization' 'd["total"]["utilization"]')
submitted=$(json_field "$report" '.total.requests.submitted' 'd["total"]["requests"]["submitted"]')
created=$(json_field "$report" '.total.requests.placed_at_once + .total.requests.queued' \
    'd["total"]["requests"]["placed_at_once"] + d["total"]["requests"]["queued"]')
placed=$(json_field "$report" '.total.requests.placed_at_once + .total.requests.placed_from_queue' \
    'd["total"]["requests"]["placed_at_once"] + d["total"]["requests"]["placed_from_queue"]')
rejected=$(json_field "$report" '.total.requests.rejected_capacity' \
    'd["total"]["requests"]["rejected_capacity"]')
rejects_bad=$(json_field "$report" '.agent_reports_rejected' 'd["agent_reports_rejected"]')

wall_med=$(printf '%s\n' "${walls[@]}" | median)
wall_min=$(printf '%s\n' "${walls[@]}" | sort -g | head -1)
wall_max=$(printf '%s\n' "${walls[@]}" | sort -g | tail -1)
fleet_hours=$((gpus * 24 * days))
rate() { awk -v n="$1" -v w="$2" 'BEGIN {printf "%.0f", n / w}'; }
gph=$(rate "$fleet_hours" "$wall_med")
gph_rented=$(rate "$rented" "$wall_med")
rps=$(rate "$created" "$wall_med")
rss_mb=0
if [ ${#rsss[@]} -gt 0 ]; then
    rss_mb=$(printf '%s\n' "${rsss[@]}" | median | awk '{printf "%.1f", $1 / 1024}')
fi
pass=$(awk -v w="$wall_med" -v t="$target_wall_s" 'BEGIN {print (w <= t) ? "true" : "false"}')

echo
printf '%-44s %14s\n' "simulated period" "$days days, $gpus GPUs"
printf '%-44s %14s\n' "requests submitted" "$submitted"
printf '%-44s %14s\n' "rentals created (placed at once + queued)" "$created"
printf '%-44s %14s\n' "rentals placed" "$placed"
printf '%-44s %14s\n' "requests refused (no capacity, no queue)" "$rejected"
printf '%-44s %14s\n' "utilization" "$util"
printf '%-44s %14s\n' "GPU-hours available / rented" "$avail / $rented"
printf '%-44s %14s  (min %s, max %s; target <= %s s)\n' "wall time, median of $runs" "$wall_med s" \
    "$wall_min" "$wall_max" "$target_wall_s"
printf '%-44s %14s\n' "fleet GPU-hours simulated per wall second" "$gph"
printf '%-44s %14s\n' "rented GPU-hours simulated per wall second" "$gph_rented"
printf '%-44s %14s\n' "rentals per wall second" "$rps"
printf '%-44s %14s\n' "peak RSS (median)" "$rss_mb MiB"
if [ "$rejects_bad" != 0 ]; then
    echo "bench_sim: warning: the engine refused $rejects_bad agent reports" >&2
fi
echo
res() { # name value unit [extra fields]
    printf 'RESULT {"bench":"sim","gpus":%s,"days":%s,"metric":"%s",' "$gpus" "$days" "$1"
    printf '"value":%s,"unit":"%s","runs":%s%s}\n' "$2" "$3" "$runs" "${4:-}"
}
res wall_s "$wall_med" s \
    ",\"min\":$wall_min,\"max\":$wall_max,\"target\":$target_wall_s,\"cmp\":\"<=\",\"pass\":$pass"
res gpu_hours_per_s "$gph" "GPU-h/s"
res rented_gpu_hours_per_s "$gph_rented" "GPU-h/s"
res rentals_per_s "$rps" "rentals/s"
res rentals "$created" "rentals"
res requests "$submitted" "requests"
res utilization "$util" ""
res peak_rss_mb "$rss_mb" "MiB"
if [ "${BENCH_SIM_KEEP:-0}" = 1 ]; then
    echo "bench_sim: scenario and last report kept in $dir"
fi
