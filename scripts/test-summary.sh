#!/bin/sh
# Sums a results file and prints the closing line "N passed, N failed"; exits non-zero when any
# test failed or the tier itself failed (STATUS, e.g. a build error).
# Usage: test-summary.sh RESULTS STATUS
results=$1; status=$2
passed=0; failed=0
if [ -f "$results" ]; then
    passed=$(awk '{s += $2} END {print s + 0}' "$results")
    failed=$(awk '{s += $3} END {print s + 0}' "$results")
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
