#!/bin/sh
# Runs every test program in a directory and appends "suite passed failed" per program to a
# results file. A program that dies before printing cmocka's summary counts as one failure.
# Usage: run-tests.sh TIER DIR RESULTS [PREFIX]   (PREFIX defaults to test_)
tier=$1; dir=$2; results=$3; prefix=${4:-test_}
mkdir -p "$(dirname "$results")"
status=0
for program in "$dir"/"$prefix"*; do
    [ -x "$program" ] || continue
    name="$tier/$(basename "$program")"
    log="$(dirname "$results")/logs/$(echo "$name" | tr / _).log"
    mkdir -p "$(dirname "$log")"
    "$program" >"$log" 2>&1
    code=$?
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    failed=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    passed=${passed:-0}; failed=${failed:-0}
    if [ "$code" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    if [ "$failed" -ne 0 ]; then
        status=1
        echo "FAIL $name ($passed passed, $failed failed), log: $log"
        tail -n 30 "$log"
    else
        echo "ok   $name ($passed passed)"
    fi
    echo "$name $passed $failed" >>"$results"
done
exit $status
