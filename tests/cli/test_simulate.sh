#!/usr/bin/env bash
# cli_simulate: `gpurent simulate` end to end. The demo runs quickly and deterministically,
# --json and --seed and --days do what they say, and bad scenarios and bad usage fail with
# the documented exit status (1 scenario, 2 usage) and the exact message.
#
# usage: tests/cli/test_simulate.sh PATH/TO/gpurent REPO_ROOT
set -euo pipefail

bin=$1
root=$2
demo=$root/examples/demo
tmp=$(mktemp -d /tmp/gpurent-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run CMD...: sets rc, and leaves stdout in $tmp/out and stderr in $tmp/err
run() {
    rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}

# expect STATUS STDERR CMD...: the exit status and the whole of stderr, exactly
expect() {
    local want_rc=$1 want_err=$2
    shift 2
    run "$@"
    [[ $rc == "$want_rc" ]] || fail "$*: exit status $rc, want $want_rc (stderr: $(cat "$tmp/err"))"
    [[ "$(cat "$tmp/err")" == "$want_err" ]] ||
        fail "$*: stderr was [$(cat "$tmp/err")], want [$want_err]"
}

# expect_first STATUS LINE CMD...: the exit status and the first line of stderr
expect_first() {
    local want_rc=$1 want_line=$2
    shift 2
    run "$@"
    [[ $rc == "$want_rc" ]] || fail "$*: exit status $rc, want $want_rc"
    [[ "$(head -n 1 "$tmp/err")" == "$want_line" ]] ||
        fail "$*: first stderr line was [$(head -n 1 "$tmp/err")], want [$want_line]"
}

contains() {
    grep -qF -- "$2" "$1" || fail "$1 does not contain [$2]"
}

# ---- the demo -------------------------------------------------------------------------
start=$(date +%s)
expect 0 "" "$bin" simulate "$demo"
elapsed=$(($(date +%s) - start))
((elapsed <= 5)) || fail "the demo took ${elapsed}s (the README promises a few seconds)"
cp "$tmp/out" "$tmp/demo.txt"
for s in "gpurent simulate $demo" "(30 days), seed 1" "A100-80G" "H100-80G" "total" \
    "utilization" "realized price /GPU-h" "gross margin" "payback years (cash)" \
    "    wait p99 (s)" "  rejected: no capacity" "ended: exited"; do
    contains "$tmp/demo.txt" "$s"
done
grep -q "^on-demand list price /GPU-h  *15.10  *25.00  *-$" "$tmp/demo.txt" ||
    fail "the demo's list prices are not 15.10 and 25.00"

expect 0 "" "$bin" simulate "$demo"
cmp -s "$tmp/out" "$tmp/demo.txt" || fail "two runs of the demo differ"

expect 0 "" "$bin" simulate --json "$demo"
cp "$tmp/out" "$tmp/demo.json"
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total"]["revenue"]' \
        "$tmp/demo.json" || fail "--json is not one JSON object with a total revenue"
fi
contains "$tmp/demo.json" '"on_demand_hourly": "15.10"'
contains "$tmp/demo.json" '"seed": 1,'
expect 0 "" "$bin" simulate "$demo" --json --seed 1
cmp -s "$tmp/out" "$tmp/demo.json" || fail "--seed 1 differs from the scenario's seed 1"
expect 0 "" "$bin" simulate "$demo" --json --seed=2
cmp -s "$tmp/out" "$tmp/demo.json" && fail "--seed 2 gives the same report as seed 1"
contains "$tmp/out" '"seed": 2,'
expect 0 "" "$bin" simulate "$demo" --days 2
contains "$tmp/out" "(2 days), seed 1"
run "$bin" simulate "$demo" --timing
[[ $rc == 0 ]] || fail "--timing: exit status $rc"
grep -q "^gpurent: simulate: loaded in [0-9.]* s, ran in [0-9.]* s" "$tmp/err" ||
    fail "--timing printed [$(cat "$tmp/err")]"
cmp -s "$tmp/out" "$tmp/demo.txt" || fail "--timing changed the report"

# ---- help and version -----------------------------------------------------------------
expect 0 "" "$bin" help
contains "$tmp/out" "usage: gpurent <subcommand> [options]"
contains "$tmp/out" "simulate"
expect 0 "" "$bin" --help
expect 0 "" "$bin" help simulate
contains "$tmp/out" "usage: gpurent simulate SCENARIO_DIR [--days N] [--seed S] [--json]"
expect 0 "" "$bin" simulate --help
expect 0 "" "$bin" version
grep -q "^gpurent [0-9]*\.[0-9]*\.[0-9]*$" "$tmp/out" || fail "version printed [$(cat "$tmp/out")]"

# ---- usage errors: exit 2 -------------------------------------------------------------
expect_first 2 "usage: gpurent <subcommand> [options]" "$bin"
expect_first 2 "gpurent: unknown subcommand 'frobnicate'" "$bin" frobnicate
expect_first 2 "gpurent: help: unknown subcommand 'frobnicate'" "$bin" help frobnicate
expect_first 2 "gpurent: simulate: missing SCENARIO_DIR" "$bin" simulate
expect_first 2 "gpurent: simulate: --days: expected a whole number of days from 1 to 3660, got 'abc'" \
    "$bin" simulate "$demo" --days abc
expect_first 2 "gpurent: simulate: --days: expected a whole number of days from 1 to 3660, got '0'" \
    "$bin" simulate "$demo" --days 0
expect_first 2 "gpurent: simulate: --days needs a value" "$bin" simulate "$demo" --days
expect_first 2 "gpurent: simulate: --seed: expected a non-negative integer, got '-1'" \
    "$bin" simulate "$demo" --seed -1
expect_first 2 "gpurent: simulate: unknown option '--fast'" "$bin" simulate "$demo" --fast
expect_first 2 "gpurent: simulate: unexpected argument 'other' (one SCENARIO_DIR only)" \
    "$bin" simulate "$demo" other
[[ -z "$(cat "$tmp/out")" ]] || fail "a usage error printed to stdout"

# ---- scenario errors: exit 1, the file, the line, the field ---------------------------
s=$tmp/bad
mkdir "$s"
cat >"$s/fleet.json" <<'EOF'
{
  "host_groups": [
    { "count": 2, "hostname_prefix": "n", "gpu_model": "A100-80G",
      "memory_mib": 81920, "gpus_per_host": 8 }
  ]
}
EOF
cat >"$s/prices.json" <<'EOF'
{ "prices": { "A100-80G": { "on_demand_hourly": "15.10" } } }
EOF
cat >"$s/demand.csv" <<'EOF'
arrival,tenant,gpu_model,gpu_count,term,duration
0,acme,A100-80G,8,on_demand,3600
EOF
expect 0 "" "$bin" simulate "$s" --days 1
contains "$tmp/out" "demand from a trace"

expect 1 "gpurent: $tmp/missing: cannot open scenario directory: No such file or directory" \
    "$bin" simulate "$tmp/missing"
expect 1 "gpurent: $demo/fleet.json: not a directory (a scenario is a directory of files)" \
    "$bin" simulate "$demo/fleet.json"

sed -i 's/"gpus_per_host": 8/"gpus_per_host": 0/' "$s/fleet.json"
expect 1 "gpurent: $s/fleet.json:4: field \"gpus_per_host\": expected a positive integer" \
    "$bin" simulate "$s"
sed -i 's/"gpus_per_host": 0/"gpu_per_host": 8/' "$s/fleet.json"
expect 1 "gpurent: $s/fleet.json:4: unknown field \"gpu_per_host\" (did you mean \"gpus_per_host\"?)" \
    "$bin" simulate "$s"
sed -i 's/"gpu_per_host": 8/"gpus_per_host": 8/' "$s/fleet.json"

echo '{ "prices": { "A100-80G": { "on_demand_hourly": 15.10 } } }' >"$s/prices.json"
expect 1 "gpurent: $s/prices.json:1: field \"on_demand_hourly\": expected a money string such as \"15.10\", not a JSON number" \
    "$bin" simulate "$s"
echo '{ "prices": { "A100-80G": { "on_demand_hourly": "15.10" } } }' >"$s/prices.json"

printf 'arrival,tenant,gpu_model,gpu_count,term,duration\n0,acme,A100-80G,9,on_demand,3600\n' \
    >"$s/demand.csv"
expect 1 "gpurent: $s/demand.csv:2: column \"gpu_count\": 9 GPUs exceed the largest host of \"A100-80G\" (8 GPUs)" \
    "$bin" simulate "$s"
printf 'arrival,tenant,gpu_model,gpu_count,term\n0,acme,A100-80G,1,on_demand\n' >"$s/demand.csv"
expect 1 "gpurent: $s/demand.csv:1: missing column \"duration\" in the header" \
    "$bin" simulate "$s"
rm "$s/demand.csv"
expect 1 "gpurent: $s: no demand: add demand.csv (a trace) or demand.json (a generator)" \
    "$bin" simulate "$s"
[[ -z "$(cat "$tmp/out")" ]] || fail "a scenario error printed a report"

if ((failures > 0)); then
    echo "cli_simulate: $failures failure(s)" >&2
    exit 1
fi
echo "cli_simulate: all checks passed"
