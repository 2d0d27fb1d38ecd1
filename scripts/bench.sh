#!/usr/bin/env bash
# Runs a benchmark suite the way `make bench` and `make bench-quick` do:
# every scenario is measured into one folder of the suite run, judged by its
# gates against baselines/<this machine class>/ when a baseline exists (said
# plainly when none does), reported (report.md + report.html with plots),
# and summed up in one verdict table. Exit: 0 all gates pass (conditional and
# inconclusive included unless --strict), 1 a gate failed, 3 a run failed.
#
#   scripts/bench.sh [--bin PATH] [--out DIR] [--strict] [--junit-dir DIR] SCENARIO.json...
set -uo pipefail

bin=build/lore-bench
out=""
strict=()
junit_dir=""
scenarios=()
while [ $# -gt 0 ]; do
    case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --strict) strict=(--strict); shift ;;
    --junit-dir) junit_dir=$2; shift 2 ;;
    -*) echo "bench.sh: unknown option '$1'" >&2; exit 2 ;;
    *) scenarios+=("$1"); shift ;;
    esac
done
if [ ${#scenarios[@]} -eq 0 ]; then
    echo "bench.sh: no scenario given" >&2
    exit 2
fi
[ -x "$bin" ] || { echo "bench.sh: $bin is not built (run make build)" >&2; exit 2; }
[ -n "$out" ] || out="results/bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out" || exit 3
[ -z "$junit_dir" ] || mkdir -p "$junit_dir" || exit 3

worst=0
rows=()
start=$(date +%s)
for s in "${scenarios[@]}"; do
    name=$(basename "$s" .json)
    dir="$out/$name"
    echo "== $s"
    junit=()
    [ -z "$junit_dir" ] || junit=(--junit "$junit_dir/$name.xml")
    "$bin" run "$s" -o "$dir" --baseline auto "${strict[@]}" "${junit[@]}"
    rc=$?
    baseline=()
    [ -f "$dir/comparison.json" ] && baseline=(--baseline baselines)
    if [ -f "$dir/result.json" ]; then
        "$bin" report "$dir/result.json" "${baseline[@]}" >/dev/null ||
            echo "bench.sh: the report of $name could not be written" >&2
    fi
    verdict=$(python3 - "$dir/gates.json" "$rc" 2>/dev/null <<'EOF'
import json, sys
try:
    g = json.load(open(sys.argv[1]))
    c = g["counts"]
    base = "baseline" if g.get("baseline") else "no baseline"
    print(f'{g["verdict"]} | {c["pass"]} | {c["conditional"]} | {c["fail"]} | '
          f'{c["inconclusive"]} | {c["skipped"]} | {base}')
except Exception:
    word = "no gates" if sys.argv[2] == "0" else f"exit {sys.argv[2]}"
    print(f'{word} | - | - | - | - | - | -')
EOF
)
    rows+=("| $name | $verdict | $dir/report.html |")
    if [ "$rc" -eq 1 ] && [ "$worst" -lt 1 ]; then worst=1; fi
    if [ "$rc" -ge 2 ]; then worst=3; fi
done

echo
echo "## Verdicts ($(( $(date +%s) - start )) s, results in $out)"
echo
echo "| scenario | verdict | pass | conditional | fail | inconclusive | skipped | compared with | report |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
if ! ls "$out"/*/comparison.json >/dev/null 2>&1; then
    echo
    echo "No baseline for this machine class was found, so relative gates were skipped."
    echo "To make one from this run: for f in $out/*/result.json; do $bin baseline save \$f; done"
fi
exit $worst
