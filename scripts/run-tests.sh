#!/bin/sh
# Runs every test program in a directory, two at a time (scripts/parallel.sh), and appends
# "suite passed failed" per program to a results file. A program that dies before printing
# cmocka's summary counts as one failure. Each line says how long its program took.
# Usage: run-tests.sh TIER DIR RESULTS [PREFIX]   (PREFIX defaults to test_)
if [ "$1" = "--one" ]; then
    report=$2; tier=$3; results=$4; program=$5
    name="$tier/$(basename "$program")"
    log="$(dirname "$results")/logs/$(echo "$name" | tr / _).log"
    mkdir -p "$(dirname "$log")"
    start=$(date +%s.%N)
    "$program" >"$log" 2>&1
    code=$?
    seconds=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    failed=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    passed=${passed:-0}; failed=${failed:-0}
    if [ "$code" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    if [ "$failed" -ne 0 ]; then
        { echo "FAIL $name ($passed passed, $failed failed, $seconds s), log: $log"
          tail -n 30 "$log"; } >"$report"
    else
        echo "ok   $name ($passed passed, $seconds s)" >"$report"
    fi
    echo "$name $passed $failed" >"$report.result"
    exit 0
fi
tier=$1; dir=$2; results=$3; prefix=${4:-test_}
mkdir -p "$(dirname "$results")"
programs=""
for program in "$dir"/"$prefix"*; do
    [ -x "$program" ] && programs="$programs $program"
done
# shellcheck disable=SC2086 # paths under build/ have no spaces
exec sh scripts/parallel.sh "$results" scripts/run-tests.sh "$tier" "$results" -- $programs
