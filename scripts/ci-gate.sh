#!/usr/bin/env bash
# How a CI job gates on performance with lore-bench (an example to copy):
#
#   1. build, 2. run the quick suite (make bench-quick's scenarios) against the
#   baselines committed under baselines/<machine class>/, 3. publish the
#   verdicts: JUnit XML per scenario (one test case per gate and point), the
#   Markdown gate tables (appended to $GITHUB_STEP_SUMMARY when set), and a
#   Bencher Metric Format file per compared scenario, 4. fail the job when a
#   gate failed (exit 1); conditional and inconclusive verdicts fail it only
#   with CI_GATE_STRICT=1.
#
# A CI runner is usually of another machine class than the developer machines
# that blessed the baselines: bless baselines on the runner itself (run the
# suite there, then `lore-bench baseline save RESULT` for each result and commit
# baselines/<its class>/), or gate only on the deterministic tracks (work
# counters, recall, instruction counts), which compare across classes.
set -uo pipefail
cd "$(dirname "$0")/.."

out=${CI_GATE_OUT:-results/ci-$(date -u +%Y%m%dT%H%M%SZ)}
strict=""
[ "${CI_GATE_STRICT:-0}" = 1 ] && strict=--strict
make -s build >/dev/null || exit 3
# bench.sh itself (not make) so that its exit code reaches the job: 1 gate failed, 3 run failed.
# shellcheck disable=SC2046
scripts/bench.sh --bin build/lore-bench --out "$out" --junit-dir "$out/junit" $strict \
    $(make -s print-quick-suite)
rc=$?

summary="$out/summary.md"
: >"$summary"
for g in "$out"/*/gates.md; do
    [ -f "$g" ] || continue
    { echo "### $(basename "$(dirname "$g")")"; echo; cat "$g"; echo; } >>"$summary"
done
for c in "$out"/*/comparison.json; do
    [ -f "$c" ] || continue
    d=$(dirname "$c")
    build/lore-bench compare "$d/result.json" baselines --bmf "$d/bencher.json" >/dev/null || true
done
[ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$summary" >>"$GITHUB_STEP_SUMMARY"
echo "ci-gate: JUnit in $out/junit/, summary in $summary, exit $rc"
exit $rc
