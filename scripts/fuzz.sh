#!/usr/bin/env bash
# Run the libFuzzer targets of tests/fuzz (docs/fuzzing.md), one at a time, each for SECONDS,
# over its seed corpus and past crash inputs, with its dictionary. New corpus entries, logs
# and crash inputs go to a scratch directory (OUT, default BUILD/fuzz-out), never into the
# tree. Fails when any target finds a crash, a leak, a timeout or a sanitizer report.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]      (all targets when none is named)
set -uo pipefail
cd "$(dirname "$0")/.."

build=${1:?usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
out=${FUZZ_OUT:-$build/fuzz-out}
all=(api heartbeat query money time ids auth cmdjson agent_reply scenario)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# the longest input worth trying, per target
max_len() {
    case $1 in
    money | time | ids | auth) echo 256 ;;
    query) echo 1024 ;;
    scenario) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

failed=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (make fuzz builds it)" >&2
        exit 2
    fi
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$out/logs"
    log=$out/logs/$t.log
    dict=()
    [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
    seeds=(tests/fuzz/corpus/"$t")
    [ -d "tests/fuzz/regressions/$t" ] && seeds+=(tests/fuzz/regressions/"$t")
    # the first directory receives new entries: the scratch one; the tree's are read only
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" "${dict[@]}" \
        "$out/corpus/$t" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc -ne 0 ]; then
        failed+=("$t")
        echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} runs; inputs in $out/artifacts/$t/"
        grep -v '^gpurent: agent:' "$log" | tail -n 40
    else
        echo "fuzz: $t ok: ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in: ${failed[*]} (logs in $out/logs; see docs/fuzzing.md)"
    exit 1
fi
