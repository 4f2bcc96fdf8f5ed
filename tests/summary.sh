#!/usr/bin/env bash
# Sum the results of every test program of a build directory.
#
#   tests/summary.sh BUILD_DIR
#
# A Check program counts its checks ("Checks: N, Failures: F, Errors: E");
# a shell test counts its own "N passed, N failed" line; any other program
# counts as one test. A program that failed without saying how many of its
# tests failed (a crash, a timeout) adds one failure. Prints one line per
# program and then "N passed, N failed"; exits 1 if anything failed, or if
# no test ran at all.
set -uo pipefail

dir=${1:?usage: tests/summary.sh BUILD_DIR}
total_pass=0
total_fail=0
programs=0

while IFS= read -r trs; do
    log=${trs%.trs}.log
    result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
    pass=0
    fail=0
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
        checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
        failures=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
        errors=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
        fail=$((failures + errors))
        pass=$((checks - fail))
    else
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1)
        if [ -n "$line" ]; then
            pass=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
            fail=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
        elif [ "$result" = PASS ]; then
            pass=1
        fi
    fi
    if [ "$result" != PASS ] && [ "$result" != SKIP ] && [ "$fail" -eq 0 ]; then
        fail=1
    fi
    programs=$((programs + 1))
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    printf '  %-40s %6d passed %4d failed  (%s)\n' \
        "${trs#"$dir"/}" "$pass" "$fail" "${result:-?}"
done < <(find "$dir" -name '*.trs' -not -path '*/_build/*' | sort)

echo "$programs test programs"
echo "$total_pass passed, $total_fail failed"
printf '%s %s\n' "$total_pass" "$total_fail" >"$dir/test-totals"
[ "$programs" -gt 0 ] && [ "$total_fail" -eq 0 ]
