#!/usr/bin/env bash
# Validates the gates the way the issue asks, with the gate-validation builds:
#   stored baseline: A/A x N (no gate may fail) and A/B x N with a 10%-slowed build;
#   ab (interleaved ABBA, 12 rounds): A/A x N and A/B x N on sgemm 256^3;
#   instructions: N runs of a +1%-instructions build against a callgrind baseline.
# Prints the outcome counts. Needs a quiet machine; takes about 30 minutes at N=20.
#
#   scripts/validate-gates.sh [N] [OUT_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
E=${2:-results/validate-gates}
S=scenarios/gate_check.json
F=(--filter m=256 --filter n=256)
export LORE_BENCH_NO_HISTORY=1
mkdir -p "$E"

cmake -S . -B build >/dev/null && cmake --build build -j"$(nproc)" --target lore-bench >/dev/null || exit 3
cmake -S . -B build-slow -DLORE_BENCH_TEST_SLOWDOWN_PCT=10 >/dev/null &&
    cmake --build build-slow -j"$(nproc)" --target lore-bench >/dev/null || exit 3
per_op=$(./build/lore-bench run $S --instructions "${F[@]}" -o "$E/ibase" -q >/dev/null 2>&1 &&
    python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['points'][0]['instructions']['per_op'] / 100))" "$E/ibase/result.json") || exit 3
cmake -S . -B build-instr -DLORE_BENCH_TEST_EXTRA_INSTR="$per_op" >/dev/null &&
    cmake --build build-instr -j"$(nproc)" --target lore-bench >/dev/null || exit 3

./build/lore-bench run $S -o "$E/base" -q >/dev/null 2>&1
./build/lore-bench calibrate-noise $S --runs 5 -o "$E/base/noise-gate_check.json" >/dev/null 2>&1
count() { # label, then exit codes
    local label=$1; shift
    printf '%-46s' "$label"; printf '%s\n' "$@" | sort | uniq -c | awk '{printf " rc%s: %s", $2, $1} END {print ""}'
}
rc=(); for i in $(seq "$n"); do ./build/lore-bench run $S -o "$E/aa/$i" -q --baseline "$E/base" >/dev/null 2>&1; rc+=($?); done
count "stored baseline, A/A (rc1 = a gate failed)" "${rc[@]}"
rc=(); for i in $(seq "$n"); do ./build-slow/lore-bench run $S -o "$E/ab/$i" -q --baseline "$E/base" >/dev/null 2>&1; rc+=($?); done
count "stored baseline, A/B 10% (rc1 = detected)" "${rc[@]}"
rc=(); for i in $(seq "$n"); do ./build/lore-bench ab ./build/lore-bench ./build/lore-bench $S "${F[@]}" --rounds 12 --fail-on-slowdown 0.05 -o "$E/abaa/$i" >/dev/null 2>&1; rc+=($?); done
count "ab, A/A (rc1 = a false slowdown)" "${rc[@]}"
rc=(); for i in $(seq "$n"); do ./build/lore-bench ab ./build/lore-bench ./build-slow/lore-bench $S "${F[@]}" --rounds 12 --fail-on-slowdown 0.05 -o "$E/abab/$i" >/dev/null 2>&1; rc+=($?); done
count "ab, A/B 10% (rc1 = detected past 5%)" "${rc[@]}"
rc=(); for i in $(seq "$n"); do ./build-instr/lore-bench run $S --instructions "${F[@]}" -o "$E/instr/$i" -q --baseline "$E/ibase" >/dev/null 2>&1; rc+=($?); done
count "instructions +1% (rc1 = detected)" "${rc[@]}"
