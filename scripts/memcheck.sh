#!/usr/bin/env bash
# Runs every unit test executable of a build under valgrind memcheck. Fails on
# any invalid access or any definite/indirect leak. test_cli is left out: it
# spawns lore-bench, which the other tests already exercise in-process.
set -euo pipefail
build=${1:-build}
status=0
for t in "$build"/test_*; do
    [ -x "$t" ] || continue
    case "$(basename "$t")" in test_cli) continue ;; esac
    echo "== memcheck $(basename "$t")"
    if ! valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --error-exitcode=9 "$t" >/dev/null; then
        echo "!! $(basename "$t") failed under memcheck"
        status=1
    fi
done
exit $status
