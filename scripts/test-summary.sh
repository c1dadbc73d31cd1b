#!/bin/sh
# Sums a results file and prints the closing line "N passed, N failed"; exits non-zero when any
# test failed or the tier itself failed (STATUS, e.g. a build error). With TIMES (lines "PART
# SECONDS" from scripts/test-part.sh), first prints the time each part took and the total.
# Usage: test-summary.sh RESULTS STATUS [TIMES]
results=$1; status=$2; times=$3
passed=0; failed=0
if [ -f "$results" ]; then
    passed=$(awk '{s += $2} END {print s + 0}' "$results")
    failed=$(awk '{s += $3} END {print s + 0}' "$results")
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ -n "$times" ] && [ -f "$times" ]; then
    awk '{line = line sep $1 " " $2 " s"; sep = ", "; total += $2}
         END {printf "time: %s; total %.1f s\n", line, total}' "$times"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
