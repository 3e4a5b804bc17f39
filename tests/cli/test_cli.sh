#!/usr/bin/env bash
# cli_session: the CLI client against a real `gpurent serve --demo` (simulated fleet), run as
# a newcomer runs it: offers, rent 2 GPUs, watch the rental start and bill, stop it, check
# the balance to the micro-unit; then the error paths (the server's problem detail on stderr
# with exit status 1, usage errors with 2), --json, --help on every noun, and the admin
# commands. Values the demo fixes (prices, fleet, credit) are asserted exactly.
#
# usage: tests/cli/test_cli.sh PATH/TO/gpurent REPO_ROOT
set -euo pipefail

bin=$1
tmp=$(mktemp -d /tmp/gpurent-cli-session-XXXXXX)
server_pid=""
agent_pid=""
failures=0

cleanup() {
    if [[ -n $agent_pid ]]; then
        kill "$agent_pid" 2>/dev/null || true
        wait "$agent_pid" 2>/dev/null || true
    fi
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

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
    [[ $rc == "$want_rc" ]] || fail "$*: exit status $rc, want $want_rc (stderr: $(cat "$tmp/err"))"
    [[ "$(head -n 1 "$tmp/err")" == "$want_line" ]] ||
        fail "$*: first stderr line was [$(head -n 1 "$tmp/err")], want [$want_line]"
}

# expect_out TEXT: the whole of the last command's stdout, exactly
expect_out() {
    [[ "$(cat "$tmp/out")" == "$1" ]] ||
        fail "stdout was:"$'\n'"$(cat "$tmp/out")"$'\n'"want:"$'\n'"$1"
}

contains() {
    grep -qF -- "$2" "$1" || fail "$1 does not contain [$2]: $(cat "$1")"
}

# field FILE KEY: the value of a "key:   value" line of a record
field() {
    sed -n "s/^$2: *//p" "$1" | head -n 1
}

# decimal arithmetic without floats: py EXPR (Decimal is in scope as D)
py() {
    python3 -c "from decimal import Decimal as D; print($1)"
}

# money EXPR: a Decimal expression written as the API writes money ("999.80", "1.192961")
money() {
    python3 -c "
from decimal import Decimal as D
s = format(($1).quantize(D('0.000001')), 'f').rstrip('0')
whole, frac = s.split('.')
print(whole + '.' + frac.ljust(2, '0'))"
}

T() { GPURENT_API_KEY=$tenant_key "$bin" "$@"; }
A() { GPURENT_API_KEY=$admin_key "$bin" "$@"; }

# ---- start the demo server on a port of its own ------------------------------------------
# port 0: the kernel picks a free port at bind time and the server prints it ("serving on"),
# so no other process can take it between a probe and the bind
unset GPURENT_ADMIN_KEY GPURENT_API_KEY GPURENT_LOG_LEVEL GPURENT_LISTEN
: >"$tmp/serve.log"
"$bin" serve --demo --listen "127.0.0.1:0" --data-dir "$tmp/data" >"$tmp/serve.log" 2>&1 &
server_pid=$!
ready=0
port=""
deadline=$((SECONDS + 60)) # generous: a sanitizer build on a loaded machine starts slowly
while ((SECONDS < deadline)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$tmp/serve.log" >&2
        echo "FAIL: the server exited at start" >&2
        exit 1
    fi
    [[ -n $port ]] ||
        port=$(sed -n 's|^gpurent: serving on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$tmp/serve.log")
    if [[ -n $port ]] && grep -q "its key: gpr_" "$tmp/serve.log" &&
        python3 -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=5).status == 200 else 1)" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
export GPURENT_URL=http://127.0.0.1:$port
if ((ready == 0)); then
    cat "$tmp/serve.log" >&2
    echo "FAIL: the demo was not ready within 60 s" >&2
    exit 1
fi
admin_key=$(sed -n 's/^gpurent: demo admin key: //p' "$tmp/serve.log")
tenant_key=$(sed -n 's/.*; its key: //p' "$tmp/serve.log")
[[ $admin_key == gpr_* && $tenant_key == gpr_* ]] || fail "keys not found in the server's output"
contains "$tmp/serve.log" "gpurent: demo: a SIMULATED fleet is running: sim-a100-1, sim-a100-2 (8 x A100-80G each), sim-h100-1 (8 x H100-80G)"
contains "$tmp/serve.log" "gpurent: demo: tenant demo (tnt_"
contains "$tmp/serve.log" "with 1000.00 of credit"

# ---- a first session, as the README shows it ---------------------------------------------
offers_table="MODEL     MEMORY  AVAILABLE  MAX/HOST  ON-DEMAND  SPOT FROM     DAY     WEEK    MONTH
A100-80G  80 GiB         16         8      15.10       6.00  182.40  1209.60  4968.00
H100-80G  80 GiB          8         8      25.00      10.00       -        -        -

prices per GPU: hourly (on-demand, spot floor); day, week and month packages for the whole term"
expect 0 "" T offers
expect_out "$offers_table"

# quotes: `gpurent quote` and `gpurent rentals quote` are one command; the exact total
expect 0 "" T quote --model A100-80G --count 2 --duration 90m
contains "$tmp/out" "45.30"
cp "$tmp/out" "$tmp/quote1"
expect 0 "" T rentals quote --model A100-80G --count 2 --duration 90m
expect_out "$(cat "$tmp/quote1")"
expect 0 "" T quote --model A100-80G --count 1 --term week --json
python3 -c "
import json
q = json.load(open('$tmp/out'))
assert q['term'] == 'week' and q['duration_seconds'] == 604800, q
" || fail "quote --json: $(cat "$tmp/out")"
expect 0 "" T balance
expect_out "balance:      1000.00
credit limit: 0.00
burn rate:    0.00 /h
runway:       - (nothing is billing)
this month:   0.00 spent (no monthly budget)"

expect 0 "" T rentals create --model A100-80G --count 2
id=$(sed -n 's/^created rental \(rnt_[0-9a-z]*\): .*/\1/p' "$tmp/out")
[[ $id =~ ^rnt_[0-9a-z]{13}$ ]] || fail "no rental id in [$(cat "$tmp/out")]"
contains "$tmp/out" "created rental $id: starting, 2 x A100-80G, on_demand, 15.10 /GPU-h (30.20 /h) on hst_"

# watch it go running (the simulated agent starts it on its next heartbeat, 1 s)
# (a generous deadline: a sanitizer build on a loaded machine is slow)
state=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
    run T rentals show "$id"
    state=$(field "$tmp/out" state)
    [[ $state == running ]] && break
    [[ $state == starting ]] || fail "state $state while starting"
    sleep 0.1
done
[[ $state == running ]] || fail "the rental did not start running within 30 s"
cp "$tmp/out" "$tmp/show1"
[[ $(field "$tmp/show1" id) == "$id" ]] || fail "show: id"
[[ $(field "$tmp/show1" gpus) == "2 x A100-80G" ]] || fail "show: gpus"
[[ $(field "$tmp/show1" term) == on_demand ]] || fail "show: term"
[[ $(field "$tmp/show1" price) == "15.10 /GPU-h (30.20 /h)" ]] || fail "show: price"
host=$(field "$tmp/show1" host)
[[ $host =~ ^hst_ ]] || fail "show: host [$host]"
contains "$tmp/show1" "GPU-SIM-sim-a100-"
started=$(field "$tmp/show1" started)
cost1=$(field "$tmp/show1" cost)

expect 0 "" T rentals ls
contains "$tmp/out" "$id  running  A100-80G     2  on_demand        15.10"
expect 0 "" T rentals ls -q
expect_out "$id"

expect 0 "" T balance
contains "$tmp/out" "burn rate:    30.20 /h"

expect 0 "" T offers --model A100-80G
contains "$tmp/out" "A100-80G  80 GiB         14         8      15.10"

# the host's GPUs: two of them allocated to the rental and busy (synthetic telemetry): busy
# once a heartbeat after the start has carried the telemetry (about a second; waited for
# with a generous deadline instead of a fixed sleep)
deadline=$((SECONDS + 30))
while :; do
    expect 0 "" A hosts show "$host"
    busy=$(grep " allocated  $id " "$tmp/out" | awk '{ sub("%", "", $(NF-4)); print $(NF-4) }')
    all_busy=1
    for u in $busy; do
        ((u >= 85)) || all_busy=0
    done
    ((all_busy == 1 || SECONDS >= deadline)) && break
    sleep 0.2
done
[[ $(grep -c " allocated  $id " "$tmp/out") == 2 ]] || fail "hosts show: not 2 GPUs of $id"
for u in $busy; do
    ((u >= 85 && u <= 99)) || fail "hosts show: utilization $u% of a running rental"
done

# the tenant sees its own GPUs' telemetry: the last report of each, busy while it runs
expect 0 "" T rentals telemetry "$id"
[[ "$(head -n 1 "$tmp/out")" =~ ^GPU\ +UUID\ +UTIL\ +MEAN\ UTIL\ +MEMORY\ +POWER\ +TEMP\ +AT$ ]] ||
    fail "rentals telemetry: $(cat "$tmp/out")"
[[ $(grep -cE "^ +[0-7]  GPU-SIM-sim-a100-[12]-[0-7] +[0-9]+% +[0-9]+% +[0-9]+ MiB +[0-9]+ W +[0-9]+ C +20[0-9-]+T" "$tmp/out") == 2 ]] ||
    fail "rentals telemetry: not 2 GPUs: $(cat "$tmp/out")"
for u in $(awk 'NR > 1 { sub("%", "", $3); print $3 }' "$tmp/out"); do
    ((u >= 85 && u <= 99)) || fail "rentals telemetry: utilization $u% of a running rental"
done
expect 1 'gpurent: 404 not found: unknown rental "rnt_0000000000000"' T rentals telemetry rnt_0000000000000

# cost grows: never down while running, and what the stop settles is exact
sleep 1
run T rentals show "$id"
cost2=$(field "$tmp/out" cost)
[[ $(py "D('$cost2') >= D('$cost1')") == True ]] || fail "cost went down: $cost1 -> $cost2"

expect 0 "" T rentals stop "$id"
cost=$(sed -n "s/^stopped $id: cost //p" "$tmp/out")
[[ -n $cost ]] || fail "stop printed [$(cat "$tmp/out")]"
[[ $(py "D('$cost') > 0") == True ]] || fail "a rental that ran has cost $cost"
expect 0 "" T rentals show "$id"
cp "$tmp/out" "$tmp/show2"
[[ $(field "$tmp/show2" state) == ended ]] || fail "stopped rental not ended"
[[ $(field "$tmp/show2" "end reason") == stopped ]] || fail "end reason"
[[ $(field "$tmp/show2" cost) == "$cost" ]] || fail "show cost $(field "$tmp/show2" cost) != stop cost $cost"
ended=$(field "$tmp/show2" ended)
# 30.20 an hour for the time between start and end (shown to the second: +-1 s), less at
# most a heartbeat (1 s): billing is clipped to the host's last heartbeat
secs=$(python3 -c "import datetime as d; f=lambda s: d.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ'); print(int((f('$ended') - f('$started')).total_seconds()))")
[[ $(py "D('30.20') * ($secs - 3) / 3600 <= D('$cost') <= D('30.20') * ($secs + 1) / 3600") == True ]] ||
    fail "cost $cost is not 30.20/h for about ${secs}s"
# stopping again is harmless and nothing bills after the stop
expect 0 "" T rentals stop "$id"
expect_out "stopped $id: cost $cost"
sleep 1.2
run T rentals show "$id"
[[ $(field "$tmp/out" cost) == "$cost" ]] || fail "cost changed after the stop"

left=$(money "D('1000') - D('$cost')")
expect 0 "" T balance
expect_out "balance:      $left
credit limit: 0.00
burn rate:    0.00 /h
runway:       - (nothing is billing)
this month:   $cost spent (no monthly budget)"

# --json prints the server's JSON
expect 0 "" T rentals show "$id" --json
python3 -c "
import json, sys
r = json.load(open('$tmp/out'))
assert r['id'] == '$id' and r['state'] == 'ended' and r['end_reason'] == 'stopped', r
assert r['cost'] == '$cost' and r['gpu_count'] == 2 and r['hourly_price'] == '15.10', r
# the cost is floor(30.20 x billed time): billed_seconds is that time, truncated
from decimal import Decimal as D
assert r['billed_seconds'] - D('0.001') <= D(r['cost']) * 3600 / D('30.20') < r['billed_seconds'] + 1, r
" || fail "rentals show --json"
expect 0 "" T balance --json
python3 -c "import json; b = json.load(open('$tmp/out')); assert b['balance'] == '$left', b" ||
    fail "balance --json: $(cat "$tmp/out")"

# usage and the invoice: the stopped rental is one charge line of exactly its cost
expect 0 "" T usage --json
python3 -c "
import json
u = json.load(open('$tmp/out'))
lines = [x for x in u['data'] if x['rental_id'] == '$id']
assert [x['kind'] for x in lines] == ['charge'] and lines[0]['amount'] == '$cost', u
assert lines[0]['gpu_count'] == 2 and lines[0]['term'] == 'on_demand', u
" || fail "usage --json: $(cat "$tmp/out")"
expect 0 "" T usage
contains "$tmp/out" "$id  charge"
expect 0 "" T usage --csv
[[ "$(head -n 1 "$tmp/out")" == $'rental_id,kind,gpu_model,gpu_count,term,seconds,list_amount,discount,amount,corrects,reason\r' ]] ||
    fail "usage --csv: $(head -n 2 "$tmp/out")"
grep -q "^$id,charge,A100-80G,2,on_demand,[0-9]*,$cost,0.00,$cost,,"$'\r'"\$" "$tmp/out" ||
    fail "usage --csv: no line for $id: $(cat "$tmp/out")"
month=${ended:0:7} # the rental's month (not the clock's: a month may have begun since)
expect 0 "" T invoice "$month" --json
python3 -c "
import json
from decimal import Decimal as D
v = json.load(open('$tmp/out'))
assert v['month'] == '$month' and v['status'] == 'open', v
assert D(v['total']) == sum(D(x['amount']) for x in v['lines']), v
assert '$id' in [x['rental_id'] for x in v['lines']], v
" || fail "invoice --json: $(cat "$tmp/out")"
expect 0 "" T invoice "$month"
contains "$tmp/out" "invoice $month (open)"
expect_first 1 'gpurent: 400 bad request: month: must be a calendar month like "2026-11", not "2026-13"' \
    T invoice 2026-13

# ---- errors: the server's problem detail, exit status 1 ------------------------------------
expect 1 'gpurent: 404 not found: unknown rental "rnt_0000000000000"' T rentals show rnt_0000000000000
expect 1 'gpurent: 404 not found: unknown rental "rnt_0000000000000"' T rentals stop rnt_0000000000000
expect 1 "gpurent: 403 forbidden: this route is not for tenant keys" T tenants ls
expect 1 "gpurent: 401 unauthorized: missing API key: send Authorization: Bearer <key>
gpurent: no API key: set GPURENT_API_KEY or pass --key" env GPURENT_API_KEY= "$bin" balance
expect 1 "gpurent: 401 unauthorized: malformed API key" "$bin" balance --key gpr_0000
expect 1 "gpurent: 400 bad request: gpu_count: must be 1 to 8 for A100-80G" \
    T rentals create --model A100-80G --count 9
expect 1 'gpurent: 400 bad request: gpu_model: unknown model "B200"' T rentals create --model B200
expect 1 "gpurent: 400 bad request: max_hourly: 1.00 is below the spot floor 6.00" \
    T rentals create --model A100-80G --term spot --bid 1
expect 0 "" T rentals create --model H100-80G --count 8 -q
h100=$(cat "$tmp/out")
expect 1 "gpurent: 409 conflict: no capacity: 0 GPUs of H100-80G free, at most 0 on one host
gpurent: see 'gpurent offers' for what is free now, or add --queue to wait for GPUs" \
    T rentals create --model H100-80G --count 1
expect 0 "" T rentals stop "$h100"
# the operator's usage needs --tenant: the server's detail, and the option to use
expect 1 "gpurent: 400 bad request: tenant: required with an admin key (tenant=tnt_...)
gpurent: with the operator's key, say whose: --tenant TENANT_ID" A usage

# stop takes any number of ids (rentals ls -q | xargs), and an unknown one does not keep
# the others running: each is stopped, the failure is reported, the exit status is 1
ids=()
for _ in 1 2 3 4 5; do
    run T rentals create --model A100-80G -q
    ids+=("$(cat "$tmp/out")")
done
expect 1 'gpurent: 404 not found: unknown rental "rnt_0000000000000"' \
    T rentals stop "${ids[0]}" rnt_0000000000000 "${ids[@]:1}"
[[ $(grep -c "^stopped rnt_[0-9a-z]*: cost " "$tmp/out") == 5 ]] || fail "stop of 5 + 1: $(cat "$tmp/out")"
for r in "${ids[@]}"; do
    run T rentals show "$r"
    [[ $(field "$tmp/out" state) == ended && $(field "$tmp/out" "end reason") == stopped ]] ||
        fail "$r was not stopped: $(cat "$tmp/out")"
done

# ---- usage errors: exit status 2, nothing sent -----------------------------------------------
expect_first 2 "gpurent: rentals create: --model is required (see 'gpurent offers')" T rentals create
expect_first 2 "gpurent: rentals create: --count: expected a whole number from 1 to 1024, got '0'" \
    T rentals create --model A100-80G --count 0
expect_first 2 "gpurent: rentals create: --bid is only for --term spot" \
    T rentals create --model A100-80G --bid 3.00
expect_first 2 "gpurent: rentals create: --max-cost: expected an amount like 3.00, got '1e3'" \
    T rentals create --model A100-80G --max-cost 1e3
expect_first 2 "gpurent: rentals create: unknown option '--gpus'" T rentals create --gpus 2
expect_first 2 "gpurent: rentals show: missing RENTAL_ID" T rentals show
expect_first 2 "gpurent: rentals: unknown verb 'frobnicate'" T rentals frobnicate
expect_first 2 "gpurent: rentals: missing verb" T rentals
expect_first 2 "gpurent: unknown subcommand 'rental'" "$bin" rental

# ---- --help on every noun (and verb) -------------------------------------------------------
for noun in offers rentals balance usage invoice tenants credits prices hosts coupons economics whatif; do
    expect 0 "" "$bin" "$noun" --help
    [[ "$(head -n 1 "$tmp/out")" == "usage: gpurent $noun"* ]] || fail "$noun --help: $(head -n 1 "$tmp/out")"
    expect 0 "" "$bin" help "$noun"
    [[ "$(head -n 1 "$tmp/out")" == "usage: gpurent $noun"* ]] || fail "help $noun"
done
expect 0 "" "$bin" rentals create --help
contains "$tmp/out" "usage: gpurent rentals create [options] [-- COMMAND [ARG...]]"
contains "$tmp/out" "  --max-cost AMOUNT        end the rental when its charges reach AMOUNT"

# ---- a workload: the SIMULATED runtime honours `sleep N` and the rental ends as exited -------
expect 0 "" T rentals create --model A100-80G --wait --json -- sleep 1
python3 -c "import json; r = json.load(open('$tmp/out')); assert r['state'] == 'running', r" ||
    fail "--wait did not wait for running: $(cat "$tmp/out")"
wid=$(python3 -c "import json; print(json.load(open('$tmp/out'))['id'])")
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
    run T rentals show "$wid"
    [[ $(field "$tmp/out" state) == ended ]] && break
    sleep 0.2
done
[[ $(field "$tmp/out" "end reason") == exited ]] || fail "sleep 1 did not end as exited: $(cat "$tmp/out")"
[[ $(field "$tmp/out" "exit code") == 0 ]] || fail "sleep 1: exit code"
# --wait for a workload that fails at once: it says how it ended, and the exit status is 1
expect 1 "" T rentals create --model A100-80G --wait -- false
[[ "$(tail -n 1 "$tmp/out")" == "ended: exited (exit code 1)" ]] ||
    fail "--wait -- false: $(cat "$tmp/out")"
[[ "$(head -n 1 "$tmp/out")" =~ ^rental\ rnt_[0-9a-z]+:\ ended,\ 1\ x\ A100-80G ]] ||
    fail "--wait -- false: $(cat "$tmp/out")"
expect 0 "" T rentals create --model A100-80G --wait -q -- true
[[ $(cat "$tmp/out") =~ ^rnt_[0-9a-z]{13}$ ]] || fail "--wait -- true: $(cat "$tmp/out")"
# a package is prepaid: what it cost, not an hourly rate that nothing bills
expect 0 "" T rentals create --model A100-80G --term day
[[ $(cat "$tmp/out") =~ ^created\ rental\ (rnt_[0-9a-z]{13}):\ starting,\ 1\ x\ A100-80G,\ day,\ 7.60\ /GPU-h\ \(182.40\ prepaid\ for\ the\ day\)\ on\ hst_ ]] ||
    fail "rentals create --term day: $(cat "$tmp/out")"
pkg=${BASH_REMATCH[1]}
expect 0 "" T rentals show "$pkg"
[[ $(field "$tmp/out" price) == "7.60 /GPU-h (182.40 prepaid for the day)" ]] || fail "show of a package: $(cat "$tmp/out")"
expect 0 "" T rentals stop "$pkg"

# the operator's rentals ls says whose each rental is; a tenant's has no such column
expect 0 "" T rentals ls
[[ "$(head -n 1 "$tmp/out")" =~ ^ID\ +STATE\ +MODEL ]] || fail "tenant rentals ls: $(head -n 1 "$tmp/out")"
expect 0 "" A rentals ls
[[ "$(head -n 1 "$tmp/out")" =~ ^ID\ +TENANT\ +STATE\ +MODEL ]] || fail "admin rentals ls: $(head -n 1 "$tmp/out")"
tid=$(T balance --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant_id"])')
grep -qE "^$wid +$tid +ended +A100-80G" "$tmp/out" || fail "admin rentals ls: no $wid of $tid: $(cat "$tmp/out")"

# ---- the operator --------------------------------------------------------------------------
expect 0 "" A prices ls
expect_out "MODEL     ON-DEMAND  SPOT FLOOR     DAY     WEEK    MONTH
A100-80G      15.10        6.00  182.40  1209.60  4968.00
H100-80G      25.00       10.00       -        -        -"
expect 0 "" A hosts ls
[[ $(grep -c "  ready  " "$tmp/out") == 3 ]] || fail "hosts ls: not 3 ready hosts: $(cat "$tmp/out")"
contains "$tmp/out" "sim-h100-1  ready  H100-80G     8     8"
expect 0 "" A hosts drain "$host"
contains "$tmp/out" "drained $host (draining)"
expect 0 "" A hosts undrain "$host"
contains "$tmp/out" "undrained $host (ready)"
expect 0 "" A tenants ls
demo_id=$(awk '$2 == "demo" { print $1 }' "$tmp/out")
[[ $demo_id =~ ^tnt_ ]] || fail "tenants ls: no demo tenant"
run T balance --json
before=$(python3 -c "import json; print(json.load(open('$tmp/out'))['balance'])")
expect 0 "" A credits add "$demo_id" 10 --reference "cli test"
expect_out "credited 10.00 to $demo_id: balance $(money "D('$before') + 10")"
# an adjustment: a credit for last month, then a charge; both are lines of this month's invoice
month=$(date -u +%Y-%m) # the open month the adjustments land in
prev=$(python3 -c "import time; t = time.gmtime(); print('%04d-%02d' % ((t.tm_year, t.tm_mon - 1) if t.tm_mon > 1 else (t.tm_year - 1, 12)))")
expect 0 "" A credits adjust "$demo_id" 2.50 --corrects "$prev" --reason "outage credit" \
    --idempotency-key "cli-adj-1"
expect_out "credited 2.50 to $demo_id for $prev: balance $(money "D('$before') + D('12.50')")"
expect 0 "" A credits adjust "$demo_id" 2.50 --corrects "$prev" --reason "outage credit" \
    --idempotency-key "cli-adj-1"
expect_out "credited 2.50 to $demo_id for $prev: balance $(money "D('$before') + D('12.50')")"
expect 0 "" A credits adjust "$demo_id" 0.75 --charge --reason "setup fee"
expect_out "charged 0.75 to $demo_id: balance $(money "D('$before') + D('11.75')")"
expect_first 2 "gpurent: credits adjust: --reason is required (it is shown on the statement)" \
    A credits adjust "$demo_id" 1
expect_first 1 "gpurent: 400 bad request: corrects: must be a calendar month like \"2026-11\"" \
    A credits adjust "$demo_id" 1 --reason x --corrects 2026-13
expect 0 "" T invoice "$month"
contains "$tmp/out" "for $prev: outage credit"
contains "$tmp/out" "setup fee"
expect 0 "" T invoice "$month" --csv
contains "$tmp/out" ",adjustment,,,,0,-2.50,0.00,-2.50,$prev,outage credit"
expect 0 "" A tenants create acme -q
[[ $(cut -d' ' -f1 "$tmp/out") =~ ^tnt_ && $(cut -d' ' -f2 "$tmp/out") =~ ^gpr_ ]] ||
    fail "tenants create -q: $(cat "$tmp/out")"
acme_key=$(cut -d' ' -f2 "$tmp/out")
expect_first 1 "gpurent: 402 payment required: balance: 0.00 available, 15.10 needed" \
    "$bin" rentals create --model A100-80G --key "$acme_key"
# the operator changes a tenant's limits (PATCH /v1/tenants/{id}); the tenant sees its budget
acme_id=$(A tenants ls | awk '$2 == "acme" { print $1 }')
expect 0 "" A tenants set "$acme_id" --credit-limit 20 --monthly-budget 100
expect_out "tenant $acme_id: credit limit 20.00, monthly budget 100.00"
expect 0 "" A tenants show "$acme_id"
[[ $(field "$tmp/out" "credit limit") == 20.00 && $(field "$tmp/out" "monthly budget") == 100.00 ]] ||
    fail "tenants show after set: $(cat "$tmp/out")"
expect 0 "" "$bin" balance --key "$acme_key"
expect_out "balance:      0.00
credit limit: 20.00
burn rate:    0.00 /h
runway:       - (nothing is billing)
this month:   0.00 spent of a 100.00 budget"
expect 0 "" A tenants set "$acme_id" --no-monthly-budget
expect_out "tenant $acme_id: credit limit 20.00, monthly budget none"
expect_first 2 "gpurent: tenants set: nothing to change: give --credit-limit, --monthly-budget or --no-monthly-budget" \
    A tenants set "$acme_id"
expect 1 'gpurent: 404 not found: unknown tenant "tnt_0000000000000"' \
    A tenants set tnt_0000000000000 --credit-limit 1
expect 0 "" A coupons create WELCOME10 --percent-off 10 --model A100-80G
contains "$tmp/out" "created coupon WELCOME10"
expect 0 "" A whatif --card-price 100000 --hourly-price 7.60 --utilization 1 --years 5 \
    --opex-hourly 1.80
expect_out "revenue / year:         66576.00
depreciation / year:    20000.00
opex / year:            15768.00
gross profit / year:    30808.00
gross margin:           46.3%
payback (revenue):      1.50 years
payback (cash):         1.97 years
breakeven utilization:  53.7%"
expect 0 "" A economics
# one column per model (their widths follow the numbers, which depend on timing)
grep -qE "A100-80G +H100-80G" "$tmp/out" || fail "economics: no model columns: $(cat "$tmp/out")"
contains "$tmp/out" "realized price /GPU-h"
grep -qE "^GPUs +16 +8 +24$" "$tmp/out" || fail "economics: no GPUs row: $(cat "$tmp/out")"
expect_first 2 "gpurent: whatif: --years is required" A whatif --card-price 1 --hourly-price 1 \
    --utilization 1

# a host's cost basis, which the economics use (PUT /v1/hosts/{id}/cost); hosts show says it
expect 0 "" A hosts cost "$host" --purchase-price 800000 --purchased-at 2026-01-01 --years 5 \
    --power-watts 3200 --pue 1.3 --kwh-price 0.60 --hosting-monthly 8700
expect_out "cost basis of $host: 800000.00 bought 2026-01-01T00:00:00Z, 5 years, 3200 W, PUE 1.3, 0.60 /kWh, hosting 8700.00 /month"
expect 0 "" A hosts show "$host"
contains "$tmp/out" "cost basis:     800000.00 bought 2026-01-01T00:00:00Z, 5 years, 3200 W, PUE 1.3, 0.60 /kWh, hosting 8700.00 /month"
expect_first 2 "gpurent: hosts cost: --purchased-at is required" A hosts cost "$host" --purchase-price 1

# money of 2 to 6 decimals: a column is aligned on the decimal point, and prices ls -q lists
# the models; a priced model with no GPU yet has no memory to show
expect 0 "" A prices set T4-16G --on-demand 0.355 --day 8.125
expect 0 "" A prices ls
expect_out "MODEL     ON-DEMAND  SPOT FLOOR      DAY     WEEK    MONTH
A100-80G     15.10         6.00  182.40   1209.60  4968.00
H100-80G     25.00        10.00        -        -        -
T4-16G        0.355           -    8.125        -        -"
expect 0 "" A prices ls -q
expect_out "A100-80G
H100-80G
T4-16G"
expect 0 "" T offers --model T4-16G
expect_out "MODEL   MEMORY  AVAILABLE  MAX/HOST  ON-DEMAND  SPOT FROM    DAY  WEEK  MONTH
T4-16G       -          0         0      0.355          -  8.125     -      -

prices per GPU: hourly (on-demand, spot floor); day, week and month packages for the whole term"
# the statement's amounts (charges of up to 6 decimals, adjustments of 2) line up too
expect 0 "" T invoice "$month"
python3 -c "
import sys
rows = [l for l in open('$tmp/out').read().split('\n\n')[1].splitlines()]
start = rows[0].index('DISCOUNT') + len('DISCOUNT') + 2
end = rows[0].index('AMOUNT') + len('AMOUNT')
dots = {r[start:end + 6].strip() and r.index('.', start) for r in rows[1:]}
assert len(rows) > 3 and len(dots) == 1, (dots, rows)
" || fail "invoice: the AMOUNT column is not aligned on the point: $(cat "$tmp/out")"

# ---- keys: a tenant makes, lists, rotates and revokes its own -----------------------------
expect 0 "" T keys create
new_id=$(sed -n 's/^created key //p' "$tmp/out")
new_key=$(sed -n 's/^api key: //p' "$tmp/out")
[[ $new_id == key_* && $new_key == gpr_* ]] || fail "keys create: $(cat "$tmp/out")"
contains "$tmp/out" "the key is shown only now: store it (GPURENT_API_KEY)"
expect 0 "" T keys ls -q
contains "$tmp/out" "$new_id"
[[ $(wc -l <"$tmp/out") == 2 ]] || fail "keys ls: the tenant sees $(wc -l <"$tmp/out") keys, want 2"
expect 0 "" T keys ls
[[ "$(head -n 1 "$tmp/out")" == "ID"*"PREFIX"*"ROLE"*"TENANT"*"HOST"*"CREATED"*"LAST USED" ]] ||
    fail "keys ls header: $(head -n 1 "$tmp/out")"
expect 0 "" T keys rotate "$new_id"
rot_id=$(sed -n 's/^new key \(key_[a-z0-9]*\) .*/\1/p' "$tmp/out")
rot_key=$(sed -n 's/^api key: //p' "$tmp/out")
[[ $rot_id == key_* && $rot_id != "$new_id" && $rot_key == gpr_* ]] || fail "keys rotate: $(cat "$tmp/out")"
contains "$tmp/out" "(replaces $new_id, revoked now)"
expect 1 "gpurent: 401 unauthorized: unknown or revoked API key" env GPURENT_API_KEY="$new_key" "$bin" balance
expect 0 "" env GPURENT_API_KEY="$rot_key" "$bin" balance
expect 0 "" T keys revoke "$rot_id"
expect_out "revoked $rot_id: it is refused from the next request on"
expect 1 "gpurent: 401 unauthorized: unknown or revoked API key" env GPURENT_API_KEY="$rot_key" "$bin" balance
expect 1 "gpurent: 409 conflict: key $rot_id is revoked: create a new key instead" T keys rotate "$rot_id"
expect 1 "gpurent: 404 not found: unknown key \"key_zzzzzzzzzzzzz\"" T keys revoke key_zzzzzzzzzzzzz
expect 0 "" A keys ls -q --tenant "$(T balance --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant_id"])')"
[[ $(wc -l <"$tmp/out") == 1 ]] || fail "keys ls --tenant: $(cat "$tmp/out")"

# ---- coupons ls: what was made above, with its redemptions ----------------------------------
# a promotion (no code to give): every day package of an A100 is 20% off
expect 0 "" A coupons create AUTUMN --automatic --percent-off 20 --model A100-80G --term day
[[ $(cat "$tmp/out") =~ ^created\ promotion\ AUTUMN\ \(cpn_[a-z0-9]+\):\ 20%\ off\ A100-80G\ day$ ]] ||
    fail "coupons create --automatic: $(cat "$tmp/out")"
expect 0 "" T quote --model A100-80G --term day
contains "$tmp/out" "discount:   36.48"
contains "$tmp/out" "total:      145.92"
expect_first 1 "gpurent: 400 bad request: term: must be on_demand, spot, day, week or month" \
    A coupons create X --amount-off 1 --term weekly
expect 0 "" A coupons ls
[[ "$(sed -n 2p "$tmp/out")" =~ ^cpn_[a-z0-9]+\ +WELCOME10\ +10\ +-\ +A100-80G\ +-\ +0\ +-\ +-\ +no$ ]] ||
    fail "coupons ls: $(cat "$tmp/out")"
[[ "$(sed -n 3p "$tmp/out")" =~ ^cpn_[a-z0-9]+\ +AUTUMN\ +20\ +-\ +A100-80G\ +day\ +0\ +-\ +-\ +yes$ ]] ||
    fail "coupons ls: $(cat "$tmp/out")"

# ---- a real agent (exec runtime, SIMULATED GPUs): a start that fails, a reservation -----------
A prices set L4 --on-demand 1.00 >/dev/null || fail "prices set L4"
jt=$(A hosts join-token | sed -n 's/^join token: //p')
"$bin" agent --server "$GPURENT_URL" --join-token "$jt" --gpus sim:2xL4 --data-dir "$tmp/agent" \
    --heartbeat-interval 1 --stop-grace 1 --hostname cli-exec >"$tmp/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do
    A hosts ls | grep -q "^hst_[0-9a-z]* *cli-exec *ready" && break
    sleep 0.1
done
expect 1 "gpurent: the rental failed to start: cannot run /nonexistent/gpurent-cli: No such file or directory" \
    T rentals create --model L4 --wait -- /nonexistent/gpurent-cli
contains "$tmp/out" ": ended, 1 x L4, on_demand, 1.00 /GPU-h (1.00 /h) on hst_"
fid=$(sed -n 's/^rental \(rnt_[0-9a-z]*\): .*/\1/p' "$tmp/out")
expect 0 "" T rentals show "$fid"
[[ $(field "$tmp/out" "end reason") == failed_to_start ]] || fail "show: $(cat "$tmp/out")"
[[ $(field "$tmp/out" "why") == "cannot run /nonexistent/gpurent-cli: No such file or directory" ]] ||
    fail "show: no why: $(cat "$tmp/out")"
[[ $(field "$tmp/out" "charged") == 0.00 ]] || fail "a failed start was charged: $(cat "$tmp/out")"
# no command: the GPUs are held (a reservation), running, until stopped
expect 0 "" T rentals create --model L4 --wait
contains "$tmp/out" ": running, 1 x L4, on_demand, 1.00 /GPU-h (1.00 /h) on hst_"
rid=$(sed -n 's/^rental \(rnt_[0-9a-z]*\): .*/\1/p' "$tmp/out")
expect 0 "" T rentals stop "$rid"
contains "$tmp/out" "stopped $rid: cost "
kill "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
agent_pid=""

# ---- the server gone: exit 1, and a hint ------------------------------------------------------
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
run T offers
[[ $rc == 1 ]] || fail "offers with the server gone: exit status $rc"
[[ "$(head -n 1 "$tmp/err")" == "gpurent: cannot reach http://127.0.0.1:$port: "*"Couldn't connect to server" ]] ||
    fail "offers with the server gone: $(cat "$tmp/err")"
[[ "$(tail -n 1 "$tmp/err")" == "gpurent: is the server running? (GPURENT_URL or --url: http://127.0.0.1:$port)" ]] ||
    fail "no hint: $(cat "$tmp/err")"

if ((failures > 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "cli_session: all checks passed"
